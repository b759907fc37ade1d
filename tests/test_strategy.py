"""CPU and GPU profile logic, and MirroredStrategy training on two logical CPU devices (no GPU needed)."""

import subprocess
import sys
import textwrap

import pytest

from leuknet.errors import DeviceError
from leuknet.profiles import resolve_profile


def test_cpu_profile_defaults():
    p = resolve_profile("cpu", None, 128, gpus=[], cpu_flags={"avx512f"})
    assert (p.device, p.precision, p.dtype_policy, p.strategy, p.num_replicas) == ("cpu", "fp32", "float32",
                                                                                  "default", 1)
    assert p.intra_op_threads >= 1 and p.xla_solver and not p.xla_train_step and p.global_batch == 128
    assert not p.skip_checkpoints_while_writing  # an epoch takes longer than a checkpoint's write: each is written
    with pytest.raises(DeviceError, match="AVX512_BF16"):
        resolve_profile("cpu", "bf16", 128, gpus=[], cpu_flags={"avx2"})
    assert resolve_profile("cpu", "bf16", 128, gpus=[], cpu_flags={"amx_bf16"}).dtype_policy == "mixed_bfloat16"


def test_gpu_profile_logic_without_a_gpu():
    gpus = ["/physical_device:GPU:0", "/physical_device:GPU:1", "/physical_device:GPU:2"]
    p = resolve_profile("gpu", None, 64, gpus=gpus)
    assert (p.precision, p.dtype_policy, p.loss_scaling, p.xla_train_step) == ("fp16", "mixed_float16", True, True)
    assert (p.strategy, p.num_replicas, p.per_replica_batch, p.global_batch) == ("mirrored", 3, 64, 192)
    assert p.skip_checkpoints_while_writing  # an epoch takes less than writing 1 GB: training never waits
    assert resolve_profile("auto", None, 64, gpus=gpus[:1]).strategy == "default"
    assert resolve_profile("auto", None, 64, gpus=[]).device == "cpu"
    with pytest.raises(DeviceError, match="no GPU"):
        resolve_profile("gpu", None, 64, gpus=[])


SCRIPT = textwrap.dedent("""
    import os, json
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    import numpy as np, tensorflow as tf, keras
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    from leuknet.data.pipeline import ImageData
    from leuknet.matlab import *
    from leuknet.matlab.layers import assemble
    from leuknet.train import Trainer

    rng = np.random.default_rng(0)
    X = rng.integers(0, 255, (24, 12, 12, 3)).astype(np.float32)
    y = rng.integers(0, 2, 24)
    data = ImageData(y, (12, 12), images=X)
    layers = [imageInputLayer([12, 12, 3]), convolution2dLayer(3, 4), reluLayer(), crossChannelNormalizationLayer(3),
              maxPooling2dLayer(2, Stride=2), fullyConnectedLayer(2), softmaxLayer(), classificationLayer()]
    out = {}
    for name in ("default", "mirrored"):
        strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"]) if name == "mirrored" else None
        keras.utils.set_random_seed(0)
        scope = strategy.scope() if strategy else tf.init_scope()
        with (strategy.scope() if strategy else open(os.devnull)):
            model, _ = assemble(layers, classes=["a", "b"])
            t = Trainer(model, trainingOptions("sgdm", MaxEpochs=3, MiniBatchSize=8, InitialLearnRate=1e-3),
                        strategy=strategy)
        info = t.fit(data, seed=0)
        out[name] = {"replicas": strategy.num_replicas_in_sync if strategy else 1,
                     "weights": [w.numpy().ravel().tolist() for w in model.trainable_weights],
                     "loss": [r["TrainingLoss"] for r in info.rows]}
    print(json.dumps(out))
""")


def test_mirrored_strategy_on_two_logical_cpus_matches_single_device():
    import json

    import numpy as np

    r = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    out = json.loads([l for l in r.stdout.splitlines() if l.startswith("{")][-1])
    assert out["mirrored"]["replicas"] == 2
    np.testing.assert_allclose(out["mirrored"]["loss"], out["default"]["loss"], rtol=1e-4, atol=1e-5)
    for a, b in zip(out["mirrored"]["weights"], out["default"]["weights"]):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
