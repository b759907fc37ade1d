import contextlib
import io
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "-1")

import signal  # noqa: E402

# A suite started in the background of a non-interactive shell (`pytest ... &`) inherits SIGINT ignored, and so
# would every leuknet process the Ctrl-C tests start (an ignored signal stays ignored across exec). Those tests
# press Ctrl-C as a user at a terminal does: give this process, and through it its children, SIGINT's default.
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

from pathlib import Path  # noqa: E402

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
import sys  # noqa: E402

sys.path.insert(0, str(ROOT / "parity"))  # independent references shared with the parity fixture generators
CNMC_MINI = ROOT.parent / "shared" / "data" / "c-nmc-mini"


@pytest.fixture
def cnmc_mini():
    if not CNMC_MINI.is_dir():
        pytest.skip("../shared/data/c-nmc-mini is absent")
    return CNMC_MINI


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("LEUKNET_CACHE", str(tmp_path_factory.getbasetemp() / "leuknet-cache"))


@pytest.fixture(autouse=True)
def _matlab_stream_at_its_start():
    """Every test starts MATLAB's global random stream where a session does (rng default): a test's draws do not
    depend on which tests ran before it in the same worker."""
    from leuknet.spec.randstream import rng

    rng("default")
    yield


@pytest.fixture(autouse=True)
def _no_figures_left_open():
    """pyplot figures a test made (MATLAB-style code draws into pyplot's current figure) are closed after it."""
    yield
    plt = sys.modules.get("matplotlib.pyplot")
    if plt is not None:
        plt.close("all")


def write_image(path, rgb, ext=None):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    img = np.asarray(rgb)
    if img.ndim == 3 and img.shape[2] == 3:
        img = cv2.cvtColor(img, cv2.COLOR_RGB2BGR)
    assert cv2.imwrite(str(path), img), path
    return path


def blob_image(label, rng, size=48):
    """Tiny separable images: class 0 a bright square on the left, class 1 on the right."""
    img = rng.integers(0, 40, (size, size, 3)).astype(np.uint8)
    x0 = 4 if label == 0 else size // 2 + 4
    img[size // 4 : size // 4 + size // 3, x0 : x0 + size // 3] = (200, 80, 160)
    return img


def folder_data(root, per_class=9) -> Path:
    """A folder-per-class data set (blast/, normal/) of ``per_class`` blob PNGs each; its resolved path, as
    leuknet.data.sources.discover names the files."""
    rng = np.random.default_rng(0)
    for c, cls in enumerate(("blast", "normal")):
        for i in range(per_class):
            write_image(Path(root) / cls / f"{cls}{i:02d}.png", blob_image(c, rng, 48))
    return Path(root).resolve()


def run_cli(argv):
    """leuknet.cli.main(argv) in this process: (exit status, output)."""
    from leuknet.cli import main

    buf = io.StringIO()
    code = 0
    with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(buf):
        try:
            main([str(a) for a in argv])
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    return code, buf.getvalue()


TENSORFLOW_ONLY = "needs the TensorFlow backend (native kernels / tf.data / tf.distribute)"


def pytest_collection_modifyitems(config, items):
    """The end-to-end tests (marked slow, minutes each) first, the quick ones after: with `-n 2` the two workers
    then take the long tests at the start and fill in with the short ones, instead of one worker finishing a
    long test alone at the end (longest first is the classic makespan heuristic). The order is stable, so every
    xdist worker collects the same list.

    Tests marked ``tensorflow_only`` are skipped under any other Keras backend (the suite runs a second time
    under ``KERAS_BACKEND=jax``; Keras fixes its backend when it is first imported, here by the test modules)."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)
    marked = [item for item in items if item.get_closest_marker("tensorflow_only") is not None]
    if marked:
        import keras

        if keras.backend.backend() != "tensorflow":
            skip = pytest.mark.skip(reason=TENSORFLOW_ONLY)
            for item in marked:
                item.add_marker(skip)
