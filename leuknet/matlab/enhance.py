"""MATLAB's intensity adjustments and the small image utilities blood-smear scripts call before segmenting or
classifying a cell: ``rescale``, ``mat2gray``, ``imcomplement``, ``stretchlim``, ``imadjust``, ``medfilt2``,
``bwperim``, ``imoverlay``.

- ``R = rescale(A[, l, u], 'InputMin', ..., 'InputMax', ...)`` (https://www.mathworks.com/help/matlab/ref/rescale.html):
  ``l + (A - inmin) / (inmax - inmin) * (u - l)`` with A clipped to [inmin, inmax] (the array's min and max by
  default); a constant array gives l; double (single for single input).
- ``I = mat2gray(A[, [amin amax]])`` (https://www.mathworks.com/help/images/ref/mat2gray.html): (A - amin) /
  (amax - amin) clipped to [0, 1], double; where amin = amax, MathWorks' mat2gray.m returns double(A) clipped.
- ``imcomplement`` lives in images.py (the other modules build on it).
- ``lowhigh = stretchlim(I[, tol])`` (https://www.mathworks.com/help/images/ref/stretchlim.html, MathWorks'
  stretchlim.m): per channel, from the image's histogram (256 bins for uint8, 65536 for every other class) and
  its cumulative fraction, the first bin where it exceeds tol_low (0.01) and the first where it reaches tol_high
  (0.99), as fractions of the range; [0 1] where they coincide (a flat image) or where tol_low >= tol_high.
- ``J = imadjust(I[, [low_in high_in], [low_out high_out], gamma])``
  (https://www.mathworks.com/help/images/ref/imadjust.html): values clipped to [low_in, high_in], mapped to
  [low_out, high_out] through ``((x - low_in) / (high_in - low_in)) ^ gamma``; ``imadjust(I)`` stretches
  ``stretchlim(I)``; an RGB image takes 2 x 3 limits (or stretches each channel); integer classes are rounded.
- ``J = histeq(I[, n | hgram])`` and ``J, T = histeq(..., nargout=2)``
  (https://www.mathworks.com/help/images/ref/histeq.html, MathWorks' histeq.m): the grey levels mapped so that
  the histogram of J over n bins (64 by default) is roughly flat, or matches ``hgram``: from the image's 256-bin
  histogram and its cumulative counts c0, each input level k goes to the first output level j that minimises
  ``c1(j) - c0(k) + h(k) / 2`` among those not below ``-numel(I) * sqrt(eps)`` (c1 the target's cumulative
  counts scaled to numel(I), h(k) the level's count, the first and last levels' counts taken as 0);
  ``T = (j - 1) / (n - 1)`` (256 values), applied as MathWorks' grayxform does (uint8 ``uint8(255 T(I + 1))``,
  uint16 through ``ceil(I * 255 / 65535 + 0.5)``, floating point through ``floor(255 I + 0.5) + 1``, clipped to
  [0, 1]; int16 by way of uint16). Indexed images (``histeq(X, map)``) are refused.
- ``B = medfilt2(A[, [m n]][, padopt])`` (https://www.mathworks.com/help/images/ref/medfilt2.html, MathWorks'
  medfilt2.m): the median of each m x n window (3 x 3 by default; padding 'zeros' by default, 'symmetric' or
  'indexed': ones for double, zeros otherwise); an even window gives the mean of the two middle values (OR for
  logical images), computed in double and rounded once for integer classes as the source's imlincomb does (the
  page's "fractional parts are discarded" is not what the code does).
- ``BW2 = bwperim(BW[, conn])`` (https://www.mathworks.com/help/images/ref/bwperim.html): the pixels of a binary
  image that have a background 4-neighbour (conn 4, the default) or 8-neighbour (conn 8); outside the image counts
  as background.
- ``B = imoverlay(A, BW[, color])`` (https://www.mathworks.com/help/images/ref/imoverlay.html): the image (grey or
  RGB) as uint8 RGB with the mask's pixels painted in ``color`` ([1 1 0] yellow by default; a name or an RGB
  triple in [0, 1]).

- ``B = labeloverlay(A, L | BW | C, 'Colormap', cmap, 'Transparency', 0.5, 'IncludedLabels', ...)``
  (https://www.mathworks.com/help/images/ref/labeloverlay.html, MathWorks' labeloverlay.m): each labelled pixel
  (label k > 0 of a label matrix, true of a mask, category k of a categorical) blended with colour k,
  ``(1 - t) * cmap(k) + t * A`` (t the Transparency), the rest left as they are; uint8 RGB. MATLAB's default colormap
  is ``jet(max label)`` shuffled by ``randperm`` under ``rng('default')``: MATLAB's own random numbers, not
  reproduced, so leuknet shuffles jet its own fixed way (said once); a colormap given as a matrix is used as is.

Checked against GNU Octave's image package (stretchlim, imadjust, medfilt2 with odd and even windows and both
paddings, mat2gray, bwperim, imcomplement) and the documented formulas.
"""

