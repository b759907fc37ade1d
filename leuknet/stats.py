"""Intervals and paired tests that can tell colour spaces and models apart (issue 21).

Everything here works on plain arrays of labels, predictions, per-cell correctness or per-fold scores; nothing
imports TensorFlow. The formulas, and when to use which, are in ``docs/statistics.md``.

- :func:`wilson_interval`, :func:`proportion_metrics_with_intervals`: counts k/n (accuracy, sensitivity,
  specificity, precision) with Wilson score intervals (SciPy).
- :func:`bootstrap_interval`, :func:`f1_with_intervals`: percentile bootstrap over cells for F1 (per class,
  macro) and support-weighted F1, vectorised in NumPy.
- :func:`mean_sd_over_folds`: mean and sample sd of a score over cross-validation folds.
- :func:`mcnemar_exact`: McNemar's exact test on two models' predictions of the same cells.
- :func:`corrected_resampled_t`: Nadeau & Bengio's corrected resampled t-test over K x R fold differences.
- :func:`holm`: Holm-Bonferroni adjusted p-values.
- :func:`compare_pairs`, :func:`ranking`: every pair of models, a verdict for each, and a ranking that orders
  only what is resolved.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
from scipy import stats as _sp

from leuknet.errors import ConfigError

CONFIDENCE = 0.95


def _check_confidence(confidence):
    if not 0.0 < float(confidence) < 1.0:
        raise ConfigError(f"confidence must lie strictly between 0 and 1 (e.g. 0.95), received {confidence!r}")
    return float(confidence)


# --------------------------------------------------------------------------------------------------------------
# proportions: Wilson score intervals


def wilson_interval(successes, n, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion ``successes / n``, from SciPy's
    ``binomtest(k, n).proportion_ci(method="wilson")``. ``n = 0`` has no interval: ``(nan, nan)``."""
    confidence = _check_confidence(confidence)
    k, n = int(successes), int(n)
    if n < 0 or not 0 <= k <= max(n, 0):
        raise ConfigError(f"a proportion needs 0 <= successes <= n, received {k}/{n}")
    if n == 0:
        return (math.nan, math.nan)
    ci = _sp.binomtest(k, n).proportion_ci(confidence_level=confidence, method="wilson")
    return (float(ci.low), float(ci.high))


def _proportion(k, n, confidence):
    low, high = wilson_interval(k, n, confidence)
    return {"k": int(k), "n": int(n), "estimate": (k / n) if n else math.nan, "low": low, "high": high}


def _confusion(y_true, y_pred, num_classes=None) -> np.ndarray:
    y_true = np.asarray(y_true, dtype=np.int64).ravel()
    y_pred = np.asarray(y_pred, dtype=np.int64).ravel()
    if y_true.shape != y_pred.shape:
        raise ConfigError(f"y_true and y_pred differ in length: {y_true.size} and {y_pred.size}")
    if y_true.size == 0:
        raise ConfigError("no cells to score: y_true is empty")
    if min(y_true.min(), y_pred.min()) < 0:
        raise ConfigError("class indices must be >= 0")
    k = int(max(y_true.max(), y_pred.max())) + 1 if num_classes is None else int(num_classes)
    if max(y_true.max(), y_pred.max()) >= k:
        raise ConfigError(f"a class index is >= the {k} classes")
    return np.bincount(y_true * k + y_pred, minlength=k * k).reshape(k, k)


def proportion_metrics_with_intervals(y_true, y_pred, classes, confidence: float = CONFIDENCE) -> dict:
    """Accuracy and, one class against the rest, sensitivity, specificity and precision, each as a pooled count
    ``k`` of ``n`` with its estimate ``k / n`` and Wilson interval (``low``, ``high``).

    What ``n`` is for each (``y_true`` and ``y_pred`` are class indices into ``classes``):

    - accuracy: ``k`` = cells predicted correctly, ``n`` = all cells;
    - sensitivity (recall) of class c: ``k`` = TP, ``n`` = TP + FN = the cells that truly are c;
    - specificity of class c: ``k`` = TN, ``n`` = TN + FP = the cells that truly are not c;
    - precision of class c: ``k`` = TP, ``n`` = TP + FP = the cells predicted as c (may be 0: estimate and
      interval are then nan).

    Pool the cells of all folds (each cell once, its out-of-fold prediction) for cross-validation. A Wilson
    interval treats the cells as independent trials: it says how well the test cells pin a proportion down, not
    how much a retrained model would vary (for that, :func:`mean_sd_over_folds`).
    """
    classes = list(classes)
    cm = _confusion(y_true, y_pred, len(classes))
    n = int(cm.sum())
    per_class = {}
    for i, c in enumerate(classes):
        tp = int(cm[i, i])
        members = int(cm[i].sum())
        predicted = int(cm[:, i].sum())
        fp = predicted - tp
        per_class[c] = {
            "sensitivity": _proportion(tp, members, confidence),
            "specificity": _proportion(n - members - fp, n - members, confidence),
            "precision": _proportion(tp, predicted, confidence),
        }
    return {
        "classes": classes,
        "confidence": confidence,
        "interval": "wilson",
        "accuracy": _proportion(int(np.trace(cm)), n, confidence),
        "per_class": per_class,
    }


