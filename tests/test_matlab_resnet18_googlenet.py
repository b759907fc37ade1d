"""resnet18 and googlenet as MATLAB builds them, with the weights files their users have.

References, none derived from leuknet: MathWorks' own ``resnet18Layers.m`` and ``googlenetLayers.m``
(github.com/matlab-deep-learning/resnet-18 and .../googlenet: names, connections, sizes, learn-rate factors) and
their ``assemble*.m`` (the parameters MAT-file: a struct ``params`` with a field per layer, '-' written '_');
MathWorks' googlenet page (144 layers, 170 connections); torchvision's published ResNet-18 parameter count
(11,689,512); a ResNet-18 forward pass written here with ``torch.nn.functional`` on torchvision's state-dict names;
onnxruntime running a GoogLeNet ONNX graph laid out as the model zoo's Caffe2-converted file (tests/onnx_graphs.py,
from Caffe's deploy.prototxt and the paper's Table 1).
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.io

import leuknet.matlab as m
from leuknet.errors import ConfigError, ModelFileError

# the connectLayers lines of MathWorks' resnet18Layers.m (the branches' own series links come with addLayers)
RESNET18_CONNECT = [("pool1", "res2a_branch2a"), ("pool1", "res2a/in2"), ("bn2a_branch2b", "res2a/in1"),
                    ("res2a_relu", "res2b_branch2a"), ("res2a_relu", "res2b/in2"), ("bn2b_branch2b", "res2b/in1"),
                    ("res2b_relu", "res3a_branch1"), ("res2b_relu", "res3a_branch2a"), ("bn3a_branch2b", "res3a/in1"),
                    ("bn3a_branch1", "res3a/in2"), ("res3a_relu", "res3b_branch2a"), ("res3a_relu", "res3b/in2"),
                    ("bn3b_branch2b", "res3b/in1"), ("res3b_relu", "res4a_branch2a"), ("res3b_relu", "res4a_branch1"),
                    ("bn4a_branch2b", "res4a/in1"), ("bn4a_branch1", "res4a/in2"), ("res4a_relu", "res4b_branch2a"),
                    ("res4a_relu", "res4b/in2"), ("bn4b_branch2b", "res4b/in1"), ("res4b_relu", "res5a_branch2a"),
                    ("res4b_relu", "res5a_branch1"), ("bn5a_branch2b", "res5a/in1"), ("bn5a_branch1", "res5a/in2"),
                    ("res5a_relu", "res5b_branch2a"), ("res5a_relu", "res5b/in2"), ("bn5b_branch2b", "res5b/in1")]
GOOGLENET_CONNECT_3A = [("pool2-3x3_s2", "inception_3a-5x5_reduce"), ("pool2-3x3_s2", "inception_3a-1x1"),
                        ("pool2-3x3_s2", "inception_3a-3x3_reduce"), ("pool2-3x3_s2", "inception_3a-pool"),
                        ("inception_3a-relu_1x1", "inception_3a-output/in1"),
                        ("inception_3a-relu_5x5", "inception_3a-output/in3"),
                        ("inception_3a-relu_pool_proj", "inception_3a-output/in4"),
                        ("inception_3a-relu_3x3", "inception_3a-output/in2"),
                        ("inception_3b-output", "pool3-3x3_s2"), ("inception_5b-output", "pool5-7x7_s1")]
FILE_STATS = {"Mean": np.array([124.0, 115.5, 104.25]), "StandardDeviation": np.array([58.0, 57.5, 57.0])}


def _connections(lgraph):
    return set(zip(lgraph.Connections.Source, lgraph.Connections.Destination))


def test_resnet18_and_googlenet_untrained_graphs_are_mathworks():
    lgraph = m.resnet18("Weights", "none")
    names = [l.Name for l in lgraph.Layers]
    assert len(names) == 71 and len(lgraph.Connections) == 78
    assert names[:5] == ["data", "conv1", "bn_conv1", "conv1_relu", "pool1"]
    assert names[-4:] == ["pool5", "fc1000", "prob", "ClassificationLayer_predictions"]
    assert set(RESNET18_CONNECT) <= _connections(lgraph)
    by = dict(zip(names, lgraph.Layers))
    assert by["data"].Normalization == "zscore" and tuple(by["data"].InputSize) == (224, 224, 3)
    assert tuple(by["res3a_branch2a"].Stride) == (2, 2) and tuple(by["res3a_branch1"].FilterSize) == (1, 1)
    assert by["conv1"].BiasLearnRateFactor == 0 and by["fc1000"].BiasLearnRateFactor == 1
    assert by["bn2a_branch2a"].Epsilon == 1e-5 and tuple(by["pool1"].Padding) == (1, 1, 1, 1)
    # torchvision's ResNet-18 parameters plus the biases MATLAB's 20 convolutions carry (zeros, not learnt)
    assert m.analyzeNetwork(lgraph).TotalLearnables == 11_689_512 + 4_800

    lgraph = m.googlenet("Weights", "none")
    names = [l.Name for l in lgraph.Layers]
    assert len(names) == 144 and len(lgraph.Connections) == 170
    assert names[:5] == ["data", "conv1-7x7_s2", "conv1-relu_7x7", "pool1-3x3_s2", "pool1-norm1"]
    assert names[-5:] == ["pool5-7x7_s1", "pool5-drop_7x7_s1", "loss3-classifier", "prob", "output"]
    assert set(GOOGLENET_CONNECT_3A) <= _connections(lgraph)
    by = dict(zip(names, lgraph.Layers))
    assert tuple(by["pool1-3x3_s2"].Padding) == (0, 1, 0, 1) and tuple(by["inception_4a-pool"].Padding) == (1,) * 4
    norm = by["conv2-norm2"]
    assert (norm.WindowChannelSize, norm.Alpha, norm.Beta, norm.K) == (5, 1e-4, 0.75, 1)
    assert by["inception_5b-5x5"].NumFilters == 128 and by["loss3-classifier"].BiasLearnRateFactor == 2
    assert by["pool5-drop_7x7_s1"].Probability == 0.4


# ---------------------------------------------------------------------------------------------------------------
# resnet18: torchvision's file and MathWorks' parameters file, against a torch.nn.functional forward pass

def _torchvision_state(seed=0):
    """A state dict with torchvision's ResNet-18 names and shapes, random values (batch statistics away from 0/1)."""
    rng = np.random.default_rng(seed)
    state = {}

    def conv(key, cout, cin, k):
        state[key] = rng.normal(0, np.sqrt(2 / (cin * k * k)), (cout, cin, k, k)).astype(np.float32)

    def bn(pre, c):
        state.update({f"{pre}.weight": rng.uniform(0.5, 1.5, c), f"{pre}.bias": rng.normal(0, 0.1, c),
                      f"{pre}.running_mean": rng.normal(0, 0.1, c), f"{pre}.running_var": rng.uniform(0.5, 2.0, c),
                      f"{pre}.num_batches_tracked": np.array(0, np.int64)})

    conv("conv1.weight", 64, 3, 7)
    bn("bn1", 64)
    cin = 64
    for s, width in enumerate((64, 128, 256, 512), start=1):
        for b in range(2):
            pre = f"layer{s}.{b}"
            conv(f"{pre}.conv1.weight", width, cin if b == 0 else width, 3)
            bn(f"{pre}.bn1", width)
            conv(f"{pre}.conv2.weight", width, width, 3)
            bn(f"{pre}.bn2", width)
            if b == 0 and s > 1:
                conv(f"{pre}.downsample.0.weight", width, cin, 1)
                bn(f"{pre}.downsample.1", width)
        cin = width
    state["fc.weight"] = rng.normal(0, 0.05, (1000, 512))
    state["fc.bias"] = rng.normal(0, 0.1, 1000)
    return {k: np.asarray(v, np.float32 if v.dtype != np.int64 else np.int64) for k, v in state.items()}


