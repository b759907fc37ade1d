"""Keras layers with MATLAB semantics: cross-channel normalisation, image input normalisation, classification output.

All layers are registered (``leuknet>...``) so saved models load with ``keras.models.load_model`` in safe mode.

The layers and the loss are written in ``keras.ops`` and run under the TensorFlow and the JAX backends. What only
TensorFlow has (the compiled CPU kernels of :mod:`leuknet.ops`, the fused blocks, per-layer XLA functions, the
traced-graph inspection behind the fusion) sits behind ``_TF`` (the one backend check here); under JAX the
training step is one ``jax.jit`` function, so the layers' own plain functions are compiled inside it.
"""

from __future__ import annotations

import keras
import ml_dtypes
import numpy as np
from keras import ops

_TF = keras.backend.backend() == "tensorflow"
if _TF:
    import tensorflow as tf

NORMALIZATIONS = ("zerocenter", "zscore", "rescale-symmetric", "rescale-zero-one", "none")
NORMALIZATION_DIMENSIONS = ("channel", "element")


@keras.saving.register_keras_serializable(package="leuknet")
class CrossChannelNormalization(keras.layers.Layer):
    """MATLAB ``crossChannelNormalizationLayer``: ``y = x / (K + Alpha * ss / w) ** Beta``.

    ``ss`` is the sum of squares over the channel window: ``floor((w-1)/2)`` channels before c and ``floor(w/2)``
    after (asymmetric for even w), truncated at the first and last channels; the divisor is always ``w``, also
    where the window is truncated. Every window size from 1 to
    16 works, even ones included (TensorFlow's ``tf.nn.local_response_normalization`` cannot express them).

    On CPU, forward and backward are compiled kernels (:mod:`leuknet.ops`, built on first use) that read each
    pixel's channel vector once and write its result once. Elsewhere (GPU, no C++ compiler,
    ``LEUKNET_NATIVE_OPS=0``): the windowed sum as a sum of ``w`` shifted slices along the channel axis, fused with
    the element-wise parts into one XLA kernel forward and two backward. Either backward recomputes the
    denominator from ``x``, so the layer keeps no activation memory beyond its input. It runs in float32, bfloat16
    and float16 (arithmetic in float32 inside the kernels).
    """

    def __init__(self, window_channel_size: int = 5, alpha: float = 1e-4, beta: float = 0.75, k: float = 2.0,
                 fused: bool = True, relu_input: bool | None = None, **kwargs):
        super().__init__(**kwargs)
        window_channel_size = int(window_channel_size)
        if not 1 <= window_channel_size <= 16:
            raise ValueError(f"window_channel_size must be an integer from 1 to 16, received {window_channel_size}")
        if k < 1e-5:
            raise ValueError(f"k must be >= 1e-5 (as in MATLAB), received {k}")
        if beta < 0.01:
            raise ValueError(f"beta must be >= 0.01 (as in MATLAB), received {beta}")
        self.window_channel_size = window_channel_size
        self.alpha = float(alpha)
        self.beta = float(beta)
        self.k = float(k)
        self.fused = bool(fused)
        # decided when the functional model is built (None: not yet; see __call__), saved with the layer
        self.relu_input = None if relu_input is None else bool(relu_input)

    def __call__(self, inputs, *args, **kwargs):
        if self.relu_input is None and isinstance(inputs, keras.KerasTensor):
            self.relu_input = _is_relu(_producer(inputs))
        return super().__call__(inputs, *args, **kwargs)

    def build(self, input_shape):
        channels = input_shape[-1]
        if channels is None:
            raise ValueError("CrossChannelNormalization needs a known channel count")
        self._lrn, self._lrn_relu, self._native, self._native_attrs = _lrn_function(
            int(channels), self.window_channel_size, self.alpha / self.window_channel_size, self.beta, self.k,
            self.fused)
        self.built = True

    def call(self, inputs):
        x = ops.convert_to_tensor(inputs)
        if _dtype(x) != self.compute_dtype:
            x = ops.cast(x, self.compute_dtype)
        if self._lrn_relu is None or _dtype(x) not in _NATIVE_DTYPES or tf.executing_eagerly():
            return self._lrn(x)  # eagerly: unfused (nothing would prune the bypassed tensors)
        z = _relu_input(x) if self.relu_input else None
        y = self._lrn(x) if z is None else self._lrn_relu(z)
        # what a MaxPooling2D built on this layer's output reads instead of it (see MaxPooling2D)
        _set_norm_source(y, (self._native, x, self._native_attrs) if z is None
                         else (self._native, z, dict(self._native_attrs, relu=True)))
        return y

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(window_channel_size=self.window_channel_size, alpha=self.alpha, beta=self.beta, k=self.k,
                      fused=self.fused, relu_input=self.relu_input)
        return config


_NATIVE_DTYPES = ("float32", "bfloat16", "float16")  # the compiled kernels' (leuknet.ops)


def _dtype(x) -> str:
    return keras.backend.standardize_dtype(x.dtype)

