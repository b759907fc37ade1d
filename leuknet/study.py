"""The colour-space study (Shafique & Tehsin, Table 1): the same recipe trained on RGB, HSV, YCbCr and HCbCr
versions of the data, with identical splits and initial weights per repeat, repeated over seeds.

Layout of a study folder::

    study.json            what was asked (flags, spaces, repeats)
    runs/<space>-seed<k>/ one complete run directory per (space, repeat); finished runs are never redone
    colorspace.json       per space: training samples, accuracy / F1 / sensitivity / specificity mean and s.d.
    colorspace.md         the paper's Table 1 layout
    colorspace.png        bars with error bars
    confusion_<space>.png confusion matrix summed over the repeats

With ``--cv K`` (:func:`run_study`'s ``cv``) each repeat is a K-fold cross-validation instead::

    runs/<space>-r<r>-f<f>/   one run per (space, repeat, fold): the fold is its test split
    colorspace.json       per space: pooled intervals, mean and s.d. over folds; every pair; the ranking
    colorspace.md         the interval table, per-class intervals, the pairwise table with the verdicts
    accuracy_intervals.png, paired_differences.png, class_sensitivity.png, confusion_<space>.png

Several processes may run one study together (``--workers N``, or the same command started N times by hand or
as a job array, on one machine or on several sharing a file system with locks): each run is claimed through its
run directory's lock by one process, finished runs are never redone, a run another process is training is left
to it, and the summary is written once every run is finished, by the process that finishes last (under the
study's lock, ``<study>.lock``, which also guards ``study.json``).
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np

from leuknet.colorspace import SPACES
from leuknet.tflog import no_false_retracing_warning
from leuknet.errors import ConfigError

TASKS = ("detection", "subtype")
SPACE_LABELS = {"rgb": "A: RGB", "hsv": "B: HSV", "ycbcr": "C: YCbCr", "hcbcr": "D: HCbCr"}


def parse_spaces(text) -> list[str]:
    spaces = [s.strip().lower() for s in (text.split(",") if isinstance(text, str) else text) if s.strip()]
    bad = [s for s in spaces if s not in SPACES]
    if bad or not spaces:
        raise ConfigError(f"unknown colour space {bad[0] if bad else text!r}; choose from {', '.join(SPACES)}")
    return list(dict.fromkeys(spaces))


def _mean_std(values):
    v = np.asarray(values, np.float64)
    return {"mean": float(v.mean()), "std": float(v.std(ddof=1)) if len(v) > 1 else None, "values": v.tolist()}


def summarise(study_dir, spaces, repeats, seed0=0) -> dict:
    study_dir = Path(study_dir)
    summary = {}
    for space in spaces:
        accs, f1s, sens, spec, cms, n_train, per_class = [], [], [], [], [], None, {}
        for r in range(repeats):
            run = study_dir / "runs" / f"{space}-seed{seed0 + r}"
            m = json.loads((run / "metrics.json").read_text())
            cfg = json.loads((run / "config.json").read_text())
            n_train = cfg["splits"]["train"]
            accs.append(m["accuracy"])
            f1s.append(m["macro"]["f1"])
            sens.append(m["macro"]["sensitivity"])
            spec.append(m["macro"]["specificity"])
            cms.append(np.asarray(m["confusion_matrix"]))
            for c, pc in m["per_class"].items():
                for k in ("sensitivity", "specificity", "precision", "f1"):
                    per_class.setdefault(c, {}).setdefault(k, []).append(pc[k])
            classes = m["classes"]
        summary[space] = {
            "label": SPACE_LABELS[space], "training_samples": n_train, "repeats": repeats,
            "accuracy": _mean_std(accs), "macro_f1": _mean_std(f1s), "sensitivity": _mean_std(sens),
            "specificity": _mean_std(spec), "confusion_matrix_sum": np.sum(cms, 0).tolist(), "classes": classes,
            "per_class": {c: {k: _mean_std(v) for k, v in d.items()} for c, d in per_class.items()},
        }
    return summary


def _pm(d):
    return f"{100 * d['mean']:.2f}" + (f" ± {100 * d['std']:.2f}" if d["std"] is not None else "")


def markdown(summary, meta) -> str:
    lines = [f"# Colour-space study: {meta['model']} ({meta['task']})", "",
             f"Data: {meta['data']}" + (" (SYNTHETIC demo data)" if meta.get("synthetic") else ""),
             f"Recipe: {meta['recipe']}; repeats: {meta['repeats']} (seeds {meta['seed']}.."
             f"{meta['seed'] + meta['repeats'] - 1}); every space sees the same split and initial weights per seed.",
             "", "Mean ± sample standard deviation over the repeats, in %. Sensitivity and specificity are "
             "macro averages over the classes (one-vs-rest).", "",
             "| Data set | Colour model | Training samples | Accuracy | F1 | Sensitivity | Specificity |",
             "|---|---|---|---|---|---|---|"]
    for space, s in summary.items():
        letter, name = s["label"].split(": ")
        lines.append(f"| {letter} | {name} | {s['training_samples']} | {_pm(s['accuracy'])} | {_pm(s['macro_f1'])} | "
                     f"{_pm(s['sensitivity'])} | {_pm(s['specificity'])} |")
    lines += ["", "Per-class sensitivity (mean over repeats):", "",
              "| Colour model | " + " | ".join(next(iter(summary.values()))["classes"]) + " |",
              "|---|" + "---|" * len(next(iter(summary.values()))["classes"])]
    for space, s in summary.items():
        lines.append(f"| {s['label']} | " + " | ".join(f"{100 * s['per_class'][c]['sensitivity']['mean']:.2f}"
                                                    for c in s["classes"]) + " |")
    lines += ["", "![colour-space comparison](colorspace.png)", ""]
    lines += [f"![confusion {space}](confusion_{space}.png)" for space in summary]
    return "\n".join(lines) + "\n"


# a process waits this long for another's short turn at the study's bookkeeping (study.json, the summary)
STUDY_LOCK_WAIT_SECONDS = 600


def study_lock(out: Path):
    """The study's own lock (held for seconds: checking ``study.json``, writing the summary)."""
    from leuknet.locks import acquire, lock_path_for

    return acquire(lock_path_for(out), timeout=STUDY_LOCK_WAIT_SECONDS, what=f"study {out}")


