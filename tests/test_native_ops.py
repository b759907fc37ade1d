"""The compiled cross-channel normalisation (leuknet.ops), forward against MATLAB's formula in float64 and gradient
against float64 autodiff of it, and the fallback to XLA where it cannot be built."""

import numpy as np
import pytest
import tensorflow as tf

from leuknet import ops
from leuknet.layers import CrossChannelNormalization, unfuse_blocks


@pytest.fixture
def native_mode(monkeypatch):
    def set_mode(value, **env):
        monkeypatch.setenv("LEUKNET_NATIVE_OPS", value)
        for k, v in env.items():
            monkeypatch.setenv(k, v)
        ops.reset()

    yield set_mode
    ops.reset()


def reference_gradient(x, g, w, alpha, beta, k):
    """d(sum(g * y))/dx in float64 by TF autodiff of y = x / (k + alpha/w * window_sum(x**2))**beta."""
    xd = tf.constant(np.asarray(x, np.float64))
    c = x.shape[-1]
    with tf.GradientTape() as tape:
        tape.watch(xd)
        sq = tf.pad(tf.square(xd), [[0, 0]] * (x.ndim - 1) + [[(w - 1) // 2, w // 2]])
        ss = tf.add_n([sq[..., i : i + c] for i in range(w)])
        y = xd / (k + alpha * ss / w) ** beta
        loss = tf.reduce_sum(y * np.asarray(g, np.float64))
    return tape.gradient(loss, xd).numpy()


def layer_gradient(layer, x, g, dtype=tf.float32):
    xt = tf.cast(tf.constant(x), dtype)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        y = layer(xt)
    return tf.cast(tape.gradient(y, xt, output_gradients=tf.cast(g, y.dtype)), tf.float32).numpy()


@pytest.mark.parametrize("backend", ["native", "xla"])
@pytest.mark.parametrize("w,channels,beta", [(1, 6, 0.75), (2, 7, 0.75), (4, 9, 0.6), (5, 19, 0.75), (5, 3, 0.5),
                                             (7, 70, 0.75), (16, 12, 0.9), (16, 40, 0.75), (10, 33, 0.6),
                                             (5, 300, 0.75)])
def test_gradient_matches_float64_autodiff(native_mode, backend, w, channels, beta):
    native_mode("1" if backend == "native" else "0")  # "1": a build failure fails the test
    rng = np.random.default_rng(w * 1000 + channels)
    x = rng.normal(0, 15, (2, 3, 4, channels)).astype(np.float32)
    g = rng.normal(0, 1, x.shape).astype(np.float32)
    alpha, k = 0.05, 2.0
    layer = CrossChannelNormalization(w, alpha, beta, k)
    got = layer_gradient(layer, x, g)
    assert ops.status() == ("native" if backend == "native" else "xla (LEUKNET_NATIVE_OPS=0)")
    np.testing.assert_allclose(got, reference_gradient(x, g, w, alpha, beta, k), rtol=2e-5, atol=2e-6)


def reference_forward(x, w, alpha, beta, k):
    """MATLAB's formula in float64 NumPy: y = x / (k + alpha/w * sum of x**2 over the channel window)**beta."""
    xd = np.asarray(x, np.float64)
    c = xd.shape[-1]
    sq = np.pad(xd**2, [(0, 0)] * (xd.ndim - 1) + [((w - 1) // 2, w // 2)])
    ss = sum(sq[..., i : i + c] for i in range(w))
    return xd / (k + alpha * ss / w) ** beta


@pytest.mark.parametrize("backend", ["native", "xla"])
@pytest.mark.parametrize("w,channels,beta", [(1, 6, 0.75), (2, 7, 0.75), (4, 9, 0.6), (5, 19, 0.75), (5, 3, 0.5),
                                             (7, 70, 0.75), (16, 12, 0.9), (16, 40, 0.75), (10, 33, 0.6),
                                             (5, 300, 0.75)])
def test_forward_matches_float64_formula(native_mode, backend, w, channels, beta):
    native_mode("1" if backend == "native" else "0")
    rng = np.random.default_rng(w * 100 + channels)
    # a map whose size is not a multiple of the 16-float vectors, with zeros (ReLU output) and large values
    x = np.maximum(rng.normal(0, 40, (2, 5, 3, channels)), -5).astype(np.float32)
    x[0, 0, 0] = 0.0
    layer = CrossChannelNormalization(w, 0.05, beta, 2.0)
    graph = tf.function(layer).get_concrete_function(tf.TensorSpec(x.shape, tf.float32)).graph
    has_native = "LeuknetCrossChannelNorm" in {op.type for op in graph.get_operations()}
    assert has_native == (backend == "native")
    np.testing.assert_allclose(layer(tf.constant(x)).numpy(), reference_forward(x, w, 0.05, beta, 2.0),
                               rtol=2e-6, atol=1e-6)


def test_overflowing_squares_give_zero_not_nan_on_both_paths(native_mode):
    """x**2 overflows float32 at |x| > 1.8e19: d = inf, d**-beta = 0 (pow's and rsqrt's answer), so y = 0."""
    x = np.full((1, 2, 3, 40), 3.0, np.float32)  # 240 floats: whole 16-float vectors and the scalar tail
    x[0, 0, 1, 7] = 1e20
    outs = {}
    for mode in ("1", "0"):
        native_mode(mode)
        outs[mode] = CrossChannelNormalization(5, 1e-4, 0.75, 2.0)(tf.constant(x)).numpy()
    assert np.isfinite(outs["1"]).all()
    np.testing.assert_array_equal(outs["1"][0, 0, 1, 5:10], 0.0)  # the channels whose window holds the 1e20
    np.testing.assert_allclose(outs["1"], outs["0"], rtol=2e-6, atol=0)


@pytest.mark.parametrize("backend", ["native", "xla"])
@pytest.mark.parametrize("dtype,tol", [(tf.bfloat16, 4e-3), (tf.float16, 1e-3)])
def test_forward_in_low_precision_rounds_once(native_mode, backend, dtype, tol):
    """float32 arithmetic inside, one rounding of the result: within one unit in the last place of the float64 value."""
    native_mode("1" if backend == "native" else "0")
    rng = np.random.default_rng(6)
    x = np.maximum(rng.normal(0, 30, (2, 7, 5, 64)), 0)
    xq = tf.cast(tf.constant(x, tf.float32), dtype)
    layer = CrossChannelNormalization(5, 1e-2, 0.75, 2.0, dtype=f"mixed_{dtype.name}")
    got = tf.cast(layer(xq), tf.float32).numpy()
    ref = reference_forward(tf.cast(xq, tf.float32).numpy(), 5, 1e-2, 0.75, 2.0)
    np.testing.assert_allclose(got, ref, rtol=tol, atol=1e-6)


@pytest.mark.parametrize("dtype,tol", [(tf.bfloat16, 3e-2), (tf.float16, 3e-3)])
def test_native_gradient_in_low_precision(native_mode, dtype, tol):
    native_mode("1")
    rng = np.random.default_rng(3)
    x = rng.normal(0, 3, (2, 5, 5, 16)).astype(np.float32)
    g = rng.normal(0, 1, x.shape).astype(np.float32)
    xq = tf.cast(tf.cast(x, dtype), tf.float32).numpy()  # the reference sees the rounded input
    layer = CrossChannelNormalization(5, 1e-2, 0.75, 2.0, dtype=f"mixed_{dtype.name}")
    got = layer_gradient(layer, xq, g, dtype)
    ref = reference_gradient(xq, tf.cast(tf.cast(g, dtype), tf.float32).numpy(), 5, 1e-2, 0.75, 2.0)
    np.testing.assert_allclose(got, ref, rtol=tol, atol=tol * np.abs(ref).max())


def test_native_and_xla_gradients_agree_on_a_leuknet_sized_map(native_mode):
    rng = np.random.default_rng(4)
    x = np.maximum(rng.normal(0, 30, (2, 13, 11, 64)), 0).astype(np.float32)  # ReLU output, as in LeukNet
    g = rng.normal(0, 1, x.shape).astype(np.float32)
    grads, op_types = {}, {}
    for mode in ("1", "0"):
        native_mode(mode)
        layer = CrossChannelNormalization(5, 1e-4, 0.75, 2.0)
        grads[mode] = layer_gradient(layer, x, g)
        graph = tf.function(lambda v: layer_gradient_graph(layer, v, g)).get_concrete_function(
            tf.TensorSpec(x.shape, tf.float32)).graph
        op_types[mode] = {op.type for op in graph.get_operations()}
    assert "LeuknetCrossChannelNormGrad" in op_types["1"]
    assert "LeuknetCrossChannelNormGrad" not in op_types["0"]
    np.testing.assert_allclose(grads["1"], grads["0"], rtol=1e-5, atol=1e-6)


def layer_gradient_graph(layer, x, g):
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x)
    return tape.gradient(y, x, output_gradients=g)


def test_without_a_working_compiler_the_layer_falls_back_to_xla(native_mode, tmp_path, caplog):
    import logging

    native_mode("auto", CXX="/bin/false", LEUKNET_OPS_CACHE=str(tmp_path))
    with caplog.at_level(logging.INFO, logger="leuknet.ops"):
        assert ops.cross_channel_norm() is None
    said = [r.getMessage() for r in caplog.records if r.name == "leuknet.ops"]  # what the CLI shows, dim
    assert said[0].startswith(f"Building leuknet's native cross-channel normalisation kernel into {tmp_path}")
    assert said[1].startswith("Note: leuknet's native cross-channel normalisation kernel is unavailable (")
    assert ops.status().startswith("xla (") and "could not build" in ops.status()
    rng = np.random.default_rng(5)
    x = rng.normal(0, 10, (1, 3, 3, 8)).astype(np.float32)
    g = rng.normal(0, 1, x.shape).astype(np.float32)
    got = layer_gradient(CrossChannelNormalization(5, 0.05, 0.75, 2.0), x, g)
    np.testing.assert_allclose(got, reference_gradient(x, g, 5, 0.05, 0.75, 2.0), rtol=2e-5, atol=2e-6)
    assert not list(tmp_path.glob("*.so"))  # nothing half-written


def test_required_native_ops_that_cannot_build_are_an_error(native_mode, tmp_path):
    native_mode("1", CXX="/bin/false", LEUKNET_OPS_CACHE=str(tmp_path))
    with pytest.raises(ops.NativeOpsError, match="LEUKNET_NATIVE_OPS=1"):
        ops.cross_channel_norm()


def test_library_name_changes_with_the_source(monkeypatch, tmp_path):
    first = ops.library_path()
    src = tmp_path / "cross_channel_norm.cc"
    src.write_bytes(ops.SOURCE.read_bytes() + b"\n// changed\n")
    monkeypatch.setattr(ops, "SOURCE", src)
    assert ops.library_path() != first and ops.library_path().parent == first.parent


def test_a_second_library_in_one_process_reuses_the_loaded_ops(native_mode, tmp_path):
    """TensorFlow registers each op once per process: a library built elsewhere later (another cache directory,
    or the source edited while a process runs) must not replace the loaded one, whose ops it would lack."""
    import shutil

    native_mode("1")
    first = ops.cross_channel_norm()
    built = ops.library_path()
    native_mode("1", LEUKNET_OPS_CACHE=str(tmp_path))
    # the same library in the other cache (a copy: building it there again would cost 20 s and test nothing more)
    shutil.copy(built, ops.library_path())
    assert ops.library_path().parent == tmp_path
    second = ops.cross_channel_norm()
    assert second is first  # found there, not loaded
    x = tf.constant(np.full((1, 1, 1, 20), 2.0, np.float32))
    np.testing.assert_allclose(CrossChannelNormalization(5)(x).numpy(), reference_forward(x.numpy(), 5, 1e-4, 0.75, 2.0),
                               rtol=2e-6)


@pytest.fixture(scope="module")
def plain_build(tmp_path_factory):
    """The kernel sources built without AVX-512 (the plain-loop implementations other x86 CPUs get), their ops
    renamed so that they load beside the AVX-512 build in this process."""
    if ops._compiler() is None:
        pytest.skip("no C++ compiler")
    folder = tmp_path_factory.mktemp("plain")
    files = []
    for i, source in enumerate((ops.SOURCE, ops.CONV_SOURCE)):
        files.append(folder / f"plain{i}.cc")
        files[-1].write_text(source.read_text().replace('"Leuknet', '"Plain'))  # the names in REGISTER_OP and Name
    ops._build(ops._compiler(), folder / "plain.so", files, [["-march=x86-64-v3"]])
    return tf.load_op_library(str(folder / "plain.so"))


@pytest.mark.parametrize("w,channels,beta", [(5, 64, 0.75), (5, 19, 0.5), (4, 9, 0.6), (16, 12, 0.9)])
def test_the_plain_loop_build_matches_the_formulas(plain_build, w, channels, beta):
    rng = np.random.default_rng(channels)
    x = np.maximum(rng.normal(0, 30, (2, 5, 3, channels)), -5).astype(np.float32)
    g = rng.normal(0, 1, x.shape).astype(np.float32)
    alpha, k = 0.05, 2.0
    attrs = dict(before=(w - 1) // 2, after=w // 2, scale=alpha / w, beta=beta, k=k)
    y = plain_build.plain_cross_channel_norm(tf.constant(x), **attrs).numpy()
    np.testing.assert_allclose(y, reference_forward(x, w, alpha, beta, k), rtol=2e-6, atol=1e-6)
    dx = plain_build.plain_cross_channel_norm_grad(tf.constant(x), tf.constant(g), **attrs).numpy()
    np.testing.assert_allclose(dx, reference_gradient(x, g, w, alpha, beta, k), rtol=2e-5, atol=2e-6)
    xb = tf.cast(tf.constant(x), tf.bfloat16)
    yb = tf.cast(plain_build.plain_cross_channel_norm(xb, **attrs), tf.float32).numpy()
    np.testing.assert_allclose(yb, reference_forward(tf.cast(xb, tf.float32).numpy(), w, alpha, beta, k),
                               rtol=4e-3, atol=1e-6)


@pytest.mark.parametrize("dtype", [tf.bfloat16, tf.float16])
def test_low_precision_output_is_the_float32_result_rounded_as_tensorflow_rounds(native_mode, dtype):
    """The kernel computes in float32 and rounds once: bit for bit tf.cast of its float32 result (nearest even),
    NaN stays NaN; subnormal inputs as TensorFlow's own ops treat them."""
    native_mode("1")
    lib = ops.cross_channel_norm()
    rng = np.random.default_rng(8)
    x = rng.normal(0, 20, (3, 7, 5, 70)).astype(np.float32)
    g = rng.normal(0, 1, x.shape).astype(np.float32)
    x[1, 2, 3] = rng.uniform(-1e-38, 1e-38, 70)  # float32 subnormals (bfloat16 keeps float32's range)
    g[1, 2, 3] = rng.uniform(-1, 1, 70)
    x = tf.cast(tf.constant(x), dtype)
    x = tf.tensor_scatter_nd_update(x, [[0, 0, 0, 3]], tf.constant([np.nan], dtype))
    attrs = dict(before=2, after=2, scale=1e-2 / 5, beta=0.75, k=2.0)
    x32 = tf.cast(x, tf.float32)
    g = tf.cast(tf.constant(g), dtype)
    pairs = [(lib.leuknet_cross_channel_norm(x, **attrs), lib.leuknet_cross_channel_norm(x32, **attrs)),
             (lib.leuknet_cross_channel_norm_grad(x, g, **attrs),
              lib.leuknet_cross_channel_norm_grad(x32, tf.cast(g, tf.float32), **attrs))]
    for low, full in pairs:
        low = tf.cast(low, tf.float32).numpy()
        expected = tf.cast(tf.cast(full, dtype), tf.float32).numpy()
        assert np.isnan(low[0, 0, 0, 1:6]).all()  # the NaN's window
        np.testing.assert_array_equal(low, expected)
    # TensorFlow runs kernels with subnormals flushed (FTZ/DAZ), this one too: its outputs from subnormals are 0
    assert not np.any(tf.cast(pairs[0][0], tf.float32).numpy()[1, 2, 3])


@pytest.mark.parametrize("build", ["native", "plain"])
@pytest.mark.parametrize("w,channels", [(5, 64), (5, 19), (16, 40)])
def test_relu_input_is_normalised_after_a_relu_and_differentiated_through_it(native_mode, plain_build, build, w,
                                                                              channels):
    """relu=True: the forward pass is MATLAB's formula on max(x, 0); the gradient is the float64 autodiff one of
    that, zero where x <= 0 (TensorFlow's ReluGrad)."""
    native_mode("1")
    lib = ops.cross_channel_norm() if build == "native" else plain_build
    prefix = "leuknet" if build == "native" else "plain"
    rng = np.random.default_rng(w + channels)
    x = rng.normal(0, 30, (2, 3, 4, channels)).astype(np.float32)
    x[0, 0, 0, :5] = 0.0
    g = rng.normal(0, 1, x.shape).astype(np.float32)
    alpha, beta, k = 0.05, 0.75, 2.0
    attrs = dict(before=(w - 1) // 2, after=w // 2, scale=alpha / w, beta=beta, k=k, relu=True)
    relu = np.maximum(x, 0)
    y = getattr(lib, f"{prefix}_cross_channel_norm")(tf.constant(x), **attrs).numpy()
    np.testing.assert_allclose(y, reference_forward(relu, w, alpha, beta, k), rtol=2e-6, atol=1e-6)
    dx = getattr(lib, f"{prefix}_cross_channel_norm_grad")(tf.constant(x), tf.constant(g), **attrs).numpy()
    expected = reference_gradient(relu, g, w, alpha, beta, k) * (x > 0)
    np.testing.assert_allclose(dx, expected, rtol=2e-5, atol=2e-6)
    assert (dx[x <= 0] == 0).all()


def small_leuknet_step(fold):
    """A LeukNet training step's loss and gradients (the Trainer's), traced with or without the fused blocks."""
    import keras

    from leuknet import models
    from leuknet.matlab import trainingOptions
    from leuknet.train import Trainer

    keras.utils.set_random_seed(3)
    model = models.build("leuknet", 2, image_size=48)
    if not fold:
        unfuse_blocks(model)
    trainer = Trainer(model, trainingOptions("adam"))
    rng = np.random.default_rng(0)
    x = tf.constant(rng.normal(0, 60, (4, 48, 48, 3)).astype(np.float32))
    y = tf.constant([0, 1, 1, 0], tf.int32)
    fn = tf.function(trainer.engine._replica_grads)
    loss, _, grads = fn(x, y)
    graph_ops = [op.type for op in fn.get_concrete_function(x, y).graph.get_operations()]
    return float(loss), [g.numpy() for g in grads], graph_ops


def test_training_steps_fuse_the_blocks(native_mode):
    """The Trainer's step: the three relu -> crossnorm -> maxpool blocks run one fused kernel forward and one
    backward each, no ReluGrad (the fully connected layer's ReLU keeps its own) and no MaxPool/MaxPoolGrad; the
    first convolution's weight gradient comes from the few-channel kernel; loss and every gradient as without
    fusing."""
    native_mode("1")
    loss, grads, graph_ops = small_leuknet_step(fold=True)
    loss0, grads0, graph_ops0 = small_leuknet_step(fold=False)
    assert graph_ops0.count("ReluGrad") == 4 and graph_ops.count("ReluGrad") == 1
    assert graph_ops0.count("MaxPoolGrad") == 3 and "MaxPoolGrad" not in graph_ops
    assert graph_ops.count("LeuknetCrossChannelNormMaxPool") == 3
    assert graph_ops.count("LeuknetCrossChannelNormMaxPoolGrad") == 3
    assert graph_ops0.count("Conv2DBackpropFilter") == 3 and graph_ops.count("Conv2DBackpropFilter") == 2
    assert graph_ops.count("LeuknetConv2DFilterGrad") == 1  # the first layer's (3 input channels)
    assert loss == pytest.approx(loss0, rel=1e-6)
    for g, g0 in zip(grads, grads0):
        np.testing.assert_allclose(g, g0, rtol=1e-4, atol=1e-6 * np.abs(g0).max())


def reference_norm_pool(z, g, w, alpha, beta, k, pool, stride):
    """float64: max_pool(MATLAB's formula on max(z, 0)) and TF's autodiff of sum(g * it) with respect to z."""
    zd = tf.constant(np.asarray(z, np.float64))
    c = z.shape[-1]
    with tf.GradientTape() as tape:
        tape.watch(zd)
        x = tf.nn.relu(zd)
        sq = tf.pad(tf.square(x), [[0, 0]] * 3 + [[(w - 1) // 2, w // 2]])
        ss = tf.add_n([sq[..., i : i + c] for i in range(w)])
        y = tf.nn.max_pool2d(x / (k + alpha * ss / w) ** beta, pool, stride, "VALID")
        loss = tf.reduce_sum(y * np.asarray(g, np.float64))
    return y.numpy(), tape.gradient(loss, zd).numpy()


@pytest.mark.parametrize("build", ["native", "plain"])
@pytest.mark.parametrize("shape,pool,stride", [((11, 9, 19), (3, 3), (2, 2)), ((8, 8, 64), (2, 2), (2, 2)),
                                               ((7, 10, 5), (3, 2), (1, 3)), ((13, 12, 40), (3, 3), (2, 2))])
def test_normalisation_and_max_pooling_in_one_kernel(native_mode, plain_build, build, shape, pool, stride):
    """The fused kernel: maxpool(norm(relu(z))) and its gradient with respect to z, against float64 TF."""
    native_mode("1")
    lib = ops.cross_channel_norm() if build == "native" else plain_build
    prefix = "leuknet" if build == "native" else "plain"
    rng = np.random.default_rng(sum(shape))
    z = rng.normal(0, 20, (2, *shape)).astype(np.float32)
    w, alpha, beta, k = 5, 0.05, 0.75, 2.0
    attrs = dict(before=2, after=2, scale=alpha / w, beta=beta, k=k, relu=True, pool_h=pool[0], pool_w=pool[1],
                 stride_h=stride[0], stride_w=stride[1])
    y, argmax = getattr(lib, f"{prefix}_cross_channel_norm_max_pool")(tf.constant(z), **attrs)
    g = rng.normal(0, 1, y.shape).astype(np.float32)
    y_ref, dz_ref = reference_norm_pool(z, g, w, alpha, beta, k, pool, stride)
    np.testing.assert_allclose(y.numpy(), y_ref, rtol=2e-6, atol=1e-6)
    assert argmax.dtype == tf.uint8 and int(tf.reduce_max(argmax)) < pool[0] * pool[1]
    # without argmax (prediction graphs): separable pooling, the same values, an empty argmax
    y_only, no_argmax = getattr(lib, f"{prefix}_cross_channel_norm_max_pool")(tf.constant(z), with_argmax=False,
                                                                             **attrs)
    assert no_argmax.shape == (0,) and y_only.shape == y.shape
    np.testing.assert_array_equal(y_only.numpy(), y.numpy())
    dz = getattr(lib, f"{prefix}_cross_channel_norm_max_pool_grad")(tf.constant(z), argmax, tf.constant(g), **attrs)
    np.testing.assert_allclose(dz.numpy(), dz_ref, rtol=2e-5, atol=2e-6)
    # bfloat16: the pooled values are exactly the bfloat16-rounded normalisation's maxima
    zb = tf.cast(tf.constant(z), tf.bfloat16)
    yb, _ = getattr(lib, f"{prefix}_cross_channel_norm_max_pool")(zb, **attrs)
    normalised = getattr(lib, f"{prefix}_cross_channel_norm")(zb, **{a: attrs[a] for a in
                                                                     ("before", "after", "scale", "beta", "k", "relu")})
    np.testing.assert_array_equal(tf.cast(yb, tf.float32).numpy(),
                                  tf.cast(tf.nn.max_pool2d(normalised, pool, stride, "VALID"), tf.float32).numpy())
    yb_only, _ = getattr(lib, f"{prefix}_cross_channel_norm_max_pool")(zb, with_argmax=False, **attrs)
    np.testing.assert_array_equal(tf.cast(yb_only, tf.float32).numpy(), tf.cast(yb, tf.float32).numpy())


def test_fused_pooling_rejects_a_window_larger_than_the_input(native_mode):
    native_mode("1")
    lib = ops.cross_channel_norm()
    with pytest.raises((tf.errors.InvalidArgumentError, ValueError), match="larger than the input|Negative"):
        lib.leuknet_cross_channel_norm_max_pool(tf.zeros((1, 2, 5, 4)), before=2, after=2, scale=1e-4, beta=0.75,
                                                 k=2.0, pool_h=3, pool_w=3, stride_h=2, stride_w=2)


def reference_filter_grad(x, dy, kh, kw, strides):
    """float64 TF autodiff of sum(dy * (conv2d(x, w) + b)) with respect to w and b (no padding)."""
    xd = tf.constant(np.asarray(x, np.float64))
    w = tf.zeros((kh, kw, x.shape[-1], dy.shape[-1]), tf.float64)
    b = tf.zeros((dy.shape[-1],), tf.float64)
    with tf.GradientTape() as tape:
        tape.watch([w, b])
        y = tf.nn.bias_add(tf.nn.conv2d(xd, w, [1, *strides, 1], "VALID"), b)
        loss = tf.reduce_sum(y * np.asarray(dy, np.float64))
    dw, db = tape.gradient(loss, [w, b])
    return dw.numpy(), db.numpy()


@pytest.mark.parametrize("build", ["native", "plain"])
@pytest.mark.parametrize("shape,kernel,strides,filters", [((9, 11, 3), (3, 3), (1, 1), 64),
                                                          ((12, 10, 1), (5, 2), (2, 3), 20),
                                                          ((23, 23, 4), (11, 11), (4, 4), 96),
                                                          ((6, 7, 3), (3, 3), (1, 1), 200)])
def test_few_channel_filter_gradient_matches_float64_autodiff(native_mode, plain_build, build, shape, kernel,
                                                              strides, filters):
    native_mode("1")
    lib = ops.cross_channel_norm() if build == "native" else plain_build
    op = getattr(lib, ("leuknet" if build == "native" else "plain") + "_conv2d_filter_grad")
    rng = np.random.default_rng(filters)
    x = rng.normal(0, 50, (3, *shape)).astype(np.float32)
    oh, ow = (shape[0] - kernel[0]) // strides[0] + 1, (shape[1] - kernel[1]) // strides[1] + 1
    dy = rng.normal(0, 1, (3, oh, ow, filters)).astype(np.float32)
    attrs = dict(kh=kernel[0], kw=kernel[1], stride_h=strides[0], stride_w=strides[1])
    dw, db = op(tf.constant(x), tf.constant(dy), **attrs)
    dw_ref, db_ref = reference_filter_grad(x, dy, *kernel, strides)
    np.testing.assert_allclose(dw.numpy(), dw_ref, rtol=1e-5, atol=1e-5 * np.abs(dw_ref).max())
    np.testing.assert_allclose(db.numpy(), db_ref, rtol=1e-5, atol=1e-5 * np.abs(db_ref).max())
    # bfloat16 tensors: float32 arithmetic on the rounded inputs, the result rounded once
    xb, dyb = tf.cast(tf.constant(x), tf.bfloat16), tf.cast(tf.constant(dy), tf.bfloat16)
    dwb, dbb = op(xb, dyb, **attrs)
    dw_ref, db_ref = reference_filter_grad(tf.cast(xb, tf.float32).numpy(), tf.cast(dyb, tf.float32).numpy(),
                                           *kernel, strides)
    np.testing.assert_allclose(tf.cast(dwb, tf.float32).numpy(), dw_ref, rtol=8e-3, atol=1e-3 * np.abs(dw_ref).max())
    np.testing.assert_allclose(tf.cast(dbb, tf.float32).numpy(), db_ref, rtol=8e-3, atol=1e-3 * np.abs(db_ref).max())


def test_few_channel_filter_gradient_rejects_mismatched_shapes(native_mode):
    native_mode("1")
    op = ops.cross_channel_norm().leuknet_conv2d_filter_grad
    with pytest.raises((tf.errors.InvalidArgumentError, ValueError), match="dy must be"):
        op(tf.zeros((1, 8, 8, 3)), tf.zeros((1, 5, 6, 16)), kh=3, kw=3, stride_h=1, stride_w=1)


def small_block_model(size=40):
    """conv -> relu -> crossnorm -> maxpool, twice, and a dense layer (no dropout: training=True and False give
    the same outputs)."""
    import keras

    from leuknet.layers import Conv2D, MaxPooling2D

    keras.utils.set_random_seed(5)
    x = inp = keras.Input((size, size, 3))
    for i, f in enumerate((8, 16)):
        x = Conv2D(f, 3, name=f"conv{i}")(x)
        x = keras.layers.ReLU(name=f"relu{i}")(x)
        x = CrossChannelNormalization(5, name=f"norm{i}")(x)
        x = MaxPooling2D(3, 2, name=f"pool{i}")(x)
    x = keras.layers.Dense(2)(keras.layers.Flatten()(x))
    return keras.Model(inp, x)


def test_a_gradient_through_a_prediction_graph_is_still_right(native_mode):
    """training=False records no pooling maxima; a gradient taken through such a graph anyway recomputes them and
    equals the training graph's, bit for bit."""
    native_mode("1")
    model = small_block_model()
    x = tf.constant(np.random.default_rng(2).normal(0, 60, (2, 40, 40, 3)).astype(np.float32))

    def grads(training):
        @tf.function
        def f(v):
            with tf.GradientTape() as tape:
                loss = tf.reduce_sum(model(v, training=training)[:, 0])
            return tape.gradient(loss, model.trainable_weights), [op.type for op in tf.compat.v1.get_default_graph()
                                                                  .get_operations()]
        return f(x)

    (g1, ops1), (g0, ops0) = grads(True), grads(False)
    assert ops1.count("LeuknetCrossChannelNormMaxPool") == 2 and ops0.count("LeuknetCrossChannelNormMaxPool") == 4
    assert "MaxPoolGrad" not in ops0 + ops1 and "ReluGrad" not in ops0 + ops1
    for a, b in zip(g0, g1):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


@pytest.mark.parametrize("policy", ["float32", "mixed_bfloat16"])
def test_fused_forward_predicts_what_the_layers_do(native_mode, policy):
    """Prediction and validation run the blocks fused (train.forward): the same probabilities as the model's
    layers one by one (eagerly, unfused)."""
    import keras

    from leuknet import models
    from leuknet.train import forward

    native_mode("1")
    keras.mixed_precision.set_global_policy(policy)
    try:
        keras.utils.set_random_seed(4)
        model = models.build("leuknet", 2, image_size=48)
        x = tf.constant(np.random.default_rng(1).normal(0, 60, (3, 48, 48, 3)).astype(np.float32))
        fused = tf.function(lambda v: forward(model, v))
        graph_ops = [op.type for op in fused.get_concrete_function(x).graph.get_operations()]
        assert graph_ops.count("LeuknetCrossChannelNormMaxPool") == 3 and "MaxPool" not in graph_ops
        np.testing.assert_allclose(fused(x).numpy(), model(x, training=False).numpy(), rtol=1e-6, atol=1e-7)
    finally:
        keras.mixed_precision.set_global_policy("float32")


def test_fusion_is_decided_when_the_model_is_built(native_mode):
    """The decisions are layer attributes set by building the functional model, before any call; a layer called
    on its own (no functional graph) decides nothing and runs unfused, also traced."""
    import keras

    from leuknet.layers import Conv2D, MaxPooling2D

    native_mode("1")
    model = small_block_model()
    assert [model.get_layer(f"norm{i}").relu_input for i in (0, 1)] == [True, True]
    assert [model.get_layer(f"pool{i}").fuse_normalization for i in (0, 1)] == [True, True]
    assert [model.get_layer(f"conv{i}").few_channel_kernel for i in (0, 1)] == [True, False]  # 3 channels, then 8
    config = model.get_config()["layers"]
    assert {c["config"]["name"]: c["config"].get("relu_input", c["config"].get("fuse_normalization"))
            for c in config if c["config"]["name"].startswith(("norm", "pool"))} == {
                "norm0": True, "pool0": True, "norm1": True, "pool1": True}
    # neighbours that do not fuse: a pooling after a convolution, a normalisation after a leaky ReLU
    x = inp = keras.Input((12, 12, 3))
    x = MaxPooling2D(2, name="pool")(Conv2D(4, 3)(x))
    x = CrossChannelNormalization(3, name="norm")(keras.layers.LeakyReLU()(x))
    x = MaxPooling2D(2, padding="same", name="padded")(x)  # padding: not fused
    other = keras.Model(inp, x)
    assert other.get_layer("pool").fuse_normalization is False
    assert other.get_layer("norm").relu_input is False
    assert other.get_layer("padded").fuse_normalization is False
    alone = CrossChannelNormalization(5)
    z = tf.constant(np.random.default_rng(0).normal(0, 9, (1, 4, 4, 8)).astype(np.float32))
    graph = tf.function(lambda v: alone(tf.nn.relu(v))).get_concrete_function(z).graph
    assert alone.relu_input is None
    (norm,) = [op for op in graph.get_operations() if op.type == "LeuknetCrossChannelNorm"]
    assert norm.inputs[0].op.type == "Relu" and not norm.get_attr("relu")


def test_a_saved_and_reloaded_model_fuses_the_same_way(native_mode, tmp_path):
    """leuknet.io.save_model / load_model: the decisions come back with the layers' config, the traced forward and
    training graphs run the fused kernels, and the outputs and gradients are the original model's, bit for bit."""
    from leuknet.io import load_model, save_model

    native_mode("1")
    model = small_block_model()
    save_model(model, tmp_path / "m.keras")
    loaded = load_model(tmp_path / "m.keras")
    for name in ("norm0", "norm1"):
        assert loaded.get_layer(name).relu_input is True
    for name in ("pool0", "pool1"):
        assert loaded.get_layer(name).fuse_normalization is True
    assert loaded.get_layer("conv0").few_channel_kernel is True
    x = tf.constant(np.random.default_rng(3).normal(0, 60, (2, 40, 40, 3)).astype(np.float32))

    def run(m, training):
        @tf.function
        def f(v):
            with tf.GradientTape() as tape:
                y = m(v, training=training)
                loss = tf.reduce_sum(y[:, 0])
            return y, tape.gradient(loss, m.trainable_weights)

        y, g = f(x)
        return y, g, [op.type for op in f.get_concrete_function(x).graph.get_operations()]

    for training in (True, False):
        (y0, g0, ops0), (y1, g1, ops1) = run(model, training), run(loaded, training)
        assert ops1 == ops0
        assert ops1.count("LeuknetCrossChannelNormMaxPool") == (2 if training else 4)
        assert ops1.count("LeuknetConv2DFilterGrad") == 1 and "MaxPool" not in ops1 and "ReluGrad" not in ops1
        np.testing.assert_array_equal(y1.numpy(), y0.numpy())
        for a, b in zip(g1, g0):
            np.testing.assert_array_equal(a.numpy(), b.numpy())
