"""The tf.data input pipeline: decode (BMP, TIFF, PNG, JPEG; grey, RGBA, 16-bit), colour space, antialiased
resize, batching and prefetch.

Images are read with OpenCV (which releases the GIL, so ``num_parallel_calls`` decodes in parallel) and turned
into H x W x 3 uint8 RGB the way MATLAB's ``imread`` + ``im2uint8`` would see them: grey images are replicated to
three channels, the alpha channel is dropped, 16-bit images are scaled by 1/257 and rounded. The colour space is
converted on the full-size uint8 image (as a study that saves converted images does), then the image is resized
bilinearly with antialiasing (MATLAB ``augmentedImageDatastore``/``imresize(..., 'bilinear')``; antialiasing only
when shrinking) and rounded back to uint8. The network sees float32 pixel values in [0, 255].

Training data is cached as decoded, resized uint8 arrays when it fits the cache budget (224 x 224 x 3 bytes per
image: 1 GiB holds about 7,100 images); otherwise every epoch streams from disk.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import cv2
import numpy as np
import tensorflow as tf

from leuknet import colorspace as cs
from leuknet.errors import DataError

AUTOTUNE = tf.data.AUTOTUNE
DEFAULT_CACHE_BUDGET_MB = 2048


def without_autotune(ds: tf.data.Dataset) -> tf.data.Dataset:
    """``ds`` with tf.data's autotuning off (AUTOTUNE parallelism then means the CPU's cores). The autotuner's
    optimisation thread sleeps in periods doubling from 10 ms to 60 s (``kOptimizationPeriodMinMs`` /
    ``kOptimizationPeriodMaxMs`` in TensorFlow's ``data/model.h``), and tearing an iterator down waited here, in
    about half of the tries, for the current sleep to end: a 452-cell validation ended at 10.23 s (the end of the
    5.12-s period) instead of after 7 s, and a 13-minute training stream's teardown added up to 60 s to the end
    of training. Our pipelines set their parallelism and prefetch themselves."""
    options = tf.data.Options()
    options.autotune.enabled = False
    return ds.with_options(options)


def to_rgb_uint8(img: np.ndarray) -> np.ndarray:
    """A decoded OpenCV array (BGR / BGRA / grey, any depth) as H x W x 3 uint8 RGB."""
    if img.ndim == 3 and img.shape[2] == 1:
        img = img[..., 0]
    if img.dtype == np.uint16:
        img = np.floor(img.astype(np.float64) / 257.0 + 0.5).astype(np.uint8)  # im2uint8 on uint16
    elif img.dtype in (np.float32, np.float64):
        img = np.clip(np.floor(np.clip(img, 0, 1) * 255.0 + 0.5), 0, 255).astype(np.uint8)
    elif img.dtype != np.uint8:
        info = np.iinfo(img.dtype)
        img = np.floor((img.astype(np.float64) - info.min) / (info.max - info.min) * 255 + 0.5).astype(np.uint8)
    if img.ndim == 2:
        return np.repeat(img[..., None], 3, axis=2)
    if img.shape[2] == 4:
        return cv2.cvtColor(img, cv2.COLOR_BGRA2RGB)
    if img.shape[2] == 3:
        return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
    raise DataError(f"unsupported channel count {img.shape[2]}")


def read_image(path) -> np.ndarray:
    """Read one image file as H x W x 3 uint8 RGB; raises :class:`DataError` if it cannot be decoded."""
    path = os.fsdecode(path)
    data = np.fromfile(path, dtype=np.uint8) if os.path.isfile(path) else None
    if data is None:
        raise DataError(f"{path}: no such file")
    if data.size == 0:
        raise DataError(f"{path}: empty file")
    img = cv2.imdecode(data, cv2.IMREAD_UNCHANGED | cv2.IMREAD_ANYDEPTH)
    if img is None or img.size == 0:
        raise DataError(f"{path}: not a readable image (corrupt or unsupported format)")
    return to_rgb_uint8(img)


def crop_border(img, crop):
    """Cut ``crop`` pixels from every border (de Oliveira & Dantas: 450 -> 250 with crop 100)."""
    crop = int(crop)
    if crop <= 0:
        return img
    if 2 * crop >= min(img.shape[:2]):
        raise DataError(f"a {crop}-pixel border crop leaves nothing of a {img.shape[1]} x {img.shape[0]} image")
    return img[crop:-crop, crop:-crop]


def _decode_py(path, space, crop=0):
    """numpy_function body: (image, ok). A failed decode gives a 1x1 black image and ok=False."""
    try:
        img = crop_border(read_image(path), crop)
        space = space.decode() if isinstance(space, bytes) else str(space)
        return cs.convert(img, space), np.True_
    except Exception:  # noqa: BLE001 - reported by the caller as a skipped/refused file
        return np.zeros((1, 1, 3), np.uint8), np.False_


def resize_uint8(img, size):
    """Bilinear resize with antialiasing, rounded half up and saturated back to uint8 (a tf graph op)."""
    size = [int(s) for s in size]

    def do_resize():
        x = tf.image.resize(tf.cast(img, tf.float32), size, method="bilinear", antialias=True)
        return tf.cast(tf.clip_by_value(tf.floor(x + 0.5), 0.0, 255.0), tf.uint8)

    same = tf.reduce_all(tf.equal(tf.shape(img)[:2], tf.constant(size, tf.int32)))
    out = tf.cond(same, lambda: tf.identity(img), do_resize)
    return tf.ensure_shape(out, size + [3])


def decode_and_resize(path, size, space="rgb", crop=0):
    img, ok = tf.numpy_function(_decode_py, [path, space, crop], [tf.uint8, tf.bool], stateful=False)
    img.set_shape([None, None, 3])
    ok.set_shape([])
    img = tf.cond(ok, lambda: resize_uint8(img, size), lambda: tf.zeros(list(size) + [3], tf.uint8))
    return tf.ensure_shape(img, list(size) + [3]), ok


def file_dataset(paths, size, space="rgb", parallel=AUTOTUNE, crop=0) -> tf.data.Dataset:
    """(uint8 image, ok) per path, decoded in parallel, order kept."""
    ds = tf.data.Dataset.from_tensor_slices(np.asarray([os.fsencode(p) for p in paths], dtype=object))
    return without_autotune(ds.map(lambda p: decode_and_resize(p, size, space, crop), num_parallel_calls=parallel,
                                   deterministic=True))


def _augment_py(img, seed):
    from leuknet.augment import augment_image

    return augment_image(img, int(seed))[0] if seed >= 0 else img


def scan_files(paths, size, space="rgb", keep_images=True, batch=64, progress=None, crop=0):
    """Decode every file once, in parallel. Returns (uint8 array or None, list of bad indices)."""
    n = len(paths)
    images = np.empty((n,) + tuple(size) + (3,), np.uint8) if keep_images else None
    bad = []
    pos = 0
    for imgs, oks in file_dataset(paths, size, space, crop=crop).batch(batch).prefetch(2):
        imgs, oks = imgs.numpy(), oks.numpy()
        if keep_images:
            images[pos : pos + len(imgs)] = imgs
        bad.extend(int(pos + i) for i in np.flatnonzero(~oks))
        pos += len(imgs)
        if progress:
            progress(len(imgs))
    return images, bad


TRANSFORMS = ("identity", "rot90", "rot180", "rot270", "fliplr", "flipud")


def transform_np(img, t: int):
    """Geometric copies used to multiply training data (Shafique & Tehsin: rotation and mirroring)."""
    if t == 0:
        return img
    if t <= 3:
        return np.rot90(img, k=t, axes=(0, 1))
    return img[:, ::-1] if t == 4 else img[::-1]


def transform_tf(img, t):
    return tf.switch_case(tf.cast(t, tf.int32), [
        lambda: img, lambda: tf.image.rot90(img, 1), lambda: tf.image.rot90(img, 2), lambda: tf.image.rot90(img, 3),
        lambda: tf.image.flip_left_right(img), lambda: tf.image.flip_up_down(img)])


@dataclass
class ImageData:
    """Images and integer labels for training and evaluation.

    Either ``images`` (an N x H x W x 3 uint8 array in memory) or ``paths`` (streamed from disk each time).
    """

    labels: np.ndarray
    size: tuple[int, int]
    colorspace: str = "rgb"
    images: np.ndarray | None = None
    paths: list[str] | None = None
    transforms: np.ndarray | None = None  # per-sample index into TRANSFORMS (square images only)
    aug_seeds: np.ndarray | None = None  # per-sample seed of a random augmentation (leuknet.augment), -1 = none
    crop: int = 0  # border crop applied when streaming from disk

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def in_memory(self) -> bool:
        return self.images is not None

    def batches(self, order=None, batch_size=128, drop_remainder=False, prefetch=2) -> tf.data.Dataset:
        """(float32 N x H x W x C, int32 labels) in ``order`` (default: as stored); pixel values as stored
        (uint8 images give [0, 255])."""
        order = np.arange(len(self)) if order is None else np.asarray(order, np.int64)
        if drop_remainder:
            order = order[: (len(order) // batch_size) * batch_size]
        labels = np.asarray(self.labels, np.int32)
        h, w = self.size
        if self.in_memory:
            images = self.images
            tr = self.transforms
            seeds = self.aug_seeds

            def one(i):
                img = images[i] if tr is None else transform_np(images[i], int(tr[i]))
                return _augment_py(img, seeds[i]) if seeds is not None else img

            def gen():
                for start in range(0, len(order), batch_size):
                    idx = order[start : start + batch_size]
                    yield (images[idx] if self._as_stored(idx) else np.stack([one(i) for i in idx])), labels[idx]

            ds = tf.data.Dataset.from_generator(
                gen,
                output_signature=(tf.TensorSpec([None, h, w, images.shape[-1]], tf.as_dtype(images.dtype)),
                                  tf.TensorSpec([None], tf.int32)),
            )
        else:
            paths = np.asarray([os.fsencode(self.paths[i]) for i in order], dtype=object)
            tr = (self.transforms if self.transforms is not None else np.zeros(len(self), np.int32))[order]
            sd = (self.aug_seeds if self.aug_seeds is not None else np.full(len(self), -1, np.int64))[order]

            def load(p, y, t, s_):
                img = transform_tf(decode_and_resize(p, (h, w), self.colorspace, self.crop)[0], t)
                img = tf.numpy_function(_augment_py, [img, s_], tf.uint8, stateful=False)
                return tf.ensure_shape(img, [h, w, 3]), y

            ds = tf.data.Dataset.from_tensor_slices((paths, labels[order], tr.astype(np.int32), sd))
            ds = ds.map(load, num_parallel_calls=AUTOTUNE, deterministic=True)
            ds = ds.batch(batch_size)
        return without_autotune(ds.map(lambda x, y: (tf.cast(x, tf.float32), y)).prefetch(prefetch))

    def subset(self, indices) -> "ImageData":
        """Samples at ``indices`` (repeats allowed)."""
        indices = np.asarray(indices, np.int64)
        tr = None if self.transforms is None else self.transforms[indices]
        sd = None if self.aug_seeds is None else self.aug_seeds[indices]
        if self.in_memory:
            return ImageData(self.labels[indices], self.size, self.colorspace, images=self.images[indices],
                             transforms=tr, aug_seeds=sd, crop=self.crop)
        return ImageData(self.labels[indices], self.size, self.colorspace, paths=[self.paths[i] for i in indices],
                         transforms=tr, aug_seeds=sd, crop=self.crop)

    def balanced_by_augmentation(self, per_class, seed=0) -> "ImageData":
        """Every class brought to ``per_class`` samples: originals, then randomly augmented copies
        (de Oliveira & Dantas balance their training and validation sets this way)."""
        from leuknet.augment import balance_plan

        idx, seeds = balance_plan(self.labels, per_class, seed)
        out = self.subset(idx)
        base = out.aug_seeds if out.aug_seeds is not None else np.full(len(idx), -1, np.int64)
        out.aug_seeds = np.where(seeds >= 0, seeds, base)
        return out

    def augmented(self, transforms=(1, 2, 3, 4)) -> "ImageData":
        """Every sample once as it is plus once per transform (indices into TRANSFORMS): N x (1 + len)."""
        if self.size[0] != self.size[1] and any(t in (1, 3) for t in transforms):
            raise ValueError("90-degree rotations need square images")
        n = len(self)
        idx = np.tile(np.arange(n), 1 + len(transforms))
        base = self.transforms if self.transforms is not None else np.zeros(n, np.int32)
        tr = np.concatenate([base] + [np.full(n, t, np.int32) for t in transforms])
        out = self.subset(idx)
        out.transforms = tr
        return out

    def _as_stored(self, idx) -> bool:
        """Whether samples ``idx`` are used as stored: no geometric transform, no augmentation."""
        return ((self.transforms is None or not np.any(self.transforms[idx]))
                and (self.aug_seeds is None or bool(np.all(self.aug_seeds[idx] < 0))))

    def stored_batches(self, batch_size=128):
        """(images, labels) in stored order, for passes that read every sample once as it is (input statistics,
        validation, prediction): for images in memory without transforms or augmentation, slices of the stored
        arrays (NumPy, no copy: no tf.data pipeline to start and no float32 copy, per validation); else the
        float32 tensors of :meth:`batches`."""
        if self.in_memory and self._as_stored(slice(None)):
            labels = np.asarray(self.labels, np.int32)
            for start in range(0, len(self), batch_size):
                yield self.images[start : start + batch_size], labels[start : start + batch_size]
            return
        yield from self.batches(None, batch_size)

    def iter_uint8(self, batch_size=128):
        """The images of :meth:`stored_batches` as NumPy arrays (8-bit where stored so: input statistics)."""
        for x, _ in self.stored_batches(batch_size):
            yield np.asarray(x)


def load_image_data(paths, labels, size, colorspace="rgb", cache_budget_mb=DEFAULT_CACHE_BUDGET_MB,
                    on_bad="skip", progress=None, crop=0):
    """Scan files (one parallel decode pass, which also finds corrupt ones) and return
    ``(ImageData, bad_paths)``. The data stays in memory when it fits ``cache_budget_mb``.
    ``on_bad='skip'`` drops unreadable files (listed in bad_paths); ``'raise'`` refuses them."""
    size = tuple(size)
    need_mb = len(paths) * size[0] * size[1] * 3 / 2**20
    keep = need_mb <= cache_budget_mb
    images, bad = scan_files(paths, size, colorspace, keep_images=keep, progress=progress, crop=crop)
    bad_paths = [paths[i] for i in bad]
    if bad and on_bad == "raise":
        raise DataError(f"{len(bad)} unreadable image file(s), first: {bad_paths[0]}")
    good = np.setdiff1d(np.arange(len(paths)), bad)
    labels = np.asarray(labels)[good]
    if keep:
        data = ImageData(labels, size, colorspace, images=images[good], crop=crop)
    else:
        data = ImageData(labels, size, colorspace, paths=[paths[i] for i in good], crop=crop)
    return data, bad_paths
