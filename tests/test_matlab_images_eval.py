"""leuknet.matlab.images and leuknet.matlab.evaluation against references not derived from the code: MathWorks'
printed examples and formulas, NumPy transcriptions of the documented kernels, OpenCV, hand-computed values."""

import os
import sys

import cv2
import numpy as np
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from leuknet.errors import ConfigError, DataError  # noqa: E402
from leuknet.matlab.evaluation import (ConfusionMatrixChart, confusionchart, confusionmat, saveas,  # noqa: E402
                                       sortClasses)
from leuknet.matlab.images import (hsv2rgb, im2double, im2gray, im2single, im2uint8, im2uint16,  # noqa: E402
                                   imread, imresize, imwrite, rgb2gray, rgb2hsv, rgb2ycbcr, ycbcr2rgb)
from parity.references import imresize_bicubic as _bicubic_reference  # noqa: E402
from parity.references import imresize_bilinear  # noqa: E402

RNG = np.random.default_rng(18)


# ----------------------------------------------------------------------------------------------- imresize

@pytest.mark.parametrize("size", [(6, 9), (13, 5), (30, 40), (11, 23)])
def test_imresize_bicubic_matches_keys_transcription(size):
    img = RNG.uniform(0, 255, (11, 17))
    ours = imresize(img, list(size))  # bicubic and antialiasing are the defaults
    np.testing.assert_allclose(ours, _bicubic_reference(img, size), atol=1e-9)


def test_imresize_bicubic_without_antialiasing():
    img = RNG.uniform(0, 1, (16, 12))
    ours = imresize(img, [7, 5], "bicubic", "Antialiasing", False)
    np.testing.assert_allclose(ours, _bicubic_reference(img, (7, 5), antialias=False), atol=1e-12)


@pytest.mark.parametrize("size", [(9, 11), (5, 7), (40, 31), (17, 50), (8, 30)])
def test_imresize_bilinear_matches_parity_reference(size):
    img = RNG.uniform(0, 255, (17, 23))
    ours = imresize(img, list(size), "bilinear")
    ref = imresize_bilinear(img, size)  # rounds and clips like a uint8 output
    np.testing.assert_array_equal(np.clip(np.floor(ours + 0.5), 0, 255), ref)


def test_imresize_bilinear_uint8_colour_within_one_level_of_reference():
    img = RNG.integers(0, 256, (20, 26, 3)).astype(np.uint8)
    ours = imresize(img, [9, 13], "bilinear")
    assert ours.dtype == np.uint8 and ours.shape == (9, 13, 3)
    ref = np.stack([imresize_bilinear(img[..., c], (9, 13)) for c in range(3)], axis=-1)
    # MATLAB rounds to uint8 after each of the two passes; the reference rounds once at the end.
    assert np.abs(ours.astype(int) - ref).max() <= 1


def test_imresize_bilinear_upscaling_equals_opencv_linear():
    # Enlarging without antialiasing, both use aligned pixel centres; at the border MATLAB mirrors and OpenCV
    # replicates, which for the 2-tap triangle kernel is the same pixel.
    img = RNG.uniform(0, 255, (7, 9))
    for size in [(14, 18), (21, 10), (7, 20)]:
        cvout = cv2.resize(img.astype(np.float32), (size[1], size[0]), interpolation=cv2.INTER_LINEAR)
        np.testing.assert_allclose(imresize(img, list(size), "bilinear"), cvout, atol=2e-3)


def test_imresize_nearest_equals_opencv_nearest_exact():
    # MATLAB's box kernel picks input pixel floor((k + 0.5) / scale): OpenCV's INTER_NEAREST_EXACT. (Plain
    # INTER_NEAREST uses floor(k / scale) and differs.)
    img = RNG.integers(0, 256, (15, 22, 3)).astype(np.uint8)
    for size in [(7, 9), (31, 50), (15, 11)]:
        cvout = cv2.resize(img, (size[1], size[0]), interpolation=cv2.INTER_NEAREST_EXACT)
        np.testing.assert_array_equal(imresize(img, list(size), "nearest"), cvout)


