"""Paired comparisons of variants of one recipe on the same cells (issue 21): colour spaces (``leuknet colorspace
--cv``), models (``leuknet compare``), feature-vector widths (``leuknet study fc-units --cv``) and one model alone
(``leuknet train --cv``).

A *variant* is one setting of the compared factor (a colour space, a model, a width): the flags it changes on
top of the common ones. Every variant is trained on the same cells with the same seeds:

- with ``cv=K`` (a *cross-validation*): repeat r (seed ``seed + r``) splits the cells into K stratified folds
  (grouped by subject where the data has subjects; :func:`leuknet.data.split.cv_folds`) and trains one run per
  variant and fold, ``runs/<variant>-r<r>-f<fold>``, whose test split is that fold; inside it the recipe's own
  train/validation split. Every cell is predicted exactly once per repeat.
- without (a *hold-out* design): repeat r trains one run per variant, ``runs/<variant>-seed<seed + r>``, on the
  recipe's split with that seed (every variant must split alike, or the cells would not pair).

Layout of the folder::

    study.json            what was asked; a second start with other flags, another design (--cv) or kind is refused
                          (other variants or more repeats reuse the finished runs and add the missing ones)
    runs/...              one complete run directory per (variant, repeat, fold); finished runs are never redone
    <name>.json           per variant: pooled intervals per repeat, mean ± s.d. over folds; every pair; ranking
    <name>.md             the interval table, per-class intervals, the pairwise table with the verdicts
    accuracy_intervals.png, paired_differences.png, class_sensitivity.png, confusion_<variant>.png

Several processes may share one folder as they share a study (:mod:`leuknet.study`): each run is claimed by
one, and the last to finish writes the summary.
"""

from __future__ import annotations

import csv
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from leuknet.console import plural
from leuknet.errors import ConfigError, DataError
from leuknet.study import (SPACE_LABELS, _check_study_record, _sources, _up_to_date, finished, parse_spaces,
                           parse_widths, recorded_flags, run_each, study_lock)

BOOTSTRAP = 2000  # resamples of the pooled cells for the F1 intervals
FOLD_SCORES = ("accuracy", "macro_f1", "weighted_f1", "sensitivity", "specificity", "precision")
FIGURES = ("accuracy_intervals.png", "paired_differences.png", "class_sensitivity.png")


@dataclass(frozen=True)
class Variant:
    """One setting of the compared factor: ``key`` names its runs (letters, digits, ``-``, ``_``, ``.``),
    ``name`` is how tables and verdicts call it, ``label`` its longer caption, ``flags`` what it sets."""

    key: str
    name: str
    flags: dict = field(default_factory=dict)
    label: str = ""

    def to_dict(self) -> dict:
        return {"key": self.key, "name": self.name, "label": self.label or self.name, "flags": dict(self.flags)}


@dataclass(frozen=True)
class Kind:
    """What a comparison compares: its title, the name of the factor (a table's first column) and the stem of
    its summary files."""

    title: str
    factor: str
    stem: str


KINDS = {
    "colorspace": Kind("Colour-space study", "Colour model", "colorspace"),
    "compare": Kind("Model comparison", "Model", "compare"),
    "fc-units": Kind("Feature-vector length study", "Feature vector", "fc_units"),
    "train": Kind("Run", "Model", "cv"),
}

_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def colour_variants(spaces) -> list[Variant]:
    return [Variant(s, SPACE_LABELS[s].split(": ")[1], {"colorspace": s}, SPACE_LABELS[s])
            for s in parse_spaces(spaces)]


def variant_configs(flags, variants) -> list:
    """Each variant's run configuration (the flags shared by every run, ``out`` aside, with the variant's own),
    checked whole; reads no file and imports no Keras, so the CLI checks a study with it before the backend
    starts."""
    from leuknet.config import resolve

    common = {key: v for key, v in flags.items() if key != "out"}
    return [resolve(dict(common, **v.flags)) for v in variants]


