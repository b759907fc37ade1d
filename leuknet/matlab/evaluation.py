"""MATLAB's evaluation helpers: ``confusionmat``, ``confusionchart`` (a matplotlib figure drawn like MATLAB's
``ConfusionMatrixChart``), ``sortClasses`` and ``saveas``.

Labels may be lists of str, NumPy arrays (numeric, bool or str), or a categorical-like object with ``.codes``
(integers, negative = undefined) and ``.categories`` (the names), such as ``leuknet.matlab.Categorical``.

Figures are matplotlib's: drawn off-screen (Agg) unless the caller has already imported ``matplotlib.pyplot`` with
an interactive backend, in which case the chart is a pyplot figure the caller's own pyplot displays; this module
never opens or blocks on a window itself. Where leuknet differs from MATLAB:
- ``confusionmat`` returns int64 counts (MATLAB: doubles holding the same whole numbers); its ``order`` output is a
  NumPy array for numeric labels and a list of str for text and categorical labels (MATLAB: the input's type).
- ``confusionchart`` has no ``'cluster'`` sort (it needs hierarchical clustering) and none of the layout
  properties (``Position``, ``OuterPosition``, ``Units``, ``Parent`` beyond a matplotlib Figure given first).
- ``saveas`` writes png, pdf, svg, eps, jpg, tif (matplotlib's writers), not MATLAB's ``.fig``.
"""

from __future__ import annotations

import math
import os
import sys

import numpy as np

from leuknet.errors import ConfigError, DataError
from leuknet.matlab.conventions import boolean, choice, number, options_only, outputs

__all__ = ["confusionmat", "confusionchart", "ConfusionMatrixChart", "sortClasses", "saveas", "plotconfusion",
           "perfcurve"]


# --------------------------------------------------------------------------------------------- labels

class _Labels:
    """One label vector: ``kind`` ('numeric' | 'text' | 'categorical'), ``values`` (list; None = missing),
    ``categories`` (categorical only)."""

    def __init__(self, fn, x, name):
        if hasattr(x, "codes") and hasattr(x, "categories"):
            cats = [str(c) for c in x.categories]
            codes = np.asarray(x.codes).ravel()
            self.kind, self.categories = "categorical", cats
            self.values = [cats[int(c)] if 0 <= int(c) < len(cats) else None for c in codes]
            return
        if isinstance(x, str):
            raise ConfigError(f"{fn}: {name} must be a vector of labels, received the single string {x!r}")
        a = np.asarray(x if not isinstance(x, (list, tuple)) else list(x), dtype=None)
        if a.ndim > 2 or (a.ndim == 2 and min(a.shape) > 1):
            raise ConfigError(f"{fn}: {name} must be a vector of labels, received shape {a.shape}")
        a = a.ravel()
        self.categories = None
        if a.dtype.kind in "biuf":
            self.kind = "numeric"
            self.values = [None if (a.dtype.kind == "f" and math.isnan(v)) else v for v in a.tolist()]
        elif a.dtype.kind in "USO":
            vals = []
            for v in a.tolist():
                if v is None or (isinstance(v, float) and math.isnan(v)) or v == "":
                    vals.append(None)  # MATLAB's '' / "" / <missing>: not counted
                else:
                    vals.append(str(v))
            self.kind, self.values = "text", vals
        else:
            raise ConfigError(f"{fn}: {name} must hold numeric, logical or text labels, received {a.dtype}")

    def __len__(self):
        return len(self.values)


def _default_order(fn, g, gh):
    """MATLAB's group order (https://mathworks.com/help/stats/confusionmat.html, via grp2idx: numeric and logical
    labels in sorted order; categorical labels in the order of their categories, those of ``group`` first then any
    new ones of ``grouphat``, as MATLAB concatenates categoricals; text labels in order of first appearance in
    ``[group; grouphat]``). Missing values are never a group."""
    kinds = {g.kind, gh.kind}
    if "numeric" in kinds and kinds != {"numeric"}:
        raise ConfigError(f"{fn}: group and grouphat must be of the same type, received numeric and "
                          f"{(kinds - {'numeric'}).pop()} labels")
    if kinds == {"numeric"}:
        vals = np.array([v for v in g.values + gh.values if v is not None])
        return np.unique(vals) if vals.size else np.array([]), "numeric"
    order = []
    for lab in (g, gh):
        if lab.kind == "categorical":
            order += [c for c in lab.categories if c not in order]
    seen = set(order)
    for v in g.values + gh.values:
        if v is not None and v not in seen:
            seen.add(v)
            order.append(v)
    return order, "text"


