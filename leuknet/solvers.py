"""MATLAB's solvers (sgdm, adam, rmsprop) with per-parameter learn-rate and L2 factors.

With ``g`` = loss gradient + ``L2Regularization * L2Factor * w`` (coupled L2: it enters the moments) and
``a`` = base learn rate x the parameter's learn-rate factor:

- sgdm:    ``w_{t+1} = w_t - a g + Momentum (w_t - w_{t-1})``
- adam:    ``m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2;  w -= a (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps)``
- rmsprop: ``v = b2 v + (1-b2) g^2;  w -= a g / (sqrt(v) + eps)``

The factor scales the step, not the gradient, so it is exact for the stateful solvers too (Adam is invariant to
a constant gradient scale). Gradient clipping (``GradientThreshold``) acts on ``g`` after the L2 term is added
(MATLAB's order here is *unverified*). Keras' Adam differs: epsilon on the uncorrected sqrt(v), default 1e-7.

The arithmetic (:meth:`Solver.increments`) is written in ``keras.ops`` on values, so both backends run the same
formulas. Under TensorFlow the update of all parameters is one XLA-compiled function on the solver's own
variables: on a CPU the element-wise work over LeukNet's 82-million-weight first fully connected layer is
memory-bound, and fusing it into one pass per tensor halves its cost. Under JAX, :meth:`Solver.update` is the pure
form, called inside the training step's ``jax.jit`` (:mod:`leuknet.engines`).
"""

from __future__ import annotations

import math

import keras
from keras import ops

from leuknet.errors import ConfigError
from leuknet.spec.options import CLIP_METHODS, SOLVERS  # noqa: F401  (re-exported)


class Solver:
    def __init__(self, solver, variables, factors, *, momentum=0.9, gradient_decay=0.9,
                 squared_gradient_decay=None, epsilon=1e-8, l2=1e-4, gradient_threshold=math.inf,
                 gradient_threshold_method="l2norm", fused=True):
        if solver not in SOLVERS:
            raise ConfigError(f"unknown solver {solver!r}; choose one of {', '.join(SOLVERS)}")
        if gradient_threshold_method not in CLIP_METHODS:
            raise ConfigError(f"GradientThresholdMethod must be one of {CLIP_METHODS}, "
                              f"received {gradient_threshold_method!r}")
        self.solver = solver
        self.variables = list(variables)
        self.lr_factors = [float(factors.get(v.path, (1.0, 1.0))[0]) for v in self.variables]
        self.l2_factors = [float(factors.get(v.path, (1.0, 1.0))[1]) for v in self.variables]
        self.momentum = float(momentum)
        self.beta1 = float(gradient_decay)
        if squared_gradient_decay is None:
            squared_gradient_decay = 0.999 if solver == "adam" else 0.9
        self.beta2 = float(squared_gradient_decay)
        self.epsilon = float(epsilon)
        self.l2 = float(l2)
        self.threshold = float(gradient_threshold)
        self.clip_method = gradient_threshold_method
        self._tf = keras.backend.backend() == "tensorflow"
        self.t = self._variable((), "solver_iteration")
        self.m = [self._variable(v.shape, f"moment1_{i}") for i, v in enumerate(self.variables)] \
            if solver in ("sgdm", "adam") else []
        self.v = [self._variable(v.shape, f"moment2_{i}") for i, v in enumerate(self.variables)] \
            if solver in ("adam", "rmsprop") else []
        if self._tf:
            import tensorflow as tf

            self._apply = tf.function(self._apply_impl, jit_compile=fused, reduce_retracing=True)

    def _variable(self, shape, name):
        """A float32 zero state variable: a ``tf.Variable`` under TensorFlow (assigned inside the fused update),
        else a ``keras.Variable`` (the JAX engine reads and writes its value)."""
        if self._tf:
            import tensorflow as tf

            return tf.Variable(tf.zeros(shape, tf.float32), trainable=False, dtype=tf.float32, name=name)
        return keras.Variable(initializer="zeros", shape=tuple(shape), dtype="float32", trainable=False, name=name)

    def state(self):
        return [self.t] + self.m + self.v

    def apply(self, grads, learn_rate):
        """Update every variable with its gradient; ``learn_rate`` is the base (schedule) rate (TensorFlow)."""
        return self._apply(list(grads), ops.cast(learn_rate, "float32"))

    def update(self, weights, grads, state, learn_rate):
        """The pure form of :meth:`apply`: (new weights, new state) from the weights' and the state's values
        (``state`` as :meth:`state` lists them: [t] + first moments + second moments)."""
        t = state[0] + 1.0
        k = len(self.m)
        increments, m, v = self.increments(weights, grads, state[1 : 1 + k], state[1 + k :], t, learn_rate)
        return [w + d for w, d in zip(weights, increments)], [t] + m + v

    def _clip(self, gs):
        th = self.threshold
        if math.isinf(th):
            return gs
        if self.clip_method == "absolute-value":
            return [ops.clip(g, -th, th) for g in gs]
        if self.clip_method == "global-l2norm":
            total = ops.sum(ops.square(gs[0]))
            for g in gs[1:]:
                total = total + ops.sum(ops.square(g))
            scale = ops.minimum(1.0, th / ops.maximum(ops.sqrt(total), 1e-38))
            return [g * scale for g in gs]
        out = []
        for g in gs:
            norm = ops.sqrt(ops.sum(ops.square(g)))
            out.append(g * ops.minimum(1.0, th / ops.maximum(norm, 1e-38)))
        return out

    def increments(self, weights, grads, m, v, t, lr):
        """MATLAB's update as arithmetic on values: (weight increments, new first moments, new second moments)
        for iteration ``t`` (counted from 1) at base rate ``lr``; ``weights``, ``m`` and ``v`` may be variables
        (read) or arrays."""
        gs = []
        for w, g, l2f in zip(weights, grads, self.l2_factors):
            g = ops.cast(g, "float32")
            if self.l2 and l2f:
                g = g + (self.l2 * l2f) * w
            gs.append(g)
        gs = self._clip(gs)
        increments, new_m, new_v = [], [], []
        for i, (g, lrf) in enumerate(zip(gs, self.lr_factors)):
            a = lr * lrf
            if self.solver == "sgdm":
                vel = self.momentum * m[i] - a * g
                new_m.append(vel)
                increments.append(vel)
            elif self.solver == "adam":
                mi = self.beta1 * m[i] + (1.0 - self.beta1) * g
                s = self.beta2 * v[i] + (1.0 - self.beta2) * ops.square(g)
                new_m.append(mi)
                new_v.append(s)
                mhat = mi / (1.0 - ops.power(self.beta1, t))
                shat = s / (1.0 - ops.power(self.beta2, t))
                increments.append(-(a * mhat / (ops.sqrt(shat) + self.epsilon)))
            else:
                s = self.beta2 * v[i] + (1.0 - self.beta2) * ops.square(g)
                new_v.append(s)
                increments.append(-(a * g / (ops.sqrt(s) + self.epsilon)))
        return increments, new_m, new_v

    def _apply_impl(self, grads, lr):  # TensorFlow: the increments applied to the variables in one function
        self.t.assign_add(1.0)
        t = self.t
        increments, m, v = self.increments(self.variables, grads, self.m, self.v, t, lr)
        for slot, value in zip(self.m + self.v, m + v):
            slot.assign(value)
        for w, d in zip(self.variables, increments):
            w.assign_add(d)
        return t
