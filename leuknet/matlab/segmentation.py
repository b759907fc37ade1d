"""Splitting touching cells: MATLAB's distance transform, regional minima and watershed, as segmentation scripts
chain them (``D = -bwdist(~BW); D(~BW) = -Inf; L = watershed(D); BW(L == 0) = 0``): ``bwdist``,
``imregionalmin``, ``imregionalmax``, ``watershed``.

- ``D = bwdist(BW[, method])`` and ``D, IDX = bwdist(..., nargout=2)``
  (https://www.mathworks.com/help/images/ref/bwdist.html): each pixel's distance to the nearest nonzero pixel,
  'euclidean' (exact, the default), 'cityblock' or 'chessboard', as single (MATLAB's class); ``IDX`` the nearest
  nonzero pixel's 0-based column-major index (``BW.T.flat[IDX]`` reads it; where several are equally near, the one
  picked may differ from MATLAB's). With no nonzero pixel the distances are Inf. 'quasi-euclidean' is refused.
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

Checked against Octave (bwdist's distances, imregionalmin, watershed on random images and on the MATLAB results
in Octave's tests) and SciPy's exact Euclidean distance transform.
"""

from __future__ import annotations

import heapq

import numpy as np

from leuknet.errors import ConfigError
from leuknet.matlab.conventions import choice, outputs, shown

__all__ = ["bwdist", "imregionalmax", "imregionalmin", "watershed"]


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
        return outputs(fn, (np.full(a.shape, np.inf, np.float32), np.zeros(a.shape, np.int64)), nargout)
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
    negated = -a.astype(np.float64) if a.dtype.kind != "f" else -a
    return _regional_minima(negated, _conn("imregionalmax", conn))


def watershed(A, conn=8):
    """``L = watershed(A[, conn])``: see the module's docstring."""
    from leuknet.matlab.regions import _labels_column_major

    from leuknet.matlab.conventions import note

    fn = "watershed"
    a = _grey(fn, A)
    conn = _conn(fn, conn)
    note(f"{fn}: Meyer's flooding as GNU Octave implements it to match MATLAB; on some ties MATLAB's watershed "
         "lines differ by a pixel or two (docs/matlab.md)")
    values = a.astype(np.float64)
    L, _ = _labels_column_major(fn, _regional_minima(a, conn), conn)
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
