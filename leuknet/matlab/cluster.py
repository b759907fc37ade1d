"""MATLAB's k-means clustering, as cell-segmentation scripts use it on L*a*b* colours to separate nuclei,
cytoplasm and background: ``kmeans`` (Statistics and Machine Learning Toolbox) and ``imsegkmeans`` (Image
Processing Toolbox).

- ``idx = kmeans(X, k, 'Replicates', r, 'MaxIter', 100, 'Distance', 'sqeuclidean' | 'cityblock' | 'cosine',
  'Start', 'plus' | 'sample' | 'uniform' | C0, 'EmptyAction', 'singleton' | 'drop' | 'error')`` and
  ``idx, C, sumd, D = kmeans(..., nargout=4)`` (https://www.mathworks.com/help/stats/kmeans.html): Lloyd's batch
  iterations (MATLAB's default, 'OnlinePhase' off) from k-means++ seeds ('plus', the default: the first centre
  drawn uniformly, each next one with probability proportional to the distance to the nearest centre chosen so
  far), until no assignment changes or MaxIter; each point to its nearest centre (the first on a tie), a centre
  the mean (the median for 'cityblock'; the normalised mean for 'cosine') of its points; an emptied cluster is
  re-seeded with the point farthest from its centre ('singleton'), left NaN ('drop') or an error; of the
  replicates the one with the least total distance is kept. ``idx`` holds MATLAB's cluster numbers 1..k (a
  label, like bwlabel's: ``X[idx == 1]``); ``sumd`` the within-cluster sums, ``D`` every point's distance to
  every centre. Rows with NaN are left out (idx NaN), as MATLAB's.
- ``L = imsegkmeans(I, k, 'NumAttempts', 3, 'MaxIterations', 100, 'Threshold', 1e-4, 'NormalizeInput', true)``
  and ``L, centers = imsegkmeans(..., nargout=2)`` (https://www.mathworks.com/help/images/ref/imsegkmeans.html):
  the pixels of a grey, colour or M x N x C feature image clustered (each channel standardised first where
  NormalizeInput), k-means++ seeds, iterations until MaxIterations or until no centre moves by more than
  Threshold; L labels 1..k (uint8), centers in the input's units and class (rounded for integer classes).

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
from leuknet.matlab.conventions import boolean, choice, number, options_only, outputs
from leuknet.spec.randstream import generator

__all__ = ["kmeans", "imsegkmeans"]


def _distances(X, C, metric):
    """n x k distances of MATLAB's kmeans: squared Euclidean, city block, or 1 - cosine."""
    if metric == "sqeuclidean":
        return ((X[:, None, :] - C[None, :, :]) ** 2).sum(axis=2)
    if metric == "cityblock":
        return np.abs(X[:, None, :] - C[None, :, :]).sum(axis=2)
    return 1 - X @ C.T  # cosine: rows and centres of unit length


def _centre(points, metric):
    if metric == "cityblock":
        return np.median(points, axis=0)
    c = points.mean(axis=0)
    if metric == "cosine":
        c = c / np.linalg.norm(c)
    return c


def _seed(X, k, metric, start, rng):
    n = X.shape[0]
    if start == "sample":
        return X[rng.choice(n, k, replace=False)].copy()
    if start == "uniform":
        lo, hi = X.min(axis=0), X.max(axis=0)
        return lo + rng.random((k, X.shape[1])) * (hi - lo)
    centres = [X[rng.integers(n)]]  # k-means++: the first uniformly, then by distance to the nearest centre
    nearest = np.maximum(_distances(X, np.array(centres), metric)[:, 0], 0)  # rounding: 1 - cos can dip below 0
    for _ in range(1, k):
        total = nearest.sum()
        pick = rng.integers(n) if total <= 0 else rng.choice(n, p=nearest / total)
        centres.append(X[pick])
        nearest = np.minimum(nearest, np.maximum(_distances(X, X[pick][None, :], metric)[:, 0], 0))
    return np.array(centres, dtype=np.float64)


