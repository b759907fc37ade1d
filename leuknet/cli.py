"""The ``leuknet`` command line (typer + rich). The only module that prints or exits.

Errors a user can act on (:class:`~leuknet.errors.LeuknetError`) are shown as one line on stderr with exit
status 2; usage errors (unknown flags) also exit 2.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import List, Optional

if not sys.stdout.isatty() and "COLUMNS" not in os.environ:  # piped to a log: help at a readable full width
    os.environ.setdefault("TERMINAL_WIDTH", "160")

import typer  # noqa: E402
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from leuknet import interrupts
from leuknet.console import plural
from leuknet.errors import LeuknetError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="MATLAB-parity CNNs for leukaemic blast classification (LeukNet, ...).")
# --backend of the commands that take no RunConfig (train and the studies have it from RunConfig.backend)
BACKEND_OPTION = typer.Option("auto", help="Keras backend: tensorflow, jax or auto ($KERAS_BACKEND, else tensorflow "
                              "where installed (and, for --device gpu, seeing a GPU), else jax).")


def _console(stderr=False) -> Console:
    """Rich console; when the output is not a terminal (a log file, a batch system) lines are not wrapped at 80
    columns: full lines, tables at their natural width."""
    c = Console(stderr=stderr)
    if not c.is_terminal and "COLUMNS" not in os.environ:
        c = Console(stderr=stderr, width=400)
    return c


console = _console()
err_console = _console(stderr=True)


def _fail(message: str, code: int = 2):
    err_console.print(f"[bold red]error:[/bold red] {escape(str(message))}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


class RunDisplay:
    """CLI callback: dataset summary, scan progress, MATLAB's training table, results."""

    def __init__(self, verbose=True):
        from leuknet.console import TrainingProgress

        self.training = TrainingProgress(console, verbose=verbose)
        self.scan = None

    def __call__(self, event, payload):
        interrupts.check()  # a Ctrl-C swallowed where it landed stops the command at its next progress event
        if event == "dataset":
            tag = " [bold yellow](SYNTHETIC demo data)[/bold yellow]" if payload["synthetic"] else ""
            counts = ", ".join(f"{k}: {v}" for k, v in payload["counts"].items())
            console.print(f"Data: {escape(payload['root'])} - {payload['format']}{tag}\n"
                          f"  {payload['n_images']} images found ({counts})"
                          + (f", {payload['n_subjects']} subjects" if payload["n_subjects"] else ""),
                          highlight=False)
        elif event == "scan":
            self.scan = Progress(TextColumn("[bold]Reading images"), BarColumn(), MofNCompleteColumn(),
                                 TimeElapsedColumn(), console=console, transient=True)
            self.scan.start()
            self.task = self.scan.add_task("scan", total=payload["total"])
        elif event == "scan_advance":
            self.scan.update(self.task, advance=payload["n"])
        elif event == "run_directory":
            out = escape(payload["out"])
            console.print(f"Run directory: {out}" + ("" if payload["resume"] else
                          f" (complete when renamed from {out}.partial; after an interruption: "
                          f"leuknet train --resume --out {out})"), highlight=False, soft_wrap=True)
        elif event == "skipped":
            self._stop_scan()
            reasons = payload.get("reasons", {})
            _print_skipped([(f, reasons.get(f, "")) for f in payload["files"]], "skipped.csv", name=str)
        elif event == "overlap":
            console.print(f"[bold yellow]Warning:[/bold yellow] {payload['n']} of {payload['of']} images were in "
                          "this model's training or validation split (its run's splits.csv): the accuracy below "
                          "overstates what it does on new cells", highlight=False, soft_wrap=True)
        elif event == "splits":
            self._stop_scan()
            cls = payload["classes"]
            parts = [f"{k} {sum(v)} ({', '.join(f'{c} {n}' for c, n in zip(cls, v))})"
                     for k, v in payload["counts"].items() if sum(v)]
            console.print(f"Split by {payload['by']}" + (" (after augmentation and balancing)"
                                                         if payload["augmented"] else "") + ": " + "; ".join(parts),
                          highlight=False, soft_wrap=True)
        elif event == "profile":
            p = payload
            threads = f"{p['intra_op_threads']}/{p['inter_op_threads']} threads, " if p["intra_op_threads"] else ""
            from leuknet.profiles import BACKEND_NAMES

            backend = BACKEND_NAMES.get(p.get("backend"), p.get("backend"))
            console.print(f"Profile: {p['device']} {p['precision']} ({p['dtype_policy']}) on {backend}, {threads}"
                          f"XLA {'whole step' if p['xla_train_step'] else 'solver update'}, strategy {p['strategy']}"
                          f" x{p['num_replicas']}, global batch {p['global_batch']}"
                          + (", loss scaling" if p["loss_scaling"] else ""), highlight=False)
            if p.get("backend") == "jax" and p["device"] == "cpu":
                console.print("[yellow]Note:[/yellow] on CPUs, JAX trains convolutional networks several times "
                              "slower than TensorFlow (XLA's CPU convolutions); TensorFlow is the CPU profile "
                              "(--backend tensorflow)", highlight=False, soft_wrap=True)
        elif event == "model":
            how = (f"pretrained base from {payload['weights']}" if payload.get("pretrained")
                   else "randomly initialised (no pretrained weights)")
            console.print(f"Model: {payload['name']} ({payload['params']:,} learnables, {how})", highlight=False)
        else:
            self._stop_scan()
            self.training(event, payload)

    def _stop_scan(self):
        if self.scan is not None:
            self.scan.stop()
            self.scan = None


def _print_skipped(skipped, listed=None, name=os.path.basename):
    """One line for the unreadable files a command skipped ((path, reason) pairs): how many, where they are
    listed (``listed``), the first three with their reasons."""
    shown = "; ".join(f"{name(f)}: {why}" for f, why in skipped[:3])
    where = f" (listed with the reasons in {listed})" if listed else ""
    console.print(f"[yellow]Skipped {plural(len(skipped), 'unreadable file')}[/yellow]{where}: " + escape(shown)
                  + (" ..." if len(skipped) > 3 else ""), highlight=False, soft_wrap=True)


