"""Classification metrics on the test split: confusion matrix and per-class figures."""

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
