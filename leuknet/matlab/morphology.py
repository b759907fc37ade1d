"""MATLAB's flat structuring elements and the morphology built on them, as cell-segmentation scripts use them
before cropping a cell for a network: ``strel``, ``imerode``, ``imdilate``, ``imopen``, ``imclose``,
``imtophat``, ``imbothat``, ``imclearborder``.

- ``SE = strel(shape, ...)`` (https://www.mathworks.com/help/images/ref/strel.html, with MathWorks' strel.m, public
  copies of which were read): 'disk' r[, n] (n = 4 by default; for r >= 3 and n in 4, 6, 8 the disk is MATLAB's
  radial decomposition into n periodic lines, Adams 1993 / Jones & Soille 1996, plus a horizontal and a vertical
  line where the lines fall short of r: an octagon-like shape, (2r - 1) x (2r - 1) for n = 4, **not** the
  Euclidean disk; n = 0 or r < 3 gives the Euclidean disk x^2 + y^2 <= r^2), 'square' w, 'rectangle' [m n],
  'diamond' r (|x| + |y| <= r), 'octagon' r (a multiple of 3: |x| + |y| <= r + r/3 within the square),
  'line' len, deg (MathWorks' intline between the rounded end points, symmetric about the centre),
  'periodicline' p, v, 'pair' offset, and an arbitrary neighbourhood ``strel(nhood)`` / ``strel('arbitrary',
  nhood)``. The origin is the centre, ``floor((size(nhood) + 1) / 2)`` (1-based). ``SE.Neighborhood``,
  ``SE.Dimensionality``, ``decompose(SE)`` (the sequence MATLAB dilates by), ``reflect(SE)``,
  ``translate(SE, [dr dc])``; printed as MATLAB prints it. 3-D and non-flat shapes ('ball', 'sphere', 'cube',
  'cuboid', heights) are refused.
- ``J = imdilate(I, SE)`` / ``imerode(I, SE)`` (https://www.mathworks.com/help/images/ref/imdilate.html,
  .../imerode.html): binary (logical) or grey images of any MATLAB class (NaN refused: its maximum is not
  defined; an empty image gives an empty result), SE a strel, a neighbourhood array or a
  list of strels (applied in turn, as one element: MATLAB pads so that a sequence gives the same result as their
  composition). Dilation: ``J(z) = max over b in SE of I(z - b)``, pixels beyond the border taken as the class's
  minimum (0 for logical); erosion: ``J(z) = min over b in SE of I(z + b)``, beyond the border the class's
  maximum (1 for logical). ``'full'`` (the third argument) returns the whole result, ``size(I) + size(nhood) - 1``.
- ``imopen`` = imdilate(imerode(I, SE), SE); ``imclose`` = imerode(imdilate(I, SE), SE); ``imtophat`` = I -
  imopen(I, SE); ``imbothat`` = imclose(I, SE) - I (for logical images, and-not).
- ``BW2 = imclearborder(BW[, conn])`` (https://www.mathworks.com/help/images/ref/imclearborder.html): the
  components of a logical image (8-connected by default) that touch the image's border removed; a numeric image
  is grey, as MATLAB's class decides: the structures brighter than their surroundings that the border reaches
  removed (I minus the reconstruction of I from its border values).

Checked against GNU Octave's image package (imdilate, imerode, imopen, imclose, imtophat, imbothat,
imclearborder on binary and grey images with asymmetric elements, the 'line', 'diamond', 'octagon' and n = 0
'disk' shapes) and, for the approximated disk (which Octave does not provide), against the MATLAB-exported
neighbourhoods' closed form (radii 3, 5, 15, 25) published with EccoPy and a NumPy transcription of strel.m.
"""

from __future__ import annotations

import math

import numpy as np

from leuknet.colorspace import round_half_away
from leuknet.errors import ConfigError
from leuknet.matlab.binary import _extremes
from leuknet.matlab.conventions import as_vector, choice, number, shown

