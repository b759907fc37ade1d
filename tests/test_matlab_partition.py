"""cvpartition, the three-argument categorical, countcats and tabulate against MATLAB's printed outputs and sizes
worked by hand from MathWorks' cvpartition.m (k-fold deals 1 + mod((1:N)', k); a hold-out keeps floor(N p) out,
stratified per group floor(n_g p) plus the difference, groups without any first)."""

import numpy as np
import pytest

from leuknet.errors import ConfigError
from leuknet.matlab import (categorical, categories, countcats, cvpartition, imageDatastore, repartition, rng,
                            subset, tabulate, test, training)


def test_kfold_fold_sizes_are_matlabs_and_the_folds_partition_the_data():
    # MATLAB's printout in gnu-octave/statistics issue 227: y = randi(30,1,50); cvpartition(y,'KFold',10) gives
    # TrainSize 45 (x10) and TestSize 5 (x10), stratified on 30 groups
    y = np.random.default_rng(3).integers(1, 31, 50)
    c = cvpartition(y, "KFold", 10)
    assert c.TestSize.tolist() == [5] * 10 and c.TrainSize.tolist() == [45] * 10 and c.NumObservations == 50
    # 1 + mod((1:52)', 5) is 2 3 4 5 1 2 ...: folds 1..5 hold 10, 11, 11, 10, 10, stratified or not
    for made in (cvpartition(52, "KFold", 5), cvpartition(np.repeat(["all", "hem"], 26), "KFold", 5)):
        assert made.TestSize.tolist() == [10, 11, 11, 10, 10] and made.NumTestSets == 5
        masks = np.stack([test(made, i) for i in range(5)])
        assert (masks.sum(0) == 1).all()  # every observation in exactly one test fold
        for i in range(5):
            np.testing.assert_array_equal(training(made, i), ~masks[i])
    # stratified: each class spread over the folds within one observation of n_c / k
    group = categorical(np.repeat(["a", "b", "c"], [20, 13, 7]))
    c = cvpartition(group, "KFold", 5)
    for cls, n in (("a", 20), ("b", 13), ("c", 7)):
        per_fold = [int(np.sum(test(c, i) & (group == cls))) for i in range(5)]
        assert sum(per_fold) == n and max(per_fold) - min(per_fold) <= 1, (cls, per_fold)
    # 'Stratify', false on a group: not stratified, same fold sizes; the default k is 10
    assert cvpartition(group, "KFold", 5, "Stratify", False).TestSize.tolist() == [8] * 5
    assert cvpartition(40, "KFold").NumTestSets == 10
    assert "K-fold cross validation partition" in repr(c) and "TestSize: 8  8  8  8  8" in repr(c)


def test_holdout_sizes_are_matlabs():
    c = cvpartition(150, "HoldOut", 0.3)  # floor(150 * 0.3) = 45 out
    assert (c.TestSize, c.TrainSize, c.NumTestSets) == (45, 105, 1)
    np.testing.assert_array_equal(training(c), ~test(c))
    assert cvpartition(10, "Holdout", 3).TestSize == 3  # an integer: that many out
    # stratified, worked by hand from stra_holdoutcv: groups of 7, 2 and 1 at 0.3 keep floor([2.1 0.6 0.3]) =
    # [2 0 0] out; floor(10 * 0.3) = 3 is one more, given to the first group with none: [2 1 0]
    g = np.repeat([1, 2, 3], [7, 2, 1])
    c = cvpartition(g, "HoldOut", 0.3)
    assert [int(np.sum(test(c) & (g == k))) for k in (1, 2, 3)] == [2, 1, 0]
    # three groups of 5 at 0.5: 2 each, and floor(7.5) = 7 gives one group, drawn at random, a third
    g = np.repeat([1, 2, 3], 5)
    c = cvpartition(g, "HoldOut", 0.5)
    assert c.TestSize == 7 and sorted(int(np.sum(test(c) & (g == k))) for k in (1, 2, 3)) == [2, 2, 3]


def test_missing_groups_are_in_no_set_and_draws_follow_the_global_stream():
    # MATLAB's NumObservations counts them (cvpartition.m: N = length(group), NaNs included)
    g = np.array([1, 1, 2, np.nan, 2, 1, 2, 1])
    c = cvpartition(g, "KFold", 2)
    assert c.NumObservations == 8 and not any(test(c, i)[3] or training(c, i)[3] for i in range(2))
    assert sum(int(test(c, i).sum()) for i in range(2)) == 7
    labels = categorical(["all", "hem", "", "all"], ["all", "hem"])  # '' is not a category: undefined
    c = cvpartition(labels, "HoldOut", 1)
    assert c.NumObservations == 4 and not (test(c)[2] or training(c)[2])
    rng(0)
    first = test(cvpartition(30, "HoldOut", 0.2))
    second = test(cvpartition(30, "HoldOut", 0.2))
    rng(0)
    assert (test(cvpartition(30, "HoldOut", 0.2)) == first).all() and not (first == second).all()
    c = cvpartition(30, "KFold", 3, Seed=4)
    d = repartition(c)
    assert d.TestSize.tolist() == c.TestSize.tolist() == [10, 10, 10]
    assert not all((test(c, i) == test(d, i)).all() for i in range(3))
    assert cvpartition(5, "Leaveout").NumTestSets == 5 and cvpartition(5, "Resubstitution").TestSize == 5


