"""MATLAB layers, layer graphs and analyzeNetwork, against NumPy transcriptions of MathWorks' documented formulas
and hand-computed values."""

import numpy as np
import pytest

from leuknet.data.pipeline import ImageData
from leuknet.errors import ConfigError
from leuknet.matlab import (additionLayer, addLayers, analyzeNetwork, averagePooling2dLayer,
                            batchNormalizationLayer, classificationLayer, clippedReluLayer, concatenationLayer,
                            connectLayers, convolution2dLayer, depthConcatenationLayer, disconnectLayers, eluLayer,
                            fullyConnectedLayer, globalAveragePooling2dLayer, globalMaxPooling2dLayer,
                            imageInputLayer, layerGraph, leakyReluLayer, maxPooling2dLayer, reluLayer,
                            removeLayers, replaceLayer, sigmoidLayer, softmaxLayer, tanhLayer, trainingOptions)
from leuknet.matlab.graph import input_layer_spec, network_graph, output_layer_spec
from leuknet.matlab.layers import assemble, layer_factors, network_layers
from leuknet.train import Trainer


def run(layers, x, training=False):
    model, _ = assemble(layers)
    return model(np.asarray(x, np.float32), training=training).numpy()


def inp(h, w, c):
    return imageInputLayer([h, w, c], "Normalization", "none")


# ---------------------------------------------------------------------------------------------------------------
# calling conventions

def test_constructors_take_positional_pairs_any_case_and_choices_by_prefix():
    p = maxPooling2dLayer(2, "Stride", 2)
    assert p.Stride == (2, 2) and p.PoolSize == (2, 2)
    assert maxPooling2dLayer(3, "stride", [1, 2], "NAME", "pool").Stride == (1, 2)
    assert convolution2dLayer(3, 8, "Padding", "Same").Padding == "same"
    assert imageInputLayer([8, 8, 3], "Normalization", "zero").Normalization == "zerocenter"
    assert imageInputLayer([8, 8], "normalization", "none").InputSize == (8, 8, 1)
    assert convolution2dLayer(3, 8, "WeightsInitializer", "He").WeightsInitializer == "he"
    assert dict(Stride=(2, 2)).items() <= vars(maxPooling2dLayer(2, Stride=2)).items()
    with pytest.raises(ConfigError, match="unknown name-value option 'Strides'"):
        convolution2dLayer(3, 8, Strides=2)
    with pytest.raises(ConfigError, match="maxPooling2dLayer: the required argument poolSize"):
        maxPooling2dLayer()
    with pytest.raises(ConfigError, match="Padding must be"):
        maxPooling2dLayer(2, "Padding", "valid")


def test_bare_constructors_and_nested_arrays_assemble():
    layers = [inp(6, 6, 3), [convolution2dLayer(3, 4), reluLayer], (maxPooling2dLayer(2, "Stride", 2),),
              fullyConnectedLayer(2), softmaxLayer, classificationLayer]
    model, classes = assemble(layers, classes=["a", "b"])
    assert classes == ["a", "b"]
    names = [l.Name for l in network_layers(model)]
    assert names == ["imageinput", "conv", "relu", "maxpool", "fc", "softmax", "classoutput"]
    with pytest.raises(ConfigError, match="maxPooling2dLayer: the required argument poolSize"):
        assemble([inp(6, 6, 3), maxPooling2dLayer])
    assert input_layer_spec(layers).InputSize == (6, 6, 3)
    assert output_layer_spec(layers).kind == "ClassificationOutputLayer"
    assert output_layer_spec([inp(6, 6, 3), reluLayer]) is None


def test_grey_input_assembles():
    model, _ = assemble([imageInputLayer([8, 8, 1]), convolution2dLayer(3, 2), reluLayer])
    assert model(np.zeros((2, 8, 8, 1), np.float32)).shape == (2, 6, 6, 2)


# ---------------------------------------------------------------------------------------------------------------
# batch normalisation: https://www.mathworks.com/help/deeplearning/ref/nnet.cnn.layer.batchnormalizationlayer.html
# and the running-statistics formula of https://www.mathworks.com/help/deeplearning/ref/dlarray.batchnorm.html