def _given_order(fn, order, kind, present):
    if hasattr(order, "codes") and hasattr(order, "categories"):
        cats = [str(c) for c in order.categories]
        order = [cats[int(c)] for c in np.asarray(order.codes).ravel() if int(c) >= 0]
    vals = np.asarray(order).ravel().tolist() if not isinstance(order, (list, tuple)) else list(order)
    if kind == "numeric":
        try:
            vals = [float(v) if not isinstance(v, (bool, np.bool_)) else v for v in vals]
        except (TypeError, ValueError):
            raise ConfigError(f"{fn}: Order must hold the same kind of labels as group (numeric)") from None
    else:
        vals = [str(v) for v in vals]
    if len(set(vals)) != len(vals):
        raise ConfigError(f"{fn}: Order must not repeat a group")
    missing = [v for v in present if v not in set(vals)]
    if missing:
        raise ConfigError(f"{fn}: Order must contain every group in group and grouphat; missing "
                          f"{', '.join(map(str, missing[:5]))}")
    return np.asarray(vals) if kind == "numeric" else vals


def confusionmat(group, grouphat, *args, nargout=None, **kwargs):
    """MATLAB ``C = confusionmat(group, grouphat)``, ``confusionmat(..., 'Order', grouporder)``,
    ``C, order = confusionmat(..., nargout=2)``.

    ``C[i, j]`` counts observations known to be in group ``order[i]`` and predicted in ``order[j]`` (rows true,
    columns predicted). NaN, empty-string/None and undefined categorical labels are missing: such an observation is
    not counted (https://mathworks.com/help/stats/confusionmat.html, "g1 = [3 2 2 3 1 1]; g2 = [4 2 3 NaN 1 1]").
    The default order is MATLAB's (see :func:`_default_order`); an ``Order`` may add groups (zero rows and
    columns) but must contain all of them.
    """
    fn = "confusionmat"
    o = options_only(fn, args, kwargs, {"Order": None})
    g, gh = _Labels(fn, group, "group"), _Labels(fn, grouphat, "grouphat")
    if len(g) != len(gh):
        raise ConfigError(f"{fn}: group and grouphat must have the same number of observations, received "
                          f"{len(g)} and {len(gh)}")
    order, kind = _default_order(fn, g, gh)
    if o["Order"] is not None:
        present = list(order) if kind == "text" else [float(v) for v in order]
        order = _given_order(fn, o["Order"], kind, present)
    keys = [float(v) for v in order] if kind == "numeric" else list(order)
    index = {k: i for i, k in enumerate(keys)}
    C = np.zeros((len(keys), len(keys)), np.int64)
    conv = float if kind == "numeric" else (lambda v: v)
    for t, p in zip(g.values, gh.values):
        if t is not None and p is not None:
            C[index[conv(t)], index[conv(p)]] += 1
    return outputs(fn, (C, order), nargout)


# --------------------------------------------------------------------------------------------- perfcurve
# MATLAB's perfcurve (Statistics and Machine Learning Toolbox; https://www.mathworks.com/help/stats/perfcurve.html
# and its help text): for the M distinct scores, sorted descending, X, Y and T have M + 1 rows; T(2:M+1) are the
# distinct thresholds and T(1) repeats T(2), the 'reject all' threshold where TP = FP = 0; at each threshold TP and
# FP count the positive and negative observations with a score >= it. AUC by the trapezoidal rule over X and Y
# (NaN first or last values removed first); OPTROCPT, for the standard ROC only, where a line of slope
# S = (cost(P|N) - cost(N|N)) / (cost(N|P) - cost(P|P)) * N / P (default costs: S = N / P) moved from (0, 1)
# down and right first touches the curve; SUBY the Y criterion per negative class, SUBYNAMES their names.
# Observations with NaN scores are ignored (ProcessNaN 'ignore'), as are labels of neither class.

_CRITERIA = {
    "tp": lambda tp, fn, fp, tn: tp, "fn": lambda tp, fn, fp, tn: fn, "fp": lambda tp, fn, fp, tn: fp,
    "tn": lambda tp, fn, fp, tn: tn, "tp+fp": lambda tp, fn, fp, tn: tp + fp,
    "rpp": lambda tp, fn, fp, tn: (tp + fp) / (tp + fn + fp + tn),
    "rnp": lambda tp, fn, fp, tn: (tn + fn) / (tp + fn + fp + tn),
    "accu": lambda tp, fn, fp, tn: (tp + tn) / (tp + fn + fp + tn),
    "tpr": lambda tp, fn, fp, tn: tp / (tp + fn), "fnr": lambda tp, fn, fp, tn: fn / (tp + fn),
    "fpr": lambda tp, fn, fp, tn: fp / (tn + fp), "tnr": lambda tp, fn, fp, tn: tn / (tn + fp),
    "ppv": lambda tp, fn, fp, tn: tp / (tp + fp), "npv": lambda tp, fn, fp, tn: tn / (tn + fn),
}
_CRITERION_NAMES = {"sens": "tpr", "reca": "tpr", "miss": "fnr", "fall": "fpr", "spec": "tnr", "prec": "ppv"}


