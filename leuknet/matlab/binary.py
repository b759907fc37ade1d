"""MATLAB's global thresholding and binary-image clean-up, as cell-segmentation scripts use them before cropping a
cell for a network: ``graythresh``, ``otsuthresh``, ``imbinarize``, ``imfill(BW, 'holes')``, ``bwareaopen``,
``bwlabel``.

- ``level = graythresh(I)`` (https://www.mathworks.com/help/images/ref/graythresh.html): Otsu's threshold of the
  image's 256-bin histogram (``im2uint8`` first), in [0, 1]: ``otsuthresh(counts)``, the between-class variance
  ``(mu_t omega - mu)^2 / (omega (1 - omega))`` maximised over the bins, the mean of the bins that reach the
  maximum where several do, ``T = (k - 1) / (bins - 1)``; 0 where the variance is nowhere finite (a flat image):
  MathWorks' graythresh.m/otsuthresh.m, line for line (copies of it are in public repositories).
- ``BW = imbinarize(I)`` (global, Otsu) or ``imbinarize(I, T)`` (T in [0, 1] of the class's range): the pixels
  above the threshold, as logical (https://www.mathworks.com/help/images/ref/imbinarize.html). 'adaptive' is
  refused (its local statistics are not reproduced).
- ``BW2 = imfill(BW, 'holes')`` (https://www.mathworks.com/help/images/ref/imfill.html; in segmentation.py, beside
  the reconstruction its grey form uses): background pixels that
  cannot be reached from the border through 4-connected background become 1 (``conn`` 8 gives 8-connected
  background). A numeric image is grey, as MATLAB's class decides: ``I2 = imfill(I[, conn][, 'holes'])`` raises
  every dark region the border cannot reach to its surroundings' level (the complement reconstructed from the
  border, complemented back). Fill locations and interactive filling are refused.
- ``BW2 = bwareaopen(BW, P)`` / ``bwareaopen(BW, P, conn)``: components (8-connected by default) of fewer than P
  pixels removed (https://www.mathworks.com/help/images/ref/bwareaopen.html); as for bwlabel, a numeric image's
  nonzero pixels are its foreground.
- ``L = bwlabel(BW)`` / ``L, n = bwlabel(BW, conn, nargout=2)``: components (8-connected by default) numbered
  1..n in MATLAB's column-major order (the component of the first pixel down the first column is 1), a double
  matrix (https://www.mathworks.com/help/images/ref/bwlabel.html).
"""

from __future__ import annotations

import numpy as np

from leuknet.errors import ConfigError
from leuknet.matlab.conventions import outputs

__all__ = ["bwareaopen", "bwlabel", "graythresh", "imbinarize", "otsuthresh"]


def _grey(fn, I):
    a = np.asarray(I)
    if a.ndim != 2 or a.dtype.kind not in "buif":
        raise ConfigError(f"{fn}: expected a grey image (M x N numbers), received {a.dtype.name} of shape "
                          f"{list(a.shape)}; convert a colour image with rgb2gray first")
    return a


def _binary(fn, BW, nonzero=False):
    """A 2-D logical image. ``nonzero``: any nonzero number is 1 (MATLAB's bwlabel, bwareaopen, bwconncomp,
    bwperim); otherwise numbers other than 0 and 1 are refused (where MATLAB would do a grey operation)."""
    a = np.asarray(BW)
    if a.ndim != 2:
        raise ConfigError(f"{fn}: expected a 2-D binary image, received shape {list(a.shape)}")
    if a.dtype != bool:
        if a.dtype.kind not in "buif" or (a.dtype.kind == "f" and np.isnan(a).any()):
            raise ConfigError(f"{fn}: expected a binary image (logical, or numbers), received {a.dtype.name}"
                              f"{' with NaN' if a.dtype.kind == 'f' else ''}")
        if not nonzero and not np.all((a == 0) | (a == 1)):
            raise ConfigError(f"{fn}: expected a binary image (logical, or 0s and 1s), received {a.dtype.name} "
                              "values other than 0 and 1")
        a = a != 0
    return a


def _conn(fn, conn):
    if conn not in (4, 8):
        raise ConfigError(f"{fn}: connectivity must be 4 or 8 for a 2-D image, received {conn!r}")
    return np.ones((3, 3), bool) if conn == 8 else np.array([[0, 1, 0], [1, 1, 1], [0, 1, 0]], bool)


