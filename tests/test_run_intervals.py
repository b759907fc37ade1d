"""A single run's metrics carry 95 % intervals (issue 21): ``leuknet.metrics.metrics_with_intervals``, as written
to metrics.json by ``leuknet train`` (``run.evaluate_split``) and ``leuknet evaluate``, and shown by the report.

References are independent of ``leuknet.stats``: statsmodels' Wilson interval on counts made by plain-Python
loops, and a plain-Python bootstrap loop with the same ``numpy.random.default_rng(seed)`` draws. No training: the
evaluated model is a tiny untrained network."""

from __future__ import annotations

import csv
import json
import math
from types import SimpleNamespace

import numpy as np
import pytest
from statsmodels.stats.proportion import proportion_confint

from conftest import blob_image, run_cli, write_image
from test_stats import _slow_f1  # per-class F1 by counting: the same oracle as the statistics' tests
from leuknet import artefacts
from leuknet.metrics import classification_metrics, metrics_with_intervals

CLASSES = ["L1", "L2", "normal"]


def _labels(n=240, seed=3):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    p = np.where(rng.random(n) < 0.8, y, (y + rng.integers(1, 3, n)) % 3)
    return y, p


def _counts(pairs, c):
    """(k, n) for sensitivity, specificity, precision of class c, counted by hand."""
    tp = sum(1 for t, q in pairs if t == c and q == c)
    return {"sensitivity": (tp, sum(1 for t, _ in pairs if t == c)),
            "specificity": (sum(1 for t, q in pairs if t != c and q != c), sum(1 for t, _ in pairs if t != c)),
            "precision": (tp, sum(1 for _, q in pairs if q == c))}


def _check_wilson(iv, pairs, classes):
    """Every proportion of ``iv`` (an ``intervals`` dict, from memory or read back) against statsmodels."""
    def same(d, k, n):
        assert (d["k"], d["n"]) == (k, n)
        if n == 0:
            assert all(d[x] is None or math.isnan(d[x]) for x in ("estimate", "low", "high"))
            return
        low, high = proportion_confint(k, n, alpha=0.05, method="wilson")
        assert d["estimate"] == pytest.approx(k / n, abs=1e-12)
        assert d["low"] == pytest.approx(low, abs=1e-10) and d["high"] == pytest.approx(high, abs=1e-10)

    assert iv["confidence"] == 0.95
    same(iv["accuracy"], sum(1 for t, q in pairs if t == q), len(pairs))
    for i, c in enumerate(classes):
        for key, (k, n) in _counts(pairs, i).items():
            same(iv["per_class"][c][key], k, n)


def _slow_bootstrap(y, p, k, n_boot, seed):
    """Per-class, macro and weighted F1 of n_boot resamples, one plain-Python loop per resample."""
    rng = np.random.default_rng(seed)
    columns = {name: [] for name in ["macro_f1", "weighted_f1"] + list(range(k))}
    for _ in range(n_boot):
        idx = rng.integers(0, len(y), size=len(y))
        pairs = [(int(y[i]), int(p[i])) for i in idx]
        f1 = _slow_f1(pairs, k)
        support = [sum(1 for t, _ in pairs if t == c) for c in range(k)]
        columns["macro_f1"].append(sum(f1) / k)
        columns["weighted_f1"].append(sum(f * s for f, s in zip(f1, support)) / len(pairs))
        for c in range(k):
            columns[c].append(f1[c])
    return {name: np.quantile(v, [0.025, 0.975]) for name, v in columns.items()}


def test_wilson_intervals_match_statsmodels_and_the_estimates_equal_classification_metrics():
    y, p = _labels()
    m = metrics_with_intervals(y, p, CLASSES, n_boot=50)
    _check_wilson(m["intervals"], list(zip(y.tolist(), p.tolist())), CLASSES)
    ref = classification_metrics(y, p, CLASSES)
    assert {k: v for k, v in m.items() if k != "intervals"} == ref  # metrics.json's existing keys unchanged
    iv = m["intervals"]
    assert iv["accuracy"]["estimate"] == pytest.approx(ref["accuracy"])
    assert iv["macro_f1"]["estimate"] == pytest.approx(ref["macro"]["f1"])
    assert iv["weighted_f1"]["estimate"] == pytest.approx(ref["weighted_f1"])
    for c in CLASSES:
        for key in ("sensitivity", "specificity", "precision", "f1"):
            assert iv["per_class"][c][key]["estimate"] == pytest.approx(ref["per_class"][c][key]), (c, key)


