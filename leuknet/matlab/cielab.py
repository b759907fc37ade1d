"""MATLAB's CIE 1976 L*a*b* conversions, which cell-segmentation scripts use to separate stained nuclei by colour:
``rgb2lab``, ``lab2rgb``, ``xyz2lab``, ``lab2xyz``, ``rgb2xyz``, ``xyz2rgb``, ``whitepoint``.

Sources: https://www.mathworks.com/help/images/ref/rgb2lab.html, .../lab2rgb.html, .../xyz2lab.html,
.../whitepoint.html. RGB is sRGB by default ('ColorSpace' 'srgb': IEC 61966-2-1's curve, linear below 0.04045),
'adobe-rgb-1998' (gamma 563/256) or 'linear-rgb'; the RGB-to-XYZ matrix is built from the colour space's
primaries and its D65 white, so that white maps to L* = 100, a* = b* = 0 as MATLAB prints it. A 'WhitePoint' other
than D65 adapts XYZ to it with the Bradford transform before L*a*b*. The CIE formulas use the exact constants
(epsilon = 216/24389, kappa = 24389/27). uint8 and uint16 input are scaled to [0, 1] first; the output is double
(single for single input); ``lab2rgb(..., 'OutputType', 'uint8')`` rounds and saturates as ``im2uint8``.

White points: MATLAB's whitepoint page lists D65 as [0.9504 1 1.0888]; its printed conversions
(``rgb2lab([1 1 1])`` = [100 0 0], ``xyz2lab([0.25 0.40 0.10])`` = [69.4695 -48.0439 57.1259]) need the
five-digit [0.95047 1 1.08883], which leuknet uses. The other illuminants are the page's values: MATLAB's printed
D50 examples then agree to 1e-3 (not to their last digit).

Checked against MathWorks' printed examples (rgb2lab of white, 'adobe-rgb-1998' and 'd50'; lab2rgb in srgb,
adobe, d50 and uint8; xyz2lab in d65 and d50) and against GNU Octave's image package on random images (within
5e-3: Octave normalises by the four-digit D65 white, so its white is not exactly a* = b* = 0).
Not provided: 'prophoto-rgb'.
"""

from __future__ import annotations

import numpy as np

from leuknet.errors import ConfigError
from leuknet.matlab.conventions import choice, options_only, shown

__all__ = ["rgb2lab", "lab2rgb", "xyz2lab", "lab2xyz", "rgb2xyz", "xyz2rgb", "whitepoint"]

_WHITE = {"d65": (0.95047, 1.0, 1.08883), "d50": (0.9642, 1.0, 0.8251), "d55": (0.9568, 1.0, 0.9214),
          "a": (1.0985, 1.0, 0.3558), "c": (0.9807, 1.0, 1.1822), "e": (1.0, 1.0, 1.0),
          "icc": (31595 / 32768, 1.0, 27030 / 32768)}
_PRIMARIES = {"srgb": ((0.64, 0.33), (0.30, 0.60), (0.15, 0.06)),
              "adobe-rgb-1998": ((0.64, 0.33), (0.21, 0.71), (0.15, 0.06)),
              "linear-rgb": ((0.64, 0.33), (0.30, 0.60), (0.15, 0.06))}
_BRADFORD = np.array([[0.8951, 0.2664, -0.1614], [-0.7502, 1.7135, 0.0367], [0.0389, -0.0685, 1.0296]])
_EPSILON, _KAPPA = 216 / 24389, 24389 / 27


def whitepoint(name="d65"):
    """``wp = whitepoint(name)``: the XYZ of a CIE illuminant (Y = 1), see the module's docstring."""
    return np.array(_WHITE[choice("whitepoint", "the illuminant", name, tuple(_WHITE))])


def _white(fn, value):
    if isinstance(value, str):
        return np.array(_WHITE[choice(fn, "WhitePoint", value, tuple(_WHITE))])
    w = np.ravel(np.asarray(value, np.float64))
    if w.size != 3 or not np.all(np.isfinite(w)) or np.any(w <= 0):
        raise ConfigError(f"{fn}: WhitePoint is an illuminant name or a 1 x 3 XYZ vector, received {shown(value)}")
    return w


