"""The parity suite runs in CI on every change: every committed reference case must pass."""

import os
import shutil
import subprocess
import sys

import keras
import numpy as np

from leuknet.parity import DEFAULT_CASES, run_all


def test_every_parity_case_passes_with_at_least_three_oracles():
    """Under the Keras backend the tests run with (TensorFlow; JAX in CI's second run), which each result
    records."""
    results = run_all()
    failed = [(r["name"], r["max_abs_error"], r["tolerance"], r["note"]) for r in results if not r["passed"]]
    assert not failed, failed
    assert len(results) >= 20
    families = {r["oracle"].split(" (")[0] for r in results}
    assert {"onnxruntime", "GNU Octave", "NumPy"} <= families
    assert {r["backend"] for r in results} == {keras.backend.backend()}


def test_parity_cli_exit_status_and_files(tmp_path):
    cases = tmp_path / "cases"
    cases.mkdir()
    for name in ("maxpool_3_stride2", "published_rgb2ycbcr_values"):
        shutil.copy(DEFAULT_CASES / f"{name}.npz", cases)
    r = subprocess.run([sys.executable, "-m", "leuknet.cli", "parity", "--cases", cases, "--out", tmp_path / "o"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "o" / "parity.json").is_file() and (tmp_path / "o" / "parity.md").is_file()
    assert f"(Keras backend: {keras.backend.backend()})" in (tmp_path / "o" / "parity.md").read_text()
    # a case whose expected output is wrong must fail the run
    with np.load(cases / "maxpool_3_stride2.npz") as z:
        data = {k: z[k] for k in z.files}
    data["expected"] = data["expected"] + 1
    np.savez(cases / "maxpool_3_stride2.npz", **data)
    r = subprocess.run([sys.executable, "-m", "leuknet.cli", "parity", "--cases", cases], capture_output=True,
                       text=True)
    assert r.returncode == 1
    if os.environ.get("CUDA_VISIBLE_DEVICES") == "-1" or not _gpus():  # --device gpu without one: one line
        r = subprocess.run([sys.executable, "-m", "leuknet.cli", "parity", "--cases", cases, "--device", "gpu"],
                           capture_output=True, text=True)
        assert r.returncode == 2 and "no GPU is visible" in r.stderr and len(r.stderr.strip().splitlines()) == 1


def _gpus():
    from leuknet.profiles import visible_gpus

    return visible_gpus()
