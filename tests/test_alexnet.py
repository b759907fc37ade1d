"""AlexNet: MATLAB's layout, ONNX import checked against onnxruntime, the transfer-learning idiom, the recipe."""

import csv
import json
import subprocess
import sys

import numpy as np
import onnxruntime as ort
import pytest

from conftest import blob_image, write_image
from onnx_graphs import SIZE, alexnet_like
from leuknet.errors import ModelFileError


def test_alexnet_has_matlabs_25_layers_and_learnables():
    from leuknet import models
    from leuknet.matlab import Layers

    m = models.build("alexnet", num_classes=1000)
    assert models.learnables(m) == 60_965_224
    names = [l.Name for l in Layers(m)]
    assert names == ["data", "conv1", "relu1", "norm1", "pool1", "conv2", "relu2", "norm2", "pool2", "conv3",
                     "relu3", "conv4", "relu4", "conv5", "relu5", "pool5", "fc6", "relu6", "drop6", "fc7", "relu7",
                     "drop7", "fc8", "prob", "output"]
    assert Layers(m)[3].K == 1.0 and Layers(m)[5].NumGroups == 2


@pytest.mark.parametrize("order,input_name,with_mean", [("rgb", "data", True), ("bgr", "data_0", False)])
def test_onnx_import_matches_onnxruntime(tmp_path, order, input_name, with_mean):
    from leuknet.matlab.layers import network_layers
    from leuknet.weights.onnx_import import import_to_keras

    rng = np.random.default_rng(1)
    mean = rng.uniform(90, 130, (3, SIZE, SIZE)) if with_mean else None
    src = alexnet_like(tmp_path / "a.onnx", input_name, mean)
    model, info = import_to_keras(src, tmp_path / "a.keras")  # input order 'auto' from the input name
    assert info["input_order"] == order and info["alexnet_layout"]
    assert info["max_abs_difference_vs_onnxruntime"] < 1e-5
    layers = network_layers(model)
    assert layers[0].Normalization == ("zerocenter" if with_mean else "none")
    assert [l.Name for l in layers][:5] == ["data", "conv1", "relu1", "norm1", "pool1"]
    # independently: onnxruntime on the channel order the source expects vs Keras on RGB
    x = rng.uniform(0, 255, (3, SIZE, SIZE, 3)).astype(np.float32)
    src_x = x[..., ::-1] if order == "bgr" else x
    sess = ort.InferenceSession(str(src), providers=["CPUExecutionProvider"])
    ref = np.concatenate([sess.run(None, {input_name: np.ascontiguousarray(xi[None].transpose(0, 3, 1, 2))})[0]
                          for xi in src_x])
    np.testing.assert_allclose(model(x).numpy(), ref, atol=1e-5)
    # the wrong channel order gives a different network: the flip matters
    _, wrong = import_to_keras(src, None, "rgb" if order == "bgr" else "bgr", check=False)
    wrong_model, _ = import_to_keras(src, None, "rgb" if order == "bgr" else "bgr", check=False)
    assert np.abs(wrong_model(x).numpy() - ref).max() > 1e-4


def test_onnx_import_of_caffe_style_ceil_mode_and_padded_pooling(tmp_path):
    from leuknet.weights.onnx_import import import_to_keras

    # 96 x 96: conv1 -> 22; pool1 ceil mode -> 11 (floor would give 10); conv2 -> 11; pool2 pads (0, 0, 1, 1) and
    # ceil -> 6; conv3-5 -> 6; pool5 ceil -> 3: fc6 takes 3 x 3 x 16 = 144 (the geometry of converted Caffe models)
    src = alexnet_like(tmp_path / "c.onnx", "data_0", size=96, ceil_mode=True, fc_in=144)
    model, info = import_to_keras(src)
    assert info["max_abs_difference_vs_onnxruntime"] < 1e-5
    assert model.get_layer("pool1").output.shape[1] == 11 and model.get_layer("pool5").output.shape[1:3] == (3, 3)


