"""A/B of the 2026-11-22 evening changes around prediction, one process, alternating (bf16, batch 128, LeukNet 224):

    python scripts/ab_predict.py [PAIRS]   (default 8; about 5 minutes)

1. the fused normalisation + pooling op with and without recording maxima, at the three block shapes;
2. a 452-cell validation pass through the tf.data pipeline (float32) against stored 8-bit slices;
3. the forward of 452 cells traced with fuse_blocks(gradients=True / False);
4. input statistics of 1,582 cells from float32 pipeline batches against the stored 8-bit arrays.
Each line: medians and the median of the pairs' ratios (old / new) with its range."""
import os, sys, time; os.environ["TF_CPP_MIN_LOG_LEVEL"]="3"
import numpy as np, tensorflow as tf, keras
from leuknet.profiles import apply_profile, resolve_profile
from leuknet import models, ops
from leuknet.layers import fuse_blocks, input_statistics
from leuknet.data.pipeline import ImageData
from leuknet.matlab import trainingOptions
from leuknet.train import Trainer
pairs = int(sys.argv[1]) if len(sys.argv) > 1 else 8
profile = resolve_profile("cpu", "bf16", 128, strategy="default"); apply_profile(profile)
rng = np.random.default_rng(0)
def pair_report(name, ta, tb, la="old", lb="new"):
    r = [a / b for a, b in zip(ta, tb)]
    print(f"{name}: {la} {np.median(ta):.3f} s, {lb} {np.median(tb):.3f} s, median pair ratio {np.median(r):.2f} ({min(r):.2f}-{max(r):.2f}), {len(r)} pairs", flush=True)
# 1. the fused op alone, three block shapes
lib = ops.cross_channel_norm()
attrs = dict(before=2, after=2, scale=1e-4 / 5, beta=0.75, k=2.0, relu=True, pool_h=3, pool_w=3, stride_h=2, stride_w=2)
for shape in ((128, 222, 222, 64), (128, 108, 108, 128), (128, 51, 51, 256)):
    z = tf.cast(tf.constant(rng.normal(0, 20, shape).astype(np.float32)), tf.bfloat16)
    f = {g: tf.function(lambda v, g=g: lib.leuknet_cross_channel_norm_max_pool(v, with_argmax=g, **attrs)[0]) for g in (True, False)}
    for g in f: f[g](z)
    ts = {True: [], False: []}
    for _ in range(pairs):
        for g in (True, False):
            t = time.perf_counter(); f[g](z).numpy(); ts[g].append(time.perf_counter() - t)
    pair_report(f"norm+pool op {shape[1:]}", ts[True], ts[False], "with argmax", "without")
# 2. validation pass of 452 cells: pipeline (float32) vs stored slices, both through the new eval step
keras.utils.set_random_seed(0)
model = models.build("leuknet", num_classes=2, image_size=224)
trainer = Trainer(model, trainingOptions("adam", MiniBatchSize=128))
val = ImageData(np.arange(452) % 2, (224, 224), images=rng.integers(0, 256, (452, 224, 224, 3), dtype=np.uint8))
def via_pipeline():
    return [float(trainer._eval_step(x, y)[0]) for x, y in val.batches(None, 128)]
def via_stored():
    return [float(trainer._eval_step(tf.convert_to_tensor(x), tf.convert_to_tensor(y))[0]) for x, y in val.stored_batches(128)]
assert via_pipeline() == via_stored()
ts = {0: [], 1: []}
for _ in range(pairs):
    for k, fn in ((0, via_pipeline), (1, via_stored)):
        t = time.perf_counter(); fn(); ts[k].append(time.perf_counter() - t)
pair_report("validation pass, 452 cells (pipeline vs stored slices)", ts[0], ts[1])
# 3. the same pass with maxima recorded (old graphs) vs not
def ev(g):
    @tf.function(reduce_retracing=True)
    def step(x):
        with fuse_blocks(gradients=g):
            return model(x, training=False)
    return step
steps = {g: ev(g) for g in (True, False)}
ts = {True: [], False: []}
for g in steps: [steps[g](tf.convert_to_tensor(x)) for x, _ in val.stored_batches(128)]
for _ in range(pairs):
    for g in (True, False):
        t = time.perf_counter(); [steps[g](tf.convert_to_tensor(x)).numpy() for x, _ in val.stored_batches(128)]; ts[g].append(time.perf_counter() - t)
pair_report("forward of 452 cells (maxima recorded vs not)", ts[True], ts[False])
# 4. input statistics of 1,582 cells: float32 pipeline batches (old) vs stored 8-bit slices
tr = ImageData(np.arange(1582) % 2, (224, 224), images=rng.integers(0, 256, (1582, 224, 224, 3), dtype=np.uint8))
old = lambda: input_statistics((x.numpy() for x, _ in tr.batches(None, 128)), "zerocenter", "channel")
new = lambda: input_statistics(tr.iter_uint8(128), "zerocenter", "channel")
assert all(np.array_equal(a, b) for a, b in zip(old().values(), new().values()))
ts = {0: [], 1: []}
for _ in range(max(3, pairs // 2)):
    for k, fn in ((0, old), (1, new)):
        t = time.perf_counter(); fn(); ts[k].append(time.perf_counter() - t)
pair_report("input statistics, 1,582 cells", ts[0], ts[1])
