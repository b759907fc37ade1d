"""Intensity adjustments and small image utilities (leuknet/matlab/enhance.py) against GNU Octave's image package
(fixtures made by parity/make_octave_image.py), MathWorks' sources and documented formulas."""

from pathlib import Path

import numpy as np
import pytest

from leuknet.errors import ConfigError
from leuknet.matlab import (bwperim, categorical, histeq, imadjust, labeloverlay, imcomplement, imoverlay, mat2gray, medfilt2, rescale, stretchlim)

FIX = np.load(Path(__file__).parent / "fixtures" / "octave_image.npz")
G8, GD, BW, RGB8 = FIX["in_G8"], FIX["in_GD"], FIX["in_BW"].astype(bool), FIX["in_RGB8"]


def test_exact_agreement_with_octave():
    cases = {
        "stretchlim_G8": stretchlim(G8), "stretchlim_RGB8": stretchlim(RGB8), "imadjust_G8": imadjust(G8),
        "imadjust_G8_args": imadjust(G8, [0.2, 0.7], [0.1, 0.9], 0.5),
        "imadjust_RGB8": imadjust(RGB8, stretchlim(RGB8)), "medfilt2_G8": medfilt2(G8),
        "medfilt2_GD_4x3_sym": medfilt2(GD, [4, 3], "symmetric"), "mat2gray_GD": mat2gray(GD * 7 - 3),
        "mat2gray_G8_lim": mat2gray(G8, [20, 200]), "bwperim_4": bwperim(BW), "bwperim_8": bwperim(BW, 8),
        "imcomplement_G8": imcomplement(G8), "imcomplement_GD": imcomplement(GD)}
    for name, got in cases.items():
        np.testing.assert_allclose(np.asarray(got, np.float64), FIX[name], rtol=0, atol=1e-12, err_msg=name)
    assert imadjust(G8).dtype == np.uint8 and medfilt2(G8).dtype == np.uint8


def test_where_octave_is_not_matlab():
    """Double images: MathWorks' stretchlim bins every class but uint8 into 65536 bins, Octave takes exact
    quantiles (within a bin). Even windows: MathWorks' medfilt2 averages the two middle values in double and rounds
    once (imlincomb), Octave halves each first (within 1), and ORs them for logical images (Octave averages)."""
    np.testing.assert_allclose(stretchlim(GD, [0.05, 0.9]), FIX["stretchlim_GD_tol"], atol=1 / 65535)
    np.testing.assert_allclose(imadjust(GD), FIX["imadjust_GD"], atol=2e-5)
    np.testing.assert_allclose(medfilt2(G8, [2, 4]).astype(float), FIX["medfilt2_G8_2x4"], atol=1)
    np.testing.assert_array_equal(medfilt2(BW, [2, 2]), FIX["medfilt2_BW_2x2"] > 0)
    # hand-worked: the window at (0, 2) holds 3 43 56 91 117 140 215 247: (91 + 117) / 2 = 104 (Octave: 46 + 59)
    assert medfilt2(G8, [2, 4])[0, 2] == 104 and FIX["medfilt2_G8_2x4"][0, 2] == 105


def test_documented_formulas():
    np.testing.assert_allclose(rescale([1, 2, 3]), [0, 0.5, 1])
    np.testing.assert_allclose(rescale([1, 2, 3], -1, 1), [-1, 0, 1])
    np.testing.assert_allclose(rescale([0, 5, 10], "InputMin", 2, "InputMax", 8), [0, 0.5, 1])
    np.testing.assert_array_equal(rescale(np.full(3, 7.0), 2, 4), [2, 2, 2])
    np.testing.assert_array_equal(mat2gray(np.full((2, 2), 0.25)), np.full((2, 2), 0.25))  # constant: double(A)
    np.testing.assert_array_equal(imcomplement(np.array([-128, -1, 0, 127], np.int8)), [127, 0, -1, -128])
    np.testing.assert_array_equal(imcomplement(np.array([True, False])), [False, True])
    flat = np.full((4, 4), 9, np.uint8)
    np.testing.assert_array_equal(stretchlim(flat), [[0], [1]])
    np.testing.assert_array_equal(stretchlim(G8, 0.5), [[0], [1]])  # nothing left between the limits
    out = imoverlay(G8, BW, "red")
    assert out.dtype == np.uint8 and out.shape == G8.shape + (3,)
    np.testing.assert_array_equal(out[BW], np.tile([255, 0, 0], (BW.sum(), 1)))
    np.testing.assert_array_equal(out[~BW][:, 1], G8[~BW])
    np.testing.assert_array_equal(imoverlay(GD, BW, [0, 0.5, 1])[BW][0], [0, 128, 255])


