"""Datastores and labels: ``imageDatastore``, ``categorical``, ``splitEachLabel``, ``countEachLabel``,
``readimage`` and the array conventions of ``trainNetwork``.

MATLAB semantics (MathWorks documentation):
- ``imageDatastore(location, 'IncludeSubfolders', tf, 'LabelSource', 'foldernames'|'none', 'FileExtensions',
  exts, 'ReadFcn', fcn, 'Labels', labels)``: with ``'foldernames'`` each file's label is the name of the folder
  that *contains the file* (so ``C-NMC_training_data/fold_0/all/x.bmp`` is labelled ``all``); ``IncludeSubfolders``
  defaults to false; ``FileExtensions`` defaults to the formats ``imformats`` reads; files in sorted order.
  https://www.mathworks.com/help/matlab/ref/matlab.io.datastore.imagedatastore.html
- ``splitEachLabel(imds, p1, ..., pN, 'randomized', 'Include', labels, 'Exclude', labels)``: ``p`` in (0, 1) is a
  proportion of each label (split points ``round(cumsum(n * p))`` as MathWorks' splitEachLabel.m: round(p n)
  files for one proportion), an integer ``p >= 1`` a number of files per label (their sum at most the smallest
  label's count); N + 1 datastores, the last with the rest; ``'randomized'`` assigns files at
  random, else in file order. https://mathworks.com/help/matlab/ref/datastore.spliteachlabel.html
- ``countEachLabel(imds)``: a table with variables ``Label`` and ``Count``, a row per label that has files.
  https://www.mathworks.com/help/matlab/ref/matlab.io.datastore.imagedatastore.counteachlabel.html
- ``categorical``: categories sorted (numbers numerically, text lexicographically); ``==`` is elementwise.
  https://www.mathworks.com/help/matlab/ref/categorical.html

Python's conventions where they differ: indices are 0-based (``readimage(imds, 0)``, ``subset(imds, [0, 1])``);
``splitEachLabel`` returns every output as a tuple (Python cannot see how many are unpacked: ``nargout=1`` gives
the first alone, as MATLAB's ``imds = splitEachLabel(imds, 8000)``); MATLAB's random stream cannot be reproduced,
so random choices draw from a stream of leuknet's with MATLAB's behaviour (:mod:`leuknet.matlab.randstream`:
every run the same numbers, every call new ones, ``rng(seed)``); ``Seed=`` (leuknet's) gives a call its own.
"""

from __future__ import annotations

import glob
import os
from pathlib import Path

import numpy as np

from leuknet.data.split import split_sizes
from leuknet.errors import ConfigError, DataError
from leuknet.matlab.conventions import Struct, boolean, choice, note, number, outputs, parse
from leuknet.spec.randstream import stream_for

__all__ = ["imageDatastore", "ImageDatastore", "Categorical", "categorical", "categories", "countcats", "removecats",
           "tabulate", "countEachLabel", "splitEachLabel", "readimage", "read", "hasdata", "reset", "preview",
           "readall", "shuffle", "subset", "numel", "Table"]

# imformats' readable formats (MATLAB R2021a): bmp, cur, fts/fits, gif, hdf, ico, j2c/j2k/jp2, jpf/jpx, jpg/jpeg,
# pbm, pcx, pgm, png, pnm, ppm, ras, tif/tiff, xwd. Those OpenCV decodes are the default here.
DEFAULT_EXTENSIONS = (".bmp", ".jpg", ".jpeg", ".png", ".tif", ".tiff", ".pbm", ".pgm", ".ppm", ".pnm", ".ras",
                      ".jp2")


# ------------------------------------------------------------------------------------------------------------
# categorical

def _sorted_categories(values):
    """MATLAB's category order: numbers numerically, text lexicographically (as text)."""
    uniq = set(values)
    try:
        nums = sorted(uniq, key=float)
        if all(isinstance(v, (int, float, np.integer, np.floating)) for v in uniq):
            return [_name(v) for v in nums]
    except (TypeError, ValueError):
        pass
    return sorted(_name(v) for v in uniq)


def _name(v):
    if isinstance(v, (float, np.floating)) and float(v).is_integer():
        return str(int(v))
    return str(v)


