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


def prepare_device(device: str):
    """Call before TensorFlow is imported (the CLI does)."""
    if device not in DEVICES:
        raise DeviceError(f"unknown device {device!r}; choose cpu, gpu or auto")
    if device == "cpu":
        os.environ["CUDA_VISIBLE_DEVICES"] = "-1"
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def resolve_device(device: str) -> dict:
    """The device actually used, with what was found, for config.json."""
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if device == "gpu" and not gpus:
        raise DeviceError("--device gpu: no GPU is visible to TensorFlow on this machine (use --device cpu)")
    used = "gpu" if (device == "gpu" or (device == "auto" and gpus)) else "cpu"
    return {"requested": device, "used": used, "gpus": [g.name for g in gpus] if used == "gpu" else [],
            "physical_cores": physical_cores(), "logical_cores": os.cpu_count()}