# --------------------------------------------------------------------------------------------------------------
# bootstrap over cells


def _f1_per_class(cm):
    """F1 of every class from confusion matrices of shape (..., K, K); 0 where undefined (as
    ``leuknet.metrics.classification_metrics``): F1 = 2 TP / (2 TP + FP + FN)."""
    tp = np.diagonal(cm, axis1=-2, axis2=-1).astype(np.float64)
    members = cm.sum(axis=-1)
    predicted = cm.sum(axis=-2)
    denom = members + predicted
    return np.divide(2.0 * tp, denom, out=np.zeros_like(tp), where=denom > 0)


def accuracy_statistic(cm):
    """Accuracy of confusion matrices (..., K, K)."""
    return np.trace(cm, axis1=-2, axis2=-1) / cm.sum(axis=(-2, -1))


def macro_f1(cm):
    """Unweighted mean of the per-class F1 of confusion matrices (..., K, K)."""
    return _f1_per_class(cm).mean(axis=-1)


def weighted_f1(cm):
    """Support-weighted F1 (the C-NMC challenge metric) of confusion matrices (..., K, K)."""
    support = cm.sum(axis=-1)
    return (_f1_per_class(cm) * support).sum(axis=-1) / support.sum(axis=-1)


def class_f1(index: int):
    """A statistic: F1 of class ``index``."""
    def f1(cm):
        return _f1_per_class(cm)[..., index]
    f1.__name__ = f"f1[{index}]"
    return f1


_NAMED = {"accuracy": accuracy_statistic, "macro_f1": macro_f1, "weighted_f1": weighted_f1}


def _statistic(statistic):
    if callable(statistic):
        return statistic
    if isinstance(statistic, str):
        if statistic in _NAMED:
            return _NAMED[statistic]
        if statistic.startswith("f1:") and statistic[3:].isdigit():
            return class_f1(int(statistic[3:]))
    raise ConfigError(f"unknown statistic {statistic!r}; choose accuracy, macro_f1, weighted_f1, 'f1:<class index>' "
                      "or a function of a stack of confusion matrices (B, K, K) -> (B,)")


def bootstrap_confusions(y_true, y_pred, n_boot: int = 2000, seed: int = 0, num_classes=None,
                         chunk: int = 256) -> np.ndarray:
    """Confusion matrices (n_boot, K, K) of ``n_boot`` resamples of the cells, each drawing n cells with
    replacement: resample b uses ``rng.integers(0, n, size=n)``, the b-th draw of
    ``numpy.random.default_rng(seed)`` (drawn in chunks; the stream is the same)."""
    if int(n_boot) < 1:
        raise ConfigError(f"n_boot must be a positive number of resamples, received {n_boot!r}")
    cm = _confusion(y_true, y_pred, num_classes)
    k = cm.shape[0]
    pair = np.asarray(y_true, np.int64).ravel() * k + np.asarray(y_pred, np.int64).ravel()
    n = pair.size
    rng = np.random.default_rng(seed)
    out = np.empty((int(n_boot), k, k), np.int64)
    for start in range(0, int(n_boot), chunk):
        b = min(chunk, int(n_boot) - start)
        idx = rng.integers(0, n, size=(b, n))
        flat = pair[idx] + (np.arange(b) * k * k)[:, None]
        out[start : start + b] = np.bincount(flat.ravel(), minlength=b * k * k).reshape(b, k, k)
    return out


def _percentile(values, estimate, confidence, n_boot, seed):
    alpha = 1.0 - confidence
    low, high = np.quantile(values, [alpha / 2, 1 - alpha / 2])
    return {"estimate": float(estimate), "low": float(low), "high": float(high), "confidence": confidence,
            "n_boot": int(n_boot), "seed": int(seed), "interval": "percentile bootstrap over cells"}


