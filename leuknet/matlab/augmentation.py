"""MATLAB's ``imageDataAugmenter``, ``augment`` and ``augmentedImageDatastore``, on leuknet's tf.data pipeline.

    aug = imageDataAugmenter("RandRotation", [-20, 20], "RandXReflection", True, "RandXTranslation", [-3, 3])
    augimds = augmentedImageDatastore([224, 224], imdsTrain, "DataAugmentation", aug,
                                      "ColorPreprocessing", "gray2rgb")
    net = trainNetwork(augimds, layers, options)

Sources (MathWorks): ``imageDataAugmenter`` and ``augment`` are the core's, :mod:`leuknet.spec.augmenter` (its
docstring cites their pages), re-exported here;
- augmentedImageDatastore: https://www.mathworks.com/help//releases/R2021a/deeplearning/ref/augmentedimagedatastore.html
  (augments afresh each epoch; the input layer's statistics come from the augmented images). The order colour
  preprocessing -> augmentation -> resize or crop, the crop windows (centercrop at floor((H-h)/2), randcrop at
  floor((H-h) * rand)) and the antialiased bilinear resize follow MathWorks' ``augmentedImageDatastore.m``.

Where leuknet differs: its random stream is NumPy's, not MATLAB's (same distributions, other numbers); the warp is
OpenCV's ``warpAffine`` (bilinear; 8-bit images interpolated with 1/32-pixel fixed-point weights). Images read
from files and cached in memory at the network's size get the transform conjugated by that resize (exact in
continuous coordinates; MATLAB warps at the file's size and resizes after, which is what leuknet does for files it
streams). ``DispatchInBackground`` is accepted and has no effect: the pipeline always decodes and augments in
parallel, ahead of the training step.
"""

from __future__ import annotations

import numpy as np

from leuknet.errors import ConfigError, DataError
from leuknet.matlab.conventions import boolean, choice, parse
from leuknet.matlab.datastore import is_grey_file
from leuknet.spec.augmenter import (RANDOM_DEFAULT, ImageDataAugmenter, augment, augmenter_from_spec,  # noqa: F401
                                    imageDataAugmenter)
from leuknet.spec.randstream import draw_seed

__all__ = ["imageDataAugmenter", "ImageDataAugmenter", "augment", "augmentedImageDatastore",
           "AugmentedImageDatastore"]

# ------------------------------------------------------------------------------------------------------------
# augmentedImageDatastore

def _output_size(v):
    try:
        a = np.asarray(v, np.float64).ravel()
    except (TypeError, ValueError):
        a = np.zeros(0)
    if a.size not in (2, 3) or not np.all(np.isfinite(a)) or np.any(a < 1) or np.any(a != np.round(a)):
        raise ConfigError(f"augmentedImageDatastore: outputSize must be [height width] (or [height width "
                          f"channels]) of positive integers, received {v!r}")
    return int(a[0]), int(a[1])


def _nhwc(X, n=None):
    """An image array as N x H x W x C: N x H x W x C, MATLAB's H x W x C x N (told apart by the channel axis,
    and by the number of labels when given), H x W x N grey images when labels say N, or one image."""
    fn = "augmentedImageDatastore"
    a = np.asarray(X)
    if a.dtype == object or a.dtype.kind not in "biuf":
        raise DataError(f"{fn}: X must be a numeric array of images, received {a.dtype}")
    if a.ndim == 2:
        return a[None, :, :, None]
    if a.ndim == 3:
        if n not in (None, 1) and a.shape[2] == n:
            return np.moveaxis(a, 2, 0)[..., None]  # H x W x N grey (MATLAB's H x W x 1 x N squeezed)
        if n not in (None, 1) and a.shape[0] == n:
            return a[..., None]
        if a.shape[2] in (1, 3):
            return a[None]
    if a.ndim == 4:
        nhwc = a.shape[3] in (1, 3) and (n is None or a.shape[0] == n)
        hwcn = a.shape[2] in (1, 3) and (n is None or a.shape[3] == n)
        if hwcn:  # both: N x H x W x C would be images 1 or 3 pixels wide
            return np.moveaxis(a, 3, 0)
        if nhwc:
            return a
    raise DataError(f"{fn}: X of shape {a.shape} is not N x H x W x C or MATLAB's H x W x C x N images"
                    f"{'' if n is None else f' for {n} labels'}")


def _convert_channels(arr, mode):
    if mode == "gray2rgb" and arr.shape[-1] == 1:
        return np.repeat(arr, 3, axis=-1)
    if mode == "rgb2gray" and arr.shape[-1] == 3:
        from leuknet.data.pipeline import RGB2GRAY_WEIGHTS

        g = arr.astype(np.float64) @ RGB2GRAY_WEIGHTS
        g = np.clip(np.floor(g + 0.5), 0, 255).astype(np.uint8) if arr.dtype == np.uint8 else g.astype(np.float32)
        return g[..., None]
    return arr


