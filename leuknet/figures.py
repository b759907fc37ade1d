"""Figures (matplotlib figures drawn off-screen on their own Agg canvas, so a user's pyplot backend is left as it
is): training progress, confusion matrices, colour-space bars, example cells. Every function writes a PNG to
``path`` and returns it."""

from __future__ import annotations

import math

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure


def subplots(*grid, figsize, **kw):
    """``plt.subplots`` without pyplot: a Figure on its own Agg canvas (no global backend switch)."""
    fig = Figure(figsize=figsize)
    FigureCanvasAgg(fig)
    return fig, fig.subplots(*grid, **kw)


def _save(fig, path):
    fig.tight_layout()
    fig.savefig(path, format="png", dpi=110)
    return path


def _smooth(values, alpha=0.6):
    out, acc = [], None
    for v in values:
        acc = v if acc is None else alpha * acc + (1 - alpha) * v
        out.append(acc)
    return out


def training_progress(history, path, title="Training progress"):
    """MATLAB-style training-progress plot: accuracy (top) and loss (bottom) per iteration, smoothed training
    curve over the raw one, validation points joined by a dashed line, epoch boundaries shaded."""
    fig, axes = subplots(2, 1, figsize=(9, 6.2), sharex=True)
    draw_training_progress(axes, history, title)
    return _save(fig, path)


def draw_training_progress(axes, history, title="Training progress"):
    """The training-progress plot on two given axes (accuracy, loss): :func:`training_progress` and the live
    window of ``trainNetwork(..., Plots='training-progress')``."""
    it = [r["iteration"] for r in history]
    for ax, key, label in ((axes[0], "accuracy", "Accuracy (%)"), (axes[1], "loss", "Loss")):
        tr = [r[f"training_{key}"] for r in history]
        ax.plot(it, tr, color="#9ecae1" if key == "accuracy" else "#fdae6b", lw=1, label="Training (raw)")
        ax.plot(it, _smooth(tr), color="#1f77b4" if key == "accuracy" else "#e6550d", lw=2,
                label="Training (smoothed)")
        vi = [(r["iteration"], r[f"validation_{key}"]) for r in history
              if r[f"validation_{key}"] is not None and not math.isnan(r[f"validation_{key}"])]
        if vi:
            ax.plot(*zip(*vi), "k--o", ms=4, lw=1, label="Validation")
        epochs = [r["epoch"] for r in history]
        for e in sorted(set(epochs))[1::2]:
            xs = [i for i, ep in zip(it, epochs) if ep == e]
            ax.axvspan(min(xs) - 0.5, max(xs) + 0.5, color="0.93", zorder=0)
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        if key == "accuracy":
            ax.set_ylim(0, 100)
            ax.legend(fontsize=8, loc="lower right")
        else:
            _clip_early_loss(ax, it, tr, [v for _, v in vi])
    axes[1].set_xlabel("Iteration (shaded bands: alternate epochs)")
    from matplotlib.ticker import MaxNLocator

    axes[1].xaxis.set_major_locator(MaxNLocator(integer=True))  # iterations are whole (no 1.5 on a short run)
    axes[0].set_title(title)


