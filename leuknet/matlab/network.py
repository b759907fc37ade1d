"""Networks and results: ``trainNetwork``, ``classify``, ``predict``, ``activations`` and the trained network.

MATLAB semantics (MathWorks documentation):
- ``net = trainNetwork(X, Y, layers, options)`` / ``trainNetwork(imds, layers, options)``, ``[net, info] = ...``:
  X an H x W x C x N numeric array (leuknet also takes N x H x W x C: told apart by the input layer's size),
  Y categorical labels; ``info`` per-iteration TrainingLoss, TrainingAccuracy, ValidationLoss, ValidationAccuracy,
  BaseLearnRate, and FinalValidationLoss/Accuracy, OutputNetworkIteration.
  https://www.mathworks.com/help/deeplearning/ref/trainnetwork.html
- ``[YPred, scores] = classify(net, X)``: labels (categorical) and class scores, N x classes; ``predict(net, X)``
  the scores. https://www.mathworks.com/help/deeplearning/ref/seriesnetwork.classify.html
- ``features = activations(net, X, layer, 'OutputAs', 'channels'|'rows'|'columns')``: 'rows' gives N x features.
  MATLAB flattens each observation's H x W x C activation in column-major order (H fastest); leuknet does the
  same. https://www.mathworks.com/help/deeplearning/ref/seriesnetwork.activations.html
- ``ExecutionEnvironment`` 'auto' (a GPU if there is one), 'cpu', 'gpu' (an error without one), 'multi-gpu'
  (every local GPU), 'parallel' (a cluster: leuknet's multi-worker training, ``leuknet train --workers``).
  https://www.mathworks.com/help/deeplearning/ref/trainingoptions.html

Python's conventions: ``net = trainNetwork(...)`` is the network alone, ``net, info = trainNetwork(...,
nargout=2)`` both; likewise ``classify(..., nargout=2)``. The network is a :class:`SeriesNetwork` (a layer array)
or :class:`DAGNetwork` (a layer graph) with ``Layers``, ``predict``, ``classify``, ``activations``, ``save``; the
Keras model is ``net.model``.
"""

from __future__ import annotations

import math
import os
import time
from pathlib import Path

import numpy as np

from leuknet.data.pipeline import ImageData
from leuknet.data.sources import Dataset
from leuknet.errors import ConfigError, DataError, DeviceError
from leuknet.matlab.conventions import (Struct, boolean, choice, flatten_layers, note, options_only, outputs,
                                        script_stacklevel)
from leuknet.matlab.datastore import Categorical, ImageDatastore, as_categorical, image_array
from leuknet.matlab.layers import LayerArray, assemble, network_layers
from leuknet.matlab.options import TrainingOptions
from leuknet.spec.randstream import draw_seed

__all__ = ["trainNetwork", "classify", "predict", "activations", "Layers", "alexnet", "vgg16", "vgg19", "resnet18",
           "resnet50", "googlenet", "squeezenet", "inceptionv3", "mobilenetv2", "SeriesNetwork", "DAGNetwork",
           "loadNetwork", "TrainingInfo"]


# ------------------------------------------------------------------------------------------------------------
# the trained network

class TrainingInfo(Struct):
    """MATLAB's ``info`` struct: fields as attributes (``info.TrainingLoss``) and as keys (``info['TrainingLoss']``)."""


class Network:
    """A trained (or pretrained) network: ``Layers`` (a new list each time, weights in MATLAB's layouts),
    ``InputNames``, ``OutputNames``, ``predict``, ``classify``, ``activations``, ``save``; ``model`` is the Keras
    model."""

    kind = "Network"

    def __init__(self, model, pretrained=False):
        import keras

        if not isinstance(model, keras.Model):
            raise ConfigError(f"{self.kind}: expected a Keras model, received {type(model).__name__}")
        self.model = model
        self.pretrained = pretrained

    @property
    def Layers(self):
        layers = network_layers(self.model)
        if layers and hasattr(layers[-1], "Classes") and isinstance(layers[-1].Classes, list):
            layers[-1].Classes = Categorical(layers[-1].Classes, layers[-1].Classes)
        return layers

    @property
    def InputNames(self):
        return [self.Layers[0].Name]

    @property
    def OutputNames(self):
        return [self.Layers[-1].Name]

    @property
    def Classes(self):
        return Categorical(_classes(self.model), _classes(self.model))

    @property
    def InputSize(self):
        return tuple(int(v) for v in self.model.input.shape[1:])

    def predict(self, X, *args, **kwargs):
        return predict(self, X, *args, **kwargs)

    def classify(self, X, *args, **kwargs):
        return classify(self, X, *args, **kwargs)

    def activations(self, X, layer, *args, **kwargs):
        return activations(self, X, layer, *args, **kwargs)

    def save(self, path):
        """Save as a ``.keras`` file (atomically); :func:`loadNetwork` reads it back. A name without an extension
        gets ``.keras``, as MATLAB's ``save myNet`` writes ``myNet.mat``."""
        from leuknet.io import atomic_path

        path = os.fspath(path)
        if not os.path.splitext(path)[1]:
            path += ".keras"
        if not path.endswith(".keras"):
            raise ConfigError(f"save: leuknet saves networks as .keras files, received {path!r}")
        with atomic_path(path) as tmp:
            self.model.save(tmp)
        return path

    @property
    def Connections(self):
        """The connections between the layers (``lgraph.Connections``'s table): what a DAGNetwork shows."""
        from leuknet.spec.graph import layerGraph

        return layerGraph(self.model).Connections

    def __repr__(self):
        """MATLAB's display (``Connections`` for a DAGNetwork), then leuknet's Keras model."""
        n = len(self.model.layers)
        names = lambda v: "{" + " ".join(f"'{x}'" for x in v) + "}"  # noqa: E731
        conn = f"    Connections: [{len(self.Connections)}x2 table]\n" if self.kind == "DAGNetwork" else ""
        return (f"  {self.kind} with properties:\n\n         Layers: [{len(self.Layers)}x1 nnet.cnn.layer.Layer]\n"
                f"{conn}     InputNames: {names(self.InputNames)}\n    OutputNames: {names(self.OutputNames)}\n\n"
                f"  (leuknet: net.model is the Keras model, {n} Keras layers)")


