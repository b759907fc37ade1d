"""The files a run, an evaluation and a prediction write: one writer per artefact, shared by ``train``,
``evaluate`` and ``predict`` (each written atomically by :mod:`leuknet.io`)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from leuknet.io import write_csv, write_json


def write_predictions(path, files, probabilities, classes, true_labels=None):
    """``file[,true_class],predicted_class,p_<class>...``: one row per file (``true_labels``: class indices)."""
    probabilities = np.asarray(probabilities)
    pred = probabilities.argmax(1) if len(probabilities) else np.zeros(0, int)
    head = ["file"] + (["true_class"] if true_labels is not None else []) + ["predicted_class"]
    rows = []
    for i, (f, k, p) in enumerate(zip(files, pred, probabilities)):
        true = [classes[int(true_labels[i])]] if true_labels is not None else []
        rows.append([f] + true + [classes[int(k)]] + [f"{v:.6f}" for v in p])
    write_csv(path, head + [f"p_{c}" for c in classes], rows)


def write_metrics(path, metrics: dict):
    write_json(path, metrics)


def write_skipped(path, skipped):
    """``file,reason`` for every unreadable file (``skipped``: (path, reason) pairs,
    :func:`leuknet.data.images.unreadable_reason`)."""
    write_csv(path, ["file", "reason"], [list(s) for s in skipped])


def write_history(path, rows):
    """MATLAB's training-progress information, one row per iteration (validation columns where validated)."""
    def num(v, fmt):
        return math.nan if v is None or math.isnan(v) else format(v, fmt)

    write_csv(path, ["epoch", "iteration", "time_elapsed_s", "base_learn_rate", "training_loss", "training_accuracy",
                     "validation_loss", "validation_accuracy"],
              [[r["Epoch"], r["Iteration"], f"{r['TimeElapsed']:.3f}", r["BaseLearnRate"], f"{r['TrainingLoss']:.6f}",
                f"{r['TrainingAccuracy']:.4f}", num(r["ValidationLoss"], ".6f"), num(r["ValidationAccuracy"], ".4f")]
               for r in rows])


def write_splits(path, dataset, splits: dict):
    """Every file of the data set with its class, subject and split (``unused`` where undersampling left it out)."""
    split_of = {int(i): name for name, idx in splits.items() for i in idx}
    write_csv(path, ["file", "class", "subject", "split"],
              [[s.path, s.label, s.subject or "", split_of.get(i, "unused")] for i, s in enumerate(dataset.samples)])


def read_split_files(run_dir) -> dict[str, str]:
    """file -> split of a run directory's ``splits.csv`` ({} when there is none)."""
    import csv

    p = Path(run_dir) / "splits.csv"
    if not p.is_file():
        return {}
    with open(p, newline="", encoding="utf-8") as f:
        return {row["file"]: row["split"] for row in csv.DictReader(f)}


__all__ = ["write_predictions", "write_metrics", "write_skipped", "write_history", "write_splits",
           "read_split_files"]
