"""MATLAB-named layer constructors (``convolution2dLayer(3, 64, Name="conv1")``) and their assembly into a
Keras model whose layer names are the MATLAB ``Name``s.

Each constructor returns a small spec object with MATLAB's properties and defaults; :func:`assemble` turns a layer
array into a Keras functional model, sets given ``Weights``/``Bias`` (converted from MATLAB's layouts) and
attaches the learn-rate and L2 factors that :mod:`leuknet.solvers` reads.

MATLAB layouts: convolution ``Weights`` FH x FW x C x F (as Keras), ``Bias`` 1 x 1 x F; grouped convolution
FH x FW x C/G x F/G x G and 1 x 1 x F/G x G; fully connected ``Weights`` OutputSize x InputSize (Keras: the
transpose), ``Bias`` OutputSize x 1. A fully connected layer after a spatial input flattens in MATLAB's
column-major (H, W, C) order, Keras in row-major (H, W, C): weights are permuted on the way in and out.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, fields

import keras
import numpy as np

from leuknet import layers as L
from leuknet.errors import ConfigError

DEFAULT_NAMES = {
    "ImageInputLayer": "imageinput", "Convolution2DLayer": "conv", "GroupedConvolution2DLayer": "groupedconv",
    "ReLULayer": "relu", "CrossChannelNormalizationLayer": "crossnorm", "MaxPooling2DLayer": "maxpool",
    "FullyConnectedLayer": "fc", "DropoutLayer": "dropout", "SoftmaxLayer": "softmax",
    "ClassificationOutputLayer": "classoutput",
}


def _pair(v, what):
    a = np.atleast_1d(np.asarray(v)).astype(int).tolist()
    if len(a) == 1:
        a = a * 2
    if len(a) != 2 or min(a) < 1:
        raise ConfigError(f"{what} must be a positive integer or [h w], received {v!r}")
    return tuple(a)


def _padding(v):
    if isinstance(v, str):
        if v != "same":
            raise ConfigError(f"Padding must be 'same' or numbers, received {v!r}")
        return "same"
    a = np.atleast_1d(np.asarray(v)).astype(int).tolist()
    if len(a) == 1:
        a = a * 4
    elif len(a) == 2:
        a = [a[0], a[0], a[1], a[1]]
    if len(a) != 4 or min(a) < 0:
        raise ConfigError(f"Padding must be 'same', p, [a b] or [t b l r], received {v!r}")
    return tuple(a)  # top, bottom, left, right


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


@dataclass
class Layer:
    Name: str = ""

    @property
    def kind(self):
        return type(self).__name__

    def __repr__(self):
        props = ", ".join(f"{f.name}={getattr(self, f.name)!r}" for f in fields(self)
                          if f.name not in ("Weights", "Bias", "Mean", "StandardDeviation", "Min", "Max"))
        return f"{self.kind}({props})"


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


def _check_options(fn_name, options, allowed):
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise ConfigError(f"{fn_name}: unknown name-value option {unknown[0]!r}; valid: {', '.join(sorted(allowed))}")


_LEARNABLE_OPTS = ("Name", "Weights", "Bias", "WeightsInitializer", "BiasInitializer", "WeightLearnRateFactor",
                   "BiasLearnRateFactor", "WeightL2Factor", "BiasL2Factor")


def imageInputLayer(inputSize, **options) -> ImageInputLayer:
    """``imageInputLayer(inputSize, Normalization='zerocenter', NormalizationDimension='auto', Mean=...)``."""
    _check_options("imageInputLayer", options, ("Name", "Normalization", "NormalizationDimension", "Mean",
                                                "StandardDeviation", "Min", "Max", "ColorSpace", "Crop"))
    size = tuple(int(v) for v in np.atleast_1d(inputSize))
    if len(size) == 2:
        size = size + (1,)
    if len(size) != 3 or min(size) < 1:
        raise ConfigError(f"imageInputLayer: inputSize must be [h w c], received {inputSize!r}")
    layer = ImageInputLayer(InputSize=size, **options)
    if layer.Normalization not in L.NORMALIZATIONS:
        raise ConfigError(f"imageInputLayer: Normalization must be one of {L.NORMALIZATIONS}, "
                          f"received {layer.Normalization!r}")
    if layer.NormalizationDimension not in ("auto", "channel", "element"):
        raise ConfigError("imageInputLayer: NormalizationDimension must be auto, channel or element, "
                          f"received {layer.NormalizationDimension!r}")
    return layer


def convolution2dLayer(filterSize, numFilters, **options) -> Convolution2DLayer:
    """``convolution2dLayer(filterSize, numFilters, Stride=1, Padding=0, ...)`` with MATLAB's defaults."""
    _check_options("convolution2dLayer", options, _LEARNABLE_OPTS + ("Stride", "Padding", "DilationFactor"))
    return Convolution2DLayer(
        FilterSize=_pair(filterSize, "filterSize"), NumFilters=int(numFilters),
        Stride=_pair(options.pop("Stride", 1), "Stride"), DilationFactor=_pair(options.pop("DilationFactor", 1),
                                                                                "DilationFactor"),
        Padding=_padding(options.pop("Padding", 0)), **options)


