"""The training loop with MATLAB ``trainNetwork`` semantics.

- An epoch has ``floor(N / MiniBatchSize)`` iterations: the last incomplete mini-batch is dropped every epoch.
  Where MiniBatchSize exceeds the N training images, every mini-batch holds all N (one iteration an epoch), as
  MATLAB's data dispatchers take ``min(MiniBatchSize, NumObservations)``.
- Shuffle 'once' (one seeded permutation before training, the same order every epoch), 'every-epoch', 'never'.
- Validation at iteration 1 (as MATLAB's printed tables show; ``ValidateAtFirstIteration``), every
  ``ValidationFrequency`` iterations and at the final iteration, on the network after that iteration's update.
- Base learn rate by epoch (piecewise drops), ``ValidationPatience`` early stopping, ``OutputNetwork``.
- Input normalisation statistics from the training data, in one pass before the first iteration.

The same :class:`Trainer` serves ``leuknet train``, ``leuknet.matlab.trainNetwork`` and ``leuknet bench``, under
either Keras backend: the steps themselves are an engine's (:mod:`leuknet.engine_tf` under TensorFlow,
:mod:`leuknet.engine_jax` under JAX), chosen here by ``keras.backend.backend()``; the cadence, validation,
early stopping, OutputNetwork, checkpoints and resume above them are this module's, the same for both.
Progress is reported through ``callback(event, payload)``; nothing here prints.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import keras
import numpy as np
from keras import ops

from leuknet import interrupts
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
    checkpoints_skipped: int = 0  # fell due while the one before was still being written (skip_while_writing)
    mini_batch_size: int = 0  # the mini-batch trained on: MiniBatchSize, or all N images where N is smaller

    def as_dict(self) -> dict:
        d = {k: np.array([r[k] for r in self.rows], dtype=np.float64) for k in HISTORY_FIELDS}
        d.update(FinalValidationLoss=self.final_validation_loss,
                 FinalValidationAccuracy=self.final_validation_accuracy,
                 OutputNetworkIteration=self.output_network_iteration)
        return d


def engine_class():
    """The step engine of the running Keras backend."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        from leuknet.engine_tf import TensorFlowEngine

        return TensorFlowEngine
    if backend == "jax":
        from leuknet.engine_jax import JaxEngine

        return JaxEngine
    from leuknet.errors import ConfigError

    raise ConfigError(f"leuknet trains under the tensorflow and jax Keras backends, not {backend!r}")


