"""``leuknet report``: one self-contained HTML file (figures embedded) or a Markdown file with its figures, for
run directories, colour-space studies and comparisons (``leuknet compare``, ``--cv``)."""

from __future__ import annotations

import base64
import csv
import html
import json
import math
import tempfile
from pathlib import Path

from leuknet.errors import ConfigError, DataError


def _read_history(run):
    rows = []
    with open(run / "history.csv", newline="", encoding="utf-8") as f:
        for r in csv.DictReader(f):
            conv = {}
            for k, v in r.items():
                conv[k] = float(v) if v not in ("", None) else math.nan
            conv["iteration"] = int(conv["iteration"])
            conv["epoch"] = int(conv["epoch"])
            rows.append(conv)
    return rows


def _example_items(run, metrics, n=8):
    """Up to n test cells, both correct and wrong ones, each class represented."""
    import cv2

    from leuknet.data.images import read_image

    path = run / "predictions.csv"
    if not path.is_file():
        return []
    rows = list(csv.DictReader(open(path, newline="", encoding="utf-8")))
    classes = metrics["classes"]
    wrong = [r for r in rows if r["true_class"] != r["predicted_class"]]
    picked, seen = [], set()
    for r in wrong[:2] + rows:
        key = r["file"]
        if key in seen:
            continue
        if sum(1 for p in picked if p["true_class"] == r["true_class"]) >= (n + 1) // len(classes) + 1:
            continue
        picked.append(r)
        seen.add(key)
        if len(picked) >= n:
            break
    items = []
    for r in picked:
        try:
            img = read_image(r["file"])
        except Exception:  # noqa: BLE001 - files may have moved since the run
            continue
        img = cv2.resize(img, (160, 160), interpolation=cv2.INTER_AREA)
        items.append((img, r["true_class"], {c: float(r[f"p_{c}"]) for c in classes}))
    return items


class _Doc:
    """Collects sections; figures become embedded PNGs (HTML) or files beside the Markdown."""

    def __init__(self, kind, assets):
        self.kind, self.assets, self.parts, self.n = kind, assets, [], 0

    def h(self, level, text):
        self.parts.append(f"<h{level}>{html.escape(text)}</h{level}>" if self.kind == "html" else
                          f"{'#' * level} {text}\n")

    def p(self, text):
        self.parts.append(f"<p>{html.escape(text)}</p>" if self.kind == "html" else f"{text}\n")

    def table(self, header, rows):
        if self.kind == "html":
            th = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
            trs = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in r) + "</tr>" for r in rows)
            self.parts.append(f"<table><thead><tr>{th}</tr></thead><tbody>{trs}</tbody></table>")
        else:
            lines = ["| " + " | ".join(map(str, header)) + " |", "|" + "---|" * len(header)]
            lines += ["| " + " | ".join(map(str, r)) + " |" for r in rows]
            self.parts.append("\n".join(lines) + "\n")

    def figure(self, make, caption):
        self.n += 1
        if self.kind == "html":
            with tempfile.TemporaryDirectory() as d:
                p = make(Path(d) / "f.png")
                data = base64.b64encode(Path(p).read_bytes()).decode()
            self.parts.append(f'<figure><img alt="{html.escape(caption)}" src="data:image/png;base64,{data}">'
                              f"<figcaption>{html.escape(caption)}</figcaption></figure>")
        else:
            from leuknet.io import atomic_path

            name = f"figure{self.n}.png"
            with atomic_path(self.assets / name) as tmp:
                make(tmp)
            self.parts.append(f"![{caption}]({self.assets.name}/{name})\n")

    def render(self, title):
        if self.kind == "html":
            css = ("body{font-family:system-ui,sans-serif;max-width:1000px;margin:2em auto;color:#222;padding:0 1em}"
                   "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;"
                   "text-align:right}th{background:#f3f3f3}td:first-child{text-align:left}"
                   "figure{margin:1em 0}img{max-width:100%}figcaption{color:#666;font-size:90%}"
                   ".warn{background:#fff3cd;padding:.5em 1em;border:1px solid #e0c070}")
            return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
                    f"<style>{css}</style></head><body><h1>{html.escape(title)}</h1>" + "\n".join(self.parts)
                    + "</body></html>\n")
        return f"# {title}\n\n" + "\n".join(self.parts)


def _pct(v):
    return f"{100 * v:.2f}%"


