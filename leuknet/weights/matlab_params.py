"""A pretrained network's weights from MathWorks' own parameters MAT-file, as MathWorks' ``assemble<Net>.m`` scripts
read them (github.com/matlab-deep-learning/resnet-18 and .../googlenet): ``resnet18Params.mat``,
``googlenetParams.mat`` (from www.mathworks.com/supportfiles/nnet/data/networks/; leuknet never downloads them).

The file holds one struct, ``params``, with a field per layer (the layer's name with ``-`` written ``_``, since
MATLAB's field names cannot hold a hyphen), each a struct of that layer's properties in MATLAB's layouts
(``Weights``, ``Bias``; ``Scale``, ``Offset``, ``TrainedMean``, ``TrainedVariance``; the input layer's ``Mean``,
``StandardDeviation``), or empty for a layer without any. ``assemble<Net>.m`` sets each property on the layer of
that name (``layer.(paramNames{j}) = layerParams.(paramNames{j})``); so does :func:`load_params`, after checking
that the file is this network's: every layer with learnables present, no layer the network lacks, every array of
the size the layer needs. MAT-file versions 5 and 7 (MATLAB's default) are read with SciPy; a version 7.3 file
(HDF5) is refused with the line that rewrites it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from leuknet.errors import ModelFileError
from leuknet.weights.where import not_this_network

# the properties a parameters file may set, by layer type (MATLAB's property names)
PROPERTIES = {"ImageInputLayer": ("Mean", "StandardDeviation", "Min", "Max"),
              "Convolution2DLayer": ("Weights", "Bias"), "GroupedConvolution2DLayer": ("Weights", "Bias"),
              "FullyConnectedLayer": ("Weights", "Bias"),
              "BatchNormalizationLayer": ("Scale", "Offset", "TrainedMean", "TrainedVariance")}
LEARNABLE = {"Convolution2DLayer", "GroupedConvolution2DLayer", "FullyConnectedLayer", "BatchNormalizationLayer"}


def _read(path, fn):
    import scipy.io

    p = Path(path)
    if not p.is_file():
        raise ModelFileError(f"{fn} parameters file {p} does not exist")
    with open(p, "rb") as fh:
        head = fh.read(128)
    if b"MATLAB 7.3" in head:
        raise ModelFileError(f"{p} is a version 7.3 (HDF5) MAT-file, which leuknet does not read: in MATLAB, "
                             f"s = load('{p.name}'); save('{p.stem}_v7.mat', '-struct', 's', '-v7')")
    try:
        data = scipy.io.loadmat(p, struct_as_record=False, squeeze_me=False)
    except Exception as e:  # noqa: BLE001 (SciPy raises ValueError, TypeError or MatReadError)
        raise ModelFileError(f"{p} is not a readable MAT-file: {str(e).strip().splitlines()[0][:200]}") from None
    params = data.get("params")
    if params is None or not hasattr(params.flat[0] if params.size else None, "_fieldnames"):
        raise ModelFileError(f"{p} holds no struct 'params' (MathWorks' {fn}Params.mat has one)")
    return params.flat[0]


def _expected(spec, prop):
    """The size MATLAB's layer needs for ``prop`` where the layer spec fixes it (None: not fixed by the spec)."""
    kind = type(spec).__name__
    if prop == "Weights" and kind == "Convolution2DLayer":
        return tuple(spec.FilterSize) + (None, spec.NumFilters)
    if prop == "Bias" and kind == "Convolution2DLayer":
        return (1, 1, spec.NumFilters)
    if prop == "Weights" and kind == "FullyConnectedLayer":
        return (spec.OutputSize, None)
    if prop == "Bias" and kind == "FullyConnectedLayer":
        return (spec.OutputSize, 1)
    return None


def _fits(shape, expected):
    return len(shape) == len(expected) and all(e is None or s == e for s, e in zip(shape, expected))


def load_params(fn, path, specs):
    """Set the weights of the MATLAB layer specs ``specs`` (changed in place) from MathWorks' parameters file."""
    params = _read(path, fn)
    fields = set(params._fieldnames)
    by_field = {s.Name.replace("-", "_"): s for s in specs}
    unknown = sorted(fields - set(by_field))
    missing = sorted(f for f, s in by_field.items() if type(s).__name__ in LEARNABLE and f not in fields)
    if unknown or missing:
        raise not_this_network(path, f"{fn}'s parameters file", fn, unknown, missing)
    for field in params._fieldnames:
        value, spec = getattr(params, field), by_field[field]
        if value.size == 0:
            continue
        layer = value.flat[0]
        allowed = PROPERTIES.get(type(spec).__name__, ())
        for prop in layer._fieldnames:
            if prop not in allowed:
                raise ModelFileError(f"{path}: {field}.{prop} is not a property leuknet sets on {spec.Name} "
                                     f"({type(spec).__name__}: {', '.join(allowed) or 'none'})")
            array = np.asarray(getattr(layer, prop), np.float32)
            if prop == "Weights" and array.ndim == 3 and len(_expected(spec, prop) or ()) == 4:
                array = array[..., None]  # MATLAB drops a trailing singleton: one filter is H x W x C
            expected = _expected(spec, prop)
            if expected is not None and not _fits(array.shape, expected):
                raise ModelFileError(f"{path}: {field}.{prop} is {'x'.join(map(str, array.shape))}, {spec.Name} needs "
                                     f"{'x'.join('C' if e is None else str(e) for e in expected)}")
            setattr(spec, prop, np.ascontiguousarray(array))
    return specs


__all__ = ["load_params"]
