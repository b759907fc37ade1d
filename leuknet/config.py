"""The run configuration: one frozen, typed definition, resolved as defaults < recipe < flags and checked whole
before any file is read.

Every field of :class:`RunConfig` carries its command-line help, its bounds or choices, and (for network options)
the models it applies to; ``leuknet train``'s options are generated from these fields, ``config.json`` records
them, and an interrupted run's resume record is the same dictionary. Values derived while a run starts (the
global batch of a multi-GPU profile, replicas, devices) live in the run's plan, never in the configuration.
"""

from __future__ import annotations

import difflib
import json
import math
import os
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import datetime
from enum import StrEnum
from pathlib import Path

from leuknet.errors import ConfigError

# ---- enumerated choices (the canonical value lists of the modules that implement them) -----------------------


def _choices(name: str, values) -> type[StrEnum]:
    return StrEnum(name, [(v.replace("-", "_").upper(), v) for v in values])


Device = _choices("Device", ("auto", "cpu", "gpu"))
Precision = _choices("Precision", ("fp32", "tf32", "bf16", "fp16"))
Backend = _choices("Backend", ("auto", "tensorflow", "jax"))  # leuknet.profiles.BACKENDS
Strategy = _choices("Strategy", ("auto", "default", "mirrored", "multi-worker"))
DatasetFormat = _choices("DatasetFormat", ("cnmc", "allidb", "folders"))
ColorSpace = _choices("ColorSpace", ("rgb", "hsv", "ycbcr", "hcbcr"))  # leuknet.colorspace.SPACES
SplitBy = _choices("SplitBy", ("cell", "subject"))
Balance = _choices("Balance", ("none", "undersample"))
ClassWeighting = _choices("ClassWeighting", ("none", "balanced"))
Normalization = _choices("Normalization", ("zerocenter", "zscore", "rescale-symmetric", "rescale-zero-one", "none"))
InputOrder = _choices("InputOrder", ("auto", "rgb", "bgr"))
Solver = _choices("Solver", ("sgdm", "adam", "rmsprop"))  # leuknet.spec.options.SOLVERS
Shuffle = _choices("Shuffle", ("once", "every-epoch", "never"))
Schedule = _choices("Schedule", ("none", "piecewise", "exponential"))
OutputNetwork = _choices("OutputNetwork", ("last-iteration", "best-validation-loss"))


