"""vgg16, vgg19 and resnet50 as MATLAB builds them, with Keras Applications' weights files.

References, none derived from leuknet: the layer listing of MATLAB's ``resnet50`` (its first layers and the index
of ``avg_pool``, 174, that scripts freeze up to with ``layers(1:174)``), MathWorks' pages (vgg16: 41 layers,
vgg19: 47, resnet50: 177; input 224 x 224 x 3; ``'Weights','none'``), the parameter count of Keras
Applications' ResNet50 (25,583,592 trainable), and Keras Applications'
own networks run on Keras's ``preprocess_input`` ('caffe': RGB to BGR, ImageNet mean subtracted) as the reference
for every output.
"""

from __future__ import annotations

import warnings

import h5py
import keras
import numpy as np
import pytest

import leuknet.matlab as m
from leuknet.errors import ConfigError, ModelFileError
from leuknet.spec.layers import assemble
from leuknet.spec.pretrained import vgg_layers
from leuknet.weights.keras_applications import load_weights

MATLAB_RESNET50_FIRST = ["input_1", "conv1", "bn_conv1", "activation_1_relu", "max_pooling2d_1", "res2a_branch2a",
                         "bn2a_branch2a", "activation_2_relu", "res2a_branch2b", "bn2a_branch2b",
                         "activation_3_relu", "res2a_branch2c", "res2a_branch1", "bn2a_branch2c", "bn2a_branch1",
                         "add_1", "activation_4_relu", "res2b_branch2a"]