FUSED_BLOCKS = """Fused blocks: ``conv -> relu -> crossnorm -> maxpool`` (LeukNet's and AlexNet's), where the native kernels
are in use. Which layers fuse is decided once, when the functional model is built: a layer called on a
``keras.KerasTensor`` records whether the layer that produced it is one it fuses with (a CrossChannelNormalization
after a ReLU, a MaxPooling2D after a CrossChannelNormalization) in its config (``relu_input``,
``fuse_normalization``: saved with the model, so a reloaded model fuses the same way); a Conv2D decides when it is
built, from its input shape (``few_channel_kernel``). The fused kernels run in traced functions (``tf.function``:
the Trainer's steps, :func:`leuknet.train.inference_step`, Keras' ``predict``), where TensorFlow prunes the
bypassed ReLU and normalisation outputs that nothing else reads; an eager call runs the layers one by one.

- a :class:`Conv2D` of at most 4 input channels and a small filter (LeukNet's first layer) computes its weight and
  bias gradients with a kernel for few channels (the general kernels' blocking suits many channels);
- a :class:`CrossChannelNormalization` whose input is a ReLU's output reads the ReLU's input instead and applies
  the ReLU in its own kernel, forward and backward: no separate ReLU gradient pass over the largest feature maps
  (the gradient is the same: zero where the ReLU's input is <= 0, as ``ReluGrad``);
- a :class:`MaxPooling2D` (no padding) whose input is that normalisation's output normalises and pools in one
  kernel, which never stores the normalised map. With ``training=True`` (the Trainer's step) it records each
  window's maximum (the first, row-major) for the gradient, computed in one kernel with the normalisation's; with
  ``training=False`` or ``None`` (validation, test, predictions) it records no maximum and pools column maxima
  first (the same values, fewer operations: the kernel 1.07-1.11x faster); a gradient taken through such a graph
  all the same is still right (the kernel runs again with the maxima recorded).

Gradients with respect to weights and inputs are those of the unfused layers. A gradient with respect to a
bypassed ReLU or normalisation output inside a traced function is not on the path to the block's output (Grad-CAM
runs eagerly); :func:`unfuse_blocks` makes a model's graphs traced afterwards unfused."""


def unfuse_blocks(model):
    """Undo the decisions made when ``model`` was built: the graphs traced from now on run its layers one by one
    (TensorFlow's ReLU, normalisation, pooling and filter gradient), e.g. for a gradient with respect to a
    block's ReLU or normalisation output; functions traced before keep their graphs. Returns ``model``."""
    for layer in model.layers:
        if isinstance(layer, CrossChannelNormalization):
            layer.relu_input = False
        elif isinstance(layer, MaxPooling2D):
            layer.fuse_normalization = False
        elif isinstance(layer, Conv2D):
            layer.few_channel_kernel = False
    return model


def _producer(x):
    """The layer whose call produced KerasTensor ``x`` (functional graph construction), else None."""
    history = getattr(x, "_keras_history", None)
    return None if history is None else history.operation


def _is_relu(layer) -> bool:
    """A plain ReLU layer, or a layer whose activation is ReLU: its output is ``Relu(input)``."""
    if isinstance(layer, keras.layers.ReLU):
        return layer.max_value is None and layer.negative_slope == 0 and layer.threshold == 0
    return layer is not None and getattr(layer, "activation", None) is keras.activations.relu


def _relu_input(x):
    """The input of the ReLU that produced graph tensor ``x`` (a CrossChannelNormalization built on a ReLU's
    output); None where ``x`` is not one after all (the layer called on another tensor). The ReLU is a plain Keras
    layer that hands nothing on, so its input is read from the traced graph."""
    op = x.op
    return op.inputs[0] if op.type == "Relu" else None


_NORM_SOURCE = "_leuknet_norm_source"  # of a native normalisation's output: (op library, the op's input, its attrs)


def _set_norm_source(y, source):
    try:
        setattr(y, _NORM_SOURCE, source)
    except AttributeError:  # a tensor type without attributes: the pooling after it runs unfused
        pass


def _power_neg_beta(d, beta):
    if beta == 0.75:  # the default: d**-0.75 = r * sqrt(r) with r = rsqrt(d), much cheaper than pow
        r = ops.rsqrt(d)
        return r * ops.sqrt(r)
    if beta == 0.5:
        return ops.rsqrt(d)
    return ops.power(d, -beta)


def _channel_window_sum(v, channels, before, after):
    """``out[..., c] = sum(v[..., c - before : c + after + 1])``, truncated at the edges (zero padding)."""
    if before == after == 0:
        return v
    padded = ops.pad(v, [[0, 0]] * (len(v.shape) - 1) + [[before, after]])
    out = padded[..., 0:channels]
    for i in range(1, before + after + 1):
        out = out + padded[..., i : i + channels]
    return out


def _native_lrn():
    """The compiled kernels (:mod:`leuknet.ops`) on CPU-only TensorFlow runs, else None (GPU runs keep XLA; the
    kernels are TensorFlow ops: never built under another backend)."""
    if not _TF:
        return None
    from leuknet import ops as native_ops

    if native_ops.mode() == "off" or tf.config.list_logical_devices("GPU"):
        return None
    return native_ops.cross_channel_norm()


