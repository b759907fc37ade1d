"""Data discovery, splits and the decode/resize pipeline."""

import csv

import cv2
import numpy as np
import pytest
import tensorflow as tf

from conftest import blob_image, write_image
from references import imresize_bilinear  # parity/references.py: MATLAB's imresize algorithm
from leuknet.data.pipeline import load_image_data, read_image, resize_uint8
from leuknet.data.sources import discover
from leuknet.data.split import (make_splits, parse_fractions, split_by_subject, split_each_label, split_sizes,
                                 undersample)
from leuknet.data.synthetic import demo_dataset, synth_cell
from leuknet.errors import ConfigError, DataError


def make_cnmc(root, subjects_all=("1", "2", "3"), subjects_hem=("H1", "H2", "H3"), per_subject=2):
    rng = np.random.default_rng(0)
    for k, (sa, sh) in enumerate(zip(subjects_all, subjects_hem)):
        for i in range(per_subject):
            write_image(root / f"fold_{k}" / "all" / f"UID_{sa}_{i + 1}_1_all.bmp", blob_image(0, rng, 20))
            write_image(root / f"fold_{k}" / "hem" / f"UID_{sh}_{i + 1}_1_hem.bmp", blob_image(1, rng, 20))
    return root


def test_cnmc_layout_detected_with_subjects(tmp_path):
    ds = discover(make_cnmc(tmp_path / "C-NMC_training_data"))
    assert ds.format == "cnmc" and ds.classes == ["all", "hem"]
    assert len(ds) == 12 and ds.counts() == {"all": 6, "hem": 6}
    assert {s.subject for s in ds.samples if s.label == "hem"} == {"H1", "H2", "H3"}
    assert [s.path for s in ds.samples] == sorted(s.path for s in ds.samples)


