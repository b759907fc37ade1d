"""The MATLAB-shaped API: layer defaults, weight layouts, trainNetwork semantics."""

import math

import numpy as np
import pytest

from leuknet.errors import ConfigError
from leuknet.matlab import (Layers, classificationLayer, classify, convolution2dLayer, crossChannelNormalizationLayer,
                            dropoutLayer, fullyConnectedLayer, groupedConvolution2dLayer, imageInputLayer,
                            maxPooling2dLayer, predict, reluLayer, softmaxLayer, trainingOptions, trainNetwork)
from leuknet.matlab.layers import assemble
from leuknet.train import Trainer


def softmax(z):
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def test_layer_defaults_are_matlabs():
    c = convolution2dLayer(3, 16)
    assert c.Stride == (1, 1) and c.Padding == (0, 0, 0, 0) and c.WeightsInitializer == "glorot"
    assert (c.WeightLearnRateFactor, c.BiasLearnRateFactor, c.WeightL2Factor, c.BiasL2Factor) == (1, 1, 1, 0)
    assert maxPooling2dLayer(3).Stride == (1, 1)  # MATLAB's default stride is 1, not the pool size
    n = crossChannelNormalizationLayer(5)
    assert (n.Alpha, n.Beta, n.K) == (1e-4, 0.75, 2.0)
    assert dropoutLayer().Probability == 0.5
    assert imageInputLayer([224, 224, 3]).Normalization == "zerocenter"
    with pytest.raises(ConfigError, match="unknown name-value option 'Strides'"):
        convolution2dLayer(3, 8, Strides=2)
    with pytest.raises(ConfigError, match="1 to 16"):
        crossChannelNormalizationLayer(17)


def test_default_names_like_matlab():
    layers = [imageInputLayer([8, 8, 3]), convolution2dLayer(3, 4), reluLayer(), convolution2dLayer(3, 4),
              reluLayer(), fullyConnectedLayer(2), softmaxLayer(), classificationLayer()]
    model, _ = assemble(layers, classes=["a", "b"])
    names = [l.name for l in model.layers]
    for n in ("imageinput", "conv_1", "relu_1", "conv_2", "relu_2", "fc", "softmax", "classoutput"):
        assert n in names
    with pytest.raises(ConfigError, match="unique"):
        assemble([imageInputLayer([8, 8, 3]), reluLayer(Name="x"), reluLayer(Name="x")])


def test_fully_connected_weights_are_output_by_input_with_column_major_flatten():
    rng = np.random.default_rng(0)
    H, W_, C = 2, 3, 2
    Wm = rng.normal(size=(4, H * W_ * C)).astype(np.float32)
    b = rng.normal(size=(4, 1)).astype(np.float32)
    layers = [imageInputLayer([H, W_, C], Normalization="none"), fullyConnectedLayer(4, Weights=Wm, Bias=b),
              softmaxLayer(), classificationLayer()]
    model, _ = assemble(layers)
    x = rng.normal(size=(3, H, W_, C)).astype(np.float32)
    # MATLAB: y = W * x(:) + b, x(:) column-major over (H, W, C)
    ref = softmax(np.stack([Wm @ xi.flatten(order="F") + b.ravel() for xi in x]))
    np.testing.assert_allclose(model(x).numpy(), ref, rtol=1e-5, atol=1e-6)
    out = Layers(model)[1]
    np.testing.assert_allclose(out.Weights, Wm)
    assert out.Weights.shape == (4, 12) and out.Bias.shape == (4, 1)


def correlate_reference(x, w, b, stride=1, pad=0):
    """MATLAB convolution2dLayer: cross-correlation, Weights FH x FW x C x F."""
    x = np.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    fh, fw, _, f = w.shape
    oh, ow = (x.shape[1] - fh) // stride + 1, (x.shape[2] - fw) // stride + 1
    out = np.zeros((x.shape[0], oh, ow, f))
    for i in range(oh):
        for j in range(ow):
            patch = x[:, i * stride : i * stride + fh, j * stride : j * stride + fw, :]
            out[:, i, j, :] = np.tensordot(patch, w, axes=([1, 2, 3], [0, 1, 2]))
    return out + b.reshape(1, 1, 1, -1)


