"""Networks and results: ``trainNetwork``, ``classify``, ``predict``, ``activations`` and the trained network."""

from __future__ import annotations

import numpy as np

from leuknet.data.pipeline import ImageData
from leuknet.data.sources import Dataset
from leuknet.errors import ConfigError, DataError
from leuknet.matlab.layers import assemble, network_layers
from leuknet.matlab.options import TrainingOptions, trainingOptions

__all__ = ["trainNetwork", "classify", "predict", "Layers", "alexnet", "SeriesNetwork"]


class SeriesNetwork:
    """What MATLAB's ``alexnet()`` returns: ``.Layers`` is the layer array with weights (MATLAB layouts), so
    ``alexnet().Layers[:-3] + [fullyConnectedLayer(...), ...]`` is the transfer-learning idiom. ``.model`` is the
    Keras model."""

    def __init__(self, model, pretrained):
        self.model = model
        self.pretrained = pretrained

    @property
    def Layers(self):
        return network_layers(self.model)

    def __repr__(self):
        return f"SeriesNetwork({len(self.Layers)} layers, {'pretrained' if self.pretrained else 'random weights'})"


def alexnet(Weights=None, InputOrder="auto"):
    """``net = alexnet`` with weights from a local file (.onnx, .keras, .weights.h5). Without ``Weights`` the
    network is randomly initialised and a warning says so: leuknet never downloads weights."""
    import warnings

    from leuknet.models.alexnet import alexnet_layers

    if Weights is None:
        warnings.warn("alexnet(): no Weights given, the network is randomly initialised (leuknet never downloads "
                      "weights; pass Weights='alexnet.onnx')", stacklevel=2)
        layers = alexnet_layers()
    else:
        from leuknet.weights import load_alexnet_layers

        layers = load_alexnet_layers(Weights, input_order=InputOrder)
    model, _ = assemble(layers, name="alexnet")
    return SeriesNetwork(model, Weights is not None)


def Layers(net):
    """MATLAB's ``net.Layers``: the layer array with ``Weights``/``Bias`` in MATLAB layouts."""
    return network_layers(net)


def _old_imageDatastore(location, LabelSource="foldernames", IncludeSubfolders=True):
    """``imageDatastore(folder, 'IncludeSubfolders', true, 'LabelSource', 'foldernames')``."""
    from leuknet.data.sources import discover

    if LabelSource != "foldernames":
        raise ConfigError("imageDatastore: only LabelSource='foldernames' is supported")
    return discover(location, "folders")


def _categorical(Y, classes=None):
    y = np.asarray(Y).ravel()
    names = [str(v) for v in y]
    # categorical(Y): categories sorted (numerically for numbers, lexicographically for text)
    cats = list(classes) if classes is not None else [str(v) for v in np.unique(y)]
    index = {c: i for i, c in enumerate(cats)}
    missing = sorted(set(names) - set(index))
    if missing:
        raise DataError(f"label {missing[0]!r} is not one of the network's classes {cats}")
    return np.array([index[n] for n in names], np.int32), cats


def _image_data(X, Y, input_size, classes=None, colorspace="rgb"):
    """Arrays, a Dataset or ImageData -> (ImageData, classes)."""
    from leuknet.data.pipeline import load_image_data

    if isinstance(X, ImageData):
        return X, classes
    if isinstance(X, Dataset):
        labels, cats = _categorical([s.label for s in X.samples], classes or X.classes)
        data, bad = load_image_data([s.path for s in X.samples], labels, input_size[:2], colorspace, on_bad="raise")
        return data, cats
    X = np.asarray(X)
    if X.ndim == 3:
        X = X[..., None]
    if X.ndim != 4:
        raise DataError(f"X must be an N x H x W x C array, received shape {X.shape}")
    if tuple(X.shape[1:]) != tuple(input_size):
        raise DataError(f"images are {tuple(X.shape[1:])} but the input layer takes {tuple(input_size)}")
    if Y is None:
        labels, cats = np.zeros(len(X), np.int32), classes
    else:
        labels, cats = _categorical(Y, classes)
        if len(labels) != len(X):
            raise DataError(f"{len(X)} images but {len(labels)} labels")
    return ImageData(labels, tuple(X.shape[1:3]), images=X), cats


def trainNetwork(X, Y, layers=None, options=None, *, seed=0, callback=None):
    """``[net, info] = trainNetwork(X, Y, layers, options)`` or ``trainNetwork(imds, layers, options)``.

    X: N x H x W x C array (Y: labels), a :class:`~leuknet.data.sources.Dataset` (labels from it) or
    ImageData. Returns ``(net, info)``: ``info`` holds per-iteration ``TrainingLoss``, ``TrainingAccuracy``,
    ``ValidationLoss``, ``ValidationAccuracy`` (NaN where not validated), ``BaseLearnRate`` (NumPy arrays).
    With ``options.Verbose`` the MATLAB progress table is drawn on the console.
    """
    from leuknet.train import Trainer, seed_everything

    if isinstance(X, (Dataset, ImageData)) and options is None:
        X, Y, layers, options = X, None, Y, layers
    if options is None:
        options = trainingOptions("sgdm")
    if not isinstance(options, TrainingOptions):
        raise ConfigError("options must come from trainingOptions(...)")
    input_size = tuple(layers[0].InputSize) if layers else None
    if input_size is None:
        raise ConfigError("trainNetwork needs a layer array starting with imageInputLayer")
    out_spec = layers[-1]
    fixed = None if isinstance(getattr(out_spec, "Classes", "auto"), str) else [str(c) for c in out_spec.Classes]
    train, classes = _image_data(X, Y, input_size, fixed, layers[0].ColorSpace)
    validation = None
    if options.ValidationData is not None:
        vd = options.ValidationData
        vx, vy = (vd, None) if isinstance(vd, (Dataset, ImageData)) else vd
        validation, _ = _image_data(vx, vy, input_size, classes, layers[0].ColorSpace)
    seed_everything(seed)
    net, _ = assemble(layers, classes=classes)
    trainer = Trainer(net, options)
    reporter = None
    if options.Verbose:
        from leuknet.console import TrainingProgress

        reporter = TrainingProgress(verbose=True)
    cbs = [c for c in (reporter, callback) if c is not None]

    def cb(event, payload):
        for c in cbs:
            c(event, payload)

    info = trainer.fit(train, validation, seed=seed, callback=cb)
    return net, info.as_dict()


def predict(net, X, MiniBatchSize=128):
    """``scores = predict(net, X)``: class probabilities, N x classes."""
    from leuknet.train import input_layer, predict_probabilities

    layer = input_layer(net)
    size = tuple(net.input.shape[1:])
    data, _ = _image_data(X, None, size, None, layer.colorspace if layer else "rgb")
    return predict_probabilities(net, data, MiniBatchSize)


def classify(net, X, MiniBatchSize=128):
    """``[YPred, scores] = classify(net, X)``: predicted class names and probabilities."""
    from leuknet.train import output_layer

    scores = predict(net, X, MiniBatchSize)
    out = output_layer(net)
    classes = out.classes if out is not None and out.classes else [str(i) for i in range(scores.shape[1])]
    return np.array([classes[i] for i in scores.argmax(1)]), scores
