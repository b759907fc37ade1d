"""ImageNet weights of VGG-16, VGG-19, ResNet-50, MobileNetV2 and InceptionV3 from the files Keras Applications
publishes, loaded into MATLAB's layouts (:mod:`leuknet.spec.pretrained`). Never downloaded: the user names a local
file.

The files (what ``keras.applications.VGG16(weights='imagenet')`` saves under ``~/.keras/models`` on a machine with
a network; leuknet itself only ever builds the applications with ``weights=None`` and reads the file it is given):
``vgg16_weights_tf_dim_ordering_tf_kernels.h5``, ``vgg19_weights_tf_dim_ordering_tf_kernels.h5``,
``resnet50_weights_tf_dim_ordering_tf_kernels.h5`` (the one Keras 2.3+/3 downloads, its layers named
``conv1_conv``, ``conv2_block1_1_conv``, ...; the 2016 file of that name from fchollet/deep-learning-models, named
as MATLAB's layers, does not load and is refused with a message), their ``_notop`` variants (everything but the fully connected
layers, which then keep MATLAB's initialisers, with a warning), or a model or weights file saved by Keras 3 from
those applications (``.keras``, ``.weights.h5``). Keras loads the file into its own application; each layer's
weights are then copied to the MATLAB layer of the same role, in MATLAB's layouts. These weights come from Caffe
and expect BGR images with the ImageNet mean subtracted (Keras's ``preprocess_input`` 'caffe' mode); MATLAB's
networks take RGB, so the first convolution's input channels are reversed, as MATLAB's own are (MobileNetV2's
weights take RGB scaled to [-1, 1]: nothing reversed). Keras's depthwise kernels (FH, FW, C, 1) become MATLAB's
grouped ones (FH, FW, 1, 1, C), and convolutions Keras built without a bias get MATLAB's zero bias.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from leuknet.errors import ModelFileError
from leuknet.spec.conventions import script_stacklevel
from leuknet.spec.pretrained import RESNET50_STAGES, VGG_BLOCKS
from leuknet.weights.where import not_this_network

FILES = {"vgg16": "vgg16_weights_tf_dim_ordering_tf_kernels.h5",
         "vgg19": "vgg19_weights_tf_dim_ordering_tf_kernels.h5",
         "resnet50": "resnet50_weights_tf_dim_ordering_tf_kernels.h5",
         "mobilenetv2": "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224.h5",
         "inceptionv3": "inception_v3_weights_tf_dim_ordering_tf_kernels.h5"}
APPLICATIONS = {"vgg16": "VGG16", "vgg19": "VGG19", "resnet50": "ResNet50", "mobilenetv2": "MobileNetV2",
                "inceptionv3": "InceptionV3"}
# the first convolution of the Caffe-trained networks (BGR inputs); MobileNetV2's and InceptionV3's weights take
# RGB as they are
FIRST_CONV = {"vgg16": "conv1_1", "vgg19": "conv1_1", "resnet50": "conv1", "mobilenetv2": None, "inceptionv3": None}


def where(arch):
    return (f"{arch} weights are not bundled and never downloaded: pass the path of Keras Applications' "
            f"{FILES[arch]} (keras.applications.{APPLICATIONS[arch]}(weights='imagenet') saves it under "
            f"~/.keras/models on a machine with a network), its _notop variant, or a .keras/.weights.h5 file saved "
            f"from that application")


def creation_order_names(model):
    """InceptionV3's {Keras layer name: MATLAB layer name}: MATLAB imported the network from Keras 2, whose
    automatic names number the convolutions and batch normalisations from 1 in the order the code creates them
    (``conv2d_1`` ... ``conv2d_94``); Keras 3 numbers them in the same order from a per-process counter
    (``conv2d``, ``conv2d_1``, ... or higher when other layers came first), so the k-th in Keras's numbering is
    MATLAB's k-th."""
    import re

    names = {"predictions": "predictions"}
    for prefix in ("conv2d", "batch_normalization"):
        found = sorted((int(m.group(1) or 0), layer.name) for layer in model.layers
                       if (m := re.fullmatch(prefix + r"(?:_(\d+))?", layer.name)))
        names.update({name: f"{prefix}_{k}" for k, (_, name) in enumerate(found, start=1)})
    return names


def keras_to_matlab_names(arch):
    """{Keras Applications layer name: MATLAB layer name} of the layers with weights (InceptionV3's depend on the
    model: :func:`creation_order_names`)."""
    if arch.startswith("vgg"):
        depth = int(arch[3:])
        names = {f"block{b}_conv{i}": f"conv{b}_{i}" for b, n in enumerate(VGG_BLOCKS[depth], 1)
                 for i in range(1, n + 1)}
        return {**names, "fc1": "fc6", "fc2": "fc7", "predictions": "fc8"}
    if arch == "mobilenetv2":  # MATLAB's mobilenetv2 was imported from Keras: the same names but the top's
        from leuknet.spec.pretrained import mobilenetv2_graph

        names = {l.Name: l.Name for l in mobilenetv2_graph()._layers if hasattr(l, "Weights") or
                 hasattr(l, "TrainedMean")}
        del names["Logits"]
        return {**names, "predictions": "Logits"}
    names = {"conv1_conv": "conv1", "conv1_bn": "bn_conv1", "predictions": "fc1000"}
    for stage, blocks, _ in RESNET50_STAGES:
        for b in range(blocks):
            tag = f"{stage}{'abcdef'[b]}"
            for j, branch in enumerate(("branch1", "branch2a", "branch2b", "branch2c")):
                if j == 0 and b > 0:
                    continue  # only a stage's first block has a projection shortcut
                names[f"conv{stage}_block{b + 1}_{j}_conv"] = f"res{tag}_{branch}"
                names[f"conv{stage}_block{b + 1}_{j}_bn"] = f"bn{tag}_{branch}"
    return names


