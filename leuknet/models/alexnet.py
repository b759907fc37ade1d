"""AlexNet in MATLAB's 25-layer layout (``alexnet`` of the Deep Learning Toolbox, from Caffe's BVLC AlexNet).

    data 227x227x3 zerocenter (mean image) | conv1 96 11x11 /4 | relu1 | norm1 LRN(5, 1e-4, 0.75, K=1) |
    pool1 3x3 /2 | conv2 2 x 128 5x5 pad 2 | relu2 | norm2 | pool2 | conv3 384 3x3 pad 1 | relu3 |
    conv4 2 x 192 3x3 pad 1 | relu4 | conv5 2 x 128 3x3 pad 1 | relu5 | pool5 | fc6 4096 | relu6 | drop6 |
    fc7 4096 | relu7 | drop7 | fc8 | prob | output

60,965,224 learnables for 1000 classes. Grouped convolutions are :class:`leuknet.layers.GroupedConv2D` (two
convolutions on channel halves joined by concatenation: same weights as ``Conv2D(groups=2)``, much faster to train
on a CPU). The layer array itself, :func:`~leuknet.spec.alexnet.alexnet_layers`, and the transfer head,
:func:`~leuknet.spec.alexnet.transfer_layers`, are the core's specs (:mod:`leuknet.spec.alexnet`), shared with
:mod:`leuknet.weights`.
"""

from __future__ import annotations

from leuknet.spec.alexnet import BASE_END, alexnet_layers, transfer_layers  # noqa: F401  (re-exported)
from leuknet.spec.layers import assemble, check_input_size


def build(num_classes=1000, image_size=227, classes=None, colorspace="rgb", normalization="zerocenter", crop=0,
          class_weights=None, weights=None, fc_units=1024, lr_factor=20.0, freeze_base=False, input_order=None,
          transfer=False):
    """Random AlexNet, or (``weights`` = a path) pretrained base layers; ``transfer`` replaces the last three
    layers as in Shafique & Tehsin. An input too small for the five stride and pooling stages is a ConfigError
    naming the smallest size that works (67 x 67)."""
    if weights:
        from leuknet.weights import load_alexnet_layers

        base = load_alexnet_layers(weights, input_order=input_order)
        base[0].ColorSpace = colorspace
        if tuple(base[0].InputSize[:2]) != (image_size, image_size):
            from leuknet.errors import ConfigError

            raise ConfigError(f"the pretrained network takes {base[0].InputSize[0]} x {base[0].InputSize[1]} "
                              f"images; use --image-size {base[0].InputSize[0]}")
    else:
        base = alexnet_layers(1000, image_size, normalization, colorspace)
        check_input_size(base, "alexnet")
    if transfer or weights or num_classes != 1000:
        layers = transfer_layers(base, num_classes, fc_units, lr_factor, classes, freeze_base)
    else:
        layers = base
    layers[0].Crop = crop
    if class_weights:
        layers[-1].ClassWeights = list(class_weights)
    model, _ = assemble(layers, classes=classes, name="alexnet")
    model.pretrained = bool(weights)
    return model
