"""On PYTHONPATH, this makes ``import tensorflow`` fail in every process started with it: the GPU machines of
issue 20 (JAX, no TensorFlow) imitated on a machine that has TensorFlow installed."""

import importlib.abc
import sys


class _NoTensorFlow(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "tensorflow" or name.startswith("tensorflow."):
            raise ModuleNotFoundError(f"No module named {name!r} (tests/no_tensorflow)", name=name)
        return None


sys.meta_path.insert(0, _NoTensorFlow())