def _opt(default, help, *, choices=None, min=None, max=None, flag=True, model_option=None, matlab=None,
         group="run", metavar=None):
    """A configuration field: ``help`` for the CLI, ``choices`` (a StrEnum), bounds, ``model_option`` (the build
    option of :func:`leuknet.models.build` it becomes), ``matlab`` (the trainingOptions name it sets)."""
    meta = dict(help=help, choices=choices, min=min, max=max, flag=flag, model_option=model_option, matlab=matlab,
                group=group, metavar=metavar)
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class RunConfig:
    # the run
    model: str = _opt("leuknet", "Model name (see `leuknet models`); default: the recipe's.")
    data: str | None = _opt(None, "Data folder (C-NMC, ALL-IDB or one folder per class). Default: the embedded "
                            "synthetic demo set.")
    dataset_format: DatasetFormat | None = _opt(None, "Force the data layout.", choices=DatasetFormat)
    labels: str | None = _opt(None, "CSV of file,label (e.g. ALL subtypes L1, L2, L3, normal).")
    recipe: str | None = _opt(None, "Recipe (see `leuknet recipes`). Default: demo without --data, the model's "
                              "recipe with it (leuknet-paper for LeukNet).")
    device: Device = _opt(Device.AUTO, "Device.", choices=Device)
    backend: Backend = _opt(Backend.AUTO, "Keras backend: tensorflow (CPU profile: native kernels, tf.data), jax "
                            "(GPUs without TensorFlow), auto: $KERAS_BACKEND, else tensorflow where installed (and, "
                            "for --device gpu, seeing a GPU), else jax.", choices=Backend)
    precision: Precision | None = _opt(None, "fp32 (parity; CPU default), tf32 (GPU: TensorFloat-32 products, "
                                       "faster, not parity), bf16 (CPU with AVX512-BF16 or AMX, or GPU; JAX GPU "
                                       "default) or fp16 (TensorFlow GPU default, with loss scaling).",
                                       choices=Precision)
    strategy: Strategy = _opt(Strategy.AUTO, "mirrored: every visible GPU (global batch = per-replica batch x "
                              "replicas); multi-worker: cluster from TF_CONFIG or --workers.", choices=Strategy)
    seed: int = _opt(0, "Seed for splits, initial weights, shuffling and dropout.", min=0)
    out: str | None = _opt(None, "Run directory (default runs/<model>-<time>).")
    overwrite: bool = _opt(False, "Replace an existing run directory.")
    resume: bool = _opt(False, "Continue the interrupted run in --out from its last checkpoint (its saved settings "
                        "are used).", flag=False)
    checkpoint_every: int | None = _opt(None, "Also checkpoint every N iterations (always at epoch ends).", min=1)
    deterministic: bool = _opt(False, "Deterministic TensorFlow ops: same seed and data, same weights.")
    verbose: bool = _opt(True, "MATLAB's per-iteration table (trainingOptions Verbose).", flag=False)
    # data
    image_size: int = _opt(224, "Network input size (pixels, square).", min=32, model_option="image_size",
                           group="data")
    colorspace: ColorSpace = _opt(ColorSpace.RGB, "Colour space of the network input (MATLAB conversions).",
                                  choices=ColorSpace, model_option="colorspace", group="data")
    split: tuple = _opt((0.7, 0.2, 0.1), "train,validation,test fractions (splitEachLabel); fewer than three: "
                        "the rest is the test split.", group="data", metavar="T,V,T")
    split_by: SplitBy = _opt(SplitBy.CELL, "subject: no subject in two splits.", choices=SplitBy, group="data")
    balance: Balance = _opt(Balance.NONE, "undersample: every class cut to the smallest before splitting.",
                            choices=Balance, group="data")
    cache_mb: int = _opt(2048, "Memory budget for caching decoded images (MB).", min=0, group="data")
    demo_per_class: int = _opt(150, "Images per class in the demo set (without --data).", min=4, group="data")
    crop: int = _opt(0, "Border pixels cut before resizing (C-NMC recipe: 100).", min=0, model_option="crop",
                     group="data")
    balance_to: str | None = _opt(None, "train[,validation] images per class reached by random augmentation "
                                  "(C-NMC recipe: 10000,5000).", group="data", metavar="N[,M]")
    class_weighting: ClassWeighting = _opt(ClassWeighting.NONE, "balanced: classificationLayer ClassWeights "
                                           "N / (K n_c) from the training split.", choices=ClassWeighting,
                                           model_option="class_weights", group="data")
    augment: str = _opt("none", "none, rotate-mirror (training split x5), or on the fly (a fresh transform at "
                        "every read): random, oliveira, or imageDataAugmenter options as "
                        "'RandRotation=-20,20;RandXReflection=true'.", group="data")
    equalize: bool = _opt(False, "Cut every training class to the smallest after augmentation.", group="data")
    cv_fold: tuple | None = _opt(None, "A cross-validation fold as the test split: (K, fold, seed) of "
                                 "leuknet.data.split.cv_folds (by subject where the data has subjects); --split's "
                                 "train and validation fractions divide the other cells (leuknet colorspace --cv).",
                                 flag=False, group="data")
    # network
    weights: str | None = _opt(None, "Pretrained weights: .onnx, .keras or .weights.h5 (alexnet), a "
                               "keras.applications .h5 file (others); 'none' = from scratch.", model_option="weights",
                               group="network")
    input_order: InputOrder | None = _opt(None, "Channel order of ONNX weights.", choices=InputOrder,
                                          model_option="input_order", group="network")
    lr_factor: float = _opt(20.0, "Learn-rate factor of the new layers (transfer learning).", min=0.0,
                            model_option="lr_factor", group="network")
    freeze_base: bool = _opt(False, "Freeze the pretrained layers (learn-rate factor 0).", model_option="freeze_base",
                             group="network")
    fc_units: int = _opt(512, "Width of LeukNet's first fully connected layer, or of AlexNet's new one.", min=1,
                         model_option="fc_units", group="network")
    pool_stride: int = _opt(2, "LeukNet's max-pooling stride.", min=1, model_option="pool_stride", group="network")
    normalization: Normalization = _opt(Normalization.ZEROCENTER, "imageInputLayer Normalization.",
                                        choices=Normalization, model_option="normalization", group="network")
    l1l2: float | None = _opt(None, "One lambda for L1 + L2 on the head's fully connected layers (VGG, Xception, "
                              "ResNet, EfficientNet).", min=0.0, model_option="l1l2", group="network")
    # trainingOptions
    solver: Solver = _opt(Solver.ADAM, "SolverName.", choices=Solver, matlab="SolverName", group="training")
    lr: float | None = _opt(None, "InitialLearnRate (default: MATLAB's, 0.01 sgdm, 0.001 adam/rmsprop).", min=0.0,
                            matlab="InitialLearnRate", group="training")
    epochs: int = _opt(30, "MaxEpochs.", min=1, matlab="MaxEpochs", group="training")
    batch_size: int = _opt(128, "MiniBatchSize (per replica on a multi-GPU profile).", min=1, matlab="MiniBatchSize",
                           group="training")
    momentum: float = _opt(0.9, "Momentum (sgdm).", min=0.0, max=1.0, matlab="Momentum", group="training")
    l2: float = _opt(1e-4, "L2Regularization.", min=0.0, matlab="L2Regularization", group="training")
    shuffle: Shuffle = _opt(Shuffle.ONCE, "Shuffle.", choices=Shuffle, matlab="Shuffle", group="training")
    validation_frequency: int = _opt(50, "ValidationFrequency (iterations).", min=1, matlab="ValidationFrequency",
                                     group="training")
    validation_patience: float | None = _opt(None, "ValidationPatience (default Inf: no early stop).", min=0.0,
                                             matlab="ValidationPatience", group="training")
    schedule: Schedule = _opt(Schedule.NONE, "LearnRateSchedule.", choices=Schedule, matlab="LearnRateSchedule",
                              group="training")
    lr_drop_factor: float = _opt(0.1, "LearnRateDropFactor (piecewise).", min=0.0, max=1.0,
                                 matlab="LearnRateDropFactor", group="training")
    lr_drop_period: int = _opt(10, "LearnRateDropPeriod (epochs, piecewise).", min=1, matlab="LearnRateDropPeriod",
                               group="training")
    final_lr: float | None = _opt(None, "The learn rate at the last epoch of the 'exponential' schedule.", min=0.0,
                                  matlab="FinalLearnRate", group="training")
    verbose_frequency: int = _opt(50, "VerboseFrequency (iterations).", min=1, matlab="VerboseFrequency",
                                  group="training")
    output_network: OutputNetwork = _opt(OutputNetwork.LAST_ITERATION, "OutputNetwork.", choices=OutputNetwork,
                                         matlab="OutputNetwork", group="training")
    options: tuple = _opt((), "Any other trainingOptions Name=Value (repeat the flag), e.g. "
                          "GradientThreshold=1.", flag=False, group="training")

    def to_dict(self) -> dict:
        d = asdict(self)
        d["split"] = list(self.split)
        d["options"] = [list(p) for p in self.options]
        d["cv_fold"] = None if self.cv_fold is None else list(self.cv_fold)
        return {k: (str(v) if isinstance(v, StrEnum) else v) for k, v in d.items()}

    def training_options(self, **extra):
        """The MATLAB TrainingOptions of this configuration (exact names and choices)."""
        from leuknet.spec.options import TrainingOptions

        kw = {f.metadata["matlab"]: getattr(self, f.name) for f in fields(self)
              if f.metadata.get("matlab") and getattr(self, f.name) is not None}
        kw = {k: (str(v) if isinstance(v, StrEnum) else v) for k, v in kw.items()}
        if self.solver != "sgdm":
            kw.pop("Momentum")
        kw.update(dict(self.options))
        kw.update(extra)
        return TrainingOptions(**kw)


