"""Precision policies: fp32 (default, the parity setting: float32 throughout, TensorFloat-32 off on GPUs), tf32
(GPU only: float32, with TensorFloat-32 matrix products and convolutions, a speed setting: 10-bit mantissas in
the products), bf16 (mixed bfloat16), fp16 (mixed float16 with loss scaling). Softmax and the loss always compute
in float32 (the softmax and classification layers are float32)."""

from __future__ import annotations

from leuknet.errors import DeviceError

PRECISIONS = {"fp32": "float32", "tf32": "float32", "bf16": "mixed_bfloat16", "fp16": "mixed_float16"}


def cpu_flags() -> set[str]:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def check_precision(precision: str, device: str, flags=None) -> str:
    """The Keras policy name for ``precision`` on ``device`` ('cpu' or 'gpu'), or a DeviceError."""
    if precision not in PRECISIONS:
        raise DeviceError(f"unknown precision {precision!r}; choose fp32, tf32, bf16 or fp16")
    if device == "cpu" and precision == "tf32":
        raise DeviceError("--precision tf32 is a GPU setting (TensorFloat-32 products); use --precision fp32 on CPUs")
    if device == "cpu" and precision != "fp32":
        flags = cpu_flags() if flags is None else flags
        need = {"bf16": ("avx512_bf16", "amx_bf16"), "fp16": ("avx512_fp16", "amx_fp16")}[precision]
        if not any(f in flags for f in need):
            raise DeviceError(f"--precision {precision} needs a CPU with {' or '.join(n.upper() for n in need)} "
                              "(this one has neither); use --precision fp32")
    return PRECISIONS[precision]


def set_policy(precision: str, device: str = "cpu") -> str:
    import keras

    policy = check_precision(precision, device)
    keras.mixed_precision.set_dtype_policy(policy)
    return policy