def _interval(d) -> str:
    """' [0.596, 0.982]' from an interval of metrics.json's ``intervals`` ('' where it has none: n = 0)."""
    low, high = (d or {}).get("low"), (d or {}).get("high")
    if low is None or high is None or low != low or high != high:
        return ""
    return f" [{low:.3f}, {high:.3f}]"


def _metrics_table(metrics, title):
    ci = metrics.get("intervals") or {}
    t = Table(title=title, title_justify="left",
              caption="[...]: 95 % interval (Wilson; F1: bootstrap over the cells)" if ci else None)
    t.add_column("class")
    for c in ("precision", "sensitivity", "specificity", "F1", "support"):
        t.add_column(c, justify="right")
    for c, m in metrics["per_class"].items():
        pc = ci.get("per_class", {}).get(c, {})
        t.add_row(c, *(f"{m[k]:.4f}{_interval(pc.get(k))}" for k in ("precision", "sensitivity", "specificity",
                                                                     "f1")), str(m["support"]))
    mac = metrics["macro"]
    t.add_row("[i]macro[/i]", f"{mac['precision']:.4f}", f"{mac['sensitivity']:.4f}", f"{mac['specificity']:.4f}",
              f"{mac['f1']:.4f}", str(metrics["n_test"]))
    return t


def _confusion_table(metrics):
    cls = metrics["classes"]
    console.print("Confusion matrix (rows true, columns predicted)")
    t = Table()
    t.add_column("")
    for c in cls:
        t.add_column(c, justify="right")
    for c, row in zip(cls, metrics["confusion_matrix"]):
        t.add_row(c, *map(str, row))
    return t


def _show_metrics(metrics, what):
    ci = metrics.get("intervals")
    if ci:
        a, w = ci["accuracy"], ci["weighted_f1"]
        console.print(f"\n[bold]{what} accuracy: {100 * metrics['accuracy']:.2f}%[/bold] (95 % CI "
                      f"{100 * a['low']:.1f} to {100 * a['high']:.1f}; {a['k']} of {a['n']} cells), weighted F1 "
                      f"{metrics['weighted_f1']:.4f}{_interval(w)}", highlight=False)
    else:
        console.print(f"\n[bold]{what} accuracy: {100 * metrics['accuracy']:.2f}%[/bold]  "
                      f"(n = {metrics['n_test']}, weighted F1 {metrics['weighted_f1']:.4f})", highlight=False)
    console.print(_confusion_table(metrics))
    console.print("Per-class metrics")
    console.print(_metrics_table(metrics, None))


def _config_parameters(exclude=()):
    """typer parameters for the configuration fields that have a flag (the one definition: leuknet.config),
    but those in ``exclude`` (which the command declares itself)."""
    import inspect

    from leuknet.config import FIELDS, RECIPES, flag_name

    by_recipe = {k for r in RECIPES.values() for k in r}
    params = []
    for name, f in FIELDS.items():
        meta = f.metadata
        if not meta["flag"] or name in exclude:
            continue
        base = f.type.split("|")[0].strip()
        help_text = meta["help"]
        if meta["choices"]:
            help_text += " One of: " + ", ".join(c.value for c in meta["choices"]) + "."
        default = f.default.value if hasattr(f.default, "value") else f.default
        if name in by_recipe:
            help_text += " [default: the recipe's]"
        elif default not in (None, False, ()):
            help_text += f" [default: {default}]"
        typ = {"bool": bool, "int": int, "float": float}.get(base, str)
        decls = (f"{flag_name(name)}/--no-{name.replace('_', '-')}",) if typ is bool else (flag_name(name),)
        option = typer.Option(None, *decls, help=help_text, show_default=False, metavar=meta.get("metavar"))
        params.append(inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=option,
                                        annotation=Optional[typ]))
    return params


def _with_config_options(fn=None, *, exclude=()):
    """Decorator: the command takes every configuration flag (as ``flags``) besides its own options; the
    fields in ``exclude`` are the command's own (``@_with_config_options(exclude=("model",))``)."""
    import inspect

    from leuknet.config import FIELDS

    if fn is None:
        return lambda f: _with_config_options(f, exclude=exclude)
    own = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY)
           for p in list(inspect.signature(fn).parameters.values())[1:]]  # after ``flags``
    names = {p.name for p in own}

    def command(**kw):
        return fn({k: v for k, v in kw.items() if k in FIELDS and k not in names},
                  **{k: v for k, v in kw.items() if k not in FIELDS or k in names})

    params = _config_parameters(exclude) + own
    command.__signature__ = inspect.Signature(params)
    command.__annotations__ = {p.name: p.annotation for p in params}
    command.__doc__ = fn.__doc__
    command.__name__ = fn.__name__
    return command


_CV_HELP = ("K-fold cross-validation: every cell predicted once per repeat (stratified; folds by subject where the "
            "data has subjects), the recipe's own train/validation split inside each fold.")
_CURRENT_RUN = {}  # the run directory of the train command in progress (for Ctrl-C's resume line)