class Categorical:
    """MATLAB's ``categorical`` array of labels: ``codes`` (int32, -1 = undefined) into ``categories`` (list of
    str). ``==`` against another categorical, a string or a list of strings is elementwise and gives a NumPy bool
    array (so ``np.mean(YPred == YTest)`` is the accuracy); ``len``, indexing, iteration and ``str`` of a scalar
    (the class name) work as a user expects; ``np.asarray(c)`` gives the names."""

    __array_priority__ = 1000  # numpy defers == to us

    def __init__(self, values=(), categories=None, codes=None):
        if codes is not None:
            self.codes = np.array(codes, np.int32)  # a copy: MATLAB's arrays are values (b = a(1:3); b(1) = ...)
            self.categories = [str(c) for c in categories]
            return
        if isinstance(values, Categorical):
            names = values._names()
            cats = list(values.categories) if categories is None else [str(c) for c in categories]
        else:
            arr = values if isinstance(values, (list, tuple)) else np.asarray(values).ravel().tolist()
            if np.ndim(values) == 0 and not isinstance(values, (list, tuple)):
                arr = [np.asarray(values).item()]
            cats = _sorted_categories(arr) if categories is None else [_name(c) for c in categories]
            names = [_name(v) for v in arr]
        index = {c: i for i, c in enumerate(cats)}
        self.codes = np.array([index.get(n, -1) for n in names], np.int32)
        self.categories = cats

    # -- container -------------------------------------------------------------------------------------------
    def _names(self):
        return [self.categories[c] if c >= 0 else "<undefined>" for c in np.ravel(self.codes)]

    def __len__(self):
        return int(np.size(self.codes)) if self.codes.ndim else 1

    @property
    def shape(self):
        return self.codes.shape

    def __getitem__(self, i):
        codes = self.codes.reshape(1) if self.codes.ndim == 0 else self.codes  # a scalar is a 1 x 1 (x(1) works)
        if isinstance(i, (int, np.integer)):
            return Categorical(categories=self.categories, codes=np.asarray(codes[i]))
        return Categorical(categories=self.categories, codes=codes[np.asarray(i) if isinstance(i, list) else i])

    def __array_function__(self, func, types, args, kwargs):
        """``np.concatenate`` / ``np.vstack`` / ``np.hstack`` / ``np.append`` of categoricals give a categorical
        (:func:`concatenate`: MATLAB's ``[A; B]`` and ``cat(1, A, B)``), so do ``np.tile`` and ``np.repeat`` of one
        (MATLAB's ``repmat(C, n, 1)``); any other NumPy function sees the names, as ``np.asarray(C)``."""
        if func in (np.concatenate, np.vstack, np.hstack, np.append):
            parts = list(args[0]) if func is not np.append else [args[0], args[1]]
            if all(isinstance(p, (Categorical, str)) or np.ndim(p) <= 1 for p in parts):
                return concatenate(parts)
        if func in (np.tile, np.repeat) and isinstance(args[0], Categorical):
            # MATLAB's repmat(C, n, 1) of a label vector ports as np.tile(C, n): the labels stay categorical
            return Categorical(categories=args[0].categories, codes=func(args[0].codes, *args[1:], **kwargs))

        def names(a):
            if isinstance(a, Categorical):
                return np.asarray(a)
            if isinstance(a, (list, tuple)):
                return type(a)(names(v) for v in a)
            return a

        return func(*names(args), **{k: names(v) for k, v in kwargs.items()})

    def __setitem__(self, i, value):
        """``C(idx) = value``: a name, a list of names or a categorical, at an index, a slice, a list of indices or
        a logical mask. A name that is not a category yet is added to the categories, after the others (MATLAB
        adds it to a categorical that is not protected: "Add New Categories", MathWorks' categorical page), so
        ``labels = categorical(zeros(n, 1)); labels(y == 1) = 'all'`` ports as written; ``''`` is undefined."""
        if self.codes.ndim == 0:
            raise DataError("categorical: a scalar categorical is replaced, not assigned into")
        if isinstance(i, list):
            i = np.asarray(i)
        if isinstance(value, Categorical):
            names = value._names()
        elif isinstance(value, str):
            names = [value]
        else:
            names = [_name(v) for v in np.ravel(np.asarray(value, dtype=object))]
        undefined = ("", "<undefined>")
        new = [n for n in dict.fromkeys(names) if n not in undefined and n not in self.categories]
        index = {c: k for k, c in enumerate(self.categories + new)}
        codes = np.array([-1 if n in undefined else index[n] for n in names], np.int32)
        target = np.shape(self.codes[i])
        if codes.size not in (1, int(np.prod(target))):
            raise DataError(f"categorical assignment: {int(np.prod(target))} elements and {codes.size} values")
        self.codes[i] = codes[0] if codes.size == 1 else codes.reshape(target)
        self.categories = self.categories + new  # a new list: other arrays may share the old one

    def __iter__(self):
        for c in np.ravel(self.codes):
            yield Categorical(categories=self.categories, codes=np.asarray(c))

    def __array__(self, dtype=None, copy=None):
        if dtype is not None and np.dtype(dtype).kind in "fiu":  # MATLAB's double(C): the category numbers
            return self.numbers(dtype)
        a = np.array(self._names(), dtype=object if dtype is None else dtype)
        return a.reshape(self.codes.shape) if self.codes.ndim else a.reshape(())

    def numbers(self, dtype=np.float64):
        """MATLAB's ``double(C)``: each element's category number, 1-based, in the order of ``categories(C)``;
        undefined elements are NaN (0 for an integer type, as MATLAB's ``uint8(C)``)."""
        dtype = np.dtype(dtype)
        numbers = (self.codes + 1).astype(dtype)
        if dtype.kind == "f":
            numbers[self.codes < 0] = np.nan
        return numbers

    @property
    def T(self):
        """MATLAB's ``C'``: a copy (leuknet's categoricals are vectors, so a transposed one is the same)."""
        return Categorical(categories=self.categories, codes=self.codes)

    def tolist(self):
        return self._names()

    def __str__(self):
        if self.codes.ndim == 0 or self.codes.size == 1:  # MATLAB's string(label): the name alone
            return self._names()[0]
        return "\n".join(f"     {n}" for n in self._names())

    def __repr__(self):
        if self.codes.ndim == 0:
            return f"categorical({self._names()[0]!r})"
        n = len(self)
        head = ", ".join(repr(v) for v in self._names()[:6]) + (", ..." if n > 6 else "")
        cats = self.categories if len(self.categories) <= 6 else \
            f"[{', '.join(map(repr, self.categories[:3]))}, ... ({len(self.categories)})]"
        return f"Categorical([{head}], {n} x 1, categories={cats})"

    def __hash__(self):
        return hash(str(self)) if self.codes.ndim == 0 else id(self)

    # -- comparison ------------------------------------------------------------------------------------------
    def _other_names(self, other):
        if isinstance(other, Categorical):
            return np.asarray(other._names(), dtype=object).reshape(other.codes.shape)
        if isinstance(other, str):
            return other
        return np.asarray([_name(v) for v in np.ravel(np.asarray(other, dtype=object))], dtype=object)

    def __eq__(self, other):
        mine = np.asarray(self._names(), dtype=object).reshape(self.codes.shape)
        theirs = self._other_names(other)
        if not isinstance(theirs, str) and np.size(theirs) not in (1, np.size(mine)):
            raise DataError(f"categorical ==: arrays of {np.size(mine)} and {np.size(theirs)} elements")
        if not isinstance(theirs, str) and np.size(theirs) == np.size(mine):
            theirs = np.asarray(theirs).reshape(mine.shape)
        out = np.asarray(mine == theirs, bool)
        if self.codes.ndim == 0:
            return bool(out)
        return out

    def __ne__(self, other):
        r = self.__eq__(other)
        return (not r) if isinstance(r, bool) else ~r


