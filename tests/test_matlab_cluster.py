"""kmeans and imsegkmeans (leuknet/matlab/cluster.py) against SciPy's k-means and the properties MathWorks'
kmeans page states (Lloyd's fixed point, k-means++ seeding, replicates, empty clusters, NaN rows)."""

from collections import Counter

import numpy as np
import pytest
from scipy.cluster.vq import kmeans2

from leuknet.errors import ConfigError
from leuknet.matlab import imsegkmeans, kmeans, rng

BLOBS = np.vstack([np.random.default_rng(3).normal(m, 0.4, (40, 2)) for m in ([0, 0], [6, 6], [0, 7])])


def same_partition(a, b):
    pairs = Counter(zip(np.asarray(a).tolist(), np.asarray(b).tolist()))
    return len(pairs) == len(set(a)) == len(set(b))


def test_separated_clusters_match_scipy_and_the_outputs_agree():
    rng(1)
    idx, C, sumd, D = kmeans(BLOBS, 3, nargout=4)
    _, theirs = kmeans2(BLOBS, 3, minit="++", seed=1)
    assert same_partition(idx, theirs)
    assert set(np.unique(idx)) == {1.0, 2.0, 3.0}  # MATLAB's cluster numbers
    for j in range(3):
        members = BLOBS[idx == j + 1]
        np.testing.assert_allclose(C[j], members.mean(axis=0))
        np.testing.assert_allclose(sumd[j], ((members - C[j]) ** 2).sum())
    np.testing.assert_allclose(D, ((BLOBS[:, None, :] - C[None]) ** 2).sum(axis=2))


@pytest.mark.parametrize("distance", ["sqeuclidean", "cityblock", "cosine"])
def test_every_result_is_a_lloyd_fixed_point(distance):
    rng(7)
    X = np.abs(np.random.default_rng(4).normal(2, 1, (90, 3)))  # no cluster structure
    idx, C, _, D = kmeans(X, 4, "Distance", distance, "Replicates", 2, nargout=4)
    np.testing.assert_array_equal(np.argmin(D, axis=1) + 1, idx)  # every point nearest its own centre
    for j in range(4):
        members = X[idx == j + 1]
        if distance == "sqeuclidean":
            np.testing.assert_allclose(C[j], members.mean(axis=0))
        elif distance == "cityblock":
            np.testing.assert_allclose(C[j], np.median(members, axis=0))
        else:  # MATLAB's centroid: the mean of the unit-length points (normalised only inside the distance)
            unit = members / np.linalg.norm(members, axis=1, keepdims=True)
            np.testing.assert_allclose(C[j], unit.mean(axis=0))


def test_replicates_seeds_nan_rows_and_empty_clusters():
    X = np.random.default_rng(5).random((60, 2))
    rng(3)
    one = [kmeans(X, 5, nargout=3)[2].sum() for _ in range(6)]
    rng(3)
    best = kmeans(X, 5, "Replicates", 6, nargout=3)[2].sum()
    assert best == pytest.approx(min(one))  # the replicate with the least total distance
    rng(11)
    a = kmeans(X, 3)
    rng(11)
    np.testing.assert_array_equal(kmeans(X, 3), a)  # repeatable from rng's seed
    with_nan = X.copy()
    with_nan[4, 1] = np.nan
    assert np.isnan(kmeans(with_nan, 3)[4]) and not np.isnan(np.delete(kmeans(with_nan, 3), 4)).any()
    far = np.array([[100.0, 100.0], [0.2, 0.2], [0.5, 0.5]])  # a start centre no point is nearest
    idx, C, sumd, D = kmeans(X, 3, "Start", far, "EmptyAction", "drop", nargout=4)
    assert np.isnan(C[0]).all() and 1 not in idx
    assert np.isnan(sumd[0]) and np.isnan(D[:, 0]).all() and not np.isnan(D[:, 1:]).any()  # NaN, as the page says
    assert set(kmeans(X, 3, "Start", far)) == {1.0, 2.0, 3.0}  # 'singleton' restarts it on the farthest point
    with pytest.raises(ConfigError, match="EmptyAction 'error'"):
        kmeans(X, 3, "Start", far, "EmptyAction", "error")


