"""Splitting touching cells: MATLAB's distance transform, regional minima and watershed, as segmentation scripts
chain them (``D = -bwdist(~BW); D(~BW) = -Inf; L = watershed(D); BW(L == 0) = 0``): ``bwdist``,
``imregionalmin``, ``imregionalmax``, ``watershed``.

- ``D = bwdist(BW[, method])`` and ``D, IDX = bwdist(..., nargout=2)``
  (https://www.mathworks.com/help/images/ref/bwdist.html): each pixel's distance to the nearest nonzero pixel,
  'euclidean' (exact, the default), 'cityblock' or 'chessboard', as single (MATLAB's class); ``IDX`` the nearest
  nonzero pixel's 0-based column-major index (``BW.T.flat[IDX]`` reads it; where several are equally near, the one
  picked may differ from MATLAB's). With no nonzero pixel the distances are Inf and IDX -1 (MATLAB's 0, "none").
  'quasi-euclidean' is refused.
- ``BW = imregionalmin(I[, conn])`` / ``imregionalmax``: the regional minima (maxima): connected plateaus
  (8-connected by default) whose every outside neighbour is higher (lower)
  (https://www.mathworks.com/help/images/ref/imregionalmin.html).
- ``L = watershed(A[, conn])`` (https://www.mathworks.com/help/images/ref/watershed.html): Meyer's flooding as
  GNU Octave's image package implements it to match MATLAB (its comments cite MATLAB's results): the regional
  minima labelled 1..n down the columns, their neighbours queued by grey level (first in, first out within a
  level), a pixel taking the label of its labelled neighbours where they all agree and becoming a watershed line
  (0) where they do not; L is double. Octave's test suite records one 3 x 7 image where MATLAB's lines differ
  from this algorithm's (a ridge through plateaus of the flooding order); leuknet agrees with Octave there, not
  with MATLAB. The flooding runs in Python, about 1 s per 100,000 pixels.

- ``J = imreconstruct(marker, mask[, conn])`` (https://www.mathworks.com/help/images/ref/imreconstruct.html):
  morphological reconstruction by dilation, the marker dilated (8-connected by default) and kept under the mask
  until nothing changes; binary or grey (a marker above the mask is held under it), computed level by level
  (the components of each threshold of the mask that hold a marker pixel) where there are up to 1024 grey levels.
- ``imhmin(I, H[, conn])`` / ``imhmax``: minima shallower (maxima lower) than H suppressed (MathWorks' imhmin.m:
  ``imcomplement(imreconstruct(imcomplement(I) - H, imcomplement(I)))``; imhmax ``imreconstruct(I - H, I)``; in
  the class's arithmetic, rounded and saturated for integers; logical and 64-bit integer images refused); ``imextendedmin(I, H)`` / ``imextendedmax``: the
  regional minima (maxima) of that; ``imimposemin(I, BW[, conn])``: I modified so that its only regional minima
  are BW's pixels (MathWorks' imimposemin.m: the marker -Inf on BW and Inf elsewhere, min(I + h, marker) with h 1
  for integer classes and 0.1 % of the range for floating point, reconstructed by erosion). MathWorks'
  marker-controlled watershed: ``D2 = imimposemin(D, imextendedmin(D, 2)); L = watershed(D2)``.

- ``BW2 = imfill(BW, 'holes')`` / ``imfill(BW, conn, 'holes')`` and ``I2 = imfill(I[, conn])``
  (https://www.mathworks.com/help/images/ref/imfill.html): here, beside the reconstruction it uses; described
  with the other binary clean-up in binary.py's docstring.

Connectivity is 4 or 8 (a 3 x 3 connectivity matrix is refused).

Checked against Octave (bwdist's distances, imregionalmin, watershed on random images and on the MATLAB results
in Octave's tests; imreconstruct, imhmin, imhmax, imextendedmin, imextendedmax and imimposemin on uint8, uint16,
int16 and double images, non-integer H).
"""

from __future__ import annotations

import heapq

import numpy as np

from leuknet.errors import ConfigError
from leuknet.matlab.conventions import choice, outputs, shown

__all__ = ["bwdist", "imextendedmax", "imextendedmin", "imfill", "imhmax", "imhmin", "imimposemin",
           "imreconstruct", "imregionalmax", "imregionalmin", "watershed"]


def _conn(fn, conn):
    if isinstance(conn, bool) or np.ndim(conn) != 0 or conn not in (4, 8):
        raise ConfigError(f"{fn}: connectivity must be 4 or 8 for a 2-D image, received {shown(conn)}")
    return int(conn)


