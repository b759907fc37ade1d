"""MATLAB's ``cvpartition`` (Statistics and Machine Learning Toolbox): the training and test sets of hold-out and
k-fold cross-validation, as a script splits the cells before ``trainNetwork``.

``c = cvpartition(n, 'KFold', k)``, ``cvpartition(group, 'KFold', k)`` (stratified; ``'Stratify', false``: not),
``cvpartition(n, 'HoldOut', p)``, ``cvpartition(group, 'HoldOut', p)``, ``cvpartition(n, 'Leaveout')``,
``cvpartition(n, 'Resubstitution')``; ``training(c)``, ``test(c)``, ``training(c, i)``, ``test(c, i)`` (logical
vectors, **i 0-based**: MATLAB's fold 1 is 0), ``repartition(c)``; properties ``NumObservations``,
``NumTestSets``, ``TrainSize``, ``TestSize``, ``Type``, ``IsCustom``
(https://www.mathworks.com/help/stats/cvpartition.html).

How the sets are drawn is MathWorks' ``cvpartition.m`` (2007-2011, its private functions ``kfoldcv``,
``stra_kfoldcv``, ``holdoutcv``, ``stra_holdoutcv``): k-fold deals ``1 + mod(1:N, k)`` to the observations in
random order (stratified: sorted by group, random within a group), so the fold sizes are exactly those of
``mod`` (50 observations in 10 folds: 5 each); a hold-out keeps ``floor(N p)`` out (``p`` in (0, 1)) or ``p``
observations (an integer), stratified per group ``floor(n_g p)`` and the few left to reach ``floor(N p)`` given
first to groups with none, then at random (an integer ``p`` stratified is the ratio ``p / N``, so floating point
can hold out one fewer: 15 of 22 holds out 14, as MATLAB's code does). Groups are numbered as ``grp2idx`` numbers
them: a categorical's categories (an unused one is an empty group, which can take one of the few left over, as in
MATLAB), text in order of first appearance, numbers sorted. A group's missing values (NaN, an undefined
categorical, '') are in no set and counted in ``NumObservations``, as MATLAB's. The draws come from leuknet's global stream (``rng``; ``Seed=`` a stream of its own): the
sets differ from MATLAB's, their sizes do not.
"""

from __future__ import annotations

import numpy as np

from leuknet.errors import ConfigError
from leuknet.matlab.conventions import boolean, choice, parse
from leuknet.matlab.datastore import Categorical
from leuknet.spec.randstream import stream_for

__all__ = ["cvpartition", "repartition", "test", "training"]

_TITLES = {"kfold": "K-fold cross validation partition", "holdout": "Hold-out cross validation partition",
           "leaveout": "Leave-one-out cross validation partition",
           "resubstitution": "Resubstitution (no partition of data)"}


def _groups(fn, group):
    """Group numbers 0..G-1 of each observation (-1: missing): ``grp2idx``'s groups of a categorical or numbers;
    text in order of first appearance ('' missing), as grp2idx numbers a cell array of text."""
    from leuknet.matlab.types import grp2idx

    a = group if isinstance(group, Categorical) else np.ravel(np.asarray(group, dtype=object))
    if not isinstance(a, Categorical) and a.size and all(isinstance(v, (str, np.str_)) for v in a):
        names = [str(v) for v in a]
        index = {n: i for i, n in enumerate(dict.fromkeys(n for n in names if n != ""))}
        return np.array([index.get(n, -1) for n in names], np.int64)
    try:
        g = grp2idx(a if isinstance(a, Categorical) else np.asarray(a, np.float64))
    except (TypeError, ValueError):
        raise ConfigError(f"{fn}: a grouping variable is a categorical, text or numbers, received "
                          f"{type(group).__name__}") from None
    return np.where(np.isnan(g), -1, g - 1).astype(np.int64)


def _randperm(rng, n):
    """``[~, p] = sort(rand(s, 1, n))``: a random permutation, as cvpartition.m draws its orders."""
    return np.argsort(rng.random(n), kind="stable")


def _kfold(n, k, rng, group=None):
    """``kfoldcv`` / ``stra_kfoldcv``: fold numbers 1..k for n observations."""
    cvid = 1 + np.mod(np.arange(1, n + 1), k)
    if group is None:
        return cvid[_randperm(rng, n)]  # cvid = cvid(indices)
    key = group + rng.random(n)  # sort(group + rand): by group, at random within one
    out = np.empty(n, np.int64)
    out[np.argsort(key, kind="stable")] = cvid
    return out


