"""MATLAB's image functions that training scripts call around ``trainNetwork``: ``imread``, ``imwrite``,
``imresize``, ``im2double``, ``im2single``, ``im2uint8``, ``im2uint16``, ``rgb2gray``, ``im2gray``, ``rgb2hsv``,
``hsv2rgb``, ``rgb2ycbcr``, ``ycbcr2rgb``.

Images are NumPy arrays in MATLAB's layout (H x W for grey, H x W x 3 for RGB, in RGB order, never OpenCV's BGR)
and keep MATLAB's classes: uint8 stays uint8, uint16 stays uint16, float64 is MATLAB's double, float32 its single,
bool its logical. Integer results are rounded half away from zero and saturated, as MATLAB converts to integer
classes.

Not provided: ``imshow``, ``figure``, ``subplot``, ``montage`` and other graphics. Graphics other than MATLAB's
deep-learning plots (``confusionchart``, training progress) are matplotlib's: ``plt.imshow(I)``,
``plt.figure()``, ``plt.subplot(1, 2, 1)`` (a grey image needs ``cmap="gray", vmin=0, vmax=255``).

Where leuknet differs from MATLAB (each said again where it is implemented):
- ``imread``: JPEG, PNG, BMP, TIFF (what OpenCV decodes) and palette PNGs (Pillow); no URLs, no multi-image
  index, no format-specific name-value options. A 4-channel file other than PNG also gives its alpha as the third
  output. An 8-bit BMP with a grey palette reads as a grey image with an empty map (MATLAB: the indices and the
  grey map, the same pixel values).
- ``imresize``: no indexed images (``imresize(X, map, ...)``), no ``'Colormap'``/``'Dither'``, no gpuArray.
- ``imwrite``: no indexed images, no ``'BitDepth'``, ``'Compression'``, ``'WriteMode'``; a grey image with
  ``'Alpha'`` is written as RGBA.
"""

from __future__ import annotations

import math
import os

import cv2
import numpy as np

from leuknet import colorspace as _cs
from leuknet.errors import ConfigError, DataError
from leuknet.matlab.conventions import boolean, choice, number, options_only, outputs, parse

__all__ = ["imcomplement", "imread", "imwrite", "imresize", "im2double", "im2single", "im2uint8", "im2uint16",
           "rgb2gray", "im2gray", "rgb2hsv", "hsv2rgb", "rgb2ycbcr", "ycbcr2rgb"]

_READ_EXTENSIONS = (".png", ".bmp", ".jpg", ".jpeg", ".jpe", ".tif", ".tiff")


# --------------------------------------------------------------------------------------------- helpers

def _array(fn, A, what="image"):
    """``A`` as a NumPy array of a numeric or logical class, or a one-line ConfigError."""
    if A is None:
        raise ConfigError(f"{fn}: expected a numeric or logical {what}, received None")
    a = np.asarray(A)
    if a.dtype == object or a.dtype.kind in "USV" or a.dtype.kind == "c":
        raise ConfigError(f"{fn}: expected a numeric or logical {what}, received {a.dtype} {type(A).__name__}")
    if a.size == 0:
        raise ConfigError(f"{fn}: expected a nonempty {what}, received shape {a.shape}")
    return a


def _round_half_away(x):
    return np.sign(x) * np.floor(np.abs(x) + 0.5)


def _to_integer_class(x, dtype):
    """MATLAB's conversion of doubles to an integer class: round half away from zero, saturate, NaN -> 0."""
    info = np.iinfo(dtype)
    x = np.nan_to_num(np.asarray(x, np.float64), nan=0.0, posinf=info.max, neginf=info.min)
    return np.clip(_round_half_away(x), info.min, info.max).astype(dtype)


def _check_class(fn, a, allowed):
    kinds = {"uint8": np.uint8, "uint16": np.uint16, "uint32": np.uint32, "int8": np.int8, "int16": np.int16,
             "int32": np.int32, "single": np.float32, "double": np.float64, "logical": np.bool_}
    if not any(a.dtype == kinds[k] for k in allowed):
        names = {np.dtype(v).name: k for k, v in kinds.items()}
        got = names.get(a.dtype.name, a.dtype.name)
        raise ConfigError(f"{fn}: expected an image of class {', '.join(allowed)}, received {got}")


