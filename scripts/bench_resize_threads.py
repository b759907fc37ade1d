"""The NumPy pipeline's resize (MATLAB's imresize, ``resize_uint8_np``) in a pool of decoders, one per core, with
BLAS at its own thread count and at one thread (``pipeline.one_blas_thread``, what the decoders run under): the
oversubscription that one thread avoids. Milliseconds an image, the best of ``--repeats``, alternated in one
process.

    python scripts/bench_resize_threads.py [--images 64] [--repeats 3] [--size 450] [--out 224]
"""

import argparse
import os
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from leuknet.data.pipeline import one_blas_thread, resize_uint8_np


def per_image_ms(img, out, n, workers):
    t = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(lambda _: resize_uint8_np(img, (out, out)), range(n)))
    return 1e3 * (time.perf_counter() - t) / n


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--size", type=int, default=450)
    ap.add_argument("--out", type=int, default=224)
    a = ap.parse_args()
    from threadpoolctl import threadpool_info

    img = np.random.default_rng(0).integers(0, 256, (a.size, a.size, 3), np.uint8)
    resize_uint8_np(img, (a.out, a.out))  # the banded weights, cached
    workers = os.cpu_count() or 1
    blas = sorted({i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"})
    best = {"own": [], "one": []}
    for _ in range(a.repeats):
        best["own"].append(per_image_ms(img, a.out, a.images, workers))
        with one_blas_thread():
            best["one"].append(per_image_ms(img, a.out, a.images, workers))
    print(f"{a.size} -> {a.out} resize, {a.images} images in a pool of {workers} decoders:")
    print(f"  BLAS at its own {blas} threads: {min(best['own']):.1f} ms an image")
    print(f"  BLAS at one thread (one_blas_thread): {min(best['one']):.1f} ms an image")


if __name__ == "__main__":
    main()
