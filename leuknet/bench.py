"""``leuknet bench``: throughput of the code users run, measured, not asserted.

Each (model, precision, batch size) runs in a fresh subprocess (clean memory peak, clean dtype policy):
warm-up steps, then repeated timings of

- training: :meth:`leuknet.train.Trainer.train_step`, the step ``leuknet train`` runs (forward, backward,
  MATLAB solver update);
- inference: the model's forward pass in prediction mode;
- input pipeline: real-format 450 x 450 BMP files decoded, colour-converted and resized to batches by
  :class:`leuknet.data.pipeline.ImageData` (as in training, streamed from disk);
- forward GFLOP per image counted from the layers (convolutions and fully connected layers), the achieved
  training GFLOP/s (3 x forward per image), and the machine's peak GFLOP/s from a matrix-multiply probe in the
  same precision;
- the process's peak resident memory.

``baseline=True`` also times what a plain Keras user writes for LeukNet (TensorFlow's LRN in a layer, Keras
Adam, ``train_on_batch``/``predict_on_batch``), so results can be reported as ratios on the same machine.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from leuknet.errors import ConfigError


def model_gflop_per_image(model) -> float:
    """Forward GFLOP per image: 2 x multiply-adds of convolutions and fully connected layers."""
    import keras

    from leuknet.layers import GroupedConv2D

    flops = 0
    for layer in model.layers:
        if isinstance(layer, keras.layers.SeparableConv2D):
            _, ho, wo, co = layer.output.shape
            kh, kw, cin, dm = layer.depthwise_kernel.shape
            flops += 2 * ho * wo * (kh * kw * cin * dm + cin * dm * co)
        elif isinstance(layer, keras.layers.DepthwiseConv2D):
            _, ho, wo, co = layer.output.shape
            kh, kw, _, _ = layer.kernel.shape
            flops += 2 * ho * wo * co * kh * kw
        elif isinstance(layer, (keras.layers.Conv2D, GroupedConv2D)):
            _, ho, wo, co = layer.output.shape
            kh, kw, cin_g, _ = layer.kernel.shape
            flops += 2 * ho * wo * co * kh * kw * cin_g
        elif isinstance(layer, keras.layers.Dense):
            flops += 2 * int(np.prod(layer.kernel.shape))
    return flops / 1e9


def _stats(values):
    v = np.asarray(values, np.float64)
    return {"median": float(np.median(v)), "min": float(v.min()), "max": float(v.max()),
            "iqr": float(np.subtract(*np.percentile(v, [75, 25]))), "n": int(len(v))}


def peak_gflops(dtype="float32", sizes=(1024, 2048, 3072), repeats=5):
    """The machine's attainable GFLOP/s: the fastest of ``repeats`` square matrix products, best of a few sizes
    (the fastest, not the median: a probe slowed by a neighbour on a shared machine would put a model above its
    "peak")."""
    import tensorflow as tf

    best = 0.0
    f = tf.function(lambda x: tf.matmul(x, x), autograph=False)
    for n in sizes:
        a = tf.cast(tf.random.normal((n, n), dtype=tf.float32), dtype)
        f(a).numpy()
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            f(a).numpy()
            times.append(time.perf_counter() - t0)
        best = max(best, 2 * n**3 / min(times) / 1e9)
    return best


def write_bmp_cells(folder, n, seed=0, unique=32):
    """``n`` 450 x 450 BMP cells in ``folder``: ``unique`` drawn by the demo generator, the rest copies of them under
    their own names (decoding and resizing an uncompressed BMP cost the same whatever it shows; drawing every cell
    would cost seconds per hundred)."""
    import shutil

    import cv2

    from leuknet.data.synthetic import synth_cell

    unique = max(2, unique - unique % 2)  # even: a copy keeps its class's parity (file names say the class)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        p = folder / f"UID_{i}_1_1_{'all' if i % 2 else 'hem'}.bmp"
        if i < unique:
            img = synth_cell("all" if i % 2 else "hem", np.random.default_rng([seed, i]))
            cv2.imwrite(str(p), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
        else:
            shutil.copyfile(paths[i % unique], p)
        paths.append(str(p))
    return paths


def _peak_rss_mb():
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _plain_keras_leuknet(image_size, num_classes=2):
    """What a plain Keras user writes: same layers, TF's LRN (alpha/size as MATLAB), Keras Adam, compile."""
    import keras
    import tensorflow as tf

    class TFLRN(keras.layers.Layer):
        def call(self, x):
            return tf.nn.local_response_normalization(x, 2, 2.0, 1e-4 / 5, 0.75)

    L = keras.layers
    layers = [keras.Input((image_size, image_size, 3))]
    for f in (64, 128, 256):
        layers += [L.Conv2D(f, 3, activation="relu"), TFLRN(), L.MaxPooling2D(3, 2)]
    layers += [L.Flatten(), L.Dense(512, activation="relu"), L.Dropout(0.5), L.Dense(num_classes, activation="softmax")]
    model = keras.Sequential(layers)
    # jit_compile=False: what Keras' 'auto' resolves to for the usual Lambda(tf.nn.lrn) version
    model.compile(optimizer=keras.optimizers.Adam(1e-4), loss="sparse_categorical_crossentropy", jit_compile=False)
    return model