# --------------------------------------------------------------------------------------------- class conversion
# im2double / im2single / im2uint8 / im2uint16: https://mathworks.com/help/matlab/ref/im2double.html,
# https://mathworks.com/help/images/ref/im2single.html, https://uk.mathworks.com/help/images/ref/im2uint8.html,
# https://mathworks.com/help/images/ref/im2uint16.html. uint8 / 255, uint16 / 65535, int16 (x + 32768) / 65535;
# floats in [0, 1] scale by 255 (65535) and round. im2uint8 of uint16 is round(x / 257): the page's example maps
# 32768 -> 128 and 13653 -> 53. (The im2single page says logical true becomes 65535; that is a copy of the
# im2uint16 text: like im2double, leuknet maps true to 1.)

def _im2float(fn, I, args, dtype):
    a = _array(fn, I)
    indexed = _indexed_flag(fn, args)
    _check_class(fn, a, ("uint8", "uint16", "int16", "single", "double", "logical"))
    if indexed:
        if a.dtype == np.int16:
            raise ConfigError(f"{fn}: an indexed image must be uint8, uint16, double or logical, received int16")
        # 'indexed': integer indices are 0-based, MATLAB's double indices 1-based: add 1 to integers.
        return a.astype(dtype) if a.dtype.kind == "f" else a.astype(dtype) + 1
    if a.dtype == np.uint8:
        return (a / 255.0).astype(dtype)
    if a.dtype == np.uint16:
        return (a / 65535.0).astype(dtype)
    if a.dtype == np.int16:
        return ((a.astype(np.float64) + 32768.0) / 65535.0).astype(dtype)
    return a.astype(dtype)


def _indexed_flag(fn, args):
    if not args:
        return False
    if len(args) == 1 and isinstance(args[0], str):
        choice(fn, "the second argument", args[0], ("indexed",))
        return True
    raise ConfigError(f"{fn}: expected (I) or (I, 'indexed'), received {len(args) + 1} arguments")


def im2double(I, *args):
    """MATLAB ``im2double(I)``: float64 in [0, 1] (uint8 / 255, uint16 / 65535, int16 offset, logical 0/1);
    ``im2double(X, 'indexed')`` adds 1 to integer indices."""
    return _im2float("im2double", I, args, np.float64)


def im2single(I, *args):
    """MATLAB ``im2single(I)``: as :func:`im2double`, as float32."""
    return _im2float("im2single", I, args, np.float32)


def im2uint8(I, *args):
    """MATLAB ``im2uint8(I)``: uint8 identical; uint16 round(x / 257); int16 round((x + 32768) / 257); logical
    true -> 255; floats (expected in [0, 1]) round(x * 255), saturated, NaN -> 0. ``im2uint8(X, 'indexed')``:
    1-based double indices minus 1."""
    fn = "im2uint8"
    a = _array(fn, I)
    indexed = _indexed_flag(fn, args)
    _check_class(fn, a, ("uint8", "uint16", "int16", "single", "double", "logical"))
    if indexed:
        if a.dtype.kind == "f":
            if np.nanmax(a) > 256 or np.nanmin(a) < 1:
                raise DataError(f"{fn}: double indices of an indexed uint8 image must lie in [1, 256]")
            return _to_integer_class(a - 1, np.uint8)
        if a.max() > 255:
            raise DataError(f"{fn}: an indexed image with indices above 255 does not fit in uint8")
        return a.astype(np.uint8)
    if a.dtype == np.uint8:
        return a.copy()
    if a.dtype == np.bool_:
        return a.astype(np.uint8) * np.uint8(255)
    if a.dtype == np.uint16:
        return _to_integer_class(a / 257.0, np.uint8)
    if a.dtype == np.int16:
        return _to_integer_class((a.astype(np.float64) + 32768.0) / 257.0, np.uint8)
    return _to_integer_class(np.clip(a.astype(np.float64), 0.0, 1.0) * 255.0, np.uint8)


def im2uint16(I):
    """MATLAB ``im2uint16(I)``: uint8 * 257; int16 + 32768; logical true -> 65535; floats round(x * 65535)."""
    fn = "im2uint16"
    a = _array(fn, I)
    _check_class(fn, a, ("uint8", "uint16", "int16", "single", "double", "logical"))
    if a.dtype == np.uint16:
        return a.copy()
    if a.dtype == np.bool_:
        return a.astype(np.uint16) * np.uint16(65535)
    if a.dtype == np.uint8:
        return a.astype(np.uint16) * np.uint16(257)
    if a.dtype == np.int16:
        return (a.astype(np.int32) + 32768).astype(np.uint16)
    return _to_integer_class(np.clip(a.astype(np.float64), 0.0, 1.0) * 65535.0, np.uint16)


