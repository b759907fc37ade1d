"""The MATLAB workflow around the layers: calling conventions, imageDatastore, splitEachLabel, categorical labels,
trainingOptions, trainNetwork's return conventions, classify/predict/activations.

References: the MathWorks documentation's rules and examples (cited per test), hand-counted expectations, and
NumPy's column-major reshape for MATLAB's flattening."""

import glob
import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from leuknet.errors import ConfigError, DataError, DeviceError
from leuknet.matlab import (activations, categorical, categories, classificationLayer, classify, convolution2dLayer,
                            countEachLabel, fullyConnectedLayer, imageDatastore, imageInputLayer, maxPooling2dLayer,
                            predict, readimage, reluLayer, softmaxLayer, splitEachLabel, trainingOptions,
                            trainNetwork)
from leuknet.matlab.conventions import choice, outputs, parse

CNMC_MINI = Path(__file__).resolve().parents[2] / "shared" / "data" / "c-nmc-mini"


# -- calling conventions ------------------------------------------------------------------------------------

def test_name_value_pairs_positional_keyword_case_and_flag_prefixes():
    opts = {"Include": None, "Exclude": None}
    pos, flags, o = parse("splitEachLabel", (0.7, "randomize", "include", ["a"]), {"Exclude": "b"}, opts,
                          flags=("randomized",))
    assert pos == [0.7] and flags == {"randomized"} and o["Include"] == ["a"] and o["Exclude"] == "b"
    assert o.given == {"Include", "Exclude"}
    with pytest.raises(ConfigError, match="splitEachLabel: unknown name-value option or flag 'Bogus'"):
        parse("splitEachLabel", (0.7, "Bogus", 1), {}, opts, flags=("randomized",))
    with pytest.raises(ConfigError, match="given twice"):
        parse("f", ("Include", 1), {"include": 2}, opts)
    with pytest.raises(ConfigError, match="has no value"):
        parse("f", ("Include",), {}, opts)
    with pytest.raises(ConfigError, match="after name-value"):
        parse("f", ("Include", 1, 0.5), {}, opts)
    assert choice("f", "Shuffle", "EVERY", ("once", "every-epoch", "never")) == "every-epoch"
    with pytest.raises(ConfigError, match="must be one of"):
        choice("f", "x", "n", ("none", "never"))  # ambiguous prefix
    assert outputs("f", (1, 2, 3), None) == 1 and outputs("f", (1, 2, 3), 2) == (1, 2)
    with pytest.raises(ConfigError, match="too many output"):
        outputs("f", (1, 2), 3)


def test_training_options_positional_pairs_any_case_and_refusals():
    o = trainingOptions("sgdm", "MaxEpochs", 4, "minibatchsize", 8, Shuffle="every", Plots="training-progress")
    assert (o.MaxEpochs, o.MiniBatchSize, o.Shuffle, o.Plots) == (4, 8, "every-epoch", "training-progress")
    assert trainingOptions("ADAM").InitialLearnRate == 0.001 and trainingOptions("sgdm").InitialLearnRate == 0.01
    assert trainingOptions("adam", ExecutionEnvironment="GPU").ExecutionEnvironment == "gpu"
    assert trainingOptions("adam", "ValidationPatience", "Inf").ValidationPatience == float("inf")
    for name in ("SequenceLength", "SequencePaddingValue", "SequencePaddingDirection", "WorkerLoad"):
        with pytest.raises(ConfigError, match=f"trainingOptions: option '{name}' is not supported: "):
            trainingOptions("adam", name, 1)
    with pytest.raises(ConfigError, match="does not exist"):
        trainingOptions("adam", CheckpointPath="/nonexistent/folder")
    with pytest.raises(ConfigError, match="solverName must be one of"):
        trainingOptions("lbfgs")
    # the property pages: TrainingOptionsADAM has no Momentum, TrainingOptionsSGDM no decay factors or Epsilon
    with pytest.raises(ConfigError, match="option 'Momentum' does not apply to the 'adam' solver"):
        trainingOptions("adam", "Momentum", 0.9)
    with pytest.raises(ConfigError, match="'Epsilon' does not apply to the 'sgdm'"):
        trainingOptions("sgdm", Epsilon=1e-7)
    assert trainingOptions("rmsprop", SquaredGradientDecayFactor=0.99).SquaredGradientDecayFactor == 0.99


# -- categorical ----------------------------------------------------------------------------------------------

def test_categorical_order_equality_and_indexing():
    # https://www.mathworks.com/help/matlab/ref/categorical.html: categories are the sorted unique values
    c = categorical([10, 9, 2, 10])
    assert categories(c) == ["2", "9", "10"]  # numbers sort numerically
    t = categorical(["hem", "all", "hem"])
    assert categories(t) == ["all", "hem"]
    assert (t == "hem").tolist() == [True, False, True]
    assert (t == ["hem", "hem", "all"]).tolist() == [True, False, False]
    assert (t == categorical(["hem", "all", "all"])).tolist() == [True, True, False]
    assert np.mean(t == t) == 1.0 and len(t) == 3 and str(t[1]) == "all" and t[0] == "hem"
    assert list(np.asarray(t)) == ["hem", "all", "hem"]
    v = categorical(["b", "a"], ["b", "a", "c"])  # categories in the value set's order
    assert categories(v) == ["b", "a", "c"] and v.codes.tolist() == [0, 1]