def _torch_resnet18(state, x, mean, std):
    """ResNet-18 (He et al.; torchvision's layout) on RGB images in [0, 255], normalised (x - mean) / std."""
    import torch
    import torch.nn.functional as F

    t = {k: torch.from_numpy(v) for k, v in state.items()}

    def bn(h, pre):
        return F.batch_norm(h, t[f"{pre}.running_mean"], t[f"{pre}.running_var"], t[f"{pre}.weight"],
                            t[f"{pre}.bias"], training=False, eps=1e-5)

    h = torch.from_numpy(((x - mean) / std).astype(np.float32).transpose(0, 3, 1, 2))
    h = F.max_pool2d(F.relu(bn(F.conv2d(h, t["conv1.weight"], stride=2, padding=3), "bn1")), 3, 2, 1)
    for s in range(1, 5):
        for b in range(2):
            pre = f"layer{s}.{b}"
            stride = 2 if b == 0 and s > 1 else 1
            out = F.relu(bn(F.conv2d(h, t[f"{pre}.conv1.weight"], stride=stride, padding=1), f"{pre}.bn1"))
            out = bn(F.conv2d(out, t[f"{pre}.conv2.weight"], padding=1), f"{pre}.bn2")
            short = bn(F.conv2d(h, t[f"{pre}.downsample.0.weight"], stride=2), f"{pre}.downsample.1") \
                if f"{pre}.downsample.0.weight" in t else h
            h = F.relu(out + short)
    feats = h.mean(dim=(2, 3))
    probs = torch.softmax(F.linear(feats, t["fc.weight"], t["fc.bias"]), dim=1)
    return feats.numpy(), probs.numpy()