def _time(fn, warmup, repeats):
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def training_steps(model_name, profile, x, y, size):
    """(model, one training step, one inference pass) on the batch ``x, y``: leuknet's Trainer step (what
    `leuknet train` runs) or, for plain-keras-leuknet, Keras' own ``train_on_batch`` / ``predict_on_batch``."""
    from leuknet import models

    if model_name == "plain-keras-leuknet":
        model = _plain_keras_leuknet(size)
        return model, (lambda: model.train_on_batch(x, y)), (lambda: model.predict_on_batch(x))
    from leuknet.matlab import trainingOptions
    from leuknet.train import Trainer, inference_step

    model = models.build(model_name, num_classes=2, image_size=size)
    trainer = Trainer(model, trainingOptions("adam", InitialLearnRate=1e-4), jit_solver=profile.xla_solver,
                      jit_step=profile.xla_train_step)
    step = inference_step(model)  # what predictions run
    return model, (lambda: float(trainer.train_step(x, y, 1e-4)[0])), (lambda: step(x).numpy())


def random_batch(batch_size, size, seed=0):
    """A fixed batch of random 8-bit RGB images (float32) and binary labels, for timing."""
    import tensorflow as tf

    rng = np.random.default_rng(seed)
    return (tf.constant(rng.integers(0, 256, (batch_size, size, size, 3)).astype(np.float32)),
            tf.constant(rng.integers(0, 2, batch_size).astype(np.int32)))


def alternate(fns: dict, repeats: int) -> dict:
    """Time the callables in ``fns`` back to back, ``repeats`` rounds, the order reversed every other round (so
    that neither always runs first): {name: [seconds per round]}."""
    times = {name: [] for name in fns}
    for i in range(repeats):
        for name, fn in (list(fns.items()) if i % 2 == 0 else list(fns.items())[::-1]):
            times[name].append(_time(fn, 0, 1)[0])
    return times


def bench_paired(spec: dict) -> dict:
    """leuknet (fp32) and plain Keras timed alternately in one process: each repetition times one leuknet step
    and one plain Keras step back to back (order alternating), and the speed-up is the median of those pairs'
    ratios, so that a shared machine's drift over minutes cancels out of the ratio."""
    from leuknet.profiles import apply_profile, resolve_profile

    bs, size = int(spec["batch_size"]), int(spec["image_size"])
    warmup, repeats = int(spec.get("warmup", 2)), int(spec.get("repeats", 5))
    profile = resolve_profile(spec.get("device", "cpu"), "fp32", bs, strategy="default", model="leuknet")
    apply_profile(profile)
    x, y = random_batch(bs, size)
    ours = training_steps("leuknet", profile, x, y, size)
    plain = training_steps("plain-keras-leuknet", profile, x, y, size)
    result = {"batch_size": bs, "image_size": size, "precision": "fp32", "pairs": repeats}
    for what, k in (("train", 1), ("inference", 2)):
        for _ in range(warmup):
            ours[k](), plain[k]()
        times = alternate({"ours": ours[k], "plain": plain[k]}, repeats)
        ratios = [p / o for o, p in zip(times["ours"], times["plain"])]
        result[f"{what}_speedup"] = float(np.median(ratios))
        result[f"{what}_speedup_stats"] = _stats(ratios)
        result[f"{what}_pair_seconds"] = [list(p) for p in zip(times["ours"], times["plain"])]  # [leuknet, plain]
    return result


