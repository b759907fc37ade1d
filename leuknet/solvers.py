"""MATLAB's solvers (sgdm, adam, rmsprop) with per-parameter learn-rate and L2 factors.

With ``g`` = loss gradient + ``L2Regularization * L2Factor * w`` (coupled L2: it enters the moments) and
``a`` = base learn rate x the parameter's learn-rate factor:

- sgdm:    ``w_{t+1} = w_t - a g + Momentum (w_t - w_{t-1})``
- adam:    ``m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2;  w -= a (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps)``
- rmsprop: ``v = b2 v + (1-b2) g^2;  w -= a g / (sqrt(v) + eps)``

The factor scales the step, not the gradient, so it is exact for the stateful solvers too (Adam is invariant to
a constant gradient scale). Gradient clipping (``GradientThreshold``) acts on ``g`` after the L2 term is added
(MATLAB's order here is *unverified*). Keras' Adam differs: epsilon on the uncorrected sqrt(v), default 1e-7.

The update of all parameters is one XLA-compiled function: on a CPU the element-wise work over LeukNet's
82-million-weight first fully connected layer is memory-bound, and fusing it into one pass per tensor halves
its cost.
"""

from __future__ import annotations

import math

import tensorflow as tf

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
        self.t = tf.Variable(0.0, trainable=False, dtype=tf.float32, name="solver_iteration")

        def slots(tag):
            return [tf.Variable(tf.zeros(v.shape, tf.float32), trainable=False, name=f"{tag}_{i}")
                    for i, v in enumerate(self.variables)]

        self.m = slots("moment1") if solver in ("sgdm", "adam") else []
        self.v = slots("moment2") if solver in ("adam", "rmsprop") else []
        self._apply = tf.function(self._apply_impl, jit_compile=fused, reduce_retracing=True)

    def state(self):
        return [self.t] + self.m + self.v

    def apply(self, grads, learn_rate):
        """Update every variable with its gradient; ``learn_rate`` is the base (schedule) rate."""
        return self._apply(list(grads), tf.cast(learn_rate, tf.float32))

    def _clip(self, gs):
        th = self.threshold
        if math.isinf(th):
            return gs
        if self.clip_method == "absolute-value":
            return [tf.clip_by_value(g, -th, th) for g in gs]
        if self.clip_method == "global-l2norm":
            norm = tf.sqrt(tf.add_n([tf.reduce_sum(tf.square(g)) for g in gs]))
            scale = tf.minimum(1.0, th / tf.maximum(norm, 1e-38))
            return [g * scale for g in gs]
        out = []
        for g in gs:
            norm = tf.sqrt(tf.reduce_sum(tf.square(g)))
            out.append(g * tf.minimum(1.0, th / tf.maximum(norm, 1e-38)))
        return out

    def _apply_impl(self, grads, lr):
        self.t.assign_add(1.0)
        t = self.t
        gs = []
        for v, g, l2f in zip(self.variables, grads, self.l2_factors):
            g = tf.cast(g, tf.float32)
            if self.l2 and l2f:
                g = g + (self.l2 * l2f) * v
            gs.append(g)
        gs = self._clip(gs)
        for i, (v, g, lrf) in enumerate(zip(self.variables, gs, self.lr_factors)):
            a = lr * lrf
            if self.solver == "sgdm":
                vel = self.momentum * self.m[i] - a * g
                self.m[i].assign(vel)
                v.assign_add(vel)
            elif self.solver == "adam":
                m = self.beta1 * self.m[i] + (1.0 - self.beta1) * g
                s = self.beta2 * self.v[i] + (1.0 - self.beta2) * tf.square(g)
                self.m[i].assign(m)
                self.v[i].assign(s)
                mhat = m / (1.0 - tf.pow(self.beta1, t))
                shat = s / (1.0 - tf.pow(self.beta2, t))
                v.assign_sub(a * mhat / (tf.sqrt(shat) + self.epsilon))
            else:
                s = self.beta2 * self.v[i] + (1.0 - self.beta2) * tf.square(g)
                self.v[i].assign(s)
                v.assign_sub(a * g / (tf.sqrt(s) + self.epsilon))
        return t