def test_imresize_sizes_and_classes():
    peppers = np.zeros((384, 512, 3), np.uint8)  # MathWorks' example: imresize(RGB, [64 NaN]) is 64 x 86 x 3
    assert imresize(peppers, [64, np.nan]).shape == (64, 86, 3)
    assert imresize(peppers, [np.nan, 100]).shape == (75, 100, 3)
    assert imresize(np.zeros((227, 301)), 0.5).shape == (114, 151)  # ceil(scale * size)
    assert imresize(np.zeros((10, 10)), "Scale", [2, 0.5]).shape == (20, 5)
    assert imresize(np.zeros((10, 10)), OutputSize=[4, 6], Method="bil").shape == (4, 6)
    step = np.zeros((8, 8), np.uint8)
    step[:, 4:] = 255
    up8, upd = imresize(step, 3), imresize(step.astype(np.float64), 3)
    assert up8.dtype == np.uint8 and upd.dtype == np.float64
    assert upd.max() > 255 and upd.min() < 0  # bicubic overshoots in double ...
    assert up8.max() == 255 and up8.min() == 0  # ... and saturates in uint8
    np.testing.assert_array_equal(up8, np.clip(np.floor(upd + 0.5), 0, 255))  # one pass changes: rows only
    assert imresize(np.eye(6, dtype=bool), 2).dtype == np.bool_
    assert imresize(np.zeros((6, 6), np.float32), 0.5).dtype == np.float32


def test_imresize_refuses_bad_input_in_one_line():
    img = np.zeros((8, 8))
    for call in (lambda: imresize(img, [np.nan, np.nan]), lambda: imresize(img, 0.5, "quadratic"),
                 lambda: imresize(img, np.zeros((256, 3)), 0.5), lambda: imresize(img, -1),
                 lambda: imresize(img, 0.5, "Colormap", "original"), lambda: imresize(img),
                 lambda: imresize(["a"], 2)):
        with pytest.raises(ConfigError) as e:
            call()
        assert str(e.value).startswith("imresize:") and "\n" not in str(e.value)


# ----------------------------------------------------------------------------------------------- classes

def test_im2uint8_mathworks_example_and_edges():
    # https://uk.mathworks.com/help/images/ref/im2uint8.html: uint16(linspace(0, 65535, 25)) -> printed uint8.
    I = np.array([[0, 13653, 27306, 40959, 54613], [2731, 16384, 30037, 43690, 57343],
                  [5461, 19114, 32768, 46421, 60074], [8192, 21845, 35498, 49151, 62804],
                  [10923, 24576, 38229, 51882, 65535]], np.uint16)  # as printed (MATLAB rounds half away)
    printed = np.array([[0, 53, 106, 159, 213], [11, 64, 117, 170, 223], [21, 74, 128, 181, 234],
                        [32, 85, 138, 191, 244], [43, 96, 149, 202, 255]], np.uint8)
    np.testing.assert_array_equal(im2uint8(I), printed)
    assert im2uint8(np.array([65535], np.uint16))[0] == 255
    np.testing.assert_array_equal(im2uint8(np.array([0.5, -0.2, 1.7, np.nan, 0.002, 0.998])),
                                  [128, 0, 255, 0, 1, 254])  # round(x * 255), saturated; NaN -> 0
    np.testing.assert_array_equal(im2uint8(np.array([True, False])), [255, 0])
    np.testing.assert_array_equal(im2uint8(np.array([-32768, 0, 32767], np.int16)), [0, 128, 255])
    assert im2uint8(np.array([7], np.uint8)).dtype == np.uint8