def _resize_array(arr, hw):
    """N x H x W x C resized with antialiasing (bilinear; uint8 rounded back, as the pipeline's resize): tf.image
    under TensorFlow, leuknet's NumPy ``imresize`` under another backend."""
    import keras

    if keras.backend.backend() != "tensorflow":
        from leuknet.data.pipeline import resize_float32_np, resize_uint8_np

        one = resize_uint8_np if arr.dtype == np.uint8 else resize_float32_np
        out = np.empty((len(arr), *hw, arr.shape[-1]), np.uint8 if arr.dtype == np.uint8 else np.float32)
        for i, img in enumerate(arr):
            out[i] = one(img, hw).reshape(out.shape[1:])
        return out
    import tensorflow as tf

    out = []
    for start in range(0, len(arr), 64):
        x = tf.image.resize(tf.cast(arr[start : start + 64], tf.float32), hw, method="bilinear", antialias=True)
        if arr.dtype == np.uint8:
            x = tf.cast(tf.clip_by_value(tf.floor(x + 0.5), 0.0, 255.0), tf.uint8)
        out.append(x.numpy())
    return np.concatenate(out) if out else np.zeros((0, *hw, arr.shape[-1]), arr.dtype)


class AugmentedImageDatastore:
    """MATLAB's ``augmentedImageDatastore``: ``OutputSize``, ``DataAugmentation``, ``ColorPreprocessing``,
    ``OutputSizeMode``, ``DispatchInBackground``, ``MiniBatchSize``, ``NumObservations``, ``Files`` (from an
    imageDatastore), ``Labels`` (when labelled); ``read``/``hasdata``/``reset``/``preview``/``readByIndex`` returning a table of ``input`` images and
    ``response`` labels; and, for the network code, :meth:`image_data`."""

    def __init__(self, output_size, source, labels, options):
        self.OutputSize = list(output_size)
        self.DataAugmentation = options["DataAugmentation"]
        self.ColorPreprocessing = options["ColorPreprocessing"]
        self.OutputSizeMode = options["OutputSizeMode"]
        self.DispatchInBackground = options["DispatchInBackground"]
        self.MiniBatchSize = 128
        self._source = source  # ("files", imds) or ("array", N x H x W x C)
        self._labels = labels
        self._position = 0
        self._preview_data = None
        self.augment_seed = None  # None: drawn when the data is first built (from trainNetwork's seed, or rng's)

    # -- properties ------------------------------------------------------------------------------------------
    @property
    def NumObservations(self):
        kind, src = self._source
        return len(src.Files) if kind == "files" else len(src)

    @property
    def Files(self):
        """The image files of the source ``imageDatastore`` (MathWorks' transfer-learning example counts them:
        ``numel(augimdsTrain.Files)``); a datastore built from an array has none."""
        kind, src = self._source
        if kind != "files":
            raise AttributeError("augmentedImageDatastore: a datastore built from an array has no Files; use "
                                 "NumObservations")
        return list(src.Files)

    def __len__(self):
        return self.NumObservations

    @property
    def Labels(self):
        if self._labels is None:
            raise AttributeError("augmentedImageDatastore: the datastore has no labels")
        return self._labels

    @property
    def has_labels(self):
        return self._labels is not None

    def __repr__(self):
        aug = "'none'" if self._augmenter is None else "[1x1 imageDataAugmenter]"
        return ("augmentedImageDatastore with properties:\n\n"
                f"         NumObservations: {self.NumObservations}\n"
                f"           MiniBatchSize: {self.MiniBatchSize}\n"
                f"        DataAugmentation: {aug}\n"
                f"      ColorPreprocessing: '{self.ColorPreprocessing}'\n"
                f"              OutputSize: [{self.OutputSize[0]} {self.OutputSize[1]}]\n"
                f"          OutputSizeMode: '{self.OutputSizeMode}'\n"
                f"    DispatchInBackground: {int(bool(self.DispatchInBackground))}")

    @property
    def _augmenter(self):
        return None if isinstance(self.DataAugmentation, str) else self.DataAugmentation

    # -- to the network ----------------------------------------------------------------------------------------
    def _out_channels(self):
        if self.ColorPreprocessing == "rgb2gray":
            return 1
        if self.ColorPreprocessing == "gray2rgb":
            return 3
        kind, src = self._source
        if kind == "array":
            return int(src.shape[-1])
        return 1 if is_grey_file(src.Files[0]) else 3  # MATLAB: the channels of the first image

    def image_data(self, input_size, classes=None, colorspace="rgb", fn="trainNetwork"):
        """``(ImageData, classes)`` for a network whose image input layer is ``input_size`` (h, w, c):
        ``OutputSize`` must equal (h, w) and the images' channels (after ColorPreprocessing) c, as MATLAB checks;
        ``classes`` fixes the class order (else the sorted categories). The ImageData augments every read."""
        h, w, c = (tuple(int(v) for v in input_size) + (3,))[:3]
        oh, ow = self.OutputSize
        cp = self.ColorPreprocessing
        if (oh, ow) != (h, w):
            raise DataError(f"{fn}: the augmentedImageDatastore's images are of size {oh}x{ow} but the input layer "
                            f"expects images of size {h}x{w}x{c}")
        if (cp == "rgb2gray" and c != 1) or (cp == "gray2rgb" and c != 3):
            raise DataError(f"{fn}: ColorPreprocessing '{cp}' gives {1 if cp == 'rgb2gray' else 3}-channel images "
                            f"but the input layer expects {c} channel{'s' if c > 1 else ''}")
        aug = self._augmenter
        if isinstance(aug, ImageDataAugmenter):
            aug._fill_for(c)  # a FillValue per channel must match the images' channels
        if self._labels is not None:
            from leuknet.matlab.datastore import as_categorical

            y = as_categorical(fn, self._labels, classes)
            labels, cats = y.codes, y.categories
        else:
            labels, cats = np.zeros(self.NumObservations, np.int32), classes
        data = self._build(labels, (h, w), c, colorspace, fn)
        data.augmenter = self._augmenter
        if self.augment_seed is not None:
            data.augment_seed = self.augment_seed
        elif fn == "trainNetwork":  # from trainNetwork's seed (it seeded NumPy): the same seed, the same run
            data.augment_seed = int(np.random.randint(0, 2**31 - 1))
        else:  # read / preview / classify: from MATLAB's global stream (every run of a script the same)
            data.augment_seed = draw_seed()
        return data, (list(cats) if cats is not None else None)

    def _build(self, labels, hw, c, colorspace, fn):
        from leuknet.data.pipeline import ImageData, check_crop_sizes, load_image_data

        kind, src = self._source
        mode, cp = self.OutputSizeMode, self.ColorPreprocessing
        if kind == "files" and getattr(src, "ReadFcn", None) is None:
            data, _ = load_image_data(src.Files, labels, hw, colorspace, on_bad="raise", channels=c,
                                      color_preprocessing=cp, output_mode=mode)
            return data
        if kind == "files":
            arr = [np.asarray(src.ReadFcn(f)) for f in src.Files]
            if len({a.shape for a in arr}) > 1:
                raise DataError(f"{fn}: a ReadFcn returning images of different sizes is not supported by "
                                "augmentedImageDatastore in leuknet; resize them in the ReadFcn")
            arr = _nhwc(np.stack(arr), len(arr))
        else:
            arr = src
        if arr.dtype != np.uint8:
            arr = arr.astype(np.float32)
        arr = _convert_channels(arr, cp)
        if arr.shape[-1] != c:
            raise DataError(f"{fn}: the images have {arr.shape[-1]} channel{'s' if arr.shape[-1] > 1 else ''}, the "
                            f"input layer takes {c}: use augmentedImageDatastore(..., 'ColorPreprocessing', "
                            f"'{'rgb2gray' if c == 1 else 'gray2rgb'}')")
        sizes = np.tile(np.array(arr.shape[1:3], np.int32), (len(arr), 1))
        check_crop_sizes(mode, sizes, hw)
        if mode == "resize" and tuple(arr.shape[1:3]) != tuple(hw):
            arr = _resize_array(arr, hw)
        return ImageData(np.asarray(labels), tuple(hw), colorspace, images=arr, channels=c, color_preprocessing=cp,
                         source_sizes=sizes, output_mode=mode)

    # -- reading ---------------------------------------------------------------------------------------------
    def _reading_data(self):
        if self._preview_data is None:
            c = self._out_channels()
            self._preview_data = self.image_data((*self.OutputSize, c), fn="read")[0]
        return self._preview_data

    def readByIndex(self, ind):
        """The observations at 0-based indices ``ind``, augmented: a table of ``input`` (list of H x W x C
        images) and ``response`` (labels, when labelled)."""
        idx = np.atleast_1d(np.asarray(ind, np.int64))
        n = self.NumObservations
        if idx.size == 0 or idx.min() < -n or idx.max() >= n:
            raise ConfigError(f"readByIndex: indices must be integers from 0 to {n - 1}, received {ind!r}")
        idx = idx % n
        data = self._reading_data()
        x = np.concatenate([b.numpy() for b, _ in data.batches(idx, len(idx))])
        dtype = data.images.dtype if data.images is not None else np.uint8
        images = [np.asarray(v, dtype).squeeze(-1) if v.shape[-1] == 1 else np.asarray(v, dtype) for v in x]
        from leuknet.matlab.datastore import Table

        cols = {"input": images}
        if self._labels is not None:
            cols["response"] = self._labels[idx] if hasattr(self._labels, "codes") else [self._labels[i] for i in idx]
        return Table(**cols)

    def hasdata(self):
        return self._position < self.NumObservations

    def read(self, nargout=None):
        """The next ``MiniBatchSize`` observations, augmented (MATLAB's ``read``); an error at the end."""
        if nargout not in (None, 1):
            raise ConfigError("read: leuknet's AugmentedImageDatastore read returns its data alone (no info)")
        if not self.hasdata():
            raise DataError("read: no more data in the augmentedImageDatastore; call reset(auimds)")
        stop = min(self.NumObservations, self._position + int(self.MiniBatchSize))
        out = self.readByIndex(np.arange(self._position, stop))
        self._position = stop
        return out

    def reset(self):
        self._position = 0

    def preview(self):
        """The first observations (up to 8, as MATLAB's previews show), augmented, without moving the position."""
        return self.readByIndex(np.arange(min(8, self.NumObservations, int(self.MiniBatchSize))))


