"""MATLAB's ``save`` and ``load`` of MAT-files, as training scripts keep their results:

    save("trainedNet.mat", "net", "accuracy")      # MATLAB: save('trainedNet.mat', 'net', 'accuracy')
    S = load("trainedNet.mat")                     # MATLAB: S = load('trainedNet.mat');
    net = S.net                                    #         net = S.net;

Sources: https://www.mathworks.com/help/matlab/ref/save.html and https://www.mathworks.com/help/matlab/ref/load.html.
``save(filename, 'var1', 'var2', ...)`` writes the named variables of the calling code (a script's or a function's)
to a MAT-file (version 5, as SciPy's ``savemat`` writes it, readable by MATLAB and by ``scipy.io.loadmat``); a name
without an extension gets ``.mat``; ``'-append'`` adds to an existing file. ``S = load(filename)`` returns the
variables as a struct (fields as attributes and keys); ``load(filename, 'var1', ...)`` only those.

What MATLAB itself reads back: numbers, arrays, text and lists of text (cell arrays). leuknet's objects are kept
as structs that only leuknet turns back into objects: a network as its ``.keras`` file's bytes (a uint8 array in
a struct with the field ``leuknet_keras``), a categorical as its category names and 1-based codes (0 undefined),
as MATLAB's ``double(C)``, in a struct with the field ``leuknet_categories``, a layer array or a layer graph as
its layers' classes and properties (JSON text in the field ``leuknet_layers``), their arrays (weights, a struct
``arrays``) and, for a graph, its connections (JSON text in ``edges``).

Where leuknet differs: ``save`` without variable names (MATLAB's whole workspace) and ``load`` without an output
(variables created in the workspace) cannot be written in Python: name the variables, and take them from the
struct (``net = load('net.mat').net``). Version 7.3 (HDF5) MAT-files, MATLAB objects (a MATLAB network, a MATLAB
categorical) and tables are refused with a message.
"""

from __future__ import annotations

import os
import sys
import tempfile

import numpy as np

from leuknet.errors import ConfigError, DataError
from leuknet.io import atomic_path
from leuknet.matlab.conventions import Struct

__all__ = ["save", "load"]


def _mat_path(fn, filename):
    if not isinstance(filename, (str, os.PathLike)):
        raise ConfigError(f"{fn}: expected a file name, received {type(filename).__name__}")
    path = os.fspath(filename)
    return path if os.path.splitext(path)[1] else path + ".mat"


# --------------------------------------------------------------------------------------------- layers

def _layer_fields(layer, arrays):
    """A layer's properties as JSON values, its arrays (weights) kept aside in ``arrays`` under their index."""
    import dataclasses

    from leuknet.matlab.datastore import Categorical

    out = {}
    for f in dataclasses.fields(layer):
        v = getattr(layer, f.name)
        if isinstance(v, Categorical):
            v = {"categorical": list(v.categories)}
        elif isinstance(v, np.ndarray) or (isinstance(v, np.generic) and not isinstance(v, (np.bool_, np.number))):
            arrays[f"a{len(arrays)}"] = np.asarray(v)
            v = {"array": len(arrays) - 1}
        elif isinstance(v, np.generic):
            v = v.item()
        out[f.name] = v
    return out


def _layers_to_mat(name, layers, edges=None):
    """A layer array or a layer graph as a marked struct: the layers' classes and properties as JSON text, their
    arrays as variables (MATLAB reads the numbers; only leuknet rebuilds the layers)."""
    import json

    arrays = {}
    specs = [{"class": type(l).__name__, "properties": _layer_fields(l, arrays)} for l in layers]
    try:
        text = json.dumps(specs)
    except TypeError as e:
        raise ConfigError(f"save: a layer of {name!r} holds a value a MAT-file cannot: {e}") from None
    out = {"leuknet_layers": text, "arrays": arrays or np.zeros((0, 0)), "class": "LayerArray"}
    if edges is not None:
        out.update({"class": "LayerGraph", "edges": json.dumps([list(e) for e in edges])})
    return out