def bn_reference(x, scale, offset, mean, var, eps=1e-5):
    return scale * (x - mean) / np.sqrt(var + eps) + offset


def test_batch_normalization_defaults_training_output_and_moving_statistics():
    bn = batchNormalizationLayer()
    assert (bn.Epsilon, bn.MeanDecay, bn.VarianceDecay) == (1e-5, 0.1, 0.1)
    assert (bn.OffsetLearnRateFactor, bn.ScaleLearnRateFactor, bn.OffsetL2Factor, bn.ScaleL2Factor) == (1, 1, 1, 1)
    assert bn.Name == "" and bn.OffsetInitializer == "zeros" and bn.ScaleInitializer == "ones"
    rng = np.random.default_rng(0)
    scale, offset = rng.uniform(0.5, 2, 3), rng.normal(size=3)
    model, _ = assemble([inp(4, 5, 3), batchNormalizationLayer("Scale", scale.reshape(1, 1, 3),
                                                               "Offset", offset.reshape(1, 1, 3), "Name", "bn")])
    mean, var = np.zeros(3), np.ones(3)
    for k in range(2):
        x = rng.normal(2.0 + k, 3.0, (6, 4, 5, 3))
        y = model(x.astype(np.float32), training=True).numpy()
        mu_b, var_b = x.mean((0, 1, 2)), x.var((0, 1, 2))  # the mini-batch's statistics (divisor m)
        np.testing.assert_allclose(y, bn_reference(x, scale, offset, mu_b, var_b), rtol=1e-4, atol=1e-4)
        m = 6 * 4 * 5
        mean = 0.9 * mean + 0.1 * mu_b  # s = Decay * s_batch + (1 - Decay) * s
        var = 0.9 * var + 0.1 * var_b * m / (m - 1)  # leuknet's choice: the unbiased mini-batch variance
    back = network_layers(model)[1]
    np.testing.assert_allclose(back.TrainedMean.ravel(), mean, rtol=1e-5)
    np.testing.assert_allclose(back.TrainedVariance.ravel(), var, rtol=1e-5)
    assert back.Offset.shape == (1, 1, 3) and back.TrainedMean.shape == (1, 1, 3)
    np.testing.assert_allclose(back.Scale.ravel(), scale, rtol=1e-6)
    x = rng.normal(size=(2, 4, 5, 3))  # prediction: the trained statistics
    np.testing.assert_allclose(model(x.astype(np.float32)).numpy(), bn_reference(x, scale, offset, mean, var),
                               rtol=1e-4, atol=1e-4)


def test_batch_normalization_prediction_with_given_statistics_and_epsilon():
    x = np.arange(2 * 2 * 2 * 2, dtype=np.float64).reshape(2, 2, 2, 2)
    y = run([inp(2, 2, 2), batchNormalizationLayer("TrainedMean", [1, 2], "TrainedVariance", [4, 9],
                                                   "Epsilon", 0.5)], x)
    np.testing.assert_allclose(y, (x - [1, 2]) / np.sqrt(np.array([4, 9]) + 0.5), rtol=1e-6)


def bn_net(stats="population", shuffle="never"):
    layers = [inp(3, 3, 2), batchNormalizationLayer("Name", "bn"), fullyConnectedLayer(2), softmaxLayer,
              classificationLayer]
    model, _ = assemble(layers, classes=["a", "b"])
    opts = trainingOptions("sgdm", "MaxEpochs", 2, "MiniBatchSize", 4, "Shuffle", shuffle, "Verbose", False,
                           "BatchNormalizationStatistics", stats)
    return model, opts


def bn_data(n=10):
    rng = np.random.default_rng(3)
    x = rng.integers(0, 255, (n, 3, 3, 2)).astype(np.uint8)
    return x, ImageData(np.arange(n) % 2, (3, 3), images=x)