@app.command()
@_with_config_options
def train(
    flags,
    option: List[str] = typer.Option([], "--option", help="Any other trainingOptions Name=Value (repeat the "
                                      "flag), e.g. --option GradientThreshold=1."),
    resume_run: bool = typer.Option(False, "--resume", help="Continue the interrupted run in --out from its last "
                                    "checkpoint (its saved settings are used)."),
    workers: Optional[str] = typer.Option(None, help="host:port,host:port,... of every worker (instead of "
                                          "TF_CONFIG)."),
    task_index: Optional[int] = typer.Option(None, min=0, help="This worker's index in --workers."),
    quiet: bool = typer.Option(False, help="No per-iteration table."),
    cv: Optional[int] = typer.Option(None, "--cv", min=2, help=_CV_HELP + " One run per fold in --out/runs; "
                                     "intervals over every cell in cv.json and cv.md."),
    repeats: Optional[int] = typer.Option(None, min=1, help="With --cv: cross-validation repeats (seed, seed+1, "
                                          "...: other folds each). [default: 1]"),
):
    """Train a network (LeukNet by default) with MATLAB trainNetwork semantics and write a run directory."""
    from leuknet.config import load_resume, resolve
    from leuknet.profiles import prepare_device, set_tf_config

    if repeats is not None and cv is None:
        raise LeuknetError("--repeats needs --cv K (models or colour spaces over seeds: leuknet compare, "
                           "leuknet colorspace)")
    if cv is not None:
        return _train_cv(flags, option, cv, repeats or 1, resume_run, workers)
    if workers:
        if task_index is None:
            raise LeuknetError("--workers needs --task-index")
        set_tf_config(workers, task_index)
        flags["strategy"] = "multi-worker"
    if resume_run:
        if flags.get("out") is None:
            raise LeuknetError("--resume needs --out (the interrupted run's directory)")
        given = sorted(k for k, v in flags.items() if v is not None and k not in ("out", "strategy"))
        if given or option:
            name = given[0].replace("_", "-") if given else "option"
            raise LeuknetError(f"--resume continues with the interrupted run's saved settings; drop --{name}")
        cfg = load_resume(flags["out"])  # reads no image and imports no TensorFlow
    else:  # checked whole, in a fraction of a second: neither Keras nor TensorFlow is imported yet
        cfg = resolve(dict(flags, options=tuple(option), verbose=not quiet))
    # before Keras and TensorFlow are imported
    prepare_device(str(cfg.device), collective=flags.get("strategy") == "multi-worker", backend=str(cfg.backend))
    from leuknet.run import check_run

    check_run(cfg)  # everything that can fail before an image is read fails here
    from leuknet.run import train_run

    console.print(f"[bold]leuknet train[/bold]: model {cfg.model}, recipe {cfg.recipe}, "
                  f"{cfg.solver} lr {cfg.lr if cfg.lr else 'default'}, {plural(cfg.epochs, 'epoch')}, batch "
                  f"{cfg.batch_size}, image {cfg.image_size}, seed {cfg.seed}", highlight=False)
    _CURRENT_RUN["out"] = cfg.out
    result = train_run(cfg, RunDisplay(verbose=cfg.verbose))
    _CURRENT_RUN.clear()
    if result["metrics"]:
        m = result["metrics"]
        what = "Test" if m["evaluated_split"] == "test" else "Validation (no test split)"
        _show_metrics(m, what + (" (synthetic data)" if result["synthetic"] else ""))
    tm = result["timing"]
    console.print(f"Training: {tm['iterations']} iterations in {tm['train_seconds']:.1f} s "
                  f"({tm['train_images_per_second_incl_validation']:.1f} images/s incl. validation).",
                  highlight=False)
    if result["out"]:
        console.print(f"Run directory: [bold]{escape(result['out'])}[/bold]", highlight=False)


def _train_cv(flags, option, k, repeats, resume_run, workers):
    """``leuknet train --cv K``: the run K times, each fold once the test split; intervals over every cell."""
    from leuknet.comparison import Variant
    from leuknet.config import default_out, resolve
    from leuknet.profiles import prepare_device

    given = [n for n, v in (("resume", resume_run), ("workers", workers), ("overwrite", flags.get("overwrite")))
             if v]
    if given:
        raise LeuknetError(f"--cv runs one folder of fold runs and keeps the finished ones: drop --{given[0]} (to "
                           "continue an interrupted --cv run, start the same command with the same --out again)")
    flags = _study_flags(dict(flags, verbose=False), option)
    cfg = resolve(flags)  # checked whole before any image is read (and before Keras is imported)
    prepare_device(flags["device"], backend=flags.get("backend"))
    # runs/cv5-leuknet-<time>: not runs/leuknet-*, which names single run directories (the README's $RUN)
    out = Path(flags["out"]) if flags.get("out") else Path(default_out(f"cv{k}-{cfg.model}"))
    console.print(f"[bold]leuknet train --cv {k}[/bold]: model {cfg.model}, recipe {cfg.recipe}, {k} folds x "
                  f"{plural(repeats, 'repeat')}, {plural(cfg.epochs, 'epoch')} each, seed {cfg.seed}; folder "
                  f"{escape(str(out))} (the same command with --out {escape(str(out))} resumes)", highlight=False,
                  soft_wrap=True)
    _comparison(flags, [Variant(cfg.model, cfg.model)], out, "train", repeats, k)


@app.command()
def evaluate(
    model_file: Path = typer.Option(..., help="A model.keras from a run directory."),
    data: Path = typer.Option(..., help="Data folder to evaluate on (every image)."),
    dataset_format: Optional[str] = typer.Option(None, help="cnmc, allidb or folders."),
    out: Optional[Path] = typer.Option(None, help="Output folder for metrics.json and predictions.csv."),
    batch_size: int = typer.Option(64, min=1),
    device: str = typer.Option("auto", help="cpu, gpu or auto."),
    backend: str = BACKEND_OPTION,
    overwrite: bool = typer.Option(False, help="Replace files in an existing output folder."),
):
    """Evaluate a trained model on a labelled data set."""
    from leuknet.io import check_model_file
    from leuknet.profiles import prepare_device

    check_model_file(model_file)  # before the backend starts: a mistake answers at once
    prepare_device(device, backend=backend)
    from leuknet.profiles import resolve_device
    from leuknet.run import evaluate_run

    resolve_device(device)
    display = RunDisplay()
    res = evaluate_run(model_file, data, dataset_format, out, batch_size, callback=display, overwrite=overwrite)
    display._stop_scan()
    m = res["metrics"]
    if res["skipped"]:
        _print_skipped(res["skipped"], "skipped.csv")
    _show_metrics(m, "Evaluation" + (" (synthetic data)" if res["synthetic"] else "")
                  + (f" ({m['seen_in_training']} images seen in training)" if m["seen_in_training"] else ""))
    console.print(f"Written: {escape(res['out'])}/metrics.json, predictions.csv"
                  + (", skipped.csv" if m["skipped_files"] else ""), highlight=False, soft_wrap=True)