def model_variants(names) -> list[Variant]:
    """``--model leuknet --model alexnet`` (or ``"leuknet,alexnet"``): one variant per model, each checked
    against the registry."""
    from leuknet import models

    if isinstance(names, str):
        names = names.split(",")
    names = list(dict.fromkeys(n.strip() for n in names if n and n.strip()))
    if len(names) < 2:
        raise ConfigError(f"compare needs at least two different models (--model A --model B), received "
                          f"{len(names)}: {', '.join(names) or 'none'}")
    for n in names:
        models.model_info(n)  # an unknown name is refused with the list of models
    return [Variant(n, n, {"model": n}) for n in names]


def width_variants(values) -> list[Variant]:
    """``--values 4096,2048``: one variant per width of the new fully connected layer."""
    return [Variant(f"fc{w}", f"FC {w}", {"fc_units": w}, f"{w} units") for w in parse_widths(values)]


def _check_variants(variants):
    keys = [v.key for v in variants]
    if not variants:
        raise ConfigError("a comparison needs at least one variant")
    bad = [k for k in keys if not _KEY.match(k)]
    if bad:
        raise ConfigError(f"variant name {bad[0]!r} cannot name a run directory (letters, digits, '-', '_', '.')")
    if len(set(keys)) != len(keys) or len({v.name for v in variants}) != len(variants):
        raise ConfigError(f"variants must differ: {', '.join(keys)}")


def run_name(key: str, repeat: int, fold: int | None, seed0: int) -> str:
    """``<key>-r<repeat>-f<fold>`` (a cross-validation fold) or ``<key>-seed<seed>`` (a hold-out repeat)."""
    return f"{key}-r{repeat}-f{fold}" if fold is not None else f"{key}-seed{seed0 + repeat}"


def _folds(meta) -> int | None:
    return (meta.get("cv") or {}).get("folds")


def repeat_runs(study_dir: Path, meta: dict, key: str, repeat: int) -> list[Path]:
    """The run directories of one variant and repeat: K folds, or the one hold-out run."""
    k = _folds(meta)
    folds = range(k) if k else [None]
    return [Path(study_dir) / "runs" / run_name(key, repeat, f, meta["seed"]) for f in folds]


def design_runs(out: Path, flags: dict, variants, repeats: int, k: int | None, seed0: int) -> list:
    """(run_dir, info, flags) of every run, repeat by repeat and fold by fold, variant by variant within: every
    variant sees the same folds, inner splits and initial weights per (repeat, fold)."""
    runs = []
    for r in range(repeats):
        for f in (range(k) if k else [None]):
            for v in variants:
                fl = dict(flags, **v.flags, seed=seed0 + r)
                what = f"{v.name} repeat {r + 1}" + (f" fold {f + 1}" if f is not None else f" (seed {seed0 + r})")
                if f is not None:
                    fl["cv_fold"] = (k, f, seed0 + r)
                runs.append((out / "runs" / run_name(v.key, r, f, seed0), {"space": v.name, "seed": seed0 + r,
                                                                           "repeat": r, "fold": f, "run": what}, fl))
    return runs


def _check_cv(dataset, k, repeats, seed0) -> dict:
    """Refuse folds that cannot be made (K < 2, a class with fewer cells or subjects than K) before any run."""
    from leuknet.data.split import repeated_cv_folds

    grouped = dataset.has_subjects
    groups = [s.subject for s in dataset.samples] if grouped else None
    repeated_cv_folds(np.asarray([s.label for s in dataset.samples]), k, repeats, seed0, groups)
    return {"folds": int(k), "grouped_by_subject": bool(grouped)}


DATA_FIELDS = ("data", "labels", "dataset_format", "demo_per_class", "crop")  # what decides the cells


def _check_same_data(configs, variants):
    """Every variant must read the same cells (a recipe may set --crop, which decides what is readable)."""
    for name in DATA_FIELDS:
        values = {str(getattr(c, name)) for c in configs}
        if len(values) > 1:
            said = ", ".join(f"{v.name}: {getattr(c, name)}" for v, c in zip(variants, configs))
            raise ConfigError(f"the variants read different data (--{name.replace('_', '-')}: {said}), so their "
                              f"cells would not pair; give --{name.replace('_', '-')} (or --recipe) for all")