class Trainer:
    """Owns the compiled training step (its engine's) and the solver for one model."""

    def __init__(self, model, options: TrainingOptions, class_weights=None, jit_solver=True, strategy=None,
                 jit_step=False):
        """``strategy``: a ``tf.distribute`` strategy the model was built under (TensorFlow; MirroredStrategy:
        every replica computes the gradient of its share of the mini-batch, the gradients are averaged, the
        solver updates the mirrored variables once). ``jit_step``: XLA-compile the whole step (TensorFlow's GPU
        profile; under JAX every step is one XLA function)."""
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
        # mixed float16: dynamic loss scaling (the engines'); bfloat16 and float32 need none
        self.loss_scaling = getattr(model.dtype_policy, "compute_dtype", "float32") == "float16"
        self.engine = engine_class()(self, strategy=self.strategy, jit_step=jit_step)

    def loss(self, probs, y, regularization=()):
        """MATLAB's cross-entropy of class probabilities ``probs`` for integer labels ``y``, plus the Keras
        regularisers' ``regularization`` losses (e.g. the L1 + L2 head of the C-NMC recipe) in training."""
        loss = crossentropyex(probs, ops.one_hot(y, self.num_classes, dtype="float32"), self.class_weights)
        for term in regularization:
            loss = loss + ops.cast(term, "float32")
        return loss

    def train_step(self, x, y, learn_rate):
        """One iteration (forward, backward, solver update): returns (loss, accuracy in [0, 1])."""
        return self.engine.train_step(x, y, learn_rate)

    def _evaluated(self, data, batch_size=None):
        """(summed loss, correct count, probabilities) of each mini-batch of ``data``, in order, through the
        validation step (default batch: MiniBatchSize). Images kept in memory go in as stored (8-bit): the model
        casts them (the values are the same) and the pass starts no tf.data pipeline."""
        rows = min(batch_size or self.options.MiniBatchSize, max(len(data), 1))
        for x, y in data.stored_batches(rows):
            yield self.engine.eval_step(x, y, rows=rows)

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
        out = [ops.convert_to_numpy(probs) for _, _, probs in self._evaluated(data, batch_size)]
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
        return list(self.model.variables) + self.solver.state() + self.engine.extra_state()

    def get_state(self, info, counters) -> dict:
        """A snapshot that later updates leave alone (checkpoints are written while training goes on): the
        engine's read-only arrays (TensorFlow: views of the variables' current buffers, no copy: copying the
        ~1 GB of LeukNet's weights and Adam moments cost 0.5-0.6 s of every epoch end; JAX: host copies)."""
        return {"variables": [self.engine.snapshot(v) for v in self.state_variables()], "counters": dict(counters),
                "rows": list(info.rows)}

    def set_state(self, state):
        variables = self.state_variables()
        if len(variables) != len(state["variables"]):
            from leuknet.errors import ModelFileError

            raise ModelFileError("the checkpoint does not belong to this network and solver")
        for v, a in zip(variables, state["variables"]):
            v.assign(a)

    def replicas(self) -> int:
        """The devices each mini-batch is split over (a tf.distribute strategy's replicas, or the devices of a
        ``keras.distribution`` under JAX; 1 otherwise)."""
        if self.strategy is not None:
            return int(self.strategy.num_replicas_in_sync)
        if keras.backend.backend() == "jax":
            distribution = keras.distribution.distribution()
            if distribution is not None:  # the devices along the batch axis
                mesh = distribution.device_mesh
                axis = getattr(distribution, "batch_dim_name", None)
                if axis in tuple(mesh.axis_names):
                    return int(mesh.shape[tuple(mesh.axis_names).index(axis)])
                return int(np.prod(mesh.shape))
        return 1

    def mini_batch_size(self, n: int) -> int:
        """The mini-batch trained on with ``n`` training images: MiniBatchSize, or all ``n`` where MiniBatchSize
        is larger. MATLAB's data dispatchers (``nnet.internal.cnn.ImageDatastoreDispatcher``,
        ``MiniBatchDatastoreDispatcher``, ``FourDArrayDispatcher``: ``set.MiniBatchSize`` takes
        ``min(value, NumObservations)``) train such a set as one mini-batch an epoch; on several devices the
        mini-batch is rounded down to a multiple of their number, as every device takes an equal share."""
        batch = int(self.options.MiniBatchSize)
        if batch <= n:
            return batch  # (a multi-device profile checks that its batch divides over the devices)
        replicas = self.replicas()
        batch = n - n % replicas
        if batch < 1:
            from leuknet.errors import ConfigError

            raise ConfigError(f"{n} training images cannot be shared by {replicas} devices: at least one image "
                              "each is needed" if n else "no training images")
        return batch

    def fit(self, train, validation=None, seed=0, callback=None, checkpoint=None, checkpoint_every=None,
            resume=None, checkpoint_last=True, skip_while_writing=False) -> TrainingInfo:
        """Train. ``checkpoint(state)`` is called at every epoch end and every ``checkpoint_every`` iterations,
        on a background thread (the state is a snapshot: training goes on while it is written; one write at a
        time; ``fit`` returns or raises only after the last one finished, and a failed write raises here);
        ``skip_while_writing``: a checkpoint that falls due while the one before is still being written is
        skipped instead of waited for (the GPU profile's: an epoch there takes less than writing LeukNet's 1 GB of
        weights and Adam state; the one after the last iteration is always written);
        ``checkpoint_last=False`` leaves out the one after the last iteration, for a caller that saves the
        trained model at once (``leuknet train``: writing LeukNet's 1 GB of weights and Adam state only to
        delete it took 3-4 s of every run). ``resume`` (a state from a checkpoint) continues exactly where it was
        taken."""
        writer = _BackgroundWriter(checkpoint) if checkpoint is not None else None
        try:
            with interrupts.kept():  # a Ctrl-C swallowed by a garbage-collection callback still stops the run
                info = self._fit(train, validation, seed, callback, writer, checkpoint_every, resume,
                                 checkpoint_last, skip_while_writing)
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

    def _fit(self, train, validation, seed, callback, writer, checkpoint_every, resume, checkpoint_last,
             skip_while_writing):
        o = self.options
        cb = callback or (lambda event, payload: None)
        n = len(train)
        batch = self.mini_batch_size(n)
        per_epoch = n // batch
        total = per_epoch * o.MaxEpochs
        info = TrainingInfo(iterations_per_epoch=per_epoch, mini_batch_size=batch)
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
            set_input_statistics(self.model, train, batch, force=o.ResetInputNormalization)
            info.statistics_seconds = time.perf_counter() - t
        cb("start", {"total_iterations": total, "iterations_per_epoch": per_epoch, "epochs": o.MaxEpochs,
                     "mini_batch_size": batch, "requested_mini_batch_size": int(o.MiniBatchSize),
                     "n_train": n, "n_validation": len(validation) if validation is not None else 0,
                     "start_iteration": iteration})

        def save(epoch_done):
            if writer is None:
                return
            if skip_while_writing and writer.busy() and iteration < total:  # the one before is being written
                info.checkpoints_skipped += 1
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
            remaining.append(order[: per_epoch * batch][skip * batch :])
            plan.append((epoch, per_epoch - skip))
        stream = self.engine.stream(train, np.concatenate(remaining) if remaining else np.zeros(0, np.int64),
                                    batch)
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
                            best_weights = (iteration, [self.engine.snapshot(v) for v in self.model.weights])
                    else:
                        bad_validations += 1
                        if bad_validations >= o.ValidationPatience:
                            stop = True
                row["TimeElapsed"] = time.perf_counter() - t0 + elapsed0
                row["verbose"] = (iteration == 1 or iteration % o.VerboseFrequency == 0 or due or final or stop)
                info.rows.append(row)
                interrupts.check()
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

    def busy(self) -> bool:
        """A write is still running."""
        return self._job is not None and not self._job.done()

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
    """:func:`forward` as one traced function (what predictions and the inference benchmark run): a
    ``tf.function`` under TensorFlow, a ``jax.jit`` under JAX."""
    return engine_class().inference_step(model)


