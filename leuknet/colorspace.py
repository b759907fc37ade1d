"""Colour spaces with MATLAB semantics, on H x W x 3 uint8 images (as images saved from MATLAB would be).

- ``hsv``:   ``im2uint8(rgb2hsv(I))``; H, S, V in [0, 1] scaled by 255 and rounded.
- ``ycbcr``: ``rgb2ycbcr(I)`` on uint8: ITU-R BT.601 studio swing, Y in [16, 235], Cb/Cr in [16, 240], rounded
  half away from zero and saturated.
- ``hcbcr``: channel 1 = H of the uint8 HSV image, channels 2-3 = Cb, Cr of the uint8 YCbCr image. (In MATLAB,
  ``cat(3, H_double, Cb_uint8, Cr_uint8)`` is uint8 and rounds H to 0 or 1; leuknet keeps H as im2uint8(H)
  instead, which is what a study that saved its HCbCr images as uint8 files gets.)

OpenCV's ``COLOR_RGB2YCrCb`` (full range, Y-Cr-Cb order) and 8-bit ``COLOR_RGB2HSV`` (H in [0, 180]) are not
these conversions.
"""

from __future__ import annotations

import numpy as np

SPACES = ("rgb", "hsv", "ycbcr", "hcbcr")

_YCBCR_T = np.array([[65.481, 128.553, 24.966], [-37.797, -74.203, 112.0], [112.0, -93.786, -18.214]])
_YCBCR_OFFSET = np.array([16.0, 128.0, 128.0])


def round_half_away(x):
    """MATLAB's ``round``: halves away from zero (NumPy's rounds them to even)."""
    return np.sign(x) * np.floor(np.abs(x) + 0.5)


def im2uint8(x: np.ndarray) -> np.ndarray:
    """MATLAB ``im2uint8`` for double images in [0, 1]: round(x * 255), saturated."""
    return np.clip(round_half_away(np.asarray(x, np.float64) * 255.0), 0, 255).astype(np.uint8)


def rgb2hsv(rgb: np.ndarray) -> np.ndarray:
    """MATLAB ``rgb2hsv``: float64 H, S, V in [0, 1] (uint8 input scaled to [0, 1] first)."""
    x = np.asarray(rgb)
    x = x.astype(np.float64) / 255.0 if x.dtype == np.uint8 else x.astype(np.float64)
    r, g, b = x[..., 0], x[..., 1], x[..., 2]
    v = x.max(axis=-1)
    delta = v - x.min(axis=-1)
    s = np.where(v > 0, delta / np.where(v > 0, v, 1.0), 0.0)
    safe = np.where(delta > 0, delta, 1.0)
    # MATLAB assigns r, then g, then b: where several channels tie for the maximum, the last assignment wins.
    h = np.where(v == b, 4.0 + (r - g) / safe, np.where(v == g, 2.0 + (b - r) / safe, (g - b) / safe))
    h = np.where(delta > 0, h, 0.0) / 6.0
    h = np.where(h < 0, h + 1.0, h)
    return np.stack([h, s, v], axis=-1)


def rgb2ycbcr(rgb: np.ndarray) -> np.ndarray:
    """MATLAB ``rgb2ycbcr``: uint8 in -> uint8 out (rounded, saturated); float in [0, 1] -> float (/255)."""
    x = np.asarray(rgb)
    is_uint8 = x.dtype == np.uint8
    x01 = x.astype(np.float64) / 255.0 if is_uint8 else x.astype(np.float64)
    ycc = x01 @ _YCBCR_T.T + _YCBCR_OFFSET
    if is_uint8:
        return np.clip(round_half_away(ycc), 0, 255).astype(np.uint8)
    return ycc / 255.0


def convert(rgb: np.ndarray, space: str) -> np.ndarray:
    """Convert an H x W x 3 uint8 RGB image to ``space`` (rgb, hsv, ycbcr, hcbcr), returning uint8."""
    if space not in SPACES:
        raise ValueError(f"unknown colour space {space!r}; choose one of {', '.join(SPACES)}")
    img = np.asarray(rgb)
    if img.dtype != np.uint8 or img.ndim != 3 or img.shape[-1] != 3:
        raise ValueError(f"convert expects an H x W x 3 uint8 image, received {img.dtype} {img.shape}")
    if space == "rgb":
        return img
    if space == "hsv":
        return im2uint8(rgb2hsv(img))
    if space == "ycbcr":
        return rgb2ycbcr(img)
    hsv = im2uint8(rgb2hsv(img))
    ycc = rgb2ycbcr(img)
    return np.concatenate([hsv[..., :1], ycc[..., 1:]], axis=-1)