def finished(run_dir: Path) -> bool:
    return (run_dir / "metrics.json").is_file() and (run_dir / "model.keras").is_file()


def _run_config(run_dir: Path, flags: dict):
    """A fresh run, or the continuation of one that a process stopped (crashed, killed) after a checkpoint."""
    from leuknet.config import load_resume, resolve
    from leuknet.run import partial_dir

    partial = partial_dir(run_dir)
    if (partial / "checkpoint.npz").is_file() and (partial / "run_config.json").is_file():
        return load_resume(run_dir)
    return resolve(dict(flags, out=str(run_dir), overwrite=True))


def run_each(runs, cb, epochs: int) -> dict:
    """Train every ``(run_dir, info, flags)`` not yet finished, each claimed first: a run another process holds
    is left to it (``run_busy``), one finished meanwhile is kept. Returns {run_dir: owner} of the runs left."""
    from leuknet.errors import RunInUse
    from leuknet.run import claim_run_directory, train_run

    busy = {}
    for run_dir, info, flags in runs:
        if finished(run_dir):
            cb("run_skipped", dict(info, epochs=epochs))
            continue
        try:
            lock = claim_run_directory(run_dir)
        except RunInUse as e:
            busy[run_dir] = e.owner
            cb("run_busy", dict(info, epochs=epochs, owner=e.owner))
            continue
        try:
            if finished(run_dir):  # by another process, between the check and the claim
                cb("run_skipped", dict(info, epochs=epochs))
                continue
            cfg = _run_config(run_dir, flags)
            cb("run_start", dict(info, resume=cfg.resume))
            with no_false_retracing_warning():  # every run's network traces its functions once
                train_run(cfg, callback=lambda e, p, s=info["space"]: cb(e, dict(p, space=s)
                                                                         if isinstance(p, dict) else p))
        finally:
            lock.release()
    return busy


