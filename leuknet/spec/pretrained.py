"""VGG-16, VGG-19, ResNet-18, ResNet-50, GoogLeNet, SqueezeNet and MobileNetV2 in MATLAB's layouts: the layer arrays
of ``vgg16``/``vgg19`` and the layer graphs of ``resnet18``, ``resnet50``, ``googlenet``, ``squeezenet`` and
``mobilenetv2`` (Deep Learning Toolbox; ResNet-18, GoogLeNet, SqueezeNet and MobileNetV2: their functions'
docstrings), with MATLAB's layer names, so that transfer-learning scripts that edit the networks by name or position
port as written (``net.Layers(1:end-3)``, ``replaceLayer(lgraph, 'fc1000', ...)``, ``activations(net, X, 'fc7')``,
``'FeatureLayer', 'activation_49_relu'``).

- VGG (Simonyan & Zisserman; MATLAB's from Caffe's VGG_ILSVRC_16/19_layers): ``input`` 224x224x3 'zerocenter' |
  ``conv<b>_<i>`` 3x3 padding 1 + ``relu<b>_<i>`` (2, 2, 3, 3, 3 per block; 2, 2, 4, 4, 4 for VGG-19) |
  ``pool<b>`` 2x2 stride 2 | ``fc6`` 4096 ``relu6`` ``drop6`` | ``fc7`` 4096 ``relu7`` ``drop7`` | ``fc8`` 1000 |
  ``prob`` | ``output``: 41 and 47 layers.
- ResNet-50 (He et al.; MATLAB's imported from Keras): ``input_1`` | ``conv1`` 7x7/2 padding 3, ``bn_conv1``,
  ``activation_1_relu``, ``max_pooling2d_1`` 3x3/2 padding 1 | 16 bottleneck blocks ``res<s><b>_branch2a/b/c``
  (1x1, 3x3 'same', 1x1; the stride of a stage's first block on its 1x1 ``branch2a`` and on the projection
  ``branch1``), each convolution followed by ``bn<s><b>_branch..`` (Epsilon 0.001), ``add_<k>`` (in1: the main
  branch, in2: the shortcut) and ``activation_<n>_relu`` numbered in order | ``avg_pool`` (global average),
  ``fc1000``, ``fc1000_softmax``, ``ClassificationLayer_fc1000``: 177 layers. Convolutions and ``fc1000`` have
  ``BiasLearnRateFactor`` 0, as MATLAB's. Older MATLAB releases had no padding on ``max_pooling2d_1`` and a 7x7
  ``avg_pool`` (55 x 55 maps after the pooling); leuknet builds the current layout (56 x 56), Keras's as well.

Both take RGB images in [0, 255] with the ImageNet channel mean subtracted ('zerocenter', Mean 1x1x3
[123.68 116.779 103.939]). Sources of the layouts: MathWorks' vgg16/vgg19/resnet50 pages (layer counts, input
size, ``'Weights','none'``), the layer listing of ``resnet50`` as MATLAB prints it, and ``resnet50`` exported as
code by Deep Network Designer (padding, epsilon, learn-rate factors). Weights come from
:mod:`leuknet.weights.keras_applications`.
"""

from __future__ import annotations

import numpy as np

import leuknet.spec.layers as ml

IMAGENET_MEAN_RGB = (123.68, 116.779, 103.939)
VGG_BLOCKS = {16: (2, 2, 3, 3, 3), 19: (2, 2, 4, 4, 4)}
VGG_WIDTHS = (64, 128, 256, 512, 512)
RESNET50_STAGES = ((2, 3, 64), (3, 4, 128), (4, 6, 256), (5, 3, 512))  # (stage, blocks, bottleneck width)


def _input(name, image_size):
    return ml.imageInputLayer([image_size, image_size, 3], Name=name, Normalization="zerocenter",
                              Mean=np.asarray(IMAGENET_MEAN_RGB, np.float32).reshape(1, 1, 3))


