"""Real-world-style MATLAB scripts ported line by line, each run end to end on small data: the five templates in
scripts/ (custom CNN, AlexNet transfer with Layers(1:end-3), custom CNN with imageDataAugmenter and batch
normalisation, SqueezeNet transfer on a cvpartition hold-out with a Grad-CAM figure, nuclei segmented and cropped
with morphology and regionprops before a small CNN) and three more structures written here as a MATLAB user would
port them (layerGraph/replaceLayer transfer, arrays in MATLAB's H x W x C x N order, grey images)."""

import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
CNMC_MINI = ROOT.parent / "shared" / "data" / "c-nmc-mini" / "C-NMC_training_data"


def cells(folder, per_class=12, size=40, grey=False, layout="cnmc", seed=0):
    """Cell-like images: 'all' cells are large bright discs, 'hem' cells small dark ones (C-NMC's fold/class
    layout, or one folder per class)."""
    rng = np.random.default_rng(seed)
    for label, radius, value in (("all", 0.38, 220), ("hem", 0.2, 90)):
        for i in range(per_class):
            sub = Path(folder) / (f"fold_{i % 2}" if layout == "cnmc" else "") / label
            sub.mkdir(parents=True, exist_ok=True)
            img = rng.integers(0, 40, (size, size, 3)).astype(np.uint8)
            c = size // 2 + rng.integers(-3, 4, 2)
            cv2.circle(img, (int(c[0]), int(c[1])), int(radius * size), (value, value // 2, value), -1)
            if grey:
                img = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
            cv2.imwrite(str(sub / f"UID_{i}_{label}.png"), img)
    return Path(folder)


def run_script(name, *args, cwd):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=str(ROOT))
    p = subprocess.run([sys.executable, str(ROOT / "scripts" / name), *map(str, args)], cwd=cwd, env=env,
                       capture_output=True, text=True, timeout=900)
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-3000:]
    acc = [line for line in p.stdout.splitlines() if line.startswith("accuracy = ")]
    assert acc, p.stdout[-2000:]
    return float(acc[-1].split("=")[1]), p


@pytest.mark.slow
def test_leuknet_paper_script_on_the_cnmc_layout(tmp_path):
    """scripts/leuknet_paper.py on C-NMC's fold_*/all|hem layout: two classes (all, hem), not three folds."""
    data = CNMC_MINI if CNMC_MINI.exists() else cells(tmp_path / "C-NMC_training_data", per_class=26)
    acc, p = run_script("leuknet_paper.py", data, "--epochs", "2", "--size", "32", "--batch", "8", cwd=tmp_path)
    assert 0.0 <= acc <= 1.0
    assert (tmp_path / "confusion.png").stat().st_size > 0 and (tmp_path / "training-progress.png").exists()


@pytest.mark.slow
def test_alexnet_transfer_script_with_layers_end_minus_3(tmp_path):
    from onnx_graphs import alexnet_like

    data = cells(tmp_path / "cells", per_class=10, size=120, layout="folders")
    weights = alexnet_like(tmp_path / "alexnet.onnx")  # a small AlexNet-like network (99 x 99 input)
    acc, p = run_script("alexnet_transfer.py", data, "--weights", weights, "--epochs", "1", "--batch", "4",
                        cwd=tmp_path)
    assert 0.0 <= acc <= 1.0 and "[[" in p.stdout  # the confusion matrix was printed