def _sources(run_dirs) -> dict:
    """What a summary was made from: each run's metrics.json, hashed."""
    return {Path(r).name: hashlib.sha256((Path(r) / "metrics.json").read_bytes()).hexdigest()[:16]
            for r in run_dirs}


def _up_to_date(summary_file: Path, sources: dict) -> bool:
    try:
        return json.loads(summary_file.read_text()).get("sources") == sources
    except (OSError, ValueError):
        return False


def _check_study_record(out: Path, meta: dict):
    """``study.json``: written by the first process; a later one with other settings is refused."""
    from leuknet.io import write_json

    previous = out / "study.json"
    if previous.exists():
        old = json.loads(previous.read_text())
        if {k: v for k, v in old.get("flags", {}).items() if k != "overwrite"} != \
                {k: v for k, v in meta["flags"].items() if k != "overwrite"} or old.get("cv") != meta.get("cv"):
            raise ConfigError(f"{out} holds a study with other settings; choose another --out")
        if old == meta:
            return
    write_json(previous, meta)


def run_study(flags: dict, spaces, repeats: int, out, task="detection", callback=None, cv: int | None = None) -> dict:
    """Train ``flags`` (as for ``leuknet train``) once per space and seed; resume where runs exist. Safe to run
    in several processes at once on one ``out``; the result's ``pending`` lists the runs other processes are
    still training (the summary is then theirs to write; ``summary`` is None).

    ``cv=K``: K-fold cross-validation instead of one split per seed: repeat r (seed ``seed + r``) trains one run
    per space and fold, ``runs/<space>-r<r>-f<fold>``, whose test split is that fold (every cell predicted once
    per repeat; see :func:`leuknet.run.fold_splits`); the summary gives intervals and paired tests
    (:func:`summarise_cv`)."""
    from leuknet.config import resolve
    from leuknet.run import load_dataset

    cb = callback or (lambda e, p: None)
    if task not in TASKS:
        raise ConfigError(f"unknown task {task!r}; choose detection or subtype")
    if repeats < 1:
        raise ConfigError(f"--repeats must be at least 1, received {repeats}")
    spaces = parse_spaces(spaces)
    out = Path(out)
    seed0 = int(flags.get("seed") or 0)
    base = resolve({k: v for k, v in flags.items() if k not in ("out", "colorspace")})
    dataset = load_dataset(base)
    k = len(dataset.classes)
    if task == "detection" and k != 2:
        raise ConfigError(f"--task detection needs two classes; the data has {k}: {', '.join(dataset.classes)}")
    if task == "subtype" and k < 3:
        raise ConfigError(f"--task subtype needs at least three classes; the data has {k}")
    meta = {"model": base.model, "recipe": base.recipe, "task": task, "data": base.data or "demo",
            "synthetic": dataset.synthetic, "spaces": spaces, "repeats": repeats, "seed": seed0,
            "flags": {k: v for k, v in flags.items() if v is not None}}
    if cv is not None:
        meta["cv"] = _check_cv(dataset, cv, repeats, seed0)
    (out / "runs").mkdir(parents=True, exist_ok=True)
    with study_lock(out):
        _check_study_record(out, meta)
    if cv is None:
        runs = [(out / "runs" / f"{space}-seed{seed0 + r}", {"space": space, "seed": seed0 + r},
                 dict(flags, colorspace=space, seed=seed0 + r)) for r in range(repeats) for space in spaces]
    else:
        runs = cv_runs(out, flags, spaces, repeats, cv, seed0)
    cb("study_start", {"runs": len(runs), "epochs": base.epochs})
    busy = run_each(runs, cb, base.epochs)
    with study_lock(out):  # the last process to finish sees every run finished, and writes the summary
        pending = [str(r) for r, _, _ in runs if not finished(r)]
        if pending:
            summary = None
        elif cv is None:
            summary = _write_colorspace_summary(out, meta, spaces, repeats, seed0, [r for r, _, _ in runs],
                                                dataset.synthetic)
        else:
            summary = _write_cv_summary(out, meta, [r for r, _, _ in runs])
    cb("study_end", {"out": str(out), "pending": pending})
    return {"out": str(out), "summary": summary, "meta": meta, "pending": pending,
            "owners": {str(r): o for r, o in busy.items() if str(r) in pending}}