def _back_to_class(x01, like):
    """Doubles in [0, 1] back to the class of ``like`` (uint8 / uint16 / int16 scaled and rounded; floats kept)."""
    if like.dtype == np.uint8:
        return _to_integer_class(x01 * 255.0, np.uint8)
    if like.dtype == np.uint16:
        return _to_integer_class(x01 * 65535.0, np.uint16)
    if like.dtype == np.int16:
        return _to_integer_class(x01 * 65535.0 - 32768.0, np.int16)
    return x01.astype(np.float32 if like.dtype == np.float32 else np.float64)


def _cast_like(values, like):
    """Doubles to the class of ``like`` without scaling, as MATLAB's ``cast(x, 'like', A)``: integers rounded half
    away from zero and saturated, logical true where nonzero, floats kept."""
    if like.dtype.kind in "ui":
        return _to_integer_class(values, like.dtype)
    if like.dtype == np.bool_:
        return values != 0
    return values.astype(like.dtype)


# --------------------------------------------------------------------------------------------- colour

_GRAY_WEIGHTS = np.array([0.298936021293775, 0.587043074451121, 0.114020904255103])


def _rgb_or_colormap(fn, RGB, classes=("uint8", "uint16", "single", "double")):
    """(array, is_colormap). An M x N x 3 image, or a c x 3 colormap of doubles in [0, 1] (MATLAB's two forms)."""
    a = _array(fn, RGB, "RGB image")
    if a.ndim == 3 and a.shape[2] == 3:
        _check_class(fn, a, classes)
        return a, False
    if a.ndim == 2 and a.shape[1] == 3:
        if a.dtype.kind != "f":
            raise ConfigError(f"{fn}: a c x 3 colormap must be double in [0, 1], received {a.dtype}")
        if np.nanmin(a) < 0 or np.nanmax(a) > 1:
            raise DataError(f"{fn}: colormap values must lie in [0, 1]")
        return a.astype(np.float64), True
    hint = " (a grey image? use im2gray, which returns it unchanged)" if a.ndim == 2 else ""
    raise ConfigError(f"{fn}: expected an M x N x 3 RGB image or a c x 3 colormap, received shape {a.shape}{hint}")


def rgb2gray(RGB):
    """MATLAB ``rgb2gray``: ``0.298936021293775 R + 0.587043074451121 G + 0.114020904255103 B`` in the input's
    class (uint8/uint16 rounded and saturated). A c x 3 colormap gives a c x 3 grey colormap.

    Weights: https://mathworks.com/help/matlab/ref/rgb2gray.html ("Algorithms"); the page does not say how integer
    results are rounded: leuknet rounds half away from zero, MATLAB's conversion to integer classes. Unlike MATLAB's
    ``rgb2gray`` (an error), a grey image is refused with a hint to ``im2gray``.
    """
    a, is_map = _rgb_or_colormap("rgb2gray", RGB)
    if is_map:
        g = a @ _GRAY_WEIGHTS
        return np.repeat(np.clip(g, 0, 1)[:, None], 3, axis=1)
    g = a.astype(np.float64) @ _GRAY_WEIGHTS
    if a.dtype.kind == "u":
        return _to_integer_class(g, a.dtype)
    return g.astype(a.dtype)


def im2gray(I):
    """MATLAB ``im2gray`` (https://mathworks.com/help//releases/R2021a/matlab/ref/im2gray.html): an RGB image as
    :func:`rgb2gray`; an M x N grey image returned unmodified."""
    a = _array("im2gray", I)
    if a.ndim == 2 or (a.ndim == 3 and a.shape[2] == 1):
        return a[..., 0].copy() if a.ndim == 3 else a.copy()
    if a.ndim == 3 and a.shape[2] == 3:
        return rgb2gray(a)
    raise ConfigError(f"im2gray: expected an M x N grey or M x N x 3 RGB image, received shape {a.shape}")


def rgb2hsv(RGB):
    """MATLAB ``rgb2hsv``: H, S, V in [0, 1] as double (single for single input); integer input is scaled to
    [0, 1] first (https://mathworks.com/help/matlab/ref/rgb2hsv.html). Works on images and c x 3 colormaps."""
    a, _ = _rgb_or_colormap("rgb2hsv", RGB)
    hsv = _cs.rgb2hsv(im2double(a))
    return hsv.astype(np.float32) if a.dtype == np.float32 else hsv


