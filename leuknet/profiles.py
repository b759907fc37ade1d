"""Backend and device resolution, done before Keras is imported and before the backend initialises its devices.

The Keras backend: ``tensorflow`` (the CPU profile, with leuknet's native kernels, tf.data and tf.distribute) or
``jax`` (the GPU profile where TensorFlow is not installed; any device). ``auto``: the ``KERAS_BACKEND``
environment variable where it is set, else TensorFlow where it is installed and, for ``--device gpu``, sees a
GPU, else JAX. The choice is made once per process, before ``keras`` is imported (Keras reads it then).

``cpu`` hides every GPU (``CUDA_VISIBLE_DEVICES=-1`` before TensorFlow is imported; ``JAX_PLATFORMS=cpu``), so a
CPU run never touches one; ``gpu`` without a visible GPU is a :class:`DeviceError`; ``auto`` takes a GPU when there
is one.
"""

from __future__ import annotations

import importlib.util
import os
import sys

from leuknet.errors import DeviceError

DEVICES = ("cpu", "gpu", "auto")
BACKENDS = ("tensorflow", "jax", "auto")


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a broken or blocked installation counts as none
        return False


def _jax_gpus() -> list[str]:
    try:
        import jax

        return [str(d) for d in jax.devices() if d.platform == "gpu"]
    except RuntimeError:  # no GPU platform (JAX_PLATFORMS=cpu, or no CUDA plugin)
        return []


def choose_backend(backend: str = "auto", device: str = "auto") -> str:
    """The Keras backend for this process (see the module docstring), set in ``KERAS_BACKEND``; a DeviceError
    for a backend that is not installed, or where Keras already runs on another one."""
    if backend not in BACKENDS:
        raise DeviceError(f"unknown backend {backend!r}; choose tensorflow, jax or auto")
    requested = backend
    if backend == "auto":
        backend = os.environ.get("KERAS_BACKEND") or _auto_backend(device)
    if backend not in ("tensorflow", "jax"):
        raise DeviceError(f"KERAS_BACKEND={backend}: leuknet runs on the tensorflow and jax backends")
    if "keras" in sys.modules:
        import keras

        running = keras.backend.backend()
        if running != backend and requested != "auto":
            raise DeviceError(f"--backend {backend}: Keras already runs on {running} in this process (set "
                              f"KERAS_BACKEND={backend} before it starts)")
        return running
    if not _installed(backend):
        extra = "pip install 'jax[cpu]' (or jax[cuda13] for GPUs)" if backend == "jax" else "pip install tensorflow"
        raise DeviceError(f"the {backend} backend is not installed here ({extra}), or choose --backend "
                          f"{'tensorflow' if backend == 'jax' else 'jax'}")
    os.environ["KERAS_BACKEND"] = backend
    return backend


def _auto_backend(device: str) -> str:
    if not _installed("tensorflow"):
        return "jax"
    if device == "gpu" and _installed("jax"):
        _quiet_tensorflow_start()
        import tensorflow as tf

        if not tf.config.list_physical_devices("GPU") and _jax_gpus():
            return "jax"
    return "tensorflow"


BACKEND_NAMES = {"tensorflow": "TensorFlow", "jax": "JAX"}  # as the messages name them


def backend_name() -> str:
    """The running Keras backend (imports Keras)."""
    import keras

    return keras.backend.backend()


def physical_cores() -> int:
    try:
        import psutil

        return psutil.cpu_count(logical=False) or os.cpu_count() or 1
    except Exception:  # noqa: BLE001
        return os.cpu_count() or 1


def prepare_device(device: str, collective: bool = False, backend: str | None = "auto") -> str:
    """Call before Keras and TensorFlow are imported (the CLI does): chooses the backend (:func:`choose_backend`)
    and hides the GPUs for ``cpu``. ``collective``: a multi-worker run, whose strategy must be created before
    TensorFlow runs any op. Returns the backend."""
    if device not in DEVICES:
        raise DeviceError(f"unknown device {device!r}; choose cpu, gpu or auto")
    if device == "cpu":
        os.environ["CUDA_VISIBLE_DEVICES"] = "-1"
        if "jax" not in sys.modules:
            os.environ["JAX_PLATFORMS"] = "cpu"
    backend = choose_backend(backend or "auto", device)
    if backend == "jax":
        return backend
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    _quiet_tensorflow_start(run_op=not collective)
    return backend


def quiet_library_start():
    """For the Python API (``import leuknet.matlab``): TensorFlow's start-up log lines (CUDA stubs, cuInit, CPU
    features) hidden as the CLI hides them, where Keras is still to start on TensorFlow. Its first op runs here,
    except in a multi-worker process (TF_CONFIG), whose strategy must come first."""
    if "keras" in sys.modules or "tensorflow" in sys.modules or not _installed("tensorflow"):
        return
    if os.environ.get("KERAS_BACKEND", "tensorflow") != "tensorflow":
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    _quiet_tensorflow_start(run_op=not os.environ.get("TF_CONFIG"))


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


def visible_gpus() -> list[str]:
    """The GPUs the running backend sees."""
    if backend_name() == "jax":
        return _jax_gpus()
    import tensorflow as tf

    return [g.name for g in tf.config.list_physical_devices("GPU")]


