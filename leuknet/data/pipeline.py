"""The input pipeline: decode (BMP, TIFF, PNG, JPEG; grey, RGBA, 16-bit), channels, colour space, antialiased
resize, on-the-fly augmentation, batching and prefetch; on tf.data for Keras's TensorFlow backend, on NumPy and a
thread pool for the others (JAX may run where TensorFlow is not installed: this module imports it only on use).

Images are read with OpenCV (which releases the GIL, so ``num_parallel_calls`` decodes in parallel) and turned
into H x W x C uint8 the way MATLAB's ``imread`` + ``im2uint8`` would see them: a grey file has one channel, the
alpha channel is dropped, 16-bit images are scaled by 1/257 and rounded. The network's channel count then decides:
with 3 channels a grey file is replicated (leuknet's permissive default; MATLAB needs
``'ColorPreprocessing', 'gray2rgb'``); with 1 channel a colour file is converted by ``rgb2gray`` only when asked
(``color_preprocessing='rgb2gray'``), else refused. The colour space (3 channels only) is converted on the
full-size uint8 image (as a study that saves converted images does), then the image is resized bilinearly with
antialiasing (MATLAB ``augmentedImageDatastore``/``imresize(..., 'bilinear')``; antialiasing only when shrinking)
and rounded back to uint8. The network sees float32 pixel values in [0, 255].

Which resize: on the TensorFlow backend ``tf.image.resize(antialias=True)`` (:func:`resize_uint8`), elsewhere
:func:`resize_uint8_np`, MATLAB's ``imresize`` itself. They agree to one grey level inside the image; in the
outer pixels (about 1 / scale of them when shrinking) TensorFlow renormalises its truncated kernels where MATLAB
mirrors the image, so images cached or streamed under JAX can differ there from those under TensorFlow.
:func:`_use_tf_data` is the one place that decides.

Training data is cached as decoded, resized uint8 arrays when it fits the cache budget (224 x 224 x 3 bytes per
image: 1 GiB holds about 7,100 images); otherwise every epoch streams from disk.

On-the-fly augmentation (``ImageData.augmenter``, e.g. MATLAB's ``imageDataAugmenter``) draws a fresh transform for
every image read, in parallel (in the tf.data map, or the thread pool of :meth:`ImageData.numpy_batches`; OpenCV's
``warpAffine`` releases the GIL; one NumPy call per image, never a Python loop over pixels). Both streams call
the same NumPy functions per image, so they give the same batches (from files: up to the resize). Images in memory without augmentation keep the
fast path: slices of the stored array.
"""

from __future__ import annotations

import os
import threading
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from functools import lru_cache, partial
from typing import TYPE_CHECKING

import numpy as np

from leuknet.augment import translation, warp
from leuknet.data.images import (  # noqa: F401  (the decoding rules, re-exported)
    RGB2GRAY_WEIGHTS, COLOR_PREPROCESSING, OUTPUT_SIZE_MODES, ChannelMismatch, rgb2gray_uint8, _depth_to_uint8,
    fit_channels, to_uint8, to_rgb_uint8, read_image, unreadable_reason, _image_format, _png_short, _bmp_short,
    _jpeg_short, _tiff_short, _SHORT_BY_FORMAT, crop_border, _s, _decode_full)
from leuknet.errors import ConfigError, DataError

if TYPE_CHECKING:
    import tensorflow as tf

DEFAULT_CACHE_BUDGET_MB = 2048


def __getattr__(name):
    if name == "AUTOTUNE":  # tf.data.AUTOTUNE, looked up only when asked for (TensorFlow imported then)
        import tensorflow as tf

        return tf.data.AUTOTUNE
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _use_tf_data() -> bool:
    """Whether the pipeline runs on tf.data (Keras's TensorFlow backend) or on NumPy and threads (any other)."""
    import keras

    return keras.backend.backend() == "tensorflow"


def _workers() -> int:
    return os.cpu_count() or 1


_BLAS = {"users": 0, "limits": None}
_BLAS_LOCK = threading.Lock()