def _lloyd(X, C, metric, max_iter, empty, tol=None):
    """Batch k-means from centres C; returns (idx 0-based, C, iterations, converged)."""
    idx = None
    for it in range(1, max_iter + 1):
        D = np.nan_to_num(_distances(X, C, metric), nan=np.inf)  # a dropped cluster is nobody's nearest
        new = np.argmin(D, axis=1)  # the first centre on a tie
        if idx is not None and np.array_equal(new, idx) and tol is None:
            return idx, C, it, True
        idx = new
        previous = C.copy()
        for j in range(C.shape[0]):
            members = X[idx == j]
            if len(members):
                C[j] = _centre(members, metric)
            elif empty == "singleton":  # the point farthest from its own centre starts the cluster again
                far = int(np.argmax(D[np.arange(len(X)), idx]))
                C[j] = X[far]
                idx[far] = j
            elif empty == "drop":
                C[j] = np.nan
            else:
                raise ConfigError("kmeans: a cluster lost all its points (EmptyAction 'error'); try 'singleton'")
        if tol is not None and np.all(np.nan_to_num(np.abs(C - previous).max(axis=1), nan=0) <= tol):
            return idx, C, it, True
    return idx, C, max_iter, False


def _run(fn, X, k, replicates, max_iter, metric, start, empty, tol=None):
    rng = generator()
    best = None
    for _ in range(replicates):
        C0 = start.copy() if isinstance(start, np.ndarray) else _seed(X, k, metric, start, rng)
        idx, C, _, converged = _lloyd(X, C0.astype(np.float64), metric, max_iter, empty, tol)
        if not converged:
            warnings.warn(f"{fn}: failed to converge in {max_iter} iterations (MATLAB's warning as well)", stacklevel=3)
        D = _distances(X, np.nan_to_num(C), metric)
        sumd = np.array([D[idx == j, j].sum() for j in range(k)])
        if best is None or sumd.sum() < best[2].sum():
            best = (idx, C, sumd, D)
    return best


def kmeans(X, k, *args, nargout=None, **kwargs):
    """``idx = kmeans(X, k, ...)`` / ``idx, C, sumd, D = kmeans(..., nargout=4)``: see the module's docstring."""
    fn = "kmeans"
    a = np.asarray(X, np.float64) if not isinstance(X, str) else np.zeros(0)
    if a.ndim == 1:
        a = a[:, None]
    if a.ndim != 2 or a.size == 0:
        raise ConfigError(f"{fn}: X must be an n x p matrix of numbers (one row per point)")
    o = options_only(fn, args, kwargs, {"Replicates": 1, "MaxIter": 100, "Distance": "sqeuclidean", "Start": "plus",
                                         "EmptyAction": "singleton", "Display": "off", "OnlinePhase": "off",
                                         "Options": None})
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
        start = np.asarray(start, np.float64)
        if start.ndim != 2 or start.shape[1] != a.shape[1]:
            raise ConfigError(f"{fn}: Start as centres is a k x {a.shape[1]} matrix, received shape "
                              f"{list(start.shape)}")
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
    if a.dtype.kind not in "uif" or a.ndim not in (2, 3) or a.size == 0:
        raise ConfigError(f"{fn}: expected a grey, colour or M x N x C feature image of numbers, received "
                          f"{a.dtype.name} of shape {list(a.shape)}")
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
    idx, C, _, _ = _run(fn, Z, k, attempts, max_iter, "sqeuclidean", "plus", "singleton", tol)
    centers = C * std + mean if normalise else C
    L = (idx + 1).astype(np.uint8).reshape(a.shape[:2])
    if a.dtype.kind in "ui":  # the input's class, rounded and saturated as MATLAB's cast
        info = np.iinfo(a.dtype)
        centers = np.clip(np.sign(centers) * np.floor(np.abs(centers) + 0.5), info.min, info.max)
    return outputs(fn, (L, centers.astype(a.dtype)), nargout)