def _criterion(fn, name, value):
    key = str(value).lower() if isinstance(value, str) else None
    key = _CRITERION_NAMES.get(key, key)
    if key not in _CRITERIA:
        raise ConfigError(f"{fn}: {name} must be one of {', '.join(list(_CRITERIA) + list(_CRITERION_NAMES))} "
                          f"(ecost and functions are not supported), received {value!r}")
    return key


def perfcurve(labels, scores, posclass, *args, nargout=None, **kwargs):
    """MATLAB ``[X, Y, T, AUC, OPTROCPT, SUBY, SUBYNAMES] = perfcurve(labels, scores, posclass)``
    (``nargout`` picks how many: ``X, Y, T, AUC = perfcurve(..., nargout=4)``): the ROC curve (X the false positive
    rate, Y the true positive rate) of ``scores`` for the positive class ``posclass``; ``labels`` numeric, logical,
    text or categorical (``double(YTest)`` too). Options: ``'NegClass'`` (default: every other class), ``'XCrit'``
    / ``'YCrit'`` (TP, FN, FP, TN, TP+FP, RPP, RNP, accu, TPR/sens/reca, FNR/miss, FPR/fall, TNR/spec, PPV/prec,
    NPV). Refused: confidence bounds (NBoot, cross-validation folds), XVals / TVals, weights, priors and costs."""
    fn = "perfcurve"
    o = options_only(fn, args, kwargs, {"NegClass": "all", "XCrit": "fpr", "YCrit": "tpr"})
    xcrit, ycrit = _criterion(fn, "XCrit", o["XCrit"]), _criterion(fn, "YCrit", o["YCrit"])
    lab = _Labels(fn, labels, "labels")
    s = np.asarray(scores, np.float64).ravel()
    if len(s) != len(lab):
        raise DataError(f"{fn}: {len(lab)} labels and {len(s)} scores")

    def key(v):
        return None if v is None else (float(v) if lab.kind == "numeric" else str(v))

    values = [key(v) for v in lab.values]
    pos = key(posclass.tolist()[0] if hasattr(posclass, "codes") else
              (posclass.item() if hasattr(posclass, "item") else posclass))
    if pos not in values:
        raise DataError(f"{fn}: the positive class {posclass!r} is not among the labels")
    present = [v for v in dict.fromkeys(values) if v is not None and v != pos]
    if lab.kind == "numeric":
        present.sort()
    elif lab.kind == "categorical":
        present = [c for c in lab.categories if c in present]
    if isinstance(o["NegClass"], str) and o["NegClass"].lower() == "all":
        negs = present
    else:
        given = o["NegClass"]
        given = [given] if isinstance(given, (str, int, float)) else list(
            given.tolist() if hasattr(given, "tolist") else given)
        negs = [key(v) for v in given]
        missing = [v for v in negs if v not in present]
        if missing or pos in negs:
            raise DataError(f"{fn}: NegClass {missing[0] if missing else pos!r} is not a negative class among "
                            "the labels")
    if not negs:
        raise DataError(f"{fn}: the labels hold no negative class")
    keep = np.array([v == pos or v in negs for v in values]) & ~np.isnan(s)
    s = s[keep]
    kept = [v for v, k in zip(values, keep) if k]
    is_pos = np.array([v == pos for v in kept], bool)
    if not is_pos.any() or is_pos.all():
        raise DataError(f"{fn}: no {'positive' if not is_pos.any() else 'negative'} observation with a score "
                        "(NaN scores are left out)")
    thresholds = np.unique(s)[::-1]  # distinct scores, descending
    T = np.concatenate([thresholds[:1], thresholds])  # T(1) repeats T(2): 'reject all'

    def at_least(x):  # for each threshold, how many of the scores x are >= it (one sort, not a pass each)
        x = np.sort(x)
        return np.concatenate([[0.0], (len(x) - np.searchsorted(x, thresholds, side="left")).astype(np.float64)])

    def counts(mask_neg):
        tp, fp = at_least(s[is_pos]), at_least(s[mask_neg])
        return tp, float(is_pos.sum()) - tp, fp, float(mask_neg.sum()) - fp

    with np.errstate(divide="ignore", invalid="ignore"):
        tp, fn_, fp, tn = counts(~is_pos)
        X, Y = _CRITERIA[xcrit](tp, fn_, fp, tn), _CRITERIA[ycrit](tp, fn_, fp, tn)
        suby = np.stack([_CRITERIA[ycrit](*counts(np.array([v == c for v in kept]))) for c in negs], axis=1)
    X, Y = np.asarray(X, np.float64), np.asarray(Y, np.float64)
    finite = np.ones(len(X), bool)
    for end in (0, -1):  # NaN at 'reject all' or 'accept all' (e.g. PPV): left out of the area
        if len(X) and (np.isnan(X[end]) or np.isnan(Y[end])):
            finite[end] = False
    xa, ya = X[finite], Y[finite]
    auc = float(np.sum(np.diff(xa) * (ya[1:] + ya[:-1]) / 2)) if len(xa) > 1 else math.nan
    opt = np.array([math.nan, math.nan])
    if (xcrit, ycrit) == ("fpr", "tpr"):
        best = int(np.argmax(Y - float((~is_pos).sum()) / float(is_pos.sum()) * X))
        opt = np.array([X[best], Y[best]])
    names = [str(int(c)) if isinstance(c, float) and c.is_integer() else str(c) for c in negs]
    return outputs(fn, (X, Y, T, auc, opt, suby, names), nargout)


