"""Checkpoints are written on a background thread: training goes on during a write, writes never overlap, each is a
snapshot of its moment, fit() returns only after the last one, and a failed write is an error from fit()."""

import sys
import threading
import time

import numpy as np
import pytest

from leuknet.data.pipeline import ImageData
from leuknet.matlab import trainingOptions
from leuknet.models import leuknet_cnn
from leuknet.train import Trainer


def tiny_trainer(epochs=3):
    model = leuknet_cnn.network(2, image_size=32, fc_units=8, filters=(4, 4, 4))
    return Trainer(model, trainingOptions("adam", MaxEpochs=epochs, MiniBatchSize=4, InitialLearnRate=1e-3,
                                          Shuffle="every-epoch"))


def tiny_data(n=12):
    rng = np.random.default_rng(0)
    return ImageData(np.arange(n) % 2, (32, 32), images=rng.integers(0, 256, (n, 32, 32, 3)).astype(np.uint8))


def test_checkpoint_writes_run_beside_training_one_at_a_time_and_finish_before_fit_returns():
    trainer, events, lock = tiny_trainer(), [], threading.Lock()
    active = {"n": 0, "max": 0}
    states = []

    def slow_write(state):
        with lock:
            active["n"] += 1
            active["max"] = max(active["max"], active["n"])
        events.append(("write-start", state["counters"]["iteration"]))
        time.sleep(1.0)
        states.append(state)
        events.append(("write-end", state["counters"]["iteration"]))
        with lock:
            active["n"] -= 1

    def callback(event, payload):
        if event == "iteration":
            events.append(("iteration", payload["Iteration"]))

    info = trainer.fit(tiny_data(), seed=0, callback=callback, checkpoint=slow_write, checkpoint_every=2)
    assert active["max"] == 1  # never two writes at once
    assert events[-1][0] == "write-end" and len(states) == len([e for e in events if e[0] == "write-start"])
    # training went on while the first write was in flight: an iteration was logged between its start and end
    first = events.index(("write-start", states[0]["counters"]["iteration"]))
    end = events.index(("write-end", states[0]["counters"]["iteration"]))
    assert any(e[0] == "iteration" for e in events[first:end])
    # each checkpoint is a snapshot of its own iteration, not of the weights at the time it was written
    assert [s["counters"]["iteration"] for s in states] == [2, 3, 4, 6, 8, 9]
    final = [v.numpy() for v in trainer.state_variables()]
    assert not all(np.array_equal(a, b) for a, b in zip(states[0]["variables"], final))
    assert all(np.array_equal(a, b) for a, b in zip(states[-1]["variables"], final))
    assert len(info.rows) == 9


def test_skip_while_writing_never_waits_for_a_write_and_always_writes_the_last():
    """The GPU profile's checkpoints: one due while the one before is still being written is skipped (counted),
    not waited for; the first and the one after the last iteration are written; writes never overlap."""
    trainer, lock = tiny_trainer(), threading.Lock()
    active, written, finished = {"n": 0, "max": 0}, [], threading.Event()

    def slow_write(state):
        with lock:
            active["n"] += 1
            active["max"] = max(active["max"], active["n"])
        written.append(state["counters"]["iteration"])
        if len(written) == 1:
            finished.wait(30)  # the first write lasts until the last iteration has run
        with lock:
            active["n"] -= 1

    def callback(event, payload):
        if event == "iteration" and payload["Iteration"] == 9:
            finished.set()

    info = trainer.fit(tiny_data(), seed=0, callback=callback, checkpoint=slow_write, checkpoint_every=2,
                       skip_while_writing=True)
    due = [2, 3, 4, 6, 8, 9]  # what the default writes (the test above)
    assert written == [2, 9] and info.checkpoints_skipped == len(due) - len(written), (written, info)
    assert active["max"] == 1 and len(info.rows) == 9


def test_checkpoint_last_false_leaves_out_only_the_checkpoint_after_the_last_iteration():
    written = []
    info = tiny_trainer().fit(tiny_data(), seed=0, checkpoint=lambda st: written.append(st["counters"]["iteration"]),
                              checkpoint_every=2, checkpoint_last=False)
    assert written == [2, 3, 4, 6, 8] and len(info.rows) == 9


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread nice values are Linux's")
def test_checkpoints_are_written_by_a_lowest_priority_thread_and_training_keeps_its_priority():
    import os

    seen = []

    def write(state):
        seen.append((threading.get_native_id(), os.getpriority(os.PRIO_PROCESS, threading.get_native_id())))

    before = os.getpriority(os.PRIO_PROCESS, 0)
    tiny_trainer(epochs=1).fit(tiny_data(), seed=0, checkpoint=write)
    assert seen and seen[0][0] != threading.get_native_id() and seen[0][1] == 19
    assert os.getpriority(os.PRIO_PROCESS, 0) == before  # the main thread's (and the process') is unchanged


def test_a_failed_checkpoint_write_is_an_error_from_fit():
    def failing(state):
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space left"):
        tiny_trainer(epochs=1).fit(tiny_data(), seed=0, checkpoint=failing)


@pytest.mark.parametrize("policy,jit_solver", [("float32", True), ("float32", False), ("mixed_bfloat16", True)])
def test_a_state_snapshot_is_not_changed_by_later_training(policy, jit_solver):
    """get_state shares the variables' buffers instead of copying them where that is safe (TensorFlow's
    copy-on-write keeps them as they were; a JAX buffer is donated to the next step, so a CPU one is copied): steps
    of either solver path, an assign (resume, best weights) and a checkpoint restore later, the snapshot still
    holds exactly what a real copy taken at the same moment holds, and it cannot be written. Also run by
    test_backends.py's KERAS_BACKEND=jax pass."""
    import keras

    from leuknet.train import TrainingInfo

    def value(v):
        return np.array(keras.ops.convert_to_numpy(v), copy=True)

    keras.mixed_precision.set_global_policy(policy)
    try:
        model = leuknet_cnn.network(2, image_size=32, fc_units=8, filters=(4, 4, 4))
        trainer = Trainer(model, trainingOptions("adam", InitialLearnRate=1e-3), jit_solver=jit_solver)
        rng = np.random.default_rng(0)
        x, y = rng.integers(0, 256, (4, 32, 32, 3)).astype(np.float32), np.array([0, 1, 1, 0], np.int32)
        trainer.train_step(x, y, 1e-3)
        state = trainer.get_state(TrainingInfo(), {"iteration": 1})
        copies = [value(v) for v in trainer.state_variables()]
        for _ in range(3):
            trainer.train_step(x, y, 1e-3)
        later = [value(v) for v in trainer.state_variables()]
        for v in model.weights:
            v.assign(value(v) * 0.5)
        trainer.set_state({"variables": later})
        changed = sum(not np.array_equal(a, b) for a, b in zip(copies, later))
        assert changed >= len(model.trainable_variables)  # the steps did move the weights and moments
        assert all(np.array_equal(a, b) for a, b in zip(state["variables"], copies))
        assert all(a.dtype == b.dtype and a.shape == b.shape for a, b in zip(state["variables"], copies))
        with pytest.raises(ValueError):
            state["variables"][0][...] = 0
    finally:
        keras.mixed_precision.set_global_policy("float32")