class SeriesNetwork(Network):
    """A network of layers in series (what ``trainNetwork`` returns for a layer array, and ``alexnet``)."""

    kind = "SeriesNetwork"


class DAGNetwork(Network):
    """A network whose layers form a graph (``trainNetwork`` on a ``layerGraph``)."""

    kind = "DAGNetwork"


def loadNetwork(path):
    """A network saved with ``net.save(path)`` (or any leuknet ``.keras`` model, e.g. a run directory's
    ``model.keras``)."""
    from leuknet.io import load_model

    path = os.fspath(path)
    if not os.path.splitext(path)[1] and not os.path.exists(path):
        path += ".keras"  # what net.save('myNet') wrote, as MATLAB's load myNet reads myNet.mat
    model = load_model(path)
    return _wrap(model, graph=_is_graph(model))


def _is_graph(model):
    import keras

    return any(isinstance(l, keras.layers.Add | keras.layers.Concatenate) for l in model.layers)


def _wrap(model, graph=False):
    return (DAGNetwork if graph else SeriesNetwork)(model)


def _keras_model(fn, net):
    import keras

    if isinstance(net, Network):
        return net.model
    if isinstance(net, keras.Model):
        return net
    raise ConfigError(f"{fn}: expected a trained network (from trainNetwork), received {type(net).__name__}")


def _classes(model):
    from leuknet.train import output_layer

    out = output_layer(model)
    if out is not None and out.classes:
        return [str(c) for c in out.classes]
    return [str(i) for i in range(int(model.output.shape[-1]))]


def Layers(net):
    """MATLAB's ``net.Layers``: the layer array with ``Weights``/``Bias`` in MATLAB layouts; of a list of layers
    (a port's ``layers = [...]``), that list as a layer array."""
    if isinstance(net, Network):
        return net.Layers
    if isinstance(net, (list, tuple)):
        from leuknet.spec.layers import LayerArray

        return LayerArray(flatten_layers("Layers", list(net)))
    return network_layers(net)


def _weights_argument(fn, args, kwargs, extra=None, example="file"):
    """MATLAB's ``'Weights'`` of a pretrained-network function, with leuknet's shorthand (a file as the only
    positional argument): ``'none'``, a local file, or None (not given). ``'imagenet'`` is an error: leuknet never
    downloads weights. Returns (weights, the parsed options)."""
    from leuknet.errors import ModelFileError

    args = list(args)
    path = None
    if len(args) % 2 == 1:  # name-value pairs come in twos: an odd first argument is the file
        path = args.pop(0)
    o = options_only(fn, args, kwargs, {"Weights": None, **(extra or {})})
    if path is not None and "Weights" in o.given:
        raise ConfigError(f"{fn}: weights given twice (a file as the first argument and 'Weights')")
    weights = path if path is not None else o["Weights"]
    if isinstance(weights, str) and weights.lower() == "imagenet":
        raise ModelFileError(f"{fn}: leuknet does not download the ImageNet weights: give a local file, "
                             f"{fn}('Weights', '{example}'), or 'none' for the untrained architecture. {_where(fn)}")
    if isinstance(weights, str) and weights.lower() == "none":
        return "none", o
    if weights is None:
        import warnings

        warnings.warn(f"{fn}(): no Weights given, the network is randomly initialised (leuknet never downloads "
                      f"weights; pass Weights='{example}')", stacklevel=script_stacklevel())
    return weights, o


def _where(fn):
    if fn == "alexnet":
        from leuknet.weights.where import WHERE

        return WHERE
    if fn in OTHER_FILES:
        return OTHER_FILES[fn][1]
    from leuknet.weights.keras_applications import where

    return where(fn)


# the weights files of the networks Keras Applications does not publish: (example file, where to get it)
OTHER_FILES = {
    "resnet18": ("resnet18-f37072fd.pth", "resnet18 weights are not bundled and never downloaded: pass torchvision's "
                 "resnet18-f37072fd.pth (torchvision.models.resnet18(weights='IMAGENET1K_V1') saves it under "
                 "~/.cache/torch/hub/checkpoints on a machine with a network) or MathWorks' resnet18Params.mat "
                 "(www.mathworks.com/supportfiles/nnet/data/networks/resnet18Params.mat)"),
    "googlenet": ("googlenet-12.onnx", "googlenet weights are not bundled and never downloaded: pass the ONNX model "
                  "zoo's googlenet-12.onnx (BVLC GoogLeNet, github.com/onnx/models, "
                  "validated/vision/classification/inception_and_googlenet/googlenet) or MathWorks' "
                  "googlenetParams.mat (www.mathworks.com/supportfiles/nnet/data/networks/googlenetParams.mat)"),
    "squeezenet": ("squeezenet1_1-b8a52dc0.pth", "squeezenet weights are not bundled and never downloaded: pass "
                   "torchvision's squeezenet1_1-b8a52dc0.pth (torchvision.models.squeezenet1_1(weights='IMAGENET1K_V1') "
                   "saves it under ~/.cache/torch/hub/checkpoints on a machine with a network) or a MathWorks "
                   "parameters file of squeezenet (a struct params with a field per layer)")}