def _write_colorspace_summary(out, meta, spaces, repeats, seed0, run_dirs, synthetic) -> dict:
    from leuknet import figures
    from leuknet.io import atomic_path, write_json, write_text

    summary = summarise(out, spaces, repeats, seed0)
    sources = _sources(run_dirs)
    if _up_to_date(out / "colorspace.json", sources):
        return summary  # written already, from these very runs
    write_text(out / "colorspace.md", markdown(summary, meta))
    with atomic_path(out / "colorspace.png") as tmp:
        figures.colorspace_bars(summary, tmp, f"Colour-space comparison: {meta['model']}, {meta['task']}"
                                + (" (synthetic data)" if synthetic else ""))
    for space, s in summary.items():
        with atomic_path(out / f"confusion_{space}.png") as tmp:
            figures.confusion_matrix_chart(s["confusion_matrix_sum"], s["classes"], tmp,
                                           f"{s['label']} (sum over {repeats} repeats)")
    write_json(out / "colorspace.json", {"study": meta, "spaces": summary, "sources": sources})  # last
    return summary


# ---- the cross-validated study (--cv K) ----------------------------------------------------------------------

CV_BOOTSTRAP = 2000  # resamples of the pooled cells for the F1 intervals
FOLD_SCORES = ("accuracy", "macro_f1", "weighted_f1", "sensitivity", "specificity", "precision")


def space_name(space: str) -> str:
    """RGB, HSV, YCbCr, HCbCr: the names of the pairwise verdicts."""
    return SPACE_LABELS[space].split(": ")[1]


def cv_run_name(space: str, repeat: int, fold: int) -> str:
    return f"{space}-r{repeat}-f{fold}"


def _check_cv(dataset, k, repeats, seed0) -> dict:
    """Refuse folds that cannot be made (K < 2, a class with fewer cells or subjects than K) before any run."""
    from leuknet.data.split import repeated_cv_folds

    grouped = dataset.has_subjects
    groups = [s.subject for s in dataset.samples] if grouped else None
    repeated_cv_folds(np.asarray([s.label for s in dataset.samples]), k, repeats, seed0, groups)
    return {"folds": int(k), "grouped_by_subject": bool(grouped)}


def cv_runs(out: Path, flags: dict, spaces, repeats: int, k: int, seed0: int) -> list:
    """(run_dir, info, flags) of every fold run: repeat r uses seed ``seed0 + r`` for its folds and its runs, so
    every space sees the same folds, inner splits and initial weights per (repeat, fold)."""
    return [(out / "runs" / cv_run_name(space, r, f),
             {"space": space, "seed": seed0 + r, "repeat": r, "fold": f,
              "run": f"{space} repeat {r + 1} fold {f + 1}"},
             dict(flags, colorspace=space, seed=seed0 + r, cv_fold=(k, f, seed0 + r)))
            for r in range(repeats) for f in range(k) for space in spaces]


def pooled_predictions(study_dir, space, repeat, k, classes):
    """The out-of-fold predictions of one repeat: (files, true class indices, predicted class indices), sorted by
    file, read from the K runs' ``predictions.csv``. A cell in two test folds is an error."""
    from leuknet.errors import DataError

    rows = []
    for f in range(k):
        with open(Path(study_dir) / "runs" / cv_run_name(space, repeat, f) / "predictions.csv", newline="",
                  encoding="utf-8") as fh:
            rows += list(csv.DictReader(fh))
    rows.sort(key=lambda r: r["file"])
    files = [r["file"] for r in rows]
    if len(set(files)) != len(files):
        raise DataError(f"{space} repeat {repeat + 1}: a cell is in two test folds")
    index = {c: i for i, c in enumerate(classes)}
    return (files, np.array([index[r["true_class"]] for r in rows], np.int64),
            np.array([index[r["predicted_class"]] for r in rows], np.int64))


