"""Colour conversions against MATLAB's published reference values and an independent float64 transcription."""

import colorsys

import numpy as np
import pytest

from leuknet.colorspace import convert, im2uint8, rgb2hsv, rgb2ycbcr

# rgb2ycbcr on uint8 (../shared/MATLAB.md reference values)
YCBCR = {(255, 0, 0): (81, 90, 240), (0, 255, 0): (145, 54, 34), (0, 0, 255): (41, 240, 110),
         (255, 255, 255): (235, 128, 128), (0, 0, 0): (16, 128, 128), (128, 128, 128): (126, 128, 128),
         (10, 200, 30): (122, 81, 57)}


@pytest.mark.parametrize("rgb,expected", list(YCBCR.items()))
def test_rgb2ycbcr_reference_values(rgb, expected):
    out = rgb2ycbcr(np.array([[rgb]], np.uint8))
    assert out.dtype == np.uint8 and tuple(out[0, 0]) == expected


def test_rgb2hsv_reference_values():
    hsv = rgb2hsv(np.array([[[10, 200, 30]]], np.uint8))[0, 0]
    np.testing.assert_allclose(hsv, [0.3509, 0.95, 0.7843], atol=1e-4)
    assert tuple(im2uint8(hsv)) == (89, 242, 200)


def test_hsv_matches_python_colorsys_on_random_and_edge_images():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (40, 40, 3)).astype(np.uint8)
    img[0, :8] = [[0, 0, 0], [255, 255, 255], [128, 128, 128], [255, 0, 0], [0, 255, 0], [0, 0, 255],
                  [255, 255, 0], [255, 0, 255]]
    ours = rgb2hsv(img)
    ref = np.array([[colorsys.rgb_to_hsv(*(px / 255.0)) for px in row] for row in img])
    np.testing.assert_allclose(ours, ref, atol=1e-12)
    expected = np.clip(np.floor(ref * 255 + 0.5), 0, 255).astype(np.uint8)
    diff = convert(img, "hsv").astype(int) - expected
    ties = np.abs((ref * 255) % 1 - 0.5) < 1e-9  # x.5 exactly: the last float bit decides the rounding
    assert np.all(diff[~ties] == 0) and np.all(np.abs(diff) <= 1)


def test_ycbcr_matches_float64_transcription_on_random_images():
    rng = np.random.default_rng(1)
    img = rng.integers(0, 256, (30, 30, 3)).astype(np.uint8)
    x = img.astype(np.float64) / 255
    y = 16 + 65.481 * x[..., 0] + 128.553 * x[..., 1] + 24.966 * x[..., 2]
    cb = 128 - 37.797 * x[..., 0] - 74.203 * x[..., 1] + 112.0 * x[..., 2]
    cr = 128 + 112.0 * x[..., 0] - 93.786 * x[..., 1] - 18.214 * x[..., 2]
    ref = np.clip(np.floor(np.stack([y, cb, cr], -1) + 0.5), 0, 255).astype(np.uint8)
    np.testing.assert_array_equal(convert(img, "ycbcr"), ref)
    np.testing.assert_allclose(rgb2ycbcr(x), np.stack([y, cb, cr], -1) / 255, atol=1e-12)  # double in: /255


def test_hcbcr_is_hue_of_hsv_with_chroma_of_ycbcr():
    img = np.random.default_rng(2).integers(0, 256, (9, 9, 3)).astype(np.uint8)
    out = convert(img, "hcbcr")
    np.testing.assert_array_equal(out[..., 0], convert(img, "hsv")[..., 0])
    np.testing.assert_array_equal(out[..., 1:], convert(img, "ycbcr")[..., 1:])
    np.testing.assert_array_equal(convert(img, "rgb"), img)
    with pytest.raises(ValueError, match="unknown colour space"):
        convert(img, "lab")
