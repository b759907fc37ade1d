"""MATLAB-named layer constructors (``convolution2dLayer(3, 64, 'Name', 'conv1')``) and their assembly into a
Keras model whose layer names are the MATLAB ``Name``s.

Each constructor returns a small spec object with MATLAB's properties and defaults, and follows the calling
conventions of :mod:`leuknet.spec.conventions`: name-value options as keywords or positional pairs, names in
any case, string values case-insensitive and by prefix (``'Padding', 'Same'``); a constructor given bare in a layer
array (``reluLayer``) is its default layer. :func:`assemble` turns a layer array or a layer graph
(:mod:`leuknet.spec.graph`) into a Keras functional model, sets given ``Weights``/``Bias`` (converted from
MATLAB's layouts) and attaches the learn-rate and L2 factors that :mod:`leuknet.solvers` reads.

MATLAB layouts: convolution ``Weights`` FH x FW x C x F (as Keras), ``Bias`` 1 x 1 x F; grouped convolution
FH x FW x C/G x F/G x G and 1 x 1 x F/G x G; fully connected ``Weights`` OutputSize x InputSize (Keras: the
transpose), ``Bias`` OutputSize x 1; batch normalisation ``Offset``, ``Scale``, ``TrainedMean``,
``TrainedVariance`` 1 x 1 x C. A fully connected layer after a spatial input flattens in MATLAB's column-major
(H, W, C) order, Keras in row-major (H, W, C): weights are permuted on the way in and out.
"""

from __future__ import annotations

import copy
import math
from collections import Counter
from dataclasses import dataclass, fields

import keras
import numpy as np

from leuknet import layers as L
from leuknet.errors import ConfigError
from leuknet.spec.conventions import choice, flatten_layers, layer_constructor, number, options_only, parse

DEFAULT_NAMES = {
    "ImageInputLayer": "imageinput", "Convolution2DLayer": "conv", "GroupedConvolution2DLayer": "groupedconv",
    "ReLULayer": "relu", "CrossChannelNormalizationLayer": "crossnorm", "MaxPooling2DLayer": "maxpool",
    "FullyConnectedLayer": "fc", "DropoutLayer": "dropout", "SoftmaxLayer": "softmax",
    "ClassificationOutputLayer": "classoutput", "BatchNormalizationLayer": "batchnorm",
    "AveragePooling2DLayer": "avgpool", "GlobalAveragePooling2DLayer": "gapool",
    "GlobalMaxPooling2DLayer": "gmpool", "LeakyReLULayer": "leakyrelu", "ClippedReLULayer": "clippedrelu",
    "ELULayer": "elu", "TanhLayer": "tanh", "SigmoidLayer": "sigmoid", "AdditionLayer": "addition",
    "ConcatenationLayer": "concat", "DepthConcatenationLayer": "depthcat",
}

_REQUIRED = object()  # a required argument not given (a constructor given bare, or called without it)
INITIALIZERS = ("glorot", "he", "narrow-normal", "zeros", "ones")


def _required(fn, name, value):
    if value is _REQUIRED:
        raise ConfigError(f"{fn}: the required argument {name} is missing (write {fn}({name}, ...); "
                          f"{fn} has no default layer to give bare)")
    return value


def _pair(fn, v, what):
    try:
        a = np.atleast_1d(np.asarray(v, dtype=float)).ravel()
    except (TypeError, ValueError):
        a = np.array([np.nan])
    if len(a) == 1:
        a = np.repeat(a, 2)
    if len(a) != 2 or not np.all(np.isfinite(a)) or np.any(a < 1) or np.any(a != np.round(a)) or \
            isinstance(v, (str, bool)):
        raise ConfigError(f"{fn}: {what} must be a positive integer or [h w], received {v!r}")
    return tuple(int(x) for x in a)


def _padding(fn, v):
    if isinstance(v, str):
        return choice(fn, "Padding", v, ("same",))
    try:
        a = np.atleast_1d(np.asarray(v, dtype=float)).ravel()
    except (TypeError, ValueError):
        a = np.array([np.nan])
    if len(a) == 1:
        a = np.repeat(a, 4)
    elif len(a) == 2:
        a = np.array([a[0], a[0], a[1], a[1]])
    if len(a) != 4 or not np.all(np.isfinite(a)) or np.any(a < 0) or np.any(a != np.round(a)):
        raise ConfigError(f"{fn}: Padding must be 'same', p, [a b] or [t b l r] (non-negative integers), "
                          f"received {v!r}")
    return tuple(int(x) for x in a)  # top, bottom, left, right


def _name(fn, v):
    if not isinstance(v, str):
        raise ConfigError(f"{fn}: Name must be a string, received {v!r}")
    return v


def _fan(shape_hw, cin, cout):
    r = shape_hw[0] * shape_hw[1]
    return r * cin, r * cout


def _initializer(name, fan_in, fan_out, what, seed=None):
    name = str(name).lower()
    if name == "glorot":
        limit = math.sqrt(6.0 / (fan_in + fan_out))
        return keras.initializers.RandomUniform(-limit, limit, seed=seed)
    if name == "he":
        return keras.initializers.RandomNormal(0.0, math.sqrt(2.0 / fan_in), seed=seed)
    if name == "narrow-normal":
        return keras.initializers.RandomNormal(0.0, 0.01, seed=seed)
    if name == "zeros":
        return keras.initializers.Zeros()
    if name == "ones":
        return keras.initializers.Ones()
    raise ConfigError(f"unknown {what} {name!r}; choose glorot, he, narrow-normal, zeros or ones")


_ARRAYS = ("Weights", "Bias", "Mean", "StandardDeviation", "Min", "Max", "Offset", "Scale", "TrainedMean",
           "TrainedVariance")


@dataclass
class Layer:
    Name: str = ""
    matlab_layer = True  # what conventions.flatten_layers recognises (a class attribute, not a field)

    @property
    def kind(self):
        return type(self).__name__

    @property
    def NumInputs(self):  # noqa: N802 (MATLAB's name); multi-input layers have a field of this name instead
        return 1

    @property
    def InputNames(self):  # noqa: N802
        n = self.NumInputs
        return [] if n == 0 else ["in"] if n == 1 and not hasattr(type(self), "_multi") else \
            [f"in{i}" for i in range(1, n + 1)]

    @property
    def OutputNames(self):  # noqa: N802
        return ["out"]

    def __repr__(self):
        props = ", ".join(f"{f.name}={_short(getattr(self, f.name))}" for f in fields(self) if f.name not in _ARRAYS)
        return f"{self.kind}({props})"

    def __str__(self):
        """What MATLAB shows for one layer (``layer = net.Layers(2)``; here ``print(net.Layers[1])``):
        ``Convolution2DLayer with properties:``, then each property right-aligned on its colon (the name first, the
        learnable parameters and statistics last, as MATLAB groups them), text quoted, sizes as ``[11 11]``, arrays
        as their size and class (``[11x11x3x96 single]``), an unset one as ``[]``."""
        order = sorted(fields(self), key=lambda f: (f.name != "Name", f.name in _ARRAYS))
        props = [(f.name, _matlab_value(getattr(self, f.name))) for f in order]
        width = max(len(k) for k, _ in props)
        rows = "\n".join(f"    {k.rjust(width)}: {v}" for k, v in props)
        return f"  {self.kind} with properties:\n\n{rows}\n"


_MATLAB_CLASS = {"float32": "single", "float64": "double", "bool": "logical"}


def _matlab_value(v):
    """A property's value as MATLAB's property display writes it."""
    names = getattr(v, "categories", None)
    if names is not None:
        return f"[{len(names)}x1 categorical]"
    if v is None:
        return "[]"
    if isinstance(v, (bool, np.bool_)):
        return str(bool(v)).lower()
    if isinstance(v, str):
        return f"'{v}'"
    if isinstance(v, np.ndarray) and v.size > 1:
        return f"[{'x'.join(map(str, v.shape))} {_MATLAB_CLASS.get(str(v.dtype), str(v.dtype))}]"
    if isinstance(v, np.ndarray):
        v = v.item() if v.size else []
    if isinstance(v, (list, tuple)):
        return f"{{{', '.join(repr(x) for x in v)}}}" if any(isinstance(x, str) for x in v) else \
            f"[{' '.join(f'{x:g}' if isinstance(x, (int, float)) else str(x) for x in v)}]"
    if isinstance(v, (int, float, np.number)):
        return f"{v:g}"
    return str(v)


def _short(v):
    """A field's value for a layer's one-line display: a long list of classes as its first two and a count."""
    names = getattr(v, "categories", v)
    if isinstance(names, (list, tuple)) and len(names) > 6:
        return f"[{names[0]!r}, {names[1]!r}, ... ({len(names)})]"
    return repr(v)


@dataclass(repr=False)
class ImageInputLayer(Layer):
    InputSize: tuple = (224, 224, 3)
    Normalization: str = "zerocenter"
    NormalizationDimension: str = "auto"
    Mean: object = None
    StandardDeviation: object = None
    Min: object = None
    Max: object = None
    ColorSpace: str = "rgb"  # leuknet's addition: the colour space the network's inputs are in
    Crop: int = 0  # leuknet's addition: border crop before resizing (recorded for prediction)

    @property
    def NumInputs(self):  # noqa: N802
        return 0


