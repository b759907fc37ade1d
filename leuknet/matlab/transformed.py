"""MATLAB's ``transform`` of a datastore: ``dsnew = transform(ds, @fcn)`` and ``transform(ds, @fcn,
'IncludeInfo', true)``, as training scripts use it for preprocessing and for augmentation written by hand.

    def augment_and_label(data, info):
        tform = randomAffine2d("Rotation", [-10, 10])
        data = imwarp(data, tform, "OutputView", affineOutputView(size(data), tform))
        return [data, info["Label"]], info
    dsTrain = transform(imdsTrain, augment_and_label, "IncludeInfo", True)
    net = trainNetwork(dsTrain, layers, options)

Sources (MathWorks):
- transform: https://www.mathworks.com/help//releases/R2021a/matlab/ref/matlab.io.datastore.transform.html
  (``fcn`` before or after the datastore; with ``'IncludeInfo'`` the function takes ``(data, info)`` and returns
  ``[dataOut, infoOut]``, here a tuple); TransformedDatastore:
  https://mathworks.com/help/matlab/ref/matlab.io.datastore.transformeddatastore.html (``read`` applies the
  functions, in order, to each read of the underlying datastore; ``preview``, ``readall``, ``hasdata``,
  ``reset``, ``shuffle``, ``partition``; transforming it again appends a function).
- Datastores for deep learning: https://www.mathworks.com/help/deeplearning/ug/datastores-for-deep-learning.html.
  A datastore other than an image datastore trains only when its read returns a two-column cell, the image and
  its categorical label: ``transform(imds, @f)`` loses the labels unless ``f`` returns ``{image, label}``
  (MathWorks' augmentation examples take the label from ``info.Label``). Otherwise trainNetwork stops with
  "the datastore read function must return a cell array with 2 columns, but it returns a cell array with 1
  column"; leuknet says the same, with the fix.

As in MATLAB, the function runs at every read: in training each epoch reads every image afresh, so a random
transform gives new images every epoch. Draws from MATLAB's global stream in the function (``rand``, ``randi``,
``randn``, ``randperm``, ``randomAffine2d`` of ``leuknet.matlab``) come, for each read, from a stream of that
read's own seeded from the run's seed and the read's position, so a rerun gives the same images however the
pipeline schedules its reads (one read at a time). NumPy's own ``np.random`` is not that stream: draws from it in
the function differ from run to run.

A transformed datastore reads its own copy of the datastore, from the start; ``read`` passes the function what
the datastore's ``read`` returns (with ``ReadSize`` n > 1, a list of n images and the info's lists). Where
leuknet differs: training reads one observation at a time (with ``ReadSize`` n > 1 the function receives lists of
one image, as in MATLAB's last short read, where MATLAB's training passes n); the label of each image is taken from its first read (MATLAB's function could in principle change it between
epochs); an image of another size than the input layer's is resized (bilinear, antialiased; said once), where
MATLAB stops. ``transform`` of several datastores at once is not provided.

``combine(ds1, ds2, ...)`` (https://www.mathworks.com/help/matlab/ref/matlab.io.datastore.combine.html) reads the
datastores side by side, a read that is not a cell (a list) becoming one element, so
``combine(transform(imds, @preprocess), arrayDatastore(imds.Labels))`` reads ``[image, label]`` as trainNetwork
wants; ``arrayDatastore(A)`` (https://www.mathworks.com/help/matlab/ref/matlab.io.datastore.arraydatastore.html)
reads the slices of ``A`` along ``IterationDimension`` (default 1), each in a one-element list ('OutputType'
'cell', the default) or as it is ('same'). Only the 'associated' read order and ``ReadSize`` 1 are provided.
"""

from __future__ import annotations

import copy
import threading

import numpy as np

from leuknet.errors import ConfigError, DataError
from leuknet.matlab.conventions import boolean, choice, number, outputs, parse
from leuknet.matlab.datastore import ReadInfo, _fit_image
from leuknet.spec.randstream import draw_seed, global_stream, stream_for

__all__ = ["transform", "TransformedDatastore", "combine", "CombinedDatastore", "arrayDatastore",
           "ArrayDatastore"]