def _offsets(conn):
    """Neighbour offsets (row, column) in column-major order of the 3 x 3 neighbourhood, centre left out."""
    offs = [(dr, dc) for dc in (-1, 0, 1) for dr in (-1, 0, 1) if (dr, dc) != (0, 0)]
    return offs if conn == 8 else [(dr, dc) for dr, dc in offs if dr == 0 or dc == 0]


def bwdist(BW, method="euclidean", nargout=None):
    """``D = bwdist(BW[, method])`` / ``D, IDX = bwdist(..., nargout=2)``: see the module's docstring."""
    from scipy.ndimage import distance_transform_cdt, distance_transform_edt

    from leuknet.matlab.binary import _binary

    fn = "bwdist"
    a = _binary(fn, BW, nonzero=True)
    if isinstance(method, str) and method.lower().startswith("quasi"):
        raise ConfigError(f"{fn}: 'quasi-euclidean' (MATLAB's chamfer approximation) is not provided; 'euclidean' "
                          "is exact")
    method = choice(fn, "the method", method, ("euclidean", "cityblock", "chessboard"))
    if not a.any():  # no nonzero pixel: MATLAB gives Inf everywhere
        return outputs(fn, (np.full(a.shape, np.inf, np.float32), np.full(a.shape, -1, np.int64)), nargout)
    if method == "euclidean":
        D, ind = distance_transform_edt(~a, return_indices=True)
    else:
        D, ind = distance_transform_cdt(~a, metric="taxicab" if method == "cityblock" else "chessboard",
                                        return_indices=True)
    IDX = ind[1] * a.shape[0] + ind[0]  # column-major, 0-based
    return outputs(fn, (D.astype(np.float32), IDX.astype(np.int64)), nargout)


def _grey(fn, I):
    a = np.asarray(I)
    if a.ndim != 2 or a.dtype.kind not in "buif" or a.size == 0:
        raise ConfigError(f"{fn}: expected a non-empty 2-D grey image, received {a.dtype.name} of shape "
                          f"{list(a.shape)}")
    if a.dtype.kind == "f" and np.isnan(a).any():
        raise ConfigError(f"{fn}: the image holds NaN")
    return a


def _regional_minima(a, conn):
    """Plateaus (equal-valued connected pixels) with no lower neighbour."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    m, n = a.shape
    index = np.arange(m * n).reshape(m, n)
    lower = np.zeros((m, n), bool)
    rows, cols = [], []
    for dr, dc in _offsets(conn):
        r0, r1 = max(0, -dr), m - max(0, dr)
        c0, c1 = max(0, -dc), n - max(0, dc)
        here = a[r0:r1, c0:c1]
        there = a[r0 + dr:r1 + dr, c0 + dc:c1 + dc]
        lower[r0:r1, c0:c1] |= there < here
        same = here == there
        rows.append(index[r0:r1, c0:c1][same])
        cols.append(index[r0 + dr:r1 + dr, c0 + dc:c1 + dc][same])
    r, c = np.concatenate(rows), np.concatenate(cols)
    graph = coo_matrix((np.ones(len(r), bool), (r, c)), shape=(m * n, m * n))
    _, plateau = connected_components(graph, directed=False)
    spoiled = np.bincount(plateau, weights=lower.ravel().astype(float), minlength=plateau.max() + 1) > 0
    return ~spoiled[plateau].reshape(m, n)


def imregionalmin(I, conn=8):
    """``BW = imregionalmin(I[, conn])``: see the module's docstring."""
    return _regional_minima(_grey("imregionalmin", I), _conn("imregionalmin", conn))


def imregionalmax(I, conn=8):
    """``BW = imregionalmax(I[, conn])``: the regional minima of the negated image."""
    a = _grey("imregionalmax", I)
    _refuse_64_bit("imregionalmax", a)
    negated = -a.astype(np.float64) if a.dtype.kind != "f" else -a
    return _regional_minima(negated, _conn("imregionalmax", conn))


