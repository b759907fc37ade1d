"""MATLAB's k-means clustering, as cell-segmentation scripts use it on L*a*b* colours to separate nuclei,
cytoplasm and background: ``kmeans`` (Statistics and Machine Learning Toolbox) and ``imsegkmeans`` (Image
Processing Toolbox).

- ``idx = kmeans(X, k, 'Replicates', r, 'MaxIter', 100, 'Distance', 'sqeuclidean' | 'cityblock' | 'cosine',
  'Start', 'plus' | 'sample' | 'uniform' | C0, 'EmptyAction', 'singleton' | 'drop' | 'error')`` and
  ``idx, C, sumd, D = kmeans(..., nargout=4)`` (https://www.mathworks.com/help/stats/kmeans.html): Lloyd's batch
  iterations (MATLAB's default, 'OnlinePhase' off) from k-means++ seeds ('plus', the default: the first centre
  drawn uniformly, each next one with probability proportional to the distance to the nearest centre chosen so
  far), as MathWorks' kmeans.m: each point to its nearest centre (a point tied with its own stays), a centre the
  mean (the median for 'cityblock'; for 'cosine' the mean of the unit-length points, normalised inside the
  distance), until no point moves, the total distance stops falling (the last step undone) or MaxIter; an
  emptied cluster takes the point farthest from its centre out of a cluster of two or more ('singleton'), or
  becomes NaN in C, sumd and D ('drop'), or stops the run ('error'); of the replicates the one with the least
  total distance is kept. 'Options' (statset) and the online phase are refused. ``idx`` holds MATLAB's cluster numbers 1..k (a
  label, like bwlabel's: ``X[idx == 1]``); ``sumd`` the within-cluster sums, ``D`` every point's distance to
  every centre. Rows with NaN are left out (idx NaN), as MATLAB's.
- ``L = imsegkmeans(I, k, 'NumAttempts', 3, 'MaxIterations', 100, 'Threshold', 1e-4, 'NormalizeInput', true)``
  and ``L, centers = imsegkmeans(..., nargout=2)`` (https://www.mathworks.com/help/images/ref/imsegkmeans.html):
  the pixels of a grey, colour or M x N x C feature image clustered (each channel standardised first where
  NormalizeInput), k-means++ seeds, iterations until MaxIterations or until no centre moves by more than
  Threshold; classes single, int8, int16, uint8, uint16, as MATLAB's (double refused: ``im2single`` first); L labels 1..k (uint8), centers in the input's units and class (rounded for integer classes).

The draws come from MATLAB's global stream (``rng(seed)`` makes a run repeatable), whose numbers are NumPy's, not
MATLAB's: a MATLAB run and a leuknet run of the same script may number the same clusters differently (pick a
cluster by its centre, as MathWorks' examples do, not by its number). Checked against SciPy's k-means on
separated clusters (the same partition), the Lloyd fixed point (every point nearest its own centre, every centre
its points' mean) and the k-means++ seeding distribution.
"""

from __future__ import annotations

import warnings

import numpy as np

from leuknet.errors import ConfigError
from leuknet.matlab.conventions import boolean, choice, number, options_only, outputs, shown
from leuknet.spec.randstream import generator

__all__ = ["kmeans", "imsegkmeans"]


def _distances(X, C, metric):
    """n x k distances of MATLAB's kmeans: squared Euclidean, city block, or 1 - cosine (clamped at 0); the rows
    of X are already unit length for 'cosine', the centres are normalised here (as MATLAB's distfun)."""
    if metric == "sqeuclidean":
        d = (X ** 2).sum(axis=1)[:, None] - 2 * X @ C.T + (C ** 2).sum(axis=1)[None, :]
        return np.maximum(d, 0)
    if metric == "cityblock":
        return np.stack([np.abs(X - c).sum(axis=1) for c in C], axis=1)
    norms = np.linalg.norm(C, axis=1, keepdims=True)
    return np.maximum(1 - X @ (C / np.where(norms == 0, 1, norms)).T, 0)


def _centre(points, metric):
    """MATLAB's gcentroids: the mean (of the unit-length points for 'cosine'), the median for 'cityblock'."""
    return np.median(points, axis=0) if metric == "cityblock" else points.mean(axis=0)


def _seed(X, k, metric, start, rng):
    n = X.shape[0]
    if start == "sample":
        return X[rng.choice(n, k, replace=False)].copy()
    if start == "uniform":
        lo, hi = X.min(axis=0), X.max(axis=0)
        return lo + rng.random((k, X.shape[1])) * (hi - lo)
    centres = [X[rng.integers(n)]]  # k-means++: the first uniformly, then by distance to the nearest centre
    nearest = _distances(X, np.array(centres), metric)[:, 0]
    for _ in range(1, k):
        total = nearest.sum()
        pick = rng.integers(n) if total <= 0 else rng.choice(n, p=nearest / total)
        centres.append(X[pick])
        nearest = np.minimum(nearest, _distances(X, X[pick][None, :], metric)[:, 0])
    return np.array(centres, dtype=np.float64)


def _own(D, idx):
    return D[np.arange(len(idx)), idx]


