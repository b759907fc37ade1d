"""MATLAB's calling conventions in Python, shared by the layer specs (:mod:`leuknet.spec`) and every function of
:mod:`leuknet.matlab`.

- Name-value options as keywords (``Stride=2``) or as positional pairs (``'Stride', 2``), mixed freely with
  positional values and flags (``splitEachLabel(imds, 0.7, 'randomized', 'Include', ...)``), the way MATLAB's
  ``inputParser`` reads them: option names case-insensitive (``'stride'``); flag and choice values
  case-insensitive and by unambiguous prefix (``'randomize'`` for ``'randomized'``).
- A function with several outputs returns its first output alone, the first N as a tuple with ``nargout=N``
  (the convention of MATLAB's Engine API for Python): :func:`outputs`.
- A layer constructor given bare (``reluLayer`` uncalled) wherever a layer is expected is its default layer, and
  a layer array may be nested (MATLAB's ``[a; b]`` flattens): :func:`flatten_layers`.

Every error is a :class:`~leuknet.errors.ConfigError` whose one line names the MATLAB function.
"""

from __future__ import annotations

import math

import numpy as np

from leuknet.errors import ConfigError


class Options(dict):
    """The parsed name-value options (canonical MATLAB names) with ``given`` naming those the caller set."""

    def __init__(self, values, given):
        super().__init__(values)
        self.given = frozenset(given)


def _canonical_name(fn, name, names):
    low = {n.lower(): n for n in names}
    key = str(name).lower()
    if key in low:
        return low[key]
    raise ConfigError(f"{fn}: unknown name-value option {name!r}; valid: {', '.join(sorted(names)) or 'none'}")


def _flag(value, flags):
    """The flag ``value`` names (case-insensitive, unambiguous prefix of at least 3 letters), or None."""
    if not isinstance(value, str) or not flags:
        return None
    v = value.lower()
    exact = [f for f in flags if f.lower() == v]
    if exact:
        return exact[0]
    hits = [f for f in flags if len(v) >= 3 and f.lower().startswith(v)]
    return hits[0] if len(hits) == 1 else None


def parse(fn, args=(), kwargs=None, options=None, flags=(), max_positional=None):
    """Read MATLAB-style trailing arguments.

    ``args``: the positional arguments after a function's required ones; ``kwargs``: its keywords; ``options``:
    {canonical name: default}; ``flags``: positional string flags (``'randomized'``). Returns
    ``(positional values, set of flags given, Options)``. A string in ``args`` is a flag if it names one,
    else the name of an option whose value follows; any other value is positional, and positional values after
    the first name-value pair are an error (as in MATLAB).
    """
    options = dict(options or {})
    kwargs = dict(kwargs or {})
    names = list(options)
    positional, given_flags, values, given = [], set(), dict(options), set()
    lower_names = {n.lower() for n in names}
    i, seen_pair = 0, False
    args = list(args)
    while i < len(args):
        a = args[i]
        if isinstance(a, str) and a.lower() in lower_names:
            name = _canonical_name(fn, a, names)
            if i + 1 >= len(args):
                raise ConfigError(f"{fn}: option {name!r} has no value (name-value arguments come in pairs)")
            if name in given:
                raise ConfigError(f"{fn}: option {name!r} given twice")
            values[name] = args[i + 1]
            given.add(name)
            seen_pair = True
            i += 2
            continue
        f = _flag(a, flags)
        if f is not None:
            given_flags.add(f)
        elif isinstance(a, str) or seen_pair or (max_positional is not None and len(positional) >= max_positional):
            if isinstance(a, str):  # a string after the required arguments names an option or a flag
                hint = f"; flags: {', '.join(flags)}" if flags else ""
                raise ConfigError(f"{fn}: unknown name-value option or flag {a!r}; valid options: "
                                  f"{', '.join(sorted(names)) or 'none'}{hint}")
            if seen_pair:
                raise ConfigError(f"{fn}: positional argument {a!r} after name-value arguments")
            raise ConfigError(f"{fn}: too many input arguments (at most {max_positional} before the options), "
                              f"received {a!r}")
        else:
            positional.append(a)
        i += 1
    for k, v in kwargs.items():
        name = _canonical_name(fn, k, names)
        if name in given:
            raise ConfigError(f"{fn}: option {name!r} given twice")
        values[name] = v
        given.add(name)
    return positional, given_flags, Options(values, given)


