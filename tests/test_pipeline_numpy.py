"""The pipeline without TensorFlow: ``resize_uint8_np`` (MATLAB's imresize), ``ImageData.numpy_batches`` (the
batches of the tf.data stream, from a thread pool), the threaded scan, and the module importing and running where
``import tensorflow`` fails (Keras on JAX)."""

import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from conftest import write_image
from references import imresize_bilinear  # parity/references.py: MATLAB's imresize algorithm
from leuknet.augment import OliveiraAugmenter
from leuknet.data import pipeline
from leuknet.data.pipeline import (ImageData, load_image_data, read_image, resize_float32_np, resize_uint8_np,
                                   transform_np)

ROOT = Path(__file__).resolve().parents[1]


def smooth(shape, seed=0):
    rng = np.random.default_rng(seed)
    img = rng.integers(0, 256, shape).astype(np.uint8)
    return cv2.GaussianBlur(img, (0, 0), 1.0).reshape(shape)


def files(tmp_path, n=20, hw=(40, 30)):
    rng = np.random.default_rng(3)
    return [str(write_image(tmp_path / f"f{i:02d}.{'png' if i % 2 else 'bmp'}",
                            rng.integers(0, 256, hw + (3,)).astype(np.uint8))) for i in range(n)]


def stack(stream):
    xs, ys = zip(*[(np.asarray(x), np.asarray(y)) for x, y in stream])
    return np.concatenate(xs), np.concatenate(ys)


# -- resize_uint8_np ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("src,dst", [((40, 30), (16, 16)), ((450, 450), (224, 224)), ((17, 23), (40, 31)),
                                     ((7, 9), (7, 20)), ((31, 5), (3, 11)), ((33, 47), (64, 12)), ((10, 10), (1, 1))])
@pytest.mark.parametrize("c", [1, 3])
def test_resize_np_is_matlab_imresize_bilinear(src, dst, c):
    img = np.random.default_rng(sum(src) + c).integers(0, 256, src + (c,)).astype(np.uint8)
    ours = resize_uint8_np(img, dst)
    assert ours.shape == dst + (c,) and ours.dtype == np.uint8
    diff = np.abs(ours.astype(float) - imresize_bilinear(img, dst))
    assert diff.max() <= 1  # float32 sums against float64 ones: a tie may round the other way
    assert diff.mean() < 0.02
    grey = resize_uint8_np(img[..., 0], dst)  # H x W in, H x W out
    assert grey.shape == dst and np.abs(grey - imresize_bilinear(img[..., 0], dst)).max() <= 1


@pytest.mark.parametrize("src,dst", [((40, 30), (16, 16)), ((17, 23), (40, 31)), ((33, 47), (64, 12))])
def test_resize_float32_np_is_matlab_imresize_bilinear_unrounded(src, dst):
    """Float images (what augmentedImageDatastore resizes when the images are not uint8): imresize is linear, so
    the reference's rounded result of 1000 x the image, over 1000, is its unrounded one to within 5e-4."""
    img = np.random.default_rng(sum(src)).uniform(0, 0.255, src + (3,))
    ours = resize_float32_np(img, dst)
    assert ours.shape == dst + (3,) and ours.dtype == np.float32
    np.testing.assert_allclose(ours, imresize_bilinear(img * 1000, dst) / 1000, atol=6e-4)
    assert resize_float32_np(img, src).dtype == np.float32  # the same size: a float32 copy


def test_resize_np_same_size_is_the_image_and_upscale_agrees_with_opencv_inside():
    img = smooth((12, 14, 3))
    assert resize_uint8_np(img, (12, 14)) is img
    ours = resize_uint8_np(img, (30, 37)).astype(int)
    cv = cv2.resize(img, (37, 30), interpolation=cv2.INTER_LINEAR).astype(int)  # no antialiasing when enlarging
    assert np.abs(ours - cv)[2:-2, 2:-2].max() <= 1  # OpenCV's 11-bit fixed-point weights


# -- numpy_batches = batches() ---------------------------------------------------------------------------------