_READS = threading.RLock()  # one transformed read at a time: a user's function need not be thread-safe


class _ObservationStore:
    """A datastore leuknet can read observation by observation (``_observation(i)``, ``len``): what trainNetwork,
    classify and predict take from a transformed, combined or array datastore."""

    @property
    def NumObservations(self):
        return len(self)

    def readimage(self, i, nargout=None):
        return self._observation(i, nargout)

    def transform(self, fcn, *args, **kwargs):
        return transform(self, fcn, *args, **kwargs)

    # -- to the training pipeline ------------------------------------------------------------------------------
    def image_data(self, input_size, classes=None, colorspace="rgb", fn="trainNetwork"):
        """``(ImageData, classes)``: every observation read once (the images fitted to the input layer and the
        labels, for training; the image alone or the first column for prediction), then read afresh through the
        functions at every read of the pipeline."""
        from leuknet.data.pipeline import ImageData
        from leuknet.matlab.datastore import as_categorical

        if not len(self):
            raise DataError(f"{fn}: the datastore has no observations")
        h, w, c = (tuple(int(v) for v in input_size) + (3,))[:3]
        training = fn == "trainNetwork"  # training and validation data need labels; prediction does not
        seed = int(np.random.randint(0, 2**31 - 1)) if fn == "trainNetwork" else draw_seed()
        images, labels = [], []
        for i in range(len(self)):
            with _READS, global_stream(_read_stream(seed, -1, i)):
                img, label = _split(fn, self._observation(i), need_label=training)
            images.append(_fit(fn, img, (h, w, c), i))
            labels.append(label)
        if training:
            y = as_categorical(fn, labels, classes)
            codes, cats = y.codes, y.categories
        else:
            codes, cats = np.zeros(len(self), np.int32), classes
        stored = np.stack(images)  # uint8 if every image is, else float32 values
        data = ImageData(codes, (h, w), colorspace, images=stored, channels=c)
        data.augmenter = _Reads(self, (h, w, c), fn, np.arange(len(self)), stored.dtype)
        data.augment_seed = seed
        return data, (list(cats) if cats is not None else None)



class TransformedDatastore(_ObservationStore):
    """A datastore whose reads go through ``Transforms`` (functions, in order); ``UnderlyingDatastores`` holds the
    datastore read, ``IncludeInfo`` whether each function takes and returns the read's info."""

    def __init__(self, underlying, transforms, include_info):
        self.UnderlyingDatastores = [_own_copy(underlying)]
        self.Transforms = list(transforms)
        self.IncludeInfo = [bool(v) for v in include_info]

    @property
    def _ds(self):
        return self.UnderlyingDatastores[0]

    def __len__(self):
        return len(self._ds)

    def _apply(self, data, info):
        for fcn, with_info in zip(self.Transforms, self.IncludeInfo):
            if with_info:
                out = fcn(data, info)
                if not (isinstance(out, tuple) and len(out) == 2):
                    raise DataError(f"transform: a function with 'IncludeInfo' true must return (dataOut, infoOut), "
                                    f"received {type(out).__name__}")
                data, info = out
            else:
                data = fcn(data)
        return data, info

    def _observation(self, i, nargout=None):
        """Observation i through the functions, given to them as a read gives it: with ``ReadSize`` > 1 a list of
        one image and the info's lists (MATLAB's last, short read)."""
        if isinstance(self._ds, _ObservationStore):  # a combined or array datastore: its observation, no info
            data, info = self._ds._observation(int(i)), ReadInfo()
        elif getattr(self._ds, "ReadSize", 1) > 1:
            data, info = self._ds._read_rows([int(i)])
        else:
            data, info = self._ds.readimage(int(i), nargout=2)
        return outputs("read", self._apply(data, info), nargout)

    # -- MATLAB's methods --------------------------------------------------------------------------------------
    def hasdata(self):
        return self._ds.hasdata()

    def read(self, nargout=None):
        """The next observation through the functions (``[data, info] = read(ds)`` with ``nargout=2``)."""
        data, info = self._ds.read(nargout=2) if not isinstance(self._ds, _ObservationStore) else (
            self._ds.read(), ReadInfo())
        return outputs("read", self._apply(data, info), nargout)

    def reset(self):
        self._ds.reset()

    def preview(self):
        """The first read of a reset copy, through the functions (MATLAB's Datastore.preview: with ``ReadSize``
        n > 1 the rows of that read, at most 8), leaving this datastore's position as it is."""
        out = TransformedDatastore(self._ds, self.Transforms, self.IncludeInfo).read()
        return out[:8] if getattr(self._ds, "ReadSize", 1) > 1 and isinstance(out, list) else out

    def readall(self):
        """Every observation through the functions, in order (a list; MATLAB's N x 1 or N x 2 cell: with
        ``ReadSize`` > 1 the rows each read returns, joined)."""
        if getattr(self._ds, "ReadSize", 1) == 1:
            return [self._observation(i) for i in range(len(self))]
        reads, rows = TransformedDatastore(self._ds, self.Transforms, self.IncludeInfo), []
        while reads.hasdata():
            out = reads.read()
            rows.extend(out) if isinstance(out, list) else rows.append(out)
        return rows

    def shuffle(self, Seed=None):
        return TransformedDatastore(self._ds.shuffle(Seed=Seed), self.Transforms, self.IncludeInfo)

    def subset(self, indices):
        return TransformedDatastore(self._ds.subset(indices), self.Transforms, self.IncludeInfo)

    def partition(self, n, index):
        return TransformedDatastore(self._ds.partition(n, index), self.Transforms, self.IncludeInfo)

    def __repr__(self):
        names = ", ".join(f"@{getattr(f, '__name__', 'fcn')}" for f in self.Transforms)
        return (f"  TransformedDatastore with properties:\n\n    UnderlyingDatastores: {{{type(self._ds).__name__}}}\n"
                f"              Transforms: {{{names}}}\n             IncludeInfo: {{{self.IncludeInfo}}}\n")

