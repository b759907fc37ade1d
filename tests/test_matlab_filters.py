"""MATLAB's imgaussfilt, imnoise, imcrop and crop windows against references leuknet does not compute: SciPy's
gaussian_filter (the same kernel, truncated at MATLAB's default size), the noise models' documented statistics,
and MathWorks' imcrop / centerCropWindow2d arithmetic."""

import math

import numpy as np
import pytest
from scipy import ndimage

from leuknet.errors import ConfigError
from leuknet.matlab import (centerCropWindow2d, imcrop, imgaussfilt, imnoise, randomCropWindow2d, rng)


def test_imgaussfilt_matches_scipy_with_matlabs_size_and_padding():
    img = np.random.default_rng(0).random((23, 31, 3)) * 255
    for sigma in (0.5, 1.3, 2.0):
        r = math.ceil(2 * sigma)  # FilterSize 2*ceil(2*sigma)+1
        np.testing.assert_allclose(imgaussfilt(img, sigma),
                                   ndimage.gaussian_filter(img, (sigma, sigma, 0), mode="nearest", radius=(r, r, 0)),
                                   atol=1e-9)
    for padding, mode in (("symmetric", "reflect"), ("circular", "wrap")):
        np.testing.assert_allclose(imgaussfilt(img, 1.5, "Padding", padding),
                                   ndimage.gaussian_filter(img, (1.5, 1.5, 0), mode=mode, radius=(3, 3, 0)), atol=1e-9)
    np.testing.assert_allclose(imgaussfilt(img, [1.0, 2.5], "FilterSize", [5, 9], "Padding", 7),
                               ndimage.gaussian_filter(img, (1.0, 2.5, 0), mode="constant", cval=7, radius=(2, 4, 0)),
                               atol=1e-9)
    u8 = img.astype(np.uint8)
    out = imgaussfilt(u8, 1.0)
    ref = ndimage.gaussian_filter(u8.astype(np.float64), (1, 1, 0), mode="nearest", radius=(2, 2, 0))
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out, np.floor(ref + 0.5).astype(np.uint8))
    with pytest.raises(ConfigError, match="odd"):
        imgaussfilt(img, 1, "FilterSize", 4)
    with pytest.raises(ConfigError, match="^imgaussfilt: .*logical"):
        imgaussfilt(img > 100, 1)
    row = np.arange(9.0) ** 2  # a 1-D array is a row vector (1 x N)
    np.testing.assert_allclose(imgaussfilt(row, 1), ndimage.gaussian_filter1d(row, 1, mode="nearest", radius=2))


def test_imnoise_statistics_class_and_stream():
    grey = np.full((300, 400), 0.5)
    rng(3)
    sp = imnoise(grey, "salt & pepper", 0.1)
    n = grey.size
    for frac in ((sp == 0).mean(), (sp == 1).mean()):  # half of d each, binomial
        assert abs(frac - 0.05) < 5 * math.sqrt(0.05 * 0.95 / n)
    assert ((sp == 0.5) | (sp == 0) | (sp == 1)).all()
    g = imnoise(grey, "gaussian", 0.1, 0.004) - grey
    assert abs(g.mean() - 0.1) < 5 * math.sqrt(0.004 / n) and abs(g.var() / 0.004 - 1) < 0.03
    sk = (imnoise(grey, "speckle") - grey) / grey  # J = I + n I, n uniform, mean 0, variance 0.05
    assert abs(sk.mean()) < 0.005 and abs(sk.var() / 0.05 - 1) < 0.03 and np.abs(sk).max() <= math.sqrt(0.15)
    u8 = np.full((300, 400), 128, np.uint8)
    noisy = imnoise(u8, "gaussian")
    assert noisy.dtype == np.uint8 and abs(noisy.astype(float).std() / 255 - 0.1) < 0.005
    p = imnoise(u8, "poisson")  # the values are photon counts: mean and variance 128
    assert abs(p.mean() - 128) < 0.2 and abs(p.astype(float).var() / 128 - 1) < 0.03
    rng(9)
    a = imnoise(u8, "salt & pepper")
    rng(9)
    np.testing.assert_array_equal(a, imnoise(u8, "salt & pepper"))  # MATLAB's global stream
    # single: the Poisson means scaled by 1e6 (double: 1e12): a standard deviation of sqrt(x / 1e6)
    ps = imnoise(np.full((200, 200), 0.5, np.float32), "poisson")
    assert ps.dtype == np.float32 and abs(ps.std() / math.sqrt(0.5 / 1e6) - 1) < 0.05
    with pytest.raises(ConfigError, match="localvar"):
        imnoise(grey, "localvar", grey)
    with pytest.raises(ConfigError, match="^imnoise: .*int32"):
        imnoise(np.zeros((4, 4), np.int32), "gaussian")