def memory_data(tmp_path, **kw):
    data, _ = load_image_data(files(tmp_path), np.arange(20) % 2, (16, 16), **kw)
    assert data.in_memory
    return data


def with_reads(data, augmenter, transforms=True):
    data.augmenter = augmenter
    data.augment_seed = 5
    data.transforms = (np.arange(len(data)) % 6).astype(np.int32) if transforms else None
    data.aug_seeds = np.where(np.arange(len(data)) % 3 == 0, np.arange(len(data)) + 11, -1)
    return data


def augmenters():
    from leuknet.matlab import imageDataAugmenter

    return {"none": None, "affine": imageDataAugmenter(RandRotation=[-40, 40], RandXReflection=True,
                                                       RandXTranslation=[-2, 2]),
            "oliveira": OliveiraAugmenter()}


@pytest.mark.parametrize("aug", ["none", "affine", "oliveira"])
def test_numpy_batches_equal_tf_batches_in_memory_over_two_passes(tmp_path, aug):
    pytest.importorskip("tensorflow")
    a = with_reads(memory_data(tmp_path), augmenters()[aug])
    b = with_reads(memory_data(tmp_path / "b"), augmenters()[aug])
    order = np.random.default_rng(1).permutation(20)
    for _ in range(2):  # pass 0 then pass 1: fresh draws, the same in both streams
        x_tf, y_tf = stack(a.batches(order, 6, drop_remainder=True))
        x_np, y_np = stack(b.numpy_batches(order, 6, drop_remainder=True, dtype="float32"))
        assert x_np.dtype == np.float32 and y_np.dtype == np.int32 and len(y_np) == 18
        np.testing.assert_array_equal(x_np, x_tf)
        np.testing.assert_array_equal(y_np, y_tf)
    assert a._passes == b._passes == (0 if aug == "none" else 2)
    x8, _ = stack(b.numpy_batches(order[:5], 2))
    assert x8.dtype == np.uint8 and len(x8) == 5  # as stored, with the remainder


def test_numpy_batches_equal_tf_batches_with_randcrop_and_as_stored(tmp_path):
    pytest.importorskip("tensorflow")
    a = memory_data(tmp_path, output_mode="randcrop")
    b = memory_data(tmp_path / "b", output_mode="randcrop")
    a.augmenter = b.augmenter = augmenters()["affine"]
    for _ in range(2):
        np.testing.assert_array_equal(stack(b.numpy_batches(None, 7, dtype="float32"))[0], stack(a.batches(None, 7))[0])
    plain = memory_data(tmp_path / "c")
    x, y = next(plain.numpy_batches([3, 1, 2], 8))
    np.testing.assert_array_equal(x, plain.images[[3, 1, 2]])
    np.testing.assert_array_equal(y, [1, 1, 0])


# -- streamed data and the NumPy scan --------------------------------------------------------------------------

def test_streamed_numpy_batches_are_decode_then_imresize(tmp_path):
    paths = files(tmp_path)
    data, _ = load_image_data(paths, np.arange(20) % 2, (16, 16), cache_budget_mb=0)
    assert not data.in_memory
    data.transforms = np.array([0, 2, 4, 5] * 5, np.int32)  # no 90-degree turns: the sources are not square
    order = np.random.default_rng(2).permutation(20)
    x, y = stack(data.numpy_batches(order, 8))
    ref = np.stack([transform_np(imresize_bilinear(read_image(paths[i]), (16, 16)), data.transforms[i])
                    for i in order])
    assert x.dtype == np.uint8 and np.abs(x - ref).max() <= 1
    np.testing.assert_array_equal(y, order % 2)
    # an augmenter: the file is warped at its size, then resized (here a fixed translation: an exact shift)
    from leuknet.matlab import imageDataAugmenter

    data.transforms = None
    data.augmenter = imageDataAugmenter(RandXTranslation=[3, 3], RandYTranslation=[-2, -2])
    x, _ = stack(data.numpy_batches(order[:5], 2))
    ref = []
    for i in order[:5]:
        src = read_image(paths[i])
        moved = np.zeros_like(src)
        moved[:-2, 3:] = src[2:, :-3]
        ref.append(imresize_bilinear(moved, (16, 16)))
    assert np.abs(x - np.stack(ref)).max() <= 1 and data._passes == 1


