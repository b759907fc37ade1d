"""ResNet-18's ImageNet weights from torchvision's file (``resnet18-f37072fd.pth``, what
``torchvision.models.resnet18(weights='IMAGENET1K_V1')`` saves under ``~/.cache/torch/hub/checkpoints`` on a machine
with a network; leuknet never downloads it), loaded into MATLAB's ``resnet18`` layout
(:func:`leuknet.spec.pretrained.resnet18_graph`). Reading the file needs PyTorch (``pip install torch``).

torchvision's names map to MATLAB's by role: ``conv1``/``bn1`` are ``conv1``/``bn_conv1``; ``layer<s-1>.<b>`` is the
block ``res<s><a|b>``, its ``conv1``/``bn1`` ``res<s><b>_branch2a``/``bn<s><b>_branch2a``, ``conv2``/``bn2``
``..._branch2b``, ``downsample.0``/``downsample.1`` ``res<s>a_branch1``/``bn<s>a_branch1``; ``fc`` is ``fc1000``.
Kernels go from PyTorch's (N, C, H, W) to MATLAB's H x W x C x N (both take RGB: no channel reversal); torchvision's
convolutions have no bias, so MATLAB's zero bias; batch normalisation's ``weight``/``bias``/``running_mean``/
``running_var`` are ``Scale``/``Offset``/``TrainedMean``/``TrainedVariance`` (both use Epsilon 1e-5).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from leuknet.errors import ConfigError, ModelFileError
from leuknet.weights.where import not_this_network

FILE = "resnet18-f37072fd.pth"


def matlab_names():
    """{torchvision prefix: MATLAB layer name} of ResNet-18's layers with weights."""
    names = {"conv1": "conv1", "bn1": "bn_conv1", "fc": "fc1000"}
    for stage in (2, 3, 4, 5):
        for b, letter in enumerate("ab"):
            tag, pre = f"{stage}{letter}", f"layer{stage - 1}.{b}"
            names.update({f"{pre}.conv1": f"res{tag}_branch2a", f"{pre}.bn1": f"bn{tag}_branch2a",
                          f"{pre}.conv2": f"res{tag}_branch2b", f"{pre}.bn2": f"bn{tag}_branch2b"})
            if b == 0 and stage > 2:
                names.update({f"{pre}.downsample.0": f"res{tag}_branch1", f"{pre}.downsample.1": f"bn{tag}_branch1"})
    return names


def state_dict(path, params_file="resnet18Params.mat"):
    """A torchvision file's tensors as float32 arrays by name; ``params_file`` the MathWorks file to name for a
    user without PyTorch."""
    p = Path(path)  # its existence is checked by the caller, with where to get it (leuknet.matlab.network)
    try:
        import torch
    except ImportError:
        raise ConfigError(f"reading {p.name} needs PyTorch: pip install torch (or give MathWorks' "
                          f"{params_file})") from None
    try:
        state = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 (torch raises RuntimeError, pickle errors, ...)
        raise ModelFileError(f"{p} is not a readable PyTorch file: {str(e).strip().splitlines()[0][:200]}") from None
    state = state.get("state_dict", state) if isinstance(state, dict) else state
    if not isinstance(state, dict):
        raise ModelFileError(f"{p} holds a {type(state).__name__}, not a state dict of tensors")
    return {k: v.detach().cpu().numpy().astype(np.float32) for k, v in state.items() if hasattr(v, "detach")}


def load_resnet18(path, specs):
    """Set the weights of ``resnet18``'s layer specs ``specs`` (changed in place) from torchvision's file."""
    state = state_dict(path)
    names = matlab_names()
    prefixes = {k.rsplit(".", 1)[0] for k in state if not k.endswith("num_batches_tracked")}
    extra, missing = sorted(prefixes - set(names)), sorted(set(names) - prefixes)
    if extra or missing:
        raise not_this_network(path, "torchvision's ResNet-18", "ResNet-18", extra, missing)
    by_name = {s.Name: s for s in specs}
    for pre, name in names.items():
        spec = by_name[name]
        if name.startswith("bn"):
            spec.Scale, spec.Offset, spec.TrainedMean, spec.TrainedVariance = (
                state[f"{pre}.{k}"].reshape(1, 1, -1) for k in ("weight", "bias", "running_mean", "running_var"))
        elif name == "fc1000":
            spec.Weights, spec.Bias = state["fc.weight"], state["fc.bias"].reshape(-1, 1)
        else:
            w = state[f"{pre}.weight"]
            spec.Weights = np.ascontiguousarray(np.transpose(w, (2, 3, 1, 0)))
            spec.Bias = np.zeros((1, 1, w.shape[0]), np.float32)
    return specs


__all__ = ["FILE", "load_resnet18", "matlab_names", "state_dict"]