def vgg_layers(depth=16, num_classes=1000, image_size=224):
    """MATLAB's ``vgg16('Weights','none')`` / ``vgg19('Weights','none')`` layer array (``image_size`` other than 224
    only for tests: fc6 then sees a smaller map)."""
    layers = [_input("input", image_size)]
    for b, (n, width) in enumerate(zip(VGG_BLOCKS[depth], VGG_WIDTHS), start=1):
        for i in range(1, n + 1):
            layers += [ml.convolution2dLayer(3, width, Padding=1, Name=f"conv{b}_{i}"),
                       ml.reluLayer(Name=f"relu{b}_{i}")]
        layers.append(ml.maxPooling2dLayer(2, Stride=2, Name=f"pool{b}"))
    for k in (6, 7):
        layers += [ml.fullyConnectedLayer(4096, Name=f"fc{k}"), ml.reluLayer(Name=f"relu{k}"),
                   ml.dropoutLayer(0.5, Name=f"drop{k}")]
    layers += [ml.fullyConnectedLayer(num_classes, Name="fc8"), ml.softmaxLayer(Name="prob"),
               ml.classificationLayer(Name="output")]
    return layers


def _chain(edges, *names):
    """Connect the named layers in series (each output to the next layer's single input)."""
    edges.extend((s, d, "in") for s, d in zip(names, names[1:]))


def _residual(edges, main, shortcut, addition):
    """A residual addition as MATLAB's exports connect it: in1 the block's branch, in2 the shortcut."""
    edges.extend([(main, addition, "in1"), (shortcut, addition, "in2")])


def _conv(name, size, filters, stride=1, padding=0):
    return ml.convolution2dLayer(size, filters, Name=name, Stride=stride, Padding=padding, BiasLearnRateFactor=0)


def _bn(name):
    return ml.batchNormalizationLayer(Name=name, Epsilon=0.001)


def resnet50_graph(num_classes=1000, image_size=224):
    """MATLAB's ``resnet50('Weights','none')`` layer graph (a :class:`~leuknet.spec.graph.LayerGraph`), its layers
    in MATLAB's order."""
    from leuknet.spec.graph import LayerGraph

    layers = [_input("input_1", image_size), _conv("conv1", 7, 64, stride=2, padding=3), _bn("bn_conv1"),
              ml.reluLayer(Name="activation_1_relu"),
              ml.maxPooling2dLayer(3, Stride=2, Padding=1, Name="max_pooling2d_1")]
    edges = ml.serial_edges(layers)
    prev, relu, add = "max_pooling2d_1", 1, 0
    for stage, blocks, width in RESNET50_STAGES:
        for b in range(blocks):
            tag = f"{stage}{'abcdef'[b]}"
            stride = 2 if b == 0 and stage > 2 else 1
            add += 1
            r1, r2, r3 = (f"activation_{relu + k}_relu" for k in (1, 2, 3))
            relu += 3
            a, bb, c = (f"res{tag}_branch2{x}" for x in "abc")
            main = [_conv(a, 1, width, stride=stride), _bn(f"bn{tag}_branch2a"), ml.reluLayer(Name=r1),
                    _conv(bb, 3, width, padding="same"), _bn(f"bn{tag}_branch2b"), ml.reluLayer(Name=r2),
                    _conv(c, 1, 4 * width)]
            layers += main
            _chain(edges, prev, *[l.Name for l in main], f"bn{tag}_branch2c")
            if b == 0:  # the projection shortcut, listed as MATLAB lists it: branch2c, branch1, their two bns
                layers += [_conv(f"res{tag}_branch1", 1, 4 * width, stride=stride), _bn(f"bn{tag}_branch2c"),
                           _bn(f"bn{tag}_branch1")]
                _chain(edges, prev, f"res{tag}_branch1", f"bn{tag}_branch1")
                shortcut = f"bn{tag}_branch1"
            else:
                layers.append(_bn(f"bn{tag}_branch2c"))
                shortcut = prev
            layers += [ml.additionLayer(2, Name=f"add_{add}"), ml.reluLayer(Name=r3)]
            _residual(edges, f"bn{tag}_branch2c", shortcut, f"add_{add}")
            _chain(edges, f"add_{add}", r3)
            prev = r3
    head = [ml.globalAveragePooling2dLayer(Name="avg_pool"),
            ml.fullyConnectedLayer(num_classes, Name="fc1000", BiasLearnRateFactor=0),
            ml.softmaxLayer(Name="fc1000_softmax"), ml.classificationLayer(Name="ClassificationLayer_fc1000")]
    layers += head
    _chain(edges, prev, *[l.Name for l in head])
    return LayerGraph(layers, edges)


