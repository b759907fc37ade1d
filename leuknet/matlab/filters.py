"""MATLAB's image filters, noise, colour jitter and crops that augmentation scripts call: ``imgaussfilt``,
``imnoise``, ``jitterColorHSV``, ``fspecial``, ``imfilter``, ``imcrop``, ``centerCropWindow2d``,
``randomCropWindow2d`` (fspecial and imfilter: the sources in their docstrings).

Sources (MathWorks):
- imgaussfilt: https://mathworks.com/help//releases/R2021a/images/ref/imgaussfilt.html. Standard deviation 0.5 by
  default (a scalar, or [sigma_rows sigma_cols]); 'FilterSize' 2*ceil(2*sigma)+1 by default (odd); 'Padding'
  'replicate' by default, 'symmetric', 'circular' or a number; each plane of an array filtered alone; the class
  kept (integers rounded half away from zero and saturated).
- imnoise: https://mathworks.com/help//releases/R2021a/images/ref/imnoise.html. On the image's values in [0, 1]
  (im2double; floats clipped to [0, 1] first) and back to its class: 'gaussian' (mean 0, variance 0.01 by
  default), 'salt & pepper' (density 0.05: about d * numel(I) pixels set to 0 or 1, half each), 'speckle'
  (J = I + n * I, n uniform with mean 0 and variance 0.05), 'poisson' (uint8 and uint16 values as photon counts;
  double values scaled by 1e12, single by 1e6). Draws from MATLAB's global stream (``rng``).
- imcrop: https://www.mathworks.com/help/images/ref/imcrop.html with MathWorks' imcrop.m: ``rect`` = [xmin ymin
  width height] in pixel coordinates; the rows round(ymin) : round(ymin + height) and the columns likewise (so an
  integer width w gives w + 1 columns), clipped to the image; an images.spatialref.Rectangle (a crop window) gives
  its limits' rows and columns.
- centerCropWindow2d / randomCropWindow2d: https://www.mathworks.com/help/images/ref/centercropwindow2d.html,
  https://www.mathworks.com/help/images/ref/randomcropwindow2d.html, with MathWorks' sources: the window starts at
  1 + ceil((inputSize - targetSize) / 2), or at randi(inputSize - targetSize + 1) per dimension (from the global
  stream); ``XLimits``/``YLimits`` are 1-based and inclusive, as MATLAB's.

Not provided: 'localvar' noise, the 'FilterDomain' choice (leuknet always filters in the spatial domain, which
MATLAB's 'auto' may not), interactive imcrop.
"""

from __future__ import annotations

import math

import numpy as np

from leuknet.errors import ConfigError
from leuknet.matlab.conventions import choice, number, parse, shown
from leuknet.matlab.images import _array, _back_to_class, _cast_like, _check_class, _round_half_away, im2double
from leuknet.spec.randstream import generator

__all__ = ["imgaussfilt", "imnoise", "jitterColorHSV", "fspecial", "imfilter", "imcrop", "centerCropWindow2d",
           "randomCropWindow2d", "Rectangle"]


def _pair(fn, name, value, odd=False):
    v = np.ravel(np.asarray(value, np.float64)) if not isinstance(value, str) else np.zeros(0)
    if v.size not in (1, 2) or not np.all(np.isfinite(v)) or np.any(v <= 0) or (
            odd and np.any((v % 2 != 1))):
        what = "positive odd integers" if odd else "positive numbers"
        raise ConfigError(f"{fn}: {name} must be one or two {what}, received {shown(value)}")
    return (float(v[0]), float(v[-1]))


_BOUNDARY = {"replicate": "edge", "symmetric": "symmetric", "circular": "wrap"}  # MATLAB's name: np.pad's


def _boundary(fn, name, value):
    """MATLAB's boundary option ('replicate', 'symmetric', 'circular' or a number X) as (np.pad mode, X)."""
    if isinstance(value, str):
        return _BOUNDARY[choice(fn, name, value, tuple(_BOUNDARY))], 0.0
    return "constant", number(fn, name, value)


