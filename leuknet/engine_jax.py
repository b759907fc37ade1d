"""The Trainer's JAX engine (the GPU profile where TensorFlow is not installed, and any ``KERAS_BACKEND=jax``
run): one ``jax.jit`` function per training step (forward through ``model.stateless_call``, backward, MATLAB
solver update: :meth:`leuknet.solvers.Solver.update`), with the weights', the layers' and the solver's buffers
donated to it, and the new values written back into the Keras variables after each step (so validation, saving,
checkpoints and callers that read a layer's weights see the network after that iteration's update, as under
TensorFlow). Mini-batches come from :meth:`leuknet.data.pipeline.ImageData.numpy_batches` (no tf.data), put on
the device one step ahead.

Mixed float16 scales the loss dynamically as the TensorFlow engine does (halved and the update skipped on
inf/NaN gradients, doubled after 2000 finite steps), but the first step finds its scale first: from 2^15 it halves
the scale, on the first mini-batch, until that batch's gradients are finite, so training does not open with a
run of skipped iterations (LeukNet's gradients overflowed float16 at 2^15 in every early step of a trial).

Several devices: under a ``keras.distribution.DataParallel`` distribution (set before the model is built) the
variables are replicated and each mini-batch is split along its first axis over the devices; XLA adds the
gradient all-reduce, so the update is the one of the whole mini-batch (MATLAB's 1/N mean)."""

from __future__ import annotations

import collections

import jax
import jax.numpy as jnp
import keras
import numpy as np

from leuknet.errors import ConfigError

FIRST_SCALE_HALVINGS = 24  # 2^15 down to 2^-9 at most