__all__ = ["strel", "imdilate", "imerode", "imopen", "imclose", "imtophat", "imbothat", "imclearborder",
           "decompose", "reflect", "translate", "StructuringElement"]

_SHAPES = ("arbitrary", "square", "rectangle", "diamond", "octagon", "line", "disk", "periodicline", "pair")
_REFUSED = {"ball": "a non-flat ball (MATLAB's offsetstrel)", "sphere": "3-D", "cube": "3-D", "cuboid": "3-D"}


class StructuringElement:
    """MATLAB's ``strel`` object: a flat 2-D neighbourhood (``Neighborhood``, logical) with its origin at the
    centre, and the sequence of elements MATLAB dilates by (``decompose``)."""

    def __init__(self, nhood, shape="arbitrary", sequence=None):
        nh = np.array(nhood, dtype=bool, copy=True)
        nh = nh.reshape(1, 1) if nh.ndim == 0 else nh.reshape(1, -1) if nh.ndim == 1 else nh
        nh.setflags(write=False)
        self._nhood = nh
        self._shape = shape
        self._sequence = list(sequence) if sequence else None

    @property
    def Neighborhood(self):
        return self._nhood

    @property
    def Dimensionality(self):
        return 2

    def decompose(self):
        """The sequence of structuring elements MATLAB dilates by, in order (the element itself where none)."""
        return list(self._sequence) if self._sequence else [self]

    def __eq__(self, other):
        return isinstance(other, StructuringElement) and np.array_equal(self._nhood, other._nhood)

    __hash__ = None

    def __repr__(self):
        m, n = self._nhood.shape
        article = "an" if self._shape[0] in "aeiou" else "a"
        return (f"strel is {article} {self._shape} shaped structuring element with properties:\n\n"
                f"      Neighborhood: [{m}\u00d7{n} logical]\n    Dimensionality: 2\n")


def decompose(SE):
    """``SEQ = decompose(SE)``: the sequence of elements MATLAB applies for ``SE`` (a list)."""
    return _element("decompose", SE).decompose()


def reflect(SE):
    """``SE2 = reflect(SE)``: the element rotated 180 degrees about its origin (an even size is padded with a
    false row or column first, so that the origin stays the centre, as MATLAB's reflect)."""
    nh = _element("reflect", SE).Neighborhood
    pad = [(0, 1 - s % 2) for s in nh.shape]  # MATLAB pads even dimensions at the end before rotating
    return StructuringElement(np.pad(nh, pad)[::-1, ::-1], "arbitrary")


def translate(SE, v):
    """``SE2 = translate(SE, [dr dc])``: the element's members moved by dr rows and dc columns."""
    fn = "translate"
    nh = _element(fn, SE).Neighborhood
    d = as_vector(v)
    if d is None or d.size != 2 or not np.all(np.isfinite(d)) or not np.all(d == np.round(d)):
        raise ConfigError(f"{fn}: the offset is [rows columns] (integers), received {shown(v)}")
    offs = _offsets(nh) + d.astype(np.int64)
    return StructuringElement(_from_offsets(offs), "arbitrary")


def _offsets(nh):
    """The members' (row, column) offsets from the origin floor((size + 1) / 2) (1-based)."""
    origin = (np.array(nh.shape) + 1) // 2 - 1
    return np.argwhere(nh) - origin


def _from_offsets(offs):
    """The smallest centred neighbourhood holding these offsets (odd sizes, as MATLAB builds them)."""
    if len(offs) == 0:
        return np.zeros((0, 0), bool)
    half = np.abs(offs).max(axis=0)
    nh = np.zeros(tuple(2 * half + 1), bool)
    nh[tuple((offs + half).T)] = True
    return nh