def _fold_scores(m: dict) -> dict:
    return {"accuracy": m["accuracy"], "macro_f1": m["macro"]["f1"], "weighted_f1": m["weighted_f1"],
            "sensitivity": m["macro"]["sensitivity"], "specificity": m["macro"]["specificity"],
            "precision": m["macro"]["precision"]}


def _over_folds(values) -> dict:
    from leuknet import stats

    return dict(stats.mean_sd_over_folds(values), values=[float(v) for v in values])


def summarise_cv(study_dir, spaces, repeats: int, k: int, seed0: int = 0, n_boot: int = CV_BOOTSTRAP) -> dict:
    """The cross-validated study's numbers, from the fold runs' predictions.csv, metrics.json and config.json.

    Per space: for each repeat, the pooled out-of-fold predictions (every cell once) with Wilson intervals for
    accuracy and per-class sensitivity, specificity and precision, and bootstrap intervals (seed ``seed0 + r``)
    for F1 and weighted F1 (``pooled``, one entry per repeat; ``accuracy``, ``per_class`` and ``f1`` are the first
    repeat's); mean ± s.d. over the K x R folds of each fold's scores (``over_folds``). Then every pair of spaces
    by :func:`leuknet.stats.compare_pairs` on the first repeat's pooled cells (McNemar) and the K x R fold
    accuracies (corrected resampled t, with the mean training split and the mean test fold per fold as n_train and
    n_test), Holm-adjusted, and :func:`leuknet.stats.ranking`. Returns {"spaces", "pairs", "ranking", ...}."""
    from leuknet import stats
    from leuknet.errors import DataError

    study_dir = Path(study_dir)
    spaces_out, results, cells, n_train, n_test = {}, {}, None, [], []
    for space in spaces:
        first = json.loads((study_dir / "runs" / cv_run_name(space, 0, 0) / "metrics.json").read_text())
        classes = first["classes"]
        pooled, folds, per_class_folds, trains = [], {key: [] for key in FOLD_SCORES}, {}, []
        for r in range(repeats):
            files, y_true, y_pred = pooled_predictions(study_dir, space, r, k, classes)
            if r == 0:
                if cells is None:
                    cells = files
                elif files != cells:
                    raise DataError(f"{space} predicted other cells than {spaces[0]}: the spaces are not paired")
                correct = y_true == y_pred
            cm = np.bincount(y_true * len(classes) + y_pred, minlength=len(classes) ** 2).reshape(len(classes), -1)
            pooled.append({"repeat": r, "seed": seed0 + r, "n": int(len(y_true)), "confusion_matrix": cm.tolist(),
                           **stats.proportion_metrics_with_intervals(y_true, y_pred, classes),
                           "f1": stats.f1_with_intervals(y_true, y_pred, classes, n_boot=n_boot, seed=seed0 + r)})
            for f in range(k):
                run = study_dir / "runs" / cv_run_name(space, r, f)
                m = json.loads((run / "metrics.json").read_text())
                splits = json.loads((run / "config.json").read_text())["splits"]
                trains.append(splits["train"])
                if space == spaces[0]:
                    n_train.append(splits["train"])
                    n_test.append(splits["test"])
                for key, v in _fold_scores(m).items():
                    folds[key].append(v)
                for c, pc in m["per_class"].items():
                    for key in ("sensitivity", "specificity", "precision"):
                        per_class_folds.setdefault(c, {}).setdefault(key, []).append(pc[key])
        results[space_name(space)] = {"correct": correct, "fold_accuracies": folds["accuracy"]}
        spaces_out[space] = {
            "label": SPACE_LABELS[space], "name": space_name(space), "classes": classes, "folds": k,
            "repeats": repeats, "training_samples": float(np.mean(trains)), "test_cells": pooled[0]["n"],
            "accuracy": pooled[0]["accuracy"], "per_class": pooled[0]["per_class"], "f1": pooled[0]["f1"],
            "confusion_matrix": pooled[0]["confusion_matrix"], "pooled": pooled,
            "over_folds": {key: _over_folds(v) for key, v in folds.items()},
            "per_class_over_folds": {c: {key: _over_folds(v) for key, v in d.items()}
                                     for c, d in per_class_folds.items()},
        }
    pairs = stats.compare_pairs(results, n_train=float(np.mean(n_train)), n_test=float(np.mean(n_test))) \
        if len(spaces) > 1 else []
    return {"spaces": spaces_out, "pairs": pairs, "ranking": stats.ranking(pairs) if pairs else
            [[space_name(s) for s in spaces]], "n_train": float(np.mean(n_train)), "n_test": float(np.mean(n_test)),
            "cells": len(cells), "names": {space_name(s): s for s in spaces}}