from __future__ import annotations

import numpy as np

from leuknet.errors import ConfigError
from leuknet.matlab.conventions import as_vector, choice, number, options_only, shown
from leuknet.matlab.images import _to_integer_class, imcomplement  # noqa: F401 (imcomplement: images.py)

__all__ = ["rescale", "mat2gray", "stretchlim", "imadjust", "histeq", "medfilt2", "bwperim",
           "imoverlay", "labeloverlay"]


def _numeric(fn, A, what="an array"):
    a = np.asarray(A)
    if a.dtype.kind not in "buif":
        raise ConfigError(f"{fn}: expected {what} of numbers, received {a.dtype.name}")
    return a


def _bound(fn, name, v):
    b = as_vector(v)
    if b is None or b.size == 0 or np.isnan(b).any():
        raise ConfigError(f"{fn}: {name} must be a number or an array of numbers, received {shown(v)}")
    return np.asarray(v, np.float64)


def rescale(A, *args, **kwargs):
    """``R = rescale(A, l, u, 'InputMin', m, 'InputMax', M)``: see the module's docstring."""
    fn = "rescale"
    a = _numeric(fn, A)
    names = list(args)
    pos = []
    while names and not isinstance(names[0], str) and len(pos) < 2:
        pos.append(names.pop(0))
    if len(pos) not in (0, 2):
        raise ConfigError(f"{fn}: give both bounds, rescale(A, l, u), or neither")
    lo, hi = (_bound(fn, "l", pos[0]), _bound(fn, "u", pos[1])) if pos else (np.float64(0), np.float64(1))
    x = a.astype(np.float32 if a.dtype == np.float32 else np.float64)
    finite = x.size and not np.isnan(x).all()
    o = options_only(fn, names, kwargs, {"InputMin": np.nanmin(x) if finite else 0.0,
                                         "InputMax": np.nanmax(x) if finite else 0.0})
    inmin, inmax = _bound(fn, "InputMin", o["InputMin"]), _bound(fn, "InputMax", o["InputMax"])
    try:
        if np.any(lo > hi):
            raise ConfigError(f"{fn}: the lower bound l must not exceed the upper bound u")
        if np.any(inmin > inmax):
            raise ConfigError(f"{fn}: InputMin must not exceed InputMax")
        span = inmax - inmin
        scaled = (np.clip(x, inmin, inmax) - inmin) / np.where(span == 0, 1, span)
        out = np.where(span == 0, lo, lo + scaled * (hi - lo))  # a constant input gives l
    except ValueError:
        raise ConfigError(f"{fn}: the bounds must be scalars or arrays that broadcast to A's size "
                          f"{list(a.shape)}") from None
    return np.broadcast_to(out, x.shape).astype(x.dtype)


def mat2gray(A, limits=None):
    """``I = mat2gray(A[, [amin amax]])``: see the module's docstring."""
    fn = "mat2gray"
    a = _numeric(fn, A).astype(np.float64)
    if limits is None:
        finite = a.size and not np.isnan(a).all()
        amin, amax = (float(np.nanmin(a)), float(np.nanmax(a))) if finite else (0.0, 1.0)
    else:
        lim = as_vector(limits)
        if lim is None or lim.size != 2:
            raise ConfigError(f"{fn}: limits are [amin amax], received {shown(limits)}")
        amin, amax = lim
    out = a if amax == amin else (a - amin) / (amax - amin)
    return np.clip(out, 0.0, 1.0)


def _bins(a):
    return 256 if a.dtype == np.uint8 else 65536  # MathWorks' stretchlim.m: 256 bins for uint8 only