def test_imcrop_and_crop_windows_follow_mathworks_arithmetic():
    a = np.arange(10 * 12).reshape(10, 12)
    # imcrop.m: rows round(ymin):round(ymin+height), columns likewise (1-based, inclusive)
    np.testing.assert_array_equal(imcrop(a, [2, 3, 4, 2]), a[2:5, 1:6])
    np.testing.assert_array_equal(imcrop(a, [10.6, 8.4, 5, 5]), a[7:10, 10:12])  # clipped to the image
    assert imcrop(a, [20, 20, 2, 2]).size == 0
    w = centerCropWindow2d([10, 12, 3], [4, 5])  # centerCropWindow2d.m: start 1 + ceil((input - target) / 2)
    assert w.XLimits.tolist() == [5, 9] and w.YLimits.tolist() == [4, 7]
    odd = centerCropWindow2d([7, 9], [4, 4])  # odd differences: ceil, so 3..6 and 4..7 (1-based)
    assert odd.YLimits.tolist() == [3, 6] and odd.XLimits.tolist() == [4, 7]
    np.testing.assert_array_equal(imcrop(np.arange(10), [2, 1, 3, 0]), [[1, 2, 3, 4]])  # a 1-D array is a row
    np.testing.assert_array_equal(imcrop(a, w), a[3:7, 4:9])
    rng(1)
    starts = set()
    for _ in range(400):
        win = randomCropWindow2d([6, 7], [4, 4])
        crop = imcrop(a[:6, :7], win)
        assert crop.shape == (4, 4)
        starts.add((int(win.YLimits[0]), int(win.XLimits[0])))
    assert starts == {(r, c) for r in (1, 2, 3) for c in (1, 2, 3, 4)}  # every position, none outside
    with pytest.raises(ConfigError, match="larger"):
        centerCropWindow2d([4, 4], [5, 4])


def test_jitter_color_hsv_is_mathworks_adjustments_in_opencv_hsv():
    """jitterColorHSV.m: one draw per option given (Hue, Saturation, Brightness, Contrast in that order); hue offset
    wrapping, saturation and brightness offsets clipped, contrast about the mean brightness. The HSV conversions of
    the reference are OpenCV's (float32)."""
    import cv2

    from leuknet.matlab import jitterColorHSV

    img = np.random.default_rng(5).random((12, 14, 3))
    rng(4)
    out = jitterColorHSV(img, "Contrast", 0.4, "Hue", 0.1, "Saturation", 0.2, "Brightness", [-0.3, 0.1])
    u = np.random.default_rng(4).random(4)  # the global stream after rng(4)
    hue, sat, bri, con = -0.1 + 0.2 * u[0], -0.2 + 0.4 * u[1], -0.3 + 0.4 * u[2], 0.6 + 0.8 * u[3]
    hsv = cv2.cvtColor(img.astype(np.float32), cv2.COLOR_RGB2HSV_FULL).astype(np.float64)
    h, s, v = hsv[..., 0] / 360.0, hsv[..., 1], hsv[..., 2]
    h, s, v = np.mod(h + hue, 1.0), np.clip(s + sat, 0, 1), np.clip(v + bri, 0, 1)
    v = np.clip((v - v.mean()) * con + v.mean(), 0, 1)
    ref = cv2.cvtColor(np.stack([h * 360.0, s, v], -1).astype(np.float32), cv2.COLOR_HSV2RGB_FULL)
    np.testing.assert_allclose(out, ref, atol=2e-5)
    u8 = (img * 255).astype(np.uint8)
    assert jitterColorHSV(u8, "Hue", 0.05).dtype == np.uint8
    with pytest.raises(ConfigError, match="Hue"):
        jitterColorHSV(img, "Hue", 1.5)