def hsv2rgb(HSV):
    """MATLAB ``hsv2rgb``: the inverse of :func:`rgb2hsv` (H, S, V in [0, 1]) by the standard hexcone formula
    (https://mathworks.com/help/matlab/ref/hsv2rgb.html); double out (single for single in). The page gives no
    formula: leuknet uses the six-sector form MATLAB's ``rgb2hsv`` inverts, with H = 1 the same as H = 0."""
    fn = "hsv2rgb"
    a = _array(fn, HSV, "HSV image")
    if not (a.shape[-1] == 3 and a.ndim in (2, 3)):
        raise ConfigError(f"{fn}: expected an M x N x 3 HSV image or a c x 3 HSV colormap, received {a.shape}")
    if a.dtype.kind != "f":
        raise ConfigError(f"{fn}: expected an HSV image of class double or single, received {a.dtype}")
    x = a.astype(np.float64)
    h, s, v = x[..., 0], x[..., 1], x[..., 2]
    h6 = 6.0 * h
    k = np.floor(h6)
    f = h6 - k
    k = np.mod(k, 6).astype(int)
    p, q, t = v * (1 - s), v * (1 - s * f), v * (1 - s * (1 - f))
    r = np.choose(k, [v, q, p, p, t, v])
    g = np.choose(k, [t, v, v, q, p, p])
    b = np.choose(k, [p, p, t, v, v, q])
    out = np.stack([r, g, b], axis=-1)
    return out.astype(np.float32) if a.dtype == np.float32 else out


def rgb2ycbcr(RGB):
    """MATLAB ``rgb2ycbcr`` (BT.601 studio swing; https://mathworks.com/help/images/ref/rgb2ycbcr.html): uint8
    in -> uint8 out (Y in [16, 235], Cb/Cr in [16, 240]), uint16 -> uint16 (the same levels times 257), double/
    single -> the uint8 levels divided by 255. Works on images and c x 3 colormaps."""
    a, _ = _rgb_or_colormap("rgb2ycbcr", RGB)
    if a.dtype == np.uint8:
        return _cs.rgb2ycbcr(a)
    ycc = _cs.rgb2ycbcr(im2double(a))  # float path: levels / 255
    if a.dtype == np.uint16:
        return _to_integer_class(ycc * 65535.0, np.uint16)
    return ycc.astype(np.float32) if a.dtype == np.float32 else ycc


_YCBCR_INV = np.linalg.inv(_cs._YCBCR_T)


def ycbcr2rgb(YCBCR):
    """MATLAB ``ycbcr2rgb`` (https://mathworks.com/help/images/ref/ycbcr2rgb.html): the inverse of
    :func:`rgb2ycbcr` in the same classes; RGB is clipped to [0, 1] (the page does not say so for double input:
    leuknet clips, as a user expects an RGB image in range) and integer output rounded and saturated."""
    fn = "ycbcr2rgb"
    a = _array(fn, YCBCR, "YCbCr image")
    if not (a.shape[-1] == 3 and a.ndim in (2, 3)):
        raise ConfigError(f"{fn}: expected an M x N x 3 YCbCr image or a c x 3 colormap, received {a.shape}")
    _check_class(fn, a, ("uint8", "uint16", "single", "double"))
    levels = im2double(a) * 255.0  # the uint8 levels (16..235 / 16..240) as doubles
    rgb01 = np.clip((levels - _cs._YCBCR_OFFSET) @ _YCBCR_INV.T, 0.0, 1.0)
    return _back_to_class(rgb01, a)


# --------------------------------------------------------------------------------------------- imresize
# https://mathworks.com/help//releases/R2021a/images/ref/imresize.html and https://uk.mathworks.com/help/matlab/ref/
# imresize.html: bicubic by default; antialiasing by default for every method but 'nearest' (it applies only when
# shrinking); a scale gives ceil(scale * size); [m NaN] / [NaN n] keeps the aspect ratio; only the first two
# dimensions are resized; the output has the input's class. The pages describe the kernels by name only; the
# algorithm below is the separable one MATLAB's imresize has used since R2007a: output pixel x (1-based) samples
# input position u = x / scale + 0.5 * (1 - 1 / scale) (pixel centres aligned), weights from the kernel
# (Keys' cubic with a = -0.5 for 'bicubic', the triangle for 'bilinear', a box for 'nearest', Lanczos 2 / 3) and,
# when shrinking with antialiasing, the kernel widened by 1 / scale and scaled by scale; weights normalised to sum
# 1; input indices beyond the border mirrored (symmetric padding; the pages do not say: this is what
# parity/references.py transcribes). The dimension with the smaller scale is resized first and, for integer
# classes, each pass is rounded and saturated to the class (MATLAB's resize kernel returns the input's class).

def _cubic(x):
    ax = np.abs(x)
    ax2, ax3 = ax * ax, ax * ax * ax
    return ((1.5 * ax3 - 2.5 * ax2 + 1) * (ax <= 1)
            + (-0.5 * ax3 + 2.5 * ax2 - 4 * ax + 2) * ((ax > 1) & (ax <= 2)))


