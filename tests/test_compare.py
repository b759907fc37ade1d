"""Issue 21: `leuknet compare` (models on the same cells, hold-out or cross-validated), `leuknet train --cv K` and
`leuknet study fc-units --cv K`: every number in their JSON checked against independent references (statsmodels'
Wilson interval and exact McNemar test, the corrected resampled t-test's closed form with SciPy's t
distribution) on the predictions read back from the runs' own files."""

import csv
import html
import json
import math
from pathlib import Path

import numpy as np
import pytest
from conftest import folder_data, run_cli

TINY = ["--epochs", "1", "--batch-size", "4", "--image-size", "32", "--device", "cpu"]


def _rows(run: Path):
    with open(run / "predictions.csv", newline="", encoding="utf-8") as f:
        return sorted(csv.DictReader(f), key=lambda r: r["file"])


def _wilson(k, n):
    from statsmodels.stats.proportion import proportion_confint

    return proportion_confint(k, n, alpha=0.05, method="wilson")


def _mcnemar_p(correct_a, correct_b):
    from statsmodels.stats.contingency_tables import mcnemar

    a, b = np.asarray(correct_a, bool), np.asarray(correct_b, bool)
    table = [[np.sum(a & b), np.sum(a & ~b)], [np.sum(~a & b), np.sum(~a & ~b)]]
    return mcnemar(table, exact=True).pvalue


def _check_primary(q, diffs, n_train, n_test, correct_a, correct_b):
    """The pair's difference and p: Nadeau & Bengio's (2003) corrected resampled t, t = mean / sqrt((1/J +
    n_test/n_train) s^2) with J - 1 degrees of freedom; where the J differences have no spread (s = 0) the
    pooled cells' difference and McNemar's exact p instead (docs/statistics.md)."""
    from scipy.stats import t as student

    d = np.asarray(diffs, float)
    j = d.size
    se = math.sqrt((1 / j + n_test / n_train) * d.var(ddof=1))
    if np.ptp(d) > 1e-12:  # differences equal but for rounding (0.9 - 0.8, 0.8 - 0.7) have no spread
        assert q["primary_test"] == "corrected resampled t" and _close(q["difference"], d.mean())
        assert _close(q["p"], 2 * student.sf(abs(d.mean() / se), j - 1), 1e-7)
    else:
        assert q["primary_test"] == "McNemar exact"
        assert _close(q["difference"], np.mean(correct_a) - np.mean(correct_b))
        assert _close(q["p"], _mcnemar_p(correct_a, correct_b))


def _close(a, b, tol=1e-9):
    return math.isclose(a, b, rel_tol=tol, abs_tol=1e-12)


def test_compare_and_train_cv_refuse_bad_input_before_training(tmp_path):
    data = str(folder_data(tmp_path / "cells", per_class=3))
    more = str(folder_data(tmp_path / "more", per_class=9))
    cases = [
        (["compare", "--model", "leuknet", "--data", data], "at least two different models"),
        (["compare", "--model", "leuknet", "--model", "leuknet", "--data", data], "at least two different models"),
        (["compare", "--model", "leuknet", "--model", "vgg61", "--data", data], "vgg16"),  # did you mean
        # each model's own recipe: cnmc-oliveira crops 100 pixels (other cells readable), and splits 0.6/0.3/0.1
        # where leuknet-paper splits 0.7/0.2/0.1 (the same 10 % of test cells here); alexnet-shafique tests 40 %
        (["compare", "--model", "leuknet", "--model", "vgg16", "--data", data], "read different data (--crop"),
        (["compare", "--model", "leuknet", "--model", "alexnet", "--data", more],  # 0.7/0.2/0.1 against 0.6/0/0.4
         "split the data differently"),
        (["compare", "--model", "leuknet", "--model", "vgg16", "--data", data, "--recipe", "demo", "--cv", "4"],
         "fewer than the 4 folds"),
        (["train", "--data", data, "--repeats", "2"], "--repeats needs --cv"),
        (["train", "--cv", "2", "--resume", "--out", str(tmp_path / "x")], "drop --resume"),
        (["train", "--data", data, "--cv", "2", "--epochs", "0"], "epochs"),
    ]
    for argv, message in cases:
        code, text = run_cli(argv + ["--out", str(tmp_path / "out")] if "--out" not in argv else argv)
        assert code == 2 and message in text, (argv, text)
        assert len([line for line in text.strip().splitlines() if "error" in line]) == 1, text
    assert not (tmp_path / "out" / "runs").exists() or not any((tmp_path / "out" / "runs").iterdir())