def _resnet18_params_mat(state, path):
    """The same weights as MathWorks' resnet18Params.mat holds them: MATLAB's layouts, one field per layer (an empty
    field for a layer without parameters), the input's statistics."""
    params = {"data": {k: v.reshape(1, 1, 3) for k, v in FILE_STATS.items()}, "conv1_relu": np.zeros((0, 0))}

    def conv(name, key):
        w = state[key]
        params[name] = {"Weights": w.transpose(2, 3, 1, 0), "Bias": np.zeros((1, 1, w.shape[0]))}

    def bn(name, pre):
        params[name] = {"TrainedMean": state[f"{pre}.running_mean"].reshape(1, 1, -1),
                        "TrainedVariance": state[f"{pre}.running_var"].reshape(1, 1, -1),
                        "Offset": state[f"{pre}.bias"].reshape(1, 1, -1),
                        "Scale": state[f"{pre}.weight"].reshape(1, 1, -1)}

    conv("conv1", "conv1.weight")
    bn("bn_conv1", "bn1")
    for s in range(1, 5):
        for b in range(2):
            pre, tag = f"layer{s}.{b}", f"{s + 1}{'ab'[b]}"
            conv(f"res{tag}_branch2a", f"{pre}.conv1.weight")
            bn(f"bn{tag}_branch2a", f"{pre}.bn1")
            conv(f"res{tag}_branch2b", f"{pre}.conv2.weight")
            bn(f"bn{tag}_branch2b", f"{pre}.bn2")
            if f"{pre}.downsample.0.weight" in state:
                conv(f"res{tag}_branch1", f"{pre}.downsample.0.weight")
                bn(f"bn{tag}_branch1", f"{pre}.downsample.1")
    params["fc1000"] = {"Weights": state["fc.weight"], "Bias": state["fc.bias"].reshape(-1, 1)}
    scipy.io.savemat(path, {"params": params}, long_field_names=True)
    return str(path)