def bootstrap_interval(y_true, y_pred, statistic, n_boot: int = 2000, seed: int = 0,
                       confidence: float = CONFIDENCE, num_classes=None) -> dict:
    """Percentile bootstrap interval of a statistic of the cells' (true, predicted) pairs.

    ``statistic``: ``"accuracy"``, ``"macro_f1"``, ``"weighted_f1"``, ``"f1:<class index>"`` or a function of a
    stack of confusion matrices (B, K, K) -> (B,) (rows true class). The cells are resampled with replacement
    ``n_boot`` times (see :func:`bootstrap_confusions`); the interval is the ``(1 - confidence) / 2`` and
    ``(1 + confidence) / 2`` quantiles (NumPy's default, linear) of the resampled statistic. Deterministic given
    ``seed``. Returns estimate (on all cells), low, high and how it was made.
    """
    confidence = _check_confidence(confidence)
    fn = _statistic(statistic)
    cm = _confusion(y_true, y_pred, num_classes)
    boots = bootstrap_confusions(y_true, y_pred, n_boot, seed, cm.shape[0])
    return _percentile(fn(boots), fn(cm), confidence, n_boot, seed)


def f1_with_intervals(y_true, y_pred, classes, n_boot: int = 2000, seed: int = 0,
                      confidence: float = CONFIDENCE) -> dict:
    """Per-class F1, macro F1 and weighted F1 with percentile bootstrap intervals, all from the same resamples
    (the same numbers as :func:`bootstrap_interval` with the same seed)."""
    confidence = _check_confidence(confidence)
    classes = list(classes)
    cm = _confusion(y_true, y_pred, len(classes))
    boots = bootstrap_confusions(y_true, y_pred, n_boot, seed, len(classes))
    per_f1, boot_f1 = _f1_per_class(cm), _f1_per_class(boots)
    return {
        "classes": classes,
        "per_class": {c: _percentile(boot_f1[:, i], per_f1[i], confidence, n_boot, seed)
                      for i, c in enumerate(classes)},
        "macro_f1": _percentile(macro_f1(boots), macro_f1(cm), confidence, n_boot, seed),
        "weighted_f1": _percentile(weighted_f1(boots), weighted_f1(cm), confidence, n_boot, seed),
    }


# --------------------------------------------------------------------------------------------------------------
# folds and paired tests


def mean_sd_over_folds(values) -> dict:
    """Mean and sample standard deviation (ddof = 1; nan for one value) of a score over folds, and n."""
    v = np.asarray(values, dtype=np.float64).ravel()
    if v.size == 0:
        raise ConfigError("no fold values to summarise")
    return {"mean": float(v.mean()), "sd": float(v.std(ddof=1)) if v.size > 1 else math.nan, "n": int(v.size)}


def _correctness(x, name):
    x = np.asarray(x)
    if x.dtype != bool:
        if not np.all(np.isin(x, (0, 1))):
            raise ConfigError(f"{name} must be per-cell correctness (True/False or 1/0)")
        x = x.astype(bool)
    return x.ravel()


def mcnemar_exact(correct_a, correct_b) -> dict:
    """McNemar's exact test of two models' predictions of the same cells.

    ``b`` = cells A got right and B wrong, ``c`` = cells A got wrong and B right (the cells both got right or
    both wrong carry no information). Under the null hypothesis (equal error rates) b ~ Binomial(b + c, 1/2);
    ``p`` is SciPy's two-sided exact ``binomtest(b, b + c, 0.5)``, and 1 when b + c = 0. The cells must be
    independent: each cell once (one repeat's out-of-fold predictions, or one test split)."""
    a = _correctness(correct_a, "correct_a")
    b_ = _correctness(correct_b, "correct_b")
    if a.shape != b_.shape:
        raise ConfigError(f"McNemar's test needs the same cells for both models: {a.size} and {b_.size} cells")
    b = int(np.sum(a & ~b_))
    c = int(np.sum(~a & b_))
    p = 1.0 if b + c == 0 else float(_sp.binomtest(b, b + c, 0.5).pvalue)
    return {"b": b, "c": c, "p": min(1.0, p), "n": int(a.size), "test": "McNemar exact"}


