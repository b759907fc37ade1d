"""AlexNet in MATLAB's 25-layer layout as a layer array (``alexnet`` of the Deep Learning Toolbox, from Caffe's
BVLC AlexNet), and Shafique & Tehsin's transfer-learning head on its base layers.

    data 227x227x3 zerocenter (mean image) | conv1 96 11x11 /4 | relu1 | norm1 LRN(5, 1e-4, 0.75, K=1) |
    pool1 3x3 /2 | conv2 2 x 128 5x5 pad 2 | relu2 | norm2 | pool2 | conv3 384 3x3 pad 1 | relu3 |
    conv4 2 x 192 3x3 pad 1 | relu4 | conv5 2 x 128 3x3 pad 1 | relu5 | pool5 | fc6 4096 | relu6 | drop6 |
    fc7 4096 | relu7 | drop7 | fc8 | prob | output

The layout lives in the core's specs because two packages build on it: :mod:`leuknet.models.alexnet` (the
registered model) and :mod:`leuknet.weights` (which imports pretrained weights into this layout).
"""

from __future__ import annotations

import leuknet.spec.layers as ml

BASE_END = "drop7"  # layers(1:end-3) keeps data .. drop7


def alexnet_layers(num_classes=1000, image_size=227, normalization="zerocenter", colorspace="rgb", classes=None,
                   normalization_dimension="element"):
    L = [ml.imageInputLayer([image_size, image_size, 3], Name="data", Normalization=normalization,
                            NormalizationDimension=normalization_dimension, ColorSpace=colorspace),
         ml.convolution2dLayer(11, 96, Stride=4, Name="conv1"), ml.reluLayer(Name="relu1"),
         ml.crossChannelNormalizationLayer(5, Alpha=1e-4, Beta=0.75, K=1.0, Name="norm1"),
         ml.maxPooling2dLayer(3, Stride=2, Name="pool1"),
         ml.groupedConvolution2dLayer(5, 128, 2, Padding=2, Name="conv2"), ml.reluLayer(Name="relu2"),
         ml.crossChannelNormalizationLayer(5, Alpha=1e-4, Beta=0.75, K=1.0, Name="norm2"),
         ml.maxPooling2dLayer(3, Stride=2, Name="pool2"),
         ml.convolution2dLayer(3, 384, Padding=1, Name="conv3"), ml.reluLayer(Name="relu3"),
         ml.groupedConvolution2dLayer(3, 192, 2, Padding=1, Name="conv4"), ml.reluLayer(Name="relu4"),
         ml.groupedConvolution2dLayer(3, 128, 2, Padding=1, Name="conv5"), ml.reluLayer(Name="relu5"),
         ml.maxPooling2dLayer(3, Stride=2, Name="pool5"),
         ml.fullyConnectedLayer(4096, Name="fc6"), ml.reluLayer(Name="relu6"), ml.dropoutLayer(0.5, Name="drop6"),
         ml.fullyConnectedLayer(4096, Name="fc7"), ml.reluLayer(Name="relu7"), ml.dropoutLayer(0.5, Name="drop7"),
         ml.fullyConnectedLayer(num_classes, Name="fc8"), ml.softmaxLayer(Name="prob"),
         ml.classificationLayer(Name="output", **({"Classes": list(classes)} if classes else {}))]
    return L


def transfer_layers(base_layers, num_classes, fc_units=1024, factor=20.0, classes=None, freeze_base=False):
    """Shafique & Tehsin: ``layers(1:end-3)`` + FC(fc_units) + ReLU + FC(classes) + softmax + classification, the
    new layers' learn-rate factors raised to ``factor``; ``freeze_base`` sets the base layers' factors to 0."""
    names = [l.Name for l in base_layers]
    base = list(base_layers[: names.index(BASE_END) + 1]) if BASE_END in names else list(base_layers[:-3])
    if freeze_base:
        for l in base:
            if hasattr(l, "WeightLearnRateFactor"):
                l.WeightLearnRateFactor = 0.0
                l.BiasLearnRateFactor = 0.0
    return base + [
        ml.fullyConnectedLayer(fc_units, Name="fc_new", WeightLearnRateFactor=factor, BiasLearnRateFactor=factor),
        ml.reluLayer(Name="relu_new"),
        ml.fullyConnectedLayer(num_classes, Name="fc_out", WeightLearnRateFactor=factor, BiasLearnRateFactor=factor),
        ml.softmaxLayer(Name="prob"),
        ml.classificationLayer(Name="output", **({"Classes": list(classes)} if classes else {}))]


__all__ = ["BASE_END", "alexnet_layers", "transfer_layers"]