# --------------------------------------------------------------------------------------------- the chart
# https://ww2.mathworks.cn/help/deeplearning/ref/confusionchart.html (syntaxes) and the ConfusionMatrixChart
# properties page, https://jp.mathworks.com/help/stats/mlearnlib.graphics.chart.confusionmatrixchart-properties.html:
# rows true class, columns predicted; diagonal cells in DiagonalColor, off-diagonal in OffDiagonalColor, shaded by
# value; XLabel 'Predicted Class', YLabel 'True Class', Title ''; Normalization 'absolute' | 'column-normalized' |
# 'row-normalized' | 'total-normalized' (NormalizedValues holds the matrix so normalised); RowSummary 'off' |
# 'absolute' | 'row-normalized' | 'total-normalized' (correct and incorrect per true class, two extra columns);
# ColumnSummary likewise per predicted class (two extra rows). The default colours are MATLAB's first two line
# colours (also GNU Octave statistics' ConfusionMatrixChart defaults). The pages do not say how cell text is
# formatted: leuknet writes counts as integers and normalised values as percentages with one decimal, and leaves
# zero cells blank, as MATLAB's charts look.

_NORMALIZATIONS = ("absolute", "column-normalized", "row-normalized", "total-normalized")
_ROW_SUMMARIES = ("off", "absolute", "row-normalized", "total-normalized")
_COLUMN_SUMMARIES = ("off", "absolute", "column-normalized", "total-normalized")
_DEFAULTS = {"Title": "", "XLabel": "Predicted Class", "YLabel": "True Class", "Normalization": "absolute",
             "RowSummary": "off", "ColumnSummary": "off", "DiagonalColor": (0.0, 0.4470, 0.7410),
             "OffDiagonalColor": (0.8500, 0.3250, 0.0980), "FontSize": 10.0, "FontName": None,
             "FontColor": None, "GridVisible": True}


def _color(fn, name, value):
    from matplotlib.colors import to_rgb

    try:
        if isinstance(value, str):
            short = {"b": "blue", "r": "red", "g": "green", "k": "black", "w": "white", "y": "yellow",
                     "m": "magenta", "c": "cyan"}
            return to_rgb(short.get(value.lower(), value.lower()))
        rgb = tuple(float(v) for v in np.asarray(value, np.float64).ravel())
        if len(rgb) == 3 and all(0 <= v <= 1 for v in rgb):
            return rgb
    except (ValueError, TypeError):
        pass
    raise ConfigError(f"{fn}: {name} must be an RGB triplet in [0, 1] or a colour name, received {value!r}")


def _check_prop(name, value):
    fn = "confusionchart"
    if name in ("Title", "XLabel", "YLabel", "FontName"):
        if name == "FontName" and value is None:
            return None
        if not isinstance(value, str):
            raise ConfigError(f"{fn}: {name} must be a string, received {value!r}")
        return value
    if name == "Normalization":
        return choice(fn, name, value, _NORMALIZATIONS)
    if name == "RowSummary":
        return choice(fn, name, value, _ROW_SUMMARIES)
    if name == "ColumnSummary":
        return choice(fn, name, value, _COLUMN_SUMMARIES)
    if name in ("DiagonalColor", "OffDiagonalColor"):
        return _color(fn, name, value)
    if name == "FontColor":
        return None if value is None else _color(fn, name, value)
    if name == "FontSize":
        return number(fn, name, value, low=0, low_open=True)
    if name == "GridVisible":
        return boolean(fn, name, value)
    raise ConfigError(f"{fn}: unknown property {name!r}")


def _new_figure(figsize):
    """A new Figure for a chart: pyplot's (the current figure, as MATLAB's charts make theirs) where the caller
    uses pyplot, else an off-screen Agg figure outside pyplot's registry (never leaks)."""
    plt = sys.modules.get("matplotlib.pyplot")
    if plt is not None:
        return plt.figure(figsize=figsize)
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize)
    FigureCanvasAgg(fig)
    return fig


