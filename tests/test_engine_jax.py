"""The Trainer's JAX engine (leuknet.engine_jax) in this process: MATLAB's cadence, checkpoint -> resume, the
best-validation network, float16 loss scaling. Run by the ``KERAS_BACKEND=jax`` pass that
tests/test_backends.py starts inside the one test command (Keras fixes its backend at import; the TensorFlow pass covers the same Trainer code with its own engine in test_resume,
test_solvers and test_cli)."""

import keras
import numpy as np
import pytest
from keras import ops

from conftest import blob_image

pytestmark = pytest.mark.skipif(keras.backend.backend() != "jax",
                                reason="the JAX engine: test_backends.py's KERAS_BACKEND=jax pass runs these")


def blobs(n_per_class=10, size=32, seed=0):
    from leuknet.data.pipeline import ImageData

    rng = np.random.default_rng(seed)
    labels = np.repeat([0, 1], n_per_class)
    images = np.stack([blob_image(int(c), rng, size) for c in labels])
    return ImageData(labels.astype(np.int64), (size, size), images=images)


def small_trainer(precision="float32", **options):
    from leuknet import models
    from leuknet.spec.options import TrainingOptions
    from leuknet.train import Trainer, seed_everything

    keras.mixed_precision.set_dtype_policy(precision)
    try:
        seed_everything(0)
        model = models.build("leuknet", image_size=32, fc_units=8)
    finally:
        keras.mixed_precision.set_dtype_policy("float32")
    defaults = dict(SolverName="adam", MiniBatchSize=4, MaxEpochs=3, InitialLearnRate=1e-3,
                    ValidationFrequency=4, Shuffle="every-epoch")
    return Trainer(model, TrainingOptions(**dict(defaults, **options)))


def weights(model):
    return [ops.convert_to_numpy(v.value) for v in model.weights]


def test_fit_follows_matlab_cadence_and_learns():
    train, val = blobs(10), blobs(4, seed=1)
    trainer = small_trainer(MaxEpochs=6)
    info = trainer.fit(train, val, seed=0)
    rows = info.rows
    assert info.iterations_per_epoch == 5 and len(rows) == 30  # floor(20 / 4) per epoch, the partial batch dropped
    validated = [r["Iteration"] for r in rows if not np.isnan(r["ValidationLoss"])]
    assert validated == [1, 4, 8, 12, 16, 20, 24, 28, 30]  # first, every ValidationFrequency, final
    assert rows[-1]["ValidationAccuracy"] == 100.0 and rows[-1]["TrainingLoss"] < rows[0]["TrainingLoss"]
    probs = trainer.predict(val)
    assert probs.shape == (8, 2) and (probs.argmax(1) == val.labels).all()


def test_checkpoint_then_resume_equals_uninterrupted():
    train, val = blobs(8), blobs(3, seed=1)
    whole = small_trainer()
    whole.fit(train, val, seed=3)
    states = []
    first = small_trainer()
    first.fit(train, val, seed=3, checkpoint=lambda state: states.append(state), checkpoint_every=3)
    at = [s for s in states if s["counters"]["iteration"] == 6][0]  # mid-epoch 2 (4 iterations per epoch)
    resumed = small_trainer()
    info = resumed.fit(train, val, seed=3, resume=at)
    assert [r["Iteration"] for r in info.rows] == list(range(1, 13))
    for a, b in zip(weights(resumed.model), weights(whole.model)):
        np.testing.assert_array_equal(a, b)  # the same XLA programs on the same values: bit for bit


def test_best_validation_network_is_restored():
    train, val = blobs(8), blobs(3, seed=1)
    trainer = small_trainer(OutputNetwork="best-validation-loss", InitialLearnRate=3e-2, ValidationFrequency=1)
    snapshots = {}

    def keep(event, payload):
        if event == "iteration":
            snapshots[payload["Iteration"]] = (payload["ValidationLoss"], weights(trainer.model))

    info = trainer.fit(train, val, seed=0, callback=keep)
    best = min(snapshots, key=lambda i: snapshots[i][0])
    assert info.output_network_iteration == best
    for a, b in zip(weights(trainer.model), snapshots[best][1]):
        np.testing.assert_array_equal(a, b)


