"""Interleaved A/B of the native cross-channel normalisation kernels: this checkout's against a git revision's.

    python scripts/ab_lrn.py [--rev HEAD~1] [--batch 128] [--repeats 5]
    python scripts/ab_lrn.py --fused [--rev HEAD~1] [--batch 128] [--repeats 6]
    python scripts/ab_lrn.py --step fp32|bf16 [--rev HEAD~1] [--batch 128] [--repeats 4]

Builds ``leuknet/ops/cross_channel_norm.cc`` as it was at ``--rev`` with its ops renamed (TensorFlow registers an
op name once per process), loads it beside this checkout's build, and times forward and backward of both on
LeukNet's three feature-map shapes, interleaved in one process, in float32 and bfloat16. A ReLU over the same
tensor (one read, one write: what the memory bus allows) is timed alongside as the floor. Medians, seconds.

``--fused``: the fused normalisation + max pooling kernels instead (relu -> crossnorm -> maxpool 3x3, stride 2, as in
LeukNet's blocks): forward with and without recorded maxima, and the gradient; both builds' outputs are checked to be
bit for bit the same first.

``--step``: whole LeukNet training steps instead (the step `leuknet train` runs, under its CPU profile, but without
the fused blocks, which the older builds lack), one model with each kernel build, alternating step by step.
"""

import argparse
import os
import subprocess
import tempfile
import time
from pathlib import Path