def concatenate(parts):
    """Categoricals (or label vectors, or names) joined end to end, as MATLAB's ``[A; B]`` / ``cat(1, A, B)``: the
    categories of the first, then those of the others that are new, in their order (MathWorks' "Combine
    Categorical Arrays": the result's categories are the union of the inputs'); a plain label vector adds its
    values' categories sorted, as ``categorical`` would make them."""
    parts = [p if isinstance(p, Categorical) else Categorical([p] if isinstance(p, str) else p) for p in parts]
    cats = []
    for p in parts:
        cats.extend(c for c in p.categories if c not in cats)
    index = {c: i for i, c in enumerate(cats)}
    codes = [np.array([index[p.categories[k]] if k >= 0 else -1 for k in np.ravel(p.codes)], np.int32)
             for p in parts]
    return Categorical(categories=cats, codes=np.concatenate(codes) if codes else np.zeros(0, np.int32))


def categorical(values, valueset=None, catnames=None):
    """``categorical(values)`` (categories sorted), ``categorical(values, valueset)`` (categories in the order of
    ``valueset``; values not in it undefined) or ``categorical(values, valueset, catnames)``: each value of
    ``valueset`` named by the ``catnames`` at its place (``categorical(y, [0 1], {'Healthy', 'ALL'})``); a name
    given twice merges those values into one category
    (https://www.mathworks.com/help/matlab/ref/categorical.html)."""
    if catnames is None:
        return Categorical(values, valueset)
    if valueset is None:
        raise ConfigError("categorical: catnames needs the valueset they name, categorical(values, valueset, "
                          "catnames)")
    vs = [valueset] if isinstance(valueset, str) else list(np.ravel(np.asarray(valueset, dtype=object)))
    names = [catnames] if isinstance(catnames, str) else [str(c) for c in np.ravel(np.asarray(catnames, object))]
    if len(names) != len(vs):
        raise ConfigError(f"categorical: {len(names)} category names for {len(vs)} values in valueset")
    if len({_name(v) for v in vs}) != len(vs):
        raise ConfigError("categorical: valueset must not repeat a value")
    by_value = Categorical(values, vs)
    cats = list(dict.fromkeys(names))  # merged names keep their first place
    remap = np.array([cats.index(n) for n in names] + [-1], np.int32)  # code -1 (undefined) stays -1
    return Categorical(categories=cats, codes=remap[by_value.codes])


def countcats(c):
    """``n = countcats(C)``: how many elements each category has, in category order (zeros included)
    (https://www.mathworks.com/help/matlab/ref/categorical.countcats.html)."""
    c = c if isinstance(c, Categorical) else Categorical(c)
    codes = np.ravel(c.codes)
    return np.bincount(codes[codes >= 0], minlength=len(c.categories)).astype(np.int64)


def tabulate(x):
    """``tbl = tabulate(x)`` (Statistics and Machine Learning Toolbox): a row per category of a categorical
    (zeros included), per distinct text in order of appearance ('' is missing, left out), per number from 1 to
    max(x) for positive integers and per distinct number otherwise (NaN left out), with its count and percent of
    the counted elements, as https://www.mathworks.com/help/stats/tabulate.html describes. MATLAB returns a matrix
    (numbers) or a cell array (text); leuknet a :class:`Table` with ``Value``, ``Count`` and ``Percent`` (print it
    to see it, as MATLAB's call without an output prints)."""
    if isinstance(x, Categorical):
        counts, values = countcats(x), list(x.categories)
    else:
        a = np.ravel(np.asarray(x, dtype=object))
        if a.size and all(isinstance(v, (str, np.str_)) for v in a):
            values = list(dict.fromkeys(str(v) for v in a if str(v) != ""))
            counts = np.array([sum(str(v) == u for v in a) for u in values], np.int64)
        else:
            try:
                n = np.asarray(a, np.float64)
            except (TypeError, ValueError):
                raise ConfigError("tabulate: expected a categorical, text or numbers") from None
            n = n[~np.isnan(n)]
            if n.size and np.all(n > 0) and np.all(n == np.round(n)):
                values = np.arange(1, int(n.max()) + 1)
            else:
                values = np.unique(n)
            counts = np.array([int(np.sum(n == v)) for v in values], np.int64)
            values = values.tolist()
    total = counts.sum()
    return Table(Value=values, Count=counts, Percent=100.0 * counts / total if total else counts.astype(float))


def removecats(c, cats=None):
    """``removecats(C)``: drop the categories no element has (or those named in ``cats``)."""
    c = c if isinstance(c, Categorical) else Categorical(c)
    present = set(c.codes[c.codes >= 0].tolist())
    drop = set(range(len(c.categories))) - present if cats is None else \
        {c.categories.index(n) for n in ([cats] if isinstance(cats, str) else cats) if n in c.categories}
    keep = [n for i, n in enumerate(c.categories) if i not in drop]
    return Categorical(c, keep)


def categories(c):
    """``categories(C)``: the category names, a list of str in MATLAB's order."""
    if isinstance(c, Categorical):
        return list(c.categories)
    if hasattr(c, "Labels"):
        return categories(c.Labels)
    return Categorical(c).categories


def as_categorical(fn, y, categories_=None):
    """Labels given as a Categorical, strings, numbers or a NumPy array -> Categorical (``categories_`` fixes the
    order); an unknown label is an error naming ``fn``."""
    c = y if isinstance(y, Categorical) else Categorical(y, None)
    if categories_ is not None:
        cats = [str(v) for v in categories_]
        missing = sorted(set(c.categories) - set(cats))
        if missing:
            raise DataError(f"{fn}: label {missing[0]!r} is not one of the network's classes {cats}")
        c = Categorical(c, cats)
    if np.any(c.codes < 0):
        raise DataError(f"{fn}: undefined labels")
    return c


# ------------------------------------------------------------------------------------------------------------
# a small table (countEachLabel)

