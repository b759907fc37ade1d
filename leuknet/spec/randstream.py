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
import time

import numpy as np

from leuknet.errors import ConfigError

__all__ = ["rng", "randperm"]

_state = {"seed": 0, "generator": np.random.default_rng(0)}


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
    """The global stream itself (``augment`` draws its transforms from it)."""
    return _state["generator"]


@contextlib.contextmanager
def global_stream(g: np.random.Generator):
    """The global stream replaced by ``g`` for the duration (one read of a transformed datastore whose function
    draws from it, made reproducible however reads are scheduled; the caller serialises such reads)."""
    before = _state["generator"]
    _state["generator"] = g
    try:
        yield g
    finally:
        _state["generator"] = before


def draw_seed() -> int:
    """A seed drawn from the global stream, for a function that seeds a stream of its own from it (a split, a
    training run, an augmented datastore's reads)."""
    return int(_state["generator"].integers(0, 2**31 - 1))


def stream_for(seed) -> np.random.Generator:
    """``seed`` given (leuknet's ``Seed=``): a stream of its own; None: the global stream."""
    return _state["generator"] if seed is None else np.random.default_rng(seed)


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
    return _state["generator"].permutation(n)[:k]