def test_resnet18_with_torchvision_and_mathworks_files_computes_resnet18(tmp_path):
    torch = pytest.importorskip("torch")
    state = _torchvision_state()
    pth = tmp_path / "resnet18-f37072fd.pth"
    torch.save({k: torch.from_numpy(v) for k, v in state.items()}, pth)
    x = np.random.default_rng(1).uniform(0, 255, (2, 224, 224, 3)).astype(np.float32)

    net = m.resnet18("Weights", str(pth))
    assert isinstance(net, m.DAGNetwork) and net.pretrained
    feats, probs = _torch_resnet18(state, x, np.array([123.675, 116.28, 103.53]), np.array([58.395, 57.12, 57.375]))
    got = m.activations(net, x, "pool5")  # MATLAB's 1 x 1 x C x N
    np.testing.assert_allclose(got.reshape(512, 2).T, feats, rtol=1e-4, atol=1e-4 * np.abs(feats).max())
    np.testing.assert_allclose(m.predict(net, x), probs, atol=1e-5)

    net = m.resnet18(_resnet18_params_mat(state, tmp_path / "resnet18Params.mat"))
    feats, probs = _torch_resnet18(state, x, FILE_STATS["Mean"], FILE_STATS["StandardDeviation"])
    np.testing.assert_allclose(m.activations(net, x, "pool5").reshape(512, 2).T, feats, rtol=1e-4,
                               atol=1e-4 * np.abs(feats).max())
    np.testing.assert_allclose(m.predict(net, x), probs, atol=1e-5)
    np.testing.assert_array_equal(net.Layers[0].Mean.reshape(-1), FILE_STATS["Mean"].astype(np.float32))


# ---------------------------------------------------------------------------------------------------------------
# googlenet: the model zoo's Caffe2 ONNX layout and MathWorks' parameters file, against onnxruntime

@pytest.fixture(scope="module")
def googlenet_zoo(tmp_path_factory):
    from onnx_graphs import googlenet_zoo_like

    path = tmp_path_factory.mktemp("googlenet") / "googlenet-12.onnx"
    return path, googlenet_zoo_like(path)


def _onnxruntime(path, x, mean_rgb):
    import onnxruntime as ort

    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    bgr = (x - np.asarray(mean_rgb, np.float32))[..., ::-1]  # the Caffe network's input: BGR, mean subtracted
    out = [sess.run(["prob_1", "pool5"], {"data_0": np.ascontiguousarray(b[None].transpose(0, 3, 1, 2))}) for b in bgr]
    return np.concatenate([o[1].reshape(1, -1) for o in out]), np.concatenate([o[0] for o in out])


def test_googlenet_with_the_zoo_onnx_file_and_mathworks_file_computes_googlenet(googlenet_zoo, tmp_path):
    path, arrays = googlenet_zoo
    x = np.random.default_rng(2).uniform(0, 255, (2, 224, 224, 3)).astype(np.float32)
    net = m.googlenet("Weights", str(path))
    assert isinstance(net, m.DAGNetwork) and net.pretrained
    assert m.analyzeNetwork(net).TotalLearnables == sum(a.size for a in arrays.values())
    feats, probs = _onnxruntime(path, x, [123, 117, 104])
    np.testing.assert_allclose(m.activations(net, x, "pool5-7x7_s1").reshape(1024, 2).T, feats, rtol=1e-4,
                               atol=1e-4 * np.abs(feats).max())
    np.testing.assert_allclose(m.predict(net, x), probs, rtol=1e-4, atol=1e-5)  # peaked: float32's last digits

    # the same weights as MathWorks' googlenetParams.mat holds them ('-' in a layer name written '_')
    params = {"data": {"Mean": np.array([120.0, 118.0, 101.0]).reshape(1, 1, 3)}, "prob": np.zeros((0, 0))}
    for key, a in arrays.items():
        layer, kind = key[:-4].replace("/", "_").replace("-", "_"), key[-3]
        entry = params.setdefault(layer, {})
        if layer == "loss3_classifier":
            entry["Weights" if kind == "w" else "Bias"] = a if kind == "w" else a.reshape(-1, 1)
        else:
            entry["Weights" if kind == "w" else "Bias"] = a.transpose(2, 3, 1, 0) if kind == "w" else a.reshape(1, 1, -1)
    params["conv1_7x7_s2"]["Weights"] = params["conv1_7x7_s2"]["Weights"][:, :, ::-1]  # MATLAB's take RGB
    mat = tmp_path / "googlenetParams.mat"
    scipy.io.savemat(mat, {"params": params}, long_field_names=True)
    net = m.googlenet(str(mat))
    feats, probs = _onnxruntime(path, x, [120, 118, 101])
    np.testing.assert_allclose(m.predict(net, x), probs, rtol=1e-4, atol=1e-5)