def _batch(X, C, metric, max_iter, empty, tol=None):
    """MathWorks' kmeans.m batch phase from centres C: reassign each point to its nearest centre (a point tied
    with its own centre stays), recompute the centres, and stop when no point moves, when the total distance no
    longer falls (the last step undone), after max_iter iterations, or (``tol``, imsegkmeans) when no centre
    moves by more than tol. An emptied cluster takes the point farthest from its centre out of a cluster with
    two or more ('singleton'), becomes NaN ('drop') or stops the run ('error'). Returns (idx, C, converged)."""
    D = _distances(X, C, metric)
    idx = np.argmin(D, axis=1)
    previous_total, previous_idx = np.inf, idx.copy()
    for iteration in range(1, max_iter + 1):
        idx, C = _fill_empty(X, C, idx, metric, empty)
        dropped = np.isnan(C).any(axis=1)
        old = C.copy()
        _update_centres(X, C, idx, metric, ~dropped)
        D = _distances(X, np.nan_to_num(C), metric)
        D[:, dropped] = np.inf
        total = _own(D, idx).sum()
        if total >= previous_total:  # a cycle: back out the last step
            idx = previous_idx
            for j in np.flatnonzero(~dropped):
                if np.any(idx == j):
                    C[j] = _centre(X[idx == j], metric)
            return idx, C, True
        if tol is not None and iteration > 1 and np.all(np.abs(C[~dropped] - old[~dropped]) <= tol):
            return idx, C, True
        nearest = np.argmin(D, axis=1)
        moved = (nearest != idx) & (_own(D, idx) > D[np.arange(len(idx)), nearest])  # ties: stay
        if not moved.any():
            return idx, C, True
        previous_total, previous_idx = total, idx.copy()
        idx = np.where(moved, nearest, idx)
    return idx, C, False


def _update_centres(X, C, idx, metric, live):
    """Every live cluster's centre from its members (the means by bincount: one pass over the points)."""
    if metric == "cityblock":
        for j in np.flatnonzero(live):
            C[j] = _centre(X[idx == j], metric)
        return
    k = C.shape[0]
    counts = np.bincount(idx, minlength=k)
    sums = np.stack([np.bincount(idx, weights=X[:, d], minlength=k) for d in range(X.shape[1])], axis=1)
    keep = live & (counts > 0)
    C[keep] = sums[keep] / counts[keep, None]


def _fill_empty(X, C, idx, metric, empty):
    k = C.shape[0]
    counts = np.bincount(idx, minlength=k)
    for j in np.flatnonzero((counts == 0) & ~np.isnan(C).any(axis=1)):
        if empty == "error":
            raise ConfigError("kmeans: a cluster lost all its points (EmptyAction 'error'); try 'singleton'")
        if empty == "drop":
            C[j] = np.nan
            continue
        D = _distances(X, np.nan_to_num(C), metric)
        far = int(np.argmax(_own(D, idx)))  # the point farthest from its own centre starts the cluster again
        donor = idx[far]
        if counts[donor] < 2:  # never empty another cluster: take a point of the first one with two or more
            donor = int(np.flatnonzero(counts > 1)[0])
            far = int(np.flatnonzero(idx == donor)[0])
        idx[far] = j
        C[j] = X[far]
        counts[donor] -= 1
        counts[j] = 1
        C[donor] = _centre(X[idx == donor], metric)
    return idx, C


def _run(fn, X, k, replicates, max_iter, metric, start, empty, tol=None, warn=True):
    rng = generator()
    best = None
    for _ in range(replicates):
        C0 = start.copy() if isinstance(start, np.ndarray) else _seed(X, k, metric, start, rng)
        idx, C, converged = _batch(X, C0.astype(np.float64), metric, max_iter, empty, tol)
        if not converged and warn:
            warnings.warn(f"{fn}: failed to converge in {max_iter} iterations (MATLAB's warning as well)", stacklevel=3)
        dropped = np.isnan(C).any(axis=1)
        D = _distances(X, np.nan_to_num(C), metric)
        D[:, dropped] = np.nan
        sumd = np.array([D[idx == j, j].sum() if not dropped[j] else np.nan for j in range(k)])
        if best is None or np.nansum(sumd) < np.nansum(best[2]):
            best = (idx, C, sumd, D)
    return best


def _points(fn, X, name="X"):
    """An n x p float64 matrix of real, finite (or NaN) numbers."""
    if isinstance(X, str) or np.iscomplexobj(X):
        raise ConfigError(f"{fn}: {name} must be an n x p matrix of real numbers, received {type(X).__name__}")
    try:
        a = np.asarray(X, np.float64)
    except (TypeError, ValueError):
        raise ConfigError(f"{fn}: {name} must be an n x p matrix of real numbers") from None
    a = a[:, None] if a.ndim == 1 else a
    if a.ndim != 2 or a.size == 0 or np.isinf(a).any():
        raise ConfigError(f"{fn}: {name} must be a non-empty n x p matrix of finite numbers (NaN rows are left out)")
    return a