class ConfusionMatrixChart:
    """MATLAB's ``ConfusionMatrixChart`` as a matplotlib figure.

    Read-only: ``NormalizedValues`` (the matrix under ``Normalization``), ``ClassLabels``; settable, redrawing
    the chart as MATLAB's ``cm.Title = ...`` does: ``Title``, ``XLabel``, ``YLabel``, ``Normalization``,
    ``RowSummary``, ``ColumnSummary``, ``DiagonalColor``, ``OffDiagonalColor``, ``FontSize``, ``FontName``,
    ``FontColor``, ``GridVisible``. ``figure`` is the matplotlib Figure; ``savefig(path)`` saves it (format from
    the extension), as does ``saveas(cm, path)``.
    """

    _PROPS = tuple(_DEFAULTS)

    def __init__(self, counts, labels, props=None, figure=None, spec=None):
        """``figure``: the Figure to draw in (whole, or where ``spec``, a matplotlib SubplotSpec, says: the place
        of the axes the chart replaced); None: a new figure."""
        object.__setattr__(self, "_counts", np.asarray(counts, np.float64))
        object.__setattr__(self, "_labels", list(labels))
        object.__setattr__(self, "_props", dict(_DEFAULTS))
        object.__setattr__(self, "_spec", spec)
        object.__setattr__(self, "_axes", [])
        for k, v in (props or {}).items():
            self._props[k] = _check_prop(k, v)
        k = len(self._labels)
        size = (max(4.8, 0.75 * (k + (2 if self._props["RowSummary"] != "off" else 0)) + 2.6),
                max(4.0, 0.6 * (k + (2 if self._props["ColumnSummary"] != "off" else 0)) + 2.4))
        object.__setattr__(self, "figure", figure if figure is not None else _new_figure(size))
        self._draw()

    # -- MATLAB's properties -----------------------------------------------------------------------------------
    def __getattr__(self, name):
        props = object.__getattribute__(self, "_props")
        if name in props:
            return props[name]
        raise AttributeError(f"ConfusionMatrixChart has no property {name!r}")

    def __setattr__(self, name, value):
        if name in ("NormalizedValues", "ClassLabels"):
            raise ConfigError(f"confusionchart: {name} is read-only (use sortClasses to reorder the classes)")
        if name not in self._PROPS:
            raise ConfigError(f"confusionchart: unknown property {name!r}; settable: {', '.join(self._PROPS)}")
        self._props[name] = _check_prop(name, value)
        self._draw()

    @property
    def NormalizedValues(self):
        c = self._counts
        mode = self._props["Normalization"]
        if mode == "absolute":
            return c.astype(np.int64) if np.all(c == np.round(c)) else c.copy()
        if mode == "row-normalized":
            d = c.sum(axis=1, keepdims=True)
        elif mode == "column-normalized":
            d = c.sum(axis=0, keepdims=True)
        else:
            d = np.full((1, 1), c.sum())
        return np.divide(c, d, out=np.zeros_like(c), where=d > 0)

    @property
    def ClassLabels(self):
        return list(self._labels)

    def savefig(self, path, **kwargs):
        """Save the chart (format from the extension: png, pdf, svg, ...), as matplotlib's ``Figure.savefig``."""
        saveas(self, path, **kwargs)

    def _repr_png_(self):
        import io

        buf = io.BytesIO()
        self.figure.savefig(buf, format="png", dpi=100)
        return buf.getvalue()

    def __repr__(self):
        k = len(self._labels)
        return (f"ConfusionMatrixChart with properties:\n\n    NormalizedValues: [{k}x{k} double]\n"
                f"         ClassLabels: {self._labels!r:.120}\n")

    # -- drawing -------------------------------------------------------------------------------------------------
    def _text_color(self, alpha):
        fc = self._props["FontColor"]
        return fc if fc is not None else ("white" if alpha > 0.5 else (0.15, 0.15, 0.15))

    def _cell(self, ax, x, y, value, base, alpha, text):
        from matplotlib.patches import Rectangle

        rgb = tuple(1 - alpha * (1 - c) for c in base) if value else (1, 1, 1)
        edge = (0.85, 0.85, 0.85) if self._props["GridVisible"] else rgb
        ax.add_patch(Rectangle((x - 0.5, y - 0.5), 1, 1, facecolor=rgb, edgecolor=edge, linewidth=0.8))
        if value:
            ax.text(x, y, text, ha="center", va="center", color=self._text_color(alpha),
                    fontsize=self._props["FontSize"], fontname=self._props["FontName"] or None)

    def _fmt(self, v, normalized):
        if normalized:
            return f"{100 * v:.1f}%"
        return f"{int(round(v))}" if float(v).is_integer() else f"{v:.3g}"

    def _draw(self):
        fig, p = self.figure, self._props
        k = len(self._labels)
        rows_on, cols_on = p["RowSummary"] != "off", p["ColumnSummary"] != "off"
        shape = dict(nrows=2 if cols_on else 1, ncols=2 if rows_on else 1, width_ratios=[k, 2] if rows_on else [1],
                     height_ratios=[k, 2] if cols_on else [1], wspace=0.04, hspace=0.35)
        if self._spec is None:  # the whole figure
            fig.clear()
            gs = fig.add_gridspec(**shape, left=0.2, right=0.97, bottom=0.16, top=0.9)
        else:  # the place of the axes it replaced (a subplot); the figure's other axes stay
            self._remove_axes()
            gs = self._spec.subgridspec(**shape)
        ax = fig.add_subplot(gs[0, 0])
        ax._leuknet_chart = self  # a chart made where this one is replaces all of it (_current_place)
        self._axes[:] = [ax]
        nv = np.asarray(self.NormalizedValues, np.float64)
        normalized = p["Normalization"] != "absolute"
        vmax = nv.max() if nv.size and nv.max() > 0 else 1.0
        for i in range(k):
            for j in range(k):
                base = p["DiagonalColor"] if i == j else p["OffDiagonalColor"]
                self._cell(ax, j, i, nv[i, j], base, nv[i, j] / vmax, self._fmt(nv[i, j], normalized))
        self._frame(ax, k, k)
        labels = [_label_text(c) for c in self._labels]
        fs = p["FontSize"]
        ax.set_xticks(range(k), labels, fontsize=fs, rotation=90 if max(map(len, labels), default=0) > 6 else 0)
        ax.set_yticks(range(k), labels, fontsize=fs)
        ax.set_xlabel(p["XLabel"], fontsize=fs * 1.1)
        ax.set_ylabel(p["YLabel"], fontsize=fs * 1.1)
        if p["Title"]:
            ax.set_title(p["Title"], fontsize=fs * 1.2, fontweight="bold")
        c = self._counts
        diag = np.diag(c)
        if rows_on:
            self._axes.append(fig.add_subplot(gs[0, 1]))
            self._summary(self._axes[-1], diag, c.sum(axis=1), p["RowSummary"], vertical=True)
        if cols_on:
            self._axes.append(fig.add_subplot(gs[1, 0]))
            self._summary(self._axes[-1], diag, c.sum(axis=0), p["ColumnSummary"], vertical=False)
        fig.sca(ax)  # xlabel / ylabel / title after confusionchart act on the chart, as in MATLAB

    def _remove_axes(self):  # (the list is replaced when the chart draws again)
        for a in self._axes:
            a.remove()

    @staticmethod
    def _frame(ax, nx, ny):
        ax.set_xlim(-0.5, nx - 0.5)
        ax.set_ylim(ny - 0.5, -0.5)
        ax.set_aspect("auto")
        ax.tick_params(length=0)
        for s in ax.spines.values():
            s.set_visible(False)

    def _summary(self, ax, correct, totals, mode, vertical):
        """Two cells per class: correct (DiagonalColor) and incorrect (OffDiagonalColor)."""
        p = self._props
        wrong = totals - correct
        grand = totals.sum()
        k = len(correct)
        for i in range(k):
            for n, (v, base) in enumerate(((correct[i], p["DiagonalColor"]), (wrong[i], p["OffDiagonalColor"]))):
                if mode == "absolute":
                    shown, alpha, text = v, (v / totals[i] if totals[i] else 0), self._fmt(v, False)
                else:
                    d = totals[i] if mode in ("row-normalized", "column-normalized") else grand
                    shown = v / d if d else 0.0
                    alpha = shown if mode != "total-normalized" else (v / totals[i] if totals[i] else 0)
                    text = self._fmt(shown, True)
                x, y = (n, i) if vertical else (i, n)
                self._cell(ax, x, y, shown if totals[i] else 0, base, alpha, text)
        self._frame(ax, 2 if vertical else k, k if vertical else 2)
        ax.set_xticks([])
        ax.set_yticks([])


