"""MATLAB's geometric transforms of images, as augmentation scripts call them around ``trainNetwork``:
``randomAffine2d``, ``affineOutputView``, ``imwarp``, ``imref2d``, ``affine2d`` / ``affinetform2d``,
``imrotate``, ``flip``, ``fliplr``, ``flipud``.

    tform = randomAffine2d("Rotation", [-10, 10], "XReflection", True, "XTranslation", [-5, 5])
    outputView = affineOutputView(size(img), tform)
    img = imwarp(img, tform, "OutputView", outputView)

Sources (MathWorks; the pages, and MathWorks' own ``.m`` files where a page is silent):
- randomAffine2d: https://www.mathworks.com/help//releases/R2021a/images/ref/randomaffine2d.html and
  https://www.mathworks.com/help/images/ref/randomaffine2d.html. Each numeric range is one uniform draw from the
  global stream (``rand*diff(r) + r(1)``, a draw even for the identity defaults), a reflection a draw only when
  enabled (``rand > 0.5``), in MathWorks' order XShear, YShear, Rotation, XReflection, YReflection, Scale,
  XTranslation, YTranslation; the matrix is, in MATLAB's row-vector form ``[x y 1] = [u v 1] * T``,
  ``T = [Sh*R*F*S, 0; tx ty 1]`` (shear first, then rotation, reflection, isotropic scale, translation), about the
  world origin, with ``Sh = [1 tand(YShear); tand(XShear) 1]``, ``R = [cosd(a) -sind(a); sind(a) cosd(a)]``.
  R2021a returns an ``affine2d`` (``T``), R2022b on an ``affinetform2d`` (``A = T'``): the object here has both.
- affineOutputView: https://www.mathworks.com/help/images/ref/affineoutputview.html. 'CenterOutput' (the default):
  the input's size, centred on the input's bounding box moved by the linear part alone, so rotation, shear,
  reflection and scale act about the image centre and the translation moves the content; 'FollowOutput': the
  whole transformed image (imwarp's default view); 'SameAsInput': the input's own frame.
- imref2d: https://www.mathworks.com/help/images/ref/imref2d.html (pixel centres at intrinsic 1..n, default world
  limits [0.5, n + 0.5]).
- imwarp: https://www.mathworks.com/help/images/ref/imwarp.html. Inverse mapping of every output pixel centre;
  'linear' (the default) or 'nearest'; ``FillValues`` (default 0; one per channel allowed) for points outside the
  image; ``SmoothEdges`` (default false) pads the image with the fill value so the border blends with it; without
  it a point outside the pixel centres' range [1, n] is the fill value, with no blending (``interp2``'s rule); the
  default output view holds the whole transformed image (``outputLimits`` of a 3 x 3 grid of the input's limits,
  snapped outwards to whole pixels about its centre). The output keeps the input's class (integers rounded half
  away from zero and saturated, as MATLAB casts).
- imrotate: https://www.mathworks.com/help/images/ref/imrotate.html. Counterclockwise about the centre,
  'nearest' and 'loose' by default, multiples of 90 degrees exact (``rot90``), other angles through imwarp with
  ``SmoothEdges`` on, as MathWorks' imrotate.m does.
- flip: https://www.mathworks.com/help/matlab/ref/flip.html (``dim`` 1-based; default the first dimension whose
  size is not 1), fliplr, flipud.

Where leuknet differs: its random stream is NumPy's, not MATLAB's (same distributions, other numbers); MATLAB
sends uint8, uint16 and float images of R2021a's ``affine2d`` (and imrotate's) through Intel's IPP library, whose
border and rounding are not documented: leuknet computes what MATLAB's own code path (``interp2``) computes, and a
result of MATLAB can differ by one grey level or at the outermost pixels. A point within 1e-9 pixels of the
border counts as inside (the matrices' rounding error would otherwise turn an exact border column to fill).
'cubic' interpolation is refused.
"""

