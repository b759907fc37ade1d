"""Layers against NumPy transcriptions of MATLAB's documented formulas, under the Keras backend the tests run
with (TensorFlow; JAX in CI's second run): tests of what only TensorFlow has are marked ``tensorflow_only``."""

import ml_dtypes
import numpy as np
import pytest
import keras
from keras import ops

from backend_utils import BACKEND, dtype_name, to_numpy, traced_call, value_and_grad
from leuknet.layers import (ClassificationOutput, CrossChannelNormalization, GroupedConv2D, ImageInputNormalization,
                            crossentropyex, input_statistics)


def lrn_reference(x, w, alpha, beta, k):
    """MATLAB crossChannelNormalizationLayer, float64: window floor((w-1)/2) before, floor(w/2) after."""
    x = np.asarray(x, np.float64)
    c = x.shape[-1]
    ss = np.zeros_like(x)
    for i in range(c):
        lo, hi = max(0, i - (w - 1) // 2), min(c, i + w // 2 + 1)
        ss[..., i] = np.sum(x[..., lo:hi] ** 2, axis=-1)
    return x / (k + alpha * ss / w) ** beta


@pytest.mark.parametrize("w", [1, 2, 3, 4, 5, 6, 7, 16])
@pytest.mark.parametrize("beta", [0.75, 0.6])
def test_cross_channel_normalization_matches_matlab_formula(w, beta):
    rng = np.random.default_rng(w)
    x = rng.normal(0, 20, (2, 4, 5, 19)).astype(np.float32)
    layer = CrossChannelNormalization(w, alpha=0.3, beta=beta, k=1.5)
    y = to_numpy(layer(x))
    ref = lrn_reference(x, w, 0.3, beta, 1.5)
    np.testing.assert_allclose(y, ref, rtol=2e-6, atol=1e-6)


def central_difference_gradient(f, x, h=1e-5):
    """The gradient of scalar ``f`` at float64 ``x`` by central differences, one element at a time (float64:
    truncation ~h^2, rounding ~1e-16 |f| / h, both far below the float32 tolerances it is compared at)."""
    x = np.array(x, np.float64)
    g = np.empty_like(x)
    flat, gflat = x.reshape(-1), g.reshape(-1)
    for i in range(flat.size):
        v = flat[i]
        flat[i] = v + h
        up = f(x)
        flat[i] = v - h
        down = f(x)
        flat[i] = v
        gflat[i] = (up - down) / (2 * h)
    return g


@pytest.mark.parametrize("w", [4, 5])
def test_cross_channel_normalization_gradient_matches_numerical_gradient_of_formula(w):
    rng = np.random.default_rng(0)
    x = rng.normal(0, 10, (2, 3, 3, 9)).astype(np.float32)
    alpha, beta, k = 0.05, 0.75, 2.0
    layer = CrossChannelNormalization(w, alpha, beta, k)
    _, g = value_and_grad(lambda v: ops.sum(ops.sin(layer(v))), x)  # the layer's hand-written gradient
    # independent of it: central differences, in float64, of the NumPy transcription of MATLAB's formula
    ref = central_difference_gradient(lambda v: np.sum(np.sin(lrn_reference(v, w, alpha, beta, k))), x)
    np.testing.assert_allclose(g, ref, rtol=1e-4, atol=1e-5)


@pytest.mark.tensorflow_only
def test_cross_channel_normalization_equals_tf_lrn_for_odd_window_with_alpha_over_w():
    import tensorflow as tf

    x = np.random.default_rng(1).normal(0, 5, (1, 3, 3, 12)).astype(np.float32)
    y = CrossChannelNormalization(5, 1e-4, 0.75, 2.0)(x).numpy()
    ref = tf.nn.local_response_normalization(x, depth_radius=2, bias=2.0, alpha=1e-4 / 5, beta=0.75).numpy()
    np.testing.assert_allclose(y, ref, rtol=1e-6)


@pytest.mark.parametrize("dtype,tol", [("bfloat16", 3e-2), ("float16", 3e-3)])
def test_cross_channel_normalization_low_precision_compute_dtypes(dtype, tol):
    x = np.random.default_rng(2).normal(0, 3, (2, 4, 4, 8)).astype(np.float32)
    layer = CrossChannelNormalization(5, 1e-2, 0.75, 2.0, dtype=keras.DTypePolicy(f"mixed_{dtype}"))
    y = layer(x)
    assert dtype_name(y) == dtype
    np.testing.assert_allclose(to_numpy(ops.cast(y, "float32")), lrn_reference(x, 5, 1e-2, 0.75, 2.0), rtol=tol,
                               atol=tol)


def test_cross_channel_normalization_rejects_bad_window():
    with pytest.raises(ValueError, match="1 to 16"):
        CrossChannelNormalization(17)


def test_layers_serialise_and_reload(tmp_path):
    inp = keras.Input((6, 6, 4))
    x = ImageInputNormalization("zscore", "channel", colorspace="hsv", name="imageinput")(inp)
    x = GroupedConv2D(3, 3, 2, padding="same", name="gconv")(x)
    x = CrossChannelNormalization(4, 1e-3, 0.7, 1.0, name="norm")(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(2)(x)
    x = keras.layers.Softmax()(x)
    x = ClassificationOutput(["a", "b"], [1.0, 2.0], name="out")(x)
    model = keras.Model(inp, x)
    model.get_layer("imageinput").set_statistics(mean=[1, 2, 3, 4], std=[2, 2, 2, 2], min=0, max=255)
    data = np.random.default_rng(0).uniform(0, 255, (3, 6, 6, 4)).astype(np.float32)
    before = to_numpy(model(data))
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.models.load_model(path, safe_mode=True)
    np.testing.assert_allclose(to_numpy(loaded(data)), before, rtol=1e-6)
    assert loaded.get_layer("imageinput").colorspace == "hsv"
    assert loaded.get_layer("out").classes == ["a", "b"]
    assert loaded.get_layer("out").class_weights == [1.0, 2.0]


def test_grouped_conv_equals_keras_grouped_conv():
    x = np.random.default_rng(3).normal(size=(2, 9, 9, 6)).astype(np.float32)
    g = GroupedConv2D(4, (3, 3), 2, strides=2, padding="valid")
    y = g(x)
    k = keras.layers.Conv2D(8, 3, strides=2, groups=2)
    k.build(x.shape)
    k.kernel.assign(g.kernel)
    k.bias.assign(np.arange(8, dtype=np.float32))
    g.bias.assign(np.arange(8, dtype=np.float32))
    np.testing.assert_allclose(to_numpy(g(x)), to_numpy(k(x)), rtol=1e-5, atol=1e-5)
    assert y.shape == (2, 4, 4, 8)


@pytest.mark.parametrize("multiplier,strides,padding", [(1, 2, "same"), (2, 1, "valid"), (1, 1, "same")])
def test_depthwise_grouped_conv_equals_keras_depthwise_conv(multiplier, strides, padding):
    """One channel per group (MobileNet's depthwise layers, ``groupedConvolution2dLayer(3, 1, C)``): the output
    and the gradients equal Keras's DepthwiseConv2D with the same kernel (its (FH, FW, C, M) layout is the grouped
    kernel (FH, FW, 1, C * M) in the same order)."""
    rng = np.random.default_rng(5)
    x = rng.normal(size=(2, 8, 8, 6)).astype(np.float32)
    g = GroupedConv2D(multiplier, (3, 3), 6, strides=strides, padding=padding)
    g.build(x.shape)
    g.bias.assign(rng.normal(size=6 * multiplier).astype(np.float32))
    k = keras.layers.DepthwiseConv2D(3, strides=strides, padding=padding, depth_multiplier=multiplier)
    k.build(x.shape)
    k.kernel.assign(to_numpy(g.kernel).reshape(3, 3, 6, multiplier))
    k.bias.assign(to_numpy(g.bias))
    np.testing.assert_allclose(to_numpy(g(x)), to_numpy(k(x)), rtol=1e-5, atol=1e-5)
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        xt = tf.constant(x)
        with tf.GradientTape(persistent=True) as tape:
            tape.watch(xt)
            a, b = tf.reduce_sum(g(xt) ** 2), tf.reduce_sum(k(xt) ** 2)
        np.testing.assert_allclose(tape.gradient(a, xt), tape.gradient(b, xt), rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(to_numpy(tape.gradient(a, g.kernel)).reshape(3, 3, 6, multiplier),
                                   tape.gradient(b, k.kernel), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("mode", ["zerocenter", "zscore", "rescale-symmetric", "rescale-zero-one", "none"])
@pytest.mark.parametrize("dim", ["channel", "element"])
def test_input_normalization_modes(mode, dim):
    rng = np.random.default_rng(4)
    train = rng.integers(0, 256, (10, 5, 4, 3)).astype(np.float64)
    axes = (0, 1, 2) if dim == "channel" else (0,)
    mean, std = train.mean(axis=axes), train.std(axis=axes)
    lo, hi = train.min(axis=axes), train.max(axis=axes)
    stats = input_statistics([train[:4], train[4:]], mode, dim)  # two batches: one pass, same result
    np.testing.assert_allclose(stats["mean"], mean)
    np.testing.assert_allclose(stats["std"], np.where(std == 0, 1, std))
    layer = ImageInputNormalization(mode, dim)
    layer.build((None, 5, 4, 3))
    layer.set_statistics(**stats)
    x = rng.integers(0, 256, (2, 5, 4, 3)).astype(np.float32)
    expected = {"zerocenter": x - mean, "zscore": (x - mean) / std, "rescale-symmetric": 2 * (x - lo) / (hi - lo) - 1,
                "rescale-zero-one": (x - lo) / (hi - lo), "none": x}[mode]
    np.testing.assert_allclose(to_numpy(layer(x)), expected, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("dim", ["channel", "element"])
def test_input_statistics_of_8_bit_batches_are_the_float64_ones_exactly(dim):
    """8-bit batches (images in memory) are summed in integers: the same float64 statistics, bit for bit, as
    float64 sums of the same pixels, and as NumPy's float64 mean and population standard deviation."""
    from leuknet.data.pipeline import ImageData

    rng = np.random.default_rng(7)
    images = rng.integers(0, 256, (37, 6, 5, 3), dtype=np.uint8)
    images[..., 2] = 255  # a constant channel
    data = ImageData(np.arange(37) % 2, (6, 5), images=images)
    eight_bit = list(data.iter_uint8(16))
    assert all(b.dtype == np.uint8 for b in eight_bit) and np.array_equal(np.concatenate(eight_bit), images)
    exact = input_statistics(eight_bit, "zscore", dim)
    floats = input_statistics([b.astype(np.float64) for b in eight_bit], "zscore", dim)
    for key in ("mean", "std", "min", "max"):
        assert exact[key].dtype == np.float64 and np.array_equal(exact[key], floats[key]), key
    axes = (0, 1, 2) if dim == "channel" else (0,)
    np.testing.assert_allclose(exact["mean"], images.mean(axis=axes, dtype=np.float64), rtol=1e-15)
    std = images.astype(np.float64).std(axis=axes)
    np.testing.assert_allclose(exact["std"], np.where(std == 0, 1, std), rtol=1e-12)
    # transformed (here mirrored) images go through the pipeline: tf.data's as float32 pixel values, the NumPy
    # one's (other backends) as 8-bit images; per channel, the same statistics
    mirrored = ImageData(np.arange(37) % 2, (6, 5), images=images, transforms=np.full(37, 4, np.int32))
    batches = list(mirrored.iter_uint8(16))
    assert all(b.dtype == (np.float32 if BACKEND == "tensorflow" else np.uint8) for b in batches)
    assert np.array_equal(np.concatenate(batches), images[:, :, ::-1])
    if dim == "channel":
        assert np.array_equal(input_statistics(batches, "zscore", dim)["mean"], exact["mean"])


# Under JAX, XLA's algebraic simplifier (jaxlib 0.10.2, CPU) computes x / broadcast(s) as x * broadcast(1 / s), even
# in one eager jnp.divide: a rounding more than IEEE division, so results of the normalisations that divide by a
# statistic are within a rounding or two of the separate operations' instead of equal to them (TensorFlow's XLA
# kernel and its operations divide). Measured: 76-100 of 315 float32 values one ulp apart; none in bfloat16 or
# float16 here. The bound below is two units in the last place of the largest operand.
_DIVIDES = ("zscore", "rescale-symmetric", "rescale-zero-one")


def _exactly_separate_ops(mode) -> bool:
    return BACKEND == "tensorflow" or mode not in _DIVIDES


@pytest.mark.parametrize("mode", ["zerocenter", "zscore", "rescale-symmetric", "rescale-zero-one", "none"])
@pytest.mark.parametrize("dtype", ["float32", "bfloat16", "float16"])
def test_input_normalization_kernel_equals_the_unfused_operations_bit_for_bit(mode, dtype):
    """The XLA kernel (TensorFlow) gives exactly the separate float32 operations on the inputs and statistics as
    Keras' autocasting hands them over, with one rounding to the compute dtype, under the scale the ImageNet
    networks use, eagerly and traced (as in training). The operations are done here in NumPy: IEEE float32
    arithmetic, correctly rounded, as TensorFlow's separate operations (which gave the same bits before the kernel
    existed). Under JAX: the same bits where nothing is divided, else within XLA's reciprocal rewrite (above)."""
    rng = np.random.default_rng(6)
    x = rng.integers(0, 256, (3, 7, 5, 3)).astype(np.float32)
    policy = {"float32": "float32", "bfloat16": "mixed_bfloat16", "float16": "mixed_float16"}[dtype]
    layer = ImageInputNormalization(mode, "element", scale=1 / 255, dtype=policy)
    layer.build((None, 7, 5, 3))
    layer.set_statistics(mean=rng.uniform(0, 255, (7, 5, 3)), std=rng.uniform(1, 80, (7, 5, 3)),
                         min=rng.uniform(0, 20, (7, 5, 3)), max=rng.uniform(200, 255, (7, 5, 3)))
    low = {"float32": np.float32, "bfloat16": ml_dtypes.bfloat16, "float16": np.float16}[dtype]
    # as the layer sees them under a mixed policy: inputs and statistics cast to the compute dtype by Keras
    m, s, lo, hi = (to_numpy(v).astype(low).astype(np.float32) for v in (layer.mean, layer.std, layer.min, layer.max))
    xt = x.astype(low).astype(np.float32)
    one, two, scale = np.float32(1), np.float32(2), np.float32(1 / 255)
    unfused = {"zerocenter": xt - m, "zscore": (xt - m) / s, "rescale-symmetric": two * (xt - lo) / (hi - lo) - one,
               "rescale-zero-one": (xt - lo) / (hi - lo), "none": xt}[mode]
    expected = (unfused * scale).astype(low)
    bits = np.uint16 if dtype != "float32" else np.uint32
    for got in (layer(x), traced_call(layer)(x)):  # eager and traced (as in training)
        assert dtype_name(got) == dtype
        got = to_numpy(got)
        if _exactly_separate_ops(mode):
            assert np.array_equal(got.view(bits), expected.view(bits))
        else:
            bound = 2 * float(ml_dtypes.finfo(low).eps) * (np.abs(unfused) + 1) * scale
            np.testing.assert_array_less(np.abs(got.astype(np.float64) - expected.astype(np.float64)), bound)


def test_input_normalization_layers_of_different_shapes_in_one_process():
    """Each layer has its own normalisation kernel: layers of other statistics and input shapes, called in turn
    (as models of a study or a test session), each give their own formula's values, traced (as in training) and
    eagerly: exactly (TensorFlow) or within XLA's reciprocal rewrite of the division (JAX; above)."""
    rng = np.random.default_rng(8)
    layers, inputs = [], []
    for n, (dim, shape) in enumerate((("element", (5, 4, 3)), ("channel", (67, 67, 3)), ("element", (7, 6, 3)),
                                      ("channel", (9, 9, 3)))):
        layer = ImageInputNormalization("zscore", dim)
        layer.build((None, *shape))
        stat_shape = shape if dim == "element" else (1, 1, 3)
        layer.set_statistics(mean=rng.uniform(0, 255, stat_shape), std=rng.uniform(1, 9, stat_shape), min=0, max=255)
        layers.append(layer)
        inputs.append(rng.integers(0, 256, (2 + n % 2, *shape)).astype(np.float32))
    for _ in range(2):
        for layer, x in zip(layers, inputs):
            m, s = to_numpy(layer.mean), to_numpy(layer.std)
            expected = ((x - m) / s).astype(np.float32)
            for call in (traced_call(layer), layer):  # traced (as in training) and eager
                got = to_numpy(call(x))
                if _exactly_separate_ops("zscore"):
                    np.testing.assert_array_equal(got, expected)
                else:
                    np.testing.assert_allclose(got, expected, rtol=2 * float(np.finfo(np.float32).eps), atol=0)


def test_crossentropyex_matches_matlab_formula_with_class_weights():
    rng = np.random.default_rng(5)
    y = rng.dirichlet(np.ones(3), size=7).astype(np.float32)
    t = np.eye(3)[rng.integers(0, 3, 7)]
    w = np.array([0.5, 2.0, 1.0])
    ref = -np.sum(w * t * np.log(y)) / 7  # divides by N, not by the sum of weights
    np.testing.assert_allclose(float(crossentropyex(y, t, w)), ref, rtol=1e-5)
    np.testing.assert_allclose(float(crossentropyex(y, t)), -np.sum(t * np.log(y)) / 7, rtol=1e-5)


def _matlab_softmax_crossentropy(x, t, w=None):
    """NumPy, float64, transcribed from MathWorks' sources: nnet.internal.cnn.layer.CrossEntropy (forwardLoss
    ``-sum(T.*log(boundAwayFromZero(Y)))/N``, backwardLoss ``(-T./boundAwayFromZero(Y))/N``, T weighted by the class
    weights), SoftmaxHostImageStrategy.backward (``Z = boundAwayFromZero(Z)``, then ``(dZ - sum(Z.*dZ)).*Z``) and
    nnet.internal.cnn.util.boundAwayFromZero (values below eps(precision), single in training, become it)."""
    eps = float(np.finfo(np.float32).eps)
    z = np.exp(x - x.max(-1, keepdims=True))
    z = (z / z.sum(-1, keepdims=True)).astype(np.float32).astype(np.float64)  # MATLAB computes Z in single
    zb = np.where(z < eps, eps, z)
    wt = t * (1.0 if w is None else w)
    n = x.shape[0]
    loss = -np.sum(wt * np.log(zb)) / n
    dz = -wt / zb / n
    return loss, (dz - np.sum(zb * dz, -1, keepdims=True)) * zb


def test_softmax_and_loss_of_a_saturated_network_are_matlabs():
    """A network so sure of the wrong class that the true class's probability underflows (logit gaps of 30 to 200):
    MATLAB bounds the probability at eps('single') in the loss (15.9424 at most per observation, not -log(1e-30) =
    69.08) and in both backward passes, so the gradient stays about softmax - T and the network recovers; the
    autodiff of log(max(Y, floor)) through Keras' softmax gave it exactly zero gradient (training stuck)."""
    from leuknet.layers import Softmax

    rng = np.random.default_rng(2)
    x = rng.normal(0, 2, (6, 3)).astype(np.float32)
    x[:3, 1] += np.array([30.0, 120.0, 200.0], np.float32)  # rows 0-2: class 1 certain, class 0 true
    t = np.eye(3)[[0, 0, 0, 2, 1, 0]]
    w = np.array([0.5, 2.0, 1.0])
    layer = Softmax(dtype="float32")
    for weights in (None, w):
        loss, grad = value_and_grad(lambda v: crossentropyex(layer(v, training=True), t, weights), x)
        ref_loss, ref_grad = _matlab_softmax_crossentropy(x.astype(np.float64), t, weights)
        np.testing.assert_allclose(loss, ref_loss, rtol=1e-6)
        np.testing.assert_allclose(grad, ref_grad, rtol=1e-5, atol=1e-9)
        assert np.all(grad[:3, 0] < -0.05)  # the true class is pushed up: not stuck
    # certain of the wrong class (a gap of 300): the loss is -log(eps(single)) = 15.9424, the gradient finite
    sure = np.array([[0.0, 300.0]], np.float32)
    loss, grad = value_and_grad(lambda v: crossentropyex(layer(v, training=True), np.eye(2)[[0]]), sure)
    np.testing.assert_allclose(loss, -np.log(np.finfo(np.float32).eps), rtol=1e-6)  # 15.9424
    assert np.isfinite(grad).all() and grad[0, 0] < 0