def _lrn_function(channels, window, scale, beta, k, fused):
    """The layer's op on a tensor of ``channels`` channels: forward, and a gradient written by hand.

    ``ss = W(x**2)`` with W the channel window (``before`` channels below, ``after`` above), ``d = k + scale*ss``,
    ``y = x * d**-beta``; ``dx = g * d**-beta - 2*scale*beta * x * W^T(g * x * d**(-beta-1))`` where ``W^T`` is
    the mirrored window. Arithmetic is float32 whatever the input dtype."""
    before, after = (window - 1) // 2, window // 2

    def denominator_power(xf):
        d = k + scale * _channel_window_sum(ops.square(xf), channels, before, after)
        return d, _power_neg_beta(d, beta)

    def forward(x):
        xf = ops.cast(x, "float32")
        _, p = denominator_power(xf)
        return ops.cast(xf * p, x.dtype)

    def inner(x, g):  # g * x * d**(-beta-1), in float32
        xf, gf = ops.cast(x, "float32"), ops.cast(g, "float32")
        d, p = denominator_power(xf)
        return gf * xf * p / d

    def backward(x, g, t):
        xf, gf = ops.cast(x, "float32"), ops.cast(g, "float32")
        _, p = denominator_power(xf)
        return ops.cast(gf * p - (2.0 * scale * beta) * xf * _channel_window_sum(t, channels, after, before),
                        x.dtype)

    if fused and _TF:  # under JAX the whole step is one jit function already
        # one kernel forward; backward in two (fusing W^T of a recomputed term into one kernel was slower)
        forward, inner, backward = (
            tf.function(f, jit_compile=True, reduce_retracing=True, autograph=False) for f in (forward, inner, backward)
        )
    native = _native_lrn() if fused else None
    attrs = dict(before=before, after=after, scale=scale, beta=beta, k=k)

    @ops.custom_gradient
    def lrn(x):
        use_native = native is not None and _dtype(x) in _NATIVE_DTYPES

        def grad(g):  # JAX traces this rule with the forward: it closes over x only (no more memory kept)
            if use_native:
                return native.leuknet_cross_channel_norm_grad(x, tf.cast(g, x.dtype), **attrs)
            return backward(x, g, inner(x, g))

        return (native.leuknet_cross_channel_norm(x, **attrs) if use_native else forward(x)), grad

    if native is None:
        return lrn, None, None, None
    relu_attrs = dict(attrs, relu=True)

    @tf.custom_gradient
    def relu_lrn(z):  # lrn(relu(z)) and its gradient with respect to z, in one kernel each
        def grad(g):
            return native.leuknet_cross_channel_norm_grad(z, tf.cast(g, z.dtype), **relu_attrs)

        return native.leuknet_cross_channel_norm(z, **relu_attrs), grad

    return lrn, relu_lrn, native, dict(attrs, relu=False)


@keras.saving.register_keras_serializable(package="leuknet")
class Conv2D(keras.layers.Conv2D):
    """``keras.layers.Conv2D``; a convolution of at most 4 input channels and 75 patch values (an RGB network's
    first layer with a small filter, LeukNet's 3 x 3), decided when the layer is built (``few_channel_kernel``),
    computes its weight and bias gradients in traced functions with a kernel for few channels
    (:file:`leuknet/ops/conv_filter_grad.cc`; see :data:`FUSED_BLOCKS`)."""

    few_channel_kernel = False  # set by build

    def build(self, input_shape):
        super().build(input_shape)
        self.few_channel_kernel = self._few_channels(tuple(input_shape))

    def call(self, inputs):
        if self.few_channel_kernel and _TF and not tf.executing_eagerly() and _native_lrn() is not None:
            return _few_channel_conv(inputs, self.kernel, self.bias if self.use_bias else None, self.strides)
        return super().call(inputs)

    def _few_channels(self, shape):  # and a patch of at most 75 values (5 x 5 x 3): larger ones block well elsewhere
        return bool(len(shape) == 4 and shape[-1] is not None and shape[-1] <= 4
                    and keras.backend.standardize_dtype(self.compute_dtype) in _NATIVE_DTYPES
                    and self.kernel_size[0] * self.kernel_size[1] * shape[-1] <= 75
                    and self.groups == 1 and self.padding == "valid" and self.data_format == "channels_last"
                    and tuple(self.dilation_rate) == (1, 1) and self.activation is keras.activations.linear)


def _few_channel_conv(x, kernel, bias, strides):
    """conv2d(x, kernel) + bias (no padding), with the weight and bias gradients from the few-channel kernel."""
    native = _native_lrn()
    kh, kw = int(kernel.shape[0]), int(kernel.shape[1])
    step = [1, int(strides[0]), int(strides[1]), 1]
    if bias is None:
        bias = tf.zeros([kernel.shape[-1]], kernel.dtype)

    @tf.custom_gradient
    def conv(x, w, b):
        def grad(dy):
            dw, db = native.leuknet_conv2d_filter_grad(x, dy, kh=kh, kw=kw, stride_h=step[1], stride_w=step[2])
            dx = tf.raw_ops.Conv2DBackpropInput(input_sizes=tf.shape(x), filter=w, out_backprop=dy, strides=step,
                                                padding="VALID")  # pruned where nothing needs it (a first layer)
            return dx, dw, db

        return tf.nn.bias_add(tf.nn.conv2d(x, w, step, "VALID"), b), grad

    return conv(x, kernel, tf.cast(bias, kernel.dtype))