def test_population_statistics_are_the_training_sets_mean_and_variance():
    x, data = bn_data()
    model, opts = bn_net("population", "every-epoch")
    Trainer(model, opts).fit(data)
    bn = network_layers(model)[1]
    v = x.reshape(-1, 2).astype(np.float64)  # every pixel of every training image (the partial batch included)
    np.testing.assert_allclose(bn.TrainedMean.ravel(), v.mean(0), rtol=1e-5)
    np.testing.assert_allclose(bn.TrainedVariance.ravel(), v.var(0, ddof=1), rtol=1e-5)


def test_moving_statistics_follow_the_mini_batches():
    x, data = bn_data()
    model, opts = bn_net("moving", "never")
    Trainer(model, opts).fit(data)
    mean, var = np.zeros(2), np.ones(2)
    for _ in range(2):  # 2 epochs of floor(10 / 4) = 2 mini-batches, in file order (Shuffle 'never')
        for b in range(2):
            v = x[4 * b : 4 * b + 4].reshape(-1, 2).astype(np.float64)
            mean = 0.9 * mean + 0.1 * v.mean(0)
            var = 0.9 * var + 0.1 * v.var(0, ddof=1)
    bn = network_layers(model)[1]
    np.testing.assert_allclose(bn.TrainedMean.ravel(), mean, rtol=1e-5)
    np.testing.assert_allclose(bn.TrainedVariance.ravel(), var, rtol=1e-5)


def test_batch_normalization_factors_reach_the_solver():
    model, _ = assemble([inp(3, 3, 2), batchNormalizationLayer("ScaleLearnRateFactor", 0, "OffsetL2Factor", 0.5,
                                                               "Name", "bn"),
                         convolution2dLayer(1, 2, "BiasLearnRateFactor", 3)])
    f = layer_factors(model)
    assert f["bn/scale"] == (0.0, 1.0) and f["bn/offset"] == (1.0, 0.5)
    assert f["conv/bias"] == (3.0, 0.0) and f["conv/kernel"] == (1.0, 1.0)
    back = network_layers(model)[1]
    assert back.ScaleLearnRateFactor == 0 and back.OffsetL2Factor == 0.5


# ---------------------------------------------------------------------------------------------------------------
# pooling and activations (formulas of the MathWorks layer pages, written out in NumPy)

def avg_pool_reference(x, k, s, pad, include_padding):
    t, b, l, r = pad
    xp = np.pad(x, ((0, 0), (t, b), (l, r), (0, 0)))
    ones = np.pad(np.ones_like(x), ((0, 0), (t, b), (l, r), (0, 0)))
    oh, ow = (xp.shape[1] - k) // s + 1, (xp.shape[2] - k) // s + 1
    out = np.zeros((x.shape[0], oh, ow, x.shape[3]))
    for i in range(oh):
        for j in range(ow):
            win = xp[:, i * s : i * s + k, j * s : j * s + k]
            n = k * k if include_padding else ones[:, i * s : i * s + k, j * s : j * s + k].sum((1, 2))
            out[:, i, j] = win.sum((1, 2)) / n
    return out


def test_average_pooling_stride_one_and_matlabs_padding_value():
    x = np.arange(1, 10, dtype=np.float64).reshape(1, 3, 3, 1)
    p = averagePooling2dLayer(2, "Padding", 1)
    assert p.Stride == (1, 1) and p.PaddingValue == 0
    y = run([inp(3, 3, 1), p], x)
    assert y.shape == (1, 4, 4, 1) and y[0, 0, 0, 0] == pytest.approx(0.25)  # (0 + 0 + 0 + 1) / 4
    np.testing.assert_allclose(y, avg_pool_reference(x, 2, 1, (1, 1, 1, 1), True), rtol=1e-6)
    y = run([inp(3, 3, 1), averagePooling2dLayer(2, "Padding", 1, "PaddingValue", "mean")], x)
    assert y[0, 0, 0, 0] == pytest.approx(1.0)  # the padded cells left out
    np.testing.assert_allclose(y, avg_pool_reference(x, 2, 1, (1, 1, 1, 1), False), rtol=1e-6)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 5, 6, 2))
    # 'same', stride 2: output ceil(5/2) x ceil(6/2); pad totals 2 and 1, the odd one at the bottom / right
    for pv, inc in ((0, True), ("mean", False)):
        y = run([inp(5, 6, 2), averagePooling2dLayer(3, "Stride", 2, "Padding", "same", "PaddingValue", pv)], x)
        np.testing.assert_allclose(y, avg_pool_reference(x, 3, 2, (1, 1, 0, 1), inc), rtol=1e-5, atol=1e-6)
    y = run([inp(5, 6, 2), averagePooling2dLayer(2, "Stride", 2)], x)
    np.testing.assert_allclose(y, avg_pool_reference(x, 2, 2, (0, 0, 0, 0), True), rtol=1e-5, atol=1e-6)


