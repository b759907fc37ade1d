"""Console display (rich): MATLAB's verbose training table with a progress bar. The CLI and the MATLAB-style
``trainNetwork(..., Verbose=true)`` use it; the library below reports through callbacks and never prints."""

from __future__ import annotations

import math
import sys

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

# MATLAB's verbose table (trainNetwork, R2021a), as MATLAB prints it: one continuous rule, the Validation columns
# only where there is validation data, the learning rate as 0.0100 (1.0000e-04 below 0.001)
WIDTHS = (9, 13, 16, 14, 14, 14, 14, 17)  # each cell: its value right-aligned, then a space
_HEAD = ("  Epoch  ", "  Iteration  ", "  Time Elapsed  ", "  Mini-batch  ", "  Validation  ", "  Mini-batch  ",
         "  Validation  ", "  Base Learning  ")
_HEAD2 = ("         ", "             ", "   (hh:mm:ss)   ", "   Accuracy   ", "   Accuracy   ", "     Loss     ",
          "     Loss     ", "      Rate       ")
_WITHOUT_VALIDATION = (0, 1, 2, 3, 5, 7)


def hhmmss(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"


def _pct(v):
    return "" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.2f}%"


def _num(v):
    return "" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{round(v, 4) + 0.0:.4f}"  # no -0.0000


def _rate(v):
    return f"{v:.4f}" if v == 0 or abs(v) >= 1e-3 else f"{v:.4e}"


def _columns(validation: bool):
    return range(8) if validation else _WITHOUT_VALIDATION


def rule(validation: bool = True) -> str:
    return "|" + "=" * (sum(WIDTHS[i] for i in _columns(validation)) + len(_columns(validation)) - 1) + "|"


def format_row(row: dict, validation: bool = True) -> str:
    cells = (str(row["Epoch"]), str(row["Iteration"]), hhmmss(row["TimeElapsed"]), _pct(row["TrainingAccuracy"]),
             _pct(row["ValidationAccuracy"]), _num(row["TrainingLoss"]), _num(row["ValidationLoss"]),
             _rate(row["BaseLearnRate"]))
    return "|" + "|".join(cells[i].rjust(WIDTHS[i] - 1) + " " for i in _columns(validation)) + "|"


def header(validation: bool = True) -> list[str]:
    cols = _columns(validation)
    return [rule(validation), "|" + "|".join(_HEAD[i] for i in cols) + "|",
            "|" + "|".join(_HEAD2[i] for i in cols) + "|", rule(validation)]


def plural(n, word):
    """'1 epoch', '2 epochs'."""
    return f"{n} {word}{'' if n == 1 else 's'}"


class TrainingProgress:
    """Callback drawing MATLAB's table (a row every VerboseFrequency iterations, at validations and at the end)
    above a progress bar for the whole run. ``matlab_device`` ('single CPU', 'single GPU'): the lines around the
    table are MATLAB's too ("Training on single CPU.", "Initializing input data normalization.", nothing after
    the closing rule, as trainNetwork prints them in R2021a), for ``leuknet.matlab.trainNetwork``; else the CLI's
    (the images, iterations and time)."""

    def __init__(self, console: Console | None = None, verbose: bool = True, title: str = "Training",
                 matlab_device: str | None = None):
        self.console = console or Console(stderr=False)
        self.verbose = verbose
        self.title = title
        self.matlab_device = matlab_device
        self.said_device = False
        self.progress = None
        self.task = None
        self.validation = True

    def _say_device(self):
        if self.matlab_device and self.verbose and not self.said_device:
            self.console.print(f"Training on {self.matlab_device}.", highlight=False)
            self.said_device = True

    def __call__(self, event, payload):
        if event == "statistics":
            if self.matlab_device:
                self._say_device()
                if self.verbose:
                    self.console.print("Initializing input data normalization.", highlight=False)
            else:
                self.console.print(f"[dim]Computing input normalisation statistics from {payload['n']} training "
                                   "images...[/dim]")
        elif event == "start":
            self._say_device()
            if self.verbose and not self.matlab_device:
                self.console.print(f"Training on {payload['n_train']} images, "
                                   f"{plural(payload['iterations_per_epoch'], 'iteration')} per epoch, "
                                   f"{plural(payload['epochs'], 'epoch')} "
                                   f"({payload['total_iterations']} iterations).", highlight=False)
                asked = payload.get("requested_mini_batch_size")
                if asked and payload["n_train"] < asked:
                    self.console.print(f"[dim]Batch size {asked} is more than the {payload['n_train']} training "
                                       f"images: each mini-batch holds {payload['mini_batch_size']} of them, as "
                                       "MATLAB trains it.[/dim]")
            if self.verbose:
                self.validation = bool(payload.get("n_validation"))
                for line in header(self.validation):
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
                self.console.print(format_row(payload, self.validation), highlight=False, markup=False,
                                   soft_wrap=True)
        elif event == "end":
            if self.progress is not None:
                self.progress.stop()
            if self.verbose:
                self.console.print(rule(self.validation), highlight=False, markup=False, soft_wrap=True)
                if not self.matlab_device:
                    self.console.print(f"Training finished: {payload['iterations']} iterations in "
                                       f"{hhmmss(payload['time'])}.", highlight=False)