os.environ.setdefault("CUDA_VISIBLE_DEVICES", "-1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from leuknet import ops  # noqa: E402
from _ab import load_renamed  # noqa: E402


def source_at(rev):
    root = Path(__file__).resolve().parents[1]
    return subprocess.run(["git", "show", f"{rev}:leuknet/ops/cross_channel_norm.cc"], cwd=root, check=True,
                          capture_output=True, text=True).stdout


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rev", default="HEAD~1")
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--step", choices=("fp32", "bf16"), help="time whole training steps in this precision")
    ap.add_argument("--fused", action="store_true", help="time the fused normalisation + max pooling kernels")
    args = ap.parse_args()
    new = ops.cross_channel_norm()
    if new is None:
        raise SystemExit(f"native kernels unavailable: {ops.status()}")
    with tempfile.TemporaryDirectory() as d:
        old = load_renamed(source_at(args.rev), "Old", d)
    if args.step:
        return ab_step(old, args)
    if args.fused:
        return ab_fused(old, new, args)
    attrs = dict(before=2, after=2, scale=1e-4 / 5, beta=0.75, k=2.0)
    print(f"| dtype | shape (batch {args.batch}) | ReLU (floor) | {args.rev} forward | this forward | "
          f"{args.rev} backward | this backward |")
    print("|---|---|---|---|---|---|---|")
    for dtype in (tf.float32, tf.bfloat16):
        for shape in ((222, 222, 64), (108, 108, 128), (51, 51, 256)):
            x = tf.cast(tf.nn.relu(tf.random.stateless_normal((args.batch, *shape), [0, 1])) * 30, dtype)
            fns = {"relu": lambda: tf.nn.relu(x),
                   "old_f": lambda: old.old_cross_channel_norm(x, **attrs),
                   "new_f": lambda: new.leuknet_cross_channel_norm(x, **attrs),
                   "old_b": lambda: old.old_cross_channel_norm_grad(x, x, **attrs),
                   "new_b": lambda: new.leuknet_cross_channel_norm_grad(x, x, **attrs)}
            times = {k: [] for k in fns}
            for f in fns.values():
                f()
            for _ in range(args.repeats):
                for k, f in fns.items():
                    t0 = time.perf_counter()
                    y = f()
                    _ = y.shape  # eager ops run synchronously on the CPU
                    times[k].append(time.perf_counter() - t0)
                    del y
            med = {k: float(np.median(v)) for k, v in times.items()}
            print(f"| {dtype.name} | {' x '.join(map(str, shape))} | {med['relu']:.3f} | {med['old_f']:.3f} | "
                  f"{med['new_f']:.3f} | {med['old_b']:.3f} | {med['new_b']:.3f} |", flush=True)


def same_bits(a, b):
    a, b = a.numpy(), b.numpy()
    return a.dtype == b.dtype and a.tobytes() == b.tobytes()


def ab_fused(old, new, args):
    from leuknet.bench import alternate

    attrs = dict(before=2, after=2, scale=1e-4 / 5, beta=0.75, k=2.0, relu=True, pool_h=3, pool_w=3, stride_h=2,
                 stride_w=2)
    print(f"| dtype | shape (batch {args.batch}) | {args.rev} forward | this forward | x | {args.rev} forward, "
          f"no maxima | this | x | {args.rev} gradient | this gradient | x |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for dtype in (tf.bfloat16, tf.float32):
        for shape in ((222, 222, 64), (108, 108, 128), (51, 51, 256)):
            x = tf.cast(tf.random.stateless_normal((args.batch, *shape), [0, 1]) * 30, dtype)
            yo, ao = old.old_cross_channel_norm_max_pool(x, **attrs)
            yn, an = new.leuknet_cross_channel_norm_max_pool(x, **attrs)
            g = tf.cast(tf.random.stateless_normal(yo.shape, [0, 2]), dtype)
            assert same_bits(yo, yn) and same_bits(ao, an), "the forward passes differ"
            assert same_bits(old.old_cross_channel_norm_max_pool_grad(x, ao, g, **attrs),
                             new.leuknet_cross_channel_norm_max_pool_grad(x, an, g, **attrs)), "the gradients differ"
            fns = {"old_f": lambda: old.old_cross_channel_norm_max_pool(x, **attrs)[0],
                   "new_f": lambda: new.leuknet_cross_channel_norm_max_pool(x, **attrs)[0],
                   "old_p": lambda: old.old_cross_channel_norm_max_pool(x, with_argmax=False, **attrs)[0],
                   "new_p": lambda: new.leuknet_cross_channel_norm_max_pool(x, with_argmax=False, **attrs)[0],
                   "old_g": lambda: old.old_cross_channel_norm_max_pool_grad(x, ao, g, **attrs),
                   "new_g": lambda: new.leuknet_cross_channel_norm_max_pool_grad(x, an, g, **attrs)}
            m = {k: float(np.median(v)) for k, v in alternate(fns, args.repeats).items()}  # eager ops: synchronous
            cells = " | ".join(f"{m['old_' + k]:.3f} | {m['new_' + k]:.3f} | {m['old_' + k] / m['new_' + k]:.2f}x"
                               for k in "fpg")
            print(f"| {dtype.name} | {' x '.join(map(str, shape))} | {cells} |", flush=True)


def ab_step(old, args):
    from leuknet import layers
    from leuknet.bench import alternate, random_batch, training_steps
    from leuknet.profiles import apply_profile, resolve_profile

    profile = resolve_profile("cpu", args.step, args.batch, strategy="default")
    apply_profile(profile)

    class Old:  # the revision's ops under the names the layer calls
        leuknet_cross_channel_norm = staticmethod(old.old_cross_channel_norm)
        leuknet_cross_channel_norm_grad = staticmethod(old.old_cross_channel_norm_grad)

    x, y = random_batch(args.batch, 224)
    steps, native = {}, layers._native_lrn
    try:
        for name, lib in ((args.rev, lambda: Old), ("this", native)):
            layers._native_lrn = lib  # read when the model's layers are built
            model, steps[name], _ = training_steps("leuknet", profile, x, y, 224)
            layers.unfuse_blocks(model)  # the kernels alone (the fused blocks: scripts/ab_fuse.py)
            steps[name](), steps[name]()  # traced here, under the settings above
    finally:
        layers._native_lrn = native
    times = alternate(steps, args.repeats)
    for k, v in times.items():
        print(f"{k}: median step {np.median(v):.2f} s ({args.batch / np.median(v):.2f} img/s); "
              f"steps {', '.join(f'{t:.2f}' for t in v)}")
    print(f"speed-up: {np.median(times[args.rev]) / np.median(times['this']):.3f}x")


if __name__ == "__main__":
    main()