def _read_stream(seed, pass_no, k):
    return np.random.default_rng([int(seed) & 0x7FFFFFFF, int(pass_no) + 1, int(k), 7])


def _split(fn, out, need_label):
    """A read as (image, label): a pair [image, label] (MATLAB's 1 x 2 cell, also as a one-row list [[image,
    label]]), or an image alone (no label)."""
    if isinstance(out, (list, tuple)) and len(out) == 1:
        out = out[0]
    if isinstance(out, (list, tuple)) and len(out) == 2 and np.ndim(out[0]) >= 2:
        return np.asarray(out[0]), out[1]
    if need_label:
        raise DataError(f"{fn}: for a network with 1 input and 1 output, the datastore read function must return "
                        "a cell array with 2 columns (the image and its label), but it returns 1 column: return "
                        "[image, info['Label']] from a function transformed with 'IncludeInfo', True")
    return np.asarray(out), None


def _fit(fn, img, size, i):
    """One transformed image at the input layer's ``size``: uint8 as it is, any other class as its values in
    float32 (MATLAB's network takes an image's values as they are: a double image of 0..255 is not rescaled)."""
    a = np.asarray(img)
    if a.dtype != np.uint8 and a.dtype.kind in "biuf":
        a = a.astype(np.float32)
    return _fit_image(fn, a, size, "the transform", f"observation {i}", _TRANSFORM_RESIZE)


_TRANSFORM_RESIZE = ("leuknet resizes the images of a transformed datastore to the input layer's size (bilinear, "
                     "antialiased); MATLAB's {fn} requires the transform to return images of that size")


class _Reads:
    """The pipeline's reader of a transformed datastore: stored image ``i`` replaced at each read by observation
    ``index[i]`` read afresh through the functions (see :class:`leuknet.data.pipeline.ImageData`)."""

    def __init__(self, ds, size, fn, index, dtype):
        self.ds, self.size, self.fn, self.index, self.dtype = ds, size, fn, np.asarray(index, np.int64), dtype

    def read_index(self, i, rng):
        j = int(self.index[int(i)])
        with _READS, global_stream(rng):  # the pipeline's stream of this read (seed, pass, position)
            img, _ = _split(self.fn, self.ds._observation(j), need_label=False)
        return _fit(self.fn, img, self.size, j).astype(self.dtype, copy=False)

    def subset(self, indices):
        return _Reads(self.ds, self.size, self.fn, self.index[np.asarray(indices, np.int64)], self.dtype)


