"""inceptionv3 as MATLAB builds it, with Keras Applications' weights.

References, none derived from leuknet: ``inceptionv3`` as Deep Network Designer exports it as code (a public
script: names, sizes, paddings, connectLayers lines) and Keras's own ``keras.applications.InceptionV3`` (its
parameter counts, and its forward pass on the same weights).
"""

from __future__ import annotations

import numpy as np
import pytest

import leuknet.matlab as m
from leuknet.errors import ModelFileError

# connectLayers lines of the export
EXPORT_CONNECT = [("max_pooling2d_2", "conv2d_9"), ("max_pooling2d_2", "average_pooling2d_1"),
                  ("activation_6_relu", "mixed0/in1"), ("activation_8_relu", "mixed0/in2"),
                  ("activation_11_relu", "mixed0/in3"), ("activation_12_relu", "mixed0/in4"),
                  ("activation_27_relu", "mixed3/in1"), ("max_pooling2d_3", "mixed3/in3"),
                  ("activation_34_relu", "mixed4/in2"), ("activation_39_relu", "mixed4/in3"),
                  ("activation_72_relu", "mixed8/in1"), ("activation_76_relu", "mixed8/in2"),
                  ("activation_78_relu", "conv2d_80"), ("activation_83_relu", "concatenate_1/in1"),
                  ("mixed9_0", "mixed9/in2"), ("concatenate_1", "mixed9/in3"), ("activation_85_relu", "mixed9/in4"),
                  ("activation_92_relu", "concatenate_2/in1"), ("activation_94_relu", "mixed10/in4")]


@pytest.fixture(scope="module")
def keras_inception(tmp_path_factory):
    """Keras's InceptionV3 with its batch statistics moved away from 0 / 1, saved as a .weights.h5."""
    import keras

    app = keras.applications.InceptionV3(weights=None)
    rng = np.random.default_rng(0)
    for layer in app.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            beta, mean, var = layer.get_weights()
            layer.set_weights([rng.normal(0, 0.1, beta.shape), rng.normal(0, 0.1, mean.shape),
                               rng.uniform(0.5, 2.0, var.shape)])
    path = tmp_path_factory.mktemp("inception") / "inception_v3.weights.h5"
    app.save_weights(path)
    return app, path


def test_inceptionv3_untrained_graph_is_matlabs(keras_inception):
    import keras

    lgraph = m.inceptionv3("Weights", "none")
    names = [l.Name for l in lgraph.Layers]
    assert len(names) == 315
    assert names[:4] == ["input_1", "conv2d_1", "batch_normalization_1", "activation_1_relu"]
    assert names[-5:] == ["mixed10", "avg_pool", "predictions", "predictions_softmax",
                          "ClassificationLayer_predictions"]
    assert set(EXPORT_CONNECT) <= set(zip(lgraph.Connections.Source, lgraph.Connections.Destination))
    by = dict(zip(names, lgraph.Layers))
    assert by["input_1"].Normalization == "rescale-symmetric" and tuple(by["input_1"].InputSize) == (299, 299, 3)
    assert tuple(by["conv2d_1"].Stride) == (2, 2) and tuple(by["conv2d_1"].Padding) == (0, 0, 0, 0)
    assert tuple(by["conv2d_36"].FilterSize) == (7, 1) and tuple(by["conv2d_33"].FilterSize) == (1, 7)
    assert by["conv2d_94"].BiasLearnRateFactor == 0 and by["batch_normalization_94"].Epsilon == 0.001
    pool = by["average_pooling2d_9"]
    assert tuple(pool.Stride) == (1, 1) and pool.Padding == "same" and pool.PaddingValue == 0  # as exported
    # MATLAB's learnables: Keras's trainable parameters plus the batch normalisations' Scale (Keras builds them
    # without one) and the convolutions' zero Bias, one of each per channel of every unit
    app, _ = keras_inception
    trainable = sum(int(np.prod(w.shape)) for w in app.trainable_weights)
    channels = sum(l.get_weights()[0].shape[0] for l in app.layers if isinstance(l, keras.layers.BatchNormalization))
    assert m.analyzeNetwork(lgraph).TotalLearnables == trainable + 2 * channels


def test_inceptionv3_with_keras_weights_computes_keras_inceptionv3(keras_inception):
    import keras

    from leuknet.matlab.layers import assemble
    from leuknet.matlab.network import _load_weights
    from leuknet.spec.pretrained import inceptionv3_graph

    app, path = keras_inception
    x = np.random.default_rng(1).uniform(0, 255, (2, 299, 299, 3)).astype(np.float32)
    ref_features = np.asarray(keras.Model(app.input, app.get_layer("avg_pool").output)(x / 127.5 - 1))
    ref_probs = np.asarray(app(x / 127.5 - 1))

    net = m.inceptionv3("Weights", str(path))
    assert isinstance(net, m.DAGNetwork) and net.pretrained
    # MATLAB's average poolings count the padded zeros (PaddingValue 0), Keras's leave them out: with 'mean'
    # padding, the file's weights in MATLAB's layout are Keras's network exactly
    graph = inceptionv3_graph()
    for layer in graph._layers:
        if type(layer).__name__ == "AveragePooling2DLayer":
            layer.PaddingValue = "mean"
    _load_weights("inceptionv3", path, graph._layers)
    same = m.DAGNetwork(assemble(graph)[0])
    got = m.activations(same, x, "avg_pool").reshape(2048, 2).T
    np.testing.assert_allclose(got, ref_features, rtol=1e-4, atol=1e-5 * np.abs(ref_features).max())
    np.testing.assert_allclose(m.predict(same, x), ref_probs, atol=1e-7)
    # MATLAB's own layout differs from Keras only through those border averages
    np.testing.assert_allclose(m.predict(net, x).sum(1), 1, atol=1e-5)
    with pytest.raises(ModelFileError, match="inception_v3_weights_tf_dim_ordering_tf_kernels.h5"):
        m.inceptionv3(str(path.with_name("missing.h5")))