def test_im2single_mathworks_example_and_im2double():
    # https://mathworks.com/help/images/ref/im2single.html: uint8(linspace(1, 255, 25)) -> printed singles.
    I = np.floor(np.linspace(1, 255, 25) + 0.5).astype(np.uint8).reshape(5, 5, order="F")  # uint8() rounds half up
    printed = np.array([[0.0039, 0.2118, 0.4196, 0.6275, 0.8353], [0.0471, 0.2549, 0.4588, 0.6667, 0.8745],
                        [0.0863, 0.2941, 0.5020, 0.7098, 0.9176], [0.1294, 0.3373, 0.5451, 0.7529, 0.9569],
                        [0.1686, 0.3765, 0.5843, 0.7922, 1.0000]])
    out = im2single(I)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, printed, atol=5e-5)
    np.testing.assert_allclose(im2double(np.array([0, 65535, 32768], np.uint16)), [0, 1, 32768 / 65535])
    np.testing.assert_allclose(im2double(np.array([-32768, 32767], np.int16)), [0, 1])
    assert im2double(np.array([True]))[0] == 1.0
    np.testing.assert_array_equal(im2double(np.array([0, 4], np.uint8), "indexed"), [1, 5])
    np.testing.assert_array_equal(im2uint16(np.array([255, 1], np.uint8)), [65535, 257])
    with pytest.raises(ConfigError, match="^im2double:"):
        im2double(np.array([1], np.int64))


# ----------------------------------------------------------------------------------------------- colour

def test_rgb2gray_documented_formula_and_hand_values():
    # https://mathworks.com/help/matlab/ref/rgb2gray.html: 0.298936021293775 R + 0.587043074451121 G +
    # 0.114020904255103 B. By hand: red 76.228 -> 76, green 149.696 -> 150, blue 29.075 -> 29, white 255.
    px = np.array([[[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 255], [10, 200, 30]]], np.uint8)
    np.testing.assert_array_equal(rgb2gray(px), [[76, 150, 29, 255, 124]])
    img = RNG.integers(0, 256, (9, 7, 3)).astype(np.uint8)
    f = img[..., 0] * 0.298936021293775 + img[..., 1] * 0.587043074451121 + img[..., 2] * 0.114020904255103
    np.testing.assert_array_equal(rgb2gray(img), np.floor(f + 0.5).astype(np.uint8))
    d = img / 255.0
    np.testing.assert_allclose(rgb2gray(d), f / 255.0, atol=1e-15)
    assert rgb2gray(d).dtype == np.float64 and rgb2gray(d.astype(np.float32)).dtype == np.float32
    np.testing.assert_allclose(rgb2gray(np.array([[1.0, 0, 0]])), [[0.298936021293775] * 3])  # colormap form
    with pytest.raises(ConfigError, match="im2gray"):
        rgb2gray(np.zeros((4, 5), np.uint8))
    np.testing.assert_array_equal(im2gray(np.full((3, 3), 9, np.uint8)), np.full((3, 3), 9))


def test_hsv_and_ycbcr_reference_values():
    hsv = rgb2hsv(np.array([[[10, 200, 30]]], np.uint8))[0, 0]
    np.testing.assert_allclose(hsv, [(2 + (30 - 10) / 190) / 6, 190 / 200, 200 / 255])  # by hand: 0.3509 ...
    np.testing.assert_allclose(hsv2rgb(np.array([[0, 1, 1], [1 / 3, 1, 1], [2 / 3, 1, 0.5], [1, 1, 1],
                                                 [0.5, 0, 0.3]])),
                               [[1, 0, 0], [0, 1, 0], [0, 0, 0.5], [1, 0, 0], [0.3, 0.3, 0.3]], atol=1e-12)
    rgb = RNG.uniform(0, 1, (6, 5, 3))
    np.testing.assert_allclose(hsv2rgb(rgb2hsv(rgb)), rgb, atol=1e-12)
    colours = np.array([[[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 255], [0, 0, 0], [128, 128, 128],
                         [10, 200, 30]]], np.uint8)
    ycc = np.array([[[81, 90, 240], [145, 54, 34], [41, 240, 110], [235, 128, 128], [16, 128, 128],
                     [126, 128, 128], [122, 81, 57]]], np.uint8)  # ../shared/MATLAB.md reference values
    np.testing.assert_array_equal(rgb2ycbcr(colours), ycc)
    assert np.abs(ycbcr2rgb(ycc).astype(int) - colours).max() <= 1  # the uint8 levels are rounded
    np.testing.assert_allclose(ycbcr2rgb(rgb2ycbcr(rgb)), rgb, atol=1e-12)  # doubles invert exactly
    y16 = rgb2ycbcr((colours.astype(np.uint16) * 257))
    assert y16.dtype == np.uint16 and np.abs(y16.astype(int) - ycc.astype(int) * 257).max() <= 200


