"""MATLAB's ``transform`` of a datastore: reads through the functions (with and without 'IncludeInfo'), the
two-column rule of trainNetwork, and the function run afresh at every read of training (new random transforms
each epoch, the same ones in a rerun)."""

from pathlib import Path

import cv2
import numpy as np
import pytest

from leuknet.errors import ConfigError, DataError
from leuknet.matlab import (affineOutputView, classificationLayer, classify, convolution2dLayer, fliplr,
                            fullyConnectedLayer, hasdata, imageDatastore, imageInputLayer, imresize, imwarp, isa,
                            preview, rand, randomAffine2d, read, readall, reluLayer, reset, rng, size, softmaxLayer,
                            trainingOptions, trainNetwork, transform)


@pytest.fixture
def imds(tmp_path):
    g = np.random.default_rng(0)
    for label, value in (("all", 220), ("hem", 60)):
        (tmp_path / label).mkdir()
        for i in range(6):
            img = g.integers(0, 30, (20, 24, 3)).astype(np.uint8)
            img[5:15, 6:18] = value
            cv2.imwrite(str(tmp_path / label / f"{i}.png"), img)
    return imageDatastore(str(tmp_path), "IncludeSubfolders", True, "LabelSource", "foldernames")


def test_reads_go_through_the_functions_in_order(imds):
    tds = transform(imds, lambda x: x[:10])
    tds2 = tds.transform(lambda x: x[:, :5])  # transforming again appends a function
    assert isa(tds2, "matlab.io.datastore.TransformedDatastore") and len(tds2.Transforms) == 2
    first = imds.readimage(0)
    np.testing.assert_array_equal(preview(tds2), first[:10, :5])
    assert hasdata(tds2)
    np.testing.assert_array_equal(read(tds2), first[:10, :5])
    np.testing.assert_array_equal(read(tds2), imds.readimage(1)[:10, :5])
    reset(tds2)
    np.testing.assert_array_equal(read(tds2), first[:10, :5])
    assert len(readall(tds2)) == len(imds)

    def with_info(data, info):  # MATLAB's [dataOut, info] = f(data, info); info.Label as a field
        return [data.mean(), info.Label], info

    out, info = transform(with_info, imds, "IncludeInfo", True).read(nargout=2)  # fcn may come first
    assert out == [pytest.approx(first.mean()), "all"] and Path(info.Filename).name == "0.png"
    with pytest.raises(ConfigError, match="one datastore and one function"):
        transform(imds, imds, lambda x: x)
    with pytest.raises(DataError, match=r"\(dataOut, infoOut\)"):
        transform(imds, lambda d, i: d, "IncludeInfo", True).preview()


def small_layers():
    return [imageInputLayer([16, 16, 3]), convolution2dLayer(3, 4), reluLayer, fullyConnectedLayer(2),
            softmaxLayer, classificationLayer]


def test_training_needs_the_label_column(imds):
    opts = trainingOptions("sgdm", "MaxEpochs", 1, "MiniBatchSize", 4, "Verbose", False)
    with pytest.raises(DataError, match="must return a cell array with 2 columns"):
        trainNetwork(transform(imds, lambda x: imresize(x, [16, 16])), small_layers(), opts)


def test_random_transform_runs_at_every_read_new_each_epoch_same_each_run(imds):
    """MathWorks' augmentation-by-transform pattern (randomAffine2d + imwarp in a function with 'IncludeInfo'):
    every read calls the function (each epoch sees new transforms), and rerunning the script gives the same
    draws, however the pipeline schedules its reads."""

    def run():
        seen = []

        def augment(data, info):
            tform = randomAffine2d("Rotation", [-20, 20])
            flipped = rand() > 0.5  # MATLAB's rand, from the same stream
            seen.append((Path(info.Filename).parent.name + Path(info.Filename).name, round(float(tform.T[0, 1]), 12),
                         flipped))
            out = imwarp(data, tform, "OutputView", affineOutputView(size(data), tform))
            out = fliplr(out) if flipped else out
            return [[imresize(out, [16, 16]), info.Label]], info  # MathWorks' N x 2 cell, N = 1

        rng("default")
        opts = trainingOptions("sgdm", "MaxEpochs", 3, "MiniBatchSize", 4, "Verbose", False)
        net = trainNetwork(transform(imds, augment, "IncludeInfo", True), small_layers(), opts)
        return net, seen

    net, seen = run()
    n = len(imds)
    assert len(seen) >= n + 3 * n  # the labels' read, then every image in each of the 3 epochs (12 = 3 x 4)
    per_file = {}
    for name, angle, _ in seen:
        per_file.setdefault(name, set()).add(angle)
    assert all(len(v) >= 4 for v in per_file.values())  # a new draw at each read
    _, again = run()
    assert sorted(seen) == sorted(again)
    pred = classify(net, transform(imds, lambda x: imresize(x, [16, 16])))
    assert len(pred) == n


def test_a_reads_stream_is_its_own_thread_s():
    """While a transformed read draws from its own stream, another thread's global stream is untouched (its
    rng(seed) stays in force)."""
    import threading

    from leuknet.spec.randstream import generator, global_stream

    started, release = threading.Event(), threading.Event()

    def reader():
        with global_stream(np.random.default_rng(123)):
            started.set()
            release.wait(10)
            generator().random()

    t = threading.Thread(target=reader)
    t.start()
    started.wait(10)
    rng(5)
    first = rand()
    release.set()
    t.join()
    second = rand()
    expected = np.random.default_rng(5).random(2)
    assert (first, second) == tuple(expected)