def _holdout(n, n_test, rng):
    """``holdoutcv``: 1 (training) or 2 (test), n_test of them 2, in random order."""
    idx = np.full(n, 2, np.int64)
    idx[: n - n_test] = 1
    return idx[_randperm(rng, n)]


def _stratified_holdout(group, ratio, rng):
    """``stra_holdoutcv``: per group floor(n_g ratio) out, then the difference to floor(N ratio) given to groups
    with none (in group order), then one each to groups drawn at random among those not full."""
    n = len(group)
    sizes = np.bincount(group)
    num_test = np.floor(sizes * ratio).astype(np.int64)
    diff = int(np.floor(n * ratio)) - int(num_test.sum())
    empty = num_test == 0
    if empty.any():
        v = empty & (np.cumsum(empty) <= diff)
        num_test[v] += 1
        diff -= int(v.sum())
    if diff > 0:
        full = num_test == sizes
        add = np.concatenate([np.ones(diff, np.int64), np.zeros(len(sizes) - diff - int(full.sum()), np.int64)])
        add = add[_randperm(rng, len(add))]
        x = np.zeros(len(sizes), np.int64)
        x[~full] = add
        num_test += x
    idx = np.full(n, 2, np.int64)
    for g in range(len(sizes)):
        members = np.flatnonzero(group == g)
        mark = np.full(len(members), 2, np.int64)
        mark[: sizes[g] - num_test[g]] = 1
        idx[members] = mark[_randperm(rng, len(members))]
    return idx


