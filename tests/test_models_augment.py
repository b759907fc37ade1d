"""Every registered model trains a step; augmentation; the exponential schedule; Grad-CAM; the offline
augmenter."""

import csv
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import blob_image, write_image
from leuknet import models
from leuknet.augment import AugmentConfig, augment_image, gaussian_blur, mirror, rotate, salt_and_pepper, shear

SMALL = {"leuknet": dict(image_size=48, fc_units=8), "alexnet": dict(image_size=67, fc_units=8),
         "xception": dict(image_size=72)}


@pytest.mark.parametrize("name", models.list_models())
def test_every_registered_model_builds_and_trains_one_step(name):
    from leuknet.matlab import trainingOptions
    from leuknet.train import Trainer

    kw = dict(SMALL.get(name, dict(image_size=32)))
    m = models.build(name, num_classes=3, classes=["a", "b", "c"], **kw)
    size = m.input.shape[1]
    x = np.random.default_rng(0).uniform(0, 255, (2, size, size, 3)).astype(np.float32)
    before = [v.numpy().copy() for v in m.trainable_variables]
    loss, _ = Trainer(m, trainingOptions("adam", InitialLearnRate=1e-3)).train_step(x, np.array([0, 2], np.int32),
                                                                                    1e-3)
    assert np.isfinite(float(loss)) and m.output.shape[-1] == 3
    assert any(not np.array_equal(b, v.numpy()) for b, v in zip(before, m.trainable_variables))
    info = models.model_info(name)
    assert info["paper"] and info["default_recipe"]


def test_application_weights_are_never_downloaded(tmp_path):
    from leuknet.errors import ModelFileError

    with pytest.raises(ModelFileError, match="never downloads"):
        models.build("vgg16", 2, image_size=32, weights=tmp_path / "missing.h5")
    m = models.build("resnet50", 2, image_size=32)
    backbone_weights = tmp_path / "resnet_notop.weights.h5"
    import keras

    app = keras.applications.ResNet50(include_top=False, weights=None, input_shape=(32, 32, 3))
    app.save_weights(backbone_weights)
    m2 = models.build("resnet50", 2, image_size=32, weights=backbone_weights)
    assert m2.get_layer("conv1_conv").kernel.numpy() == pytest.approx(app.get_layer("conv1_conv").kernel.numpy())
    assert m is not None


def test_augmentations_are_deterministic_and_do_what_they_say():
    rng = np.random.default_rng(0)
    img = rng.integers(20, 230, (60, 50, 3)).astype(np.uint8)
    a1, ops1 = augment_image(img, 7)
    a2, ops2 = augment_image(img, 7)
    b, _ = augment_image(img, 8)
    assert np.array_equal(a1, a2) and ops1 == ops2 and not np.array_equal(a1, b)
    assert a1.shape == img.shape and a1.dtype == np.uint8
    assert np.array_equal(mirror(img, True), img[:, ::-1]) and np.array_equal(mirror(img, False), img[::-1])
    assert np.array_equal(rotate(img, 0), img)
    for out in (rotate(img, 33), shear(img, 0.3), gaussian_blur(img, 17)):
        assert out.shape == img.shape and out.dtype == np.uint8
    grey = np.full((100, 100, 3), 128, np.uint8)
    sp = salt_and_pepper(grey, 0.05, np.random.default_rng(1))
    changed = np.mean(np.any(sp != grey, axis=-1))
    assert changed == pytest.approx(0.05, abs=1e-3)
    assert set(np.unique(sp[np.any(sp != grey, axis=-1)])) <= {0, 255}
    blurred = gaussian_blur(grey.copy(), 17)
    assert np.array_equal(blurred, grey)  # a flat image stays flat
    assert AugmentConfig().blur_kernel == 17 and AugmentConfig().shear == 0.3


def test_exponential_schedule_values():
    from leuknet.matlab import trainingOptions

    o = trainingOptions("adam", InitialLearnRate=1e-5, FinalLearnRate=1e-6, LearnRateSchedule="exponential",
                        MaxEpochs=400)
    assert o.learn_rate(1) == pytest.approx(1e-5) and o.learn_rate(400) == pytest.approx(1e-6)
    assert o.learn_rate(200) == pytest.approx(1e-5 * 0.1 ** (199 / 399))
    rates = [o.learn_rate(e) for e in range(1, 401)]
    ratios = np.array(rates[1:]) / np.array(rates[:-1])
    assert np.allclose(ratios, ratios[0])  # geometric