@app.command()
def predict(
    inputs: List[Path] = typer.Argument(..., help="Image files or folders."),
    model_file: Path = typer.Option(..., help="A model.keras from a run directory."),
    out: Path = typer.Option(Path("predictions.csv"), help="CSV of class probabilities."),
    batch_size: int = typer.Option(64, min=1),
    device: str = typer.Option("auto", help="cpu, gpu or auto."),
    backend: str = BACKEND_OPTION,
    show: int = typer.Option(20, help="Rows to show in the table (all are in the CSV)."),
    overwrite: bool = typer.Option(False, help="Replace an existing --out file."),
):
    """Class probabilities for images (a table and a CSV)."""
    from leuknet.errors import ConfigError
    from leuknet.io import check_model_file
    from leuknet.profiles import prepare_device

    listed = out.with_name(out.stem + ".skipped.csv")  # the unreadable files, where there are any
    for path in (out, listed):  # checked before any work: an earlier prediction is never lost silently
        if path.exists() and not overwrite:
            raise ConfigError(f"--out {out}: {path} exists; pass --overwrite to replace it, or another --out")
    check_model_file(model_file)  # before the backend starts: a mistake answers at once
    prepare_device(device, backend=backend)
    from leuknet.artefacts import write_predictions
    from leuknet.profiles import resolve_device
    from leuknet.run import predict_files

    resolve_device(device)
    res = predict_files(model_file, [str(i) for i in inputs], batch_size)
    classes, probs = res["classes"], res["probabilities"]
    write_predictions(out, res["files"], probs, classes)
    t = Table(title=f"Predictions ({len(res['files'])} images)", title_justify="left")
    t.add_column("file")
    t.add_column("predicted")
    for c in classes:
        t.add_column(f"p({c})", justify="right")
    for f, p in list(zip(res["files"], probs))[:show]:
        t.add_row(os.path.basename(f), classes[int(p.argmax())], *(f"{v:.4f}" for v in p))
    console.print(t)
    if len(res["files"]) > show:
        console.print(f"... {len(res['files']) - show} more rows in {out}", highlight=False)
    written = [out]
    if not res["skipped"] and listed.is_file():
        listed.unlink()  # an earlier prediction's list (--overwrite): not this one's
    if res["skipped"]:
        from leuknet.artefacts import write_skipped

        write_skipped(listed, res["skipped"])
        written.append(listed)
        _print_skipped(res["skipped"], listed)
    console.print(f"Written: {', '.join(map(str, written))}", highlight=False)


class StudyDisplay:
    """Progress over spaces x repeats x epochs, one line per finished run."""

    def __init__(self):
        self.progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("epochs"), TimeElapsedColumn(), console=console)
        self.task = None
        self.space = None

    @staticmethod
    def _name(info):
        return info.get("run") or f"{info['space']} seed {info['seed']}"

    @staticmethod
    def _where(info):
        """' (runs/leuknet-r0-f1)': the run's folder (counted from 0, where the lines count from 1)."""
        return f" (runs/{info['folder']})" if info.get("folder") else ""

    def __call__(self, event, payload):
        if event == "study_start":
            self.progress.start()
            self.task = self.progress.add_task(payload.get("title", "Colour-space study"),
                                               total=payload.get("total_epochs") or payload["runs"] * payload["epochs"])
        elif event == "run_skipped":
            self.progress.update(self.task, advance=payload["epochs"])
            console.print(f"  {self._name(payload)}: already done, kept{self._where(payload)}", highlight=False)
        elif event == "run_busy":
            self.progress.update(self.task, advance=payload["epochs"])
            who = payload["owner"].get("pid", "another process")
            console.print(f"  {self._name(payload)}: being trained by process {who}, left to it", highlight=False)
        elif event == "run_start":
            self.space = payload
            self.progress.update(self.task, description=self._name(payload))
        elif event == "epoch":
            self.progress.update(self.task, advance=1)
        elif event == "done":
            m = payload["metrics"]
            console.print(f"  {self._name(self.space)}: test accuracy {100 * m['accuracy']:.2f}%"
                          f"{self._where(self.space)}", highlight=False)
        elif event == "study_end":
            self.progress.stop()


_WORKERS_HELP = ("Worker processes sharing the study: each run is trained by one of them, the last to finish writes "
                 "the summary. The same command started N times by hand (or as a job array) does the same.")


def _study_in_workers(ctx: typer.Context, command, n, summary_file, cut=None):
    """This study command again in ``n`` processes (``--workers 1``), their lines prefixed; then the summary."""
    from leuknet.study import run_in_workers

    args = list(command)
    for param in ctx.command.params:
        value = ctx.params.get(param.name)
        if param.name == "workers" or value is None or value == param.default or not param.opts:
            continue
        if param.is_flag:
            args.append(param.opts[0] if value else param.secondary_opts[0])
        elif isinstance(value, (list, tuple)):
            args += [a for v in value for a in (param.opts[0], str(v))]
        else:
            args += [param.opts[0], str(value)]
    args += ["--workers", "1"]
    console.print(f"{n} worker processes on {escape(str(summary_file.parent))}", highlight=False)
    results = run_in_workers(args, n, on_line=lambda k, line: console.print(f"[{k + 1}] {escape(line)}",
                                                                            highlight=False, soft_wrap=True))
    failed = [(rc, err) for rc, err in results if rc != 0]
    if failed:
        lines = dict.fromkeys(line for _, err in failed for line in err.splitlines() if line.strip())
        for line in lines:
            err_console.print(escape(line), highlight=False, soft_wrap=True)
        raise typer.Exit(max(rc for rc, _ in failed) if all(rc > 0 for rc, _ in failed) else 1)
    text = summary_file.read_text()
    console.print(text.split(cut)[0] if cut else text, highlight=False, markup=False, soft_wrap=True)


def _pending(res):
    owners = sorted({str(o.get("pid")) for o in res["owners"].values() if o and o.get("pid")})
    console.print(f"{plural(len(res['pending']), 'run')} still being trained by other processes"
                  + (f" ({', '.join(owners)})" if owners else "") + f": the last to finish writes the summary in "
                  f"{escape(res['out'])}", highlight=False, soft_wrap=True)