# -- imageDatastore -------------------------------------------------------------------------------------------

def _png(path, value=0, shape=(6, 6, 3)):
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.full(shape, value, np.uint8))
    return path


@pytest.fixture
def cnmc_like(tmp_path):
    """fold_k/all and fold_k/hem, as C-NMC lays out its training data."""
    for fold in ("fold_0", "fold_1", "fold_2"):
        for label, n in (("all", 3), ("hem", 2)):
            for i in range(n):
                _png(tmp_path / fold / label / f"UID_{fold[-1]}_{i}_{label}.png", 200 if label == "all" else 30)
    (tmp_path / "notes.txt").write_text("not an image")
    return tmp_path


def test_image_datastore_labels_each_file_by_its_own_folder(cnmc_like):
    # MATLAB labels a file by the folder that contains it, so C-NMC's fold folders are not classes
    # (https://www.mathworks.com/help/matlab/ref/matlab.io.datastore.imagedatastore.html, LabelSource)
    imds = imageDatastore(cnmc_like, "IncludeSubfolders", True, "LabelSource", "foldernames")
    expected = sorted(glob.glob(str(cnmc_like / "*" / "*" / "*.png")))
    assert imds.Files == expected and all(isinstance(f, str) for f in imds.Files)
    assert categories(imds.Labels) == ["all", "hem"]
    assert imds.Labels.tolist() == [Path(f).parent.name for f in expected]
    t = countEachLabel(imds)
    assert t.Label.tolist() == ["all", "hem"] and t.Count.tolist() == [9, 6]
    # IncludeSubfolders defaults to false: no image directly in the root
    with pytest.raises(DataError, match="IncludeSubfolders"):
        imageDatastore(cnmc_like, LabelSource="foldernames")
    one = imageDatastore(cnmc_like / "fold_0" / "all", "labelsource", "FolderNames")
    assert len(one) == 3 and categories(one.Labels) == ["all"]
    several = imageDatastore([cnmc_like / "fold_0", cnmc_like / "fold_1"], IncludeSubfolders=True)
    assert len(several) == 10 and not several.has_labels
    with pytest.raises(DataError, match="no files"):
        imageDatastore(cnmc_like, IncludeSubfolders=True, FileExtensions=".bmp")
    with pytest.raises(DataError, match="cannot find"):
        imageDatastore(cnmc_like / "missing")
    img = readimage(imds, 0)
    assert img.shape[:2] == (6, 6) and int(np.asarray(img).max()) == 200
    custom = imageDatastore(cnmc_like / "fold_0", IncludeSubfolders=True, ReadFcn=lambda f: np.zeros((2, 2, 3)))
    assert custom.readimage(0).shape == (2, 2, 3)


def test_image_datastore_labels_symlinks_by_the_folder_they_are_found_in(tmp_path):
    store = tmp_path / "store" / "raw"
    for i in range(4):
        _png(store / f"img{i}.png", i)
    for i, label in enumerate(("cat", "cat", "dog", "dog")):
        (tmp_path / "ds" / label).mkdir(parents=True, exist_ok=True)
        os.symlink(store / f"img{i}.png", tmp_path / "ds" / label / f"x{i}.png")
    os.symlink(store / "img0.png", tmp_path / "ds" / "cat" / "x0_again.png")  # oversampling by a second link
    imds = imageDatastore(tmp_path / "ds", "IncludeSubfolders", True, "LabelSource", "foldernames")
    assert imds.Labels.tolist() == ["cat", "cat", "cat", "dog", "dog"]
    assert [Path(f).name for f in imds.Files] == ["x0.png", "x0_again.png", "x1.png", "x2.png", "x3.png"]


def test_a_file_list_keeps_its_order_and_repeats_so_given_labels_follow_it(tmp_path):
    """MATLAB's pathLookup (matlab.io.datastore.internal.pathLookup, which imageDatastore resolves its locations
    with) looks each path up in turn and concatenates the results: no sorting and no removal of repeats across a
    list. So labels read from a CSV in the list's own order (1.bmp, 2.bmp, ..., 10.bmp) stay with their files;
    sorting the names would put 10.bmp second and silently give it 2.bmp's label."""
    files = [_png(tmp_path / f"{i}.png", 10 * i) for i in (1, 2, 3, 10)]
    imds = imageDatastore([str(f) for f in files], "Labels", ["a", "b", "a", "c"])
    assert [Path(f).name for f in imds.Files] == ["1.png", "2.png", "3.png", "10.png"]
    assert int(np.asarray(readimage(imds, 3)).max()) == 100 and str(imds.Labels[3]) == "c"
    again = imageDatastore([files[1], files[0], files[1]])
    assert [Path(f).name for f in again.Files] == ["2.png", "1.png", "2.png"]
    # folders: each one's files sorted, the folders in the order given
    for name in ("b", "a"):
        for i in range(2):
            _png(tmp_path / name / f"{i}.png")
    two = imageDatastore([tmp_path / "b", tmp_path / "a"], "LabelSource", "foldernames")
    assert [Path(f).parent.name + "/" + Path(f).name for f in two.Files] == ["b/0.png", "b/1.png", "a/0.png",
                                                                             "a/1.png"]
    assert two.Labels.tolist() == ["b", "b", "a", "a"] and categories(two.Labels) == ["a", "b"]


