"""A/B scaffolding shared by scripts/ab_*.py (not part of the package): another build of the native kernels loaded
beside this checkout's, and prediction graphs that record the fused pooling's maxima."""

import contextlib
from pathlib import Path

from leuknet import layers, ops


def load_renamed(sources, prefix: str, folder, flags=None):
    """Build kernel sources (``sources``: the text of one file, or a list of texts: another revision's
    :file:`cross_channel_norm.cc`, say) with their ops renamed from ``Leuknet...`` to ``<prefix>...`` into
    ``folder`` and load the library beside the one in use (TensorFlow registers an op name once per process).
    ``flags``: compiler flags in place of this CPU's (e.g. ``["-march=x86-64-v3"]``, no AVX-512)."""
    import tensorflow as tf

    cxx = ops._compiler()
    if cxx is None:
        raise ops.NativeOpsError("no C++ compiler found (set CXX, or install g++)")
    folder = Path(folder)
    files = []
    for i, text in enumerate([sources] if isinstance(sources, str) else sources):
        files.append(folder / f"{prefix}{i}.cc")
        files[-1].write_text(text.replace('"Leuknet', f'"{prefix}'))  # the op names in REGISTER_OP and Name
    out = folder / f"{prefix}.so"
    ops._build(cxx, out, files, [list(flags)] if flags is not None else ops.NATIVE_ATTEMPTS)
    return tf.load_op_library(str(out))


@contextlib.contextmanager
def pooling_records_maxima():
    """Graphs traced inside record the fused pooling's maxima as training graphs do, also with training=False
    (dropout and batch normalisation still predicting): the prediction graphs before 2026-11-22."""
    call = layers.MaxPooling2D.call
    layers.MaxPooling2D.call = lambda self, inputs, training=None: call(self, inputs, training=True)
    try:
        yield
    finally:
        layers.MaxPooling2D.call = call