@app.command()
@_with_config_options(exclude=("colorspace", "out", "overwrite"))  # the spaces are the study's; runs are kept
def colorspace(
    flags,
    ctx: typer.Context,
    task: str = typer.Option("detection", help="detection (two classes) or subtype (three or more)."),
    spaces: str = typer.Option("rgb,hsv,ycbcr,hcbcr", help="Colour spaces to compare."),
    repeats: int = typer.Option(1, min=1, help="Seeds per space (mean and s.d. over them); with --cv, "
                                "cross-validation repeats (seed, seed+1, ...: other folds each)."),
    cv: Optional[int] = typer.Option(None, "--cv", min=2, help=_CV_HELP + " Intervals, paired tests and verdicts "
                                     "per pair of spaces."),
    option: List[str] = typer.Option([], "--option", help="Any other trainingOptions Name=Value, for every run."),
    out: Path = typer.Option(Path("runs/colorspace"), help="Study folder (resumes where runs are finished)."),
    workers: int = typer.Option(1, min=1, help=_WORKERS_HELP),
):
    """Train the same recipe on RGB, HSV, YCbCr and HCbCr data and compare (the paper's Table 1). Every train
    option applies to every run; repeat r uses seed --seed + r."""
    cut = "## Figures" if cv else "Per-class"
    if workers > 1:
        return _study_in_workers(ctx, ["colorspace"], workers, out / "colorspace.md", cut)
    from leuknet.comparison import colour_variants, variant_configs
    from leuknet.profiles import prepare_device
    from leuknet.study import check_task_name

    flags = _study_flags(flags, option)
    check_task_name(task)
    variants = colour_variants(spaces)
    variant_configs(flags, variants)  # every run's settings, before the backend starts
    prepare_device(flags["device"], backend=flags.get("backend"))
    if cv:
        from leuknet.study import check_task

        return _comparison(flags, variants, out, "colorspace", repeats, cv,
                           check=lambda dataset: check_task(dataset, task), extra_meta={"task": task})
    from leuknet.study import run_study

    display = StudyDisplay()
    try:
        res = run_study(flags, spaces, repeats, out, task, callback=display)
    finally:
        display.progress.stop()
    if res["pending"]:
        return _pending(res)
    console.print((Path(res["out"]) / "colorspace.md").read_text().split(cut)[0], highlight=False,
                  markup=False, soft_wrap=True)
    console.print(f"Written: {res['out']}/colorspace.json, colorspace.md, colorspace.png, confusion_*.png",
                  highlight=False)


def _study_flags(flags, option, **defaults):
    """A study's flags for its runs: --option as trainingOptions, the seed (0) and device (auto) always recorded
    in study.json (as study folders made before these flags were generated record them)."""
    flags = dict(flags, **{k: v for k, v in defaults.items() if flags.get(k) is None})
    flags["seed"] = 0 if flags.get("seed") is None else flags["seed"]
    flags["device"] = flags.get("device") or "auto"
    if option:
        flags["options"] = tuple(option)
    return flags


def _comparison(flags, variants, out, kind, repeats, cv, **kw):
    """Run a comparison (:func:`leuknet.comparison.run_comparison`) with the study progress display, then print
    its tables (the Markdown before its figures) and what it wrote."""
    from leuknet.comparison import run_comparison

    display = StudyDisplay()
    try:
        res = run_comparison(flags, variants, out, kind=kind, repeats=repeats, cv=cv, callback=display, **kw)
    finally:
        display.progress.stop()
    if res["pending"]:
        return _pending(res)
    md = Path(res["out"]) / res["files"][1]
    console.print(md.read_text().split("## Figures")[0], highlight=False, markup=False, soft_wrap=True)
    console.print(f"Written: {escape(res['out'])}/" + ", ".join(res["files"]), highlight=False, soft_wrap=True)


@app.command()
@_with_config_options(exclude=("model", "out", "overwrite"))  # finished runs are kept: nothing to overwrite
def compare(
    flags,
    ctx: typer.Context,
    model: List[str] = typer.Option(..., "--model", help="A model to compare (repeat: --model leuknet --model "
                                    "alexnet); see `leuknet models`."),
    cv: Optional[int] = typer.Option(None, "--cv", min=2, help=_CV_HELP),
    repeats: int = typer.Option(1, min=1, help="Repeats: with --cv, cross-validations with other folds (seed, "
                                "seed+1, ...); without, the recipe's split with seed, seed+1, ..."),
    option: List[str] = typer.Option([], "--option", help="Any other trainingOptions Name=Value, for every model."),
    out: Path = typer.Option(Path("runs/compare"), help="Comparison folder (resumes where runs are finished)."),
    workers: int = typer.Option(1, min=1, help=_WORKERS_HELP),
):
    """Train several models on the same cells and compare them: intervals, paired tests, verdicts, ranking."""
    if workers > 1:
        return _study_in_workers(ctx, ["compare"], workers, out / "compare.md", "## Figures")
    from leuknet.comparison import model_variants, variant_configs
    from leuknet.profiles import prepare_device

    flags = _study_flags(dict(flags, verbose=False), option)
    variants = model_variants(model)  # before any training: an unknown model or a single one is refused
    if not any(flags.get(k) for k in ("recipe", "data", "labels")):
        flags["recipe"] = "demo"  # the demo data: every model on the demo recipe (not, say, 100 AlexNet epochs)
    variant_configs(flags, variants)  # every run's settings, before the backend starts
    prepare_device(flags["device"], backend=flags.get("backend"))
    _comparison(flags, variants, out, "compare", repeats, cv)


@app.command()
def report(
    inputs: List[Path] = typer.Argument(..., help="Run directories, study and comparison folders (colorspace, "
                                        "compare, train --cv)."),
    out: Path = typer.Option(Path("report.html"), help="report.html (self-contained) or report.md."),
):
    """A readable report: configuration, training curves, confusion matrices, metrics, example cells."""
    from leuknet.profiles import prepare_device

    prepare_device("cpu")
    from leuknet.report import build_report

    path = build_report(inputs, out)
    console.print(f"Written: {path}", highlight=False)