def alexnet(*args, **kwargs):
    """MATLAB's ``net = alexnet('Weights', 'imagenet')`` and ``layers = alexnet('Weights', 'none')`` (the untrained
    25-layer architecture, a :class:`LayerArray`), https://www.mathworks.com/help/deeplearning/ref/alexnet.html.
    leuknet never downloads weights: ``'Weights'`` names a local file (.onnx, .keras, .weights.h5; the first
    argument alone as a shorthand, ``alexnet('bvlcalexnet-12.onnx')``), and ``'imagenet'`` is an error saying so.
    ``alexnet()`` with no weights is the architecture randomly initialised, as a network, with a warning."""
    from leuknet.models.alexnet import alexnet_layers

    weights, o = _weights_argument("alexnet", args, kwargs, {"InputOrder": "auto"}, "bvlcalexnet-12.onnx")
    if weights == "none":
        return LayerArray(alexnet_layers())
    if weights is None:
        layers = alexnet_layers()
    else:
        from leuknet.weights import load_alexnet_layers

        layers = load_alexnet_layers(weights, input_order=o["InputOrder"])
    model, _ = assemble(layers, name="alexnet")
    return SeriesNetwork(model, weights is not None)


def _load_weights(fn, weights, specs):
    """Set the weights of ``fn``'s layer specs from the file ``weights``, by its kind: MathWorks' parameters
    MAT-file (any network), torchvision's file (resnet18, squeezenet), the ONNX zoo's Caffe2 file (googlenet), or a
    Keras Applications file (vgg16, vgg19, resnet50, mobilenetv2, inceptionv3). Returns a check to run on the
    assembled model, or None."""
    from leuknet.errors import ModelFileError

    suffix = Path(str(weights)).suffix.lower()
    if not Path(str(weights)).is_file():
        raise ModelFileError(f"weights file {weights} does not exist. {_where(fn)}")
    if suffix == ".mat":
        from leuknet.weights.matlab_params import load_params

        load_params(fn, weights, specs)
        return None
    if fn == "resnet18" and suffix in (".pth", ".pt"):
        from leuknet.weights.torchvision_resnet import load_resnet18

        load_resnet18(weights, specs)
        return None
    if fn == "squeezenet" and suffix in (".pth", ".pt"):
        from leuknet.weights.torchvision_squeezenet import load_squeezenet

        load_squeezenet(weights, specs)
        return None
    if fn == "googlenet" and suffix == ".onnx":
        from leuknet.weights.onnx_import import load_caffe2_onnx, verify

        order = load_caffe2_onnx(fn, weights, specs, first_conv="conv1-7x7_s2")
        mean = np.asarray(specs[0].Mean, np.float32).reshape(-1)[:3]
        return lambda model: verify(weights, model, order, mean_rgb=mean)
    if fn in OTHER_FILES:
        raise ModelFileError(f"{weights}: unsupported weights file for {fn}. {_where(fn)}")
    from leuknet.weights.keras_applications import load_weights

    load_weights(fn, weights, specs, image_size=int(specs[0].InputSize[0]))
    return None


def _pretrained(fn, specs, args, kwargs):
    """``vgg16``/``vgg19``/``resnet18``/``resnet50``/``googlenet``/``squeezenet``/``inceptionv3``/``mobilenetv2``
    from their untrained layout ``specs`` (a layer list or a LayerGraph): the layout itself for ``'Weights','none'`` (a LayerArray or the graph,
    as MATLAB returns), else the network, with the weights of the file given (:func:`_load_weights`)."""
    from leuknet.weights.keras_applications import FILES

    graph = hasattr(specs, "_layers")
    example = OTHER_FILES[fn][0] if fn in OTHER_FILES else FILES[fn]
    weights, _ = _weights_argument(fn, args, kwargs, example=example)
    if weights == "none":
        return specs if graph else LayerArray(specs)
    check = None if weights is None else _load_weights(fn, weights, specs._layers if graph else specs)
    model, _ = assemble(specs, name=fn)
    if check is not None:
        check(model)
    return (DAGNetwork if graph else SeriesNetwork)(model, weights is not None)


def vgg16(*args, **kwargs):
    """MATLAB's ``net = vgg16`` (a 41-layer :class:`SeriesNetwork`; ``vgg16('Weights','none')`` the untrained layer
    array), https://www.mathworks.com/help/deeplearning/ref/vgg16.html, with MATLAB's layer names
    (:mod:`leuknet.spec.pretrained`). The ImageNet weights come from a local Keras Applications file
    (``vgg16('Weights', 'vgg16_weights_tf_dim_ordering_tf_kernels.h5')``, or the file alone as the argument);
    ``'imagenet'`` is an error saying where to get it; no weights: random, with a warning."""
    from leuknet.spec.pretrained import vgg_layers

    return _pretrained("vgg16", vgg_layers(16), args, kwargs)


def vgg19(*args, **kwargs):
    """MATLAB's ``net = vgg19`` (47 layers), as :func:`vgg16`; https://www.mathworks.com/help/deeplearning/ref/vgg19.html."""
    from leuknet.spec.pretrained import vgg_layers

    return _pretrained("vgg19", vgg_layers(19), args, kwargs)


def resnet50(*args, **kwargs):
    """MATLAB's ``net = resnet50`` (a 177-layer :class:`DAGNetwork`; ``resnet50('Weights','none')`` the untrained
    :class:`~leuknet.spec.graph.LayerGraph`), https://www.mathworks.com/help/deeplearning/ref/resnet50.html, with
    MATLAB's layer names, so MathWorks' transfer recipe ports as written (``replaceLayer(lgraph, 'fc1000', ...)``,
    ``'ClassificationLayer_fc1000'``). Weights as :func:`vgg16`, from ``resnet50_weights_tf_dim_ordering_tf_kernels.h5``
    (or its ``_notop`` variant: ``fc1000``, which transfer learning replaces, then stays random)."""
    from leuknet.spec.pretrained import resnet50_graph

    return _pretrained("resnet50", resnet50_graph(), args, kwargs)