def test_files_is_settable_and_empties_labels_as_matlabs_set_files(demos_imagesci, tmp_path):
    """Oversampling scripts write ``imds.Files = files(ind); imds.Labels = labels(ind);`` (MATLAB's Files is a
    settable property). MATLAB's ImageDatastore.set.Files -> resolveLabelsIndexes empties Labels when the whole
    property is assigned (FilesAssigned), so the labels are set again after it; repeats are kept."""
    imds = demos_imagesci
    files, labels = imds.Files, imds.Labels
    ind = [6, 7, 6, 7, 0, 1]  # imagesci twice over, two demos
    imds.Files = [files[i] for i in ind]
    assert imds.Files == [files[i] for i in ind] and not imds.has_labels and len(imds.Labels) == 0
    with pytest.raises(DataError, match="countEachLabel: the datastore has no labels .*imds.Files empties them"):
        countEachLabel(imds)
    imds.Labels = labels[ind]
    assert countEachLabel(imds).Count.tolist() == [2, 4]
    x = np.stack([np.asarray(readimage(imds, i)) for i in range(len(imds))])
    net = trainNetwork(imds, [imageInputLayer([6, 6, 3]), fullyConnectedLayer(2), softmaxLayer(),
                              classificationLayer()], trainingOptions("sgdm", MaxEpochs=1, Verbose=False))
    assert x.shape[0] == 6 and net is not None
    imds.Files = files[:2]
    with pytest.raises(DataError, match="^trainNetwork: the training images have no labels"):
        trainNetwork(imds, [imageInputLayer([6, 6, 3]), fullyConnectedLayer(2), softmaxLayer(),
                            classificationLayer()], trainingOptions("sgdm", Verbose=False))
    with pytest.raises(DataError, match="^imds.Files: cannot find the file"):
        imds.Files = [str(tmp_path / "missing.png")]
    with pytest.raises(ConfigError, match="^imds.Files: file names must be text"):
        imds.Files = [3]


def test_categorical_assignment_adds_new_categories_after_the_others():
    """MathWorks' categorical page ("Add New Categories"): assigning a value that is not a category of an
    unprotected categorical adds it, after the existing ones; so getLabelsFromCsv-style code ports as written:
    ``labels = categorical(zeros(n,1)); labels(y == 1) = 'all'; labels(y == 0) = 'hem';``."""
    y = np.array([1, 0, 1, 1])
    labels = categorical(np.zeros(4))
    labels[y == 1] = "all"
    labels[y == 0] = "hem"
    assert labels.tolist() == ["all", "hem", "all", "all"] and categories(labels) == ["0", "all", "hem"]
    c = categorical(["a", "b", "c"])
    part = c[0:2]
    part[0] = "c"  # a value, as MATLAB's: the array it came from is unchanged
    assert c.tolist() == ["a", "b", "c"] and part.tolist() == ["c", "b"] and categories(c) == ["a", "b", "c"]
    c[[0, 2]] = ["b", "z"]
    c[1] = ""
    assert c.tolist() == ["b", "<undefined>", "z"] and categories(c) == ["a", "b", "c", "z"]
    c[:] = categorical(["a", "a", "a"])
    assert c.tolist() == ["a", "a", "a"]
    with pytest.raises(DataError, match="3 elements and 2 values"):
        c[:] = ["a", "b"]


