"""MATLAB's global random stream and ``rng``, for the skin's random choices.

In MATLAB, ``splitEachLabel(..., 'randomized')``, ``shuffle(imds)``, ``augment`` and ``trainNetwork``'s weight
initialisation, shuffling and dropout all draw from one global stream that every session starts at the same seed
(``rng default``: seed 0), so a script gives the same numbers every time it runs, while two calls in one script
differ (two ``'randomized'`` splits are two different splits), and ``rng(seed)`` starts the stream again
(https://www.mathworks.com/help/matlab/ref/rng.html). leuknet keeps all three properties with a NumPy stream:
the numbers differ from MATLAB's (its Mersenne Twister sequence and how each function consumes it cannot be
reproduced) but the behaviour is the same. A function's ``Seed=``/``seed=`` (leuknet's addition) draws from a
stream of its own instead and leaves the global one as it was.
"""

from __future__ import annotations

import contextlib
import threading
import time

import numpy as np

from leuknet.errors import ConfigError

__all__ = ["rng", "randperm", "rand", "randn", "randi"]

_state = {"seed": 0, "generator": np.random.default_rng(0)}
_local = threading.local()  # a thread's own stream while it reads a transformed datastore (global_stream)


class RngSettings(dict):
    """What ``s = rng()`` returns: ``Type``, ``Seed`` and ``State`` as keys and attributes, printed as MATLAB
    prints its struct (the state summarised)."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(f"rng settings have no field {name!r}; fields: Type, Seed, State") from None

    def __repr__(self):
        return (f"  struct with fields:\n\n     Type: '{self['Type']}'\n     Seed: {self['Seed']}\n"
                "    State: [NumPy PCG64 state]")

    __str__ = __repr__


def _seed(fn, s):
    if isinstance(s, (bool, np.bool_)) or not isinstance(s, (int, float, np.integer, np.floating)) \
            or s != int(s) or not 0 <= s < 2**32:
        raise ConfigError(f"{fn}: the seed must be an integer in [0, 2^32), 'default' or 'shuffle', received {s!r}")
    return int(s)


def rng(*args):
    """``rng(seed)``, ``rng(seed, generator)``, ``rng('default')`` (seed 0, how every session starts),
    ``rng('shuffle')`` (a seed from the clock), ``s = rng()`` (the current settings: a dict with ``Type``,
    ``Seed`` and ``State``) and ``rng(s)`` (restores them). The generator name is accepted and NumPy's PCG64 used.
    Returns the settings before the call, as MATLAB's ``s = rng(...)`` does."""
    fn = "rng"
    before = RngSettings(Type="pcg64", Seed=_state["seed"], State=_state["generator"].bit_generator.state)
    if not args:
        return before
    if len(args) > 2:
        raise ConfigError(f"rng: at most a seed and a generator name, received {len(args)} arguments")
    s = args[0]
    if isinstance(s, dict) and "State" in s:
        g = np.random.default_rng()
        g.bit_generator.state = s["State"]
        _state.update(seed=s.get("Seed", 0), generator=g)
        return before
    if isinstance(s, str):
        key = s.lower()
        if key == "default":
            s = 0
        elif key == "shuffle":
            s = time.time_ns() % 2**32
        else:
            raise ConfigError(f"rng: expected a seed, 'default', 'shuffle' or settings from rng(), received {s!r}")
    if len(args) == 2 and not isinstance(args[1], str):
        raise ConfigError(f"rng: the generator must be a name such as 'twister', received {args[1]!r}")
    seed = _seed(fn, s)
    _state.update(seed=seed, generator=np.random.default_rng(seed))
    return before


def generator() -> np.random.Generator:
    """The global stream itself (``augment`` draws its transforms from it), or this thread's stream inside
    :func:`global_stream`."""
    return getattr(_local, "generator", None) or _state["generator"]


@contextlib.contextmanager
def global_stream(g: np.random.Generator):
    """The global stream replaced by ``g`` in this thread for the duration (one read of a transformed datastore
    whose function draws from it, reproducible however reads are scheduled; other threads keep the global one)."""
    before = getattr(_local, "generator", None)
    _local.generator = g
    try:
        yield g
    finally:
        _local.generator = before


def draw_seed() -> int:
    """A seed drawn from the global stream, for a function that seeds a stream of its own from it (a split, a
    training run, an augmented datastore's reads)."""
    return int(generator().integers(0, 2**31 - 1))


def stream_for(seed) -> np.random.Generator:
    """``seed`` given (leuknet's ``Seed=``): a stream of its own; None: the global stream."""
    return generator() if seed is None else np.random.default_rng(seed)


def randperm(n, k=None):
    """MATLAB's ``p = randperm(n)`` and ``randperm(n, k)``, drawn from the global stream: a random permutation of
    the integers below ``n`` (k of them, without repetition), **0-based** as every index of a port is (MATLAB's are
    1 to n), so ``imds.Files[p[i]]`` ports ``imds.Files{p(i)}``. https://www.mathworks.com/help/matlab/ref/randperm.html"""
    for name, v in (("n", n), ("k", k)):
        if v is not None and (isinstance(v, (bool, np.bool_)) or not float(v).is_integer() or v < 0):
            raise ConfigError(f"randperm: {name} must be a non-negative integer, received {v!r}")
    n = int(n)
    k = n if k is None else int(k)
    if k > n:
        raise ConfigError(f"randperm: k ({k}) must not exceed n ({n})")
    return generator().permutation(n)[:k]


def _dims(fn, args):
    """MATLAB's size arguments: () a scalar, (n) n x n, (m, n, ...) or ([m n ...])."""
    if not args:
        return ()
    dims = list(np.ravel(args[0])) if len(args) == 1 and np.ndim(args[0]) > 0 else list(args)
    for v in dims:
        if isinstance(v, (bool, np.bool_, str)) or not float(v).is_integer() or v < 0:
            raise ConfigError(f"{fn}: sizes must be non-negative integers, received {np.ravel(args).tolist()}")
    dims = [int(v) for v in dims]
    return (dims[0], dims[0]) if len(dims) == 1 and not (len(args) == 1 and np.ndim(args[0]) > 0) else tuple(dims)


def rand(*args):
    """MATLAB's ``rand``, ``rand(n)``, ``rand(m, n, ...)``, ``rand([m n])``: uniform numbers in (0, 1) from the
    global stream (a float for no size). https://www.mathworks.com/help/matlab/ref/rand.html"""
    dims = _dims("rand", args)
    return float(generator().random()) if not dims else generator().random(dims)


def randn(*args):
    """MATLAB's ``randn``: standard normal numbers from the global stream (sizes as ``rand``)."""
    dims = _dims("randn", args)
    return float(generator().standard_normal()) if not dims else generator().standard_normal(dims)


def randi(imax, *args):
    """MATLAB's ``randi(imax)`` (integers 1..imax), ``randi([imin imax], ...)``, with sizes as ``rand``: from the
    global stream. https://www.mathworks.com/help/matlab/ref/randi.html"""
    lim = np.ravel(imax)
    if lim.size not in (1, 2) or not all(float(v).is_integer() for v in lim):
        raise ConfigError(f"randi: imax must be an integer or [imin imax], received {lim.tolist()}")
    lo, hi = (1, int(lim[0])) if lim.size == 1 else (int(lim[0]), int(lim[1]))
    if hi < lo:
        raise ConfigError(f"randi: the range [{lo} {hi}] is empty")
    dims = _dims("randi", args)
    out = generator().integers(lo, hi + 1, size=dims or None)
    return int(out) if not dims else out
