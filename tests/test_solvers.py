"""Solver steps against NumPy float64 transcriptions of MATLAB's update equations (../shared/MATLAB.md), through
``Trainer.train_step``: the step engine of the Keras backend the tests run under (TensorFlow; JAX in CI's second
run)."""

import math

import numpy as np
import pytest

from backend_utils import to_numpy
from leuknet.matlab import (classificationLayer, fullyConnectedLayer, imageInputLayer, softmaxLayer,
                            trainingOptions)
from leuknet.matlab.layers import assemble
from leuknet.train import Trainer

LR_W, LR_B, L2_W, L2_B = 2.0, 3.0, 0.5, 1.0
L2 = 0.01


def tiny_model(seed=0):
    rng = np.random.default_rng(seed)
    W = rng.normal(0, 0.5, (3, 4)).astype(np.float32).astype(np.float64)  # MATLAB layout: Output x Input
    b = rng.normal(0, 0.1, (3, 1)).astype(np.float32).astype(np.float64)
    layers = [imageInputLayer([4, 1, 1], Normalization="none"),
              fullyConnectedLayer(3, Weights=W, Bias=b, WeightLearnRateFactor=LR_W, BiasLearnRateFactor=LR_B,
                                  WeightL2Factor=L2_W, BiasL2Factor=L2_B),
              softmaxLayer(), classificationLayer()]
    model, _ = assemble(layers, classes=["a", "b", "c"])
    return model, W.T.copy(), b.ravel().copy()  # input 4x1x1 flattens to the same order in both conventions


def grads_numpy(K, b, x, y):
    """Softmax + crossentropyex gradient of the FC parameters (Keras kernel layout I x O)."""
    z = x @ K + b
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    t = np.eye(3)[y]
    dz = (p - t) / len(x)
    return x.T @ dz, dz.sum(0)


def data(seed=1):
    rng = np.random.default_rng(seed)
    return rng.normal(0, 1, (6, 4)).astype(np.float32).astype(np.float64), rng.integers(0, 3, 6)


def run_steps(solver, n_steps, lrs, **opts):
    model, K, b = tiny_model()
    options = trainingOptions(solver, L2Regularization=L2, **opts)
    trainer = Trainer(model, options)
    x, y = data()
    for i in range(n_steps):
        trainer.train_step(x.reshape(6, 4, 1, 1).astype(np.float32), y.astype(np.int32), lrs[i])
    layer = model.get_layer("fc")
    return to_numpy(layer.kernel), to_numpy(layer.bias), K, b, x, y