def test_double_of_a_categorical_is_its_category_numbers_and_concatenation_unions_categories():
    """MathWorks' categorical page: double(C) gives the category numbers (1-based, NaN for undefined), as a script's
    ``labels = double(imds.Labels)`` and ``perfcurve(double(YTest), ...)`` use them; "Combine Categorical Arrays":
    joining categoricals gives the union of their categories, the first array's first (``cat(1, a.Labels,
    b.Labels)`` in a merge_sets helper: the class order decides the network's score columns)."""
    from leuknet.matlab import cat, double, horzcat, single, vertcat

    c = categorical(["hem", "all", "hem", "all"])
    c[2] = ""
    assert double(c).tolist()[:2] == [2.0, 1.0] and np.isnan(double(c)[2]) and single(c).dtype == np.float32
    np.testing.assert_array_equal(np.double(c), double(c))  # NumPy's own conversion agrees
    assert np.asarray(c, np.uint8).tolist() == [2, 1, 0, 1] and list(np.asarray(c)) == ["hem", "all",
                                                                                          "<undefined>", "all"]
    assert c.T.tolist() == c.tolist() and c.T is not c  # YPred' of a vector
    t, s_, r = categorical(["t", "t"]), categorical(["s"]), categorical(["r", "s", "t"])
    for joined in (cat(1, t, s_, r), vertcat(t, s_, r), np.concatenate([t, s_, r])):
        assert joined.tolist() == ["t", "t", "s", "r", "s", "t"] and categories(joined) == ["t", "s", "r"]
    assert categories(cat(1, categorical(["b"], ["b", "z"]), ["a"])) == ["b", "z", "a"]
    assert np.unique(categorical(["b", "a", "b"])).tolist() == ["a", "b"]  # other NumPy functions see the names
    assert cat(1, np.array([1, 2]), np.array([3])).tolist() == [1, 2, 3]
    assert horzcat(np.array([1, 2]), np.array([3, 4])).tolist() == [[1, 3], [2, 4]]  # columns side by side
    assert cat(4, np.zeros((2, 2, 3)), np.zeros((2, 2, 3, 2))).shape == (2, 2, 3, 3)  # H x W x C x N images
    with pytest.raises(ConfigError, match="^cat: dimensions of the arrays are not consistent"):
        vertcat(np.ones((1, 2)), np.ones((1, 3)))


def test_a_datastore_file_deleted_after_listing_is_named_missing_not_unreadable(demos_imagesci):
    files = demos_imagesci.Files
    os.remove(files[1])
    with pytest.raises(DataError, match=r"^1 image file\(s\) no longer exist, first: .*d1.png"):
        trainNetwork(demos_imagesci, [imageInputLayer([6, 6, 3]), fullyConnectedLayer(2), softmaxLayer(),
                                      classificationLayer()], trainingOptions("sgdm", Verbose=False))


def test_removecats_drops_unused_categories(demos_imagesci):
    from leuknet.matlab import removecats

    only, _ = splitEachLabel(demos_imagesci, 0.5, "Include", "demos")
    assert categories(only.Labels) == ["demos", "imagesci"]  # as MATLAB: subsets keep the categories
    only.Labels = removecats(only.Labels)
    assert categories(only.Labels) == ["demos"] and countEachLabel(only).Count.tolist() == [3]


@pytest.mark.skipif(not CNMC_MINI.exists(), reason="../shared/data/c-nmc-mini not present")
def test_image_datastore_on_the_real_cnmc_layout():
    root = CNMC_MINI / "C-NMC_training_data"
    imds = imageDatastore(root, "IncludeSubfolders", True, "LabelSource", "foldernames")
    n_all = len(glob.glob(str(root / "**" / "all" / "*.bmp"), recursive=True))
    n_hem = len(glob.glob(str(root / "**" / "hem" / "*.bmp"), recursive=True))
    assert categories(imds.Labels) == ["all", "hem"]
    assert countEachLabel(imds).Count.tolist() == [n_all, n_hem]


# -- splitEachLabel -------------------------------------------------------------------------------------------

@pytest.fixture
def demos_imagesci(tmp_path):
    """The MathWorks splitEachLabel example: 6 files labelled demos, 2 labelled imagesci."""
    for i in range(6):
        _png(tmp_path / "demos" / f"d{i}.png", i)
    for i in range(2):
        _png(tmp_path / "imagesci" / f"i{i}.png", i)
    return imageDatastore(tmp_path, "IncludeSubfolders", True, "LabelSource", "foldernames")


def test_split_each_label_proportions_round_as_matlab_in_file_order(demos_imagesci):
    # https://mathworks.com/help/matlab/ref/datastore.spliteachlabel.html: [imds60,imds40] = splitEachLabel(imds,0.6)
    # on 6 demos and 2 imagesci files prints imds60's Files as 3 names "... and 2 more": 5 files, round(3.6) = 4
    # demos and round(1.2) = 1 imagesci, as MathWorks' splitEachLabel.m computes the split points
    # (round(cumsum(count * p))); the page's sentence that counts round down does not match its own output
    imds60, imds40 = splitEachLabel(demos_imagesci, 0.6)
    files = demos_imagesci.Files
    assert [Path(f).name for f in imds60.Files] == ["d0.png", "d1.png", "d2.png", "d3.png", "i0.png"]
    assert sorted(imds60.Files + imds40.Files) == files
    assert imds40.Labels.tolist() == ["demos"] * 2 + ["imagesci"]
    # counts: an integer p >= 1 is a number of files per label
    two, rest = splitEachLabel(demos_imagesci, 2)
    assert countEachLabel(two).Count.tolist() == [2, 2]
    # a label left without files has no row: MathWorks' countEachLabel groups with findgroups, which groups the
    # values present (ImageDatastore's groupAndCountLabels); a script's min(tbl.Count) balances on labels with files
    tbl = countEachLabel(rest)
    assert tbl.Count.tolist() == [4] and tbl.Label.tolist() == ["demos"]
    assert list(categories(tbl.Label)) == ["demos", "imagesci"]  # the categorical keeps its categories
    with pytest.raises(DataError, match="more than the 2 files of label 'imagesci'"):
        splitEachLabel(demos_imagesci, 3)
    with pytest.raises(ConfigError, match="sum to 1.2"):
        splitEachLabel(demos_imagesci, 0.6, 0.6)
    # nargout=1: MATLAB's imds = splitEachLabel(imds, n) keeps only the first output
    assert len(splitEachLabel(demos_imagesci, 1, "randomized", nargout=1)) == 2