def _legacy_h5(model, path):
    """The file format Keras Applications publishes (Keras 2's HDF5 weights), written by Keras itself."""
    from keras.src.legacy.saving import legacy_h5_format

    with h5py.File(path, "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, model)
    return str(path)


def _random_batchnorm(model):
    """Batch-normalisation statistics away from 0/1, so a swapped mean/variance or scale/offset shows; epsilon as
    MATLAB's resnet50 (0.001; Keras's application uses 1.001e-5)."""
    rng = np.random.default_rng(7)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            c = int(layer.gamma.shape[0])
            layer.set_weights([rng.uniform(0.5, 1.5, c), rng.normal(0, 0.1, c), rng.normal(0, 0.1, c),
                               rng.uniform(0.5, 2.0, c)])
            layer.epsilon = 1e-3


def _keras_outputs(model, names, x):
    sub = keras.Model(model.input, [model.get_layer(n).output for n in names])
    return sub.predict(keras.applications.imagenet_utils.preprocess_input(x.copy(), mode="caffe"), verbose=0)


@pytest.fixture(scope="module")
def resnet_files(tmp_path_factory):
    keras.utils.set_random_seed(3)
    ref = keras.applications.ResNet50(weights=None, include_top=True)
    _random_batchnorm(ref)
    d = tmp_path_factory.mktemp("resnet50")
    full = _legacy_h5(ref, d / "resnet50_weights_tf_dim_ordering_tf_kernels.h5")
    notop = keras.Model(ref.input, ref.get_layer("conv5_block3_out").output)
    return ref, full, _legacy_h5(notop, d / "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5")


def test_resnet50_untrained_graph_is_matlabs():
    lgraph = m.resnet50("Weights", "none")
    assert isinstance(lgraph, m.LayerGraph)
    names = [l.Name for l in lgraph.Layers]
    assert len(names) == 177 and names[:18] == MATLAB_RESNET50_FIRST
    assert names.index("avg_pool") + 1 == 174
    assert names[-3:] == ["fc1000", "fc1000_softmax", "ClassificationLayer_fc1000"]
    assert lgraph.InputNames == ["input_1"] and lgraph.OutputNames == ["ClassificationLayer_fc1000"]
    conns = list(zip(lgraph.Connections.Source, lgraph.Connections.Destination))
    assert ("bn2a_branch2c", "add_1/in1") in conns and ("bn2a_branch1", "add_1/in2") in conns
    assert ("activation_4_relu", "add_2/in2") in conns  # an identity shortcut
    assert m.analyzeNetwork(lgraph).TotalLearnables == 25_583_592  # Keras's ResNet50 trainable parameters
    conv = lgraph.Layers[names.index("res3a_branch2a")]
    assert tuple(conv.Stride) == (2, 2) and conv.BiasLearnRateFactor == 0
    assert lgraph.Layers[names.index("bn_conv1")].Epsilon == 0.001


def test_vgg_untrained_layers_are_matlabs():
    for fn, n in ((m.vgg16, 41), (m.vgg19, 47)):
        layers = fn("Weights", "NONE")  # MATLAB's option values in any case
        names = [l.Name for l in layers]
        assert len(layers) == n and names[0] == "input" and names[-3:] == ["fc8", "prob", "output"]
        assert names[-9:-3] == ["fc6", "relu6", "drop6", "fc7", "relu7", "drop7"]
        assert tuple(layers[0].InputSize) == (224, 224, 3)
    assert [l.Name for l in m.vgg19("Weights", "none")][27:31] == ["relu4_4", "pool4", "conv5_1", "relu5_1"]


def test_resnet50_with_keras_weights_computes_kerass_network(resnet_files):
    ref, full, _ = resnet_files
    net = m.resnet50(full)
    assert isinstance(net, m.DAGNetwork) and net.pretrained
    x = np.random.default_rng(1).uniform(0, 255, (2, 224, 224, 3)).astype(np.float32)
    feats, probs = _keras_outputs(ref, ["conv5_block3_out", "predictions"], x)
    got = np.transpose(m.activations(net, x, "activation_49_relu"), (3, 0, 1, 2))  # MATLAB's H x W x C x N
    np.testing.assert_allclose(got, feats, rtol=1e-4, atol=1e-4 * np.abs(feats).max())
    np.testing.assert_allclose(m.predict(net, x), probs, atol=1e-5)


def test_resnet50_notop_file_and_transfer_recipe(resnet_files, tmp_path):
    """MathWorks' recipe as scripts write it: replaceLayer on 'fc1000' and 'ClassificationLayer_fc1000' of
    layerGraph(net); a _notop file leaves only fc1000 (which the recipe replaces) without weights, with a warning.
    (Training such a graph is test_matlab_workflow's; here: the pretrained weights travel into it.)"""
    ref, _, notop = resnet_files
    with pytest.warns(UserWarning, match="no weights for fc1000") as caught:
        net = m.resnet50("Weights", notop)
    assert caught[0].filename == __file__  # the warning points at the script's line
    saved = tmp_path / "resnet50_notop.keras"  # a Keras 3 model file of the application, without its top
    keras.Model(ref.input, ref.get_layer("conv5_block3_out").output).save(saved)
    with pytest.warns(UserWarning, match="no weights for fc1000"):
        from_keras = m.resnet50(str(saved))
    np.testing.assert_array_equal(from_keras.Layers[1].Weights, net.Layers[1].Weights)
    lgraph = m.layerGraph(net)
    lgraph = m.replaceLayer(lgraph, "fc1000", m.fullyConnectedLayer(2, "Name", "new_fc",
                                                                     "WeightLearnRateFactor", 10))
    lgraph = m.replaceLayer(lgraph, "ClassificationLayer_fc1000", m.classificationLayer("Name", "new_classoutput"))
    layers = lgraph.Layers
    assert [l.Name for l in layers][-3:] == ["new_fc", "fc1000_softmax", "new_classoutput"]
    assert ("avg_pool", "new_fc") in zip(lgraph.Connections.Source, lgraph.Connections.Destination)
    conv1 = net.Layers[1]
    np.testing.assert_array_equal(layers[1].Weights, conv1.Weights)  # the pretrained weights travel
    assert conv1.Weights.shape == (7, 7, 3, 64) and layers[1].BiasLearnRateFactor == 0


def test_vgg_weights_keep_kerass_flattening(tmp_path):
    """fc6 after pool5: Keras flattens H x W x C row-major, MATLAB column-major; at 64 x 64 pool5 is 2 x 2 x 512,
    so a wrong order shows (MATLAB's vgg19 is 224 x 224; the layout is the same)."""
    keras.utils.set_random_seed(4)
    ref = keras.applications.VGG19(weights=None, include_top=True, input_shape=(64, 64, 3))
    path = tmp_path / "vgg19.weights.h5"
    ref.save_weights(path)
    layers = vgg_layers(19, image_size=64)
    assert load_weights("vgg19", path, layers, image_size=64) == []
    net = m.SeriesNetwork(assemble(layers, name="vgg19")[0])
    x = np.random.default_rng(5).uniform(0, 255, (2, 64, 64, 3)).astype(np.float32)
    fc2, probs = _keras_outputs(ref, ["fc2", "predictions"], x)
    np.testing.assert_allclose(m.activations(net, x, "relu7", "OutputAs", "rows"), fc2, rtol=1e-4,
                               atol=1e-4 * np.abs(fc2).max())
    np.testing.assert_allclose(m.predict(net, x), probs, atol=1e-6)


def test_pretrained_weights_errors(tmp_path, resnet_files):
    _, full, _ = resnet_files
    with pytest.raises(ModelFileError, match="does not download.*vgg16_weights_tf_dim_ordering_tf_kernels.h5"):
        m.vgg16("Weights", "imagenet")
    with pytest.raises(ModelFileError, match="does not exist"):
        m.resnet50("Weights", str(tmp_path / "missing.h5"))
    bad = tmp_path / "resnet50.onnx"
    bad.write_bytes(b"not a model")
    with pytest.raises(ModelFileError, match="unsupported weights file"):
        m.resnet50(str(bad))
    with pytest.raises(ModelFileError, match="cannot load .* into keras.applications.VGG16"):
        m.vgg16(full)  # ResNet-50's file is not VGG-16's
    vgg19 = tmp_path / "vgg19_notop.keras"  # VGG-19 has every VGG-16 layer name: refused, not loaded by name
    keras.applications.VGG19(weights=None, include_top=False, input_shape=(32, 32, 3)).save(vgg19)
    with pytest.raises(ModelFileError, match="is not vgg16's weights file: it has layers vgg16 does not "
                                             r"\(block3_conv4"):
        m.vgg16(str(vgg19))
    with pytest.raises(ConfigError, match="weights given twice"):
        m.resnet50(full, "Weights", full)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(UserWarning, match="randomly initialised"):
            m.vgg16()
    with pytest.raises(AttributeError, match=r"`net = resnet50;` is `net = resnet50\(\)`"):
        m.resnet50.Layers  # noqa: B018
    with pytest.raises(ConfigError, match=r"resnet50 is a function, not a network: MATLAB's layerGraph\(resnet50\)"):
        m.layerGraph(m.resnet50)


def test_mobilenetv2_is_matlabs_graph_and_computes_kerass_network(tmp_path):
    """MATLAB's mobilenetv2 (imported from Keras): 154 layers, the Designer export's connections (block_2_add/in1
    from block_2_project_BN, in2 from block_1_project_BN), the head scripts replace ('Logits',
    'ClassificationLayer_Logits'); with a Keras Applications file, Keras's MobileNetV2 on its preprocess_input
    ('tf': x / 127.5 - 1), depthwise layers as groupedConvolution2dLayer(3, 1, C)."""
    lgraph = m.mobilenetv2("Weights", "none")
    names = [l.Name for l in lgraph.Layers]
    assert len(names) == 154 and len(lgraph.Connections) == 163
    assert names[:5] == ["input_1", "Conv1", "bn_Conv1", "Conv1_relu", "expanded_conv_depthwise"]
    assert names[-4:] == ["global_average_pooling2d_1", "Logits", "Logits_softmax", "ClassificationLayer_Logits"]
    conns = list(zip(lgraph.Connections.Source, lgraph.Connections.Destination))
    assert ("block_2_project_BN", "block_2_add/in1") in conns and ("block_1_project_BN", "block_2_add/in2") in conns
    dw = lgraph.Layers[names.index("block_1_depthwise")]
    assert dw.NumGroups == 96 and dw.NumFilters == 1 and tuple(dw.Stride) == (2, 2)
    keras.utils.set_random_seed(6)
    ref = keras.applications.MobileNetV2(weights=None, include_top=True)
    _random_batchnorm(ref)
    net = m.mobilenetv2(_legacy_h5(ref, tmp_path / "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224.h5"))
    assert isinstance(net, m.DAGNetwork) and [l.Name for l in net.Layers] == names
    x = np.random.default_rng(8).uniform(0, 255, (2, 224, 224, 3)).astype(np.float32)
    sub = keras.Model(ref.input, [ref.get_layer("out_relu").output, ref.output])
    feats, probs = sub.predict(keras.applications.imagenet_utils.preprocess_input(x.copy(), mode="tf"), verbose=0)
    got = np.transpose(m.activations(net, x, "out_relu"), (3, 0, 1, 2))
    np.testing.assert_allclose(got, feats, rtol=1e-4, atol=1e-4 * np.abs(feats).max())
    np.testing.assert_allclose(m.predict(net, x), probs, atol=1e-5)
    lgraph = m.replaceLayer(m.layerGraph(net), "Logits", m.fullyConnectedLayer(2, "Name", "new_fc"))
    assert [l.Name for l in lgraph.Layers][-3:] == ["new_fc", "Logits_softmax", "ClassificationLayer_Logits"]