@app.command()
def bench(
    model: List[str] = typer.Option(["leuknet"], help="Model(s) to time (repeat the flag)."),
    device: str = typer.Option("cpu", help="cpu or gpu."),
    precision: List[str] = typer.Option(["fp32"], help="fp32, bf16, fp16 (repeat the flag)."),
    batch_size: List[int] = typer.Option([32, 128], help="Batch size(s) (repeat the flag)."),
    image_size: int = typer.Option(224, min=32),
    repeats: int = typer.Option(5, min=1, help="Timed repetitions (after warm-up) per measurement."),
    warmup: int = typer.Option(2, min=1),
    baseline: bool = typer.Option(False, help="Also time plain Keras LeukNet (TF LRN, Keras Adam) for ratios, on "
                                  "its own and alternated step by step with leuknet fp32 in one process (paired "
                                  "ratios)."),
    workload: Optional[str] = typer.Option(None, help="Also run a whole training workload: leuknet-paper (2,260 "
                                           "images, 10 epochs, batch 128, validation every 5 iterations)."),
    data: Optional[Path] = typer.Option(None, help="Data for the workload (default: the demo generator)."),
    workload_images_per_class: Optional[int] = typer.Option(None, min=4, help="Demo images per class for the "
                                                            "workload (without --data). [default: 1130]"),
    workload_epochs: Optional[int] = typer.Option(None, min=1, help="Override the workload's 10 epochs."),
    out: Path = typer.Option(Path("bench"), help="Folder for bench.json, bench.md, bench.png."),
    backend: str = BACKEND_OPTION,
):
    """Throughput benchmark: training, inference and input pipeline (images/s), GFLOP/s vs peak, memory. Under
    JAX (a GPU without TensorFlow): the JAX benchmark, --baseline its PyTorch eager peer (docs/gpu.md), in
    bench_gpu.{json,md,png}."""
    from leuknet.bench import check_names_and_sizes, workload_config
    from leuknet.errors import ConfigError
    from leuknet.profiles import prepare_device

    check_names_and_sizes(model, precision, batch_size)  # before the backend starts (each bench checks the rest)
    if (data or workload_images_per_class or workload_epochs) and not workload:
        raise ConfigError("--data, --workload-images-per-class and --workload-epochs are the workload's: add "
                          "--workload leuknet-paper")
    if data and workload_images_per_class:
        raise ConfigError("--workload-images-per-class applies to the demo set, not to --data")
    opts = {"data": str(data) if data else None, "per_class": workload_images_per_class, "image_size": image_size,
            "epochs": workload_epochs}
    if workload:  # the whole workload's configuration, checked before anything is measured
        workload_config(workload, device, **opts)
    if prepare_device(device, backend=backend) == "jax":
        return _bench_jax(model, device, precision, batch_size, image_size, repeats, warmup, baseline, workload,
                          opts, out)
    from leuknet.bench import run_bench

    def progress(event, payload):
        if event == "config":
            s = payload["spec"]
            console.print(f"[{payload['i'] + 1}/{payload['n']}] {s['model']} {s['precision']} batch "
                          f"{s['batch_size']} ...", highlight=False)
        else:
            r = payload
            console.print(f"    train {r['train_images_per_s']:.2f} img/s, inference {r['inference_images_per_s']:.2f}"
                          f" img/s" + (f", pipeline {r['pipeline_images_per_s']:.1f} img/s"
                                       if r.get("pipeline_images_per_s") else "")
                          + f", {100 * r['train_fraction_of_peak']:.0f}% of peak, peak RSS {r['peak_rss_mb']:.0f} MB",
                          highlight=False)

    def progress_all(event, payload):
        if event == "workload":
            console.print(f"Workload {payload['workload']} ({payload['precision']}) ...", highlight=False)
        elif event == "paired":
            console.print(f"Paired: leuknet fp32 and plain Keras alternated, batch {payload['batch_size']} ...",
                          highlight=False)
        elif event == "paired_result":
            console.print(f"    train {payload['train_speedup']:.2f}x, inference {payload['inference_speedup']:.2f}x "
                          "plain Keras (median of pairs)", highlight=False)
        elif event == "workload_progress":
            p = payload
            console.print(f"    epoch {p['epoch']}: iteration {p['iteration']} of {p['iterations']}, "
                          f"{p['elapsed_s'] / 60:.1f} min", highlight=False)
        elif event == "workload_result":
            console.print(f"    {payload['wall_s'] / 60:.1f} min (paper: {payload['paper_wall_s'] / 60:.1f} min), test "
                          f"accuracy {100 * (payload['test_accuracy'] or 0):.2f}%", highlight=False)
        else:
            progress(event, payload)

    run_bench(model, precision, batch_size, device, image_size, repeats, warmup, baseline, out, progress_all,
              workload=workload, workload_options=opts)
    console.print((out / "bench.md").read_text(), highlight=False, markup=False, soft_wrap=True)
    console.print(f"Written: {out}/bench.json, bench.md, bench.png", highlight=False)


def _bench_jax(models, device, precisions, batch_sizes, image_size, repeats, warmup, baseline, workload, opts, out):
    """``leuknet bench`` under JAX: :func:`leuknet.bench_gpu.run_gpu_bench` on the GPU (or, ``--device cpu``, on
    the CPU), a line per measurement as it finishes."""
    from leuknet.bench_gpu import describe, run_gpu_bench

    def progress(event, p):
        line = describe(event, p)
        if line is not None:
            console.print(line, highlight=False, markup=False)

    run_gpu_bench(models, precisions, batch_sizes, image_size, repeats, warmup, baseline, out, progress,
                  platform=device if device in ("cpu", "gpu") else None, workload=workload, workload_options=opts)
    console.print((out / "bench_gpu.md").read_text(), highlight=False, markup=False, soft_wrap=True)
    console.print(f"Written: {out}/bench_gpu.json, bench_gpu.md, bench_gpu.png", highlight=False)


weights_app = typer.Typer(add_completion=False, no_args_is_help=True, help="Import pretrained weights.")
app.add_typer(weights_app, name="weights")
study_app = typer.Typer(add_completion=False, no_args_is_help=True, help="Studies that rerun a recipe.")
app.add_typer(study_app, name="study")


@weights_app.command("import")
def weights_import(
    src: Path = typer.Argument(..., help="AlexNet ONNX file (ONNX model zoo bvlcalexnet, or MATLAB "
                               "exportONNXNetwork(alexnet, ...))."),
    out: Path = typer.Option(..., help="Destination .keras file."),
    input_order: str = typer.Option("auto", help="rgb (MATLAB exports), bgr (Caffe / ONNX model zoo) or auto "
                                     "(bgr when the input is named data_0)."),
    mean: Optional[str] = typer.Option(None, help="Input mean r,g,b to subtract (default: the graph's, or none)."),
):
    """Import an AlexNet ONNX file, check it against onnxruntime, and save it as a Keras model."""
    from leuknet.profiles import prepare_device

    prepare_device("cpu")
    from leuknet.errors import ConfigError
    from leuknet.weights.onnx_import import import_to_keras

    if not str(out).endswith(".keras"):
        raise ConfigError(f"--out must end in .keras, received {out}")
    m = None
    if mean:
        try:
            m = [float(v) for v in mean.split(",")]
        except ValueError:
            raise ConfigError(f"--mean must be three numbers r,g,b, received {mean!r}") from None
        if len(m) != 3:
            raise ConfigError(f"--mean must be three numbers r,g,b, received {mean!r}")
    model, info = import_to_keras(src, out, input_order, m)
    from leuknet.models import learnables

    console.print(f"Imported {src}: {len(model.layers)} Keras layers, {learnables(model):,} learnables, input "
                  f"{info['input_size'][0]} x {info['input_size'][1]} {info['input_order'].upper()}, mean: "
                  f"{info['mean']}, MATLAB alexnet layout: {info['alexnet_layout']}", highlight=False)
    console.print(f"Largest difference from onnxruntime on random input: "
                  f"{info['max_abs_difference_vs_onnxruntime']:.3g}", highlight=False)
    console.print(f"Written: {out}", highlight=False)


