"""MATLAB's layer constructors (``convolution2dLayer(3, 64, 'Name', 'conv1')``) and ``assemble``: the core's layer
specs, :mod:`leuknet.spec.layers`, re-exported under the skin's name (``leuknet.matlab.layers`` as before)."""

from leuknet.spec.layers import *  # noqa: F401,F403
from leuknet.spec.layers import (DEFAULT_NAMES, INITIALIZERS, AdditionLayer, AveragePooling2DLayer,  # noqa: F401
                                 BatchNormalizationLayer, ClassificationOutputLayer, ClippedReLULayer,
                                 ConcatenationLayer, Convolution2DLayer, CrossChannelNormalizationLayer,
                                 DepthConcatenationLayer, DropoutLayer, ELULayer, FullyConnectedLayer,
                                 GlobalAveragePooling2DLayer, GlobalMaxPooling2DLayer, GroupedConvolution2DLayer,
                                 ImageInputLayer, Layer, LeakyReLULayer, MaxPooling2DLayer, ReLULayer, SigmoidLayer,
                                 SoftmaxLayer, TanhLayer, __all__, assemble, fc_keras_to_matlab, fc_matlab_to_keras,
                                 grouped_keras_to_matlab, grouped_matlab_to_keras, layer_factors, layers_and_edges,
                                 model_graph, name_layers, network_layers, serial_edges, topological_order)