class Table:
    """A small MATLAB-like table: variables as attributes (``t.Count``), ``t['Count']``, ``len(t)`` rows,
    printed as MATLAB prints a table."""

    def __init__(self, **columns):
        object.__setattr__(self, "_columns", dict(columns))

    @property
    def VariableNames(self):
        return list(self._columns)

    def __getattr__(self, name):
        cols = object.__getattribute__(self, "_columns")
        if name in cols:
            return cols[name]
        raise AttributeError(f"table has no variable {name!r}; variables: {', '.join(cols)}")

    def __getitem__(self, key):
        """``t['Count']`` a variable; ``t[:, 1]`` (MATLAB's ``t{:, 2}``) a variable's values by position, 0-based,
        for the rows given (``t[0:2, 'Count']``; one row and one variable, ``t[0, 'Count']``, the value alone);
        ``t[0:2]``, ``t[[0, 2]]`` or ``t[0:2, :]`` (MATLAB's ``t(1:2, :)``) a table of those rows; several variables
        (``t[:, [0, 1]]``, ``t[:, ['Label']]``) a table of those."""
        cols = self._columns
        if isinstance(key, str):
            return cols[self._name(key)]
        if isinstance(key, tuple) and len(key) == 2:
            rows, var = key
            if isinstance(var, (slice, list, tuple, np.ndarray)):
                names = list(cols)[var] if isinstance(var, slice) else [self._name(v) for v in var]
                return Table(**{n: self._take(cols[n], rows) for n in names})
            values = self._take(cols[self._name(var)], rows)
            return values[0] if isinstance(rows, (int, np.integer)) else values
        return Table(**{k: self._take(v, key) for k, v in cols.items()})

    def _name(self, var):
        names = list(self._columns)
        if isinstance(var, (int, np.integer)):
            if not -len(names) <= var < len(names):
                raise IndexError(f"table has {len(names)} variables, received index {var}")
            return names[var]
        if var not in self._columns:
            raise KeyError(f"table has no variable {var!r}; variables: {', '.join(names)}")
        return var

    @staticmethod
    def _take(values, rows):
        if isinstance(rows, (int, np.integer)):
            rows = [rows]
        return values[rows] if isinstance(values, (np.ndarray, Categorical)) else \
            np.asarray(values)[rows]

    def __len__(self):
        return len(next(iter(self._columns.values()))) if self._columns else 0

    def rows(self):
        cols = [[str(v) for v in (c.tolist() if hasattr(c, "tolist") else list(c))] for c in self._columns.values()]
        return list(zip(*cols))

    def __repr__(self):
        names = list(self._columns)
        rows = self.rows()
        widths = [max([len(n)] + [len(r[i]) for r in rows]) for i, n in enumerate(names)]
        lines = [f"  {len(rows)}x{len(names)} table", "",
                 "    " + "    ".join(n.center(w) for n, w in zip(names, widths)),
                 "    " + "    ".join("_" * w for w in widths), ""]
        lines += ["    " + "    ".join(v.center(w) for v, w in zip(r, widths)) for r in rows]
        return "\n".join(lines)

    __str__ = __repr__


# ------------------------------------------------------------------------------------------------------------
# imageDatastore

# The info of a read (``Filename``, ``FileSize``, ``Label``): a MATLAB struct (``info.Label`` ports as written).
ReadInfo = Struct


def _expand_location(fn, location, include_subfolders, extensions):
    locs = [location] if isinstance(location, (str, os.PathLike)) else list(location)
    if not locs:
        raise DataError(f"{fn}: no location given")
    exts = {e.lower() if e.startswith(".") else "." + e.lower() for e in extensions}
    files = []
    for loc in locs:
        loc = os.fspath(loc)
        p = Path(loc).expanduser()
        if any(ch in loc for ch in "*?["):  # MATLAB accepts wildcards in a location
            matches = sorted(glob.glob(str(p), recursive=True))
            if not matches:
                raise DataError(f"{fn}: no files match {loc!r}")
            for m in matches:
                mp = Path(m)
                if mp.is_dir():
                    files.extend(_walk(mp, include_subfolders, exts))
                elif mp.suffix.lower() in exts:
                    files.append(os.path.abspath(mp))
            continue
        if not p.exists():
            raise DataError(f"{fn}: cannot find files or folders matching {loc!r}")
        if p.is_file():
            if p.suffix.lower() not in exts:
                raise DataError(f"{fn}: {loc!r} does not have one of the file extensions {sorted(exts)}")
            files.append(os.path.abspath(p))
        else:
            files.extend(_walk(p, include_subfolders, exts))
    # as MATLAB's pathLookup: each location's files in the order the locations were given (a folder's or a
    # wildcard's files sorted), repeats kept: labels given with 'Labels' follow a file list's own order
    return files


def _walk(root, include_subfolders, exts):
    out = []
    if include_subfolders:
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            out.extend(os.path.abspath(Path(dirpath) / f) for f in filenames
                       if Path(f).suffix.lower() in exts and not f.startswith("."))
        out.sort()  # one folder's files in path order (sub-folders' among them)
    else:
        out.extend(os.path.abspath(p) for p in sorted(root.iterdir())
                   if p.is_file() and p.suffix.lower() in exts and not p.name.startswith("."))
    return out