@pytest.mark.slow
def test_compare_models_on_the_same_split_per_seed(tmp_path):
    """The hold-out design: two models, the recipe's split with seeds 0 and 1; paired tests over the two
    splits (corrected t) and McNemar on each repeat's test cells."""
    from leuknet.report import build_report

    data = folder_data(tmp_path / "cells")
    out = tmp_path / "cmp"
    argv = ["compare", "--model", "leuknet", "--model", "vgg16", "--data", data, "--recipe", "demo", "--repeats", "2",
            "--split", "0.5,0.2,0.3", *TINY, "--out", out]
    code, text = run_cli(argv)
    assert code == 0, text
    assert "## Intervals" in text and "Verdicts:" in text and "Written:" in text and "compare.json" in text
    # each run's line names its folder (repeats counted from 1 on screen, from 0 in the folder names)
    assert "vgg16 repeat 2 (seed 1): test accuracy" in text and "% (runs/vgg16-seed1)" in text
    assert all((out / "runs" / f"{m}-seed{s}").is_dir() for m in ("leuknet", "vgg16") for s in (0, 1))
    result = json.loads((out / "compare.json").read_text())
    assert result["study"]["kind"] == "compare" and result["study"]["cv"] is None
    correct, accs, sizes = {}, {}, []
    for model in ("leuknet", "vgg16"):
        correct[model], accs[model] = [], []
        for r in range(2):
            run = out / "runs" / f"{model}-seed{r}"
            cfg = json.loads((run / "config.json").read_text())
            assert cfg["config"]["model"] == model and cfg["config"]["seed"] == r
            rows = _rows(run)
            if model == "leuknet":
                sizes.append((cfg["splits"]["train"], cfg["splits"]["test"]))
            else:  # the same test cells as leuknet in this repeat: paired
                assert [x["file"] for x in rows] == [x["file"] for x in _rows(out / "runs" / f"leuknet-seed{r}")]
            ok = np.array([x["true_class"] == x["predicted_class"] for x in rows])
            correct[model].append(ok)
            accs[model].append(ok.mean())
            pooled = result["variants"][model]["pooled"][r]
            assert (pooled["accuracy"]["k"], pooled["accuracy"]["n"]) == (ok.sum(), ok.size)
            low, high = _wilson(ok.sum(), ok.size)
            assert _close(pooled["accuracy"]["low"], low) and _close(pooled["accuracy"]["high"], high)
        over = result["variants"][model]["over_folds"]["accuracy"]
        assert np.allclose(over["values"], accs[model]) and _close(over["mean"], np.mean(accs[model]))
    (q,) = result["pairs"]
    a, b = q["a"], q["b"]
    assert {a, b} == {"leuknet", "vgg16"} and q["difference"] >= 0
    n_train, n_test = np.mean([s[0] for s in sizes]), np.mean([s[1] for s in sizes])
    _check_primary(q, np.subtract(accs[a], accs[b]), n_train, n_test, correct[a][0], correct[b][0])
    assert len(q["mcnemar_repeats"]) == 2
    for r, m in enumerate(q["mcnemar_repeats"]):
        assert m["repeat"] == r and _close(m["p"], _mcnemar_p(correct[a][r], correct[b][r]))
    assert q["verdict"] in text and q["verdict"] in (out / "compare.md").read_text()
    for f in ("accuracy_intervals.png", "paired_differences.png", "class_sensitivity.png", "confusion_leuknet.png",
              "confusion_vgg16.png"):
        assert (out / f).read_bytes()[:4] == b"\x89PNG", f
    code, again = run_cli(argv)  # resumable: every run kept, the same tables
    assert code == 0 and again.count("already done, kept") == 4 and q["verdict"] in again
    report = build_report([out], tmp_path / "report.html").read_text()
    assert html.escape(q["verdict"]) in report and "Model comparison" in report