def test_split_each_label_several_outputs_randomized_include_exclude(demos_imagesci):
    a, b, rest = splitEachLabel(demos_imagesci, 0.5, 0.2, "randomize")  # 'randomize' abbreviates 'randomized'
    # split points round(cumsum(n p)): demos round([3 4.2]) = [3 4], imagesci round([1 1.4]) = [1 1]
    assert [len(a), len(b), len(rest)] == [3 + 1, 1 + 0, 2 + 1]
    assert sorted(a.Files + b.Files + rest.Files) == demos_imagesci.Files  # every file once
    other = splitEachLabel(demos_imagesci, 0.5, 0.2, "randomized", Seed=5)
    assert countEachLabel(other[0]).Count.tolist() == [3, 1]
    assert splitEachLabel(demos_imagesci, 0.5, 0.2, "randomized", Seed=5)[0].Files == other[0].Files
    # proportions summing to 1 give N outputs and every file is in one: demos round([3 4.5 6]) = [3 5 6] (4.5
    # rounds away from zero, as MATLAB's round), imagesci round([1 1.5 2]) = [1 2 2]
    tr, va, te = splitEachLabel(demos_imagesci, 0.5, 0.25, 0.25)
    assert [countEachLabel(d).Count.tolist() for d in (tr, va, te)] == [[3, 1], [2, 1], [1]]
    assert sorted(tr.Files + va.Files + te.Files) == demos_imagesci.Files
    only, rest = splitEachLabel(demos_imagesci, 0.5, "Include", "demos")
    assert only.Labels.tolist() == ["demos"] * 3 and rest.Labels.tolist() == ["demos"] * 3
    ex, _ = splitEachLabel(demos_imagesci, 0.5, "Exclude", ["demos"])
    assert ex.Labels.tolist() == ["imagesci"]
    with pytest.raises(ConfigError, match="Include label 'x'"):
        splitEachLabel(demos_imagesci, 0.5, "Include", "x")
    with pytest.raises(ConfigError, match="received 2 datastores"):
        countEachLabel(splitEachLabel(demos_imagesci, 0.5))
    # a count of 0 (min(countEachLabel(ds).Count) with an empty label) is named as what it is
    with pytest.raises(ConfigError, match=r"received 0: 0 is neither a proportion in \(0, 1\) nor a count of at "
                                          r"least 1 file per label \(a count from countEachLabel"):
        splitEachLabel(demos_imagesci, np.int64(0), "randomized")
    with pytest.raises(ConfigError, match="received 0.5, 3: proportions and counts mixed"):
        splitEachLabel(demos_imagesci, 0.5, 3)


# -- trainNetwork, classify, predict, activations -------------------------------------------------------------

def tiny_layers(size=(8, 8, 3)):
    return [imageInputLayer(list(size)), convolution2dLayer(3, 4, "Padding", "same"), reluLayer,
            maxPooling2dLayer(2, "Stride", 2), fullyConnectedLayer(2), softmaxLayer, classificationLayer]


def toy_hwcn(n=24, seed=0):
    """MATLAB's H x W x C x N array (what scipy.io.loadmat gives) and string labels."""
    rng = np.random.default_rng(seed)
    y = np.array(["blast", "normal"])[np.arange(n) % 2]
    x = rng.integers(0, 60, (8, 8, 3, n)).astype(np.uint8)
    x[:4, :, :, y == "blast"] += 150
    return x, y