class ImageDatastore:
    """MATLAB's ``ImageDatastore``: ``Files`` (list of str paths), ``Labels`` (:class:`Categorical`, assignable),
    ``ReadFcn``; ``read``/``hasdata``/``reset``/``readimage``/``readall``/``shuffle``/``subset`` and
    ``countEachLabel``/``splitEachLabel`` as methods and as functions. Immutable in use: ``shuffle``, ``subset``
    and ``splitEachLabel`` return new datastores (MATLAB's are handle objects, but these functions copy)."""

    _PROPERTIES = ("Files", "Labels", "ReadFcn", "ReadSize")

    def __init__(self, files, labels=None, read_fcn=None, read_size=1):
        self._files = [str(f) for f in files]
        self._labels = None
        if labels is not None:
            self.Labels = labels
        self.ReadFcn = read_fcn
        self.ReadSize = read_size
        self._position = 0

    _NOT_PROVIDED = ("Folders", "AlternateFileSystemRoots", "SupportedOutputFormats", "DefaultOutputFormat")

    def __setattr__(self, name, value):
        """MATLAB's properties only: a misspelt one (``imds.readSize = 6``) is an error, as in MATLAB, not a new
        attribute that nothing reads."""
        if not name.startswith("_") and name not in self._PROPERTIES:
            if name in self._NOT_PROVIDED:
                raise ConfigError(f"imageDatastore: the property {name!r} is not provided by leuknet; its "
                                  f"properties: {', '.join(self._PROPERTIES)}")
            raise ConfigError(f"Unrecognized property {name!r} for class ImageDatastore; its properties: "
                              f"{', '.join(self._PROPERTIES)}")
        object.__setattr__(self, name, value)

    def __copy__(self):
        """A copy of its own: files and labels not shared (a transformed datastore's copy stays as it was when the
        original's labels change)."""
        labels = None if self._labels is None else Categorical(categories=self._labels.categories,
                                                                codes=self._labels.codes.copy())
        out = ImageDatastore(list(self._files), labels, self.ReadFcn, self._read_size)
        out._position = self._position
        return out

    @property
    def ReadSize(self):
        """How many images one ``read`` returns (MATLAB's default 1: the image itself; more: a list of images,
        the last read possibly shorter, and the info's fields lists)."""
        return self._read_size

    @ReadSize.setter
    def ReadSize(self, value):
        self._read_size = number("imageDatastore", "ReadSize", value, integer=True, low=1)

    # -- properties ------------------------------------------------------------------------------------------
    @property
    def Files(self):
        return list(self._files)

    @Files.setter
    def Files(self, files):
        """``imds.Files = files`` (MATLAB's settable property: oversampling scripts write ``imds.Files =
        files(ind); imds.Labels = labels(ind);``): any list of existing image files, in that order, repeats kept.
        Assigning the whole property empties ``Labels``, as MATLAB's ``ImageDatastore.set.Files`` does
        (``resolveLabelsIndexes``: ``FilesAssigned`` -> ``Labels = {}``), so labels are set again after it;
        the datastore is reset."""
        items = [files] if isinstance(files, (str, os.PathLike)) else list(
            files.tolist() if hasattr(files, "tolist") else files)
        resolved = []
        for f in items:
            if not isinstance(f, (str, os.PathLike)):
                raise ConfigError(f"imds.Files: file names must be text, received {type(f).__name__}")
            p = Path(os.fspath(f)).expanduser()
            if not p.is_file():
                raise DataError(f"imds.Files: cannot find the file {os.fspath(f)!r}")
            resolved.append(os.path.abspath(p))
        self._files = resolved
        self._labels = None
        self._position = 0

    @property
    def Labels(self):
        if self._labels is None:
            return Categorical([], [])
        return self._labels

    @Labels.setter
    def Labels(self, labels):
        c = labels if isinstance(labels, Categorical) else Categorical(labels)
        if len(c) != len(self._files):
            raise DataError(f"imageDatastore: {len(c)} labels for {len(self._files)} files")
        self._labels = c

    @property
    def has_labels(self):
        return self._labels is not None

    def __len__(self):
        return len(self._files)

    @property
    def NumObservations(self):
        return len(self)

    def __repr__(self):
        files = self._files
        shown = "".join(f"\n             '{f}';" for f in files[:3]) + (f"\n              ... and {len(files) - 3} more"
                                                                        if len(files) > 3 else "")
        names = self.Labels.tolist() if self.has_labels else []
        labels = ("[" + "; ".join(names[:3]) + (f" ... and {len(names) - 3} more" if len(names) > 3 else "")
                  + " categorical]") if names else "[0x0 categorical]"  # MATLAB's form
        read = "@readDatastoreImage" if self.ReadFcn is None else f"@{getattr(self.ReadFcn, '__name__', 'ReadFcn')}"
        return (f"  ImageDatastore with properties:\n\n      Files: {{{shown}\n             }}\n     Labels: {labels}\n"
                f"   ReadSize: {self._read_size}\n    ReadFcn: {read}")

    # -- reading ---------------------------------------------------------------------------------------------
    def readimage(self, i, nargout=None):
        """``readimage(imds, i)`` (0-based ``i``): the image as ``imread`` reads it; ``nargout=2`` adds the info
        struct (``Filename``, ``Label``)."""
        n = len(self)
        if not isinstance(i, (int, np.integer)) or not -n <= int(i) < n:
            raise ConfigError(f"readimage: index must be an integer from 0 to {n - 1}, received {i!r}")
        f = self._files[int(i)]
        img = self.ReadFcn(f) if self.ReadFcn is not None else _imread(f)
        info = ReadInfo(Filename=f, FileSize=os.path.getsize(f))
        if self.has_labels:
            info["Label"] = self.Labels[int(i)]
        return outputs("readimage", (img, info), nargout)

    def hasdata(self):
        return self._position < len(self)

    def read(self, nargout=None):
        """The next image (MATLAB ``read``), or with ``ReadSize`` n > 1 a list of the next n (``info`` then has
        lists of ``Filename`` and ``FileSize`` and a categorical ``Label``); at the end an error, as MATLAB's."""
        if not self.hasdata():
            raise DataError("read: no more data in the datastore; call reset(imds)")
        if self._read_size == 1:
            out = self.readimage(self._position, nargout=2)
            self._position += 1
            return outputs("read", out, nargout)
        stop = min(self._position + self._read_size, len(self))
        out = self._read_rows(range(self._position, stop))
        self._position = stop
        return outputs("read", out, nargout)

    def _read_rows(self, rows):
        """Images ``rows`` as a ReadSize > 1 read gives them: a list, and the info of lists."""
        reads = [self.readimage(i, nargout=2) for i in rows]
        info = ReadInfo(Filename=[r[1]["Filename"] for r in reads], FileSize=[r[1]["FileSize"] for r in reads])
        if self.has_labels:
            info["Label"] = self.Labels[list(rows)]
        return [r[0] for r in reads], info

    def reset(self):
        self._position = 0

    def readall(self):
        return [self.readimage(i) for i in range(len(self))]

    def preview(self):
        return self.readimage(0)

    # -- new datastores --------------------------------------------------------------------------------------
    def subset(self, indices):
        """The files at ``indices`` (0-based integers or a boolean mask), with their labels."""
        idx = np.asarray(indices)
        if idx.dtype == bool:
            if idx.size != len(self):
                raise ConfigError(f"subset: a logical mask of {idx.size} for {len(self)} files")
            idx = np.flatnonzero(idx)
        idx = idx.astype(np.int64).ravel()
        if idx.size and (idx.min() < -len(self) or idx.max() >= len(self)):
            raise ConfigError(f"subset: indices must lie in 0..{len(self) - 1}")
        labels = self._labels[idx] if self._labels is not None else None
        return ImageDatastore([self._files[i] for i in idx], labels, self.ReadFcn, self._read_size)

    def shuffle(self, Seed=None):
        """A new datastore with the files in random order, drawn from MATLAB's global stream (``Seed``, leuknet's
        addition: from a stream of its own)."""
        rng = stream_for(Seed)
        return self.subset(rng.permutation(len(self)))

    def countEachLabel(self):
        return countEachLabel(self)

    def splitEachLabel(self, *args, **kwargs):
        return splitEachLabel(self, *args, **kwargs)

    def partition(self, n, index):
        """``partition(imds, N, index)`` (0-based ``index``): the index-th of N interleaved parts."""
        return self.subset(np.arange(index, len(self), n))

    # -- to the training pipeline ----------------------------------------------------------------------------
    def image_data(self, input_size, classes=None, colorspace="rgb", color_preprocessing="none",
                   fn="trainNetwork"):
        """``(ImageData, classes)`` for the network: files decoded (in parallel), resized to the input layer's
        size with antialiasing (MATLAB requires images of the input size from a plain datastore; leuknet resizes
        and says so once), kept in memory when they fit. ``classes`` fixes the class order."""
        from leuknet.data.pipeline import load_image_data

        if not len(self):
            raise DataError(f"{fn}: the datastore has no files")
        h, w, c = (tuple(input_size) + (3,))[:3]
        if self.has_labels:
            y = as_categorical(fn, self.Labels, classes)
            labels, cats = y.codes, y.categories
        else:
            labels, cats = np.zeros(len(self), np.int32), classes
        if self.ReadFcn is not None:
            from leuknet.data.pipeline import ImageData

            images = np.stack([_read_fcn_image(fn, self.ReadFcn(f), (h, w, c), f) for f in self._files])
            return ImageData(labels, (h, w), colorspace, images=images, **_channel_kwargs(c)), cats
        data, bad = load_image_data(self._files, labels, (h, w), colorspace, on_bad="raise",
                                    **_channel_kwargs(c, color_preprocessing))
        sizes = getattr(data, "source_sizes", None)
        if sizes is None or np.any(np.asarray(sizes) != (h, w)):
            note(_PLAIN_RESIZE.format(fn=fn))
        if c == 3 and color_preprocessing == "none" and is_grey_file(self._files[0]):
            note("leuknet replicates grey images to the three channels of the input layer; MATLAB needs "
                 "augmentedImageDatastore(..., 'ColorPreprocessing', 'gray2rgb')")
        return data, cats