# ----------------------------------------------------------------------------------------------- files

def test_imread_grey_rgb_rgba_16bit_png_and_bmp(tmp_path):
    rgb = RNG.integers(0, 256, (6, 8, 3)).astype(np.uint8)
    grey = RNG.integers(0, 256, (6, 8)).astype(np.uint8)
    alpha = RNG.integers(0, 256, (6, 8)).astype(np.uint8)
    deep = RNG.integers(0, 65536, (6, 8, 3)).astype(np.uint16)
    cv2.imwrite(str(tmp_path / "rgb.png"), rgb[..., ::-1])  # OpenCV writes BGR
    cv2.imwrite(str(tmp_path / "rgb.bmp"), rgb[..., ::-1])
    cv2.imwrite(str(tmp_path / "grey.png"), grey)
    cv2.imwrite(str(tmp_path / "grey.bmp"), grey)
    cv2.imwrite(str(tmp_path / "rgba.png"), np.dstack([rgb[..., ::-1], alpha]))
    cv2.imwrite(str(tmp_path / "deep.png"), deep[..., ::-1])
    cv2.imwrite(str(tmp_path / "deep.tif"), deep[..., 0])
    for name in ("rgb.png", "rgb.bmp"):
        A = imread(tmp_path / name)
        assert A.dtype == np.uint8 and A.shape == (6, 8, 3)
        np.testing.assert_array_equal(A, rgb)
    for name in ("grey.png", "grey.bmp"):
        np.testing.assert_array_equal(imread(str(tmp_path / name)), grey)  # 2-D, not replicated
    A, cmap, transparency = imread(tmp_path / "rgba.png", nargout=3)
    np.testing.assert_array_equal(A, rgb)
    np.testing.assert_array_equal(transparency, alpha)
    assert cmap.size == 0
    assert imread(tmp_path / "rgb.png", nargout=3)[2].size == 0  # no alpha channel: empty
    D = imread(tmp_path / "deep.png")
    assert D.dtype == np.uint16
    np.testing.assert_array_equal(D, deep)
    np.testing.assert_array_equal(imread(tmp_path / "deep.tif"), deep[..., 0])
    np.testing.assert_array_equal(imread(str(tmp_path / "rgb"), "png"), rgb)  # imread(filename, fmt)


def test_imread_palette_grey_alpha_and_one_bit_png(tmp_path):
    from PIL import Image

    idx = RNG.integers(0, 4, (5, 7)).astype(np.uint8)
    pal = [0, 0, 0, 255, 0, 0, 0, 255, 0, 10, 20, 30]
    im = Image.fromarray(idx, "P")
    im.putpalette(pal)
    im.save(tmp_path / "pal.png")
    X, cmap = imread(tmp_path / "pal.png", nargout=2)  # MATLAB: the indices and their colormap in [0, 1]
    np.testing.assert_array_equal(X, idx)
    np.testing.assert_allclose(cmap[:4], np.array(pal).reshape(4, 3) / 255)
    la = RNG.integers(0, 256, (5, 7, 2)).astype(np.uint8)
    Image.fromarray(la, "LA").save(tmp_path / "la.png")
    G, _, a = imread(tmp_path / "la.png", nargout=3)
    np.testing.assert_array_equal(G, la[..., 0])
    np.testing.assert_array_equal(a, la[..., 1])
    mask = RNG.integers(0, 2, (5, 7)).astype(bool)
    imwrite(mask, tmp_path / "mask.png")  # logical -> 1-bit PNG -> logical again
    with Image.open(tmp_path / "mask.png") as m:
        assert m.mode == "1"
    back = imread(tmp_path / "mask.png")
    assert back.dtype == np.bool_
    np.testing.assert_array_equal(back, mask)