FIELDS = {f.name: f for f in fields(RunConfig)}


def flag_name(name: str) -> str:
    """The command-line option of a field: image_size -> --image-size."""
    return "--" + name.replace("_", "-")


RECIPES: dict[str, dict] = {
    # Anilkumar, Manoj, Sagi (LeukNet): Adam, 1e-4, 10 epochs, validation every 5 iterations, learn rate x0.5
    # every 7 epochs, 70/20/10, classes balanced by undersampling. The paper does not give the mini-batch size:
    # MATLAB's default 128.
    "leuknet-paper": dict(model="leuknet", solver="adam", lr=1e-4, epochs=10, batch_size=128,
                          validation_frequency=5, schedule="piecewise", lr_drop_factor=0.5, lr_drop_period=7,
                          split=(0.7, 0.2, 0.1), balance="undersample", image_size=224),
    # Shafique & Tehsin (2018): MATLAB alexnet, layers(1:end-3) + FC 1024 + ReLU + FC(classes), new layers'
    # learn-rate factors 20, mini-batch 28, 100 epochs, 60/40 split, training data x5 by rotation and mirroring,
    # then classes equalised. Solver and rate are not given: MATLAB's transfer-learning example (which the paper
    # follows) uses sgdm with InitialLearnRate 1e-4.
    "alexnet-shafique": dict(model="alexnet", solver="sgdm", lr=1e-4, momentum=0.9, epochs=100, batch_size=28,
                             split=(0.6, 0.0, 0.4), balance="none", augment="rotate-mirror", equalize=True,
                             image_size=227, fc_units=1024, lr_factor=20.0, validation_frequency=50),
    # de Oliveira & Dantas (2021), C-NMC 2019: VGG16/VGG19/Xception from scratch with new tops, 100-pixel border
    # crop (450 -> 250, no resizing), pixels / 255 minus the channel mean, one L1+L2 lambda on the FC layers
    # (1e-4 VGG, 7e-4 Xception: the model's default), Adam, learning rate decaying exponentially 1e-5 -> 1e-6
    # (VGG; 5e-6 -> 1e-6 Xception) over 400 epochs, 6:3:1 split, training and validation sets balanced by
    # augmentation to 10,000 / 5,000 images per class. Mini-batch: not given, 32 here. MATLAB's L2 is off.
    "cnmc-oliveira": dict(model="vgg16", solver="adam", lr=1e-5, final_lr=1e-6, schedule="exponential",
                          epochs=400, batch_size=32, l2=0.0, split=(0.6, 0.3, 0.1), crop=100, image_size=250,
                          balance_to="10000,5000", validation_frequency=500, verbose_frequency=100),
    # Senthilkumar et al. (2023): transfer learning (VGG16, ResNet50, EfficientNet), class weighting for the
    # imbalance. Solver and schedule: Adam 1e-4, 30 epochs, batch 32 (not given in the paper).
    "senthilkumar-transfer": dict(model="resnet50", solver="adam", lr=1e-4, epochs=30, batch_size=32,
                                  split=(0.7, 0.15, 0.15), class_weighting="balanced", image_size=224,
                                  validation_frequency=50),
    # A short run for the embedded synthetic data (a few minutes on a 2-core CPU).
    "demo": dict(model="leuknet", solver="adam", lr=1e-4, epochs=6, batch_size=32, validation_frequency=5,
                 verbose_frequency=5, schedule="none", split=(0.7, 0.2, 0.1), balance="undersample",
                 image_size=224, demo_per_class=150),
}

