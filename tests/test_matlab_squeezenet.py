"""squeezenet as MATLAB builds it, with the weights files its users have.

References, none derived from leuknet: ``squeezenet`` as Deep Network Designer exports it as code (a public
script: its layers, sizes, paddings and connectLayers lines), torchvision's published parameter count of SqueezeNet
1.1 (1,235,496), and a SqueezeNet 1.1 forward pass written here with ``torch.nn.functional`` (Caffe's ceil-mode
pooling) on torchvision's state-dict names.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.io

import leuknet.matlab as m
from leuknet.errors import ConfigError, ModelFileError

# connectLayers lines of the export (fire2 and fire3; the series links come with its addLayers blocks)
EXPORT_CONNECT = [("fire2-relu_squeeze1x1", "fire2-expand1x1"), ("fire2-relu_squeeze1x1", "fire2-expand3x3"),
                  ("fire2-relu_expand1x1", "fire2-concat/in1"), ("fire2-relu_expand3x3", "fire2-concat/in2"),
                  ("fire3-relu_squeeze1x1", "fire3-expand3x3"), ("fire3-relu_expand3x3", "fire3-concat/in2"),
                  ("fire3-concat", "pool3"), ("pool3", "fire4-squeeze1x1"), ("fire9-concat", "drop9"),
                  ("relu_conv10", "pool10"), ("pool10", "prob")]
FIRES = ((3, 16, 64), (4, 16, 64), (6, 32, 128), (7, 32, 128), (9, 48, 192), (10, 48, 192), (11, 64, 256),
         (12, 64, 256))  # torchvision's features.<i> of fire2..fire9: squeeze, expand planes
MEAN, STD = np.array([123.675, 116.28, 103.53]), np.array([58.395, 57.12, 57.375])  # torchvision's, x 255


def test_squeezenet_untrained_graph_is_matlabs():
    lgraph = m.squeezenet("Weights", "none")
    names = [l.Name for l in lgraph.Layers]
    assert len(names) == 68 and len(lgraph.Connections) == 75
    assert names[:6] == ["data", "conv1", "relu_conv1", "pool1", "fire2-squeeze1x1", "fire2-relu_squeeze1x1"]
    assert names[-6:] == ["drop9", "conv10", "relu_conv10", "pool10", "prob", "ClassificationLayer_predictions"]
    assert set(EXPORT_CONNECT) <= set(zip(lgraph.Connections.Source, lgraph.Connections.Destination))
    by = dict(zip(names, lgraph.Layers))
    assert tuple(by["data"].InputSize) == (227, 227, 3) and by["data"].Normalization == "zerocenter"
    assert tuple(by["conv1"].Stride) == (2, 2) and tuple(by["conv1"].Padding) == (0, 0, 0, 0)
    assert tuple(by["pool1"].Padding) == (0, 0, 0, 0) and tuple(by["pool5"].Padding) == (0, 1, 0, 1)
    assert tuple(by["fire8-expand3x3"].Padding) == (1, 1, 1, 1) and by["fire8-expand3x3"].NumFilters == 256
    assert by["conv10"].NumFilters == 1000 and by["drop9"].Probability == 0.5
    assert m.analyzeNetwork(lgraph).TotalLearnables == 1_235_496  # torchvision's squeezenet1_1


def _state(seed=0):
    rng = np.random.default_rng(seed)
    state = {}

    def conv(pre, cout, cin, k):
        state[f"{pre}.weight"] = rng.normal(0, np.sqrt(2 / (cin * k * k)), (cout, cin, k, k)).astype(np.float32)
        state[f"{pre}.bias"] = rng.normal(0, 0.05, cout).astype(np.float32)

    conv("features.0", 64, 3, 3)
    cin = 64
    for i, s, e in FIRES:
        conv(f"features.{i}.squeeze", s, cin, 1)
        conv(f"features.{i}.expand1x1", e, s, 1)
        conv(f"features.{i}.expand3x3", e, s, 3)
        cin = 2 * e
    conv("classifier.1", 1000, 512, 1)
    return state


def _torch_squeezenet(state, x, mean, std):
    """SqueezeNet 1.1 (torchvision's layout, ceil-mode pooling) on RGB images in [0, 255], (x - mean) / std."""
    import torch
    import torch.nn.functional as F

    t = {k: torch.from_numpy(v) for k, v in state.items()}

    def conv(h, pre, padding=0, stride=1):
        return F.relu(F.conv2d(h, t[f"{pre}.weight"], t[f"{pre}.bias"], stride=stride, padding=padding))

    h = torch.from_numpy(((x - mean) / std).astype(np.float32).transpose(0, 3, 1, 2))
    h = F.max_pool2d(conv(h, "features.0", stride=2), 3, 2, ceil_mode=True)
    for i, _, _ in FIRES:
        s = conv(h, f"features.{i}.squeeze")
        h = torch.cat([conv(s, f"features.{i}.expand1x1"), conv(s, f"features.{i}.expand3x3", padding=1)], 1)
        if i in (4, 7):
            h = F.max_pool2d(h, 3, 2, ceil_mode=True)
    scores = conv(h, "classifier.1").mean(dim=(2, 3))
    return scores.numpy(), torch.softmax(scores, 1).numpy()


def _params_mat(state, path, mean):
    """The same weights as a MathWorks parameters file: MATLAB's layouts, a field per layer, '-' written '_'."""
    params = {"data": {"Mean": mean.reshape(1, 1, 3)}}

    def put(name, pre):
        params[name.replace("-", "_")] = {"Weights": state[f"{pre}.weight"].transpose(2, 3, 1, 0),
                                          "Bias": state[f"{pre}.bias"].reshape(1, 1, -1)}

    put("conv1", "features.0")
    for k, (i, _, _) in enumerate(FIRES, start=2):
        for part in ("squeeze1x1", "expand1x1", "expand3x3"):
            put(f"fire{k}-{part}", f"features.{i}.{part[:-3] if part.startswith('squeeze') else part}")
    put("conv10", "classifier.1")
    scipy.io.savemat(path, {"params": params}, long_field_names=True)
    return str(path)


def test_squeezenet_with_torchvision_and_mathworks_files_computes_squeezenet(tmp_path):
    torch = pytest.importorskip("torch")
    state = _state()
    pth = tmp_path / "squeezenet1_1-b8a52dc0.pth"
    torch.save({k: torch.from_numpy(v) for k, v in state.items()}, pth)
    x = np.random.default_rng(1).uniform(0, 255, (2, 227, 227, 3)).astype(np.float32)

    net = m.squeezenet("Weights", str(pth))
    assert isinstance(net, m.DAGNetwork) and net.pretrained and net.Layers[0].Normalization == "zerocenter"
    scores, probs = _torch_squeezenet(state, x, MEAN, STD)
    got = m.activations(net, x, "pool10")  # MATLAB's 1 x 1 x 1000 x N: the class scores
    np.testing.assert_allclose(got.reshape(1000, 2).T, scores, rtol=1e-4, atol=1e-4 * np.abs(scores).max())
    np.testing.assert_allclose(m.predict(net, x), probs, atol=1e-5)

    mean = np.array([120.0, 110.0, 100.0])
    net = m.squeezenet(_params_mat(state, tmp_path / "squeezenetParams.mat", mean))
    scores, probs = _torch_squeezenet(state, x, mean, 1.0)
    np.testing.assert_allclose(m.activations(net, x, "pool10").reshape(1000, 2).T, scores, rtol=1e-4,
                               atol=1e-4 * np.abs(scores).max())
    np.testing.assert_allclose(m.predict(net, x), probs, atol=1e-5)

    # another network's torchvision file is refused, naming what differs
    other = tmp_path / "resnet18-f37072fd.pth"
    torch.save({"conv1.weight": torch.zeros(64, 3, 7, 7), "fc.weight": torch.zeros(1000, 512)}, other)
    with pytest.raises(ModelFileError, match="SqueezeNet"):
        m.squeezenet(str(other))
    with pytest.raises(ModelFileError, match="squeezenet1_1-b8a52dc0.pth"):
        m.squeezenet(str(tmp_path / "missing.pth"))


def test_squeezenet_transfer_recipe_trains_and_explains():
    """MathWorks' SqueezeNet transfer recipe: conv10 replaced by a 1x1 convolution of the new classes (learn-rate
    factors 10), the output layer replaced; the pooled 1 x 1 x K scores go through softmax to N x K, as MATLAB's
    predict returns them, and gradCAM takes the last spatial layer and the pooled scores by default."""
    lgraph = m.layerGraph(m.squeezenet())
    new_conv = m.convolution2dLayer(1, 2, "Name", "new_conv", "WeightLearnRateFactor", 10, "BiasLearnRateFactor", 10)
    lgraph = m.replaceLayer(lgraph, "conv10", new_conv)
    lgraph = m.replaceLayer(lgraph, "ClassificationLayer_predictions",
                            m.classificationLayer("Name", "new_classoutput"))
    rng = np.random.default_rng(2)
    x = rng.integers(0, 255, (227, 227, 3, 6)).astype(np.uint8)
    y = np.array(["all", "hem"] * 3)
    net = m.trainNetwork(x, y, lgraph, m.trainingOptions("sgdm", MaxEpochs=1, MiniBatchSize=3,
                                                          InitialLearnRate=1e-4, Verbose=False))
    scores = m.predict(net, x)
    assert scores.shape == (6, 2) and np.allclose(scores.sum(1), 1, atol=1e-5)
    assert len(m.classify(net, x)) == 6
    cam, feature, reduction = m.gradCAM(net, x[..., 0], "hem", nargout=3)
    assert (feature, reduction) == ("relu_conv10", "pool10") and cam.shape == (227, 227)
    # a classification layer takes 1 x 1 x K scores: a spatial map is refused when the network is assembled
    bad = [m.imageInputLayer([8, 8, 3]), m.convolution2dLayer(3, 2), m.softmaxLayer, m.classificationLayer]
    with pytest.raises(ConfigError, match=r"its input is 6 x 6 x 2; it takes class scores, 1 x 1 x K"):
        m.trainNetwork(x[:8, :8], y, bad, m.trainingOptions("sgdm", MaxEpochs=1, Verbose=False))