def _check_same_split(configs, variants, dataset, repeats, seed0):
    """A hold-out design pairs cells only if every variant's split gives the same test cells in every repeat
    (the fractions, --split-by and --balance decide them): checked on the data before any run."""
    from leuknet.data.split import make_splits

    for r in range(repeats):
        tests = [tuple(make_splits(dataset, c.split, by=str(c.split_by), seed=seed0 + r,
                                   balance=str(c.balance))["test"].tolist()) for c in configs]
        if len(set(tests)) > 1:
            said = ", ".join(f"{v.name}: {'/'.join(f'{x:g}' for x in c.split)} by {c.split_by}, balance {c.balance}"
                             for v, c in zip(variants, configs))
            raise ConfigError(f"the variants split the data differently ({said}), so their test cells would not "
                              "pair; give --split, --split-by and --balance for all, or use --cv K")


def run_comparison(flags: dict, variants, out, *, kind: str = "compare", repeats: int = 1, cv: int | None = None,
                   callback=None, check=None, extra_meta=None) -> dict:
    """Train every variant on the same cells (``flags`` as for ``leuknet train``, each variant's flags on top)
    and summarise (:func:`summarise`). Every variant's configuration and the folds are checked before any run;
    finished runs are kept, so starting again resumes. Safe in several processes at once on one ``out``: the
    result's ``pending`` lists the runs other processes are still training (``summary`` is then None).

    ``check(dataset)``: a further check of the data (a colour-space task's class count) before any run."""
    from leuknet.run import check_device, load_dataset

    cb = callback or (lambda e, p: None)
    if kind not in KINDS:
        raise ConfigError(f"unknown comparison {kind!r}; one of {', '.join(KINDS)}")
    if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 1:
        raise ConfigError(f"--repeats must be at least 1, received {repeats}")
    variants = list(variants)
    _check_variants(variants)
    out = Path(out)
    seed0 = int(flags.get("seed") or 0)
    common = {key: v for key, v in flags.items() if key != "out"}
    configs = variant_configs(common, variants)  # every variant valid before any run
    base = configs[0]
    check_device(base)
    _check_same_data(configs, variants)
    dataset = load_dataset(base)
    if check is not None:
        check(dataset)
    if cv is None:
        _check_same_split(configs, variants, dataset, repeats, seed0)
    meta = {"kind": kind, "title": KINDS[kind].title, "factor": KINDS[kind].factor,
            "model": ", ".join(dict.fromkeys(c.model for c in configs)),
            "recipe": ", ".join(dict.fromkeys(c.recipe for c in configs)), "data": base.data or "demo",
            "synthetic": dataset.synthetic, "variants": [v.to_dict() for v in variants], "repeats": repeats,
            "seed": seed0, "cv": _check_cv(dataset, cv, repeats, seed0) if cv is not None else None,
            "flags": recorded_flags(common), **(extra_meta or {})}  # not --out: the folder is the study
    (out / "runs").mkdir(parents=True, exist_ok=True)
    with study_lock(out):
        _check_study_record(out, meta)
    runs = design_runs(out, flags, variants, repeats, cv, seed0)
    epochs = {v.name: c.epochs for v, c in zip(variants, configs)}
    for _, info, _ in runs:
        info["epochs"] = epochs[info["space"]]
    cb("study_start", {"runs": len(runs), "epochs": base.epochs, "title": KINDS[kind].title,
                       "total_epochs": sum(info["epochs"] for _, info, _ in runs)})
    busy = run_each(runs, cb, base.epochs)
    with study_lock(out):  # the last process to finish sees every run finished, and writes the summary
        pending = [str(r) for r, _, _ in runs if not finished(r)]
        summary = None if pending else write_summary(out, meta, [r for r, _, _ in runs])
    cb("study_end", {"out": str(out), "pending": pending})
    return {"out": str(out), "summary": summary, "meta": meta, "pending": pending,
            "files": summary_files(out, meta) if summary else [],
            "owners": {str(r): o for r, o in busy.items() if str(r) in pending}}


