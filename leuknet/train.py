"""The training loop with MATLAB ``trainNetwork`` semantics.

- An epoch has ``floor(N / MiniBatchSize)`` iterations: the last incomplete mini-batch is dropped every epoch.
- Shuffle 'once' (one seeded permutation before training, the same order every epoch), 'every-epoch', 'never'.
- Validation at iteration 1 (as MATLAB's printed tables show; ``ValidateAtFirstIteration``), every
  ``ValidationFrequency`` iterations and at the final iteration, on the network after that iteration's update.
- Base learn rate by epoch (piecewise drops), ``ValidationPatience`` early stopping, ``OutputNetwork``.
- Input normalisation statistics from the training data, in one pass before the first iteration.

The same :class:`Trainer` serves ``leuknet train``, ``leuknet.matlab.trainNetwork`` and ``leuknet bench``.
Progress is reported through ``callback(event, payload)``; nothing here prints.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import keras
import numpy as np
import tensorflow as tf

from leuknet.layers import (BatchNormalization, ClassificationOutput, ImageInputNormalization, crossentropyex,
                            input_statistics, population_statistics)
from leuknet.solvers import Solver
from leuknet.spec.layers import layer_factors
from leuknet.spec.options import TrainingOptions

HISTORY_FIELDS = ("Epoch", "Iteration", "TimeElapsed", "BaseLearnRate", "TrainingLoss", "TrainingAccuracy",
                  "ValidationLoss", "ValidationAccuracy")


def input_layer(model) -> ImageInputNormalization | None:
    for layer in model.layers:
        if isinstance(layer, ImageInputNormalization):
            return layer
    return None


def output_layer(model) -> ClassificationOutput | None:
    for layer in model.layers:
        if isinstance(layer, ClassificationOutput):
            return layer
    return None


def set_input_statistics(model, data, batch_size=128, force=False) -> bool:
    """Compute the input layer's statistics from ``data`` (training split only) and store them in the model."""
    layer = input_layer(model)
    if layer is None or not layer.needs_statistics:
        return False
    if not force and float(layer.statistics_set.numpy()) == 1.0:
        return False
    stats = input_statistics(data.iter_uint8(batch_size), layer.normalization, layer.normalization_dimension)
    layer.set_statistics(**stats)
    return True


@dataclass
class TrainingInfo:
    """Per-iteration records (MATLAB's ``info``): accuracies in percent, NaN where not validated."""

    rows: list = field(default_factory=list)
    final_validation_loss: float = math.nan
    final_validation_accuracy: float = math.nan
    output_network_iteration: int = 0
    stopped_early: bool = False
    iterations_per_epoch: int = 0
    statistics_seconds: float = 0.0  # the input statistics' pass over the training data, before the first iteration
    final_checkpoint_seconds: float = 0.0  # waiting for the last checkpoint after the last iteration

    def as_dict(self) -> dict:
        d = {k: np.array([r[k] for r in self.rows], dtype=np.float64) for k in HISTORY_FIELDS}
        d.update(FinalValidationLoss=self.final_validation_loss,
                 FinalValidationAccuracy=self.final_validation_accuracy,
                 OutputNetworkIteration=self.output_network_iteration)
        return d


