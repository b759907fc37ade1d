"""leuknet.stats and the cross-validation folds, each against an independent reference: statsmodels (a test-only
oracle: Wilson intervals, McNemar's exact test, Holm), SciPy's one-sample t-test and a closed-form Student t
value for the corrected resampled t-test, plain-Python loops for the bootstrap, the stdlib for mean and sd,
``leuknet.metrics`` for the F1 point estimates."""

from __future__ import annotations

import math
import statistics
import subprocess
import sys

import numpy as np
import pytest
from scipy import stats as sp
from statsmodels.stats.contingency_tables import mcnemar as sm_mcnemar
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import proportion_confint

from leuknet import stats as S
from leuknet.data.split import cv_folds, repeated_cv_folds
from leuknet.errors import ConfigError
from leuknet.metrics import classification_metrics


def _noisy(n, k=2, acc=0.85, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    wrong = rng.random(n) > acc
    p = np.where(wrong, (y + rng.integers(1, k, n)) % k, y)
    return y, p


# --------------------------------------------------------------------------------------------------------------
# Wilson intervals


@pytest.mark.parametrize("k,n", [(0, 10), (1, 10), (5, 10), (10, 10), (37, 50), (812, 1000), (3, 7), (1, 1)])
@pytest.mark.parametrize("confidence", [0.95, 0.9])
def test_wilson_interval_matches_statsmodels(k, n, confidence):
    low, high = S.wilson_interval(k, n, confidence)
    ref = proportion_confint(k, n, alpha=1 - confidence, method="wilson")
    np.testing.assert_allclose((low, high), ref, rtol=1e-10, atol=1e-12)
    assert low <= k / n <= high


def test_wilson_interval_edges():
    assert all(math.isnan(x) for x in S.wilson_interval(0, 0))
    with pytest.raises(ConfigError, match="successes <= n"):
        S.wilson_interval(11, 10)
    with pytest.raises(ConfigError, match="confidence"):
        S.wilson_interval(1, 10, confidence=95)


def test_proportion_metrics_counts_and_intervals():
    y, p = _noisy(600, k=3, acc=0.8, seed=4)
    classes = ["L1", "L2", "normal"]
    out = S.proportion_metrics_with_intervals(y, p, classes)
    pairs = list(zip(y.tolist(), p.tolist()))

    def check(entry, k, n):
        assert (entry["k"], entry["n"]) == (k, n)
        assert entry["estimate"] == pytest.approx(k / n)
        np.testing.assert_allclose((entry["low"], entry["high"]),
                                   proportion_confint(k, n, alpha=0.05, method="wilson"), rtol=1e-10)

    check(out["accuracy"], sum(t == q for t, q in pairs), len(pairs))
    for c, name in enumerate(classes):
        tp = sum(t == c and q == c for t, q in pairs)
        members = sum(t == c for t, _ in pairs)
        predicted = sum(q == c for _, q in pairs)
        tn = sum(t != c and q != c for t, q in pairs)
        check(out["per_class"][name]["sensitivity"], tp, members)
        check(out["per_class"][name]["specificity"], tn, len(pairs) - members)
        check(out["per_class"][name]["precision"], tp, predicted)
    ref = classification_metrics(y, p, classes)
    assert out["accuracy"]["estimate"] == pytest.approx(ref["accuracy"])
    for name in classes:
        for key in ("sensitivity", "specificity", "precision"):
            assert out["per_class"][name][key]["estimate"] == pytest.approx(ref["per_class"][name][key])


def test_precision_of_a_class_never_predicted_has_no_interval():
    out = S.proportion_metrics_with_intervals([0, 1, 1, 0], [0, 0, 0, 0], ["all", "hem"])
    prec = out["per_class"]["hem"]["precision"]
    assert prec["n"] == 0 and math.isnan(prec["estimate"]) and math.isnan(prec["low"])
    assert out["per_class"]["hem"]["sensitivity"]["k"] == 0


# --------------------------------------------------------------------------------------------------------------
# bootstrap


def _slow_f1(pairs, k):
    """Per-class F1 = 2 TP / (2 TP + FP + FN) by counting, 0 where undefined."""
    out = []
    for c in range(k):
        tp = sum(1 for t, q in pairs if t == c and q == c)
        fp = sum(1 for t, q in pairs if t != c and q == c)
        fn = sum(1 for t, q in pairs if t == c and q != c)
        out.append(2 * tp / (2 * tp + fp + fn) if 2 * tp + fp + fn else 0.0)
    return out


def _slow_statistics(pairs, k):
    f1 = _slow_f1(pairs, k)
    support = [sum(1 for t, _ in pairs if t == c) for c in range(k)]
    return {
        "accuracy": sum(1 for t, q in pairs if t == q) / len(pairs),
        "macro_f1": sum(f1) / k,
        "weighted_f1": sum(f * s for f, s in zip(f1, support)) / sum(support),
        **{f"f1:{c}": f1[c] for c in range(k)},
    }


def test_bootstrap_matches_a_plain_python_loop_with_the_same_seed():
    y, p = _noisy(150, k=3, acc=0.75, seed=1)
    n_boot, seed, k = 300, 7, 3  # 300 > one chunk of 256 resamples
    rng = np.random.default_rng(seed)
    slow = {name: [] for name in ("accuracy", "macro_f1", "weighted_f1", "f1:0", "f1:1", "f1:2")}
    for _ in range(n_boot):
        idx = rng.integers(0, len(y), size=len(y))
        values = _slow_statistics([(int(y[i]), int(p[i])) for i in idx], k)
        for name, column in slow.items():
            column.append(values[name])
    full = _slow_statistics(list(zip(y.tolist(), p.tolist())), k)
    for name, values in slow.items():
        got = S.bootstrap_interval(y, p, name, n_boot=n_boot, seed=seed)
        low, high = np.quantile(values, [0.025, 0.975])
        assert got["low"] == pytest.approx(low, abs=1e-12) and got["high"] == pytest.approx(high, abs=1e-12)
        assert got["estimate"] == pytest.approx(full[name])
    both = S.f1_with_intervals(y, p, ["a", "b", "c"], n_boot=n_boot, seed=seed)
    assert both["macro_f1"] == S.bootstrap_interval(y, p, "macro_f1", n_boot=n_boot, seed=seed)
    assert both["per_class"]["b"]["high"] == S.bootstrap_interval(y, p, "f1:1", n_boot=n_boot, seed=seed)["high"]


def test_bootstrap_point_estimates_equal_classification_metrics():
    y, p = _noisy(400, k=2, acc=0.9, seed=2)
    ref = classification_metrics(y, p, ["all", "hem"])
    out = S.f1_with_intervals(y, p, ["all", "hem"], n_boot=200)
    assert out["weighted_f1"]["estimate"] == pytest.approx(ref["weighted_f1"])
    assert out["macro_f1"]["estimate"] == pytest.approx(ref["macro"]["f1"])
    for c in ("all", "hem"):
        assert out["per_class"][c]["estimate"] == pytest.approx(ref["per_class"][c]["f1"])


def test_bootstrap_is_deterministic_contains_the_estimate_and_shrinks_with_n():
    y, p = _noisy(300, seed=3)
    a = S.bootstrap_interval(y, p, "weighted_f1", seed=5)
    assert a == S.bootstrap_interval(y, p, "weighted_f1", seed=5)
    assert a != S.bootstrap_interval(y, p, "weighted_f1", seed=6)
    assert a["low"] <= a["estimate"] <= a["high"]
    big = S.bootstrap_interval(np.tile(y, 9), np.tile(p, 9), "weighted_f1", seed=5)
    assert big["estimate"] == pytest.approx(a["estimate"])
    width, big_width = a["high"] - a["low"], big["high"] - big["low"]
    assert big_width < 0.5 * width  # 9x the cells: about a third of the width
    assert big["low"] <= big["estimate"] <= big["high"]


def test_bootstrap_accepts_a_function_and_refuses_unknown_names():
    y, p = _noisy(100, seed=8)
    err = S.bootstrap_interval(y, p, lambda cm: 1.0 - S.accuracy_statistic(cm), n_boot=100)
    acc = S.bootstrap_interval(y, p, "accuracy", n_boot=100)
    assert err["low"] == pytest.approx(1 - acc["high"]) and err["high"] == pytest.approx(1 - acc["low"])
    with pytest.raises(ConfigError, match="unknown statistic"):
        S.bootstrap_interval(y, p, "auc")
    with pytest.raises(ConfigError, match="n_boot"):
        S.bootstrap_interval(y, p, "accuracy", n_boot=0)
    with pytest.raises(ConfigError, match="differ in length"):
        S.bootstrap_interval(y, p[:-1], "accuracy")


# --------------------------------------------------------------------------------------------------------------
# folds, McNemar, corrected t, Holm


def test_mean_sd_over_folds_matches_the_stdlib():
    v = [0.91, 0.88, 0.93, 0.87, 0.9]
    out = S.mean_sd_over_folds(v)
    assert out["mean"] == pytest.approx(statistics.mean(v)) and out["sd"] == pytest.approx(statistics.stdev(v))
    assert out["n"] == 5
    assert math.isnan(S.mean_sd_over_folds([0.9])["sd"])
    with pytest.raises(ConfigError):
        S.mean_sd_over_folds([])


@pytest.mark.parametrize("seed", range(6))
def test_mcnemar_exact_matches_statsmodels(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(20, 400))
    a = rng.random(n) < rng.uniform(0.6, 0.95)
    b = rng.random(n) < rng.uniform(0.6, 0.95)
    out = S.mcnemar_exact(a, b)
    table = [[np.sum(a & b), np.sum(a & ~b)], [np.sum(~a & b), np.sum(~a & ~b)]]
    ref = sm_mcnemar(table, exact=True)
    assert (out["b"], out["c"]) == (table[0][1], table[1][0])
    assert out["p"] == pytest.approx(ref.pvalue, rel=1e-10)


def test_mcnemar_edges():
    same = np.array([True, False, True])
    assert S.mcnemar_exact(same, same) == {"b": 0, "c": 0, "p": 1.0, "n": 3, "test": "McNemar exact"}
    # b = 6, c = 0: p = 2 * 0.5**6 (two-sided exact binomial by hand)
    assert S.mcnemar_exact([1] * 6 + [0], [0] * 7)["p"] == pytest.approx(2 * 0.5**6)
    with pytest.raises(ConfigError, match="same cells"):
        S.mcnemar_exact([1, 0], [1, 0, 1])
    with pytest.raises(ConfigError, match="correctness"):
        S.mcnemar_exact([2, 0], [1, 0])


def _corrected_t_numpy(d, n_train, n_test):
    """The formula of Nadeau & Bengio (2003) as written in Bouckaert & Frank (2004), transcribed."""
    d = np.asarray(d, float)
    j = len(d)
    var = np.sum((d - d.mean()) ** 2) / (j - 1)
    t = d.mean() / np.sqrt((1 / j + n_test / n_train) * var)
    return t, 2 * (1 - sp.t.cdf(abs(t), j - 1))


@pytest.mark.parametrize("seed", range(4))
def test_corrected_resampled_t_matches_the_formula(seed):
    rng = np.random.default_rng(seed)
    d = rng.normal(0.01, 0.02, size=int(rng.choice([5, 10, 50])))
    out = S.corrected_resampled_t(d, n_train=4000, n_test=1000)
    t, p = _corrected_t_numpy(d, 4000, 1000)
    assert out["t"] == pytest.approx(t) and out["p"] == pytest.approx(p, rel=1e-8)
    assert out["df"] == len(d) - 1 and out["J"] == len(d)
    half = sp.t.ppf(0.975, len(d) - 1) * np.sqrt((1 / len(d) + 0.25) * np.var(d, ddof=1))
    assert (out["low"], out["high"]) == pytest.approx((d.mean() - half, d.mean() + half))


def test_corrected_t_without_the_correction_is_the_one_sample_t_test():
    d = np.random.default_rng(9).normal(0.02, 0.03, size=12)
    out = S.corrected_resampled_t(d, n_train=1e12, n_test=1e-12)  # n_test / n_train -> 0
    ref = sp.ttest_1samp(d, 0.0)
    assert out["t"] == pytest.approx(ref.statistic) and out["p"] == pytest.approx(ref.pvalue)
    ci = ref.confidence_interval(0.95)
    assert (out["low"], out["high"]) == pytest.approx((ci.low, ci.high))


def test_corrected_t_worked_value_in_closed_form():
    """d = (1, 2, 3), n_test/n_train = 1/2: var = 1, se = sqrt(1/3 + 1/2) = sqrt(5/6), t = 2 / se = sqrt(4.8),
    df = 2. Student's t with 2 df has F(t) = 1/2 + t / (2 sqrt(2 + t^2)), so p = 1 - t / sqrt(2 + t^2)
    = 1 - sqrt(12/17) = 0.15983..., and its quantile t_q = (2q - 1) / sqrt(2 q (1 - q)) (4.3027 at 0.975)."""
    out = S.corrected_resampled_t([1, 2, 3], n_train=2, n_test=1)
    assert out["t"] == pytest.approx(math.sqrt(4.8))
    assert out["p"] == pytest.approx(1 - math.sqrt(12 / 17))
    assert out["p"] == pytest.approx(0.159832, abs=1e-6)
    tq = 0.95 / math.sqrt(2 * 0.975 * 0.025)
    assert (out["low"], out["high"]) == pytest.approx((2 - tq * math.sqrt(5 / 6), 2 + tq * math.sqrt(5 / 6)))


def test_corrected_t_edges():
    assert S.corrected_resampled_t([0.01] * 5, 100, 25)["p"] == 0.0
    assert S.corrected_resampled_t([0.0] * 5, 100, 25)["p"] == 1.0
    with pytest.raises(ConfigError, match="at least 2"):
        S.corrected_resampled_t([0.1], 100, 25)
    with pytest.raises(ConfigError, match="positive"):
        S.corrected_resampled_t([0.1, 0.2], 0, 25)


@pytest.mark.parametrize("p", [[0.01, 0.04, 0.03, 0.2], [0.5], [0.001, 0.001, 0.04, 0.04, 0.9, 0.01],
                               np.random.default_rng(1).random(15).tolist(), [0.3, 0.6, 0.9]])
def test_holm_matches_statsmodels(p):
    np.testing.assert_allclose(S.holm(p), multipletests(p, method="holm")[1], rtol=1e-12)


def test_holm_refuses_non_p_values():
    with pytest.raises(ConfigError):
        S.holm([0.1, 1.5])


# --------------------------------------------------------------------------------------------------------------
# comparing models, ranking


def _cv_results(rng, names_acc, n_cells=2000, folds=10):
    out = {}
    for name, acc in names_acc.items():
        out[name] = {"correct": rng.random(n_cells) < acc,
                     "fold_accuracies": acc + 0.004 * rng.standard_normal(folds)}
    return out


def test_compare_pairs_with_folds_uses_the_corrected_t_test_and_holm():
    rng = np.random.default_rng(0)
    res = _cv_results(rng, {"RGB": 0.85, "HSV": 0.88, "Lab": 0.851})
    pairs = S.compare_pairs(res, n_train=1800, n_test=200)
    assert len(pairs) == 3
    raw = []
    for q in pairs:
        d = res[q["a"]]["fold_accuracies"] - res[q["b"]]["fold_accuracies"]
        _, p = _corrected_t_numpy(d, 1800, 200)
        assert q["difference"] == pytest.approx(d.mean()) and q["difference"] >= 0
        assert q["p"] == pytest.approx(p, rel=1e-8) and q["primary_test"] == "corrected resampled t"
        ref = sm_mcnemar([[0, np.sum(res[q["a"]]["correct"] & ~res[q["b"]]["correct"])],
                          [np.sum(~res[q["a"]]["correct"] & res[q["b"]]["correct"]), 0]], exact=True)
        assert q["mcnemar"]["p"] == pytest.approx(ref.pvalue)
        raw.append(p)
    adj = multipletests(raw, method="holm")[1]
    for q, a in zip(pairs, adj):
        assert q["p_holm"] == pytest.approx(a) and q["resolved"] == (a < 0.05)
    hsv_rgb = next(q for q in pairs if {q["a"], q["b"]} == {"HSV", "RGB"})
    assert hsv_rgb["a"] == "HSV" and hsv_rgb["resolved"]
    assert hsv_rgb["verdict"].startswith("HSV better than RGB by 3.")
    assert "(95 % CI " in hsv_rgb["verdict"] and hsv_rgb["verdict"].endswith("(Holm): resolved")
    lab_rgb = next(q for q in pairs if {q["a"], q["b"]} == {"Lab", "RGB"})
    assert not lab_rgb["resolved"] and lab_rgb["verdict"].endswith("(Holm): not resolved")
    assert " ahead of " in lab_rgb["verdict"] and lab_rgb["low"] < 0 < lab_rgb["high"]
    assert S.ranking(pairs) == [["HSV"], ["Lab", "RGB"]]


def test_compare_pairs_on_one_test_split_uses_mcnemar():
    rng = np.random.default_rng(1)
    res = _cv_results(rng, {"RGB": 0.80, "HSV": 0.86}, n_cells=3000, folds=1)
    for m in res:
        res[m]["fold_accuracies"] = [res[m]["correct"].mean()]
    (q,) = S.compare_pairs(res)
    a, b = res["HSV"]["correct"], res["RGB"]["correct"]
    ref = sm_mcnemar([[0, np.sum(a & ~b)], [np.sum(~a & b), 0]], exact=True).pvalue
    assert q["primary_test"] == "McNemar exact" and q["p"] == pytest.approx(ref) and q["p_holm"] == q["p"]
    assert q["a"] == "HSV" and q["difference"] == pytest.approx(a.mean() - b.mean())
    bb, cc, n = np.sum(a & ~b), np.sum(~a & b), a.size
    assert (q["low"], q["high"]) == pytest.approx(_agresti_min(bb, cc, n))
    assert q["corrected_t"] is None and q["resolved"]


def _agresti_min(b, c, n, conflev=0.95):
    """Agresti's own R function for the adjusted Wald interval of matched pairs ("Wald+2", Agresti & Min,
    Statistics in Medicine 24:729, 2005), transcribed from http://users.stat.ufl.edu/~aa/cda/R/matched/
    R2_matched/index.html (``diffpropci``; there b, c are the off-diagonal counts and the difference is c - b,
    so the counts are passed swapped for leuknet's b - c)."""
    from scipy.stats import norm

    b, c = c, b
    z = norm.ppf(1 - (1 - conflev) / 2)
    diff = (c - b) / (n + 2)
    sd = math.sqrt((b + c + 1) - (c - b) ** 2 / (n + 2)) / (n + 2)
    return max(diff - z * sd, -1.0), min(diff + z * sd, 1.0)


def test_paired_interval_is_not_zero_wide_where_two_models_never_disagree():
    """4 test cells, both models right on the same 3: the plain Wald interval was 0.0 to 0.0 points, which reads as
    certainty from four cells. Agresti-Min's is +-32.7 points there (0.5 added to each cell: se = 1/6)."""
    right = np.array([True, True, True, False])
    (q,) = S.compare_pairs({"A": {"correct": right, "fold_accuracies": [0.75]},
                            "B": {"correct": right.copy(), "fold_accuracies": [0.75]}})
    assert q["difference"] == 0 and (q["low"], q["high"]) == pytest.approx((-1.959964 / 6, 1.959964 / 6))
    assert (q["low"], q["high"]) == pytest.approx(_agresti_min(0, 0, 4))
    assert "equal, 0.0 points (95 % CI -32.7 to 32.7)" in q["verdict"] and not q["resolved"]
    assert S.compare_pairs({"A": {"correct": np.ones(3, bool), "fold_accuracies": [1.0]},  # clipped to [-1, 1]
                            "B": {"correct": np.zeros(3, bool), "fold_accuracies": [0.0]}})[0]["high"] <= 1.0


def test_compare_pairs_falls_back_to_mcnemar_when_the_fold_differences_have_no_spread():
    """Two folds that both put HSV 10 points ahead: var = 0, so the corrected t would say p = 0 with a
    zero-width interval from two numbers; the pair is tested on its pooled cells instead."""
    rng = np.random.default_rng(2)
    res = _cv_results(rng, {"RGB": 0.80, "HSV": 0.90}, n_cells=200, folds=2)
    res["RGB"]["fold_accuracies"] = [0.80, 0.70]
    res["HSV"]["fold_accuracies"] = [0.90, 0.80]
    (q,) = S.compare_pairs(res, n_train=100, n_test=100)
    a, b = res["HSV"]["correct"], res["RGB"]["correct"]
    ref = sm_mcnemar([[0, np.sum(a & ~b)], [np.sum(~a & b), 0]], exact=True).pvalue
    assert q["a"] == "HSV" and q["primary_test"] == "McNemar exact" and q["p"] == pytest.approx(ref)
    assert "no spread" in q["interval"] and q["corrected_t"]["se"] == 0 and q["low"] < q["high"]
    assert q["difference"] == pytest.approx(a.mean() - b.mean())


def test_compare_pairs_refuses_what_cannot_be_compared():
    rng = np.random.default_rng(2)
    res = _cv_results(rng, {"A": 0.8, "B": 0.82})
    with pytest.raises(ConfigError, match="n_train and n_test"):
        S.compare_pairs(res)
    with pytest.raises(ConfigError, match="at least two"):
        S.compare_pairs({"A": res["A"]}, 10, 2)
    res["B"]["fold_accuracies"] = res["B"]["fold_accuracies"][:5]
    with pytest.raises(ConfigError, match="same folds"):
        S.compare_pairs(res, 10, 2)


def _pair(a, b, resolved, diff=0.01):
    return {"a": a, "b": b, "difference": diff, "resolved": resolved}


def test_ranking_orders_only_what_is_resolved():
    chain = [_pair("A", "B", True), _pair("B", "C", True), _pair("A", "C", True, 0.02)]
    assert S.ranking(chain) == [["A"], ["B"], ["C"]]
    # A > C resolved, B unresolved against both: nothing separates B, so one group
    assert S.ranking([_pair("A", "B", False), _pair("B", "C", False), _pair("A", "C", True)]) == [["A", "B", "C"]]
    # A and B both resolved above C, A vs B unresolved
    two = [_pair("A", "B", False, 0.002), _pair("A", "C", True), _pair("B", "C", True)]
    assert S.ranking(two) == [["A", "B"], ["C"]]
    assert S.ranking([_pair("A", "B", False)]) == [["A", "B"]]


def test_stats_imports_no_tensorflow():
    code = "import sys, leuknet.stats; assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


# --------------------------------------------------------------------------------------------------------------
# cross-validation folds


def _check_partition(folds, n):
    tests = np.concatenate([te for _, te in folds])
    assert np.array_equal(np.sort(tests), np.arange(n))  # every index in exactly one test fold
    for tr, te in folds:
        assert np.array_equal(np.sort(np.concatenate([tr, te])), np.arange(n))
        assert not set(tr.tolist()) & set(te.tolist())


@pytest.mark.parametrize("k", [2, 3, 5, 10])
def test_cv_folds_stratify_every_class_within_one(k):
    labels = np.array([0] * 53 + [1] * 21 + [2] * 10 + [3] * 97)
    np.random.default_rng(0).shuffle(labels)
    folds = cv_folds(labels, k, seed=3)
    assert len(folds) == k
    _check_partition(folds, len(labels))
    for c in range(4):
        n_c = int(np.sum(labels == c))
        per_fold = [int(np.sum(labels[te] == c)) for _, te in folds]
        assert sum(per_fold) == n_c
        assert all(n_c // k <= m <= -(-n_c // k) for m in per_fold), per_fold
    sizes = [len(te) for _, te in folds]
    assert max(sizes) - min(sizes) <= 1


def test_cv_folds_are_deterministic_and_seeded():
    labels = np.repeat([0, 1], [40, 30])
    a, b = cv_folds(labels, 5, seed=1), cv_folds(labels, 5, seed=1)
    assert all(np.array_equal(x[1], y[1]) for x, y in zip(a, b))
    c = cv_folds(labels, 5, seed=2)
    assert not all(np.array_equal(x[1], y[1]) for x, y in zip(a, c))


def test_cv_folds_by_subject_keep_every_subject_in_one_fold():
    rng = np.random.default_rng(5)
    sizes = rng.integers(5, 40, size=30)
    subjects = np.repeat([f"S{i:02d}" for i in range(30)], sizes)
    labels = np.repeat((np.arange(30) % 3 == 0).astype(int), sizes)  # one class per subject, as in C-NMC
    folds = cv_folds(labels, 5, seed=0, groups=subjects)
    _check_partition(folds, len(labels))
    seen = {}
    for f, (_, te) in enumerate(folds):
        for s in set(subjects[te].tolist()):
            assert s not in seen, f"subject {s} in folds {seen[s]} and {f}"
            seen[s] = f
        assert set(labels[te].tolist()) == {0, 1}  # every fold holds both classes
    assert len(seen) == 30
    again = cv_folds(labels, 5, seed=0, groups=subjects)
    assert all(np.array_equal(x[1], y[1]) for x, y in zip(folds, again))
    # greedy balance: each class's share of every fold is close to 1/k
    for c in (0, 1):
        shares = [np.sum(labels[te] == c) / np.sum(labels == c) for _, te in folds]
        assert max(shares) - min(shares) < 0.15, shares


def test_cv_folds_errors_say_what_to_do():
    labels = np.repeat([0, 1], [20, 3])
    with pytest.raises(ConfigError, match="K >= 2"):
        cv_folds(labels, 1)
    with pytest.raises(ConfigError, match=r"class 1 has 3 image\(s\), fewer than the 5 folds.*K <= 3"):
        cv_folds(labels, 5)
    subjects = np.repeat(["a", "b", "c", "d"], [5, 5, 5, 8])
    with pytest.raises(ConfigError, match="4 subject\\(s\\) cannot fill 5 folds"):
        cv_folds(np.repeat([0, 1], [10, 13]), 5, groups=subjects)
    with pytest.raises(ConfigError, match="class 0 is in 2 subject"):
        cv_folds(np.repeat([0, 1], [10, 13]), 3, groups=subjects)
    with pytest.raises(ConfigError, match="differ in length"):
        cv_folds(labels, 2, groups=["a"] * 5)


def test_repeated_cv_folds_use_seed_plus_repeat():
    labels = np.repeat([0, 1, 2], [12, 9, 15])
    rows = list(repeated_cv_folds(labels, 3, repeats=4, seed=10))
    assert [(r, f) for r, f, _, _ in rows] == [(r, f) for r in range(4) for f in range(3)]
    for r, f, tr, te in rows:
        ref_tr, ref_te = cv_folds(labels, 3, seed=10 + r)[f]
        assert np.array_equal(tr, ref_tr) and np.array_equal(te, ref_te)
    with pytest.raises(ConfigError, match="repeats"):
        repeated_cv_folds(labels, 3, repeats=0)
    with pytest.raises(ConfigError, match="fewer than the 10 folds"):
        repeated_cv_folds(labels, 10, repeats=2)  # raised at the call, not at the first fold