def predict_probabilities(model, data, batch_size=128) -> np.ndarray:
    """Class probabilities (N x classes) for an :class:`~leuknet.data.pipeline.ImageData`, streamed."""
    step = model.__dict__.get("_leuknet_inference_step")
    if step is None:  # one traced function per model, kept with it (repeated predictions do not retrace)
        step = model.__dict__["_leuknet_inference_step"] = inference_step(model)
    out = [ops.convert_to_numpy(step(ops.convert_to_tensor(x))) for x, _ in data.stored_batches(batch_size)]
    return np.concatenate(out, 0) if out else np.zeros((0, int(model.output.shape[-1])), np.float32)


def seed_everything(seed: int):
    """Python's, NumPy's and Keras' seeds (and TensorFlow's under TensorFlow): ``keras.utils.set_random_seed``,
    less its import of TensorFlow under another backend (it seeds TensorFlow wherever it is installed, which
    costs a JAX run the 4-s import and TensorFlow's start-up)."""
    seed = int(seed)
    if keras.backend.backend() == "tensorflow":
        keras.utils.set_random_seed(seed)
        return
    import random

    from keras.src.backend.common import global_state  # what set_random_seed sets (Keras 3.15)
    from keras.src.random import seed_generator

    global_state.set_global_attribute("global_random_seed", seed)
    global_state.set_global_attribute(seed_generator.GLOBAL_SEED_GENERATOR, None)
    random.seed(seed)
    np.random.seed(seed)