def test_convolution_and_grouped_convolution_weight_layouts():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2, 7, 7, 4)).astype(np.float32)
    w = rng.normal(size=(3, 3, 4, 5)).astype(np.float32)
    b = rng.normal(size=(1, 1, 5)).astype(np.float32)
    gw = rng.normal(size=(3, 3, 2, 3, 2)).astype(np.float32)  # FH x FW x C/G x F/G x G
    gb = rng.normal(size=(1, 1, 3, 2)).astype(np.float32)
    for spec, ref in (
        (convolution2dLayer(3, 5, Weights=w, Bias=b, Stride=2, Padding=1), correlate_reference(x, w, b, 2, 1)),
        (groupedConvolution2dLayer(3, 3, 2, Weights=gw, Bias=gb, Padding=1),
         np.concatenate([correlate_reference(x[..., 2 * g : 2 * g + 2], gw[..., g], gb[..., g], 1, 1)
                         for g in range(2)], -1)),
    ):
        layers = [imageInputLayer([7, 7, 4], Normalization="none"), spec]
        model, _ = assemble(layers)
        np.testing.assert_allclose(model(x).numpy(), ref, rtol=1e-4, atol=1e-4)
        back = Layers(model)[1]
        np.testing.assert_allclose(back.Weights, spec.Weights)
        np.testing.assert_allclose(back.Bias, spec.Bias)


def tiny_layers(**fc):
    return [imageInputLayer([6, 6, 3]), convolution2dLayer(3, 4), reluLayer(), crossChannelNormalizationLayer(2),
            maxPooling2dLayer(2, Stride=2), fullyConnectedLayer(2, **fc), softmaxLayer(), classificationLayer()]


def toy_data(n, seed=0):
    rng = np.random.default_rng(seed)
    y = np.array(["blast", "normal"])[rng.integers(0, 2, n)]
    x = rng.integers(0, 60, (n, 6, 6, 3)).astype(np.uint8)
    x[y == "blast", :3] += 150
    return x, y


def test_train_network_cadence_partial_batch_and_info():
    x, y = toy_data(10)
    xv, yv = toy_data(5, 1)
    opts = trainingOptions("sgdm", MaxEpochs=3, MiniBatchSize=3, ValidationData=(xv, yv), ValidationFrequency=4,
                           Verbose=False, InitialLearnRate=0.001)
    net, info = trainNetwork(x, y, tiny_layers(), opts, nargout=2)
    # floor(10 / 3) = 3 iterations an epoch (the partial mini-batch is dropped), 3 epochs
    assert len(info["TrainingLoss"]) == 9
    assert info["Epoch"].tolist() == [1, 1, 1, 2, 2, 2, 3, 3, 3]
    validated = (np.flatnonzero(~np.isnan(info["ValidationLoss"])) + 1).tolist()
    assert validated == [1, 4, 8, 9]  # iteration 1, every ValidationFrequency, and the last
    for k in ("TrainingLoss", "TrainingAccuracy", "ValidationLoss", "ValidationAccuracy", "BaseLearnRate"):
        assert k in info
    assert np.all(info["BaseLearnRate"] == 0.001)
    assert info["FinalValidationAccuracy"] == info["ValidationAccuracy"][-1]
    labels, scores = classify(net, xv, nargout=2)
    assert set(labels.tolist()) <= {"blast", "normal"} and scores.shape == (5, 2)
    np.testing.assert_allclose(predict(net, xv), scores)
    assert [l.name for l in net.model.layers][1] == "imageinput"


def test_zerocenter_statistics_come_from_training_data_and_live_in_the_model(tmp_path):
    import keras

    x, y = toy_data(12)
    net = trainNetwork(x, y, tiny_layers(), trainingOptions("adam", MaxEpochs=1, MiniBatchSize=4, Verbose=False))
    mean = Layers(net)[0].Mean
    np.testing.assert_allclose(mean.ravel(), x.reshape(-1, 3).mean(0), rtol=1e-5)  # per channel ('auto')
    net.save(tmp_path / "n.keras")
    net.save(str(tmp_path / "myNet"))  # MATLAB's `save myNet` writes myNet.mat; here myNet.keras
    from leuknet.matlab import loadNetwork

    again = loadNetwork(str(tmp_path / "myNet"))
    assert (tmp_path / "myNet.keras").is_file()
    np.testing.assert_array_equal(predict(again, x), predict(net, x))
    loaded = keras.models.load_model(tmp_path / "n.keras", safe_mode=True)
    np.testing.assert_allclose(loaded(x.astype(np.float32)).numpy(), net.model(x.astype(np.float32)).numpy(), rtol=1e-5)