def _triangle(x):
    return (x + 1) * ((x >= -1) & (x < 0)) + (1 - x) * ((x >= 0) & (x <= 1))


def _box(x):
    return ((x >= -0.5) & (x < 0.5)).astype(np.float64)


def _lanczos(n):
    def f(x):
        eps = np.finfo(np.float64).eps
        return (np.sin(np.pi * x) * np.sin(np.pi * x / n) + eps) / (np.pi ** 2 * x * x / n + eps) * (np.abs(x) < n)
    return f


_METHODS = {"nearest": (_box, 1.0), "bilinear": (_triangle, 2.0), "bicubic": (_cubic, 4.0), "box": (_box, 1.0),
            "triangle": (_triangle, 2.0), "cubic": (_cubic, 4.0), "lanczos2": (_lanczos(2), 4.0),
            "lanczos3": (_lanczos(3), 6.0)}


def _contributions(n_in, n_out, scale, kernel, width, antialiasing):
    """(weights, 0-based indices), each n_out x P: output pixel k = sum_p weights[k, p] * input[indices[k, p]]."""
    if scale < 1 and antialiasing:
        h = (lambda x: scale * kernel(scale * x))  # noqa: E731 - the widened, antialiasing kernel
        width = width / scale
    else:
        h = kernel
    x = np.arange(1, n_out + 1, dtype=np.float64)
    u = x / scale + 0.5 * (1 - 1 / scale)
    left = np.floor(u - width / 2)
    taps = int(math.ceil(width)) + 2
    idx = left[:, None] + np.arange(taps)[None, :]
    w = h(u[:, None] - idx)
    w = w / w.sum(axis=1, keepdims=True)
    mirror = np.concatenate([np.arange(n_in), np.arange(n_in)[::-1]])
    idx = mirror[np.mod(idx.astype(np.int64) - 1, 2 * n_in)]
    keep = np.any(w != 0, axis=0)
    return w[:, keep], idx[:, keep]


def _resize_along(a, axis, weights, indices):
    if weights.shape[1] == 1 and np.all(weights == 1):  # pure nearest neighbour: exact indexing
        return np.take(a, indices[:, 0], axis=axis)
    x = np.moveaxis(a, axis, 0)
    shape = (weights.shape[0],) + (1,) * (x.ndim - 1)
    out = np.zeros((weights.shape[0],) + x.shape[1:], np.float64)
    for p in range(weights.shape[1]):
        out += weights[:, p].reshape(shape) * x[indices[:, p]]
    out = np.moveaxis(out, 0, axis)
    if a.dtype.kind in "ui":
        return _to_integer_class(out, a.dtype)
    return out.astype(a.dtype)


def _size_and_scale(fn, shape, scale, size):
    """MATLAB's output size and per-dimension scale from a scale (scalar or [sr sc]) or a size [m n] (one NaN)."""
    if scale is not None:
        s = np.atleast_1d(np.asarray(scale, np.float64)).ravel()
        if s.size not in (1, 2) or not np.all(np.isfinite(s)) or np.any(s <= 0):
            raise ConfigError(f"{fn}: Scale must be a positive scalar or a [rows cols] pair, received {scale!r}")
        s = np.repeat(s, 2) if s.size == 1 else s
        return [int(math.ceil(s[0] * shape[0])), int(math.ceil(s[1] * shape[1]))], [float(s[0]), float(s[1])]
    m = np.asarray(size, np.float64).ravel()
    if m.size != 2 or np.any(m[~np.isnan(m)] <= 0) or np.any(np.isinf(m)):
        raise ConfigError(f"{fn}: the output size must be [numrows numcols] of positive numbers (one may be NaN), "
                          f"received {size!r}")
    if np.all(np.isnan(m)):
        raise ConfigError(f"{fn}: the output size [NaN NaN] leaves both dimensions undetermined")
    if np.isnan(m[0]) or np.isnan(m[1]):
        d = 0 if not np.isnan(m[0]) else 1  # the dimension given: the scale comes from it alone
        other = 1 - d
        m[other] = m[d] * shape[other] / shape[d]
        out = [int(math.ceil(v)) for v in m]
        s_d = out[d] / shape[d]
        return out, [s_d, s_d]
    out = [int(math.ceil(v)) for v in m]
    return out, [out[0] / shape[0], out[1] / shape[1]]