def _intline(x1, x2, y1, y2):
    """MathWorks' integer line drawing (intline.m, as strel.m calls it)."""
    dx, dy = abs(x2 - x1), abs(y2 - y1)
    if dx == 0 and dy == 0:
        return np.array([x1]), np.array([y1])
    flip = False
    if dx >= dy:
        if x1 > x2:
            x1, x2, y1, y2, flip = x2, x1, y2, y1, True
        x = np.arange(x1, x2 + 1, dtype=np.float64)
        y = round_half_away(y1 + (y2 - y1) / (x2 - x1) * (x - x1))
    else:
        if y1 > y2:
            x1, x2, y1, y2, flip = x2, x1, y2, y1, True
        y = np.arange(y1, y2 + 1, dtype=np.float64)
        x = round_half_away(x1 + (x2 - x1) / (y2 - y1) * (y - y1))
    x, y = x.astype(np.int64), y.astype(np.int64)
    return (x[::-1], y[::-1]) if flip else (x, y)


def _line(length, degrees):
    if length < 1:
        return np.zeros((0, 0), bool)
    theta = degrees * math.pi / 180
    x = int(round_half_away((length - 1) / 2 * math.cos(theta)))
    y = -int(round_half_away((length - 1) / 2 * math.sin(theta)))
    c, r = _intline(-x, x, -y, y)
    return _from_offsets(np.stack([r, c], axis=1))


def _periodic_line(p, v):
    t = np.arange(-p, p + 1)[:, None]
    return _from_offsets(t * np.asarray(v, np.int64)[None, :])


_DISK_VECTORS = {4: [(1, 0), (1, 1), (0, 1), (-1, 1)],
                 6: [(1, 0), (1, 2), (2, 1), (0, 1), (-1, 2), (-2, 1)],
                 8: [(1, 0), (2, 1), (1, 1), (1, 2), (0, 1), (-1, 2), (-1, 1), (-2, 1)]}


def _compose(nhoods):
    """The neighbourhood of a sequence of dilations (MATLAB's imdilate(1, sequence, 'full') > 0)."""
    offs = np.zeros((1, 2), np.int64)
    for nh in nhoods:
        o = _offsets(nh)
        offs = np.unique((offs[:, None, :] + o[None, :, :]).reshape(-1, 2), axis=0)
    return _from_offsets(offs)


def _disk(r, n):
    """MATLAB's disk: Euclidean for n = 0 or r < 3, else its radial decomposition into periodic lines."""
    if r < 3 or n == 0:
        yy, xx = np.mgrid[-r:r + 1, -r:r + 1]
        return xx ** 2 + yy ** 2 <= r ** 2, None
    vectors = _DISK_VECTORS[n]
    theta = math.pi / (2 * n)
    k = 2 * r / (1 / math.tan(theta) + 1 / math.sin(theta))
    seq = [_periodic_line(math.floor(k / math.hypot(*v)), v) for v in vectors]
    nh = _compose(seq)
    radial_difference = r - (nh.shape[0] - 1) // 2
    length = 2 * (radial_difference - 1) + 1
    if length >= 3:  # lines along the axes make up what the periodic lines fell short of
        seq += [_line(length, 0), _line(length, 90)]
        nh = _compose(seq)
    return nh, seq


def strel(*args):
    """``SE = strel(shape, parameters...)`` or ``strel(nhood)``: see the module's docstring."""
    fn = "strel"
    if not args:
        raise ConfigError(f"{fn}: expected a shape name and its parameters, or a neighbourhood array")
    if isinstance(args[0], StructuringElement):
        return args[0]
    if not isinstance(args[0], str):
        args = ("arbitrary", *args)
    name = args[0].lower()
    if name in _REFUSED:
        raise ConfigError(f"{fn}: '{name}' is {_REFUSED[name]}; leuknet's structuring elements are flat and 2-D")
    shape = choice(fn, "the shape", args[0], _SHAPES)
    params = args[1:]
    counts = {"disk": (1, 2), "line": (2, 2), "periodicline": (2, 2)}.get(shape, (1, 1))
    if not counts[0] <= len(params) <= counts[1]:
        raise ConfigError(f"{fn}: '{shape}' takes {counts[0]}{'' if counts[0] == counts[1] else f' or {counts[1]}'}"
                          f" parameter(s), received {len(params)}")
    return _make(fn, shape, params)


