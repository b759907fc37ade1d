"""Atomic file writing: a reader never sees a half-written file (write to a temporary file, then rename)."""

from __future__ import annotations

import csv
import io
import json
import math
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path

import numpy as np


def _default(o):
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return None if not np.isfinite(o) else float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    if isinstance(o, (set, tuple)):
        return list(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def _clean(o):
    if isinstance(o, float) and not math.isfinite(o):
        return None
    if isinstance(o, dict):
        return {k: _clean(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_clean(v) for v in o]
    return o


@contextmanager
def atomic_path(path):
    """Yield a temporary path beside ``path``; rename it onto ``path`` when the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}-", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    try:
        yield Path(tmp)
        if os.path.exists(tmp):
            os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_text(path, text: str):
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding="utf-8", newline="") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())


def write_json(path, obj):
    write_text(path, json.dumps(_clean(obj), indent=2, default=_default) + "\n")


def write_csv(path, header, rows):
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    for r in rows:
        w.writerow(["" if (isinstance(v, float) and math.isnan(v)) else v for v in r])
    write_text(path, buf.getvalue())


def save_model(model, path):
    with atomic_path(path) as tmp:
        os.unlink(tmp)
        model.save(tmp)


def load_model(path):
    """Load a saved leuknet model (Keras safe mode). A missing path, a folder, an unreadable file and a file that
    is not a Keras model are each one-line :class:`~leuknet.errors.ModelFileError` saying which, and why."""
    import keras

    from leuknet import layers  # noqa: F401  (registers the custom layers)
    from leuknet.errors import ModelFileError

    p = check_model_file(path)
    try:
        return keras.models.load_model(p, safe_mode=True, compile=False)
    except Exception as e:  # noqa: BLE001
        first = (str(e).strip().splitlines() or [type(e).__name__])[0][:200]
        raise ModelFileError(f"cannot load model {p}: not a readable Keras model ({first})") from None


def check_model_file(path) -> Path:
    """``path`` as a Path, or a one-line :class:`~leuknet.errors.ModelFileError` where it cannot be a saved model
    (missing, a folder, not a zip archive): what :func:`load_model` checks first, without importing Keras (the CLI
    checks it before the backend starts)."""
    from leuknet.errors import ModelFileError

    p = Path(path)
    reason = _model_file_problem(p)
    if reason:
        raise ModelFileError(reason)
    return p


def _model_file_problem(p: Path) -> str:
    """Why ``p`` cannot be a saved Keras model, found before Keras reads it ('' when it may be one). Keras itself
    calls a .keras file that is not a zip archive 'File not found'."""
    import zipfile

    if not p.exists():
        return f"model file {p} does not exist"
    if p.is_dir():
        inside = p / "model.keras"
        return (f"cannot load model {p}: it is a directory, not a model file"
                + (f"; the model in it is {inside}" if inside.is_file() else ""))
    try:
        with open(p, "rb") as f:
            head = f.read(4)
    except OSError as e:
        return f"cannot load model {p}: the file cannot be opened: {e.strerror or e}"
    if p.suffix.lower() != ".keras":
        return ""  # legacy .h5 and other formats: Keras's own message
    if not head:
        return f"cannot load model {p}: not a readable Keras model (empty file, 0 bytes)"
    if not zipfile.is_zipfile(p):
        return (f"cannot load model {p}: not a readable Keras model (not a zip archive, as .keras files are; "
                f"{p.stat().st_size} bytes: truncated, or another kind of file)")
    try:
        with zipfile.ZipFile(p) as z:
            names = set(z.namelist())
    except (zipfile.BadZipFile, OSError, EOFError) as e:
        return f"cannot load model {p}: not a readable Keras model (damaged zip archive: {e})"
    if "config.json" not in names:
        return f"cannot load model {p}: not a readable Keras model (a zip archive without the config.json of one)"
    return ""