# (expansion, output channels, repeats, first stride) of MobileNetV2's bottleneck groups (Sandler et al., Table 2)
MOBILENETV2_GROUPS = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2),
                      (6, 320, 1, 1))


def mobilenetv2_graph(num_classes=1000, image_size=224):
    """MATLAB's ``mobilenetv2('Weights','none')`` layer graph: 154 layers, ``input_1`` ('zscore'), ``Conv1`` 3x3/2
    'same', ``bn_Conv1``, ``Conv1_relu`` (clipped ReLU 6) | ``expanded_conv_depthwise``/``_BN``/``_relu``,
    ``expanded_conv_project``/``_BN`` | ``block_1`` ... ``block_16``: ``_expand`` 1x1, ``_expand_BN``,
    ``_expand_relu``, ``_depthwise`` (``groupedConvolution2dLayer(3, 1, C)``, 'same', the group's stride on its
    first block), ``_depthwise_BN``, ``_depthwise_relu``, ``_project`` 1x1, ``_project_BN``, and ``block_<i>_add``
    (in1 the block, in2 its input) where the block keeps its size | ``Conv_1`` 1x1 1280, ``Conv_1_bn``, ``out_relu``,
    ``global_average_pooling2d_1``, ``Logits``, ``Logits_softmax``, ``ClassificationLayer_Logits``. Batch
    normalisation Epsilon 0.001. Names and layer types: public MATLAB scripts and a Deep Network Designer export
    of mobilenetv2. The input's 'zscore' statistics are the Keras weights' scaling, (x - 127.5) / 127.5 per
    channel (MATLAB's own values unverified)."""
    from leuknet.spec.graph import LayerGraph

    half = np.full((1, 1, 3), 127.5, np.float32)
    layers = [ml.imageInputLayer([image_size, image_size, 3], Name="input_1", Normalization="zscore", Mean=half,
                                 StandardDeviation=half),
              ml.convolution2dLayer(3, 32, Name="Conv1", Stride=2, Padding="same"), _bn("bn_Conv1"),
              ml.clippedReluLayer(6, Name="Conv1_relu")]
    edges = ml.serial_edges(layers)
    prev, channels, block = "Conv1_relu", 32, 0

    for expansion, out, repeats, first_stride in MOBILENETV2_GROUPS:
        for r in range(repeats):
            tag = "expanded_conv" if block == 0 else f"block_{block}"
            stride = first_stride if r == 0 else 1
            seq = []
            if expansion != 1:
                seq += [ml.convolution2dLayer(1, channels * expansion, Name=f"{tag}_expand", Padding="same"),
                        _bn(f"{tag}_expand_BN"), ml.clippedReluLayer(6, Name=f"{tag}_expand_relu")]
            width = channels * expansion
            seq += [ml.groupedConvolution2dLayer(3, 1, width, Name=f"{tag}_depthwise", Stride=stride, Padding="same"),
                    _bn(f"{tag}_depthwise_BN"), ml.clippedReluLayer(6, Name=f"{tag}_depthwise_relu"),
                    ml.convolution2dLayer(1, out, Name=f"{tag}_project", Padding="same"), _bn(f"{tag}_project_BN")]
            layers += seq
            _chain(edges, prev, *[l.Name for l in seq])
            last = seq[-1].Name
            if stride == 1 and channels == out:
                layers.append(ml.additionLayer(2, Name=f"{tag}_add"))
                _residual(edges, last, prev, f"{tag}_add")
                last = f"{tag}_add"
            prev, channels, block = last, out, block + 1
    head = [ml.convolution2dLayer(1, 1280, Name="Conv_1"), _bn("Conv_1_bn"), ml.clippedReluLayer(6, Name="out_relu"),
            ml.globalAveragePooling2dLayer(Name="global_average_pooling2d_1"),
            ml.fullyConnectedLayer(num_classes, Name="Logits"), ml.softmaxLayer(Name="Logits_softmax"),
            ml.classificationLayer(Name="ClassificationLayer_Logits")]
    layers += head
    _chain(edges, prev, *[l.Name for l in head])
    return LayerGraph(layers, edges)