@dataclass(repr=False)
class _Learnable(Layer):
    Weights: object = None
    Bias: object = None
    WeightsInitializer: object = "glorot"
    BiasInitializer: object = "zeros"
    WeightLearnRateFactor: float = 1.0
    BiasLearnRateFactor: float = 1.0
    WeightL2Factor: float = 1.0
    BiasL2Factor: float = 0.0

    def factors(self):
        return {"weight_lr": float(self.WeightLearnRateFactor), "bias_lr": float(self.BiasLearnRateFactor),
                "weight_l2": float(self.WeightL2Factor), "bias_l2": float(self.BiasL2Factor)}


@dataclass(repr=False)
class Convolution2DLayer(_Learnable):
    FilterSize: tuple = (3, 3)
    NumFilters: int = 1
    Stride: tuple = (1, 1)
    DilationFactor: tuple = (1, 1)
    Padding: object = (0, 0, 0, 0)


@dataclass(repr=False)
class GroupedConvolution2DLayer(Convolution2DLayer):
    NumGroups: object = 1


@dataclass(repr=False)
class FullyConnectedLayer(_Learnable):
    OutputSize: int = 1


@dataclass(repr=False)
class ReLULayer(Layer):
    pass


@dataclass(repr=False)
class CrossChannelNormalizationLayer(Layer):
    WindowChannelSize: int = 5
    Alpha: float = 1e-4
    Beta: float = 0.75
    K: float = 2.0


@dataclass(repr=False)
class MaxPooling2DLayer(Layer):
    PoolSize: tuple = (2, 2)
    Stride: tuple = (1, 1)
    Padding: object = (0, 0, 0, 0)


@dataclass(repr=False)
class DropoutLayer(Layer):
    Probability: float = 0.5


@dataclass(repr=False)
class SoftmaxLayer(Layer):
    pass


@dataclass(repr=False)
class ClassificationOutputLayer(Layer):
    Classes: object = "auto"
    ClassWeights: object = "none"

    @property
    def OutputNames(self):  # noqa: N802 (an output layer has no outputs)
        return []


@dataclass(repr=False)
class BatchNormalizationLayer(Layer):
    """Defaults from https://www.mathworks.com/help/deeplearning/ref/nnet.cnn.layer.batchnormalizationlayer.html
    (R2021a): Epsilon 1e-5, MeanDecay and VarianceDecay 0.1, Offset 'zeros' and Scale 'ones' initialisers,
    learn-rate and L2 factors 1 for both."""

    TrainedMean: object = None
    TrainedVariance: object = None
    Epsilon: float = 1e-5
    MeanDecay: float = 0.1
    VarianceDecay: float = 0.1
    Offset: object = None
    Scale: object = None
    OffsetInitializer: str = "zeros"
    ScaleInitializer: str = "ones"
    OffsetLearnRateFactor: float = 1.0
    ScaleLearnRateFactor: float = 1.0
    OffsetL2Factor: float = 1.0
    ScaleL2Factor: float = 1.0

    def factors(self):
        return {"offset_lr": float(self.OffsetLearnRateFactor), "scale_lr": float(self.ScaleLearnRateFactor),
                "offset_l2": float(self.OffsetL2Factor), "scale_l2": float(self.ScaleL2Factor)}


@dataclass(repr=False)
class AveragePooling2DLayer(Layer):
    PoolSize: tuple = (2, 2)
    Stride: tuple = (1, 1)
    Padding: object = (0, 0, 0, 0)
    PaddingValue: object = 0


@dataclass(repr=False)
class GlobalAveragePooling2DLayer(Layer):
    pass


@dataclass(repr=False)
class GlobalMaxPooling2DLayer(Layer):
    pass


@dataclass(repr=False)
class LeakyReLULayer(Layer):
    Scale: float = 0.01


@dataclass(repr=False)
class ClippedReLULayer(Layer):
    Ceiling: float = 1.0


@dataclass(repr=False)
class ELULayer(Layer):
    Alpha: float = 1.0


@dataclass(repr=False)
class TanhLayer(Layer):
    pass


@dataclass(repr=False)
class SigmoidLayer(Layer):
    pass


@dataclass(repr=False)
class AdditionLayer(Layer):
    NumInputs: int = 2
    _multi = True


@dataclass(repr=False)
class ConcatenationLayer(Layer):
    Dim: int = 3
    NumInputs: int = 2
    _multi = True


@dataclass(repr=False)
class DepthConcatenationLayer(Layer):
    NumInputs: int = 2
    _multi = True


# ----------------------------------------------------------------------------------------------------------------
# constructors (MATLAB's calling conventions: leuknet.spec.conventions)

_LEARNABLE_OPTS = {"Name": "", "Weights": None, "Bias": None, "WeightsInitializer": "glorot",
                   "BiasInitializer": "zeros", "WeightLearnRateFactor": 1.0, "BiasLearnRateFactor": 1.0,
                   "WeightL2Factor": 1.0, "BiasL2Factor": 0.0}


def _learnable(fn, o):
    """The common learnable options of ``o``, checked: initialisers by name (prefix), factors >= 0."""
    out = {"Name": _name(fn, o["Name"]), "Weights": o["Weights"], "Bias": o["Bias"]}
    for k in ("WeightsInitializer", "BiasInitializer"):
        out[k] = choice(fn, k, o[k], INITIALIZERS)
    for k in ("WeightLearnRateFactor", "BiasLearnRateFactor", "WeightL2Factor", "BiasL2Factor"):
        out[k] = number(fn, k, o[k], low=0)
    return out


@layer_constructor
def imageInputLayer(inputSize=_REQUIRED, *args, **kwargs) -> ImageInputLayer:
    """``imageInputLayer(inputSize, 'Normalization', 'zerocenter', 'NormalizationDimension', 'auto', ...)``;
    ``[h w]`` is a grey ``[h w 1]`` input
    (https://www.mathworks.com/help/deeplearning/ref/nnet.cnn.layer.imageinputlayer.html).
    ``Normalization`` as a function handle is refused (a name only)."""
    fn = "imageInputLayer"
    _required(fn, "inputSize", inputSize)
    o = options_only(fn, args, kwargs, {"Name": "", "Normalization": "zerocenter", "NormalizationDimension": "auto",
                                        "Mean": None, "StandardDeviation": None, "Min": None, "Max": None,
                                        "ColorSpace": "rgb", "Crop": 0})
    try:
        size = tuple(int(v) for v in np.atleast_1d(np.asarray(inputSize)).ravel())
    except (TypeError, ValueError):
        size = ()
    if len(size) == 2:
        size = size + (1,)
    if len(size) != 3 or min(size) < 1:
        raise ConfigError(f"{fn}: inputSize must be [h w c] or [h w], received {inputSize!r}")
    o = dict(o, Name=_name(fn, o["Name"]), Normalization=choice(fn, "Normalization", o["Normalization"],
                                                                L.NORMALIZATIONS),
             NormalizationDimension=choice(fn, "NormalizationDimension", o["NormalizationDimension"],
                                           ("auto", "channel", "element")),
             Crop=number(fn, "Crop", o["Crop"], integer=True, low=0))
    return ImageInputLayer(InputSize=size, **o)


def _conv_options(fn, args, kwargs):
    o = options_only(fn, args, kwargs, dict(_LEARNABLE_OPTS, Stride=1, Padding=0, DilationFactor=1))
    return dict(_learnable(fn, o), Stride=_pair(fn, o["Stride"], "Stride"),
                DilationFactor=_pair(fn, o["DilationFactor"], "DilationFactor"), Padding=_padding(fn, o["Padding"]))


@layer_constructor
def convolution2dLayer(filterSize=_REQUIRED, numFilters=_REQUIRED, *args, **kwargs) -> Convolution2DLayer:
    """``convolution2dLayer(filterSize, numFilters, 'Stride', 1, 'Padding', 0, ...)`` with MATLAB's defaults."""
    fn = "convolution2dLayer"
    _required(fn, "filterSize", filterSize)
    _required(fn, "numFilters", numFilters)
    return Convolution2DLayer(FilterSize=_pair(fn, filterSize, "filterSize"),
                              NumFilters=number(fn, "numFilters", numFilters, integer=True, low=1),
                              **_conv_options(fn, args, kwargs))


@layer_constructor
def groupedConvolution2dLayer(filterSize=_REQUIRED, numFiltersPerGroup=_REQUIRED, numGroups=_REQUIRED, *args,
                              **kwargs) -> GroupedConvolution2DLayer:
    """``groupedConvolution2dLayer(filterSize, numFiltersPerGroup, numGroups, ...)`` (numGroups may be
    'channel-wise')."""
    fn = "groupedConvolution2dLayer"
    for n, v in (("filterSize", filterSize), ("numFiltersPerGroup", numFiltersPerGroup), ("numGroups", numGroups)):
        _required(fn, n, v)
    if isinstance(numGroups, str):
        numGroups = choice(fn, "numGroups", numGroups, ("channel-wise",))
    else:
        numGroups = number(fn, "numGroups", numGroups, integer=True, low=1)
    return GroupedConvolution2DLayer(FilterSize=_pair(fn, filterSize, "filterSize"),
                                     NumFilters=number(fn, "numFiltersPerGroup", numFiltersPerGroup, integer=True,
                                                       low=1),
                                     NumGroups=numGroups, **_conv_options(fn, args, kwargs))


