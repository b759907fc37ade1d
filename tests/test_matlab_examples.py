"""Lines of MathWorks' documentation examples that a port meets ("Train Deep Learning Network to Classify New
Images", "Create Simple Deep Learning Network for Classification", the alexnet page), checked against what MATLAB
prints and returns: layer-array displays copied from MATLAB sessions, the alexnet page's syntaxes, isa with
MATLAB's class names, augmentedImageDatastore.Files and table indexing."""

import warnings

import cv2
import numpy as np
import pytest

from leuknet.errors import ConfigError, ModelFileError
from leuknet.matlab import (ClassificationOutputLayer, FullyConnectedLayer, LayerArray, alexnet,
                            augmentedImageDatastore, batchNormalizationLayer, classificationLayer,
                            convolution2dLayer, countEachLabel, dropoutLayer, fullyConnectedLayer, imageDatastore,
                            imageInputLayer, isa, layerGraph, leakyReluLayer, maxPooling2dLayer, reluLayer,
                            properties, replaceLayer, softmaxLayer, splitEachLabel)
from leuknet.spec.layers import describe

# MATLAB's display of layers = alexnet('Weights','none') (R2019a and later: grouped convolutions; a MATLAB
# session's output in a public repository, with the times signs of newer releases written as R2021a's 'x')
ALEXNET_NONE = """\
  25x1 Layer array with layers:

     1   'data'     Image Input                   227x227x3 images with 'zerocenter' normalization
     2   'conv1'    Convolution                   96 11x11 convolutions with stride [4  4] and padding [0  0  0  0]
     3   'relu1'    ReLU                          ReLU
     4   'norm1'    Cross Channel Normalization   cross channel normalization with 5 channels per element
     5   'pool1'    Max Pooling                   3x3 max pooling with stride [2  2] and padding [0  0  0  0]
     6   'conv2'    Grouped Convolution           2 groups of 128 5x5 convolutions with stride [1  1] and padding [2  2  2  2]
     7   'relu2'    ReLU                          ReLU
     8   'norm2'    Cross Channel Normalization   cross channel normalization with 5 channels per element
     9   'pool2'    Max Pooling                   3x3 max pooling with stride [2  2] and padding [0  0  0  0]
    10   'conv3'    Convolution                   384 3x3 convolutions with stride [1  1] and padding [1  1  1  1]
    11   'relu3'    ReLU                          ReLU
    12   'conv4'    Grouped Convolution           2 groups of 192 3x3 convolutions with stride [1  1] and padding [1  1  1  1]
    13   'relu4'    ReLU                          ReLU
    14   'conv5'    Grouped Convolution           2 groups of 128 3x3 convolutions with stride [1  1] and padding [1  1  1  1]
    15   'relu5'    ReLU                          ReLU
    16   'pool5'    Max Pooling                   3x3 max pooling with stride [2  2] and padding [0  0  0  0]
    17   'fc6'      Fully Connected               4096 fully connected layer
    18   'relu6'    ReLU                          ReLU
    19   'drop6'    Dropout                       50% dropout
    20   'fc7'      Fully Connected               4096 fully connected layer
    21   'relu7'    ReLU                          ReLU
    22   'drop7'    Dropout                       50% dropout
    23   'fc8'      Fully Connected               1000 fully connected layer
    24   'prob'     Softmax                       softmax
    25   'output'   Classification Output         crossentropyex"""  # noqa: E501