def test_train_network_returns_the_network_alone_and_info_with_nargout():
    x, y = toy_hwcn()
    opts = trainingOptions("adam", "MaxEpochs", 3, "MiniBatchSize", 8, "Verbose", False, "InitialLearnRate", 0.01)
    net = trainNetwork(x, y, tiny_layers(), opts, seed=0)
    assert type(net).__name__ == "SeriesNetwork"
    net2, info = trainNetwork(np.moveaxis(x, 3, 0), categorical(y), tiny_layers(), opts, nargout=2, seed=0)
    # H x W x C x N and N x H x W x C are the same data: same seed, same training
    np.testing.assert_allclose(net.Layers[1].Weights, net2.Layers[1].Weights, rtol=1e-6)
    assert info.TrainingLoss.shape == (9,) and info["TrainingLoss"] is info.TrainingLoss
    yp = classify(net2, x)
    assert isinstance(np.mean(yp == y), float) and categories(yp) == ["blast", "normal"]
    yp2, scores = classify(net2, x, nargout=2)
    assert scores.shape == (24, 2) and (yp2 == yp).all()
    one = x[:, :, :, 0]  # one H x W x C image, not 8 grey images
    assert classify(net2, one).tolist() == [yp.tolist()[0]]
    np.testing.assert_allclose(net2.predict(one), scores[:1], rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(predict(net2, x, "MiniBatchSize", 5), scores, rtol=1e-5)
    assert net2.Layers[0].Name == "imageinput" and net2.Layers[-1].Classes.tolist() == ["blast", "normal"]
    layers = net2.Layers
    layers[-3] = fullyConnectedLayer(3)  # a copy: the network is unchanged
    assert net2.Layers[-3].OutputSize == 2
    with pytest.raises(DataError, match="do not match the input layer's size"):
        classify(net2, np.zeros((5, 9, 9, 3), np.uint8))


def test_activations_rows_flatten_column_major_like_matlab():
    x, y = toy_hwcn(8)
    net = trainNetwork(x, y, tiny_layers(), trainingOptions("sgdm", MaxEpochs=1, MiniBatchSize=8, Verbose=False))
    chans = activations(net, x, "relu")
    # https://www.mathworks.com/help/deeplearning/ref/seriesnetwork.activations.html: 'channels' (the default) is
    # h x w x c x N, so a script's Act(:,:,1,i) is Act[:, :, 0, i - 1]
    assert chans.shape == (8, 8, 4, 8)
    np.testing.assert_allclose(chans[..., 2], activations(net, x[..., 2:3], "relu")[..., 0], rtol=1e-6)
    rows = activations(net, x, "relu", "OutputAs", "rows")
    # MATLAB reshapes each H x W x C activation to a row in column-major order (H fastest)
    np.testing.assert_allclose(rows, np.stack([chans[..., i].reshape(-1, order="F") for i in range(8)]))
    fc = activations(net, x, "fc")  # a fully connected layer: 1 x 1 x C x N
    assert fc.shape == (1, 1, 2, 8)
    np.testing.assert_allclose(fc[0, 0].T, activations(net, x, "fc", OutputAs="rows"))
    np.testing.assert_allclose(activations(net, x, 2, OutputAs="columns"), rows.T)
    with pytest.raises(ConfigError, match="no layer named 'nope'"):
        activations(net, x, "nope")


def test_output_fcn_stops_checkpoints_and_progress_plot_are_written(tmp_path):
    x, y = toy_hwcn(16)
    seen = []

    def stop_at_three(info):
        seen.append(info.State)
        if info.State == "iteration":
            assert info.TrainingLoss is not None and info.ValidationLoss is None  # MATLAB's [] when not validated
        if info.State == "done":
            assert info.Iteration == 3 and info.TrainingLoss is not None  # the last iteration's values
        return info.State == "iteration" and info.Iteration == 3

    opts = trainingOptions("sgdm", MaxEpochs=5, MiniBatchSize=8, Verbose=False, OutputFcn=stop_at_three,
                           CheckpointPath=str(tmp_path), Plots="training-progress")
    with pytest.warns(UserWarning, match="training-progress"):
        net, info = trainNetwork(x, y, tiny_layers(), opts, nargout=2)
    assert len(info.TrainingLoss) == 3 and seen[0] == "start" and seen[-1] == "done"
    ckpts = sorted(p.name for p in tmp_path.glob("net_checkpoint__*.keras"))
    assert [c.split("__")[1] for c in ckpts] == ["2"]  # one completed epoch of 2 iterations before the stop
    png = tmp_path / "training-progress.png"
    assert png.read_bytes()[:4] == b"\x89PNG"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary file left


def test_execution_environment_gpu_without_one_is_matlabs_clear_error():
    import tensorflow as tf

    if tf.config.list_physical_devices("GPU"):
        pytest.skip("this machine has a GPU")
    x, y = toy_hwcn(8)
    with pytest.raises(DeviceError, match="ExecutionEnvironment 'gpu' needs a supported GPU"):
        trainNetwork(x, y, tiny_layers(), trainingOptions("adam", ExecutionEnvironment="gpu", Verbose=False))
    with pytest.raises(DeviceError, match="'parallel' needs a cluster"):
        trainNetwork(x, y, tiny_layers(), trainingOptions("adam", ExecutionEnvironment="parallel", Verbose=False))


def test_execution_environment_cpu_and_seeded_augmented_training_repeat_exactly():
    from leuknet.matlab import augmentedImageDatastore, imageDataAugmenter

    x, y = toy_hwcn(16)
    aug = imageDataAugmenter("RandRotation", [-20, 20], "RandXReflection", True)
    opts = trainingOptions("adam", "MaxEpochs", 2, "MiniBatchSize", 8, "Verbose", False,
                           "ExecutionEnvironment", "cpu")
    nets = [trainNetwork(augmentedImageDatastore([8, 8], x, categorical(y), "DataAugmentation", aug),
                         tiny_layers(), opts, seed=3) for _ in range(2)]
    np.testing.assert_array_equal(nets[0].Layers[1].Weights, nets[1].Layers[1].Weights)
    other = trainNetwork(augmentedImageDatastore([8, 8], x, categorical(y), "DataAugmentation", aug),
                         tiny_layers(), opts, seed=4)
    assert not np.array_equal(other.Layers[1].Weights, nets[0].Layers[1].Weights)


def test_random_choices_draw_from_one_global_stream_as_matlabs(tmp_path):
    """https://www.mathworks.com/help/matlab/ref/rng.html: every session starts the global stream at seed 0 (the
    same script, the same numbers), each call draws new numbers from it (two 'randomized' splits are two splits:
    a repeated-split loop gets new folds), rng(seed) starts it again; Seed= (leuknet's) leaves it alone."""
    import subprocess
    import sys

    from leuknet.matlab import augment, imageDataAugmenter, rng, shuffle
    from leuknet.matlab.randstream import draw_seed

    for label in ("all", "hem"):
        for i in range(20):
            _png(tmp_path / label / f"{label}{i:02d}.png", i)
    imds = imageDatastore(tmp_path, "IncludeSubfolders", True, "LabelSource", "foldernames")
    rng("default")
    first = splitEachLabel(imds, 0.5, "randomized", nargout=1)
    second = splitEachLabel(imds, 0.5, "randomized", nargout=1)
    assert first.Files != second.Files
    rng("default")
    assert splitEachLabel(imds, 0.5, "randomized", nargout=1).Files == first.Files
    s = rng()
    shuffled = shuffle(imds).Files
    assert shuffle(imds).Files != shuffled
    rng(s)  # restores the settings rng() returned
    assert shuffle(imds).Files == shuffled
    s = rng(7)
    before = rng()["State"]
    own = splitEachLabel(imds, 0.5, "randomized", Seed=3, nargout=1)
    assert rng()["State"] == before and own.Files == splitEachLabel(imds, 0.5, "randomized", Seed=3, nargout=1).Files
    # augment(aug, I) draws from the same stream
    aug = imageDataAugmenter("RandRotation", [-180, 180])
    img = np.arange(64, dtype=np.uint8).reshape(8, 8)
    rng(1)
    a = augment(aug, img)
    b = augment(aug, img)
    rng(1)
    np.testing.assert_array_equal(augment(aug, img), a)
    assert not np.array_equal(a, b)
    # a fresh process starts where rng('default') does
    fresh = subprocess.run([sys.executable, "-c", "from leuknet.matlab.randstream import draw_seed; "
                            "print(draw_seed())"], capture_output=True, text=True, timeout=120,
                           cwd=Path(__file__).resolve().parents[1])
    rng("default")
    assert fresh.returncode == 0 and int(fresh.stdout) == draw_seed(), fresh.stderr
    with pytest.raises(ConfigError, match="rng: the seed must be an integer"):
        rng(-1)
    with pytest.raises(ConfigError, match="rng: expected a seed, 'default', 'shuffle'"):
        rng("twist")
    rng("default")


def test_train_network_draws_its_seed_from_the_global_stream():
    from leuknet.matlab import rng

    x, y = toy_hwcn(16)
    opts = trainingOptions("adam", "MaxEpochs", 1, "MiniBatchSize", 8, "Verbose", False)
    rng(11)
    a, b = (trainNetwork(x, y, tiny_layers(), opts) for _ in range(2))
    rng(11)
    again = trainNetwork(x, y, tiny_layers(), opts)
    np.testing.assert_array_equal(again.Layers[1].Weights, a.Layers[1].Weights)
    assert not np.array_equal(a.Layers[1].Weights, b.Layers[1].Weights)
    rng("default")


def test_train_network_on_an_image_datastore(cnmc_like):
    from leuknet.matlab import conventions

    conventions._NOTED.clear()  # said once per process: another test in this process may have said it
    imds = imageDatastore(cnmc_like, "IncludeSubfolders", True, "LabelSource", "foldernames")
    train, test = splitEachLabel(imds, 0.6, "randomized")
    opts = trainingOptions("adam", MaxEpochs=4, MiniBatchSize=4, Verbose=False, InitialLearnRate=0.01,
                           ValidationData=test)
    with pytest.warns(UserWarning, match="resizes the images"):
        net = trainNetwork(train, tiny_layers(), opts)
    yp = classify(net, test)
    assert len(yp) == len(test) and categories(yp) == ["all", "hem"]
    assert np.mean(yp == test.Labels) >= 0.5
    with pytest.raises(ConfigError, match="received 2 datastores"):
        trainNetwork(splitEachLabel(imds, 0.6), tiny_layers(), opts)
    with pytest.raises(ConfigError, match="no training options"):
        trainNetwork(train, tiny_layers())
    assert os.path.isfile(imds.Files[0])


def test_unique_with_its_index_vectors_as_the_page_shows():
    """https://www.mathworks.com/help/matlab/ref/double.unique.html: A = [9 2 9 5] gives C = [2 5 9],
    ia = [2 4 1], ic = [3 1 3 2] (1-based; 0-based in a port); C = A(ia) and A = C(ic) in every mode."""
    from leuknet.matlab import categorical, categories, unique

    C, ia, ic = unique([9, 2, 9, 5], nargout=3)
    assert C.tolist() == [2, 5, 9] and ia.tolist() == [1, 3, 0] and ic.tolist() == [2, 0, 2, 1]
    A = np.array([4, 1, 4, 4, 3, 1])
    for flag, c, first in (("stable", [4, 1, 3], [0, 1, 4]), ("last", [1, 3, 4], [5, 4, 3])):
        C, ia, ic = unique(A, flag, nargout=3)
        assert C.tolist() == c and ia.tolist() == first
        np.testing.assert_array_equal(A[ia], C)
        np.testing.assert_array_equal(C[ic], A)
    labels = categorical(["b", "a", "b", "c"], ["c", "b", "a"])  # a categorical: in its categories' order
    G, _, idx = unique(labels, nargout=3)
    assert G.tolist() == ["c", "b", "a"] and categories(G) == ["c", "b", "a"] and idx.tolist() == [1, 2, 1, 0]


def test_isprop_char_grp2idx_and_fileparts_as_the_pages_show():
    """isprop (https://www.mathworks.com/help/matlab/ref/isprop.html) in a freezing loop; char of a categorical
    and of codes (char.html: char(65) is 'A'); grp2idx's example (stats/grp2idx.html: categories '0s', '10s', ...,
    '90s', the ages 38 43 38 40 49 in groups 4 5 4 5 5, gL(g) and gN(g) giving the input back) and numbers in sorted
    groups; fileparts (fileparts.html: the extension from the last dot, with it)."""
    from leuknet.matlab import categorical, char, fileparts, fullyConnectedLayer, grp2idx, isprop, reluLayer

    layers = [convolution2dLayer(3, 4), reluLayer(), fullyConnectedLayer(2)]
    for layer in layers:
        if isprop(layer, "WeightLearnRateFactor"):
            layer.WeightLearnRateFactor = 0
    assert [getattr(l, "WeightLearnRateFactor", None) for l in layers] == [0, None, 0]
    assert isprop(layers, "Weights").tolist() == [True, False, True] and not isprop(layers[0], "weights")
    assert char(65) == "A" and char([72, 105]) == "Hi" and char("x") == "x"
    labels = categorical(["hem", "all", "hem"])
    assert "Predicted: " + char(labels[0]) == "Predicted: hem" and char(labels) == ["hem", "all", "hem"]
    bins = [f"{d}s" for d in range(0, 100, 10)]
    s = categorical(["30s", "40s", "30s", "40s", "40s"], bins)
    g, gN, gL = grp2idx(s, nargout=3)
    assert g.tolist() == [4, 5, 4, 5, 5] and gN == bins
    assert [gN[int(i) - 1] for i in g] == ["30s", "40s", "30s", "40s", "40s"]
    assert gL[[int(i) - 1 for i in g]].tolist() == ["30s", "40s", "30s", "40s", "40s"]
    g, gN = grp2idx([1, 3, 2, 5, 3, np.nan], nargout=2)
    assert g[:5].tolist() == [1, 3, 2, 4, 3] and np.isnan(g[5]) and gN == ["1", "2", "3", "5"]
    with pytest.raises(ConfigError, match="make text groups categorical"):
        grp2idx(["a", "b"])
    _, gN, gL = grp2idx(np.array([1234568, 1234567, 2], np.int32), nargout=3)  # num2str: whole numbers exactly
    assert gN == ["2", "1234567", "1234568"] and gL.dtype == np.int32 and grp2idx([np.pi], nargout=2)[1] == ["3.1416"]
    with pytest.raises(ConfigError, match="from logical is not possible"):
        char(True)
    assert char([]) == "" and char(np.array([], np.float64)) == ""
    with pytest.raises(ConfigError, match="expected a file name, received int"):
        fileparts(123)
    assert fileparts("/data/C-NMC/all/UID_1.bmp", nargout=3) == ("/data/C-NMC/all", "UID_1", ".bmp")
    assert fileparts("cells.tar.gz", nargout=3) == ("", "cells.tar", ".gz")
    assert fileparts("/data/", nargout=3) == ("/data", "", "") and fileparts("/data/x.png") == "/data"


def test_fullfile_follows_the_pages_rules():
    """https://www.mathworks.com/help/matlab/ref/fullfile.html: separators inserted where needed, none trailing
    added; leading and trailing separators kept; inner repeats collapsed unless at the start; '.' collapsed unless
    at the end; '..' kept; a list of names gives a list (MATLAB's cell array)."""
    from leuknet.matlab import fullfile

    assert fullfile("myfolder", "mysubfolder", "myfile.m") == "myfolder/mysubfolder/myfile.m"
    assert fullfile("/home/", "/user//data", "") == "/home/user/data"  # os.path.join would give /user//data
    assert fullfile("data", "train/") == "data/train/"
    assert fullfile("//server", "share", "a") == "//server/share/a"
    assert fullfile("a", ".", "b", "..", "c") == "a/b/../c"
    assert fullfile("a", "b", ".") == "a/b/."
    assert fullfile("cells", ["x.png", "y.png"]) == ["cells/x.png", "cells/y.png"]
    assert fullfile() == ""
    with pytest.raises(ConfigError, match="the parts must be text, received int"):
        fullfile("a", 3)