def _ci(d) -> str:
    """'93.3 [88.2, 96.3]': an estimate and its interval, in %."""
    est, low, high = (d.get(k) for k in ("estimate", "low", "high"))
    if est is None or (isinstance(est, float) and math.isnan(est)):
        return "n/a"
    return f"{100 * est:.1f} [{100 * low:.1f}, {100 * high:.1f}]"


def _msd(d) -> str:
    sd = d.get("sd")
    return f"{100 * d['mean']:.1f}" + ("" if sd is None or math.isnan(sd) else f" ± {100 * sd:.1f}")


def _p(p) -> str:
    return "< 0.001" if p < 0.001 else f"{p:.3g}"


def markdown_cv(cv: dict, meta) -> str:
    """colorspace.md of a cross-validated study: the interval table, per-class intervals, the pairwise table with
    the verdicts and the ranking, then the figures (after '## Figures', which the CLI does not print)."""
    summary, k, r = cv["spaces"], meta["cv"]["folds"], meta["repeats"]
    unit = "subject-grouped" if meta["cv"]["grouped_by_subject"] else "stratified"
    lines = [f"# Colour-space study, {k}-fold cross-validated: {meta['model']} ({meta['task']})", "",
             f"Data: {meta['data']}" + (" (SYNTHETIC demo data)" if meta.get("synthetic") else ""),
             f"Recipe: {meta['recipe']}; {unit} {k}-fold cross-validation, {r} repeat(s) (seeds {meta['seed']}.."
             f"{meta['seed'] + r - 1}): every space sees the same folds, inner splits and initial weights; each of "
             f"the {cv['cells']} cells is predicted once per repeat.", "",
             "## Intervals", "",
             "Pooled: the out-of-fold predictions of the first repeat, each cell once, with 95 % Wilson intervals "
             f"(accuracy) and percentile bootstrap intervals ({CV_BOOTSTRAP} resamples of the cells: F1, weighted "
             f"F1). Over folds: mean ± s.d. of the {k * r} folds' scores (training variation included). In %.", "",
             "| Colour model | Training samples (mean per fold) | Test cells | Accuracy [95 % CI] | F1 (macro) [95 % CI] "
             "| Weighted F1 [95 % CI] | Accuracy over folds | F1 over folds |",
             "|---|---|---|---|---|---|---|---|"]
    for s in summary.values():
        lines.append(f"| {s['label']} | {s['training_samples']:.0f} | {s['test_cells']} | {_ci(s['accuracy'])} | "
                     f"{_ci(s['f1']['macro_f1'])} | {_ci(s['f1']['weighted_f1'])} | "
                     f"{_msd(s['over_folds']['accuracy'])} | {_msd(s['over_folds']['macro_f1'])} |")
    lines += ["", "## Per class", "",
              "One class against the rest, pooled cells of the first repeat, 95 % Wilson intervals, in %.", "",
              "| Colour model | Class | Sensitivity [95 % CI] | Specificity [95 % CI] | Precision [95 % CI] | "
              "Sensitivity over folds |", "|---|---|---|---|---|---|"]
    for s in summary.values():
        for c in s["classes"]:
            pc = s["per_class"][c]
            lines.append(f"| {s['label']} | {c} | {_ci(pc['sensitivity'])} | {_ci(pc['specificity'])} | "
                         f"{_ci(pc['precision'])} | {_msd(s['per_class_over_folds'][c]['sensitivity'])} |")
    if cv["pairs"]:
        lines += ["", "## Pairwise comparisons", "",
                  f"Accuracy of a minus b on the same cells and folds, in points. Difference and 95 % CI: the mean "
                  f"of the {k * r} paired fold differences with the corrected resampled t-test (Nadeau & Bengio; "
                  f"n_test/n_train = {cv['n_test']:.0f}/{cv['n_train']:.0f}); p (Holm): adjusted over the "
                  f"{len(cv['pairs'])} pairs; McNemar: exact test on the first repeat's pooled cells. Resolved: p "
                  f"(Holm) < {cv['pairs'][0]['alpha']:g}.", "",
                  "| a | b | Difference | 95 % CI | p (corrected t) | p (Holm) | McNemar p (b/c) | Resolved |",
                  "|---|---|---|---|---|---|---|---|"]
        for q in cv["pairs"]:
            mc = q["mcnemar"]
            lines.append(f"| {q['a']} | {q['b']} | {100 * q['difference']:.1f} | {100 * q['low']:.1f} to "
                         f"{100 * q['high']:.1f} | {_p(q['p'])} | {_p(q['p_holm'])} | {_p(mc['p'])} "
                         f"({mc['b']}/{mc['c']}) | {'yes' if q['resolved'] else 'no'} |")
        lines += ["", "Verdicts:", ""] + [f"- {q['verdict']}" for q in cv["pairs"]]
    groups = cv["ranking"]
    lines += ["", "Ranking (only resolved differences order; within braces nothing is claimed): "
              + " > ".join("{" + ", ".join(g) + "}" for g in groups), ""]
    lines += ["## Figures", "", "![accuracy per colour space](accuracy_intervals.png)", ""]
    if cv["pairs"]:
        lines += ["![paired differences](paired_differences.png)", ""]
    lines += ["![per-class sensitivity](class_sensitivity.png)", ""]
    lines += [f"![confusion {space}](confusion_{space}.png)" for space in summary]
    return "\n".join(lines) + "\n"


