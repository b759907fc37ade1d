"""Console display (rich): MATLAB's verbose training table with a progress bar. The CLI and the MATLAB-style
``trainNetwork(..., Verbose=true)`` use it; the library below reports through callbacks and never prints."""

from __future__ import annotations

import math
import sys

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

COLUMNS = ("Epoch", "Iteration", "Time Elapsed (hh:mm:ss)", "Mini-batch Accuracy", "Validation Accuracy",
           "Mini-batch Loss", "Validation Loss", "Base Learning Rate")
WIDTHS = (7, 11, 13, 14, 14, 12, 12, 13)


def hhmmss(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"


def _pct(v):
    return "" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.2f}%"


def _num(v):
    return "" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.4f}"


def format_row(row: dict) -> str:
    cells = (str(row["Epoch"]), str(row["Iteration"]), hhmmss(row["TimeElapsed"]), _pct(row["TrainingAccuracy"]),
             _pct(row["ValidationAccuracy"]), _num(row["TrainingLoss"]), _num(row["ValidationLoss"]),
             f"{row['BaseLearnRate']:.4g}")
    return "|" + "|".join(c.rjust(w) + " " for c, w in zip(cells, WIDTHS)) + "|"


def header() -> list[str]:
    rule = "|" + "|".join("=" * (w + 1) for w in WIDTHS) + "|"
    names = ("Epoch", "Iteration", "Time Elapsed", "Mini-batch", "Validation", "Mini-batch", "Validation",
             "Base Learning")
    names2 = ("", "", " (hh:mm:ss)", "Accuracy", "Accuracy", "Loss", "Loss", "Rate")
    return [rule, "|" + "|".join(n.center(w + 1) for n, w in zip(names, WIDTHS)) + "|",
            "|" + "|".join(n.center(w + 1) for n, w in zip(names2, WIDTHS)) + "|", rule]


def plural(n, word):
    """'1 epoch', '2 epochs'."""
    return f"{n} {word}{'' if n == 1 else 's'}"


class TrainingProgress:
    """Callback drawing MATLAB's table (a row every VerboseFrequency iterations, at validations and at the end)
    above a progress bar for the whole run."""

    def __init__(self, console: Console | None = None, verbose: bool = True, title: str = "Training"):
        self.console = console or Console(stderr=False)
        self.verbose = verbose
        self.title = title
        self.progress = None
        self.task = None

    def __call__(self, event, payload):
        if event == "statistics":
            self.console.print(f"[dim]Computing input normalisation statistics from {payload['n']} training "
                               "images...[/dim]")
        elif event == "start":
            if self.verbose:
                self.console.print(f"Training on {payload['n_train']} images, {payload['iterations_per_epoch']} "
                                   f"iterations per epoch, {plural(payload['epochs'], 'epoch')} "
                                   f"({payload['total_iterations']} iterations).", highlight=False)
                for line in header():
                    self.console.print(line, highlight=False, markup=False, soft_wrap=True)
            self.progress = Progress(TextColumn(f"[bold]{self.title}"), BarColumn(), MofNCompleteColumn(),
                                     TextColumn("iterations"), TimeElapsedColumn(), TimeRemainingColumn(),
                                     console=self.console, transient=True,
                                     disable=not self.console.is_terminal and not sys.stdout.isatty())
            self.progress.start()
            self.task = self.progress.add_task("train", total=payload["total_iterations"],
                                               completed=payload.get("start_iteration", 0))
            if payload.get("start_iteration"):
                self.console.print(f"Resumed at iteration {payload['start_iteration']}.", highlight=False)
        elif event == "iteration":
            if self.progress is not None:
                self.progress.update(self.task, advance=1)
            if self.verbose and payload.get("verbose"):
                self.console.print(format_row(payload), highlight=False, markup=False, soft_wrap=True)
        elif event == "end":
            if self.progress is not None:
                self.progress.stop()
            if self.verbose:
                self.console.print("|" + "|".join("=" * (w + 1) for w in WIDTHS) + "|", highlight=False, soft_wrap=True)
                self.console.print(f"Training finished: {payload['iterations']} iterations in "
                                   f"{hhmmss(payload['time'])}.", highlight=False)
