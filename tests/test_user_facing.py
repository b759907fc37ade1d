"""Rough edges a new user met (issue 19): each test reproduces one of them."""

import logging
import os
import re
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import numpy as np
import pytest

from conftest import ROOT, write_image


# -- 1. the README's install (no extras) has onnx and onnxruntime; without them parity says what to install -----

def _requirement_names(reqs):
    return {re.split(r"[<>=!~\[ ;]", r, maxsplit=1)[0].strip().lower() for r in reqs}


def test_onnx_and_onnxruntime_are_main_dependencies():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    main = _requirement_names(project["dependencies"])
    assert {"onnx", "onnxruntime"} <= main, main
    assert {"onnx", "onnxruntime"}.isdisjoint(_requirement_names(project["optional-dependencies"]["test"]))
    assert {"pytest", "pytest-xdist"} <= _requirement_names(project["optional-dependencies"]["test"])


def test_parity_without_onnx_says_what_to_install(monkeypatch):
    from leuknet.parity import DEFAULT_CASES, markdown, run_case

    for name in [m for m in sys.modules if m == "onnx" or m.startswith("onnx.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "onnx", None)  # `import onnx` now raises ImportError
    r = run_case(DEFAULT_CASES / "alexnet_layout_forward_rgb.npz")
    assert not r["passed"]
    assert "pip install onnx onnxruntime" in r["note"] and "\n" not in r["note"], r["note"]
    assert "not run" in r["note"]
    assert "pip install onnx onnxruntime" in markdown([r])


# -- 2. leuknet parity logs no tf.function retracing warning ---------------------------------------------------

MODEL_KINDS = ("onnx_forward", "conv", "maxpool", "fc", "solver", "cadence")


def test_parity_cases_log_no_retracing_warning_and_trace_each_function_once(monkeypatch, tmp_path):
    import shutil

    import tensorflow as tf
    from tensorflow.python.eager.polymorphic_function import polymorphic_function as pf

    import leuknet.matlab  # noqa: F401 (its filter, for scripts, stays; the cases import it on their way)
    from leuknet.parity import DEFAULT_CASES, run_all

    for f in sorted(DEFAULT_CASES.glob("*.npz")):  # the cases that build networks and trainers
        with np.load(f) as z:
            if str(z["kind"]) in MODEL_KINDS:
                shutil.copy(f, tmp_path)
    assert len(list(tmp_path.glob("*.npz"))) >= 12
    eager_traces = {}
    original = pf.Function.__call__

    alive = []  # every traced function is kept until the end: a freed one's id may be reused by the next

    def counting_call(self, *args, **kwargs):
        before = self.experimental_get_tracing_count()
        out = original(self, *args, **kwargs)
        if tf.executing_eagerly() and self.experimental_get_tracing_count() > before:
            alive.append(self)
            eager_traces[id(self)] = eager_traces.get(id(self), 0) + 1
        return out

    monkeypatch.setattr(pf.Function, "__call__", counting_call)
    records = []

    class Keep(logging.Handler):
        def emit(self, record):
            records.append(record.getMessage())

    handler = Keep(level=logging.DEBUG)
    tf_logger = logging.getLogger("tensorflow")
    filters_before = list(tf_logger.filters)
    tf_logger.addHandler(handler)
    try:
        results = run_all(tmp_path)
    finally:
        tf_logger.removeHandler(handler)
    assert all(r["passed"] for r in results), [(r["name"], r["note"]) for r in results if not r["passed"]]
    assert not [m for m in records if "retracing" in m.lower()], records
    # the warning's premise (one function traced again and again) does not hold: each is traced once
    assert eager_traces and max(eager_traces.values()) == 1, eager_traces
    assert tf_logger.filters == filters_before  # held back only while cases run


def test_a_script_classifying_with_several_networks_logs_no_retracing_warning():
    """A ported script that trains and classifies with one network per fold (here six) traces each network's
    functions once; TensorFlow's detector would report the fifth network on as retracing of one function."""
    import leuknet.matlab as m

    records = []

    class Keep(logging.Handler):
        def emit(self, record):
            records.append(record.getMessage())

    tf_logger = logging.getLogger("tensorflow")
    handler = Keep(level=logging.DEBUG)
    tf_logger.addHandler(handler)
    x = np.random.default_rng(0).integers(0, 255, (8, 8, 3, 4)).astype(np.uint8)
    y = m.categorical(["a", "b", "a", "b"])
    try:
        for fold in range(6):
            layers = [m.imageInputLayer([8, 8, 3]), m.convolution2dLayer(3, 2), m.reluLayer(),
                      m.fullyConnectedLayer(2), m.softmaxLayer(), m.classificationLayer()]
            net = m.trainNetwork(x, y, layers, m.trainingOptions("sgdm", "MaxEpochs", 1, "Verbose", False))
            assert len(m.classify(net, x)) == 4, fold
    finally:
        tf_logger.removeHandler(handler)
    assert not [r for r in records if "retracing" in r.lower()], records


# -- 3. a corrupt model file is not reported as missing ------------------------------------------------------------

@pytest.fixture(scope="module")
def tiny_model_file(tmp_path_factory):
    from leuknet.io import save_model
    from leuknet.matlab import (classificationLayer, convolution2dLayer, fullyConnectedLayer, imageInputLayer,
                                reluLayer, softmaxLayer)
    from leuknet.matlab.layers import assemble

    model, _ = assemble([imageInputLayer([16, 16, 3], Normalization="none"), convolution2dLayer(3, 4, Padding="same"),
                         reluLayer(), fullyConnectedLayer(2), softmaxLayer(),
                         classificationLayer(Classes=["blast", "normal"])])
    path = tmp_path_factory.mktemp("model") / "model.keras"
    save_model(model, path)
    return path


def _load_error(path):
    from leuknet.errors import ModelFileError
    from leuknet.io import load_model

    with pytest.raises(ModelFileError) as e:
        load_model(path)
    msg = str(e.value)
    assert "\n" not in msg
    return msg


def test_garbage_model_file_is_not_a_readable_keras_model(tmp_path):
    bad = tmp_path / "x.keras"
    bad.write_bytes(os.urandom(2048))
    msg = _load_error(bad)
    assert "not a readable Keras model" in msg and "zip" in msg, msg
    assert "not found" not in msg.lower() and "does not exist" not in msg, msg


def test_truncated_model_file_is_not_a_readable_keras_model(tmp_path, tiny_model_file):
    data = tiny_model_file.read_bytes()
    cut = tmp_path / "cut.keras"
    cut.write_bytes(data[: len(data) // 2])
    msg = _load_error(cut)
    assert "not a readable Keras model" in msg, msg
    assert "not found" not in msg.lower() and "does not exist" not in msg, msg


def test_model_zip_without_a_model_inside_is_not_a_readable_keras_model(tmp_path):
    p = tmp_path / "z.keras"
    with zipfile.ZipFile(p, "w") as z:
        z.writestr("hello.txt", "no model here")
    msg = _load_error(p)
    assert "not a readable Keras model" in msg and "not found" not in msg.lower(), msg


def test_directory_named_like_a_model_and_missing_file(tmp_path, tiny_model_file):
    d = tmp_path / "m.keras"
    d.mkdir()
    msg = _load_error(d)
    assert "is a directory" in msg and "does not exist" not in msg, msg
    msg = _load_error(tmp_path / "absent.keras")
    assert "does not exist" in msg, msg
    from leuknet.io import load_model

    assert load_model(tiny_model_file).output.shape[-1] == 2


def test_evaluate_cli_on_a_corrupt_model_is_one_line_and_exit_2(tmp_path):
    bad = tmp_path / "x.keras"
    bad.write_bytes(b"this is not a model" * 20)
    data = tmp_path / "cells"
    rng = np.random.default_rng(0)
    for c in ("blast", "normal"):
        write_image(data / c / "a.png", rng.integers(0, 255, (16, 16, 3)).astype(np.uint8))
    r = subprocess.run([sys.executable, "-m", "leuknet.cli", "evaluate", "--model-file", bad, "--data", data,
                        "--device", "cpu", "--out", tmp_path / "ev"], capture_output=True, text=True)
    assert r.returncode == 2, (r.stdout, r.stderr)
    lines = [ln for ln in r.stderr.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1 and "not a readable Keras model" in lines[0], r.stderr
    assert "not found" not in lines[0].lower() and "does not exist" not in lines[0]


# -- 4. skipped files get a specific reason ------------------------------------------------------------------------

def _real_image_bytes(tmp_path, ext):
    yy, xx = np.mgrid[0:60, 0:80]
    img = np.dstack([xx * 3, yy * 4, (xx + yy) * 2]).astype(np.uint8)
    return write_image(tmp_path / f"full{ext}", img).read_bytes()


def test_unreadable_reason_tells_empty_garbage_truncated_and_unopenable_apart(tmp_path, monkeypatch):
    from leuknet.data.pipeline import read_image, unreadable_reason

    (tmp_path / "empty.png").write_bytes(b"")
    assert unreadable_reason(tmp_path / "empty.png") == "empty file (0 bytes)"
    (tmp_path / "text.png").write_text("not an image at all\n" * 10)
    assert unreadable_reason(tmp_path / "text.png") == "not an image (OpenCV cannot decode it)"
    for ext in (".png", ".bmp", ".jpg", ".tif"):
        full = _real_image_bytes(tmp_path, ext)
        for frac in (0.9, 0.5):
            p = tmp_path / f"cut{int(100 * frac)}{ext}"
            p.write_bytes(full[: int(len(full) * frac)])
            with pytest.raises(Exception):  # noqa: B017 (which error OpenCV raises is its own)
                read_image(p)  # OpenCV 5 decodes none of them
            reason = unreadable_reason(p)
            assert reason.startswith("truncated image"), (p.name, reason)
            assert str(len(full[: int(len(full) * frac)])) in reason, reason
    # a damaged PNG with a whole structure but wrong data is corrupt, not truncated
    png = bytearray(_real_image_bytes(tmp_path, ".png"))
    idat = png.find(b"IDAT")
    png[idat + 8 : idat + 40] = b"\x00" * 32
    (tmp_path / "damaged.png").write_bytes(bytes(png))
    assert "truncated" not in unreadable_reason(tmp_path / "damaged.png")
    assert "OpenCV cannot decode" in unreadable_reason(tmp_path / "damaged.png")
    # a readable image is not called unreadable
    assert "decodes" in unreadable_reason(tmp_path / "full.png")
    # missing file, folder, permission denied (root reads anything: the denial is simulated)
    assert unreadable_reason(tmp_path / "absent.png") == "cannot be opened: No such file or directory"
    (tmp_path / "dir.png").mkdir()
    assert unreadable_reason(tmp_path / "dir.png") == "cannot be opened: Is a directory"
    locked = tmp_path / "locked.png"
    locked.write_bytes(_real_image_bytes(tmp_path, ".png"))
    import builtins

    real_open = builtins.open

    def denying_open(file, *a, **k):
        if os.fspath(file) == os.fspath(locked):
            raise PermissionError(13, "Permission denied", os.fspath(file))
        return real_open(file, *a, **k)

    monkeypatch.setattr(builtins, "open", denying_open)
    assert unreadable_reason(locked) == "cannot be opened: Permission denied"


# -- 5. figures ------------------------------------------------------------------------------------------------------

def _fake_summary(spaces=("rgb", "hsv", "ycbcr", "hcbcr")):
    out = {}
    for i, s in enumerate(spaces):
        m = 0.99 - 0.005 * i
        out[s] = {k: {"mean": m, "std": 0.01} for k in ("accuracy", "macro_f1", "sensitivity", "specificity")}
    return out


def test_colorspace_chart_legend_covers_no_bar(tmp_path):
    from leuknet import figures

    summary = _fake_summary()
    path = figures.colorspace_bars(summary, tmp_path / "c.png", "Colour-space comparison: leuknet, detection")
    assert Path(path).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    fig = figures.colorspace_bars_figure(summary, "Colour-space comparison: leuknet, detection")
    fig.savefig(tmp_path / "c2.png", format="png", dpi=110)  # lays the figure out as the PNG has it
    renderer = fig.canvas.get_renderer()
    ax = fig.axes[0]
    legend = ax.get_legend()
    assert legend is not None
    box = legend.get_window_extent(renderer)
    bars = [p for c in ax.containers for p in c.patches] if hasattr(ax.containers[0], "patches") else ax.patches
    assert len(bars) == 16
    for bar in bars:
        assert not box.overlaps(bar.get_window_extent(renderer)), (box, bar)
    texts = [t for t in ax.texts if t.get_text()]
    for t in texts:
        assert not box.overlaps(t.get_window_extent(renderer)), t.get_text()
    fig_box = fig.bbox
    assert fig_box.x0 <= box.x0 and box.x1 <= fig_box.x1 and fig_box.y0 <= box.y0 and box.y1 <= fig_box.y1
    # the y-limit leaves room for the error bars and the value labels above 100 %
    assert ax.get_ylim()[1] >= 100 * 0.99 + 100 * 0.01 + 3


def _history(losses):
    rows = []
    for i, loss in enumerate(losses, 1):
        rows.append({"iteration": i, "epoch": 1 + (i - 1) // 10, "training_accuracy": 50.0 + i % 7,
                     "training_loss": float(loss), "validation_accuracy": float("nan"),
                     "validation_loss": float(loss) if i % 10 == 0 else float("nan")})
    return rows


def test_training_progress_loss_axis_is_not_flattened_by_an_early_spike(tmp_path):
    from leuknet import figures

    rng = np.random.default_rng(0)
    losses = np.concatenate([[50.0, 12.0], 0.5 + 0.1 * rng.standard_normal(78)])
    fig, axes = figures.subplots(2, 1, figsize=(9, 6.2), sharex=True)
    figures.draw_training_progress(axes, _history(losses))
    top = axes[1].get_ylim()[1]
    assert top < 12.0, top
    assert top >= np.percentile(losses[2:], 95), top
    notes = [t.get_text() for t in axes[1].texts]
    assert any("above the axis" in n and "50" in n for n in notes), notes
    # a history without a spike keeps the ordinary autoscaled axis and no note
    fig, axes = figures.subplots(2, 1, figsize=(9, 6.2), sharex=True)
    figures.draw_training_progress(axes, _history(losses[2:]))
    assert axes[1].get_ylim()[1] >= losses[2:].max() and not axes[1].texts
    assert Path(figures.training_progress(_history(losses), tmp_path / "p.png")).read_bytes()[:4] == b"\x89PNG"


def test_gradcam_png_shows_class_probability_and_colour_bar(tmp_path, tiny_model_file, monkeypatch):
    from leuknet import explain

    rng = np.random.default_rng(1)
    cells = tmp_path / "cells"
    write_image(cells / "a.png", rng.integers(0, 255, (24, 30, 3)).astype(np.uint8))
    drawn = []
    real = explain.gradcam_figure

    def keep(*a, **k):
        fig = real(*a, **k)
        drawn.append(fig)
        return fig

    monkeypatch.setattr(explain, "gradcam_figure", keep)
    rows = explain.explain_files(tiny_model_file, [cells], tmp_path / "cam")
    assert len(rows) == 1 and len(drawn) == 1
    png = Path(rows[0]["heatmap"])
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    fig = drawn[0]
    colorbars = [a for a in fig.axes if a.get_label() == "<colorbar>"]
    assert len(colorbars) == 1
    titles = " ".join([fig._suptitle.get_text() if fig._suptitle else ""] + [a.get_title() for a in fig.axes])
    assert rows[0]["class"] in titles, titles
    shown = re.findall(r"\d\.\d{2,}", titles)
    assert shown and any(abs(float(v) - rows[0]["probability"]) < 0.01 for v in shown), (titles, rows[0])
    # the cell is shown undistorted: square pixels (image axes keep aspect 1)
    images = [a for a in fig.axes if a.images and a.get_label() != "<colorbar>"]
    assert len(images) == 2 and all(a.get_aspect() == 1.0 for a in images)


def test_gradcam_skips_unreadable_files_and_writes_nothing_on_a_mistake(tmp_path, tiny_model_file, monkeypatch):
    """An unreadable file among the inputs is skipped with its reason, the rest explained; a layer the model
    lacks (the error names those it could take) or inputs none of which can be read: one error, no folder."""
    from leuknet import explain
    from leuknet.errors import ConfigError, DataError

    rng = np.random.default_rng(1)
    cells = tmp_path / "cells"
    write_image(cells / "a.png", rng.integers(0, 255, (24, 30, 3)).astype(np.uint8))
    (cells / "b.png").write_bytes(b"")
    events = []
    rows = explain.explain_files(tiny_model_file, [cells], tmp_path / "cam",
                                 progress=lambda e, p: events.append((e, p)))
    assert [Path(r["file"]).name for r in rows] == ["a.png"]
    assert events[0] == ("files", 2) and ("skipped", (str(cells / "b.png"), "empty file (0 bytes)")) in events
    with pytest.raises(ConfigError, match=r"no layer 'conv_9'; its layers with a spatial output: \w+"):
        explain.explain_files(tiny_model_file, [cells], tmp_path / "cam2", layer_name="conv_9")
    with pytest.raises(DataError, match="none of the 1 image files could be read"):
        explain.explain_files(tiny_model_file, [cells / "b.png"], tmp_path / "cam3")
    assert not (tmp_path / "cam2").exists() and not (tmp_path / "cam3").exists()
    # a file that cannot be opened (permissions: simulated, as root opens any file) is skipped as unreadable
    import leuknet.data.pipeline as pipeline

    def blocked(path, *a, **k):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(pipeline, "read_image", blocked)
    with pytest.raises(DataError, match="none of the 2 image files could be read"):
        explain.explain_files(tiny_model_file, [cells], tmp_path / "cam4")
    assert not (tmp_path / "cam4").exists()


def test_predict_lists_unreadable_files_and_refuses_when_none_can_be_read(tmp_path, tiny_model_file):
    from conftest import run_cli

    rng = np.random.default_rng(2)
    cells = tmp_path / "cells"
    write_image(cells / "a.png", rng.integers(0, 255, (24, 30, 3)).astype(np.uint8))
    (cells / "b.png").write_bytes(b"")
    code, output = run_cli(["predict", "--model-file", tiny_model_file, cells, "--out", tmp_path / "p.csv",
                            "--device", "cpu"])
    assert code == 0, output
    assert "Skipped 1 unreadable file (listed with the reasons in" in output and "b.png: empty file" in output
    assert len((tmp_path / "p.csv").read_text().splitlines()) == 2
    assert (tmp_path / "p.skipped.csv").read_text().splitlines() == ["file,reason",
                                                                      f"{cells / 'b.png'},empty file (0 bytes)"]
    code, output = run_cli(["predict", "--model-file", tiny_model_file, cells / "b.png", "--out",
                            tmp_path / "q.csv", "--device", "cpu"])
    assert code == 2 and "none of the 1 image files could be read" in output, output
    assert not (tmp_path / "q.csv").exists() and not (tmp_path / "q.skipped.csv").exists()


@pytest.mark.parametrize("package", ["onnx", "onnxruntime"])
def test_weights_import_without_onnx_says_what_to_install(tmp_path, monkeypatch, package):
    """Before: 'internal error: No module named onnx' (import_onnx imported onnx ahead of the guarded read)."""
    import sys

    from leuknet.errors import ConfigError
    from leuknet.weights import onnx_import

    monkeypatch.setitem(sys.modules, package, None)
    f = tmp_path / "alexnet.onnx"
    f.write_bytes(b"not read")
    with pytest.raises(ConfigError) as e:
        if package == "onnx":
            onnx_import.import_onnx(f)
        else:
            onnx_import.verify(f, None, "rgb")
    assert f"need the {package} package" in str(e.value) and "pip install" in str(e.value)


def test_one_epoch_is_singular_in_the_training_header():
    """Before: 'Training on 14 images, 3 iterations per epoch, 1 epochs'."""
    import io

    from rich.console import Console

    from leuknet.console import TrainingProgress, plural

    assert (plural(1, "epoch"), plural(2, "epoch"), plural(0, "file")) == ("1 epoch", "2 epochs", "0 files")
    buf = io.StringIO()
    tp = TrainingProgress(Console(file=buf, width=200), verbose=True)
    tp("start", {"n_train": 14, "iterations_per_epoch": 3, "epochs": 1, "total_iterations": 3})
    tp.progress.stop()
    assert "3 iterations per epoch, 1 epoch (3 iterations)." in buf.getvalue()
    # a MiniBatchSize above the training set: MATLAB trains one mini-batch of all of it; the CLI says so
    buf = io.StringIO()
    tp = TrainingProgress(Console(file=buf, width=200), verbose=True)
    tp("start", {"n_train": 6, "iterations_per_epoch": 1, "epochs": 2, "total_iterations": 2,
                 "mini_batch_size": 6, "requested_mini_batch_size": 128})
    tp.progress.stop()
    text = buf.getvalue()
    assert "1 iteration per epoch, 2 epochs (2 iterations)." in text
    assert "Batch size 128 is more than the 6 training images: each mini-batch holds 6 of them" in text


def test_a_border_crop_larger_than_the_images_says_so_before_training(tmp_path):
    """vgg16's recipe (cnmc-oliveira) crops 100 pixels from every border of C-NMC's 450 x 450 cells: on small
    images nothing is left, and the error says that (not just 'no readable images')."""
    from conftest import blob_image, run_cli

    rng = np.random.default_rng(0)
    for c, cls in enumerate(("blast", "normal")):
        for i in range(3):
            write_image(tmp_path / "cells" / cls / f"{i}.png", blob_image(c, rng, 48))
    code, text = run_cli(["train", "--data", tmp_path / "cells", "--model", "vgg16", "--image-size", "32",
                          "--device", "cpu", "--out", tmp_path / "run"])
    assert code == 2 and "is a 48 x 48 image" in text and "--crop 100 (the recipe cnmc-oliveira's" in text, text
    assert not (tmp_path / "run").exists()
    assert "skipped.csv" not in text  # no run, so no list of skipped files to point at


def test_a_ctrl_c_while_the_run_folder_is_being_made_leaves_nothing(tmp_path, monkeypatch):
    """A Ctrl-C that lands just after <out>.partial is made (while run_config.json is written: the moment
    test_ctrl_c_before_the_first_checkpoint_leaves_nothing_and_says_so signals at, hit now and then on a busy
    machine) leaves no .partial behind."""
    from types import SimpleNamespace

    import leuknet.io
    from leuknet import run

    def pressed(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(leuknet.io, "write_json", pressed)
    where = run.RunDirectory(tmp_path / "run", run.partial_dir(tmp_path / "run"))
    cfg = SimpleNamespace(resume=False, to_dict=lambda: {})
    with pytest.raises(KeyboardInterrupt):
        run.fit(cfg, where, trainer=None, data=None, cb=None)
    assert not where.partial.exists() and not where.final.exists()


SWALLOWED_CTRL_C = """
import gc, os, signal, sys
import numpy as np
from leuknet import models
from leuknet.data.pipeline import ImageData
from leuknet.spec.options import TrainingOptions
from leuknet.train import Trainer

def swallow_a_ctrl_c(phase, info):  # Ctrl-C landing in a garbage-collection callback (as JAX registers one)
    if phase == "start":
        gc.callbacks.remove(swallow_a_ctrl_c)
        os.kill(os.getpid(), signal.SIGINT)
        for _ in range(100000):  # Python runs the handler here: its KeyboardInterrupt is printed and dropped
            pass

def callback(event, payload):
    if event == "iteration" and payload["Iteration"] == 2:
        gc.callbacks.append(swallow_a_ctrl_c)
        gc.collect()
        print("still running after the swallowed Ctrl-C", flush=True)

rng = np.random.default_rng(0)
data = ImageData(np.array([0, 1] * 8), (32, 32), images=rng.integers(0, 256, (16, 32, 32, 3)).astype(np.uint8))
trainer = Trainer(models.build("leuknet", image_size=32, fc_units=8),
                  TrainingOptions(SolverName="adam", MiniBatchSize=4, MaxEpochs=5, Verbose=False))
try:
    info = trainer.fit(data, callback=callback)
except KeyboardInterrupt:
    print("KeyboardInterrupt after the swallowed Ctrl-C", flush=True)
    sys.exit(130)
print("finished", len(info.rows), "iterations")
"""


def test_a_ctrl_c_landing_in_a_registered_gc_callback_is_kept_for_the_next_safe_point():
    """JAX's _xla_gc_callback stays in gc.callbacks: a Ctrl-C landing there is remembered without raising (Python
    would print 'Exception ignored in ...' on stderr and drop it) and raised by the next interrupts.check()."""
    import gc
    import signal
    import sys

    from leuknet import interrupts

    def callback(phase, info):  # a registered callback: the signal handler runs in its frame
        interrupts._handler(signal.SIGINT, sys._getframe())

    gc.callbacks.append(callback)
    try:
        callback("start", {})  # no KeyboardInterrupt here
    finally:
        gc.callbacks.remove(callback)
    with pytest.raises(KeyboardInterrupt):
        interrupts.check()
    with pytest.raises(KeyboardInterrupt):  # anywhere else, it raises at once
        interrupts._handler(signal.SIGINT, sys._getframe())
    interrupts._pressed.clear()


def test_a_ctrl_c_swallowed_by_a_gc_callback_still_stops_training(tmp_path):
    """Python drops a KeyboardInterrupt raised inside a garbage-collection callback; training stops at the next
    iteration all the same (leuknet.interrupts), as `leuknet train` did not, one Ctrl-C in a few, with JAX
    installed."""
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-c", SWALLOWED_CTRL_C], capture_output=True, text=True, timeout=300,
                       env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    assert "still running after the swallowed Ctrl-C" in r.stdout, r.stdout + r.stderr[-2000:]
    assert "KeyboardInterrupt" in r.stderr  # Python's "Exception ignored in ..." report of the dropped one
    assert r.returncode == 130 and "KeyboardInterrupt after the swallowed Ctrl-C" in r.stdout, r.stdout


def test_matlab_difference_notes_point_at_the_scripts_line(tmp_path, monkeypatch):
    """A note raised deep in training (below Keras's frames: the training-progress plot's) names the script's
    trainNetwork line, as a warning of MATLAB's own would, not a line of leuknet."""
    import warnings

    import leuknet.matlab as m
    from leuknet.spec import conventions

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(conventions, "_NOTED", set())
    x = np.random.default_rng(0).integers(0, 255, (8, 8, 3, 4)).astype(np.uint8)
    layers = [m.imageInputLayer([8, 8, 3]), m.convolution2dLayer(3, 2), m.reluLayer(), m.fullyConnectedLayer(2),
              m.softmaxLayer(), m.classificationLayer()]
    opts = m.trainingOptions("sgdm", "MaxEpochs", 1, "Verbose", False, "Plots", "training-progress")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        line = sys._getframe().f_lineno + 1
        m.trainNetwork(x, m.categorical(["a", "b", "a", "b"]), layers, opts)
    notes = [w for w in caught if issubclass(w.category, conventions.MatlabDifference)]
    assert notes and all((w.filename, w.lineno) == (__file__, line) for w in notes), \
        [(w.filename, w.lineno, str(w.message)[:60]) for w in notes]