def _bin_index(plane, nbins):
    """Each value's 0-based bin of MATLAB's imhist with nbins bins (integers by value where the bins are the
    class's levels, else scaled over the class's range; floating point over [0, 1])."""
    if plane.dtype == bool:
        return plane.astype(np.int64) * (nbins - 1)
    if plane.dtype.kind in "iu":
        info = np.iinfo(plane.dtype)
        x = plane.astype(np.float64) - info.min
        if nbins == int(info.max) - int(info.min) + 1:
            return x.astype(np.int64)
        return np.floor(x / (float(info.max) - info.min) * (nbins - 1) + 0.5).astype(np.int64)
    x = np.clip(np.nan_to_num(plane.astype(np.float64)), 0, 1)
    return np.floor(x * (nbins - 1) + 0.5).astype(np.int64)


def stretchlim(I, tol=None):
    """``lowhigh = stretchlim(I[, tol])``: see the module's docstring (a 2 x 1 column, 2 x 3 for RGB)."""
    fn = "stretchlim"
    a = _numeric(fn, I, "an image")
    if a.ndim not in (2, 3):
        raise ConfigError(f"{fn}: expected an M x N or M x N x C image, received shape {list(a.shape)}")
    if tol is None:
        low, high = 0.01, 0.99
    else:
        t = as_vector(tol)
        if t is None:
            raise ConfigError(f"{fn}: tol is a fraction or [low_frac high_frac], received {shown(tol)}")
        if t.size == 1:
            low, high = float(t[0]), 1 - float(t[0])
        elif t.size == 2:
            low, high = float(t[0]), float(t[1])
        else:
            raise ConfigError(f"{fn}: tol is a fraction or [low_frac high_frac], received {shown(tol)}")
        if not (0 <= low <= 1 and 0 <= high <= 1):
            raise ConfigError(f"{fn}: tol must lie in [0, 1], received {shown(tol)}")
    planes = [a] if a.ndim == 2 else [a[..., c] for c in range(a.shape[2])]
    nbins = _bins(a)
    out = np.zeros((2, len(planes)))
    if low >= high:  # no pixel would be left between the limits: MATLAB returns [0; 1]
        return out + np.array([[0.0], [1.0]])
    for c, plane in enumerate(planes):
        counts = np.bincount(_bin_index(plane, nbins).ravel(), minlength=nbins)
        cdf = np.cumsum(counts) / max(counts.sum(), 1)
        ilow = int(np.argmax(cdf > low))
        ihigh = int(np.argmax(cdf >= high))
        out[:, c] = [0, nbins - 1] if ilow == ihigh else [ilow, ihigh]
    return out / (nbins - 1)


def _limits(fn, name, value, channels):
    v = as_vector(value)
    if v is None:
        raise ConfigError(f"{fn}: {name} must be numbers, received {shown(value)}")
    if v.size == 0:
        return None
    v = np.tile(v.reshape(2, 1), (1, channels)) if v.size == 2 else v.reshape(np.shape(value))
    if v.shape != (2, channels) or np.any(v < 0) or np.any(v > 1):
        raise ConfigError(f"{fn}: {name} must be [low high] in [0, 1] (2 x 3 for an RGB image), received "
                          f"{shown(value)}")
    return v


def imadjust(I, low_high_in=(), low_high_out=(), gamma=1.0):
    """``J = imadjust(I[, [low_in high_in], [low_out high_out], gamma])``: see the module's docstring."""
    fn = "imadjust"
    a = _numeric(fn, I, "an image")
    if a.dtype == bool:
        raise ConfigError(f"{fn}: expected a grey or RGB image of numbers, received a logical image")
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[2] != 3):
        raise ConfigError(f"{fn}: expected a grey (M x N) or RGB (M x N x 3) image, received shape {list(a.shape)}")
    channels = 1 if a.ndim == 2 else 3
    lin = _limits(fn, "[low_in high_in]", low_high_in, channels)
    lin = stretchlim(a) if lin is None else lin
    lout = _limits(fn, "[low_out high_out]", low_high_out, channels)
    lout = np.tile(np.array([[0.0], [1.0]]), (1, channels)) if lout is None else lout
    g = number(fn, "gamma", gamma, low=0, low_open=True)
    if a.dtype.kind in "ui" and a.dtype != bool:
        info = np.iinfo(a.dtype)
        x = (a.astype(np.float64) - info.min) / (float(info.max) - info.min)
    else:
        x = a.astype(np.float64)
    planes = [x] if channels == 1 else [x[..., c] for c in range(3)]
    out = []
    for c, p in enumerate(planes):
        lo, hi = lin[:, c]
        if hi <= lo:
            raise ConfigError(f"{fn}: low_in must be below high_in, received {lo:g} and {hi:g}")
        t = (np.clip(p, lo, hi) - lo) / (hi - lo)
        out.append(t ** g * (lout[1, c] - lout[0, c]) + lout[0, c])
    y = out[0] if channels == 1 else np.stack(out, axis=-1)
    if a.dtype.kind in "ui" and a.dtype != bool:
        info = np.iinfo(a.dtype)
        return _to_integer_class(y * (float(info.max) - info.min) + info.min, a.dtype)
    return y.astype(a.dtype) if a.dtype.kind == "f" else y