def watershed(A, conn=8):
    """``L = watershed(A[, conn])``: see the module's docstring."""
    from leuknet.matlab.binary import label_column_major

    from leuknet.matlab.conventions import note

    fn = "watershed"
    a = _grey(fn, A)
    conn = _conn(fn, conn)
    note(f"{fn}: Meyer's flooding as GNU Octave implements it to match MATLAB; on some ties MATLAB's watershed "
         "lines differ by a pixel or two (docs/matlab.md)")
    values = a.astype(np.float64)
    L, _ = label_column_major(fn, _regional_minima(a, conn), conn)
    m, n = a.shape
    # a frame of one pixel: its pixels are never queued nor labelled
    label = np.zeros((m + 2, n + 2), np.int64)
    label[1:-1, 1:-1] = L
    queued = np.ones((m + 2, n + 2), bool)
    queued[1:-1, 1:-1] = L > 0
    grey = np.zeros((m + 2, n + 2))
    grey[1:-1, 1:-1] = values
    offsets = _offsets(conn)
    heap, pos = [], 0
    for c in range(1, n + 1):  # column-major, as Octave walks the padded array
        for r in range(1, m + 1):
            if label[r, c]:
                for dr, dc in offsets:
                    rr, cc = r + dr, c + dc
                    if not queued[rr, cc]:
                        queued[rr, cc] = True
                        heapq.heappush(heap, (grey[rr, cc], pos, rr, cc))
                        pos += 1
    while heap:
        _, _, r, c = heapq.heappop(heap)
        found, waiting = set(), []
        for dr, dc in offsets:
            rr, cc = r + dr, c + dc
            if label[rr, cc]:
                found.add(label[rr, cc])
            elif not queued[rr, cc]:
                waiting.append((rr, cc))
        if len(found) == 1:
            label[r, c] = found.pop()
            for rr, cc in waiting:
                queued[rr, cc] = True
                heapq.heappush(heap, (grey[rr, cc], pos, rr, cc))
                pos += 1
    return label[1:-1, 1:-1].astype(np.float64)


def _complement(a):
    from leuknet.matlab.images import imcomplement

    return imcomplement(a)


def _neighbourhood(conn):
    from leuknet.matlab.binary import _conn as structure

    return structure("imreconstruct", conn).astype(np.uint8)


def _refuse_64_bit(fn, a):
    if a.dtype.kind in "iu" and a.dtype.itemsize == 8:
        raise ConfigError(f"{fn}: 64-bit integer images are not provided (their complements do not fit a double "
                          "exactly); convert to int32 or double first")


def imreconstruct(marker, mask, conn=8):
    """``J = imreconstruct(marker, mask[, conn])``: see the module's docstring."""
    import cv2
    from scipy.ndimage import label

    fn = "imreconstruct"
    m = np.asarray(marker)
    k = np.asarray(mask)
    if m.shape != k.shape or m.ndim != 2 or m.dtype.kind not in "buif" or k.dtype.kind not in "buif" or m.size == 0:
        raise ConfigError(f"{fn}: marker and mask must be 2-D images of numbers of one size, received "
                          f"{list(m.shape)} and {list(k.shape)}")
    if m.dtype != k.dtype:
        raise ConfigError(f"{fn}: marker and mask must be of one class, received {m.dtype.name} and {k.dtype.name}")
    _refuse_64_bit(fn, m)
    conn = _conn(fn, conn)
    if m.dtype.kind == "f" and (np.isnan(m).any() or np.isnan(k).any()):
        raise ConfigError(f"{fn}: the images hold NaN")
    limit = k.astype(np.float64)
    start = np.minimum(m.astype(np.float64), limit)  # a marker above the mask is held under it
    structure = _neighbourhood(conn).astype(bool)
    levels = np.unique(np.concatenate([np.unique(start), np.unique(limit)]))
    if len(levels) <= 1024:
        # threshold decomposition: at each level t, the components of (mask >= t) that hold a marker pixel >= t
        out = np.full(start.shape, levels[0])
        for t in levels[1:]:
            comps, _ = label(limit >= t, structure=structure)
            seeded = np.unique(comps[start >= t])
            out[np.isin(comps, seeded[seeded > 0])] = t
        work = out
    else:  # many grey levels: geodesic dilations until nothing changes
        work, kernel = start, _neighbourhood(conn)
        while True:
            grown = np.minimum(cv2.dilate(work, kernel, borderType=cv2.BORDER_CONSTANT, borderValue=-np.inf), limit)
            if np.array_equal(grown, work):
                break
            work = grown
    return work.astype(m.dtype) if m.dtype != bool else work.astype(bool)


def _plus(a, h):
    """a + h in a's class (rounded half away from zero and saturated for integers, as MATLAB's arithmetic)."""
    if a.dtype.kind in "ui":
        from leuknet.matlab.images import _to_integer_class

        return _to_integer_class(a.astype(np.float64) + h, a.dtype)
    return (a + h).astype(a.dtype)