# ---- the numbers ----------------------------------------------------------------------------------------------


def pooled_predictions(run_dirs, classes, what: str):
    """The predictions of one variant and repeat: (files, true class indices, predicted class indices), sorted by
    file, read from the runs' ``predictions.csv``. A cell in two test folds is an error."""
    rows = []
    for run in run_dirs:
        with open(Path(run) / "predictions.csv", newline="", encoding="utf-8") as fh:
            rows += list(csv.DictReader(fh))
    rows.sort(key=lambda r: r["file"])
    files = [r["file"] for r in rows]
    if len(set(files)) != len(files):
        raise DataError(f"{what}: a cell is in two test folds")
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


def _variant_numbers(study_dir, meta, v, cells, sizes, n_boot):
    """One variant: the pooled cells of every repeat with their intervals, and the scores of every fold."""
    from leuknet import stats

    first = repeat_runs(study_dir, meta, v["key"], 0)[0]
    classes = json.loads((first / "metrics.json").read_text())["classes"]
    pooled, correct, folds, per_class_folds, trains = [], [], {key: [] for key in FOLD_SCORES}, {}, []
    for r in range(meta["repeats"]):
        runs = repeat_runs(study_dir, meta, v["key"], r)
        files, y_true, y_pred = pooled_predictions(runs, classes, f"{v['name']} repeat {r + 1}")
        if len(cells) <= r:
            cells.append(files)
        elif files != cells[r]:
            raise DataError(f"{v['name']} repeat {r + 1} predicted other cells than "
                            f"{meta['variants'][0]['name']}: the variants are not paired")
        correct.append(y_true == y_pred)
        cm = np.bincount(y_true * len(classes) + y_pred, minlength=len(classes) ** 2).reshape(len(classes), -1)
        pooled.append({"repeat": r, "seed": meta["seed"] + r, "n": int(len(y_true)), "confusion_matrix": cm.tolist(),
                       **stats.proportion_metrics_with_intervals(y_true, y_pred, classes),
                       "f1": stats.f1_with_intervals(y_true, y_pred, classes, n_boot=n_boot, seed=meta["seed"] + r)})
        for run in runs:
            m = json.loads((run / "metrics.json").read_text())
            splits = json.loads((run / "config.json").read_text())["splits"]
            trains.append(splits["train"])
            if v is meta["variants"][0]:
                sizes.append((splits["train"], splits["test"]))
            for key, value in _fold_scores(m).items():
                folds[key].append(value)
            for c, pc in m["per_class"].items():
                for key in ("sensitivity", "specificity", "precision"):
                    per_class_folds.setdefault(c, {}).setdefault(key, []).append(pc[key])
    numbers = {
        "key": v["key"], "name": v["name"], "label": v["label"], "classes": classes, "folds": _folds(meta) or 1,
        "repeats": meta["repeats"], "training_samples": float(np.mean(trains)), "test_cells": pooled[0]["n"],
        "accuracy": pooled[0]["accuracy"], "per_class": pooled[0]["per_class"], "f1": pooled[0]["f1"],
        "confusion_matrix": pooled[0]["confusion_matrix"], "pooled": pooled,
        "over_folds": {key: _over_folds(x) for key, x in folds.items()},
        "per_class_over_folds": {c: {key: _over_folds(x) for key, x in d.items()} for c, d in per_class_folds.items()},
    }
    return numbers, correct


