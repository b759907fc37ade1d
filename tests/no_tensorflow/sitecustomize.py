"""On PYTHONPATH, this makes TensorFlow invisible to every process started with it: the GPU machines of issue 20
(JAX, no TensorFlow) imitated on a machine that has TensorFlow installed. As where it is not installed, ``import
tensorflow`` raises ModuleNotFoundError and ``importlib.util.find_spec('tensorflow')`` answers None (libraries
such as PyTorch ask that way which others are installed; a finder that raised instead would break them)."""

import sys
from importlib.machinery import PathFinder


def _hidden(name):
    return name == "tensorflow" or name.startswith("tensorflow.")


class _PathFinderWithoutTensorFlow(PathFinder):
    """The standard path finder, which finds every package on sys.path but TensorFlow."""

    @classmethod
    def find_spec(cls, fullname, path=None, target=None):
        return None if _hidden(fullname) else super().find_spec(fullname, path, target)


sys.meta_path[:] = [_PathFinderWithoutTensorFlow if f is PathFinder else f for f in sys.meta_path]
