"""Where the time of one LeukNet training (or inference) step goes, by kind of op (README table).

    python scripts/profile_step.py [--batch 128] [--precision fp32|bf16] [--mode train|inference] [--repeats 3]

Runs the step `leuknet train` runs (the CPU profile's threads, with one inter-op thread so that op times do not
overlap), times it, then records one step with the TensorFlow profiler and sums the op times of its trace by
kind: convolutions (forward, data gradient, weight gradient), cross-channel normalisation, max pooling, ReLU,
fully connected, solver update (XLA), casts and the rest.
"""

import argparse
import collections
import glob
import os
import tempfile
import time

os.environ.setdefault("CUDA_VISIBLE_DEVICES", "-1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

KINDS = (  # first match wins: (kind, substrings of the op name)
    ("convolution, weight gradient", ("Conv2DBackpropFilter", "Conv2DFilterGrad")),
    ("convolution, data gradient", ("Conv2DBackpropInput",)),
    ("convolution, forward (+ bias + ReLU)", ("FusedConv2D", "Conv2D")),
    ("cross-channel normalisation (+ ReLU, max pooling where fused)", ("LeuknetCrossChannelNorm", "crossnorm")),
    ("max pooling", ("MaxPool",)),
    ("ReLU gradient", ("ReluGrad",)),
    ("fully connected", ("MatMul", "fc_")),
    ("XLA (solver update)", ("CpuExecutable",)),
    ("casts", ("Cast",)),
)


def kind_of(name):
    for kind, keys in KINDS:
        if any(k in name for k in keys):
            return kind
    return "other"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--precision", choices=("fp32", "bf16"), default="fp32")
    ap.add_argument("--mode", choices=("train", "inference"), default="train")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--top", type=int, default=0, help="also list the N slowest ops by name")
    args = ap.parse_args()

    from leuknet.bench import random_batch, training_steps
    from leuknet.profiles import apply_profile, resolve_profile

    profile = resolve_profile("cpu", args.precision, args.batch, strategy="default")
    profile.inter_op_threads = 1
    apply_profile(profile)
    x, y = random_batch(args.batch, 224)
    _, train, infer = training_steps("leuknet", profile, x, y, 224)  # the steps `leuknet bench` times
    step = train if args.mode == "train" else infer

    step(), step()
    times = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    with tempfile.TemporaryDirectory() as d:
        tf.profiler.experimental.start(d)
        step()
        tf.profiler.experimental.stop()
        from tensorflow.tsl.profiler.protobuf import xplane_pb2

        space = xplane_pb2.XSpace()
        space.ParseFromString(open(glob.glob(f"{d}/**/*.xplane.pb", recursive=True)[0], "rb").read())
    ops = collections.Counter()
    for plane in space.planes:
        names = {k: v.name for k, v in plane.event_metadata.items()}
        for line in plane.lines:
            if not line.name.startswith("tf_Compute"):  # the threads that run ops
                continue
            for ev in line.events:
                name = names.get(ev.metadata_id, "?")
                # ops are "name:Type"; an XLA computation runs as one CpuExecutable event; the executor's own
                # frames enclose the ops and are skipped
                if ":" in name and "::" not in name or name == "CpuExecutable::ExecuteAsyncOnStream":
                    ops[name] += ev.duration_ps / 1e9
    by_kind = collections.Counter()
    for name, ms in ops.items():
        by_kind[kind_of(name)] += ms
    total = sum(by_kind.values())
    med = float(np.median(times))
    print(f"LeukNet {args.mode} step, {args.precision}, batch {args.batch}: median {med:.2f} s "
          f"({args.batch / med:.1f} images/s); profiled op time {total / 1000:.2f} s")
    print("| kind of op | ms per step | share |")
    print("|---|---|---|")
    for kind, ms in by_kind.most_common():
        print(f"| {kind} | {ms:.0f} | {100 * ms / total:.1f} % |")
    for name, ms in ops.most_common(args.top):
        print(f"{ms:8.0f} ms  {name}")


if __name__ == "__main__":
    main()