def test_shuffle_modes():
    x, y = toy_data(8)
    model, _ = assemble(tiny_layers(), classes=["blast", "normal"])
    for mode, check in (("once", lambda o: all((a == o[0]).all() for a in o)),
                        ("every-epoch", lambda o: not (o[0] == o[1]).all()),
                        ("never", lambda o: all((a == np.arange(8)).all() for a in o))):
        t = Trainer(model, trainingOptions("adam", Shuffle=mode, Verbose=False))
        orders = list(t.epoch_orders(8, 3, seed=1))
        assert check(orders), mode


def test_piecewise_schedule_and_patience_in_training():
    x, y = toy_data(8)
    opts = trainingOptions("sgdm", MaxEpochs=4, MiniBatchSize=4, LearnRateSchedule="piecewise",
                           LearnRateDropFactor=0.5, LearnRateDropPeriod=2, InitialLearnRate=0.01, Verbose=False)
    _, info = trainNetwork(x, y, tiny_layers(), opts, nargout=2)
    assert info["BaseLearnRate"].tolist() == pytest.approx([0.01] * 4 + [0.005] * 4)
    opts = trainingOptions("sgdm", MaxEpochs=50, MiniBatchSize=4, ValidationData=(x, y), ValidationFrequency=1,
                           ValidationPatience=2, InitialLearnRate=10.0, Verbose=False)
    _, info = trainNetwork(x, y, tiny_layers(), opts, nargout=2)
    assert len(info["TrainingLoss"]) < 100  # stopped early


def test_output_network_best_validation_loss():
    x, y = toy_data(16)
    opts = trainingOptions("sgdm", MaxEpochs=4, MiniBatchSize=4, ValidationData=(x, y), ValidationFrequency=1,
                           InitialLearnRate=0.5, OutputNetwork="best-validation-loss", Verbose=False)
    net, info = trainNetwork(x, y, tiny_layers(), opts, nargout=2)
    best = int(np.nanargmin(info["ValidationLoss"])) + 1
    assert info["OutputNetworkIteration"] == best
    from leuknet.layers import crossentropyex

    loss = float(crossentropyex(net.model(x.astype(np.float32)), np.eye(2)[(y == "normal").astype(int)]))
    assert loss == pytest.approx(np.nanmin(info["ValidationLoss"]), rel=1e-4, abs=1e-6)  # ~0 when certain


def test_glorot_uniform_bounds_use_matlab_fans():
    model, _ = assemble([imageInputLayer([9, 9, 6], Normalization="none"), convolution2dLayer(5, 40)])
    k = model.get_layer("conv").kernel.numpy()
    limit = math.sqrt(6 / (5 * 5 * 6 + 5 * 5 * 40))
    assert np.abs(k).max() <= limit and np.abs(k).max() > 0.95 * limit
    assert np.all(model.get_layer("conv").bias.numpy() == 0)


def test_mini_batch_size_above_the_training_set_trains_one_batch_of_all_of_it():
    """MATLAB's data dispatchers take min(MiniBatchSize, NumObservations) (``set.MiniBatchSize`` of
    nnet.internal.cnn.ImageDatastoreDispatcher / MiniBatchDatastoreDispatcher / FourDArrayDispatcher: ``value =
    min(value, this.NumObservations)``): with the default 128 and 6 images, every epoch is one iteration on all 6.
    So it must give exactly the weights of MiniBatchSize 6 (Shuffle 'never': the same mini-batch)."""
    x, y = toy_data(6)
    weights = []
    for batch in (128, 6):
        opts = trainingOptions("sgdm", MaxEpochs=3, MiniBatchSize=batch, Shuffle="never", Verbose=False,
                               InitialLearnRate=0.01)
        net, info = trainNetwork(x, y, tiny_layers(), opts, nargout=2, seed=3)
        assert info["Epoch"].tolist() == [1, 2, 3]  # one iteration an epoch
        weights.append([w.numpy() if hasattr(w, "numpy") else np.asarray(w) for w in net.model.weights])
    for a, b in zip(*weights):
        np.testing.assert_array_equal(a, b)
    model, _ = assemble(tiny_layers(), classes=["blast", "normal"])
    assert Trainer(model, trainingOptions("adam")).mini_batch_size(6) == 6
    assert Trainer(model, trainingOptions("adam", MiniBatchSize=4)).mini_batch_size(6) == 4