def _correlate(x, k, full, mode, value):
    """Every plane of ``x`` (H x W x ...) correlated with the 2-D kernel ``k``, padded by ``mode`` / ``value``:
    'same' size with the kernel's centre at floor((size + 1) / 2) (MATLAB's), or the full correlation."""
    (m, n), (cr, cc) = k.shape, ((k.shape[0] + 1) // 2 - 1, (k.shape[1] + 1) // 2 - 1)
    pads = [(m - 1, m - 1), (n - 1, n - 1)] if full else [(cr, m - 1 - cr), (cc, n - 1 - cc)]
    pads += [(0, 0)] * (x.ndim - 2)
    padded = np.pad(x, pads, mode="constant", constant_values=value) if mode == "constant" else np.pad(x, pads, mode)
    return np.einsum("ij...kl,kl->ij...", np.lib.stride_tricks.sliding_window_view(padded, k.shape, axis=(0, 1)), k)


def imgaussfilt(A, sigma=0.5, *args, **kwargs):
    """``B = imgaussfilt(A[, sigma], 'FilterSize', n, 'Padding', 'replicate' | 'symmetric' | 'circular' | v)``:
    a 2-D Gaussian smoothing of every plane (see the module's docstring)."""
    fn = "imgaussfilt"
    a = _array(fn, A)
    _check_class(fn, a, ("single", "double", "int8", "int16", "int32", "uint8", "uint16", "uint32"))
    shape = a.shape
    a = a.reshape(1, -1) if a.ndim == 1 else a  # a 1-D array is a row vector
    sy, sx = _pair(fn, "sigma", sigma)
    _, _, o = parse(fn, args, kwargs, {"FilterSize": None, "Padding": "replicate", "FilterDomain": "auto"},
                    max_positional=0)
    size = o["FilterSize"]
    hy, hx = (2 * math.ceil(2 * sy) + 1, 2 * math.ceil(2 * sx) + 1) if size is None else (
        int(v) for v in _pair(fn, "FilterSize", size, odd=True))
    mode, value = _boundary(fn, "Padding", o["Padding"])
    choice(fn, "FilterDomain", o["FilterDomain"], ("auto", "spatial", "frequency"))

    def kernel(n, s):
        x = np.arange(n, dtype=np.float64) - (n - 1) / 2
        k = np.exp(-(x ** 2) / (2 * s * s))
        return k / k.sum()

    out = _correlate(a.astype(np.float64), kernel(hy, sy)[:, None], False, mode, value)  # separable: rows, then
    out = _correlate(out, kernel(hx, sx)[None, :], False, mode, value)  # columns
    return _cast_like(out, a).reshape(shape)


def imnoise(I, noise_type, *params):
    """``J = imnoise(I, 'gaussian'[, m[, var]])``, ``imnoise(I, 'salt & pepper'[, d])``, ``imnoise(I,
    'speckle'[, var])``, ``imnoise(I, 'poisson')`` (see the module's docstring)."""
    fn = "imnoise"
    a = _array(fn, I)
    _check_class(fn, a, ("single", "double", "int16", "uint8", "uint16"))
    kind = choice(fn, "the noise type", noise_type, ("gaussian", "salt & pepper", "speckle", "poisson", "localvar"))
    if kind == "localvar":
        raise ConfigError(f"{fn}: 'localvar' noise is not provided by leuknet; use 'gaussian', 'salt & pepper', "
                          "'speckle' or 'poisson'")
    defaults = {"gaussian": (0.0, 0.01), "salt & pepper": (0.05,), "speckle": (0.05,), "poisson": ()}[kind]
    if len(params) > len(defaults):
        raise ConfigError(f"{fn}: '{kind}' takes at most {len(defaults)} parameter(s), received {len(params)}")
    p = [number(fn, f"the '{kind}' parameter", v) for v in params] + list(defaults[len(params):])
    rng = generator()
    if kind == "poisson":
        if a.dtype in (np.uint8, np.uint16):  # the values are photon counts
            return _cast_like(rng.poisson(a.astype(np.float64)).astype(np.float64), a)
        if a.dtype.kind == "f":  # means scaled up by 1e12 (double) or 1e6 (single)
            scale = 1e6 if a.dtype == np.float32 else 1e12
            return _cast_like(rng.poisson(np.clip(a.astype(np.float64), 0, 1) * scale) / scale, a)
        raise ConfigError(f"{fn}: 'poisson' noise needs a uint8, uint16, single or double image, received {a.dtype}")
    x = np.clip(np.asarray(im2double(a), np.float64), 0.0, 1.0)
    if kind == "gaussian":
        if p[1] < 0:
            raise ConfigError(f"{fn}: the variance must be non-negative, received {p[1]}")
        y = x + math.sqrt(p[1]) * rng.standard_normal(x.shape) + p[0]
    elif kind == "salt & pepper":
        if not 0 <= p[0] <= 1:
            raise ConfigError(f"{fn}: the noise density must be in [0, 1], received {p[0]}")
        u = rng.random(x.shape)
        y = x.copy()
        y[u < p[0] / 2] = 0.0
        y[(u >= p[0] / 2) & (u < p[0])] = 1.0
    else:
        if p[0] < 0:
            raise ConfigError(f"{fn}: the variance must be non-negative, received {p[0]}")
        y = x + math.sqrt(12 * p[0]) * x * (rng.random(x.shape) - 0.5)
    return _back_to_class(np.clip(y, 0.0, 1.0), a)


# --------------------------------------------------------------------------------------------- fspecial / imfilter

def _hsize(fn, v):
    a = np.ravel(np.asarray(v, np.float64)) if not isinstance(v, str) else np.zeros(0)
    if a.size not in (1, 2) or np.any(a < 1) or np.any(a != np.round(a)):
        raise ConfigError(f"{fn}: hsize must be one or two positive integers, received {shown(v)}")
    return int(a[0]), int(a[-1])


def fspecial(filter_type, *params):
    """MATLAB's ``h = fspecial(type, ...)`` (https://www.mathworks.com/help/images/ref/fspecial.html), a
    correlation kernel for imfilter: 'average' (hsize, default [3 3]), 'gaussian' (hsize [3 3], sigma 0.5;
    normalised exp(-(x^2 + y^2) / (2 sigma^2))), 'laplacian' (alpha 0.2: 4/(alpha+1) [alpha/4 (1-alpha)/4 alpha/4;
    (1-alpha)/4 -1 (1-alpha)/4; alpha/4 (1-alpha)/4 alpha/4]), 'unsharp' (alpha 0.2: 1/(alpha+1) [-alpha alpha-1
    -alpha; alpha-1 alpha+5 alpha-1; -alpha alpha-1 -alpha]), 'sobel' and 'prewitt' (horizontal edges). 'disk',
    'log' and 'motion' are refused."""
    fn = "fspecial"
    kind = choice(fn, "the filter type", filter_type, ("average", "gaussian", "laplacian", "unsharp", "sobel",
                                                        "prewitt", "disk", "log", "motion"))
    if kind in ("disk", "log", "motion"):
        raise ConfigError(f"{fn}: the '{kind}' filter is not provided by leuknet; 'average', 'gaussian', "
                          "'laplacian', 'unsharp', 'sobel' and 'prewitt' are")
    limit = {"average": 1, "gaussian": 2, "laplacian": 1, "unsharp": 1}.get(kind, 0)
    if len(params) > limit:
        raise ConfigError(f"{fn}: '{kind}' takes at most {limit} parameter(s), received {len(params)}")
    if kind == "average":
        r, c = _hsize(fn, params[0]) if params else (3, 3)
        return np.full((r, c), 1.0 / (r * c))
    if kind == "gaussian":
        r, c = _hsize(fn, params[0]) if params else (3, 3)
        sigma = number(fn, "sigma", params[1], low=0, low_open=True) if len(params) > 1 else 0.5
        y, x = np.meshgrid(np.arange(r) - (r - 1) / 2, np.arange(c) - (c - 1) / 2, indexing="ij")
        h = np.exp(-(x * x + y * y) / (2 * sigma * sigma))
        h[h < np.finfo(np.float64).eps * h.max()] = 0
        return h / h.sum()
    if kind in ("laplacian", "unsharp"):
        a = number(fn, "alpha", params[0], low=0, high=1) if params else 0.2
        if kind == "laplacian":
            return 4 / (a + 1) * np.array([[a / 4, (1 - a) / 4, a / 4], [(1 - a) / 4, -1, (1 - a) / 4],
                                           [a / 4, (1 - a) / 4, a / 4]])
        return 1 / (a + 1) * np.array([[-a, a - 1, -a], [a - 1, a + 5, a - 1], [-a, a - 1, -a]])
    edge = 2.0 if kind == "sobel" else 1.0
    return np.array([[1.0, edge, 1.0], [0.0, 0.0, 0.0], [-1.0, -edge, -1.0]])


def imfilter(A, h, *options):
    """MATLAB's ``B = imfilter(A, h[, boundary][, 'same' | 'full'][, 'corr' | 'conv']``
    (https://www.mathworks.com/help/images/ref/imfilter.html): correlation by default, the kernel's centre at
    floor((size(h) + 1) / 2), boundary 0 by default (a number X, 'symmetric', 'replicate', 'circular'), the output
    the size of A ('same') or of the full correlation ('full'); each plane filtered alone; the class kept (integers
    rounded half away from zero and saturated)."""
    fn = "imfilter"
    a = _array(fn, A)
    _check_class(fn, a, ("single", "double", "int8", "int16", "int32", "uint8", "uint16", "uint32", "logical"))
    k = np.asarray(h, np.float64)
    if k.ndim == 1:
        k = k.reshape(1, -1)
    if k.ndim != 2 or k.size == 0 or not np.all(np.isfinite(k)):
        raise ConfigError(f"{fn}: h must be a finite 2-D filter (fspecial gives one), received shape {np.shape(h)}")
    mode, value, size, op = "constant", 0.0, "same", "corr"
    for o in options:
        v = choice(fn, "the option", o, (*_BOUNDARY, "same", "full", "corr", "conv")) if isinstance(o, str) else o
        if v in ("same", "full"):
            size = v
        elif v in ("corr", "conv"):
            op = v
        else:
            mode, value = _boundary(fn, "the boundary", v)
    if op == "conv":
        k = k[::-1, ::-1]
    x = (a.reshape(1, -1) if a.ndim == 1 else a).astype(np.float64)
    out = _cast_like(_correlate(x, k, size == "full", mode, value), a)  # logical: true where nonzero
    return out.reshape(a.shape) if size == "same" and a.ndim == 1 else out


# --------------------------------------------------------------------------------------------- colour jitter

def _jitter_range(fn, name, value, contrast=False):
    """A scalar as MATLAB's range ([-v v], or [max(0, 1-v) 1+v] for Contrast) or a [min max] range."""
    v = np.ravel(np.asarray(value, np.float64)) if not isinstance(value, (str, bool)) else np.zeros(0)
    lo, hi = (0.0, None) if contrast else (0.0, 1.0)
    if v.size == 1 and np.isfinite(v[0]) and v[0] >= lo and (hi is None or v[0] <= hi):
        return (max(0.0, 1 - v[0]), 1 + v[0]) if contrast else (-v[0], v[0])
    if v.size == 2 and np.all(np.isfinite(v)) and v[1] >= v[0] and (
            (contrast and v[0] > 0) or (not contrast and v[0] >= -1 and v[1] <= 1)):
        return float(v[0]), float(v[1])
    what = "a non-negative number or a positive [min max] range" if contrast else \
        "a number in [0, 1] or a [min max] range in [-1, 1]"
    raise ConfigError(f"{fn}: {name} must be {what}, received {shown(value)}")


def jitterColorHSV(A, *args, **kwargs):
    """``B = jitterColorHSV(A, 'Contrast', c, 'Hue', h, 'Saturation', s, 'Brightness', b)`` (MathWorks'
    jitterColorHSV.m, https://www.mathworks.com/help/images/ref/jittercolorhsv.html): in HSV, a random offset added
    to the hue (wrapping), the saturation and the brightness (clipped to [0, 1]), the brightness then scaled about
    its mean by a random contrast factor; each option given draws once from the global stream, in that order (Hue,
    Saturation, Brightness, Contrast); the class kept."""
    from leuknet.matlab.images import hsv2rgb, rgb2hsv

    fn = "jitterColorHSV"
    a = _array(fn, A)
    if a.ndim != 3 or a.shape[2] != 3 or a.dtype not in (np.uint8, np.uint16, np.float32, np.float64):
        raise ConfigError(f"{fn}: expected an M x N x 3 RGB image of class uint8, uint16, single or double, "
                          f"received {a.dtype} of shape {a.shape}")
    _, _, o = parse(fn, args, kwargs, {"Hue": None, "Saturation": None, "Brightness": None, "Contrast": None},
                    max_positional=0)
    ranges = {k: _jitter_range(fn, k, v, contrast=k == "Contrast") for k, v in o.items() if v is not None}
    rng = generator()
    hsv = np.asarray(rgb2hsv(a), np.float64).copy()
    for k, (lo, hi) in ranges.items():
        x = float(rng.random()) * (hi - lo) + lo
        if k == "Hue":
            hsv[:, :, 0] = np.mod(hsv[:, :, 0] + x, 1.0)
        elif k == "Saturation":
            hsv[:, :, 1] = np.clip(hsv[:, :, 1] + x, 0.0, 1.0)
        elif k == "Brightness":
            hsv[:, :, 2] = np.clip(hsv[:, :, 2] + x, 0.0, 1.0)
        else:
            m = hsv[:, :, 2].mean()
            hsv[:, :, 2] = np.clip((hsv[:, :, 2] - m) * x + m, 0.0, 1.0)
    return _back_to_class(np.asarray(hsv2rgb(hsv), np.float64), a)


# --------------------------------------------------------------------------------------------- crops

class Rectangle:
    """MATLAB's ``images.spatialref.Rectangle``: a crop window with 1-based, inclusive ``XLimits`` (columns) and
    ``YLimits`` (rows)."""

    def __init__(self, x_limits, y_limits):
        self.XLimits = np.asarray(x_limits, np.float64)
        self.YLimits = np.asarray(y_limits, np.float64)

    def __repr__(self):
        return (f"  Rectangle with properties:\n\n    XLimits: [{self.XLimits[0]:g} {self.XLimits[1]:g}]\n"
                f"    YLimits: [{self.YLimits[0]:g} {self.YLimits[1]:g}]\n")


def _sizes(fn, inputSize, targetSize):
    def two(name, v):
        s = np.ravel(np.asarray(v, np.float64)) if not isinstance(v, str) else np.zeros(0)
        s = s[:2] if s.size == 3 else s
        if s.size != 2 or not np.all(s == np.round(s)) or np.any(s < 1):
            raise ConfigError(f"{fn}: {name} must be [rows cols] (or [rows cols channels]) of positive integers, "
                              f"received {shown(v)}")
        return s.astype(np.int64)

    inp, tgt = two("inputSize", inputSize), two("targetSize", targetSize)
    if np.any(tgt > inp):
        raise ConfigError(f"{fn}: the target size {tgt.tolist()} is larger than the input size {inp.tolist()}")
    return inp, tgt


def centerCropWindow2d(inputSize, targetSize):
    """The centred window of ``targetSize`` in an image of ``inputSize`` (an odd difference rounded up)."""
    inp, tgt = _sizes("centerCropWindow2d", inputSize, targetSize)
    start = 1 + np.ceil((inp - tgt) / 2).astype(np.int64)
    return Rectangle([start[1], start[1] + tgt[1] - 1], [start[0], start[0] + tgt[0] - 1])


def randomCropWindow2d(inputSize, targetSize):
    """A window of ``targetSize`` at a random position (MATLAB's randi per dimension, from the global stream)."""
    inp, tgt = _sizes("randomCropWindow2d", inputSize, targetSize)
    rng = generator()
    start = [int(rng.integers(1, m + 1)) for m in (inp - tgt + 1)]
    return Rectangle([start[1], start[1] + tgt[1] - 1], [start[0], start[0] + tgt[0] - 1])


def imcrop(I, rect):
    """``J = imcrop(I, [xmin ymin width height])`` or ``imcrop(I, win)`` with a crop window (see the module's
    docstring); an empty array where the rectangle misses the image."""
    fn = "imcrop"
    a = _array(fn, I)
    a = a.reshape(1, -1) if a.ndim == 1 else a  # a 1-D array is a row vector
    m, n = a.shape[:2]
    if isinstance(rect, Rectangle):
        x0, x1 = rect.XLimits
        y0, y1 = rect.YLimits
        rect = [x0, y0, x1 - x0, y1 - y0]
    r = np.ravel(np.asarray(rect, np.float64)) if not isinstance(rect, str) else np.zeros(0)
    if r.size != 4 or not np.all(np.isfinite(r)):
        raise ConfigError(f"{fn}: rect must be [xmin ymin width height], received {shown(rect)}")
    r1, c1, r2, c2 = (int(v) for v in _round_half_away(np.array([r[1], r[0], r[1] + r[3], r[0] + r[2]])))
    if r1 > m or r2 < 1 or c1 > n or c2 < 1:
        return a[:0, :0]
    r1, r2, c1, c2 = max(r1, 1), min(r2, m), max(c1, 1), min(c2, n)
    return a[r1 - 1:r2, c1 - 1:c2].copy()
