"""A/B of the 2026-11-22 evening changes around prediction, one process, alternating (bf16, batch 128, LeukNet 224):

    python scripts/ab_predict.py [PAIRS]   (default 8; about 5 minutes)

1. the fused normalisation + pooling op with and without recording maxima, at the three block shapes;
2. a 452-cell validation pass through the tf.data pipeline (float32) against stored 8-bit slices;
3. the forward of 452 cells traced with the pooling maxima recorded (scripts/_ab.py) and not (training=False);
4. input statistics of 1,582 cells from float32 pipeline batches against the stored 8-bit arrays.
Each line: medians and the median of the pairs' ratios (first / second) with its range."""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from leuknet import models, ops  # noqa: E402
from leuknet.bench import alternate  # noqa: E402
from leuknet.data.pipeline import ImageData  # noqa: E402
from leuknet.layers import input_statistics  # noqa: E402
from leuknet.matlab import trainingOptions  # noqa: E402
from leuknet.profiles import apply_profile, resolve_profile  # noqa: E402
from leuknet.train import Trainer  # noqa: E402
from _ab import pooling_records_maxima  # noqa: E402


def paired(name, first, second, pairs):
    """Time (label, callable) ``first`` and ``second`` alternately and print the medians and pair ratios."""
    (la, fa), (lb, fb) = first, second
    times = alternate({la: fa, lb: fb}, pairs)
    ta, tb = times[la], times[lb]
    r = [a / b for a, b in zip(ta, tb)]
    print(f"{name}: {la} {np.median(ta):.3f} s, {lb} {np.median(tb):.3f} s, median pair ratio {np.median(r):.2f} "
          f"({min(r):.2f}-{max(r):.2f}), {len(r)} pairs", flush=True)


def main():
    pairs = int(sys.argv[1]) if len(sys.argv) > 1 else 8
    apply_profile(resolve_profile("cpu", "bf16", 128, strategy="default"))
    rng = np.random.default_rng(0)

    # 1. the fused op alone, three block shapes
    lib = ops.cross_channel_norm()
    attrs = dict(before=2, after=2, scale=1e-4 / 5, beta=0.75, k=2.0, relu=True, pool_h=3, pool_w=3, stride_h=2,
                 stride_w=2)
    for shape in ((128, 222, 222, 64), (128, 108, 108, 128), (128, 51, 51, 256)):
        z = tf.cast(tf.constant(rng.normal(0, 20, shape).astype(np.float32)), tf.bfloat16)
        f = {g: tf.function(lambda v, g=g: lib.leuknet_cross_channel_norm_max_pool(v, with_argmax=g, **attrs)[0])
             for g in (True, False)}
        for g in f:
            f[g](z)
        paired(f"norm+pool op {shape[1:]}", ("with argmax", lambda: f[True](z).numpy()),
               ("without", lambda: f[False](z).numpy()), pairs)

    # 2. validation pass of 452 cells: pipeline (float32) vs stored slices, both through the eval step
    keras.utils.set_random_seed(0)
    model = models.build("leuknet", num_classes=2, image_size=224)
    trainer = Trainer(model, trainingOptions("adam", MiniBatchSize=128))
    val = ImageData(np.arange(452) % 2, (224, 224), images=rng.integers(0, 256, (452, 224, 224, 3), dtype=np.uint8))

    def via_pipeline():
        return [float(trainer.engine._eval_step(x, y)[0]) for x, y in val.batches(None, 128)]

    def via_stored():
        return [float(trainer.engine._eval_step(tf.convert_to_tensor(x), tf.convert_to_tensor(y))[0])
                for x, y in val.stored_batches(128)]

    assert via_pipeline() == via_stored()
    paired("validation pass, 452 cells", ("pipeline", via_pipeline), ("stored slices", via_stored), pairs)

    # 3. the same forward with maxima recorded (the graphs before) vs not
    def forward():
        step = tf.function(lambda x: model(x, training=False), reduce_retracing=True)
        return lambda: [step(tf.convert_to_tensor(x)).numpy() for x, _ in val.stored_batches(128)]

    recorded, unrecorded = forward(), forward()
    with pooling_records_maxima():
        recorded()  # traced here, with the maxima recorded
    unrecorded()
    paired("forward of 452 cells", ("maxima recorded", recorded), ("not recorded", unrecorded), pairs)

    # 4. input statistics of 1,582 cells: float32 pipeline batches (before) vs stored 8-bit slices
    tr = ImageData(np.arange(1582) % 2, (224, 224), images=rng.integers(0, 256, (1582, 224, 224, 3), dtype=np.uint8))

    def old():
        return input_statistics((x.numpy() for x, _ in tr.batches(None, 128)), "zerocenter", "channel")

    def new():
        return input_statistics(tr.iter_uint8(128), "zerocenter", "channel")

    assert all(np.array_equal(a, b) for a, b in zip(old().values(), new().values()))
    paired("input statistics, 1,582 cells", ("float32 batches", old), ("8-bit arrays", new), max(3, pairs // 2))


if __name__ == "__main__":
    main()