def _numeric_grey(fn, I):
    a = _grey(fn, I)
    if a.dtype == bool:
        raise ConfigError(f"{fn}: I must be a grey image of numbers, received a logical image")
    _refuse_64_bit(fn, a)
    return a


def _height(fn, H):
    from leuknet.matlab.conventions import number

    return number(fn, "H", H, low=0, allow_inf=True)


def imhmin(I, H, conn=8):
    """``J = imhmin(I, H[, conn])``: see the module's docstring."""
    fn = "imhmin"
    a = _numeric_grey(fn, I)
    h = _height(fn, H)
    c = _complement(a)  # MathWorks' imhmin.m: imcomplement(imreconstruct(imcomplement(I) - H, imcomplement(I)))
    return _complement(imreconstruct(_plus(c, -h), c, _conn(fn, conn)))


def imhmax(I, H, conn=8):
    """``J = imhmax(I, H[, conn])``: maxima lower than H suppressed (reconstruction of I - H under I)."""
    fn = "imhmax"
    a = _numeric_grey(fn, I)
    h = _height(fn, H)
    return imreconstruct(_plus(a, -h), a, _conn(fn, conn))


def imextendedmin(I, H, conn=8):
    """``BW = imextendedmin(I, H[, conn])``: the regional minima of ``imhmin(I, H)``."""
    conn = _conn("imextendedmin", conn)
    return imregionalmin(imhmin(I, H, conn), conn)


def imextendedmax(I, H, conn=8):
    """``BW = imextendedmax(I, H[, conn])``: the regional maxima of ``imhmax(I, H)``."""
    conn = _conn("imextendedmax", conn)
    return imregionalmax(imhmax(I, H, conn), conn)


def imimposemin(I, BW, conn=8):
    """``J = imimposemin(I, BW[, conn])``: see the module's docstring."""
    from leuknet.matlab.binary import _binary

    fn = "imimposemin"
    a = _numeric_grey(fn, I)
    mask = _binary(fn, BW, nonzero=True)
    if mask.shape != a.shape:
        raise ConfigError(f"{fn}: the marker mask must be the image's size {list(a.shape)}, received "
                          f"{list(mask.shape)}")
    conn = _conn(fn, conn)
    if a.dtype.kind == "f":
        low, high = -np.inf, np.inf
        span = float(a.max() - a.min())
        h = 0.1 if span == 0 else span * 0.001
    else:
        info = np.iinfo(a.dtype) if a.dtype != bool else None
        if info is None:
            raise ConfigError(f"{fn}: I must be a grey image of numbers, received a logical image")
        low, high, h = info.min, info.max, 1
    marker = np.where(mask, low, high).astype(a.dtype)
    with np.errstate(invalid="ignore"):
        g = np.fmin(_plus(a, h), marker)  # MATLAB's min ignores NaN (-Inf + Inf where I holds -Inf)
    return _complement(imreconstruct(_complement(marker), _complement(g), conn))


def imfill(BW, *args):
    """``BW2 = imfill(BW, 'holes')`` / ``imfill(BW, conn, 'holes')`` / ``I2 = imfill(I[, conn])``: see the
    module's docstring."""
    from scipy.ndimage import binary_fill_holes

    from leuknet.matlab.binary import _binary, _border_marker, _conn, _extremes
    from leuknet.matlab.images import imcomplement

    fn = "imfill"
    conn = 4
    rest = list(args)
    if rest and not isinstance(rest[0], str):
        conn = rest.pop(0)
    flags = [r.lower() if isinstance(r, str) else r for r in rest]
    a = np.asarray(BW)
    grey = a.dtype != bool
    if flags not in ([], ["holes"]) or (not grey and flags != ["holes"]):
        raise ConfigError(f"{fn}: leuknet fills holes: imfill(BW, 'holes') or imfill(BW, conn, 'holes') for a "
                          "logical image, imfill(I[, conn]) for a grey one; fill locations and interactive filling "
                          "are not provided")
    structure = _conn(fn, conn)
    if not grey:
        return binary_fill_holes(_binary(fn, a), structure=structure)  # background floods from the border
    if a.ndim != 2 or a.dtype.kind not in "uif" or a.size == 0 or (a.dtype.kind == "f" and np.isnan(a).any()):
        raise ConfigError(f"{fn}: expected a 2-D grey image of numbers, received {a.dtype.name} of shape "
                          f"{list(a.shape)}")
    # MATLAB's grey fill: the complement reconstructed from its border values, complemented back
    mask = imcomplement(a)
    return imcomplement(imreconstruct(_border_marker(mask, _extremes(mask)[0]), mask, conn))