def resnet18(*args, **kwargs):
    """MATLAB's ``net = resnet18`` (a 71-layer :class:`DAGNetwork`; ``resnet18('Weights','none')`` the untrained
    :class:`~leuknet.spec.graph.LayerGraph`), https://www.mathworks.com/help/deeplearning/ref/resnet18.html, with
    MATLAB's layer names (``replaceLayer(lgraph, 'fc1000', ...)``, ``'ClassificationLayer_predictions'``,
    ``activations(net, X, 'pool5')``). Weights from torchvision's ``resnet18-f37072fd.pth`` (needs PyTorch) or
    MathWorks' ``resnet18Params.mat``; ``'imagenet'`` is an error saying where to get them; no weights: random,
    with a warning."""
    from leuknet.spec.pretrained import resnet18_graph

    return _pretrained("resnet18", resnet18_graph(), args, kwargs)


def googlenet(*args, **kwargs):
    """MATLAB's ``net = googlenet`` (a 144-layer :class:`DAGNetwork`; ``googlenet('Weights','none')`` the untrained
    :class:`~leuknet.spec.graph.LayerGraph`), https://www.mathworks.com/help/deeplearning/ref/googlenet.html, with
    MATLAB's layer names (``removeLayers(lgraph, {'loss3-classifier','prob','output'})``,
    ``activations(net, X, 'pool5-7x7_s1')``). Weights from the ONNX model zoo's ``googlenet-12.onnx`` (BVLC
    GoogLeNet, as MATLAB's; the built network is checked against onnxruntime on the file and refused if they
    differ) or MathWorks' ``googlenetParams.mat``."""
    from leuknet.spec.pretrained import googlenet_graph

    return _pretrained("googlenet", googlenet_graph(), args, kwargs)


def squeezenet(*args, **kwargs):
    """MATLAB's ``net = squeezenet`` (SqueezeNet v1.1, a 68-layer :class:`DAGNetwork`;
    ``squeezenet('Weights','none')`` the untrained :class:`~leuknet.spec.graph.LayerGraph`),
    https://www.mathworks.com/help/deeplearning/ref/squeezenet.html, with MATLAB's layer names
    (``replaceLayer(lgraph, 'conv10', ...)``, ``'ClassificationLayer_predictions'``,
    ``activations(net, X, 'fire9-concat')``). Weights from torchvision's ``squeezenet1_1-b8a52dc0.pth`` (needs
    PyTorch) or MathWorks' ``squeezenetParams.mat``."""
    from leuknet.spec.pretrained import squeezenet_graph

    return _pretrained("squeezenet", squeezenet_graph(), args, kwargs)


def inceptionv3(*args, **kwargs):
    """MATLAB's ``net = inceptionv3`` (a 315-layer :class:`DAGNetwork` imported from Keras;
    ``inceptionv3('Weights','none')`` the untrained :class:`~leuknet.spec.graph.LayerGraph`),
    https://www.mathworks.com/help/deeplearning/ref/inceptionv3.html, with MATLAB's layer names
    (``replaceLayer(lgraph, 'predictions', ...)``, ``'ClassificationLayer_predictions'``,
    ``activations(net, X, 'avg_pool')``). Weights from Keras Applications'
    ``inception_v3_weights_tf_dim_ordering_tf_kernels.h5`` (or its ``_notop`` variant, a Keras 3 ``.keras`` or
    ``.weights.h5`` of ``keras.applications.InceptionV3``) or a MathWorks parameters file."""
    from leuknet.spec.pretrained import inceptionv3_graph

    return _pretrained("inceptionv3", inceptionv3_graph(), args, kwargs)


def mobilenetv2(*args, **kwargs):
    """MATLAB's ``net = mobilenetv2`` (a 154-layer :class:`DAGNetwork`; ``mobilenetv2('Weights','none')`` the
    untrained :class:`~leuknet.spec.graph.LayerGraph`), https://www.mathworks.com/help/deeplearning/ref/mobilenetv2.html,
    with MATLAB's layer names (``replaceLayer(lgraph, 'Logits', ...)``, ``'ClassificationLayer_Logits'``). Weights
    as :func:`vgg16`, from Keras Applications' ``mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224.h5`` (or
    its ``_no_top`` variant: ``Logits`` then stays random)."""
    from leuknet.spec.pretrained import mobilenetv2_graph

    return _pretrained("mobilenetv2", mobilenetv2_graph(), args, kwargs)


# ------------------------------------------------------------------------------------------------------------
# data arguments -> ImageData

class _CalledInMatlabWithoutParentheses:
    """A function MATLAB scripts call without parentheses (``net = alexnet;``): Python binds the function itself,
    so asking it for a network's property (``net.Layers``) says to call it instead of Python's bare
    "'function' object has no attribute 'Layers'"."""

    def __init__(self, fn):
        import functools

        functools.update_wrapper(self, fn)

    def __call__(self, *args, **kwargs):
        return self.__wrapped__(*args, **kwargs)

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        fn = self.__wrapped__.__name__
        raise AttributeError(f"{fn} is a function, not a network: MATLAB's `net = {fn};` is `net = {fn}()` in "
                             f"Python ({name!r} was asked of the function itself)")

    def __repr__(self):
        return f"<leuknet.matlab function {self.__wrapped__.__name__}>"

    def __reduce__(self):  # pickles as the module attribute it is (multiprocessing, joblib)
        return self.__wrapped__.__name__


