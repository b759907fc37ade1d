"""MATLAB's global random stream and ``rng``: the core's :mod:`leuknet.spec.randstream`, under the skin's name."""

from leuknet.spec.randstream import (__all__, draw_seed, generator, rand, randi, randn, randperm, rng,  # noqa: F401
                                     stream_for)