def _run_section(doc, run: Path, level=2):
    from leuknet import figures

    cfg = json.loads((run / "config.json").read_text())
    c = cfg["config"]
    doc.h(level, f"Run {run.name}")
    if cfg["dataset"].get("synthetic"):
        doc.p("SYNTHETIC demo data: these figures say nothing about real cells.")
    doc.table(["setting", "value"], [
        ["model", f"{c['model']} ({cfg['model']['params']:,} learnables)"], ["recipe", c["recipe"]],
        ["data", f"{cfg['dataset']['root']} ({cfg['dataset']['format']})"],
        ["images / classes", f"{cfg['dataset']['n_images']} / {', '.join(cfg['dataset']['classes'])}"],
        ["split (train / validation / test)", " / ".join(str(cfg["splits"][k]) for k in ("train", "validation", "test"))
         + f" by {c['split_by']}, balance {c['balance']}"],
        ["colour space, input size", f"{c['colorspace']}, {c['image_size']} x {c['image_size']}"],
        ["solver", f"{c['solver']}, InitialLearnRate {cfg['training_options']['InitialLearnRate']}, "
                   f"schedule {c['schedule']}"],
        ["epochs, mini-batch", f"{c['epochs']}, {c['batch_size']}"],
        ["device, precision", f"{cfg['device']['used']}, "
                               f"{cfg.get('profile', {}).get('precision') or c.get('precision') or 'fp32'}"],
        ["seed", c["seed"]], ["training time", f"{cfg['timing']['train_seconds']:.1f} s"],
        ["versions", ", ".join(f"{k} {v}" for k, v in cfg["versions"].items() if k in ("leuknet", "tensorflow",
                                                                                     "keras"))],
        ["dataset fingerprint", cfg["dataset"]["fingerprint_sha256"][:16]],
    ])
    history = _read_history(run)
    doc.figure(lambda p: figures.training_progress(history, p, f"Training progress: {run.name}"),
               "Accuracy and loss per iteration (training smoothed over raw; validation dashed).")
    if (run / "metrics.json").is_file():
        m = json.loads((run / "metrics.json").read_text())
        doc.h(level + 1, f"Test metrics ({m.get('evaluated_split', 'test')} split, n = {m['n_test']})")
        iv = m.get("intervals")  # absent from runs written before the intervals were

        def pct(value, d=None):  # "93.3 % [88.2, 96.3]" with a Wilson interval (none where its n is 0)
            if not iv:
                return _pct(value)
            if d is None or d.get("low") is None or math.isnan(d["low"]):
                return f"{100 * value:.1f} %" + (" (n = 0)" if d else "")
            return f"{100 * value:.1f} % [{100 * d['low']:.1f}, {100 * d['high']:.1f}]"

        def f1(value, d=None):
            return f"{value:.4f}" if d is None else f"{value:.3f} [{d['low']:.3f}, {d['high']:.3f}]"

        def ci(cls, key):
            return iv["per_class"][cls][key] if iv else None

        if iv:
            conf = f"{100 * iv['confidence']:g} %"
            doc.p(f"Accuracy {pct(m['accuracy'], iv['accuracy'])} ({iv['accuracy']['k']} of {iv['accuracy']['n']} "
                  f"cells), macro F1 {f1(m['macro']['f1'], iv['macro_f1'])}, weighted F1 "
                  f"{f1(m['weighted_f1'], iv['weighted_f1'])}. In brackets the {conf} interval: Wilson for "
                  f"accuracy, precision, sensitivity and specificity (of all cells, the cells predicted as the class, "
                  f"the cells of it, the cells not of it), percentile bootstrap over the cells for F1 ({iv['n_boot']} "
                  f"resamples, seed {iv['seed']}). They describe how precisely these test cells pin the figures "
                  "down, not how a retrained model would vary.")
        else:
            doc.p(f"Accuracy {_pct(m['accuracy'])}, weighted F1 {m['weighted_f1']:.4f}.")
        doc.table(["class", "precision", "sensitivity", "specificity", "F1", "support"],
                  [[k, pct(v["precision"], ci(k, "precision")), pct(v["sensitivity"], ci(k, "sensitivity")),
                    pct(v["specificity"], ci(k, "specificity")), f1(v["f1"], ci(k, "f1")), v["support"]]
                   for k, v in m["per_class"].items()]
                  + [["macro", pct(m["macro"]["precision"]), pct(m["macro"]["sensitivity"]),
                      pct(m["macro"]["specificity"]), f1(m["macro"]["f1"], iv and iv["macro_f1"]), m["n_test"]]])
        doc.figure(lambda p: figures.confusion_matrix_chart(m["confusion_matrix"], m["classes"], p),
                   "Confusion matrix: rows true class, columns predicted; counts and row percentages.")
        items = _example_items(run, m)
        if items:
            doc.figure(lambda p: figures.example_cells(items, m["classes"], p),
                       "Example test cells with the predicted probabilities (green: correct, red: wrong).")


