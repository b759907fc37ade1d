"""Whole training steps with and without the fused blocks (leuknet.layers.FUSED_BLOCKS), alternating.

    python scripts/ab_fuse.py [--model leuknet|alexnet] [--precision bf16] [--batch 128] [--repeats 8]

Two Trainers on the same model definition and batch: one traced with the fusions (ReLU folded into the
normalisation, normalisation + max pooling in one kernel, the first layer's few-channel weight gradient), one
without (TensorFlow's ReLU gradient, max pooling and filter gradient, the normalisation kernel alone). Steps
alternate (the order flips every repetition); the speed-up is the median of the pairs' ratios.
"""

import argparse
import os

os.environ.setdefault("CUDA_VISIBLE_DEVICES", "-1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

from leuknet.bench import alternate, random_batch, training_steps  # noqa: E402
from leuknet.layers import unfuse_blocks  # noqa: E402
from leuknet.profiles import apply_profile, resolve_profile  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", choices=("leuknet", "alexnet"), default="leuknet")
    ap.add_argument("--precision", choices=("fp32", "bf16"), default="bf16")
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--repeats", type=int, default=8)
    args = ap.parse_args()
    profile = resolve_profile("cpu", args.precision, args.batch, strategy="default")
    apply_profile(profile)
    size = 227 if args.model == "alexnet" else 224
    x, y = random_batch(args.batch, size)
    steps = {}
    for name in ("unfused", "fused"):
        model, step, _ = training_steps(args.model, profile, x, y, size)
        if name == "unfused":
            unfuse_blocks(model)  # before the step is traced, on its first call
        step(), step()
        steps[name] = step
    times = alternate(steps, args.repeats)
    for k, v in times.items():
        print(f"{k}: median step {np.median(v):.2f} s ({args.batch / np.median(v):.2f} img/s); "
              f"steps {', '.join(f'{t:.2f}' for t in v)}")
    ratios = [a / b for a, b in zip(times["unfused"], times["fused"])]
    print(f"speed-up (median of {len(ratios)} pairs): {np.median(ratios):.3f}x "
          f"(range {min(ratios):.2f}-{max(ratios):.2f})")


if __name__ == "__main__":
    main()