def histeq(I, n_or_hgram=64, nargout=None):
    """``J = histeq(I[, n | hgram])`` / ``J, T = histeq(..., nargout=2)``: see the module's docstring."""
    from leuknet.matlab.conventions import outputs
    from leuknet.matlab.images import im2uint16

    fn = "histeq"
    a = _numeric(fn, I, "a grey image")
    if a.dtype == bool or a.dtype.name not in ("uint8", "uint16", "int16", "float32", "float64"):
        raise ConfigError(f"{fn}: the image's class must be uint8, uint16, int16, single or double, received "
                          f"{a.dtype.name}")
    if np.ndim(n_or_hgram) > 1 and min(np.shape(n_or_hgram)) > 1:
        raise ConfigError(f"{fn}: indexed images, histeq(X, map), are not provided; the second argument is a number "
                          "of levels or a target histogram (a vector)")
    spec = as_vector(n_or_hgram)
    if spec is None or spec.size == 0 or np.any(spec < 0) or not np.all(np.isfinite(spec)):
        raise ConfigError(f"{fn}: the second argument is a number of levels n or a target histogram hgram, "
                          f"received {shown(n_or_hgram)}")
    if spec.size == 1:
        levels = int(spec[0])
        if levels < 1 or levels != spec[0]:
            raise ConfigError(f"{fn}: n (the number of levels) must be a positive integer, received {spec[0]:g}")
        target = np.full(levels, a.size / levels)
    else:
        if spec.sum() == 0:
            raise ConfigError(f"{fn}: the target histogram hgram must not be all zeros")
        target = spec * (a.size / spec.sum())
    if a.dtype == np.int16:
        J, T = histeq(im2uint16(a), target if spec.size > 1 else levels, nargout=2)
        return outputs(fn, ((J.astype(np.int32) - 32768).astype(np.int16), T), nargout)
    counts = np.bincount(_bin_index(a, 256).ravel(), minlength=256).astype(np.float64)
    cum_in = np.cumsum(counts)
    counts[[0, -1]] = 0  # MathWorks zeroes the end bins' half-counts
    cum_target = np.cumsum(target)
    err = cum_target[:, None] - cum_in[None, :] + counts[None, :] / 2
    err[err < -a.size * np.sqrt(np.finfo(float).eps)] = a.size
    with np.errstate(invalid="ignore"):  # one level: MATLAB's (T - 1) / (n - 1) is 0 / 0 = NaN
        T = np.argmin(err, axis=0) / (len(target) - 1.0)  # argmin: the first of equal minima, as MATLAB's min
    if a.dtype == np.uint8:  # (MATLAB's uint8(NaN), where n = 1 makes T NaN, is 0)
        J = _to_integer_class(255.0 * T[a.astype(np.int64)], np.uint8)
    elif a.dtype == np.uint16:
        index = np.ceil(a.astype(np.float64) * 255 / 65535 + 0.5).astype(np.int64) - 1
        J = _to_integer_class(65535.0 * T[index], np.uint16)
    else:
        x = a.astype(np.float64)
        index = np.floor(np.clip(np.nan_to_num(x), 0, 1) * 255 + 0.5).astype(np.int64)
        J = T[index].astype(a.dtype)
    return outputs(fn, (J, T), nargout)