@study_app.command("fc-units")
@_with_config_options(exclude=("fc_units", "out", "overwrite"))  # the widths are the study's; runs are kept
def study_fc_units(
    flags,
    ctx: typer.Context,
    values: str = typer.Option("4096,3072,2048,1024", help="Widths of the new fully connected layer."),
    cv: Optional[int] = typer.Option(None, "--cv", min=2, help=_CV_HELP + " Intervals, paired tests and verdicts "
                                     "per pair of widths."),
    repeats: int = typer.Option(1, min=1, help="Repeats (seed, seed+1, ...): with --cv, cross-validations with "
                                "other folds; without, the recipe's split per seed, with intervals and paired tests."),
    option: List[str] = typer.Option([], "--option", help="Any other trainingOptions Name=Value, for every run."),
    out: Path = typer.Option(Path("runs/fc-units"), help="Study folder (resumes where runs are finished)."),
    workers: int = typer.Option(1, min=1, help=_WORKERS_HELP),
):
    """Rerun the recipe for each feature-vector width with identical splits and seeds (Shafique's Table 4; the
    model is alexnet unless --model). Every train option applies to every run."""
    compared = cv is not None or repeats > 1
    if workers > 1:
        return _study_in_workers(ctx, ["study", "fc-units"], workers, out / "fc_units.md",
                                 "## Figures" if compared else None)
    from leuknet.comparison import variant_configs, width_variants
    from leuknet.profiles import prepare_device

    flags = _study_flags(flags, option, model="alexnet")  # Shafique & Tehsin's AlexNet unless --model
    variants = width_variants(values)
    variant_configs(flags, variants)  # every run's settings, before the backend starts
    prepare_device(flags["device"], backend=flags.get("backend"))
    from leuknet.study import run_fc_study

    if compared:
        return _comparison(flags, variants, out, "fc-units", repeats, cv)
    display = StudyDisplay()
    try:
        res = run_fc_study(flags, values, out, callback=display)
    finally:
        display.progress.stop()
    if res["pending"]:
        return _pending(res)
    console.print((Path(res["out"]) / "fc_units.md").read_text(), highlight=False, markup=False, soft_wrap=True)
    console.print(f"Written: {escape(res['out'])}/fc_units.json, fc_units.md (leuknet report {escape(res['out'])} "
                  "--out report.html: with each width's run)", highlight=False, soft_wrap=True)


@app.command()
def explain(
    inputs: List[Path] = typer.Argument(..., help="Image files or folders."),
    model_file: Path = typer.Option(..., help="A model.keras from a run directory."),
    out: Path = typer.Option(Path("gradcam"), help="Folder for the heatmap PNGs."),
    class_name: Optional[str] = typer.Option(None, "--class", help="Explain this class (default: the predicted)."),
    layer: Optional[str] = typer.Option(None, help="Target layer (default: the last convolution)."),
    device: str = typer.Option("auto", help="cpu, gpu or auto."),
    backend: str = BACKEND_OPTION,
):
    """Grad-CAM heatmaps overlaid on the cells: what the network looks at."""
    from leuknet.io import check_model_file
    from leuknet.profiles import prepare_device

    check_model_file(model_file)  # before the backend starts: a mistake answers at once
    prepare_device(device, backend=backend)
    from leuknet.explain import explain_files

    skipped = []
    with Progress(TextColumn("[bold]Grad-CAM"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, transient=True) as prog:
        task = prog.add_task("gradcam", total=None)

        def progress(event, payload):
            if event == "files":
                prog.update(task, total=payload)
                return
            prog.update(task, advance=1)
            if event == "skipped":
                skipped.append(payload)

        rows = explain_files(model_file, [str(i) for i in inputs], out, class_name, layer, progress=progress)
    if skipped:
        _print_skipped(skipped)
    t = Table(title=f"Grad-CAM ({len(rows)} images, layer {rows[0]['layer'] if rows else '-'})", title_justify="left")
    for c in ("file", "class explained", "probability", "heatmap"):
        t.add_column(c)
    for r in rows:
        t.add_row(os.path.basename(r["file"]), r["class"], f"{r['probability']:.4f}", r["heatmap"])
    console.print(t)


@app.command()
def augment(
    data: Path = typer.Option(..., help="Source data folder (never modified)."),
    per_class: int = typer.Option(..., min=1, help="Images per class in the copy."),
    out: Path = typer.Option(..., help="Destination folder (one folder per class and manifest.csv)."),
    dataset_format: Optional[str] = typer.Option(None),
    seed: int = typer.Option(0),
):
    """Write a balanced, augmented copy (mirroring, rotation, blur 17x17, shear 0.3, salt and pepper)."""
    from leuknet.data.augmented_copy import write_augmented_copy
    from leuknet.data.sources import discover
    from leuknet.errors import ConfigError

    ds = discover(data, dataset_format)
    if out.exists() and any(out.iterdir()):
        raise ConfigError(f"output folder {out} already exists and is not empty")
    if out.resolve() == Path(ds.root).resolve() or Path(ds.root).resolve() in out.resolve().parents:
        raise ConfigError("--out must lie outside the source data folder")
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, transient=True) as prog:
        check = prog.add_task("Checking the source images", total=len(ds))
        task = prog.add_task("Augmenting", total=per_class * len(ds.classes))
        _, skipped = write_augmented_copy(ds, per_class, out, seed, progress=lambda n: prog.update(task, advance=n),
                                          checked=lambda n: prog.update(check, advance=n))
    if skipped:
        _print_skipped(skipped, out / "skipped.csv")
    console.print(f"Written: {out} ({per_class} images per class for {', '.join(ds.classes)}), manifest.csv",
                  highlight=False)