def test_global_pooling_and_activation_layers():
    rng = np.random.default_rng(1)
    x = rng.normal(0, 2, (2, 3, 4, 3))
    np.testing.assert_allclose(run([inp(3, 4, 3), globalAveragePooling2dLayer], x),
                               x.mean((1, 2), keepdims=True), rtol=1e-5)
    np.testing.assert_allclose(run([inp(3, 4, 3), globalMaxPooling2dLayer], x), x.max((1, 2), keepdims=True),
                               rtol=1e-6)
    cases = [(leakyReluLayer, np.where(x >= 0, x, 0.01 * x)), (leakyReluLayer(0.2), np.where(x >= 0, x, 0.2 * x)),
             (clippedReluLayer(1.5), np.minimum(np.maximum(x, 0), 1.5)), (eluLayer, np.where(x >= 0, x, np.expm1(x))),
             (eluLayer(0.5), np.where(x >= 0, x, 0.5 * np.expm1(x))), (tanhLayer, np.tanh(x)),
             (sigmoidLayer, 1 / (1 + np.exp(-x)))]
    for layer, ref in cases:
        np.testing.assert_allclose(run([inp(3, 4, 3), layer], x), ref, rtol=1e-5, atol=1e-6)
    model, _ = assemble([inp(3, 4, 3), leakyReluLayer(0.2), clippedReluLayer(2), eluLayer(0.5), tanhLayer,
                         sigmoidLayer, globalMaxPooling2dLayer])
    back = network_layers(model)
    assert [l.kind for l in back[1:]] == ["LeakyReLULayer", "ClippedReLULayer", "ELULayer", "TanhLayer",
                                          "SigmoidLayer", "GlobalMaxPooling2DLayer"]
    assert (back[1].Scale, back[2].Ceiling, back[3].Alpha) == (0.2, 2.0, 0.5)
    with pytest.raises(ConfigError, match="clippedReluLayer: the required argument ceiling"):
        clippedReluLayer()


# ---------------------------------------------------------------------------------------------------------------
# layer graphs

def residual_graph():
    main = [inp(6, 6, 3), convolution2dLayer(3, 4, "Padding", "same", "Name", "conv1"), reluLayer("Name", "relu1"),
            convolution2dLayer(3, 4, "Padding", "same", "Name", "conv2"), additionLayer(2, "Name", "add"),
            reluLayer("Name", "relu2"), globalAveragePooling2dLayer("Name", "gap"),
            fullyConnectedLayer(2, "Name", "fc"),
            softmaxLayer("Name", "prob"), classificationLayer("Name", "output")]
    return connectLayers(layerGraph(main), "relu1", "add/in2")


