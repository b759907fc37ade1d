"""Splits with MATLAB ``splitEachLabel`` rounding, subject-level splits and class balancing by undersampling.

All functions take and return index arrays into a :class:`~leuknet.data.sources.Dataset`'s samples; files are
never touched. Randomness comes from a seeded ``numpy.random.Generator`` (MATLAB's random stream cannot be
reproduced outside MATLAB).
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from leuknet.colorspace import round_half_away
from leuknet.errors import ConfigError, DataError

SPLIT_NAMES = ("train", "validation", "test")


def parse_fractions(text) -> tuple[float, ...]:
    """'0.7,0.2,0.1' -> (0.7, 0.2, 0.1); '0.7,0.2' -> (0.7, 0.2, 0.1); '0.8' -> (0.8, 0.0, 0.2). One to three
    fractions in [0, 1] (a positive training share) summing to at most 1."""
    if isinstance(text, str):
        try:
            fr = tuple(float(x) for x in text.replace(" ", "").split(",") if x != "")
        except ValueError:
            raise ConfigError(f"split fractions must be numbers like 0.7,0.2,0.1, received {text!r}") from None
    else:
        fr = tuple(float(x) for x in text)
    if not 1 <= len(fr) <= 3:
        raise ConfigError(f"give one to three split fractions (train,validation,test), received {len(fr)}")
    if any(not (0.0 <= f <= 1.0) for f in fr) or fr[0] <= 0:
        raise ConfigError(f"split fractions must lie in [0, 1] with a positive training share, received {fr}")
    if sum(fr) > 1.0 + 1e-9:
        raise ConfigError(f"split fractions sum to {sum(fr):g} > 1: {fr}")
    if len(fr) == 3:
        return fr
    # splitEachLabel(imds, p1, ..., pN) returns N + 1 datastores, the last holding the remaining files
    # (https://www.mathworks.com/help/matlab/ref/matlab.io.datastore.imagedatastore.spliteachlabel.html):
    # the rest is the test split; one fraction gives no validation split
    rest = max(0.0, round(1.0 - sum(fr), 12))
    return (fr[0], 0.0, rest) if len(fr) == 1 else (fr[0], fr[1], rest)


def split_sizes(n: int, fractions) -> list[int]:
    """The number of a label's ``n`` files in each split for proportions ``fractions``, as MathWorks'
    ``splitEachLabel.m`` computes them: the split points are ``round(cumsum(n * p))`` (MATLAB's round), so one
    proportion takes round(p n) files and proportions summing to 1 leave no file over. The doc page's example shows
    it: 60 % of 6 and of 2 files put 4 + 1 in the first datastore (its printed ``Files``: 3 listed "... and 2
    more"), although its text says the counts round down."""
    points = np.minimum(round_half_away(np.cumsum(n * np.asarray(fractions, np.float64))), n).astype(np.int64)
    return np.diff(np.concatenate([[0], points])).astype(int).tolist()


def split_each_label(labels, fractions, seed: int = 0, randomized: bool = True) -> list[np.ndarray]:
    """MATLAB ``splitEachLabel(imds, p1, p2, ...)`` per label: :func:`split_sizes` files each (where the fractions
    sum to 1 every file is in a split). Without ``randomized`` the first files of each label go first."""
    labels = np.asarray(labels)
    fractions = tuple(fractions)
    rng = np.random.default_rng(seed)
    parts = [[] for _ in fractions]
    for lab in np.unique(labels):
        idx = np.flatnonzero(labels == lab)
        if randomized:
            idx = idx[rng.permutation(len(idx))]
        start = 0
        for i, c in enumerate(split_sizes(len(idx), fractions)):
            parts[i].extend(idx[start : start + c].tolist())
            start += c
    return [np.array(sorted(p), dtype=np.int64) for p in parts]


def split_by_subject(labels, subjects, fractions, seed: int = 0) -> list[np.ndarray]:
    """No subject in two splits. Subjects are shuffled per (majority) class and dealt to the splits so that
    each split's image count approaches its fraction; every split with a positive fraction gets at least one
    subject of each class, or a :class:`DataError` says there are too few subjects."""
    labels = np.asarray(labels)
    subjects = np.asarray(subjects, dtype=object)
    rng = np.random.default_rng(seed)
    by_subject = defaultdict(list)
    for i, s in enumerate(subjects):
        by_subject[s].append(i)
    by_class = defaultdict(list)
    for s, idx in sorted(by_subject.items()):
        major = np.bincount(labels[idx]).argmax()
        by_class[int(major)].append(s)
    active = [i for i, f in enumerate(fractions) if f > 0]
    parts = [[] for _ in fractions]
    for cls, subs in sorted(by_class.items()):
        if len(subs) < len(active):
            raise DataError(
                f"class {cls} has {len(subs)} subject(s), too few for {len(active)} subject-level splits; "
                "use --split-by cell or fewer splits"
            )
        order = [subs[i] for i in rng.permutation(len(subs))]
        total = sum(len(by_subject[s]) for s in order)
        targets = np.array([fractions[i] * total for i in active])
        got = np.zeros(len(active))
        # one subject for each split first, then each next subject to the split furthest below its target
        for j, s in enumerate(order):
            k = j if j < len(active) else int(np.argmax(targets - got))
            if j >= len(active) and sum(fractions) < 1.0 - 1e-9 and np.all(got >= targets):
                break  # the fractions leave some data unused
            parts[active[k]].extend(by_subject[s])
            got[k] += len(by_subject[s])
    return [np.array(sorted(p), dtype=np.int64) for p in parts]


def undersample(labels, indices, seed: int = 0) -> np.ndarray:
    """Random undersampling of ``indices`` so every class has as many as the smallest (the LeukNet paper)."""
    labels = np.asarray(labels)
    indices = np.asarray(indices)
    rng = np.random.default_rng(seed)
    present = np.unique(labels[indices])
    smallest = min(int(np.sum(labels[indices] == c)) for c in present)
    keep = []
    for c in present:
        idx = indices[labels[indices] == c]
        keep.extend(rng.choice(idx, size=smallest, replace=False).tolist())
    return np.array(sorted(keep), dtype=np.int64)


def make_splits(dataset, fractions, *, by: str = "cell", seed: int = 0, balance: str = "none") -> dict:
    """Split a dataset into train/validation/test index arrays.

    ``balance='undersample'`` first cuts every class to the smallest class count (the paper balances the data
    set, then splits it). Every split with a positive fraction must hold images of every class.
    """
    labels = np.asarray(dataset.labels)
    pool = np.arange(len(labels))
    if balance == "undersample":
        pool = undersample(labels, pool, seed)
    elif balance != "none":
        raise ConfigError(f"unknown balance {balance!r}; choose none or undersample")
    if by == "subject":
        if not dataset.has_subjects:
            raise DataError(f"--split-by subject needs subject ids; the {dataset.format} layout has none")
        subs = [dataset.samples[i].subject for i in pool]
        parts = split_by_subject(labels[pool], subs, fractions, seed)
    elif by == "cell":
        parts = split_each_label(labels[pool], fractions, seed)
    else:
        raise ConfigError(f"unknown split unit {by!r}; choose cell or subject")
    parts = [pool[p] for p in parts]
    n_classes = len(dataset.classes)
    for name, frac, p in zip(SPLIT_NAMES, fractions, parts):
        if frac > 0:
            missing = [dataset.classes[c] for c in range(n_classes) if not np.any(labels[p] == c)]
            if missing:
                raise DataError(
                    f"the {name} split ({frac:g} of {len(pool)} images) has no images of class {missing[0]!r}; "
                    "use more data or larger fractions"
                )
    return dict(zip(SPLIT_NAMES, parts))


# --------------------------------------------------------------------------------------------------------------
# cross-validation folds


def _class_name(c) -> str:
    c = c.item() if isinstance(c, np.generic) else c
    return repr(c) if isinstance(c, str) else str(c)


def _check_folds(labels, k):
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 2:
        raise ConfigError(f"cross-validation needs K >= 2 folds, received {k!r}; use a holdout split for one")
    for c, count in zip(*np.unique(labels, return_counts=True)):
        if count < k:
            raise ConfigError(
                f"class {_class_name(c)} has {count} image(s), fewer than the {k} folds, so some test fold would miss it; "
                f"use K <= {count} or more images of that class"
            )


def _stratified_folds(labels, k, rng) -> np.ndarray:
    """Fold of every index: each class shuffled and dealt round-robin, the deal running on from class to class,
    so every class has floor or ceil of n_c / k members in each fold and the folds' sizes differ by at most 1."""
    fold = np.empty(len(labels), np.int64)
    start = 0
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        idx = idx[rng.permutation(len(idx))]
        fold[idx] = (start + np.arange(len(idx))) % k
        start += len(idx)
    return fold


def _grouped_folds(labels, groups, k, rng) -> np.ndarray:
    """Fold of every index with each group (subject) whole in one fold: the groups, shuffled and then taken
    largest first, each go to the fold where the class counts stay most even (the sum over classes of the
    variance across folds of count / class total), the smaller fold on a tie."""
    names, group_of = np.unique(np.asarray(groups, dtype=object).astype(str), return_inverse=True)
    classes, class_of = np.unique(labels, return_inverse=True)
    if len(names) < k:
        raise ConfigError(f"{len(names)} subject(s) cannot fill {k} folds with no subject in two; use K <= "
                          f"{len(names)} or split by cell")
    per_group = np.zeros((len(names), len(classes)), np.int64)
    np.add.at(per_group, (group_of, class_of), 1)
    for ci, c in enumerate(classes):
        holders = int(np.count_nonzero(per_group[:, ci]))
        if holders < k:
            raise ConfigError(f"class {_class_name(c)} is in {holders} subject(s), fewer than the {k} folds, so some test fold "
                              f"would miss it; use K <= {holders} or split by cell")
    totals = per_group.sum(axis=0).astype(np.float64)
    order = rng.permutation(len(names))
    order = order[np.argsort(-per_group[order].sum(axis=1), kind="stable")]
    counts = np.zeros((k, len(classes)), np.int64)
    fold_of_group = np.empty(len(names), np.int64)
    for g in order:
        trial = counts[None, :, :] + np.eye(k, dtype=np.int64)[:, :, None] * per_group[g][None, None, :]
        cost = (trial / totals).var(axis=1).sum(axis=1)  # (k candidate folds)
        sizes = counts.sum(axis=1)
        best = min(range(k), key=lambda f: (round(cost[f], 12), sizes[f], f))
        fold_of_group[g] = best
        counts[best] += per_group[g]
    missing = [(f, classes[ci]) for f in range(k) for ci in range(len(classes)) if counts[f, ci] == 0]
    if missing:
        f, c = missing[0]
        raise ConfigError(f"no grouping of these subjects into {k} folds found with class {_class_name(c)} in fold {f + 1}; "
                          "use fewer folds or split by cell")
    return fold_of_group[group_of]


def cv_folds(labels, k: int, seed: int = 0, groups=None) -> list[tuple[np.ndarray, np.ndarray]]:
    """Stratified K-fold cross-validation: ``[(train_idx, test_idx)]`` for the K folds, every index in exactly
    one test fold, sorted index arrays; deterministic given ``seed``.

    Without ``groups`` it is MATLAB's ``cvpartition(labels, 'KFold', K)``: given a grouping variable, cvpartition
    "creates a random partition for stratified k-fold cross-validation. Each subsample, or fold, has
    approximately the same number of observations and contains approximately the same class proportions"
    (https://www.mathworks.com/help/stats/cvpartition.html). Here each class's members are shuffled and dealt to
    the folds in turn, so each fold holds floor or ceil of n_c / K of every class c (within 1) and the fold sizes
    differ by at most 1. MATLAB's random stream cannot be reproduced: the same seed gives the same folds here,
    not MATLAB's.

    With ``groups`` (subject ids) no group is in two folds (MATLAB's ``'GroupingVariables'``, R2025a and later,
    keeps each group in one fold too) and the class counts are balanced greedily across folds.

    A :class:`ConfigError` when K < 2, when a class has fewer members (or, with groups, subjects) than K, or when
    there are fewer subjects than folds.
    """
    labels = np.asarray(labels)
    _check_folds(labels, k)
    rng = np.random.default_rng(seed)
    if groups is None:
        fold = _stratified_folds(labels, k, rng)
    else:
        if len(groups) != len(labels):
            raise ConfigError(f"groups and labels differ in length: {len(groups)} and {len(labels)}")
        fold = _grouped_folds(labels, groups, k, rng)
    return [(np.flatnonzero(fold != f), np.flatnonzero(fold == f)) for f in range(k)]


def repeated_cv_folds(labels, k: int, repeats: int, seed: int = 0, groups=None):
    """R x K-fold cross-validation: yields ``(repeat, fold, train_idx, test_idx)``, repeat r using
    :func:`cv_folds` with ``seed + r``. Checked before the first fold is yielded."""
    if isinstance(repeats, bool) or not isinstance(repeats, (int, np.integer)) or repeats < 1:
        raise ConfigError(f"repeats must be a positive number of cross-validation repeats, received {repeats!r}")
    first = cv_folds(labels, k, seed, groups)  # raises now, not at the first next()

    def folds():
        for r in range(repeats):
            parts = first if r == 0 else cv_folds(labels, k, seed + r, groups)
            for f, (train, test) in enumerate(parts):
                yield r, f, train, test

    return folds()
