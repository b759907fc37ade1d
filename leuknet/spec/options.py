"""The options of a training run: :class:`TrainingOptions`, with MATLAB's field names and defaults.

The fields are those of MATLAB R2021a's ``TrainingOptionsSGDM`` / ``TrainingOptionsADAM`` /
``TrainingOptionsRMSProp`` (https://www.mathworks.com/help/deeplearning/ref/trainingoptions.html), plus two of
leuknet's; :meth:`TrainingOptions.validate` checks them. MATLAB's calling convention for building one
(``trainingOptions('adam', 'InitialLearnRate', 1e-4, ...)``, names in any case, values by prefix) is the skin's:
:func:`leuknet.matlab.options.trainingOptions`.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, fields

import numpy as np

from leuknet.errors import ConfigError

SOLVERS = ("sgdm", "adam", "rmsprop")  # leuknet.solvers implements them
CLIP_METHODS = ("l2norm", "global-l2norm", "absolute-value")
SHUFFLE = ("once", "every-epoch", "never")
EXECUTION_ENVIRONMENTS = ("auto", "cpu", "gpu", "multi-gpu", "parallel")
BN_STATISTICS = ("population", "moving")
SCHEDULES = ("none", "piecewise", "exponential")
OUTPUT_NETWORKS = ("last-iteration", "best-validation-loss")
REAL = ("InitialLearnRate", "Momentum", "GradientDecayFactor", "SquaredGradientDecayFactor", "Epsilon",
        "ValidationPatience", "L2Regularization", "LearnRateDropFactor", "GradientThreshold", "FinalLearnRate")
BOOLEAN = ("Verbose", "ResetInputNormalization", "DispatchInBackground", "ValidateAtFirstIteration")
INTEGER = ("MaxEpochs", "MiniBatchSize", "ValidationFrequency", "VerboseFrequency", "LearnRateDropPeriod")


@dataclass
class TrainingOptions:
    """MATLAB ``TrainingOptions``. Field names are MATLAB's; defaults are MATLAB's (adam/rmsprop take
    InitialLearnRate 0.001, sgdm 0.01)."""

    SolverName: str = "sgdm"
    InitialLearnRate: float | None = None
    Momentum: float = 0.9
    GradientDecayFactor: float = 0.9
    SquaredGradientDecayFactor: float | None = None
    Epsilon: float = 1e-8
    MaxEpochs: int = 30
    MiniBatchSize: int = 128
    Shuffle: str = "once"
    ValidationData: object = None
    ValidationFrequency: int = 50
    ValidationPatience: float = math.inf
    L2Regularization: float = 1e-4
    LearnRateSchedule: str = "none"
    LearnRateDropFactor: float = 0.1
    LearnRateDropPeriod: int = 10
    GradientThreshold: float = math.inf
    GradientThresholdMethod: str = "l2norm"
    Verbose: bool = True
    VerboseFrequency: int = 50
    OutputNetwork: str = "last-iteration"
    ResetInputNormalization: bool = True
    Plots: str = "none"
    BatchNormalizationStatistics: str = "population"
    ExecutionEnvironment: str = "auto"
    CheckpointPath: str = ""
    OutputFcn: object = None
    DispatchInBackground: bool = False
    # leuknet additions (not MATLAB options): validate at iteration 1 as MATLAB's printed tables show;
    # FinalLearnRate for the 'exponential' schedule (de Oliveira & Dantas: 1e-5 -> 1e-6 over the epochs)
    ValidateAtFirstIteration: bool = True
    FinalLearnRate: float | None = None

    def __post_init__(self):
        self.validate()

    def validate(self):
        s = self.SolverName
        if s not in SOLVERS:
            raise ConfigError(f"unknown solver {s!r}; choose one of {', '.join(SOLVERS)}")
        if self.InitialLearnRate is None:
            self.InitialLearnRate = 0.01 if s == "sgdm" else 0.001
        if self.SquaredGradientDecayFactor is None:
            self.SquaredGradientDecayFactor = 0.999 if s == "adam" else 0.9
        for k in REAL:  # numbers before any comparison: a text value is a ConfigError, not a TypeError
            v = getattr(self, k)
            if not (v is None and k == "FinalLearnRate") and (
                    isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, float, np.integer, np.floating))
                    or math.isnan(v)):
                raise ConfigError(f"{k} must be a number, received {v!r}")
        for k in BOOLEAN:  # MATLAB's logical scalar: true/false or 1/0
            v = getattr(self, k)
            if isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v in (0, 1):
                setattr(self, k, bool(v))
            elif not isinstance(v, (bool, np.bool_)):
                raise ConfigError(f"{k} must be true or false, received {v!r}")
        pos = {"InitialLearnRate": self.InitialLearnRate, "Epsilon": self.Epsilon}
        for k, v in pos.items():
            if not (isinstance(v, (int, float)) and v > 0 and math.isfinite(v)):
                raise ConfigError(f"{k} must be a positive number, received {v!r}")
        for k in INTEGER:
            v = getattr(self, k)
            if not (isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= 1):
                raise ConfigError(f"{k} must be a positive integer, received {v!r}")
        for k in ("Momentum", "GradientDecayFactor", "SquaredGradientDecayFactor", "LearnRateDropFactor"):
            v = getattr(self, k)
            if not (0 <= v <= 1 if k == "LearnRateDropFactor" else 0 <= v < 1):
                raise ConfigError(f"{k} must lie in [0, 1), received {v!r}")
        if self.L2Regularization < 0:
            raise ConfigError(f"L2Regularization must be >= 0, received {self.L2Regularization!r}")
        if not self.GradientThreshold > 0:
            raise ConfigError(f"GradientThreshold must be positive, received {self.GradientThreshold!r}")
        if not self.ValidationPatience > 0:
            raise ConfigError(f"ValidationPatience must be positive or Inf, received {self.ValidationPatience!r}")
        if self.Shuffle == "everyepoch":  # the spelling of recent releases
            self.Shuffle = "every-epoch"
        if self.BatchNormalizationStatistics == "auto":  # recent releases: 'auto' = population for trainNetwork
            self.BatchNormalizationStatistics = "population"
        for k, allowed in (("Shuffle", SHUFFLE), ("LearnRateSchedule", SCHEDULES),
                           ("OutputNetwork", OUTPUT_NETWORKS), ("GradientThresholdMethod", CLIP_METHODS),
                           ("ExecutionEnvironment", EXECUTION_ENVIRONMENTS), ("Plots", ("none", "training-progress")),
                           ("BatchNormalizationStatistics", BN_STATISTICS)):
            if getattr(self, k) not in allowed:
                raise ConfigError(f"{k} must be one of {', '.join(allowed)}, received {getattr(self, k)!r}")
        if self.OutputFcn is not None and not (callable(self.OutputFcn) or (
                isinstance(self.OutputFcn, (list, tuple)) and all(callable(f) for f in self.OutputFcn))):
            raise ConfigError(f"OutputFcn must be a function or a list of functions, received {self.OutputFcn!r}")
        if self.CheckpointPath is None:
            self.CheckpointPath = ""
        if not isinstance(self.CheckpointPath, (str, os.PathLike)):
            raise ConfigError(f"CheckpointPath must be a folder name, received {self.CheckpointPath!r}")
        if self.CheckpointPath and not os.path.isdir(self.CheckpointPath):
            raise ConfigError(f"CheckpointPath {str(self.CheckpointPath)!r} does not exist (MATLAB requires an "
                              "existing folder)")

    def learn_rate(self, epoch: int) -> float:
        """Base learn rate in ``epoch`` (counted from 1): piecewise = Initial * Drop^floor((epoch-1)/Period)."""
        if self.LearnRateSchedule == "piecewise":
            return self.InitialLearnRate * self.LearnRateDropFactor ** ((epoch - 1) // self.LearnRateDropPeriod)
        if self.LearnRateSchedule == "exponential":
            # Initial at epoch 1, FinalLearnRate at MaxEpochs, geometric in between
            final = self.FinalLearnRate if self.FinalLearnRate else self.InitialLearnRate
            if self.MaxEpochs == 1:
                return self.InitialLearnRate
            return self.InitialLearnRate * (final / self.InitialLearnRate) ** ((epoch - 1) / (self.MaxEpochs - 1))
        return self.InitialLearnRate

    def __repr__(self):
        """MATLAB's display of the options object (``options = trainingOptions(...)`` without a semicolon): the
        class line, then every property right-aligned on its name, in the order MATLAB sessions print them
        (transcripts of TrainingOptionsADAM displays), values as MATLAB's short format shows them. The sequence
        options and WorkerLoad, which leuknet refuses, show MATLAB's defaults."""
        solver = {"sgdm": "SGDM", "adam": "ADAM", "rmsprop": "RMSProp"}[self.SolverName]
        first = {"sgdm": ["Momentum"], "adam": ["GradientDecayFactor", "SquaredGradientDecayFactor", "Epsilon"],
                 "rmsprop": ["SquaredGradientDecayFactor", "Epsilon"]}[self.SolverName]
        shown = [(k, _REFUSED_SHOWN[k] if k in _REFUSED_SHOWN else _matlab_value(getattr(self, k)))
                 for k in first + _DISPLAYED]
        if not self.ValidateAtFirstIteration:  # leuknet's additions, where set
            shown.append(("ValidateAtFirstIteration", "0"))
        if self.FinalLearnRate is not None:
            shown.append(("FinalLearnRate", _matlab_value(self.FinalLearnRate)))
        width = max(len(k) for k, _ in shown)
        lines = [f"  TrainingOptions{solver} with properties:", ""]
        lines += [f"    {k:>{width}}: {v}" for k, v in shown]
        return "\n".join(lines) + "\n"

    def to_dict(self) -> dict:
        d = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "ValidationData"}
        d["ValidationData"] = None if self.ValidationData is None else "given"
        d["OutputFcn"] = None if self.OutputFcn is None else "given"
        d["CheckpointPath"] = str(self.CheckpointPath)
        return {k: (None if isinstance(v, float) and math.isinf(v) else v) for k, v in d.items()}