def groupedConvolution2dLayer(filterSize, numFiltersPerGroup, numGroups, **options) -> GroupedConvolution2DLayer:
    """``groupedConvolution2dLayer(filterSize, numFiltersPerGroup, numGroups, ...)`` (numGroups may be
    'channel-wise')."""
    _check_options("groupedConvolution2dLayer", options, _LEARNABLE_OPTS + ("Stride", "Padding", "DilationFactor"))
    if not (numGroups == "channel-wise" or (int(numGroups) >= 1)):
        raise ConfigError(f"groupedConvolution2dLayer: numGroups must be >= 1 or 'channel-wise', received {numGroups!r}")
    return GroupedConvolution2DLayer(
        FilterSize=_pair(filterSize, "filterSize"), NumFilters=int(numFiltersPerGroup), NumGroups=numGroups,
        Stride=_pair(options.pop("Stride", 1), "Stride"), DilationFactor=_pair(options.pop("DilationFactor", 1),
                                                                                "DilationFactor"),
        Padding=_padding(options.pop("Padding", 0)), **options)


def fullyConnectedLayer(outputSize, **options) -> FullyConnectedLayer:
    """``fullyConnectedLayer(outputSize, ...)``; ``Weights`` OutputSize x InputSize, ``Bias`` OutputSize x 1."""
    _check_options("fullyConnectedLayer", options, _LEARNABLE_OPTS)
    if int(outputSize) < 1:
        raise ConfigError(f"fullyConnectedLayer: outputSize must be a positive integer, received {outputSize!r}")
    return FullyConnectedLayer(OutputSize=int(outputSize), **options)


def reluLayer(**options) -> ReLULayer:
    _check_options("reluLayer", options, ("Name",))
    return ReLULayer(**options)


def crossChannelNormalizationLayer(windowChannelSize, **options) -> CrossChannelNormalizationLayer:
    """``crossChannelNormalizationLayer(windowChannelSize, Alpha=1e-4, Beta=0.75, K=2)``."""
    _check_options("crossChannelNormalizationLayer", options, ("Name", "Alpha", "Beta", "K"))
    w = int(windowChannelSize)
    if not 1 <= w <= 16:
        raise ConfigError(f"crossChannelNormalizationLayer: windowChannelSize must be 1 to 16, received {w}")
    return CrossChannelNormalizationLayer(WindowChannelSize=w, **options)


def maxPooling2dLayer(poolSize, **options) -> MaxPooling2DLayer:
    """``maxPooling2dLayer(poolSize, Stride=1, Padding=0)``: MATLAB's stride defaults to 1, not the pool size."""
    _check_options("maxPooling2dLayer", options, ("Name", "Stride", "Padding"))
    return MaxPooling2DLayer(PoolSize=_pair(poolSize, "poolSize"), Stride=_pair(options.pop("Stride", 1), "Stride"),
                             Padding=_padding(options.pop("Padding", 0)), **options)


def dropoutLayer(probability=0.5, **options) -> DropoutLayer:
    _check_options("dropoutLayer", options, ("Name",))
    if not 0 <= float(probability) < 1:
        raise ConfigError(f"dropoutLayer: probability must be in [0, 1), received {probability!r}")
    return DropoutLayer(Probability=float(probability), **options)


def softmaxLayer(**options) -> SoftmaxLayer:
    _check_options("softmaxLayer", options, ("Name",))
    return SoftmaxLayer(**options)


def classificationLayer(**options) -> ClassificationOutputLayer:
    """``classificationLayer(Classes='auto', ClassWeights='none')``: cross-entropy over N observations."""
    _check_options("classificationLayer", options, ("Name", "Classes", "ClassWeights"))
    return ClassificationOutputLayer(**options)


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