def test_ties_stay_and_empty_clusters_take_a_point_from_a_cluster_of_two_or_more():
    """MathWorks' batch phase: a point tied with its own centre does not move (no endless back and forth, no false
    "failed to converge"), and an emptied cluster takes the farthest point from a cluster that keeps a member."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        idx = kmeans([[0.0], [0.0], [0.0], [1.0]], None, "Start", [[0.0], [5.0], [6.0]])
        assert sorted(set(idx)) == [1.0, 2.0, 3.0] and idx[3] == 2.0  # the far point re-seeds cluster 2
        rng(2)
        same = kmeans(np.zeros((5, 2)), 2)
        assert sorted(set(same)) == [1.0, 2.0]
        rng(2)
        L = imsegkmeans(np.full((6, 6), 7, np.uint8), 3)
        assert sorted(set(L.ravel())) == [1, 2, 3]


def test_imsegkmeans_separates_two_stains():
    g = np.random.default_rng(2)
    img = np.zeros((40, 50, 3))
    img[:] = [0.8, 0.7, 0.75]  # pale background
    img[10:30, 15:35] = [0.35, 0.1, 0.5]  # a purple nucleus
    img = np.clip(img + g.normal(0, 0.03, img.shape), 0, 1)
    rng(0)
    L, centers = imsegkmeans(img.astype(np.float32), 2, nargout=2)
    assert L.dtype == np.uint8 and centers.dtype == np.float32 and centers.shape == (2, 3)
    truth = np.zeros((40, 50), int)
    truth[10:30, 15:35] = 1
    assert same_partition(L.ravel(), truth.ravel())
    nucleus = int(L[20, 25]) - 1
    np.testing.assert_allclose(centers[nucleus], [0.35, 0.1, 0.5], atol=0.02)
    L8, c8 = imsegkmeans((img * 255).astype(np.uint8), 2, "NormalizeInput", False, nargout=2)
    assert same_partition(L8.ravel(), truth.ravel()) and c8.dtype == np.uint8


@pytest.mark.parametrize("call, words", [
    (lambda: kmeans(BLOBS, 0), "k must be"),
    (lambda: kmeans(BLOBS, 500), "fewer than k"),
    (lambda: kmeans(BLOBS, 3, "Distance", "hamming"), "Distance"),
    (lambda: kmeans(BLOBS, 3, "OnlinePhase", "on"), "online phase"),
    (lambda: kmeans(BLOBS, 3, "Start", np.zeros((3, 5))), "k x 2"),
    (lambda: imsegkmeans(np.zeros((4, 4, 3), np.float32), 300), "k must be"),
    (lambda: imsegkmeans("image.png", 2), "feature image"),
    (lambda: imsegkmeans(np.zeros((4, 4, 3)), 2), "im2single"),
    (lambda: kmeans([["a"]], 1), "real numbers"),
    (lambda: kmeans(np.array([[1.0], [np.inf]]), 1), "finite"),
    (lambda: kmeans(BLOBS, 2, "Start", BLOBS[:3]), "rows of Start"),
    (lambda: kmeans(BLOBS, 2, "Start", ["a", "b"]), "Start"),
    (lambda: kmeans(BLOBS, 2, "Options", {"MaxIter": 5}), "statset"),
])
def test_bad_input_is_one_line(call, words):
    with pytest.raises(ConfigError) as e:
        call()
    assert words in str(e.value) and "\n" not in str(e.value)


def test_kmeans_plus_plus_seeds_by_squared_distance():
    """k-means++ (Arthur & Vassilvitskii; MATLAB's 'plus'): the first seed uniform, the next drawn with probability
    proportional to its squared distance from the seeds so far. On the points 0, 1, 3 after the seed 0 the next
    is 1 with probability 1 / (1 + 9) and 3 with 9 / 10."""
    from leuknet.matlab.cluster import _seed

    X = np.array([[0.0], [1.0], [3.0]])
    g = np.random.default_rng(0)
    seconds = Counter()
    for _ in range(4000):
        first, second = _seed(X, 2, "sqeuclidean", "plus", g)[:, 0]
        if first == 0:
            seconds[second] += 1
    total = sum(seconds.values())
    assert 1200 < total < 1500  # the first seed uniform: a third of the draws start at 0
    assert abs(seconds[3.0] / total - 0.9) < 0.03 and seconds[0.0] == 0