def test_edges_the_review_found():
    np.testing.assert_array_equal(rescale([1, np.nan, 3]), [0, np.nan, 1])  # MATLAB's min and max omit NaN
    np.testing.assert_array_equal(mat2gray([1, np.nan, 3]), [0, np.nan, 1])
    A = np.array([[1.0, 2], [3, 5]])
    np.testing.assert_array_equal(rescale(A, "InputMin", A.min(axis=0), "InputMax", A.max(axis=0)),
                                  [[0, 0], [1, 1]])  # the page's column-wise example: bounds broadcast
    assert medfilt2(np.zeros((0, 0))).shape == (0, 0)
    ones = np.zeros((3, 3))
    assert medfilt2(ones, "indexed")[0, 0] == 1 and medfilt2(ones.astype(np.float32), "indexed")[0, 0] == 0
    # an even window whose middle values sum to an odd number: rounded half away from zero, once
    # window [1 2] starts at the pixel (ordfilt2's centre floor(3 / 2) = 1): {1, 2} 1.5 -> 2, {2, 0} 1, {3, 4} 4
    np.testing.assert_array_equal(medfilt2(np.array([[1, 2], [3, 4]], np.uint8), [1, 2]), [[2, 1], [4, 2]])
    assert medfilt2(np.array([[1, 2], [3, 4]], np.uint8), [1, 2], "symmetric")[0, 1] == 2  # (2 + 2) / 2
    big = medfilt2((np.random.default_rng(2).random((300, 300)) * 255).astype(np.uint8), [15, 15])
    assert big.shape == (300, 300) and big.dtype == np.uint8
    np.testing.assert_array_equal(imcomplement(np.array([0, 2 ** 64 - 1], np.uint64)), [2 ** 64 - 1, 0])
    np.testing.assert_array_equal(bwperim((BW * 255).astype(np.uint8)), bwperim(BW))  # nonzero is foreground
    assert imoverlay(G8, (BW * 255).astype(np.uint8)).shape == G8.shape + (3,)


def test_histeq_follows_mathworks_transformation():
    """MathWorks' histeq.m (Octave's histeq is another algorithm, not a reference): hand-worked, four pixels 0, 85,
    170, 255 into two levels: c0 = 1 2 3 4 with half-counts 0 .5 .5 0 (the end bins zeroed); c1 = 2 4; 0 and 85
    reach level 1 (err 1 and 0.5), 170 and 255 overshoot it (err -0.5 and -2) and go to level 2."""
    np.testing.assert_array_equal(histeq(np.array([[0, 85, 170, 255]], np.uint8), 2), [[0, 0, 255, 255]])
    # the half-count decides: 0, 100, 100, 200 into two levels: at 100, c0 = 3 and half its count is 1, so
    # 2 - 3 + 1 = 0 keeps it on level 1 (without the half it would overshoot and go up)
    np.testing.assert_array_equal(histeq(np.array([[0, 100, 100, 200]], np.uint8), 2), [[0, 0, 0, 255]])
    rng = np.random.default_rng(0)
    I = (rng.beta(2, 5, (120, 120)) * 255).astype(np.uint8)  # a skewed histogram
    J, T = histeq(I, nargout=2)
    levels, counts = np.unique(J, return_counts=True)
    assert T.shape == (256,) and np.all(np.diff(T) >= 0)
    assert set(levels) <= set(np.floor(255 * np.arange(64) / 63 + 0.5).astype(int))  # 64 levels at most
    assert counts.max() < 3 * I.size / 64  # roughly flat: no level holds three times its share
    # a target histogram: a quarter of the pixels dark, three quarters bright
    K = histeq(I, [1, 0, 0, 3])
    assert abs(np.mean(K == 255) - 0.75) < 0.05 and set(np.unique(K)) <= {0, 85, 170, 255}
    np.testing.assert_allclose(histeq(I.astype(np.float64) / 255) * 255, J, atol=0.5)
    np.testing.assert_allclose(histeq(I.astype(np.uint16) * 257) / 257, J, atol=0.5)