def otsuthresh(counts):
    """``T = otsuthresh(counts)``: Otsu's threshold of a histogram, in [0, 1] (see the module's docstring)."""
    c = np.asarray(counts, np.float64).ravel()
    if c.size < 2 or np.any(c < 0) or not np.all(np.isfinite(c)):
        raise ConfigError("otsuthresh: counts must be at least two finite, non-negative numbers")
    total = c.sum()
    if total == 0:
        return 0.0
    p = c / total
    omega = np.cumsum(p)
    mu = np.cumsum(p * np.arange(1, c.size + 1))
    with np.errstate(divide="ignore", invalid="ignore"):
        sigma = (mu[-1] * omega - mu) ** 2 / (omega * (1 - omega))
    finite = np.isfinite(sigma)
    if not finite.any():
        return 0.0
    best = np.max(sigma[finite])
    k = np.mean(np.flatnonzero(finite & (sigma == best)) + 1)  # 1-based bins, the mean where several tie
    return float((k - 1) / (c.size - 1))


def graythresh(I):
    """``level = graythresh(I)``: see the module's docstring."""
    from leuknet.matlab.images import im2uint8

    a = _grey("graythresh", I)
    counts = np.bincount(np.asarray(im2uint8(a)).ravel(), minlength=256)
    return otsuthresh(counts)


def imbinarize(I, method="global", *args):
    """``BW = imbinarize(I)``, ``imbinarize(I, 'global')``, ``imbinarize(I, T)``: see the module's docstring."""
    fn = "imbinarize"
    a = _grey(fn, I)
    if args:
        raise ConfigError(f"{fn}: leuknet takes imbinarize(I), imbinarize(I, 'global') or imbinarize(I, T); "
                          f"received {len(args)} more argument(s)")
    if isinstance(method, str):
        if method.lower() == "adaptive":
            raise ConfigError(f"{fn}: the 'adaptive' method is not provided (its local statistics are not "
                              "reproduced); use the global threshold, imbinarize(I) or imbinarize(I, T)")
        if method.lower() != "global":
            raise ConfigError(f"{fn}: the method is 'global' or a threshold T in [0, 1], received {method!r}")
        level = graythresh(a)
    else:
        level = float(method)
        if not 0 <= level <= 1:
            raise ConfigError(f"{fn}: a threshold T is in [0, 1], received {method!r}")
    if a.dtype == bool:
        return a.copy() if level < 1 else np.zeros_like(a)
    if a.dtype.kind in "ui" and a.dtype.kind != "b":
        info = np.iinfo(a.dtype)
        return a.astype(np.float64) > info.min + level * (float(info.max) - info.min)
    return a > level


def _border_marker(a, inside):
    """``a`` on the image's border, ``inside`` within: the marker of a reconstruction from the border."""
    marker = np.full(a.shape, inside, dtype=a.dtype)
    marker[0], marker[-1], marker[:, 0], marker[:, -1] = a[0], a[-1], a[:, 0], a[:, -1]
    return marker


def _extremes(a):
    """The lowest and highest values of a's class (False/True, -Inf/Inf, the integer class's range)."""
    if a.dtype == bool:
        return False, True
    if a.dtype.kind == "f":
        return -np.inf, np.inf
    info = np.iinfo(a.dtype)
    return info.min, info.max


def label_column_major(fn, BW, conn):
    """The components of a logical image (4- or 8-connected) numbered 1..n in MATLAB's column-major order of
    their first pixel, as an int64 matrix, and n."""
    from scipy.ndimage import label

    raw, count = label(BW, structure=_conn(fn, conn))
    firsts = raw.T.ravel()
    order = list(dict.fromkeys(firsts[firsts > 0].tolist()))
    remap = np.zeros(count + 1, np.int64)
    remap[order] = np.arange(1, count + 1)
    return remap[raw], int(count)


def bwlabel(BW, n=8, nargout=None):
    """``L = bwlabel(BW)`` / ``[L, num] = bwlabel(BW, n)``: see the module's docstring."""
    fn = "bwlabel"
    L, count = label_column_major(fn, _binary(fn, BW, nonzero=True), n)
    return outputs(fn, (L.astype(np.float64), float(count)), nargout)


def bwareaopen(BW, P, conn=8):
    """``BW2 = bwareaopen(BW, P)`` / ``bwareaopen(BW, P, conn)``: see the module's docstring."""
    from scipy.ndimage import label

    fn = "bwareaopen"
    if isinstance(P, bool) or not float(P).is_integer() or P < 0:
        raise ConfigError(f"{fn}: P (the smallest area kept, in pixels) must be a non-negative integer, received "
                          f"{P!r}")
    a = _binary(fn, BW, nonzero=True)
    raw, count = label(a, structure=_conn(fn, conn))
    sizes = np.bincount(raw.ravel(), minlength=count + 1)
    keep = sizes >= int(P)
    keep[0] = False
    return keep[raw]
