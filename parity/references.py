"""Independent reference implementations shared by the fixture generators and the tests (no side effects)."""

import math

import numpy as np


def imresize_bilinear(img, out_size):
    img = np.asarray(img, np.float64)
    for axis, n_out in ((0, out_size[0]), (1, out_size[1])):
        n_in = img.shape[axis]
        scale = n_out / n_in
        width = 2.0 / scale if scale < 1 else 2.0
        x = np.arange(1, n_out + 1)
        u = x / scale + 0.5 * (1 - 1 / scale)
        left = np.floor(u - width / 2)
        p = int(np.ceil(width)) + 2
        idx = left[:, None] + np.arange(p)[None, :] - 1
        d = u[:, None] - idx - 1
        w = scale * np.maximum(0, 1 - np.abs(scale * d)) if scale < 1 else np.maximum(0, 1 - np.abs(d))
        w = w / w.sum(1, keepdims=True)
        aux = np.concatenate([np.arange(n_in), np.arange(n_in)[::-1]])
        idx = aux[np.mod(idx.astype(int), 2 * n_in)]
        img = np.moveaxis(np.einsum("op,op...->o...", w, np.moveaxis(img, axis, 0)[idx]), 0, axis)
    return np.clip(np.floor(img + 0.5), 0, 255)  # uint8 output: rounded and saturated


def _keys_cubic(t):
    """Keys (1981) cubic convolution kernel with a = -0.5, written out piece by piece."""
    a = -0.5
    t = abs(t)
    if t <= 1:
        return (a + 2) * t ** 3 - (a + 3) * t ** 2 + 1
    if t < 2:
        return a * t ** 3 - 5 * a * t ** 2 + 8 * a * t - 4 * a
    return 0.0


def _reflect(i, n):
    """0-based index i mirrored into [0, n) with the edge pixel repeated (symmetric padding)."""
    period = 2 * n
    i = i % period
    return i if i < n else period - 1 - i


def _resize_1d_loop(signal, n_out, antialias=True):
    """Per-output-pixel loop: sample position by aligned pixel centres, Keys kernel widened by 1/scale when
    shrinking with antialiasing, weights normalised, mirrored borders."""
    n_in = len(signal)
    scale = n_out / n_in
    stretch = 1 / scale if (scale < 1 and antialias) else 1.0
    out = np.zeros(n_out)
    for k in range(n_out):
        centre = (k + 0.5) / scale - 0.5  # 0-based input coordinate of output pixel k's centre
        lo, hi = math.floor(centre - 2 * stretch) - 1, math.ceil(centre + 2 * stretch) + 1
        acc = wsum = 0.0
        for j in range(lo, hi + 1):
            w = _keys_cubic((centre - j) / stretch)
            acc += w * signal[_reflect(j, n_in)]
            wsum += w
        out[k] = acc / wsum
    return out


def imresize_bicubic(img, out_size, antialias=True):
    """MATLAB's ``imresize(img, out_size)`` (bicubic, antialiasing when shrinking) of a 2-D array, in float64, one
    output pixel at a time."""
    img = np.asarray(img, np.float64)
    rows = np.stack([_resize_1d_loop(img[:, c], out_size[0], antialias) for c in range(img.shape[1])], axis=1)
    return np.stack([_resize_1d_loop(rows[r], out_size[1], antialias) for r in range(out_size[0])], axis=0)