CV_FIGURES = ("accuracy_intervals.png", "paired_differences.png", "class_sensitivity.png")


def write_cv_figures(cv: dict, meta, out: Path):
    """The charts of a cross-validated study into ``out`` (each written atomically)."""
    from leuknet import figures
    from leuknet.io import atomic_path

    tail = f"{meta['model']}, {meta['task']}" + (" (synthetic data)" if meta.get("synthetic") else "")
    k, r = meta["cv"]["folds"], meta["repeats"]
    summary = cv["spaces"]
    with atomic_path(out / "accuracy_intervals.png") as tmp:
        figures.accuracy_intervals(summary, tmp, f"Accuracy, {k}-fold CV x {r}: {tail}")
    if cv["pairs"]:
        with atomic_path(out / "paired_differences.png") as tmp:
            figures.paired_differences(cv["pairs"], tmp, f"Paired accuracy differences: {tail}")
    with atomic_path(out / "class_sensitivity.png") as tmp:
        figures.class_sensitivity(summary, tmp, f"Per-class sensitivity: {tail}")
    for space, s in summary.items():
        with atomic_path(out / f"confusion_{space}.png") as tmp:
            figures.confusion_matrix_chart(s["confusion_matrix"], s["classes"], tmp,
                                           f"{s['label']} (pooled folds, repeat 1)")


def _write_cv_summary(out: Path, meta, run_dirs) -> dict:
    from leuknet.io import write_json, write_text

    sources = _sources(run_dirs)
    if _up_to_date(out / "colorspace.json", sources):
        return json.loads((out / "colorspace.json").read_text())["spaces"]
    cv = summarise_cv(out, meta["spaces"], meta["repeats"], meta["cv"]["folds"], meta["seed"])
    write_text(out / "colorspace.md", markdown_cv(cv, meta))
    write_cv_figures(cv, meta, out)
    write_json(out / "colorspace.json", {"study": meta, **cv, "sources": sources})  # last
    return cv["spaces"]


