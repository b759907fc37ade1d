"""Run configuration and recipes. Resolution order: defaults < recipe < command-line flags.

The fully resolved :class:`RunConfig` is saved as ``config.json`` in every run directory.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields

from leuknet.errors import ConfigError


@dataclass
class RunConfig:
    model: str = "leuknet"
    data: str | None = None  # None: the embedded synthetic demo set
    dataset_format: str | None = None
    recipe: str | None = None
    device: str = "auto"
    precision: str | None = None  # None: the profile's default (cpu fp32, gpu fp16)
    strategy: str = "auto"  # auto | default | mirrored
    seed: int = 0
    out: str | None = None
    overwrite: bool = False
    resume: bool = False  # continue an interrupted run in <out>.partial from its last checkpoint
    checkpoint_every: int | None = None  # also checkpoint every N iterations (always at epoch ends)
    deterministic: bool = False  # deterministic TensorFlow ops (same seed and data -> same weights)
    # data
    image_size: int = 224
    colorspace: str = "rgb"
    split: tuple = (0.7, 0.2, 0.1)
    split_by: str = "cell"
    balance: str = "none"
    cache_mb: int = 2048
    demo_per_class: int = 150
    labels: str | None = None  # CSV file,label (subtype labels)
    crop: int = 0  # border pixels cut before resizing (de Oliveira & Dantas: 100, 450 -> 250)
    balance_to: str | None = None  # "train,validation" per-class counts reached by augmentation (e.g. 10000,5000)
    class_weighting: str = "none"  # none | balanced (classificationLayer ClassWeights = N / (K * n_c))
    l1l2: float | None = None  # one lambda for L1 + L2 on the head's fully connected layers (applications)
    augment: str = "none"  # none | rotate-mirror (training split x5: rotations 90/180/270 and mirror) | on the fly:
    # random | oliveira | imageDataAugmenter options "RandRotation=-20,20;RandXReflection=true" (matlab.augmentation)
    equalize: bool = False  # after augmentation, cut every class of the training split to the smallest
    # network
    weights: str | None = None  # pretrained weights (alexnet): .onnx, .keras, .weights.h5; "none" = from scratch
    input_order: str | None = None  # rgb | bgr | auto for ONNX weights
    lr_factor: float = 20.0  # learn-rate factor of the new layers (transfer learning)
    freeze_base: bool = False
    fc_units: int = 512
    pool_stride: int = 2
    normalization: str = "zerocenter"
    # trainingOptions
    solver: str = "adam"
    lr: float | None = None
    epochs: int = 30
    batch_size: int = 128
    momentum: float = 0.9
    l2: float = 1e-4
    shuffle: str = "once"
    validation_frequency: int = 50
    validation_patience: float | None = None
    schedule: str = "none"
    lr_drop_factor: float = 0.1
    lr_drop_period: int = 10
    final_lr: float | None = None  # 'exponential' schedule: the rate at the last epoch
    verbose_frequency: int = 50
    output_network: str = "last-iteration"

    def to_dict(self) -> dict:
        d = asdict(self)
        d["split"] = list(self.split)
        return d

    def training_options(self):
        from leuknet.spec.options import TrainingOptions

        kw = dict(InitialLearnRate=self.lr, MaxEpochs=self.epochs, MiniBatchSize=self.batch_size,
                  L2Regularization=self.l2, Shuffle=self.shuffle, ValidationFrequency=self.validation_frequency,
                  LearnRateSchedule=self.schedule, LearnRateDropFactor=self.lr_drop_factor,
                  LearnRateDropPeriod=self.lr_drop_period, VerboseFrequency=self.verbose_frequency,
                  OutputNetwork=self.output_network, Verbose=False, FinalLearnRate=self.final_lr)
        if self.solver == "sgdm":
            kw["Momentum"] = self.momentum
        if self.validation_patience is not None:
            kw["ValidationPatience"] = self.validation_patience
        return TrainingOptions(SolverName=self.solver, **kw)  # exact names and choices (the CLI's rule)


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


def resolve(flags: dict) -> RunConfig:
    """defaults < recipe < flags (flags whose value is None are not given)."""
    known = {f.name for f in fields(RunConfig)}
    unknown = sorted(set(flags) - known)
    if unknown:
        raise ConfigError(f"unknown setting {unknown[0]!r}")
    given = {k: v for k, v in flags.items() if v is not None}
    recipe = given.get("recipe")
    if not recipe:
        if given.get("model") and given["model"] != "leuknet":
            from leuknet import models

            recipe = models.model_info(given["model"])["default_recipe"]
        else:
            recipe = "demo" if not given.get("data") else "leuknet-paper"
    if recipe not in RECIPES:
        raise ConfigError(f"unknown recipe {recipe!r}; available: {', '.join(list_recipes())}")
    values = dict(RECIPES[recipe])
    model = given.get("model", values.get("model"))
    values.update(RECIPE_MODEL_OVERRIDES.get((recipe, model), {}))
    values.update(given)
    values["recipe"] = recipe
    from leuknet.data.split import parse_fractions

    cfg = RunConfig(**values)
    cfg.split = parse_fractions(cfg.split)
    return cfg


def load_resume(out) -> RunConfig:
    """The settings of the interrupted run in ``<out>.partial`` (saved when it started)."""
    from pathlib import Path

    p = Path(str(out) + ".partial") / "run_config.json"
    if not p.is_file():
        if (Path(out) / "model.keras").is_file():
            raise ConfigError(f"run {out} is already complete; nothing to resume")
        raise ConfigError(f"no interrupted run to resume at {p.parent}")
    with open(p, encoding="utf-8") as f:
        d = json.load(f)
    known = {f.name for f in fields(RunConfig)}
    cfg = RunConfig(**{k: v for k, v in d.items() if k in known})
    cfg.split = tuple(cfg.split)
    cfg.resume = True
    cfg.overwrite = False
    return cfg


def load(path) -> RunConfig:
    with open(path, encoding="utf-8") as f:
        d = json.load(f)["config"]
    known = {f.name for f in fields(RunConfig)}
    return RunConfig(**{k: v for k, v in d.items() if k in known})


__all__ = ["RunConfig", "RECIPES", "resolve", "list_recipes", "load_resume"]