# torchvision's ImageNet statistics in [0, 255] (MATLAB's resnet18 takes 'zscore' inputs; its values unverified)
TORCHVISION_MEAN_RGB = (123.675, 116.28, 103.53)
TORCHVISION_STD_RGB = (58.395, 57.12, 57.375)


def resnet18_graph(num_classes=1000, image_size=224):
    """MATLAB's ``resnet18('Weights','none')`` layer graph: 71 layers, 78 connections, as MathWorks' own
    ``resnet18Layers.m`` (github.com/matlab-deep-learning/resnet-18) builds it: ``data`` ('zscore') | ``conv1`` 7x7/2
    padding 3, ``bn_conv1``, ``conv1_relu``, ``pool1`` 3x3/2 padding 1 | eight basic blocks ``res<s><b>``:
    ``res<s><b>_branch2a`` 3x3 (stride 2 on a stage's first block from stage 3), ``bn<s><b>_branch2a``,
    ``res<s><b>_branch2a_relu``, ``res<s><b>_branch2b`` 3x3, ``bn<s><b>_branch2b``, on stages 3-5 the projection
    ``res<s>a_branch1`` 1x1/2 and ``bn<s>a_branch1``, the addition ``res<s><b>`` (in1 the block, in2 the shortcut)
    and ``res<s><b>_relu`` | ``pool5`` (global average), ``fc1000``, ``prob``, ``ClassificationLayer_predictions``.
    Convolutions have ``BiasLearnRateFactor`` 0; batch normalisation MATLAB's default Epsilon 1e-5. The input's
    'zscore' statistics are torchvision's (MATLAB's own come with its weights file: see
    :mod:`leuknet.weights.matlab_params`)."""
    from leuknet.spec.graph import LayerGraph

    def bn(name):
        return ml.batchNormalizationLayer(Name=name)

    stats = {k: np.asarray(v, np.float32).reshape(1, 1, 3) for k, v in
             (("Mean", TORCHVISION_MEAN_RGB), ("StandardDeviation", TORCHVISION_STD_RGB))}
    layers = [ml.imageInputLayer([image_size, image_size, 3], Name="data", Normalization="zscore", **stats),
              _conv("conv1", 7, 64, stride=2, padding=3), bn("bn_conv1"), ml.reluLayer(Name="conv1_relu"),
              ml.maxPooling2dLayer(3, Stride=2, Padding=1, Name="pool1")]
    edges = ml.serial_edges(layers)
    prev = "pool1"
    for stage, width in ((2, 64), (3, 128), (4, 256), (5, 512)):
        for b in "ab":
            tag = f"{stage}{b}"
            stride = 2 if b == "a" and stage > 2 else 1
            main = [_conv(f"res{tag}_branch2a", 3, width, stride=stride, padding=1), bn(f"bn{tag}_branch2a"),
                    ml.reluLayer(Name=f"res{tag}_branch2a_relu"), _conv(f"res{tag}_branch2b", 3, width, padding=1),
                    bn(f"bn{tag}_branch2b")]
            layers += main
            _chain(edges, prev, *[l.Name for l in main])
            shortcut = prev
            if stride == 2:
                layers += [_conv(f"res{tag}_branch1", 1, width, stride=2), bn(f"bn{tag}_branch1")]
                _chain(edges, prev, f"res{tag}_branch1", f"bn{tag}_branch1")
                shortcut = f"bn{tag}_branch1"
            layers += [ml.additionLayer(2, Name=f"res{tag}"), ml.reluLayer(Name=f"res{tag}_relu")]
            _residual(edges, f"bn{tag}_branch2b", shortcut, f"res{tag}")
            _chain(edges, f"res{tag}", f"res{tag}_relu")
            prev = f"res{tag}_relu"
    head = [ml.globalAveragePooling2dLayer(Name="pool5"), ml.fullyConnectedLayer(num_classes, Name="fc1000"),
            ml.softmaxLayer(Name="prob"), ml.classificationLayer(Name="ClassificationLayer_predictions")]
    layers += head
    _chain(edges, prev, *[l.Name for l in head])
    return LayerGraph(layers, edges)