def _layers_from_mat(value):
    import dataclasses
    import json

    import leuknet.spec.layers as ml
    from leuknet.matlab.datastore import Categorical
    from leuknet.spec.graph import LayerGraph

    arrays = value.get("arrays")
    arrays = arrays if isinstance(arrays, dict) else {}
    layers = []
    for spec in json.loads(str(value["leuknet_layers"])):
        cls = getattr(ml, spec["class"], None)
        if not (isinstance(cls, type) and issubclass(cls, ml.Layer)):
            raise DataError(f"load: unknown layer class {spec['class']!r} in a saved layer array")
        defaults = {f.name: f.default for f in dataclasses.fields(cls)}
        props = {}
        for k, v in spec["properties"].items():
            if isinstance(v, dict) and "array" in v:
                v = np.asarray(arrays[f"a{v['array']}"])
            elif isinstance(v, dict) and "categorical" in v:
                v = Categorical(categories=list(v["categorical"]), codes=np.arange(len(v["categorical"]),
                                                                                     dtype=np.int32))
            elif isinstance(v, list) and isinstance(defaults.get(k), tuple):
                v = tuple(v)
            props[k] = v
        layers.append(cls(**props))
    if value.get("class") == "LayerGraph":
        return LayerGraph(layers, [tuple(e) for e in json.loads(str(value["edges"]))])
    return ml.LayerArray(layers)


# --------------------------------------------------------------------------------------------- to MAT values

def _to_mat(name, value):
    """A variable as SciPy writes it to a MAT-file (leuknet's objects as marked structs)."""
    from leuknet.matlab.datastore import Categorical
    from leuknet.matlab.network import Network

    if isinstance(value, Network):
        with tempfile.TemporaryDirectory(prefix="leuknet-save-") as d:
            path = value.save(os.path.join(d, "net.keras"))
            with open(path, "rb") as fh:
                data = np.frombuffer(fh.read(), np.uint8).copy()
        return {"leuknet_keras": data, "class": type(value).__name__}
    from leuknet.spec.graph import LayerGraph
    from leuknet.spec.layers import Layer

    if isinstance(value, LayerGraph):
        return _layers_to_mat(name, value._layers, value._edges)
    if isinstance(value, Layer) or (isinstance(value, (list, tuple)) and value and all(
            isinstance(v, Layer) or getattr(v, "matlab_layer_constructor", False) for v in value)):
        from leuknet.spec.conventions import flatten_layers  # a bare reluLayer in the list is its default layer

        return _layers_to_mat(name, flatten_layers("save", value))
    if isinstance(value, Categorical):
        return {"leuknet_categories": np.array(list(value.categories), dtype=object),
                "codes": (np.asarray(value.codes, np.int64) + 1).astype(np.float64)}
    if isinstance(value, (bool, int, float, complex, str, np.generic)):
        return value
    if isinstance(value, np.ndarray) and value.dtype != object:
        return value
    if isinstance(value, (list, tuple)):
        if all(isinstance(v, str) for v in value):
            return np.array(value, dtype=object)  # a cell array of text
        try:
            arr = np.asarray(value)
        except ValueError:
            arr = None
        if arr is not None and arr.dtype != object:
            return arr
        return np.array([_to_mat(name, v) for v in value] + [None], dtype=object)[:-1]
    if isinstance(value, dict):
        return {str(k): _to_mat(f"{name}.{k}", v) for k, v in value.items()}
    raise ConfigError(f"save: leuknet cannot write the variable {name!r} ({type(value).__name__}) to a MAT-file; "
                      "numbers, arrays, text, lists, dicts, categoricals, networks, layers and layer graphs can be "
                      "saved")