def options_only(fn, args=(), kwargs=None, options=None):
    """:func:`parse` for a function that takes only name-value options after its required arguments."""
    _, _, o = parse(fn, args, kwargs, options, max_positional=0)
    return o


def choice(fn, name, value, choices):
    """``value`` as one of ``choices``: case-insensitive, by unambiguous prefix (MATLAB's ``validatestring``)."""
    if not isinstance(value, str):
        raise ConfigError(f"{fn}: {name} must be one of {', '.join(map(repr, choices))}, received {value!r}")
    v = value.lower()
    exact = [c for c in choices if c.lower() == v]
    if exact:
        return exact[0]
    hits = [c for c in choices if v and c.lower().startswith(v)]
    if len(hits) == 1:
        return hits[0]
    raise ConfigError(f"{fn}: {name} must be one of {', '.join(map(repr, choices))}, received {value!r}")


def boolean(fn, name, value):
    """MATLAB's logical scalar: True/False, 1/0, 'true'/'false' (as ``'on'``/``'off'``)."""
    if isinstance(value, str):
        v = value.lower()
        if v in ("true", "on"):
            return True
        if v in ("false", "off"):
            return False
    elif isinstance(value, (bool, int)) or type(value).__name__ in ("bool_", "int64", "int32"):
        if value in (0, 1):
            return bool(value)
    raise ConfigError(f"{fn}: {name} must be true or false, received {value!r}")


def number(fn, name, value, *, integer=False, low=None, high=None, low_open=False, high_open=False,
           allow_inf=False):
    """A real scalar (``'Inf'``/``inf`` where ``allow_inf``), checked against its range."""
    if isinstance(value, str) and allow_inf and value.lower() in ("inf", "+inf"):
        value = math.inf
    try:
        v = float(value)
    except (TypeError, ValueError):
        v = math.nan
    ok = not math.isnan(v) and not isinstance(value, (bool, str))
    if ok and math.isinf(v):
        ok = allow_inf
    elif ok and integer:
        ok = float(v).is_integer()
    if ok and low is not None:
        ok = v > low if low_open else v >= low
    if ok and high is not None:
        ok = v < high if high_open else v <= high
    if not ok:
        what = "an integer" if integer else "a number"
        rng = ""
        if low is not None or high is not None:
            lo = "(" if low_open else "["
            hi = ")" if high_open else "]"
            rng = f" in {lo}{'-Inf' if low is None else f'{low:g}'}, {'Inf' if high is None else f'{high:g}'}{hi}"
        raise ConfigError(f"{fn}: {name} must be {what}{rng}{' or Inf' if allow_inf else ''}, received {value!r}")
    return int(v) if integer and math.isfinite(v) else v


def outputs(fn, values, nargout):
    """MATLAB's multiple outputs: the first alone (``nargout`` None or 1), else the first ``nargout`` as a
    tuple."""
    values = tuple(values)
    if nargout is None or nargout == 1:
        return values[0]
    if not isinstance(nargout, int) or isinstance(nargout, bool) or nargout < 0:
        raise ConfigError(f"{fn}: nargout must be a non-negative integer, received {nargout!r}")
    if nargout > len(values):
        raise ConfigError(f"{fn}: too many output arguments (nargout={nargout}; it has {len(values)})")
    return values[:nargout]


def layer_constructor(fn):
    """Mark ``fn`` as a layer constructor that may be given bare, uncalled, where a layer is expected."""
    fn.matlab_layer_constructor = True
    return fn


