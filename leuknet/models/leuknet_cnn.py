"""LeukNet (Anilkumar, Manoj, Sagi): the custom CNN trained in MATLAB R2021a on C-NMC 2019 cells.

    imageinput 224x224x3 zerocenter
    3 x [conv 3x3 (64, 128, 256 filters; stride 1, no padding) | relu | crossnorm (window 5) | maxpool 3x3]
    fc (512) | relu | dropout 0.5 | fc (classes) | softmax | classoutput

The paper gives neither the pooling stride nor the width of the first fully connected layer. Defaults:

- ``pool_stride=2``: with MATLAB's default pooling stride of 1 the feature map stays 216 x 216 x 256 and the
  first fully connected layer would take 11.9 million inputs (6.1 billion weights at 512 units); stride 2, the
  usual choice for 3x3 pooling since AlexNet, gives 25 x 25 x 256 = 160,000 features.
- ``fc_units=512``: a common width that keeps the first FC layer at 82 million weights.

A ReLU after the first fully connected layer is also not stated; it is the standard block and on by default.
"""

from __future__ import annotations

import leuknet.spec.layers as ml
from leuknet.spec.layers import assemble, check_input_size


def leuknet_layers(num_classes=2, image_size=224, channels=3, pool_stride=2, fc_units=512, window=5,
                   normalization="zerocenter", colorspace="rgb", filters=(64, 128, 256), dropout=0.5,
                   classes=None, crop=0, class_weights=None):
    layers = [ml.imageInputLayer([image_size, image_size, channels], Normalization=normalization,
                                 ColorSpace=colorspace, Crop=crop)]
    for f in filters:
        layers += [ml.convolution2dLayer(3, f), ml.reluLayer(), ml.crossChannelNormalizationLayer(window),
                   ml.maxPooling2dLayer(3, Stride=pool_stride)]
    layers += [ml.fullyConnectedLayer(fc_units), ml.reluLayer(), ml.dropoutLayer(dropout),
               ml.fullyConnectedLayer(num_classes), ml.softmaxLayer(),
               ml.classificationLayer(**({"Classes": list(classes)} if classes else {}),
                                      **({"ClassWeights": list(class_weights)} if class_weights else {}))]
    return layers


def network(num_classes=2, image_size=224, name="leuknet", **layer_options):
    """LeukNet as a Keras model with any of :func:`leuknet_layers`' options (``filters``, ``window``, ``channels``,
    ``dropout`` as well): small variants for tests and studies. An input too small for the three pooling stages is
    a ConfigError naming the smallest size that works."""
    layers = leuknet_layers(num_classes, image_size, **layer_options)
    check_input_size(layers, name)
    model, _ = assemble(layers, name=name)
    return model


def build(num_classes=2, image_size=224, classes=None, colorspace="rgb", normalization="zerocenter", crop=0,
          class_weights=None, fc_units=512, pool_stride=2):
    """The registered model (``leuknet.models.build("leuknet", ...)``): the options of ``ModelInfo.options``."""
    return network(num_classes, image_size, classes=classes, colorspace=colorspace, normalization=normalization,
                   crop=crop, class_weights=class_weights, fc_units=fc_units, pool_stride=pool_stride)