def test_alexnet_weights_none_is_the_untrained_layer_array_as_matlab_prints_it():
    # https://www.mathworks.com/help/deeplearning/ref/alexnet.html: layers = alexnet('Weights','none')
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no 'randomly initialised' warning: the caller asked for no weights
        layers = alexnet("Weights", "none")
    assert isinstance(layers, LayerArray) and len(layers) == 25
    assert repr(layers) == ALEXNET_NONE
    assert alexnet(Weights="None") == layers  # keyword form, the choice case-insensitive
    tail = layers[-3:]
    assert isinstance(tail, LayerArray) and repr(tail).startswith("  3x1 Layer array with layers:")
    assert isinstance(layers[:-3] + [fullyConnectedLayer(2)], LayerArray)
    # [layersTransfer fullyConnectedLayer(2) softmaxLayer classificationLayer]: bare constructors and nesting
    new = layers[:-3] + [[fullyConnectedLayer(2, "Name", "fc")], softmaxLayer, classificationLayer]
    assert len(new) == 25 and repr(new).splitlines()[-3:] == [  # unnamed until assembled, as MATLAB shows them
        "    23   'fc'      Fully Connected               2 fully connected layer",
        "    24   ''        Softmax                       softmax",
        "    25   ''        Classification Output         crossentropyex"]
    with pytest.raises(ModelFileError, match="does not download the ImageNet weights.*'none' for the untrained"):
        alexnet("Weights", "imagenet")
    with pytest.raises(ModelFileError, match="weights file nothere.onnx does not exist"):
        alexnet("Weights", "nothere.onnx")
    with pytest.raises(ConfigError, match="alexnet: unknown name-value option or flag 'Weight'; valid options: InputOrder, Weights"):
        alexnet("Weight", "none")
    with pytest.raises(ConfigError, match="weights given twice"):
        alexnet("a.onnx", "Weights", "none")
    net = alexnet  # MathWorks' examples write `net = alexnet;`: Python binds the function, and says to call it
    with pytest.raises(AttributeError, match=r"^alexnet is a function, not a network: MATLAB's `net = alexnet;` is "
                                             r"`net = alexnet\(\)` in Python \('Layers'"):
        net.Layers  # noqa: B018
    import pickle

    assert pickle.loads(pickle.dumps(alexnet)) is alexnet  # multiprocessing / joblib pass it by name


def test_layers_with_weights_print_their_channels_and_classes_as_matlab():
    # MATLAB sessions' displays of trained networks: pretrained AlexNet's "96 11x11x3 convolutions ...",
    # "crossentropyex with 'tench' and 999 other classes", a two-class network's "crossentropyex with classes
    # 'BAC' and 'NON_BAC'", a trained batch normalisation's "Batch normalization with 64 channels"
    conv = convolution2dLayer(11, 96, "Stride", 4)
    conv.Weights = np.zeros((11, 11, 3, 96), np.float32)
    assert describe(conv) == "96 11x11x3 convolutions with stride [4  4] and padding [0  0  0  0]"
    same = convolution2dLayer(3, 64, "Padding", "same")
    same.Weights = np.zeros((3, 3, 64, 64), np.float32)
    assert describe(same) == "64 3x3x64 convolutions with stride [1  1] and padding 'same'"
    assert describe(convolution2dLayer(3, 128, "Padding", "same")) == \
        "128 3x3 convolutions with stride [1  1] and padding 'same'"
    out = classificationLayer("Classes", ["tench", "goldfish", *[f"c{i}" for i in range(998)]])
    assert describe(out) == "crossentropyex with 'tench' and 999 other classes"
    assert describe(classificationLayer("Classes", ["BAC", "NON_BAC"])) == "crossentropyex with classes 'BAC' " \
        "and 'NON_BAC'"
    bn = batchNormalizationLayer()
    assert describe(bn) == "Batch normalization"
    bn.TrainedMean = np.zeros((1, 1, 64), np.float32)
    assert describe(bn) == "Batch normalization with 64 channels"
    assert describe(leakyReluLayer(0.1)) == "Leaky ReLU with scale 0.1"
    assert describe(dropoutLayer(0.2)) == "20% dropout"
    assert describe(imageInputLayer([256, 256, 3], "Normalization", "none")) == "256x256x3 images"
    assert describe(maxPooling2dLayer(2, "Stride", 2)) == \
        "2x2 max pooling with stride [2  2] and padding [0  0  0  0]"
    # a layer's one-line display shortens a long class list (MATLAB's display of 1000 names is one line too)
    assert "... (1000)" in repr(out) and len(repr(out)) < 200