def test_import_errors(tmp_path):
    from leuknet.weights import load_alexnet_layers
    from leuknet.weights.onnx_import import import_to_keras

    with pytest.raises(ModelFileError, match="ONNX model zoo"):
        load_alexnet_layers(tmp_path / "missing.onnx")
    (tmp_path / "bad.onnx").write_bytes(b"not onnx")
    with pytest.raises(ModelFileError, match="not a readable ONNX model"):
        import_to_keras(tmp_path / "bad.onnx")


def test_matlab_transfer_idiom_new_layers_move_factor_times_as_far(tmp_path):
    from leuknet.matlab import (alexnet, classificationLayer, fullyConnectedLayer, reluLayer, softmaxLayer,
                                trainingOptions, trainNetwork)
    from leuknet.weights.onnx_import import import_to_keras

    import_to_keras(alexnet_like(tmp_path / "a.onnx"), tmp_path / "a.keras")
    net = alexnet(Weights=tmp_path / "a.keras")
    base = net.Layers
    layers = base[:-3] + [fullyConnectedLayer(8, WeightLearnRateFactor=20, BiasLearnRateFactor=20), reluLayer(),
                          fullyConnectedLayer(2, WeightLearnRateFactor=20, BiasLearnRateFactor=20), softmaxLayer(),
                          classificationLayer()]
    rng = np.random.default_rng(0)
    X = rng.integers(0, 255, (4, SIZE, SIZE, 3)).astype(np.uint8)
    Y = np.array(["all", "hem", "all", "hem"])
    lr = 1e-4
    opts = trainingOptions("adam", InitialLearnRate=lr, MaxEpochs=1, MiniBatchSize=4, Verbose=False,
                           L2Regularization=0.0)
    trained = trainNetwork(X, Y, layers, opts)
    from leuknet.matlab import Layers

    after = {l.Name: l for l in Layers(trained)}
    moved_base = np.abs(after["fc7"].Weights - base[[l.Name for l in base].index("fc7")].Weights).max()
    moved_conv = np.abs(after["conv1"].Weights - base[1].Weights).max()
    new_names = [l.Name for l in Layers(trained) if l.Name.startswith("fc") and l.Name not in ("fc6", "fc7")]
    # Adam's first step is lr * g / (|g| + eps): the largest move is lr x the learn-rate factor
    assert moved_base == pytest.approx(lr, rel=1e-3) and moved_conv == pytest.approx(lr, rel=1e-3)
    init_new = np.abs(after[new_names[-1]].Weights).max()
    assert init_new > 0
    with pytest.warns(UserWarning, match="randomly initialised"):
        alexnet()


def test_transfer_idiom_step_sizes_new_layers(tmp_path):
    """Same idiom, measured on the new layers against their initial values."""
    import keras

    from leuknet.matlab import trainingOptions
    from leuknet.models.alexnet import transfer_layers
    from leuknet.matlab.layers import assemble
    from leuknet.train import Trainer
    from leuknet.weights import load_alexnet_layers
    from leuknet.weights.onnx_import import import_to_keras

    import_to_keras(alexnet_like(tmp_path / "a.onnx"), tmp_path / "a.keras")
    layers = transfer_layers(load_alexnet_layers(tmp_path / "a.keras"), 2, fc_units=8, factor=20.0)
    keras.utils.set_random_seed(0)
    model, _ = assemble(layers)
    before = {v.path: v.numpy().copy() for v in model.trainable_variables}
    t = Trainer(model, trainingOptions("adam", InitialLearnRate=1e-4, L2Regularization=0.0))
    x = np.random.default_rng(0).uniform(0, 255, (4, SIZE, SIZE, 3)).astype(np.float32)
    t.train_step(x, np.array([0, 1, 0, 1], np.int32), 1e-4)
    moved = {v.path: np.abs(v.numpy() - before[v.path]).max() for v in model.trainable_variables}
    assert moved["fc_new/kernel"] == pytest.approx(20e-4, rel=1e-3)
    assert moved["fc_out/kernel"] == pytest.approx(20e-4, rel=1e-3)
    assert moved["fc6/kernel"] == pytest.approx(1e-4, rel=1e-3)


def leuknet(*args):
    return subprocess.run([sys.executable, "-m", "leuknet.cli", *map(str, args)], capture_output=True, text=True)