def test_imwrite_classes_formats_and_errors(tmp_path):
    d = RNG.uniform(0, 1, (4, 5, 3))
    imwrite(d, tmp_path / "d.png")  # doubles in [0, 1] become 8-bit round(x * 255)
    np.testing.assert_array_equal(cv2.imread(str(tmp_path / "d.png"))[..., ::-1], np.floor(d * 255 + 0.5))
    deep = RNG.integers(0, 65536, (4, 5)).astype(np.uint16)
    imwrite(deep, tmp_path / "deep.tif")
    np.testing.assert_array_equal(cv2.imread(str(tmp_path / "deep.tif"), cv2.IMREAD_UNCHANGED), deep)
    rgb = RNG.integers(0, 256, (4, 5, 3)).astype(np.uint8)
    alpha = RNG.integers(0, 256, (4, 5)).astype(np.uint8)
    imwrite(rgb, tmp_path / "a.png", "Alpha", alpha)
    A, _, t = imread(tmp_path / "a.png", nargout=3)
    np.testing.assert_array_equal(A, rgb)
    np.testing.assert_array_equal(t, alpha)
    imwrite(rgb, tmp_path / "q.jpg", Quality=90)
    assert imread(tmp_path / "q.jpg").shape == (4, 5, 3)
    imwrite(rgb, tmp_path / "noext", "bmp")
    np.testing.assert_array_equal(imread(tmp_path / "noext", "bmp"), rgb)
    with pytest.raises(ConfigError, match="^imwrite: a uint16 image needs PNG or TIFF"):
        imwrite(deep, tmp_path / "x.jpg")
    with pytest.raises(ConfigError, match="^imwrite: cannot tell the format"):
        imwrite(rgb, tmp_path / "x.xyz")
    with pytest.raises(ConfigError, match="^imwrite:"):
        imwrite(np.zeros((4, 5, 4), np.uint8), tmp_path / "x.png")
    with pytest.raises(DataError, match="^imread: file .* does not exist"):
        imread(tmp_path / "missing.png")
    (tmp_path / "junk.png").write_bytes(b"not an image at all")
    with pytest.raises(DataError, match="^imread:.*not a readable image"):
        imread(tmp_path / "junk.png")


# ----------------------------------------------------------------------------------------------- confusionmat

class _Cat:
    """A categorical-like object: codes into categories, -1 undefined."""

    def __init__(self, names, categories):
        self.categories = list(categories)
        self.codes = np.array([self.categories.index(n) if n is not None else -1 for n in names], np.int32)


def test_confusionmat_mathworks_example():
    # https://mathworks.com/help/stats/confusionmat.html: g1 = [3 2 2 3 1 1]', g2 = [4 2 3 NaN 1 1]'.
    g1, g2 = np.array([3, 2, 2, 3, 1, 1]), np.array([4, 2, 3, np.nan, 1, 1])
    C, order = confusionmat(g1, g2, nargout=2)
    np.testing.assert_array_equal(C, [[2, 0, 0, 0], [0, 1, 1, 0], [0, 0, 0, 1], [0, 0, 0, 0]])
    np.testing.assert_array_equal(order, [1, 2, 3, 4])
    # 'Order', [4 3 2 1], counted by hand: rows and columns reversed.
    np.testing.assert_array_equal(confusionmat(g1, g2, "Order", [4, 3, 2, 1]),
                                  [[0, 0, 0, 0], [1, 0, 0, 0], [0, 1, 1, 0], [0, 0, 0, 2]])
    assert isinstance(confusionmat(g1, g2), np.ndarray)  # C alone by default


def test_confusionmat_text_categorical_and_order():
    true = ["cat", "dog", "dog", "bird", "cat", "", "dog"]
    pred = ["cat", "cat", "dog", "bird", "bird", "dog", "dog"]
    # Text labels: MATLAB's order of first appearance in [group; grouphat]; '' is missing. Hand-counted.
    C, order = confusionmat(true, pred, nargout=2)
    assert order == ["cat", "dog", "bird"]
    np.testing.assert_array_equal(C, [[1, 0, 1], [1, 2, 0], [0, 0, 1]])
    C2 = confusionmat(true, pred, Order=["bird", "cat", "dog", "fish"])  # an extra group: a zero row and column
    np.testing.assert_array_equal(C2, [[1, 0, 0, 0], [1, 1, 0, 0], [0, 1, 2, 0], [0, 0, 0, 0]])
    # Both categorical: the categories' order (unused categories included), undefined not counted.
    cats = ["all", "hem", "other"]
    t = _Cat(["hem", "all", "all", None, "hem"], cats)
    p = _Cat(["hem", "hem", "all", "all", "all"], cats)
    C3, order3 = confusionmat(t, p, nargout=2)
    assert order3 == cats
    np.testing.assert_array_equal(C3, [[1, 1, 0], [1, 1, 0], [0, 0, 0]])
    with pytest.raises(ConfigError, match="^confusionmat: group and grouphat must have the same number"):
        confusionmat([1, 2], [1])
    with pytest.raises(ConfigError, match="^confusionmat: Order must contain every group"):
        confusionmat(true, pred, "Order", ["cat", "dog"])
    with pytest.raises(ConfigError, match="^confusionmat: group and grouphat must be of the same type"):
        confusionmat([1, 2], ["a", "b"])