def test_bootstrap_f1_intervals_match_a_plain_python_loop_with_the_same_seed():
    y, p = _labels(n=120, seed=5)
    n_boot, seed = 300, 11  # 300 > one chunk of 256 resamples
    iv = metrics_with_intervals(y, p, CLASSES, seed=seed, n_boot=n_boot)["intervals"]
    slow = _slow_bootstrap(y, p, 3, n_boot, seed)
    got = {"macro_f1": iv["macro_f1"], "weighted_f1": iv["weighted_f1"],
           **{i: iv["per_class"][c]["f1"] for i, c in enumerate(CLASSES)}}
    for name, d in got.items():
        assert (d["low"], d["high"]) == pytest.approx(tuple(slow[name]), abs=1e-12), name
        assert d["low"] <= d["estimate"] <= d["high"]
        assert (d["n_boot"], d["seed"], d["confidence"]) == (n_boot, seed, 0.95)
    assert (iv["n_boot"], iv["seed"]) == (n_boot, seed)
    assert metrics_with_intervals(y, p, CLASSES, seed=seed, n_boot=n_boot)["intervals"] == iv  # deterministic
    assert metrics_with_intervals(y, p, CLASSES, seed=seed + 1, n_boot=n_boot)["intervals"]["macro_f1"] != \
        iv["macro_f1"]


def test_a_class_never_predicted_or_absent_is_null_in_metrics_json(tmp_path):
    y = np.array([0, 0, 0, 1, 1, 1, 0, 1])
    p = np.array([0, 0, 1, 1, 1, 1, 0, 0])  # class 2 ("normal") neither present nor predicted
    m = metrics_with_intervals(y, p, CLASSES, n_boot=100)
    assert math.isnan(m["intervals"]["per_class"]["normal"]["precision"]["estimate"])
    artefacts.write_metrics(tmp_path / "metrics.json", m)
    text = (tmp_path / "metrics.json").read_text()
    assert "NaN" not in text and "Infinity" not in text
    back = json.loads(text)
    normal = back["intervals"]["per_class"]["normal"]
    assert normal["precision"] == {"k": 0, "n": 0, "estimate": None, "low": None, "high": None}
    assert normal["sensitivity"]["estimate"] is None and normal["specificity"]["n"] == 8
    assert normal["f1"]["estimate"] == 0.0  # F1 is 0 where undefined, as in classification_metrics
    _check_wilson(back["intervals"], list(zip(y.tolist(), p.tolist())), CLASSES)


def test_train_evaluate_split_bootstraps_with_the_runs_seed():
    from leuknet import run

    y, p = _labels(n=60, seed=8)
    probs = np.eye(3)[p] * 0.9 + 0.03
    part = type("Part", (), {"labels": y, "__len__": lambda self: len(y)})()
    empty = type("Empty", (), {"__len__": lambda self: 0})()
    data = SimpleNamespace(test=part, validation=empty, splits={"test": list(range(len(y)))},
                           dataset=SimpleNamespace(classes=CLASSES, synthetic=True,
                                                   samples=[SimpleNamespace(path=f"{i}.png") for i in range(len(y))]))
    trainer = SimpleNamespace(predict=lambda part, batch_size: probs)
    out = run.evaluate_split(SimpleNamespace(seed=17), trainer, data, 8)
    iv = out["metrics"]["intervals"]
    assert iv["seed"] == 17 and iv == metrics_with_intervals(y, p, CLASSES, seed=17)["intervals"]
    assert out["metrics"]["evaluated_split"] == "test"


@pytest.fixture
def evaluated(tmp_path):
    """``leuknet evaluate`` (in-process) of a tiny untrained network on 12 small images."""
    from leuknet.io import save_model
    from leuknet.matlab import (classificationLayer, convolution2dLayer, fullyConnectedLayer, imageInputLayer,
                                reluLayer, softmaxLayer)
    from leuknet.matlab.layers import assemble

    rng = np.random.default_rng(0)
    data = tmp_path / "cells"
    for c, name in enumerate(("blast", "normal")):
        for i in range(6):
            write_image(data / name / f"{i:02d}.png", blob_image(c, rng, 16))
    model, _ = assemble([imageInputLayer([16, 16, 3], Normalization="none"), convolution2dLayer(3, 4, Padding="same"),
                         reluLayer(), fullyConnectedLayer(2), softmaxLayer(),
                         classificationLayer(Classes=["blast", "normal"])])
    save_model(model, tmp_path / "model.keras")
    code, text = run_cli(["evaluate", "--model-file", tmp_path / "model.keras", "--data", data,
                          "--out", tmp_path / "ev", "--device", "cpu"])
    assert code == 0, text
    return tmp_path / "ev"