def test_layer_graph_connections_and_value_semantics():
    g = residual_graph()
    c = g.Connections
    assert ("relu1", "add/in2") in zip(c.Source, c.Destination) and ("conv2", "add/in1") in zip(c.Source,
                                                                                                   c.Destination)
    assert len(c) == 10 and "Source" in repr(c)
    layers = g.Layers
    layers[1].NumFilters = 99
    assert g.Layers[1].NumFilters == 4  # a copy, as MATLAB's value semantics
    g2 = disconnectLayers(g, "relu1", "add/in2")
    assert len(g2.Connections) == 9 and len(g.Connections) == 10
    with pytest.raises(ConfigError, match="input 'add/in2' of layer 'add'.*not connected"):
        assemble(g2)
    with pytest.raises(ConfigError, match="already connected"):
        connectLayers(g, "conv1", "add/in2")
    with pytest.raises(ConfigError, match="no layer named 'nope'"):
        connectLayers(g, "nope", "add/in2")
    with pytest.raises(ConfigError, match="has no input 'in3'"):
        connectLayers(g2, "relu1", "add/in3")
    cyc = connectLayers(disconnectLayers(g, "relu1", "add/in2"), "relu2", "add/in2")
    with pytest.raises(ConfigError, match="cycle"):
        assemble(cyc)
    with pytest.raises(ConfigError, match="already in the layer graph"):
        addLayers(g, reluLayer("Name", "relu1"))
    g3 = removeLayers(g, ["prob", "output"])
    assert [l.Name for l in g3.Layers][-1] == "fc" and output_layer_spec(g3) is None
    g4 = addLayers(g3, [softmaxLayer, classificationLayer])
    assert len(g4.Connections) == len(g3.Connections) + 1  # the new layers in series, not yet joined
    with pytest.raises(ConfigError, match="input 'softmax' of layer 'softmax'.*not connected"):
        assemble(g4)
    with pytest.raises(ConfigError, match="several unconnected outputs"):
        assemble(connectLayers(addLayers(g, reluLayer("Name", "extra")), "relu1", "extra"))
    g5 = connectLayers(g4, "fc", "softmax")
    model, _ = assemble(g5, classes=["x", "y"])
    assert model.output.shape[-1] == 2


def test_residual_graph_adds_its_branches_and_transfer_pattern_replaces_layers():
    import keras

    g = residual_graph()
    model, classes = assemble(g, classes=["a", "b"])
    x = np.random.default_rng(0).uniform(0, 1, (2, 6, 6, 3)).astype(np.float32)
    parts = keras.Model(model.inputs, [model.get_layer(n).output for n in ("relu1", "conv2", "add")])([x])
    np.testing.assert_allclose(parts[2].numpy(), parts[0].numpy() + parts[1].numpy(), rtol=1e-6)
    # MathWorks' transfer-learning recipe: lgraph = layerGraph(net); replaceLayer(...) twice
    lg = layerGraph(model)
    assert {(s, d) for s, d in zip(lg.Connections.Source, lg.Connections.Destination)} == \
        {(s, d) for s, d in zip(g.Connections.Source, g.Connections.Destination)}

    class Net:  # what leuknet.matlab.network wraps a trained model in
        def __init__(self, m):
            self.model = m

    assert [l.Name for l in layerGraph(Net(model)).Layers] == [l.Name for l in lg.Layers]
    lg2 = replaceLayer(lg, "fc", fullyConnectedLayer(3, "Name", "fc_new", "WeightLearnRateFactor", 10))
    lg2 = replaceLayer(lg2, "output", classificationLayer("Name", "output"))
    assert "fc" in [l.Name for l in lg.Layers]  # the argument is left as it was
    new, classes = assemble(lg2, classes=["p", "q", "r"])
    assert classes == ["p", "q", "r"] and new.output.shape[-1] == 3
    np.testing.assert_array_equal(new.get_layer("conv1").kernel.numpy(), model.get_layer("conv1").kernel.numpy())
    assert layer_factors(new)["fc_new/kernel"] == (10.0, 1.0)
    assert ("gap", "fc_new") in zip(lg2.Connections.Source, lg2.Connections.Destination)
    serial = network_graph(assemble([inp(4, 4, 1), reluLayer, softmaxLayer])[0])
    assert list(zip(serial.Connections.Source, serial.Connections.Destination)) == [("imageinput", "relu"),
                                                                                  ("relu", "softmax")]