@layer_constructor
def fullyConnectedLayer(outputSize=_REQUIRED, *args, **kwargs) -> FullyConnectedLayer:
    """``fullyConnectedLayer(outputSize, ...)``; ``Weights`` OutputSize x InputSize, ``Bias`` OutputSize x 1."""
    fn = "fullyConnectedLayer"
    _required(fn, "outputSize", outputSize)
    o = options_only(fn, args, kwargs, _LEARNABLE_OPTS)
    return FullyConnectedLayer(OutputSize=number(fn, "outputSize", outputSize, integer=True, low=1),
                               **_learnable(fn, o))


def _name_only(fn, args, kwargs):
    return {"Name": _name(fn, options_only(fn, args, kwargs, {"Name": ""})["Name"])}


@layer_constructor
def reluLayer(*args, **kwargs) -> ReLULayer:
    return ReLULayer(**_name_only("reluLayer", args, kwargs))


@layer_constructor
def crossChannelNormalizationLayer(windowChannelSize=_REQUIRED, *args, **kwargs) -> CrossChannelNormalizationLayer:
    """``crossChannelNormalizationLayer(windowChannelSize, 'Alpha', 1e-4, 'Beta', 0.75, 'K', 2)``."""
    fn = "crossChannelNormalizationLayer"
    _required(fn, "windowChannelSize", windowChannelSize)
    o = options_only(fn, args, kwargs, {"Name": "", "Alpha": 1e-4, "Beta": 0.75, "K": 2.0})
    w = number(fn, "windowChannelSize", windowChannelSize, integer=True)
    if not 1 <= w <= 16:
        raise ConfigError(f"{fn}: windowChannelSize must be 1 to 16, received {w}")
    return CrossChannelNormalizationLayer(Name=_name(fn, o["Name"]), WindowChannelSize=w,
                                          Alpha=number(fn, "Alpha", o["Alpha"]),
                                          Beta=number(fn, "Beta", o["Beta"], low=0.01),
                                          K=number(fn, "K", o["K"], low=1e-5))


@layer_constructor
def maxPooling2dLayer(poolSize=_REQUIRED, *args, **kwargs) -> MaxPooling2DLayer:
    """``maxPooling2dLayer(poolSize, 'Stride', 1, 'Padding', 0)``: MATLAB's stride defaults to 1, not the pool
    size. ``HasUnpoolingOutputs`` is refused (no unpooling layer in leuknet)."""
    fn = "maxPooling2dLayer"
    _required(fn, "poolSize", poolSize)
    o = options_only(fn, args, kwargs, {"Name": "", "Stride": 1, "Padding": 0})
    return MaxPooling2DLayer(Name=_name(fn, o["Name"]), PoolSize=_pair(fn, poolSize, "poolSize"),
                             Stride=_pair(fn, o["Stride"], "Stride"), Padding=_padding(fn, o["Padding"]))


@layer_constructor
def dropoutLayer(*args, **kwargs) -> DropoutLayer:
    """``dropoutLayer(probability=0.5, 'Name', ...)``."""
    fn = "dropoutLayer"
    pos, _, o = parse(fn, args, kwargs, {"Name": ""}, max_positional=1)
    p = number(fn, "probability", pos[0] if pos else 0.5, low=0, high=1, high_open=True)
    return DropoutLayer(Name=_name(fn, o["Name"]), Probability=p)


@layer_constructor
def softmaxLayer(*args, **kwargs) -> SoftmaxLayer:
    return SoftmaxLayer(**_name_only("softmaxLayer", args, kwargs))


@layer_constructor
def classificationLayer(*args, **kwargs) -> ClassificationOutputLayer:
    """``classificationLayer('Classes', 'auto', 'ClassWeights', 'none')``: cross-entropy over N observations."""
    fn = "classificationLayer"
    o = options_only(fn, args, kwargs, {"Name": "", "Classes": "auto", "ClassWeights": "none"})
    cls, cw = o["Classes"], o["ClassWeights"]
    if isinstance(cls, str):
        cls = choice(fn, "Classes", cls, ("auto",))
    elif hasattr(cls, "categories") and callable(cls.categories):
        cls = [str(c) for c in cls.categories()]
    else:
        cls = [str(c) for c in cls]
    if isinstance(cw, str):
        cw = choice(fn, "ClassWeights", cw, ("none",))
    return ClassificationOutputLayer(Name=_name(fn, o["Name"]), Classes=cls, ClassWeights=cw)


@layer_constructor
def batchNormalizationLayer(*args, **kwargs) -> BatchNormalizationLayer:
    """``batchNormalizationLayer('Epsilon', 1e-5, 'MeanDecay', 0.1, 'VarianceDecay', 0.1, ...)``
    (https://www.mathworks.com/help/deeplearning/ref/nnet.cnn.layer.batchnormalizationlayer.html). ``Offset``,
    ``Scale``, ``TrainedMean``, ``TrainedVariance``: C values (1 x 1 x C). Initialisers by name ('zeros', 'ones',
    'narrow-normal'); function handles are refused."""
    fn = "batchNormalizationLayer"
    o = options_only(fn, args, kwargs, {
        "Name": "", "TrainedMean": None, "TrainedVariance": None, "Epsilon": 1e-5, "MeanDecay": 0.1,
        "VarianceDecay": 0.1, "Offset": None, "Scale": None, "OffsetInitializer": "zeros",
        "ScaleInitializer": "ones", "OffsetLearnRateFactor": 1.0, "ScaleLearnRateFactor": 1.0,
        "OffsetL2Factor": 1.0, "ScaleL2Factor": 1.0})
    o = dict(o, Name=_name(fn, o["Name"]), Epsilon=number(fn, "Epsilon", o["Epsilon"], low=0, low_open=True))
    for k in ("MeanDecay", "VarianceDecay"):
        o[k] = number(fn, k, o[k], low=0, high=1)
    for k in ("OffsetInitializer", "ScaleInitializer"):
        o[k] = choice(fn, k, o[k], ("zeros", "ones", "narrow-normal"))
    for k in ("OffsetLearnRateFactor", "ScaleLearnRateFactor", "OffsetL2Factor", "ScaleL2Factor"):
        o[k] = number(fn, k, o[k], low=0)
    if o["TrainedVariance"] is not None and np.any(np.asarray(o["TrainedVariance"], float) < 0):
        raise ConfigError(f"{fn}: TrainedVariance must be non-negative")
    return BatchNormalizationLayer(**o)


@layer_constructor
def averagePooling2dLayer(poolSize=_REQUIRED, *args, **kwargs) -> AveragePooling2DLayer:
    """``averagePooling2dLayer(poolSize, 'Stride', 1, 'Padding', 0, 'PaddingValue', 0)``: the stride defaults to
    1; with ``PaddingValue`` 0 the padded zeros count in the average, with ``'mean'`` padded cells are left out
    (https://www.mathworks.com/help/deeplearning/ref/nnet.cnn.layer.averagepooling2dlayer.html)."""
    fn = "averagePooling2dLayer"
    _required(fn, "poolSize", poolSize)
    o = options_only(fn, args, kwargs, {"Name": "", "Stride": 1, "Padding": 0, "PaddingValue": 0})
    pv = o["PaddingValue"]
    if isinstance(pv, str):
        pv = choice(fn, "PaddingValue", pv, ("mean",))
    elif pv != 0 or isinstance(pv, bool):
        raise ConfigError(f"{fn}: PaddingValue must be 0 or 'mean', received {pv!r}")
    else:
        pv = 0
    pool = _pair(fn, poolSize, "poolSize")
    pad = _padding(fn, o["Padding"])
    if pad != "same" and (max(pad[:2]) >= pool[0] or max(pad[2:]) >= pool[1]):
        raise ConfigError(f"{fn}: the padding {list(pad)} must be smaller than the pool size {list(pool)}")
    return AveragePooling2DLayer(Name=_name(fn, o["Name"]), PoolSize=pool, Stride=_pair(fn, o["Stride"], "Stride"),
                                 Padding=pad, PaddingValue=pv)


@layer_constructor
def globalAveragePooling2dLayer(*args, **kwargs) -> GlobalAveragePooling2DLayer:
    """``globalAveragePooling2dLayer``: the mean over height and width, output 1 x 1 x C."""
    return GlobalAveragePooling2DLayer(**_name_only("globalAveragePooling2dLayer", args, kwargs))


@layer_constructor
def globalMaxPooling2dLayer(*args, **kwargs) -> GlobalMaxPooling2DLayer:
    """``globalMaxPooling2dLayer``: the maximum over height and width, output 1 x 1 x C."""
    return GlobalMaxPooling2DLayer(**_name_only("globalMaxPooling2dLayer", args, kwargs))