def resolve_device(device: str) -> dict:
    """The device actually used, with what was found, for config.json."""
    gpus = visible_gpus()
    backend = backend_name()
    if device == "gpu" and not gpus:
        raise DeviceError(f"--device gpu: no GPU is visible to {BACKEND_NAMES[backend]} on this machine (use --device "
                          "cpu)")
    used = "gpu" if (device == "gpu" or (device == "auto" and gpus)) else "cpu"
    return {"requested": device, "used": used, "gpus": gpus if used == "gpu" else [], "backend": backend,
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
    backend: str = "tensorflow"
    tf32: bool = False  # TensorFloat-32 matrix products (GPU, --precision tf32 only; fp32 is the parity setting)
    # a checkpoint due while the one before is still being written is skipped, not waited for (GPU: an epoch takes
    # less time than writing LeukNet's 1 GB of weights and Adam state)
    skip_checkpoints_while_writing: bool = False

    def to_dict(self):
        return asdict(self)


def resolve_profile(device, precision=None, batch_size=128, strategy="auto", gpus=None, cpu_flags=None,
                    cache_mb=2048, model="leuknet") -> Profile:
    """The CPU or GPU profile (pure logic, testable without a GPU: pass ``gpus`` and ``cpu_flags``).

    cpu: fp32 by default (the parity setting); intra-op threads = physical cores, inter-op 2; oneDNN; XLA for the
    solver update only (whole-step XLA halved a small CNN's CPU throughput in measurements here); decoded images
    cached within ``cache_mb``; bf16 only where the CPU has AVX512-BF16 or AMX.
    gpu: TensorFlow: mixed float16 with dynamic loss scaling by default; XLA for the whole step; MirroredStrategy
    over every visible GPU. JAX: mixed bfloat16 by default (no loss scaling; fp16 scales it); the whole step one
    XLA function; ``keras.distribution.DataParallel`` over every visible GPU ('data-parallel'). Both: global
    batch = per-replica batch x replicas; prefetch to the device; fp32 with TF32 off (parity), ``tf32`` with it on;
    a checkpoint that falls due while the one before is still being written is skipped (training never waits
    for the disk).
    """
    from leuknet.precision import check_precision

    notes = []
    backend = backend_name()
    if gpus is None:
        gpus = visible_gpus()
    if device == "auto":
        device = "gpu" if gpus else "cpu"
    if device == "gpu" and not gpus:
        raise DeviceError(f"--device gpu: no GPU is visible to {BACKEND_NAMES[backend]} on this machine (use --device "
                          "cpu)")
    if device not in ("cpu", "gpu"):
        raise DeviceError(f"unknown device {device!r}; choose cpu, gpu or auto")
    jax = backend == "jax"
    if jax and strategy in ("mirrored", "multi-worker"):
        raise DeviceError(f"--strategy {strategy} is TensorFlow's (tf.distribute); under --backend jax several "
                          "GPUs are used with --strategy auto (keras.distribution.DataParallel)")
    precision = precision or (("bf16" if jax else "fp16") if device == "gpu" else "fp32")
    policy = check_precision(precision, device, cpu_flags)
    cores = physical_cores()
    if device == "gpu":
        replicas = len(gpus) if strategy in ("auto", "mirrored") else 1
        multi = "data-parallel" if jax else "mirrored"
        strat = multi if replicas > 1 or strategy == "mirrored" else "default"
        per_replica = batch_size
        notes.append(f"global batch {per_replica * replicas} = {per_replica} per replica x {replicas}")
        return Profile("gpu", precision, policy, None, None, False, True, True, strat, replicas, per_replica,
                       per_replica * replicas, precision == "fp16", cores, 2, cache_mb, notes, backend=backend,
                       tf32=precision == "tf32", skip_checkpoints_while_writing=True)
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
    return Profile("cpu", precision, policy, cores, 2, not jax, jax, True, strat, replicas, per_replica,
                   batch_size, precision == "fp16", cores, 2, cache_mb, notes, backend=backend)


def allow_tf32(allowed: bool):
    """Float32 matrix products in TensorFloat-32 (``--precision tf32``) or in full float32 (fp32, the parity
    setting: XLA's GPU default is TF32 for them), on the running backend."""
    import keras

    if keras.backend.backend() == "jax":
        import jax

        jax.config.update("jax_default_matmul_precision", "tensorfloat32" if allowed else "highest")
    else:
        import tensorflow as tf

        tf.config.experimental.enable_tensor_float_32_execution(allowed)


def apply_profile(profile: Profile):
    """Set the backend's threads and matrix-product precision and the Keras dtype policy (before any op runs)."""
    import keras

    keras.mixed_precision.set_dtype_policy(profile.dtype_policy)
    if profile.backend == "jax" or profile.device == "gpu":
        allow_tf32(profile.tf32)
    if profile.backend == "jax":
        return
    import tensorflow as tf

    if profile.intra_op_threads:
        try:
            tf.config.threading.set_intra_op_parallelism_threads(profile.intra_op_threads)
            tf.config.threading.set_inter_op_parallelism_threads(profile.inter_op_threads)
        except RuntimeError:
            pass  # already initialised in this process (tests, studies): keep the running values


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
    """TensorFlow: the ``tf.distribute`` strategy of the profile (None: the default). JAX: sets Keras'
    ``DataParallel`` distribution over every visible device for 'data-parallel' (the Trainer's engine splits
    each mini-batch) and returns None."""
    if profile.strategy == "data-parallel":
        import keras

        keras.distribution.set_distribution(keras.distribution.DataParallel())
        return None
    if profile.backend == "jax":
        return None
    import tensorflow as tf

    if profile.strategy == "mirrored":
        return tf.distribute.MirroredStrategy()
    if profile.strategy == "multi-worker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    return None