def test_evaluate_writes_intervals_consistent_with_its_predictions(evaluated):
    m = json.loads((evaluated / "metrics.json").read_text())
    rows = list(csv.DictReader(open(evaluated / "predictions.csv", newline="", encoding="utf-8")))
    classes = m["classes"]
    y = np.array([classes.index(r["true_class"]) for r in rows])
    p = np.array([classes.index(r["predicted_class"]) for r in rows])
    assert len(rows) == m["n_test"] == 12
    _check_wilson(m["intervals"], list(zip(y.tolist(), p.tolist())), classes)
    assert m["intervals"]["seed"] == 0 and m["intervals"]["n_boot"] == 2000
    slow = _slow_bootstrap(y, p, 2, 2000, 0)
    assert (m["intervals"]["weighted_f1"]["low"], m["intervals"]["weighted_f1"]["high"]) == \
        pytest.approx(tuple(slow["weighted_f1"]), abs=1e-12)
    for i, c in enumerate(classes):
        assert (m["intervals"]["per_class"][c]["f1"]["low"], m["intervals"]["per_class"][c]["f1"]["high"]) == \
            pytest.approx(tuple(slow[i]), abs=1e-12)
    assert m["accuracy"] == pytest.approx(float(np.mean(y == p)))  # the existing keys are still there


def _fake_run(run, metrics):
    """A run directory as the report reads it (config.json, history.csv, metrics.json), without training."""
    cfg = {"config": {"model": "tiny", "recipe": "demo", "split_by": "cell", "balance": "none", "colorspace": "rgb",
                      "image_size": 16, "solver": "adam", "schedule": "none", "epochs": 1, "batch_size": 4, "seed": 3},
           "model": {"params": 1234}, "training_options": {"InitialLearnRate": 1e-3},
           "dataset": {"root": "cells", "format": "folders", "n_images": len(metrics["classes"]) * 10,
                       "classes": metrics["classes"], "fingerprint_sha256": "0" * 64, "synthetic": False},
           "splits": {"train": 10, "validation": 5, "test": 15}, "device": {"used": "cpu"},
           "timing": {"train_seconds": 1.0}, "versions": {"leuknet": "0"}}
    from leuknet.io import write_json

    write_json(run / "config.json", cfg)
    artefacts.write_history(run / "history.csv", [
        {"Epoch": 1, "Iteration": i, "TimeElapsed": 0.1 * i, "BaseLearnRate": 1e-3, "TrainingLoss": 1.0 / i,
         "TrainingAccuracy": 50.0 + i, "ValidationLoss": math.nan, "ValidationAccuracy": math.nan}
        for i in (1, 2, 3)])
    artefacts.write_metrics(run / "metrics.json", metrics)


def test_report_shows_intervals_and_still_builds_for_runs_without_them(tmp_path):
    from leuknet.report import build_report

    y = np.array([0] * 10 + [1] * 10 + [2] * 10)
    p = np.array([0] * 9 + [1] + [1] * 8 + [0] * 2 + [0] * 10)  # "normal" is never predicted: no precision CI
    m = metrics_with_intervals(y, p, CLASSES, seed=3, n_boot=200)
    _fake_run(tmp_path / "new", m)
    old = {k: v for k, v in m.items() if k != "intervals"}  # as written before the intervals
    _fake_run(tmp_path / "old", old)
    text = build_report([tmp_path / "new"], tmp_path / "new.md").read_text()
    acc = m["intervals"]["accuracy"]
    assert f"Accuracy {100 * acc['estimate']:.1f} % [{100 * acc['low']:.1f}, {100 * acc['high']:.1f}] " \
           f"(17 of 30 cells)" in text, text
    w = m["intervals"]["weighted_f1"]
    assert f"weighted F1 {w['estimate']:.3f} [{w['low']:.3f}, {w['high']:.3f}]" in text
    sens = m["intervals"]["per_class"]["L1"]["sensitivity"]
    assert f"| 90.0 % [{100 * sens['low']:.1f}, {100 * sens['high']:.1f}] |" in text
    assert "| 0.0 % (n = 0) |" in text  # precision of the class never predicted
    assert "seed 3" in text and "200 resamples" in text
    text = build_report([tmp_path / "old"], tmp_path / "old.md").read_text()
    assert f"Accuracy {100 * m['accuracy']:.2f}%, weighted F1 {m['weighted_f1']:.4f}." in text
    assert "[" not in text.split("Test metrics")[1].split("![")[0]  # plain values, no intervals
    html = build_report([tmp_path / "old", tmp_path / "new"], tmp_path / "both.html").read_text()
    assert html.count("Test metrics") == 2