# settings a recipe gives per model (applied unless a flag sets them)
RECIPE_MODEL_OVERRIDES = {("cnmc-oliveira", "xception"): {"lr": 5e-6, "image_size": 250}}

RECIPE_NOTES = {
    "leuknet-paper": "LeukNet paper: adam 1e-4, 10 epochs, batch 128, validate every 5 it., lr x0.5 every 7 epochs",
    "demo": "embedded synthetic demo: adam 1e-4, 6 epochs, batch 32, 300 cells",
    "alexnet-shafique": "Shafique & Tehsin: AlexNet transfer, sgdm 1e-4, factor 20, batch 28, 100 epochs, 60/40",
    "cnmc-oliveira": "de Oliveira & Dantas: VGG/Xception from scratch, crop 100, exp. decay, balanced by augmentation",
    "senthilkumar-transfer": "Senthilkumar et al.: transfer learning with class weighting",
}


def list_recipes() -> list[str]:
    return sorted(RECIPES)


# ---- resolution and validation ------------------------------------------------------------------------------


def did_you_mean(value, allowed) -> str:
    """' (did you mean X?)' for the allowed value closest to ``value`` ('' where none is close)."""
    close = difflib.get_close_matches(str(value), [str(a) for a in allowed], n=1, cutoff=0.5)
    return f" (did you mean {close[0]}?)" if close else ""