def name_layers(layers) -> list:
    """MATLAB's automatic names: 'conv' for a single unnamed convolution, 'conv_1', 'conv_2', ... for several."""
    kinds = Counter(l.kind for l in layers if not l.Name)
    seen = Counter()
    for l in layers:
        if not l.Name:
            base = DEFAULT_NAMES.get(l.kind, l.kind.lower())
            if kinds[l.kind] > 1:
                seen[l.kind] += 1
                l.Name = f"{base}_{seen[l.kind]}"
            else:
                l.Name = base
    names = [l.Name for l in layers]
    dup = [n for n, c in Counter(names).items() if c > 1]
    if dup:
        raise ConfigError(f"layer names must be unique; {dup[0]!r} appears more than once")
    return layers


def assemble(layers, classes=None, name="network"):
    """A MATLAB layer array -> Keras functional model (names = MATLAB Names).

    Returns ``(model, class_names)``. The first layer must be an :class:`ImageInputLayer`. ``classes`` fills a
    classification layer's ``Classes='auto'``.
    """
    import copy

    layers = [copy.copy(l) for l in layers]
    if not layers or not isinstance(layers[0], ImageInputLayer):
        raise ConfigError("the layer array must start with imageInputLayer")
    name_layers(layers)
    inp = layers[0]
    dim = "element" if inp.NormalizationDimension == "element" else "channel"
    x_in = keras.Input(shape=inp.InputSize, name=f"{inp.Name}_pixels")
    norm = L.ImageInputNormalization(inp.Normalization, dim, inp.ColorSpace, crop=inp.Crop, name=inp.Name)
    x = norm(x_in)
    stats = {k: v for k, v in (("mean", inp.Mean), ("std", inp.StandardDeviation), ("min", inp.Min),
                               ("max", inp.Max)) if v is not None}
    if stats:
        norm.set_statistics(**stats)
    post = []  # (keras layer, spec, input shape) to receive weights and factors
    out_classes = None
    for spec in layers[1:]:
        shape = tuple(x.shape[1:])
        if isinstance(spec, (Convolution2DLayer,)):
            groups = 1
            cin = shape[-1]
            if isinstance(spec, GroupedConvolution2DLayer):
                groups = cin if spec.NumGroups == "channel-wise" else int(spec.NumGroups)
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
            x = keras.layers.Softmax(name=spec.Name, dtype="float32")(x)
        elif isinstance(spec, ClassificationOutputLayer):
            n = int(x.shape[-1])
            cls = spec.Classes
            if isinstance(cls, str) and cls == "auto":
                cls = list(classes) if classes is not None else [str(i) for i in range(n)]
            cls = [str(c) for c in cls]
            if len(cls) != n:
                raise ConfigError(f"{spec.Name}: {len(cls)} classes for a network with {n} outputs")
            cw = None
            if not (isinstance(spec.ClassWeights, str) and spec.ClassWeights == "none"):
                cw = [float(v) for v in np.ravel(spec.ClassWeights)]
                if len(cw) != n:
                    raise ConfigError(f"{spec.Name}: {len(cw)} class weights for {n} classes")
            x = L.ClassificationOutput(cls, cw, name=spec.Name)(x)
            out_classes = cls
        else:
            raise ConfigError(f"unsupported layer {spec!r}")
    model = keras.Model(x_in, x, name=name)
    for k, spec, in_shape in post:
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
    return model, out_classes


def layer_factors(model) -> dict:
    """{variable path: (learn-rate factor, L2 factor)} for every trainable variable (MATLAB defaults where a
    layer carries none: weights 1 and 1, biases 1 and 0)."""
    out = {}
    for layer in model.layers:
        f = getattr(layer, "matlab_factors", None) or {"weight_lr": 1.0, "bias_lr": 1.0, "weight_l2": 1.0,
                                                       "bias_l2": 0.0}
        for v in layer.trainable_weights:
            is_bias = v.name == "bias" or v.path.endswith("/bias")
            out[v.path] = (f["bias_lr"], f["bias_l2"]) if is_bias else (f["weight_lr"], f["weight_l2"])
    return out