def imresize(A, *args, **kwargs):
    """MATLAB ``imresize(A, scale | [numrows numcols], method, Name=Value)``.

    ``method``: 'bicubic' (default), 'bilinear', 'nearest', 'box', 'triangle', 'cubic', 'lanczos2', 'lanczos3',
    or a ``(kernel, width)`` pair (MATLAB's ``{f, w}``). Options ``Scale``, ``OutputSize``, ``Method``,
    ``Antialiasing`` (default true except for 'nearest'). Grey, RGB or any H x W x ... array; uint8 in -> uint8 out
    (rounded, saturated), double in -> double; logical resized as uint8 0/255 and thresholded above 128, as MATLAB.
    Refused: indexed images ``imresize(X, map, ...)`` and the ``'Colormap'``/``'Dither'`` options (convert to RGB
    first), categorical images.
    """
    fn = "imresize"
    a = _array(fn, A)
    if a.ndim < 2:
        raise ConfigError(f"{fn}: expected an image of at least 2 dimensions, received shape {a.shape}")
    if args and isinstance(args[0], np.ndarray) and args[0].ndim == 2 and args[0].shape[1] == 3:
        raise ConfigError(f"{fn}: indexed images (imresize(X, map, ...)) are not supported: convert to RGB first")
    for bad in ("Colormap", "Dither"):
        if any(isinstance(x, str) and x.lower() == bad.lower() for x in args) or bad.lower() in map(str.lower,
                                                                                                    kwargs):
            raise ConfigError(f"{fn}: '{bad}' applies to indexed images, which leuknet does not resize")
    pos, flags, o = parse(fn, args, kwargs, {"Scale": None, "OutputSize": None, "Method": None,
                                             "Antialiasing": None}, flags=tuple(_METHODS))
    scale, size, method = o["Scale"], o["OutputSize"], o["Method"]
    kernel = None
    for p in pos:
        if isinstance(p, (tuple, list)) and len(p) == 2 and callable(p[0]):
            kernel = (p[0], number(fn, "the custom kernel width", p[1], low=0, low_open=True))
        elif isinstance(p, str):
            raise ConfigError(f"{fn}: unknown method or option {p!r}; methods: {', '.join(_METHODS)}; options: "
                              f"Scale, OutputSize, Method, Antialiasing")
        elif scale is None and size is None:
            v = np.asarray(p, dtype=np.float64) if not isinstance(p, (bool, np.bool_)) else None
            if v is None or v.size not in (1, 2):
                raise ConfigError(f"{fn}: the second argument must be a scale or [numrows numcols], received {p!r}")
            scale, size = (float(v.ravel()[0]), None) if v.size == 1 else (None, v)
        else:
            raise ConfigError(f"{fn}: unexpected argument {p!r} (a scale or an output size is already given)")
    if scale is not None and size is not None:
        raise ConfigError(f"{fn}: give either a scale or an output size, not both")
    if scale is None and size is None:
        raise ConfigError(f"{fn}: missing the scale or the output size [numrows numcols]")
    if len(flags) > 1 or (flags and method is not None) or (kernel is not None and (flags or method is not None)):
        raise ConfigError(f"{fn}: give the interpolation method once")
    if kernel is None:
        method = choice(fn, "Method", method, tuple(_METHODS)) if method is not None else (
            next(iter(flags)) if flags else "bicubic")
        kernel = _METHODS[method]
    aa = method != "nearest" if o["Antialiasing"] is None else boolean(fn, "Antialiasing", o["Antialiasing"])
    out_size, scales = _size_and_scale(fn, a.shape[:2], scale, size)
    if a.dtype.kind not in "uifb":
        raise ConfigError(f"{fn}: expected a numeric or logical image, received {a.dtype}")
    logical = a.dtype == np.bool_
    b = a.astype(np.uint8) * np.uint8(255) if logical else a
    contrib = [_contributions(a.shape[d], out_size[d], scales[d], kernel[0], kernel[1], aa) for d in (0, 1)]
    for d in sorted((0, 1), key=lambda d: scales[d]):  # smaller scale first; ties: rows first (a stable sort)
        b = _resize_along(b, d, *contrib[d])
    return b > 128 if logical else b


# --------------------------------------------------------------------------------------------- imread / imwrite
# imread: https://mathworks.com/help/matlab/ref/imread.html (grey -> m x n, truecolor -> m x n x 3, indexed -> X
# and map in [0, 1], [A, map, transparency]: the PNG alpha channel, empty when there is none; class from the
# file's bit depth: uint8, uint16, logical for 1-bit). JPEG EXIF orientation is not applied (MATLAB's default,
# AutoOrient false since R2024b): OpenCV's IMREAD_UNCHANGED does not apply it either.