def test_adam_steps_with_l2_and_learn_rate_factors():
    lrs = [1e-2, 5e-3]
    Kt, bt, K, b, x, y = run_steps("adam", 2, lrs)
    b1, b2, eps = 0.9, 0.999, 1e-8
    state = {"K": [np.zeros_like(K), np.zeros_like(K)], "b": [np.zeros_like(b), np.zeros_like(b)]}
    for t, lr in enumerate(lrs, start=1):
        gK, gb = grads_numpy(K, b, x, y)
        gK = gK + L2 * L2_W * K
        gb = gb + L2 * L2_B * b
        for name, g, f in (("K", gK, LR_W), ("b", gb, LR_B)):
            m, v = state[name]
            m = b1 * m + (1 - b1) * g
            v = b2 * v + (1 - b2) * g * g
            state[name] = [m, v]
            step = lr * f * (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps)
            if name == "K":
                K = K - step
            else:
                b = b - step
    # float32 arithmetic against float64: steps are ~1e-2, agreement to 1e-6 is float precision
    np.testing.assert_allclose(Kt, K, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(bt, b, rtol=1e-5, atol=1e-6)


def test_sgdm_steps_use_matlab_momentum_form_with_changing_rate():
    lrs = [0.1, 0.05, 0.02]
    Kt, bt, K, b, x, y = run_steps("sgdm", 3, lrs, Momentum=0.8)
    prev_K, prev_b = K.copy(), b.copy()
    for lr in lrs:
        gK, gb = grads_numpy(K, b, x, y)
        gK, gb = gK + L2 * L2_W * K, gb + L2 * L2_B * b
        # w_{t+1} = w_t - a g + Momentum (w_t - w_{t-1})
        K, prev_K = K - lr * LR_W * gK + 0.8 * (K - prev_K), K
        b, prev_b = b - lr * LR_B * gb + 0.8 * (b - prev_b), b
    np.testing.assert_allclose(Kt, K, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(bt, b, rtol=1e-5, atol=1e-7)


def test_rmsprop_step():
    Kt, bt, K, b, x, y = run_steps("rmsprop", 1, [1e-2], SquaredGradientDecayFactor=0.9, Epsilon=1e-6)
    gK, gb = grads_numpy(K, b, x, y)
    gK, gb = gK + L2 * L2_W * K, gb + L2 * L2_B * b
    K = K - 1e-2 * LR_W * gK / (np.sqrt(0.1 * gK**2) + 1e-6)
    b = b - 1e-2 * LR_B * gb / (np.sqrt(0.1 * gb**2) + 1e-6)
    np.testing.assert_allclose(Kt, K, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(bt, b, rtol=1e-5, atol=1e-7)


def test_gradient_threshold_l2norm_clips_each_parameter():
    Kt, bt, K, b, x, y = run_steps("sgdm", 1, [0.1], Momentum=0.0, GradientThreshold=0.05)
    gK, gb = grads_numpy(K, b, x, y)
    gK, gb = gK + L2 * L2_W * K, gb + L2 * L2_B * b
    clip = lambda g: g * min(1.0, 0.05 / np.linalg.norm(g))  # noqa: E731
    np.testing.assert_allclose(Kt, K - 0.1 * LR_W * clip(gK), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(bt, b - 0.1 * LR_B * clip(gb), rtol=1e-5, atol=1e-7)


def test_adam_learn_rate_factor_scales_the_step_not_the_gradient():
    """Adam's first step is ~lr * sign(g): with factor f the parameter moves f times as far (gradient scaling
    would not change the step at all)."""
    Kt, bt, K, b, x, y = run_steps("adam", 1, [1e-3])
    moved_w = np.abs(Kt - K).mean()
    moved_b = np.abs(bt - b).mean()
    assert moved_w == pytest.approx(LR_W * 1e-3, rel=1e-3)
    assert moved_b == pytest.approx(LR_B * 1e-3, rel=1e-3)


def test_training_options_defaults_are_matlabs():
    o = trainingOptions("sgdm")
    assert (o.InitialLearnRate, o.Momentum, o.MaxEpochs, o.MiniBatchSize, o.Shuffle) == (0.01, 0.9, 30, 128, "once")
    assert (o.ValidationFrequency, o.L2Regularization, o.LearnRateDropFactor, o.LearnRateDropPeriod) == (
        50, 1e-4, 0.1, 10)
    assert math.isinf(o.ValidationPatience) and math.isinf(o.GradientThreshold)
    assert o.OutputNetwork == "last-iteration" and o.VerboseFrequency == 50 and o.Epsilon == 1e-8
    a = trainingOptions("adam")
    assert (a.InitialLearnRate, a.GradientDecayFactor, a.SquaredGradientDecayFactor) == (0.001, 0.9, 0.999)
    r = trainingOptions("rmsprop")
    assert (r.InitialLearnRate, r.SquaredGradientDecayFactor) == (0.001, 0.9)


def test_piecewise_schedule_by_epoch():
    o = trainingOptions("adam", InitialLearnRate=1e-4, LearnRateSchedule="piecewise", LearnRateDropFactor=0.5,
                        LearnRateDropPeriod=7)
    rates = [o.learn_rate(e) for e in range(1, 16)]
    expected = [1e-4 * 0.5 ** ((e - 1) // 7) for e in range(1, 16)]
    assert rates == pytest.approx(expected)
    assert rates[6] == pytest.approx(1e-4) and rates[7] == pytest.approx(5e-5) and rates[14] == pytest.approx(2.5e-5)


def test_training_options_errors():
    from leuknet.errors import ConfigError

    with pytest.raises(ConfigError, match="unknown name-value option 'MaxEpoch'"):
        trainingOptions("adam", MaxEpoch=3)
    with pytest.raises(ConfigError, match="solverName must be one of 'sgdm', 'adam', 'rmsprop'"):
        trainingOptions("adamw")
    assert trainingOptions("SGD").SolverName == "sgdm"  # an unambiguous prefix, as MATLAB's validatestring
    with pytest.raises(ConfigError, match="Shuffle"):
        trainingOptions("adam", Shuffle="always")