def test_googlenet_transfer_recipe_as_scripts_write_it(googlenet_zoo):
    """removeLayers(lgraph, {'loss3-classifier','prob','output'}), then new layers connected to
    'pool5-drop_7x7_s1' (the public scripts' lines): the pretrained convolutions travel into the new graph."""
    path, arrays = googlenet_zoo
    lgraph = m.layerGraph(m.googlenet(str(path)))
    lgraph = m.removeLayers(lgraph, ["loss3-classifier", "prob", "output"])
    lgraph = m.addLayers(lgraph, [m.fullyConnectedLayer(2, "Name", "fc", "WeightLearnRateFactor", 10),
                                  m.softmaxLayer("Name", "softmax"), m.classificationLayer("Name", "classoutput")])
    lgraph = m.connectLayers(lgraph, "pool5-drop_7x7_s1", "fc")
    assert len(lgraph.Layers) == 144 and lgraph.OutputNames == ["classoutput"]
    w = lgraph.Layers[[l.Name for l in lgraph.Layers].index("inception_4c-3x3")].Weights
    np.testing.assert_array_equal(w, arrays["inception_4c/3x3_w_0"].transpose(2, 3, 1, 0))


def test_resnet18_and_googlenet_weights_errors(tmp_path, googlenet_zoo):
    with pytest.raises(ModelFileError, match="does not download.*resnet18-f37072fd.pth"):
        m.resnet18("Weights", "imagenet")
    with pytest.raises(ModelFileError, match="does not exist.*googlenetParams.mat"):
        m.googlenet(str(tmp_path / "googlenet-12.onnx"))
    bad = tmp_path / "resnet18.h5"
    bad.write_bytes(b"not weights")
    with pytest.raises(ModelFileError, match="unsupported weights file for resnet18.*resnet18-f37072fd.pth"):
        m.resnet18(str(bad))
    path, _ = googlenet_zoo
    with pytest.raises(ModelFileError, match="unsupported weights file for resnet18"):
        m.resnet18(str(path))  # an ONNX file is googlenet's way, not resnet18's
    params = {"conv1": {"Weights": np.zeros((7, 7, 3, 64)), "Bias": np.zeros((1, 1, 64))}}
    scipy.io.savemat(tmp_path / "partial.mat", {"params": params})
    with pytest.raises(ModelFileError, match="is not resnet18's parameters file: it lacks resnet18's bn2a_branch2a"):
        m.resnet18(str(tmp_path / "partial.mat"))
    with pytest.raises(ModelFileError, match="is not googlenet's parameters file: it has layers googlenet does not "
                                             r"\(conv1\)"):
        m.googlenet(str(tmp_path / "partial.mat"))
    scipy.io.savemat(tmp_path / "noparams.mat", {"net": np.zeros(3)})
    with pytest.raises(ModelFileError, match="holds no struct 'params'"):
        m.resnet18(str(tmp_path / "noparams.mat"))
    v73 = tmp_path / "resnet18Params_v73.mat"  # MATLAB's -v7.3 files begin with this text header (HDF5 after it)
    v73.write_bytes(b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Mon Dec  7 12:00:00 2026 HDF5 schema 1.00 ."
                    + b" " * 400)
    with pytest.raises(ModelFileError, match=r"version 7.3 .* save\('resnet18Params_v73_v7.mat', '-struct', 's', "
                                             r"'-v7'\)"):
        m.resnet18(str(v73))
    with pytest.raises(AttributeError, match=r"`net = googlenet;` is `net = googlenet\(\)`"):
        m.googlenet.Layers  # noqa: B018
    with pytest.raises(ConfigError, match="weights given twice"):
        m.googlenet(str(path), "Weights", str(path))