def _label_text(v):
    """A class label as an axis tick: whole-number floats without '.0' (MATLAB shows double 1 as 1)."""
    if isinstance(v, (float, np.floating)) and float(v).is_integer():
        return str(int(v))
    return str(v)


def _is_matrix(x):
    """True for a square numeric matrix (``confusionchart(m, ...)``), False for a label vector."""
    if hasattr(x, "codes") or isinstance(x, str):
        return False
    try:
        a = np.asarray(x)
    except ValueError:  # ragged nested lists
        return False
    return a.ndim == 2 and a.shape[0] == a.shape[1] and a.dtype.kind in "biuf"


def confusionchart(*args, **kwargs):
    """MATLAB ``cm = confusionchart(trueLabels, predictedLabels)``, ``confusionchart(m)``,
    ``confusionchart(m, classLabels)``, ``confusionchart(parent, ...)`` (``parent`` a matplotlib Figure), each with
    name-value properties (``Title``, ``XLabel``, ``YLabel``, ``Normalization``, ``RowSummary``,
    ``ColumnSummary``, ``DiagonalColor``, ``OffDiagonalColor``, ``FontSize``, ``FontName``, ``FontColor``,
    ``GridVisible``). Returns a :class:`ConfusionMatrixChart`. From labels, the classes and their order are those
    of :func:`confusionmat`; from a matrix ``m`` (non-negative integer counts) without labels, the classes are
    1..n as in MATLAB.
    """
    fn = "confusionchart"
    args = list(args)
    parent = None
    if args and type(args[0]).__name__ in ("Figure", "SubFigure") and hasattr(args[0], "add_gridspec"):
        parent = args.pop(0)
    if not args:
        raise ConfigError(f"{fn}: expected (trueLabels, predictedLabels), (m) or (m, classLabels)")
    if _is_matrix(args[0]):
        m = np.asarray(args.pop(0), np.float64)
        if not np.all(np.isfinite(m)) or np.any(m < 0) or np.any(m != np.round(m)):
            raise DataError(f"{fn}: a confusion matrix must hold non-negative integer counts")
        labels = list(range(1, m.shape[0] + 1))
        if args and not (isinstance(args[0], str) and args[0].lower() in {n.lower() for n in _DEFAULTS}):
            labels = _Labels(fn, args.pop(0), "classLabels").values
            if len(labels) != m.shape[0] or any(v is None for v in labels):
                raise ConfigError(f"{fn}: classLabels must name the {m.shape[0]} classes of the {m.shape[0]} x "
                                  f"{m.shape[0]} matrix, received {len(labels)} labels")
            if len(set(map(str, labels))) != len(labels):
                raise ConfigError(f"{fn}: classLabels must not repeat a class")
    else:
        if len(args) < 2:
            raise ConfigError(f"{fn}: expected (trueLabels, predictedLabels); received one label vector")
        m, order = confusionmat(args.pop(0), args.pop(0), nargout=2)
        labels = [v.item() if hasattr(v, "item") else v for v in order]
    props = options_only(fn, args, kwargs, dict(_DEFAULTS))
    given = {k: props[k] for k in props.given}
    spec = None
    if parent is None:
        parent, spec = _current_place()
    return ConfusionMatrixChart(m, labels, given, figure=parent, spec=spec)