alexnet = _CalledInMatlabWithoutParentheses(alexnet)
mobilenetv2 = _CalledInMatlabWithoutParentheses(mobilenetv2)
vgg16 = _CalledInMatlabWithoutParentheses(vgg16)
vgg19 = _CalledInMatlabWithoutParentheses(vgg19)
resnet50 = _CalledInMatlabWithoutParentheses(resnet50)
resnet18 = _CalledInMatlabWithoutParentheses(resnet18)
googlenet = _CalledInMatlabWithoutParentheses(googlenet)
squeezenet = _CalledInMatlabWithoutParentheses(squeezenet)
inceptionv3 = _CalledInMatlabWithoutParentheses(inceptionv3)


def _is_layers(x):
    from leuknet.matlab.layers import Layer

    if isinstance(x, Layer) or getattr(x, "matlab_layer_constructor", False):
        return True
    if isinstance(x, (list, tuple)):
        return bool(x) and all(_is_layers(v) for v in x)
    return type(x).__name__ == "LayerGraph"


def _is_datastore(x):
    return isinstance(x, (ImageDatastore, Dataset, ImageData)) or hasattr(x, "image_data")


def image_data(fn, X, Y, input_size, classes=None, colorspace="rgb"):
    """Any data argument of a MATLAB function -> ``(ImageData, classes)``: an image datastore, an augmented
    datastore, a leuknet Dataset or ImageData, or an array of images (N x H x W x C, H x W x C x N, or one
    H x W x C image) with labels ``Y`` (categorical, strings, numbers) or none (prediction)."""
    from leuknet.data.pipeline import load_image_data

    if isinstance(X, tuple) and X and all(isinstance(d, ImageDatastore) for d in X):
        raise ConfigError(f"{fn}: received {len(X)} datastores (splitEachLabel returns all its outputs: unpack "
                          "them, or pass nargout=1 for the first alone)")
    if isinstance(X, ImageData):
        return X, classes
    if isinstance(X, ImageDatastore):
        return X.image_data(tuple(input_size), classes=classes, colorspace=colorspace, fn=fn)
    if hasattr(X, "image_data"):
        return X.image_data(tuple(input_size), classes=classes, colorspace=colorspace, fn=fn)
    if isinstance(X, Dataset):
        y = as_categorical(fn, [s.label for s in X.samples], classes or X.classes)
        data, _ = load_image_data([s.path for s in X.samples], y.codes, tuple(input_size)[:2], colorspace,
                                  on_bad="raise")
        return data, y.categories
    if X is None:
        raise ConfigError(f"{fn}: no images given")
    arr = image_array(fn, X, input_size)
    if arr.dtype != np.uint8:
        arr = arr.astype(np.float32)
    if Y is None:
        labels, cats = np.zeros(len(arr), np.int32), classes
    else:
        y = as_categorical(fn, Y, classes)
        if len(y) != len(arr):
            raise DataError(f"{fn}: {len(arr)} images but {len(y)} labels")
        labels, cats = y.codes, y.categories
    kw = {"channels": arr.shape[-1]} if "channels" in ImageData.__dataclass_fields__ else {}
    return ImageData(labels, tuple(arr.shape[1:3]), colorspace, images=arr, **kw), cats


def _split_args(fn, args):
    """trainNetwork's positional forms -> (X, Y, layers, options)."""
    args = list(args)
    if len(args) >= 2 and _is_layers(args[1]) and (len(args) < 3 or not _is_layers(args[2])):
        X, layers = args[0], args[1]
        rest = args[2:]
        Y = None
    elif len(args) >= 3 and _is_layers(args[2]):
        X, Y, layers = args[0], args[1], args[2]
        rest = args[3:]
    else:
        raise ConfigError(f"{fn}: expected trainNetwork(X, Y, layers, options) or trainNetwork(ds, layers, "
                          "options), with layers a layer array or layerGraph")
    if len(rest) > 1:
        raise ConfigError(f"{fn}: too many input arguments")
    options = rest[0] if rest else None
    if options is None:
        raise ConfigError(f"{fn}: no training options (options = trainingOptions('sgdm', ...))")
    if not isinstance(options, TrainingOptions):
        raise ConfigError(f"{fn}: options must come from trainingOptions(...), received {type(options).__name__}")
    return X, Y, layers, options


def _layer_specs(fn, layers):
    """(layers for assemble, input layer spec, output layer spec, is a graph)."""
    from leuknet.matlab.graph import LayerGraph, input_layer_spec, output_layer_spec
    from leuknet.matlab.layers import ImageInputLayer

    is_graph = isinstance(layers, LayerGraph)
    if not is_graph:
        layers = flatten_layers(fn, layers)
    inp, out = input_layer_spec(layers), output_layer_spec(layers)

    if not isinstance(inp, ImageInputLayer):
        raise ConfigError(f"{fn}: the layer array must start with imageInputLayer")
    return layers, inp, out, is_graph


# ------------------------------------------------------------------------------------------------------------
# ExecutionEnvironment

def _execution(fn, options):
    """(strategy, scope) for ``options.ExecutionEnvironment``: the ``tf.distribute`` strategy the network is built
    and trained with under TensorFlow (None: this device, default placement), and under JAX, where there is no
    strategy, the ``keras.distribution`` scope it is built and trained in (a null context: the default device)."""
    import contextlib

    import keras

    if keras.backend.backend() == "jax":
        return None, _jax_execution(fn, options)
    return _tf_execution(fn, options), contextlib.nullcontext()