def _png_header(data):
    """(bit depth, colour type) from a PNG's IHDR, or None if ``data`` is not a PNG."""
    if data[:8].tobytes() != b"\x89PNG\r\n\x1a\n" or data.size < 26:
        return None
    return int(data[24]), int(data[25])


def _read_palette_png(path):
    from PIL import Image

    with Image.open(path) as im:
        X = np.array(im)
        pal = np.array(im.getpalette() or [], np.float64).reshape(-1, 3)
    return X.astype(np.uint8), pal / 255.0


def imread(filename, *args, nargout=None):
    """MATLAB ``A = imread(filename)``, ``imread(filename, fmt)``, ``[A, map, alpha] = imread(..., nargout=3)``.

    Grey files give an H x W array, colour files H x W x 3 in RGB order, 8- or 16-bit as uint8 / uint16, 1-bit
    grey PNGs logical, palette PNGs the uint8 indices with ``map`` (c x 3 double in [0, 1]). An alpha channel is
    not part of ``A``: it is the third output (empty when the file has none). ``fmt`` ('png', 'jpg', ...) names
    the format when ``filename`` has no extension; as in MATLAB, ``filename.fmt`` is tried when ``filename`` does
    not exist. Refused: URLs, a multi-image index, format-specific name-value options.
    """
    fn = "imread"
    if not isinstance(filename, (str, os.PathLike)):
        raise ConfigError(f"{fn}: expected a file name, received {type(filename).__name__}")
    path = os.fsdecode(filename)
    if "://" in path:
        raise ConfigError(f"{fn}: reading from a URL is not supported (leuknet reads local files only): {path}")
    fmt = None
    if args:
        if len(args) > 1 or not isinstance(args[0], str):
            raise ConfigError(f"{fn}: expected (filename) or (filename, fmt); multi-image indices and "
                              f"name-value options are not supported, received {args!r:.80}")
        fmt = args[0].lower().lstrip(".")
    if not os.path.isfile(path) and fmt and os.path.isfile(f"{path}.{fmt}"):
        path = f"{path}.{fmt}"
    if not os.path.isfile(path):
        raise DataError(f"{fn}: file {path!r} does not exist")
    data = np.fromfile(path, dtype=np.uint8)
    if data.size == 0:
        raise DataError(f"{fn}: {path}: empty file")
    empty = np.zeros((0, 0))
    header = _png_header(data)
    if header is not None and header[1] == 3:  # palette PNG: indices and colormap, as MATLAB
        X, cmap = _read_palette_png(path)
        return outputs(fn, (X, cmap, empty), nargout)
    img = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    if img is None or img.size == 0:
        raise DataError(f"{fn}: {path}: not a readable image (corrupt, or a format OpenCV does not decode)")
    alpha = empty
    if img.ndim == 3 and img.shape[2] == 1:
        img = img[..., 0]
    if img.ndim == 3 and img.shape[2] == 4:
        alpha = img[..., 3].copy()
        img = img[..., :3]
        if header is not None and header[1] == 4:  # grey + alpha PNG: OpenCV expands it to BGRA
            img = img[..., 0].copy()
    if img.ndim == 3:
        img = np.ascontiguousarray(img[..., ::-1])  # BGR -> RGB
    if header is not None and header[0] == 1 and header[1] == 0:
        img = img > 0  # 1-bit grey PNG: MATLAB's logical
    return outputs(fn, (img, empty, alpha), nargout)


_WRITE_FORMATS = {"png": ".png", "bmp": ".bmp", "jpg": ".jpg", "jpeg": ".jpg", "tif": ".tif", "tiff": ".tif"}