def _channel_kwargs(c, color_preprocessing="none"):
    """ImageData / load_image_data keywords for ``c`` channels (only where the pipeline has them)."""
    from leuknet.data import pipeline

    params = pipeline.load_image_data.__code__.co_varnames
    kw = {}
    if "channels" in params:
        kw["channels"] = c
        if color_preprocessing != "none":
            kw["color_preprocessing"] = color_preprocessing
    elif c != 3:
        raise DataError(f"grey input ({c} channel) needs the pipeline's channel support")
    return kw


def is_grey_file(path):
    """Whether an image file holds one channel (read from its header by OpenCV)."""
    import cv2

    img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    return img is not None and (img.ndim == 2 or img.shape[2] == 1)


def _imread(path):
    from leuknet.matlab.images import imread

    return imread(path)


_PLAIN_RESIZE = ("leuknet resizes the images of a plain imageDatastore to the input layer's size (bilinear, "
                 "antialiased); MATLAB's {fn} requires them at that size or an augmentedImageDatastore")


def _fit_image(fn, img, size, source, what, resize_note):
    """An image a user's function returned (a ReadFcn's, a transform's), H x W or H x W x C of any class the
    caller has settled, at the input layer's ``size`` = (h, w, c): grey replicated to 3 channels, resized with
    MATLAB's antialiased bilinear ``imresize`` (``resize_note`` said once) where its size differs."""
    from leuknet.data.pipeline import resize_uint8_np
    from leuknet.matlab.images import imresize

    a = np.asarray(img)
    if a.ndim == 2:
        a = a[..., None]
    if a.ndim != 3 or a.dtype.kind not in "biuf":
        raise DataError(f"{fn}: {source} returned {a.dtype} of shape {a.shape} for {what}; expected an image "
                        "(H x W or H x W x C)")
    h, w, c = size
    if a.shape[2] == 1 and c == 3:
        a = np.repeat(a, 3, axis=2)
    if a.shape[2] != c:
        raise DataError(f"{fn}: {source} returned {a.shape[2]} channels for {what}; the input layer takes {c}")
    if a.shape[:2] != (h, w):
        note(resize_note.format(fn=fn))
        resized = resize_uint8_np(a, (h, w)) if a.dtype == np.uint8 else imresize(a, [h, w])
        a = np.asarray(resized, a.dtype).reshape(h, w, c)
    return np.ascontiguousarray(a)


def _read_fcn_image(fn, img, size, path):
    """A ReadFcn's image as uint8 (MATLAB's im2uint8 scaling: uint16 / 257, logical true -> 255, floats x 255)."""
    a = np.asarray(img)
    if a.dtype != np.uint8 and a.dtype.kind in "biuf":
        from leuknet.matlab.images import im2uint8

        a = np.asarray(im2uint8(a))
    return _fit_image(fn, a, size, "ReadFcn", path, _PLAIN_RESIZE)