def test_net_layers_of_a_trained_network_is_a_layer_array_with_channels():
    net = _tiny_net()
    text = repr(net.Layers)
    assert text.startswith("  4x1 Layer array with layers:")
    assert "'conv'   Convolution             4 3x3x3 convolutions with stride [1  1] and padding 'same'" in text
    assert "crossentropyex with classes 'all' and 'hem'" in text
    assert repr(layerGraph(net).Layers) == text


def _tiny_net():
    from leuknet.matlab import SeriesNetwork
    from leuknet.matlab.layers import assemble

    layers = [imageInputLayer([8, 8, 3], "Name", "in"), convolution2dLayer(3, 4, "Padding", "same", "Name", "conv"),
              fullyConnectedLayer(2, "Name", "fc"), classificationLayer("Name", "out", "Classes", ["all", "hem"])]
    model, _ = assemble(layers)
    return SeriesNetwork(model)


def find_layers_to_replace(lgraph):
    """MathWorks' helper findLayersToReplace (Train Deep Learning Network to Classify New Images), line by line:

        if ~isa(lgraph,'nnet.cnn.LayerGraph')
            error('Argument must be a LayerGraph object.')
        end
        src = string(lgraph.Connections.Source);
        dst = string(lgraph.Connections.Destination);
        layerNames = string({lgraph.Layers.Name}');
        isClassificationLayer = arrayfun(@(l) ...
            (isa(l,'nnet.cnn.layer.ClassificationOutputLayer')|isa(l,'nnet.layer.ClassificationLayer')), ...
            lgraph.Layers);
        ...
    """
    if not isa(lgraph, "nnet.cnn.LayerGraph"):
        raise TypeError("Argument must be a LayerGraph object.")
    src = list(lgraph.Connections.Source)
    dst = list(lgraph.Connections.Destination)
    layer_names = [l.Name for l in lgraph.Layers]
    is_classification = [isa(l, "nnet.cnn.layer.ClassificationOutputLayer")
                         or isa(l, "nnet.layer.ClassificationLayer") for l in lgraph.Layers]
    assert sum(is_classification) == 1
    class_layer = lgraph.Layers[is_classification.index(True)]
    current = class_layer
    while not (isa(current, "nnet.cnn.layer.FullyConnectedLayer")
               or isa(current, "nnet.cnn.layer.Convolution2DLayer")):
        current_idx = dst.index(current.Name)
        current = lgraph.Layers[layer_names.index(src[current_idx])]
    return current, class_layer


def test_find_layers_to_replace_ports_with_isa_and_matlab_class_names():
    lgraph = layerGraph(_tiny_net())
    learnable, cls = find_layers_to_replace(lgraph)
    assert learnable.Name == "fc" and cls.Name == "out"
    assert isinstance(learnable, FullyConnectedLayer) and isinstance(cls, ClassificationOutputLayer)
    lgraph = replaceLayer(lgraph, "fc", fullyConnectedLayer(5, "Name", "new_fc"))
    assert [l.Name for l in lgraph.Layers][2] == "new_fc"
    with pytest.raises(TypeError, match="Argument must be a LayerGraph"):
        find_layers_to_replace(_tiny_net().Layers)


def test_isa_knows_matlabs_classes_and_categories():
    # https://www.mathworks.com/help/matlab/ref/isa.html: a class, a superclass, or 'numeric'/'float'/'integer'
    grouped = alexnet("Weights", "none")[5]
    assert isa(grouped, "nnet.cnn.layer.GroupedConvolution2DLayer") and isa(grouped, "nnet.cnn.layer.Layer")
    assert not isa(grouped, "nnet.cnn.layer.Convolution2DLayer")  # a class of its own in MATLAB
    assert not isa(reluLayer(), "ReLULayer")  # MATLAB wants the package-qualified name
    assert isa(np.zeros(3, np.uint8), "uint8") and isa(np.zeros(3, np.uint8), "integer")
    assert isa(np.zeros(3, np.uint8), "numeric") and not isa(np.zeros(3, np.uint8), "float")
    assert isa(np.zeros(3, np.float32), "single") and isa(np.zeros(3, np.float32), "float")
    assert isa(2.5, "double") and isa(3, "double") and isa(True, "logical") and not isa(True, "numeric")
    assert isa("abc", "char") and not isa("abc", "numeric")
    assert not isa(softmaxLayer(), "no.such.Class")
    assert isa(alexnet("Weights", "none"), "nnet.cnn.layer.Layer")  # a layer array: the layers' class
    assert not isa(alexnet("Weights", "none"), "cell") and isa([1, "a"], "cell")
    with pytest.raises(ConfigError, match="isa: the class name must be a string"):
        isa(1, 2)