def test_fspecial_values_and_imfilter_against_scipy():
    """fspecial('gaussian', 5, 1.5) and fspecial('gaussian', 5) as MATLAB prints them (4 decimals); imfilter's
    correlation, zero boundary and 'same' size against SciPy's correlate; the kernel's centre at
    floor((size+1)/2), worked by hand for a 2 x 2 kernel."""
    from leuknet.matlab import fspecial, imfilter

    np.testing.assert_allclose(fspecial("gaussian", 5, 1.5)[0], [0.0144, 0.0281, 0.0351, 0.0281, 0.0144], atol=5e-5)
    np.testing.assert_allclose(fspecial("gaussian", 5, 1.5)[2, 2], 0.0853, atol=5e-5)
    np.testing.assert_allclose(fspecial("gaussian", 5)[2], [0.0002, 0.0837, 0.6187, 0.0837, 0.0002], atol=5e-5)
    np.testing.assert_allclose(fspecial("average"), np.full((3, 3), 1 / 9))
    a = 0.2  # the page's Laplacian and unsharp formulas at the default alpha
    np.testing.assert_allclose(fspecial("laplacian"), 4 / (a + 1) * np.array(
        [[a / 4, (1 - a) / 4, a / 4], [(1 - a) / 4, -1, (1 - a) / 4], [a / 4, (1 - a) / 4, a / 4]]))
    assert fspecial("unsharp").sum() == pytest.approx(1.0) and fspecial("sobel")[0].tolist() == [1, 2, 1]
    img = np.random.default_rng(2).random((9, 11, 3)) * 255
    h = np.random.default_rng(3).random((3, 5))
    for options, mode, cval in (((), "constant", 0.0), (("replicate",), "nearest", 0.0),
                                (("symmetric",), "reflect", 0.0), (("circular",), "wrap", 0.0), ((7,), "constant", 7)):
        ref = np.stack([ndimage.correlate(img[:, :, c], h, mode=mode, cval=cval) for c in range(3)], -1)
        np.testing.assert_allclose(imfilter(img, h, *options), ref, atol=1e-9)
    conv = np.stack([ndimage.convolve(img[:, :, c], h, mode="constant") for c in range(3)], -1)
    np.testing.assert_allclose(imfilter(img, h, "conv"), conv, atol=1e-9)
    A = np.arange(20.0).reshape(4, 5)
    out = imfilter(A, [[1, 2], [3, 4]])  # centre (1, 1): A(i,j) + 2 A(i,j+1) + 3 A(i+1,j) + 4 A(i+1,j+1)
    assert out[0, 0] == 0 + 2 * 1 + 3 * 5 + 4 * 6 and out[3, 4] == 19
    assert imfilter(A, np.ones((3, 3)), "full").shape == (6, 7)
    u8 = imfilter(np.tile(np.arange(5, dtype=np.uint8) * 50, (4, 1)), fspecial("sobel").T)
    assert u8.dtype == np.uint8 and u8.max() == 255 and u8.min() == 0  # saturated, as MATLAB's class rules
    with pytest.raises(ConfigError, match="'disk'"):
        fspecial("disk", 5)