def imageDatastore(location, *args, **kwargs):
    """``imds = imageDatastore(location, 'IncludeSubfolders', true, 'LabelSource', 'foldernames')``.

    ``location``: a folder, a file, a wildcard pattern or a list of them. Options: ``IncludeSubfolders``
    (default false, as MATLAB), ``LabelSource`` ('none' | 'foldernames': the name of the folder that contains each
    file), ``FileExtensions`` (default: the image formats MATLAB's ``imformats`` reads that OpenCV decodes),
    ``ReadFcn`` (a function of a file name returning an image), ``Labels`` (labels given directly)."""
    fn = "imageDatastore"
    _, _, o = parse(fn, args, kwargs, {"IncludeSubfolders": False, "LabelSource": "none",
                                       "FileExtensions": DEFAULT_EXTENSIONS, "ReadFcn": None, "Labels": None,
                                       "ReadSize": 1}, max_positional=0)
    include = boolean(fn, "IncludeSubfolders", o["IncludeSubfolders"])
    source = choice(fn, "LabelSource", o["LabelSource"], ("none", "foldernames"))
    exts = o["FileExtensions"]
    exts = [exts] if isinstance(exts, str) else list(exts)
    if o["ReadFcn"] is not None and not callable(o["ReadFcn"]):
        raise ConfigError(f"{fn}: ReadFcn must be a function of a file name, received {o['ReadFcn']!r}")
    read_size = number(fn, "ReadSize", o["ReadSize"], integer=True, low=1)
    files = _expand_location(fn, location, include, exts)
    if not files:
        hint = "" if include else " (files in sub-folders need 'IncludeSubfolders', true)"
        raise DataError(f"{fn}: no files with extensions {', '.join(exts)} found at {location!r}{hint}")
    labels = None
    if o["Labels"] is not None:
        if source == "foldernames":
            raise ConfigError(f"{fn}: give either 'Labels' or 'LabelSource', 'foldernames', not both")
        labels = o["Labels"]
    elif source == "foldernames":
        labels = [Path(f).parent.name for f in files]
    return ImageDatastore(files, labels, o["ReadFcn"], read_size)


# ------------------------------------------------------------------------------------------------------------
# functions on datastores

def _datastore(fn, imds):
    if isinstance(imds, tuple) and imds and all(isinstance(d, ImageDatastore) for d in imds):
        raise ConfigError(f"{fn}: received {len(imds)} datastores (splitEachLabel returns all its outputs: unpack "
                          "them, or pass nargout=1 for the first alone)")
    if not isinstance(imds, ImageDatastore):
        raise ConfigError(f"{fn}: expected an imageDatastore, received {type(imds).__name__}")
    return imds


def _labelled(fn, imds):
    imds = _datastore(fn, imds)
    if not imds.has_labels:
        raise DataError(f"{fn}: the datastore has no labels (create it with 'LabelSource', 'foldernames', or set "
                        "imds.Labels; assigning imds.Files empties them, as in MATLAB)")
    return imds


def countEachLabel(imds):
    """``tbl = countEachLabel(imds)``: a :class:`Table` with ``Label`` (categorical) and ``Count`` (int), a row per
    label that has files, in category order: MathWorks' ImageDatastore counts with ``findgroups`` on the labels
    (``groupAndCountLabels``), which groups the values present, so a category left without files (after
    ``splitEachLabel(..., 'Exclude', ...)`` or a count split) has no row, and ``min(tbl.Count)`` is the smallest
    label that has files, as the balancing lines of scripts expect."""
    imds = _labelled("countEachLabel", imds)
    lab = imds.Labels
    counts = np.bincount(lab.codes[lab.codes >= 0], minlength=len(lab.categories))
    present = np.flatnonzero(counts)
    return Table(Label=Categorical(categories=lab.categories, codes=present.astype(np.int32)),
                 Count=counts[present].astype(np.int64))


def _label_set(fn, what, v, cats):
    names = [str(v)] if isinstance(v, str) else [str(x) for x in (v.tolist() if hasattr(v, "tolist") else v)]
    unknown = [n for n in names if n not in cats]
    if unknown:
        raise ConfigError(f"{fn}: {what} label {unknown[0]!r} is not one of {cats}")
    return set(names)


def splitEachLabel(imds, *args, nargout=None, **kwargs):
    """``[imds1, ..., imdsM] = splitEachLabel(imds, p1, ..., pN, 'randomized', 'Include', ..., 'Exclude', ...)``.

    Each ``p`` is a proportion in (0, 1) of every label's files (MATLAB's split points ``round(cumsum(n * p))``:
    :func:`leuknet.data.split.split_sizes`) or an integer count per label (``8000``: the sum of counts must not
    exceed the smallest label's). Returns the N splits plus the remainder, leaving the remainder out only where
    proportions sum to 1 (as MATLAB's N-output call; it would be empty);
    ``nargout=K`` gives exactly the first K (``nargout=1``: the datastore alone). ``'randomized'`` draws the files
    of each split at random, from MATLAB's global stream (:func:`~leuknet.matlab.randstream.rng`: two calls give two
    different splits, every run of a script the same ones; ``Seed=``, leuknet's, draws from a stream of its own);
    else in file order. ``Include``/``Exclude``:
    labels to split (the others are left out of every output, as MATLAB)."""
    fn = "splitEachLabel"
    imds = _labelled(fn, imds)
    pos, flags, o = parse(fn, args, kwargs, {"Include": None, "Exclude": None, "Seed": None},
                          flags=("randomized",))
    if not pos:
        raise ConfigError(f"{fn}: give at least one proportion or count, e.g. splitEachLabel(imds, 0.7)")
    ps = []
    for p in pos:
        try:
            ps.append(float(p))
        except (TypeError, ValueError):
            raise ConfigError(f"{fn}: proportions must be numbers in (0, 1) or integer counts, received {p!r}") \
                from None
    lab = imds.Labels
    cats = lab.categories
    keep = set(cats)
    if o["Include"] is not None:
        keep = _label_set(fn, "Include", o["Include"], cats)
    if o["Exclude"] is not None:
        keep -= _label_set(fn, "Exclude", o["Exclude"], cats)
    fractions = all(0 < p < 1 for p in ps)
    counts = all(p >= 1 and float(p).is_integer() for p in ps)
    if not (fractions or counts):
        given = ", ".join(f"{p:g}" for p in ps)
        bad = [p for p in ps if not (0 < p < 1 or (p >= 1 and float(p).is_integer()))]
        why = (f"{bad[0]:g} is neither a proportion in (0, 1) nor a count of at least 1 file per label"
               + (" (a count from countEachLabel of a label with no files?)" if bad[0] == 0 else "")) if bad else \
            "proportions and counts mixed"
        raise ConfigError(f"{fn}: give proportions in (0, 1) or integer counts >= 1, received {given}: {why}")
    per_label = {c: np.flatnonzero(lab.codes == i) for i, c in enumerate(cats) if c in keep}
    if counts:
        smallest = min(len(v) for v in per_label.values())
        if sum(ps) > smallest:
            small = min(per_label, key=lambda c: len(per_label[c]))
            raise DataError(f"{fn}: the counts sum to {int(sum(ps))}, more than the {smallest} files of label "
                            f"{small!r} (the smallest)")
    elif sum(ps) > 1 + 1e-9:
        raise ConfigError(f"{fn}: proportions sum to {sum(ps):g}, more than 1")
    fills = fractions and abs(sum(ps) - 1.0) < 1e-9
    rng = stream_for(o["Seed"])
    parts = [[] for _ in range(len(ps) + 1)]
    for idx in per_label.values():
        if "randomized" in flags:
            idx = idx[rng.permutation(len(idx))]
        sizes = [int(p) for p in ps] if counts else split_sizes(len(idx), ps)
        start = 0
        for k, s in enumerate(sizes):
            parts[k].extend(idx[start : start + s].tolist())
            start += s
        parts[len(ps)].extend(idx[start:].tolist())
    if fills:  # MATLAB's [s1, ..., sN] = splitEachLabel(imds, p1, ..., pN): no (N+1)th output (it would be empty)
        parts = parts[:-1]
    out = tuple(imds.subset(np.array(sorted(p), np.int64)) for p in parts)
    if nargout is not None:
        if nargout > len(out):
            raise ConfigError(f"{fn}: too many output arguments (nargout={nargout}; it has {len(out)})")
        return out[0] if nargout == 1 else out[:nargout]
    return out