def _study_section(doc, study: Path):
    from leuknet import figures

    data = json.loads((study / "colorspace.json").read_text())
    meta, summary = data["study"], data["spaces"]
    doc.h(2, f"Colour-space study: {meta['model']}, {meta['task']}")
    if meta.get("synthetic"):
        doc.p("SYNTHETIC demo data: these figures say nothing about real cells.")
    doc.p(f"Recipe {meta['recipe']}, {meta['repeats']} repeat(s) from seed {meta['seed']}; every colour space "
          "sees the same split and initial weights per seed. Mean ± s.d. over repeats.")

    def pm(d):
        return f"{100 * d['mean']:.2f}" + (f" ± {100 * d['std']:.2f}" if d["std"] is not None else "")

    doc.table(["colour model", "training samples", "accuracy %", "F1 %", "sensitivity %", "specificity %"],
              [[s["label"], s["training_samples"], pm(s["accuracy"]), pm(s["macro_f1"]), pm(s["sensitivity"]),
                pm(s["specificity"])] for s in summary.values()])
    doc.figure(lambda p: figures.colorspace_bars(summary, p), "Accuracy, F1, sensitivity, specificity per colour "
               "space (error bars: s.d. over repeats).")
    for s in summary.values():
        doc.figure(lambda p, s=s: figures.confusion_matrix_chart(s["confusion_matrix_sum"], s["classes"], p,
                                                                 s["label"]),
                   f"{s['label']}: confusion matrix summed over the repeats.")
    runs = sorted((study / "runs").glob(f"*-seed{meta['seed']}"))
    for run in runs:
        if (run / "config.json").is_file():
            _run_section(doc, run, level=3)


def _fc_study_section(doc, study: Path):
    """A width study run once per width (``leuknet study fc-units`` without --cv or --repeats): its table, with
    each accuracy's 95 % Wilson interval, and each width's run."""
    from leuknet.stats import wilson_interval

    data = json.loads((study / "fc_units.json").read_text())
    meta, rows = data["study"], data["results"]
    doc.h(2, f"Feature-vector length study: {meta['model']}, recipe {meta['recipe']}, seed {meta['seed']}")
    doc.p("One run per width, on the same split and seed. The intervals are each accuracy's own (Wilson, 95 %); "
          "differences between widths are not tested: --cv K or --repeats N give paired tests and verdicts.")

    def acc(r):
        lo, hi = wilson_interval(round(r["accuracy"] * r["n_test"]), r["n_test"])
        return f"{100 * r['accuracy']:.2f} ({100 * lo:.1f}-{100 * hi:.1f})"

    doc.table(["feature vector (units)", "accuracy % (95 % CI)", "F1 (macro) %", "test images"],
              [[r["fc_units"], acc(r), f"{100 * r['macro_f1']:.2f}", r["n_test"]] for r in rows])
    for r in rows:
        run = study / "runs" / f"fc{r['fc_units']}"
        if (run / "config.json").is_file():
            _run_section(doc, run, level=3)