class Trainer:
    """Owns the compiled training step and the solver for one model."""

    def __init__(self, model, options: TrainingOptions, class_weights=None, jit_solver=True, strategy=None,
                 jit_step=False):
        """``strategy``: a ``tf.distribute`` strategy the model was built under (MirroredStrategy: every replica
        computes the gradient of its share of the mini-batch, the gradients are averaged, the solver updates the
        mirrored variables once). ``jit_step``: XLA-compile the whole step (GPU profile)."""
        self.model = model
        self.options = options
        self.strategy = strategy if strategy is not None and strategy.num_replicas_in_sync > 1 else None
        if self.strategy is not None:
            jit_solver = False  # the update runs in cross-replica context on mirrored variables
        out = output_layer(model)
        if class_weights is None and out is not None and out.class_weights:
            class_weights = out.class_weights
        self.class_weights = class_weights
        self.num_classes = int(model.output.shape[-1])
        o = options
        self.solver = Solver(o.SolverName, model.trainable_variables, layer_factors(model), momentum=o.Momentum,
                             gradient_decay=o.GradientDecayFactor,
                             squared_gradient_decay=o.SquaredGradientDecayFactor, epsilon=o.Epsilon,
                             l2=o.L2Regularization, gradient_threshold=o.GradientThreshold,
                             gradient_threshold_method=o.GradientThresholdMethod, fused=jit_solver)
        # mixed float16: dynamic loss scaling (scale 2^15, halved and the step skipped on inf/NaN gradients,
        # doubled after 2000 finite steps); bfloat16 and float32 need none
        self.loss_scaling = getattr(model.dtype_policy, "compute_dtype", "float32") == "float16"
        if self.loss_scaling:
            self.loss_scale = tf.Variable(2.0**15, trainable=False, dtype=tf.float32)
            self.finite_steps = tf.Variable(0, trainable=False, dtype=tf.int64)
        if self.strategy is not None:
            self._train_step = tf.function(self._distributed_step_impl, reduce_retracing=True)
        else:
            self._train_step = tf.function(self._train_step_impl, reduce_retracing=True, jit_compile=jit_step)
        self._eval_step = tf.function(self._eval_step_impl, reduce_retracing=True)

    def _loss(self, probs, y, training=False):
        onehot = tf.one_hot(y, self.num_classes, dtype=tf.float32)
        loss = crossentropyex(probs, onehot, self.class_weights)
        if training and self.model.losses:  # Keras regularisers (e.g. the L1 + L2 head of the C-NMC recipe)
            loss = loss + tf.add_n([tf.cast(l, tf.float32) for l in self.model.losses])
        return loss

    def _replica_grads(self, x, y):
        """Forward and backward on one (share of a) mini-batch: loss, accuracy, unscaled gradients. With mixed
        float16 the loss is scaled for the backward pass and the gradients unscaled."""
        with tf.GradientTape() as tape:
            probs = self.model(x, training=True)  # the fused blocks' training variant (leuknet.layers.FUSED_BLOCKS)
            loss = self._loss(probs, y, training=True)
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
        probs = forward(self.model, x)
        n = tf.cast(tf.shape(y)[0], tf.float32)
        return self._loss(probs, y) * n, tf.reduce_sum(
            tf.cast(tf.equal(tf.argmax(probs, -1, output_type=tf.int32), y), tf.float32)), probs

    def train_step(self, x, y, learn_rate):
        """One iteration (forward, backward, solver update): returns (loss, accuracy in [0, 1])."""
        return self._train_step(x, y, tf.constant(learn_rate, tf.float32))

    def _evaluated(self, data, batch_size=None):
        """(summed loss, correct count, probabilities) of each mini-batch of ``data``, in order, through the
        validation step (default batch: MiniBatchSize). Images kept in memory go in as stored (8-bit): the model
        casts them (the values are the same) and the pass starts no tf.data pipeline."""
        for x, y in data.stored_batches(batch_size or self.options.MiniBatchSize):
            yield self._eval_step(tf.convert_to_tensor(x), tf.convert_to_tensor(y))

    def evaluate(self, data, batch_size=None):
        """(mean loss, accuracy in percent) over all of ``data``."""
        total_loss = total_correct = 0.0
        for loss, correct, _ in self._evaluated(data, batch_size):
            total_loss += float(loss)
            total_correct += float(correct)
        n = len(data)
        return total_loss / n, 100.0 * total_correct / n

    def predict(self, data, batch_size=None) -> np.ndarray:
        """Class probabilities (N x classes) of all of ``data`` through the validation step (traced already when
        training validated: no second trace)."""
        out = [probs.numpy() for _, _, probs in self._evaluated(data, batch_size)]
        return np.concatenate(out, 0) if out else np.zeros((0, self.num_classes), np.float32)

    def epoch_orders(self, n, epochs, seed):
        rng = np.random.default_rng(seed)
        mode = self.options.Shuffle
        once = rng.permutation(n) if mode == "once" else np.arange(n)
        for _ in range(epochs):
            yield rng.permutation(n) if mode == "every-epoch" else once

    # -- checkpoints -------------------------------------------------------------------------------------------
    def state_variables(self):
        """Everything that determines the rest of a run: model variables (weights, input statistics, dropout
        seed state) and the solver's (iteration count, moments, loss scale)."""
        extra = [self.loss_scale, self.finite_steps] if self.loss_scaling else []
        return list(self.model.variables) + self.solver.state() + extra

    def get_state(self, info, counters) -> dict:
        """A snapshot that later updates leave alone (checkpoints are written while training goes on), without
        copying: each array is a read-only view of the variable's current buffer. TensorFlow's resource variables
        are copy-on-write (an update allocates a new buffer, or copies, while another reference to the old one
        is alive; XLA's update writes new buffers), so the buffers seen here stay as they are; copying the
        ~1 GB of LeukNet's weights and Adam moments cost 0.5-0.6 s of every epoch end."""
        return {"variables": [_frozen_view(v) for v in self.state_variables()], "counters": dict(counters),
                "rows": list(info.rows)}

    def set_state(self, state):
        variables = self.state_variables()
        if len(variables) != len(state["variables"]):
            from leuknet.errors import ModelFileError

            raise ModelFileError("the checkpoint does not belong to this network and solver")
        for v, a in zip(variables, state["variables"]):
            v.assign(a)

    def fit(self, train, validation=None, seed=0, callback=None, checkpoint=None, checkpoint_every=None,
            resume=None, checkpoint_last=True) -> TrainingInfo:
        """Train. ``checkpoint(state)`` is called at every epoch end and every ``checkpoint_every`` iterations,
        on a background thread (the state is a snapshot: training goes on while it is written; one write at a
        time; ``fit`` returns or raises only after the last one finished, and a failed write raises here);
        ``checkpoint_last=False`` leaves out the one after the last iteration, for a caller that saves the
        trained model at once (``leuknet train``: writing LeukNet's 1 GB of weights and Adam state only to
        delete it took 3-4 s of every run). ``resume`` (a state from a checkpoint) continues exactly where it was
        taken."""
        writer = _BackgroundWriter(checkpoint) if checkpoint is not None else None
        try:
            info = self._fit(train, validation, seed, callback, writer, checkpoint_every, resume, checkpoint_last)
        finally:
            t = time.perf_counter()
            if writer is not None:
                writer.close()  # the last checkpoint is complete on disk (or failed) before we go on
        if writer is not None:
            writer.wait()  # a failed write of the last checkpoint raises here
        info.final_checkpoint_seconds = time.perf_counter() - t
        if (getattr(self.options, "BatchNormalizationStatistics", "population") == "population"
                and any(isinstance(l, BatchNormalization) for l in self.model.layers)):
            # MATLAB: batch normalisation's prediction statistics from one more pass over the training data
            population_statistics(self.model, (x for x, _ in train.stored_batches(self.options.MiniBatchSize)))
        return info

    def _fit(self, train, validation, seed, callback, writer, checkpoint_every, resume, checkpoint_last):
        o = self.options
        cb = callback or (lambda event, payload: None)
        n = len(train)
        per_epoch = n // o.MiniBatchSize
        if per_epoch == 0:
            from leuknet.errors import ConfigError

            raise ConfigError(f"MiniBatchSize {o.MiniBatchSize} is larger than the {n} training images: "
                              "no complete mini-batch (MATLAB drops the incomplete one)")
        total = per_epoch * o.MaxEpochs
        info = TrainingInfo(iterations_per_epoch=per_epoch)
        best_loss, best_weights, bad_validations = math.inf, None, 0
        iteration, elapsed0 = 0, 0.0
        if resume is not None:
            self.set_state(resume)
            c = resume["counters"]
            iteration, best_loss, bad_validations = int(c["iteration"]), float(c["best_loss"]), int(c["bad"])
            info.rows = list(resume["rows"])
            elapsed0 = float(c["elapsed"])
            if resume.get("best_weights") is not None:
                best_weights = (int(c["best_iteration"]), resume["best_weights"])
            cb("resumed", {"iteration": iteration})
        elif o.ResetInputNormalization or not float(getattr(input_layer(self.model), "statistics_set", 0.0) or 0):
            cb("statistics", {"n": n})
            t = time.perf_counter()
            set_input_statistics(self.model, train, o.MiniBatchSize, force=o.ResetInputNormalization)
            info.statistics_seconds = time.perf_counter() - t
        cb("start", {"total_iterations": total, "iterations_per_epoch": per_epoch, "epochs": o.MaxEpochs,
                     "n_train": n, "n_validation": len(validation) if validation is not None else 0,
                     "start_iteration": iteration})

        def save(epoch_done):
            if writer is None:
                return
            writer.wait()  # one write (and one snapshot) at a time; a failed write raises here
            state = self.get_state(info, {"iteration": iteration, "best_loss": best_loss, "bad": bad_validations,
                                          "elapsed": time.perf_counter() - t0 + elapsed0, "epoch_done": epoch_done,
                                          "best_iteration": best_weights[0] if best_weights else 0})
            state["best_weights"] = best_weights[1] if best_weights else None
            writer.submit(state)

        t0 = time.perf_counter()
        stop = False
        start_iteration = iteration
        # the remaining epochs' mini-batches as one dataset and one iterator: tearing a tf.data iterator down at
        # every epoch end stalled training for 10-50 s in long runs
        plan = []  # (epoch, number of mini-batches still to run in it)
        remaining = []
        for epoch, order in enumerate(self.epoch_orders(n, o.MaxEpochs, seed), start=1):
            if epoch * per_epoch <= start_iteration:
                continue  # finished before the checkpoint
            skip = max(0, start_iteration - (epoch - 1) * per_epoch)
            remaining.append(order[: per_epoch * o.MiniBatchSize][skip * o.MiniBatchSize :])
            plan.append((epoch, per_epoch - skip))
        batches = train.batches(np.concatenate(remaining) if remaining else np.zeros(0, np.int64),
                                o.MiniBatchSize, drop_remainder=True)
        if self.strategy is not None:
            opts = tf.data.Options()  # every worker reads the same seeded order and keeps its share
            opts.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
            batches = self.strategy.experimental_distribute_dataset(batches.with_options(opts))
        stream = iter(batches)
        for epoch, count in plan:
            lr = o.learn_rate(epoch)
            for _ in range(count):
                x, y = next(stream)
                iteration += 1
                loss, acc = self.train_step(x, y, lr)
                row = {"Epoch": epoch, "Iteration": iteration, "BaseLearnRate": lr,
                       "TrainingLoss": float(loss), "TrainingAccuracy": 100.0 * float(acc),
                       "ValidationLoss": math.nan, "ValidationAccuracy": math.nan}
                final = iteration == total
                due = validation is not None and (
                    iteration % o.ValidationFrequency == 0 or final
                    or (iteration == 1 and o.ValidateAtFirstIteration))
                if due:
                    vloss, vacc = self.evaluate(validation)
                    row["ValidationLoss"], row["ValidationAccuracy"] = vloss, vacc
                    info.final_validation_loss, info.final_validation_accuracy = vloss, vacc
                    if vloss < best_loss:
                        best_loss, bad_validations = vloss, 0
                        if o.OutputNetwork == "best-validation-loss":
                            best_weights = (iteration, [_frozen_view(v) for v in self.model.weights])
                    else:
                        bad_validations += 1
                        if bad_validations >= o.ValidationPatience:
                            stop = True
                row["TimeElapsed"] = time.perf_counter() - t0 + elapsed0
                row["verbose"] = (iteration == 1 or iteration % o.VerboseFrequency == 0 or due or final or stop)
                info.rows.append(row)
                if cb("iteration", row) is True:  # a callback's request to stop (MATLAB's OutputFcn returning true)
                    stop = info.stopped_early = True
                if stop:
                    break
                if checkpoint_every and iteration % checkpoint_every == 0 and iteration % per_epoch:
                    save(False)
            if not stop and (checkpoint_last or iteration < total):
                save(True)
            cb("epoch", {"epoch": epoch, "iteration": iteration})
            if stop:
                info.stopped_early = True
                break
        info.output_network_iteration = iteration
        if o.OutputNetwork == "best-validation-loss" and best_weights is not None:
            info.output_network_iteration = best_weights[0]
            for v, w in zip(self.model.weights, best_weights[1]):
                v.assign(w)
        cb("end", {"iterations": iteration, "time": time.perf_counter() - t0 + elapsed0})
        return info