_DS_OPTIONS = {"DataAugmentation": "none", "ColorPreprocessing": "none", "OutputSizeMode": "resize",
               "DispatchInBackground": False, "BackgroundExecution": False}


def augmentedImageDatastore(outputSize, X, *args, **kwargs):
    """``augmentedImageDatastore(outputSize, imds, ...)``, ``(outputSize, X, Y, ...)`` or ``(outputSize, X, ...)``
    with X N x H x W x C or MATLAB's H x W x C x N; options DataAugmentation ('none' or an imageDataAugmenter),
    ColorPreprocessing ('none' | 'gray2rgb' | 'rgb2gray'), OutputSizeMode ('resize' | 'centercrop' | 'randcrop'),
    DispatchInBackground (accepted; leuknet always reads in parallel ahead of the step)."""
    fn = "augmentedImageDatastore"
    size = _output_size(outputSize)
    positional, _, o = parse(fn, args, kwargs, _DS_OPTIONS, max_positional=1)
    Y = positional[0] if positional else None
    aug = o["DataAugmentation"]
    if isinstance(aug, str):
        aug = choice(fn, "DataAugmentation", aug, ("none",))
    elif not (hasattr(aug, "apply") and callable(aug.apply)):
        raise ConfigError(f"{fn}: DataAugmentation must be 'none' or an imageDataAugmenter, received "
                          f"{type(aug).__name__}")
    values = {"DataAugmentation": aug,
              "ColorPreprocessing": choice(fn, "ColorPreprocessing", o["ColorPreprocessing"],
                                           ("none", "gray2rgb", "rgb2gray")),
              "OutputSizeMode": choice(fn, "OutputSizeMode", o["OutputSizeMode"], ("resize", "centercrop", "randcrop")),
              "DispatchInBackground": boolean(fn, "DispatchInBackground", o["DispatchInBackground"])
              or boolean(fn, "BackgroundExecution", o["BackgroundExecution"])}
    if isinstance(X, AugmentedImageDatastore):
        raise ConfigError(f"{fn}: the source is already an augmentedImageDatastore; build it from the "
                          "imageDatastore (or the arrays) with all the options at once")
    if hasattr(X, "Files"):  # an image datastore
        if Y is not None:
            raise ConfigError(f"{fn}: labels come from the image datastore's Labels; Y is not accepted with one")
        labels = X.Labels if getattr(X, "has_labels", True) and len(getattr(X, "Labels", [])) else None
        if not len(X.Files):
            raise DataError(f"{fn}: the image datastore has no files")
        return AugmentedImageDatastore(size, ("files", X), labels, values)
    if isinstance(X, tuple) and X and all(hasattr(d, "Files") for d in X):
        raise ConfigError(f"{fn}: received {len(X)} datastores (unpack splitEachLabel's outputs)")
    labels = None
    if Y is not None:
        from leuknet.matlab.datastore import Categorical

        labels = Y if hasattr(Y, "codes") else Categorical(list(np.asarray(Y).ravel()) if not isinstance(Y, list)
                                                           else Y)
    arr = _nhwc(X, None if labels is None else len(labels))
    if labels is not None and len(labels) != len(arr):
        raise DataError(f"{fn}: {len(arr)} images but {len(labels)} labels")
    return AugmentedImageDatastore(size, ("array", arr), labels, values)


# ------------------------------------------------------------------------------------------------------------
# the CLI's --augment