def test_decoders_run_with_one_blas_thread_and_give_the_count_back(tmp_path):
    """While a NumPy stream's decoders (one per core) resize, BLAS runs one thread (its own threads on top of
    one decoder per core oversubscribe the cores); overlapping streams keep the limit until the last ends, and
    the original count comes back."""
    from threadpoolctl import threadpool_info, threadpool_limits

    def blas_threads():
        return sorted({i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"})

    paths = files(tmp_path, n=12)
    data, _ = load_image_data(paths, np.arange(12) % 2, (16, 16), cache_budget_mb=0)
    with threadpool_limits(limits=2, user_api="blas"):  # this machine may have one core: a known count first
        before = blas_threads()
        assert before == [2], before
        first, second = data.numpy_batches(None, 4), data.numpy_batches(None, 4)
        next(first)
        assert blas_threads() == [1]
        next(second)
        first.close()
        assert blas_threads() == [1]  # the second stream still runs
        rest = list(second)
        assert len(rest) == 2 and blas_threads() == before
        images, bad = pipeline.scan_files(paths, (16, 16))
        assert images.shape == (12, 16, 16, 3) and not bad and blas_threads() == before
        batches = list(pipeline.file_batches(paths, (16, 16), batch=5))
        assert [len(x) for x, _ in batches] == [5, 5, 2] and blas_threads() == before


def test_without_threadpoolctl_the_decoders_still_run(tmp_path, monkeypatch):
    """leuknet run from a checkout where threadpoolctl is missing: BLAS is left as it is, the stream works."""
    monkeypatch.setitem(sys.modules, "threadpoolctl", None)  # `import threadpoolctl` raises ImportError
    paths = files(tmp_path, n=6)
    data, _ = load_image_data(paths, np.arange(6) % 2, (16, 16), cache_budget_mb=0)
    x, y = stack(data.numpy_batches(None, 4))
    assert x.shape == (6, 16, 16, 3) and list(y) == [0, 1, 0, 1, 0, 1]


def test_numpy_scan_caches_what_the_numpy_stream_reads(tmp_path, monkeypatch):
    """Off the TensorFlow backend the cache is made by the threaded scan with resize_uint8_np: the images in memory
    are the ones the file stream reads (transforms and seeded augmentations after the resize in both)."""
    monkeypatch.setattr(pipeline, "_use_tf_data", lambda: False)
    paths = files(tmp_path)
    (tmp_path / "bad.png").write_bytes(b"\x89PNG broken")
    done = []
    mem, bad = load_image_data(paths + [str(tmp_path / "bad.png")], [0, 1] * 10 + [0], (16, 16),
                               progress=done.append)
    assert bad == [str(tmp_path / "bad.png")] and sum(done) == 21 and mem.in_memory
    assert mem.source_sizes.tolist() == [[40, 30]] * 20
    ref = np.stack([imresize_bilinear(read_image(p), (16, 16)) for p in paths])
    assert np.abs(mem.images - ref).max() <= 1
    st, _ = load_image_data(paths, [0, 1] * 10, (16, 16), cache_budget_mb=0)
    for d in (mem, st):
        with_reads(d, None)
    order = np.random.default_rng(4).permutation(20)
    np.testing.assert_array_equal(stack(mem.numpy_batches(order, 6))[0], stack(st.numpy_batches(order, 6))[0])
    # stored_batches / iter_uint8 do not start tf.data there (an augmenter: a pass each)
    mem.augmenter = augmenters()["affine"]
    assert all(isinstance(x, np.ndarray) and x.dtype == np.float32 for x, _ in mem.stored_batches(8))
    assert sum(len(x) for x in st.iter_uint8(8)) == 20 and mem._passes == 1


# -- the thread pool -------------------------------------------------------------------------------------------

def batch_threads():
    return [t for t in threading.enumerate() if t.name.startswith("leuknet-batches")]


def wait_for_no_batch_threads(timeout=20.0):
    end = time.monotonic() + timeout
    while batch_threads() and time.monotonic() < end:
        time.sleep(0.05)
    return not batch_threads()


class Failing:
    def apply(self, img, rng, scale=(1.0, 1.0)):
        raise ValueError("boom")


def test_a_stream_stopped_early_lets_its_threads_go(tmp_path):
    data = with_reads(memory_data(tmp_path), augmenters()["oliveira"])
    it = data.numpy_batches(None, 2, prefetch=3)
    assert not batch_threads()  # nothing starts before the first batch is asked for
    next(it)
    it.close()
    assert wait_for_no_batch_threads()
    it = data.numpy_batches(None, 2)
    next(it)
    del it  # dropped unfinished: garbage collection closes it
    assert wait_for_no_batch_threads()
    bad = ImageData(np.zeros(3, int), (4, 4), images=np.zeros((3, 4, 4, 3), np.uint8), augmenter=Failing())
    with pytest.raises(ValueError, match="boom"):  # a failing read: its error reaches the consumer
        list(bad.numpy_batches(None, 2))
    assert wait_for_no_batch_threads()


# -- no TensorFlow ---------------------------------------------------------------------------------------------

NO_TF = textwrap.dedent("""
    import sys
    sys.path.insert(0, sys.argv[2])
    from pathlib import Path
    import cv2, numpy as np
    from references import imresize_bilinear
    from leuknet.data.pipeline import load_image_data, read_image
    root = Path(sys.argv[1])
    rng = np.random.default_rng(0)
    paths = []
    for i in range(6):
        img = rng.integers(0, 256, (20 + i, 17, 3)).astype(np.uint8)
        paths.append(str(root / f"{i}.{'bmp' if i % 2 else 'png'}"))
        cv2.imwrite(paths[-1], img if i != 4 else img[..., 0])  # one grey file
    (root / "bad.bmp").write_bytes(b"BM broken")
    mem, bad = load_image_data(paths + [str(root / "bad.bmp")], [0, 1, 0, 1, 0, 1, 0], (8, 8))
    assert bad == [str(root / "bad.bmp")] and mem.images.shape == (6, 8, 8, 3), mem
    ref = np.stack([imresize_bilinear(read_image(p), (8, 8)) for p in paths])
    assert np.abs(mem.images - ref).max() <= 1
    streamed, _ = load_image_data(paths, [0, 1] * 3, (8, 8), cache_budget_mb=0)
    x, y = next(streamed.numpy_batches([5, 0, 2], 4, dtype="float32"))
    assert x.dtype == np.float32 and y.tolist() == [1, 0, 0]
    np.testing.assert_array_equal(x, mem.images[[5, 0, 2]])
    assert [len(b) for b, _ in mem.stored_batches(4)] == [4, 2]
    assert [b.dtype for b, _ in streamed.stored_batches(4)] == [np.float32] * 2
    assert sum(len(b) for b in streamed.iter_uint8(4)) == 6
    it = streamed.numpy_batches(None, 1)
    next(it)  # left unfinished at exit: must not hang
    assert not [m for m in sys.modules if m.split(".")[0] == "tensorflow"]
    print("no-tf ok")
""")


def test_the_pipeline_runs_where_tensorflow_cannot_be_imported(tmp_path):
    pytest.importorskip("jax")
    # tests/no_tensorflow/sitecustomize.py: `import tensorflow` fails in that process
    env = dict(os.environ, KERAS_BACKEND="jax", JAX_PLATFORMS="cpu", PYTHONPATH=str(ROOT / "tests" / "no_tensorflow"))
    r = subprocess.run([sys.executable, "-c", NO_TF, str(tmp_path), str(ROOT / "parity")], capture_output=True,
                       text=True, env=env, cwd=ROOT, timeout=300)
    assert r.returncode == 0 and "no-tf ok" in r.stdout, r.stderr[-3000:]