def test_float16_finds_a_finite_first_loss_scale_and_updates():
    from leuknet.engine_jax import JaxEngine

    trainer = small_trainer("mixed_float16", SolverName="sgdm", InitialLearnRate=1e-2)
    assert isinstance(trainer.engine, JaxEngine) and trainer.loss_scaling
    data = blobs(4)
    x, y = next(iter(data.numpy_batches(None, 8)))
    x = x.astype(np.float32) * 300.0  # large inputs: gradients that overflow float16 at the scale 2^15
    before = weights(trainer.model)
    loss, _ = trainer.train_step(x, y, 1e-2)
    scale = float(trainer.engine.loss_scale.value)
    assert np.isfinite(float(loss)) and scale < 2.0**15
    changed = [not np.array_equal(a, b) for a, b in zip(weights(trainer.model), before)]
    assert any(changed)  # the first step was not skipped
    assert float(trainer.engine.finite_steps.value) == 1


def test_matlab_execution_environments_under_jax():
    """trainNetwork's ExecutionEnvironment under JAX (no tf.distribute): 'auto' and 'cpu' on the default device of
    a machine without GPUs, one-line errors for 'gpu' and 'multi-gpu' without GPUs and for 'parallel' (a cluster:
    TensorFlow's MultiWorkerMirroredStrategy)."""
    import contextlib

    from leuknet.errors import DeviceError
    from leuknet.matlab import trainingOptions
    from leuknet.matlab.network import _execution

    for env in ("auto", "cpu"):
        strategy, scope = _execution("trainNetwork", trainingOptions("sgdm", ExecutionEnvironment=env))
        assert strategy is None and isinstance(scope, contextlib.nullcontext)
    for env, words in (("gpu", "needs a supported GPU, and none is visible to JAX"),
                       ("multi-gpu", "needs GPUs, and none is visible to JAX"),
                       ("parallel", "needs the TensorFlow backend")):
        with pytest.raises(DeviceError, match=words):
            _execution("trainNetwork", trainingOptions("sgdm", ExecutionEnvironment=env))


def test_a_smaller_last_batch_is_padded_and_the_sums_are_the_real_rows():
    """Validation of 23 images in batches of 10: the last 3 padded to 10 (one compiled evaluation for the pass),
    and the loss, accuracy and probabilities those of the 23 images (against a NumPy cross-entropy of the
    probabilities the unpadded inference step gives)."""
    from leuknet.data.pipeline import ImageData
    from leuknet.train import inference_step

    trainer = small_trainer(MiniBatchSize=10)
    full = blobs(12, seed=3)
    data = ImageData(full.labels[:23], (32, 32), images=full.images[:23])
    loss, acc = trainer.evaluate(data)
    probs = trainer.predict(data)
    assert probs.shape == (23, 2)
    ref = np.concatenate([np.asarray(inference_step(trainer.model)(data.images[i : i + 10].astype(np.float32)))
                          for i in (0, 10, 20)])  # a new step each time: no padding
    np.testing.assert_allclose(probs, ref, rtol=1e-5, atol=1e-6)
    y = data.labels
    ref_loss = -np.mean(np.log(np.maximum(ref[np.arange(23), y].astype(np.float64), 1e-30)))
    assert loss == pytest.approx(ref_loss, rel=1e-5)
    assert acc == pytest.approx(100.0 * np.mean(ref.argmax(1) == y))
    assert trainer.engine._eval._cache_size() == 1  # one shape: 10 rows
    step = inference_step(trainer.model)  # the inference step pads a smaller last batch to the largest so far
    padded = np.concatenate([np.asarray(step(data.images[i : i + 10].astype(np.float32))) for i in (0, 10, 20)])
    assert padded.shape == (23, 2)
    np.testing.assert_allclose(padded, ref, rtol=1e-5, atol=1e-6)