@pytest.mark.slow
def test_googlenet_transfer_script_trains_with_its_first_layers_frozen(googlenet_zoo, tmp_path):
    """A public GoogLeNet script's recipe, trained (1 epoch, 8 cells resized by augmentedImageDatastore to
    224 x 224): removeLayers/addLayers/connectLayers, MathWorks' freezeWeights on layers(1:110) (through
    inception_4e-output), createLgraphUsingConnections; the frozen convolutions keep the file's weights, the new
    classifier and the unfrozen inception_5b layers learn, and the trained DAG (LRN, depth concatenation, Caffe
    pooling) classifies."""
    import re

    import cv2

    path, arrays = googlenet_zoo
    for c, name in enumerate(("blast", "normal")):
        (tmp_path / "cells" / name).mkdir(parents=True)
        for i in range(4):
            img = np.full((48, 48, 3), 40, np.uint8)
            cv2.circle(img, (24, 24), 10 + 6 * c, (200, 80 + 40 * i, 160), -1)
            cv2.imwrite(str(tmp_path / "cells" / name / f"{i}.png"), img)
    imds = m.imageDatastore(str(tmp_path / "cells"), "IncludeSubfolders", True, "LabelSource", "foldernames")
    lgraph = m.layerGraph(m.googlenet(str(path)))
    lgraph = m.removeLayers(lgraph, ["loss3-classifier", "prob", "output"])
    lgraph = m.addLayers(lgraph, [m.fullyConnectedLayer(2, "Name", "fc", "WeightLearnRateFactor", 10,
                                                        "BiasLearnRateFactor", 10),
                                  m.softmaxLayer("Name", "softmax"), m.classificationLayer("Name", "classoutput")])
    lgraph = m.connectLayers(lgraph, "pool5-drop_7x7_s1", "fc")
    layers, connections = lgraph.Layers, lgraph.Connections
    for layer in layers[0:110]:  # freezeWeights(layers(1:110))
        for prop in m.properties(layer):
            if re.search("LearnRateFactor$", prop):
                setattr(layer, prop, 0)
    assert layers[109].Name == "inception_4e-output"
    lgraph = m.layerGraph()  # createLgraphUsingConnections(layers, connections): one layer at a time, unconnected
    for layer in layers:
        lgraph = m.addLayers(lgraph, layer)
    for src, dst in zip(connections.Source, connections.Destination):
        lgraph = m.connectLayers(lgraph, src, dst)
    aug = m.augmentedImageDatastore([224, 224], imds)
    opts = m.trainingOptions("sgdm", "MiniBatchSize", 4, "MaxEpochs", 1, "InitialLearnRate", 1e-3, "Verbose", False)
    net = m.trainNetwork(aug, lgraph, opts)
    by = {l.Name: l for l in net.Layers}
    np.testing.assert_array_equal(by["inception_4e-3x3"].Weights,
                                  arrays["inception_4e/3x3_w_0"].transpose(2, 3, 1, 0))  # frozen
    assert not np.array_equal(by["inception_5b-3x3"].Weights, arrays["inception_5b/3x3_w_0"].transpose(2, 3, 1, 0))
    assert by["fc"].Weights.shape == (2, 1024)
    labels = m.classify(net, aug)
    assert len(labels) == 8 and set(m.categories(labels)) == {"blast", "normal"}