def _frozen_view(variable) -> np.ndarray:
    """Read-only NumPy view of a variable's current value (no copy; see Trainer.get_state): the buffer of the
    tensor a read returns, through ``memoryview`` (TensorFlow's documented zero-copy read; ``Tensor.numpy()``
    copies). Dtypes the buffer protocol cannot describe (bfloat16) through ``np.asarray``, which shares the buffer
    too (``Tensor.__array__``)."""
    t = tf.convert_to_tensor(variable)
    try:
        a = np.asarray(memoryview(t))
    except (TypeError, ValueError):
        a = np.asarray(t)
    a.flags.writeable = False  # a new array object per call
    return a


def _lowest_priority():
    """Give the calling thread the lowest CPU priority (Linux threads have a nice value each; elsewhere nothing)."""
    import os
    import threading

    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
    except (AttributeError, OSError):
        pass


class _BackgroundWriter:
    """Runs ``write(state)`` on one background thread, one call at a time; a failed write raises from the next
    ``wait``. The thread runs at the lowest CPU priority: a checkpoint (copies, checksums, the kernel's copy into
    the page cache: about a second of CPU for LeukNet's 1 GB) then takes the moments the training threads leave
    idle instead of competing with them for the cores."""

    def __init__(self, write):
        from concurrent.futures import ThreadPoolExecutor

        self._write = write
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="leuknet-checkpoint", initializer=_lowest_priority)
        self._job = None

    def wait(self):
        job, self._job = self._job, None
        if job is not None:
            job.result()

    def submit(self, state):
        self.wait()
        self._job = self._pool.submit(self._write, state)

    def close(self):
        self._pool.shutdown(wait=True)


def forward(model, x):
    """``model(x, training=False)``: traced, the fused blocks' variant for predicting (no pooling maxima recorded;
    :data:`leuknet.layers.FUSED_BLOCKS`), the same outputs."""
    return model(x, training=False)


def inference_step(model):
    """:func:`forward` as one traced function (what predictions and the inference benchmark run)."""
    return tf.function(lambda x: forward(model, x), reduce_retracing=True, autograph=False)


def predict_probabilities(model, data, batch_size=128) -> np.ndarray:
    """Class probabilities (N x classes) for an :class:`~leuknet.data.pipeline.ImageData`, streamed."""
    step = model.__dict__.get("_leuknet_inference_step")
    if step is None:  # one traced function per model, kept with it (repeated predictions do not retrace)
        step = model.__dict__["_leuknet_inference_step"] = inference_step(model)
    out = [step(tf.convert_to_tensor(x)).numpy() for x, _ in data.stored_batches(batch_size)]
    return np.concatenate(out, 0) if out else np.zeros((0, int(model.output.shape[-1])), np.float32)


def seed_everything(seed: int):
    keras.utils.set_random_seed(int(seed))
