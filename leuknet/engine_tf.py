"""The Trainer's TensorFlow engine (the CPU profile's, and TensorFlow's GPU profile): traced steps
(``tf.function``; XLA for the solver update, for the whole step where the profile asks), ``tf.distribute``
strategies, dynamic loss scaling for mixed float16, zero-copy snapshots of the variables. TensorFlow only: the
Trainer (:mod:`leuknet.train`) picks it when Keras runs on TensorFlow."""

from __future__ import annotations

import numpy as np
import tensorflow as tf


class TensorFlowEngine:
    def __init__(self, trainer, strategy=None, jit_step=False):
        """``strategy``: a ``tf.distribute`` strategy the model was built under (MirroredStrategy: every replica
        computes the gradient of its share of the mini-batch, the gradients are averaged, the solver updates the
        mirrored variables once). ``jit_step``: XLA-compile the whole step (GPU profile)."""
        self.trainer = trainer
        self.model = trainer.model
        self.solver = trainer.solver
        self.strategy = strategy
        # mixed float16: dynamic loss scaling (scale 2^15, halved and the step skipped on inf/NaN gradients,
        # doubled after 2000 finite steps); bfloat16 and float32 need none
        self.loss_scaling = trainer.loss_scaling
        if self.loss_scaling:
            self.loss_scale = tf.Variable(2.0**15, trainable=False, dtype=tf.float32)
            self.finite_steps = tf.Variable(0, trainable=False, dtype=tf.int64)
        if self.strategy is not None:
            self._train_step = tf.function(self._distributed_step_impl, reduce_retracing=True)
        else:
            self._train_step = tf.function(self._train_step_impl, reduce_retracing=True, jit_compile=jit_step)
        self._eval_step = tf.function(self._eval_step_impl, reduce_retracing=True)

    def extra_state(self):
        return [self.loss_scale, self.finite_steps] if self.loss_scaling else []

    def _replica_grads(self, x, y):
        """Forward and backward on one (share of a) mini-batch: loss, accuracy, unscaled gradients. With mixed
        float16 the loss is scaled for the backward pass and the gradients unscaled."""
        with tf.GradientTape() as tape:
            probs = self.model(x, training=True)  # the fused blocks' training variant (leuknet.layers.FUSED_BLOCKS)
            loss = self.trainer.loss(probs, y, self.model.losses)
            scaled = loss * self.loss_scale if self.loss_scaling else loss
        grads = tape.gradient(scaled, self.model.trainable_variables)
        if self.loss_scaling:
            grads = [g / self.loss_scale for g in grads]
        acc = tf.reduce_mean(tf.cast(tf.equal(tf.argmax(probs, -1, output_type=tf.int32), y), tf.float32))
        return loss, acc, grads

    def _train_step_impl(self, x, y, lr):
        loss, acc, grads = self._replica_grads(x, y)
        if self.loss_scaling:
            finite = tf.reduce_all([tf.reduce_all(tf.math.is_finite(g)) for g in grads])

            def update():
                self.solver.apply(grads, lr)
                self.finite_steps.assign_add(1)
                grow = tf.equal(self.finite_steps % 2000, 0)
                self.loss_scale.assign(tf.where(grow, self.loss_scale * 2.0, self.loss_scale))
                return tf.constant(True)

            def skip():
                self.loss_scale.assign(tf.maximum(self.loss_scale / 2.0, 1.0))
                self.finite_steps.assign(0)
                return tf.constant(False)

            tf.cond(finite, update, skip)
        else:
            self.solver.apply(grads, lr)
        return loss, acc

    def _distributed_step_impl(self, x, y, lr):
        # equal shares per replica: the mean of the replicas' mean losses is the mini-batch mean (MATLAB's 1/N)
        loss, acc, grads = self.strategy.run(self._replica_grads, args=(x, y))
        mean = tf.distribute.ReduceOp.MEAN
        grads = [self.strategy.reduce(mean, g, axis=None) for g in grads]
        self.solver.apply(grads, lr)
        return self.strategy.reduce(mean, loss, axis=None), self.strategy.reduce(mean, acc, axis=None)

    def _eval_step_impl(self, x, y):
        probs = self.model(x, training=False)
        n = tf.cast(tf.shape(y)[0], tf.float32)
        return self.trainer.loss(probs, y) * n, tf.reduce_sum(
            tf.cast(tf.equal(tf.argmax(probs, -1, output_type=tf.int32), y), tf.float32)), probs

    def train_step(self, x, y, learn_rate):
        return self._train_step(x, y, tf.constant(learn_rate, tf.float32))

    def eval_step(self, x, y, rows=None):
        """(summed loss, correct count, probabilities) of one batch (``rows``: the pass's batch size, which the
        JAX engine pads a last, smaller batch to; tf.function's relaxed shapes need no padding)."""
        return self._eval_step(tf.convert_to_tensor(x), tf.convert_to_tensor(y))

    def stream(self, data, order, batch_size):
        """The training mini-batches of ``data`` in ``order`` (incomplete last one dropped), as tf.data."""
        batches = data.batches(order, batch_size, drop_remainder=True)
        if self.strategy is not None:
            opts = tf.data.Options()  # every worker reads the same seeded order and keeps its share
            opts.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
            batches = self.strategy.experimental_distribute_dataset(batches.with_options(opts))
        return iter(batches)


    @staticmethod
    def snapshot(variable) -> np.ndarray:
        """Read-only NumPy view of a variable's current value (no copy; see Trainer.get_state): the buffer of the
        tensor a read returns, through ``memoryview`` (TensorFlow's documented zero-copy read; ``Tensor.numpy()``
        copies). TensorFlow's resource variables are copy-on-write (an update allocates a new buffer, or copies,
        while another reference to the old one is alive; XLA's update writes new buffers), so the buffer seen
        here stays as it is. Dtypes the buffer protocol cannot describe (bfloat16) through ``np.asarray``, which
        shares the buffer too (``Tensor.__array__``)."""
        t = tf.convert_to_tensor(variable)
        try:
            a = np.asarray(memoryview(t))
        except (TypeError, ValueError):
            a = np.asarray(t)
        a.flags.writeable = False  # a new array object per call
        return a

    @staticmethod
    def inference_step(model):
        return tf.function(lambda x: model(x, training=False), reduce_retracing=True, autograph=False)