def transform(*args, **kwargs):
    """``transform(ds, fcn)``, ``transform(fcn, ds)``, ``transform(ds, fcn, 'IncludeInfo', True)``: a
    TransformedDatastore reading ``ds`` through ``fcn`` (see the module's docstring)."""
    fn = "transform"
    stores = [a for a in args if _is_datastore(a)]
    fcns = [a for a in args if callable(a) and not _is_datastore(a)]
    rest = [a for a in args if not _is_datastore(a) and not callable(a)]
    if any(hasattr(a, "image_data") and not _is_datastore(a) for a in args):
        raise ConfigError(f"{fn}: leuknet transforms an imageDatastore (or a transformed one), not an "
                          "augmentedImageDatastore: transform the imageDatastore and augment in the function")
    if len(stores) != 1 or len(fcns) != 1:
        raise ConfigError(f"{fn}: expected one datastore and one function (transform(ds, @fcn)), received "
                          f"{len(stores)} datastore(s) and {len(fcns)} function(s); transform of several "
                          "datastores is not provided")
    _, _, o = parse(fn, rest, kwargs, {"IncludeInfo": False}, max_positional=0)
    include = boolean(fn, "IncludeInfo", o["IncludeInfo"])
    ds = stores[0]
    if isinstance(ds, TransformedDatastore):
        return TransformedDatastore(ds._ds, ds.Transforms + fcns, ds.IncludeInfo + [include])
    return TransformedDatastore(ds, fcns, [include])


class CombinedDatastore(_ObservationStore):
    """MATLAB's ``combine(ds1, ds2, ...)``: each read is the reads of the datastores side by side (a read that is
    not a list becomes one element), so ``combine(imds, arrayDatastore(labels))`` reads ``[image, label]``."""

    def __init__(self, stores):
        self.UnderlyingDatastores = [_own_copy(ds) for ds in stores]

    def __len__(self):
        return min(len(ds) for ds in self.UnderlyingDatastores)

    @staticmethod
    def _side_by_side(parts):
        row = []
        for p in parts:
            row.extend(p) if isinstance(p, list) else row.append(p)
        return row

    def _observation(self, i, nargout=None):
        return outputs("read", (self._side_by_side(_one(ds, int(i)) for ds in self.UnderlyingDatastores),
                                ReadInfo()), nargout)

    def hasdata(self):
        return all(ds.hasdata() for ds in self.UnderlyingDatastores)

    def read(self, nargout=None):
        parts = [ds.read() for ds in self.UnderlyingDatastores]
        return outputs("read", (self._side_by_side(parts), ReadInfo()), nargout)

    def reset(self):
        for ds in self.UnderlyingDatastores:
            ds.reset()

    def preview(self):
        return CombinedDatastore(self.UnderlyingDatastores).read()

    def readall(self):
        return [self._observation(i) for i in range(len(self))]

    def shuffle(self, Seed=None):
        """The same random order for every datastore, so the pairs stay together."""
        return self.subset(stream_for(Seed).permutation(len(self)))

    def subset(self, indices):
        return CombinedDatastore([ds.subset(indices) for ds in self.UnderlyingDatastores])

    def __repr__(self):
        kinds = ", ".join(type(ds).__name__ for ds in self.UnderlyingDatastores)
        return f"  CombinedDatastore with properties:\n\n    UnderlyingDatastores: {{{kinds}}}\n"