def _nonneg_int(fn, name, v):
    return number(fn, name, v, integer=True, low=0)


def _int_pair(fn, name, v, nonneg=True):
    a = as_vector(v)
    a = np.zeros(0) if a is None else a
    if a.size != 2 or not np.all(np.isfinite(a)) or not np.all(a == np.round(a)) or (nonneg and np.any(a < 0)):
        kind = "non-negative integers" if nonneg else "integers"
        raise ConfigError(f"{fn}: {name} must be two {kind}, received {shown(v)}")
    return a.astype(np.int64)


def _make(fn, shape, p):
    if shape == "arbitrary":
        nh = np.asarray(p[0])
        if nh.dtype.kind not in "buif" or nh.ndim > 2:
            raise ConfigError(f"{fn}: a neighbourhood is a 2-D array of 0s and 1s, received {nh.dtype.name} of shape "
                              f"{list(nh.shape)}")
        return StructuringElement(nh != 0, "arbitrary")
    if shape == "square":
        w = _nonneg_int(fn, "the width", p[0])
        return StructuringElement(np.ones((w, w), bool), "square")
    if shape == "rectangle":
        m, n = _int_pair(fn, "the size [m n]", p[0])
        return StructuringElement(np.ones((m, n), bool), "rectangle")
    if shape == "diamond":
        r = _nonneg_int(fn, "the radius", p[0])
        yy, xx = np.mgrid[-r:r + 1, -r:r + 1]
        return StructuringElement(np.abs(xx) + np.abs(yy) <= r, "diamond")
    if shape == "octagon":
        r = _nonneg_int(fn, "the size", p[0])
        if r % 3:
            raise ConfigError(f"{fn}: an octagon's size must be a non-negative multiple of 3, received {shown(p[0])}")
        yy, xx = np.mgrid[-r:r + 1, -r:r + 1]
        return StructuringElement(np.abs(xx) + np.abs(yy) <= r + r // 3, "octagon")
    if shape == "line":
        length = number(fn, "the length", p[0], low=0)
        deg = number(fn, "the angle (degrees)", p[1])
        return StructuringElement(_line(length, deg), "line")
    if shape == "periodicline":
        period = _nonneg_int(fn, "P", p[0])
        return StructuringElement(_periodic_line(period, _int_pair(fn, "V", p[1], nonneg=False)), "periodicline")
    if shape == "pair":
        return StructuringElement(_from_offsets(np.array([[0, 0], _int_pair(fn, "the offset", p[0], False)])),
                                  "pair")
    r = _nonneg_int(fn, "the radius", p[0])
    n = 4 if len(p) < 2 else p[1]
    if isinstance(n, bool) or np.ndim(n) != 0 or not isinstance(n, (int, float, np.integer, np.floating)) or \
            n not in (0, 4, 6, 8):
        raise ConfigError(f"{fn}: a disk's number of lines n must be 0, 4, 6 or 8, received {shown(n)}")
    nh, seq = _disk(r, int(n))
    parts = [StructuringElement(s, "arbitrary") for s in seq] if seq else None
    return StructuringElement(nh, "disk", parts)


# --- dilation and erosion ----------------------------------------------------------------------------------------

def _element(fn, SE):
    """One neighbourhood for SE: a strel, a neighbourhood array, or a list of strels (their composition)."""
    if isinstance(SE, StructuringElement):
        return SE
    if isinstance(SE, (list, tuple)) and SE and all(isinstance(s, StructuringElement) for s in SE):
        return StructuringElement(_compose([s.Neighborhood for s in SE]), "arbitrary")
    a = np.asarray(SE) if not isinstance(SE, str) else np.zeros(0, object)
    if a.dtype.kind not in "buif" or a.ndim > 2 or a.size == 0:
        raise ConfigError(f"{fn}: expected a structuring element (strel), a neighbourhood array of 0s and 1s or a "
                          f"list of strels, received {type(SE).__name__}")
    return StructuringElement(a != 0, "arbitrary")


_WORKING = {"uint8": np.uint8, "uint16": np.uint16, "int16": np.int16, "float32": np.float32,
            "float64": np.float64}


def _image(fn, I):
    a = np.asarray(I)
    if a.dtype.kind not in "buif" or a.ndim not in (2, 3) or a.dtype == np.float16:
        raise ConfigError(f"{fn}: expected a binary or grey image (M x N, or M x N x C), received {a.dtype.name} of "
                          f"shape {list(a.shape)}")
    if a.dtype.kind == "f" and np.isnan(a).any():
        raise ConfigError(f"{fn}: the image holds NaN, where a maximum or minimum is not defined; replace them "
                          "first (for example I(isnan(I)) = 0)")
    return a


def _morph(fn, I, SE, dilate, shape="same"):
    """MATLAB's flat dilation (``dilate``) or erosion of ``I`` by ``SE``, 'same' or 'full'."""
    import cv2

    a = _image(fn, I)
    se = _element(fn, SE)
    shape = choice(fn, "the shape", shape, ("same", "full"))
    nh = se.Neighborhood
    if not nh.any():
        raise ConfigError(f"{fn}: the structuring element has no members (an empty neighbourhood)")
    if a.size == 0:
        return a.copy()
    low, high = _extremes(a)
    pad_value = low if dilate else high
    m, n = nh.shape
    origin = ((m + 1) // 2 - 1, (n + 1) // 2 - 1)
    if shape == "full":  # room for every position the element reaches
        before = (origin[0], origin[1]) if dilate else (m - 1 - origin[0], n - 1 - origin[1])
        after = (m - 1 - origin[0], n - 1 - origin[1]) if dilate else (origin[0], origin[1])
        widths = [(before[0], after[0]), (before[1], after[1])] + [(0, 0)] * (a.ndim - 2)
        a = np.pad(a, widths, constant_values=pad_value)
    if a.dtype.itemsize == 8 and a.dtype.kind in "iu":  # beyond float64's exact integers: NumPy, exactly
        return _morph_numpy(a, nh, origin, dilate, pad_value)
    work_type = _WORKING.get(a.dtype.name, np.float64)  # int8, uint32 and int32 are exact in float64
    work = a.astype(np.uint8 if a.dtype == bool else work_type)
    kernel = nh.astype(np.uint8)
    if dilate:  # J(z) = max_b I(z - b): OpenCV's dilation reads I(z + k - anchor), so the element is reflected
        kernel = kernel[::-1, ::-1].copy()
        anchor = (n - 1 - origin[1], m - 1 - origin[0])
        op = cv2.dilate
    else:  # J(z) = min_b I(z + b)
        anchor = (origin[1], origin[0])
        op = cv2.erode
    border = float(pad_value)  # False/True for logical images: 0 beyond the border for dilation, 1 for erosion
    planes = [work] if work.ndim == 2 else [np.ascontiguousarray(work[..., c]) for c in range(work.shape[2])]
    out = [op(p, kernel, anchor=anchor, borderType=cv2.BORDER_CONSTANT, borderValue=border) for p in planes]
    res = out[0] if work.ndim == 2 else np.stack(out, axis=-1)
    return res.astype(bool) if a.dtype == bool else res.astype(a.dtype)


def _morph_numpy(a, nh, origin, dilate, pad_value):
    """The same operation by shifts of the padded image (64-bit integer classes)."""
    m, n = nh.shape
    widths = [(m, m), (n, n)] + [(0, 0)] * (a.ndim - 2)
    p = np.pad(a, widths, constant_values=pad_value)
    out = None
    for r, c in np.argwhere(nh):
        dr, dc = (origin[0] - r, origin[1] - c) if dilate else (r - origin[0], c - origin[1])
        view = p[m + dr:m + dr + a.shape[0], n + dc:n + dc + a.shape[1]]
        out = view.copy() if out is None else (np.maximum(out, view) if dilate else np.minimum(out, view))
    return out


def _shape_arg(fn, args):
    if len(args) > 1:
        raise ConfigError(f"{fn}: too many input arguments; the only option after SE is 'same' or 'full'")
    return args[0] if args else "same"


def imdilate(I, SE, *args):
    """``J = imdilate(I, SE)`` / ``imdilate(I, SE, 'full')``: see the module's docstring."""
    return _morph("imdilate", I, SE, True, _shape_arg("imdilate", args))


def imerode(I, SE, *args):
    """``J = imerode(I, SE)`` / ``imerode(I, SE, 'full')``: see the module's docstring."""
    return _morph("imerode", I, SE, False, _shape_arg("imerode", args))


def imopen(I, SE):
    """``J = imopen(I, SE)``: erosion, then dilation by the same element."""
    return _morph("imopen", _morph("imopen", I, SE, False), SE, True)


def imclose(I, SE):
    """``J = imclose(I, SE)``: dilation, then erosion by the same element."""
    return _morph("imclose", _morph("imclose", I, SE, True), SE, False)


def _difference(a, b):
    if a.dtype == bool:
        return a & ~b
    if a.dtype.kind == "u":
        return np.where(a > b, a - b, 0).astype(a.dtype)  # saturating, as MATLAB's integer arithmetic
    if a.dtype.kind == "i":
        info = np.iinfo(a.dtype)
        return np.clip(a.astype(np.int64) - b, info.min, info.max).astype(a.dtype)
    return a - b


def imtophat(I, SE):
    """``J = imtophat(I, SE)``: the image minus its opening (bright details smaller than SE)."""
    a = _image("imtophat", I)
    return _difference(a, imopen(a, SE))


def imbothat(I, SE):
    """``J = imbothat(I, SE)``: the closing minus the image (dark details smaller than SE)."""
    a = _image("imbothat", I)
    return _difference(imclose(a, SE), a)


def imclearborder(BW, conn=8):
    """``BW2 = imclearborder(BW)`` / ``imclearborder(BW, conn)``: see the module's docstring."""
    from scipy.ndimage import label

    from leuknet.matlab.binary import _binary, _border_marker, _conn
    from leuknet.matlab.segmentation import imreconstruct

    fn = "imclearborder"
    a = np.asarray(BW)
    if a.dtype != bool:  # grey, as MATLAB's class decides: what the border reaches by reconstruction, removed
        if a.ndim != 2 or a.dtype.kind not in "uif" or (a.dtype.kind == "f" and np.isnan(a).any()):
            raise ConfigError(f"{fn}: expected a 2-D binary or grey image, received {a.dtype.name} of shape "
                              f"{list(a.shape)}")
        if a.size == 0:
            return a.copy()
        _conn(fn, conn)
        reached = imreconstruct(_border_marker(a, _extremes(a)[0]), a, conn)
        if a.dtype.kind == "u":
            return (a - reached).astype(a.dtype)  # reached <= a: no wrap
        return (a.astype(np.float64) - reached).astype(a.dtype)
    mask = _binary(fn, a)
    if mask.size == 0:
        return a.copy()
    raw, _ = label(mask, structure=_conn(fn, conn))
    touching = np.unique(np.concatenate([raw[0], raw[-1], raw[:, 0], raw[:, -1]]))
    return mask & ~np.isin(raw, touching[touching > 0])