def corrected_resampled_t(differences, n_train, n_test, confidence: float = CONFIDENCE) -> dict:
    """Nadeau & Bengio's corrected resampled t-test of the mean of J paired score differences.

    The J = K x R differences d_j (model A minus model B on fold j of R repeats of K-fold cross-validation, or
    on J random train/test splits) overlap in their training data, so the ordinary paired t-test (variance
    var(d) / J) is far too liberal. Nadeau & Bengio replace 1/J by 1/J + n_test/n_train:

        t = mean(d) / sqrt((1/J + n_test/n_train) * var(d)),   var with ddof = 1,   df = J - 1,

    two-sided p from Student's t (SciPy), and the interval mean(d) +- t_{df, (1+confidence)/2} * sqrt((1/J +
    n_test/n_train) * var(d)). Nadeau, C. & Bengio, Y. (2003) Inference for the generalization error, Machine
    Learning 52:239-281 (the "corrected resampled t-test"), as used for repeated cross-validation by Bouckaert,
    R. R. & Frank, E. (2004) Evaluating the replicability of significance tests for comparing learning
    algorithms, PAKDD 2004, LNCS 3056:3-12. ``n_train``, ``n_test``: cells per fold in training and in test.

    With all differences equal the variance is 0: t is +-inf and p = 0 (or t = 0 and p = 1 if they are 0).
    """
    confidence = _check_confidence(confidence)
    d = np.asarray(differences, dtype=np.float64).ravel()
    if d.size < 2:
        raise ConfigError(f"the corrected resampled t-test needs at least 2 fold differences, received {d.size}; "
                          "use cross-validation (K >= 2) or McNemar's test on one test split")
    if not (n_train > 0 and n_test > 0):
        raise ConfigError(f"n_train and n_test must be positive cell counts, received {n_train!r}, {n_test!r}")
    j = d.size
    mean = float(d.mean())
    spread = float(np.ptp(d)) > 1e-12 * max(1.0, abs(mean))  # 0.9 - 0.8 and 0.8 - 0.7 are the same difference
    se = math.sqrt((1.0 / j + n_test / n_train) * float(d.var(ddof=1))) if spread else 0.0
    df = j - 1
    if se == 0.0:
        t = 0.0 if mean == 0.0 else math.copysign(math.inf, mean)
        p = 1.0 if mean == 0.0 else 0.0
    else:
        t = mean / se
        p = float(2.0 * _sp.t.sf(abs(t), df))
    half = float(_sp.t.ppf((1.0 + confidence) / 2.0, df)) * se
    return {"mean": mean, "t": t, "df": df, "p": min(1.0, p), "se": se, "low": mean - half, "high": mean + half,
            "J": j, "test_train_ratio": n_test / n_train, "confidence": confidence, "test": "corrected resampled t"}


def holm(pvalues) -> np.ndarray:
    """Holm-Bonferroni step-down adjusted p-values, in the input order: with p sorted ascending,
    adj_(i) = max_{j <= i} min(1, (m - j + 1) p_(j)) (i, j from 1). Reject where adj < alpha."""
    p = np.asarray(pvalues, dtype=np.float64).ravel()
    if np.any(np.isnan(p)) or np.any((p < 0) | (p > 1)):
        raise ConfigError(f"p-values must lie in [0, 1], received {p.tolist()}")
    m = p.size
    order = np.argsort(p, kind="stable")
    adj_sorted = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[order]))
    out = np.empty(m)
    out[order] = adj_sorted
    return out


def _paired_wald(b, c, n, confidence):
    """The difference of two paired proportions, (b - c) / n, with Agresti and Min's adjusted Wald interval
    ("Wald+2": 0.5 added to each cell of the 2 x 2 table, then the Wald interval; Statistics in Medicine 24:729,
    2005; Agresti's R code ``diffpropci``), clipped to [-1, 1]. The plain Wald interval is zero-wide where the two
    never disagree (b = c = 0), however few the cells; this one is not."""
    diff = (b - c) / n
    m = n + 2
    centre = (b - c) / m
    se = math.sqrt(max(0.0, (b + c + 1) - (b - c) ** 2 / m)) / m
    half = float(_sp.norm.ppf((1.0 + confidence) / 2.0)) * se
    return diff, max(-1.0, centre - half), min(1.0, centre + half)


def _points(x):
    return f"{100.0 * x:.1f}"


def _p_text(p):
    return f"p = {p:.2g}" if p >= 0.001 else "p < 0.001"