def _any_datastore(fn, ds):
    """An image datastore, or another datastore with the method ``fn`` (transformed, augmented)."""
    if isinstance(ds, ImageDatastore) or (callable(getattr(ds, fn, None)) and hasattr(ds, "image_data")):
        return ds
    return _datastore(fn, ds)


def readimage(imds, i, nargout=None):
    """``I = readimage(imds, i)`` with a 0-based ``i``."""
    return _any_datastore("readimage", imds).readimage(i, nargout=nargout)


def read(ds, nargout=None):
    """``data = read(ds)``: the next observation (``[data, info]`` with ``nargout=2``)."""
    return _any_datastore("read", ds).read(nargout=nargout)


def hasdata(ds):
    return _any_datastore("hasdata", ds).hasdata()


def reset(ds):
    _any_datastore("reset", ds).reset()


def preview(ds):
    return _any_datastore("preview", ds).preview()


def readall(imds):
    return _any_datastore("readall", imds).readall()


def shuffle(imds, Seed=None):
    return _any_datastore("shuffle", imds).shuffle(Seed)


def subset(imds, indices):
    return _any_datastore("subset", imds).subset(indices)


def numel(x):
    """``numel``: files of a datastore, observations of an augmented datastore, elements of an array."""
    if isinstance(x, ImageDatastore):
        return len(x)
    if hasattr(x, "NumObservations"):
        return int(x.NumObservations)
    if isinstance(x, Categorical):
        return len(x)
    return int(np.size(x))


# ------------------------------------------------------------------------------------------------------------
# arrays of images

def image_array(fn, X, input_size=None):
    """Images as an N x H x W x C array: accepts N x H x W x C, MATLAB's H x W x C x N (what ``scipy.io.loadmat``
    gives; told apart by the input layer's size ``input_size`` (h, w, c)), H x W x N for grey images
    (MATLAB's H x W x 1 x N squeezed) and one H x W x C image."""
    X = np.asarray(X)
    if X.dtype == object:
        raise DataError(f"{fn}: images must be a numeric array, received an array of objects")
    size = tuple(int(v) for v in input_size) if input_size is not None else None
    if X.ndim == 2:
        X = X[None, :, :, None]
    elif X.ndim == 3:
        if size is not None and X.shape == size:
            X = X[None]  # one H x W x C image
        elif size is not None and size[2] == 1 and X.shape[:2] == size[:2]:
            X = np.moveaxis(X, 2, 0)[..., None]  # H x W x N grey
        elif size is not None and size[2] == 1 and X.shape[1:] == size[:2]:
            X = X[..., None]  # N x H x W grey
        elif size is None and X.shape[-1] in (1, 3):
            X = X[None]
        else:
            raise DataError(f"{fn}: an array of shape {X.shape} is not one image of the input size {size}")
    elif X.ndim != 4:
        raise DataError(f"{fn}: images must be an N x H x W x C (or MATLAB's H x W x C x N) array, received "
                        f"shape {X.shape}")
    if size is not None and X.ndim == 4:
        if tuple(X.shape[1:]) == size:
            pass
        elif tuple(X.shape[:3]) == size:
            X = np.moveaxis(X, 3, 0)  # MATLAB's H x W x C x N
        elif tuple(X.shape[1:3]) == size[:2] or tuple(X.shape[:2]) == size[:2]:
            have = X.shape[3] if tuple(X.shape[1:3]) == size[:2] else X.shape[2]
            raise DataError(f"{fn}: the images have {have} channels, the input layer takes {size[2]}")
        else:
            raise DataError(f"{fn}: images of shape {tuple(X.shape)} (N x H x W x C or H x W x C x N) do not match "
                            f"the input layer's size {list(size)}; resize them or use augmentedImageDatastore")
    return X


def as_label_array(fn, Y):
    """A label argument (categorical, strings, numbers, a table column) -> Categorical."""
    if isinstance(Y, Categorical):
        return Y
    if Y is None:
        raise ConfigError(f"{fn}: no labels given")
    return Categorical(Y)

