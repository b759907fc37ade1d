"""The same network and solver steps under the TensorFlow and the JAX backends (issue 20): the first two sgdm and
Adam updates of a small LeukNet from the same weights agree to float32 precision. Each backend runs in its own
process (Keras fixes its backend at import)."""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

STEP = Path(__file__).with_name("backend_step.py")

pytestmark = pytest.mark.skipif(not all(importlib.util.find_spec(m) for m in ("jax", "tensorflow")),
                                reason="needs both backends installed (jax[cpu] is in the test extra)")


def _run(backend, init, out, solver):
    env = dict(os.environ, KERAS_BACKEND=backend, JAX_PLATFORMS="cpu", CUDA_VISIBLE_DEVICES="-1",
               TF_CPP_MIN_LOG_LEVEL="3")
    proc = subprocess.run([sys.executable, str(STEP), str(init), str(out), solver], env=env, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return np.load(out)


@pytest.mark.parametrize("solver", ["sgdm", "adam"])
def test_first_updates_agree_between_backends(tmp_path, solver):
    init = tmp_path / "init.npz"
    tf_ = _run("tensorflow", init, tmp_path / "tf.npz", solver)  # writes the initial weights
    jax_ = _run("jax", init, tmp_path / "jax.npz", solver)
    np.testing.assert_allclose(jax_["losses"], tf_["losses"], rtol=1e-5)
    names = [k for k in tf_.files if k.startswith("d")]
    assert len(names) == 10  # 3 convolutions, 2 fully connected layers: kernels and biases
    for k in names:
        d_tf, d_jax = tf_[k], jax_[k]
        scale = float(np.abs(d_tf).max())
        assert scale > 0, k  # every layer was updated
        # increments, not weights (which the initial values dominate); float32 sums in other orders (oneDNN and
        # XLA convolutions) give relative differences of about 1e-6 in the gradients
        np.testing.assert_allclose(d_jax, d_tf, rtol=1e-3, atol=1e-4 * scale, err_msg=k)