# GoogLeNet's inception modules: (name, 1x1, 3x3 reduce, 3x3, 5x5 reduce, 5x5, pool projection) (Szegedy et al.,
# Table 1; the filter counts of MathWorks' googlenetLayers.m), and the max pooling after a module
GOOGLENET_MODULES = (("3a", 64, 96, 128, 16, 32, 32), ("3b", 128, 128, 192, 32, 96, 64),
                     ("4a", 192, 96, 208, 16, 48, 64), ("4b", 160, 112, 224, 24, 64, 64),
                     ("4c", 128, 128, 256, 24, 64, 64), ("4d", 112, 144, 288, 32, 64, 64),
                     ("4e", 256, 160, 320, 32, 128, 128), ("5a", 256, 160, 320, 32, 128, 128),
                     ("5b", 384, 192, 384, 48, 128, 128))
GOOGLENET_POOL_AFTER = {"3b": "pool3-3x3_s2", "4e": "pool4-3x3_s2"}
# BVLC GoogLeNet's training mean (Caffe's mean_value 104, 117, 123 in BGR), as RGB; MATLAB's own comes with its file
GOOGLENET_MEAN_RGB = (123.0, 117.0, 104.0)


def googlenet_graph(num_classes=1000, image_size=224):
    """MATLAB's ``googlenet('Weights','none')`` layer graph (BVLC GoogLeNet, imported from Caffe): 144 layers, 170
    connections, names, sizes and factors as MathWorks' own ``googlenetLayers.m``
    (github.com/matlab-deep-learning/googlenet): ``data`` ('zerocenter') | ``conv1-7x7_s2`` 7x7/2 padding 3,
    ``conv1-relu_7x7``, ``pool1-3x3_s2`` 3x3/2 padding [0 1 0 1] (Caffe's rounding up), ``pool1-norm1``
    (``crossChannelNormalizationLayer(5, 'K', 1)``), ``conv2-3x3_reduce``, ``conv2-relu_3x3_reduce``,
    ``conv2-3x3``, ``conv2-relu_3x3``, ``conv2-norm2``, ``pool2-3x3_s2`` | nine inception modules
    ``inception_<m>-``: ``1x1``, ``3x3_reduce``, ``3x3`` (padding 1), ``5x5_reduce``, ``5x5`` (padding 2), each
    followed by its ``relu_*``, ``pool`` (3x3/1 padding 1), ``pool_proj``, ``relu_pool_proj`` and the depth
    concatenation ``output`` (in1 1x1, in2 3x3, in3 5x5, in4 pool projection), listed in Caffe's order, with
    ``pool3-3x3_s2`` after 3b and ``pool4-3x3_s2`` after 4e | ``pool5-7x7_s1`` (global average),
    ``pool5-drop_7x7_s1`` (0.4), ``loss3-classifier``, ``prob``, ``output``. Every convolution and the classifier
    have ``BiasLearnRateFactor`` 2 (Caffe's lr_mult 2 on biases)."""
    from leuknet.spec.graph import LayerGraph

    def conv(name, size, filters, stride=1, padding=0):
        return ml.convolution2dLayer(size, filters, Name=name, Stride=stride, Padding=padding, BiasLearnRateFactor=2)

    def pool(name, stride, padding):
        return ml.maxPooling2dLayer(3, Stride=stride, Padding=padding, Name=name)

    caffe_pad = [0, 1, 0, 1]
    layers = [ml.imageInputLayer([image_size, image_size, 3], Name="data", Normalization="zerocenter",
                                 Mean=np.asarray(GOOGLENET_MEAN_RGB, np.float32).reshape(1, 1, 3)),
              conv("conv1-7x7_s2", 7, 64, stride=2, padding=3), ml.reluLayer(Name="conv1-relu_7x7"),
              pool("pool1-3x3_s2", 2, caffe_pad), ml.crossChannelNormalizationLayer(5, Name="pool1-norm1", K=1),
              conv("conv2-3x3_reduce", 1, 64), ml.reluLayer(Name="conv2-relu_3x3_reduce"),
              conv("conv2-3x3", 3, 192, padding=1), ml.reluLayer(Name="conv2-relu_3x3"),
              ml.crossChannelNormalizationLayer(5, Name="conv2-norm2", K=1), pool("pool2-3x3_s2", 2, caffe_pad)]
    edges = ml.serial_edges(layers)
    prev = "pool2-3x3_s2"
    for m, n1, r3, n3, r5, n5, proj in GOOGLENET_MODULES:
        p = f"inception_{m}-"
        branches = [[conv(p + "1x1", 1, n1), ml.reluLayer(Name=p + "relu_1x1")],
                    [conv(p + "3x3_reduce", 1, r3), ml.reluLayer(Name=p + "relu_3x3_reduce"),
                     conv(p + "3x3", 3, n3, padding=1), ml.reluLayer(Name=p + "relu_3x3")],
                    [conv(p + "5x5_reduce", 1, r5), ml.reluLayer(Name=p + "relu_5x5_reduce"),
                     conv(p + "5x5", 5, n5, padding=2), ml.reluLayer(Name=p + "relu_5x5")],
                    [pool(p + "pool", 1, 1), conv(p + "pool_proj", 1, proj), ml.reluLayer(Name=p + "relu_pool_proj")]]
        for k, branch in enumerate(branches, start=1):
            layers += branch
            _chain(edges, prev, *[l.Name for l in branch])
            edges.append((branch[-1].Name, p + "output", f"in{k}"))
        layers.append(ml.depthConcatenationLayer(4, Name=p + "output"))
        prev = p + "output"
        if m in GOOGLENET_POOL_AFTER:
            layers.append(pool(GOOGLENET_POOL_AFTER[m], 2, caffe_pad))
            _chain(edges, prev, GOOGLENET_POOL_AFTER[m])
            prev = GOOGLENET_POOL_AFTER[m]
    head = [ml.globalAveragePooling2dLayer(Name="pool5-7x7_s1"), ml.dropoutLayer(0.4, Name="pool5-drop_7x7_s1"),
            ml.fullyConnectedLayer(num_classes, Name="loss3-classifier", BiasLearnRateFactor=2),
            ml.softmaxLayer(Name="prob"), ml.classificationLayer(Name="output")]
    layers += head
    _chain(edges, prev, *[l.Name for l in head])
    return LayerGraph(layers, edges)