@app.command()
def parity(
    out: Optional[Path] = typer.Option(None, help="Folder for parity.json and parity.md."),
    cases: Optional[Path] = typer.Option(None, help="Folder of reference cases (default: the repository's "
                                         "parity/cases)."),
    device: str = typer.Option("cpu", help="cpu, gpu or auto (float32 products in full float32: TF32 off)."),
    backend: str = BACKEND_OPTION,
):
    """Check every MATLAB behaviour leuknet claims against independent reference cases; exit 1 on a failure."""
    from leuknet.profiles import allow_tf32, prepare_device, resolve_device

    prepare_device(device, backend=backend)
    resolve_device(device)  # --device gpu without one: one line
    allow_tf32(False)
    from leuknet.parity import run_all, write

    t = Table(title="leuknet parity", title_justify="left")
    for c in ("case", "oracle", "max abs error", "tolerance", "pass"):
        t.add_column(c, justify="right" if c in ("max abs error", "tolerance") else "left")
    results = run_all(cases)
    for r in results:
        t.add_row(r["name"], r["oracle"], f"{r['max_abs_error']:.3g}", f"{r['tolerance']:.3g}",
                  "[green]yes[/green]" if r["passed"] else f"[bold red]NO[/bold red] {r['note']}")
    console.print(t)
    n_ok = sum(r["passed"] for r in results)
    console.print(f"{n_ok} of {len(results)} cases pass; oracles: "
                  + ", ".join(sorted({r['oracle'] for r in results})), highlight=False)
    if out:
        write(results, out)
        console.print(f"Written: {out}/parity.json, parity.md", highlight=False)
    if n_ok != len(results):
        raise typer.Exit(1)


@app.command("models")
def models_cmd():
    """List the registered models."""
    from leuknet import models  # the registry imports no Keras

    t = Table(title="Models")
    for c in ("name", "input", "paper", "default recipe", "description"):
        t.add_column(c)
    for name in models.list_models():
        i = models.model_info(name)
        t.add_row(name, str(i["input_size"]), i["paper"], i["default_recipe"], i["description"])
    console.print(t)


@app.command("recipes")
def recipes_cmd():
    """List the recipes and their settings."""
    from leuknet.config import RECIPE_NOTES, RECIPES

    t = Table(title="Recipes")
    t.add_column("name")
    t.add_column("summary")
    t.add_column("settings")
    for name, r in sorted(RECIPES.items()):
        t.add_row(name, RECIPE_NOTES.get(name, ""), ", ".join(f"{k}={v}" for k, v in r.items()))
    console.print(t)


def _interrupted() -> str:
    """What to do after Ctrl-C: the exact resume command when the run has a checkpoint."""
    out = _CURRENT_RUN.get("out")
    if not out:
        return "interrupted"
    if (Path(str(out) + ".partial") / "checkpoint.npz").is_file():
        return f"interrupted; continue from the last checkpoint with: leuknet train --resume --out {out}"
    return "interrupted before the first checkpoint (written at the end of each epoch): nothing was kept; run the " \
           "same command again to start over"


class _Notes(logging.Handler):
    """leuknet's own log lines of note (the native kernel being built, or not available), shown dim."""

    def emit(self, record):
        console.print(f"[dim]{escape(record.getMessage())}[/dim]", highlight=False, soft_wrap=True)


def _show_notes():
    notes = logging.getLogger("leuknet.ops")
    if not any(isinstance(h, _Notes) for h in notes.handlers):
        notes.addHandler(_Notes())
        notes.setLevel(logging.INFO)


def main(argv=None):
    """Entry point: LeuknetError and usage errors -> one line and exit 2; Ctrl-C -> one line and exit 130."""
    _show_notes()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # no TensorFlow C++ log lines on any command
    os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")  # nor OpenCV's decoder warnings (skipped files say why)
    try:
        with interrupts.kept():  # Ctrl-C never lost (leuknet.interrupts)
            code = app(args=argv, standalone_mode=False)
        if code == 130:  # typer turns Ctrl-C into exit status 130 and returns it
            err_console.print(_interrupted(), highlight=False, soft_wrap=True)
        sys.exit(code if isinstance(code, int) else 0)
    except LeuknetError as e:
        err_console.print(f"[bold red]error:[/bold red] {escape(str(e))}", highlight=False, soft_wrap=True)
        sys.exit(2)
    except (KeyboardInterrupt, typer.Abort):
        err_console.print(_interrupted(), highlight=False, soft_wrap=True)
        sys.exit(130)
    except typer.Exit as e:  # typer turns Ctrl-C into Exit(130)
        if e.exit_code == 130:
            err_console.print(_interrupted(), highlight=False, soft_wrap=True)
        sys.exit(e.exit_code)
    except typer.TyperException as e:  # unknown flag, a value of the wrong type: one line, exit 2
        ctx = getattr(e, "ctx", None)
        hint = f" (see {ctx.command_path} --help)" if ctx is not None else ""
        message = e.format_message() if hasattr(e, "format_message") else str(e)
        err_console.print(f"[bold red]error:[/bold red] {escape(message)}{hint}", highlight=False, soft_wrap=True)
        sys.exit(2)
    except OSError as e:  # full disk, read-only folder, permissions: the user's to fix, nothing half-written
        where = f" {e.filename}" if getattr(e, "filename", None) else ""
        err_console.print(f"[bold red]error:[/bold red] cannot read or write{escape(where)}: "
                          f"{escape(str(e.strerror or e))}", highlight=False, soft_wrap=True)
        sys.exit(2)
    except Exception as e:  # a bug, not bad input: one line unless LEUKNET_DEBUG asks for the traceback
        if os.environ.get("LEUKNET_DEBUG"):
            raise
        first = escape(str(e).splitlines()[0][:300]) if str(e) else ""
        err_console.print(f"[bold red]internal error:[/bold red] {type(e).__name__}: {first}"
                          " (set LEUKNET_DEBUG=1 for the traceback; please report it)", highlight=False, soft_wrap=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