def kmeans(X, k, *args, nargout=None, **kwargs):
    """``idx = kmeans(X, k, ...)`` / ``idx, C, sumd, D = kmeans(..., nargout=4)``: see the module's docstring."""
    fn = "kmeans"
    a = _points(fn, X)
    o = options_only(fn, args, kwargs, {"Replicates": 1, "MaxIter": 100, "Distance": "sqeuclidean", "Start": "plus",
                                         "EmptyAction": "singleton", "Display": "off", "OnlinePhase": "off",
                                         "Options": None})
    if o["Options"] is not None:
        raise ConfigError(f"{fn}: 'Options' (a statset) is not provided; give 'MaxIter' and 'Display' directly")
    metric = choice(fn, "Distance", o["Distance"], ("sqeuclidean", "cityblock", "cosine"))
    empty = choice(fn, "EmptyAction", o["EmptyAction"], ("singleton", "drop", "error"))
    if boolean(fn, "OnlinePhase", o["OnlinePhase"]):
        raise ConfigError(f"{fn}: the online phase ('OnlinePhase', 'on') is not provided; leuknet runs the batch "
                          "phase, MATLAB's default")
    ok = ~np.isnan(a).any(axis=1)
    pts = a[ok]
    if metric == "cosine":
        norms = np.linalg.norm(pts, axis=1, keepdims=True)
        if np.any(norms == 0):
            raise ConfigError(f"{fn}: 'cosine' needs points of nonzero length")
        pts = pts / norms
    start = o["Start"]
    if isinstance(start, str):
        start = choice(fn, "Start", start, ("plus", "sample", "uniform"))
        k = number(fn, "k", k, integer=True, low=1)
    else:
        given = start
        start = _points(fn, start, "Start")
        if start.shape[1] != a.shape[1] or np.isnan(start).any():
            raise ConfigError(f"{fn}: Start as centres is a k x {a.shape[1]} matrix of numbers, received shape "
                              f"{list(np.shape(given))}")
        if k is not None and (not isinstance(k, (int, float, np.integer, np.floating)) or k != start.shape[0]):
            raise ConfigError(f"{fn}: k ({shown(k)}) must equal the number of rows of Start ({start.shape[0]}), or be []"
                              " (None)")
        k = start.shape[0]
    if k > len(pts):
        raise ConfigError(f"{fn}: X has {len(pts)} points without NaN, fewer than k = {k}")
    replicates = number(fn, "Replicates", o["Replicates"], integer=True, low=1)
    max_iter = number(fn, "MaxIter", o["MaxIter"], integer=True, low=1)
    idx0, C, sumd, D = _run(fn, pts, k, replicates, max_iter, metric, start, empty)
    idx = np.full(len(a), np.nan)
    idx[ok] = idx0 + 1.0
    full_D = np.full((len(a), k), np.nan)
    full_D[ok] = D
    return outputs(fn, (idx, C, sumd, full_D), nargout)


def imsegkmeans(I, k, *args, nargout=None, **kwargs):
    """``L = imsegkmeans(I, k, ...)`` / ``L, centers = imsegkmeans(..., nargout=2)``: see the module's
    docstring."""
    fn = "imsegkmeans"
    a = np.asarray(I)
    if a.dtype.name not in ("float32", "int8", "int16", "uint8", "uint16") or a.ndim not in (2, 3) or a.size == 0:
        hint = "; convert with im2single" if a.dtype.kind == "f" else ""
        raise ConfigError(f"{fn}: expected a grey, colour or M x N x C feature image of class single, int8, int16, "
                          f"uint8 or uint16 (MATLAB's), received {a.dtype.name} of shape {list(a.shape)}{hint}")
    k = number(fn, "k", k, integer=True, low=1, high=255)
    o = options_only(fn, args, kwargs, {"NumAttempts": 3, "MaxIterations": 100, "Threshold": 1e-4,
                                         "NormalizeInput": True})
    attempts = number(fn, "NumAttempts", o["NumAttempts"], integer=True, low=1)
    max_iter = number(fn, "MaxIterations", o["MaxIterations"], integer=True, low=1)
    tol = number(fn, "Threshold", o["Threshold"], low=0)
    X = a.reshape(a.shape[0] * a.shape[1], -1).astype(np.float64)
    if np.isnan(X).any():
        raise ConfigError(f"{fn}: the image holds NaN")
    mean, std = X.mean(axis=0), X.std(axis=0)
    std[std == 0] = 1
    normalise = boolean(fn, "NormalizeInput", o["NormalizeInput"])
    Z = (X - mean) / std if normalise else X
    if k > len(Z):
        raise ConfigError(f"{fn}: the image has {len(Z)} pixels, fewer than k = {k}")
    idx, C, _, _ = _run(fn, Z, k, attempts, max_iter, "sqeuclidean", "plus", "singleton", tol, warn=False)
    centers = C * std + mean if normalise else C
    L = (idx + 1).astype(np.uint8).reshape(a.shape[:2])
    if a.dtype.kind in "ui":  # the input's class, rounded and saturated as MATLAB's cast
        from leuknet.matlab.images import _to_integer_class

        return outputs(fn, (L, _to_integer_class(centers, a.dtype)), nargout)
    return outputs(fn, (L, centers.astype(a.dtype)), nargout)
