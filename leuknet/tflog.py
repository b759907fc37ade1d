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


_SCRIPT_FILTER = _FirstTracesOfNewNetworks()


def drop_false_retracing_warnings():
    """For good, in a ported MATLAB script's process (``import leuknet.matlab``): a script that builds, trains or
    classifies with several networks (a loop over pretrained networks, one network per fold) traces each network's
    functions once (leuknet keeps one traced prediction function per network), which TensorFlow's detector reports
    as retracing of one function from the fifth network on. Idempotent; imports nothing."""
    logger = logging.getLogger("tensorflow")
    if _SCRIPT_FILTER not in logger.filters:
        logger.addFilter(_SCRIPT_FILTER)


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