def imwrite(A, filename, *args, **kwargs):
    """MATLAB ``imwrite(A, filename)``, ``imwrite(A, filename, fmt)``, with ``'Alpha'`` (PNG) and ``'Quality'``
    (JPEG, 0-100, default 75).

    https://mathworks.com/help/matlab/ref/imwrite.html: uint8 -> 8-bit; uint16 -> 16-bit where the format has it
    (PNG, TIFF; leuknet's JPEG encoder has no 16-bit: an error, as MATLAB gives for BMP); double/single are taken
    as [0, 1] and scaled by 255 to 8-bit; logical -> 1-bit (PNG, BMP, TIFF, written by Pillow). The format comes
    from ``fmt`` or the extension. Refused: indexed images (``imwrite(X, map, ...)``), 4-channel arrays (give the
    alpha with ``'Alpha'``), 'BitDepth', 'Compression', 'WriteMode' and other format options.
    """
    fn = "imwrite"
    if isinstance(filename, np.ndarray) or (not isinstance(filename, (str, os.PathLike))):
        raise ConfigError(f"{fn}: expected imwrite(A, filename, ...); indexed images imwrite(X, map, filename) "
                          f"are not supported, received {type(filename).__name__} as the file name")
    path = os.fsdecode(filename)
    fmt = None
    if args and isinstance(args[0], str) and args[0].lower().lstrip(".") in _WRITE_FORMATS:
        fmt, args = args[0].lower().lstrip("."), args[1:]
    o = options_only(fn, args, kwargs, {"Alpha": None, "Quality": 75})
    ext = os.path.splitext(path)[1].lower().lstrip(".")
    fmt = fmt or ext
    if fmt not in _WRITE_FORMATS:
        raise ConfigError(f"{fn}: cannot tell the format of {path!r}: give an extension or fmt, one of "
                          f"{', '.join(sorted(set(_WRITE_FORMATS)))}")
    fmt = _WRITE_FORMATS[fmt].lstrip(".")
    a = _array(fn, A)
    if not (a.ndim == 2 or (a.ndim == 3 and a.shape[2] in (1, 3))):
        raise ConfigError(f"{fn}: expected an M x N grey or M x N x 3 RGB image (alpha goes in 'Alpha'), "
                          f"received shape {a.shape}")
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[..., 0]
    quality = number(fn, "Quality", o["Quality"], low=0, high=100)
    if a.dtype == np.bool_:
        if o["Alpha"] is not None:
            raise ConfigError(f"{fn}: 'Alpha' cannot go with a logical (1-bit) image")
        if fmt == "jpg":
            a = a.astype(np.uint8) * np.uint8(255)
        else:
            return _write_pillow_1bit(fn, a, path, fmt)
    elif a.dtype.kind == "f":
        a = im2uint8(a)
    elif a.dtype == np.uint16:
        if fmt not in ("png", "tif"):
            raise ConfigError(f"{fn}: a uint16 image needs PNG or TIFF (16-bit), not {fmt.upper()}")
    elif a.dtype != np.uint8:
        raise ConfigError(f"{fn}: expected an image of class uint8, uint16, double, single or logical, "
                          f"received {a.dtype}")
    out = a if a.ndim == 2 else a[..., ::-1]
    if o["Alpha"] is not None:
        if fmt != "png":
            raise ConfigError(f"{fn}: 'Alpha' applies to PNG files only, not {fmt.upper()}")
        alpha = _array(fn, o["Alpha"], "alpha")
        if alpha.shape != a.shape[:2]:
            raise ConfigError(f"{fn}: 'Alpha' must be {a.shape[0]} x {a.shape[1]} like the image, received "
                              f"{alpha.shape}")
        alpha = im2uint16(alpha) if a.dtype == np.uint16 else im2uint8(alpha)
        bgr = np.repeat(out[..., None], 3, axis=2) if out.ndim == 2 else out
        out = np.concatenate([bgr, alpha[..., None]], axis=2)
    params = [cv2.IMWRITE_JPEG_QUALITY, int(round(quality))] if fmt == "jpg" else []
    ok, buf = cv2.imencode("." + fmt, np.ascontiguousarray(out), params)
    if not ok:
        raise DataError(f"{fn}: could not encode a {a.dtype} {a.shape} image as {fmt.upper()}")
    _write_bytes(fn, path, buf.tobytes())


def _write_pillow_1bit(fn, a, path, fmt):
    from PIL import Image

    try:
        Image.fromarray(np.ascontiguousarray(a)).convert("1").save(path, format={"tif": "TIFF"}.get(fmt, fmt.upper()))
    except OSError as e:
        raise DataError(f"{fn}: cannot write {path!r}: {e.strerror or e}") from None


def _write_bytes(fn, path, data):
    try:
        with open(path, "wb") as f:
            f.write(data)
    except OSError as e:
        raise DataError(f"{fn}: cannot write {path!r}: {e.strerror or e}") from None


def imcomplement(I):
    """``J = imcomplement(I)``: logical not; for integers max + min - I (255 - I for uint8, -1 - I for int8); 1 - I
    for floating point (https://www.mathworks.com/help/images/ref/imcomplement.html)."""
    a = np.asarray(I)
    if a.dtype.kind not in "buif":
        raise ConfigError(f"imcomplement: expected an image of numbers, received {a.dtype.name}")
    if a.dtype == bool:
        return ~a
    if a.dtype.kind == "u":
        return np.iinfo(a.dtype).max - a  # max + min - I, min 0
    if a.dtype.kind == "i":
        return -1 - a  # max + min = -1 for every signed class, with no overflow
    return (1 - a).astype(a.dtype)