def bench_one(spec: dict) -> dict:
    """One (model, precision, batch size) measurement in this process."""
    from leuknet.profiles import apply_profile, resolve_profile

    model_name, precision, bs = spec["model"], spec["precision"], int(spec["batch_size"])
    device = spec.get("device", "cpu")
    warmup, repeats, size = int(spec.get("warmup", 2)), int(spec.get("repeats", 5)), int(spec["image_size"])
    # the profile `leuknet train` resolves for this device, precision and batch (threads, dtype policy, XLA)
    profile = resolve_profile(device, precision, bs, strategy="default", model=model_name)
    apply_profile(profile)
    policy = profile.dtype_policy
    peak_dtype = "bfloat16" if precision == "bf16" else "float16" if precision == "fp16" else "float32"
    peaks = [peak_gflops(peak_dtype)]  # probed before and after the timings; the higher one is the peak
    x, y = random_batch(bs, size)
    result = {"model": model_name, "device": device, "precision": precision, "policy": policy, "batch_size": bs,
              "image_size": size, "intra_op_threads": profile.intra_op_threads,
              "inter_op_threads": profile.inter_op_threads}
    model, train, infer = training_steps(model_name, profile, x, y, size)
    t_train = _time(train, warmup, repeats)
    t_infer = _time(infer, warmup, repeats)
    gflop = model_gflop_per_image(model)
    train_ips = [bs / t for t in t_train]
    infer_ips = [bs / t for t in t_infer]
    result.update(
        train_images_per_s=float(np.median(train_ips)), train_images_per_s_stats=_stats(train_ips),
        inference_images_per_s=float(np.median(infer_ips)), inference_images_per_s_stats=_stats(infer_ips),
        gflop_per_image=gflop,
        achieved_train_gflops=3 * gflop * float(np.median(train_ips)),
        achieved_inference_gflops=gflop * float(np.median(infer_ips)),
    )
    if spec.get("pipeline", True):
        result.update(bench_pipeline(size, bs, spec.get("colorspace", "rgb"), repeats))
    peaks.append(peak_gflops(peak_dtype))
    peak = max(peaks)
    result["peak_gflops"] = peak
    result["peak_gflops_probes"] = peaks
    result["train_fraction_of_peak"] = result["achieved_train_gflops"] / peak
    result["peak_rss_mb"] = _peak_rss_mb()
    from leuknet import ops

    result["native_kernels"] = ops.used()
    return result


def bench_pipeline(size, batch_size, colorspace="rgb", repeats=3, n_files=None):
    from leuknet.data.pipeline import ImageData

    n_files = n_files or max(4 * batch_size, 256)  # steady state, not tf.data start-up
    with tempfile.TemporaryDirectory(prefix="leuknet-bench-") as d:
        paths = write_bmp_cells(d, n_files)
        data = ImageData(np.zeros(n_files, np.int32), (size, size), colorspace, paths=paths)

        def run():
            for xb, _ in data.batches(None, batch_size):
                xb.numpy()

        times = _time(run, 1, repeats)
    ips = [n_files / t for t in times]
    return {"pipeline_images_per_s": float(np.median(ips)), "pipeline_images_per_s_stats": _stats(ips),
            "pipeline_files": n_files, "pipeline_format": "450x450 24-bit BMP"}


def machine_info() -> dict:
    from leuknet.precision import cpu_flags
    from leuknet.profiles import physical_cores

    flags = cpu_flags()
    model_name = ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            model_name = next((l.split(":", 1)[1].strip() for l in f if l.startswith("model name")), "")
    except OSError:
        pass
    import psutil

    return {"cpu": model_name or platform.processor(), "physical_cores": physical_cores(),
            "logical_cores": os.cpu_count(), "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
            "isa": sorted(f for f in flags if f.startswith(("avx", "fma", "amx"))),
            "platform": platform.platform(), "python": platform.python_version()}