# SqueezeNet v1.1's fire modules: (module, squeeze 1x1, expand 1x1 = expand 3x3), and the max pooling after one
SQUEEZENET_FIRES = ((2, 16, 64), (3, 16, 64), (4, 32, 128), (5, 32, 128), (6, 48, 192), (7, 48, 192), (8, 64, 256),
                    (9, 64, 256))
SQUEEZENET_POOL_AFTER = {3: "pool3", 5: "pool5"}


def squeezenet_graph(num_classes=1000, image_size=227):
    """MATLAB's ``squeezenet('Weights','none')`` layer graph (SqueezeNet v1.1, Iandola et al.): 68 layers, 75
    connections, as Deep Network Designer exports MATLAB's ``squeezenet`` as code: ``data`` 227x227x3 'zerocenter' |
    ``conv1`` 3x3/2, ``relu_conv1``, ``pool1`` 3x3/2 | fire modules ``fire<k>``: ``fire<k>-squeeze1x1`` and its
    ``fire<k>-relu_squeeze1x1``, then ``fire<k>-expand1x1`` and ``fire<k>-expand3x3`` (padding 1) with their ReLUs,
    joined by ``fire<k>-concat`` (in1 the 1x1 branch, in2 the 3x3) | ``pool3`` and ``pool5`` 3x3/2 with Caffe's
    padding [0 1 0 1] after fire3 and fire5 | ``drop9`` (0.5), ``conv10`` 1x1 (the classes), ``relu_conv10``,
    ``pool10`` (global average), ``prob``, ``ClassificationLayer_predictions``. Without weights the input's mean is
    the ImageNet mean (MATLAB's own comes with its weights file)."""
    from leuknet.spec.graph import LayerGraph

    layers = [_input("data", image_size), ml.convolution2dLayer(3, 64, Stride=2, Name="conv1"),
              ml.reluLayer(Name="relu_conv1"), ml.maxPooling2dLayer(3, Stride=2, Name="pool1")]
    edges = ml.serial_edges(layers)
    prev = "pool1"
    for k, squeeze, expand in SQUEEZENET_FIRES:
        f = f"fire{k}"
        layers += [ml.convolution2dLayer(1, squeeze, Name=f"{f}-squeeze1x1"),
                   ml.reluLayer(Name=f"{f}-relu_squeeze1x1"),
                   ml.convolution2dLayer(1, expand, Name=f"{f}-expand1x1"), ml.reluLayer(Name=f"{f}-relu_expand1x1"),
                   ml.convolution2dLayer(3, expand, Padding=1, Name=f"{f}-expand3x3"),
                   ml.reluLayer(Name=f"{f}-relu_expand3x3"), ml.depthConcatenationLayer(2, Name=f"{f}-concat")]
        _chain(edges, prev, f"{f}-squeeze1x1", f"{f}-relu_squeeze1x1", f"{f}-expand1x1", f"{f}-relu_expand1x1")
        _chain(edges, f"{f}-relu_squeeze1x1", f"{f}-expand3x3", f"{f}-relu_expand3x3")
        edges += [(f"{f}-relu_expand1x1", f"{f}-concat", "in1"), (f"{f}-relu_expand3x3", f"{f}-concat", "in2")]
        prev = f"{f}-concat"
        if k in SQUEEZENET_POOL_AFTER:
            pool = SQUEEZENET_POOL_AFTER[k]
            layers.append(ml.maxPooling2dLayer(3, Stride=2, Padding=[0, 1, 0, 1], Name=pool))
            _chain(edges, prev, pool)
            prev = pool
    head = [ml.dropoutLayer(0.5, Name="drop9"), ml.convolution2dLayer(1, num_classes, Name="conv10"),
            ml.reluLayer(Name="relu_conv10"), ml.globalAveragePooling2dLayer(Name="pool10"),
            ml.softmaxLayer(Name="prob"), ml.classificationLayer(Name="ClassificationLayer_predictions")]
    layers += head
    _chain(edges, prev, *[l.Name for l in head])
    return LayerGraph(layers, edges)