def _one_of(name, value, allowed):
    allowed = [str(a) for a in allowed]
    if str(value) not in allowed:
        raise ConfigError(f"{flag_name(name)} {value!r} is not one of {', '.join(allowed)}"
                          f"{did_you_mean(value, allowed)}")


def _coerce(name: str, value):
    """A value of field ``name`` as its declared type, or a ConfigError naming the flag and the value."""
    f = FIELDS[name]
    meta, typ = f.metadata, f.type
    if value is None:
        if "None" not in typ:
            raise ConfigError(f"{flag_name(name)} needs a value")
        return None
    if meta.get("choices"):
        _one_of(name, str(value).lower() if isinstance(value, str) else value, list(meta["choices"]))
        return meta["choices"](str(value).lower())
    base = typ.split("|")[0].strip()
    try:
        if base == "bool":
            if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "yes", "no"):
                value = value.lower() in ("true", "1", "yes")
            if not isinstance(value, bool):
                raise TypeError
        elif base == "int":
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise TypeError
            value = int(value)
        elif base == "float":
            if isinstance(value, bool):
                raise TypeError
            value = float(value)
            if math.isnan(value):
                raise ValueError
        elif base == "str":
            value = os.fspath(value) if isinstance(value, os.PathLike) else value
            if not isinstance(value, str):
                raise TypeError
    except (TypeError, ValueError):
        raise ConfigError(f"{flag_name(name)} must be {'a whole number' if base == 'int' else 'a number' if base == 'float' else base}, received {value!r}") from None
    lo, hi = meta.get("min"), meta.get("max")
    if lo is not None and value < lo or hi is not None and value > hi:
        bounds = f"at least {lo}" if hi is None else f"between {lo} and {hi}"
        raise ConfigError(f"{flag_name(name)} must be {bounds}, received {value}")
    return value


def parse_balance_to(text) -> tuple[int, int]:
    """'10000,5000' -> (10000, 5000); '10000' -> (10000, 0): the training split only."""
    parts = [p.strip() for p in str(text).split(",")]
    try:
        counts = [int(p) for p in parts]
    except ValueError:
        counts = []
    if not 1 <= len(parts) <= 2 or len(counts) != len(parts) or any(c < 1 for c in counts):
        raise ConfigError(f"--balance-to must be images per class for train[,validation] such as 10000,5000, "
                          f"received {text!r}")
    return counts[0], counts[1] if len(counts) > 1 else 0


def parse_cv_fold(value) -> tuple[int, int, int] | None:
    """(K, fold, seed) of a cross-validation test fold, fold counted from 0: K >= 2, 0 <= fold < K, seed >= 0."""
    if value is None:
        return None
    try:
        k, fold, seed = (int(v) for v in value)
    except (TypeError, ValueError):
        raise ConfigError(f"cv_fold must be (K, fold, seed), received {value!r}") from None
    if k < 2 or not 0 <= fold < k or seed < 0:
        raise ConfigError(f"cv_fold (K, fold, seed) needs K >= 2, 0 <= fold < K and seed >= 0, received {value!r}")
    return (k, fold, seed)


def parse_matlab_option(text: str) -> tuple[str, object]:
    """``--option GradientThreshold=1`` -> ('GradientThreshold', 1.0); values: numbers, Inf, true/false, text."""
    name, sep, value = str(text).partition("=")
    name, value = name.strip(), value.strip()
    if not sep or not name or not value:
        raise ConfigError(f"--option must be Name=Value (a trainingOptions name), received {text!r}")
    low = value.lower()
    if low in ("true", "false"):
        return name, low == "true"
    if low in ("inf", "+inf"):
        return name, math.inf
    try:
        return name, int(value)
    except ValueError:
        pass
    try:
        return name, float(value)
    except ValueError:
        return name, value.strip("'\"")


