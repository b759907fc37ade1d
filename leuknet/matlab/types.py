"""MATLAB's ``isa(obj, className)`` and ``properties(obj)`` for the objects a ported script holds, with MATLAB's
class and property names.

https://www.mathworks.com/help/matlab/ref/isa.html: true when ``obj`` is of class ``className`` or of a subclass
of it; ``className`` may also be one of the categories ``'numeric'`` (any integer or floating-point type),
``'float'`` (``single``, ``double``) and ``'integer'``. A class name MATLAB does not know is false, not an error.
MathWorks' transfer-learning helper ``findLayersToReplace`` ports as written::

    if isa(le, 'nnet.cnn.layer.FullyConnectedLayer') or isa(le, 'nnet.cnn.layer.Convolution2DLayer'):

Python values map to MATLAB's classes the way MATLAB's Engine API for Python maps them: ``float`` and ``int`` are
``double``, ``bool`` is ``logical``, ``str`` is ``char`` (and ``string``); NumPy arrays by their dtype.
"""

from __future__ import annotations

import numpy as np

from leuknet.errors import ConfigError
from leuknet.spec.conventions import choice, flatten_layers, outputs
from leuknet.spec.graph import Connections, LayerGraph
from leuknet.spec.layers import Layer, LayerArray

__all__ = ["isa", "isprop", "properties", "size", "fullfile", "double", "single", "uint8", "uint16", "int16", "int32", "char",
           "unique", "grp2idx", "cat", "vertcat", "horzcat", "fileparts"]

_NUMPY = {"float64": "double", "float32": "single", "bool": "logical", "uint8": "uint8", "uint16": "uint16",
          "uint32": "uint32", "uint64": "uint64", "int8": "int8", "int16": "int16", "int32": "int32",
          "int64": "int64"}
_FLOAT = {"double", "single"}
_INTEGER = {"uint8", "uint16", "uint32", "uint64", "int8", "int16", "int32", "int64"}


def _classes(obj) -> set:
    """MATLAB's class of ``obj`` and its MATLAB superclasses (the names ``isa`` accepts)."""
    from leuknet.matlab.augmentation import AugmentedImageDatastore, ImageDataAugmenter
    from leuknet.matlab.datastore import Categorical, ImageDatastore, Table
    from leuknet.matlab.geometry import AffineTransform2D, ImageReference2D
    from leuknet.matlab.transformed import ArrayDatastore, CombinedDatastore, TransformedDatastore
    from leuknet.matlab.network import DAGNetwork, SeriesNetwork

    if isinstance(obj, Layer):
        return {f"nnet.cnn.layer.{type(obj).__name__}", "nnet.cnn.layer.Layer"}
    if _is_layer_list(obj):  # MATLAB: a layer array ([a; b], a list here) is of the layers' common class
        return {"nnet.cnn.layer.Layer"}
    named = ((LayerGraph, "nnet.cnn.LayerGraph"), (SeriesNetwork, "SeriesNetwork"), (DAGNetwork, "DAGNetwork"),
             (ImageDatastore, "matlab.io.datastore.ImageDatastore"),
             (TransformedDatastore, "matlab.io.datastore.TransformedDatastore"),
             (CombinedDatastore, "matlab.io.datastore.CombinedDatastore"),
             (ArrayDatastore, "matlab.io.datastore.ArrayDatastore"),
             (AugmentedImageDatastore, "augmentedImageDatastore"), (ImageDataAugmenter, "imageDataAugmenter"),
             (Categorical, "categorical"), (Table, "table"))
    if isinstance(obj, AffineTransform2D):  # R2021a's randomAffine2d gives an affine2d, R2022b's an affinetform2d
        return {"affine2d", "affinetform2d"}
    if isinstance(obj, ImageReference2D):
        return {"imref2d"}
    for cls, name in named:
        if isinstance(obj, cls):
            return {name}
    if isinstance(obj, (bool, np.bool_)):
        return {"logical"}
    if isinstance(obj, str):
        return {"char", "string"}
    if isinstance(obj, (int, float)):
        return {"double"}
    if isinstance(obj, (np.ndarray, np.generic)):
        name = _NUMPY.get(np.asarray(obj).dtype.name)
        return {name} if name else set()
    if isinstance(obj, dict):
        return {"struct"}
    if isinstance(obj, (list, tuple)):
        return {"cell"}
    return set()


