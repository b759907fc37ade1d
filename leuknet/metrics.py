"""Classification metrics on the test split: confusion matrix and per-class figures, with 95 % intervals
(:func:`metrics_with_intervals`)."""

from __future__ import annotations

import numpy as np


def confusion_matrix(y_true, y_pred, num_classes: int) -> np.ndarray:
    """Rows true class, columns predicted class."""
    cm = np.zeros((num_classes, num_classes), np.int64)
    np.add.at(cm, (np.asarray(y_true, int), np.asarray(y_pred, int)), 1)
    return cm


def _div(a, b):
    return float(a) / float(b) if b else 0.0


def classification_metrics(y_true, y_pred, classes) -> dict:
    """accuracy, confusion matrix, per-class precision / sensitivity (recall) / specificity / F1 / support
    (one-vs-rest), macro averages and support-weighted F1 (the C-NMC challenge metric)."""
    k = len(classes)
    cm = confusion_matrix(y_true, y_pred, k)
    n = int(cm.sum())
    per_class = {}
    for i, c in enumerate(classes):
        tp = cm[i, i]
        fn = cm[i].sum() - tp
        fp = cm[:, i].sum() - tp
        tn = n - tp - fn - fp
        precision = _div(tp, tp + fp)
        sensitivity = _div(tp, tp + fn)
        per_class[c] = {
            "precision": precision,
            "sensitivity": sensitivity,
            "specificity": _div(tn, tn + fp),
            "f1": _div(2 * precision * sensitivity, precision + sensitivity),
            "accuracy": _div(tp + tn, n),  # one-vs-rest (Shafique & Tehsin's Table 5)
            "support": int(cm[i].sum()),
        }
    keys = ("precision", "sensitivity", "specificity", "f1")
    macro = {key: float(np.mean([per_class[c][key] for c in classes])) for key in keys}
    weighted_f1 = _div(sum(per_class[c]["f1"] * per_class[c]["support"] for c in classes), n)
    return {
        "classes": list(classes),
        "n_test": n,
        "accuracy": _div(np.trace(cm), n),
        "confusion_matrix": cm.tolist(),
        "per_class": per_class,
        "macro": macro,
        "weighted_f1": weighted_f1,
    }


def metrics_with_intervals(y_true, y_pred, classes, seed: int = 0, n_boot: int = 2000) -> dict:
    """:func:`classification_metrics` plus ``"intervals"``: 95 % Wilson intervals (k of n) for accuracy and each
    class's sensitivity, specificity and precision (:func:`leuknet.stats.proportion_metrics_with_intervals`), and
    95 % percentile bootstrap intervals over the cells for each class's F1, macro F1 and weighted F1
    (:func:`leuknet.stats.f1_with_intervals`, ``n_boot`` resamples from ``numpy.random.default_rng(seed)``).

    ``intervals`` = ``{"confidence", "proportions", "bootstrap", "n_boot", "seed", "accuracy",
    "per_class": {class: {"sensitivity", "specificity", "precision", "f1"}}, "macro_f1", "weighted_f1"}``: a
    proportion is ``{"k", "n", "estimate", "low", "high"}``, a bootstrap figure ``{"estimate", "low", "high",
    "confidence", "n_boot", "seed", "interval"}``. Where n = 0 (precision of a class never predicted, sensitivity
    of a class absent from the cells) estimate, low and high are nan here and null in metrics.json."""
    from leuknet import stats

    metrics = classification_metrics(y_true, y_pred, classes)
    props = stats.proportion_metrics_with_intervals(y_true, y_pred, classes)
    f1 = stats.f1_with_intervals(y_true, y_pred, classes, n_boot=n_boot, seed=seed)
    metrics["intervals"] = {
        "confidence": props["confidence"],
        "proportions": "Wilson score interval",
        "bootstrap": "percentile bootstrap over cells",
        "n_boot": int(n_boot),
        "seed": int(seed),
        "accuracy": props["accuracy"],
        "per_class": {c: {**props["per_class"][c], "f1": f1["per_class"][c]} for c in props["classes"]},
        "macro_f1": f1["macro_f1"],
        "weighted_f1": f1["weighted_f1"],
    }
    return metrics