def check_names_and_sizes(models_, precisions, batch_sizes):
    """A benchmark's model names, precisions and batch sizes, or a ConfigError naming the first wrong one. Needs
    no backend (the model registry imports no Keras): ``leuknet bench`` checks them before one starts, and both
    benchmarks (:func:`run_bench`, :func:`leuknet.bench_gpu.run_gpu_bench`) check them first."""
    from leuknet import models as registry
    from leuknet.precision import PRECISIONS

    for m in models_:
        registry.model_info(m)
    for p in precisions:
        if p not in PRECISIONS:
            raise ConfigError(f"unknown precision {p!r}; choose {', '.join(PRECISIONS)}")
    if not batch_sizes or min(batch_sizes) < 1:
        raise ConfigError("give at least one positive batch size (--batch-size)")


def run_bench(models_, precisions, batch_sizes, device="cpu", image_size=224, repeats=5, warmup=2,
              baseline=False, out=None, progress=None, pipeline=True, workload=None, workload_options=None) -> dict:
    """Run every configuration in a subprocess; write bench.json, bench.md and bench.png to ``out`` (claimed,
    ``<out>.lock``, for the whole benchmark: another process asking for the same ``--out`` is refused)."""
    import contextlib

    from leuknet.errors import InUseError
    from leuknet.locks import claim, lock_path_for
    from leuknet.precision import check_precision
    from leuknet.profiles import resolve_device

    check_names_and_sizes(models_, precisions, batch_sizes)
    for p in precisions:
        check_precision(p, device)  # what this CPU or GPU can run

    resolve_device(device)  # --device gpu without one: refused (after the checks above, which need no backend)
    with (claim(lock_path_for(out), what=f"benchmark folder {out}", error=InUseError,
                hint="wait for that benchmark to finish, or choose another --out") if out
          else contextlib.nullcontext()):
        return _run_claimed(models_, precisions, batch_sizes, device, image_size, repeats, warmup, baseline, out,
                            progress, pipeline, workload, workload_options)


def _run_claimed(models_, precisions, batch_sizes, device, image_size, repeats, warmup, baseline, out, progress,
                 pipeline, workload, workload_options) -> dict:
    specs = [dict(model=m, precision=p, batch_size=b, device=device, image_size=image_size, repeats=repeats,
                  warmup=warmup, pipeline=pipeline) for m in models_ for p in precisions for b in batch_sizes]
    if baseline:
        specs += [dict(model="plain-keras-leuknet", precision="fp32", batch_size=b, device=device,
                       image_size=image_size, repeats=repeats, warmup=warmup, pipeline=False) for b in batch_sizes]
    # run order: each batch size's baseline right after leuknet's configurations at that batch size, so that a
    # ratio compares timings minutes apart, not the whole run apart (shared machines drift); reported in spec order
    order = sorted(range(len(specs)),
                   key=lambda i: (specs[i]["batch_size"], specs[i]["model"] == "plain-keras-leuknet", i))
    by_index = {}
    for n, i in enumerate(order):
        spec = specs[i]
        if progress:
            progress("config", {"i": n, "n": len(specs), "spec": spec})
        by_index[i] = _run_subprocess(spec, device)
        if progress:
            progress("result", by_index[i])
    results = [by_index[i] for i in range(len(specs))]
    report = {"machine": machine_info(), "command_specs": specs, "results": results}
    if baseline and "leuknet" in models_ and "fp32" in precisions:
        report["paired"] = []
        for b in sorted(set(batch_sizes)):
            spec = dict(batch_size=b, device=device, image_size=image_size, repeats=repeats, warmup=warmup)
            if progress:
                progress("paired", spec)
            report["paired"].append(_run_paired_subprocess(spec, device))
            if progress:
                progress("paired_result", report["paired"][-1])
    if workload:
        report["workloads"] = []
        for p in precisions:
            if progress:
                progress("workload", {"workload": workload, "precision": p})
            row = _run_workload_subprocess(
                dict(workload_options or {}, name=workload, device=device, precision=p,
                     out=str(out) if out else None), device,
                (lambda line: progress("workload_progress", line)) if progress else None)
            report["workloads"].append(row)
            if progress:
                progress("workload_result", row)
    if out:
        write_reports(report, out)
    return report