@layer_constructor
def leakyReluLayer(*args, **kwargs) -> LeakyReLULayer:
    """``leakyReluLayer(scale=0.01)``: ``x`` for ``x >= 0``, ``scale * x`` below
    (https://www.mathworks.com/help/deeplearning/ref/nnet.cnn.layer.leakyrelulayer.html)."""
    fn = "leakyReluLayer"
    pos, _, o = parse(fn, args, kwargs, {"Name": ""}, max_positional=1)
    return LeakyReLULayer(Name=_name(fn, o["Name"]), Scale=number(fn, "scale", pos[0] if pos else 0.01))


@layer_constructor
def clippedReluLayer(ceiling=_REQUIRED, *args, **kwargs) -> ClippedReLULayer:
    """``clippedReluLayer(ceiling)``: ``min(max(x, 0), ceiling)``
    (https://www.mathworks.com/help/deeplearning/ref/nnet.cnn.layer.clippedrelulayer.html)."""
    fn = "clippedReluLayer"
    _required(fn, "ceiling", ceiling)
    o = _name_only(fn, args, kwargs)
    return ClippedReLULayer(Ceiling=number(fn, "ceiling", ceiling, low=0, low_open=True), **o)


@layer_constructor
def eluLayer(*args, **kwargs) -> ELULayer:
    """``eluLayer(alpha=1)``: ``x`` for ``x >= 0``, ``alpha * (exp(x) - 1)`` below
    (https://www.mathworks.com/help/deeplearning/ref/nnet.cnn.layer.elulayer.html)."""
    fn = "eluLayer"
    pos, _, o = parse(fn, args, kwargs, {"Name": ""}, max_positional=1)
    return ELULayer(Name=_name(fn, o["Name"]), Alpha=number(fn, "alpha", pos[0] if pos else 1.0, low=0,
                                                            low_open=True))


@layer_constructor
def tanhLayer(*args, **kwargs) -> TanhLayer:
    return TanhLayer(**_name_only("tanhLayer", args, kwargs))


@layer_constructor
def sigmoidLayer(*args, **kwargs) -> SigmoidLayer:
    return SigmoidLayer(**_name_only("sigmoidLayer", args, kwargs))


@layer_constructor
def additionLayer(numInputs=_REQUIRED, *args, **kwargs) -> AdditionLayer:
    """``additionLayer(numInputs)``: the element-wise sum of inputs ``in1`` ... ``inN`` of equal size
    (https://www.mathworks.com/help/deeplearning/ref/nnet.cnn.layer.additionlayer.html)."""
    fn = "additionLayer"
    _required(fn, "numInputs", numInputs)
    return AdditionLayer(NumInputs=number(fn, "numInputs", numInputs, integer=True, low=2),
                         **_name_only(fn, args, kwargs))


@layer_constructor
def concatenationLayer(dim=_REQUIRED, numInputs=_REQUIRED, *args, **kwargs) -> ConcatenationLayer:
    """``concatenationLayer(dim, numInputs)``: joins ``in1`` ... ``inN`` along ``dim`` (1 height, 2 width,
    3 channels; https://www.mathworks.com/help/deeplearning/ref/nnet.cnn.layer.concatenationlayer.html)."""
    fn = "concatenationLayer"
    _required(fn, "dim", dim)
    _required(fn, "numInputs", numInputs)
    return ConcatenationLayer(Dim=number(fn, "dim", dim, integer=True, low=1, high=3),
                              NumInputs=number(fn, "numInputs", numInputs, integer=True, low=2),
                              **_name_only(fn, args, kwargs))


@layer_constructor
def depthConcatenationLayer(numInputs=_REQUIRED, *args, **kwargs) -> DepthConcatenationLayer:
    """``depthConcatenationLayer(numInputs)``: joins inputs of equal height and width along the channels."""
    fn = "depthConcatenationLayer"
    _required(fn, "numInputs", numInputs)
    return DepthConcatenationLayer(NumInputs=number(fn, "numInputs", numInputs, integer=True, low=2),
                                   **_name_only(fn, args, kwargs))


# ----------------------------------------------------------------------------------------------------------------
# weight layouts

def fc_matlab_to_keras(weights, input_shape):
    """MATLAB FC Weights (O x I) -> Keras kernel (I x O); ``input_shape`` (H, W, C) if the input is spatial."""
    w = np.asarray(weights, np.float32)
    if input_shape is not None and len(input_shape) == 3:
        h, wd, c = input_shape
        w = w.reshape(w.shape[0], c, wd, h).transpose(0, 3, 2, 1).reshape(w.shape[0], -1)
    return w.T.copy()


def fc_keras_to_matlab(kernel, input_shape):
    w = np.asarray(kernel).T
    if input_shape is not None and len(input_shape) == 3:
        h, wd, c = input_shape
        w = w.reshape(w.shape[0], h, wd, c).transpose(0, 3, 2, 1).reshape(w.shape[0], -1)
    return w.copy()


def grouped_matlab_to_keras(weights):
    """FH x FW x Cg x Fg x G -> FH x FW x Cg x (G * Fg) (group-major filters, as Keras Conv2D(groups=G))."""
    w = np.asarray(weights, np.float32)
    fh, fw, cg, fg, g = w.shape
    return w.transpose(0, 1, 2, 4, 3).reshape(fh, fw, cg, g * fg)