def _from_mat(value):
    """A variable read by SciPy (simplified cells) back to leuknet's objects."""
    from leuknet.matlab.datastore import Categorical

    if isinstance(value, dict):
        if "leuknet_keras" in value:
            from leuknet.matlab.network import loadNetwork

            with tempfile.TemporaryDirectory(prefix="leuknet-load-") as d:
                path = os.path.join(d, "net.keras")
                with open(path, "wb") as fh:
                    fh.write(np.asarray(value["leuknet_keras"], np.uint8).tobytes())
                return loadNetwork(path)
        if "leuknet_layers" in value:
            return _layers_from_mat(value)
        if "leuknet_categories" in value:
            cats = [str(c) for c in np.atleast_1d(value["leuknet_categories"])]
            codes = np.atleast_1d(np.asarray(value["codes"], np.float64)).astype(np.int64) - 1
            return Categorical(categories=cats, codes=codes.astype(np.int32))
        return Struct({k: _from_mat(v) for k, v in value.items()})
    if isinstance(value, list):
        return [_from_mat(v) for v in value]
    if isinstance(value, np.ndarray) and value.dtype == object and all(isinstance(v, str) for v in value.flat):
        return list(value.flat)  # a cell array of text
    return value


# --------------------------------------------------------------------------------------------- save / load

def save(filename, *names, **variables):
    """``save(filename, 'var1', 'var2', ...)`` (variables of the calling code, by name), ``save(filename,
    var1=value)``, ``'-append'``; see the module's docstring."""
    from scipy.io import loadmat, savemat

    fn = "save"
    path = _mat_path(fn, filename)
    append = "-append" in names
    names = [n for n in names if n != "-append"]
    for n in names:
        if not isinstance(n, str) or n.startswith("-"):
            raise ConfigError(f"save: expected variable names (text) after the file name, received {n!r}; "
                              "leuknet writes MAT-files version 5 only (no '-v7.3', '-ascii')")
    if not names and not variables:
        raise ConfigError("save: name the variables to save (save('file.mat', 'net')); leuknet cannot save a "
                          "Python program's whole workspace")
    caller = sys._getframe(1)
    scope = {**caller.f_globals, **caller.f_locals}
    missing = [n for n in names if n not in scope]
    if missing:
        raise ConfigError(f"save: no variable named {', '.join(map(repr, missing))} where save was called")
    values = {n: scope[n] for n in names}
    values.update(variables)
    content = {n: _to_mat(n, v) for n, v in values.items()}
    if append and os.path.exists(path):
        old = {k: v for k, v in loadmat(path).items() if not k.startswith("__")}
        content = {**old, **content}
    with atomic_path(path) as tmp:  # a reader never sees half a file
        savemat(tmp, content, do_compression=True, oned_as="row")
    return path


def load(filename, *names):
    """``S = load(filename)`` or ``S = load(filename, 'var1', ...)``: the variables as a :class:`Struct`."""
    from scipy.io import loadmat
    from scipy.io.matlab import MatlabOpaque, MatReadError

    fn = "load"
    path = _mat_path(fn, filename)
    if not os.path.isfile(path):
        raise DataError(f"load: cannot find the file {path!r}")
    try:
        raw = loadmat(path, squeeze_me=True, simplify_cells=True, variable_names=list(names) or None)
    except NotImplementedError:
        raise DataError(f"load: {path!r} is a version 7.3 (HDF5) MAT-file; leuknet reads versions 4 to 7 (save it "
                        "in MATLAB with '-v7')") from None
    except (MatReadError, ValueError) as e:
        raise DataError(f"load: {path!r} is not a MAT-file leuknet can read ({str(e).splitlines()[0]})") from None
    out = Struct({k: _from_mat(v) for k, v in raw.items() if not k.startswith("__")})
    missing = [n for n in names if n not in out]
    if missing:
        raise DataError(f"load: {path!r} has no variable {', '.join(map(repr, missing))}; it has "
                        f"{', '.join(out) or 'none'}")
    for k, v in out.items():
        if isinstance(v, MatlabOpaque):
            raise DataError(f"load: the variable {k!r} is a MATLAB object (a MATLAB network, categorical or "
                            "table), which only MATLAB reads; save its numbers or text instead")
    return out