def _device_words(strategy):
    """What MATLAB's verbose output says it trains on: 'single CPU', 'single GPU', or 'N devices' (leuknet's
    words for a mirrored or multi-worker strategy, whose MATLAB wording is not reproduced)."""
    import keras

    n = int(getattr(strategy, "num_replicas_in_sync", 1) or 1)
    if n > 1:
        return f"{n} devices"
    if keras.backend.backend() == "jax":
        import jax

        return "single GPU" if jax.devices()[0].platform == "gpu" else "single CPU"
    import tensorflow as tf

    device = getattr(strategy, "extended", None)
    names = str(getattr(device, "worker_devices", "")) if device is not None else ""
    on_cpu = "CPU" in names.upper() or not tf.config.list_logical_devices("GPU")
    return "single CPU" if on_cpu else "single GPU"


def _tf_execution(fn, options):
    import tensorflow as tf

    env = options.ExecutionEnvironment
    gpus = tf.config.list_logical_devices("GPU")
    if env == "cpu":  # this run on the CPU; the GPUs stay visible to the rest of the script
        return tf.distribute.OneDeviceStrategy("/cpu:0") if gpus else None
    if env == "auto":
        return None
    if env == "parallel":  # MATLAB's cluster pool; here the workers of TF_CONFIG
        if not os.environ.get("TF_CONFIG"):
            raise DeviceError(f"{fn}: ExecutionEnvironment 'parallel' needs a cluster: start one process per "
                              "machine with TF_CONFIG set (or use leuknet train --workers host:port,... "
                              "--task-index i)")
        return tf.distribute.MultiWorkerMirroredStrategy()
    _check_gpus(fn, options, len(gpus), "TensorFlow")  # 'gpu', 'multi-gpu'
    return tf.distribute.MirroredStrategy() if env == "multi-gpu" and len(gpus) > 1 else None


def _jax_execution(fn, options):
    import contextlib

    from keras import distribution

    from leuknet.profiles import visible_gpus

    env = options.ExecutionEnvironment
    gpus = distribution.list_devices("gpu") if visible_gpus() else []
    if env == "cpu":  # the network's weights and every step on the CPU; the GPUs stay to the rest of the script
        return distribution.DataParallel(devices=distribution.list_devices("cpu")[:1]).scope() if gpus else \
            contextlib.nullcontext()
    if env == "auto":
        return contextlib.nullcontext()
    if env == "parallel":
        raise DeviceError(f"{fn}: ExecutionEnvironment 'parallel' (a cluster of machines) needs the TensorFlow "
                          "backend (MultiWorkerMirroredStrategy); under JAX use 'multi-gpu' on one machine")
    _check_gpus(fn, options, len(gpus), "JAX")
    if env == "multi-gpu" and len(gpus) > 1:
        return distribution.DataParallel(devices=gpus).scope()
    return contextlib.nullcontext()


def _check_gpus(fn, options, n, backend):
    env = options.ExecutionEnvironment
    if not n:
        raise DeviceError(f"{fn}: ExecutionEnvironment '{env}' needs {'a supported GPU' if env == 'gpu' else 'GPUs'}"
                          f", and none is visible to {backend} on this machine (use 'auto' or 'cpu')")
    if env == "multi-gpu" and options.MiniBatchSize % n:
        raise ConfigError(f"{fn}: MiniBatchSize {options.MiniBatchSize} does not split over {n} GPUs")


# ------------------------------------------------------------------------------------------------------------
# trainNetwork

class _ProgressPlot:
    """``Plots='training-progress'``: MATLAB's figure (accuracy and loss per iteration, validation points),
    redrawn at every validation and epoch end and when training ends, saved as ``training-progress.png`` in the
    CheckpointPath (else the current folder). MATLAB shows it in a window; leuknet writes the file (and says
    where, once)."""

    def __init__(self, options):
        folder = options.CheckpointPath or os.getcwd()
        self.path = os.path.join(folder, "training-progress.png")
        self.rows = []
        self.last = 0.0

    def __call__(self, event, payload):
        if event == "iteration":
            self.rows.append(payload)
            due = not math.isnan(payload.get("ValidationAccuracy", math.nan))
            if due and time.monotonic() - self.last > 5:
                self.draw()
        elif event in ("epoch", "end") and self.rows:
            self.draw()

    def draw(self):
        from leuknet.figures import draw_training_progress, training_progress
        from leuknet.io import atomic_path

        hist = [{"iteration": r["Iteration"], "epoch": r["Epoch"], "training_accuracy": r["TrainingAccuracy"],
                 "training_loss": r["TrainingLoss"], "validation_accuracy": r["ValidationAccuracy"],
                 "validation_loss": r["ValidationLoss"]} for r in self.rows]
        with atomic_path(self.path) as tmp:
            training_progress(hist, tmp, title="Training progress (trainNetwork)")
        window = _live_window()
        if window is not None:  # an interactive pyplot backend: the figure in a window too, as MATLAB's
            plt, fig = window
            fig.clf()
            axes = fig.subplots(2, 1, sharex=True)
            draw_training_progress(axes, hist, "Training progress (trainNetwork)")
            fig.canvas.draw_idle()
            plt.pause(0.001)
        if not self.last:
            note(f"trainNetwork: the training-progress plot is drawn to {self.path}"
                 + ("" if window is not None else " (MATLAB shows it in a window; no interactive display here)"))
        self.last = time.monotonic()


def _live_window():
    """(pyplot, the 'Training Progress' figure) where the user's pyplot runs an interactive backend, else None."""
    import sys

    if "matplotlib.pyplot" not in sys.modules:
        return None
    import matplotlib
    import matplotlib.pyplot as plt

    backend = matplotlib.get_backend().lower()
    if backend in ("agg", "pdf", "ps", "svg", "cairo", "template") or "inline" in backend:
        return None
    return plt, plt.figure("Training Progress", figsize=(9, 6.2))