def test_concatenation_layers():
    x = np.random.default_rng(2).normal(size=(1, 4, 4, 2)).astype(np.float32)
    for layer, axis in ((depthConcatenationLayer(2, "Name", "cat"), 3), (concatenationLayer(1, 2, "Name", "cat"), 1),
                        (concatenationLayer(2, 2, "Name", "cat"), 2)):
        g = layerGraph([inp(4, 4, 2), reluLayer("Name", "r"), layer])
        g = addLayers(g, tanhLayer("Name", "t"))
        g = connectLayers(connectLayers(g, "imageinput", "t"), "t", "cat/in2")
        y = assemble(g)[0](x).numpy()
        np.testing.assert_allclose(y, np.concatenate([np.maximum(x, 0), np.tanh(x)], axis), rtol=1e-6)
    g = connectLayers(addLayers(layerGraph([inp(4, 4, 2), additionLayer(2, "Name", "add")]),
                                maxPooling2dLayer(2, "Stride", 2, "Name", "p")), "imageinput", "p")
    with pytest.raises(ConfigError, match="addition.*one size"):
        assemble(connectLayers(g, "p", "add/in2"))


# ---------------------------------------------------------------------------------------------------------------
# analyzeNetwork

def test_analyze_network_alexnet_learnables_and_layouts():
    from leuknet.models.alexnet import alexnet_layers

    a = analyzeNetwork(alexnet_layers())
    assert a.TotalLearnables == 60_965_224  # MATLAB's published count for alexnet
    rows = {r["Name"]: r for r in a.rows}
    assert len(a.rows) == 25
    assert rows["conv1"]["Activations"] == "55x55x96" and rows["conv1"]["Type"] == "Convolution"
    assert rows["conv1"]["Learnables"] == "Weights 11x11x3x96, Bias 1x1x96"
    assert rows["conv2"]["Learnables"] == "Weights 5x5x48x128x2, Bias 1x1x128x2"
    assert rows["fc6"]["Learnables"] == "Weights 4096x9216, Bias 4096x1" and rows["fc6"]["Activations"] == "1x1x4096"
    assert rows["pool5"]["Activations"] == "6x6x256" and rows["relu1"]["Learnables"] == "-"
    assert "60,965,224" in repr(a)


def test_analyze_network_reports_errors_in_one_line():
    b = analyzeNetwork([inp(4, 4, 3), batchNormalizationLayer, fullyConnectedLayer(2), softmaxLayer,
                        classificationLayer])
    assert b.rows[1]["Learnables"] == "Offset 1x1x3, Scale 1x1x3" and b.TotalLearnables == 6 + 4 * 4 * 3 * 2 + 2
    for layers, pattern in (([inp(4, 4, 3), reluLayer], "missing output layer"),
                            ([reluLayer, classificationLayer], "missing input layer"),
                            ([inp(3, 3, 3), convolution2dLayer(5, 2, "Name", "big"), classificationLayer],
                             "layer 'big'.*3x3x3")):
        with pytest.raises(ConfigError, match=pattern) as e:
            analyzeNetwork(layers)
        assert "\n" not in str(e.value) and str(e.value).startswith("analyzeNetwork")


def test_a_layer_prints_as_matlab_shows_one():
    """``layer = net.Layers(2)`` in MATLAB shows "Convolution2DLayer with properties:" and one property a line,
    aligned on the colons, arrays as their size and class; ``print(layer)`` here."""
    import numpy as np

    from leuknet.matlab import convolution2dLayer

    text = str(convolution2dLayer(11, 96, "Name", "conv1", "Stride", 4,
                                  "Weights", np.zeros((11, 11, 3, 96), np.float32)))
    lines = text.splitlines()
    assert lines[0] == "  Convolution2DLayer with properties:" and lines[1] == ""
    rows = dict(line.strip().split(": ", 1) for line in lines[2:])
    assert list(rows)[0] == "Name" and rows["Name"] == "'conv1'"
    assert rows["FilterSize"] == "[11 11]" and rows["NumFilters"] == "96" and rows["Stride"] == "[4 4]"
    assert rows["Weights"] == "[11x11x3x96 single]" and rows["Bias"] == "[]"
    assert list(rows)[-2:] == ["Weights", "Bias"]  # the learnables last
    assert len({line.index(":") for line in lines[2:]}) == 1  # aligned on the colons