from __future__ import annotations

import math

import numpy as np

from leuknet.errors import ConfigError
from leuknet.matlab.conventions import boolean, choice, number, outputs, parse, shown
from leuknet.matlab.images import _array, _cast_like
from leuknet.spec.randstream import generator

__all__ = ["randomAffine2d", "affine2d", "affinetform2d", "AffineTransform2D", "imref2d", "ImageReference2D",
           "affineOutputView", "imwarp", "imrotate", "flip", "flipdim", "fliplr", "flipud", "transformPointsForward",
           "transformPointsInverse", "outputLimits", "invert"]

_EDGE = 1e-9  # pixels: a sample this close outside the border is on it


def _sind(a):
    """MATLAB's sind: exact at multiples of 90 degrees."""
    r = math.fmod(a, 360.0)
    if r % 90.0 == 0.0:
        return (0.0, 1.0, 0.0, -1.0)[int(r // 90.0) % 4]
    return math.sin(math.radians(a))


def _cosd(a):
    return _sind(a + 90.0) if math.fmod(a, 90.0) == 0.0 else math.cos(math.radians(a))


def _tand(a):
    return _sind(a) / _cosd(a)


def _rotation(a):
    """The 2 x 2 rotation by ``a`` degrees in MATLAB's row-vector form: counterclockwise on screen (y down)."""
    return np.array([[_cosd(a), -_sind(a)], [_sind(a), _cosd(a)]])


# --------------------------------------------------------------------------------------------- transforms

class AffineTransform2D:
    """A 2-D affine transform: MATLAB's ``affine2d`` (property ``T``, row vectors: ``[x y 1] = [u v 1] * T``) and
    ``affinetform2d`` (property ``A = T'``, column vectors) in one object."""

    def __init__(self, T):
        self._T = np.array(T, np.float64)

    @property
    def T(self):
        return self._T.copy()

    @T.setter
    def T(self, value):
        self._T = _matrix("affine2d", value, row_form=True)

    @property
    def A(self):
        return self._T.T.copy()

    @A.setter
    def A(self, value):
        self._T = _matrix("affinetform2d", value, row_form=False).T

    @property
    def Dimensionality(self):
        return 2

    def invert(self):
        return AffineTransform2D(np.linalg.inv(self._T))

    def isTranslation(self):
        return bool(np.array_equal(self._T[:2, :2], np.eye(2)))

    def isRigid(self):
        m = self._T[:2, :2]
        return bool(np.allclose(m @ m.T, np.eye(2), atol=1e-12) and np.linalg.det(m) > 0)

    def _points(self, fn, T, args, nargout):
        if len(args) == 1:
            p = np.asarray(args[0], np.float64)
            p = p.reshape(1, 2) if p.shape == (2,) else p  # [x y]: one point, as MATLAB's 1 x 2
            if p.ndim != 2 or p.shape[1] != 2:
                raise ConfigError(f"{fn}: expected an N x 2 array of points [x y], received shape {p.shape}")
            return np.column_stack([p, np.ones(len(p))]) @ T[:, :2]
        if len(args) != 2:
            raise ConfigError(f"{fn}: expected (tform, U) or (tform, u, v), received {len(args) + 1} arguments")
        u, v = (np.asarray(a, np.float64) for a in args)
        x = T[0, 0] * u + T[1, 0] * v + T[2, 0]
        y = T[0, 1] * u + T[1, 1] * v + T[2, 1]
        return outputs(fn, (x, y), 2 if nargout is None else nargout)

    def transformPointsForward(self, *args, nargout=None):
        """``[x, y] = transformPointsForward(tform, u, v)`` or ``X = transformPointsForward(tform, U)`` (N x 2)."""
        return self._points("transformPointsForward", self._T, args, nargout)

    def transformPointsInverse(self, *args, nargout=None):
        return self._points("transformPointsInverse", np.linalg.inv(self._T), args, nargout)

    def outputLimits(self, xLimitsIn, yLimitsIn, nargout=None):
        """``[xLimitsOut, yLimitsOut]``: the 3 x 3 grid of the input limits and their midpoints, transformed, and
        the extremes (MathWorks' affine2d.outputLimits)."""
        xl, yl = (np.asarray(v, np.float64).ravel() for v in (xLimitsIn, yLimitsIn))
        U, V = np.meshgrid([xl[0], xl.mean(), xl[1]], [yl[0], yl.mean(), yl[1]])
        X, Y = self._points("outputLimits", self._T, (U, V), 2)
        return outputs("outputLimits", (np.array([X.min(), X.max()]), np.array([Y.min(), Y.max()])),
                       2 if nargout is None else nargout)

    def __repr__(self):  # MATLAB's display
        return "  affine2d with properties:\n\n                 T: [3x3 double]\n    Dimensionality: 2\n"


def _matrix(fn, M, row_form):
    m = np.asarray(M, np.float64)
    if m.shape != (3, 3) or not np.all(np.isfinite(m)):
        raise ConfigError(f"{fn}: expected a finite 3 x 3 matrix, received shape {np.shape(M)}")
    last = m[:, 2] if row_form else m[2]
    if not np.array_equal(last, [0.0, 0.0, 1.0]):
        where = "last column" if row_form else "last row"
        raise ConfigError(f"{fn}: the {where} of the matrix must be [0 0 1], received {last.tolist()}")
    if abs(np.linalg.det(m)) < 1e-300:
        raise ConfigError(f"{fn}: the matrix is singular")
    return m


def affine2d(T=None):
    """MATLAB's ``affine2d(T)``: ``T`` a 3 x 3 matrix with last column [0; 0; 1] (row vectors); the identity by
    default."""
    return AffineTransform2D(np.eye(3) if T is None else _matrix("affine2d", T, row_form=True))


def affinetform2d(A=None):
    """MATLAB's ``affinetform2d(A)`` (R2022b): ``A`` a 3 x 3 matrix with last row [0 0 1] (column vectors), or an
    ``affine2d`` to convert."""
    if isinstance(A, AffineTransform2D):
        return AffineTransform2D(A.T)
    return AffineTransform2D(np.eye(3) if A is None else _matrix("affinetform2d", A, row_form=False).T)


def _tform(fn, tform):
    if not isinstance(tform, AffineTransform2D):
        raise ConfigError(f"{fn}: expected an affine2d or affinetform2d transform (randomAffine2d, affine2d), "
                          f"received {type(tform).__name__}")
    return tform


_RANDOM_OPTIONS = {"XReflection": False, "YReflection": False, "Rotation": (0.0, 0.0), "Scale": (1.0, 1.0),
                   "XShear": (0.0, 0.0), "YShear": (0.0, 0.0), "XTranslation": (0.0, 0.0),
                   "YTranslation": (0.0, 0.0)}
_LIMITS = {"Scale": (0.0, None, True), "XShear": (-90.0, 90.0, True), "YShear": (-90.0, 90.0, True)}


def _logical(name, v):
    """A logical or real numeric scalar, as MATLAB takes a reflection (nonzero is true)."""
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (int, float, np.integer, np.floating)) and math.isfinite(v):
        return v != 0
    raise ConfigError(f"randomAffine2d: {name} must be true, false or a number, received {v!r}")


def _selector(name, value):
    """A function of the stream returning one value of ``name``: a range drawn uniformly, or the user's function
    called (validated each time)."""
    fn = "randomAffine2d"
    lo, hi, open_ = _LIMITS.get(name, (None, None, False))

    def check(v):
        return number(fn, name, v, low=lo, high=hi, low_open=open_, high_open=open_)

    if name.endswith("Reflection"):
        if callable(value):
            return lambda rng: _logical(name, value())
        return (lambda rng: bool(rng.random() > 0.5)) if _logical(name, value) else (lambda rng: False)
    if callable(value):
        return lambda rng: check(value())
    r = np.asarray(value, np.float64).ravel() if not isinstance(value, (str, bool)) else np.zeros(0)
    if r.size != 2 or not np.all(np.isfinite(r)) or r[1] < r[0]:
        raise ConfigError(f"{fn}: {name} must be a nondecreasing [min max] range of finite numbers or a function "
                          f"returning one value, received {shown(value)}")
    check(r[0]), check(r[1])
    return lambda rng: float(rng.random() * (r[1] - r[0]) + r[0])


def randomAffine2d(*args, **kwargs):
    """A random affine transform (see the module's docstring for the order and the source): ``Rotation``,
    ``Scale`` (isotropic), ``XShear``, ``YShear`` (degrees), ``XTranslation``, ``YTranslation`` (pixels) as
    ``[min max]`` ranges or functions returning one value, ``XReflection``, ``YReflection`` as true/false. Draws
    from MATLAB's global stream (``rng``)."""
    _, _, o = parse("randomAffine2d", args, kwargs, _RANDOM_OPTIONS, max_positional=0)
    sel = {k: _selector(k, v) for k, v in o.items()}
    rng = generator()
    xs, ys, rot = sel["XShear"](rng), sel["YShear"](rng), sel["Rotation"](rng)
    fx, fy = sel["XReflection"](rng), sel["YReflection"](rng)
    s, tx, ty = sel["Scale"](rng), sel["XTranslation"](rng), sel["YTranslation"](rng)
    shear = np.array([[1.0, _tand(ys)], [_tand(xs), 1.0]])
    linear = shear @ _rotation(rot) @ np.diag([-1.0 if fx else 1.0, -1.0 if fy else 1.0]) @ np.diag([s, s])
    T = np.eye(3)
    T[:2, :2], T[2, :2] = linear, (tx, ty)
    return AffineTransform2D(T)


def transformPointsForward(tform, *args, nargout=None):
    """MATLAB's function form ``[x, y] = transformPointsForward(tform, u, v)`` / ``X = ...(tform, U)``."""
    return _tform("transformPointsForward", tform).transformPointsForward(*args, nargout=nargout)


def transformPointsInverse(tform, *args, nargout=None):
    return _tform("transformPointsInverse", tform).transformPointsInverse(*args, nargout=nargout)


def outputLimits(tform, xLimitsIn, yLimitsIn, nargout=None):
    return _tform("outputLimits", tform).outputLimits(xLimitsIn, yLimitsIn, nargout=nargout)


def invert(tform):
    return _tform("invert", tform).invert()


# --------------------------------------------------------------------------------------------- spatial referencing

def _checked(attr, check):
    """A property stored in ``attr``, validated by ``check`` when assigned, read as a copy."""
    return property(lambda self: getattr(self, attr).copy(), lambda self, v: setattr(self, attr, check(v)))


class ImageReference2D:
    """MATLAB's ``imref2d``: an image's size and its world limits (pixel edges, not centres)."""

    def __init__(self, image_size, x_limits, y_limits):
        self.ImageSize = image_size
        self.XWorldLimits, self.YWorldLimits = x_limits, y_limits

    # MATLAB checks each on assignment; ImageSize keeps the world limits (the pixels change size)
    ImageSize = _checked("_size", lambda v: _image_size("imref2d", v))
    XWorldLimits = _checked("_x", lambda v: _limits("XWorldLimits", v))
    YWorldLimits = _checked("_y", lambda v: _limits("YWorldLimits", v))
    PixelExtentInWorldX = property(lambda self: float(np.diff(self._x)[0] / self._size[1]))
    PixelExtentInWorldY = property(lambda self: float(np.diff(self._y)[0] / self._size[0]))
    ImageExtentInWorldX = property(lambda self: float(np.diff(self._x)[0]))
    ImageExtentInWorldY = property(lambda self: float(np.diff(self._y)[0]))
    XIntrinsicLimits = property(lambda self: np.array([0.5, self._size[1] + 0.5]))
    YIntrinsicLimits = property(lambda self: np.array([0.5, self._size[0] + 0.5]))

    def intrinsicToWorld(self, xi, yi, nargout=None):
        x = self.PixelExtentInWorldX * (np.asarray(xi, np.float64) - 0.5) + self._x[0]
        y = self.PixelExtentInWorldY * (np.asarray(yi, np.float64) - 0.5) + self._y[0]
        return outputs("intrinsicToWorld", (x, y), 2 if nargout is None else nargout)

    def worldToIntrinsic(self, xw, yw, nargout=None):
        x = (np.asarray(xw, np.float64) - self._x[0]) / self.PixelExtentInWorldX + 0.5
        y = (np.asarray(yw, np.float64) - self._y[0]) / self.PixelExtentInWorldY + 0.5
        return outputs("worldToIntrinsic", (x, y), 2 if nargout is None else nargout)

    def __repr__(self):
        def v(a):
            return "[" + " ".join(f"{x:g}" for x in a) + "]"

        return (f"  imref2d with properties:\n\n           XWorldLimits: {v(self._x)}\n"
                f"           YWorldLimits: {v(self._y)}\n              ImageSize: {v(self._size)}\n"
                f"    PixelExtentInWorldX: {self.PixelExtentInWorldX:g}\n"
                f"    PixelExtentInWorldY: {self.PixelExtentInWorldY:g}\n")


def _image_size(fn, value):
    a = np.asarray(value, np.float64).ravel() if not isinstance(value, str) else np.zeros(0)
    if a.size < 2 or not np.all(np.isfinite(a[:2])) or np.any(a[:2] < 1) or np.any(a[:2] != np.round(a[:2])):
        raise ConfigError(f"{fn}: the image size must be [rows cols] of positive integers (size(I) works), "
                          f"received {shown(value)}")
    return a[:2].astype(np.int64)


def _limits(name, value):
    a = np.asarray(value, np.float64).ravel() if not isinstance(value, str) else np.zeros(0)
    if a.size != 2 or not np.all(np.isfinite(a)) or not a[1] > a[0]:
        raise ConfigError(f"imref2d: {name} must be [min max], finite and increasing, received {shown(value)}")
    return a


def imref2d(imageSize=(2, 2), *args):
    """``imref2d(imageSize)`` (world limits [0.5, n + 0.5]), ``imref2d(imageSize, pixelExtentX, pixelExtentY)`` or
    ``imref2d(imageSize, xWorldLimits, yWorldLimits)``."""
    size = _image_size("imref2d", imageSize)
    if not args:
        return ImageReference2D(size, (0.5, size[1] + 0.5), (0.5, size[0] + 0.5))
    if len(args) != 2:
        raise ConfigError(f"imref2d: expected (imageSize), (imageSize, px, py) or (imageSize, xLimits, yLimits), "
                          f"received {len(args) + 1} arguments")
    a, b = args
    if np.size(a) == 1 and np.size(b) == 1:
        px = number("imref2d", "the pixel extent in x", np.asarray(a).item(), low=0, low_open=True)
        py = number("imref2d", "the pixel extent in y", np.asarray(b).item(), low=0, low_open=True)
        return ImageReference2D(size, (px / 2, px / 2 + px * size[1]), (py / 2, py / 2 + py * size[0]))
    return ImageReference2D(size, a, b)


def _follow_output(R, tform):
    """The view holding the whole transformed image: its limits snapped outwards to whole pixels of R's size,
    keeping the centre (MathWorks' applyGeometricTransformToSpatialRef + snapWorldLimitsToSatisfyResolution)."""
    xw, yw = tform.outputLimits(R.XWorldLimits, R.YWorldLimits, nargout=2)
    sx, sy = R.PixelExtentInWorldX, R.PixelExtentInWorldY
    cols, rows = math.ceil(np.diff(xw)[0] / sx), math.ceil(np.diff(yw)[0] / sy)
    nx, ny = (cols * sx - np.diff(xw)[0]) / 2, (rows * sy - np.diff(yw)[0]) / 2
    return ImageReference2D((rows, cols), xw + (-nx, nx), yw + (-ny, ny))


def affineOutputView(sizeA, tform, *args, **kwargs):
    """The output view (an ``imref2d``) for ``imwarp(A, tform, 'OutputView', view)``: 'BoundsStyle'
    'CenterOutput' (default), 'FollowOutput' or 'SameAsInput' (see the module's docstring)."""
    fn = "affineOutputView"
    _, _, o = parse(fn, args, kwargs, {"BoundsStyle": "CenterOutput"}, max_positional=0)
    style = choice(fn, "BoundsStyle", o["BoundsStyle"], ("CenterOutput", "FollowOutput", "SameAsInput"))
    tform = _tform(fn, tform)
    R = imref2d(_image_size(fn, sizeA))
    if style == "SameAsInput":
        return R
    if style == "FollowOutput":
        return _follow_output(R, tform)
    linear = tform.T
    linear[2, :2] = 0.0
    xw, yw = AffineTransform2D(linear).outputLimits(R.XWorldLimits, R.YWorldLimits, nargout=2)
    cx, cy = xw.mean(), yw.mean()
    w, h = R.ImageExtentInWorldX, R.ImageExtentInWorldY
    return ImageReference2D(R.ImageSize, (cx - w / 2, cx + w / 2), (cy - h / 2, cy + h / 2))


# --------------------------------------------------------------------------------------------- warping

def _interp_plane(plane, X, Y, method, fill):
    """``interp2`` of one plane at intrinsic (1-based) points: inside the pixel centres' range [1, n], bilinear
    from the four neighbours (or the nearest, rounded half away from zero); outside, ``fill``."""
    h, w = plane.shape
    inside = (X >= 1 - _EDGE) & (X <= w + _EDGE) & (Y >= 1 - _EDGE) & (Y <= h + _EDGE)
    x = np.clip(X, 1.0, float(w)) - 1.0
    y = np.clip(Y, 1.0, float(h)) - 1.0
    if method == "nearest":
        v = plane[np.floor(y + 0.5).astype(np.intp), np.floor(x + 0.5).astype(np.intp)].astype(np.float64)
    else:
        x0 = np.minimum(np.floor(x), max(w - 2, 0)).astype(np.intp)
        y0 = np.minimum(np.floor(y), max(h - 2, 0)).astype(np.intp)
        fx, fy = x - x0, y - y0
        x1, y1 = np.minimum(x0 + 1, w - 1), np.minimum(y0 + 1, h - 1)
        p = plane.astype(np.float64)
        v = ((1 - fy) * ((1 - fx) * p[y0, x0] + fx * p[y0, x1]) + fy * ((1 - fx) * p[y1, x0] + fx * p[y1, x1]))
    return np.where(inside, v, fill)


def _fill_values(fn, fill, a):
    """One fill value per plane, cast to the image's class first, as MATLAB's ``cast(fillValues, 'like', A)``."""
    try:
        f = np.asarray(fill, np.float64).ravel()
    except (TypeError, ValueError):
        f = np.zeros(0)
    planes = int(np.prod(a.shape[2:])) if a.ndim > 2 else 1
    if f.size not in (1, planes) or np.isnan(f).any():
        raise ConfigError(f"{fn}: FillValues must be a number or one number per channel ({planes}), received "
                          f"{shown(fill)}")
    return np.asarray(_cast_like(np.broadcast_to(f, (planes,)), a), np.float64)


def _warp(fn, a, R_in, tform, R_out, method, fill, smooth):
    """Every output pixel of ``R_out`` mapped back through ``tform`` into ``a`` (referenced by ``R_in``)."""
    fills = _fill_values(fn, fill, a)
    cols, rows = np.meshgrid(np.arange(1, R_out.ImageSize[1] + 1, dtype=np.float64),
                             np.arange(1, R_out.ImageSize[0] + 1, dtype=np.float64))
    xw, yw = R_out.intrinsicToWorld(cols, rows, nargout=2)
    u, v = tform.transformPointsInverse(xw, yw, nargout=2)
    X, Y = R_in.worldToIntrinsic(u, v, nargout=2)
    planes = a.reshape(a.shape[0], a.shape[1], -1)
    out = np.empty((*X.shape, planes.shape[2]), np.float64)
    for k in range(planes.shape[2]):
        p = planes[:, :, k]
        Xk, Yk = X, Y
        if smooth:  # MathWorks pads with the fill value so the border blends with it
            p = np.pad(p.astype(np.float64), 3, constant_values=fills[k])
            Xk, Yk = X + 3, Y + 3
        out[:, :, k] = _interp_plane(p, Xk, Yk, method, fills[k])
    return _cast_like(out.reshape(*X.shape, *a.shape[2:]), a)


_WARP_OPTIONS = {"OutputView": None, "FillValues": 0.0, "SmoothEdges": False}
_METHODS = ("linear", "nearest", "cubic", "bilinear", "bicubic")


def imwarp(A, *args, nargout=None, **kwargs):
    """``B = imwarp(A, tform)``, ``imwarp(A, RA, tform)``, ``imwarp(..., interp)`` ('linear' | 'nearest'),
    ``'OutputView', R``, ``'FillValues', v``, ``'SmoothEdges', tf``; ``[B, RB] = imwarp(..., nargout=2)``."""
    fn = "imwarp"
    a = _array(fn, A)
    if a.ndim < 2:
        raise ConfigError(f"{fn}: expected an image (M x N or M x N x C), received shape {a.shape}")
    args = list(args)
    R_in = args.pop(0) if args and isinstance(args[0], ImageReference2D) else imref2d(a.shape[:2])
    if tuple(R_in.ImageSize) != a.shape[:2]:
        raise ConfigError(f"{fn}: the spatial referencing object's ImageSize {R_in.ImageSize.tolist()} does not match "
                          f"the image's size {list(a.shape[:2])}")
    if not args:
        raise ConfigError(f"{fn}: expected a geometric transform (randomAffine2d, affine2d) after the image")
    tform = _tform(fn, args.pop(0))
    method = "linear"
    if args and isinstance(args[0], str) and not any(k.lower().startswith(args[0].lower()) for k in _WARP_OPTIONS):
        method = choice(fn, "the interpolation method", args.pop(0), _METHODS)
    method = {"bilinear": "linear", "bicubic": "cubic"}.get(method, method)
    if method == "cubic":
        raise ConfigError(f"{fn}: 'cubic' interpolation is not provided by leuknet; use 'linear' (the default) "
                          "or 'nearest'")
    _, _, o = parse(fn, args, kwargs, _WARP_OPTIONS, max_positional=0)
    R_out = o["OutputView"]
    if R_out is None:
        R_out = _follow_output(R_in, tform)
    elif not isinstance(R_out, ImageReference2D):
        raise ConfigError(f"{fn}: OutputView must be an imref2d (affineOutputView, imref2d), received "
                          f"{type(R_out).__name__}")
    B = _warp(fn, a, R_in, tform, R_out, method, o["FillValues"], boolean(fn, "SmoothEdges", o["SmoothEdges"]))
    return outputs(fn, (B, R_out), nargout)


def imrotate(A, angle, *args):
    """``B = imrotate(A, angle[, method][, bbox])``: counterclockwise by ``angle`` degrees about the centre;
    method 'nearest' (default), 'bilinear' ('bicubic' refused); bbox 'loose' (default: the whole rotated image)
    or 'crop' (A's size, centred)."""
    fn = "imrotate"
    a = _array(fn, A)
    ang = number(fn, "ANGLE", np.asarray(angle).item() if np.size(angle) == 1 else angle)
    if len(args) > 2:
        raise ConfigError(f"{fn}: expected at most (A, angle, method, bbox), received {len(args) + 2} arguments")
    method, bbox = "nearest", "loose"
    for arg in args:
        v = choice(fn, "the method or bounding box", arg, ("nearest", "bilinear", "bicubic", "crop", "loose"))
        if v in ("crop", "loose"):
            bbox = v
        else:
            method = v
    if method == "bicubic":
        raise ConfigError(f"{fn}: 'bicubic' interpolation is not provided by leuknet; use 'nearest' (the "
                          "default) or 'bilinear'")
    if ang % 90 == 0:
        return _rotate90(a, int(math.floor(ang / 90)) % 4, bbox == "crop")
    T = np.eye(3)
    T[:2, :2] = _rotation(ang)
    tform = affine2d(T)
    RA = imref2d(a.shape[:2])
    R_out = _follow_output(RA, tform)
    if bbox == "crop":  # keep the centre and the input's size
        dx = R_out.XWorldLimits.mean() - RA.XWorldLimits.mean()
        dy = R_out.YWorldLimits.mean() - RA.YWorldLimits.mean()
        R_out = ImageReference2D(RA.ImageSize, RA.XWorldLimits + dx, RA.YWorldLimits + dy)
    return _warp(fn, a, RA, tform, R_out, "linear" if method == "bilinear" else "nearest", 0.0, True)


def _rotate90(a, k, crop):
    """imrotate by k * 90 degrees, exact (MathWorks' rot90 branch; 'crop' of a non-square image at +-90 degrees
    rotates the centred square and leaves the rest 0)."""
    if k == 0:
        return a.copy()
    if k == 2 or not crop or a.shape[0] == a.shape[1]:
        return np.ascontiguousarray(np.rot90(a, k))
    h, w = a.shape[:2]
    n = min(h, w)
    off = abs(h // 2 - w // 2)
    y0, x0 = (off, 0) if h > w else (0, off)
    out = np.zeros_like(a)
    out[y0:y0 + n, x0:x0 + n] = np.rot90(a[y0:y0 + n, x0:x0 + n], k)
    return out


# --------------------------------------------------------------------------------------------- flips

def _as_matlab_array(A):
    """A NumPy array as MATLAB sees it: at least 2-D, a 1-D array a row (1 x N), as ``size`` reports it."""
    a = np.asarray(A)
    return a.reshape(1, -1) if a.ndim == 1 else a.reshape(1, 1) if a.ndim == 0 else a


def _flipped(A, axis):
    a = np.asarray(A)
    m = _as_matlab_array(a)
    out = np.flip(m, axis).copy() if axis < m.ndim else m.copy()
    return out.reshape(a.shape)


def flip(A, dim=None):
    """MATLAB's ``flip(A, dim)``: ``dim`` 1-based (1 reverses the rows, 2 the columns, 3 the channels); by default
    the first dimension whose size is not 1. A 1-D array is a row vector (1 x N), as ``size`` says."""
    m = _as_matlab_array(A)
    if dim is None:
        big = [i for i, n in enumerate(m.shape) if n != 1]
        return _flipped(A, big[0] if big else 0)
    return _flipped(A, number("flip", "dim", dim, integer=True, low=1) - 1)


flipdim = flip  # MATLAB's older name (flipdim(A, dim)), which scripts still call


def fliplr(A):
    """MATLAB's ``fliplr``: columns reversed (``flip(A, 2)``)."""
    return _flipped(A, 1)


def flipud(A):
    """MATLAB's ``flipud``: rows reversed (``flip(A, 1)``; a row vector stays as it is)."""
    return _flipped(A, 0)