@pytest.mark.slow
def test_train_cv_predicts_every_cell_once_with_intervals(tmp_path):
    data = folder_data(tmp_path / "cells")
    out = tmp_path / "cv"
    argv = ["train", "--data", data, "--recipe", "demo", "--cv", "3", "--fc-units", "8", *TINY, "--out", out]
    code, text = run_cli(argv)
    assert code == 0, text
    assert "## Intervals" in text and "cv.json" in text and "Pairwise" not in text
    rows = [x for f in range(3) for x in _rows(out / "runs" / f"leuknet-r0-f{f}")]
    assert sorted(x["file"] for x in rows) == sorted(str(p) for p in data.rglob("*.png"))  # each cell once
    k = sum(x["true_class"] == x["predicted_class"] for x in rows)
    s = json.loads((out / "cv.json").read_text())["variants"]["leuknet"]
    assert (s["accuracy"]["k"], s["accuracy"]["n"], s["test_cells"]) == (k, 18, 18)
    low, high = _wilson(k, 18)
    assert _close(s["accuracy"]["low"], low) and _close(s["accuracy"]["high"], high)
    for c in ("blast", "normal"):
        members = [x for x in rows if x["true_class"] == c]
        hits = sum(x["predicted_class"] == c for x in members)
        sens = s["per_class"][c]["sensitivity"]
        assert (sens["k"], sens["n"]) == (hits, len(members))
        assert _close(sens["low"], _wilson(hits, len(members))[0])
    for f in range(3):
        m = json.loads((out / "runs" / f"leuknet-r0-f{f}" / "metrics.json").read_text())
        assert m["intervals"]["accuracy"]["n"] == m["n_test"]  # every fold run has its own intervals
    code, again = run_cli(argv)
    assert code == 0 and again.count("already done, kept") == 3


@pytest.mark.slow
def test_fc_units_cv_pairs_every_width_on_every_repeat(tmp_path):
    """`study fc-units --cv 2 --repeats 2`: the corrected t over the 4 folds and McNemar on each repeat's
    pooled cells (every cell once per repeat), against the closed form and statsmodels."""
    data = folder_data(tmp_path / "cells", per_class=6)
    out = tmp_path / "fc"
    code, text = run_cli(["study", "fc-units", "--model", "leuknet", "--values", "8,4", "--data", data, "--recipe",
                          "demo", "--cv", "2", "--repeats", "2", *TINY, "--out", out])
    assert code == 0, text
    result = json.loads((out / "fc_units.json").read_text())
    assert [v["name"] for v in result["study"]["variants"]] == ["FC 8", "FC 4"]
    correct, folds, sizes = {}, {}, []
    for key in ("fc8", "fc4"):
        correct[key], folds[key] = [], []
        for r in range(2):
            rows = []
            for f in range(2):
                run = out / "runs" / f"{key}-r{r}-f{f}"
                cfg = json.loads((run / "config.json").read_text())
                assert cfg["config"]["fc_units"] == int(key[2:]) and cfg["config"]["cv_fold"] == [2, f, r]
                if key == "fc8":
                    sizes.append((cfg["splits"]["train"], cfg["splits"]["test"]))
                got = _rows(run)
                folds[key].append(np.mean([x["true_class"] == x["predicted_class"] for x in got]))
                rows += got
            rows.sort(key=lambda x: x["file"])
            assert len(rows) == 12 == len({x["file"] for x in rows})
            correct[key].append(np.array([x["true_class"] == x["predicted_class"] for x in rows]))
    (q,) = result["pairs"]
    name = {"FC 8": "fc8", "FC 4": "fc4"}
    a, b = name[q["a"]], name[q["b"]]
    assert q["folds"] == 4
    n_train, n_test = np.mean([s[0] for s in sizes]), np.mean([s[1] for s in sizes])
    _check_primary(q, np.subtract(folds[a], folds[b]), n_train, n_test, correct[a][0], correct[b][0])
    assert [m["repeat"] for m in q["mcnemar_repeats"]] == [0, 1]
    for r, m in enumerate(q["mcnemar_repeats"]):
        assert _close(m["p"], _mcnemar_p(correct[a][r], correct[b][r]))
    assert q["verdict"] in text
