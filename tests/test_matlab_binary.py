"""graythresh, otsuthresh, imbinarize, imfill, bwareaopen and bwlabel against references not derived from leuknet:
OpenCV's Otsu threshold and connected components, MathWorks' bwlabel example, and cases worked by hand from the
documented definitions (Otsu's between-class variance with MATLAB's mean of tied bins; holes as background not
reachable from the border through 4-connected background)."""

import cv2
import numpy as np
import pytest

from leuknet.errors import ConfigError
from leuknet.matlab import bwareaopen, bwlabel, graythresh, im2double, imbinarize, imfill, otsuthresh

RNG = np.random.default_rng(7)


def bimodal(shape=(40, 50)):
    """A cell-like grey image: a dark background and a brighter blob, with noise wide enough to leave no empty bin
    between the two modes (where the variance is flat MATLAB takes the middle of the tied bins, OpenCV the
    first: that rule has its own case below)."""
    img = RNG.normal(60, 30, shape)
    yy, xx = np.mgrid[:shape[0], :shape[1]]
    img[(yy - shape[0] / 2) ** 2 + (xx - shape[1] / 2) ** 2 < (min(shape) / 3) ** 2] += 90
    return np.clip(np.round(img), 0, 255).astype(np.uint8)


def test_graythresh_and_imbinarize_are_otsus_as_opencv_computes_it():
    for _ in range(5):
        img = bimodal()
        t, cv_bw = cv2.threshold(img, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
        level = graythresh(img)
        assert level * 255 == pytest.approx(t, abs=1e-9)
        np.testing.assert_array_equal(imbinarize(img), cv_bw > 0)
        assert graythresh(im2double(img)) == level  # a double image is binned as im2uint8 gives it
    # otsuthresh's ties: two values at bins 1 and 4 give the same variance at bins 1, 2 and 3: their mean, 2
    assert otsuthresh([1, 0, 0, 1]) == pytest.approx(1 / 3)
    assert graythresh(np.full((4, 4), 9, np.uint8)) == 0.0  # a flat image: no finite variance
    img = np.array([[0, 100, 200]], np.uint8)
    np.testing.assert_array_equal(imbinarize(img, 100 / 255), [[False, False, True]])  # above T only
    np.testing.assert_array_equal(imbinarize(img / 255.0, 0.5), [[False, False, True]])
    with pytest.raises(ConfigError, match="'adaptive' method is not provided"):
        imbinarize(img, "adaptive")
    with pytest.raises(ConfigError, match="convert a colour image with rgb2gray first"):
        graythresh(np.zeros((4, 4, 3), np.uint8))


def test_imfill_fills_holes_with_four_connected_background():
    ring = np.zeros((7, 7), bool)
    ring[1:6, 1:6] = True
    ring[2:5, 2:5] = False
    filled = imfill(ring, "holes")
    assert filled[1:6, 1:6].all() and filled.sum() == 25
    # a background pixel joined to the outside only through a diagonal: a hole for 4-connected background (the
    # default), not for 8-connected (imfill(BW, 8, 'holes'))
    hole = np.ones((5, 5), bool)
    hole[0, :] = hole[:, 0] = False
    hole[1, 1] = True
    hole[2, 2] = False
    # (2, 2) reaches the outside neither 4- nor 8-connectedly: filled either way
    assert imfill(hole, "holes")[2, 2] and imfill(hole, 8, "holes")[2, 2]
    diag = np.ones((4, 4), bool)
    diag[0, 0] = False  # the outside corner
    diag[1, 1] = False  # 8-adjacent to (0, 0) only
    diag[0, 1:] = True
    assert imfill(diag, "holes")[1, 1]  # default: a hole
    assert not imfill(diag, 8, "holes")[1, 1]  # 8-connected background reaches it
    with pytest.raises(ConfigError, match="fill locations and interactive filling are not provided"):
        imfill(ring, [3, 3])
    with pytest.raises(ConfigError, match="fill locations"):
        imfill(ring)  # a logical image without 'holes' is MATLAB's interactive fill
    np.testing.assert_array_equal(imfill(np.full((3, 3), 7, np.uint8), "holes"), np.full((3, 3), 7))  # grey: flat


def test_grey_imfill_matches_octave():
    """A numeric image is grey (MATLAB decides by class): dark regions the border cannot reach rise to their
    surroundings (MathWorks' and Octave's reconstruction of the complement from the border)."""
    from pathlib import Path

    fix = np.load(Path(__file__).parent / "fixtures" / "octave_image.npz")
    np.testing.assert_array_equal(imfill(fix["in_G8"]), fix["imfill_G8"])
    np.testing.assert_array_equal(imfill(fix["in_G8"], 8), fix["imfill_G8_8"])
    np.testing.assert_allclose(imfill(fix["in_GD"], "holes"), fix["imfill_GD"], atol=1e-15)
    pit = np.array([[5, 5, 5, 5, 5], [5, 1, 2, 1, 5], [5, 2, 9, 2, 5], [5, 1, 2, 1, 5], [5, 5, 5, 5, 5]], np.uint8)
    np.testing.assert_array_equal(imfill(pit), np.where(pit == 9, 9, 5))  # the pit rises to its rim, the peak stays


def test_bwlabel_is_mathworks_example_and_numbers_down_the_columns():
    # https://www.mathworks.com/help/images/ref/bwlabel.html: the 8 x 8 example, 4-connected: three objects
    BW = np.array([[1, 1, 1, 0, 0, 0, 0, 0], [1, 1, 1, 0, 1, 1, 0, 0], [1, 1, 1, 0, 1, 1, 0, 0],
                   [1, 1, 1, 0, 0, 0, 1, 0], [1, 1, 1, 0, 0, 0, 1, 0], [1, 1, 1, 0, 0, 0, 1, 0],
                   [1, 1, 1, 0, 0, 1, 1, 0], [1, 1, 1, 0, 0, 0, 0, 0]], bool)
    L, n = bwlabel(BW, 4, nargout=2)
    expected = np.array([[1, 1, 1, 0, 0, 0, 0, 0], [1, 1, 1, 0, 2, 2, 0, 0], [1, 1, 1, 0, 2, 2, 0, 0],
                         [1, 1, 1, 0, 0, 0, 3, 0], [1, 1, 1, 0, 0, 0, 3, 0], [1, 1, 1, 0, 0, 0, 3, 0],
                         [1, 1, 1, 0, 0, 3, 3, 0], [1, 1, 1, 0, 0, 0, 0, 0]])
    np.testing.assert_array_equal(L, expected)
    assert n == 3.0 and L.dtype == np.float64
    assert bwlabel(BW, nargout=2)[1] == 2.0  # 8-connected: the two right-hand objects touch diagonally
    # column-major numbering: the object met first going down the first columns is 1, although another starts
    # on an earlier row
    bw = np.zeros((4, 4), bool)
    bw[0, 3] = bw[3, 0] = True
    L = bwlabel(bw)
    assert L[3, 0] == 1 and L[0, 3] == 2
    _, cv_labels = cv2.connectedComponents(bw.astype(np.uint8), connectivity=8)
    assert cv_labels[0, 3] == 1  # OpenCV numbers row by row: MATLAB's order is not its


def test_bwareaopen_removes_small_components_as_opencv_counts_them():
    for conn in (8, 4):
        bw = RNG.random((30, 30)) < 0.35
        count, labels, stats, _ = cv2.connectedComponentsWithStats(bw.astype(np.uint8), connectivity=conn)
        expect = np.isin(labels, [k for k in range(1, count) if stats[k, cv2.CC_STAT_AREA] >= 4])
        np.testing.assert_array_equal(bwareaopen(bw, 4, conn), expect)
    with pytest.raises(ConfigError, match="P \\(the smallest area kept, in pixels\\) must be a non-negative integer"):
        bwareaopen(bw, -1)
    with pytest.raises(ConfigError, match="connectivity must be 4 or 8"):
        bwlabel(bw, 6)
