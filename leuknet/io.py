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
    """Load a saved leuknet model (Keras safe mode), with a clear error for a missing or corrupt file."""
    import keras

    from leuknet import layers  # noqa: F401  (registers the custom layers)
    from leuknet.errors import ModelFileError

    p = Path(path)
    if not p.is_file():
        raise ModelFileError(f"model file {p} does not exist")
    try:
        return keras.models.load_model(p, safe_mode=True, compile=False)
    except Exception as e:  # noqa: BLE001
        raise ModelFileError(f"cannot load model {p}: {str(e).splitlines()[0][:200]}") from None
