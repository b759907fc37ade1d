"""Device resolution, done before TensorFlow initialises its devices.

``cpu`` hides every GPU from TensorFlow (``CUDA_VISIBLE_DEVICES=-1`` before import), so a CPU run never touches
one; ``gpu`` without a visible GPU is a :class:`DeviceError`; ``auto`` takes a GPU when there is one.
"""

from __future__ import annotations

import os

from leuknet.errors import DeviceError

DEVICES = ("cpu", "gpu", "auto")


def physical_cores() -> int:
    try:
        import psutil

        return psutil.cpu_count(logical=False) or os.cpu_count() or 1
    except Exception:  # noqa: BLE001
        return os.cpu_count() or 1


def prepare_device(device: str, collective: bool = False):
    """Call before TensorFlow is imported (the CLI does). ``collective``: a multi-worker run, whose strategy must
    be created before TensorFlow runs any op."""
    if device not in DEVICES:
        raise DeviceError(f"unknown device {device!r}; choose cpu, gpu or auto")
    if device == "cpu":
        os.environ["CUDA_VISIBLE_DEVICES"] = "-1"
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    _quiet_tensorflow_start(run_op=not collective)


def _quiet_tensorflow_start(run_op=True):
    """Import TensorFlow and list its devices with the process's stderr pointed at /dev/null: TF 2.21 prints
    absl INFO lines (oneDNN, CUDA stubs, cuInit) before TF_CPP_MIN_LOG_LEVEL applies. Python errors still raise;
    LEUKNET_DEBUG=1 keeps the lines."""
    import sys

    if os.environ.get("LEUKNET_DEBUG") or "tensorflow" in sys.modules:
        return
    try:
        fd = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):
        return
    sys.stderr.flush()
    saved, devnull = os.dup(fd), os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, fd)
        import tensorflow as tf

        if run_op:
            tf.config.list_physical_devices()
            tf.constant(0.0) + 1.0  # first op: the CPU feature guard line
    finally:
        os.dup2(saved, fd)
        os.close(devnull)
        os.close(saved)


def resolve_device(device: str) -> dict:
    """The device actually used, with what was found, for config.json."""
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if device == "gpu" and not gpus:
        raise DeviceError("--device gpu: no GPU is visible to TensorFlow on this machine (use --device cpu)")
    used = "gpu" if (device == "gpu" or (device == "auto" and gpus)) else "cpu"
    return {"requested": device, "used": used, "gpus": [g.name for g in gpus] if used == "gpu" else [],
            "physical_cores": physical_cores(), "logical_cores": os.cpu_count()}


# ----------------------------------------------------------------------------------------------------------------
# CPU and GPU profiles

from dataclasses import asdict, dataclass  # noqa: E402


@dataclass
class Profile:
    """Everything the run decides about the machine, resolved once and saved in config.json."""

    device: str
    precision: str
    dtype_policy: str
    intra_op_threads: int | None
    inter_op_threads: int | None
    onednn: bool
    xla_train_step: bool
    xla_solver: bool
    strategy: str
    num_replicas: int
    per_replica_batch: int
    global_batch: int
    loss_scaling: bool
    parallel_decode: int
    prefetch_batches: int
    cache_mb: int
    notes: list
    num_workers: int = 1
    task_index: int = 0
    is_chief: bool = True

    def to_dict(self):
        return asdict(self)