def summarise(study_dir, meta: dict, n_boot: int = BOOTSTRAP) -> dict:
    """The comparison's numbers, from the runs' predictions.csv, metrics.json and config.json.

    Per variant: for each repeat, the pooled predictions (cross-validation: the K out-of-fold predictions, every
    cell once; hold-out: the test split) with Wilson intervals for accuracy and per-class sensitivity,
    specificity and precision, and bootstrap intervals (seed ``seed + r``) for F1 and weighted F1 (``pooled``, one
    entry per repeat; ``accuracy``, ``per_class``, ``f1`` are the first repeat's); mean ± s.d. over the K x R
    folds (hold-out: R test splits) of each fold's scores (``over_folds``). Then every pair of variants by
    :func:`leuknet.stats.compare_pairs`: the corrected resampled t-test over the folds' paired accuracy
    differences (mean training split and test fold of the first variant as n_train and n_test) where there are
    two or more folds, McNemar's exact test on one test split otherwise; Holm over all pairs; McNemar's exact
    test on every repeat's pooled cells (``mcnemar_repeats``); :func:`leuknet.stats.ranking`."""
    from leuknet import stats

    study_dir = Path(study_dir)
    out, correct, cells, sizes = {}, {}, [], []
    for v in meta["variants"]:
        out[v["key"]], correct[v["name"]] = _variant_numbers(study_dir, meta, v, cells, sizes, n_boot)
    n_train = float(np.mean([a for a, _ in sizes]))
    n_test = float(np.mean([b for _, b in sizes]))
    pairs = []
    if len(out) > 1:
        results = {s["name"]: {"correct": correct[s["name"]][0], "fold_accuracies": s["over_folds"]["accuracy"]
                               ["values"]} for s in out.values()}
        pairs = stats.compare_pairs(results, n_train=n_train, n_test=n_test)
        for q in pairs:  # McNemar on every repeat's cells, oriented as the pair
            q["mcnemar_repeats"] = [dict(stats.mcnemar_exact(a, b), repeat=r) for r, (a, b) in
                                    enumerate(zip(correct[q["a"]], correct[q["b"]]))]
    names = [s["name"] for s in out.values()]
    return {"variants": out, "pairs": pairs, "ranking": stats.ranking(pairs) if pairs else [names],
            "n_train": n_train, "n_test": n_test, "cells": len(cells[0]),
            "cells_per_repeat": [len(c) for c in cells]}


# ---- what it writes -------------------------------------------------------------------------------------------


def ci_text(d) -> str:
    """'93.3 [88.2, 96.3]': an estimate and its interval, in %."""
    est, low, high = (d.get(k) for k in ("estimate", "low", "high"))
    if est is None or (isinstance(est, float) and math.isnan(est)):
        return "n/a"
    return f"{100 * est:.1f} [{100 * low:.1f}, {100 * high:.1f}]"


def mean_sd_text(d) -> str:
    sd = d.get("sd")
    return f"{100 * d['mean']:.1f}" + ("" if sd is None or math.isnan(sd) else f" ± {100 * sd:.1f}")


def _p(p) -> str:
    return "< 0.001" if p < 0.001 else f"{p:.3g}"


def design_text(meta, cells) -> str:
    """The design in one sentence: folds or split, repeats and seeds, what every variant shares, the cells."""
    k, r = _folds(meta), meta["repeats"]
    seeds = f"seeds {meta['seed']}..{meta['seed'] + r - 1}" if r > 1 else f"seed {meta['seed']}"
    paired = len(meta["variants"]) > 1
    if k:
        unit = "subject-grouped" if meta["cv"]["grouped_by_subject"] else "stratified"
        return (f"{unit} {k}-fold cross-validation, {plural(r, 'repeat')} ({seeds})"
                + (": every variant sees the same folds, inner splits and initial weights" if paired else "")
                + f"; each of the {cells} cells is predicted once per repeat.")
    return (f"the recipe's split, {plural(r, 'repeat')} ({seeds})"
            + (": every variant sees the same split and initial weights per seed" if paired else "")
            + f"; {cells} test cells in the first repeat.")


def mcnemar_text(q) -> str:
    """McNemar's p and discordant counts (b/c) of every repeat: '0.039 (5/0); 0.22 (4/1)'."""
    return "; ".join(f"{_p(m['p'])} ({m['b']}/{m['c']})" for m in q.get("mcnemar_repeats") or [q["mcnemar"]])


