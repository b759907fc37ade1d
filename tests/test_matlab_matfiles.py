"""MATLAB's save/load of MAT-files: the files are version 5 MAT-files SciPy's own reader (and so MATLAB) reads,
files SciPy writes as MATLAB would are read back as structs, and leuknet's networks and categoricals round-trip."""

import numpy as np
import pytest
from scipy.io import loadmat, savemat

from leuknet.errors import ConfigError, DataError
from leuknet.matlab import (categorical, categories, classificationLayer, convolution2dLayer, fullyConnectedLayer,
                            imageInputLayer, load, predict, reluLayer, save, softmaxLayer, trainingOptions,
                            trainNetwork)


def test_save_then_load_round_trips_and_scipy_reads_the_numbers(tmp_path):
    layers = [imageInputLayer([8, 8, 3]), convolution2dLayer(3, 2), reluLayer, fullyConnectedLayer(2), softmaxLayer,
              classificationLayer]
    X = np.random.default_rng(0).integers(0, 255, (8, 8, 3, 6)).astype(np.uint8)
    YTest = categorical(["all", "hem", "all", "hem", "all", "hem"], ["hem", "all"])
    net = trainNetwork(X, YTest, layers, trainingOptions("sgdm", "MaxEpochs", 1, "Verbose", False))
    # save reads these from this frame, as MATLAB's does from the workspace
    accuracy, scores, names = 0.75, np.arange(6.0).reshape(2, 3), ["fold_0", "fold_1"]  # noqa: F841
    path = save(tmp_path / "trainedNet", "net", "accuracy", "YTest", "scores", "names")  # .mat added
    assert path.endswith("trainedNet.mat")
    S = load(tmp_path / "trainedNet.mat")
    assert list(S) == ["net", "accuracy", "YTest", "scores", "names"]
    np.testing.assert_allclose(predict(S.net, X), predict(net, X), rtol=1e-6)
    assert S.YTest.tolist() == YTest.tolist() and categories(S.YTest) == ["hem", "all"]
    assert S.accuracy == 0.75 and S.names == names
    np.testing.assert_array_equal(S.scores, scores)
    raw = loadmat(path)  # SciPy's reader, as MATLAB reads the file: the numbers and the text as they were
    np.testing.assert_array_equal(raw["scores"], scores)
    assert raw["accuracy"].item() == 0.75 and [str(v[0]) for v in raw["names"].ravel()] == names
    np.testing.assert_array_equal(raw["YTest"]["codes"][0, 0].ravel(), [2, 1, 2, 1, 2, 1])  # double(C)
    only = load(path, "accuracy")
    assert list(only) == ["accuracy"]


def test_load_reads_matlab_style_files_and_append(tmp_path):
    # as MATLAB writes them: a struct, a cell array of text, a char array, a matrix
    savemat(tmp_path / "m.mat", {"opts": {"MaxEpochs": 10.0, "Solver": "sgdm"}, "classes": np.array(["all", "hem"],
            dtype=object), "title": "run 1", "W": np.eye(3)})
    S = load(tmp_path / "m.mat")
    assert S.opts.MaxEpochs == 10 and S.opts.Solver == "sgdm" and S.classes == ["all", "hem"]
    assert S.title == "run 1" and S.W.shape == (3, 3)

    def inside_a_function():
        lr = 1e-4  # noqa: F841 (save reads it from this frame)
        save(tmp_path / "m.mat", "lr", "-append")

    inside_a_function()
    again = load(tmp_path / "m.mat")
    assert again.lr == 1e-4 and again.title == "run 1"


def test_save_and_load_errors_are_one_line(tmp_path):
    with pytest.raises(ConfigError, match="no variable named 'nothing_here'"):
        save(tmp_path / "x.mat", "nothing_here")
    with pytest.raises(ConfigError, match="name the variables"):
        save(tmp_path / "x.mat")
    with pytest.raises(DataError, match="cannot find"):
        load(tmp_path / "absent.mat")
    v73 = tmp_path / "v73.mat"  # a version 7.3 (HDF5) MAT-file's header: text, then version 0x0200
    v73.write_bytes(b"MATLAB 7.3 MAT-file".ljust(124, b" ") + b"\x00\x02IM" + b"\x00" * 512)
    with pytest.raises(DataError, match="7.3"):
        load(v73)
    savemat(tmp_path / "y.mat", {"a": 1.0})
    with pytest.raises(DataError, match="has no variable 'b'"):
        load(tmp_path / "y.mat", "b")


def test_layer_arrays_and_layer_graphs_round_trip(tmp_path):
    """`save covidnet.mat trainedNet lgraph` (a public ResNet-18 script's line): a layer graph and a layer array
    (with a bare reluLayer, weights and classes) come back with their properties and connections; SciPy (and so
    MATLAB) reads the weights as numbers."""
    from leuknet.matlab import googlenet, layerGraph

    lgraph = layerGraph(googlenet("Weights", "none"))
    w = np.arange(3 * 3 * 3 * 4, dtype=np.float32).reshape(3, 3, 3, 4)
    layers = [  # noqa: F841 (save reads it by name)
        imageInputLayer([8, 8, 3]), convolution2dLayer(3, 4, "Name", "c", "Weights", w, "Padding", [0, 1, 0, 1]),
        reluLayer, fullyConnectedLayer(2, "WeightLearnRateFactor", 10), softmaxLayer,
        classificationLayer("Classes", categorical(["hem", "all"]))]
    path = save(tmp_path / "graph", "lgraph", "layers")
    back = load(path)
    assert [l.Name for l in back.lgraph.Layers] == [l.Name for l in lgraph.Layers]
    assert list(back.lgraph.Connections.Destination) == list(lgraph.Connections.Destination)
    pool = back.lgraph.Layers[3]
    assert pool.Name == "pool1-3x3_s2" and tuple(pool.Padding) == (0, 1, 0, 1) and tuple(pool.PoolSize) == (3, 3)
    got = back.layers
    assert len(got) == 6 and type(got[2]).__name__ == "ReLULayer"
    np.testing.assert_array_equal(got[1].Weights, w)
    assert got[3].WeightLearnRateFactor == 10 and list(categories(got[5].Classes)) == ["all", "hem"]
    raw = loadmat(path)["layers"][0, 0]
    np.testing.assert_array_equal(raw["arrays"][0, 0]["a0"], w)  # the numbers, readable without leuknet