@pytest.mark.slow
def test_custom_cnn_with_augmentation_script_on_grey_files(tmp_path):
    data = cells(tmp_path / "cells", per_class=16, size=48, grey=True, layout="folders")
    acc, _ = run_script("custom_cnn_augmentation.py", data, "--epochs", "2", "--train-per-label", "10",
                        cwd=tmp_path)
    assert acc >= 0.5  # the discs differ in size and brightness: a few epochs separate them
    assert (tmp_path / "confusion.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.slow
def test_squeezenet_gradcam_script_on_the_cnmc_layout(tmp_path):
    """scripts/squeezenet_gradcam.py: cvpartition's stratified hold-out, squeezenet's conv10 replaced, training,
    confusionchart, then gradCAM over test cells drawn as MATLAB's imshow / hold on / imagesc / colormap jet."""
    data = CNMC_MINI if CNMC_MINI.exists() else cells(tmp_path / "C-NMC_training_data", per_class=26)
    acc, p = run_script("squeezenet_gradcam.py", data, "--epochs", "1", "--batch", "8", "--cells", "2",
                        cwd=tmp_path)
    assert 0.0 <= acc <= 1.0 and "Label    Count" in p.stdout  # countEachLabel's table, printed
    for png in ("confusion.png", "gradcam.png"):
        assert (tmp_path / png).read_bytes()[:4] == b"\x89PNG"


@pytest.mark.slow
def test_nucleus_crops_script_segments_crops_and_trains(tmp_path):
    """scripts/nucleus_crops.py: rgb2lab, Otsu on a*, imopen with MATLAB's disk, imfill, bwareaopen, regionprops'
    largest region cropped with imcrop, the crops written per class and a small CNN trained on them."""
    data = CNMC_MINI if CNMC_MINI.exists() else cells(tmp_path / "C-NMC_training_data", per_class=26, size=120)
    acc, p = run_script("nucleus_crops.py", data, "--epochs", "2", "--out", tmp_path / "nuclei", cwd=tmp_path)
    assert 0.0 <= acc <= 1.0 and "median nucleus area:" in p.stdout
    originals = sorted(Path(data).rglob("*.bmp")) or sorted(Path(data).rglob("*.png"))
    crops = sorted((tmp_path / "nuclei").rglob("*.png"))
    assert len(crops) == len(originals) and {c.parent.name for c in crops} == {"all", "hem"}
    for crop in crops[:5]:
        img = cv2.imread(str(crop))
        source = next(o for o in originals if o.stem == crop.stem)
        assert 0 < img.shape[0] <= cv2.imread(str(source)).shape[0]
    assert (tmp_path / "segmentation.png").read_bytes()[:4] == b"\x89PNG"


def test_layer_graph_replace_layer_transfer(tmp_path):
    """MathWorks' GoogLeNet/ResNet recipe on a small residual network: train, then layerGraph(net),
    replaceLayer the last learnable layer and the output, retrain on new classes."""
    from leuknet.matlab import (additionLayer, augmentedImageDatastore, batchNormalizationLayer, categories,
                                classificationLayer, classify, connectLayers, convolution2dLayer,
                                fullyConnectedLayer, globalAveragePooling2dLayer, imageDatastore, imageInputLayer,
                                layerGraph, numel, reluLayer, replaceLayer, softmaxLayer, splitEachLabel,
                                trainingOptions, trainNetwork)

    data = cells(tmp_path / "cells", per_class=8, size=32, layout="folders")
    imds = imageDatastore(data, "IncludeSubfolders", True, "LabelSource", "foldernames")
    imdsTrain, imdsValidation = splitEachLabel(imds, 0.75, "randomized")
    layers = [
        imageInputLayer([32, 32, 3], "Name", "input"),
        convolution2dLayer(3, 8, "Padding", "same", "Name", "conv_1"),
        batchNormalizationLayer("Name", "bn_1"),
        reluLayer("Name", "relu_1"),
        convolution2dLayer(3, 8, "Padding", "same", "Name", "conv_2"),
        batchNormalizationLayer("Name", "bn_2"),
        additionLayer(2, "Name", "add"),
        reluLayer("Name", "relu_2"),
        globalAveragePooling2dLayer("Name", "gap"),
        fullyConnectedLayer(3, "Name", "fc"),
        softmaxLayer("Name", "softmax"),
        classificationLayer("Name", "output")]
    lgraph = layerGraph(layers)
    lgraph = connectLayers(lgraph, "relu_1", "add/in2")
    aug = augmentedImageDatastore([32, 32], imdsTrain)
    options = trainingOptions("adam", "MaxEpochs", 2, "MiniBatchSize", 4, "Verbose", False)
    # pretraining on three classes is not possible with two; train on the two, then transfer to new labels
    net = trainNetwork(aug, replaceLayer(lgraph, "fc", fullyConnectedLayer(2, "Name", "fc")), options)
    assert type(net).__name__ == "DAGNetwork"

    lgraph = layerGraph(net)
    from leuknet.matlab.layers import assemble

    kept, _ = assemble(lgraph)  # the graph of the trained network carries its trained weights
    np.testing.assert_array_equal(kept.get_layer("conv_1").kernel.numpy(),
                                  net.model.get_layer("conv_1").kernel.numpy())
    numClasses = numel(categories(imdsTrain.Labels))
    newLearnableLayer = fullyConnectedLayer(numClasses, "Name", "new_fc", "WeightLearnRateFactor", 10,
                                            "BiasLearnRateFactor", 10)
    lgraph = replaceLayer(lgraph, "fc", newLearnableLayer)
    lgraph = replaceLayer(lgraph, "output", classificationLayer("Name", "new_classoutput"))
    assert [l.Name for l in lgraph.Layers][-3:] == ["new_fc", "softmax", "new_classoutput"]
    netTransfer = trainNetwork(aug, lgraph, options)
    YPred = classify(netTransfer, augmentedImageDatastore([32, 32], imdsValidation))
    assert len(YPred) == len(imdsValidation) and categories(YPred) == ["all", "hem"]
    # the transferred layers started from the trained weights and trained on (they moved, a little)
    before = {l.Name: l for l in net.Layers}["conv_1"].Weights
    after = {l.Name: l for l in netTransfer.Layers}["conv_1"].Weights
    assert 0 < np.abs(after - before).max() < np.abs(before).max()


def test_arrays_in_matlab_order_with_grey_images_and_batch_norm():
    """The digits-style script: XTrain as MATLAB's 28 x 28 x 1 x N array (what scipy.io.loadmat gives),
    categorical YTrain, imageInputLayer([28 28 1]), batchNormalizationLayer, validation as {X, Y}."""
    from leuknet.matlab import (batchNormalizationLayer, categorical, classificationLayer, classify,
                                convolution2dLayer, fullyConnectedLayer, imageInputLayer, maxPooling2dLayer,
                                reluLayer, softmaxLayer, trainingOptions, trainNetwork)

    rng = np.random.default_rng(0)
    n = 64
    digits = rng.integers(0, 2, n)
    XTrain = rng.integers(0, 30, (28, 28, 1, n)).astype(np.uint8)  # H x W x C x N
    for k in range(n):
        if digits[k]:
            XTrain[6:22, 12:16, 0, k] = 255  # a vertical bar: "1"
        else:
            XTrain[6:22, 6:22, 0, k] = 255
            XTrain[10:18, 10:18, 0, k] = 0  # a ring: "0"
    YTrain = categorical(digits)
    XValidation, YValidation = XTrain[:, :, :, :16], YTrain[:16]
    layers = [
        imageInputLayer([28, 28, 1]),
        convolution2dLayer(3, 8, "Padding", "same"),
        batchNormalizationLayer,
        reluLayer,
        maxPooling2dLayer(2, "Stride", 2),
        fullyConnectedLayer(2),
        softmaxLayer,
        classificationLayer]
    options = trainingOptions("sgdm", "InitialLearnRate", 0.01, "MaxEpochs", 4, "MiniBatchSize", 16,
                              "ValidationData", (XValidation, YValidation), "Verbose", False)
    net, info = trainNetwork(XTrain, YTrain, layers, options, nargout=2)
    YPred = classify(net, XValidation)
    accuracy = sum(YPred == YValidation) / len(YValidation)
    assert accuracy >= 0.9 and info.ValidationAccuracy[-1] >= 90
    assert net.Layers[0].InputSize == (28, 28, 1)


def test_grey_image_datastore_with_a_one_channel_input_layer(tmp_path):
    from leuknet.matlab import (categories, classificationLayer, classify, convolution2dLayer, countEachLabel,
                                fullyConnectedLayer, imageDatastore, imageInputLayer, maxPooling2dLayer, readimage,
                                reluLayer, softmaxLayer, splitEachLabel, trainingOptions, trainNetwork)

    data = cells(tmp_path / "cells", per_class=10, size=24, grey=True, layout="folders")
    imds = imageDatastore(data, "IncludeSubfolders", True, "LabelSource", "foldernames")
    assert readimage(imds, 0).shape == (24, 24)  # imread of a grey file: H x W
    assert countEachLabel(imds).Count.tolist() == [10, 10]
    imdsTrain, imdsTest = splitEachLabel(imds, 0.7, "randomized")
    layers = [imageInputLayer([24, 24, 1]), convolution2dLayer(3, 4), reluLayer, maxPooling2dLayer(2, "Stride", 2),
              fullyConnectedLayer(2), softmaxLayer, classificationLayer]
    net = trainNetwork(imdsTrain, layers, trainingOptions("adam", "MaxEpochs", 6, "MiniBatchSize", 7,
                                                          "Verbose", False, "InitialLearnRate", 0.01))
    YPred = classify(net, imdsTest)
    assert categories(YPred) == ["all", "hem"] and np.mean(YPred == imdsTest.Labels) >= 0.5