def test_a_partition_picks_files_of_a_datastore(tmp_path):
    import cv2

    (tmp_path / "c").mkdir()
    for i in range(6):
        cv2.imwrite(str(tmp_path / "c" / f"{i}.png"), np.full((4, 4, 3), i, np.uint8))
    imds = imageDatastore(tmp_path, "IncludeSubfolders", True, "LabelSource", "foldernames")
    c = cvpartition(len(imds.Files), "HoldOut", 2)
    train, held = subset(imds, training(c)), subset(imds, test(c))
    assert len(train.Files) == 4 and sorted(train.Files + held.Files) == imds.Files


def test_cvpartition_refuses_bad_requests_in_one_line():
    c = cvpartition(10, "KFold", 5)
    for call, message in [(lambda: training(c), "give the index, training(c, i) with i in 0..4 (0-based)"),
                          (lambda: test(c, 5), "MATLAB's test(c, 1) is test(c, 0)"),
                          (lambda: cvpartition(10, "HoldOut", 1.5), "HoldOut takes a proportion in (0, 1)"),
                          (lambda: cvpartition(10, "HoldOut", 0.05), "holds none out"),
                          (lambda: cvpartition(10, "HoldOut", 10), "must be below their number, 10"),
                          (lambda: cvpartition(10, "KFold", 1), "number of folds must be an integer above 1"),
                          (lambda: cvpartition(1, "KFold", 2), "integer above 1"),
                          (lambda: cvpartition(10, "Bootstrap"), "the method must be one of"),
                          (lambda: cvpartition(10), "give a method")]:
        with pytest.raises(ConfigError) as e:
            call()
        assert message in str(e.value) and "\n" not in str(e.value), str(e.value)


def test_categorical_with_names_countcats_and_tabulate():
    # https://www.mathworks.com/help/matlab/ref/categorical.html: categorical(A,[1 2 3],{'red' 'green' 'blue'})
    # on A = [1 3 2; 2 1 3; 3 1 2] reads red blue green / green red blue / blue red green
    B = categorical(np.array([[1, 3, 2], [2, 1, 3], [3, 1, 2]]).ravel(), [1, 2, 3], ["red", "green", "blue"])
    assert categories(B) == ["red", "green", "blue"]
    assert np.asarray(B).tolist() == ["red", "blue", "green", "green", "red", "blue", "blue", "red", "green"]
    y = categorical([0, 1, 1, 0, 2, 1], [0, 1], ["Healthy", "ALL"])  # 2 is not in valueset: undefined
    assert categories(y) == ["Healthy", "ALL"] and countcats(y).tolist() == [2, 3]
    merged = categorical([1, 2, 3, 3], [1, 2, 3], ["low", "low", "high"])  # a name twice merges the values
    assert categories(merged) == ["low", "high"] and countcats(merged).tolist() == [2, 2]
    assert countcats(categorical(["b", "a"], ["a", "b", "c"])).tolist() == [1, 1, 0]
    with pytest.raises(ConfigError, match="2 category names for 3 values in valueset"):
        categorical([1], [1, 2, 3], ["x", "y"])
    # https://www.mathworks.com/help/stats/tabulate.html: positive integers are counted from 1 to max(x)
    t = tabulate([1, 2, 4, 4, 3, 4, 6])
    assert t.Value == [1, 2, 3, 4, 5, 6] and t.Count.tolist() == [1, 1, 1, 3, 0, 1]
    np.testing.assert_allclose(t.Percent, 100 * np.array([1, 1, 1, 3, 0, 1]) / 7)
    t = tabulate(y)
    assert t.Value == ["Healthy", "ALL"] and t.Count.tolist() == [2, 3]
    assert tabulate(["hem", "all", "hem"]).Value == ["hem", "all"]  # text: in order of appearance
    # MATLAB's repmat(C, 3, 1) of a label vector ports as np.tile(C, 3): still categorical, its categories kept
    tiled = np.tile(y, 2)
    assert categories(tiled) == ["Healthy", "ALL"] and countcats(tiled).tolist() == [4, 6]
    assert np.asarray(np.repeat(categorical(["a", "b"]), 2)).tolist() == ["a", "a", "b", "b"]
