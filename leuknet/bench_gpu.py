"""``leuknet bench --device gpu``: the GPU profile on the JAX backend, measured against a PyTorch eager peer.

Every measurement runs in a fresh subprocess with ``KERAS_BACKEND=jax`` (a clean device-memory peak, dtype policy
and matmul-precision setting), as :mod:`leuknet.bench` runs its children:

- ``probe``: the JAX devices and the measured matmul peak per precision (``jax.jit(jnp.matmul)`` on two
  random ``peak_size`` x ``peak_size`` matrices, ``block_until_ready``, the median of the repeats), probed at
  the start and again at the end; the higher median is the peak;
- ``keras``: for each (model, precision, batch), the training step ``leuknet train`` runs
  (:meth:`leuknet.train.Trainer.train_step`, built as :func:`leuknet.bench.training_steps` builds it) and the
  inference pass (:func:`leuknet.train.inference_step`), timed after the first (compiling) call and warm-up;
  forward GFLOP per image counted from the layers, training GFLOP/s = 3 x forward GFLOP x img/s and its share of
  the peak; peak device memory (``memory_stats()['peak_bytes_in_use']`` where the device reports it);
- ``torch``: the PyTorch eager LeukNet (:mod:`leuknet.torch_peer`) at the same precisions and batches (the
  baseline, ``baseline=True``), with the ratios leuknet / PyTorch;
- ``pipeline``: 450 x 450 BMP files decoded and resized into batches by
  :meth:`leuknet.data.pipeline.ImageData.numpy_batches` (no TensorFlow), on the host and put on the device;
- ``workload``: :func:`leuknet.bench.run_workload` (``leuknet train`` on the paper's workload) under JAX.

Precisions: ``fp32`` (float32, TF32 off: ``jax_default_matmul_precision='highest'`` and PyTorch's
``allow_tf32=False``, the parity setting), ``tf32`` (float32 with TF32 matmuls allowed, the speed setting),
``bf16`` (Keras 'mixed_bfloat16', autocast bfloat16), ``fp16`` ('mixed_float16' with loss scaling, autocast
float16 with GradScaler).

The report (``bench_gpu.json``, ``bench_gpu.md``, ``bench_gpu.png``) is rewritten after every measurement, so
a run stopped by a time limit leaves what it measured.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from leuknet.bench import (_stats, _time, check_names_and_sizes, instruction_sets, machine_info,
                           model_gflop_per_image, workload_accuracy, write_bmp_cells)
from leuknet.errors import ConfigError, DeviceError

PRECISIONS = ("fp32", "tf32", "bf16", "fp16")
PEAK_DTYPES = {"fp32": "float32", "tf32": "float32", "bf16": "bfloat16", "fp16": "float16"}
# the probe's matmul precision per precision: TF32 off in the fp32 parity setting, on in the tf32 speed setting;
# 16-bit operands at JAX's default (the training children take leuknet's profile: apply_profile sets it)
MATMUL_PRECISION = {"fp32": "highest", "tf32": "tensorfloat32", "bf16": None, "fp16": None}
PEER = "torch-eager-leuknet"
PLATFORMS = ("gpu", "cpu")


# ----------------------------------------------------------------------------------------------------------------
# in the child process (KERAS_BACKEND=jax)

def _jax_device(platform):
    import jax

    try:
        devices = jax.devices(platform)
    except RuntimeError:
        devices = []
    if not devices:
        seen = ", ".join(sorted({d.platform for d in jax.devices()})) or "none"
        raise DeviceError(f"JAX sees no {platform.upper()} on this machine (its devices: {seen}); install jax "
                          "with its CUDA plugin, or use platform='cpu'")
    return devices[0]


def matmul_peak_gflops(dtype="float32", size=8192, repeats=5, precision=None, device=None, inner=None) -> dict:
    """The device's matmul rate in ``dtype``: ``jax.jit(jnp.matmul)`` of two random ``size`` x ``size``
    matrices, ``inner`` products per timing (enough to outlast the dispatch), ``repeats`` timings after the
    compiling call; GFLOP/s of the median timing (and of the fastest)."""
    import jax
    import jax.numpy as jnp

    device = device or jax.devices()[0]
    inner = inner or (10 if device.platform == "gpu" else 1)
    ka, kb = jax.random.split(jax.random.key(0))
    a = jax.device_put(jax.random.normal(ka, (size, size), jnp.float32).astype(dtype), device)
    b = jax.device_put(jax.random.normal(kb, (size, size), jnp.float32).astype(dtype), device)
    f = jax.jit(lambda a, b: jnp.matmul(a, b, precision=precision))
    f(a, b).block_until_ready()
    times = []
    for _ in range(int(repeats)):
        t0 = time.perf_counter()
        for _ in range(inner):
            c = f(a, b)
        c.block_until_ready()
        times.append((time.perf_counter() - t0) / inner)
    flop = 2.0 * size**3
    return {"dtype": str(dtype), "size": int(size), "repeats": int(repeats), "inner": int(inner),
            "matmul_precision": precision or jax.config.jax_default_matmul_precision,
            "median_gflops": flop / float(np.median(times)) / 1e9, "best_gflops": flop / min(times) / 1e9}


def _versions():
    import jax
    import jaxlib
    import keras

    return {"jax": jax.__version__, "jaxlib": jaxlib.__version__, "keras": keras.__version__,
            "keras_backend": keras.backend.backend(), "numpy": np.__version__, "python": sys.version.split()[0]}


def _probe(spec):
    import jax

    from leuknet import models as registry

    for m in spec.get("models", []):
        registry._get(m)
        registry.check_input_size(m, spec["image_size"])
    device = _jax_device(spec["platform"])
    peaks = {}
    for p in spec["precisions"]:
        peaks[p] = matmul_peak_gflops(PEAK_DTYPES[p], spec["peak_size"], spec["peak_repeats"],
                                      precision=MATMUL_PRECISION[p], device=device)
    return {"devices": [{"platform": d.platform, "device_kind": d.device_kind, "id": d.id}
                        for d in jax.devices(spec["platform"])],
            "device_kind": device.device_kind, "peaks": peaks, "versions": _versions()}


def _batch(batch_size, size, seed=0):
    """The batch :func:`leuknet.bench.random_batch` makes, as NumPy (8-bit RGB values in float32, int32 labels)."""
    rng = np.random.default_rng(seed)
    return (rng.integers(0, 256, (batch_size, size, size, 3)).astype(np.float32),
            rng.integers(0, 2, batch_size).astype(np.int32))


def _memory_peak(device):
    stats = device.memory_stats() if hasattr(device, "memory_stats") else None
    return int(stats["peak_bytes_in_use"]) if stats and "peak_bytes_in_use" in stats else None


def _first_then_timed(fn, warmup, repeats):
    """(seconds of the first call: tracing and compiling included, the timed calls after ``warmup`` more)."""
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0, _time(fn, max(0, int(warmup) - 1), int(repeats))


def _keras(spec):
    import jax
    import keras

    from leuknet.bench import training_steps
    from leuknet.profiles import apply_profile, resolve_profile
    from leuknet.train import inference_step

    device = _jax_device(spec["platform"])
    bs, size, name = int(spec["batch_size"]), int(spec["image_size"]), spec["model"]
    # the profile `leuknet train --device gpu` resolves and applies (dtype policy, matmul precision: TF32 off
    # for fp32, on for tf32)
    profile = resolve_profile(spec["platform"], spec["precision"], bs, strategy="default",
                              gpus=[str(device)] if spec["platform"] == "gpu" else [], model=name)
    apply_profile(profile)
    matmul = jax.config.jax_default_matmul_precision
    xn, yn = _batch(bs, size)
    # uncommitted, as the Trainer's own NumPy batches arrive (committed inputs cost the JAX step a second compile)
    x, y = jax.device_put(xn), jax.device_put(yn)
    model, train, _ = training_steps(name, profile, x, y, size)
    step = inference_step(model)

    def infer():
        return keras.ops.convert_to_numpy(step(x))

    first_train, t_train = _first_then_timed(train, spec["warmup"], spec["repeats"])
    first_infer, t_infer = _first_then_timed(infer, spec["warmup"], spec["repeats"])
    return _throughput(spec, t_train, t_infer, model_gflop_per_image(model)) | {
        "framework": "leuknet (Keras 3, JAX)", "policy": profile.dtype_policy, "matmul_precision": matmul,
        "xla_train_step": profile.xla_train_step, "loss_scaling": profile.loss_scaling,
        "first_train_step_s": first_train, "first_inference_s": first_infer,
        "peak_memory_bytes": _memory_peak(device), "device_kind": device.device_kind, "versions": _versions()}


def _throughput(spec, t_train, t_infer, gflop):
    bs = int(spec["batch_size"])
    train_ips, infer_ips = [bs / t for t in t_train], [bs / t for t in t_infer]
    return {"model": spec["model"], "precision": spec["precision"], "batch_size": bs,
            "image_size": int(spec["image_size"]), "platform": spec["platform"],
            "train_images_per_s": float(np.median(train_ips)), "train_images_per_s_stats": _stats(train_ips),
            "inference_images_per_s": float(np.median(infer_ips)), "inference_images_per_s_stats": _stats(infer_ips),
            "gflop_per_image": gflop, "achieved_train_gflops": 3 * gflop * float(np.median(train_ips)),
            "achieved_inference_gflops": gflop * float(np.median(infer_ips))}


def _torch(spec):
    from leuknet import torch_peer

    x, y = _batch(int(spec["batch_size"]), int(spec["image_size"]))
    device = "cuda" if spec["platform"] == "gpu" else "cpu"
    r = torch_peer.time_peer(x, y, "fp32" if spec["precision"] == "tf32" else spec["precision"], device,
                             spec["warmup"], spec["repeats"], tf32=spec["precision"] == "tf32")
    return _throughput(spec, r["train_seconds"], r["inference_seconds"], r["gflop_per_image"]) | {
        "framework": f"PyTorch {r['torch']} eager", "peak_memory_bytes": r["peak_memory_bytes"],
        "skipped_steps": r["skipped_steps"], "settings": r["settings"], "device_kind": r["device_name"]}


def _pipeline(spec):
    import jax

    from leuknet.data.pipeline import ImageData

    _jax_device(spec["platform"])
    bs, size, paths = int(spec["batch_size"]), int(spec["image_size"]), spec["paths"]
    data = ImageData(np.zeros(len(paths), np.int32), (size, size), "rgb", paths=paths)

    def host():
        for _xb, _ in data.numpy_batches(None, bs, drop_remainder=False, prefetch=2, dtype=spec["dtype"]):
            pass

    def to_device():
        last = None
        for xb, _ in data.numpy_batches(None, bs, drop_remainder=False, prefetch=2, dtype=spec["dtype"]):
            last = jax.device_put(xb)
        last.block_until_ready()

    t_host = _time(host, 1, spec["repeats"])
    t_device = _time(to_device, 1, spec["repeats"])
    ips, dev_ips = [len(paths) / t for t in t_host], [len(paths) / t for t in t_device]
    return {"batch_size": bs, "image_size": size, "files": len(paths), "format": "450x450 24-bit BMP",
            "dtype": spec["dtype"], "pipeline_images_per_s": float(np.median(ips)),
            "pipeline_images_per_s_stats": _stats(ips), "to_device_images_per_s": float(np.median(dev_ips)),
            "to_device_images_per_s_stats": _stats(dev_ips), "cpu_count": os.cpu_count()}


def _workload(spec):
    import jax

    from leuknet.bench import run_workload

    _jax_device(spec["platform"])
    opts = {k: spec[k] for k in ("data", "out", "per_class", "image_size", "epochs", "batch_size") if k in spec}
    row = run_workload(spec["name"], device=spec["platform"], precision=spec["precision"], **opts)
    return row | {"matmul_precision": jax.config.jax_default_matmul_precision, "backend": "jax"}


CHILDREN = {"probe": _probe, "keras": _keras, "torch": _torch, "pipeline": _pipeline, "workload": _workload}


def _child_main(arg):
    """One measurement; its result (or its error, one line) as one JSON line on stdout (the parent reads the
    line, not the exit status)."""
    spec = json.loads(arg)
    try:
        result = CHILDREN[spec["kind"]](spec)
    except Exception as e:  # noqa: BLE001 - reported to the parent, which records it
        first = (str(e).strip().splitlines() or [""])[0]
        result = {"error": f"{type(e).__name__}: {first}"[:500]}
    sys.stdout.write(json.dumps(result) + "\n")


# ----------------------------------------------------------------------------------------------------------------
# in the parent process (imports neither JAX nor Keras: the children own the device)

def _child_env(platform, cache_dir=None):
    env = dict(os.environ, KERAS_BACKEND="jax", TF_CPP_MIN_LOG_LEVEL="3", PYTHONUNBUFFERED="1")
    if cache_dir:  # the run's own compilation cache: what one child compiled (initialisers, probes), the next loads
        env.update(JAX_COMPILATION_CACHE_DIR=str(cache_dir), JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0")
    if platform == "cpu":
        env["JAX_PLATFORMS"] = "cpu"
        env["CUDA_VISIBLE_DEVICES"] = "-1"
    return env


def _run_child(spec, timeout=None, cache_dir=None) -> dict:
    """``python -m leuknet.bench_gpu SPEC`` under the JAX backend: its JSON result, or {'error': one line}."""
    try:
        r = subprocess.run([sys.executable, "-m", "leuknet.bench_gpu", json.dumps(spec)], capture_output=True,
                           text=True, env=_child_env(spec["platform"], cache_dir), timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    lines = [l for l in r.stdout.splitlines() if l.startswith("{")]
    if not lines:
        tail = [l for l in (r.stderr or r.stdout).strip().splitlines() if l.strip()][-1:] or ["no output"]
        return {"error": f"exit {r.returncode}: {tail[0][:300]}"}
    return json.loads(lines[-1])


def _gpu_driver():
    """Name, driver and memory from nvidia-smi, where there is one."""
    if not shutil.which("nvidia-smi"):
        return None
    try:
        r = subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version,memory.total", "--format=csv,noheader"],
                           capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    rows = [[c.strip() for c in l.split(",")] for l in r.stdout.strip().splitlines() if l.count(",") >= 2]
    return [{"name": n, "driver": d, "memory": m} for n, d, m in rows] or None


def _check(models, precisions, batch_sizes, platform):
    """What the parent checks (the input size is checked by the probe, which imports Keras)."""
    check_names_and_sizes(models, precisions, batch_sizes)
    if platform not in PLATFORMS:
        raise ConfigError(f"unknown platform {platform!r}; choose gpu (the default) or cpu")


def _specs(models, precisions, batch_sizes, baseline, common, pipelines=()):
    """The measurements in run order: LeukNet first, each (precision, batch) with its PyTorch peer right after
    it (a ratio compares timings seconds apart), the host ``pipelines`` once LeukNet's first batch size is done
    (what the pipeline feeds), then the rest."""
    blocks = []  # one per (model, batch size)
    for m in sorted(models, key=lambda m: m != "leuknet"):
        for b in batch_sizes:
            block = []
            for p in precisions:
                block.append(dict(common, kind="keras", model=m, precision=p, batch_size=b))
                if baseline and m == "leuknet":
                    block.append(dict(common, kind="torch", model=PEER, precision=p, batch_size=b))
            blocks.append(block)
    first = 1 if "leuknet" in models else 0
    return [s for block in blocks[:first] for s in block] + list(pipelines) + [s for block in blocks[first:]
                                                                              for s in block]


def run_gpu_bench(models=("leuknet", "alexnet"), precisions=("fp32", "bf16", "fp16"), batch_sizes=(128, 256),
                  image_size=224, repeats=5, warmup=2, baseline=True, out=None, progress=None, platform=None, *,
                  peak_size=None, peak_repeats=None, peak_probes=2, pipeline=True, pipeline_files=None,
                  pipeline_dtype="float32", workload=None, workload_precisions=None, workload_options=None,
                  budget_s=None, child_timeout_s=900) -> dict:
    """Run every measurement (module docstring) in its own JAX subprocess; write bench_gpu.{json,md,png} to
    ``out`` after each one. ``platform``: None or 'gpu' (a one-line DeviceError where JAX sees no GPU) or 'cpu'
    (the tests: tiny sizes). ``peak_size``: the probe's matrix side (8192 on a GPU, 1024 on a CPU).
    ``pipeline_files``: files per pipeline pass (default 4 x batch, at least 256). ``budget_s``: no new
    measurement starts after this many seconds, and one running then is stopped at it (recorded as timed out;
    those not started are listed as skipped). ``workload``:
    'leuknet-paper' runs :func:`run_gpu_workload` after the rest, at ``workload_precisions`` (default: the
    first of ``precisions``)."""
    platform = platform or "gpu"
    models, precisions, batch_sizes = tuple(models), tuple(precisions), tuple(int(b) for b in batch_sizes)
    _check(models, precisions, batch_sizes, platform)
    import contextlib

    from leuknet.errors import InUseError
    from leuknet.locks import claim, lock_path_for

    with (claim(lock_path_for(out), what=f"benchmark folder {out}", error=InUseError,
                hint="wait for that benchmark to finish, or choose another out") if out
          else contextlib.nullcontext()):
        return _run_claimed(models, precisions, batch_sizes, image_size, repeats, warmup, baseline, out, progress,
                            platform, peak_size, peak_repeats, peak_probes, pipeline, pipeline_files,
                            pipeline_dtype, workload, workload_precisions, workload_options, budget_s,
                            child_timeout_s)


def _run_claimed(models, precisions, batch_sizes, image_size, repeats, warmup, baseline, out, progress, platform,
                 peak_size, peak_repeats, peak_probes, pipeline, pipeline_files, pipeline_dtype, workload,
                 workload_precisions, workload_options, budget_s, child_timeout_s) -> dict:
    t_start = time.perf_counter()

    def left():
        return None if budget_s is None else budget_s - (time.perf_counter() - t_start)

    def emit(event, payload):
        if progress:
            progress(event, payload)

    def skip(shown):  # not started: too little of the budget left
        report["skipped"].append(shown)
        emit("skipped", shown)

    common = dict(platform=platform, image_size=int(image_size), repeats=int(repeats), warmup=int(warmup))
    probe_spec = dict(kind="probe", platform=platform, precisions=list(precisions), models=list(models),
                      image_size=int(image_size), peak_size=int(peak_size or (8192 if platform == "gpu" else 1024)),
                      peak_repeats=int(peak_repeats or repeats))
    with tempfile.TemporaryDirectory(prefix="leuknet-bench-gpu-") as d:
        cache = Path(d) / "jax-cache"
        emit("probe", probe_spec)
        # the probe always runs (the report needs it): under a budget too small for it, MIN_CHILD_S at most
        probe = _run_child(probe_spec, _child_timeout(left(), child_timeout_s) or MIN_CHILD_S, cache)
        if "error" in probe:  # one line: no GPU, an unknown model, an input too small
            raise (DeviceError if probe["error"].startswith("DeviceError") else ConfigError)(
                probe["error"].split(": ", 1)[-1])
        report = {"machine": machine_info() | {"gpus": _gpu_driver(), "jax_devices": probe["devices"],
                                               "device_kind": probe["device_kind"]},
                  "date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "platform": platform,
                  "versions": probe["versions"], "peak_probes": [probe["peaks"]], "results": [], "pipeline": [],
                  "skipped": [], "settings": _settings(precisions),
                  "compilation_cache": "one JAX compilation cache per run: a program a child compiled before "
                                       "(initialisers, the probe) is loaded by the next"}
        emit("probe_result", probe)
        pipelines = []
        if pipeline:
            n_files = int(pipeline_files or max(4 * max(batch_sizes), 256))
            paths = write_bmp_cells(Path(d) / "cells", n_files)
            pipelines = [dict(common, kind="pipeline", batch_size=b, paths=paths, dtype=pipeline_dtype)
                         for b in batch_sizes]
        specs = _specs(models, precisions, batch_sizes, baseline, common, pipelines)
        for i, spec in enumerate(specs):
            shown = {k: v for k, v in spec.items() if k != "paths"}
            timeout = _child_timeout(left(), child_timeout_s)
            if timeout is None:
                skip(shown)
                continue
            emit("config", {"i": i, "n": len(specs), "spec": shown})
            row = _run_child(spec, timeout, cache)
            row = row if "error" not in row else dict(_row_of(spec), error=row["error"])
            report["pipeline" if spec["kind"] == "pipeline" else "results"].append(row)
            emit("result", row)
            _finish(report, out)
        timeout = _child_timeout(left(), child_timeout_s)
        if peak_probes > 1 and timeout is not None:
            again = _run_child(probe_spec, timeout, cache)
            if "error" not in again:
                report["peak_probes"].append(again["peaks"])
    _finish(report, out)
    if workload:
        for p in workload_precisions or precisions[:1]:
            timeout = _child_timeout(left(), child_timeout_s)
            if timeout is None:
                skip({"kind": "workload", "name": workload, "precision": p})
                continue
            run_gpu_workload(workload, p, out=out, platform=platform, options=workload_options, report=report,
                             progress=progress, timeout=timeout)
        _finish(report, out)
    return report


MIN_CHILD_S = 15.0  # less than this left of the budget: a measurement is not started (it could not finish)


def _child_timeout(left, child_timeout_s):
    """A measurement's time limit: its own, or what is left of the budget where that is less (so that a caller's
    own limit never kills a measurement unrecorded: it ends as a row 'timed out'); None where too little is left
    to start one."""
    if left is None:
        return child_timeout_s
    if left < min(MIN_CHILD_S, child_timeout_s or MIN_CHILD_S):
        return None
    return left if child_timeout_s is None else min(child_timeout_s, left)


def _settings(precisions):
    """What each precision means on either side (the matmul precision each leuknet row ran with is in its row)."""
    keras = {"fp32": "float32, TF32 off", "tf32": "float32, TF32 on", "bf16": "mixed_bfloat16",
             "fp16": "mixed_float16, dynamic loss scaling"}
    torch = {"fp32": "allow_tf32=False (matmul and cuDNN)", "tf32": "allow_tf32=True", "bf16": "autocast bfloat16",
             "fp16": "autocast float16 + GradScaler"}
    return {p: {"keras": keras[p], "torch": torch[p]} for p in precisions}


def _row_of(spec):
    return {k: spec[k] for k in ("kind", "model", "precision", "batch_size", "image_size", "platform") if k in spec}


def run_gpu_workload(name="leuknet-paper", precision="bf16", out=None, platform=None, options=None, report=None,
                     progress=None, timeout=None) -> dict:
    """:func:`leuknet.bench.run_workload` (``leuknet train`` on the paper's workload) in a JAX subprocess;
    the row is added to ``report`` (or to ``out``/bench_gpu.json where it exists) and the reports rewritten."""
    platform = platform or "gpu"
    if report is None:
        existing = Path(out) / "bench_gpu.json" if out else None
        report = json.loads(existing.read_text()) if existing and existing.exists() else {
            "machine": machine_info() | {"gpus": _gpu_driver()}, "platform": platform, "results": [],
            "pipeline": [], "skipped": [], "peak_probes": [],
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    spec = dict(options or {}, kind="workload", name=name, precision=precision, platform=platform)
    if progress:
        progress("workload", spec)
    row = _run_child(spec, timeout)
    if "error" in row:
        row = {"workload": name, "precision": precision, "platform": platform, "error": row["error"]}
    report.setdefault("workloads", []).append(row)
    if progress:
        progress("workload_result", row)
    _finish(report, out)
    return row


def describe(event, p) -> str | None:
    """One line of plain text for a progress event of :func:`run_gpu_bench` / :func:`run_gpu_workload` (None for
    an event that says nothing): what ``leuknet bench`` under JAX and ``scripts/gpu_check.sh`` print."""
    if event == "probe":
        return "Matmul peak probe ..."
    if event == "probe_result":
        peaks = ", ".join(f"{k} {v['median_gflops'] / 1000:.3g} TFLOP/s" for k, v in p["peaks"].items())
        return f"    {p['device_kind']}: {peaks}"
    if event == "config":
        s = p["spec"]
        return (f"[{p['i'] + 1}/{p['n']}] {s['kind']} {s.get('model', '')} {s.get('precision', '')} "
                f"batch {s['batch_size']} ...")
    if event == "skipped":
        return "    not measured (time budget spent): " + _skipped_words(p)
    if event == "result":
        if "error" in p:
            return f"    failed: {p['error']}"
        if "train_images_per_s" in p:
            extra = [f"{100 * p['train_fraction_of_peak']:.1f}% of peak" if p.get("train_fraction_of_peak") else "",
                     f"first step {p['first_train_step_s']:.1f} s" if p.get("first_train_step_s") else "",
                     f"peak memory {p['peak_memory_bytes'] / 2**30:.1f} GiB" if p.get("peak_memory_bytes") else ""]
            return (f"    train {p['train_images_per_s']:.1f} img/s, inference {p['inference_images_per_s']:.1f} img/s"
                    + "".join(f", {e}" for e in extra if e))
        if "pipeline_images_per_s" in p:
            return (f"    pipeline {p['pipeline_images_per_s']:.0f} img/s on the host, "
                    f"{p['to_device_images_per_s']:.0f} img/s to the device")
        return None
    if event == "workload":
        return f"Workload {p['name']} ({p['precision']}) ..."
    if event == "workload_result":
        if p.get("error"):
            return f"    failed: {p['error']}"
        acc = p.get("test_accuracy")
        return (f"    {p['wall_s']:.1f} s wall ({p['train_s']:.1f} s training), {p['iterations']} iterations"
                + (f", test accuracy {100 * acc:.2f}%" if acc is not None else ""))
    return None


# ----------------------------------------------------------------------------------------------------------------
# the report

def _finish(report, out):
    add_peaks_and_ratios(report)
    if out:
        write_reports(report, out)


def add_peaks_and_ratios(report):
    """Each row's peak (the higher median of the probes, in its precision) and share of it; each leuknet row's
    ratios to the PyTorch peer at the same precision and batch."""
    peaks = {}
    for probe in report.get("peak_probes", []):
        for p, v in probe.items():
            peaks[p] = max(peaks.get(p, 0.0), v["median_gflops"])
    report["peak_gflops"] = peaks
    rows = [r for r in report["results"] if "error" not in r]
    for r in rows:
        peak = peaks.get(r["precision"])
        r["peak_gflops"] = peak
        r["train_fraction_of_peak"] = r["achieved_train_gflops"] / peak if peak else None
    peer = {(r["precision"], r["batch_size"]): r for r in rows if r["model"] == PEER}
    for r in rows:
        b = peer.get((r["precision"], r["batch_size"]))
        if r["model"] == "leuknet" and b:
            r["train_x_torch"] = r["train_images_per_s"] / b["train_images_per_s"]
            r["inference_x_torch"] = r["inference_images_per_s"] / b["inference_images_per_s"]
    return report


def write_reports(report, out):
    from leuknet.io import atomic_path, write_json, write_text

    out = Path(out)
    write_json(out / "bench_gpu.json", report)
    write_text(out / "bench_gpu.md", markdown(report))
    with atomic_path(out / "bench_gpu.png") as tmp:
        chart(report, tmp)


def _f(v, fmt="{:.1f}"):
    return "" if v is None else fmt.format(v)


def _machine_line(report):
    m = report["machine"]
    gpus = m.get("gpus") or []
    kind = m.get("device_kind") or "no GPU"
    gpu = (f"{gpus[0]['name']} ({gpus[0]['memory']}, driver {gpus[0]['driver']})" + (f" x {len(gpus)}" if len(gpus) > 1
                                                                                     else "")) if gpus else kind
    v = report.get("versions") or {}
    soft = ", ".join(f"{k} {v[k]}" for k in ("jax", "keras", "numpy", "python") if k in v)
    isa = f" ({instruction_sets(m['isa'])})" if m.get("isa") is not None else ""
    return (f"Machine: {gpu if report['platform'] == 'gpu' else 'CPU only (JAX CPU backend)'}; CPU {m['cpu']}{isa}, "
            f"{m['physical_cores']} physical cores, {m['memory_gb']} GB; {m['platform']}."
            + (f" {soft}." if soft else "") + f" Measured {report.get('date', '')}.")


def markdown(report) -> str:
    unit = 1e3  # TFLOP/s
    lines = ["# leuknet bench, GPU profile (JAX backend)", "", _machine_line(report), "",
             "Medians of repeated timings after the compiling call and warm-up (spread in bench_gpu.json); one "
             "subprocess per row. Training GFLOP = 3 x forward. Peak: the measured matmul rate in the row's "
             "precision (median of the repeats, the higher of the probes). First step: the first training step's "
             "seconds, tracing and compiling included.", ""]
    peaks = report.get("peak_gflops") or {}
    if peaks:
        lines.append("Matmul peak: " + ", ".join(f"{p} {v / unit:.3g} TFLOP/s" for p, v in peaks.items()) + ".")
        lines.append("")
    lines += ["| model | framework | precision | batch | train img/s | inference img/s | GFLOP/img | train TFLOP/s | "
              "% of peak | peak memory GiB | first step s | train x PyTorch | inference x PyTorch |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in report["results"]:
        if "error" in r:
            lines.append(f"| {r.get('model', '')} | | {r.get('precision', '')} | {r.get('batch_size', '')} | "
                         f"failed: {r['error']} | | | | | | | | |")
            continue
        mem = r.get("peak_memory_bytes")
        frac = r.get("train_fraction_of_peak")
        lines.append("| " + " | ".join([
            r["model"], r.get("framework", ""), r["precision"], str(r["batch_size"]),
            _f(r["train_images_per_s"]), _f(r["inference_images_per_s"]), _f(r["gflop_per_image"], "{:.2f}"),
            _f(r["achieved_train_gflops"] / unit, "{:.3g}"), _f(None if frac is None else 100 * frac),
            _f(None if mem is None else mem / 2**30, "{:.2f}"), _f(r.get("first_train_step_s"), "{:.1f}"),
            _f(r.get("train_x_torch"), "{:.2f}x"), _f(r.get("inference_x_torch"), "{:.2f}x")]) + " |")
    settings = report.get("settings") or {}
    if settings:
        matmul = {r["precision"]: r.get("matmul_precision") for r in report["results"]
                  if "error" not in r and r["model"] != PEER}
        lines += ["", "Precisions: " + "; ".join(
            f"{p}: leuknet {s['keras']}" + (f" (jax_default_matmul_precision {matmul[p]})" if matmul.get(p) else "")
            + f", PyTorch {s['torch']}" for p, s in settings.items()) + ". leuknet takes the profile `leuknet "
            "train` resolves (leuknet.profiles). The PyTorch peer (leuknet.torch_peer): eager, LocalResponseNorm "
            "in float32, Adam with coupled L2, cudnn.benchmark on, the loss read every step as leuknet's Trainer "
            "reads it."]
    if report.get("pipeline"):
        lines += ["", "Input pipeline (`ImageData.numpy_batches`, 450 x 450 BMP decoded and resized, no "
                  "TensorFlow):", "", "| batch | files | host img/s | to device img/s |", "|---|---|---|---|"]
        for p in report["pipeline"]:
            if "error" in p:
                lines.append(f"| {p.get('batch_size', '')} | | failed: {p['error']} | |")
            else:
                lines.append(f"| {p['batch_size']} | {p['files']} | {p['pipeline_images_per_s']:.0f} | "
                             f"{p['to_device_images_per_s']:.0f} |")
    lines += _workload_lines(report.get("workloads") or [])
    if report.get("skipped"):
        lines += ["", "Not measured (time budget spent): " + "; ".join(map(_skipped_words, report["skipped"])) + "."]
    return "\n".join(lines) + "\n"


def _skipped_words(spec):
    """'keras leuknet bf16 batch 128', 'workload leuknet-paper bf16': what a skipped measurement was."""
    words = [str(spec[k]) for k in ("kind", "model", "name", "precision") if spec.get(k) is not None]
    return " ".join(words + ([f"batch {spec['batch_size']}"] if spec.get("batch_size") is not None else []))


def _workload_lines(workloads):
    if not workloads:
        return []
    lines = ["", "Whole training workloads (`leuknet train` under JAX, wall time including data reading and "
             "validation):", "", "| workload | precision | images | epochs | batch | iterations | wall s | "
             "train s | paper (MATLAB, 1 CPU) | test accuracy (95 % CI) |", "|---|---|---|---|---|---|---|---|---|---|"]
    for w in workloads:
        if "error" in w:
            lines.append(f"| {w['workload']} | {w['precision']} | failed: {w['error']} | | | | | | | |")
            continue
        acc = workload_accuracy(w)
        lines.append(f"| {w['workload']}{' (synthetic)' if w.get('synthetic_data') else ''} | {w['precision']} | "
                     f"{w['images']} | {w['epochs']} | {w['batch_size']} | {w['iterations']} | {w['wall_s']:.1f} | "
                     f"{w['train_s']:.1f} | {w['paper_wall_s'] / 60:.1f} min | {acc} |")
    return lines


def chart(report, path):
    """Bars of training and inference img/s per (model, precision, batch), leuknet and its PyTorch peer."""
    from leuknet.figures import subplots

    rows = [r for r in report["results"] if "error" not in r]
    fig, axes = subplots(1, 2, figsize=(12, 4.6))
    labels = sorted({(r["model"] if r["model"] != PEER else "leuknet", r["precision"], r["batch_size"])
                     for r in rows}, key=lambda k: (k[0] != "leuknet", k[0], k[2], PRECISIONS.index(k[1])))
    xs = np.arange(len(labels))
    frameworks = [("leuknet (JAX)", lambda r: r["model"] != PEER), ("PyTorch eager", lambda r: r["model"] == PEER)]
    width = 0.4
    for ax, key, title in ((axes[0], "train_images_per_s", "Training"),
                           (axes[1], "inference_images_per_s", "Inference")):
        for j, (name, keep) in enumerate(frameworks):
            by = {(r["model"] if r["model"] != PEER else "leuknet", r["precision"], r["batch_size"]): r
                  for r in rows if keep(r)}
            vals = [by[k][key] if k in by else 0.0 for k in labels]
            if any(vals):
                ax.bar(xs + (j - 0.5) * width, vals, width, label=name)
        ax.set_xticks(xs, [f"{m}\n{p} b{b}" for m, p, b in labels], fontsize=7)
        ax.set_ylabel("images / s")
        ax.set_title(f"{title} throughput (median)")
        ax.grid(alpha=0.3, axis="y")
        if rows:
            ax.legend(fontsize=8)
    fig.suptitle(f"{(report['machine'].get('device_kind') or report['platform'])}, {report.get('date', '')[:10]}",
                 fontsize=9)
    fig.tight_layout()
    fig.savefig(path, format="png", dpi=110)


if __name__ == "__main__":  # one measurement, as a subprocess of run_gpu_bench
    _child_main(sys.argv[1])
