"""TensorFlow's Python log kept to what a user can act on."""

from __future__ import annotations

import logging
from contextlib import contextmanager


class _FirstTracesOfNewNetworks(logging.Filter):
    """Drops TensorFlow's "N out of the last N calls to <function> triggered tf.function retracing" while cases
    run. Every case builds its own network (and trainer), and each of their tf.functions (the input layer's
    normalisation, the training step) is traced once: a test counts the traces. TensorFlow's detector counts
    traces per function *code*, which the functions of all those networks share, and so takes ~20 first traces
    of ~20 functions for one function traced again and again."""

    def filter(self, record):
        return "triggered tf.function retracing" not in record.getMessage()


@contextmanager
def no_false_retracing_warning():
    """While several networks are built and trained in one process (parity cases, studies)."""
    logger = logging.getLogger("tensorflow")
    f = _FirstTracesOfNewNetworks()
    logger.addFilter(f)
    try:
        yield
    finally:
        logger.removeFilter(f)