# MATLAB's display order after the solver's own properties (a MATLAB session's TrainingOptionsADAM display)
_DISPLAYED = ["InitialLearnRate", "LearnRateSchedule", "LearnRateDropFactor", "LearnRateDropPeriod",
              "L2Regularization", "GradientThresholdMethod", "GradientThreshold", "MaxEpochs", "MiniBatchSize",
              "Verbose", "VerboseFrequency", "ValidationData", "ValidationFrequency", "ValidationPatience", "Shuffle",
              "CheckpointPath", "ExecutionEnvironment", "WorkerLoad", "OutputFcn", "Plots", "SequenceLength",
              "SequencePaddingValue", "SequencePaddingDirection", "DispatchInBackground", "ResetInputNormalization",
              "BatchNormalizationStatistics", "OutputNetwork"]
# the options leuknet refuses (leuknet/matlab/options.py), shown with MATLAB's defaults
_REFUSED_SHOWN = {"WorkerLoad": "[]", "SequenceLength": "'longest'", "SequencePaddingValue": "0",
                  "SequencePaddingDirection": "'right'"}


def _matlab_value(v) -> str:
    """A property value as MATLAB's display shows it: text quoted, logicals 1/0, whole numbers bare, other numbers
    with four decimals (``1.0000e-04`` below 0.001), Inf, [] for nothing, ``@name`` for a function, ``[1x1 Class]``
    for an object (a datastore), ``{1x2 cell}`` for {X, Y}."""
    if v is None:
        return "[]"
    if isinstance(v, (bool, np.bool_)):
        return "1" if v else "0"
    if isinstance(v, str):
        return f"'{v}'"
    if isinstance(v, os.PathLike):
        return f"'{os.fspath(v)}'"
    if isinstance(v, (int, float, np.integer, np.floating)):
        v = float(v)
        if math.isinf(v):
            return "Inf" if v > 0 else "-Inf"
        if v.is_integer() and abs(v) < 1e9:
            return str(int(v))
        return f"{v:.4f}" if abs(v) >= 1e-3 else f"{v:.4e}"
    if callable(v):
        return f"@{getattr(v, '__name__', 'function')}"
    if isinstance(v, (tuple, list)):
        return f"{{1\u00d7{len(v)} cell}}"
    name = {"ImageDatastore": "matlab.io.datastore.ImageDatastore"}.get(type(v).__name__, type(v).__name__)
    return f"[1\u00d71 {name}]"


__all__ = ["TrainingOptions"]