def _clip_early_loss(ax, iterations, training, validation):
    """Keep the loss axis readable when the first iterations' loss dwarfs the rest (an initial loss of 50, then
    0.5): the upper limit comes from the losses after the first few iterations (10 %, 1 to 10 of them), and the
    raw points above it are marked at the top edge with a note of how many and how high. A late spike is never
    clipped: only the first iterations are left out of the limit."""
    n = len(training)
    head = max(1, min(10, n // 10))
    tail = [v for v in list(training[head:]) + list(validation) if v is not None and math.isfinite(v)]
    early = [v for v in training[:head] if v is not None and math.isfinite(v)]
    if n < 10 or not tail or not early:
        return
    top = 1.1 * max(tail)
    if max(early) <= 1.5 * top:
        return
    bottom = min(0.0, min(tail))
    if top <= bottom:  # a flat curve at 0: nothing to cut
        return
    ax.set_ylim(bottom, top)
    above = [(i, v) for i, v in zip(iterations, training) if v is not None and math.isfinite(v) and v > top]
    ax.plot([i for i, _ in above], [top] * len(above), "^", color="#e6550d", ms=6, clip_on=False, zorder=5)
    ax.text(0.01, 0.97, f"{len(above)} point(s) above the axis (up to {max(v for _, v in above):.3g}), marked ^",
            transform=ax.transAxes, ha="left", va="top", fontsize=8, color="#a63603",
            bbox=dict(facecolor="white", alpha=0.85, edgecolor="none", pad=1.5), zorder=6)


def confusion_matrix_chart(cm, classes, path, title="Confusion matrix"):
    """Counts with row percentages (rows true class, columns predicted), as MATLAB's confusionchart."""
    cm = np.asarray(cm)
    k = len(classes)
    fig, ax = subplots(figsize=(1.3 * k + 2.6, 1.1 * k + 2.0))
    rows = cm.sum(1, keepdims=True)
    frac = np.divide(cm, rows, out=np.zeros_like(cm, dtype=float), where=rows > 0)
    ax.imshow(frac, cmap="Blues", vmin=0, vmax=1)
    for i in range(k):
        for j in range(k):
            ax.text(j, i, f"{cm[i, j]}\n{100 * frac[i, j]:.1f}%", ha="center", va="center",
                    color="white" if frac[i, j] > 0.55 else "black", fontsize=10)
    ax.set_xticks(range(k), classes)
    ax.set_yticks(range(k), classes)
    ax.set_xlabel("Predicted class")
    ax.set_ylabel("True class")
    ax.set_title(title)
    return _save(fig, path)


def colorspace_bars(summary, path, title="Colour-space comparison"):
    """Grouped bars (accuracy, F1, sensitivity, specificity) per colour space with standard-deviation error
    bars over the repeats (:func:`colorspace_bars_figure`), written to ``path``."""
    fig = colorspace_bars_figure(summary, title)
    return _save(fig, path)


def colorspace_bars_figure(summary, title="Colour-space comparison"):
    """The figure of :func:`colorspace_bars`. The legend sits to the right of the axes, where no bar is, and the
    y-axis reaches past the tallest bar plus its error bar and label."""
    spaces = list(summary)
    keys = [("accuracy", "Accuracy"), ("macro_f1", "F1 (macro)"), ("sensitivity", "Sensitivity"),
            ("specificity", "Specificity")]
    x = np.arange(len(spaces))
    w = 0.8 / len(keys)
    fig, ax = subplots(figsize=(max(6, 1.8 * len(spaces) + 2) + 1.6, 4.2))
    top = 0.0
    for i, (k, label) in enumerate(keys):
        means = [100 * summary[s][k]["mean"] for s in spaces]
        stds = [100 * (summary[s][k]["std"] or 0) for s in spaces]
        top = max([top] + [m + sd for m, sd in zip(means, stds)])
        bars = ax.bar(x + (i - (len(keys) - 1) / 2) * w, means, w, yerr=stds, capsize=3, label=label)
        if k == "accuracy":
            for b, m, sd in zip(bars, means, stds):
                ax.text(b.get_x() + b.get_width() / 2, m + sd + 1, f"{m:.1f}", ha="center", va="bottom",
                        fontsize=8)
    names = {"rgb": "RGB", "hsv": "HSV", "ycbcr": "YCbCr", "hcbcr": "HCbCr"}
    ax.set_xticks(x, [names.get(s, s) for s in spaces])
    ax.set_ylabel("% (mean ± s.d. over repeats)")
    ax.set_ylim(0, max(110, top + 8))
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    ax.grid(axis="y", alpha=0.3)
    ax.set_title(title)
    fig.tight_layout()
    return fig


def example_cells(items, classes, path, title="Example test cells"):
    """A grid of cells, each titled with its true class and the predicted probabilities (LeukNet paper, Fig. 4).
    ``items``: (RGB uint8 image, true class, {class: probability})."""
    n = len(items)
    cols = min(4, n)
    rows = math.ceil(n / cols)
    fig, axes = subplots(rows, cols, figsize=(2.6 * cols, 3.2 * rows), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, (img, true, probs) in zip(axes.ravel(), items):
        ax.imshow(img)
        pred = max(probs, key=probs.get)
        ok = pred == true
        ax.set_title(f"true: {true}\n" + ", ".join(f"{c} {100 * probs[c]:.1f}%" for c in classes),
                     fontsize=8, color="darkgreen" if ok else "firebrick")
    fig.suptitle(title)
    return _save(fig, path)


# ---- cross-validated colour-space study: intervals and paired differences ----------------------------------

_SPACE_NAMES = {"rgb": "RGB", "hsv": "HSV", "ycbcr": "YCbCr", "hcbcr": "HCbCr"}


def _finite(values, default=0.0):
    return [default if v is None or not math.isfinite(v) else v for v in values]


def _limits_around(lows, highs, floor=0.0, ceiling=100.0):
    """y-limits around the data (not from 0): the lowest and highest interval ends with a margin, kept in range."""
    lo = min(v for v in lows if math.isfinite(v))
    hi = max(v for v in highs if math.isfinite(v))
    pad = max(1.0, 0.12 * (hi - lo))
    return max(floor, lo - pad), min(ceiling + pad / 2, hi + pad)


def _pct(d, key):
    v = d.get(key)
    return math.nan if v is None else 100.0 * v


def _name(summary, key):
    return summary[key].get("name") or _SPACE_NAMES.get(key, key)


def accuracy_intervals(summary, path, title="Accuracy per colour space", factor=None, over="folds"):
    """Dot-and-interval chart (:func:`accuracy_intervals_figure`) written to ``path``."""
    fig = accuracy_intervals_figure(summary, title, factor, over)
    return _save(fig, path)


def accuracy_intervals_figure(summary, title="Accuracy per colour space", factor=None, over="folds"):
    """Per variant of a comparison (a summary's ``variants``, :mod:`leuknet.comparison`): the pooled accuracy
    with its 95 % Wilson interval (dot and bar) beside the mean ± s.d. over the folds or repeats (square). The
    y axis spans the data, not 0 to 100, so that differences of a point show; the legend sits right of the
    axes; ``factor`` names the x axis."""
    spaces = list(summary)
    x = np.arange(len(spaces))
    est = np.array([_pct(summary[s]["accuracy"], "estimate") for s in spaces])
    low = np.array([_pct(summary[s]["accuracy"], "low") for s in spaces])
    high = np.array([_pct(summary[s]["accuracy"], "high") for s in spaces])
    mean = np.array([_pct(summary[s]["over_folds"]["accuracy"], "mean") for s in spaces])
    sd = np.array(_finite([_pct(summary[s]["over_folds"]["accuracy"], "sd") for s in spaces]))
    fig, ax = subplots(figsize=(max(4.5, 1.2 * len(spaces) + 2.5) + 2.6, 4.0))
    ax.errorbar(x - 0.12, est, yerr=[est - low, high - est], fmt="o", color="#1f77b4", ms=7, capsize=5, lw=1.6,
                label="pooled cells\n(95 % Wilson interval)")
    sd_low, sd_high = mean - np.maximum(mean - sd, 0.0), np.minimum(mean + sd, 100.0) - mean  # within 0..100 %
    ax.errorbar(x + 0.12, mean, yerr=[sd_low, sd_high], fmt="s", color="0.45", ms=6, capsize=4, lw=1.2,
                label=f"{over}: mean ± s.d.")
    for xi, e in zip(x, est):
        ax.annotate(f"{e:.1f}", (xi - 0.12, e), xytext=(-7, 0), textcoords="offset points", ha="right",
                    va="center", fontsize=8)
    ax.set_xticks(x, [_name(summary, s) for s in spaces])
    ax.set_xlim(-0.6, len(spaces) - 0.4)
    ax.set_ylim(*_limits_around(np.minimum(low, mean - sd_low), np.maximum(high, mean + sd_high)))
    if factor:
        ax.set_xlabel(factor)
    ax.set_ylabel("Accuracy % (axis not from 0)")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    ax.set_title(title)
    fig.tight_layout()
    return fig


def paired_differences(pairs, path, title="Paired accuracy differences"):
    """Chart of :func:`paired_differences_figure` written to ``path``."""
    fig = paired_differences_figure(pairs, title)
    return _save(fig, path)


def paired_differences_figure(pairs, title="Paired accuracy differences"):
    """One row per pair (``leuknet.stats.compare_pairs``): the difference a - b in points with its 95 % interval,
    against the line at 0; filled where the pair is resolved (Holm-adjusted p below alpha), open where not."""
    n = len(pairs)
    fig, ax = subplots(figsize=(8.2, 0.45 * n + 1.9))
    y = np.arange(n)[::-1]
    for yi, q in zip(y, pairs):
        d, lo, hi = 100 * q["difference"], 100 * q["low"], 100 * q["high"]
        ok = q["resolved"]
        ax.errorbar([d], [yi], xerr=[[d - lo], [hi - d]], fmt="o", ms=7, capsize=4, color="#2ca02c" if ok else "0.35",
                    mfc="#2ca02c" if ok else "white")
    ax.axvline(0, color="firebrick", lw=1)
    ax.set_yticks(y, [f"{q['a']} − {q['b']}" for q in pairs])
    span = [100 * v for q in pairs for v in (q["low"], q["high"], 0.0)]
    lo, hi = min(span), max(span)
    pad = max(0.5, 0.08 * (hi - lo))
    ax.set_xlim(lo - pad, hi + pad)
    ax.set_ylim(-0.7, n - 0.3)
    ax.set_xlabel("Accuracy difference, points (95 % CI)")
    ax.grid(axis="x", alpha=0.3)
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], marker="o", ls="", color="#2ca02c", label="resolved (Holm)"),
               Line2D([], [], marker="o", ls="", color="0.35", mfc="white", label="not resolved")]
    ax.legend(handles=handles, fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    ax.set_title(title)
    fig.tight_layout()
    return fig


def class_sensitivity(summary, path, title="Per-class sensitivity", factor=None):
    """Chart of :func:`class_sensitivity_figure` written to ``path``."""
    fig = class_sensitivity_figure(summary, title, factor)
    return _save(fig, path)


def class_sensitivity_figure(summary, title="Per-class sensitivity", factor=None):
    """Per class (groups) and variant (dots; colour spaces, models...): the pooled sensitivity with its 95 %
    Wilson interval; the y axis spans the data; the legend (the variants, titled ``factor``) sits right of the
    axes."""
    spaces = list(summary)
    classes = list(next(iter(summary.values()))["classes"])
    fig, ax = subplots(figsize=(max(4.5, 1.4 * len(classes) + 2.5) + 2.2, 4.0))
    w = 0.7 / max(1, len(spaces))
    lows, highs = [], []
    for i, s in enumerate(spaces):
        xs = np.arange(len(classes)) + (i - (len(spaces) - 1) / 2) * w
        d = [summary[s]["per_class"][c]["sensitivity"] for c in classes]
        e, lo, hi = (np.array([_pct(v, key) for v in d]) for key in ("estimate", "low", "high"))
        ax.errorbar(xs, e, yerr=[e - lo, hi - e], fmt="o", ms=6, capsize=3, label=_name(summary, s))
        lows += list(lo)
        highs += list(hi)
    ax.set_xticks(np.arange(len(classes)), classes)
    ax.set_xlim(-0.6, len(classes) - 0.4)
    ax.set_ylim(*_limits_around(lows, highs))
    ax.set_ylabel("Sensitivity % (95 % Wilson interval)")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0,
              title=(factor or "colour model").lower())
    ax.set_title(title)
    fig.tight_layout()
    return fig