def _colour_array(fn, A, what, integers=True):
    """The values as an array (a list of numbers as double); NumPy integer classes other than uint8 and uint16
    (for RGB; none for XYZ and L*a*b*) are refused, as MATLAB refuses them."""
    if isinstance(A, np.ndarray) and A.dtype.kind in "iub" and not (
            integers and A.dtype in (np.uint8, np.uint16)):
        allowed = "single, double, uint8 or uint16" if integers else "single or double"
        raise ConfigError(f"{fn}: {what} must be {allowed}, received {A.dtype.name}")
    a = np.asarray(A) if isinstance(A, np.ndarray) else np.asarray(A, np.float64)
    if a.dtype.kind not in "uif" or a.ndim < 2 or a.shape[-1 if a.ndim == 2 else 2] != 3:
        raise ConfigError(f"{fn}: expected {what} as a c x 3 colormap or an M x N x 3 image, received "
                          f"{a.dtype.name} of shape {list(a.shape)}")
    if a.ndim == 2:
        return a, -1
    return a, 2


def _as_float(a):
    if a.dtype == np.uint8:
        return a.astype(np.float64) / 255
    if a.dtype == np.uint16:
        return a.astype(np.float64) / 65535
    return a.astype(np.float64)


def _rgb_matrix(space):
    prims = np.array([[x / y, 1.0, (1 - x - y) / y] for x, y in _PRIMARIES[space]]).T
    return prims * np.linalg.solve(prims, np.array(_WHITE["d65"]))


def _linearise(v, space):
    if space == "srgb":
        return np.where(v <= 0.04045, v / 12.92, np.sign(v) * ((np.abs(v) + 0.055) / 1.055) ** 2.4)
    if space == "adobe-rgb-1998":
        return np.sign(v) * np.abs(v) ** (563 / 256)
    return v


def _encode(v, space):
    if space == "srgb":
        return np.where(v <= 0.0031308, 12.92 * v, np.sign(v) * (1.055 * np.abs(v) ** (1 / 2.4) - 0.055))
    if space == "adobe-rgb-1998":
        return np.sign(v) * np.abs(v) ** (256 / 563)
    return v


def _adapt(src, dst):
    """The Bradford chromatic adaptation from white ``src`` to white ``dst``."""
    s, d = _BRADFORD @ src, _BRADFORD @ dst
    return np.linalg.inv(_BRADFORD) @ np.diag(d / s) @ _BRADFORD


def _apply(matrix, a, axis):
    return np.moveaxis(np.tensordot(matrix, np.moveaxis(a, axis, 0), axes=1), 0, axis)


def _f(t):
    return np.where(t > _EPSILON, np.cbrt(t), (_KAPPA * t + 16) / 116)


def _f_inverse(t):
    return np.where(t > 6 / 29, t ** 3, (116 * t - 16) / _KAPPA)


def _xyz_to_lab(xyz, white, axis):
    t = np.moveaxis(xyz, axis, 0) / white.reshape((3,) + (1,) * (xyz.ndim - 1))
    fx, fy, fz = _f(t)
    return np.moveaxis(np.stack([116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)]), 0, axis)


def _lab_to_xyz(lab, white, axis):
    L, a, b = np.moveaxis(lab, axis, 0)
    fy = (L + 16) / 116
    f = np.stack([fy + a / 500, fy, fy - b / 200])
    return np.moveaxis(_f_inverse(f) * white.reshape((3,) + (1,) * (lab.ndim - 1)), 0, axis)


def _options(fn, args, kwargs, output_type=False):
    opts = {"ColorSpace": "srgb", "WhitePoint": "d65"}
    if output_type:
        opts["OutputType"] = None  # the input's floating class
    o = options_only(fn, args, kwargs, opts)
    if isinstance(o["ColorSpace"], str) and o["ColorSpace"].lower() == "prophoto-rgb":
        raise ConfigError(f"{fn}: 'prophoto-rgb' is not provided; ColorSpace is 'srgb', 'adobe-rgb-1998' or "
                          "'linear-rgb'")
    space = choice(fn, "ColorSpace", o["ColorSpace"], tuple(_PRIMARIES))
    out = [space, _white(fn, o["WhitePoint"])]
    if output_type:
        given = o["OutputType"]
        out.append(None if given is None else choice(fn, "OutputType", given, ("double", "single", "uint8", "uint16")))
    return out


def _result(x, like_single):
    return x.astype(np.float32) if like_single else x


