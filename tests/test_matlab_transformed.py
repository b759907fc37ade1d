"""MATLAB's ``transform`` of a datastore: reads through the functions (with and without 'IncludeInfo'), the
two-column rule of trainNetwork, and the function run afresh at every read of training (new random transforms
each epoch, the same ones in a rerun)."""

from pathlib import Path

import cv2
import numpy as np
import pytest

from leuknet.errors import ConfigError, DataError
from leuknet.matlab import (affineOutputView, classificationLayer, classify, convolution2dLayer, fliplr,
                            fullyConnectedLayer, hasdata, imageDatastore, imageInputLayer, imgaussfilt, imnoise,
                            imresize, imwarp, isa, predict, preview, rand, randomAffine2d, read, readall, reluLayer,
                            reset, rng, size, softmaxLayer, trainingOptions, trainNetwork, transform)


def write_cells(folder, per_class, hw, seed):
    """Bright squares ('all') and dark ones ('hem') on noise, one folder per class."""
    g = np.random.default_rng(seed)
    h, w = hw
    for label, value in (("all", 220), ("hem", 60)):
        (folder / label).mkdir()
        for i in range(per_class):
            img = g.integers(0, 30, (h, w, 3)).astype(np.uint8)
            img[h // 4: 3 * h // 4, w // 4: 3 * w // 4] = value
            cv2.imwrite(str(folder / label / f"{i}.png"), img)
    return imageDatastore(str(folder), "IncludeSubfolders", True, "LabelSource", "foldernames")


@pytest.fixture
def imds(tmp_path):
    return write_cells(tmp_path, 6, (20, 24), 0)


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
    resized = transform(imds, lambda x: imresize(x, [16, 16]))
    pred = classify(net, resized)
    assert len(pred) == n
    scores = predict(net, resized)
    expected = np.asarray(net.Layers[-1].Classes)[np.argmax(scores, axis=1)]
    np.testing.assert_array_equal(np.asarray(predict(net, resized, "ReturnCategorical", True)), expected)
    np.testing.assert_array_equal(np.asarray(pred), expected)


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


def classificationAugmentationPipeline(dataIn, info):
    """MathWorks' helper from "Augment Images for Deep Learning Workflows"
    (https://www.mathworks.com/help/images/image-augmentation.html), line by line."""
    dataOut = [[None, None] for _ in range(size(dataIn, 1))]  # dataOut = cell([size(dataIn,1),2]);
    for idx in range(size(dataIn, 1)):
        temp = dataIn[idx]
        # Add randomized Gaussian blur
        temp = imgaussfilt(temp, 1.5 * rand())
        # Add salt and pepper noise
        temp = imnoise(temp, "salt & pepper")
        # Add randomized rotation and scale
        tform = randomAffine2d("Scale", [0.95, 1.05], "Rotation", [-30, 30])
        outputView = affineOutputView(size(temp), tform)
        temp = imwarp(temp, tform, "OutputView", outputView)
        # Form second column expected by trainNetwork which is the expected response,
        # the categorical label in this case
        dataOut[idx] = [temp, info.Label[idx]]
    return dataOut, info


def test_mathworks_augmentation_pipeline_with_read_size_6_trains(tmp_path):
    imds = write_cells(tmp_path, 8, (16, 16), 1)
    imds.ReadSize = 6
    with pytest.raises(ConfigError, match="Unrecognized property 'readSize'"):
        imds.readSize = 6  # a misspelt property is an error, as in MATLAB, not ignored
    dsTrain = transform(imds, classificationAugmentationPipeline, "IncludeInfo", True)
    dataPreview = preview(dsTrain)  # a read of ReadSize images: 6 rows [image, label]
    assert len(dataPreview) == 6 and dataPreview[0][0].shape == (16, 16, 3) and dataPreview[0][1] == "all"
    first, info = read(imds, nargout=2)
    assert len(first) == 6 and len(info.Filename) == 6 and info.Label[5] == "all" and info.Label[0][0] == "all"
    assert len(readall(dsTrain)) == 16

    def stack(dataIn, info):  # one array per read: readall joins what each read returns
        return np.stack(dataIn, axis=3), info

    assert [a.shape[3] for a in readall(transform(imds, stack, "IncludeInfo", True))] == [6, 6, 4]
    rng("default")
    opts = trainingOptions("sgdm", "MaxEpochs", 2, "MiniBatchSize", 4, "InitialLearnRate", 1e-3, "Verbose", False)
    net = trainNetwork(dsTrain, small_layers(), opts)
    assert net.Layers[-1].Classes.tolist() == ["all", "hem"]


def test_combine_with_an_array_datastore_of_labels_trains_and_keeps_pairs(imds):
    """The other documented way to give a transformed datastore its labels: combine(transform(imds, @f),
    arrayDatastore(imds.Labels)) reads [image, label] (combine's page: the reads side by side)."""
    from leuknet.matlab import arrayDatastore, combine

    labels = arrayDatastore(imds.Labels)
    assert len(labels) == len(imds) and read(labels) == ["all"]  # a one-element cell, OutputType 'cell'
    cds = combine(transform(imds, lambda x: imresize(x, [16, 16])), arrayDatastore(imds.Labels))
    assert isa(cds, "matlab.io.datastore.CombinedDatastore")
    img, label = preview(cds)
    assert img.shape == (16, 16, 3) and label == "all"
    for img, label in readall(cds.shuffle()):  # shuffled together: the bright squares stay 'all'
        assert (img[8, 8].mean() > 150) == (label == "all")
    opts = trainingOptions("sgdm", "MaxEpochs", 2, "MiniBatchSize", 4, "Verbose", False)
    net = trainNetwork(cds, small_layers(), opts)
    assert len(classify(net, cds)) == len(imds)
    X = np.stack([imresize(imds.readimage(i), [16, 16]) for i in range(len(imds))], axis=3)  # H x W x C x N
    assert predict(net, arrayDatastore(X, "IterationDimension", 4)).shape == (len(imds), 2)
    with pytest.raises(DataError, match="3 and 12"):
        combine(imds, arrayDatastore(np.arange(3)))


def test_a_transformed_datastore_reads_its_own_copy(imds):
    tds = transform(imds, lambda x: x)
    imds.Labels[0] = "hem"  # the original changes; the copy transform made does not
    with pytest.raises(ConfigError, match="'Folders' is not provided"):
        imds.Folders = ["x"]
    assert tds.UnderlyingDatastores[0].Labels[0] == "all" and imds.Labels[0] == "hem"


def test_read_function_form_on_an_augmented_datastore(imds):
    from leuknet.matlab import augmentedImageDatastore

    aug = augmentedImageDatastore([8, 8], imds)
    assert len(read(aug)) == len(imds)  # one mini-batch of 128 holds them all: a table of 12 rows
    with pytest.raises(ConfigError, match="returns its data alone"):
        read(aug, nargout=2)
