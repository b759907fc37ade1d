"""Model registry: ``build(name, num_classes, ...)``, ``list_models()``, ``model_info(name)``."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from leuknet.errors import ConfigError


@dataclass(frozen=True)
class ModelInfo:
    name: str
    input_size: int
    paper: str
    default_recipe: str
    description: str


_REGISTRY: dict = {}


def register(info: ModelInfo, builder):
    _REGISTRY[info.name] = (info, builder)


def list_models() -> list[str]:
    return sorted(_REGISTRY)


def model_info(name: str) -> dict:
    return asdict(_get(name)[0])


def _get(name):
    if name not in _REGISTRY:
        raise ConfigError(f"unknown model {name!r}; available: {', '.join(list_models())}")
    return _REGISTRY[name]


def learnables(model) -> int:
    """MATLAB's learnables: trainable parameters (input statistics and other state are not counted)."""
    import numpy as np

    return int(sum(np.prod(v.shape) for v in model.trainable_weights))


def build(name: str, num_classes: int = 2, **kwargs):
    """Build a registered model as a Keras functional model (softmax probabilities out)."""
    if int(num_classes) < 2:
        raise ConfigError(f"num_classes must be at least 2, received {num_classes}")
    return _get(name)[1](num_classes=int(num_classes), **kwargs)


def _register_builtin():
    from leuknet.models import leuknet_cnn

    register(ModelInfo("leuknet", 224, "Anilkumar, Manoj, Sagi: LeukNet (C-NMC 2019, MATLAB R2021a)",
                       "leuknet-paper", "3 x conv/ReLU/cross-channel norm/max-pool, FC 512, dropout 0.5"),
             leuknet_cnn.build)
    from leuknet.models import alexnet

    register(ModelInfo("alexnet", 227, "Shafique & Tehsin 2018: AlexNet transfer learning (ALL-IDB2), MATLAB alexnet",
                       "alexnet-shafique", "MATLAB's 25-layer AlexNet; pretrained from --weights, new FC layers"),
             alexnet.build)
    from functools import partial

    from leuknet.models import applications

    papers = {"vgg16": ("de Oliveira & Dantas 2021 (C-NMC); Senthilkumar et al. 2023", "cnmc-oliveira"),
              "vgg19": ("de Oliveira & Dantas 2021 (C-NMC)", "cnmc-oliveira"),
              "xception": ("de Oliveira & Dantas 2021 (C-NMC)", "cnmc-oliveira"),
              "resnet50": ("Senthilkumar et al. 2023", "senthilkumar-transfer"),
              "efficientnetb0": ("Senthilkumar et al. 2023", "senthilkumar-transfer")}
    for name, (app, head, _, size) in applications.APPS.items():
        register(ModelInfo(name, size, papers[name][0], papers[name][1],
                           f"keras.applications.{app} backbone, {head.replace('_', ' ')} head"),
                 partial(applications.build, name))


_register_builtin()
