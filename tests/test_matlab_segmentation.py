"""bwdist, imregionalmin/max and watershed (leuknet/matlab/segmentation.py) against GNU Octave's image package
(fixtures made by parity/make_octave_image.py), SciPy's exact distance transform and the MATLAB results recorded in
Octave's watershed tests (octave-image, src/watershed.cc)."""

from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from leuknet.errors import ConfigError
from leuknet.matlab import (bwdist, imextendedmax, imextendedmin, imhmax, imhmin, imimposemin, imreconstruct,
                            imregionalmax, imregionalmin, watershed)

FIX = np.load(Path(__file__).parent / "fixtures" / "octave_image.npz")
BW = FIX["in_BW"].astype(bool)
WS = FIX["in_WS"]


def same_partition(a, b):
    pairs = Counter(zip(np.ravel(a).tolist(), np.ravel(b).tolist()))
    return len(pairs) == len(np.unique(a)) == len(np.unique(b))


def test_bwdist_matches_octave_and_scipy():
    D, IDX = bwdist(BW, nargout=2)
    assert D.dtype == np.float32  # MATLAB's class
    np.testing.assert_array_equal(D, FIX["bwdist_e"].astype(np.float32))
    np.testing.assert_array_equal(bwdist(BW, "cityblock"), FIX["bwdist_c"])
    np.testing.assert_array_equal(bwdist(BW, "chessboard"), FIX["bwdist_q"])
    # IDX: a nonzero pixel at that distance (where several are as near, the pick may differ from MATLAB's)
    rows, cols = np.unravel_index(IDX, BW.shape, order="F")
    assert BW[rows, cols].all()
    rr, cc = np.mgrid[0:BW.shape[0], 0:BW.shape[1]]
    np.testing.assert_allclose(np.hypot(rows - rr, cols - cc), D, rtol=1e-6)
    theirs = FIX["bwdist_e_idx"].astype(np.int64) - 1  # where Octave picked another pixel, it is as near
    r2, c2 = np.unravel_index(theirs, BW.shape, order="F")
    np.testing.assert_allclose(np.hypot(r2 - rr, c2 - cc), D, rtol=1e-6)
    none, idx = bwdist(np.zeros((3, 3), bool), nargout=2)
    assert np.isinf(none).all() and (idx == -1).all()


def test_regional_minima_and_maxima_match_octave():
    np.testing.assert_array_equal(imregionalmin(WS), FIX["regmin_8"].astype(bool))
    np.testing.assert_array_equal(imregionalmin(WS, 4), FIX["regmin_4"].astype(bool))
    np.testing.assert_array_equal(imregionalmax(WS), FIX["regmax_8"].astype(bool))
    np.testing.assert_array_equal(imregionalmax(WS, 4), FIX["regmax_4"].astype(bool))
    assert imregionalmin(np.array([[3, 3], [3, 3]])).all()  # a flat image is one regional minimum


def test_watershed_matches_octave():
    np.testing.assert_array_equal(watershed(WS), FIX["ws_8"])  # random small integers: ties and plateaus
    np.testing.assert_array_equal(watershed(WS, 4), FIX["ws_4"])
    D = -bwdist(~BW).astype(np.float64)  # the cell-splitting recipe
    D[~BW] = -np.inf
    L = watershed(D)
    np.testing.assert_array_equal(L == 0, FIX["ws_cells"] == 0)
    assert same_partition(L, FIX["ws_cells"])  # Octave's bwlabeln numbers the basins in another order


def test_watershed_reproduces_matlab_results_recorded_by_octave():
    """MATLAB's outputs that Octave's watershed tests record (the presentation of G. Bertrand, ISIS 2003, and
    MATLAB runs): basins numbered down the columns, lines 0."""
    im = np.array([[3, 4, 5, 6, 0], [2, 3, 4, 5, 6], [1, 2, 3, 4, 5], [0, 1, 2, 3, 4], [1, 0, 1, 2, 3]])
    np.testing.assert_array_equal(watershed(im), [[1, 1, 1, 0, 2], [1, 1, 1, 0, 0], [1, 1, 1, 1, 1],
                                                  [1, 1, 1, 1, 1], [1, 1, 1, 1, 1]])
    np.testing.assert_array_equal(watershed(im, 4), [[1, 1, 1, 0, 3], [1, 1, 1, 0, 0], [1, 1, 0, 2, 2],
                                                     [1, 0, 2, 2, 2], [0, 2, 2, 2, 2]])
    im2 = np.array([[2, 3, 30, 2], [3, 30, 3, 30], [255, 31, 30, 4], [2, 255, 31, 30], [1, 2, 255, 5]])
    np.testing.assert_array_equal(watershed(im2, 4), [[1, 1, 0, 4], [1, 0, 3, 0], [0, 2, 0, 5], [2, 2, 2, 0],
                                                      [2, 2, 0, 6]])
    crop = np.array([[2, 10, 3, 8, 7, 5], [2, 5, 10, 8, 1, 4], [8, 2, 3, 8, 3, 6]])
    np.testing.assert_array_equal(watershed(crop), [[1, 0, 2, 0, 3, 3], [1, 0, 0, 0, 3, 3], [1, 1, 1, 0, 3, 3]])