def flatten_layers(fn, layers):
    """A layer array as a flat list of layer objects: nested lists and tuples flatten (MATLAB's ``[a; b]``), a
    bare constructor (``reluLayer``) becomes its default layer; anything else is an error naming ``fn``."""
    out = []

    def walk(x):
        if getattr(type(x), "matlab_layer", False):  # leuknet.spec.layers.Layer and its subclasses
            out.append(x)
        elif getattr(x, "matlab_layer_constructor", False):
            out.append(x())
        elif isinstance(x, (list, tuple)):
            for v in x:
                walk(v)
        elif hasattr(x, "Layers") and not isinstance(x, type):
            walk(list(x.Layers))
        elif callable(x) and hasattr(x, "__wrapped__"):  # a network function passed uncalled: layerGraph(resnet50)
            name = x.__wrapped__.__name__
            raise ConfigError(f"{fn}: {name} is a function, not a network: MATLAB's {fn}({name}) calls it; in Python "
                              f"call it, {fn}({name}('Weights', PATH)) with its weights file")
        else:
            raise ConfigError(f"{fn}: expected a layer array, received {type(x).__name__} {x!r:.60}")

    walk(layers)
    return out


def as_vector(value):
    """``value`` as a flat float64 array, or None where it is not numbers (a string, a list of strings)."""
    if isinstance(value, str):
        return None
    try:
        return np.ravel(np.asarray(value, np.float64))
    except (TypeError, ValueError):
        return None


def shown(value):
    """A received value for a one-line message: a few numbers as a list, a large array by its shape."""
    return np.ravel(value).tolist() if np.size(value) < 20 else f"an array of shape {np.shape(value)}"


class Struct(dict):
    """A MATLAB struct: fields as keys and as attributes (``S.net``, ``info.Label``; ``info.Label = x`` sets one)."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(f"the struct has no field {name!r}; fields: {', '.join(self)}") from None

    def __setattr__(self, name, value):
        self[name] = value

    def __repr__(self):
        width = max((len(k) for k in self), default=0)
        rows = "\n".join(f"    {k.rjust(width)}: {_summary(v)}" for k, v in self.items())
        return f"  struct with fields:\n\n{rows}\n"


def _summary(v):
    """A field's value as MATLAB shows a struct's: small values themselves, larger arrays as their size."""
    if isinstance(v, (list, tuple)) and len(v) > 5:
        v = np.asarray(v, dtype=object if any(isinstance(x, str) for x in v) else None)
    if isinstance(v, np.ndarray):
        return f"[{'x'.join(map(str, v.shape))} {v.dtype}]" if v.size > 1 else repr(v.item() if v.size else v)
    return type(v).__name__ if hasattr(v, "Layers") else repr(v)


class MatlabDifference(UserWarning):
    """Where leuknet is more permissive than MATLAB (a script that runs here might not run in MATLAB)."""


_NOTED = set()


def script_stacklevel():
    """``warnings.warn``'s stacklevel, for a warning issued by this function's caller, that points at the line of the
    user's code that called into leuknet: the frame just outside the outermost leuknet frame (so a warning raised
    deep in training, below Keras's frames, still names the script's ``trainNetwork`` line)."""
    import os
    import sys

    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
    frames = []
    frame = sys._getframe(1)  # the caller, which calls warnings.warn: stacklevel 1
    while frame is not None:
        # normalised: leuknet imported through a path with '..' (a test's sys.path entry) names its files so
        frames.append(os.path.normpath(frame.f_code.co_filename).startswith(package))
        frame = frame.f_back
    inside = [i for i, ours in enumerate(frames) if ours]
    return inside[-1] + 2 if inside and inside[-1] + 1 < len(frames) else 2


def note(message):
    """Say once per process where leuknet does more than MATLAB would (a :class:`MatlabDifference` warning),
    pointing at the script's line."""
    import warnings

    if message not in _NOTED:
        _NOTED.add(message)
        warnings.warn(message, MatlabDifference, stacklevel=script_stacklevel())


__all__ = []