def _is_layer_list(obj):
    if isinstance(obj, LayerArray):
        return True
    if not isinstance(obj, (list, tuple)) or not obj:
        return False
    try:
        flatten_layers("isa", obj)
    except ConfigError:
        return False
    return True


def isa(obj, className) -> bool:  # noqa: N803 (MATLAB's argument name)
    """``tf = isa(obj, className)``: see the module's docstring."""
    if not isinstance(className, str):
        raise ConfigError(f"isa: the class name must be a string, received {type(className).__name__}")
    classes = _classes(obj)
    if className in classes:
        return True
    if className == "float":
        return bool(classes & _FLOAT)
    if className == "integer":
        return bool(classes & _INTEGER)
    if className == "numeric":
        return bool(classes & (_FLOAT | _INTEGER))
    return False


def properties(obj) -> list:
    """``props = properties(obj)``: the names of an object's public properties (MATLAB's, first letter upper case),
    so MathWorks' ``freezeWeights`` helper ports as written::

        for p in properties(layer):
            if p.endswith("LearnRateFactor"):
                setattr(layer, p, 0)          # MATLAB: layers(ii).(propName) = 0;

    https://www.mathworks.com/help/matlab/ref/properties.html"""
    import dataclasses

    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return [f.name for f in dataclasses.fields(obj) if f.name[:1].isupper()]
    props = getattr(obj, "_props", None)  # imageDataAugmenter
    if isinstance(props, dict):
        return list(props)
    names = [n for n in dir(type(obj)) if n[:1].isupper() and isinstance(getattr(type(obj), n, None), property)]
    names += [n for n in vars(obj) if n[:1].isupper()] if hasattr(obj, "__dict__") else []
    return list(dict.fromkeys(names))


def isprop(obj, PropertyName):  # noqa: N803 (MATLAB's argument name)
    """``tf = isprop(obj, PropertyName)``: true when ``PropertyName`` is one of ``obj``'s properties
    (:func:`properties`, MATLAB's names, matched exactly); of a layer array, one answer per layer. So the freezing
    loops of transfer-learning scripts port as written::

        if isprop(layers[i], 'WeightLearnRateFactor'):   # MATLAB: if isprop(layers(i), 'WeightLearnRateFactor')

    https://www.mathworks.com/help/matlab/ref/isprop.html"""
    if not isinstance(PropertyName, str):
        raise ConfigError(f"isprop: the property name must be text, received {type(PropertyName).__name__}")
    if isinstance(obj, (list, tuple)):
        return np.array([PropertyName in properties(o) for o in obj], bool)
    return PropertyName in properties(obj)


def char(x):
    """MATLAB's ``char(x)``: text as text; a categorical's category name (one element: a str; several: a list of
    str, the rows of MATLAB's padded character matrix, unpadded); numbers as the characters with those codes
    (``char(65)`` is ``'A'``), so ``['Predicted: ' char(label)]`` ports as ``'Predicted: ' + char(label)``.
    https://www.mathworks.com/help/matlab/ref/char.html"""
    from leuknet.matlab.datastore import Categorical

    if isinstance(x, str):
        return x
    if isinstance(x, (bool, np.bool_)) or getattr(np.asarray(x), "dtype", None) == bool:  # noqa: E721 (a dtype)
        raise ConfigError("char: conversion to char from logical is not possible (MATLAB's message)")
    if isinstance(x, Categorical):
        names = x._names()
        return names[0] if len(names) == 1 else names
    if isinstance(x, (list, tuple)) and len(x) and all(isinstance(v, str) for v in x):
        return list(x)
    codes = np.ravel(np.asarray(x))
    if codes.size == 0:
        return ""
    if codes.dtype.kind not in "iuf" or np.any(codes < 0) or np.any(codes != np.round(codes)):
        raise ConfigError(f"char: expected text, a categorical or character codes (non-negative integers), "
                          f"received {type(x).__name__}")
    return "".join(chr(int(c)) for c in codes)


