"""Model registry: ``build(name, num_classes, **options)``, ``accepts(name)``, ``list_models()``,
``model_info(name)``.

Each model accepts a set of build options from one vocabulary (:data:`OPTIONS`, the names of the CLI's network
settings with ``_`` for ``-``); :func:`build` refuses any other option before building, naming the CLI flag.
"""

from __future__ import annotations

import importlib
from dataclasses import asdict, dataclass

from leuknet.errors import ConfigError


# every build option a model may accept (num_classes always)
OPTIONS = ("image_size", "classes", "colorspace", "normalization", "crop", "class_weights", "weights", "fc_units",
           "pool_stride", "lr_factor", "freeze_base", "input_order", "transfer", "l1l2")


@dataclass(frozen=True)
class ModelInfo:
    name: str
    input_size: int
    paper: str
    default_recipe: str
    description: str
    options: frozenset = frozenset()  # the build options (of OPTIONS) that the model accepts

    def __post_init__(self):
        unknown = sorted(set(self.options) - set(OPTIONS))
        if unknown:
            raise ValueError(f"model {self.name}: unknown build options {unknown}")
        object.__setattr__(self, "options", frozenset(self.options))


_REGISTRY: dict = {}


def register(info: ModelInfo, builder):
    """``builder``: a function, or the name of a module whose ``build`` is imported at the first build (so that
    the registry itself imports no Keras: listing models and checking a configuration stay instant and leave the
    Keras backend unchosen)."""
    _REGISTRY[info.name] = (info, builder)


def list_models() -> list[str]:
    return sorted(_REGISTRY)


def model_info(name: str) -> dict:
    """The model's :class:`ModelInfo` as a dict; ``options`` as a list in the order of :data:`OPTIONS`."""
    info = _get(name)[0]
    return asdict(info) | {"options": [o for o in OPTIONS if o in info.options]}


def accepts(name: str) -> frozenset:
    """The build options (of :data:`OPTIONS`) that model ``name`` accepts, besides ``num_classes``."""
    return _get(name)[0].options


def _flag(option: str) -> str:
    return "--" + option.replace("_", "-")


def _get(name):
    if name not in _REGISTRY:
        raise ConfigError(f"unknown model {name!r}; available: {', '.join(list_models())}")
    return _REGISTRY[name]


def builder(name: str):
    """The function that builds model ``name`` (its module imported now, where it was registered by name)."""
    info, b = _get(name)
    if isinstance(b, str):
        b = importlib.import_module(b).build
        _REGISTRY[name] = (info, b)
    return b


def learnables(model) -> int:
    """MATLAB's learnables: trainable parameters (input statistics and other state are not counted)."""
    import numpy as np

    return int(sum(np.prod(v.shape) for v in model.trainable_weights))


def build(name: str, num_classes: int = 2, **options):
    """Build a registered model as a Keras functional model (softmax probabilities out). An option the model does
    not accept (:func:`accepts`) is a ConfigError naming its CLI flag, raised before anything is built."""
    info = _get(name)[0]
    for opt in options:
        if opt not in info.options:
            allowed = ", ".join(_flag(o) for o in OPTIONS if o in info.options)
            raise ConfigError(f"{_flag(opt)} does not apply to model {name} (it accepts: {allowed})")
    if int(num_classes) < 2:
        raise ConfigError(f"num_classes must be at least 2, received {num_classes}")
    return builder(name)(num_classes=int(num_classes), **options)


def check_input_size(name: str, image_size: int, pool_stride: int = 2):
    """The builder's input-size check of model ``name`` without building it (a run checks this before reading
    any image): a ConfigError naming the smallest size that works."""
    _get(name)
    from leuknet.spec.layers import check_input_size as check

    if name == "leuknet":
        from leuknet.models.leuknet_cnn import leuknet_layers

        check(leuknet_layers(2, int(image_size), pool_stride=int(pool_stride)), name)
    elif name == "alexnet":
        from leuknet.spec.alexnet import alexnet_layers

        check(alexnet_layers(1000, int(image_size)), name)
    else:
        from leuknet.models.applications import MIN_SIZE

        if int(image_size) < MIN_SIZE[name]:
            raise ConfigError(f"{name} needs an input of at least {MIN_SIZE[name]} x {MIN_SIZE[name]}, received "
                              f"{image_size}")


# the options of every model: its input and its classes
_INPUT = frozenset({"image_size", "classes", "colorspace", "normalization", "crop", "class_weights"})


def _register_builtin():
    register(ModelInfo("leuknet", 224, "Anilkumar, Manoj, Sagi: LeukNet (C-NMC 2019, MATLAB R2021a)",
                       "leuknet-paper", "3 x conv/ReLU/cross-channel norm/max-pool, FC 512, dropout 0.5",
                       frozenset(_INPUT | {"fc_units", "pool_stride"})),
             "leuknet.models.leuknet_cnn")
    register(ModelInfo("alexnet", 227, "Shafique & Tehsin 2018: AlexNet transfer learning (ALL-IDB2), MATLAB alexnet",
                       "alexnet-shafique", "MATLAB's 25-layer AlexNet; pretrained from --weights, new FC layers",
                       frozenset(_INPUT | {"weights", "fc_units", "lr_factor", "freeze_base", "input_order",
                                           "transfer"})),
             "leuknet.models.alexnet")
    from functools import partial

    from leuknet.models import applications  # its table (Keras is imported by its build)

    papers = {"vgg16": ("de Oliveira & Dantas 2021 (C-NMC); Senthilkumar et al. 2023", "cnmc-oliveira"),
              "vgg19": ("de Oliveira & Dantas 2021 (C-NMC)", "cnmc-oliveira"),
              "xception": ("de Oliveira & Dantas 2021 (C-NMC)", "cnmc-oliveira"),
              "resnet50": ("Senthilkumar et al. 2023", "senthilkumar-transfer"),
              "efficientnetb0": ("Senthilkumar et al. 2023", "senthilkumar-transfer")}
    for name, (app, head, _, size) in applications.APPS.items():
        register(ModelInfo(name, size, papers[name][0], papers[name][1],
                           f"keras.applications.{app} backbone, {head.replace('_', ' ')} head",
                           frozenset(_INPUT | {"weights", "l1l2"})),
                 partial(applications.build, name))


_register_builtin()