def network_layers(model) -> list:
    """The MATLAB-style layer array of a Keras model built by :func:`assemble`, with ``Weights``/``Bias`` in
    MATLAB's layouts (the ``net.Layers`` of MATLAB)."""
    out = []
    prev_shape = None
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        in_shape = tuple(layer.input.shape[1:]) if hasattr(layer, "input") else None
        f = getattr(layer, "matlab_factors", None) or {}
        fkw = dict(WeightLearnRateFactor=f.get("weight_lr", 1.0), BiasLearnRateFactor=f.get("bias_lr", 1.0),
                   WeightL2Factor=f.get("weight_l2", 1.0), BiasL2Factor=f.get("bias_l2", 0.0))
        if isinstance(layer, L.ImageInputNormalization):
            s = layer.get_statistics()
            dim = "element" if layer.normalization_dimension == "element" else "auto"
            out.append(ImageInputLayer(Name=layer.name, InputSize=tuple(int(v) for v in in_shape),
                                       Normalization=layer.normalization, NormalizationDimension=dim,
                                       Mean=s["mean"], StandardDeviation=s["std"], Min=s["min"], Max=s["max"],
                                       ColorSpace=layer.colorspace, Crop=layer.crop))
        elif isinstance(layer, L.GroupedConv2D):
            fg = layer.filters_per_group
            out.append(GroupedConvolution2DLayer(
                Name=layer.name, FilterSize=layer.kernel_size, NumFilters=fg, NumGroups=layer.groups,
                Stride=layer.strides, DilationFactor=layer.dilation_rate,
                Padding="same" if layer.padding == "same" else prev_shape or (0, 0, 0, 0),
                Weights=grouped_keras_to_matlab(layer.kernel.numpy(), layer.groups),
                Bias=layer.bias.numpy().reshape(1, 1, layer.groups, fg).transpose(0, 1, 3, 2), **fkw))
            prev_shape = None
        elif isinstance(layer, keras.layers.ZeroPadding2D):
            (t, b), (l_, r) = layer.padding
            prev_shape = (t, b, l_, r)
        elif isinstance(layer, keras.layers.Conv2D):
            out.append(Convolution2DLayer(
                Name=layer.name, FilterSize=tuple(layer.kernel_size), NumFilters=layer.filters,
                Stride=tuple(layer.strides), DilationFactor=tuple(layer.dilation_rate),
                Padding="same" if layer.padding == "same" else prev_shape or (0, 0, 0, 0),
                Weights=layer.kernel.numpy(), Bias=layer.bias.numpy().reshape(1, 1, -1), **fkw))
            prev_shape = None
        elif isinstance(layer, keras.layers.Flatten):
            prev_shape = in_shape
        elif isinstance(layer, keras.layers.Dense):
            flat = prev_shape if prev_shape is not None and len(prev_shape) == 3 else None
            out.append(FullyConnectedLayer(Name=layer.name, OutputSize=layer.units,
                                           Weights=fc_keras_to_matlab(layer.kernel.numpy(), flat),
                                           Bias=layer.bias.numpy().reshape(-1, 1), **fkw))
            prev_shape = None
        elif isinstance(layer, keras.layers.ReLU):
            out.append(ReLULayer(Name=layer.name))
        elif isinstance(layer, L.CrossChannelNormalization):
            out.append(CrossChannelNormalizationLayer(Name=layer.name, WindowChannelSize=layer.window_channel_size,
                                                      Alpha=layer.alpha, Beta=layer.beta, K=layer.k))
        elif isinstance(layer, L.MaxPoolPadding2D):
            prev_shape = layer.padding
        elif isinstance(layer, keras.layers.MaxPooling2D):
            out.append(MaxPooling2DLayer(Name=layer.name, PoolSize=tuple(layer.pool_size),
                                         Stride=tuple(layer.strides),
                                         Padding="same" if layer.padding == "same" else prev_shape or (0, 0, 0, 0)))
            prev_shape = None
        elif isinstance(layer, keras.layers.Dropout):
            out.append(DropoutLayer(Name=layer.name, Probability=layer.rate))
        elif isinstance(layer, keras.layers.Softmax):
            out.append(SoftmaxLayer(Name=layer.name))
        elif isinstance(layer, L.ClassificationOutput):
            out.append(ClassificationOutputLayer(Name=layer.name, Classes=list(layer.classes or []),
                                                 ClassWeights=layer.class_weights or "none"))
    return out


__all__ = ["imageInputLayer", "convolution2dLayer", "groupedConvolution2dLayer", "reluLayer",
           "crossChannelNormalizationLayer", "maxPooling2dLayer", "fullyConnectedLayer", "dropoutLayer",
           "softmaxLayer", "classificationLayer"]
