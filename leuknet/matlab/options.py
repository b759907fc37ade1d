"""``trainingOptions(solverName, Name, Value, ...)`` with MATLAB's option names and defaults.

Every option MATLAB R2021a documents for sgdm, adam and rmsprop
(https://www.mathworks.com/help/deeplearning/ref/trainingoptions.html, and the TrainingOptionsSGDM /
TrainingOptionsADAM / TrainingOptionsRMSProp property pages) is accepted, as keywords or positional pairs, in any
case. Options that apply only to sequence networks (``SequenceLength``, ``SequencePaddingValue``,
``SequencePaddingDirection``) are refused with the reason; ``WorkerLoad`` is refused (no parallel pool).
``ExecutionEnvironment`` is mapped onto leuknet's device profiles by ``trainNetwork``.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, fields

import numpy as np

from leuknet.errors import ConfigError
from leuknet.solvers import CLIP_METHODS, SOLVERS

SHUFFLE = ("once", "every-epoch", "never")
EXECUTION_ENVIRONMENTS = ("auto", "cpu", "gpu", "multi-gpu", "parallel")
BN_STATISTICS = ("population", "moving")
# options that exist in MATLAB but cannot apply here, with the reason
REFUSED = {
    "SequenceLength": "it applies to sequence (LSTM) networks; image networks have no sequence length",
    "SequencePaddingValue": "it applies to sequence (LSTM) networks; image networks are not padded",
    "SequencePaddingDirection": "it applies to sequence (LSTM) networks; image networks are not padded",
    "WorkerLoad": "it divides work in a MATLAB parallel pool; leuknet's multi-worker training splits batches evenly "
                  "(leuknet train --workers)",
}
SCHEDULES = ("none", "piecewise", "exponential")
OUTPUT_NETWORKS = ("last-iteration", "best-validation-loss")


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
        pos = {"InitialLearnRate": self.InitialLearnRate, "Epsilon": self.Epsilon}
        for k, v in pos.items():
            if not (isinstance(v, (int, float)) and v > 0 and math.isfinite(v)):
                raise ConfigError(f"{k} must be a positive number, received {v!r}")
        for k in ("MaxEpochs", "MiniBatchSize", "ValidationFrequency", "VerboseFrequency", "LearnRateDropPeriod"):
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

    def to_dict(self) -> dict:
        d = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "ValidationData"}
        d["ValidationData"] = None if self.ValidationData is None else "given"
        d["OutputFcn"] = None if self.OutputFcn is None else "given"
        d["CheckpointPath"] = str(self.CheckpointPath)
        return {k: (None if isinstance(v, float) and math.isinf(v) else v) for k, v in d.items()}


_NAMES = {f.name for f in fields(TrainingOptions)} - {"SolverName"}
_CHOICES = {"Shuffle": SHUFFLE, "LearnRateSchedule": SCHEDULES, "OutputNetwork": OUTPUT_NETWORKS,
            "GradientThresholdMethod": CLIP_METHODS, "ExecutionEnvironment": EXECUTION_ENVIRONMENTS,
            "Plots": ("none", "training-progress"), "BatchNormalizationStatistics": BN_STATISTICS}
_SOLVER_ONLY = {"Momentum": ("sgdm",), "GradientDecayFactor": ("adam",),
                "SquaredGradientDecayFactor": ("adam", "rmsprop"), "Epsilon": ("adam", "rmsprop")}
_BOOLEAN = ("Verbose", "ResetInputNormalization", "ValidateAtFirstIteration", "DispatchInBackground")
_INTEGER = ("MaxEpochs", "MiniBatchSize", "ValidationFrequency", "VerboseFrequency", "LearnRateDropPeriod")


def trainingOptions(solverName="sgdm", *args, **options) -> TrainingOptions:
    """``options = trainingOptions('adam', 'InitialLearnRate', 1e-4, 'MaxEpochs', 10, ...)``: name-value pairs as
    positional pairs or keywords, names in any case (MATLAB's). Unknown names are an error; sequence-network
    options are refused with the reason."""
    from leuknet.matlab.conventions import boolean, choice, options_only

    fn = "trainingOptions"
    solver = choice(fn, "solverName", solverName, SOLVERS)
    names = {n: None for n in sorted(_NAMES | set(REFUSED))}
    o = options_only(fn, args, options, names)
    given = {k: o[k] for k in o.given}
    for k in given:
        if k in REFUSED:
            raise ConfigError(f"{fn}: option {k!r} is not supported: {REFUSED[k]}")
    for k, solvers in _SOLVER_ONLY.items():  # MATLAB's TrainingOptionsADAM has no Momentum, and so on
        if k in given and solver not in solvers:
            raise ConfigError(f"{fn}: option {k!r} does not apply to the {solver!r} solver (only to "
                              f"{' and '.join(map(repr, solvers))})")
    for k in ("ValidationPatience", "GradientThreshold"):
        if k in given and (given[k] is None or (isinstance(given[k], str) and given[k].lower() == "inf")):
            given[k] = math.inf
    for k in _BOOLEAN:
        if k in given:
            given[k] = boolean(fn, k, given[k])
    for k in _INTEGER:
        v = given.get(k)
        if isinstance(v, float) and v.is_integer():
            given[k] = int(v)
    if "Plots" in given and given["Plots"] is None:
        given["Plots"] = "none"
    for k, allowed in _CHOICES.items():  # MATLAB's validatestring: any case, an unambiguous prefix
        if isinstance(given.get(k), str):
            v = given[k].lower()
            if k == "Shuffle" and v == "everyepoch":
                v = "every-epoch"
            given[k] = choice(fn, k, "population" if k == "BatchNormalizationStatistics" and v == "auto" else v,
                              allowed)
    try:
        return TrainingOptions(SolverName=solver, **given)
    except ConfigError as e:
        raise ConfigError(f"{fn}: {e}") from None


__all__ = ["trainingOptions", "TrainingOptions"]