def test_labeloverlay_blends_as_mathworks_code():
    """MathWorks' labeloverlay.m: alpha = 1 - Transparency of the label's colour over the image, label 0 (a mask's
    false, a categorical's undefined) untouched, uint8: 0.75 * 255 + 0.25 * 100 = 216.25 -> 216."""
    A = np.full((2, 3), 100, np.uint8)
    L = np.array([[0, 1, 2], [2, 1, 0]])
    B = labeloverlay(A, L, "Colormap", [[1, 0, 0], [0, 0, 1]], "Transparency", 0.25)
    assert B.dtype == np.uint8 and B.shape == (2, 3, 3)
    np.testing.assert_array_equal(B[..., 0], [[100, 216, 25], [25, 216, 100]])
    np.testing.assert_array_equal(B[..., 2], [[100, 25, 216], [216, 25, 100]])
    np.testing.assert_array_equal(labeloverlay(A, L, "Colormap", [[1, 0, 0], [0, 0, 1]], "IncludedLabels", 2)[0, 1],
                                  [100, 100, 100])
    C = categorical(np.array([["bg", "cell", "bg"], ["cell", "bg", "bg"]]))
    np.testing.assert_array_equal(  # 'cell' is the second category: red, 0.75 * 255 + 0.25 * 100
        labeloverlay(A, C, "IncludedLabels", ["cell"], "Colormap", [[0, 1, 0], [1, 0, 0]], "Transparency", 0.25)[
            ..., 0], [[100, 216, 100], [216, 100, 100]])
    from leuknet.spec import conventions

    conventions._NOTED.clear()  # said once per process: another test in this process may have said it
    with pytest.warns(conventions.MatlabDifference, match="shuffles its default jet"):
        D = labeloverlay(G8, bwlabel_of(BW))
    colours = {tuple(D[r, c]) for r, c in np.argwhere(BW)[:50]}
    assert len(colours) > 1 and np.array_equal(D[~BW][:, 0], G8[~BW])


def bwlabel_of(mask):
    from leuknet.matlab import bwlabel

    return bwlabel(mask)


@pytest.mark.parametrize("call, words", [
    (lambda: labeloverlay(G8, BW[:3]), "size"),
    (lambda: labeloverlay(G8, BW, "Colormap", [[2, 0, 0]]), "Colormap"),
    (lambda: labeloverlay(G8, BW, "Colormap", "parula"), "jet"),
    (lambda: labeloverlay(G8, BW, "IncludedLabels", 5), "IncludedLabels"),
    (lambda: histeq(BW), "class"),
    (lambda: histeq(G8, 0), "positive integer"),
    (lambda: histeq(G8, "flat"), "hgram"),
    (lambda: histeq(G8, np.tile(np.linspace(0, 1, 4)[:, None], (1, 3))), "indexed"),
    (lambda: labeloverlay(G8, BW, "Colormap", [["a", "b", "c"]]), "Colormap"),
    (lambda: labeloverlay(np.zeros((0, 0)), np.zeros((0, 0))), "empty"),
    (lambda: rescale([1, 2], 3), "both bounds"),
    (lambda: rescale([1, 2], "InputMin", 3, "InputMax", 1), "InputMin must not exceed"),
    (lambda: rescale([1, 2], "InputMin", "a"), "InputMin"),
    (lambda: rescale([1, 2, 3], 0, 1, "InputMin", [1, 2]), "broadcast"),
    (lambda: stretchlim(np.zeros(5)), "M x N"),
    (lambda: stretchlim(G8, "a"), "tol"),
    (lambda: mat2gray(G8, "ab"), "limits"),
    (lambda: imadjust(G8, "ab"), "numbers"),
    (lambda: imadjust(BW), "logical"),
    (lambda: medfilt2(G8, ["a", "b"]), "[m n]"),
    (lambda: imoverlay(G8.astype(np.int8), BW), "class"),
    (lambda: medfilt2(RGB8), "2-D"),
    (lambda: medfilt2(G8, [0, 3]), "positive integers"),
    (lambda: imadjust(G8, [0.7, 0.2]), "below high_in"),
    (lambda: imadjust(G8, [0.2, 1.7]), "[low high]"),
    (lambda: imoverlay(G8, BW[:3]), "size"),
    (lambda: imoverlay(G8, BW, "purple"), "colour"),
    (lambda: stretchlim(G8, [0.1, 0.2, 0.3]), "tol"),
])
def test_bad_input_is_one_line(call, words):
    with pytest.raises(ConfigError) as e:
        call()
    assert words in str(e.value) and "\n" not in str(e.value)