class cvpartition:  # noqa: N801 (MATLAB's class name)
    """See the module's docstring."""

    def __init__(self, n_or_group, method=None, T=None, *args, **kwargs):  # noqa: N803
        fn = "cvpartition"
        _, _, o = parse(fn, args, kwargs, {"Stratify": True, "Seed": None}, max_positional=0)
        if method is None:
            raise ConfigError(f"{fn}: give a method: cvpartition(n, 'KFold', k), cvpartition(group, 'HoldOut', p), "
                              "'Leaveout' or 'Resubstitution'")
        if isinstance(T, str):  # cvpartition(group, 'KFold', 'Stratify', false): no T, name-value options
            _, _, o = parse(fn, (T, *args), kwargs, {"Stratify": True, "Seed": None}, max_positional=0)
            T = None
        self.Type = choice(fn, "the method", method, ("KFold", "HoldOut", "Leaveout", "Resubstitution")).lower()
        stratify = boolean(fn, "Stratify", o["Stratify"])
        scalar = np.ndim(n_or_group) == 0 and not isinstance(n_or_group, (str, Categorical))
        if scalar:
            n = n_or_group
            if isinstance(n, bool) or not float(n).is_integer() or n <= 1:
                raise ConfigError(f"{fn}: the number of observations must be an integer above 1, received {n!r}")
            self._n, self._group = int(n), None
        else:
            g = _groups(fn, n_or_group)
            self._n = len(g)
            self._group = g
            if int((g >= 0).sum()) <= 1:
                raise ConfigError(f"{fn}: the grouping variable has {int((g >= 0).sum())} observation(s) that are "
                                  "not missing; at least 2 are needed")
        self._stratify = stratify and self._group is not None
        self._seed = o["Seed"]
        valid = self._valid()
        if self.Type == "kfold":
            k = 10 if T is None else T
            if isinstance(k, bool) or not float(k).is_integer() or k <= 1:
                raise ConfigError(f"{fn}: the number of folds must be an integer above 1, received {T!r}")
            self.NumTestSets = min(int(k), int(valid.sum()))
        elif self.Type == "holdout":
            p = 0.1 if T is None else T
            if isinstance(p, bool) or not np.isfinite(p) or p <= 0 or (p >= 1 and not float(p).is_integer()):
                raise ConfigError(f"{fn}: HoldOut takes a proportion in (0, 1) or an integer number of observations, "
                                  f"received {T!r}")
            m = int(valid.sum())
            if p >= 1 and p >= m:
                raise ConfigError(f"{fn}: the hold-out of {int(p)} observations must be below their number, {m}")
            if p < 1 and np.floor(m * p) == 0:
                raise ConfigError(f"{fn}: a hold-out proportion of {p:g} of {m} observations holds none out")
            self._p = float(p)
            self.NumTestSets = 1
        elif self.Type == "leaveout":
            if T is not None and T != 1:
                raise ConfigError(f"{fn}: 'Leaveout' leaves one out (its only value is 1), received {T!r}")
            self.NumTestSets = int(valid.sum())
        else:
            if T is not None:
                raise ConfigError(f"{fn}: 'Resubstitution' takes no value, received {T!r}")
            self.NumTestSets = 1
        self.IsCustom = False
        self._draw(stream_for(self._seed))

    def _valid(self):
        return np.ones(self._n, bool) if self._group is None else self._group >= 0

    def _draw(self, rng):
        valid = self._valid()
        m = int(valid.sum())
        group = self._group[valid] if self._group is not None else None
        if self.Type == "kfold":
            if self.NumTestSets == m:  # leave-one-out as MATLAB's special case: a random permutation
                ids = _randperm(rng, m) + 1
            else:
                ids = _kfold(m, self.NumTestSets, rng, group if self._stratify else None)
        elif self.Type == "holdout":
            if self._stratify:
                ratio = self._p / m if self._p >= 1 else self._p
                ids = _stratified_holdout(group, ratio, rng)
            else:
                ids = _holdout(m, int(self._p) if self._p >= 1 else int(np.floor(m * self._p)), rng)
        elif self.Type == "leaveout":
            ids = _randperm(rng, m) + 1
        else:
            ids = np.arange(1, m + 1)
        self._ids = np.zeros(self._n, np.int64)  # 0: a missing group value, in no set
        self._ids[valid] = ids

    # -- MATLAB's properties -----------------------------------------------------------------------------------
    @property
    def NumObservations(self):  # noqa: N802
        """All the observations, those with a missing group value too (in no set), as MATLAB's."""
        return self._n

    N = NumObservations  # MATLAB's older name

    @property
    def TestSize(self):  # noqa: N802
        sizes = [int(self.test(i).sum()) for i in range(self.NumTestSets)]
        return sizes[0] if self.NumTestSets == 1 else np.array(sizes)

    @property
    def TrainSize(self):  # noqa: N802
        sizes = [int(self.training(i).sum()) for i in range(self.NumTestSets)]
        return sizes[0] if self.NumTestSets == 1 else np.array(sizes)

    # -- MATLAB's methods --------------------------------------------------------------------------------------
    def _index(self, fn, i):
        if i is None:
            if self.Type in ("kfold", "leaveout"):
                raise ConfigError(f"{fn}: a {self.Type} partition has {self.NumTestSets} sets: give the index, "
                                  f"{fn}(c, i) with i in 0..{self.NumTestSets - 1} (0-based)")
            return 0
        if isinstance(i, bool) or not float(i).is_integer() or not 0 <= int(i) < self.NumTestSets:
            raise ConfigError(f"{fn}: the set index must be an integer in 0..{self.NumTestSets - 1} (0-based: "
                              f"MATLAB's {fn}(c, 1) is {fn}(c, 0)), received {i!r}")
        return int(i)

    def training(self, i=None):
        """The logical vector of set i's training observations (0-based i; none for a hold-out)."""
        i = self._index("training", i)
        if self.Type in ("kfold", "leaveout"):
            return (self._ids != i + 1) & (self._ids > 0)
        if self.Type == "holdout":
            return self._ids == 1
        return self._ids > 0

    def test(self, i=None):
        """The logical vector of set i's test observations (0-based i; none for a hold-out)."""
        i = self._index("test", i)
        if self.Type in ("kfold", "leaveout"):
            return self._ids == i + 1
        if self.Type == "holdout":
            return self._ids == 2
        return self._ids > 0

    def repartition(self, Seed=None):  # noqa: N803
        """A new random partition of the same kind and sizes (MATLAB's ``repartition(c)``)."""
        other = object.__new__(cvpartition)
        other.__dict__.update(self.__dict__)
        if self.Type == "resubstitution":
            return other
        other._draw(stream_for(Seed))
        return other

    def __repr__(self):
        def show(v):
            return "  ".join(str(int(x)) for x in np.ravel(v))
        return (f"{_TITLES[self.Type]}\n   NumObservations: {self.NumObservations}\n       NumTestSets: "
                f"{self.NumTestSets}\n         TrainSize: {show(self.TrainSize)}\n          TestSize: "
                f"{show(self.TestSize)}\n          IsCustom: 0")


def training(c, i=None):
    """``idx = training(c)`` / ``training(c, i)`` (0-based i)."""
    return _partition("training", c).training(i)


def test(c, i=None):
    """``idx = test(c)`` / ``test(c, i)`` (0-based i)."""
    return _partition("test", c).test(i)


test.__test__ = False  # pytest: a MATLAB function named test, not a test


def repartition(c, Seed=None):  # noqa: N803
    """``d = repartition(c)``: see :meth:`cvpartition.repartition`."""
    return _partition("repartition", c).repartition(Seed)


def _partition(fn, c):
    if not isinstance(c, cvpartition):
        raise ConfigError(f"{fn}: expected a cvpartition, received {type(c).__name__}")
    return c