def compare_pairs(results: dict, n_train=None, n_test=None, alpha: float = 0.05,
                  confidence: float = CONFIDENCE) -> list[dict]:
    """Every pair of models (or colour spaces) compared on accuracy.

    ``results``: {name: {"correct": per-cell correctness (bool), "fold_accuracies": per-fold accuracies}}. The
    cells must be in the same order for every model, each cell once (its out-of-fold prediction from one repeat,
    or one test split); the folds must be the same folds in the same order (K x R of them).

    Per pair, oriented so that ``a`` is the one ahead (``difference`` = accuracy of a minus b, >= 0):

    - with >= 2 folds: ``difference`` = mean over folds of the paired accuracy differences, its interval and
      the primary p from :func:`corrected_resampled_t` (needs ``n_train``, ``n_test``: cells per fold);
    - with 1 fold (a single test split), or folds whose differences are all equal (no spread: the corrected t
      would give p = 0 and a zero-width interval from as few as two folds): ``difference`` from the pooled cells,
      Agresti and Min's adjusted Wald interval for paired proportions, and McNemar's exact p as the primary
      test.

    McNemar's p is reported in both cases. ``p_holm`` is the primary p adjusted by Holm over all pairs;
    ``resolved`` = ``p_holm < alpha``; ``verdict`` is one line.
    """
    confidence = _check_confidence(confidence)
    names = list(results)
    if len(names) < 2:
        raise ConfigError(f"comparing needs at least two models, received {len(names)}")
    folds = {m: np.asarray(results[m].get("fold_accuracies", ()), dtype=np.float64).ravel() for m in names}
    n_folds = {f.size for f in folds.values()}
    if len(n_folds) != 1:
        raise ConfigError(f"every model needs the same folds; fold counts differ: "
                          f"{ {m: f.size for m, f in folds.items()} }")
    j = n_folds.pop()
    if j >= 2 and (n_train is None or n_test is None):
        raise ConfigError("with several folds the corrected resampled t-test needs n_train and n_test")
    pairs = []
    for x, y in itertools.combinations(names, 2):
        mc = mcnemar_exact(results[x]["correct"], results[y]["correct"])
        ct = corrected_resampled_t(folds[x] - folds[y], n_train, n_test, confidence) if j >= 2 else None
        if ct is not None and ct["se"] > 0:
            diff, low, high, p = ct["mean"], ct["low"], ct["high"], ct["p"]
            primary = method = ct["test"]
        else:  # one test split, or folds that all differ by the same amount (no spread: t is undefined)
            diff, low, high = _paired_wald(mc["b"], mc["c"], mc["n"], confidence)
            p, primary, method = mc["p"], mc["test"], "adjusted Wald (paired proportions, Agresti-Min)"
            if ct is not None:
                method += "; the fold differences have no spread, so the corrected t is undefined"
        if diff < 0:  # orient: a is ahead
            x, y, diff, low, high = y, x, -diff, -high, -low
            mc = {**mc, "b": mc["c"], "c": mc["b"]}
            if ct is not None:
                ct = {**ct, "mean": -ct["mean"], "t": -ct["t"], "low": -ct["high"], "high": -ct["low"]}
        pairs.append({"a": x, "b": y, "difference": diff, "low": low, "high": high, "confidence": confidence,
                      "interval": method, "primary_test": primary, "p": p, "mcnemar": mc, "corrected_t": ct,
                      "folds": j})
    for pair, adj in zip(pairs, holm([q["p"] for q in pairs])):
        pair["p_holm"] = float(adj)
        pair["resolved"] = bool(adj < alpha)
        pair["alpha"] = alpha
        pair["verdict"] = _verdict(pair)
    return pairs


def _verdict(q) -> str:
    pct = f"{100 * q['confidence']:g}"
    tail = (f"({pct} % CI {_points(q['low'])} to {_points(q['high'])}), {_p_text(q['p_holm'])} (Holm): "
            + ("resolved" if q["resolved"] else "not resolved"))
    if q["difference"] == 0:
        return f"{q['a']} and {q['b']} equal, 0.0 points {tail}"
    word = "better than" if q["resolved"] else "ahead of"
    return f"{q['a']} {word} {q['b']} by {_points(q['difference'])} points {tail}"


def ranking(pairs) -> list[list[str]]:
    """Groups of models, best first, that order only what is resolved: every model of a group is resolved
    better than every model of every later group; within a group nothing is claimed (listed by resolved wins
    minus losses, then mean difference to the others). Models that no resolved pair separates share a group."""
    names = []
    for q in pairs:
        for m in (q["a"], q["b"]):
            if m not in names:
                names.append(m)
    better = {(q["a"], q["b"]) for q in pairs if q["resolved"] and q["difference"] > 0}
    net = {m: 0 for m in names}
    mean_diff = {m: 0.0 for m in names}
    for q in pairs:
        mean_diff[q["a"]] += q["difference"]
        mean_diff[q["b"]] -= q["difference"]
        if (q["a"], q["b"]) in better:
            net[q["a"]] += 1
            net[q["b"]] -= 1
    order = sorted(names, key=lambda m: (-net[m], -mean_diff[m], names.index(m)))
    groups, current = [], []
    for i, m in enumerate(order):
        current.append(m)
        upper, lower = order[: i + 1], order[i + 1 :]
        if lower and all((u, w) in better for u in upper for w in lower):
            groups.append(current)
            current = []
    groups.append(current)
    return groups