def _current_place():
    """Where MATLAB puts a chart made without a parent: the current figure (pyplot's, where the script uses
    pyplot), in the place of its current axes (``subplot(2, 2, 1); confusionchart(...)``, which the chart
    replaces) or over the whole figure where it has none (``figure(2); confusionchart(...)``); (None, None) for a
    new figure (:func:`_new_figure`): none is open, the current one is trainNetwork's Training Progress window, or
    pyplot is not in use."""
    plt = sys.modules.get("matplotlib.pyplot")
    if plt is None or not plt.get_fignums() or plt.gcf().get_label() == "Training Progress":
        return None, None
    fig = plt.gcf()
    if not fig.axes:
        return fig, None
    ax = fig.gca()
    chart = getattr(ax, "_leuknet_chart", None)
    if chart is not None and chart.figure is fig:  # the current axes are a chart's: the new one replaces it all
        if chart._spec is not None:
            chart._remove_axes()
        return fig, chart._spec
    spec = ax.get_subplotspec()
    if spec is None:  # axes placed by position (axes('Position', ...)): a grid cell over that rectangle
        box = ax.get_position()
        spec = fig.add_gridspec(1, 1, left=box.x0, right=box.x1, bottom=box.y0, top=box.y1)[0, 0]
    ax.remove()
    return fig, spec


def plotconfusion(targets, outputs_, name=""):
    """MATLAB's ``plotconfusion(targets, outputs)`` (also ``plotconfusion(targets, outputs, name)``): true labels
    ``targets`` and predicted ``outputs`` as categoricals (or label vectors), or as one-hot / score matrices K x N,
    MATLAB's layout (a column per observation; the predicted class is the largest row). MathWorks' page
    (https://www.mathworks.com/help/deeplearning/ref/plotconfusion.html) lays the matrix out with the predicted
    class in rows ("Output Class") and the true class in columns ("Target Class"), precision per row and recall
    per column in the summaries, and recommends ``confusionchart`` for categorical labels: leuknet draws it as that
    chart so laid out (the transposed counts, row- and column-normalised summaries, titled "<name> Confusion
    Matrix"). Returns the figure, as MATLAB's ``h = plotconfusion(...)``."""
    fn = "plotconfusion"

    def labels(v):
        a = v if hasattr(v, "codes") else np.asarray(v)
        if not hasattr(a, "codes") and a.ndim == 2 and a.dtype.kind in "biuf":  # K x N one-hot or scores
            return a.argmax(axis=0) + 1
        return a

    t, o = labels(targets), labels(outputs_)
    if len(t) != len(o):
        raise DataError(f"{fn}: {len(t)} targets and {len(o)} outputs")
    if not isinstance(name, str):
        raise ConfigError(f"{fn}: name must be text, received {name!r}")
    m, order = confusionmat(t, o, nargout=2)
    classes = [v.item() if hasattr(v, "item") else v for v in order]
    props = {"XLabel": "Target Class", "YLabel": "Output Class", "Title": f"{name} Confusion Matrix".strip(),
             "RowSummary": "row-normalized", "ColumnSummary": "column-normalized"}
    # a figure of its own (figure=None: _new_figure), as MATLAB's plotconfusion opens one
    return ConfusionMatrixChart(np.asarray(m).T, classes, props).figure