def _check_options(cfg: RunConfig):
    """--option names: trainingOptions names that no dedicated flag sets, with valid values."""
    import dataclasses

    from leuknet.spec.options import TrainingOptions

    by_matlab = {f.metadata["matlab"]: f.name for f in fields(RunConfig) if f.metadata.get("matlab")}
    names = {f.name for f in dataclasses.fields(TrainingOptions)}
    for name, _ in cfg.options:
        if name in by_matlab:
            raise ConfigError(f"--option {name}=...: use {flag_name(by_matlab[name])} for {name}")
        if name in ("ValidationData", "OutputFcn", "CheckpointPath", "ExecutionEnvironment", "Plots",
                    "ValidateAtFirstIteration"):
            raise ConfigError(f"--option {name}: leuknet train sets {name} itself (validation split, run directory, "
                              "--device); use leuknet.matlab.trainNetwork to set it by hand")
        if name not in names:
            raise ConfigError(f"--option {name!r} is not a trainingOptions name{did_you_mean(name, sorted(names))}")
    cfg.training_options()  # every value checked as trainingOptions checks it


def _check_applicability(cfg: RunConfig, given: dict):
    """An option given (by flag or recipe) that the chosen model does not take is an error naming both."""
    from leuknet import models

    accepted = models.accepts(cfg.model)
    for name, source in given.items():
        opt = FIELDS[name].metadata.get("model_option")
        if opt and opt not in accepted:
            takes = sorted(n for n, f in FIELDS.items() if f.metadata.get("model_option") in accepted)
            raise ConfigError(f"{flag_name(name)}{source} does not apply to model {cfg.model} (it takes "
                              f"{', '.join(flag_name(t) for t in takes)})")
    if cfg.momentum != FIELDS["momentum"].default and cfg.solver != "sgdm" and "momentum" in given:
        raise ConfigError(f"--momentum applies to the sgdm solver, not {cfg.solver}")
    if cfg.final_lr is not None and cfg.schedule != "exponential":
        raise ConfigError(f"--final-lr applies to --schedule exponential, not {cfg.schedule}")
    if cfg.input_order and not str(cfg.weights or "").lower().endswith(".onnx"):
        raise ConfigError("--input-order applies to ONNX weights (--weights file.onnx)")


def _check_paths(cfg: RunConfig):
    if cfg.data and not Path(cfg.data).is_dir():
        what = "is a file, not a folder" if Path(cfg.data).exists() else "does not exist"
        raise ConfigError(f"--data {cfg.data} {what}")
    if cfg.labels and not Path(cfg.labels).is_file():
        raise ConfigError(f"--labels {cfg.labels} does not exist")
    if cfg.weights and cfg.weights != "none" and not Path(cfg.weights).is_file():
        from leuknet.weights import WHERE

        raise ConfigError(f"--weights {cfg.weights} does not exist. " + (WHERE if cfg.model == "alexnet" else
                          "leuknet never downloads weights: save the keras.applications file and pass its path."))
    out = Path(cfg.out)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out} exists and is not a folder")


def validate(cfg: RunConfig, given: dict | None = None) -> RunConfig:
    """Check every value, path and combination of ``cfg`` (no file is read); returns ``cfg``."""
    from leuknet import models
    from leuknet.data.split import parse_fractions

    models.model_info(cfg.model)  # unknown model: ConfigError naming the choices
    if cfg.recipe is not None and cfg.recipe not in RECIPES:
        _one_of("recipe", cfg.recipe, list_recipes())
    parse_fractions(cfg.split)
    parse_cv_fold(cfg.cv_fold)
    if cfg.balance_to:
        parse_balance_to(cfg.balance_to)
    if cfg.augment not in ("none", "rotate-mirror"):
        from leuknet.spec.augmenter import augmenter_from_spec

        augmenter_from_spec(cfg.augment)  # an imageDataAugmenter spec: each option and value checked
    _check_applicability(cfg, given if given is not None else {})
    _check_options(cfg)
    _check_paths(cfg)
    return cfg


