"""SqueezeNet v1.1's ImageNet weights from torchvision's file (``squeezenet1_1-b8a52dc0.pth``, what
``torchvision.models.squeezenet1_1(weights='IMAGENET1K_V1')`` saves under ``~/.cache/torch/hub/checkpoints`` on a
machine with a network; leuknet never downloads it), loaded into MATLAB's ``squeezenet`` layout
(:func:`leuknet.spec.pretrained.squeezenet_graph`). Reading the file needs PyTorch (``pip install torch``).

torchvision's names map to MATLAB's by position: ``features.0`` is ``conv1``; the fire modules ``features.3``, ``.4``,
``.6``, ``.7``, ``.9``, ``.10``, ``.11``, ``.12`` are ``fire2`` ... ``fire9`` (their ``squeeze``, ``expand1x1``,
``expand3x3`` MATLAB's ``fire<k>-squeeze1x1``, ``-expand1x1``, ``-expand3x3``); ``classifier.1`` is ``conv10``.
Kernels go from PyTorch's (N, C, H, W) to MATLAB's H x W x C x N (both RGB). torchvision's network takes images
scaled to [0, 1] and standardised per channel; MATLAB's input layer subtracts a mean from [0, 255] images
('zerocenter'), so the mean is torchvision's times 255 and ``conv1``'s kernels are divided by torchvision's standard
deviation (times 255) per input channel: the same function, exactly, as ``conv1`` has no padding.
"""

from __future__ import annotations

import numpy as np

from leuknet.spec.pretrained import SQUEEZENET_FIRES, TORCHVISION_MEAN_RGB, TORCHVISION_STD_RGB
from leuknet.weights.torchvision_resnet import state_dict
from leuknet.weights.where import not_this_network

FILE = "squeezenet1_1-b8a52dc0.pth"
FIRE_INDEX = (3, 4, 6, 7, 9, 10, 11, 12)  # torchvision's features.<i> of fire2 ... fire9


def matlab_names():
    """{torchvision prefix: MATLAB layer name} of SqueezeNet v1.1's convolutions."""
    names = {"features.0": "conv1", "classifier.1": "conv10"}
    for i, (k, _, _) in zip(FIRE_INDEX, SQUEEZENET_FIRES):
        names.update({f"features.{i}.squeeze": f"fire{k}-squeeze1x1", f"features.{i}.expand1x1": f"fire{k}-expand1x1",
                      f"features.{i}.expand3x3": f"fire{k}-expand3x3"})
    return names


def load_squeezenet(path, specs):
    """Set the weights of ``squeezenet``'s layer specs ``specs`` (changed in place) from torchvision's file."""
    state = state_dict(path, "squeezenetParams.mat")
    names = matlab_names()
    prefixes = {k.rsplit(".", 1)[0] for k in state}
    extra, missing = sorted(prefixes - set(names)), sorted(set(names) - prefixes)
    if extra or missing:
        raise not_this_network(path, "torchvision's SqueezeNet 1.1", "SqueezeNet", extra, missing)
    by_name = {s.Name: s for s in specs}
    for pre, name in names.items():
        w = np.transpose(state[f"{pre}.weight"], (2, 3, 1, 0))
        if name == "conv1":  # (x / 255 - m) / s = (x - 255 m) / (255 s): the scale folded into the kernels
            w = w / np.asarray(TORCHVISION_STD_RGB, np.float32).reshape(1, 1, 3, 1)
        by_name[name].Weights = np.ascontiguousarray(w, np.float32)
        by_name[name].Bias = state[f"{pre}.bias"].reshape(1, 1, -1)
    by_name["data"].Mean = np.asarray(TORCHVISION_MEAN_RGB, np.float32).reshape(1, 1, 3)
    return specs


__all__ = ["FILE", "load_squeezenet", "matlab_names"]