TOP = {"vgg16": {"fc6", "fc7", "fc8"}, "vgg19": {"fc6", "fc7", "fc8"}, "resnet50": {"fc1000"},
       "inceptionv3": {"predictions"},
       "mobilenetv2": {"Logits"}}


def _first_line(e):
    text = str(e).strip()
    return text.splitlines()[0][:200] if text else type(e).__name__


def _keras_application(arch, path, image_size):
    """Keras's own application (with or without its top) holding the file's weights."""
    import keras

    p = Path(path)
    if not p.is_file():
        raise ModelFileError(f"weights file {p} does not exist. {where(arch)}")
    lower = p.name.lower()
    if lower.endswith(".keras"):
        try:
            model = keras.saving.load_model(p, compile=False)
        except Exception as e:  # noqa: BLE001
            raise ModelFileError(f"cannot read {p} as a Keras model: {_first_line(e)}") from None
        return model
    if not lower.endswith(".h5"):
        raise ModelFileError(f"{p}: unsupported weights file for {arch} (use Keras Applications' .h5, a .weights.h5 "
                             "or a .keras file)")
    build = getattr(keras.applications, APPLICATIONS[arch])
    errors = []
    for top in (True, False):
        model = build(weights=None, include_top=top, input_shape=(image_size, image_size, 3))
        try:
            model.load_weights(p)
            return model
        except Exception as e:  # noqa: BLE001 (Keras raises ValueError, KeyError or h5py's errors)
            errors.append(_first_line(e))
    raise ModelFileError(f"cannot load {p} into keras.applications.{APPLICATIONS[arch]} (with or without its top): "
                         f"{errors[0]}. {where(arch)}")


def load_weights(arch, path, specs, image_size=224):
    """Set the weights of the MATLAB layer specs ``specs`` (vgg16/vgg19's layer array or resnet50's/mobilenetv2's
    graph layers, changed in place) from the Keras Applications file ``path``; returns the names of the layers left
    without weights (a ``_notop`` file's fully connected layers)."""
    from leuknet.spec.layers import (BatchNormalizationLayer, Convolution2DLayer, FullyConnectedLayer,
                                     GroupedConvolution2DLayer, fc_keras_to_matlab)

    model = _keras_application(arch, path, image_size)
    by_name = {s.Name: s for s in specs}
    present = {l.name: l for l in model.layers}
    if arch == "inceptionv3":
        names = {k: v for k, v in creation_order_names(model).items() if k in present}
        expected = {l.Name for l in specs if hasattr(l, "Weights") or hasattr(l, "TrainedMean")}
        missing = sorted(expected - set(names.values()))
    else:
        names = keras_to_matlab_names(arch)
        missing = [m for k, m in names.items() if k not in present]
    extra = [n for n, l in present.items() if l.weights and (n not in names or names[n] not in by_name)]
    if extra or not set(missing) <= TOP[arch]:  # a .keras file of another network (VGG-19's for vgg16, a ResNet-101)
        raise not_this_network(path, f"{arch}'s weights file", arch, extra, sorted(set(missing) - TOP[arch]),
                               where(arch))
    for keras_name, name in names.items():
        if keras_name not in present:
            continue
        spec = by_name[name]
        w = [np.asarray(v, np.float32) for v in present[keras_name].get_weights()]
        if isinstance(spec, BatchNormalizationLayer):
            if len(w) == 3:  # built with scale=False (InceptionV3's): no gamma, MATLAB's Scale of ones
                w = [np.ones_like(w[0]), *w]
            spec.Scale, spec.Offset, spec.TrainedMean, spec.TrainedVariance = (v.reshape(1, 1, -1) for v in w)
        elif isinstance(spec, GroupedConvolution2DLayer):  # Keras's depthwise (FH, FW, C, 1): C groups of one
            fh, fw, c, mult = w[0].shape
            spec.Weights = np.ascontiguousarray(np.transpose(w[0], (0, 1, 3, 2)).reshape(fh, fw, 1, mult, c))
            spec.Bias = (w[1] if len(w) > 1 else np.zeros(c * mult, np.float32)).reshape(c, mult).T[None, None]
        elif isinstance(spec, Convolution2DLayer):
            kernel = w[0][:, :, ::-1, :] if name == FIRST_CONV[arch] else w[0]  # BGR -> RGB inputs
            bias = w[1] if len(w) > 1 else np.zeros(w[0].shape[-1], np.float32)  # MobileNetV2's have none
            spec.Weights, spec.Bias = np.ascontiguousarray(kernel), bias.reshape(1, 1, -1)
        elif isinstance(spec, FullyConnectedLayer):
            in_shape = None
            if name == "fc6":  # after pool5: Keras flattens H x W x C row-major, MATLAB column-major
                side = image_size // 32
                in_shape = (side, side, w[0].shape[0] // (side * side))
            spec.Weights, spec.Bias = fc_keras_to_matlab(w[0], in_shape), w[1].reshape(-1, 1)
    if missing:
        warnings.warn(f"{arch}: {Path(path).name} has no weights for {', '.join(missing)} (a '_notop' file): they "
                      "keep MATLAB's initialisers", stacklevel=script_stacklevel())
    return missing


__all__ = ["FILES", "keras_to_matlab_names", "load_weights", "where"]