def _blob_task(n, rng, size=32):
    x = rng.integers(0, 60, (n, size, size, 3)).astype(np.uint8)
    y = rng.integers(0, 2, n)
    where = []
    for i in range(n):
        r, c = rng.integers(2, size - 10, 2)
        where.append((r, c))
        if y[i]:
            x[i, r : r + 8, c : c + 8] = 230
    return x, y, where


def test_grad_cam_peaks_on_the_discriminative_blob():
    import keras

    from leuknet.explain import grad_cam
    from leuknet.matlab import (classificationLayer, convolution2dLayer, fullyConnectedLayer, imageInputLayer,
                                maxPooling2dLayer, reluLayer, softmaxLayer, trainingOptions, trainNetwork)

    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x, y, _ = _blob_task(300, rng)
    layers = [imageInputLayer([32, 32, 3]), convolution2dLayer(3, 8, Padding="same"), reluLayer(),
              convolution2dLayer(3, 8, Padding="same"), reluLayer(), maxPooling2dLayer(2, Stride=2),
              fullyConnectedLayer(2), softmaxLayer(), classificationLayer()]
    net, info = trainNetwork(x, y, layers, trainingOptions("adam", InitialLearnRate=3e-3, MaxEpochs=6,
                                                           MiniBatchSize=32, Verbose=False), nargout=2, seed=0)
    assert info["TrainingAccuracy"][-3:].mean() > 90
    xt, yt, where = _blob_task(40, np.random.default_rng(5))
    pos = np.flatnonzero(yt == 1)[:10]
    cam, idx, layer = grad_cam(net.model, xt[pos].astype(np.float32), class_index=1)
    assert layer == "relu_2" and cam.shape[1:] == (32, 32)
    hits = 0
    for k, i in enumerate(pos):
        r, c = np.unravel_index(np.argmax(cam[k]), cam[k].shape)
        br, bc = where[i]
        hits += (br - 2 <= r <= br + 9) and (bc - 2 <= c <= bc + 9)
    assert hits >= 0.8 * len(pos), hits


def test_offline_augmenter_balances_and_leaves_the_source_alone(tmp_path):
    from leuknet.data.augmented_copy import write_augmented_copy
    from leuknet.data.sources import discover

    rng = np.random.default_rng(0)
    for c, n in (("blast", 5), ("normal", 2)):
        for i in range(n):
            write_image(tmp_path / "src" / c / f"{i}.png", blob_image(c == "normal", rng, 24))
    before = sorted(p.name for p in (tmp_path / "src").rglob("*"))
    out, skipped = write_augmented_copy(discover(tmp_path / "src"), 6, tmp_path / "aug", seed=3)
    assert skipped == [] and not (out / "skipped.csv").exists()
    rows = list(csv.DictReader(open(out / "manifest.csv")))
    assert len(rows) == 12
    assert {c: sum(r["class"] == c for r in rows) for c in ("blast", "normal")} == {"blast": 6, "normal": 6}
    assert sum(r["ops"] == "" for r in rows if r["class"] == "normal") == 2  # originals copied as they are
    assert all((out / r["file"]).is_file() for r in rows)
    assert sorted(p.name for p in (tmp_path / "src").rglob("*")) == before


