"""The same network and solver steps under the TensorFlow and the JAX backends (issue 20): the first two sgdm and
Adam updates of a small LeukNet from the same weights agree to float32 precision. Each backend runs in its own
process (Keras fixes its backend at import)."""

import csv
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


SOLVERS = ("sgdm", "adam")


def _run(backend, init, out):
    env = dict(os.environ, KERAS_BACKEND=backend, JAX_PLATFORMS="cpu", CUDA_VISIBLE_DEVICES="-1",
               TF_CPP_MIN_LOG_LEVEL="3")
    proc = subprocess.run([sys.executable, str(STEP), str(init), str(out), *SOLVERS], env=env, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return {s: np.load(f"{out}-{s}.npz") for s in SOLVERS}


@pytest.fixture(scope="module")
def first_updates(tmp_path_factory):
    """Both solvers' first two updates, each backend in one process (TensorFlow's writes the initial weights)."""
    where = tmp_path_factory.mktemp("first_updates")
    init = where / "init.npz"
    return {b: _run(b, init, where / b) for b in ("tensorflow", "jax")}


@pytest.mark.parametrize("solver", SOLVERS)
def test_first_updates_agree_between_backends(first_updates, solver):
    tf_, jax_ = first_updates["tensorflow"][solver], first_updates["jax"][solver]
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


def test_data_parallel_step_equals_one_device():
    env = dict(os.environ, KERAS_BACKEND="jax", JAX_PLATFORMS="cpu",
               XLA_FLAGS="--xla_force_host_platform_device_count=2")
    proc = subprocess.run([sys.executable, str(STEP.with_name("data_parallel_step.py"))], env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    one, two = (float(v) for v in proc.stdout.split("validation")[-1].split("relative")[0].split())
    assert abs(one - two) <= 1e-5 * abs(one)  # the validation loss, the last batch padded and split over both
    relative = float(proc.stdout.split("relative")[-1])
    # sgdm is linear in the gradient, so this is the all-reduced gradient's error: float32 rounding of the halves'
    # sums in another order (8e-7 measured)
    assert relative < 1e-5


def _leuknet(*args, **env):
    return subprocess.run([sys.executable, "-m", "leuknet.cli", *map(str, args)], capture_output=True, text=True,
                          timeout=900, env=dict(os.environ, **env))


# every process started with this cannot import TensorFlow (tests/no_tensorflow/sitecustomize.py): the GPU machine
NO_TENSORFLOW = {"PYTHONPATH": os.pathsep.join(filter(None, [str(Path(__file__).with_name("no_tensorflow")),
                                                              os.environ.get("PYTHONPATH")]))}
SMALL = ["--device", "cpu", "--image-size", "32", "--fc-units", "8", "--batch-size", "4", "--quiet"]


@pytest.mark.slow
def test_keras_backend_jax_trains_the_demo(tmp_path):
    """``KERAS_BACKEND=jax leuknet train --device cpu``: the demo (smaller), no TensorFlow step in it."""
    import json

    r = _leuknet("train", *SMALL, "--demo-per-class", "16", "--epochs", "3", "--out", tmp_path / "run",
                 KERAS_BACKEND="jax")
    assert r.returncode == 0, r.stderr[-3000:]
    # the profile names its backend, and JAX on a CPU says that TensorFlow is the faster engine there
    assert "Profile: cpu fp32 (float32) on JAX, " in r.stdout and "TensorFlow is the CPU profile" in r.stdout
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["versions"]["backend"] == "jax" and config["versions"]["jax"]
    assert config["device"]["backend"] == "jax" and config["profile"]["backend"] == "jax"
    assert config["profile"]["xla_train_step"] and not config["profile"]["onednn"]
    history = (tmp_path / "run" / "history.csv").read_text().splitlines()
    assert len(history) == 1 + 3 * (22 // 4)  # 70 % of 32 demo cells for training: floor(22 / 4) per epoch


@pytest.mark.slow
def test_backend_flag_jax_learns_separable_cells(tmp_path):
    import json

    from conftest import folder_data

    blocked = subprocess.run([sys.executable, "-c", "import tensorflow"], capture_output=True, text=True,
                             env=dict(os.environ, **NO_TENSORFLOW))
    assert blocked.returncode == 1 and "No module named 'tensorflow'" in blocked.stderr
    data = folder_data(tmp_path / "cells", per_class=14)
    r = _leuknet("train", *SMALL, "--backend", "auto", "--data", data, "--epochs", "8", "--lr", "0.001",
                 "--out", tmp_path / "run", **NO_TENSORFLOW)  # auto: JAX, as on a machine without TensorFlow
    assert r.returncode == 0, r.stderr[-3000:]
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["accuracy"] >= 0.75, metrics["accuracy"]  # bright square left or right: learnt in 8 epochs
    assert json.loads((tmp_path / "run" / "config.json").read_text())["versions"]["backend"] == "jax"

    # the model trained without TensorFlow, evaluated and explained without it (the threaded NumPy decoder),
    # and its probabilities (the evaluation's streamed path) and Grad-CAM heatmaps (TensorFlow's tape, JAX's grad)
    # in one process per backend: the same to float32 precision
    model = tmp_path / "run" / "model.keras"
    r = _leuknet("evaluate", "--model-file", model, "--data", data, "--device", "cpu", "--backend", "jax",
                 "--out", tmp_path / "eval", **NO_TENSORFLOW)
    assert r.returncode == 0, r.stderr[-3000:]
    with open(tmp_path / "eval" / "predictions.csv") as f:
        evaluated = {Path(row["file"]).name: float(row["p_blast"]) for row in csv.DictReader(f)}
    assert len(evaluated) == 28
    r = _leuknet("explain", tmp_path / "cells" / "blast", "--model-file", model, "--device", "cpu", "--out",
                 tmp_path / "gradcam", KERAS_BACKEND="jax", **NO_TENSORFLOW)
    assert r.returncode == 0, r.stderr[-3000:]
    assert len(list((tmp_path / "gradcam").glob("*_gradcam.png"))) == 14
    got = {}
    for backend in ("jax", "tensorflow"):
        out = tmp_path / f"{backend}.npz"
        r = subprocess.run([sys.executable, "-c", PROBABILITIES_AND_GRAD_CAM, str(model), str(data), str(out)],
                           capture_output=True, text=True, timeout=600,
                           env=dict(os.environ, KERAS_BACKEND=backend, **(NO_TENSORFLOW if backend == "jax" else {})))
        assert r.returncode == 0, r.stderr[-3000:]
        got[backend] = np.load(out)
    names = [Path(f).name for f in got["jax"]["files"]]
    assert sorted(names) == sorted(evaluated)
    np.testing.assert_allclose(got["jax"]["probs"][:, 0], [evaluated[n] for n in names], atol=6e-7)  # CSV: 6 places
    np.testing.assert_allclose(got["tensorflow"]["probs"], got["jax"]["probs"], atol=1e-5)
    np.testing.assert_array_equal(got["jax"]["idx"], got["tensorflow"]["idx"])
    assert got["jax"]["cam"].shape == (28, 3, 3) and got["jax"]["cam"].max() == 1.0  # the last ReLU: 3 x 3
    np.testing.assert_allclose(got["jax"]["cam"], got["tensorflow"]["cam"], atol=1e-4)


PROBABILITIES_AND_GRAD_CAM = """
import sys
from pathlib import Path
import numpy as np
from leuknet.data.pipeline import read_image, resize_uint8_np
from leuknet.explain import grad_cam
from leuknet.io import load_model
from leuknet.run import model_metadata, stream_predict
model = load_model(sys.argv[1])
files = sorted(str(f) for f in Path(sys.argv[2]).rglob("*.png"))
probs, ok = stream_predict(model, files, model_metadata(model), batch_size=8)
assert ok.all()
x = np.stack([resize_uint8_np(read_image(f), (32, 32)) for f in files]).astype(np.float32)
cam, idx, layer = grad_cam(model, x)
np.savez(sys.argv[3], files=np.array(files), probs=probs, cam=cam, idx=idx)
"""


def test_backend_and_precision_errors_are_one_line(tmp_path):
    r = _leuknet("train", "--device", "cpu", "--precision", "tf32", "--out", tmp_path / "x")
    assert r.returncode == 2 and "GPU setting" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    r = _leuknet("train", "--device", "cpu", "--backend", "theano", "--out", tmp_path / "y")
    assert r.returncode == 2 and not (tmp_path / "y").exists()
    assert not (tmp_path / "x").exists()
    # --device gpu where JAX sees none (CI's machines): refused before a study folder is made, naming JAX
    r = _leuknet("colorspace", "--device", "gpu", "--backend", "jax", "--out", tmp_path / "z", JAX_PLATFORMS="cpu")
    assert r.returncode == 2 and r.stderr.strip().splitlines() == [
        "error: --device gpu: no GPU is visible to JAX on this machine (use --device cpu)"], r.stderr
    assert not (tmp_path / "z").exists()


JAX_PASS = ["tests/test_layers.py", "tests/test_solvers.py", "tests/test_parity.py", "tests/test_engine_jax.py",
            # the parity CLI's exit statuses and files are the CLI's, not the backend's: the TensorFlow pass has them
            "--deselect", "tests/test_parity.py::test_parity_cli_exit_status_and_files",
            "tests/test_pipeline_numpy.py",
            # (jit_solver is TensorFlow's choice: under JAX its two float32 cases are one)
            "tests/test_checkpoint_writer.py::test_a_state_snapshot_is_not_changed_by_later_training[float32-True]",
            "tests/test_checkpoint_writer.py::test_a_state_snapshot_is_not_changed_by_later_training"
            "[mixed_bfloat16-True]"]


@pytest.mark.slow
def test_layer_solver_parity_and_engine_tests_pass_under_jax():
    """The layer, solver and parity tests, the JAX engine's, the NumPy pipeline's and the state snapshot's, under
    KERAS_BACKEND=jax: a pytest of their own (Keras fixes the backend at import), so the one test command covers
    both backends."""
    root = Path(__file__).resolve().parents[1]
    env = dict(os.environ, KERAS_BACKEND="jax", JAX_PLATFORMS="cpu", CUDA_VISIBLE_DEVICES="-1")
    env.pop("PYTEST_XDIST_WORKER", None)
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", "-p", "no:xdist",
                           "-o", "addopts=", *JAX_PASS], cwd=root, env=env, capture_output=True, text=True,
                          timeout=1200)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
    summary = proc.stdout.strip().splitlines()[-1]
    assert " passed" in summary and "failed" not in summary and "error" not in summary, summary


@pytest.mark.slow
@pytest.mark.parametrize("script,args,data", [
    # imageDatastore, splitEachLabel, augmentedImageDatastore (resize), trainNetwork, classify, confusionchart
    ("leuknet_paper.py", ("--epochs", "2", "--size", "32", "--batch", "8"), dict(per_class=14, size=40)),
    # imageDataAugmenter on grey files (ColorPreprocessing gray2rgb), batch normalisation
    ("custom_cnn_augmentation.py", ("--epochs", "2", "--train-per-label", "10"),
     dict(per_class=16, size=48, grey=True, layout="folders")),
])
def test_matlab_scripts_run_where_tensorflow_cannot_be_imported(tmp_path, script, args, data):
    """The MATLAB ports of scripts/ end to end under JAX on a machine without TensorFlow (the GPU machines)."""
    from test_matlab_scripts import cells

    root = Path(__file__).resolve().parents[1]
    folder = cells(tmp_path / "cells", **data)
    env = dict(os.environ, KERAS_BACKEND="jax", JAX_PLATFORMS="cpu",
               PYTHONPATH=os.pathsep.join([NO_TENSORFLOW["PYTHONPATH"], str(root)]))
    p = subprocess.run([sys.executable, str(root / "scripts" / script), str(folder), *args], cwd=tmp_path, env=env,
                       capture_output=True, text=True, timeout=900)
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-3000:]
    accuracy = float([line for line in p.stdout.splitlines() if line.startswith("accuracy = ")][-1].split("=")[1])
    assert 0.0 <= accuracy <= 1.0
    assert (tmp_path / "confusion.png").read_bytes()[:4] == b"\x89PNG"