def markdown(summary: dict, meta: dict) -> str:
    """The summary as Markdown: the interval table, per-class intervals, the pairwise table with the verdicts and
    the ranking, then the figures (after '## Figures', which the CLI does not print)."""
    variants, k, r, factor = summary["variants"], _folds(meta), meta["repeats"], meta["factor"]
    task = f" ({meta['task']})" if meta.get("task") else ""
    lines = [f"# {meta['title']}" + (f", {k}-fold cross-validated" if k else "") + f": {meta['model']}{task}", "",
             f"Data: {meta['data']}" + (" (SYNTHETIC demo data)" if meta.get("synthetic") else ""),
             f"Recipe: {meta['recipe']}; {design_text(meta, summary['cells'])}", "", "## Intervals", "",
             ("Pooled: the out-of-fold predictions of the first repeat, each cell once" if k else
              "Pooled: the first repeat's test cells") + ", with 95 % Wilson intervals (accuracy) and percentile "
             f"bootstrap intervals ({BOOTSTRAP} resamples of the cells: F1, weighted F1). Over "
             + (f"folds: mean ± s.d. of the {k * r} folds' scores" if k else f"repeats: mean ± s.d. of the {r} test "
                "splits' scores") + " (training variation included). In %.", "",
             f"| {factor} | Training samples (mean) | Test cells | Accuracy [95 % CI] | F1 (macro) [95 % CI] "
             f"| Weighted F1 [95 % CI] | Accuracy over {'folds' if k else 'repeats'} | F1 over "
             f"{'folds' if k else 'repeats'} |", "|---|---|---|---|---|---|---|---|"]
    for s in variants.values():
        lines.append(f"| {s['label']} | {s['training_samples']:.0f} | {s['test_cells']} | {ci_text(s['accuracy'])} | "
                     f"{ci_text(s['f1']['macro_f1'])} | {ci_text(s['f1']['weighted_f1'])} | "
                     f"{mean_sd_text(s['over_folds']['accuracy'])} | {mean_sd_text(s['over_folds']['macro_f1'])} |")
    if r > 1:
        lines += ["", "Pooled accuracy of every repeat [95 % Wilson CI], in %:", "",
                  f"| {factor} | " + " | ".join(f"Repeat {i + 1} (seed {meta['seed'] + i})" for i in range(r)) + " |",
                  "|---|" + "---|" * r]
        lines += [f"| {s['label']} | " + " | ".join(ci_text(p["accuracy"]) for p in s["pooled"]) + " |"
                  for s in variants.values()]
    lines += ["", "## Per class", "",
              "One class against the rest, pooled cells of the first repeat, 95 % Wilson intervals, in %.", "",
              f"| {factor} | Class | Sensitivity [95 % CI] | Specificity [95 % CI] | Precision [95 % CI] | "
              f"Sensitivity over {'folds' if k else 'repeats'} |", "|---|---|---|---|---|---|"]
    for s in variants.values():
        for c in s["classes"]:
            pc = s["per_class"][c]
            lines.append(f"| {s['label']} | {c} | {ci_text(pc['sensitivity'])} | {ci_text(pc['specificity'])} | "
                         f"{ci_text(pc['precision'])} | {mean_sd_text(s['per_class_over_folds'][c]['sensitivity'])} |")
    pairs = summary["pairs"]
    if pairs:
        j = pairs[0]["folds"]
        how = (f"the mean of the {j} paired {'fold' if k else 'split'} differences with the corrected resampled "
               f"t-test (Nadeau & Bengio; n_test/n_train = {summary['n_test']:.0f}/{summary['n_train']:.0f})"
               if j >= 2 else "the paired difference on the test cells with Agresti and Min's adjusted Wald "
               "interval, and McNemar's exact test")
        lines += ["", "## Pairwise comparisons", "",
                  f"Accuracy of a minus b on the same cells, in points. Difference and 95 % CI: {how}; p (Holm): "
                  f"adjusted over {plural(len(pairs), 'pair')}; McNemar: exact test on the pooled cells of each "
                  f"repeat (b/c: cells only a / only b got right). Resolved: p (Holm) < {pairs[0]['alpha']:g}.", "",
                  "| a | b | Difference | 95 % CI | p | p (Holm) | McNemar p per repeat (b/c) | Resolved |",
                  "|---|---|---|---|---|---|---|---|"]
        flat = [q for q in pairs if j >= 2 and q["primary_test"] != "corrected resampled t"]
        for q in pairs:
            mark = " *" if q in flat else ""
            lines.append(f"| {q['a']} | {q['b']} | {100 * q['difference']:.1f}{mark} | {100 * q['low']:.1f} to "
                         f"{100 * q['high']:.1f} | {_p(q['p'])} | {_p(q['p_holm'])} | {mcnemar_text(q)} | "
                         f"{'yes' if q['resolved'] else 'no'} |")
        if flat:
            lines += ["", "\\* every fold differs by the same amount (no spread: the corrected t is undefined), so "
                      "this pair is tested on the first repeat's pooled cells: their difference, Agresti and Min's "
                      "adjusted Wald interval and McNemar's exact p."]
        lines += ["", "Verdicts:", ""] + [f"- {q['verdict']}" for q in pairs]
        lines += ["", "Ranking (only resolved differences order; within braces nothing is claimed): "
                  + " > ".join("{" + ", ".join(g) + "}" for g in summary["ranking"])]
    lines += ["", "## Figures", "", "![accuracy per variant](accuracy_intervals.png)", ""]
    if pairs:
        lines += ["![paired differences](paired_differences.png)", ""]
    lines += ["![per-class sensitivity](class_sensitivity.png)", ""]
    lines += [f"![confusion {key}](confusion_{key}.png)" for key in variants]
    return "\n".join(lines) + "\n"