class JaxEngine:
    def __init__(self, trainer, strategy=None, jit_step=True):
        if strategy is not None:
            raise ConfigError("tf.distribute strategies need the TensorFlow backend; under JAX several devices "
                              "are used through keras.distribution.DataParallel")
        self.trainer = trainer
        self.model = trainer.model
        self.solver = trainer.solver
        self.loss_scaling = trainer.loss_scaling
        if self.loss_scaling:
            self.loss_scale = keras.Variable(2.0**15, dtype="float32", trainable=False, name="loss_scale")
            self.finite_steps = keras.Variable(0, dtype="int32", trainable=False, name="finite_steps")
        self._trainable = list(self.model.trainable_variables)
        self._others = list(self.model.non_trainable_variables)
        self._state = list(self.solver.state()) + self.extra_state()
        self._step = jax.jit(self._step_impl, donate_argnums=(0, 1, 2))
        self._eval = jax.jit(self._eval_impl)
        self._finite = jax.jit(self._finite_impl)
        self._scale_found = not self.loss_scaling

    def extra_state(self):
        return [self.loss_scale, self.finite_steps] if self.loss_scaling else []

    # -- the jitted functions (pure: values in, values out) ----------------------------------------------------
    def _grads(self, trainable, others, x, y, scale):
        def scaled_loss(trainable):
            probs, new_others, losses = self.model.stateless_call(trainable, others, x, training=True,
                                                                  return_losses=True)
            loss = self.trainer.loss(probs, y, losses)
            return loss * scale, (loss, probs, new_others)

        grads, (loss, probs, new_others) = jax.grad(scaled_loss, has_aux=True)(trainable)
        if self.loss_scaling:
            grads = [g / scale for g in grads]
        return grads, loss, probs, new_others

    def _step_impl(self, trainable, others, state, x, y, lr):
        k = len(self.solver.state())
        scale = state[k] if self.loss_scaling else 1.0
        grads, loss, probs, others = self._grads(trainable, others, x, y, scale)
        new_trainable, new_solver = self.solver.update(trainable, grads, state[:k], lr)
        if self.loss_scaling:
            finite = _all_finite(grads)
            keep = lambda new, old: [jnp.where(finite, a, b) for a, b in zip(new, old)]  # noqa: E731
            new_trainable, new_solver = keep(new_trainable, trainable), keep(new_solver, state[:k])
            steps = jnp.where(finite, state[k + 1] + 1, 0)
            grown = jnp.where(finite & (steps % 2000 == 0), scale * 2.0, scale)
            scale = jnp.where(finite, grown, jnp.maximum(scale / 2.0, 1.0))
            new_solver = new_solver + [scale, steps]
        acc = jnp.mean((jnp.argmax(probs, -1) == y).astype("float32"))
        return loss, acc, new_trainable, others, new_solver

    def _finite_impl(self, trainable, others, x, y, scale):
        return _all_finite(self._grads(trainable, others, x, y, scale)[0])

    def _eval_impl(self, trainable, others, x, y):
        probs, _ = self.model.stateless_call(trainable, others, x, training=False)
        n = jnp.asarray(y.shape[0], "float32")
        correct = jnp.sum((jnp.argmax(probs, -1) == y).astype("float32"))
        return self.trainer.loss(probs, y) * n, correct, probs

    # -- what the Trainer calls --------------------------------------------------------------------------------
    def train_step(self, x, y, learn_rate):
        x, y = _on_device(x), _on_device(y)
        if not self._scale_found:
            self._find_scale(x, y)
        values = [v.value for v in self._trainable], [v.value for v in self._others], [v.value for v in self._state]
        loss, acc, trainable, others, state = self._step(*values, x, y, jnp.float32(learn_rate))
        for group, new in ((self._trainable, trainable), (self._others, others), (self._state, state)):
            for v, a in zip(group, new):
                v.assign(a)
        return loss, acc

    def _find_scale(self, x, y):
        trainable, others = [v.value for v in self._trainable], [v.value for v in self._others]
        scale = float(self.loss_scale.value)
        for _ in range(FIRST_SCALE_HALVINGS):
            if bool(self._finite(trainable, others, x, y, jnp.float32(scale))):
                break
            scale /= 2.0
        self.loss_scale.assign(scale)
        self._scale_found = True

    def eval_step(self, x, y, rows=None):
        """(summed loss, correct count, probabilities) of one batch. A last batch smaller than ``rows`` (the pass's
        batch size) is padded to it, so that one compiled function serves the whole pass (and a batch split over
        several devices splits evenly): padded rows are zero images labelled -1, whose one-hot target is zero and
        whose prediction never counts as correct, so the sums are those of the real rows."""
        n = len(x)
        x, y = _padded(x, rows), _padded(np.asarray(y, np.int32), rows, fill=-1)
        values = [v.value for v in self._trainable], [v.value for v in self._others]
        loss, correct, probs = self._eval(*values, _on_device(x), _on_device(y))
        return loss, correct, probs[:n]

    def stream(self, data, order, batch_size):
        """The training mini-batches of ``data`` in ``order`` (incomplete last one dropped), each put on the
        device while the step before it runs (``jax.device_put`` returns at once)."""
        batches = data.numpy_batches(order, batch_size, drop_remainder=True)
        ahead = collections.deque()
        for x, y in batches:
            ahead.append((_on_device(x), _on_device(y)))
            if len(ahead) > 1:
                yield ahead.popleft()
        while ahead:
            yield ahead.popleft()


    @staticmethod
    def snapshot(variable) -> np.ndarray:
        """A host copy of a variable's value (read-only): the device buffer is donated to the next step. From a
        GPU, ``device_get`` copies to the host already. On a CPU device it returns a view of the buffer itself,
        and while a view lives JAX does not donate that buffer (it quietly copies it for the step instead: jax
        0.10.2), so a CPU snapshot is copied here, once."""
        value = variable.value if hasattr(variable, "value") else variable
        a = np.asarray(jax.device_get(value))
        devices = value.devices() if hasattr(value, "devices") else ()
        if not devices or any(d.platform == "cpu" for d in devices):
            a = a.copy()
        a.flags.writeable = False
        return a

    @staticmethod
    def inference_step(model):
        forward = jax.jit(lambda trainable, others, x: model.stateless_call(trainable, others, x,
                                                                             training=False)[0])

        rows = [0]  # the largest batch so far: a smaller (last) one is padded to it, as eval_step pads

        def step(x):
            n = int(np.shape(x)[0])
            rows[0] = max(rows[0], n)
            x = _padded(x, rows[0])
            return forward([v.value for v in model.trainable_variables],
                           [v.value for v in model.non_trainable_variables], _on_device(x))[:n]

        return step


def _padded(a, rows, fill=0):
    """``a`` with rows of ``fill`` appended up to ``rows`` (``a`` itself when it has as many, or ``rows`` is
    None); NumPy for host arrays, jax.numpy for device ones."""
    n = int(np.shape(a)[0])
    if rows is None or n >= rows:
        return a
    xp = np if isinstance(a, np.ndarray) else jnp
    return xp.concatenate([a, xp.full((rows - n,) + tuple(a.shape[1:]), fill, a.dtype)])


def _all_finite(arrays):
    return jnp.all(jnp.stack([jnp.all(jnp.isfinite(a)) for a in arrays]))


def _on_device(a):
    """``a`` on the device(s): split along the batch axis under a ``keras.distribution`` distribution."""
    distribution = keras.distribution.distribution()
    if distribution is None:
        return jax.device_put(a)
    return jax.device_put(a, distribution.get_data_layout(np.shape(a)).backend_layout)
