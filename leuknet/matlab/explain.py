"""MATLAB's ``gradCAM``: which part of an image drives a trained network's class score.

``scoreMap = gradCAM(net, X, label)``, ``gradCAM(net, X, classIdx)``, ``gradCAM(net, X, reductionFcn)``,
``scoreMap, featureLayer, reductionLayer = gradCAM(..., nargout=3)``, with the name-value options
``'FeatureLayer'``, ``'ReductionLayer'``, ``'OutputUpsampling'`` ('bicubic' | 'nearest' | 'none'),
``'MiniBatchSize'``, ``'ExecutionEnvironment'``, ``'Acceleration'``
(https://www.mathworks.com/help/deeplearning/ref/gradcam.html, R2021a and later: the map of the change in the class
score that the reduction layer gives, differentiated with respect to the feature layer's features).

The map is Grad-CAM's (Selvaraju et al., ICCV 2017, eq. 1-2): ``ReLU(sum_k alpha_k A^k)``, ``A^k`` channel k of
the feature layer's output, ``alpha_k`` the mean over its pixels of the gradient of the class score with respect
to ``A^k``; then resized to the input's height and width with ``imresize`` ('bicubic', MATLAB's method:
:func:`leuknet.matlab.imresize`), or 'nearest', or left at the feature layer's size ('none'). No rescaling: the
values are the score's units (a script's ``rescale(scoreMap)`` or ``imagesc`` scales them for display).

- ``label``: a categorical (``classify``'s output), a class name or a list of them; ``classIdx``: 0-based class
  indices (leuknet's indexing everywhere: MATLAB's ``classIdx`` 1 is 0 here). Several classes give one map each
  along the third dimension (MATLAB's ``scoreMap(:,:,k)``).
- ``X``: one H x W x C image (the network's input size) or a batch, H x W x C x N as MATLAB; ``scoreMap`` is then
  H x W x K x N (``squeeze``d of trailing singletons as MATLAB: one image and one class give H x W), single.
- ``reductionFcn``: a function of the reduction layer's output for one image (a backend tensor: the class scores
  as a vector for a fully connected layer, H x W x C for a spatial one) that returns the scalar to explain.
- Defaults, as MATLAB reports them for a classification network (``[scoreMap, featureLayer, reductionLayer] =
  gradCAM(...)``): the reduction layer is the one feeding the softmax layer (the class scores before
  normalisation), the feature layer the last layer before it whose output has more than one pixel (the last
  spatial layer). A classification output layer named as the reduction layer stands for its input, the softmax.
"""

from __future__ import annotations

import numpy as np

from leuknet.errors import ConfigError
from leuknet.matlab.conventions import choice, number, options_only, outputs
from leuknet.matlab.datastore import Categorical
from leuknet.matlab.images import imresize
from leuknet.matlab.layers import network_layers
from leuknet.matlab.network import _classes, _input_of, _keras_model, image_data

__all__ = ["gradCAM"]


def gradCAM(net, X, target, *args, nargout=None, **kwargs):
    """See the module's docstring."""
    from leuknet.explain import class_scores, grad_cam_maps, gradient_model, layer_gradients

    fn = "gradCAM"
    o = options_only(fn, args, kwargs, {"FeatureLayer": None, "ReductionLayer": None, "OutputUpsampling": "bicubic",
                                        "MiniBatchSize": 128, "ExecutionEnvironment": "auto",
                                        "Acceleration": "auto"})
    upsampling = choice(fn, "OutputUpsampling", o["OutputUpsampling"], ("bicubic", "nearest", "none"))
    choice(fn, "ExecutionEnvironment", o["ExecutionEnvironment"], ("auto", "cpu", "gpu"))
    choice(fn, "Acceleration", o["Acceleration"], ("auto", "mex", "none"))
    batch = int(number(fn, "MiniBatchSize", o["MiniBatchSize"], integer=True, low=1))
    model = _keras_model(fn, net)
    layers = network_layers(model)  # converts every weight to MATLAB's layout: once
    names = [layer.Name for layer in layers]
    kinds = {layer.Name: type(layer).__name__ for layer in layers}
    reduction = _reduction_layer(fn, model, names, kinds, o["ReductionLayer"])
    feature = _feature_layer(fn, model, names, reduction, o["FeatureLayer"])
    score_tensor = model.get_layer(reduction).output
    if callable(target) and not isinstance(target, (str, Categorical)):
        score_fns = [_reduced(target)]
    else:
        if not (len(score_tensor.shape) == 2 or tuple(score_tensor.shape[1:3]) == (1, 1)):
            raise ConfigError(f"{fn}: the reduction layer {reduction!r} gives an output of shape "
                              f"{tuple(score_tensor.shape[1:])}, not a vector of class scores: pass a reduction "
                              "function (gradCAM(net, X, reductionFcn)) or name a layer of class scores")
        classes = _classes(model)
        score_fns = _class_indices(fn, target, classes, int(score_tensor.shape[-1]))
    size, space = _input_of(model)
    data, _ = image_data(fn, X, None, size, None, space)
    feature_layer = model.get_layer(feature)
    grad_model = gradient_model(model, feature_layer, score_tensor)
    distinct = list(dict.fromkeys(score_fns))  # a class asked twice is computed once
    maps = []  # per batch: N x K x h x w
    for x, _ in data.stored_batches(batch):
        x = np.asarray(x, np.float32)
        done = {}
        for k in distinct:
            pick = k if callable(k) else class_scores(np.full(len(x), k, np.int32))
            done[k] = grad_cam_maps(*layer_gradients(grad_model, feature_layer, x, pick)[:2])
        maps.append(np.stack([done[k] for k in score_fns], axis=1))
    cams = np.concatenate(maps, axis=0).astype(np.float32)
    if upsampling != "none":
        h, w = size[:2]
        cams = np.stack([np.stack([np.asarray(imresize(m, [h, w], upsampling), np.float32) for m in per])
                         for per in cams])
    score_map = np.transpose(cams, (2, 3, 1, 0))  # MATLAB's H x W x K x N
    while score_map.ndim > 2 and score_map.shape[-1] == 1:
        score_map = score_map[..., 0]
    return outputs(fn, (score_map, feature, reduction), nargout)