def medfilt2(A, *args):
    """``B = medfilt2(A[, [m n]][, padopt])``: see the module's docstring."""
    from scipy.ndimage import rank_filter

    fn = "medfilt2"
    a = _numeric(fn, A, "an image")
    if a.ndim != 2:
        raise ConfigError(f"{fn}: expected a 2-D image, received shape {list(a.shape)}; filter each channel alone")
    size, pad = (3, 3), "zeros"
    for v in args:
        if isinstance(v, str):
            pad = choice(fn, "the padding", v, ("zeros", "symmetric", "indexed"))
        else:
            s = as_vector(v)
            if s is None or s.size != 2 or np.any(s < 1) or np.any(s != np.round(s)):
                raise ConfigError(f"{fn}: the neighbourhood is [m n] (positive integers), received {shown(v)}")
            size = (int(s[0]), int(s[1]))
    if a.size == 0:
        return a.copy()
    m, n = size
    # ordfilt2's centre is floor((size + 1) / 2): one before SciPy's for an even size
    origin = ((m + 1) // 2 - 1 - m // 2, (n + 1) // 2 - 1 - n // 2)
    mode, cval = ("reflect", 0) if pad == "symmetric" else ("constant", 1 if (pad == "indexed" and
                                                                               a.dtype == np.float64) else 0)
    work = a.view(np.uint8) if a.dtype == bool else a

    def order(k):  # the k-th smallest (0-based) of each window
        return rank_filter(work, k, size=size, mode=mode, cval=cval, origin=origin)

    k = m * n
    if k % 2:
        out = order((k + 1) // 2 - 1)
        return out.astype(bool) if a.dtype == bool else out
    lo, hi = order(k // 2 - 1), order(k // 2)
    if a.dtype == bool:
        return (lo | hi).astype(bool)
    mean = 0.5 * lo.astype(np.float64) + 0.5 * hi.astype(np.float64)  # imlincomb: in double, rounded once
    return _to_integer_class(mean, a.dtype) if a.dtype.kind in "ui" else mean.astype(a.dtype)


def bwperim(BW, conn=4):
    """``BW2 = bwperim(BW[, conn])``: see the module's docstring."""
    from leuknet.matlab.binary import _binary, _conn

    fn = "bwperim"
    a = _binary(fn, BW, nonzero=True)
    structure = _conn(fn, conn)
    padded = np.pad(a, 1)
    interior = np.ones_like(a)
    for dr, dc in np.argwhere(structure) - 1:
        interior &= padded[1 + dr:1 + dr + a.shape[0], 1 + dc:1 + dc + a.shape[1]]
    return a & ~interior


_COLOURS = {"yellow": (1, 1, 0), "y": (1, 1, 0), "red": (1, 0, 0), "r": (1, 0, 0), "green": (0, 1, 0),
            "g": (0, 1, 0), "blue": (0, 0, 1), "b": (0, 0, 1), "cyan": (0, 1, 1), "c": (0, 1, 1),
            "magenta": (1, 0, 1), "m": (1, 0, 1), "white": (1, 1, 1), "w": (1, 1, 1), "black": (0, 0, 0),
            "k": (0, 0, 0)}


def imoverlay(A, BW, color=(1, 1, 0)):
    """``B = imoverlay(A, BW[, color])``: see the module's docstring."""
    from leuknet.matlab.binary import _binary
    from leuknet.matlab.images import im2uint8

    fn = "imoverlay"
    a = _numeric(fn, A, "an image")
    mask = _binary(fn, BW, nonzero=True)
    if a.shape[:2] != mask.shape or a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[2] != 3):
        raise ConfigError(f"{fn}: the mask must be the image's size; received image {list(a.shape)} and mask "
                          f"{list(mask.shape)}")
    if isinstance(color, str):
        rgb = np.array(_COLOURS[choice(fn, "the colour", color, tuple(_COLOURS))], np.float64)
    else:
        rgb = as_vector(color)
        if rgb is None or rgb.size != 3 or np.any(rgb < 0) or np.any(rgb > 1):
            raise ConfigError(f"{fn}: a colour is a name or an RGB triple in [0, 1], received {shown(color)}")
    if a.dtype.kind not in "buf" and a.dtype != np.uint16 and a.dtype != np.int16:
        raise ConfigError(f"{fn}: the image's class must be logical, uint8, uint16, int16, single or double, "
                          f"received {a.dtype.name}")
    img = im2uint8(a)
    out = np.repeat(img[..., None], 3, axis=2) if img.ndim == 2 else img.copy()
    out[mask] = _to_integer_class(rgb * 255, np.uint8)
    return out


def labeloverlay(A, L, *args, **kwargs):
    """``B = labeloverlay(A, L | BW | C, name-value...)``: see the module's docstring."""
    from leuknet.matlab.conventions import note
    from leuknet.matlab.display import jet
    from leuknet.matlab.images import im2single

    fn = "labeloverlay"
    a = _numeric(fn, A, "an image")
    if a.size == 0:
        raise ConfigError(f"{fn}: the image A is empty")
    if a.dtype.name not in ("uint8", "uint16", "int16", "float32", "float64") or a.ndim not in (2, 3) or (
            a.ndim == 3 and a.shape[2] != 3):
        raise ConfigError(f"{fn}: A must be a grey or RGB image of class uint8, uint16, int16, single or double, "
                          f"received {a.dtype.name} of shape {list(a.shape)}")
    if hasattr(L, "categories") and hasattr(L, "codes"):  # a categorical: category k is label k
        labels = np.asarray(L.codes, np.float64) + 1  # undefined (-1) is 0: not coloured
        if labels.size == a.shape[0] * a.shape[1]:
            labels = labels.reshape(a.shape[:2])  # categorical(M x N names) keeps the names in row-major order
        max_label = len(L.categories)
        names = list(L.categories)
    else:
        labels = np.asarray(L, np.float64) if not isinstance(L, str) else np.zeros(0)
        names = None
        if labels.shape != a.shape[:2] or np.any(labels < 0) or np.any(labels != np.round(labels)):
            raise ConfigError(f"{fn}: L must be a label matrix (non-negative integers), a mask or a categorical "
                              f"the image's size {list(a.shape[:2])}")
        max_label = int(labels.max()) if labels.size else 0
    if labels.shape != a.shape[:2]:
        raise ConfigError(f"{fn}: the labels must be the image's size {list(a.shape[:2])}, received "
                          f"{list(labels.shape)}")
    o = options_only(fn, args, kwargs, {"Colormap": "jet", "Transparency": 0.5, "IncludedLabels": None})
    t = number(fn, "Transparency", o["Transparency"], low=0, high=1)
    cmap = o["Colormap"]
    if isinstance(cmap, str):
        if cmap.lower() != "jet":
            raise ConfigError(f"{fn}: a colormap name other than 'jet' is not provided; pass an M x 3 matrix")
        note(f"{fn}: MATLAB shuffles its default jet colormap with its own random numbers (randperm under "
             "rng('default')); leuknet's shuffle is fixed but different, so the colours differ from MATLAB's")
        cmap = jet(max(max_label, 1))[np.random.default_rng(0).permutation(max(max_label, 1))]
    else:
        flat = as_vector(cmap)
        cmap = flat.reshape(np.shape(o["Colormap"])) if flat is not None else np.zeros((0, 0))
        if cmap.ndim != 2 or cmap.shape[1] != 3 or cmap.shape[0] < max_label or np.any(cmap < 0) or np.any(cmap > 1):
            raise ConfigError(f"{fn}: Colormap must be an M x 3 matrix in [0, 1] with a row per label "
                              f"({max_label}), received shape {list(cmap.shape)}")
    included = o["IncludedLabels"]
    if included is None:
        included = np.arange(1, max_label + 1)
    elif names is not None and all(isinstance(v, str) for v in np.ravel(included)):
        missing = [v for v in np.ravel(included) if v not in names]
        if missing:
            raise ConfigError(f"{fn}: IncludedLabels names categories the labels do not have: {missing}")
        included = np.array([names.index(v) + 1 for v in np.ravel(included)])
    else:
        included = as_vector(included)
        if included is None or np.any(included < 1) or np.any(included > max_label):
            raise ConfigError(f"{fn}: IncludedLabels are labels in 1..{max_label}, received {shown(o['IncludedLabels'])}")
    img = im2single(a).astype(np.float64)
    rgb = np.repeat(img[..., None], 3, axis=2) if img.ndim == 2 else img.copy()
    chosen = np.isin(labels, included) & (labels > 0)
    colours = cmap[labels[chosen].astype(np.int64) - 1]
    rgb[chosen] = (1 - t) * colours + t * rgb[chosen]
    return _to_integer_class(np.clip(rgb, 0, 1) * 255, np.uint8)