def run_fc_study(flags: dict, values, out, callback=None) -> dict:
    """Shafique & Tehsin's Table 4: the recipe rerun for each width of the new fully connected layer, with the
    same split and seed; finished runs are kept. Safe in several processes at once, as :func:`run_study`."""
    from leuknet.config import resolve
    from leuknet.io import write_json, write_text

    cb = callback or (lambda e, p: None)
    try:
        widths = [int(v) for v in (values.split(",") if isinstance(values, str) else values)]
    except ValueError:
        raise ConfigError(f"--values must be integers like 4096,3072,2048,1024, received {values!r}") from None
    if not widths or min(widths) < 1:
        raise ConfigError(f"--values must be positive integers, received {values!r}")
    out = Path(out)
    base = resolve({k: v for k, v in flags.items() if k != "out"})
    runs = [(out / "runs" / f"fc{wdt}", {"space": f"fc {wdt}", "seed": base.seed}, dict(flags, fc_units=wdt))
            for wdt in dict.fromkeys(widths)]
    cb("study_start", {"runs": len(runs), "epochs": base.epochs})
    busy = run_each(runs, cb, base.epochs)
    meta = {"model": base.model, "recipe": base.recipe, "seed": base.seed, "flags": flags}
    rows = None
    with study_lock(out):
        pending = [str(r) for r, _, _ in runs if not finished(r)]
        if not pending:
            rows = []
            for run_dir, _, f in runs:
                m = json.loads((run_dir / "metrics.json").read_text())
                rows.append({"fc_units": f["fc_units"], "accuracy": m["accuracy"], "macro_f1": m["macro"]["f1"],
                             "per_class": m["per_class"], "n_test": m["n_test"]})
            sources = _sources([r for r, _, _ in runs])
            if not _up_to_date(out / "fc_units.json", sources):
                lines = [f"# Feature-vector length study: {base.model}, recipe {base.recipe}, seed {base.seed}", "",
                         "| Feature vector (units) | Accuracy % | F1 (macro) % | Test images |", "|---|---|---|---|"]
                lines += [f"| {r['fc_units']} | {100 * r['accuracy']:.2f} | {100 * r['macro_f1']:.2f} | "
                          f"{r['n_test']} |" for r in rows]
                write_text(out / "fc_units.md", "\n".join(lines) + "\n")
                write_json(out / "fc_units.json", {"study": meta, "results": rows, "sources": sources})  # last
    cb("study_end", {"out": str(out), "pending": pending})
    return {"out": str(out), "results": rows, "pending": pending,
            "owners": {str(r): o for r, o in busy.items() if str(r) in pending}}


# ---- several worker processes on one study ------------------------------------------------------------------


def run_in_workers(args, n: int, on_line=None, env=None) -> list:
    """Start ``n`` processes ``python -m leuknet.cli ARGS`` (the same study command with ``--workers 1``) and wait
    for them all. Each one's stdout lines go to ``on_line(k, line)`` as they come; returns [(returncode, stderr)].
    The processes share the study through its locks, as the same command started n times by hand would."""
    procs = [subprocess.Popen([sys.executable, "-m", "leuknet.cli", *map(str, args)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=dict(os.environ, **(env or {})))
             for _ in range(n)]
    errors = [[] for _ in procs]

    def relay(k, p):
        for line in p.stdout:
            if on_line:
                on_line(k, line.rstrip("\n"))

    def collect(k, p):
        errors[k] = p.stderr.read()

    threads = [threading.Thread(target=f, args=(k, p), daemon=True) for k, p in enumerate(procs)
               for f in (relay, collect)]
    try:
        for t in threads:
            t.start()
        for p in procs:
            p.wait()
        for t in threads:
            t.join(10)
    finally:
        for p in procs:  # Ctrl-C, or an error here: no worker is left running
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(30)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
    return [(p.returncode, errors[k]) for k, p in enumerate(procs)]
