"""The colour-space study (Shafique & Tehsin, Table 1): the same recipe trained on RGB, HSV, YCbCr and HCbCr
versions of the data, with identical splits and initial weights per repeat, repeated over seeds.

Layout of a study folder::

    study.json            what was asked (flags, spaces, repeats)
    runs/<space>-seed<k>/ one complete run directory per (space, repeat); finished runs are never redone
    colorspace.json       per space: training samples, accuracy / F1 / sensitivity / specificity mean and s.d.
    colorspace.md         the paper's Table 1 layout
    colorspace.png        bars with error bars
    confusion_<space>.png confusion matrix summed over the repeats
"""

from __future__ import annotations

import json
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


def run_study(flags: dict, spaces, repeats: int, out, task="detection", callback=None) -> dict:
    """Train ``flags`` (as for ``leuknet train``) once per space and seed; resume where runs exist."""
    from leuknet import figures
    from leuknet.config import resolve
    from leuknet.io import atomic_path, write_json, write_text
    from leuknet.run import load_dataset, train_run

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
    (out / "runs").mkdir(parents=True, exist_ok=True)
    previous = out / "study.json"
    if previous.exists():
        old = json.loads(previous.read_text())
        if {k: v for k, v in old.get("flags", {}).items() if k != "overwrite"} != \
                {k: v for k, v in meta["flags"].items() if k != "overwrite"}:
            raise ConfigError(f"{out} holds a study with other settings; choose another --out")
    write_json(previous, meta)
    total = len(spaces) * repeats
    cb("study_start", {"runs": total, "epochs": base.epochs})
    for r in range(repeats):
        for space in spaces:
            run_dir = out / "runs" / f"{space}-seed{seed0 + r}"
            if (run_dir / "metrics.json").is_file() and (run_dir / "model.keras").is_file():
                cb("run_skipped", {"space": space, "seed": seed0 + r, "epochs": base.epochs})
            else:
                f = dict(flags, colorspace=space, seed=seed0 + r, out=str(run_dir), overwrite=True)
                cb("run_start", {"space": space, "seed": seed0 + r})
                with no_false_retracing_warning():  # every run's network traces its functions once
                    train_run(resolve(f), callback=lambda e, p, s=space: cb(e, dict(p, space=s)
                                                                             if isinstance(p, dict) else p))
    summary = summarise(out, spaces, repeats, seed0)
    write_json(out / "colorspace.json", {"study": meta, "spaces": summary})
    write_text(out / "colorspace.md", markdown(summary, meta))
    with atomic_path(out / "colorspace.png") as tmp:
        figures.colorspace_bars(summary, tmp, f"Colour-space comparison: {base.model}, {task}"
                                + (" (synthetic data)" if dataset.synthetic else ""))
    for space, s in summary.items():
        with atomic_path(out / f"confusion_{space}.png") as tmp:
            figures.confusion_matrix_chart(s["confusion_matrix_sum"], s["classes"], tmp,
                                           f"{s['label']} (sum over {repeats} repeats)")
    cb("study_end", {"out": str(out)})
    return {"out": str(out), "summary": summary, "meta": meta}


def run_fc_study(flags: dict, values, out, callback=None) -> dict:
    """Shafique & Tehsin's Table 4: the recipe rerun for each width of the new fully connected layer, with the
    same split and seed; finished runs are kept."""
    from leuknet.config import resolve
    from leuknet.io import write_json, write_text
    from leuknet.run import train_run

    cb = callback or (lambda e, p: None)
    try:
        widths = [int(v) for v in (values.split(",") if isinstance(values, str) else values)]
    except ValueError:
        raise ConfigError(f"--values must be integers like 4096,3072,2048,1024, received {values!r}") from None
    if not widths or min(widths) < 1:
        raise ConfigError(f"--values must be positive integers, received {values!r}")
    out = Path(out)
    base = resolve({k: v for k, v in flags.items() if k != "out"})
    cb("study_start", {"runs": len(widths), "epochs": base.epochs})
    rows = []
    for wdt in widths:
        run_dir = out / "runs" / f"fc{wdt}"
        if (run_dir / "metrics.json").is_file():
            cb("run_skipped", {"space": f"fc {wdt}", "seed": base.seed, "epochs": base.epochs})
        else:
            cb("run_start", {"space": f"fc {wdt}", "seed": base.seed})
            with no_false_retracing_warning():
                train_run(resolve(dict(flags, fc_units=wdt, out=str(run_dir), overwrite=True)), callback=cb)
        m = json.loads((run_dir / "metrics.json").read_text())
        rows.append({"fc_units": wdt, "accuracy": m["accuracy"], "macro_f1": m["macro"]["f1"],
                     "per_class": m["per_class"], "n_test": m["n_test"]})
    meta = {"model": base.model, "recipe": base.recipe, "seed": base.seed, "flags": flags}
    write_json(out / "fc_units.json", {"study": meta, "results": rows})
    lines = [f"# Feature-vector length study: {base.model}, recipe {base.recipe}, seed {base.seed}", "",
             "| Feature vector (units) | Accuracy % | F1 (macro) % | Test images |", "|---|---|---|---|"]
    lines += [f"| {r['fc_units']} | {100 * r['accuracy']:.2f} | {100 * r['macro_f1']:.2f} | {r['n_test']} |"
              for r in rows]
    write_text(out / "fc_units.md", "\n".join(lines) + "\n")
    cb("study_end", {"out": str(out)})
    return {"out": str(out), "results": rows}