@pytest.mark.slow
def test_cli_import_then_shafique_recipe_detection_and_subtypes(tmp_path):
    r = leuknet("weights", "import", alexnet_like(tmp_path / "a.onnx", "data_0"), "--out", tmp_path / "a.keras")
    assert r.returncode == 0, r.stderr
    assert "bgr" in r.stdout.lower() and (tmp_path / "a.keras").is_file()
    rng = np.random.default_rng(0)
    for i in range(12):  # ALL-IDB2 layout
        write_image(tmp_path / "idb" / "img" / f"Im{i:03d}_{i % 2}.tif", blob_image(i % 2, rng, 64))
    out = tmp_path / "run"
    r = leuknet("train", "--model", "alexnet", "--weights", tmp_path / "a.keras", "--recipe", "alexnet-shafique",
                "--data", tmp_path / "idb", "--image-size", SIZE, "--epochs", "2", "--batch-size", "4",
                "--fc-units", "8", "--device", "cpu", "--out", out, "--quiet")
    assert r.returncode == 0, r.stderr
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["model"]["pretrained_weights"] and cfg["config"]["augment"] == "rotate-mirror"
    # 60/40 of 6 cells a class at splitEachLabel's split point round(3.6) = 4: 8 train, 4 test
    assert cfg["splits"] == {"train": 8, "validation": 0, "test": 4}
    assert "fc_new" in cfg["model"]["layers"] and "fc8" not in cfg["model"]["layers"]
    m = json.loads((out / "metrics.json").read_text())
    assert set(m["per_class"]["blast"]) >= {"sensitivity", "specificity", "accuracy", "precision"}
    # subtypes from a CSV, from scratch
    rows = []
    for i in range(16):
        f = write_image(tmp_path / "sub" / f"c{i}.png", blob_image(i % 2, rng, 64))
        rows.append([f.name, ["L1", "L2", "L3", "normal"][i % 4]])
    with open(tmp_path / "sub" / "labels.csv", "w", newline="") as fh:
        csv.writer(fh).writerows([["file", "label"]] + rows)
    out2 = tmp_path / "sub_run"
    r = leuknet("train", "--model", "alexnet", "--weights", "none", "--labels", tmp_path / "sub" / "labels.csv",
                "--image-size", SIZE, "--epochs", "1", "--batch-size", "4", "--fc-units", "8", "--device", "cpu",
                "--out", out2, "--quiet")
    assert r.returncode == 0, r.stderr
    assert "randomly initialised" in r.stdout
    m = json.loads((out2 / "metrics.json").read_text())
    assert m["classes"] == ["L1", "L2", "L3", "normal"] and len(m["confusion_matrix"]) == 4
    r = leuknet("study", "fc-units", "--values", "8,4", "--weights", tmp_path / "a.keras", "--data",
                tmp_path / "idb", "--image-size", SIZE, "--epochs", "1", "--batch-size", "4", "--device", "cpu",
                "--out", tmp_path / "fc")
    assert r.returncode == 0, r.stderr
    table = (tmp_path / "fc" / "fc_units.md").read_text()
    assert "| 8 |" in table and "| 4 |" in table
    assert f"Written: {tmp_path / 'fc'}/fc_units.json, fc_units.md" in r.stdout
    # the report of the study: its table with each accuracy's interval, then each width's run
    from leuknet.report import build_report

    report = build_report([tmp_path / "fc"], tmp_path / "fc.md").read_text()
    assert "## Feature-vector length study: alexnet" in report and "### Run fc8" in report and "### Run fc4" in report
    assert "| feature vector (units) | accuracy % (95 % CI) |" in report


def test_onnx_weights_without_the_onnx_package_is_a_clear_error(tmp_path, monkeypatch):
    import sys

    from leuknet.errors import ConfigError
    from leuknet.weights.onnx_import import read_onnx

    monkeypatch.setitem(sys.modules, "onnx", None)  # as on an install without the test extra
    with pytest.raises(ConfigError, match="need the onnx package, which leuknet installs: pip install"):
        read_onnx(tmp_path / "alexnet.onnx")