def _comparison_section(doc, study: Path, data):
    """A comparison (:mod:`leuknet.comparison`: a cross-validated colour-space study, ``leuknet compare``, a
    cross-validated run or width study): the interval tables, the pairwise table with its verdicts, the ranking
    and the dot-and-interval, paired-difference and per-class sensitivity charts (drawn again from its JSON)."""
    from leuknet import figures
    from leuknet.comparison import ci_text as _ci, design_text, mcnemar_text, mean_sd_text as _msd

    meta, summary, pairs = data["study"], data["variants"], data.get("pairs") or []
    k, factor = (meta.get("cv") or {}).get("folds"), meta["factor"]
    doc.h(2, f"{meta['title']}" + (f", {k}-fold cross-validated" if k else "") + f": {meta['model']}"
          + (f", {meta['task']}" if meta.get("task") else ""))
    if meta.get("synthetic"):
        doc.p("SYNTHETIC demo data: these figures say nothing about real cells.")
    over = "folds" if k else "repeats"
    doc.p(f"Recipe {meta['recipe']}; {design_text(meta, data['cells'])} Intervals: 95 % Wilson (accuracy, sensitivity, specificity, "
          f"precision) and percentile bootstrap (F1) on the first repeat's pooled cells; mean ± s.d. over all "
          f"{over}. In %.")
    doc.table([factor.lower(), "training samples (mean)", "test cells", "accuracy [95 % CI]", "F1 [95 % CI]",
               "weighted F1 [95 % CI]", f"accuracy over {over}", f"F1 over {over}"],
              [[s["label"], f"{s['training_samples']:.0f}", s["test_cells"], _ci(s["accuracy"]),
                _ci(s["f1"]["macro_f1"]), _ci(s["f1"]["weighted_f1"]), _msd(s["over_folds"]["accuracy"]),
                _msd(s["over_folds"]["macro_f1"])] for s in summary.values()])
    doc.table([factor.lower(), "class", "sensitivity [95 % CI]", "specificity [95 % CI]", "precision [95 % CI]"],
              [[s["label"], c, _ci(s["per_class"][c]["sensitivity"]), _ci(s["per_class"][c]["specificity"]),
                _ci(s["per_class"][c]["precision"])] for s in summary.values() for c in s["classes"]])
    doc.figure(lambda p: figures.accuracy_intervals(summary, p, factor=factor, over=over),
               f"Accuracy per {factor.lower()}: pooled cells with the 95 % Wilson interval, and mean ± s.d. over "
               f"the {over} (the axis spans the data, not from 0).")
    if pairs:
        doc.h(3, "Pairwise comparisons")
        doc.table(["a", "b", "difference (points)", "95 % CI", "p", "p (Holm)", "McNemar p per repeat (b/c)",
                   "resolved"],
                  [[q["a"], q["b"], f"{100 * q['difference']:.1f}", f"{100 * q['low']:.1f} to {100 * q['high']:.1f}",
                    f"{q['p']:.3g}", f"{q['p_holm']:.3g}", mcnemar_text(q), "yes" if q["resolved"] else "no"]
                   for q in pairs])
        for q in pairs:
            doc.p(q["verdict"])
        doc.p("Ranking (only resolved differences order): "
              + " > ".join("{" + ", ".join(g) + "}" for g in data["ranking"]))
        doc.figure(lambda p: figures.paired_differences(pairs, p), "Each pair's accuracy difference with its 95 % "
                   "interval against 0; filled: resolved after Holm's adjustment.")
    doc.figure(lambda p: figures.class_sensitivity(summary, p, factor=factor), "Per-class sensitivity with 95 % "
               "Wilson intervals (pooled cells).")
    for s in summary.values():
        doc.figure(lambda p, s=s: figures.confusion_matrix_chart(s["confusion_matrix"], s["classes"], p, s["label"]),
                   f"{s['label']}: confusion matrix of the pooled cells (first repeat).")


def build_report(inputs, out) -> Path:
    """Write an HTML report (``out`` ending .html) or a Markdown one (``.md``, figures in ``<stem>_files/``).
    ``out`` is claimed (``<out>.lock``) while the report is written: another process asking for it is refused."""
    from leuknet.errors import InUseError
    from leuknet.locks import claim, lock_path_for

    out = Path(out)
    if out.suffix.lower() not in (".html", ".htm", ".md", ".markdown"):
        raise ConfigError(f"--out {out}: a report is written as .html (self-contained) or .md, not "
                          f"{out.suffix or 'a file without extension'}")
    with claim(lock_path_for(out), what=f"report {out}", error=InUseError,
               hint="wait for that report to be written, or choose another --out"):
        return _build_claimed(inputs, out)


def _build_claimed(inputs, out: Path) -> Path:
    from leuknet.comparison import find_summary
    from leuknet.io import write_text

    kind = "md" if out.suffix.lower() in (".md", ".markdown") else "html"
    doc = _Doc(kind, out.with_name(out.stem + "_files"))
    if not inputs:
        raise DataError("give at least one run directory or study folder")
    for item in inputs:
        p = Path(item)
        compared = find_summary(p)
        if compared is not None:
            _comparison_section(doc, p, compared)
        elif (p / "colorspace.json").is_file():
            _study_section(doc, p)
        elif (p / "fc_units.json").is_file():
            _fc_study_section(doc, p)
        elif (p / "config.json").is_file() and (p / "history.csv").is_file():
            _run_section(doc, p)
        else:
            raise DataError(f"{p} is neither a run directory (config.json, history.csv) nor a study or comparison "
                            "folder (colorspace.json, compare.json, cv.json, fc_units.json)")
    write_text(out, doc.render("leuknet report"))
    return out