# ----------------------------------------------------------------------------------------------- confusionchart

def _texts(fig):
    return [t.get_text() for ax in fig.axes for t in ax.texts]


def test_confusionchart_saves_png_and_pdf_with_cell_texts(tmp_path):
    true = ["all"] * 6 + ["hem"] * 4
    pred = ["all"] * 5 + ["hem"] * 3 + ["all"]
    pred = pred + ["hem"]
    cm = confusionchart(true, pred, "Title", "Test set", RowSummary="row-normalized",
                        ColumnSummary="column-normalized")
    assert isinstance(cm, ConfusionMatrixChart)
    assert cm.ClassLabels == ["all", "hem"] and cm.Title == "Test set"
    np.testing.assert_array_equal(cm.NormalizedValues, [[5, 1], [1, 3]])  # hand-counted
    texts = _texts(cm.figure)
    for t in ("5", "1", "3", "83.3%", "16.7%", "75.0%", "25.0%"):
        assert t in texts
    cm.savefig(tmp_path / "cm.png")
    saveas(cm, tmp_path / "cm.pdf")
    saveas(cm.figure, tmp_path / "cm", "svg")
    assert (tmp_path / "cm.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / "cm.pdf").read_bytes()[:4] == b"%PDF"
    assert b"<svg" in (tmp_path / "cm.svg").read_bytes()[:400]
    with pytest.raises(ConfigError, match="^saveas: MATLAB .fig"):
        saveas(cm, tmp_path / "cm.fig")


def test_confusionchart_matrix_form_normalization_and_sort():
    m = np.array([[1, 3, 5], [2, 4, 6], [11, 7, 3]])  # the ConfusionMatrixChart properties page's example
    cm = confusionchart(m)
    assert cm.ClassLabels == [1, 2, 3]
    cm = confusionchart(m, ["a", "b", "c"], Normalization="row-normalized")
    np.testing.assert_allclose(cm.NormalizedValues, m / m.sum(axis=1, keepdims=True))
    assert "11.1%" in _texts(cm.figure)  # 1 / 9
    cm.Normalization = "total-normalized"
    np.testing.assert_allclose(cm.NormalizedValues, m / 42)
    cm.Title = "My Confusion Matrix Title"
    assert cm.figure.axes[0].get_title() == "My Confusion Matrix Title"
    cm.Normalization = "absolute"
    sortClasses(cm, "descending-diagonal")  # diagonal 1, 4, 3 -> b (4), c (3), a (1)
    assert cm.ClassLabels == ["b", "c", "a"]
    np.testing.assert_array_equal(cm.NormalizedValues, [[4, 6, 2], [7, 3, 11], [3, 5, 1]])
    sortClasses(cm, ["a", "b", "c"])
    np.testing.assert_array_equal(cm.NormalizedValues, m)
    with pytest.raises(ConfigError, match="^sortClasses: 'cluster'"):
        sortClasses(cm, "cluster")
    with pytest.raises(ConfigError, match="^confusionchart: NormalizedValues is read-only"):
        cm.NormalizedValues = m
    with pytest.raises(ConfigError, match="^confusionchart: RowSummary must be one of"):
        confusionchart(m, "RowSummary", "column-normalized")
    with pytest.raises(DataError, match="^confusionchart: a confusion matrix must hold non-negative integer"):
        confusionchart(np.array([[0.5, 0.5], [0.1, 0.9]]))


def test_confusionchart_goes_into_the_current_figure_and_subplot_as_matlabs(tmp_path):
    """MATLAB draws a chart made without a parent into the current figure (MathWorks' confusionchart page:
    ``confusionchart(parent, ___)`` names another one), in the place of the current axes where a subplot made one,
    and xlabel / ylabel / title then act on the chart (ConfusionMatrixChart Properties: XLabel, YLabel, Title).
    A port of ``figure(2); subplot(2,2,1); cm = confusionchart(...); xlabel('Predicted'); print -depsc f.eps``
    drew the chart in a figure of its own and left figure 2 with one empty axes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    true, pred = ["a", "b", "b", "a"], ["a", "b", "a", "a"]
    fig = plt.figure(2)
    placeholder = plt.subplot(2, 2, 1)
    cell = placeholder.get_position()
    cm = confusionchart(true, pred)
    assert cm.figure is fig and placeholder not in fig.axes
    chart_axes = plt.gca()
    box = chart_axes.get_position()
    assert cell.x0 - 1e-9 <= box.x0 and box.x1 <= cell.x1 + 1e-9 and cell.y0 - 1e-9 <= box.y0 <= box.y1 <= cell.y1 + 1e-9
    plt.xlabel("Predicted")
    plt.ylabel("True")
    assert chart_axes.get_xlabel() == "Predicted" and chart_axes.get_ylabel() == "True"
    other = plt.subplot(2, 2, 2)
    other.plot([0, 1], [1, 0])
    cm2 = confusionchart(true, pred, RowSummary="row-normalized")  # replaces the second subplot, keeps the first
    assert cm2.figure is fig and other not in fig.axes and chart_axes in fig.axes
    cm2.Title = "second"  # a redraw replaces only this chart's axes
    assert chart_axes in fig.axes and sum(a.get_title() == "second" for a in fig.axes) == 1
    fig.savefig(tmp_path / "f.png")
    # a figure without axes: the chart takes all of it; no figure open: a new pyplot figure, the current one
    # a chart made where a chart is (a loop saving one a fold) replaces all of it, summaries included
    again = confusionchart(true, pred, RowSummary="row-normalized", ColumnSummary="column-normalized")
    assert again.figure is fig and cm2._axes[0] not in fig.axes and all(a in fig.axes for a in again._axes)
    assert len(fig.axes) == 3 + 1  # the new chart's three axes and the first chart's one
    empty = plt.figure(3)
    assert confusionchart(true, pred).figure is empty
    progress = plt.figure("Training Progress")  # trainNetwork's window is never drawn over (MATLAB's is not current)
    assert confusionchart(true, pred).figure is not progress
    plt.close("all")
    cm3 = confusionchart(true, pred)
    assert plt.get_fignums() and cm3.figure is plt.gcf()


def test_plotconfusion_is_confusionchart_laid_out_as_plotconfusion():
    """MathWorks' plotconfusion page: rows are the Output (predicted) Class, columns the Target (true) Class, with
    per-row precision and per-column recall summaries; for categorical labels it recommends confusionchart, which
    leuknet draws so laid out. Targets and outputs also as K x N one-hot matrices (a column per observation)."""
    import matplotlib

    matplotlib.use("Agg")
    from leuknet.matlab import categorical, plotconfusion

    t = categorical(["a", "a", "b", "b", "b"])
    o = categorical(["a", "b", "b", "b", "a"])
    fig = plotconfusion(t, o.T, "Test")  # YPred' as scripts write it
    main = fig.axes[0]
    assert main.get_xlabel() == "Target Class" and main.get_ylabel() == "Output Class"
    assert main.get_title() == "Test Confusion Matrix" and len(fig.axes) == 3  # matrix, row and column summaries
    cells = {t_.get_position(): t_.get_text() for t_ in main.texts}
    # counts transposed: row = output, column = target; output a: 1 target a, 1 target b
    assert cells[(0, 0)] == "1" and cells[(1, 0)] == "1" and cells[(0, 1)] == "1" and cells[(1, 1)] == "2"
    one_hot = plotconfusion(np.eye(2)[:, [0, 0, 1, 1, 1]], np.eye(2)[:, [0, 1, 1, 1, 0]])
    assert {t_.get_text() for t_ in one_hot.axes[0].texts} == set(cells.values())
    with pytest.raises(DataError, match="^plotconfusion: 5 targets and 4 outputs"):
        plotconfusion(t, o[0:4])


def test_perfcurve_roc_thresholds_auc_and_operating_point_as_matlabs():
    """MATLAB's perfcurve help: M distinct scores give M + 1 rows, T(1) repeating T(2) for 'reject all' (TP = FP =
    0), TP / FP counting scores >= each threshold in descending order; AUC by trapezoids, which for the ROC equals
    the Mann-Whitney probability P(score+ > score-) + P(=)/2 (computed here pair by pair, independently);
    OPTROCPT maximises TPR - (N/P) FPR (default costs)."""
    from leuknet.matlab import categorical, double, perfcurve

    labels, scores = np.array([1, 1, 0, 0, 1, 0]), np.array([0.9, 0.8, 0.7, 0.6, 0.55, 0.2])
    X, Y, T, AUC, OPT, SUBY, NAMES = perfcurve(labels, scores, 1, nargout=7)
    np.testing.assert_allclose(T, [0.9, 0.9, 0.8, 0.7, 0.6, 0.55, 0.2])
    np.testing.assert_allclose(X, np.array([0, 0, 0, 1, 2, 2, 3]) / 3)  # hand-counted false positives
    np.testing.assert_allclose(Y, np.array([0, 1, 2, 2, 2, 3, 3]) / 3)
    assert AUC == pytest.approx(7 / 9) and OPT.tolist() == pytest.approx([0, 2 / 3])
    np.testing.assert_array_equal(SUBY[:, 0], Y)
    assert NAMES == ["0"]
    rng = np.random.default_rng(4)
    y = rng.integers(0, 3, 200)  # class 2 positive; 0 and 1 negative
    sc = np.round(rng.normal(y == 2, 1.0), 1)  # rounded: ties
    X, Y, T, AUC = perfcurve(y, sc, 2, nargout=4)
    p, n = sc[y == 2], sc[y != 2]
    mw = np.mean([(a > b) + 0.5 * (a == b) for a in p for b in n])
    assert AUC == pytest.approx(mw, abs=1e-12)
    for x_, y_, t in zip(X[1:], Y[1:], T[1:]):  # every threshold counted by brute force
        assert x_ == pytest.approx(np.mean(n >= t)) and y_ == pytest.approx(np.mean(p >= t))
    # categorical labels, double(YTest) as scripts pass them, NegClass, other criteria
    c = categorical(["all", "hem", "all", "hem"])
    assert perfcurve(c, [0.9, 0.2, 0.6, 0.7], "all", nargout=4)[3] == 0.75
    assert perfcurve(double(c), [0.9, 0.2, 0.6, 0.7], 1, nargout=4)[3] == 0.75
    X, Y = perfcurve(y, sc, 2, "NegClass", [0], nargout=2)
    assert X[-1] == 1 and Y[-1] == 1 and len(X) == len(np.unique(sc[y != 1])) + 1
    Xr, Yp, _, auc_pr = perfcurve(y, sc, 2, "XCrit", "reca", "YCrit", "prec", nargout=4)
    assert np.isnan(Yp[0]) and np.isfinite(auc_pr)  # precision at 'reject all' is 0/0, left out of the area
    with pytest.raises(DataError, match="^perfcurve: no positive observation with a score"):
        perfcurve(y, np.where(y == 2, np.nan, sc), 2)
    with pytest.raises(DataError, match="^perfcurve: the positive class 5 is not among the labels"):
        perfcurve(y, sc, 5)
    with pytest.raises(ConfigError, match="^perfcurve: XCrit must be one of"):
        perfcurve(y, sc, 2, XCrit="ecost")
    with pytest.raises(ConfigError, match="perfcurve: unknown name-value option.*'NBoot'"):
        perfcurve(y, sc, 2, "NBoot", 100)