def sortClasses(cm, order):
    """MATLAB ``sortClasses(cm, order)``
    (https://uk.mathworks.com/help/stats/mlearnlib.graphics.chart.confusionmatrixchart.sortclasses.html): 'auto'
    (the labels' natural sorted order), 'ascending-diagonal' / 'descending-diagonal' (by the diagonal of
    ``NormalizedValues``, so under the current ``Normalization``; ties keep their order), or a list of all the
    class labels. Reorders ``cm`` in place and redraws it. Refused: 'cluster' (hierarchical clustering, not in
    leuknet)."""
    fn = "sortClasses"
    if not isinstance(cm, ConfusionMatrixChart):
        raise ConfigError(f"{fn}: expected a ConfusionMatrixChart (from confusionchart), received "
                          f"{type(cm).__name__}")
    labels = cm.ClassLabels
    if isinstance(order, str):
        mode = choice(fn, "order", order, ("auto", "ascending-diagonal", "descending-diagonal", "cluster"))
        if mode == "cluster":
            raise ConfigError(f"{fn}: 'cluster' needs hierarchical clustering, which leuknet does not provide; "
                              f"use 'auto', 'ascending-diagonal', 'descending-diagonal' or a list of labels")
        if mode == "auto":
            numeric = all(isinstance(v, (int, float, np.integer, np.floating)) for v in labels)
            idx = sorted(range(len(labels)), key=lambda i: labels[i] if numeric else str(labels[i]))
        else:
            d = np.diag(np.asarray(cm.NormalizedValues, np.float64))
            idx = list(np.argsort(d if mode == "ascending-diagonal" else -d, kind="stable"))
    else:
        want = order.categories if hasattr(order, "codes") and hasattr(order, "categories") else list(
            np.asarray(order).ravel().tolist() if not isinstance(order, (list, tuple)) else order)
        names = [str(v) for v in labels]
        want = [str(v) for v in want]
        if sorted(want) != sorted(names):
            raise ConfigError(f"{fn}: order must list each of the classes {names} exactly once, received {want}")
        idx = [names.index(w) for w in want]
    idx = np.asarray(idx, int)
    object.__setattr__(cm, "_counts", cm._counts[np.ix_(idx, idx)])
    object.__setattr__(cm, "_labels", [labels[i] for i in idx])
    cm._draw()


# --------------------------------------------------------------------------------------------- saveas
# MATLAB saveas(fig, filename) / saveas(fig, filename, formattype): https://mathworks.com/help/matlab/ref/saveas.html
# (format from the extension, or formattype, whose extension is then appended when filename has none). A
# filename without extension and no formattype would be MATLAB's .fig file: not available here. Raster formats are
# written at 150 dpi (the page's "saveas saves at 150 DPI" is not at hand: a choice).

_SAVE_FORMATS = {"png": "png", "pdf": "pdf", "svg": "svg", "eps": "eps", "epsc": "eps", "jpg": "jpg",
                 "jpeg": "jpg", "tif": "tif", "tiff": "tif"}


def _figure_of(fn, fig):
    from matplotlib.figure import Figure

    if isinstance(fig, Figure):
        return fig
    inner = getattr(fig, "figure", None) or getattr(fig, "Figure", None)
    if isinstance(inner, Figure):
        return inner
    raise ConfigError(f"{fn}: expected a figure or chart (matplotlib Figure, confusionchart, ...), received "
                      f"{type(fig).__name__}")


def saveas(fig, filename, formattype=None, **kwargs):
    """MATLAB ``saveas(fig, filename[, formattype])`` for a matplotlib Figure or a leuknet chart (anything with a
    ``.figure``): png, pdf, svg, eps/epsc, jpg/jpeg, tif/tiff."""
    fn = "saveas"
    f = _figure_of(fn, fig)
    if not isinstance(filename, (str, os.PathLike)):
        raise ConfigError(f"{fn}: expected a file name, received {type(filename).__name__}")
    path = os.fsdecode(filename)
    ext = os.path.splitext(path)[1].lower().lstrip(".")
    if formattype is not None:
        fmt = choice(fn, "formattype", formattype, tuple(_SAVE_FORMATS))
        if not ext:
            path = f"{path}.{_SAVE_FORMATS[fmt]}"
    elif ext in _SAVE_FORMATS:
        fmt = ext
    elif ext == "fig" or not ext:
        raise ConfigError(f"{fn}: MATLAB .fig files cannot be written; give an extension or formattype: "
                          f"{', '.join(sorted(_SAVE_FORMATS))}")
    else:
        raise ConfigError(f"{fn}: unknown format {ext!r}; use one of {', '.join(sorted(_SAVE_FORMATS))}")
    kwargs.setdefault("dpi", 150)
    kwargs.setdefault("bbox_inches", "tight")
    try:
        f.savefig(path, format=_SAVE_FORMATS[fmt], **kwargs)
    except OSError as e:
        raise DataError(f"{fn}: cannot write {path!r}: {e.strerror or e}") from None