class _Checkpoints:
    """``CheckpointPath``: the network after every epoch as ``net_checkpoint__<iteration>__<date>.keras``
    (MATLAB writes ``net_checkpoint__<iteration>__<date>.mat``)."""

    def __init__(self, folder, model):
        self.folder, self.model = folder, model

    per_epoch = 0

    def __call__(self, event, payload):
        if event == "start":
            self.per_epoch = payload["iterations_per_epoch"]
        if event == "epoch" and self.per_epoch and payload["iteration"] % self.per_epoch == 0:  # complete epochs
            from leuknet.io import atomic_path

            stamp = time.strftime("%Y_%m_%d__%H_%M_%S")
            path = os.path.join(self.folder, f"net_checkpoint__{payload['iteration']}__{stamp}.keras")
            with atomic_path(path) as tmp:
                self.model.save(tmp)


class _OutputFcns:
    """``OutputFcn``: each function gets MATLAB's info struct (Epoch, Iteration, TimeSinceStart, TrainingLoss,
    ValidationLoss, BaseLearnRate, TrainingAccuracy, ValidationAccuracy, State 'start'|'iteration'|'done') and
    stops training by returning true."""

    def __init__(self, fns):
        self.fns = list(fns) if isinstance(fns, (list, tuple)) else [fns]
        self.last = {}

    def __call__(self, event, payload):
        if event not in ("start", "iteration", "end"):
            return None
        state = {"start": "start", "iteration": "iteration", "end": "done"}[event]
        row = payload if event == "iteration" else (self.last if event == "end" else {})
        if event == "iteration":
            self.last = payload

        def value(k):  # MATLAB's [] (not computed) is None; NaN never reaches the function
            v = row.get(k)
            return None if v is None or (isinstance(v, float) and math.isnan(v)) else v

        info = TrainingInfo(State=state, Epoch=value("Epoch"), Iteration=value("Iteration"),
                            TimeSinceStart=value("TimeElapsed"), TrainingLoss=value("TrainingLoss"),
                            ValidationLoss=value("ValidationLoss"), BaseLearnRate=value("BaseLearnRate"),
                            TrainingAccuracy=value("TrainingAccuracy"),
                            ValidationAccuracy=value("ValidationAccuracy"))
        stop = False
        for f in self.fns:
            stop = bool(f(info)) or stop
        return stop if event == "iteration" else None


def trainNetwork(*args, nargout=None, seed=None, callback=None):
    """``net = trainNetwork(X, Y, layers, options)`` or ``trainNetwork(ds, layers, options)``;
    ``net, info = trainNetwork(..., nargout=2)``.

    X: images (N x H x W x C, MATLAB's H x W x C x N, told apart by the input layer's size) with labels Y; or an
    imageDatastore / augmentedImageDatastore (labels from it). ``layers``: a layer array (nested lists and bare
    constructors allowed) or a layerGraph. Weights, shuffling and dropout draw from MATLAB's global stream
    (:func:`~leuknet.matlab.randstream.rng`: every run of a script the same network, each call a new one);
    ``seed`` (leuknet's addition) seeds them from a stream of their own instead.
    ``info`` has per-iteration ``TrainingLoss``, ``TrainingAccuracy`` (%), ``ValidationLoss``,
    ``ValidationAccuracy`` (NaN where not validated), ``BaseLearnRate`` as attributes and keys.
    """
    from leuknet.train import seed_everything

    fn = "trainNetwork"
    X, Y, layers, options = _split_args(fn, args)
    layers, inp, out, is_graph = _layer_specs(fn, layers)
    input_size = tuple(inp.InputSize)
    fixed = None
    if out is not None and not (isinstance(out.Classes, str) and out.Classes == "auto"):
        fixed = [str(c) for c in out.Classes]
    if isinstance(X, tuple) and X and all(isinstance(d, ImageDatastore) for d in X):
        raise ConfigError(f"{fn}: received {len(X)} datastores (splitEachLabel returns all its outputs: unpack "
                          "them, or pass nargout=1 for the first alone)")
    if _is_datastore(X) and Y is not None:
        raise ConfigError(f"{fn}: labels come from the datastore; call trainNetwork(ds, layers, options)")
    if not _is_datastore(X) and Y is None:
        raise ConfigError(f"{fn}: images without labels; call trainNetwork(X, Y, layers, options)")
    if seed is None:
        seed = draw_seed()
    seed_everything(seed)  # before the data: augmentation seeds are drawn from it
    train, classes = image_data(fn, X, Y, input_size, fixed, inp.ColorSpace)
    if not classes:
        raise DataError(f"{fn}: the training images have no labels (an imageDatastore needs 'LabelSource', "
                        "'foldernames' or imds.Labels; assigning imds.Files empties them, as in MATLAB)")
    validation = None
    if options.ValidationData is not None:
        vd = options.ValidationData
        if _is_datastore(vd):
            vx, vy = vd, None
        elif isinstance(vd, (tuple, list)) and len(vd) == 2:
            vx, vy = vd
        else:
            raise ConfigError(f"{fn}: ValidationData must be a datastore or {{X, Y}} (a tuple), received "
                              f"{type(vd).__name__}")
        validation, _ = image_data(fn, vx, vy, input_size, classes, inp.ColorSpace)
    strategy, scope = _execution(fn, options)
    with scope:
        return _train(fn, layers, classes, options, strategy, train, validation, seed, callback, is_graph, nargout)