def test_augment_cli_skips_unreadable_files_and_an_error_leaves_nothing(tmp_path, monkeypatch):
    """An unreadable source file is left out and listed with its reason (skipped.csv, as train lists them);
    a class with no readable file is one line, exit 2, with no copy and no .partial left behind."""
    from conftest import run_cli

    rng = np.random.default_rng(0)
    for c, n in (("blast", 3), ("normal", 3)):
        for i in range(n):
            write_image(tmp_path / "src" / c / f"{i}.png", blob_image(c == "normal", rng, 24))
    (tmp_path / "src" / "blast" / "broken.png").write_bytes(b"not a png")
    code, output = run_cli(["augment", "--data", tmp_path / "src", "--per-class", "5", "--out", tmp_path / "aug"])
    assert code == 0, output
    assert "Skipped 1 unreadable file" in output and "broken.png: not an image" in output
    rows = list(csv.DictReader(open(tmp_path / "aug" / "manifest.csv")))
    assert len(rows) == 10 and not any("broken" in r["source"] for r in rows)
    assert [r["file"] for r in csv.DictReader(open(tmp_path / "aug" / "skipped.csv"))] == [
        str(tmp_path / "src" / "blast" / "broken.png")]
    # a file that cannot be opened (permissions: simulated, as root opens any file) is skipped the same way
    import leuknet.data.pipeline as pipeline

    real, blocked = pipeline._decode_full, tmp_path / "src" / "normal" / "0.png"

    def decode(path, *a, **k):  # what the check decodes each file with
        if Path(path) == blocked:
            raise PermissionError(13, "Permission denied", str(path))
        return real(path, *a, **k)

    monkeypatch.setattr(pipeline, "_decode_full", decode)
    (tmp_path / "here").mkdir()
    monkeypatch.chdir(tmp_path / "here")
    code, output = run_cli(["augment", "--data", tmp_path / "src", "--per-class", "5", "--out", "."])
    assert code == 0 and "Skipped 2 unreadable files" in output, output  # '.': an empty folder, written in place
    assert len(list((tmp_path / "here" / "normal").glob("*.png"))) == 5
    assert str(blocked) in (tmp_path / "here" / "skipped.csv").read_text()
    assert Path.cwd().exists() and (Path.cwd() / "manifest.csv").is_file()  # the folder kept, not replaced
    monkeypatch.undo()
    for f in (tmp_path / "src" / "normal").iterdir():
        f.write_bytes(b"")
    code, output = run_cli(["augment", "--data", tmp_path / "src", "--per-class", "5", "--out", tmp_path / "aug2"])
    assert code == 2 and "no readable image in class normal" in output, output
    assert not (tmp_path / "aug2").exists() and not (tmp_path / "aug2.partial").exists()


@pytest.mark.slow
def test_explain_cli_writes_heatmaps(tmp_path):
    rng = np.random.default_rng(0)
    for c in (0, 1):
        for i in range(8):
            write_image(tmp_path / "cells" / ("blast" if c == 0 else "normal") / f"{i}.png", blob_image(c, rng, 40))
    run = tmp_path / "run"
    r = subprocess.run([sys.executable, "-m", "leuknet.cli", "train", "--data", tmp_path / "cells", "--image-size",
                        "48", "--epochs", "1", "--batch-size", "4", "--fc-units", "8", "--split", "0.5,0.25,0.25",
                        "--device", "cpu", "--out", run, "--quiet"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    r = subprocess.run([sys.executable, "-m", "leuknet.cli", "explain", "--model-file", run / "model.keras",
                        tmp_path / "cells" / "blast", "--class", "normal", "--out", tmp_path / "cam"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    pngs = sorted((tmp_path / "cam").glob("*_gradcam.png"))
    assert len(pngs) == 8 and pngs[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow
def test_oliveira_recipe_end_to_end_on_real_cnmc_layout(tmp_path, cnmc_mini):
    import json

    out = tmp_path / "vgg"
    r = subprocess.run([sys.executable, "-m", "leuknet.cli", "train", "--model", "vgg16", "--recipe", "cnmc-oliveira",
                        "--data", cnmc_mini, "--image-size", "32", "--epochs", "2", "--batch-size", "8",
                        "--balance-to", "24,8", "--device", "cpu", "--out", out, "--quiet"], capture_output=True,
                       text=True)
    assert r.returncode == 0, r.stderr
    cfg = json.loads((out / "config.json").read_text())
    c = cfg["config"]
    assert (c["crop"], c["schedule"], c["final_lr"], c["l2"]) == (100, "exponential", 1e-6, 0.0)
    assert cfg["splits"]["train"] < 48 and cfg["training"]["iterations_per_epoch"] == 48 // 8  # 24 per class
    assert cfg["training_options"]["LearnRateSchedule"] == "exponential"
    from leuknet.run import load_model

    m = load_model(out / "model.keras")
    assert m.get_layer("imageinput").crop == 100 and m.get_layer("imageinput").scale == pytest.approx(1 / 255)
    assert m.get_layer("fc1").kernel_regularizer is not None
