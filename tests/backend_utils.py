"""What the layer and solver tests need from the Keras backend they run under (TensorFlow, or JAX in CI's second
run): NumPy copies of outputs, a gradient, and a traced (compiled) call, each the backend's own."""

import keras
import numpy as np
from keras import ops

BACKEND = keras.backend.backend()


def to_numpy(x) -> np.ndarray:
    """A backend tensor (or variable, or array) as a NumPy array (a variable through its value: Keras 3.15's JAX
    variable has an ``__array__`` without NumPy 2's ``copy`` keyword, which NumPy warns is deprecated)."""
    if isinstance(x, keras.Variable):
        x = x.value
    return np.asarray(ops.convert_to_numpy(x))


def dtype_name(x) -> str:
    """The dtype of a backend tensor as Keras names it ('float32', 'bfloat16', ...)."""
    return keras.backend.standardize_dtype(x.dtype)


def value_and_grad(f, x):
    """(f(x), df/dx) as NumPy arrays for a scalar function ``f`` of one tensor, by the backend's autodiff:
    ``tf.GradientTape`` under TensorFlow, ``jax.value_and_grad`` under JAX."""
    if BACKEND == "tensorflow":
        import tensorflow as tf

        xt = tf.constant(x)
        with tf.GradientTape() as tape:
            tape.watch(xt)
            value = f(xt)
        return to_numpy(value), to_numpy(tape.gradient(value, xt))
    if BACKEND == "jax":
        import jax

        value, grad = jax.value_and_grad(f)(jax.numpy.asarray(x))
        return to_numpy(value), to_numpy(grad)
    raise NotImplementedError(f"no gradient helper for the {BACKEND} backend")


def traced_call(layer):
    """``layer``'s call compiled as the backend's training step compiles it: in a ``tf.function`` under
    TensorFlow (a traced graph, the fused kernels' setting); under JAX in a ``jax.jit`` function that gets the
    layer's variables as arguments, as ``model.stateless_call`` in the JAX engine's step hands them to each layer
    (a layer's own ``stateless_call`` would skip the input casts and autocasting of ``__call__``)."""
    if BACKEND == "tensorflow":
        import tensorflow as tf

        return tf.function(lambda x: layer(x))
    if BACKEND == "jax":
        import jax

        def call(values, x):
            with keras.StatelessScope(state_mapping=list(zip(layer.variables, values))):
                return layer(x)

        compiled = jax.jit(call)
        return lambda x: compiled([v.value for v in layer.variables], x)
    raise NotImplementedError(f"no traced call for the {BACKEND} backend")