def _reduction_layer(fn, model, names, kinds, given):
    if given is not None:
        given = _layer_name(fn, given, names, "ReductionLayer")
        if kinds[given] == "ClassificationOutputLayer":  # stands for the layer feeding it (the softmax)
            given = _source(model, given, names)
        return given
    softmax = [n for n in names if kinds[n] == "SoftmaxLayer"]
    if softmax:
        return _source(model, softmax[-1], names)
    last = [n for n in names if kinds[n] != "ClassificationOutputLayer"]
    return last[-1]


def _source(model, name, names):
    """The MATLAB layer whose output feeds layer ``name`` (a Flatten leuknet adds before a fully connected layer
    has no MATLAB layer: walked past)."""
    source = model.get_layer(name).input._keras_history.operation.name
    while source not in names:
        source = model.get_layer(source).input._keras_history.operation.name
    return source


def _upstream(model, name):
    """The names of the Keras layers whose outputs reach layer ``name``."""
    seen, todo = set(), [model.get_layer(name)]
    while todo:
        layer = todo.pop()
        for node in layer._inbound_nodes:
            for t in node.input_tensors:
                parent = t._keras_history.operation
                if parent.name not in seen:
                    seen.add(parent.name)
                    todo.append(parent)
    return seen


def _feature_layer(fn, model, names, reduction, given):
    if given is not None:
        given = _layer_name(fn, given, names, "FeatureLayer")
        shape = model.get_layer(given).output.shape
        if len(shape) != 4:
            raise ConfigError(f"{fn}: the feature layer {given!r} has no spatial output (shape {tuple(shape[1:])}); "
                              f"layers with one: {', '.join(_spatial(model, names, names[-1]))}")
        if given not in _upstream(model, reduction):
            raise ConfigError(f"{fn}: the feature layer {given!r} does not feed the reduction layer {reduction!r}: "
                              "the score does not depend on it")
        return given
    candidates = _spatial(model, names, reduction)
    if not candidates:
        raise ConfigError(f"{fn}: no layer before {reduction!r} has an output of more than one pixel: name one "
                          "with 'FeatureLayer'")
    return candidates[-1]


def _spatial(model, names, before):
    """The layers (in net.Layers order, before ``before``) whose output has more than one pixel, input excluded."""
    out = []
    for n in names[1:names.index(before)]:
        shape = model.get_layer(n).output.shape
        if len(shape) == 4 and (shape[1] or 0) * (shape[2] or 0) > 1:
            out.append(n)
    return out


def _layer_name(fn, given, names, what):
    if isinstance(given, (int, np.integer)) and not isinstance(given, bool):
        if not -len(names) <= int(given) < len(names):
            raise ConfigError(f"{fn}: {what} index {given} out of range 0..{len(names) - 1}")
        return names[int(given)]
    if not isinstance(given, str) or given not in names:
        raise ConfigError(f"{fn}: {what} {given!r} is not a layer of the network; its layers: {', '.join(names)}")
    return given


def _class_indices(fn, target, classes, n_scores):
    """The 0-based class indices a label, a list of labels or 0-based indices name."""
    if isinstance(target, Categorical):
        values = target._names()
    elif isinstance(target, (str, np.str_)):
        values = [str(target)]
    else:
        values = list(np.ravel(np.asarray(target, dtype=object)))
    if not values:
        raise ConfigError(f"{fn}: no class given")
    out = []
    for v in values:
        if isinstance(v, (str, np.str_)):
            if str(v) not in classes:
                raise ConfigError(f"{fn}: {str(v)!r} is not a class of the network; its classes: {', '.join(classes)}")
            out.append(classes.index(str(v)))
        elif isinstance(v, (int, np.integer)) and not isinstance(v, bool):
            if not 0 <= int(v) < n_scores:
                raise ConfigError(f"{fn}: class index {int(v)} out of range 0..{n_scores - 1} (leuknet's indices "
                                  "are 0-based: MATLAB's classIdx 1 is 0)")
            out.append(int(v))
        else:
            raise ConfigError(f"{fn}: expected a label (categorical or class name), a 0-based class index or a "
                              f"reduction function, received {v!r}")
    return out


def _reduced(fcn):
    """A reduction function of one image's reduction-layer output -> the per-image scores of a batch."""
    def pick(scores):
        import keras

        return keras.ops.stack([keras.ops.cast(keras.ops.reshape(fcn(scores[i]), ()), "float32")
                                for i in range(scores.shape[0])])
    return pick
