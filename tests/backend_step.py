"""One process of tests/test_backends.py (run as ``python tests/backend_step.py INIT OUT SOLVER...`` under the
backend of ``KERAS_BACKEND``): for each SOLVER, a small LeukNet (64 px, fc 32, dropout off: the backends' random
streams differ) with the weights of INIT (written by the first process to run), two MATLAB solver steps on a fixed
batch; OUT-SOLVER.npz gets the losses and the increments of every learnable."""

import os
import sys

import keras
import numpy as np
from keras import ops

from leuknet import models
from leuknet.spec.options import TrainingOptions
from leuknet.train import Trainer, input_layer, seed_everything

def two_steps(init, out, solver):
    seed_everything(0)
    model = models.build("leuknet", image_size=64, fc_units=32)
    for layer in model.layers:
        if isinstance(layer, keras.layers.Dropout):
            layer.rate = 0.0
    if os.path.exists(init):
        saved = np.load(init)
        model.set_weights([saved[f"w{i}"] for i in range(len(saved.files))])
    else:
        input_layer(model).set_statistics(mean=np.array([120.0, 110.0, 130.0]))
        np.savez(init, **{f"w{i}": w for i, w in enumerate(model.get_weights())})
    rng = np.random.default_rng(1)
    x = rng.integers(0, 256, (4, 64, 64, 3)).astype(np.float32)
    y = np.array([0, 1, 1, 0], np.int32)
    # Epsilon 1e-3 (a trainingOptions value): Adam's first steps are g / (|g| + Epsilon), about sign(g) where |g| is
    # far above Epsilon, so with MATLAB's 1e-8 the last bits of a near-zero gradient would decide a whole step
    options = TrainingOptions(SolverName=solver, MiniBatchSize=4, InitialLearnRate=1e-3, L2Regularization=1e-4,
                              Epsilon=1e-3, GradientThreshold=5.0)
    trainer = Trainer(model, options)
    before = [ops.convert_to_numpy(v) for v in model.trainable_variables]
    losses = [float(trainer.train_step(x, y, 1e-3)[0]) for _ in range(2)]
    after = [ops.convert_to_numpy(v) for v in model.trainable_variables]
    np.savez(out, losses=np.array(losses), **{f"d{i}": a - b for i, (a, b) in enumerate(zip(after, before))})


init, out = sys.argv[1:3]
for solver in sys.argv[3:]:
    two_steps(init, f"{out}-{solver}.npz", solver)
