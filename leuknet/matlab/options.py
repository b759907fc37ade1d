"""``trainingOptions(solverName, Name, Value, ...)`` with MATLAB's option names and defaults.

Every option MATLAB R2021a documents for sgdm, adam and rmsprop
(https://www.mathworks.com/help/deeplearning/ref/trainingoptions.html, and the TrainingOptionsSGDM /
TrainingOptionsADAM / TrainingOptionsRMSProp property pages) is accepted, as keywords or positional pairs, in any
case. Options that apply only to sequence networks (``SequenceLength``, ``SequencePaddingValue``,
``SequencePaddingDirection``) are refused with the reason; ``WorkerLoad`` is refused (no parallel pool).
``ExecutionEnvironment`` is mapped onto leuknet's device profiles by ``trainNetwork``. The options object,
:class:`~leuknet.spec.options.TrainingOptions`, is the core's (:mod:`leuknet.spec.options`).
"""

from __future__ import annotations

import math
from dataclasses import fields

from leuknet.errors import ConfigError
from leuknet.spec.options import BOOLEAN, CLIP_METHODS, INTEGER, SOLVERS
from leuknet.spec.options import (BN_STATISTICS, EXECUTION_ENVIRONMENTS, OUTPUT_NETWORKS, SCHEDULES,  # noqa: F401
                                  SHUFFLE, TrainingOptions)

# options that exist in MATLAB but cannot apply here, with the reason
REFUSED = {
    "SequenceLength": "it applies to sequence (LSTM) networks; image networks have no sequence length",
    "SequencePaddingValue": "it applies to sequence (LSTM) networks; image networks are not padded",
    "SequencePaddingDirection": "it applies to sequence (LSTM) networks; image networks are not padded",
    "WorkerLoad": "it divides work in a MATLAB parallel pool; leuknet's multi-worker training splits batches evenly "
                  "(leuknet train --workers)",
}


_NAMES = {f.name for f in fields(TrainingOptions)} - {"SolverName"}
_CHOICES = {"Shuffle": SHUFFLE, "LearnRateSchedule": SCHEDULES, "OutputNetwork": OUTPUT_NETWORKS,
            "GradientThresholdMethod": CLIP_METHODS, "ExecutionEnvironment": EXECUTION_ENVIRONMENTS,
            "Plots": ("none", "training-progress"), "BatchNormalizationStatistics": BN_STATISTICS}
_SOLVER_ONLY = {"Momentum": ("sgdm",), "GradientDecayFactor": ("adam",),
                "SquaredGradientDecayFactor": ("adam", "rmsprop"), "Epsilon": ("adam", "rmsprop")}


def trainingOptions(solverName="sgdm", *args, **options) -> TrainingOptions:
    """``options = trainingOptions('adam', 'InitialLearnRate', 1e-4, 'MaxEpochs', 10, ...)``: name-value pairs as
    positional pairs or keywords, names in any case (MATLAB's). Unknown names are an error; sequence-network
    options are refused with the reason."""
    from leuknet.spec.conventions import boolean, choice, options_only

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
    for k in BOOLEAN:
        if k in given:
            given[k] = boolean(fn, k, given[k])
    for k in INTEGER:
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
