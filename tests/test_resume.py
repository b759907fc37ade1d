"""Resume after SIGKILL: the resumed run ends with the same weights and metrics as an uninterrupted one."""

import csv
import json
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

ARGS = ["--device", "cpu", "--demo-per-class", "16", "--image-size", "32", "--epochs", "4", "--batch-size", "4",
        "--fc-units", "8", "--deterministic", "--checkpoint-every", "3", "--quiet"]


def leuknet(*args):
    return subprocess.run([sys.executable, "-m", "leuknet.cli", *map(str, args)], capture_output=True, text=True,
                          timeout=600)


KILLER = textwrap.dedent("""
    import os, signal, sys
    from leuknet.cli import main
    import leuknet.train as t
    orig = t.Trainer.fit
    def fit(self, *a, callback=None, **k):
        def cb(event, payload):
            if callback:
                callback(event, payload)
            if event == "iteration" and payload["Iteration"] == 11:
                os.kill(os.getpid(), signal.SIGKILL)   # after the checkpoint at iteration 9
        return orig(self, *a, callback=cb, **k)
    t.Trainer.fit = fit
    main(sys.argv[1:])
""")


def weights(path):
    import keras

    from leuknet import layers  # noqa: F401

    m = keras.models.load_model(path, safe_mode=True, compile=False)
    return [v.numpy() for v in m.weights]


@pytest.mark.slow
def test_sigkill_then_resume_equals_uninterrupted(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    r = leuknet("train", *ARGS, "--out", a)
    assert r.returncode == 0, r.stderr
    r = subprocess.run([sys.executable, "-c", KILLER, "train", *ARGS, "--out", b], capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == -signal.SIGKILL
    assert not b.exists() and (tmp_path / "b.partial" / "checkpoint.npz").is_file()
    r = leuknet("train", "--out", b)  # an interrupted run is not overwritten silently
    assert r.returncode == 2 and "--resume" in r.stderr
    r = leuknet("train", "--resume", "--out", b)
    assert r.returncode == 0, r.stderr
    assert not (tmp_path / "b.partial").exists()
    for x, y in zip(weights(a / "model.keras"), weights(b / "model.keras")):
        np.testing.assert_array_equal(x, y)
    ma, mb = (json.loads((d / "metrics.json").read_text()) for d in (a, b))
    assert ma == mb
    ha, hb = (list(csv.DictReader(open(d / "history.csv"))) for d in (a, b))
    strip = lambda rows: [{k: v for k, v in r.items() if k != "time_elapsed_s"} for r in rows]  # noqa: E731
    assert strip(ha) == strip(hb) and len(ha) == 4 * (22 // 4)
    r = leuknet("train", "--resume", "--out", b)
    assert r.returncode == 2 and "complete" in r.stderr