def default_out(model: str) -> str:
    return str(Path("runs") / f"{model}-{datetime.now().strftime('%Y%m%d-%H%M%S')}")


def resolve(flags: dict) -> RunConfig:
    """defaults < recipe < flags (a flag whose value is None is not given), coerced to the declared types and
    validated whole (:func:`validate`) before anything is read."""
    unknown = sorted(set(flags) - set(FIELDS))
    if unknown:
        raise ConfigError(f"unknown setting {unknown[0]!r}{did_you_mean(unknown[0], sorted(FIELDS))}")
    given = {k: v for k, v in flags.items() if v is not None and not (k == "options" and not v)}
    recipe = given.get("recipe")
    if recipe is not None and recipe not in RECIPES:
        _one_of("recipe", recipe, list_recipes())
    if not recipe:
        if given.get("model") and given["model"] != "leuknet":
            from leuknet import models

            recipe = models.model_info(given["model"])["default_recipe"]
        else:
            recipe = "demo" if not given.get("data") else "leuknet-paper"
    values = dict(RECIPES[recipe])
    sources = {k: f" (from recipe {recipe})" for k in values}
    model = given.get("model", values.get("model"))
    extra = RECIPE_MODEL_OVERRIDES.get((recipe, model), {})
    values.update(extra)
    sources.update({k: f" (from recipe {recipe})" for k in extra})
    values.update(given)
    sources.update({k: "" for k in given})
    values["recipe"] = recipe
    from leuknet.data.split import parse_fractions

    typed = {}
    for k, v in values.items():
        if k == "split":
            typed[k] = parse_fractions(v)
        elif k == "options":
            typed[k] = tuple(parse_matlab_option(o) if isinstance(o, str) else tuple(o) for o in v)
        elif k == "cv_fold":
            typed[k] = parse_cv_fold(v)
        else:
            typed[k] = _coerce(k, v)
    if typed.get("weights") in ("", "none"):
        typed["weights"] = None
    if not typed.get("out"):
        typed["out"] = default_out(typed.get("model", "leuknet"))
    cfg = RunConfig(**typed)
    if cfg.data and "demo_per_class" in given:
        raise ConfigError("--demo-per-class applies to the embedded demo set, not to --data")
    return validate(cfg, {k: s for k, s in sources.items() if k in FIELDS})


def from_dict(d: dict) -> RunConfig:
    """A configuration recorded by a run (config.json's ``config``, or the resume record), typed again."""
    known = {k: v for k, v in d.items() if k in FIELDS}
    typed = {}
    for k, v in known.items():
        if k == "split":
            typed[k] = tuple(v)
        elif k == "options":
            typed[k] = tuple(tuple(p) for p in v)
        elif k == "cv_fold":
            typed[k] = parse_cv_fold(v)
        else:
            typed[k] = _coerce(k, v)
    return RunConfig(**typed)


def resume_record_path(out) -> Path:
    return Path(str(out) + ".partial") / "run_config.json"


def load_resume(out) -> RunConfig:
    """The settings of the interrupted run in ``<out>.partial`` (saved when it started)."""
    p = resume_record_path(out)
    if not p.is_file():
        if (Path(out) / "model.keras").is_file():
            raise ConfigError(f"run {out} is already complete; nothing to resume")
        if p.parent.is_dir():
            raise ConfigError(f"{p.parent} has no resume record (it stopped before training began): start again "
                              f"with --out {out} --overwrite")
        raise ConfigError(f"no interrupted run to resume at {p.parent}")
    with open(p, encoding="utf-8") as f:
        d = json.load(f)
    return replace(from_dict(d), resume=True, overwrite=False, out=str(out))


def load(path) -> RunConfig:
    with open(path, encoding="utf-8") as f:
        return from_dict(json.load(f)["config"])


__all__ = ["RunConfig", "RECIPES", "resolve", "validate", "list_recipes", "load_resume", "from_dict", "flag_name",
           "parse_balance_to", "parse_matlab_option"]