def test_watershed_where_matlab_differs_from_meyers_flooding():
    """Octave's tests record two 8-connected cases where MATLAB's lines differ from this algorithm's (and Octave's)
    by a few pixels; leuknet keeps the algorithm and says so in docs/matlab.md. If this fails, the docs must
    change with it."""
    full = np.array([[1, 2, 10, 3, 8, 7, 5], [3, 2, 5, 10, 8, 1, 4], [1, 8, 2, 3, 8, 3, 6]])
    matlab = np.array([[1, 1, 0, 3, 0, 4, 4], [0, 0, 0, 0, 0, 4, 4], [2, 2, 2, 0, 4, 4, 4]])
    assert np.argwhere(watershed(full) != matlab).tolist() == [[2, 3], [2, 4]]


def test_reconstruction_family_matches_octave():
    G8, GD = FIX["in_G8"], FIX["in_GD"]
    marker = np.maximum(G8.astype(float) - 60, 0).astype(np.uint8)
    np.testing.assert_array_equal(imreconstruct(marker, G8), FIX["recon_G8"])
    np.testing.assert_array_equal(imreconstruct(marker, G8, 4), FIX["recon_G8_4"])
    seed = np.zeros(BW.shape, bool)
    seed[11, 7] = True
    np.testing.assert_array_equal(imreconstruct(seed & BW, BW), FIX["recon_BW"].astype(bool))
    np.testing.assert_array_equal(imhmin(G8, 40), FIX["hmin_G8"])
    np.testing.assert_allclose(imhmin(GD, 0.2), FIX["hmin_GD"], atol=1e-15)
    np.testing.assert_array_equal(imhmax(G8, 40), FIX["hmax_G8"])
    np.testing.assert_array_equal(imextendedmin(G8, 40), FIX["emin_G8"].astype(bool))
    np.testing.assert_array_equal(imextendedmin(G8, 40, 4), FIX["emin_G8_4"].astype(bool))
    np.testing.assert_array_equal(imextendedmax(GD, 0.2), FIX["emax_GD"].astype(bool))
    marks = np.zeros(G8.shape, bool)
    marks[4, 4] = marks[17, 13] = True
    np.testing.assert_array_equal(imimposemin(G8, marks), FIX["impose_G8"])
    np.testing.assert_allclose(imimposemin(GD, marks), FIX["impose_GD"], atol=1e-15)
    assert np.argwhere(imregionalmin(imimposemin(G8, marks))).tolist() == [[4, 4], [17, 13]]
    # other classes, and a non-integer H on integer images (the class's arithmetic rounds I - H)
    B = np.array([[9, 9, 9, 9, 9], [9, 5, 9, 2, 9], [9, 9, 9, 9, 9]], np.uint8)
    np.testing.assert_array_equal(imhmax(B, 2.5), FIX["hmax_frac"])
    np.testing.assert_array_equal(imhmin(B, 2.6), FIX["hmin_frac"])
    np.testing.assert_array_equal(imextendedmin(B, 3.6), FIX["emin_frac"].astype(bool))
    np.testing.assert_array_equal(imhmin(G8.astype(np.uint16) * 257, 9000), FIX["hmin_G16"])
    GI16 = (G8.astype(np.float64) * 100 - 12000).astype(np.int16)
    np.testing.assert_array_equal(imhmin(GI16, 3000), FIX["hmin_GI16"])
    np.testing.assert_array_equal(imimposemin(GI16, marks), FIX["impose_GI16"])


def test_marker_controlled_watershed_splits_two_touching_cells():
    """MathWorks' recipes on two overlapping discs, through Octave: D(~BW) = -Inf then watershed; and markers from
    imextendedmin imposed with imimposemin."""
    C = FIX["in_CELLS"].astype(bool)
    D = -bwdist(~C).astype(np.float64)
    marked = watershed(imimposemin(D, imextendedmin(D, 1)))
    np.testing.assert_array_equal(marked, FIX["ws_marked"])
    D[~C] = -np.inf
    L = watershed(D)
    np.testing.assert_array_equal(L, FIX["ws_two_cells"])
    # two cells (the background's basin also takes part of the cells' outermost ring, at distance 1)
    assert set(np.unique(L[~C])) == {1.0} and np.sum(L[C] == 2) > 40 and np.sum(L[C] == 3) > 40


@pytest.mark.parametrize("call, words", [
    (lambda: imreconstruct(np.zeros((3, 3)), np.zeros((4, 4))), "one size"),
    (lambda: imreconstruct(np.zeros((3, 3), np.uint8), np.zeros((3, 3))), "one class"),
    (lambda: imhmin(FIX["in_G8"], -1), "H must be"),
    (lambda: imhmin(BW, 1), "logical"),
    (lambda: imhmin(FIX["in_G8"].astype(np.uint64), 1), "64-bit"),
    (lambda: imregionalmax(FIX["in_G8"].astype(np.int64)), "64-bit"),
    (lambda: imimposemin(FIX["in_G8"], BW[:3]), "size"),
    (lambda: bwdist(BW, "quasi-euclidean"), "quasi"),
    (lambda: bwdist(BW, "manhattan"), "method"),
    (lambda: watershed(np.zeros((3, 3, 3))), "2-D"),
    (lambda: watershed(np.array([[np.nan, 1.0]])), "NaN"),
    (lambda: watershed(WS, 6), "connectivity"),
    (lambda: imregionalmin(WS, np.ones((3, 3))), "connectivity"),
])
def test_bad_input_is_one_line(call, words):
    with pytest.raises(ConfigError) as e:
        call()
    assert words in str(e.value) and "\n" not in str(e.value)