def grp2idx(s, nargout=None):
    """``[g, gN, gL] = grp2idx(s)`` (Statistics and Machine Learning Toolbox): ``g`` the group number of each
    element (1-based, float, NaN for an undefined or NaN element), ``gN`` the group names, ``gL`` the levels in
    ``s``'s type. A categorical's groups are its categories in their order (unused ones too, as in MathWorks'
    example, where '30s' is group 4 of '0s', '10s', ...); numbers' groups are their sorted distinct values.
    https://www.mathworks.com/help/stats/grp2idx.html. Text groups are not taken (make them categorical)."""
    from leuknet.matlab.datastore import Categorical

    if isinstance(s, Categorical):
        codes = np.ravel(s.codes)
        g = np.where(codes >= 0, codes + 1.0, np.nan)
        names = list(s.categories)
        levels = Categorical(categories=s.categories, codes=np.arange(len(names), dtype=np.int32))
        return outputs("grp2idx", (g, names, levels), nargout)
    given = np.ravel(np.asarray(s))
    if given.dtype.kind not in "biuf":
        raise ConfigError("grp2idx: leuknet takes a categorical or numeric grouping variable; make text groups "
                          "categorical first, grp2idx(categorical(s))")
    a = given.astype(np.float64)
    valid = ~np.isnan(a)
    levels, inverse = np.unique(a[valid], return_inverse=True)
    g = np.full(a.shape, np.nan)
    g[valid] = inverse + 1.0
    names = [_num2str(v) for v in levels]
    return outputs("grp2idx", (g, names, levels.astype(given.dtype)), nargout)


def _num2str(v):
    """MATLAB's num2str of one number: whole numbers exactly, others to max(floor(log10|v|), 0) + 5 significant
    digits (num2str(pi) is '3.1416')."""
    if float(v).is_integer():
        return str(int(v))
    digits = max(int(np.floor(np.log10(abs(v)))), 0) + 5
    return f"{v:.{digits}g}"


def fileparts(filename, nargout=None):
    """``[filepath, name, ext] = fileparts(filename)``: the folder (no trailing separator), the name and the
    extension from the last '.' of the file's name, with the dot (``'.gz'`` of ``'a.tar.gz'``; ``'.bashrc'`` has
    no name and that extension). https://www.mathworks.com/help/matlab/ref/fileparts.html"""
    import os

    if not isinstance(filename, (str, os.PathLike)):
        raise ConfigError(f"fileparts: expected a file name, received {type(filename).__name__}")
    text = os.fspath(filename)
    if not isinstance(text, str):
        raise ConfigError(f"fileparts: expected a file name as text, received {type(text).__name__}")
    cut = max(text.rfind("/"), text.rfind(os.sep))
    folder, base = (text[:cut], text[cut + 1:]) if cut >= 0 else ("", text)
    if cut == 0:
        folder = text[0]  # the root keeps its separator
    dot = base.rfind(".")
    name, ext = (base[:dot], base[dot:]) if dot >= 0 else (base, "")
    return outputs("fileparts", (folder, name, ext), nargout)