def write_figures(summary: dict, meta: dict, out: Path):
    """The charts into ``out`` (each written atomically)."""
    from leuknet import figures
    from leuknet.io import atomic_path

    tail = meta["model"] + (f", {meta['task']}" if meta.get("task") else "") + \
        (" (synthetic data)" if meta.get("synthetic") else "")
    k, r, factor = _folds(meta), meta["repeats"], meta["factor"]
    variants = summary["variants"]
    design = f"{k}-fold CV x {r}" if k else f"{r} repeat(s)"
    with atomic_path(out / "accuracy_intervals.png") as tmp:
        figures.accuracy_intervals(variants, tmp, f"Accuracy, {design}: {tail}", factor=factor,
                                   over="folds" if k else "repeats")
    if summary["pairs"]:
        with atomic_path(out / "paired_differences.png") as tmp:
            figures.paired_differences(summary["pairs"], tmp, f"Paired accuracy differences: {tail}")
    with atomic_path(out / "class_sensitivity.png") as tmp:
        figures.class_sensitivity(variants, tmp, f"Per-class sensitivity: {tail}", factor=factor)
    for key, s in variants.items():
        with atomic_path(out / f"confusion_{key}.png") as tmp:
            figures.confusion_matrix_chart(s["confusion_matrix"], s["classes"], tmp,
                                           f"{s['label']} ({'pooled folds, ' if k else 'test split, '}repeat 1)")


def summary_files(out: Path, meta: dict) -> list[str]:
    stem = KINDS[meta["kind"]].stem
    return [f"{stem}.json", f"{stem}.md"] + [f for f in FIGURES if (Path(out) / f).is_file()] + ["confusion_*.png"]


def write_summary(out: Path, meta: dict, run_dirs) -> dict:
    """``<stem>.json`` (written last), ``<stem>.md`` and the charts, unless they are already made from these
    very runs. Returns the summary."""
    from leuknet.io import write_json, write_text

    stem = KINDS[meta["kind"]].stem
    sources = _sources(run_dirs)
    if _up_to_date(out / f"{stem}.json", sources):
        return json.loads((out / f"{stem}.json").read_text())
    summary = summarise(out, meta)
    write_text(out / f"{stem}.md", markdown(summary, meta))
    write_figures(summary, meta, out)
    record = {"study": meta, **summary, "sources": sources}
    write_json(out / f"{stem}.json", record)  # last
    return record


def find_summary(folder: Path):
    """The comparison summary JSON in ``folder`` (any kind), or None."""
    for kind in KINDS.values():
        path = Path(folder) / f"{kind.stem}.json"
        if path.is_file():
            try:
                data = json.loads(path.read_text())
            except ValueError:
                continue
            if "variants" in data and "study" in data:
                return data
    return None