def _train(fn, layers, classes, options, strategy, train, validation, seed, callback, is_graph, nargout):
    from leuknet.train import Trainer, seed_everything

    seed_everything(seed)
    if strategy is not None:
        with strategy.scope():
            model, _ = assemble(layers, classes=classes, fn=fn)
    else:
        model, _ = assemble(layers, classes=classes, fn=fn)
    trainer = Trainer(model, options, strategy=strategy)
    cbs = []
    if options.Verbose:
        from leuknet.console import TrainingProgress

        cbs.append(TrainingProgress(verbose=True, matlab_device=_device_words(strategy)))
    if options.Plots == "training-progress":
        cbs.append(_ProgressPlot(options))
    if options.CheckpointPath:
        cbs.append(_Checkpoints(options.CheckpointPath, model))
    if options.OutputFcn is not None:
        cbs.append(_OutputFcns(options.OutputFcn))
    if callback is not None:
        cbs.append(callback)

    def cb(event, payload):
        stop = False
        for c in cbs:
            stop = bool(c(event, payload)) or stop
        return stop

    info = trainer.fit(train, validation, seed=seed, callback=cb)
    return outputs(fn, (_wrap(model, is_graph), TrainingInfo(info.as_dict())), nargout)


# ------------------------------------------------------------------------------------------------------------
# prediction

def _input_of(model):
    from leuknet.train import input_layer

    layer = input_layer(model)
    return tuple(int(v) for v in model.input.shape[1:]), (layer.colorspace if layer else "rgb")


def predict(net, X, *args, **kwargs):
    """``scores = predict(net, X, 'MiniBatchSize', 128)``: class scores, N x classes (float32). ``X``: one
    H x W x C image, an array (N x H x W x C or H x W x C x N) or a datastore. ``'ReturnCategorical', true``: the
    labels instead, as ``classify`` (https://www.mathworks.com/help/deeplearning/ref/seriesnetwork.predict.html)."""
    o = options_only("predict", args, kwargs, {"MiniBatchSize": 128, "ExecutionEnvironment": "auto",
                                                "Acceleration": "auto", "ReturnCategorical": False})
    as_labels = boolean("predict", "ReturnCategorical", o.pop("ReturnCategorical"))  # checked before the work
    scores, _ = _scores("predict", net, X, (), dict(o))
    return _labels("predict", net, scores) if as_labels else scores


def _scores(fn, net, X, args, kwargs):
    """predict's work, its messages naming ``fn`` (predict or classify): the scores and the options."""
    o = options_only(fn, args, kwargs, {"MiniBatchSize": 128, "ExecutionEnvironment": "auto",
                                        "Acceleration": "auto"})
    choice(fn, "ExecutionEnvironment", o["ExecutionEnvironment"], ("auto", "cpu", "gpu"))
    model = _keras_model(fn, net)
    size, space = _input_of(model)
    data, _ = image_data(fn, X, None, size, None, space)
    from leuknet.train import predict_probabilities

    return predict_probabilities(model, data, int(o["MiniBatchSize"])), o


def _labels(fn, net, scores):
    return Categorical(categories=_classes(_keras_model(fn, net)), codes=scores.argmax(1).astype(np.int32))


def classify(net, X, *args, nargout=None, **kwargs):
    """``YPred = classify(net, X)`` (categorical labels); ``YPred, scores = classify(net, X, nargout=2)``."""
    scores, _ = _scores("classify", net, X, args, kwargs)
    return outputs("classify", (_labels("classify", net, scores), scores), nargout)


def activations(net, X, layer, *args, **kwargs):
    """``features = activations(net, X, layer, 'OutputAs', 'rows')``: the output of layer ``layer`` (its Name or
    0-based index into ``net.Layers``) for every image. 'channels' (default): MATLAB's H x W x C x N (1 x 1 x C x N
    for a fully connected or softmax layer), so ``Act(:,:,1,i)`` ports as ``Act[:, :, 0, i - 1]``; 'rows':
    N x features; 'columns': features x N; features flattened in MATLAB's column-major (H, W, C) order."""
    import keras

    fn = "activations"
    o = options_only(fn, args, kwargs, {"OutputAs": "channels", "MiniBatchSize": 128,
                                        "ExecutionEnvironment": "auto", "Acceleration": "auto"})
    output_as = choice(fn, "OutputAs", o["OutputAs"], ("channels", "rows", "columns"))
    model = _keras_model(fn, net)
    names = [l.Name for l in network_layers(model)]
    if isinstance(layer, (int, np.integer)):
        if not -len(names) <= int(layer) < len(names):
            raise ConfigError(f"{fn}: layer index {layer} out of range 0..{len(names) - 1}")
        layer = names[int(layer)]
    if layer not in names:
        raise ConfigError(f"{fn}: no layer named {layer!r}; layers: {', '.join(names)}")
    keras_layer = model.get_layer(layer)
    if keras_layer.__class__.__name__ == "ClassificationOutput":
        keras_layer = model.get_layer(names[names.index(layer) - 1])
    cache = model.__dict__.setdefault("_leuknet_activation_models", {})
    sub = cache.get(keras_layer.name)
    if sub is None:
        sub = cache[keras_layer.name] = keras.Model(model.input, keras_layer.output)
    size, space = _input_of(model)
    data, _ = image_data(fn, X, None, size, None, space)
    from leuknet.train import predict_probabilities

    a = predict_probabilities(sub, data, int(o["MiniBatchSize"]))
    if output_as == "channels":
        return np.ascontiguousarray(np.moveaxis(a[:, None, None, :] if a.ndim == 2 else a, 0, -1))
    flat = a.reshape(len(a), -1) if a.ndim == 2 else np.stack([x.transpose(2, 1, 0).ravel() if x.ndim == 3
                                                                else x.ravel() for x in a])
    return flat if output_as == "rows" else flat.T