def resolve_profile(device, precision=None, batch_size=128, strategy="auto", gpus=None, cpu_flags=None,
                    cache_mb=2048, model="leuknet") -> Profile:
    """The CPU or GPU profile (pure logic, testable without a GPU: pass ``gpus`` and ``cpu_flags``).

    cpu: fp32 by default (the parity setting); intra-op threads = physical cores, inter-op 2; oneDNN; XLA for the
    solver update only (whole-step XLA halved a small CNN's CPU throughput in measurements here); decoded images
    cached within ``cache_mb``; bf16 only where the CPU has AVX512-BF16 or AMX.
    gpu: mixed float16 with dynamic loss scaling by default; XLA for the whole step; MirroredStrategy over every
    visible GPU; global batch = per-replica batch x replicas; prefetch to the device.
    """
    from leuknet.precision import check_precision

    notes = []
    if gpus is None:
        import tensorflow as tf

        gpus = [g.name for g in tf.config.list_physical_devices("GPU")]
    if device == "auto":
        device = "gpu" if gpus else "cpu"
    if device == "gpu" and not gpus:
        raise DeviceError("--device gpu: no GPU is visible to TensorFlow on this machine (use --device cpu)")
    if device not in ("cpu", "gpu"):
        raise DeviceError(f"unknown device {device!r}; choose cpu, gpu or auto")
    precision = precision or ("fp16" if device == "gpu" else "fp32")
    policy = check_precision(precision, device, cpu_flags)
    cores = physical_cores()
    if device == "gpu":
        replicas = len(gpus) if strategy in ("auto", "mirrored") else 1
        strat = "mirrored" if replicas > 1 or strategy == "mirrored" else "default"
        per_replica = batch_size
        notes.append(f"global batch {per_replica * replicas} = {per_replica} per replica x {replicas}")
        return Profile("gpu", precision, policy, None, None, False, True, True, strat, replicas, per_replica,
                       per_replica * replicas, precision == "fp16", cores, 2, cache_mb, notes)
    replicas = 1
    strat = "default"
    if strategy == "multi-worker":
        cluster = tf_config()
        workers = cluster["cluster"].get("chief", []) + cluster["cluster"].get("worker", [])
        task = cluster["task"]
        index = task.get("index", 0) + (len(cluster["cluster"].get("chief", [])) if task["type"] == "worker" else 0)
        replicas = len(workers)
        if batch_size % replicas:
            raise DeviceError(f"--batch-size {batch_size} does not split over {replicas} workers")
        chief = task["type"] == "chief" or (not cluster["cluster"].get("chief") and task.get("index", 0) == 0)
        notes.append(f"MultiWorkerMirroredStrategy: {replicas} workers, this is task {task['type']}:"
                     f"{task.get('index', 0)}{' (chief: writes the run directory)' if chief else ''}")
        return Profile("cpu", precision, policy, cores, 2, True, False, False, "multi-worker", replicas,
                       batch_size // replicas, batch_size, precision == "fp16", cores, 2, cache_mb, notes,
                       num_workers=replicas, task_index=index, is_chief=chief)
    if strategy == "mirrored":
        import tensorflow as tf

        replicas = max(1, len(tf.config.list_logical_devices("CPU")))
        strat = "mirrored"
        notes.append(f"mirrored over {replicas} logical CPU device(s) (for testing the strategy; no speed-up)")
    per_replica = batch_size // replicas if strat == "mirrored" else batch_size
    if strat == "mirrored" and batch_size % replicas:
        raise DeviceError(f"--batch-size {batch_size} does not split over {replicas} replicas")
    return Profile("cpu", precision, policy, cores, 2, True, False, True, strat, replicas, per_replica,
                   batch_size, precision == "fp16", cores, 2, cache_mb, notes)


def apply_profile(profile: Profile):
    """Set TensorFlow's threads and the Keras dtype policy (before any op runs)."""
    import keras
    import tensorflow as tf

    if profile.intra_op_threads:
        try:
            tf.config.threading.set_intra_op_parallelism_threads(profile.intra_op_threads)
            tf.config.threading.set_inter_op_parallelism_threads(profile.inter_op_threads)
        except RuntimeError:
            pass  # already initialised in this process (tests, studies): keep the running values
    keras.mixed_precision.set_dtype_policy(profile.dtype_policy)


def tf_config() -> dict:
    """The cluster from TF_CONFIG, as on a real cluster (Slurm, Kubernetes: one TF_CONFIG per worker)."""
    import json

    raw = os.environ.get("TF_CONFIG")
    if not raw:
        raise DeviceError("--strategy multi-worker needs TF_CONFIG (or --workers host:port,... --task-index i)")
    try:
        cfg = json.loads(raw)
        assert cfg["cluster"] and cfg["task"]["type"] in ("worker", "chief")
    except Exception:  # noqa: BLE001
        raise DeviceError(f"TF_CONFIG is not a valid cluster description: {raw[:200]}") from None
    return cfg


def set_tf_config(workers: str, task_index: int):
    """--workers host:port,host:port --task-index i -> TF_CONFIG for this process."""
    import json

    hosts = [w.strip() for w in workers.split(",") if w.strip()]
    if len(hosts) < 2 or any(":" not in h for h in hosts):
        raise DeviceError(f"--workers must list at least two host:port addresses, received {workers!r}")
    if not 0 <= task_index < len(hosts):
        raise DeviceError(f"--task-index must be 0..{len(hosts) - 1}, received {task_index}")
    os.environ["TF_CONFIG"] = json.dumps({"cluster": {"worker": hosts}, "task": {"type": "worker",
                                                                                  "index": task_index}})


def make_strategy(profile: Profile):
    import tensorflow as tf

    if profile.strategy == "mirrored":
        return tf.distribute.MirroredStrategy()
    if profile.strategy == "multi-worker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    return None