def fullfile(*parts):
    """``f = fullfile(filepart1, ..., filepartN)`` with MATLAB's rules on this (POSIX) platform
    (https://www.mathworks.com/help/matlab/ref/fullfile.html): parts joined with ``/`` where one is needed (empty
    parts add none), leading and trailing separators kept, inner repeated separators collapsed (not at the start:
    ``//server/share``), ``/./`` collapsed (not a ``.`` at the end), ``..`` kept; a list among the parts gives a
    list of paths, one per element (MATLAB's cell array). Unlike Python's ``os.path.join``, a part starting with
    ``/`` does not discard the parts before it."""
    import os
    import re

    lists = [i for i, p in enumerate(parts) if isinstance(p, (list, tuple))]
    if len(lists) > 1:
        raise ConfigError("fullfile: at most one of the parts may be a list of names")
    if lists:
        i = lists[0]
        return [fullfile(*parts[:i], p, *parts[i + 1:]) for p in parts[i]]
    texts = []
    for p in parts:
        if not isinstance(p, (str, os.PathLike)) or not isinstance(os.fspath(p), str):
            raise ConfigError(f"fullfile: the parts must be text, received {type(p).__name__}")
        if os.fspath(p):
            texts.append(os.fspath(p))
    if not texts:
        return ""
    joined = texts[0]
    for p in texts[1:]:
        joined += p if joined.endswith("/") or p.startswith("/") else "/" + p
    start = len(joined) - len(joined.lstrip("/"))
    body = re.sub("/{2,}", "/", joined[start:])
    while "/./" in body:
        body = body.replace("/./", "/")
    return joined[:start] + body


def size(x, dim=None):
    """MATLAB's ``sz = size(A)`` and ``size(A, dim)``: an array's shape (a 1-D array is a 1 x n row, as MATLAB's
    vectors such as ``info.TrainingLoss``; a scalar 1 x 1), a layer array's or a list's n x 1, a table's rows x
    variables, a categorical's n x 1. ``dim`` is MATLAB's dimension number (1 rows, 2 columns, ...; beyond the last,
    1), so MathWorks' ``for ii = 1:size(layers,1)`` ports as ``range(size(layers, 1))``.
    https://www.mathworks.com/help/matlab/ref/size.html"""
    from leuknet.matlab.datastore import Categorical, Table

    if isinstance(x, Table):
        shape = (len(x), len(x.VariableNames))
    elif isinstance(x, Connections):
        shape = (len(x), 2)
    elif isinstance(x, Categorical):
        shape = tuple(x.shape) if x.codes.ndim > 1 else (len(x), 1)
    elif isinstance(x, (list, tuple)):
        shape = (len(x), 1)
    elif isinstance(x, (np.ndarray, np.generic, int, float, bool)):
        a = np.asarray(x)
        shape = (1, 1) if a.ndim == 0 else (1, a.shape[0]) if a.ndim == 1 else tuple(a.shape)
    else:
        shape = (1, 1)  # an object (a datastore, a network): MATLAB's 1 x 1
    if dim is None:
        return tuple(int(v) for v in shape)
    if isinstance(dim, (bool, np.bool_)) or not float(dim).is_integer() or dim < 1:
        raise ConfigError(f"size: the dimension must be a positive integer (MATLAB's 1 = rows), received {dim!r}")
    return int(shape[int(dim) - 1]) if int(dim) <= len(shape) else 1


def double(x):
    """MATLAB's ``double(x)``: a float64 array of ``x``'s values (an 8-bit image keeps 0-255, as MATLAB's does; use
    ``im2double`` to scale); of a categorical, the category numbers (1-based, NaN where undefined: its
    ``__array__`` gives them for a numeric dtype)."""
    return np.asarray(x, np.float64)


def single(x):
    """MATLAB's ``single(x)``: as :func:`double`, in float32."""
    return np.asarray(x, np.float32)


def _integer(dtype):
    def convert(x):
        """MATLAB's conversion to an integer class: rounded half away from zero and saturated (NaN is 0), where
        NumPy's ``astype`` truncates and wraps (``np.uint8(300.0)``); of a categorical, the category numbers."""
        from leuknet.matlab.images import _to_integer_class

        if isinstance(x, str):  # text: its character codes, as MATLAB's uint8('abc')
            x = [ord(ch) for ch in x]
        return _to_integer_class(np.asarray(x, np.float64), dtype)

    convert.__name__ = convert.__qualname__ = np.dtype(dtype).name
    return convert