@keras.saving.register_keras_serializable(package="leuknet")
class MaxPooling2D(keras.layers.MaxPooling2D):
    """``keras.layers.MaxPooling2D``; built on a :class:`CrossChannelNormalization`'s output (no padding), it
    normalises and pools in one kernel forward and one backward in traced functions, recording the windows' maxima
    only with ``training=True`` (see :data:`FUSED_BLOCKS`). ``fuse_normalization``: decided when the functional
    model is built (None: not yet), saved with the layer."""

    def __init__(self, *args, fuse_normalization=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fuse_normalization = None if fuse_normalization is None else bool(fuse_normalization)

    def __call__(self, *args, **kwargs):
        inputs = args[0] if args else kwargs.get("inputs")
        if self.fuse_normalization is None and isinstance(inputs, keras.KerasTensor):
            (ph, pw) = self.pool_size
            self.fuse_normalization = (isinstance(_producer(inputs), CrossChannelNormalization)
                                       and self.padding == "valid" and self.data_format == "channels_last"
                                       and ph * pw <= 256 and len(inputs.shape) == 4)
        return super().__call__(*args, **kwargs)

    def call(self, inputs, training=None):
        # the normalisation's native input and attributes, handed on with its output in traced functions
        source = getattr(inputs, _NORM_SOURCE, None) if self.fuse_normalization and _TF else None
        if source is None:
            return super().call(inputs)
        recorded = True if isinstance(training, tf.Tensor) else bool(training)  # False: a graph that only predicts
        return _norm_pool(*source, self.pool_size, self.strides, recorded)

    def get_config(self):
        config = super().get_config()
        config.update(fuse_normalization=self.fuse_normalization)
        return config


def _norm_pool(native, z, norm_attrs, pool_size, strides, recorded):
    """maxpool(norm(z)) in one kernel (``native``: the library of the normalisation's op, ``norm_attrs`` its
    attributes), with the window maxima recorded for the gradient or, where not ``recorded``, recomputed by it."""
    attrs = dict(norm_attrs, pool_h=pool_size[0], pool_w=pool_size[1], stride_h=strides[0], stride_w=strides[1])

    @tf.custom_gradient
    def norm_pool(z):
        y, argmax = native.leuknet_cross_channel_norm_max_pool(z, with_argmax=recorded, **attrs)

        def grad(g):
            maxima = argmax if recorded else native.leuknet_cross_channel_norm_max_pool(z, **attrs)[1]
            return native.leuknet_cross_channel_norm_max_pool_grad(z, maxima, tf.cast(g, z.dtype), **attrs)

        return y, grad

    return norm_pool(z)


def _normalized(x, mean, std, lo, hi, mode, scale, dtype):
    """MATLAB's input normalisation ``mode`` of ``x``, in float32, times ``scale``, cast to ``dtype``. Under a
    mixed policy Keras hands the layer its inputs and statistics already cast to the compute dtype (pixel values
    0-255 are exact in bfloat16 and float16; the statistics are rounded), and the arithmetic runs in float32."""
    x, mean, std, lo, hi = (ops.cast(v, "float32") for v in (x, mean, std, lo, hi))
    if mode == "zerocenter":
        x = x - mean
    elif mode == "zscore":
        x = (x - mean) / std
    elif mode == "rescale-symmetric":
        x = 2.0 * (x - lo) / (hi - lo) - 1.0
    elif mode == "rescale-zero-one":
        x = (x - lo) / (hi - lo)
    if scale != 1.0:
        x = x * scale
    return ops.cast(x, dtype)


def _input_normalizer(mode, scale, dtype):
    """:func:`_normalized` as one XLA kernel: one pass over the batch instead of TensorFlow's broadcast subtraction
    over a last axis of 3 channels, a division or product, and a cast, each a pass of its own (the same float32
    operations, so the same values: a test compares them bit for bit). Batch 128 of 224 x 224 x 3: 27 against
    83 ms in bfloat16 (medians of 10, interleaved; 2026-11-22). One function per layer: a function shared by
    layers of other statistics' shapes was traced with shapes relaxed across them, and failed."""
    def normalize(x, mean, std, lo, hi):
        return _normalized(x, mean, std, lo, hi, mode, float(scale), dtype)

    return tf.function(normalize, jit_compile=True, autograph=False) if _TF else normalize


def _host_array(variable):
    """A variable's value as a NumPy array, without NumPy 2's DeprecationWarning: ``np.array`` on a TensorFlow
    tensor or variable warns (their ``__array__`` takes no ``copy``), so TensorFlow's values go through their own
    ``.numpy()``; JAX arrays convert directly."""
    value = variable.value
    return np.asarray(value.numpy() if hasattr(value, "numpy") else value)


@keras.saving.register_keras_serializable(package="leuknet")
class ImageInputNormalization(keras.layers.Layer):
    """MATLAB ``imageInputLayer`` normalisation, with its statistics stored in the model.

    ``normalization``: 'zerocenter' (x - Mean), 'zscore' ((x - Mean) / StandardDeviation), 'rescale-symmetric'
    (to [-1, 1] with Min/Max), 'rescale-zero-one' (to [0, 1]) or 'none'. ``normalization_dimension``: 'channel'
    (statistics of shape 1 x 1 x C; MATLAB's 'auto' when statistics are computed at training time) or 'element'
    (H x W x C, the per-pixel mean image that pretrained alexnet carries).

    The statistics are non-trainable weights set once, from the training data only, by :meth:`set_statistics`,
    so a saved model predicts without the training data. The layer also records the colour space its inputs are
    expected in (``colorspace``), so prediction converts images the same way training did.

    Under JAX, the modes that divide by a statistic ('zscore', the rescales) are within two units in the last
    place of IEEE division: XLA (jaxlib 0.10, CPU) computes ``x / broadcast(s)`` as ``x * (1 / s)``. TensorFlow's
    results equal the separate MATLAB operations bit for bit (tests/test_layers.py).
    """

    def __init__(self, normalization="zerocenter", normalization_dimension="channel", colorspace="rgb", crop=0,
                 scale=1.0, **kwargs):
        super().__init__(**kwargs)
        if normalization not in NORMALIZATIONS:
            raise ValueError(f"normalization must be one of {NORMALIZATIONS}, received {normalization!r}")
        if normalization_dimension not in NORMALIZATION_DIMENSIONS:
            raise ValueError(
                f"normalization_dimension must be one of {NORMALIZATION_DIMENSIONS}, received {normalization_dimension!r}"
            )
        self.normalization = normalization
        self.normalization_dimension = normalization_dimension
        self.colorspace = colorspace
        self.crop = int(crop)  # border crop applied to images before resizing (recorded for prediction)
        self.scale = float(scale)  # multiplies the normalised values (1/255: 'pixels / 255 minus the mean')

    def stat_shape(self, input_shape=None):
        shape = input_shape or self._input_shape
        return tuple(shape[-3:]) if self.normalization_dimension == "element" else (1, 1, shape[-1])

    def build(self, input_shape):
        self._input_shape = tuple(input_shape)
        shape = self.stat_shape(input_shape)
        init = {"mean": "zeros", "std": "ones", "min": "zeros", "max": "ones"}
        for name, initializer in init.items():
            setattr(self, name, self.add_weight(name=name, shape=shape, initializer=initializer, trainable=False,
                                                dtype="float32"))
        self.statistics_set = self.add_weight(name="statistics_set", shape=(), initializer="zeros",
                                              trainable=False, dtype="float32")
        self._normalize = _input_normalizer(self.normalization, self.scale, self.compute_dtype)
        self.built = True

    @property
    def needs_statistics(self) -> bool:
        return self.normalization != "none"

    def set_statistics(self, **stats):
        for name, value in stats.items():
            var = getattr(self, name)
            var.assign(np.broadcast_to(np.asarray(value, np.float32), var.shape))
        self.statistics_set.assign(1.0)

    def get_statistics(self) -> dict:
        return {n: _host_array(getattr(self, n)) for n in ("mean", "std", "min", "max")}

    def call(self, inputs):
        return self._normalize(inputs, *(v.value for v in (self.mean, self.std, self.min, self.max)))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(normalization=self.normalization, normalization_dimension=self.normalization_dimension,
                      colorspace=self.colorspace, crop=self.crop, scale=self.scale)
        return config


def _reduce(op, b, dimension, dtype=None):
    """``op.reduce`` of an N x H x W x C array over images ('element') or over images and pixels ('channel'), as
    reductions over the rows of 2-D views: numpy reduces a last axis of 3 channels about ten times slower.
    ``dtype``: the accumulator's (sums of 8-bit pixels in int64)."""
    n, h, w, c = b.shape
    rows = op.reduce(b.reshape(n * (h if dimension == "channel" else 1), -1), axis=0, dtype=dtype)
    return op.reduce(rows.reshape(w, c), axis=0) if dimension == "channel" else rows.reshape(h, w, c)


def input_statistics(batches, normalization: str, dimension: str) -> dict:
    """Statistics of the training images for :class:`ImageInputNormalization`, in float64, one pass.

    ``batches`` yields N x H x W x C arrays (8-bit ones are summed in int64: the same sums as float64, faster).
    Mean and standard deviation are over all pixels of all images per channel ('channel') or over images per
    element ('element'); the standard deviation is the population one (divisor N), and a zero one is replaced by 1
    so constant channels pass through unscaled.
    """
    total = total_sq = None
    count = 0
    lo = hi = None
    for batch in batches:
        if getattr(batch, "dtype", None) == np.uint8:  # exact integer sums (float64's are exact too: < 2**53)
            b = np.asarray(batch)
            s, sq = _reduce(np.add, b, dimension, np.int64), _reduce(np.add, np.square(b, dtype=np.uint16),
                                                                     dimension, np.int64)
            s, sq = s.astype(np.float64), sq.astype(np.float64)
        else:
            b = np.asarray(batch, np.float64)
            s, sq = _reduce(np.add, b, dimension), _reduce(np.add, np.square(b), dimension)
        n = b.shape[0] * (b.shape[1] * b.shape[2] if dimension == "channel" else 1)
        mn, mx = (_reduce(op, b, dimension).astype(np.float64) for op in (np.minimum, np.maximum))
        if total is None:
            total, total_sq, lo, hi = s, sq, mn, mx
        else:
            total, total_sq, lo, hi = total + s, total_sq + sq, np.minimum(lo, mn), np.maximum(hi, mx)
        count += n
    if total is None:
        raise ValueError("cannot compute input statistics from an empty training set")
    mean = total / count
    std = np.sqrt(np.maximum(total_sq / count - mean**2, 0.0))
    std[std == 0] = 1.0
    hi = np.where(hi == lo, lo + 1.0, hi)
    return {"mean": mean, "std": std, "min": lo, "max": hi}


@keras.saving.register_keras_serializable(package="leuknet")
class ClassificationOutput(keras.layers.Layer):
    """MATLAB ``classificationLayer``: identity at prediction; carries ``classes`` and ``class_weights``.

    The loss it stands for is :func:`crossentropyex`. Keeping the class names in the model lets ``leuknet
    predict`` name its columns from the model file alone.
    """

    def __init__(self, classes=None, class_weights=None, **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        self.classes = list(classes) if classes is not None else None
        self.class_weights = None if class_weights is None else [float(w) for w in class_weights]

    def call(self, inputs):
        if len(inputs.shape) == 4:  # 1 x 1 x K scores (SqueezeNet's pooled convolution): N x K, as MATLAB's
            inputs = ops.reshape(inputs, (-1, inputs.shape[-1]))
        return ops.cast(inputs, "float32")

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[-1]) if len(input_shape) == 4 else input_shape

    def get_config(self):
        config = super().get_config()
        config.update(classes=self.classes, class_weights=self.class_weights)
        return config


# MATLAB's eps('single'), 2^-23: nnet.internal.cnn.util.boundAwayFromZero raises values below it to it, in the
# classification layer's loss and its derivative (nnet.internal.cnn.layer.CrossEntropy forwardLoss / backwardLoss)
# and in the softmax layer's backward pass (SoftmaxHostImageStrategy.backward), MathWorks' sources
EPS_SINGLE = float(np.finfo(np.float32).eps)


def _bounded(x):
    """MATLAB's ``boundAwayFromZero`` on probabilities: values below eps('single') become eps('single')."""
    return ops.maximum(x, EPS_SINGLE)


@ops.custom_gradient
def _crossentropy(y, wt):
    def grad(g):  # MATLAB's backwardLoss: -wT ./ boundAwayFromZero(Y) ./ N (not zero where Y is below the bound)
        return g * (-wt / yb) / n, ops.zeros_like(wt)

    yb = _bounded(y)
    n = ops.cast(ops.shape(y)[0], "float32")
    return -ops.sum(wt * ops.log(yb)) / n, grad


def crossentropyex(probabilities, targets_onehot, class_weights=None):
    """MATLAB classificationLayer loss: ``-(1/N) * sum_n sum_i w_i T_ni ln(Y_ni)`` (divides by N, not by sum w),
    with MATLAB's bound: Y below eps('single') counts as eps('single') (a saturated network's loss per
    observation is at most 15.9424), and the derivative is MATLAB's ``-w T / bounded(Y) / N``, so such a network
    still learns (an autodiff of ``log(max(Y, floor))`` gives it no gradient at all)."""
    y = ops.cast(probabilities, "float32")
    wt = ops.cast(targets_onehot, "float32")
    if class_weights is not None:
        wt = wt * ops.convert_to_tensor(np.asarray(class_weights, np.float32))
    return _crossentropy(y, wt)


@ops.custom_gradient
def matlab_softmax(x):
    """Softmax over the last axis with MATLAB's backward pass: ``(dZ - sum(Zb .* dZ)) .* Zb`` where ``Zb`` is the
    output bounded away from zero (the plain softmax gradient scales by Z itself, which vanishes where a class
    probability underflows: MATLAB's keeps at least eps('single'))."""
    z = ops.softmax(x, axis=-1)

    def grad(dz):
        zb = _bounded(z)
        return (dz - ops.sum(zb * dz, axis=-1, keepdims=True)) * zb

    return z, grad


@keras.saving.register_keras_serializable(package="leuknet")
class Softmax(keras.layers.Softmax):
    """MATLAB ``softmaxLayer``: the softmax over the classes, with MATLAB's gradient (:func:`matlab_softmax`)."""

    def call(self, inputs, mask=None, training=None):
        if not training or mask is not None or self.axis not in (-1, len(inputs.shape) - 1):
            return super().call(inputs, mask)  # the same values; the gradient only matters in training
        return matlab_softmax(inputs)


@keras.saving.register_keras_serializable(package="leuknet")
class GroupedConv2D(keras.layers.Layer):
    """MATLAB ``groupedConvolution2dLayer`` (and AlexNet's two-group convolutions).

    One kernel of shape FH x FW x (C / G) x (G * F) as Keras ``Conv2D(groups=G)`` stores it, computed as G
    convolutions on channel slices joined by concatenation: same numbers as ``Conv2D(groups=G)``, and on the
    CPU much faster to train (TensorFlow's grouped-convolution kernels are slow there).
    """

    def __init__(self, filters_per_group, kernel_size, groups, strides=1, padding="valid", dilation_rate=1,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros", **kwargs):
        super().__init__(**kwargs)
        self.filters_per_group = int(filters_per_group)
        self.kernel_size = tuple(np.broadcast_to(kernel_size, 2).tolist())
        self.groups = int(groups)
        self.strides = tuple(np.broadcast_to(strides, 2).tolist())
        self.padding = padding
        self.dilation_rate = tuple(np.broadcast_to(dilation_rate, 2).tolist())
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)

    def build(self, input_shape):
        channels = int(input_shape[-1])
        if channels % self.groups:
            raise ValueError(f"{channels} input channels cannot be split into {self.groups} groups")
        self.channels_per_group = channels // self.groups
        self.kernel = self.add_weight(
            name="kernel", shape=self.kernel_size + (self.channels_per_group, self.groups * self.filters_per_group),
            initializer=self.kernel_initializer)
        self.bias = self.add_weight(name="bias", shape=(self.groups * self.filters_per_group,),
                                    initializer=self.bias_initializer)
        self.built = True

    def call(self, inputs):
        x = ops.cast(inputs, self.compute_dtype)
        kernel = ops.cast(self.kernel, self.compute_dtype)
        if not _TF:  # one grouped convolution (XLA's feature groups), the kernel as Conv2D(groups=G) stores it
            y = ops.conv(x, kernel, self.strides, self.padding, dilation_rate=self.dilation_rate)
            return y + ops.cast(self.bias, self.compute_dtype)
        cg, fg = self.channels_per_group, self.filters_per_group
        if cg == 1 and self.groups > 1 and (self.strides == (1, 1) or self.dilation_rate == (1, 1)):
            # one channel per group (MobileNet's depthwise convolutions): TensorFlow's depthwise kernel, the
            # output channels in the same group-major order (channel c's filters at c * fg ... c * fg + fg - 1)
            y = tf.nn.depthwise_conv2d(x, tf.reshape(kernel, self.kernel_size + (self.groups, fg)),
                                       strides=(1,) + self.strides + (1,), padding=self.padding.upper(),
                                       dilations=self.dilation_rate)
            return tf.nn.bias_add(y, tf.cast(self.bias, self.compute_dtype))
        outs = []
        for g in range(self.groups):
            outs.append(tf.nn.conv2d(x[..., g * cg : (g + 1) * cg], kernel[..., g * fg : (g + 1) * fg],
                                     strides=(1,) + self.strides + (1,), padding=self.padding.upper(),
                                     dilations=(1,) + self.dilation_rate + (1,)))
        y = outs[0] if self.groups == 1 else tf.concat(outs, axis=-1)
        return tf.nn.bias_add(y, tf.cast(self.bias, self.compute_dtype))

    def compute_output_shape(self, input_shape):
        h, w = input_shape[1], input_shape[2]
        out = []
        for n, k, s, d in zip((h, w), self.kernel_size, self.strides, self.dilation_rate):
            if n is None:
                out.append(None)
            elif self.padding == "same":
                out.append(-(-n // s))
            else:
                out.append((n - (k - 1) * d - 1) // s + 1)
        return (input_shape[0], out[0], out[1], self.groups * self.filters_per_group)

    def get_config(self):
        config = super().get_config()
        config.update(filters_per_group=self.filters_per_group, kernel_size=self.kernel_size, groups=self.groups,
                      strides=self.strides, padding=self.padding, dilation_rate=self.dilation_rate,
                      kernel_initializer=keras.initializers.serialize(self.kernel_initializer),
                      bias_initializer=keras.initializers.serialize(self.bias_initializer))
        return config


@keras.saving.register_keras_serializable(package="leuknet")
class MaxPoolPadding2D(keras.layers.Layer):
    """Padding before max pooling with -inf (ONNX / Caffe semantics: padded cells never win the maximum),
    ``padding`` = (top, bottom, left, right). Used for max pooling with padding or ceil mode."""

    def __init__(self, padding=(0, 0, 0, 0), **kwargs):
        super().__init__(**kwargs)
        self.padding = tuple(int(v) for v in padding)

    def call(self, inputs):
        t, b, l, r = self.padding
        x = ops.convert_to_tensor(inputs)
        lowest = float(ml_dtypes.finfo(_dtype(x)).min)  # NumPy's finfo knows no bfloat16
        return ops.pad(x, [[0, 0], [t, b], [l, r], [0, 0]], constant_values=lowest)

    def compute_output_shape(self, input_shape):
        t, b, l, r = self.padding
        n, h, w, c = input_shape
        return (n, None if h is None else h + t + b, None if w is None else w + l + r, c)

    def get_config(self):
        config = super().get_config()
        config.update(padding=self.padding)
        return config


@keras.saving.register_keras_serializable(package="leuknet")
class BatchNormalization(keras.layers.Layer):
    """MATLAB ``batchNormalizationLayer`` on the last (channel) axis, statistics over every other axis.

    Training: ``y = Scale * (x - mu_B) / sqrt(var_B + Epsilon) + Offset`` with the mini-batch's mean and variance
    (divisor m, the number of values per channel), and the running estimates updated as MATLAB's ``batchnorm``
    documents, ``s = Decay * s_batch + (1 - Decay) * s`` (MeanDecay, VarianceDecay 0.1:
    https://www.mathworks.com/help/deeplearning/ref/dlarray.batchnorm.html). Which variance enters the running
    estimate is not documented: leuknet takes the unbiased one (``var_B * m / (m - 1)``, as Ioffe & Szegedy's
    inference estimate and PyTorch). Prediction: the same formula with ``trained_mean`` / ``trained_variance``.

    Keras' own ``BatchNormalization`` differs (momentum 0.99 on the old value, epsilon 1e-3, biased variance).
    Arithmetic in float32 whatever the compute dtype. ``population_pass`` (set by :func:`population_statistics`)
    normalises with the mini-batch's statistics without updating anything, also outside training.
    """

    def __init__(self, epsilon=1e-5, mean_decay=0.1, variance_decay=0.1, **kwargs):
        super().__init__(**kwargs)
        self.epsilon = float(epsilon)
        self.mean_decay = float(mean_decay)
        self.variance_decay = float(variance_decay)
        self.population_pass = False

    def build(self, input_shape):
        c = int(input_shape[-1])
        self.scale = self.add_weight(name="scale", shape=(c,), initializer="ones", dtype="float32")
        self.offset = self.add_weight(name="offset", shape=(c,), initializer="zeros", dtype="float32")
        self.trained_mean = self.add_weight(name="trained_mean", shape=(c,), initializer="zeros", trainable=False,
                                            dtype="float32")
        self.trained_variance = self.add_weight(name="trained_variance", shape=(c,), initializer="ones",
                                                trainable=False, dtype="float32")
        self.built = True

    def call(self, inputs, training=False):
        x = ops.cast(inputs, "float32")
        axes = list(range(len(x.shape) - 1))
        if training or self.population_pass:
            mean = ops.mean(x, axes, keepdims=True)  # as tf.nn.moments: no gradient through the mean in var
            var = ops.mean(ops.square(x - ops.stop_gradient(mean)), axes)
            mean = ops.reshape(mean, (-1,))
            if training and not self.population_pass:
                m = ops.cast(ops.size(x) // ops.shape(x)[-1], "float32")
                unbiased = var * m / ops.maximum(m - 1.0, 1.0)
                self.trained_mean.assign((1.0 - self.mean_decay) * self.trained_mean + self.mean_decay * mean)
                self.trained_variance.assign((1.0 - self.variance_decay) * self.trained_variance
                                             + self.variance_decay * unbiased)
        else:
            mean, var = self.trained_mean, self.trained_variance
        y = (x - mean) * ops.rsqrt(var + self.epsilon) * self.scale + self.offset
        return ops.cast(y, self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(epsilon=self.epsilon, mean_decay=self.mean_decay, variance_decay=self.variance_decay)
        return config


def population_statistics(model, batches) -> int:
    """MATLAB's ``BatchNormalizationStatistics='population'``: after training, one pass over the training images
    (``batches`` yields N x H x W x C arrays) sets every :class:`BatchNormalization` layer's ``trained_mean`` and
    ``trained_variance`` to the mean and variance of its input over the whole set
    (https://www.mathworks.com/help/deeplearning/ref/nnet.cnn.layer.batchnormalizationlayer.html: "passes through
    the data once more"). Not documented, and leuknet's choices: in that pass every batch normalisation layer
    normalises with the mini-batch's own statistics (as in training; dropout off), and the variance is the unbiased
    one (divisor M - 1 over all M values of a channel), as in the running estimate. Returns the number of layers
    set (0: none, and no pass made)."""
    bns = [l for l in model.layers if isinstance(l, BatchNormalization)]
    if not bns:
        return 0
    probe = keras.Model(model.inputs, [l.input for l in bns])
    for l in bns:
        l.population_pass = True
    try:
        if _TF:
            step = tf.function(lambda x: probe(x, training=False), reduce_retracing=True, autograph=False)
        else:
            step = probe.predict_on_batch  # compiled once (population_pass is read when it is traced)
        sums = [None] * len(bns)
        for batch in batches:
            outs = step(ops.convert_to_tensor(batch))
            outs = outs if isinstance(outs, (list, tuple)) else [outs]
            for i, o in enumerate(outs):
                v = np.asarray(ops.convert_to_numpy(o), np.float64).reshape(-1, o.shape[-1])
                s = (v.shape[0], v.sum(0), np.square(v).sum(0))
                sums[i] = s if sums[i] is None else tuple(a + b for a, b in zip(sums[i], s))
    finally:
        for l in bns:
            l.population_pass = False
    if sums[0] is None:
        return 0
    for l, (m, s, sq) in zip(bns, sums):
        mean = s / m
        var = np.maximum(sq - m * mean**2, 0.0) / max(m - 1, 1)
        l.trained_mean.assign(mean.astype(np.float32))
        l.trained_variance.assign(var.astype(np.float32))
    return len(bns)


@keras.saving.register_keras_serializable(package="leuknet")
class PaddedAveragePooling2D(keras.layers.Layer):
    """MATLAB ``averagePooling2dLayer`` with padding ``(top, bottom, left, right)``.

    ``include_padding=True`` (MATLAB's ``PaddingValue`` 0, the default): the padded zeros count in each average
    (the divisor is always the pool area). ``include_padding=False`` (``PaddingValue 'mean'``): padded cells are
    left out of the average (https://www.mathworks.com/help/deeplearning/ref/nnet.cnn.layer.averagepooling2dlayer.html).
    ``same`` records that the padding came from ``Padding='same'`` (computed for the input size at build time)."""

    def __init__(self, pool_size=(2, 2), strides=(1, 1), padding=(0, 0, 0, 0), include_padding=True, same=False,
                 **kwargs):
        super().__init__(**kwargs)
        self.pool_size = tuple(int(v) for v in pool_size)
        self.strides = tuple(int(v) for v in strides)
        self.padding = tuple(int(v) for v in padding)
        self.include_padding = bool(include_padding)
        self.same = bool(same)

    def build(self, input_shape):
        if self.same:
            pads = []
            for n, k, s in zip(input_shape[1:3], self.pool_size, self.strides):
                total = max((-(-int(n) // s) - 1) * s + k - int(n), 0)
                pads += [total // 2, total - total // 2]  # the odd one at the bottom / right
            self.padding = tuple(pads)
        self.built = True

    def call(self, inputs):
        t, b, l, r = self.padding
        x = ops.cast(inputs, "float32")
        pad = [[0, 0], [t, b], [l, r], [0, 0]]
        y = ops.average_pool(ops.pad(x, pad), self.pool_size, self.strides, "valid")
        if not self.include_padding and any(self.padding):
            ones = ops.pad(ops.ones_like(x[:1, :, :, :1]), pad)
            y = y / ops.average_pool(ones, self.pool_size, self.strides, "valid")
        return ops.cast(y, self.compute_dtype)

    def compute_output_shape(self, input_shape):
        n, h, w, c = input_shape
        if self.same:
            sh, sw = self.strides
            return (n, None if h is None else -(-h // sh), None if w is None else -(-w // sw), c)
        t, b, l, r = self.padding
        out = [None if v is None else (v + p - k) // s + 1
               for v, p, k, s in ((h, t + b, self.pool_size[0], self.strides[0]),
                                  (w, l + r, self.pool_size[1], self.strides[1]))]
        return (n, out[0], out[1], c)

    def get_config(self):
        config = super().get_config()
        config.update(pool_size=self.pool_size, strides=self.strides, padding=self.padding,
                      include_padding=self.include_padding, same=self.same)
        return config