def _cells(root, per_label=6):
    for label, v in (("all", 200), ("hem", 40)):
        (root / label).mkdir(parents=True)
        for i in range(per_label):
            cv2.imwrite(str(root / label / f"{label}{i}.png"), np.full((10, 12, 3), v + i, np.uint8))
    return imageDatastore(root, "IncludeSubfolders", True, "LabelSource", "foldernames")


def test_augmented_datastore_files_and_count_table_indexing(tmp_path):
    imds = _cells(tmp_path)
    train, _ = splitEachLabel(imds, 0.5)
    augimds = augmentedImageDatastore([8, 8], train)
    # valFrequency = floor(numel(augimdsTrain.Files)/miniBatchSize);
    assert augimds.Files == train.Files and len(augimds.Files) == augimds.NumObservations == 6
    x = np.zeros((4, 8, 8, 3), np.uint8)
    with pytest.raises(AttributeError, match="built from an array has no Files"):
        augmentedImageDatastore([8, 8], x, ["all", "hem", "all", "hem"]).Files  # noqa: B018
    with pytest.raises(ConfigError, match="the source is already an augmentedImageDatastore"):
        augmentedImageDatastore([6, 6], augimds)
    # labelCount = countEachLabel(imds); min(labelCount{:,2}); labelCount(1,:)
    tbl = countEachLabel(imds)
    assert tbl[:, 1].tolist() == [6, 6] and min(tbl[:, "Count"]) == 6
    row = tbl[0]
    assert len(row) == 1 and row.Label.tolist() == ["all"] and repr(row).startswith("  1x2 table")
    assert tbl[[1]].Label.tolist() == ["hem"] and tbl[0:2, :].Count.tolist() == [6, 6]
    assert tbl[1, "Count"] == 6 and str(tbl[-1, 0]) == "hem"  # one row, one variable: the value (t{end, 1})
    assert tbl[:, [1]].VariableNames == ["Count"] and tbl[:, 0:2].VariableNames == ["Label", "Count"]
    with pytest.raises(KeyError, match="table has no variable 'Counts'; variables: Label, Count"):
        tbl["Counts"]
    with pytest.raises(IndexError, match="table has 2 variables, received index 2"):
        tbl[:, 2]


def test_verbose_table_is_matlabs_to_the_character():
    # trainNetwork's verbose output copied from MATLAB sessions (with and without validation data; a learning rate
    # below 0.001 in exponent form)
    from leuknet.console import format_row, header, rule

    assert header(True) == [
        "|" + "=" * 118 + "|",
        "|  Epoch  |  Iteration  |  Time Elapsed  |  Mini-batch  |  Validation  |  Mini-batch  |  Validation  |"
        "  Base Learning  |",
        "|         |             |   (hh:mm:ss)   |   Accuracy   |   Accuracy   |     Loss     |     Loss     |"
        "      Rate       |",
        "|" + "=" * 118 + "|"]
    assert header(False) == [
        "|" + "=" * 88 + "|",
        "|  Epoch  |  Iteration  |  Time Elapsed  |  Mini-batch  |  Mini-batch  |  Base Learning  |",
        "|         |             |   (hh:mm:ss)   |   Accuracy   |     Loss     |      Rate       |",
        "|" + "=" * 88 + "|"]
    assert rule(False) == "|" + "=" * 88 + "|"

    def row(e, i, t, acc, vacc, loss, vloss, lr):
        return {"Epoch": e, "Iteration": i, "TimeElapsed": t, "TrainingAccuracy": acc, "ValidationAccuracy": vacc,
                "TrainingLoss": loss, "ValidationLoss": vloss, "BaseLearnRate": lr}

    assert "-0.0000" not in format_row(row(3, 9, 1, 100.0, None, -1e-9, None, 0.01), False)  # a loss of 0
    assert format_row(row(1, 1, 11, 14.0625, None, 1.9668, None, 0.01), False) == \
        "|       1 |           1 |       00:00:11 |       14.06% |       1.9668 |          0.0100 |"
    assert format_row(row(1, 1, 213, 23.81, 54.82, 1.3868, 1.6246, 0.01)) == \
        "|       1 |           1 |       00:03:33 |       23.81% |       54.82% |       1.3868 |       1.6246 |" \
        "          0.0100 |"
    assert format_row(row(2, 15, 10, 50.0, 33.33, 1.3097, 2.0775, 1e-4)) == \
        "|       2 |          15 |       00:00:10 |       50.00% |       33.33% |       1.3097 |       2.0775 |" \
        "      1.0000e-04 |"