uint8, uint16, int16, int32 = (_integer(t) for t in (np.uint8, np.uint16, np.int16, np.int32))


def unique(A, *flags, nargout=None):
    """MATLAB's ``[C, ia, ic] = unique(A[, 'sorted' | 'stable'][, 'first' | 'last'])``: the distinct values, sorted
    (a categorical by its categories' order, keeping them all) or in order of appearance ('stable'), with
    ``C = A[ia]`` and ``A = C[ic]``; ``ia``/``ic`` 0-based, as every index of a port
    (https://www.mathworks.com/help/matlab/ref/double.unique.html; its example: ``unique([9 2 9 5])`` is
    ``[2 5 9]`` with ia = [2 4 1], ic = [3 1 3 2] in MATLAB's 1-based indices)."""
    from leuknet.matlab.datastore import Categorical

    order, occurrence = "sorted", "first"
    chosen = [choice("unique", "the option", f, ("sorted", "stable", "first", "last")) for f in flags]
    if len(chosen) > 1:  # R2021a takes one of them (both together only from R2025a)
        raise ConfigError(f"unique: give the order ('sorted', 'stable') or the occurrence ('first', 'last'), not "
                          f"both: received {chosen}")
    for v in chosen:
        order, occurrence = (v, occurrence) if v in ("sorted", "stable") else (order, v)
    categorical = isinstance(A, Categorical)
    keys = np.asarray(A.codes if categorical else (list(A) if isinstance(A, (list, tuple)) else A)).ravel()
    if occurrence == "last":
        values, ia_rev, ic = np.unique(keys[::-1], return_index=True, return_inverse=True)
        ia, ic = len(keys) - 1 - ia_rev, ic[::-1]
    else:
        values, ia, ic = np.unique(keys, return_index=True, return_inverse=True)
    if order == "stable":
        rank = np.argsort(ia, kind="stable")
        values, ia = values[rank], ia[rank]
        ic = np.argsort(rank)[ic]
    C = Categorical(categories=A.categories, codes=values.astype(np.int32)) if categorical else values
    return outputs("unique", (C, ia.astype(np.int64), ic.astype(np.int64)), nargout)


def cat(dim, *arrays):
    """MATLAB's ``cat(dim, A1, A2, ...)`` (``dim`` 1-based: 1 joins rows, 2 columns, 4 the images of H x W x C x N
    arrays). Categoricals (e.g. datastores' ``Labels``) join into one categorical, the first's categories then the
    others' new ones (MATLAB's rule); vectors (1-D arrays, MATLAB's columns) join end to end along 1 and side by
    side along 2; other arrays along axis ``dim - 1``."""
    from leuknet.matlab.datastore import Categorical, concatenate

    if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)) or dim < 1:
        raise ConfigError(f"cat: dim must be a positive integer, received {dim!r}")
    if not arrays:
        return np.zeros((0, 0))
    if any(isinstance(a, Categorical) for a in arrays):
        return concatenate(arrays)
    arrs = [np.asarray(a) for a in arrays]
    if all(a.ndim <= 1 for a in arrs):
        return np.concatenate([np.atleast_1d(a) for a in arrs]) if dim == 1 else np.column_stack(arrs)
    arrs = [a.reshape(a.shape + (1,) * (dim - a.ndim)) if a.ndim < dim else a for a in arrs]
    try:
        return np.concatenate(arrs, axis=dim - 1)
    except ValueError as e:
        raise ConfigError(f"cat: dimensions of the arrays are not consistent ({e})") from None


def vertcat(*arrays):
    """MATLAB's ``vertcat(A, B, ...)``, ``[A; B]``: :func:`cat` along 1."""
    return cat(1, *arrays)


def horzcat(*arrays):
    """MATLAB's ``horzcat(A, B, ...)``, ``[A, B]``: :func:`cat` along 2."""
    return cat(2, *arrays)