def test_cnmc_preliminary_test_folder_with_labels_csv(tmp_path):
    root = tmp_path / "C-NMC_test_prelim_phase_data"
    rng = np.random.default_rng(0)
    rows = []
    for i, (orig, lab) in enumerate([("UID_57_29_1_all.bmp", 1), ("UID_H49_35_1_hem.bmp", 0),
                                     ("UID_58_6_13_all.bmp", 1)], start=1):
        write_image(root / "C-NMC_test_prelim_phase_data" / f"{i}.bmp", blob_image(lab, rng, 16))
        rows.append([orig, f"{i}.bmp", lab])
    with open(root / "C-NMC_test_prelim_phase_data_labels.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["Patient_ID", "new_names", "labels"])
        w.writerows(rows)
    ds = discover(root)
    assert ds.format == "cnmc"
    assert sorted((s.label, s.subject) for s in ds.samples) == [("all", "57"), ("all", "58"), ("hem", "H49")]


@pytest.mark.parametrize("idb,ext", [("ALL_IDB2", "tif"), ("ALL_IDB1", "jpg")])
def test_allidb_layout_found_anywhere_with_suffix_rule(tmp_path, idb, ext):
    rng = np.random.default_rng(0)
    for i in range(1, 5):
        write_image(tmp_path / "download" / idb / "img" / f"Im{i:03d}_{i % 2}.{ext}", blob_image(i % 2, rng, 16))
    ds = discover(tmp_path)
    assert ds.format == "allidb" and ds.classes == ["blast", "healthy"]
    assert ds.counts() == {"blast": 2, "healthy": 2}
    assert all(s.label == ("blast" if s.path.endswith(f"_1.{ext}") else "healthy") for s in ds.samples)


def test_folder_per_class_like_imagedatastore(tmp_path):
    rng = np.random.default_rng(0)
    for c in ("normal", "L1", "L2"):
        for i in range(3):
            write_image(tmp_path / c / f"img{2 - i}.png", blob_image(0, rng, 16))
    (tmp_path / "L2" / "notes.txt").write_text("not an image")
    ds = discover(tmp_path)
    assert ds.format == "folders" and ds.classes == ["L1", "L2", "normal"]  # sorted, as MATLAB categories
    assert ds.labels == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    assert discover(tmp_path, "folders").classes == ds.classes


def test_discovery_errors(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        discover(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no class folders"):
        discover(tmp_path / "empty")
    write_image(tmp_path / "one" / "a" / "x.png", np.zeros((4, 4, 3), np.uint8))
    with pytest.raises(DataError, match="only one class"):
        discover(tmp_path / "one")
    (tmp_path / "one" / "b").mkdir()
    with pytest.raises(DataError, match="has no images"):
        discover(tmp_path / "one")
    with pytest.raises(DataError, match="unknown dataset format"):
        discover(tmp_path / "one", "imagenet")


def test_split_each_label_rounds_like_matlab():
    labels = np.array([0] * 11 + [1] * 7)
    tr, va, te = split_each_label(labels, (0.7, 0.2, 0.1), seed=0)
    # MathWorks' splitEachLabel.m: split points round(cumsum(n * p)). Label 0: round([7.7 9.9 11]) = [8 10 11];
    # label 1: round([4.9 6.3 7]) = [5 6 7]
    assert (np.sum(labels[tr] == 0), np.sum(labels[va] == 0), np.sum(labels[te] == 0)) == (8, 2, 1)
    assert (np.sum(labels[tr] == 1), np.sum(labels[va] == 1), np.sum(labels[te] == 1)) == (5, 1, 1)
    assert len(set(tr) | set(va) | set(te)) == 18
    first, *_ = split_each_label(labels, (0.5, 0.5), randomized=False)
    # 5.5 and 3.5 round away from zero (MATLAB's round; NumPy's would give 6 and 4 by rounding to even here too,
    # but 2.5 -> 2): without 'randomized' the first files go first
    assert first.tolist() == [0, 1, 2, 3, 4, 5, 11, 12, 13, 14]
    assert split_sizes(5, (0.5, 0.5)) == [3, 2] and split_sizes(5, (0.7,)) == [4] and split_sizes(3, (0.5,)) == [2]
    again = split_each_label(labels, (0.7, 0.2, 0.1), seed=0)
    assert all((a == b).all() for a, b in zip(again, (tr, va, te)))


def test_split_by_subject_keeps_subjects_apart():
    rng = np.random.default_rng(0)
    subjects = [f"S{i}" for i in range(10) for _ in range(rng.integers(2, 6))] + \
               [f"H{i}" for i in range(10) for _ in range(rng.integers(2, 6))]
    labels = [0 if s.startswith("S") else 1 for s in subjects]
    parts = split_by_subject(labels, subjects, (0.6, 0.2, 0.2), seed=3)
    sets = [{subjects[i] for i in p} for p in parts]
    assert not (sets[0] & sets[1]) and not (sets[0] & sets[2]) and not (sets[1] & sets[2])
    assert sum(len(p) for p in parts) == len(subjects)
    for p in parts:
        assert {labels[i] for i in p} == {0, 1}
    with pytest.raises(DataError, match="too few"):
        split_by_subject([0, 0, 1, 1], ["a", "a", "b", "b"], (0.7, 0.2, 0.1))


def test_undersample_to_smallest_class():
    labels = np.array([0] * 9 + [1] * 4 + [2] * 6)
    keep = undersample(labels, np.arange(len(labels)), seed=1)
    assert np.bincount(labels[keep]).tolist() == [4, 4, 4]


def test_parse_fractions_errors():
    assert parse_fractions("0.7,0.2,0.1") == (0.7, 0.2, 0.1)
    assert parse_fractions("0.6,0.4") == (0.6, 0.4, 0.0)
    for bad in ("0.8,0.3,0.1", "a,b", "0,1", "0.5,0.2,0.2,0.1", "-0.1,0.5"):
        with pytest.raises(ConfigError):
            parse_fractions(bad)


def test_make_splits_refuses_split_without_a_class(tmp_path):
    ds = discover(make_cnmc(tmp_path / "c", per_subject=1))
    with pytest.raises(DataError, match="has no images of class"):
        make_splits(ds, (0.9, 0.05, 0.05))
    s = make_splits(ds, (0.34, 0.33, 0.33), by="subject")
    assert {len(v) for v in s.values()} == {2}


def test_read_image_converts_grey_rgba_16bit(tmp_path):
    rgb = np.random.default_rng(0).integers(0, 256, (7, 9, 3)).astype(np.uint8)
    write_image(tmp_path / "rgb.png", rgb)
    np.testing.assert_array_equal(read_image(tmp_path / "rgb.png"), rgb)
    grey = rgb[..., 0]
    cv2.imwrite(str(tmp_path / "grey.png"), grey)
    np.testing.assert_array_equal(read_image(tmp_path / "grey.png"), np.stack([grey] * 3, -1))
    rgba = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGRA)
    rgba[..., 3] = 17
    cv2.imwrite(str(tmp_path / "rgba.png"), rgba)
    np.testing.assert_array_equal(read_image(tmp_path / "rgba.png"), rgb)
    deep = (rgb.astype(np.uint16) * 257 + np.uint16(100))
    cv2.imwrite(str(tmp_path / "deep.tif"), cv2.cvtColor(deep, cv2.COLOR_RGB2BGR))
    # im2uint8 for uint16: round(x / 257)
    np.testing.assert_array_equal(read_image(tmp_path / "deep.tif"), np.floor(deep / 257 + 0.5).astype(np.uint8))
    (tmp_path / "zero.bmp").write_bytes(b"")
    with pytest.raises(DataError, match="empty"):
        read_image(tmp_path / "zero.bmp")
    (tmp_path / "trunc.bmp").write_bytes((tmp_path / "rgb.png").read_bytes()[:40])
    with pytest.raises(DataError, match="not a readable image"):
        read_image(tmp_path / "trunc.bmp")


@pytest.mark.parametrize("size_in,size_out", [((90, 90), (36, 36)), ((450, 450), (224, 224)), ((20, 30), (40, 45))])
def test_resize_matches_matlab_antialiased_bilinear_away_from_borders(size_in, size_out):
    rng = np.random.default_rng(0)
    img = cv2.GaussianBlur(rng.integers(0, 256, size_in + (3,)).astype(np.uint8), (0, 0), 1.5)
    ours = resize_uint8(tf.constant(img), size_out).numpy().astype(float)
    ref = imresize_bilinear(img, size_out)
    m = 3  # kernels differ at the borders (TF renormalises truncated kernels; MATLAB mirrors): a known divergence
    inner = np.abs(ours[m:-m, m:-m] - ref[m:-m, m:-m])
    assert inner.max() <= 1.0  # rounding to uint8 only (both sides round)
    assert np.abs(ours - ref).max() <= 12


def test_load_image_data_skips_corrupt_files_and_caches(tmp_path):
    rng = np.random.default_rng(0)
    paths = [str(write_image(tmp_path / f"{i}.png", blob_image(i % 2, rng, 24))) for i in range(6)]
    (tmp_path / "bad.png").write_bytes(b"\x89PNG broken")
    paths.append(str(tmp_path / "bad.png"))
    data, bad = load_image_data(paths, [0, 1] * 3 + [0], (16, 16))
    assert bad == [str(tmp_path / "bad.png")] and len(data) == 6 and data.in_memory
    streamed, _ = load_image_data(paths, [0, 1] * 3 + [0], (16, 16), cache_budget_mb=0)
    assert not streamed.in_memory
    a = np.concatenate([x.numpy() for x, _ in data.batches([5, 0, 3], 2)])
    b = np.concatenate([x.numpy() for x, _ in streamed.batches([5, 0, 3], 2)])
    np.testing.assert_array_equal(a, b)
    with pytest.raises(DataError, match="unreadable"):
        load_image_data(paths, [0] * 7, (16, 16), on_bad="raise")


def test_pipelines_run_without_tf_data_autotuning(tmp_path):
    """Every batch stream (in memory or from files, as training, validation and prediction read them) and the
    file decoding have tf.data's autotuning off: tearing an autotuned iterator down waited for its optimisation
    thread's sleep (periods up to 60 s) in about half of the validations measured. The batches are unchanged by it."""
    from leuknet.data.pipeline import file_dataset

    rng = np.random.default_rng(0)
    paths = [str(write_image(tmp_path / f"{i}.png", blob_image(i % 2, rng, 24))) for i in range(5)]
    memory, _ = load_image_data(paths, [0, 1, 0, 1, 0], (16, 16))
    files, _ = load_image_data(paths, [0, 1, 0, 1, 0], (16, 16), cache_budget_mb=0)
    streams = [memory.batches([4, 1, 2], 2), files.batches([4, 1, 2], 2), memory.batches(None, 2, drop_remainder=True),
               file_dataset(paths, (16, 16)).batch(2).prefetch(2)]
    assert all(ds.options().autotune.enabled is False for ds in streams)
    expected = memory.images[[4, 1, 2]].astype(np.float32)  # the decoded images, in the order asked
    np.testing.assert_array_equal(np.concatenate([x.numpy() for x, _ in streams[0]]), expected)
    np.testing.assert_array_equal(np.concatenate([x.numpy() for x, _ in streams[1]]), expected)
    assert [len(y) for _, y in streams[2]] == [2, 2]


def test_validation_and_prediction_read_images_in_memory_as_stored_with_the_same_results(tmp_path):
    """Trainer.evaluate / predict and predict_probabilities take images in memory as stored 8-bit slices (no
    pipeline); the same images from files come through the float32 pipeline: identical probabilities and loss."""
    from leuknet.matlab import trainingOptions
    from leuknet.models import leuknet_cnn
    from leuknet.train import Trainer, predict_probabilities

    rng = np.random.default_rng(1)
    paths = [str(write_image(tmp_path / f"{i}.png", blob_image(i % 2, rng, 40))) for i in range(7)]
    memory, _ = load_image_data(paths, [0, 1, 0, 1, 0, 1, 1], (32, 32))
    files, _ = load_image_data(paths, [0, 1, 0, 1, 0, 1, 1], (32, 32), cache_budget_mb=0)
    batches = list(memory.stored_batches(3))
    assert [x.dtype for x, _ in batches] == [np.uint8] * 3 and [len(y) for _, y in batches] == [3, 3, 1]
    assert all(isinstance(x, tf.Tensor) and x.dtype == tf.float32 for x, _ in files.stored_batches(3))
    model = leuknet_cnn.network(2, image_size=32, fc_units=8, filters=(4, 4, 4))
    trainer = Trainer(model, trainingOptions("adam", MiniBatchSize=3))
    model.get_layer("imageinput").set_statistics(mean=[90.5, 80.25, 70.0])
    np.testing.assert_array_equal(trainer.predict(memory), trainer.predict(files))
    assert trainer.evaluate(memory) == trainer.evaluate(files)
    np.testing.assert_array_equal(predict_probabilities(model, memory, 3), trainer.predict(files))


def test_synthetic_demo_is_seeded_and_labelled(tmp_path):
    a = synth_cell("all", np.random.default_rng(1), 96)
    np.testing.assert_array_equal(a, synth_cell("all", np.random.default_rng(1), 96))
    assert a.shape == (96, 96, 3) and a.dtype == np.uint8 and a[0, 0].sum() == 0  # black background
    ds = demo_dataset(per_class=8, cache_dir=tmp_path)
    assert ds.synthetic and ds.counts() == {"all": 8, "hem": 8} and ds.has_subjects
    assert ds.describe()["synthetic"] is True
    assert demo_dataset(per_class=8, cache_dir=tmp_path).fingerprint() == ds.fingerprint()


def test_real_cnmc_mini_cells(cnmc_mini):
    ds = discover(cnmc_mini)
    assert ds.format == "cnmc" and ds.counts() == {"all": 26, "hem": 26}
    assert "H3" in {s.subject for s in ds.samples}  # 'UID_h3_...' normalised to upper case
    img = read_image(ds.samples[0].path)
    assert img.shape == (450, 450, 3) and img.dtype == np.uint8
    s = make_splits(ds, (0.6, 0.2, 0.2), by="subject", seed=0)
    subj = [{ds.samples[i].subject for i in v} for v in s.values()]
    assert not (subj[0] & subj[1]) and not (subj[0] & subj[2]) and not (subj[1] & subj[2])
    data, bad = load_image_data([x.path for x in ds.samples[:8]], ds.labels[:8], (224, 224))
    assert not bad and data.images.shape == (8, 224, 224, 3)