def grouped_keras_to_matlab(kernel, groups):
    fh, fw, cg, f = kernel.shape
    return np.asarray(kernel).reshape(fh, fw, cg, groups, f // groups).transpose(0, 1, 2, 4, 3).copy()


# ----------------------------------------------------------------------------------------------------------------
# assembly

def name_layers(layers, taken=()) -> list:
    """MATLAB's automatic names: 'conv' for a single unnamed convolution, 'conv_1', 'conv_2', ... for several
    (skipping names in ``taken`` or already in use)."""
    kinds = Counter(l.kind for l in layers if not l.Name)
    used = set(taken) | {l.Name for l in layers if l.Name}
    seen = Counter()
    for l in layers:
        if not l.Name:
            base = DEFAULT_NAMES.get(l.kind, l.kind.lower())
            if kinds[l.kind] > 1 or base in used:
                while True:
                    seen[l.kind] += 1
                    name = f"{base}_{seen[l.kind]}"
                    if name not in used:
                        break
                l.Name = name
            else:
                l.Name = base
            used.add(l.Name)
    names = [l.Name for l in layers] + list(taken)
    dup = [n for n, c in Counter(names).items() if c > 1]
    if dup:
        raise ConfigError(f"layer names must be unique; {dup[0]!r} appears more than once")
    return layers


def serial_edges(layers) -> list:
    """The connections of a layer array: each layer's output to the next layer's first input."""
    return [(a.Name, b.Name, b.InputNames[0]) for a, b in zip(layers, layers[1:]) if b.InputNames]


def layers_and_edges(fn, x):
    """(copies of the layers, connections (source, destination, destination input)) of a layer array (nested
    lists and bare constructors allowed; named as MATLAB names them) or a LayerGraph."""
    if hasattr(x, "_layers") and hasattr(x, "_edges"):  # leuknet.spec.graph.LayerGraph
        return [copy.copy(l) for l in x._layers], list(x._edges)
    layers = [copy.copy(l) for l in flatten_layers(fn, x)]
    name_layers(layers)
    return layers, serial_edges(layers)


def topological_order(fn, layers, edges):
    """``layers`` in an order where each comes after its sources; checks that every input is connected once,
    that there is one image input layer, one unconnected output and no cycle (one-line ConfigErrors)."""
    by_name = {l.Name: l for l in layers}
    inputs = {}
    outgoing = {l.Name: [] for l in layers}
    for s, d, i in edges:
        for n in (s, d):
            if n not in by_name:
                raise ConfigError(f"{fn}: the connection {s!r} -> {d}/{i} names no layer {n!r}")
        if i not in by_name[d].InputNames:
            raise ConfigError(f"{fn}: layer {d!r} has no input {i!r} (inputs: {', '.join(by_name[d].InputNames)})")
        if (d, i) in inputs:
            raise ConfigError(f"{fn}: input {d}/{i} is connected twice (from {inputs[(d, i)]!r} and {s!r})")
        inputs[(d, i)] = s
        outgoing[s].append(d)
    for l in layers:
        for i in l.InputNames:
            if (l.Name, i) not in inputs:
                where = l.Name if l.InputNames == ["in"] else f"{l.Name}/{i}"
                raise ConfigError(f"{fn}: input {where!r} of layer {l.Name!r} ({l.kind}) is not connected")
        if not l.OutputNames and outgoing[l.Name]:
            raise ConfigError(f"{fn}: output layer {l.Name!r} has no output to connect to {outgoing[l.Name][0]!r}")
    sources = [l for l in layers if isinstance(l, ImageInputLayer)]
    if not sources:
        raise ConfigError(f"{fn}: the network has no imageInputLayer")
    if len(sources) > 1:
        raise ConfigError(f"{fn}: several input layers ({', '.join(l.Name for l in sources)}); leuknet builds "
                          "networks with one imageInputLayer")
    indegree = {l.Name: len(l.InputNames) for l in layers}
    ready = [l.Name for l in layers if indegree[l.Name] == 0]
    order = []
    while ready:
        n = ready.pop(0)
        order.append(by_name[n])
        for d in outgoing[n]:
            indegree[d] -= 1
            if indegree[d] == 0:
                ready.append(d)
    if len(order) < len(layers):
        stuck = [l.Name for l in layers if indegree[l.Name] > 0]
        raise ConfigError(f"{fn}: the layer graph has a cycle through {', '.join(map(repr, stuck[:4]))}")
    sinks = [l.Name for l in layers if not outgoing[l.Name]]
    if len(sinks) > 1:
        raise ConfigError(f"{fn}: the network has several unconnected outputs ({', '.join(sinks[:4])}); "
                          "connect them or remove the layers")
    return order, inputs


def _sizes(xs):
    return ", ".join("x".join(str(d) for d in x.shape[1:]) for x in xs)


# ----------------------------------------------------------------------------------------------------------------
# spatial sizes: the arithmetic of convolution and pooling, without building anything


def _two(v):
    a = [int(x) for x in np.ravel(v)]
    return (a[0], a[0]) if len(a) == 1 else (a[0], a[1])


def _window_size(n, k, s, d, lo, hi):
    return (n + lo + hi - ((k - 1) * d + 1)) // s + 1


def _layer_output_size(spec, ins):
    """The (height, width) of ``spec``'s output from its inputs' sizes (None: not a feature map any more)."""
    if any(v is None for v in ins):
        return None
    if isinstance(spec, (Convolution2DLayer, MaxPooling2DLayer, AveragePooling2DLayer)):
        k = _two(spec.FilterSize if isinstance(spec, Convolution2DLayer) else spec.PoolSize)
        s = _two(spec.Stride)
        d = _two(spec.DilationFactor) if isinstance(spec, Convolution2DLayer) else (1, 1)
        if isinstance(spec.Padding, str):  # 'same'
            return tuple(-(-n // st) for n, st in zip(ins[0], s))
        t, b, l_, r = (int(v) for v in spec.Padding)
        return (_window_size(ins[0][0], k[0], s[0], d[0], t, b), _window_size(ins[0][1], k[1], s[1], d[1], l_, r))
    if isinstance(spec, (GlobalAveragePooling2DLayer, GlobalMaxPooling2DLayer)):
        return (1, 1)
    if isinstance(spec, FullyConnectedLayer):
        return None
    if isinstance(spec, ConcatenationLayer) and int(spec.Dim) in (1, 2):
        axis = int(spec.Dim) - 1
        out = list(ins[0])
        out[axis] = sum(v[axis] for v in ins)
        return tuple(out)
    return ins[0]


def _vanishing_layer(order, inputs, hw):
    """(the first layer, in ``order``, whose output feature map is empty for an input of ``hw``, the (height, width)
    of its input), or None."""
    sizes = {}
    for spec in order:
        ins = None
        if isinstance(spec, ImageInputLayer):
            out = tuple(hw)
        else:
            ins = [sizes.get(inputs.get((spec.Name, i))) for i in spec.InputNames]
            try:
                out = _layer_output_size(spec, ins)
            except (TypeError, ValueError, IndexError):  # properties set by hand to odd values: Keras will say
                out = None
        if out is not None and min(out) < 1:
            return spec, ins[0]
        sizes[spec.Name] = out
    return None


def _smallest(fits, start):
    """The smallest n >= 1 with ``fits(n)`` (``fits`` is monotone: a larger input never shrinks a feature map);
    None when even a very large input does not fit."""
    hi = max(1, start)
    while not fits(hi):
        hi *= 2
        if hi > 1 << 20:
            return None
    lo = 0  # fits(lo) is False or lo == 0
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if fits(mid):
            hi = mid
        else:
            lo = mid
    return hi


def _minimum(order, inputs, start=(1, 1)):
    big = 1 << 22  # the other dimension, large enough never to vanish
    h = _smallest(lambda n: _vanishing_layer(order, inputs, (n, big)) is None, start[0])
    w = _smallest(lambda n: _vanishing_layer(order, inputs, (big, n)) is None, start[1])
    return None if h is None or w is None else (h, w)


def minimum_input_size(layers, fn="minimum_input_size"):
    """The smallest input (height, width) for which no feature map of ``layers`` (a layer array or a LayerGraph)
    vanishes, from the padding, filter, pool, dilation and stride sizes (each dimension on its own: the arithmetic
    is separable), or None when no input size works."""
    specs, edges = layers_and_edges(fn, layers)
    return _minimum(*topological_order(fn, specs, edges))


def check_input_size(layers, what="the network", fn="assemble"):
    """A one-line ConfigError when the input of ``layers`` is too small for its feature maps, naming the smallest
    size that works: 'alexnet needs an input of at least 67 x 67, received 64 (...)'."""
    specs, edges = layers_and_edges(fn, layers)
    _check_input_size(*topological_order(fn, specs, edges), what)


def _check_input_size(order, inputs, what):
    src = next(l for l in order if isinstance(l, ImageInputLayer))
    bad = _vanishing_layer(order, inputs, tuple(int(v) for v in src.InputSize[:2]))
    if bad is not None:
        raise _too_small(order, inputs, what, bad[0], "x".join(map(str, bad[1])))


def _check_feature_map(order, inputs, what, spec, xs):
    """Before building ``spec`` on the tensors ``xs``: a ConfigError when its output would be empty."""
    try:
        out = _layer_output_size(spec, [tuple(int(d) for d in x.shape[1:3]) if len(x.shape) == 4 else None
                                        for x in xs])
    except (TypeError, ValueError, IndexError):
        return
    if out is not None and min(out) < 1:
        raise _too_small(order, inputs, what, spec, _sizes(xs[:1]))


def _too_small(order, inputs, what, spec, got_there):
    src = next(l for l in order if isinstance(l, ImageInputLayer))
    hw = tuple(int(v) for v in src.InputSize[:2])
    least = _minimum(order, inputs, hw)
    where = f"layer {spec.Name!r} ({spec.kind}) gets a {got_there} feature map"
    if least is None:
        return ConfigError(f"{what}: the feature map vanishes for any input size: {where}")
    got = str(hw[0]) if hw[0] == hw[1] else f"{hw[0]} x {hw[1]}"
    return ConfigError(f"{what} needs an input of at least {least[0]} x {least[1]}, received {got} ({where})")


def _build(spec, xs, classes, post, fn):
    """The Keras layers of one MATLAB layer applied to its input tensors ``xs``; returns (tensor, classes of a
    classification layer or None)."""
    x = xs[0]
    shape = tuple(x.shape[1:])
    if isinstance(spec, Convolution2DLayer):
        groups = 1
        cin = shape[-1]
        if isinstance(spec, GroupedConvolution2DLayer):
            groups = cin if spec.NumGroups == "channel-wise" else int(spec.NumGroups)
            if cin % groups:
                raise ConfigError(f"{fn}: layer {spec.Name!r}: {cin} input channels cannot be split into "
                                  f"{groups} groups")
        if isinstance(spec.Padding, tuple) and any(spec.Padding):
            t, b, l_, r = spec.Padding
            x = keras.layers.ZeroPadding2D(((t, b), (l_, r)), name=f"{spec.Name}_padding")(x)
        pad = "same" if spec.Padding == "same" else "valid"
        cpg = cin // groups
        fan_in, fan_out = _fan(spec.FilterSize, cpg, spec.NumFilters)
        kinit = _initializer(spec.WeightsInitializer, fan_in, fan_out, "WeightsInitializer")
        binit = _initializer(spec.BiasInitializer, fan_in, fan_out, "BiasInitializer")
        if isinstance(spec, GroupedConvolution2DLayer):
            k = L.GroupedConv2D(spec.NumFilters, spec.FilterSize, groups, strides=spec.Stride, padding=pad,
                                dilation_rate=spec.DilationFactor, kernel_initializer=kinit,
                                bias_initializer=binit, name=spec.Name)
        else:
            k = L.Conv2D(spec.NumFilters, spec.FilterSize, strides=spec.Stride, padding=pad,
                         dilation_rate=spec.DilationFactor, kernel_initializer=kinit, bias_initializer=binit,
                         name=spec.Name)
        x = k(x)
        post.append((k, spec, shape))
    elif isinstance(spec, FullyConnectedLayer):
        flat_from = shape if len(shape) == 3 else None
        if len(shape) > 1:
            x = keras.layers.Flatten(name=f"{spec.Name}_flatten")(x)
        fan_in = int(np.prod(shape))
        kinit = _initializer(spec.WeightsInitializer, fan_in, spec.OutputSize, "WeightsInitializer")
        binit = _initializer(spec.BiasInitializer, fan_in, spec.OutputSize, "BiasInitializer")
        k = keras.layers.Dense(spec.OutputSize, kernel_initializer=kinit, bias_initializer=binit, name=spec.Name)
        x = k(x)
        post.append((k, spec, flat_from))
    elif isinstance(spec, ReLULayer):
        x = keras.layers.ReLU(name=spec.Name)(x)
    elif isinstance(spec, CrossChannelNormalizationLayer):
        x = L.CrossChannelNormalization(spec.WindowChannelSize, spec.Alpha, spec.Beta, spec.K, name=spec.Name)(x)
    elif isinstance(spec, MaxPooling2DLayer):
        pad = "same" if spec.Padding == "same" else "valid"
        if isinstance(spec.Padding, tuple) and any(spec.Padding):  # padded cells never win the maximum
            x = L.MaxPoolPadding2D(spec.Padding, name=f"{spec.Name}_padding")(x)
        x = L.MaxPooling2D(spec.PoolSize, strides=spec.Stride, padding=pad, name=spec.Name)(x)
    elif isinstance(spec, DropoutLayer):
        x = keras.layers.Dropout(spec.Probability, name=spec.Name)(x)
    elif isinstance(spec, SoftmaxLayer):
        x = L.Softmax(name=spec.Name, dtype="float32")(x)
    elif isinstance(spec, ClassificationOutputLayer):
        if len(x.shape) == 4 and tuple(x.shape[1:3]) != (1, 1):
            raise ConfigError(f"classificationLayer {spec.Name!r}: its input is {x.shape[1]} x {x.shape[2]} x "
                              f"{x.shape[3]}; it takes class scores, 1 x 1 x K (a fully connected layer or a global "
                              "pooling before the softmax)")
        n = int(x.shape[-1])
        cls = spec.Classes
        if isinstance(cls, str) and cls == "auto":
            cls = list(classes) if classes is not None else [str(i) for i in range(n)]
        cls = [str(c) for c in cls]
        if len(cls) != n:
            raise ConfigError(f"{fn}: the labels have {len(cls)} classes ({', '.join(map(str, cls[:5]))}"
                              f"{', ...' if len(cls) > 5 else ''}) but the layer before {spec.Name!r} has {n} "
                              "outputs (the last fullyConnectedLayer's OutputSize must be the number of classes)")
        cw = None
        if not (isinstance(spec.ClassWeights, str) and spec.ClassWeights == "none"):
            cw = [float(v) for v in np.ravel(spec.ClassWeights)]
            if len(cw) != n:
                raise ConfigError(f"{spec.Name}: {len(cw)} class weights for {n} classes")
        return L.ClassificationOutput(cls, cw, name=spec.Name)(x), cls
    elif isinstance(spec, BatchNormalizationLayer):
        k = L.BatchNormalization(spec.Epsilon, spec.MeanDecay, spec.VarianceDecay, name=spec.Name)
        x = k(x)
        post.append((k, spec, shape))
    elif isinstance(spec, AveragePooling2DLayer):
        if spec.Padding == "same" or any(spec.Padding):
            same = spec.Padding == "same"
            x = L.PaddedAveragePooling2D(spec.PoolSize, spec.Stride, (0, 0, 0, 0) if same else spec.Padding,
                                         include_padding=spec.PaddingValue == 0, same=same, name=spec.Name)(x)
        else:
            x = keras.layers.AveragePooling2D(spec.PoolSize, strides=spec.Stride, padding="valid",
                                              name=spec.Name)(x)
    elif isinstance(spec, GlobalAveragePooling2DLayer):
        x = keras.layers.GlobalAveragePooling2D(keepdims=True, name=spec.Name)(x)
    elif isinstance(spec, GlobalMaxPooling2DLayer):
        x = keras.layers.GlobalMaxPooling2D(keepdims=True, name=spec.Name)(x)
    elif isinstance(spec, LeakyReLULayer):
        x = keras.layers.LeakyReLU(negative_slope=spec.Scale, name=spec.Name)(x)
    elif isinstance(spec, ClippedReLULayer):
        x = keras.layers.ReLU(max_value=spec.Ceiling, name=spec.Name)(x)
    elif isinstance(spec, ELULayer):
        x = keras.layers.ELU(alpha=spec.Alpha, name=spec.Name)(x)
    elif isinstance(spec, TanhLayer):
        x = keras.layers.Activation("tanh", name=spec.Name)(x)
    elif isinstance(spec, SigmoidLayer):
        x = keras.layers.Activation("sigmoid", name=spec.Name)(x)
    elif isinstance(spec, AdditionLayer):
        if len({tuple(v.shape[1:]) for v in xs}) > 1:
            raise ConfigError(f"{fn}: layer {spec.Name!r} (addition) needs inputs of one size, received {_sizes(xs)}")
        x = keras.layers.Add(name=spec.Name)(list(xs))
    elif isinstance(spec, (ConcatenationLayer, DepthConcatenationLayer)):
        axis = -1 if isinstance(spec, DepthConcatenationLayer) else int(spec.Dim)
        keep = [d for d in range(3) if d != (2 if axis == -1 else axis - 1)]
        if len({tuple(v.shape[1:][d] for d in keep) for v in xs}) > 1:
            raise ConfigError(f"{fn}: layer {spec.Name!r} ({spec.kind}) cannot join inputs of sizes {_sizes(xs)}")
        x = keras.layers.Concatenate(axis=axis, name=spec.Name)(list(xs))
    else:
        raise ConfigError(f"{fn}: unsupported layer {spec!r}")
    return x, None


def _input(spec):
    dim = "element" if spec.NormalizationDimension == "element" else "channel"
    x_in = keras.Input(shape=spec.InputSize, name=f"{spec.Name}_pixels")
    norm = L.ImageInputNormalization(spec.Normalization, dim, spec.ColorSpace, crop=spec.Crop, name=spec.Name)
    x = norm(x_in)
    stats = {k: v for k, v in (("mean", spec.Mean), ("std", spec.StandardDeviation), ("min", spec.Min),
                               ("max", spec.Max)) if v is not None}
    if stats:
        norm.set_statistics(**stats)
    return x_in, x


def assemble(layers, classes=None, name="network", fn="assemble"):
    """A MATLAB layer array (nested lists and bare constructors allowed) or a LayerGraph -> a Keras functional
    model whose layer names are the MATLAB Names.

    Returns ``(model, class_names)``. A layer array must start with an :class:`ImageInputLayer`; a graph needs
    exactly one, every input connected, no cycle and one unconnected output. ``classes`` fills a classification
    layer's ``Classes='auto'``. Bad sizes (a filter larger than its input, inputs of an addition that differ) are
    one-line ConfigErrors naming the layer; an input too small for the feature maps names the smallest input that
    works (:func:`check_input_size`)."""
    is_graph = hasattr(layers, "_layers") and hasattr(layers, "_edges")
    specs, edges = layers_and_edges(fn, layers)
    if not is_graph and (not specs or not isinstance(specs[0], ImageInputLayer)):
        raise ConfigError(f"{fn}: the layer array must start with imageInputLayer")
    order, inputs = topological_order(fn, specs, edges)
    what = f"{fn}: " + ("the network" if name == "network" else name)
    tensors, post, out_classes, x_in, last = {}, [], None, None, None
    for spec in order:
        if isinstance(spec, ImageInputLayer):
            x_in, tensors[spec.Name] = _input(spec)
        else:
            xs = [tensors[inputs[(spec.Name, i)]] for i in spec.InputNames]
            _check_feature_map(order, inputs, what, spec, xs)
            try:
                tensors[spec.Name], cls = _build(spec, xs, classes, post, fn)
            except (ValueError, TypeError) as e:
                msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
                raise ConfigError(f"{fn}: layer {spec.Name!r} ({spec.kind}) cannot take its input of size "
                                  f"{_sizes(xs)}: {msg[:200]}") from None
            if cls is not None:
                out_classes = cls
        last = spec.Name
    model = keras.Model(x_in, tensors[last], name=name)
    for k, spec, in_shape in post:
        _set_learnables(k, spec, in_shape)
    return model, out_classes


def _set_learnables(k, spec, in_shape):
    """Assign a spec's given weights (MATLAB layouts) to its Keras layer and attach its factors."""
    if isinstance(spec, BatchNormalizationLayer):
        c = int(k.scale.shape[0])
        for var, value, what, init in ((k.scale, spec.Scale, "Scale", spec.ScaleInitializer),
                                       (k.offset, spec.Offset, "Offset", spec.OffsetInitializer),
                                       (k.trained_mean, spec.TrainedMean, "TrainedMean", None),
                                       (k.trained_variance, spec.TrainedVariance, "TrainedVariance", None)):
            if value is None and init is not None and init != ("ones" if what == "Scale" else "zeros"):
                value = _initializer(init, c, c, f"{what}Initializer")((c,)).numpy()
            if value is not None:
                v = np.asarray(value, np.float32).reshape(-1)
                if v.size != c:
                    raise ConfigError(f"{spec.Name}: {what} has {v.size} values, the layer has {c} channels")
                var.assign(v)
        k.matlab_factors = spec.factors()
        return
    if spec.Weights is not None:
        w = np.asarray(spec.Weights, np.float32)
        if isinstance(spec, FullyConnectedLayer):
            w = fc_matlab_to_keras(w, in_shape)
        elif isinstance(spec, GroupedConvolution2DLayer):
            w = grouped_matlab_to_keras(w)
        if tuple(w.shape) != tuple(k.kernel.shape):
            raise ConfigError(f"{spec.Name}: Weights have shape {np.shape(spec.Weights)}, the layer needs the "
                              f"MATLAB layout of Keras shape {tuple(k.kernel.shape)}")
        k.kernel.assign(w)
    if spec.Bias is not None:
        b = np.asarray(spec.Bias, np.float32)
        if isinstance(spec, GroupedConvolution2DLayer) and b.ndim == 4:
            b = b.transpose(0, 1, 3, 2)
        b = b.reshape(-1)
        if b.shape != tuple(k.bias.shape):
            raise ConfigError(f"{spec.Name}: Bias has {b.size} values, the layer needs {k.bias.shape[0]}")
        k.bias.assign(b)
    k.matlab_factors = spec.factors()


_BN_DEFAULT_FACTORS = {"offset_lr": 1.0, "scale_lr": 1.0, "offset_l2": 1.0, "scale_l2": 1.0}


def layer_factors(model) -> dict:
    """{variable path: (learn-rate factor, L2 factor)} for every trainable variable (MATLAB defaults where a
    layer carries none: weights 1 and 1, biases 1 and 0, batch normalisation scale and offset 1 and 1)."""
    out = {}
    for layer in model.layers:
        if isinstance(layer, L.BatchNormalization):
            f = getattr(layer, "matlab_factors", None) or _BN_DEFAULT_FACTORS
            for v in layer.trainable_weights:
                key = "scale" if v.name == "scale" or v.path.endswith("/scale") else "offset"
                out[v.path] = (f[f"{key}_lr"], f[f"{key}_l2"])
            continue
        f = getattr(layer, "matlab_factors", None) or {"weight_lr": 1.0, "bias_lr": 1.0, "weight_l2": 1.0,
                                                       "bias_l2": 0.0}
        for v in layer.trainable_weights:
            is_bias = v.name == "bias" or v.path.endswith("/bias")
            out[v.path] = (f["bias_lr"], f["bias_l2"]) if is_bias else (f["weight_lr"], f["weight_l2"])
    return out


# ----------------------------------------------------------------------------------------------------------------
# back from Keras: net.Layers and layerGraph(net)

_HELPERS = (keras.layers.ZeroPadding2D, L.MaxPoolPadding2D, keras.layers.Flatten)


def _inbound(layer):
    """The Keras layers whose outputs ``layer`` takes, in input order (its first call)."""
    nodes = getattr(layer, "_inbound_nodes", None) or []
    if not nodes:
        return []
    return [t._keras_history.operation for t in nodes[0].input_tensors]


def _spec_of(layer, padding, flat):
    """The MATLAB layer of Keras ``layer`` (``padding``: from a padding helper before it; ``flat``: the spatial
    shape a Flatten before it took), or None for a layer that is no MATLAB layer."""
    f = getattr(layer, "matlab_factors", None) or {}
    fkw = dict(WeightLearnRateFactor=f.get("weight_lr", 1.0), BiasLearnRateFactor=f.get("bias_lr", 1.0),
               WeightL2Factor=f.get("weight_l2", 1.0), BiasL2Factor=f.get("bias_l2", 0.0))
    name = layer.name
    pad = padding or (0, 0, 0, 0)
    if isinstance(layer, L.ImageInputNormalization):
        s = layer.get_statistics()
        dim = "element" if layer.normalization_dimension == "element" else "auto"
        return ImageInputLayer(Name=name, InputSize=tuple(int(v) for v in layer.input.shape[1:]),
                               Normalization=layer.normalization, NormalizationDimension=dim, Mean=s["mean"],
                               StandardDeviation=s["std"], Min=s["min"], Max=s["max"], ColorSpace=layer.colorspace,
                               Crop=layer.crop)
    if isinstance(layer, L.GroupedConv2D):
        fg = layer.filters_per_group
        return GroupedConvolution2DLayer(
            Name=name, FilterSize=layer.kernel_size, NumFilters=fg, NumGroups=layer.groups, Stride=layer.strides,
            DilationFactor=layer.dilation_rate, Padding="same" if layer.padding == "same" else pad,
            Weights=grouped_keras_to_matlab(layer.kernel.numpy(), layer.groups),
            Bias=layer.bias.numpy().reshape(1, 1, layer.groups, fg).transpose(0, 1, 3, 2), **fkw)
    if isinstance(layer, keras.layers.Conv2D):
        return Convolution2DLayer(
            Name=name, FilterSize=tuple(layer.kernel_size), NumFilters=layer.filters, Stride=tuple(layer.strides),
            DilationFactor=tuple(layer.dilation_rate), Padding="same" if layer.padding == "same" else pad,
            Weights=layer.kernel.numpy(), Bias=layer.bias.numpy().reshape(1, 1, -1), **fkw)
    if isinstance(layer, keras.layers.Dense):
        return FullyConnectedLayer(Name=name, OutputSize=layer.units, Weights=fc_keras_to_matlab(layer.kernel.numpy(),
                                                                                                  flat),
                                   Bias=layer.bias.numpy().reshape(-1, 1), **fkw)
    if isinstance(layer, keras.layers.ReLU):
        if layer.max_value is not None:
            return ClippedReLULayer(Name=name, Ceiling=float(layer.max_value))
        return ReLULayer(Name=name)
    if isinstance(layer, L.CrossChannelNormalization):
        return CrossChannelNormalizationLayer(Name=name, WindowChannelSize=layer.window_channel_size,
                                              Alpha=layer.alpha, Beta=layer.beta, K=layer.k)
    if isinstance(layer, keras.layers.MaxPooling2D):
        return MaxPooling2DLayer(Name=name, PoolSize=tuple(layer.pool_size), Stride=tuple(layer.strides),
                                 Padding="same" if layer.padding == "same" else pad)
    if isinstance(layer, keras.layers.Dropout):
        return DropoutLayer(Name=name, Probability=layer.rate)
    if isinstance(layer, keras.layers.Softmax):
        return SoftmaxLayer(Name=name)
    if isinstance(layer, L.ClassificationOutput):
        return ClassificationOutputLayer(Name=name, Classes=list(layer.classes or []),
                                         ClassWeights=layer.class_weights or "none")
    if isinstance(layer, L.BatchNormalization):
        bf = getattr(layer, "matlab_factors", None) or _BN_DEFAULT_FACTORS
        c = (1, 1, -1)
        return BatchNormalizationLayer(
            Name=name, TrainedMean=layer.trained_mean.numpy().reshape(c),
            TrainedVariance=layer.trained_variance.numpy().reshape(c), Epsilon=layer.epsilon,
            MeanDecay=layer.mean_decay, VarianceDecay=layer.variance_decay, Offset=layer.offset.numpy().reshape(c),
            Scale=layer.scale.numpy().reshape(c), OffsetLearnRateFactor=bf["offset_lr"],
            ScaleLearnRateFactor=bf["scale_lr"], OffsetL2Factor=bf["offset_l2"], ScaleL2Factor=bf["scale_l2"])
    if isinstance(layer, L.PaddedAveragePooling2D):
        return AveragePooling2DLayer(Name=name, PoolSize=layer.pool_size, Stride=layer.strides,
                                     Padding="same" if layer.same else layer.padding,
                                     PaddingValue=0 if layer.include_padding else "mean")
    if isinstance(layer, keras.layers.AveragePooling2D):
        return AveragePooling2DLayer(Name=name, PoolSize=tuple(layer.pool_size), Stride=tuple(layer.strides),
                                     Padding="same" if layer.padding == "same" else pad,
                                     PaddingValue="mean" if layer.padding == "same" else 0)
    if isinstance(layer, keras.layers.GlobalAveragePooling2D):
        return GlobalAveragePooling2DLayer(Name=name)
    if isinstance(layer, keras.layers.GlobalMaxPooling2D):
        return GlobalMaxPooling2DLayer(Name=name)
    if isinstance(layer, keras.layers.LeakyReLU):
        return LeakyReLULayer(Name=name, Scale=float(layer.negative_slope))
    if isinstance(layer, keras.layers.ELU):
        return ELULayer(Name=name, Alpha=float(layer.alpha))
    if isinstance(layer, keras.layers.Activation):
        act = keras.activations.serialize(layer.activation)
        act = act if isinstance(act, str) else getattr(act, "get", lambda *_: None)("config")
        if act == "tanh":
            return TanhLayer(Name=name)
        if act == "sigmoid":
            return SigmoidLayer(Name=name)
    if isinstance(layer, keras.layers.Add):
        return AdditionLayer(Name=name, NumInputs=len(_inbound(layer)))
    if isinstance(layer, keras.layers.Concatenate):
        n = len(_inbound(layer))
        if layer.axis == -1:
            return DepthConcatenationLayer(Name=name, NumInputs=n)
        return ConcatenationLayer(Name=name, Dim=int(layer.axis), NumInputs=n)
    return None


def model_graph(model):
    """(MATLAB layers, connections (source, destination, destination input)) of a Keras functional model built by
    :func:`assemble` (or imported, :mod:`leuknet.weights`): padding and flatten helpers fold into the layer they
    serve, weights come back in MATLAB's layouts. A Keras layer with no MATLAB counterpart is a ConfigError."""
    specs, edges = [], []
    for layer in model.layers:
        if isinstance(layer, (keras.layers.InputLayer, *_HELPERS)):
            continue
        sources, padding, flat = [], None, None
        for src in _inbound(layer):
            while isinstance(src, _HELPERS):
                if isinstance(src, keras.layers.ZeroPadding2D):
                    (t, b), (l_, r) = src.padding
                    padding = (t, b, l_, r)
                elif isinstance(src, L.MaxPoolPadding2D):
                    padding = tuple(src.padding)
                elif isinstance(src, keras.layers.Flatten):
                    flat = tuple(int(v) for v in src.input.shape[1:])
                    flat = flat if len(flat) == 3 else None
                src = _inbound(src)[0]
            sources.append(src)
        spec = _spec_of(layer, padding, flat)
        if spec is None:
            raise ConfigError(f"layer {layer.name!r} ({type(layer).__name__}) has no MATLAB counterpart in leuknet")
        specs.append(spec)
        names = spec.InputNames
        for src, i in zip(sources, names):
            if not isinstance(src, keras.layers.InputLayer):
                edges.append((src.name, spec.Name, i))
    return specs, edges


def network_layers(model) -> list:
    """The MATLAB-style layer array of a Keras model built by :func:`assemble`, with ``Weights``/``Bias`` in
    MATLAB's layouts (the ``net.Layers`` of MATLAB; a new :class:`LayerArray` each call)."""
    return LayerArray(model_graph(model)[0])


# ----------------------------------------------------------------------------------------------------------------
# display: MATLAB's "25x1 Layer array with layers:" table

TYPE_NAMES = {
    "ImageInputLayer": "Image Input", "Convolution2DLayer": "Convolution",
    "GroupedConvolution2DLayer": "Grouped Convolution", "ReLULayer": "ReLU",
    "CrossChannelNormalizationLayer": "Cross Channel Normalization", "MaxPooling2DLayer": "Max Pooling",
    "FullyConnectedLayer": "Fully Connected", "DropoutLayer": "Dropout", "SoftmaxLayer": "Softmax",
    "ClassificationOutputLayer": "Classification Output", "BatchNormalizationLayer": "Batch Normalization",
    "AveragePooling2DLayer": "Average Pooling", "GlobalAveragePooling2DLayer": "Global Average Pooling",
    "GlobalMaxPooling2DLayer": "Global Max Pooling", "LeakyReLULayer": "Leaky ReLU",
    "ClippedReLULayer": "Clipped ReLU", "ELULayer": "ELU", "TanhLayer": "Tanh", "SigmoidLayer": "Sigmoid",
    "AdditionLayer": "Addition", "ConcatenationLayer": "Concatenation",
    "DepthConcatenationLayer": "Depth concatenation",
}


def _vector(v):
    return "[" + "  ".join(str(int(x)) for x in np.ravel(v)) + "]"


def _num(v):
    return f"{float(v):g}"


def _padding_text(p):
    return "'same'" if isinstance(p, str) else _vector(p)


def _size_text(v):
    return "x".join(str(int(x)) for x in np.ravel(v))


def _class_names(classes):
    names = [str(c) for c in (classes.categories if hasattr(classes, "categories") else classes)]
    if len(names) == 2:
        return f"classes '{names[0]}' and '{names[1]}'"
    return f"'{names[0]}'" + (f" and {len(names) - 1} other classes" if len(names) > 1 else "")


def describe(layer) -> str:
    """The description column of MATLAB's layer-array display ("96 11x11x3 convolutions with stride [4  4] and
    padding [0  0  0  0]"); the channels of a filter appear once the layer has weights, as in MATLAB. Checked
    against MATLAB sessions' displays for the layers of AlexNet, ResNet, YOLO-style networks and MathWorks'
    examples; a dilation factor is not shown and an untrained channel-wise convolution reads "channel-wise groups
    of ...": MATLAB's wording for those two is *unverified*."""
    k = layer.kind
    if k == "ImageInputLayer":
        norm = str(layer.Normalization)
        return f"{_size_text(layer.InputSize)} images" + ("" if norm == "none" else f" with '{norm}' normalization")
    if k in ("Convolution2DLayer", "GroupedConvolution2DLayer"):
        size = _size_text(layer.FilterSize)
        w = None if layer.Weights is None else np.shape(layer.Weights)
        if w is not None:
            size += f"x{w[2]}"
        tail = f" convolutions with stride {_vector(layer.Stride)} and padding {_padding_text(layer.Padding)}"
        if k == "GroupedConvolution2DLayer":
            groups = layer.NumGroups if w is None or len(w) < 5 else w[4]
            return f"{groups} groups of {layer.NumFilters} {size}{tail}"
        return f"{layer.NumFilters} {size}{tail}"
    if k in ("MaxPooling2DLayer", "AveragePooling2DLayer"):
        what = "max" if k == "MaxPooling2DLayer" else "average"
        return (f"{_size_text(layer.PoolSize)} {what} pooling with stride {_vector(layer.Stride)} and padding "
                f"{_padding_text(layer.Padding)}")
    if k == "FullyConnectedLayer":
        return f"{layer.OutputSize} fully connected layer"
    if k == "CrossChannelNormalizationLayer":
        return f"cross channel normalization with {layer.WindowChannelSize} channels per element"
    if k == "DropoutLayer":
        return f"{_num(100 * float(layer.Probability))}% dropout"
    if k == "ClassificationOutputLayer":
        classes = layer.Classes
        return "crossentropyex" + ("" if isinstance(classes, str) or not len(classes) else
                                   f" with {_class_names(classes)}")
    if k == "BatchNormalizationLayer":
        c = None if layer.TrainedMean is None else int(np.size(layer.TrainedMean))
        return "Batch normalization" + (f" with {c} channels" if c else "")
    simple = {"ReLULayer": "ReLU", "SoftmaxLayer": "softmax", "TanhLayer": "Hyperbolic tangent",
              "SigmoidLayer": "sigmoid", "GlobalAveragePooling2DLayer": "Global average pooling",
              "GlobalMaxPooling2DLayer": "Global max pooling"}
    if k in simple:
        return simple[k]
    if k == "LeakyReLULayer":
        return f"Leaky ReLU with scale {_num(layer.Scale)}"
    if k == "ClippedReLULayer":
        return f"Clipped ReLU with ceiling {_num(layer.Ceiling)}"
    if k == "ELULayer":
        return f"ELU with Alpha {_num(layer.Alpha)}"
    if k == "AdditionLayer":
        return f"Element-wise addition of {layer.NumInputs} inputs"
    if k == "DepthConcatenationLayer":
        return f"Depth concatenation of {layer.NumInputs} inputs"
    if k == "ConcatenationLayer":
        return f"Concatenation of {layer.NumInputs} inputs along dimension {layer.Dim}"
    return k


class LayerArray(list):
    """A layer array (a list of layers) that displays as MATLAB's ``Nx1 Layer array with layers:`` table: what
    ``net.Layers``, ``lgraph.Layers`` and ``alexnet('Weights', 'none')`` return. Slices and sums stay layer
    arrays (a sum flattens nested lists and calls bare constructors, as a layer array does everywhere); anything
    else is a list's."""

    def __getitem__(self, i):
        out = super().__getitem__(i)
        return LayerArray(out) if isinstance(i, slice) else out

    def __add__(self, other):
        return LayerArray(flatten_layers("layer array", [list(self), list(other)]))

    def __radd__(self, other):
        return LayerArray(flatten_layers("layer array", [list(other), list(self)]))

    def __repr__(self):
        try:
            layers = flatten_layers("layer array", list(self))  # an element set to a nested list or constructor
        except ConfigError:
            return list.__repr__(self)
        if not layers:
            return "  0x0 Layer array with properties:"
        rows = [(str(i), f"'{l.Name}'", TYPE_NAMES.get(l.kind, l.kind), describe(l)) for i, l in
                enumerate(layers, 1)]
        w = [max(len(r[c]) for r in rows) for c in range(3)]
        body = "\n".join(f"    {r[0]:>{w[0]}}   {r[1]:<{w[1]}}   {r[2]:<{w[2]}}   {r[3]}" for r in rows)
        return f"  {len(layers)}x1 Layer array with layers:\n\n{body}"

    __str__ = __repr__


__all__ = ["Layer", "LayerArray", "ImageInputLayer", "Convolution2DLayer", "GroupedConvolution2DLayer", "ReLULayer",
           "CrossChannelNormalizationLayer", "MaxPooling2DLayer", "FullyConnectedLayer", "DropoutLayer",
           "SoftmaxLayer", "ClassificationOutputLayer", "BatchNormalizationLayer", "AveragePooling2DLayer",
           "GlobalAveragePooling2DLayer", "GlobalMaxPooling2DLayer", "LeakyReLULayer", "ClippedReLULayer",
           "ELULayer", "TanhLayer", "SigmoidLayer", "AdditionLayer", "ConcatenationLayer", "DepthConcatenationLayer",
           "imageInputLayer", "convolution2dLayer", "groupedConvolution2dLayer", "reluLayer",
           "crossChannelNormalizationLayer", "maxPooling2dLayer", "fullyConnectedLayer", "dropoutLayer",
           "softmaxLayer", "classificationLayer", "batchNormalizationLayer", "averagePooling2dLayer",
           "globalAveragePooling2dLayer", "globalMaxPooling2dLayer", "leakyReluLayer", "clippedReluLayer",
           "eluLayer", "tanhLayer", "sigmoidLayer", "additionLayer", "concatenationLayer",
           "depthConcatenationLayer"]
