"""The colour-space study (Shafique & Tehsin, Table 1): the same recipe trained on RGB, HSV, YCbCr and HCbCr
versions of the data, with identical splits and initial weights per repeat, repeated over seeds.

Layout of a study folder::

    study.json            what was asked (flags, spaces, repeats)
    runs/<space>-seed<k>/ one complete run directory per (space, repeat); finished runs are never redone
    colorspace.json       per space: training samples, accuracy / F1 / sensitivity / specificity mean and s.d.
    colorspace.md         the paper's Table 1 layout
    colorspace.png        bars with error bars
    confusion_<space>.png confusion matrix summed over the repeats

With ``--cv K`` the colour spaces are compared by :mod:`leuknet.comparison` instead (intervals, paired tests).

Several processes may run one study together (``--workers N``, or the same command started N times by hand or
as a job array, on one machine or on several sharing a file system with locks): each run is claimed through its
run directory's lock by one process, finished runs are never redone, a run another process is training is left
to it, and the summary is written once every run is finished, by the process that finishes last (under the
study's lock, ``<study>.lock``, which also guards ``study.json``).
"""

from __future__ import annotations

import hashlib
import json
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


def parse_widths(values) -> list[int]:
    """``"4096,2048"`` (or a list): the widths of the new fully connected layer, positive, without repeats."""
    try:
        widths = [int(v) for v in (values.split(",") if isinstance(values, str) else values)]
    except ValueError:
        raise ConfigError(f"--values must be integers like 4096,3072,2048,1024, received {values!r}") from None
    if not widths or min(widths) < 1:
        raise ConfigError(f"--values must be positive integers, received {values!r}")
    return list(dict.fromkeys(widths))


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
    for s in summary.values():
        letter, name = s["label"].split(": ")
        lines.append(f"| {letter} | {name} | {s['training_samples']} | {_pm(s['accuracy'])} | {_pm(s['macro_f1'])} | "
                     f"{_pm(s['sensitivity'])} | {_pm(s['specificity'])} |")
    lines += ["", "Per-class sensitivity (mean over repeats):", "",
              "| Colour model | " + " | ".join(next(iter(summary.values()))["classes"]) + " |",
              "|---|" + "---|" * len(next(iter(summary.values()))["classes"])]
    for s in summary.values():
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
        info = dict(info, folder=Path(run_dir).name)  # the progress lines name it (runs/ count from 0)
        if finished(run_dir):
            cb("run_skipped", dict({"epochs": epochs}, **info))
            continue
        try:
            lock = claim_run_directory(run_dir)
        except RunInUse as e:
            busy[run_dir] = e.owner
            cb("run_busy", dict({"epochs": epochs}, **info, owner=e.owner))
            continue
        try:
            if finished(run_dir):  # by another process, between the check and the claim
                cb("run_skipped", dict({"epochs": epochs}, **info))
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
                {k: v for k, v in meta["flags"].items() if k != "overwrite"} or \
                any(old.get(k) != meta.get(k) for k in ("cv", "kind")):
            raise ConfigError(f"{out} holds a study with other settings; choose another --out")
        if old == meta:
            return
    write_json(previous, meta)


def recorded_flags(flags: dict) -> dict:
    """The flags given (None: not given) as study.json gives them back (tuples as lists), so that a restart of
    the same command compares equal."""
    return json.loads(json.dumps({k: v for k, v in flags.items() if v is not None}, default=str))


def check_task_name(task: str) -> str:
    if task not in TASKS:
        raise ConfigError(f"unknown task {task!r}; choose detection or subtype")
    return task


def check_task(dataset, task: str):
    """A colour-space task's class count: detection needs two classes, subtype three or more."""
    k = len(dataset.classes)
    if task == "detection" and k != 2:
        raise ConfigError(f"--task detection needs two classes; the data has {k}: {', '.join(dataset.classes)}")
    if task == "subtype" and k < 3:
        raise ConfigError(f"--task subtype needs at least three classes; the data has {k}")


def run_study(flags: dict, spaces, repeats: int, out, task="detection", callback=None) -> dict:
    """Train ``flags`` (as for ``leuknet train``) once per space and seed; resume where runs exist. Safe to run
    in several processes at once on one ``out``; the result's ``pending`` lists the runs other processes are
    still training (the summary is then theirs to write; ``summary`` is None). The cross-validated study with
    intervals and paired tests is :func:`leuknet.comparison.run_comparison` with
    :func:`leuknet.comparison.colour_variants`."""
    from leuknet.config import resolve
    from leuknet.run import check_device, load_dataset

    cb = callback or (lambda e, p: None)
    check_task_name(task)
    if repeats < 1:
        raise ConfigError(f"--repeats must be at least 1, received {repeats}")
    spaces = parse_spaces(spaces)
    out = Path(out)
    seed0 = int(flags.get("seed") or 0)
    base = resolve({k: v for k, v in flags.items() if k not in ("out", "colorspace")})
    check_device(base)
    dataset = load_dataset(base)
    check_task(dataset, task)
    meta = {"model": base.model, "recipe": base.recipe, "task": task, "data": base.data or "demo",
            "synthetic": dataset.synthetic, "spaces": spaces, "repeats": repeats, "seed": seed0,
            "flags": recorded_flags(flags)}
    (out / "runs").mkdir(parents=True, exist_ok=True)
    with study_lock(out):
        _check_study_record(out, meta)
    runs = [(out / "runs" / f"{space}-seed{seed0 + r}", {"space": space, "seed": seed0 + r},
             dict(flags, colorspace=space, seed=seed0 + r)) for r in range(repeats) for space in spaces]
    cb("study_start", {"runs": len(runs), "epochs": base.epochs})
    busy = run_each(runs, cb, base.epochs)
    with study_lock(out):  # the last process to finish sees every run finished, and writes the summary
        pending = [str(r) for r, _, _ in runs if not finished(r)]
        summary = None if pending else _write_colorspace_summary(out, meta, spaces, repeats, seed0,
                                                                 [r for r, _, _ in runs], dataset.synthetic)
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


def run_fc_study(flags: dict, values, out, callback=None) -> dict:
    """Shafique & Tehsin's Table 4: the recipe rerun for each width of the new fully connected layer, with the
    same split and seed; finished runs are kept. Safe in several processes at once, as :func:`run_study`."""
    from leuknet.config import resolve
    from leuknet.io import write_json, write_text
    from leuknet.run import check_device

    cb = callback or (lambda e, p: None)
    widths = parse_widths(values)
    out = Path(out)
    base = resolve({k: v for k, v in flags.items() if k != "out"})
    check_device(base)
    runs = [(out / "runs" / f"fc{wdt}", {"space": f"fc {wdt}", "seed": base.seed}, dict(flags, fc_units=wdt))
            for wdt in widths]
    cb("study_start", {"runs": len(runs), "epochs": base.epochs})
    busy = run_each(runs, cb, base.epochs)
    meta = {"model": base.model, "recipe": base.recipe, "seed": base.seed, "flags": recorded_flags(flags)}
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
