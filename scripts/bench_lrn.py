"""Forward + backward time of cross-channel normalisation implementations (README table).

    python scripts/bench_lrn.py [--batch 32] [--repeats 5] [--dtype float32|bfloat16]

Compares TensorFlow's ``tf.nn.local_response_normalization`` (alpha divided by the window, as MATLAB; float32
only: TensorFlow has no bfloat16 CPU kernel for it), and leuknet's ``CrossChannelNormalization`` with its XLA
kernels (``LEUKNET_NATIVE_OPS=0``) and with the native kernels, on LeukNet's three feature-map shapes. Medians,
interleaved repetitions in one process.
"""

import argparse
import os
import time

os.environ.setdefault("CUDA_VISIBLE_DEVICES", "-1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from leuknet import ops  # noqa: E402
from leuknet.layers import CrossChannelNormalization  # noqa: E402


def fwd_bwd(fn):
    @tf.function
    def run(x, g):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = fn(x)
        return y, tape.gradient(y, x, output_gradients=g)

    return run


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--dtype", choices=("float32", "bfloat16"), default="float32")
    args = ap.parse_args()
    dtype = tf.as_dtype(args.dtype)
    print(f"| shape (batch {args.batch}, {args.dtype}) | tf.nn.local_response_normalization | "
          "CrossChannelNormalization, XLA | CrossChannelNormalization, native |")
    print("|---|---|---|---|")
    for shape in ((222, 222, 64), (108, 108, 128), (51, 51, 256)):
        rng = np.random.default_rng(0)
        x = tf.cast(np.maximum(rng.normal(0, 30, (args.batch, *shape)), 0).astype(np.float32), dtype)
        g = tf.cast(rng.normal(0, 1, x.shape).astype(np.float32), dtype)
        fns = {}
        if dtype == tf.float32:
            fns["tf"] = fwd_bwd(lambda v: tf.nn.local_response_normalization(v, 2, 2.0, 1e-4 / 5, 0.75))
        for name, mode in (("xla", "0"), ("native", "auto")):
            os.environ["LEUKNET_NATIVE_OPS"] = mode
            ops.reset()
            layer = CrossChannelNormalization(5, dtype="mixed_bfloat16" if dtype == tf.bfloat16 else "float32")
            layer.build(x.shape)
            fns[name] = fwd_bwd(layer)
        times = {k: [] for k in fns}
        for f in fns.values():
            f(x, g)
        for _ in range(args.repeats):
            for k, f in fns.items():
                t0 = time.perf_counter()
                f(x, g)
                times[k].append(time.perf_counter() - t0)
        med = {k: float(np.median(v)) for k, v in times.items()}
        ref = f"{med['tf']:.2f} s" if "tf" in med else "no bfloat16 kernel"
        print(f"| {' x '.join(map(str, shape))} | {ref} | {med['xla']:.2f} s | {med['native']:.2f} s |", flush=True)


if __name__ == "__main__":
    main()