def rgb2xyz(RGB, *args, **kwargs):
    """``xyz = rgb2xyz(RGB, 'ColorSpace', ..., 'WhitePoint', ...)``: linearised RGB through the colour space's
    matrix (and the Bradford adaptation to a white point other than D65)."""
    fn = "rgb2xyz"
    a, axis = _colour_array(fn, RGB, "RGB values")
    space, white = _options(fn, args, kwargs)
    return _result(_rgb_to_xyz(a, space, white, axis), a.dtype == np.float32)


def _rgb_to_xyz(a, space, white, axis):
    xyz = _apply(_rgb_matrix(space), _linearise(_as_float(a), space), axis)
    if not np.allclose(white, _WHITE["d65"]):
        xyz = _apply(_adapt(np.array(_WHITE["d65"]), white), xyz, axis)
    return xyz


def xyz2rgb(XYZ, *args, **kwargs):
    """``rgb = xyz2rgb(xyz, 'ColorSpace', ..., 'WhitePoint', ..., 'OutputType', ...)``: the inverse of rgb2xyz."""
    fn = "xyz2rgb"
    a, axis = _colour_array(fn, XYZ, "XYZ values", integers=False)
    space, white, out_type = _options(fn, args, kwargs, output_type=True)
    return _rgb_out(_xyz_to_rgb(a.astype(np.float64), space, white, axis), out_type, a.dtype == np.float32)


def _xyz_to_rgb(xyz, space, white, axis):
    if not np.allclose(white, _WHITE["d65"]):
        xyz = _apply(_adapt(white, np.array(_WHITE["d65"])), xyz, axis)
    return _encode(_apply(np.linalg.inv(_rgb_matrix(space)), xyz, axis), space)


def _rgb_out(rgb, out_type, single):
    """The output class: OutputType where given, else the input's (single stays single)."""
    if out_type in ("uint8", "uint16"):
        top = 255 if out_type == "uint8" else 65535
        return np.floor(np.clip(rgb, 0, 1) * top + 0.5).astype(out_type)
    return rgb.astype(np.float32) if (out_type == "single" or (out_type is None and single)) else rgb


def xyz2lab(XYZ, *args, **kwargs):
    """``lab = xyz2lab(xyz, 'WhitePoint', wp)``: CIE 1976 L*a*b* relative to the white point (D65 by default)."""
    fn = "xyz2lab"
    a, axis = _colour_array(fn, XYZ, "XYZ values", integers=False)
    o = options_only(fn, args, kwargs, {"WhitePoint": "d65"})
    return _result(_xyz_to_lab(a.astype(np.float64), _white(fn, o["WhitePoint"]), axis), a.dtype == np.float32)


def lab2xyz(lab, *args, **kwargs):
    """``xyz = lab2xyz(lab, 'WhitePoint', wp)``: the inverse of xyz2lab."""
    fn = "lab2xyz"
    a, axis = _colour_array(fn, lab, "L*a*b* values", integers=False)
    o = options_only(fn, args, kwargs, {"WhitePoint": "d65"})
    return _result(_lab_to_xyz(a.astype(np.float64), _white(fn, o["WhitePoint"]), axis), a.dtype == np.float32)


def rgb2lab(RGB, *args, **kwargs):
    """``lab = rgb2lab(RGB, 'ColorSpace', ..., 'WhitePoint', ...)``: see the module's docstring."""
    fn = "rgb2lab"
    a, axis = _colour_array(fn, RGB, "RGB values")
    space, white = _options(fn, args, kwargs)
    return _result(_xyz_to_lab(_rgb_to_xyz(a, space, white, axis), white, axis), a.dtype == np.float32)


def lab2rgb(lab, *args, **kwargs):
    """``rgb = lab2rgb(lab, 'ColorSpace', ..., 'WhitePoint', ..., 'OutputType', ...)``: see the module's
    docstring (values outside [0, 1] are kept for 'double' and 'single', as MATLAB's)."""
    fn = "lab2rgb"
    a, axis = _colour_array(fn, lab, "L*a*b* values", integers=False)
    space, white, out_type = _options(fn, args, kwargs, output_type=True)
    xyz = _lab_to_xyz(a.astype(np.float64), white, axis)
    return _rgb_out(_xyz_to_rgb(xyz, space, white, axis), out_type, a.dtype == np.float32)