def inceptionv3_graph(num_classes=1000, image_size=299):
    """MATLAB's ``inceptionv3('Weights','none')`` layer graph (Szegedy et al. 2016; MATLAB's imported from Keras):
    315 layers, as Deep Network Designer exports MATLAB's ``inceptionv3`` as code (a public copy: names, sizes,
    paddings, connectLayers lines). ``input_1`` 299x299x3 'rescale-symmetric' ([0 255] to [-1 1]) | 94 units
    ``conv2d_<k>`` (no bias: ``BiasLearnRateFactor`` 0), ``batch_normalization_<k>`` (Epsilon 0.001),
    ``activation_<k>_relu``, numbered in Keras's order of creation | ``max_pooling2d_1``..``_4`` 3x3/2 |
    ``average_pooling2d_1``..``_9`` 3x3/1 'same' (the padded zeros in the average: MATLAB's default PaddingValue,
    as the export writes it; Keras leaves them out) | ``mixed0``..``mixed10`` depth concatenations (inputs in
    Keras's branch order), ``mixed9_0``/``concatenate_1`` and ``mixed9_1``/``concatenate_2`` inside the last two
    modules | ``avg_pool`` (global average), ``predictions``, ``predictions_softmax``,
    ``ClassificationLayer_predictions``. Strided and stem convolutions 'valid', the rest 'same'."""
    from leuknet.spec.graph import LayerGraph

    layers = [ml.imageInputLayer([image_size, image_size, 3], Name="input_1", Normalization="rescale-symmetric",
                                 Min=0, Max=255)]
    edges = []
    count = {"conv": 0, "avg": 0, "max": 0, "cat": 0}

    def unit(src, filters, size, stride=1, same=True):
        """conv2d_bn of Keras's inception_v3.py: a convolution, its batch normalisation, its ReLU; the ReLU's name."""
        count["conv"] += 1
        k = count["conv"]
        layers.extend([ml.convolution2dLayer(list(size), filters, Name=f"conv2d_{k}", Stride=stride,
                                             Padding="same" if same else 0, BiasLearnRateFactor=0),
                       ml.batchNormalizationLayer(Name=f"batch_normalization_{k}", Epsilon=0.001),
                       ml.reluLayer(Name=f"activation_{k}_relu")])
        _chain(edges, src, f"conv2d_{k}", f"batch_normalization_{k}", f"activation_{k}_relu")
        return f"activation_{k}_relu"

    def pool(src, kind):
        count[kind] += 1
        if kind == "avg":
            name = f"average_pooling2d_{count[kind]}"
            layers.append(ml.averagePooling2dLayer(3, Stride=1, Padding="same", Name=name))
        else:
            name = f"max_pooling2d_{count[kind]}"
            layers.append(ml.maxPooling2dLayer(3, Stride=2, Name=name))
        _chain(edges, src, name)
        return name

    def concat(name, *inputs):
        layers.append(ml.depthConcatenationLayer(len(inputs), Name=name))
        edges.extend((src, name, f"in{i}") for i, src in enumerate(inputs, start=1))
        return name

    x = unit("input_1", 32, (3, 3), stride=2, same=False)
    x = unit(x, 32, (3, 3), same=False)
    x = pool(unit(x, 64, (3, 3)), "max")
    x = unit(x, 80, (1, 1), same=False)
    x = pool(unit(x, 192, (3, 3), same=False), "max")
    for i, pool_filters in enumerate((32, 64, 64)):  # mixed0-2
        b1 = unit(x, 64, (1, 1))
        b5 = unit(unit(x, 48, (1, 1)), 64, (5, 5))
        b3 = unit(unit(unit(x, 64, (1, 1)), 96, (3, 3)), 96, (3, 3))
        bp = unit(pool(x, "avg"), pool_filters, (1, 1))
        x = concat(f"mixed{i}", b1, b5, b3, bp)
    b3 = unit(x, 384, (3, 3), stride=2, same=False)  # mixed3
    bd = unit(unit(unit(x, 64, (1, 1)), 96, (3, 3)), 96, (3, 3), stride=2, same=False)
    x = concat("mixed3", b3, bd, pool(x, "max"))
    for i, width in ((4, 128), (5, 160), (6, 160), (7, 192)):  # mixed4-7
        b1 = unit(x, 192, (1, 1))
        b7 = unit(unit(unit(x, width, (1, 1)), width, (1, 7)), 192, (7, 1))
        bd = unit(x, width, (1, 1))
        for f, size in ((width, (7, 1)), (width, (1, 7)), (width, (7, 1)), (192, (1, 7))):
            bd = unit(bd, f, size)
        bp = unit(pool(x, "avg"), 192, (1, 1))
        x = concat(f"mixed{i}", b1, b7, bd, bp)
    b3 = unit(unit(x, 192, (1, 1)), 320, (3, 3), stride=2, same=False)  # mixed8
    b7 = unit(unit(unit(unit(x, 192, (1, 1)), 192, (1, 7)), 192, (7, 1)), 192, (3, 3), stride=2, same=False)
    x = concat("mixed8", b3, b7, pool(x, "max"))
    for i in range(2):  # mixed9, mixed10
        b1 = unit(x, 320, (1, 1))
        b3 = unit(x, 384, (1, 1))
        b3 = concat(f"mixed9_{i}", unit(b3, 384, (1, 3)), unit(b3, 384, (3, 1)))
        bd = unit(unit(x, 448, (1, 1)), 384, (3, 3))
        count["cat"] += 1
        bd = concat(f"concatenate_{count['cat']}", unit(bd, 384, (1, 3)), unit(bd, 384, (3, 1)))
        bp = unit(pool(x, "avg"), 192, (1, 1))
        x = concat(f"mixed{9 + i}", b1, b3, bd, bp)
    head = [ml.globalAveragePooling2dLayer(Name="avg_pool"), ml.fullyConnectedLayer(num_classes, Name="predictions"),
            ml.softmaxLayer(Name="predictions_softmax"), ml.classificationLayer(Name="ClassificationLayer_predictions")]
    layers += head
    _chain(edges, x, *[l.Name for l in head])
    return LayerGraph(layers, edges)

__all__ = ["GOOGLENET_MEAN_RGB", "IMAGENET_MEAN_RGB", "SQUEEZENET_FIRES", "TORCHVISION_MEAN_RGB", "TORCHVISION_STD_RGB",
           "googlenet_graph", "inceptionv3_graph", "mobilenetv2_graph", "resnet18_graph", "resnet50_graph",
           "squeezenet_graph", "vgg_layers"]