class ArrayDatastore(_ObservationStore):
    """MATLAB's ``arrayDatastore(A)``: the slices of ``A`` along ``IterationDimension`` (1-based, default 1), each
    read one slice, in a one-element list (``OutputType`` 'cell', the default) or as it is ('same')."""

    def __init__(self, data, dim, output_type):
        self._data, self.IterationDimension, self.OutputType = data, dim, output_type
        self._position = 0

    def __len__(self):
        return len(self._data) if self.IterationDimension == 1 and not isinstance(self._data, np.ndarray) else \
            np.shape(self._data)[self.IterationDimension - 1]

    def _slice(self, i):
        if isinstance(self._data, np.ndarray):
            return np.take(self._data, i, axis=self.IterationDimension - 1)
        return self._data[i]

    def _observation(self, i, nargout=None):
        v = self._slice(int(i))
        return outputs("read", ([v] if self.OutputType == "cell" else v, ReadInfo()), nargout)

    def hasdata(self):
        return self._position < len(self)

    def read(self, nargout=None):
        if not self.hasdata():
            raise DataError("read: no more data in the datastore; call reset(ds)")
        self._position += 1
        return self._observation(self._position - 1, nargout)

    def reset(self):
        self._position = 0

    def preview(self):
        return self._observation(0)

    def readall(self):
        return [self._observation(i) for i in range(len(self))]

    def subset(self, indices):
        idx = np.asarray(indices, np.int64)
        if isinstance(self._data, np.ndarray):
            data = np.take(self._data, idx, axis=self.IterationDimension - 1)
        else:
            data = self._data[idx]
        return ArrayDatastore(data, self.IterationDimension, self.OutputType)

    def shuffle(self, Seed=None):
        return self.subset(stream_for(Seed).permutation(len(self)))

    def __repr__(self):
        return (f"  ArrayDatastore with properties:\n\n              ReadSize: 1\n    IterationDimension: "
                f"{self.IterationDimension}\n            OutputType: \"{self.OutputType}\"\n")


def arrayDatastore(A, *args, **kwargs):
    """``arrayDatastore(A, 'IterationDimension', d, 'OutputType', 'cell' | 'same')``: a datastore of the slices of
    ``A`` (an array, a categorical or a list); ``ReadSize`` 1 only."""
    fn = "arrayDatastore"
    _, _, o = parse(fn, args, kwargs, {"IterationDimension": 1, "OutputType": "cell", "ReadSize": 1},
                    max_positional=0)
    from leuknet.matlab.datastore import Categorical

    output = choice(fn, "OutputType", o["OutputType"], ("cell", "same"))
    if number(fn, "ReadSize", o["ReadSize"], integer=True, low=1) != 1:
        raise ConfigError(f"{fn}: leuknet reads one slice at a time (ReadSize 1)")
    data = A if isinstance(A, Categorical) else np.asarray(A)
    dims = 1 if isinstance(data, Categorical) else max(data.ndim, 1)
    dim = number(fn, "IterationDimension", o["IterationDimension"], integer=True, low=1, high=dims)
    if not isinstance(data, Categorical) and data.ndim == 0:
        raise ConfigError(f"{fn}: expected an array of observations, received a scalar")
    return ArrayDatastore(data, dim, output)


def combine(*stores, **kwargs):
    """``combine(ds1, ds2, ...)``: a datastore reading them side by side (see :class:`CombinedDatastore`)."""
    fn = "combine"
    _, _, o = parse(fn, (), kwargs, {"ReadOrder": "associated"}, max_positional=0)
    if choice(fn, "ReadOrder", o["ReadOrder"], ("associated", "sequential")) != "associated":
        raise ConfigError(f"{fn}: 'ReadOrder', 'sequential' is not provided by leuknet")
    if len(stores) < 2 or not all(_is_datastore(ds) for ds in stores):
        raise ConfigError(f"{fn}: expected two or more datastores (imageDatastore, transform, arrayDatastore), "
                          f"received {', '.join(type(ds).__name__ for ds in stores) or 'none'}")
    lengths = {len(ds) for ds in stores}
    if len(lengths) > 1:
        raise DataError(f"{fn}: the datastores hold {' and '.join(map(str, sorted(lengths)))} observations; "
                        "combined reads pair them one to one")
    return CombinedDatastore(stores)


def _one(ds, i):
    """Observation ``i`` of a datastore as its read gives it (an image datastore's image alone)."""
    if isinstance(ds, _ObservationStore):
        return ds._observation(i)
    return ds.readimage(i)


def _own_copy(ds):
    """The datastore read from the start by a new transformed datastore, apart from the one given (whose reads
    go on where they were)."""
    ds = copy.copy(ds)
    ds.reset()
    return ds


def _is_datastore(x):
    from leuknet.matlab.datastore import ImageDatastore

    return isinstance(x, (ImageDatastore, _ObservationStore))