def _digits(root, per_class=10, size=28):
    """A small stand-in for MATLAB's DigitDataset: one folder per digit, grey 28 x 28 PNGs."""
    rng = np.random.default_rng(0)
    for d in range(10):
        (root / str(d)).mkdir(parents=True)
        for i in range(per_class):
            img = np.zeros((size, size), np.uint8)
            org = (6 + int(rng.integers(-2, 3)), 22 + int(rng.integers(-2, 3)))
            cv2.putText(img, str(d), org, cv2.FONT_HERSHEY_SIMPLEX, 0.8, 255, 2)
            cv2.imwrite(str(root / str(d) / f"image{i}.png"), img)
    return root


@pytest.mark.slow
def test_create_simple_deep_learning_network_for_classification_ports_line_by_line(tmp_path):
    """MathWorks' "Create Simple Deep Learning Network for Classification", each MATLAB line above its port
    (MATLAB's randperm is NumPy's; 750 training files per digit become 6; MaxEpochs 4 becomes 8)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.pyplot import close, figure, subplot

    from leuknet.matlab import imshow, readimage, trainingOptions, trainNetwork, classify

    # digitDatasetPath = fullfile(matlabroot,'toolbox','nnet','nndemos','nndatasets','DigitDataset');
    digitDatasetPath = _digits(tmp_path / "DigitDataset")
    # imds = imageDatastore(digitDatasetPath, 'IncludeSubfolders',true,'LabelSource','foldernames');
    imds = imageDatastore(digitDatasetPath, "IncludeSubfolders", True, "LabelSource", "foldernames")
    # figure; perm = randperm(10000,20);
    fig = figure()
    perm = np.random.default_rng(0).permutation(len(imds.Files))[:20]
    # for i = 1:20; subplot(4,5,i); imshow(imds.Files{perm(i)}); end
    for i in range(20):
        subplot(4, 5, i + 1)
        imshow(imds.Files[perm[i]])
    assert len(fig.axes) == 20 and all(ax.images[0].get_cmap().name == "gray" for ax in fig.axes)
    close(fig)
    # labelCount = countEachLabel(imds)
    labelCount = countEachLabel(imds)
    assert labelCount.Count.tolist() == [10] * 10
    # img = readimage(imds,1); size(img)
    img = readimage(imds, 0)
    assert img.shape == (28, 28)
    # numTrainFiles = 750; [imdsTrain,imdsValidation] = splitEachLabel(imds,numTrainFiles,'randomize');
    numTrainFiles = 6
    imdsTrain, imdsValidation = splitEachLabel(imds, numTrainFiles, "randomize")
    # layers = [imageInputLayer([28 28 1]) convolution2dLayer(3,8,'Padding','same') batchNormalizationLayer ...]
    layers = [
        imageInputLayer([28, 28, 1]),
        convolution2dLayer(3, 8, "Padding", "same"), batchNormalizationLayer, reluLayer,
        maxPooling2dLayer(2, "Stride", 2),
        convolution2dLayer(3, 16, "Padding", "same"), batchNormalizationLayer, reluLayer,
        maxPooling2dLayer(2, "Stride", 2),
        convolution2dLayer(3, 32, "Padding", "same"), batchNormalizationLayer, reluLayer,
        fullyConnectedLayer(10), softmaxLayer, classificationLayer]
    # options = trainingOptions('sgdm','InitialLearnRate',0.01,'MaxEpochs',4,'Shuffle','every-epoch', ...
    #     'ValidationData',imdsValidation,'ValidationFrequency',30,'Verbose',false,'Plots','training-progress');
    options = trainingOptions("sgdm", "InitialLearnRate", 0.01, "MaxEpochs", 8, "MiniBatchSize", 20,
                              "Shuffle", "every-epoch", "ValidationData", imdsValidation,
                              "ValidationFrequency", 3, "Verbose", False)
    # net = trainNetwork(imdsTrain,layers,options);
    net = trainNetwork(imdsTrain, layers, options)
    assert repr(net.Layers).startswith("  15x1 Layer array with layers:")
    assert "8 3x3x1 convolutions with stride [1  1] and padding 'same'" in repr(net.Layers)
    assert "Batch normalization with 8 channels" in repr(net.Layers)
    # YPred = classify(net,imdsValidation); YValidation = imdsValidation.Labels;
    YPred = classify(net, imdsValidation)
    YValidation = imdsValidation.Labels
    # accuracy = sum(YPred == YValidation)/numel(YValidation)
    accuracy = sum(YPred == YValidation) / len(YValidation)
    assert len(YValidation) == 40 and accuracy >= 0.5, accuracy  # ten digits: chance is 0.1


def freeze_weights(layers):
    """MathWorks' helper freezeWeights, line by line:

        for ii = 1:size(layers,1)
            props = properties(layers(ii));
            for p = 1:numel(props)
                propName = props{p};
                if ~isempty(regexp(propName, 'LearnRateFactor$', 'once'))
                    layers(ii).(propName) = 0;
                end
            end
        end
    """
    import re

    for ii in range(len(layers)):
        props = properties(layers[ii])
        for propName in props:
            if re.search("LearnRateFactor$", propName):
                setattr(layers[ii], propName, 0)
    return layers


def test_freeze_weights_ports_with_properties():
    from leuknet.matlab import imageDataAugmenter, trainingOptions

    layers = alexnet("Weights", "none")
    layers[0:10] = freeze_weights(layers[0:10])
    frozen = [l for l in layers[0:10] if hasattr(l, "WeightLearnRateFactor")]
    assert [l.Name for l in frozen] == ["conv1", "conv2", "conv3"]
    assert all(l.WeightLearnRateFactor == 0 and l.BiasLearnRateFactor == 0 for l in frozen)
    assert layers[11].WeightLearnRateFactor == 1  # conv4, past the frozen ones
    assert properties(reluLayer()) == ["Name"]
    assert "WeightL2Factor" in properties(convolution2dLayer(3, 8))
    assert properties(imageDataAugmenter())[:3] == ["FillValue", "RandXReflection", "RandYReflection"]
    assert {"SolverName", "InitialLearnRate", "MaxEpochs"} <= set(properties(trainingOptions("adam")))


def test_an_augmented_datastores_reads_follow_rng(tmp_path):
    # preview(augimds) (MathWorks' imtile(preview(...).input) idiom) draws its transforms from the global stream
    from leuknet.matlab import imageDataAugmenter, rng

    x = np.random.default_rng(0).integers(0, 255, (4, 8, 8, 3)).astype(np.uint8)
    aug = imageDataAugmenter("RandRotation", [-180, 180])

    def first():
        return augmentedImageDatastore([8, 8], x, "DataAugmentation", aug).preview()["input"][0]

    rng(5)
    a, b = first(), first()
    rng(5)
    np.testing.assert_array_equal(first(), a)
    assert not np.array_equal(a, b)


def test_size_randperm_and_displays_of_a_ported_transfer_script():
    # createLgraphUsingConnections / freezeWeights loop over size(x, 1); randperm draws from rng's stream;
    # the network, its Connections and s = rng print as MATLAB prints them
    from leuknet.matlab import additionLayer, connectLayers, randperm, rng, size
    from leuknet.matlab.layers import assemble
    from leuknet.matlab.network import DAGNetwork

    layers = alexnet("Weights", "none")
    assert size(layers) == (25, 1) and size(layers, 1) == 25 and size(layers, 2) == 1
    assert size(np.zeros((28, 28))) == (28, 28) and size(np.zeros((28, 28, 3)), 3) == 3
    assert size(np.zeros((2, 3)), 4) == 1 and size(np.zeros(5)) == (1, 5) and size(2.0) == (1, 1)
    assert size(countEachLabel_table()) == (2, 2)
    with pytest.raises(ConfigError, match="size: the dimension must be a positive integer"):
        size(layers, 0)
    rng(3)
    p = randperm(10, 4)
    assert sorted(set(p)) == sorted(p) and len(p) == 4 and 0 <= p.min() and p.max() <= 9
    rng(3)
    np.testing.assert_array_equal(randperm(10, 4), p)
    assert sorted(randperm(5)) == [0, 1, 2, 3, 4]
    with pytest.raises(ConfigError, match="randperm: k \\(6\\) must not exceed n \\(5\\)"):
        randperm(5, 6)
    assert repr(rng()).splitlines()[2:4] == ["     Type: 'pcg64'", "     Seed: 3"] and rng().Seed == 3
    assert isa([reluLayer(), softmaxLayer], "nnet.cnn.layer.Layer")  # a layer array typed as a list
    g = layerGraph([imageInputLayer([8, 8, 3], "Name", "in"),
                    convolution2dLayer(3, 4, "Name", "c1", "Padding", "same"), reluLayer("Name", "r1"),
                    additionLayer(2, "Name", "add"), fullyConnectedLayer(2, "Name", "fc"),
                    softmaxLayer("Name", "sm"), classificationLayer("Name", "out")])
    g = connectLayers(g, "c1", "add/in2")
    assert size(g.Connections) == (7, 2)
    assert repr(g.Connections).splitlines()[:5] == [
        "  7x2 table", "", "     Source    Destination", "    _______    ___________", ""]
    assert "    {'c1'}     {'add/in2'}" in repr(g.Connections).splitlines()
    model, _ = assemble(g)
    assert repr(DAGNetwork(model)).splitlines()[:6] == [
        "  DAGNetwork with properties:", "", "         Layers: [7x1 nnet.cnn.layer.Layer]",
        "    Connections: [7x2 table]", "     InputNames: {'in'}", "    OutputNames: {'out'}"]


def countEachLabel_table():
    from leuknet.matlab import Table

    return Table(Label=["a", "b"], Count=np.array([1, 2]))


def test_plot_of_a_layer_graph_draws_it_top_to_bottom():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from leuknet.matlab import additionLayer, connectLayers, plot

    g = layerGraph([imageInputLayer([8, 8, 3], "Name", "in"),
                    convolution2dLayer(3, 4, "Name", "c1", "Padding", "same"), reluLayer("Name", "r1"),
                    additionLayer(2, "Name", "add"), fullyConnectedLayer(2, "Name", "fc"),
                    softmaxLayer("Name", "sm"), classificationLayer("Name", "out")])
    g = connectLayers(g, "c1", "add/in2")
    fig = plt.figure()
    try:
        ax = plot(g)
        labels = {t.get_text(): t.get_position() for t in ax.texts if t.get_text()}
        assert list(labels) == ["in", "c1", "r1", "add", "fc", "sm", "out"]
        ys = [labels[n][1] for n in labels]
        assert ys == sorted(ys, reverse=True) and ys[0] - ys[-1] == 6  # one level per layer of the longest chain
        assert ys[-1] == 1  # as MATLAB's: the output at 1, so ylim([0, 10]) shows the last layers
        arrows = [t for t in ax.texts if not t.get_text()]
        assert len(arrows) == 7  # one per connection, the skip c1 -> add/in2 among them
        lines = plot([1, 2, 3])  # anything else is pyplot's plot
        assert type(lines).__name__ == "list" and lines[0].get_ydata().tolist() == [1, 2, 3]
    finally:
        plt.close(fig)


def test_train_network_verbose_output_is_matlabs_transcript(capsys):
    # R2021a: "Training on single CPU.", "Initializing input data normalization.", the table, the closing rule
    from leuknet.console import header, rule
    from leuknet.matlab import trainingOptions, trainNetwork

    x = np.random.default_rng(0).integers(0, 255, (16, 8, 8, 3)).astype(np.uint8)
    y = np.array(["a", "b"] * 8)
    layers = [imageInputLayer([8, 8, 3]), convolution2dLayer(3, 4), reluLayer, fullyConnectedLayer(2), softmaxLayer,
              classificationLayer]
    capsys.readouterr()
    trainNetwork(x, y, layers, trainingOptions("adam", "MaxEpochs", 2, "MiniBatchSize", 8, "VerboseFrequency", 1))
    lines = capsys.readouterr().out.splitlines()
    assert lines[:6] == ["Training on single CPU.", "Initializing input data normalization.", *header(False)]
    assert len(lines) == 11 and lines[-1] == rule(False)
    assert lines[6].startswith("|       1 |           1 |       00:00:0") and lines[6].endswith("|          0.0010 |")


def test_training_options_display_as_a_matlab_session_prints_it():
    """A MATLAB session's `options` display (a public repository's transcript of a TrainingOptionsADAM; that
    release also lists CheckpointFrequency and CheckpointFrequencyUnit, R2022a's, which leuknet does not have),
    for trainingOptions('adam', 'InitialLearnRate', 0.005, 'MaxEpochs', 8000, 'Verbose', 0, 'Plots',
    'training-progress', 'ExecutionEnvironment', 'cpu') (the transcript also set SequenceLength 'shortest': here
    MATLAB's default)."""
    from leuknet.matlab import trainingOptions

    matlab = """  TrainingOptionsADAM with properties:

             GradientDecayFactor: 0.9000
      SquaredGradientDecayFactor: 0.9990
                         Epsilon: 1.0000e-08
                InitialLearnRate: 0.0050
               LearnRateSchedule: 'none'
             LearnRateDropFactor: 0.1000
             LearnRateDropPeriod: 10
                L2Regularization: 1.0000e-04
         GradientThresholdMethod: 'l2norm'
               GradientThreshold: Inf
                       MaxEpochs: 8000
                   MiniBatchSize: 128
                         Verbose: 0
                VerboseFrequency: 50
                  ValidationData: []
             ValidationFrequency: 50
              ValidationPatience: Inf
                         Shuffle: 'once'
                  CheckpointPath: ''
            ExecutionEnvironment: 'cpu'
                      WorkerLoad: []
                       OutputFcn: []
                           Plots: 'training-progress'
                  SequenceLength: 'longest'
            SequencePaddingValue: 0
        SequencePaddingDirection: 'right'
            DispatchInBackground: 0
         ResetInputNormalization: 1
    BatchNormalizationStatistics: 'population'
                   OutputNetwork: 'last-iteration'
"""
    o = trainingOptions("adam", "InitialLearnRate", 0.005, "MaxEpochs", 8000, "Verbose", 0, "Plots",
                        "training-progress", "ExecutionEnvironment", "cpu")
    assert repr(o) == matlab
    sgdm = repr(trainingOptions("sgdm", ValidationData=(np.zeros((2, 4, 4, 3)), ["a", "b"]), OutputFcn=print))
    assert sgdm.startswith("  TrainingOptionsSGDM with properties:\n\n                        Momentum: 0.9000\n")
    assert "  ValidationData: {1\u00d72 cell}\n" in sgdm and "       OutputFcn: @print\n" in sgdm
