"""One process of tests/test_backends.py::test_data_parallel_step_equals_one_device (JAX, with
``XLA_FLAGS=--xla_force_host_platform_device_count=2``): two sgdm steps of a small LeukNet on one device, then the
same from the same weights under ``keras.distribution.DataParallel`` over both host devices (each takes half of
every mini-batch); then a validation of 11 images in batches of 8 on both (the last 3 padded to 8, which splits over
the two devices); prints the largest difference of the weights relative to the largest increment, and of the
validation losses."""

import jax
import keras
import numpy as np
from keras import ops

from leuknet import models
from leuknet.data.pipeline import ImageData
from leuknet.spec.options import TrainingOptions
from leuknet.train import Trainer, seed_everything, set_input_statistics

assert keras.backend.backend() == "jax" and len(jax.devices()) == 2, jax.devices()
rng = np.random.default_rng(0)
x = rng.integers(0, 256, (8, 32, 32, 3)).astype(np.uint8)
y = np.array([0, 1] * 4, np.int32)
val_images = rng.integers(0, 256, (11, 32, 32, 3)).astype(np.uint8)
options = TrainingOptions(SolverName="sgdm", MiniBatchSize=8, InitialLearnRate=1e-2)


def run(initial=None):
    seed_everything(0)
    model = models.build("leuknet", image_size=32, fc_units=8)
    for layer in model.layers:
        if isinstance(layer, keras.layers.Dropout):
            layer.rate = 0.0
    if initial is not None:
        model.set_weights(initial)
    # the input layer's zerocenter statistics, as fit computes them first: on raw 0-255 pixels the outputs saturate
    # and the saturated observations' gradients (MATLAB's bounded softmax backward) cancel, which leaves the sum's
    # float32 rounding at up to 6e-5 of the increment in either order
    set_input_statistics(model, ImageData(y, (32, 32), images=x), 8)
    start = [ops.convert_to_numpy(v) for v in model.weights]
    trainer = Trainer(model, options)
    for _ in range(2):
        trainer.train_step(x, y, 1e-2)
    validation = ImageData(np.array([0, 1] * 5 + [0]), (32, 32), images=val_images)
    return start, [ops.convert_to_numpy(v) for v in model.weights], model, trainer.evaluate(validation)


start, one, _, loss_one = run()
keras.distribution.set_distribution(keras.distribution.DataParallel())
_, two, model, loss_two = run(start)
kernel = model.get_layer("conv_1").kernel.value
assert len(kernel.sharding.device_set) == 2  # replicated over both devices
scale = max(float(np.abs(a - s).max()) for a, s in zip(one, start))
print("validation", loss_one[0], loss_two[0])  # the losses
print("relative", max(float(np.abs(a - b).max()) for a, b in zip(one, two)) / scale)