@contextmanager
def one_blas_thread():
    """BLAS (NumPy's and SciPy's OpenBLAS) at one thread while pools of decoders run, one decoder per core: each
    resize is a few small matrix products, and BLAS's own threads on top of one decoder per core oversubscribe
    the cores (a 450 -> 224 resize in a pool of 2 decoders on 2 cores, scripts/bench_resize_threads.py: 2.5 ->
    2.2 ms an image on a quiet machine, 37.7 -> 3.2 ms while other work held the cores; on 16 cores, 16 decoders
    would each start 16 BLAS threads). Counted: the limit holds while any user runs; the original counts return
    after the last.
    Without threadpoolctl (a declared dependency, but leuknet may run from a checkout on a machine without it),
    nothing is limited."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        yield
        return
    with _BLAS_LOCK:
        if _BLAS["users"] == 0:
            _BLAS["limits"] = threadpool_limits(limits=1, user_api="blas")
        _BLAS["users"] += 1
    try:
        yield
    finally:
        with _BLAS_LOCK:
            _BLAS["users"] -= 1
            if _BLAS["users"] == 0:
                _BLAS["limits"].restore_original_limits()
                _BLAS["limits"] = None


def without_autotune(ds: tf.data.Dataset) -> tf.data.Dataset:
    """``ds`` with tf.data's autotuning off (AUTOTUNE parallelism then means the CPU's cores). The autotuner's
    optimisation thread sleeps in periods doubling from 10 ms to 60 s (``kOptimizationPeriodMinMs`` /
    ``kOptimizationPeriodMaxMs`` in TensorFlow's ``data/model.h``), and tearing an iterator down waited here, in
    about half of the tries, for the current sleep to end: a 452-cell validation ended at 10.23 s (the end of the
    5.12-s period) instead of after 7 s, and a 13-minute training stream's teardown added up to 60 s to the end
    of training. Our pipelines set their parallelism and prefetch themselves."""
    import tensorflow as tf

    options = tf.data.Options()
    options.autotune.enabled = False
    return ds.with_options(options)


def _decode_py(path, space, crop=0, channels=3, color_preprocessing="none"):
    """numpy_function body: (image, status, source H x W). status 0 = read, 1 = unreadable, 2 = channels the input
    cannot take; a failed decode gives a 1x1 black image."""
    try:
        img = _decode_full(path, space, crop, channels, color_preprocessing)
        return img, np.int32(0), np.array(img.shape[:2], np.int32)
    except ChannelMismatch:
        status = 2
    except Exception:  # noqa: BLE001 - reported by the caller as a skipped/refused file
        status = 1
    return np.zeros((1, 1, int(channels)), np.uint8), np.int32(status), np.zeros(2, np.int32)


def resize_uint8(img, size):
    """Bilinear resize with antialiasing, rounded half up and saturated back to uint8 (a tf graph op)."""
    import tensorflow as tf

    size = [int(s) for s in size]
    img = tf.convert_to_tensor(img)
    c = img.shape[-1] if img.shape.rank == 3 and img.shape[-1] is not None else 3

    def do_resize():
        x = tf.image.resize(tf.cast(img, tf.float32), size, method="bilinear", antialias=True)
        return tf.cast(tf.clip_by_value(tf.floor(x + 0.5), 0.0, 255.0), tf.uint8)

    same = tf.reduce_all(tf.equal(tf.shape(img)[:2], tf.constant(size, tf.int32)))
    out = tf.cond(same, lambda: tf.identity(img), do_resize)
    return tf.ensure_shape(out, size + [c])


def _imresize_weights(n_in: int, n_out: int) -> np.ndarray:
    """MATLAB ``imresize(..., 'bilinear')`` along one dimension as a dense n_out x n_in float64 matrix: output
    pixel x (1-based) samples u = x / scale + 0.5 * (1 - 1 / scale); the triangle kernel, widened by 1 / scale when
    shrinking (antialiasing); weights normalised to sum 1; indices beyond a border mirrored (symmetric), the
    weights of a repeated index added (the algorithm of ``leuknet.matlab.imresize``, ``parity/references.py``)."""
    scale = n_out / n_in
    width = 2.0 / scale if scale < 1 else 2.0
    u = np.arange(1, n_out + 1, dtype=np.float64) / scale + 0.5 * (1 - 1 / scale)
    idx = np.floor(u - width / 2)[:, None] + np.arange(int(np.ceil(width)) + 2)[None, :]
    d = u[:, None] - idx
    w = np.maximum(0.0, 1 - np.abs(scale * d)) if scale < 1 else np.maximum(0.0, 1 - np.abs(d))
    w /= w.sum(axis=1, keepdims=True)
    mirror = np.concatenate([np.arange(n_in), np.arange(n_in)[::-1]])
    cols = mirror[np.mod(idx.astype(np.int64) - 1, 2 * n_in)]
    m = np.zeros((n_out, n_in), np.float64)
    np.add.at(m, (np.repeat(np.arange(n_out), w.shape[1]), cols.ravel()), w.ravel())
    return m


_BAND = 16  # output pixels per band: a band's weights span about 16 / scale + 4 input pixels, not all n_in


@lru_cache(maxsize=128)
def _imresize_bands(n_in: int, n_out: int):
    """:func:`_imresize_weights` cut into bands of output pixels, each with the span of input pixels its weights
    touch: ((o0, o1, i0, i1, float32 (o1 - o0) x (i1 - i0) weights), ...), read-only (cached)."""
    m = _imresize_weights(n_in, n_out)
    bands = []
    for o0 in range(0, n_out, _BAND):
        o1 = min(o0 + _BAND, n_out)
        used = np.flatnonzero(np.any(m[o0:o1] != 0, axis=0))
        i0, i1 = int(used[0]), int(used[-1]) + 1
        wb = np.ascontiguousarray(m[o0:o1, i0:i1], np.float32)
        wb.flags.writeable = False
        bands.append((o0, o1, i0, i1, wb))
    return tuple(bands)


def _resize_rows(x, n_out):
    """A 2-D float32 array's rows resized to ``n_out`` (one float32 matrix product per band)."""
    out = np.empty((n_out, x.shape[1]), np.float32)
    for o0, o1, i0, i1, wb in _imresize_bands(x.shape[0], n_out):
        np.matmul(wb, x[i0:i1], out=out[o0:o1])
    return out


def resize_uint8_np(img, size):
    """MATLAB ``imresize(img, size, 'bilinear')`` (antialiased when shrinking, mirrored borders) of an H x W or
    H x W x C image, in float32, rounded once, half up, and saturated to uint8 (as :func:`resize_uint8` rounds;
    MATLAB rounds after each dimension: at most one grey level apart). Float32 matrix products with cached banded
    weight matrices, the dimension with the smaller scale first as MATLAB does; a dimension already at its size is
    left alone, and an image already at ``size`` comes back as it is. NumPy only (BLAS releases the GIL)."""
    img = np.asarray(img)
    h, w = int(size[0]), int(size[1])
    if img.shape[:2] == (h, w):
        return img
    x = _resize_float32_np(img, (h, w))
    x += 0.5
    np.floor(x, out=x)
    np.clip(x, 0.0, 255.0, out=x)
    out = np.empty(x.shape, np.uint8)
    np.copyto(out, x, casting="unsafe")
    return out.reshape((h, w) + img.shape[2:])


def resize_float32_np(img, size):
    """:func:`resize_uint8_np` without the rounding: the float32 image (H x W or H x W x C) at ``size``."""
    img = np.asarray(img)
    h, w = int(size[0]), int(size[1])
    if img.shape[:2] == (h, w):
        return img.astype(np.float32)
    return _resize_float32_np(img, (h, w)).reshape((h, w) + img.shape[2:])


def _resize_float32_np(img, size):
    h, w = size
    hs, ws = img.shape[:2]
    x = img.reshape(hs, ws, -1).astype(np.float32)
    c = x.shape[2]
    if w / ws < h / hs:  # columns first, on W x (H C); then rows
        if ws != w:
            x = _resize_rows(x.transpose(1, 0, 2).reshape(ws, hs * c), w).reshape(w, hs, c).transpose(1, 0, 2)
        x = _resize_rows(np.ascontiguousarray(x).reshape(hs, w * c), h).reshape(h, w, c) if hs != h else x
    else:  # rows first, on H x (W C); then columns
        x = _resize_rows(x.reshape(hs, ws * c), h).reshape(h, ws, c) if hs != h else x
        if ws != w:
            x = _resize_rows(x.transpose(1, 0, 2).reshape(ws, h * c), w).reshape(w, h, c).transpose(1, 0, 2)
    return np.ascontiguousarray(x, np.float32)


def resize_image(img, size):
    """One uint8 image (NumPy in and out) resized as the running backend's pipeline resizes:
    :func:`resize_uint8` (tf.image) on tf.data, :func:`resize_uint8_np` (MATLAB's imresize) otherwise."""
    if _use_tf_data():
        return resize_uint8(img, size).numpy()
    return resize_uint8_np(img, size)


def _decode_resize_np(path, size, space="rgb", crop=0, channels=3, color_preprocessing="none"):
    """The NumPy twin of the tf.data decode: (uint8 image at ``size``, status, source H x W); black if unread."""
    img, status, hw = _decode_py(path, space, crop, channels, color_preprocessing)
    if status != 0:
        return np.zeros(tuple(size) + (int(channels),), np.uint8), status, hw
    return resize_uint8_np(img, size), status, hw


def _decode_resize_status(path, size, space="rgb", crop=0, channels=3, color_preprocessing="none"):
    import tensorflow as tf

    img, status, hw = tf.numpy_function(_decode_py, [path, space, crop, channels, color_preprocessing],
                                        [tf.uint8, tf.int32, tf.int32], stateful=False)
    img.set_shape([None, None, channels])
    status.set_shape([])
    hw.set_shape([2])
    img = tf.cond(tf.equal(status, 0), lambda: resize_uint8(img, size),
                  lambda: tf.zeros(list(size) + [channels], tf.uint8))
    return tf.ensure_shape(img, list(size) + [channels]), status, hw


def decode_and_resize(path, size, space="rgb", crop=0, channels=3, color_preprocessing="none"):
    import tensorflow as tf

    img, status, _ = _decode_resize_status(path, size, space, crop, channels, color_preprocessing)
    return img, tf.equal(status, 0)


def file_dataset(paths, size, space="rgb", parallel=None, crop=0, channels=3,
                 color_preprocessing="none") -> tf.data.Dataset:
    """(uint8 image, ok) per path, decoded in parallel (``parallel``: default tf.data.AUTOTUNE), order kept."""
    import tensorflow as tf

    parallel = tf.data.AUTOTUNE if parallel is None else parallel
    ds = tf.data.Dataset.from_tensor_slices(np.asarray([os.fsencode(p) for p in paths], dtype=object))
    return without_autotune(ds.map(lambda p: decode_and_resize(p, size, space, crop, channels, color_preprocessing),
                                   num_parallel_calls=parallel, deterministic=True))


def file_batches(paths, size, space="rgb", batch=64, crop=0, channels=3, color_preprocessing="none"):
    """(uint8 images, ok mask) for ``paths`` in order, ``batch`` files at a time, decoded in parallel with the next
    batch decoded while the caller works on this one: tf.data (:func:`file_dataset`) under TensorFlow, the NumPy
    scan's thread pool under any other backend. An unreadable file is a black image with ``ok`` False."""
    paths = list(paths)
    if _use_tf_data():
        for imgs, ok in file_dataset(paths, size, space, crop=crop, channels=channels,
                                     color_preprocessing=color_preprocessing).batch(batch).prefetch(2):
            yield imgs.numpy(), ok.numpy()
        return

    decoders = ThreadPoolExecutor(_workers(), thread_name_prefix="leuknet-scan")  # one pool for the stream

    def chunk(lo):
        images, status, _ = _scan_np(paths[lo : lo + batch], size, space, True, batch, None, crop, channels,
                                     color_preprocessing, pool=decoders)
        return images, status == 0

    ahead = ThreadPoolExecutor(1, thread_name_prefix="leuknet-files")
    with one_blas_thread():
        try:
            pending = ahead.submit(chunk, 0) if paths else None
            for lo in range(0, len(paths), batch):
                done = pending.result()
                pending = ahead.submit(chunk, lo + batch) if lo + batch < len(paths) else None
                yield done
        finally:
            ahead.shutdown(wait=True, cancel_futures=True)
            decoders.shutdown(wait=True, cancel_futures=True)


def _augment_py(img, seed):
    from leuknet.augment import augment_image

    return augment_image(img, int(seed))[0] if seed >= 0 else img


def _scan(paths, size, space="rgb", keep_images=True, batch=64, progress=None, crop=0, channels=3,
          color_preprocessing="none"):
    """Decode every file once, in parallel: (uint8 N x H x W x C array or None, status per file, source sizes).
    ``progress(k)`` after every k files."""
    scan = _scan_tf if _use_tf_data() else _scan_np
    return scan(paths, size, space, keep_images, batch, progress, crop, channels, color_preprocessing)


def _scan_tf(paths, size, space, keep_images, batch, progress, crop, channels, color_preprocessing):
    import tensorflow as tf

    n = len(paths)
    images = np.empty((n,) + tuple(size) + (channels,), np.uint8) if keep_images else None
    status = np.zeros(n, np.int32)
    hws = np.zeros((n, 2), np.int32)
    ds = tf.data.Dataset.from_tensor_slices(np.asarray([os.fsencode(p) for p in paths], dtype=object))
    ds = without_autotune(ds.map(lambda p: _decode_resize_status(p, size, space, crop, channels, color_preprocessing),
                                 num_parallel_calls=tf.data.AUTOTUNE, deterministic=True))
    pos = 0
    for imgs, st, hw in ds.batch(batch).prefetch(2):
        k = len(st)
        if keep_images:
            images[pos : pos + k] = imgs.numpy()
        status[pos : pos + k] = st.numpy()
        hws[pos : pos + k] = hw.numpy()
        pos += k
        if progress:
            progress(k)
    return images, status, hws


def _scan_np(paths, size, space, keep_images, batch, progress, crop, channels, color_preprocessing, pool=None):
    """:func:`_scan` without TensorFlow: chunks of files decoded (and resized, when kept) by a thread pool
    (OpenCV's decoders and BLAS release the GIL), each written straight into its rows. ``pool``: a caller's
    pool, kept across calls (a stream of scans), else one of its own for this scan."""
    n = len(paths)
    size = tuple(int(v) for v in size)
    images = np.empty((n,) + size + (channels,), np.uint8) if keep_images else None
    status = np.zeros(n, np.int32)
    hws = np.zeros((n, 2), np.int32)

    def work(lo, hi):
        for i in range(lo, hi):
            if keep_images:
                images[i], status[i], hws[i] = _decode_resize_np(paths[i], size, space, crop, channels,
                                                                 color_preprocessing)
            else:  # only the status and the size: no resize
                _, status[i], hws[i] = _decode_py(paths[i], space, crop, channels, color_preprocessing)
        return hi - lo

    workers = _workers()
    chunk = max(1, min(int(batch), -(-n // (4 * workers))))
    own = pool is None
    pool = ThreadPoolExecutor(workers, thread_name_prefix="leuknet-scan") if own else pool
    try:
        with one_blas_thread():
            for f in [pool.submit(work, lo, min(lo + chunk, n)) for lo in range(0, n, chunk)]:
                k = f.result()
                if progress:
                    progress(k)
    finally:
        if own:
            pool.shutdown(wait=True, cancel_futures=True)
    return images, status, hws


def unreadable_files(paths, progress=None) -> list[int]:
    """The indices of ``paths`` that do not decode, each file decoded once by the scan's thread pool (no resize,
    no TensorFlow: :func:`_scan_np` keeping no images); ``progress(n)`` as chunks finish."""
    _, status, _ = _scan_np(paths, (1, 1), "rgb", False, 64, progress, 0, 3, "none")
    return [int(i) for i in np.flatnonzero(status != 0)]


def scan_files(paths, size, space="rgb", keep_images=True, batch=64, progress=None, crop=0, channels=3,
               color_preprocessing="none"):
    """Decode every file once, in parallel. Returns (uint8 array or None, list of bad indices)."""
    images, status, _ = _scan(paths, size, space, keep_images, batch, progress, crop, channels, color_preprocessing)
    return images, [int(i) for i in np.flatnonzero(status != 0)]


TRANSFORMS = ("identity", "rot90", "rot180", "rot270", "fliplr", "flipud")


def transform_np(img, t: int):
    """Geometric copies used to multiply training data (Shafique & Tehsin: rotation and mirroring)."""
    if t == 0:
        return img
    if t <= 3:
        return np.rot90(img, k=t, axes=(0, 1))
    return img[:, ::-1] if t == 4 else img[::-1]


def transform_tf(img, t):
    import tensorflow as tf

    return tf.switch_case(tf.cast(t, tf.int32), [
        lambda: img, lambda: tf.image.rot90(img, 1), lambda: tf.image.rot90(img, 2), lambda: tf.image.rot90(img, 3),
        lambda: tf.image.flip_left_right(img), lambda: tf.image.flip_up_down(img)])


def _window(mode, src_hw, out_hw, rng):
    """MATLAB augmentedImageDatastore's crop window (top, left) in a source image: 'centercrop' at
    floor((H - h) / 2), 'randcrop' at floor((H - h) * rand) (its ``crop``/``randCropRect``: the rectangle's corner
    floored)."""
    (hs, ws), (h, w) = src_hw, out_hw
    if mode == "randcrop":
        return int(np.floor((hs - h) * rng.random())), int(np.floor((ws - w) * rng.random()))
    return (hs - h) // 2, (ws - w) // 2


def check_crop_sizes(mode, source_sizes, out_hw, what="the images"):
    """MATLAB's error for a crop larger than an image."""
    if mode in ("centercrop", "randcrop") and source_sizes is not None and len(source_sizes):
        small = np.flatnonzero((source_sizes[:, 0] < out_hw[0]) | (source_sizes[:, 1] < out_hw[1]))
        if len(small):
            hs, ws = source_sizes[small[0]]
            raise DataError(f"augmentedImageDatastore: with 'OutputSizeMode' '{mode}' the 'OutputSize' "
                            f"[{out_hw[0]} {out_hw[1]}] must not exceed the input image size ({what}: {hs} x {ws})")


@dataclass
class ImageData:
    """Images and integer labels for training and evaluation.

    Either ``images`` (an N x H x W x C array in memory) or ``paths`` (streamed from disk each time). ``size`` is
    the (h, w) the network sees and ``channels`` its channel count (1 or 3).

    ``augmenter`` (default None): an object with ``apply(img, rng, scale=(sy, sx))`` returning an image of the same
    shape; it is applied at every read (training, and validation/prediction too, as MATLAB's
    augmentedImageDatastore augments whenever it is read), with a fresh ``np.random.Generator`` per image: the k-th
    image of a :meth:`batches` stream draws from the seed (``augment_seed``, pass, k), where pass counts the
    streams this object has made, so every epoch of the Trainer's one concatenated stream gets new transforms,
    reproducibly for a given seed. An augmenter with ``random_matrix(rng, source_hw)`` (an affine one, such as
    ``imageDataAugmenter``) is applied as MATLAB orders it, in the source image's pixels: images cached at ``size``
    get the transform conjugated by the resize (``source_sizes``, each image's size at scan time, gives the
    factor: exact in continuous coordinates); streamed files are warped at their own size, then resized. An
    augmenter with ``read_index(i, rng)`` replaces stored image i at every read by what it returns at ``size``
    (MATLAB's transformed datastore: the user's function runs on each read); an augmenter indexed by sample has
    ``subset(indices)``, which :meth:`subset` follows.

    ``output_mode``: MATLAB's OutputSizeMode: 'resize' (images resized to ``size``), 'centercrop' or 'randcrop'
    (the stored images are the sources, and a window of ``size`` is cut at each read, after the augmentation).
    """

    labels: np.ndarray
    size: tuple[int, int]
    colorspace: str = "rgb"
    images: np.ndarray | None = None
    paths: list[str] | None = None
    transforms: np.ndarray | None = None  # per-sample index into TRANSFORMS (square images only)
    aug_seeds: np.ndarray | None = None  # per-sample seed of a random augmentation (leuknet.augment), -1 = none
    crop: int = 0  # border crop applied when streaming from disk
    channels: int = 3  # 1 or 3: what the network takes
    color_preprocessing: str = "none"  # 'none' | 'gray2rgb' | 'rgb2gray' (MATLAB's ColorPreprocessing)
    augmenter: object | None = None  # on-the-fly augmentation (see the class docstring)
    augment_seed: int = 0
    source_sizes: np.ndarray | None = None  # N x 2 (H, W) of each image before resizing, recorded at scan time
    output_mode: str = "resize"  # 'resize' | 'centercrop' | 'randcrop' (MATLAB's OutputSizeMode)
    _passes: int = field(default=0, init=False, repr=False, compare=False)

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def in_memory(self) -> bool:
        return self.images is not None

    def _reads_through_augmenter(self) -> bool:
        """Whether every read goes through the per-image reader (augmentation or a crop)."""
        return self.augmenter is not None or self.output_mode != "resize"

    def _rng(self, pass_no, k, extra=0):
        return np.random.default_rng([int(self.augment_seed) & 0x7FFFFFFF, int(pass_no), int(k), int(extra)])

    def _source_hw(self, i, img_hw):
        if self.source_sizes is not None:
            return tuple(int(v) for v in self.source_sizes[i])
        return tuple(img_hw)

    def _geometry(self, img, i, rng, resized):
        """One image (after transforms / balance copies) through the augmenter and the crop. ``resized``: ``img``
        is a source image already resized to ``size`` (the cache of 'resize' mode); else it is at its source size
        and comes back at its source size ('resize' mode, to be resized) or as the crop window."""
        aug, mode, out_hw = self.augmenter, self.output_mode, tuple(self.size)
        affine = aug is not None and hasattr(aug, "random_matrix")
        if resized:
            if aug is None:
                return img
            if hasattr(aug, "read_index"):  # the observation read afresh (MATLAB's transformed datastore)
                return aug.read_index(i, rng)
            src = self._source_hw(i, img.shape[:2])
            scale = (img.shape[0] / src[0], img.shape[1] / src[1])
            return aug.apply(img, rng, scale=scale)
        src_hw = img.shape[:2]
        if affine:
            a = aug.random_matrix(rng, src_hw)
            if mode == "resize":
                return warp(img, a, fill=aug.fill)
            y0, x0 = _window(mode, src_hw, out_hw, rng)
            return warp(img, translation(-x0, -y0) @ a, out_hw, fill=aug.fill)
        if mode != "resize":
            y0, x0 = _window(mode, src_hw, out_hw, rng)
            img = img[y0 : y0 + out_hw[0], x0 : x0 + out_hw[1]]
        return img

    def _post(self, img, rng):
        """A non-affine augmenter (applied at the network's size, after any crop or resize)."""
        if not self._has_post():
            return img
        return self.augmenter.apply(np.ascontiguousarray(img), rng, scale=(1.0, 1.0))

    def _memory_image_fn(self, pass_no):
        """one(i, k): stored image i, read as the k-th image of pass ``pass_no`` through the transforms, seeds,
        augmenter and crop (NumPy; both streams call it)."""
        images, tr, seeds = self.images, self.transforms, self.aug_seeds
        h, w = self.size
        resized = self.output_mode == "resize"
        if resized and tuple(images.shape[1:3]) != (h, w):
            raise DataError(f"images stored at {images.shape[1]} x {images.shape[2]} for a network of {h} x {w}")

        def one(i, k):
            img = images[i] if tr is None else transform_np(images[i], int(tr[i]))
            if seeds is not None:
                img = _augment_py(img, seeds[i])
            rng = self._rng(pass_no, k)
            img = self._geometry(img, i, rng, resized)
            return self._post(img, rng)

        return one

    def _stream_fns(self, pass_no):
        """(read, post) of files read through the augmenter or a crop in pass ``pass_no``: ``read(path, i, k)``
        the k-th read, file i at its source size through the transforms, seeds, augmenter's geometry and crop;
        ``post(img, k)`` a non-affine augmenter on it once resized (NumPy; both streams call them)."""
        h, w = self.size
        c = self.channels
        tr, seeds = self.transforms, self.aug_seeds
        space, crop, cp = self.colorspace, self.crop, self.color_preprocessing

        def read(p, i, k):
            i, k = int(i), int(k)
            try:
                img = _decode_full(p, space, crop, c, cp)
            except Exception:  # noqa: BLE001 - a file that went bad after the scan: black, as file_dataset
                return np.zeros((h, w, c), np.uint8)
            if tr is not None:
                img = transform_np(img, int(tr[i]))
            if seeds is not None:
                img = _augment_py(img, seeds[i])
            return np.ascontiguousarray(self._geometry(img, i, self._rng(pass_no, k), resized=False))

        def post(img, k):
            return np.ascontiguousarray(self._post(img, self._rng(pass_no, int(k), 1))).reshape(h, w, c)

        return read, post

    def _stored_image_fn(self):
        """one(i): stored image i through its transform and seeded augmentation (no augmenter, no crop)."""
        images, tr, seeds = self.images, self.transforms, self.aug_seeds

        def one(i):
            img = images[i] if tr is None else transform_np(images[i], int(tr[i]))
            return _augment_py(img, seeds[i]) if seeds is not None else img

        return one

    def _has_post(self) -> bool:
        """Whether the augmenter works on images at the network's size: neither affine (warped in the source's
        pixels by :meth:`_geometry`) nor a reader of observations (replacing the stored image there)."""
        aug = self.augmenter
        return aug is not None and not hasattr(aug, "random_matrix") and not hasattr(aug, "read_index")

    def _memory_reader(self, order, batch_size, pass_no):
        import tensorflow as tf

        images = self.images
        labels = np.asarray(self.labels, np.int32)
        h, w = self.size
        one = self._memory_image_fn(pass_no)

        def make_batch(b):
            start = int(b) * batch_size
            idx = order[start : start + batch_size]
            out = np.empty((len(idx), h, w, images.shape[-1]), images.dtype)
            for j, i in enumerate(idx):
                out[j] = one(int(i), start + j).reshape(h, w, -1)
            return out, labels[idx]

        n_batches = -(-len(order) // batch_size)
        dtype = tf.as_dtype(images.dtype)

        def call(b):
            x, y = tf.numpy_function(make_batch, [b], [dtype, tf.int32], stateful=False)
            return tf.ensure_shape(x, [None, h, w, images.shape[-1]]), tf.ensure_shape(y, [None])

        return tf.data.Dataset.range(n_batches).map(call, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)

    def _stream_reader(self, order, batch_size, pass_no):
        import tensorflow as tf

        h, w = self.size
        c = self.channels
        paths = np.asarray([os.fsencode(self.paths[i]) for i in order], dtype=object)
        labels = np.asarray(self.labels, np.int32)[order]
        read, post = self._stream_fns(pass_no)
        has_post = self._has_post()

        def load(p, y, i, k):
            img = tf.numpy_function(read, [p, i, k], tf.uint8, stateful=False)
            img.set_shape([None, None, c])
            img = resize_uint8(img, (h, w))
            if has_post:
                img = tf.ensure_shape(tf.numpy_function(post, [img, k], tf.uint8, stateful=False), [h, w, c])
            return img, y

        ds = tf.data.Dataset.from_tensor_slices((paths, labels, np.asarray(order, np.int64),
                                                 np.arange(len(order), dtype=np.int64)))
        return ds.map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True).batch(batch_size)

    def _stream_order(self, order, batch_size, drop_remainder):
        """The order of a new stream (default: as stored; cut to whole batches with ``drop_remainder``) and its
        pass number (None when no read goes through the augmenter), counted: every stream is one pass."""
        order = np.arange(len(self)) if order is None else np.asarray(order, np.int64)
        if drop_remainder:
            order = order[: (len(order) // batch_size) * batch_size]
        pass_no = None
        if self._reads_through_augmenter():
            pass_no = self._passes
            self._passes += 1
        return order, pass_no

    def batches(self, order=None, batch_size=128, drop_remainder=False, prefetch=2) -> tf.data.Dataset:
        """(float32 N x H x W x C, int32 labels) in ``order`` (default: as stored); pixel values as stored
        (uint8 images give [0, 255]). A tf.data pipeline (TensorFlow); :meth:`numpy_batches` gives the same
        batches without it."""
        import tensorflow as tf

        order, pass_no = self._stream_order(order, batch_size, drop_remainder)
        labels = np.asarray(self.labels, np.int32)
        h, w = self.size
        if pass_no is not None:
            reader = self._memory_reader if self.in_memory else self._stream_reader
            ds = reader(order, batch_size, pass_no)
        elif self.in_memory:
            images = self.images
            one = self._stored_image_fn()

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
            c = self.channels
            paths = np.asarray([os.fsencode(self.paths[i]) for i in order], dtype=object)
            tr = (self.transforms if self.transforms is not None else np.zeros(len(self), np.int32))[order]
            sd = (self.aug_seeds if self.aug_seeds is not None else np.full(len(self), -1, np.int64))[order]

            def load(p, y, t, s_):
                img = transform_tf(decode_and_resize(p, (h, w), self.colorspace, self.crop, c,
                                                     self.color_preprocessing)[0], t)
                img = tf.numpy_function(_augment_py, [img, s_], tf.uint8, stateful=False)
                return tf.ensure_shape(img, [h, w, c]), y

            ds = tf.data.Dataset.from_tensor_slices((paths, labels[order], tr.astype(np.int32), sd))
            ds = ds.map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
            ds = ds.batch(batch_size)
        return without_autotune(ds.map(lambda x, y: (tf.cast(x, tf.float32), y)).prefetch(prefetch))

    def _numpy_image_fn(self, order, pass_no):
        """one(j): the j-th image of a stream in ``order`` at the network's size, as :meth:`batches` reads it."""
        h, w = self.size
        if pass_no is not None and self.in_memory:
            image = self._memory_image_fn(pass_no)
            return lambda j: image(int(order[j]), j)
        if pass_no is not None:
            read, post = self._stream_fns(pass_no)
            has_post = self._has_post()

            def one(j):
                i = int(order[j])
                img = resize_uint8_np(read(self.paths[i], i, j), (h, w))
                return post(img, j) if has_post else img

            return one
        if self.in_memory:
            image = self._stored_image_fn()
            return lambda j: image(int(order[j]))
        tr, seeds = self.transforms, self.aug_seeds

        def one(j):
            i = int(order[j])
            img = _decode_resize_np(self.paths[i], (h, w), self.colorspace, self.crop, self.channels,
                                    self.color_preprocessing)[0]
            img = transform_np(img, int(tr[i])) if tr is not None else img
            return _augment_py(img, seeds[i]) if seeds is not None else img

        return one

    def numpy_batches(self, order=None, batch_size=128, drop_remainder=False, prefetch=2, dtype=None):
        """The batches of :meth:`batches` without TensorFlow: an iterator of (N x H x W x C images, int32 labels)
        NumPy arrays, the images as stored (uint8 for files) or of ``dtype`` (e.g. 'float32'). The same order,
        transforms, augmentation draws and pass count (this call is one pass, counted now); files are resized by
        :func:`resize_uint8_np`. A thread pool of one worker per core prepares up to ``prefetch`` batches ahead;
        closing the iterator (or dropping it) cancels what is queued."""
        order, pass_no = self._stream_order(order, batch_size, drop_remainder)
        labels = np.asarray(self.labels, np.int32)[order]
        h, w = self.size
        stored = self.images.dtype if self.in_memory else np.dtype(np.uint8)
        c = self.images.shape[-1] if self.in_memory else self.channels
        out_dtype = np.dtype(stored if dtype is None else dtype)
        one = self._numpy_image_fn(order, pass_no)
        plain_memory = self.in_memory and pass_no is None
        n, workers = len(order), _workers()

        def fill(out, start, lo, hi):
            for j in range(lo, hi):
                out[j - start] = one(j).reshape(h, w, -1)

        def jobs(b):
            """Batch b as (jobs for the pool, the batch from their results)."""
            start, stop = b * batch_size, min((b + 1) * batch_size, n)
            idx, y = order[start:stop], labels[start:stop]
            if plain_memory and self._as_stored(idx):  # the stored images: one copy (and cast)
                return [lambda: self.images[idx].astype(out_dtype, copy=False)], lambda done: (done[0], y)
            out = np.empty((stop - start, h, w, c), out_dtype)
            step = max(8, -(-(stop - start) // workers))  # a part of the batch per worker
            return ([partial(fill, out, start, lo, min(lo + step, stop)) for lo in range(start, stop, step)],
                    lambda done: (out, y))

        return _prefetched(jobs, -(-n // batch_size), prefetch, workers)

    def subset(self, indices) -> "ImageData":
        """Samples at ``indices`` (repeats allowed)."""
        indices = np.asarray(indices, np.int64)
        pick = (lambda a: None if a is None else a[indices])
        return replace(self, labels=self.labels[indices], images=pick(self.images),
                       paths=None if self.paths is None else [self.paths[i] for i in indices],
                       transforms=pick(self.transforms), aug_seeds=pick(self.aug_seeds),
                       source_sizes=pick(self.source_sizes),
                       augmenter=self.augmenter.subset(indices) if hasattr(self.augmenter, "subset")
                       else self.augmenter)  # an augmenter indexed by sample follows the subset

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
        """Whether samples ``idx`` are used as stored: no geometric transform, no augmentation, no crop."""
        return ((self.transforms is None or not np.any(self.transforms[idx]))
                and (self.aug_seeds is None or bool(np.all(self.aug_seeds[idx] < 0)))
                and self.augmenter is None and self.output_mode == "resize")

    def stored_batches(self, batch_size=128):
        """(images, labels) in stored order, for passes that read every sample once as it is (input statistics,
        validation, prediction): for images in memory without transforms or augmentation, slices of the stored
        arrays (NumPy, no copy: no pipeline to start and no float32 copy, per validation); else the float32
        batches of :meth:`batches` (tensors, on the TensorFlow backend) or :meth:`numpy_batches` (NumPy arrays,
        on any other), augmented afresh when an augmenter is set."""
        if self.in_memory and self._as_stored(slice(None)):
            labels = np.asarray(self.labels, np.int32)
            for start in range(0, len(self), batch_size):
                yield self.images[start : start + batch_size], labels[start : start + batch_size]
            return
        if _use_tf_data():
            yield from self.batches(None, batch_size)
        else:
            yield from self.numpy_batches(None, batch_size, dtype="float32")

    def iter_uint8(self, batch_size=128):
        """The images of :meth:`stored_batches` as NumPy arrays (8-bit where stored so, and for files off the
        TensorFlow backend: input statistics)."""
        if not _use_tf_data() and not (self.in_memory and self._as_stored(slice(None))):
            for x, _ in self.numpy_batches(None, batch_size):
                yield x
            return
        for x, _ in self.stored_batches(batch_size):
            yield np.asarray(x)


def _prefetched(jobs, n_batches, prefetch, workers):
    """Batches 0 .. n_batches - 1 from ``jobs(b)`` = (callables for the pool, the batch from their results), in
    order, with at most ``prefetch`` batches queued or in work beyond the one being waited for. The pool's
    threads start on the first ``next`` and are let go when the stream ends or is closed (``close()``, or
    garbage collection of an unfinished stream): queued jobs are cancelled, running ones finish and nothing waits
    for a consumer, so no thread outlives its jobs."""
    pool = ThreadPoolExecutor(workers, thread_name_prefix="leuknet-batches")
    pending = deque()
    with one_blas_thread():
        try:
            submitted = 0
            for _ in range(n_batches):
                while submitted < n_batches and len(pending) <= max(int(prefetch), 0):
                    calls, done = jobs(submitted)
                    pending.append(([pool.submit(f) for f in calls], done))
                    submitted += 1
                futures, done = pending.popleft()
                yield done([f.result() for f in futures])
        finally:
            for futures, _ in pending:
                for f in futures:
                    f.cancel()
            pool.shutdown(wait=False, cancel_futures=True)


def _check_channels(channels, color_preprocessing, colorspace, output_mode="resize"):
    if channels not in (1, 3):
        raise ConfigError(f"images must have 1 or 3 channels, received {channels!r}")
    if color_preprocessing not in COLOR_PREPROCESSING:
        raise ConfigError(f"colour preprocessing must be one of {', '.join(COLOR_PREPROCESSING)}, received "
                          f"{color_preprocessing!r}")
    if channels == 1 and colorspace != "rgb":
        raise ConfigError(f"colour space {colorspace!r} needs 3-channel images; the input layer takes 1")
    if output_mode not in OUTPUT_SIZE_MODES:
        raise ConfigError(f"output size mode must be one of {', '.join(OUTPUT_SIZE_MODES)}, received {output_mode!r}")


def load_image_data(paths, labels, size, colorspace="rgb", cache_budget_mb=DEFAULT_CACHE_BUDGET_MB,
                    on_bad="skip", progress=None, crop=0, channels=3, color_preprocessing="none",
                    output_mode="resize"):
    """Scan files (one parallel decode pass, which also finds corrupt ones) and return
    ``(ImageData, bad_paths)``. The data stays in memory when it fits ``cache_budget_mb``.
    ``on_bad='skip'`` drops unreadable files (listed in bad_paths); ``'raise'`` refuses them. A file with channels
    the input cannot take (see :func:`fit_channels`) is always an error. Each file's size before resizing is kept
    (``ImageData.source_sizes``). With ``output_mode`` 'centercrop' / 'randcrop' the images are kept at their own
    size (in memory when they all have one size and fit; else streamed) and cropped at each read."""
    size = tuple(int(v) for v in size)
    channels = int(channels)
    _check_channels(channels, color_preprocessing, colorspace, output_mode)
    need_mb = len(paths) * size[0] * size[1] * channels / 2**20
    keep = need_mb <= cache_budget_mb and output_mode == "resize"
    images, status, hws = _scan(paths, size, colorspace, keep_images=keep, progress=progress, crop=crop,
                                channels=channels, color_preprocessing=color_preprocessing)
    mismatched = np.flatnonzero(status == 2)
    if len(mismatched):
        first = paths[mismatched[0]]
        try:
            read_image(first, channels, color_preprocessing)
        except ChannelMismatch as e:
            raise ChannelMismatch(f"{e} ({len(mismatched)} such file{'s' if len(mismatched) > 1 else ''})") from None
        raise DataError(f"{first}: channels the input layer cannot take")
    bad = np.flatnonzero(status != 0)
    bad_paths = [paths[i] for i in bad]
    if len(bad) and on_bad == "raise":
        missing = [p for p in bad_paths if not os.path.exists(p)]
        if missing:  # deleted since the datastore listed them: say so, not "unreadable"
            raise DataError(f"{len(missing)} image file(s) no longer exist, first: {missing[0]}")
        raise DataError(f"{len(bad)} unreadable image file(s), first: {bad_paths[0]}")
    good = np.setdiff1d(np.arange(len(paths)), bad)
    labels = np.asarray(labels)[good]
    hws = hws[good]
    kw = dict(crop=crop, channels=channels, color_preprocessing=color_preprocessing, source_sizes=hws,
              output_mode=output_mode)
    if output_mode != "resize":
        check_crop_sizes(output_mode, hws, size, "the smallest file")
        one_size = len(hws) and bool(np.all(hws == hws[0]))
        if one_size and len(good) * int(hws[0][0]) * int(hws[0][1]) * channels / 2**20 <= cache_budget_mb:
            src = tuple(int(v) for v in hws[0])
            images, _, _ = _scan([paths[i] for i in good], src, colorspace, keep_images=True, crop=crop,
                                 channels=channels, color_preprocessing=color_preprocessing)
            return ImageData(labels, size, colorspace, images=images, **kw), bad_paths
        return ImageData(labels, size, colorspace, paths=[paths[i] for i in good], **kw), bad_paths
    if keep:
        data = ImageData(labels, size, colorspace, images=images[good], **kw)
    else:
        data = ImageData(labels, size, colorspace, paths=[paths[i] for i in good], **kw)
    return data, bad_paths