def _run_child(args, device, what, on_progress=None):
    """Run ``python -m leuknet.bench ARGS`` (clean memory peak and dtype policy) and read its JSON line; lines
    ``{"progress": {...}}`` it prints on the way go to ``on_progress`` as they come."""
    import threading

    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONUNBUFFERED="1")
    if device == "cpu":
        env["CUDA_VISIBLE_DEVICES"] = "-1"
    proc = subprocess.Popen([sys.executable, "-m", "leuknet.bench", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    stderr = []
    reader = threading.Thread(target=lambda: stderr.append(proc.stderr.read()), daemon=True)
    reader.start()
    lines, other = [], []
    try:
        for line in proc.stdout:
            if line.startswith('{"progress"'):
                try:
                    step = json.loads(line)["progress"]
                except (ValueError, KeyError):
                    continue  # a line cut short: the next one says as much
                if on_progress:
                    on_progress(step)
            elif line.startswith("{"):
                lines.append(line)
            elif line.strip():
                other.append(line)
        proc.wait()
    finally:
        if proc.poll() is None:  # Ctrl-C, or a progress callback that raised: the child goes too
            proc.kill()
            proc.wait()
    reader.join()
    if proc.returncode != 0 or not lines:
        tail = ("".join(stderr)).strip().splitlines()[-1:] or [l.strip() for l in other[-1:]] or ["no output"]
        raise ConfigError(f"{what} failed: {tail[0][:300]}")
    return json.loads(lines[-1])


def _run_workload_subprocess(spec, device, on_progress=None):
    return _run_child(["--workload", json.dumps(spec)], device, f"workload {spec['name']}", on_progress)


def _workload_progress():
    """A train callback for the workload child: its progress, one JSON line an epoch on stdout (the parent shows
    it), timed from now."""
    t0, total = time.perf_counter(), {}

    def callback(event, payload):
        if event == "start":
            total["iterations"] = payload["total_iterations"]
        elif event == "epoch":
            line = {"epoch": payload["epoch"], "iteration": payload["iteration"],
                    "iterations": total.get("iterations"), "elapsed_s": time.perf_counter() - t0}
            sys.stdout.write(json.dumps({"progress": line}) + "\n")
            sys.stdout.flush()

    return callback


def _run_paired_subprocess(spec, device):
    return _run_child(["--paired", json.dumps(spec)], device, f"paired benchmark at batch {spec['batch_size']}")


def _run_subprocess(spec, device):
    return _run_child([json.dumps(spec)], device,
                      f"benchmark of {spec['model']} {spec['precision']} batch {spec['batch_size']}")


PAPER_WALL_S = 45 * 60 + 34  # LeukNet paper: 45 min 34 s of training on one CPU (MATLAB R2021a)


WORKLOADS = ("leuknet-paper",)
WORKLOAD_PER_CLASS = 1130  # demo images per class: the paper's 2,260 cells


def workload_config(name, device="cpu", precision=None, data=None, run_dir=None, per_class=None, image_size=224,
                    epochs=None, batch_size=None):
    """The ``leuknet train`` configuration of a workload, checked whole (a ConfigError names what is wrong; no
    file is read and no backend started): ``leuknet bench`` checks it before it measures anything. ``per_class``:
    demo images per class (default :data:`WORKLOAD_PER_CLASS`), without ``data`` only."""
    from leuknet.config import did_you_mean, resolve

    if name not in WORKLOADS:
        raise ConfigError(f"unknown workload {name!r}{did_you_mean(name, WORKLOADS)}; available: "
                          f"{', '.join(WORKLOADS)}")
    flags = dict(recipe="leuknet-paper", device=device, precision=precision, data=str(data) if data else None,
                 demo_per_class=None if data else per_class or WORKLOAD_PER_CLASS, image_size=image_size, epochs=epochs,
                 batch_size=batch_size, out=str(run_dir or Path(tempfile.gettempdir()) / "leuknet-workload"),
                 overwrite=True)
    return resolve(flags)


def run_workload(name, device="cpu", precision=None, data=None, out=None, per_class=None, image_size=224,
                 epochs=None, batch_size=None, callback=None) -> dict:
    """The paper's whole training workload through ``leuknet train``: recipe leuknet-paper on 2,260 images
    (``per_class`` x 2 of the demo set, or ``data``), 70/20/10, 10 epochs, batch 128, validation every 5
    iterations. Reports the wall time next to the paper's 45 min 34 s and the test accuracy."""
    import shutil

    from leuknet.run import train_run

    run_dir = Path(out or tempfile.mkdtemp(prefix="leuknet-workload-")) / f"workload-{name}-{precision or 'auto'}"
    config = workload_config(name, device, precision, data, run_dir, per_class, image_size, epochs, batch_size)
    t0 = time.perf_counter()
    res = train_run(config, callback=callback)
    wall = time.perf_counter() - t0
    cfg = json.loads((run_dir / "config.json").read_text())
    out_row = {"workload": name, "device": device, "precision": cfg["profile"]["precision"],
               "images": cfg["dataset"]["n_images"], "synthetic_data": cfg["dataset"]["synthetic"],
               "splits": cfg["splits"], "epochs": cfg["config"]["epochs"], "batch_size": cfg["config"]["batch_size"],
               "image_size": cfg["config"]["image_size"], "iterations": res["timing"]["iterations"],
               "wall_s": wall, "train_s": res["timing"]["train_seconds"], "paper_wall_s": PAPER_WALL_S,
               "paper_over_ours": PAPER_WALL_S / wall,
               "test_accuracy": res["metrics"]["accuracy"] if res["metrics"] else None, "run_dir": str(run_dir)}
    if out is None:
        shutil.rmtree(run_dir.parent, ignore_errors=True)
        out_row["run_dir"] = None
    return out_row


def add_ratios(results):
    base = {r["batch_size"]: r for r in results if r["model"] == "plain-keras-leuknet"}
    for r in results:
        b = base.get(r["batch_size"])
        if b and r["model"] == "leuknet":
            r["train_speedup_vs_plain_keras"] = r["train_images_per_s"] / b["train_images_per_s"]
            r["inference_speedup_vs_plain_keras"] = r["inference_images_per_s"] / b["inference_images_per_s"]
    return results


def write_reports(report, out):
    from leuknet.io import atomic_path, write_json, write_text

    out = Path(out)
    add_ratios(report["results"])
    write_json(out / "bench.json", report)
    write_text(out / "bench.md", markdown(report))
    with atomic_path(out / "bench.png") as tmp:
        chart(report["results"], tmp)


def instruction_sets(isa) -> str:
    """The vector instruction sets a CPU's flags name, in words: 'AVX2, FMA; no AVX-512, no AMX' (what decides
    fp32 and bf16 speed on a CPU)."""
    s = set(isa or ())
    vector = "AVX-512" if "avx512f" in s else "AVX2" if "avx2" in s else "AVX" if "avx" in s else "SSE only"
    have = [vector] + [w for f, w in (("fma", "FMA"), ("avx512_bf16", "AVX-512 BF16"), ("avx512_fp16", "AVX-512 FP16"),
                                      ("avx_vnni", "AVX-VNNI")) if f in s]
    amx = [f[4:].upper() for f in sorted(s) if f.startswith("amx_")]
    if amx:
        have.append("AMX (" + ", ".join(amx) + ")")
    missing = [w for ok, w in (("avx512f" in s, "AVX-512"), (bool(amx), "AMX")) if not ok]
    return ", ".join(have) + ("; no " + ", no ".join(missing) if missing else "")


def markdown(report) -> str:
    m = report["machine"]
    isa = f" ({instruction_sets(m['isa'])})" if m.get("isa") is not None else ""
    lines = ["# leuknet bench", "", f"Machine: {m['cpu']}{isa}, {m['physical_cores']} physical cores, "
             f"{m['memory_gb']} GB; {m['platform']}", "",
             "Medians of repeated timings after warm-up (spread in bench.json).", "",
             "| model | device | precision | batch | train img/s | inference img/s | pipeline img/s | GFLOP/img | "
             "train GFLOP/s | peak GFLOP/s | % of peak | peak RSS MB | train x plain Keras | inference x plain Keras |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]

    def f(v, fmt="{:.1f}"):
        return "" if v is None else fmt.format(v)

    for r in report["results"]:
        lines.append("| " + " | ".join([
            r["model"], r["device"], r["precision"], str(r["batch_size"]), f(r["train_images_per_s"], "{:.2f}"),
            f(r["inference_images_per_s"], "{:.2f}"), f(r.get("pipeline_images_per_s")),
            f(r["gflop_per_image"], "{:.2f}"), f(r["achieved_train_gflops"]), f(r["peak_gflops"]),
            f(100 * r["train_fraction_of_peak"]), f(r["peak_rss_mb"], "{:.0f}"),
            f(r.get("train_speedup_vs_plain_keras"), "{:.2f}x"),
            f(r.get("inference_speedup_vs_plain_keras"), "{:.2f}x")]) + " |")
    if report.get("paired"):
        lines += ["", "Paired timings: leuknet fp32 and plain Keras alternated step by step in one process, the "
                  "median of the pairs' ratios (a shared machine's drift cancels out):", "",
                  "| batch | train x plain Keras (range) | inference x plain Keras (range) | pairs |",
                  "|---|---|---|---|"]
        for p in report["paired"]:
            cells = [f"{p[w + '_speedup']:.2f}x ({p[w + '_speedup_stats']['min']:.2f}-"
                     f"{p[w + '_speedup_stats']['max']:.2f})" for w in ("train", "inference")]
            lines.append(f"| {p['batch_size']} | {cells[0]} | {cells[1]} | {p['pairs']} |")
    if report.get("workloads"):
        lines += ["", "Whole training workloads (`leuknet train`, wall time including data reading and validation):",
                  "", "| workload | device | precision | images | epochs | batch | iterations | wall time | "
                  "paper (MATLAB, 1 CPU) | test accuracy (95 % CI) |", "|---|---|---|---|---|---|---|---|---|---|"]
        for w in report["workloads"]:
            acc = workload_accuracy(w)
            lines.append(f"| {w['workload']}{' (synthetic)' if w['synthetic_data'] else ''} | {w['device']} | "
                         f"{w['precision']} | {w['images']} | {w['epochs']} | {w['batch_size']} | {w['iterations']} | "
                         f"{w['wall_s'] / 60:.1f} min | {w['paper_wall_s'] / 60:.1f} min | {acc} |")
        lines += [f"\n{w['precision']}, {w['wall_s'] / 60:.1f} min: {w['note']}" for w in report["workloads"]
                  if w.get("note")]
    return "\n".join(lines) + "\n"


def workload_accuracy(w) -> str:
    """A workload's test accuracy with its 95 % Wilson interval, as the reports print it ('' when not tested)."""
    if w.get("test_accuracy") is None:
        return ""
    acc = f"{100 * w['test_accuracy']:.2f}%"
    n_test = (w.get("splits") or {}).get("test")
    if n_test:
        lo, hi = wilson_interval(w["test_accuracy"], n_test)
        acc += f" ({100 * lo:.1f}-{100 * hi:.1f})"
    return acc


def wilson_interval(p, n, z=1.959964):
    """95 % Wilson score interval of a proportion ``p`` observed on ``n`` items (the test split's sampling spread:
    two runs whose accuracies fall in each other's interval are not distinguishable on that split)."""
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def chart(results, path):
    from leuknet.figures import subplots

    fig, axes = subplots(1, 2, figsize=(11, 4.2))
    groups = {}
    for r in results:
        groups.setdefault((r["model"], r["precision"]), []).append(r)
    for ax, key, title in ((axes[0], "train_images_per_s", "Training"),
                           (axes[1], "inference_images_per_s", "Inference")):
        for (model, prec), rs in sorted(groups.items()):
            rs = sorted(rs, key=lambda r: r["batch_size"])
            bsz = [r["batch_size"] for r in rs]
            med = [r[key] for r in rs]
            lo = [r[key] - r[key + "_stats"]["min"] for r in rs]
            hi = [r[key + "_stats"]["max"] - r[key] for r in rs]
            ax.errorbar(bsz, med, yerr=[lo, hi], marker="o", capsize=3, label=f"{model} {prec}")
        ax.set_xscale("log", base=2)
        sizes = sorted({r["batch_size"] for r in results})
        ax.set_xticks(sizes, [str(b) for b in sizes])
        ax.minorticks_off()
        ax.set_xlabel("batch size")
        ax.set_ylabel("images / s")
        ax.set_title(f"{title} throughput (median, min-max)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, format="png", dpi=110)


if __name__ == "__main__":  # one configuration, as a subprocess of run_bench
    # the result goes to the parent process as one JSON line on stdout
    if sys.argv[1] == "--workload":
        result = run_workload(**json.loads(sys.argv[2]), callback=_workload_progress())
    elif sys.argv[1] == "--paired":
        result = bench_paired(json.loads(sys.argv[2]))
    else:
        result = bench_one(json.loads(sys.argv[1]))
    sys.stdout.write(json.dumps(result) + "\n")
