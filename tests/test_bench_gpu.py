"""The GPU benchmark (leuknet.bench_gpu) and its PyTorch peer (leuknet.torch_peer), run here on the JAX CPU backend
at tiny sizes: what they measure and write, not how fast (throughput is measured by the bench, never asserted)."""

import json
import subprocess
from importlib.util import find_spec
from pathlib import Path

import numpy as np
import pytest

from leuknet import bench_gpu

ROOT = Path(__file__).resolve().parents[1]
needs_jax = pytest.mark.skipif(find_spec("jax") is None, reason="jax is not installed (pip install 'jax[cpu]')")
needs_torch = pytest.mark.skipif(find_spec("torch") is None, reason="torch is not installed: the PyTorch peer "
                                 "(pip install -e '.[torch]')")
TINY = dict(models=("leuknet",), precisions=("fp32",), batch_sizes=(4,), image_size=32, repeats=1, warmup=1,
            platform="cpu", peak_size=128, peak_repeats=2, peak_probes=1, pipeline_files=8)


def _batch(n=4, size=32):
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (n, size, size, 3)).astype(np.float32), np.array([0, 1] * (n // 2))


@needs_torch
@pytest.mark.parametrize("precision", ["fp32", "fp16"])
def test_torch_peer_learns_a_fixed_batch(precision):
    from leuknet.torch_peer import Peer

    x, y = _batch()
    peer = Peer(x, y, precision, "cpu", lr=1e-4, filters=(8, 16, 16), fc_units=16, dropout=0.0)
    losses = [peer.step() for _ in range(10)]
    assert np.all(np.isfinite(losses))
    assert np.mean(losses[-3:]) < losses[0] - 0.02, losses
    assert peer.infer().shape == (4, 2)


@needs_torch
def test_torch_peer_has_leuknets_shapes():
    """Same learnables and forward GFLOP as leuknet's LeukNet (counted independently on each side)."""
    from leuknet import models
    from leuknet.bench import model_gflop_per_image
    from leuknet.torch_peer import build_leuknet, gflop_per_image

    keras_model = models.build("leuknet", num_classes=2, image_size=64)
    peer = build_leuknet(image_size=64)
    assert sum(p.numel() for p in peer.parameters()) == models.learnables(keras_model)
    assert gflop_per_image(peer, 64) == pytest.approx(model_gflop_per_image(keras_model), rel=1e-9)
    lrns = [m for m in peer.modules() if type(m).__name__ == "Float32LRN"]
    assert [(m.size, m.alpha, m.beta, m.k) for m in lrns] == [(5, 1e-4, 0.75, 2.0)] * 3


@needs_jax
def test_matmul_peak_probe_is_positive():
    r = bench_gpu.matmul_peak_gflops("float32", size=128, repeats=2, precision="highest")
    assert r["median_gflops"] > 0 and r["best_gflops"] >= r["median_gflops"]
    assert (r["size"], r["repeats"], r["matmul_precision"]) == (128, 2, "highest")


def _check_bench_reports(dry_run):
    """The bench step of the dry run: run_gpu_bench at tiny sizes on the JAX CPU backend, with its peer."""
    tmp_path = dry_run / "bench_gpu"
    baseline = find_spec("torch") is not None
    for name in ("bench_gpu.json", "bench_gpu.md", "bench_gpu.png"):
        assert (tmp_path / name).is_file(), name
    assert (tmp_path / "bench_gpu.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    saved = json.loads((tmp_path / "bench_gpu.json").read_text())
    assert saved["platform"] == "cpu" and saved["versions"]["keras_backend"] == "jax"
    assert saved["peak_gflops"]["fp32"] > 0 and saved["date"] and saved["machine"]["cpu"] is not None
    peer = next(r for r in saved["results"] if r["model"] == bench_gpu.PEER)
    if not baseline:
        assert "needs torch" in peer["error"]
    errors = [r for r in saved["results"] + saved["pipeline"] if "error" in r and (baseline or r is not peer)]
    assert not errors, saved
    ours = next(r for r in saved["results"] if r["model"] == "leuknet")
    for key in ("train_images_per_s", "inference_images_per_s", "gflop_per_image", "achieved_train_gflops",
                "train_fraction_of_peak", "first_train_step_s"):
        assert ours[key] > 0, key
    assert ours["peak_memory_bytes"] is None  # the CPU reports no device memory
    assert ours["matmul_precision"] == "highest" and ours["policy"] == "float32"
    assert ours["achieved_train_gflops"] == pytest.approx(3 * ours["gflop_per_image"] * ours["train_images_per_s"])
    if baseline:
        assert peer["gflop_per_image"] == pytest.approx(ours["gflop_per_image"])
        assert ours["train_x_torch"] == pytest.approx(ours["train_images_per_s"] / peer["train_images_per_s"])
    (pipe,) = saved["pipeline"]
    assert pipe["pipeline_images_per_s"] > 0 and pipe["to_device_images_per_s"] > 0 and pipe["files"] == 8
    md = (tmp_path / "bench_gpu.md").read_text()
    assert "| leuknet | leuknet (Keras 3, JAX) | fp32 | 4 |" in md and "Measured " in md


@needs_jax
def test_no_gpu_is_one_line_error(tmp_path):
    from leuknet.errors import DeviceError

    with pytest.raises(DeviceError, match="JAX sees no GPU") as e:
        bench_gpu.run_gpu_bench(models=("leuknet",), precisions=("fp32",), batch_sizes=(4,), out=tmp_path)
    assert "\n" not in str(e.value)


def test_refuses_unknown_settings_before_any_work(tmp_path):
    from leuknet.errors import ConfigError

    with pytest.raises(ConfigError, match="unknown precision 'fp8'"):
        bench_gpu.run_gpu_bench(precisions=("fp8",), out=tmp_path)
    with pytest.raises(ConfigError, match="positive batch size"):
        bench_gpu.run_gpu_bench(batch_sizes=(0,), out=tmp_path)
    assert not list(tmp_path.iterdir())


def _row(model, precision, batch, train, infer, gflop=1.0):
    return {"model": model, "precision": precision, "batch_size": batch, "image_size": 224, "platform": "gpu",
            "train_images_per_s": train, "inference_images_per_s": infer, "gflop_per_image": gflop,
            "achieved_train_gflops": 3 * gflop * train, "achieved_inference_gflops": gflop * infer,
            "framework": "x", "train_images_per_s_stats": {}, "inference_images_per_s_stats": {}}


def test_report_ratios_peaks_and_files(tmp_path):
    report = {"machine": {"cpu": "Some CPU", "physical_cores": 16, "memory_gb": 128.0, "platform": "Linux",
                          "device_kind": "NVIDIA H200",
                          "gpus": [{"name": "NVIDIA H200", "driver": "580.1", "memory": "143771 MiB"}]},
              "platform": "gpu", "date": "2026-12-02T00:00:00+00:00", "versions": {"jax": "0.11.2"},
              "peak_probes": [{"bf16": {"median_gflops": 700e3}}, {"bf16": {"median_gflops": 790e3}}],
              "results": [_row("leuknet", "bf16", 128, 3000.0, 9000.0, 5.0),
                          _row(bench_gpu.PEER, "bf16", 128, 2000.0, 10000.0, 5.0),
                          {"model": "alexnet", "precision": "bf16", "batch_size": 128, "error": "RuntimeError: x"}],
              "pipeline": [], "skipped": [{"kind": "keras", "model": "alexnet", "precision": "fp16",
                                           "batch_size": 256}],
              "settings": bench_gpu._settings(("bf16",))}
    bench_gpu.add_peaks_and_ratios(report)
    ours = report["results"][0]
    assert report["peak_gflops"] == {"bf16": 790e3}
    assert ours["train_fraction_of_peak"] == pytest.approx(3 * 5.0 * 3000 / 790e3)
    assert (ours["train_x_torch"], ours["inference_x_torch"]) == (pytest.approx(1.5), pytest.approx(0.9))
    bench_gpu.write_reports(report, tmp_path)
    md = (tmp_path / "bench_gpu.md").read_text()
    assert "NVIDIA H200 (143771 MiB, driver 580.1)" in md and "1.50x" in md and "failed: RuntimeError: x" in md
    assert "Not measured (time budget spent): keras alexnet fp16 batch 256." in md
    assert (tmp_path / "bench_gpu.png").stat().st_size > 1000


def _docs_state():
    return {p.name: p.stat().st_mtime_ns for p in (ROOT / "docs").glob("bench_gpu.*")}


def _dry_run(root):
    """scripts/gpu_check.sh, GPU_CHECK_DRY_RUN=1, its scratch files in ``root`` (its `python3`: this interpreter,
    through a shim on PATH)."""
    import os
    import sys

    (root / "bin").mkdir()
    shim = root / "bin" / "python3"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    shim.chmod(0o755)
    env = dict(os.environ, GPU_CHECK_DRY_RUN="1", GPU_CHECK_TMP=str(root), OUT=str(root / "out"),
               PATH=f"{root / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}")
    r = subprocess.run(["bash", str(ROOT / "scripts" / "gpu_check.sh")], capture_output=True, text=True, env=env,
                       timeout=600)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]
    return root


@pytest.mark.parametrize("script", ["gpu_check.sh", "fetch_gpu_wheels.sh"])
def test_gpu_scripts_parse(script):
    r = subprocess.run(["bash", "-n", str(ROOT / "scripts" / script)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def _check_workload(dry_run):
    """The workload step of the dry run: leuknet-paper at 16 images, 32 x 32, one epoch, under JAX."""
    saved = json.loads((dry_run / "bench_gpu" / "bench_gpu.json").read_text())
    (row,) = saved["workloads"]
    assert "error" not in row, row
    # 8 cells a class split 0.7/0.2/0.1 at MATLAB's split points round([5.6 7.2 8]): 6 a class train, 12 in
    # batches of 4
    assert row["backend"] == "jax" and row["iterations"] == 3 and row["images"] == 16
    assert row["matmul_precision"] == "highest" and row["wall_s"] > 0
    assert "Whole training workloads" in (dry_run / "bench_gpu" / "bench_gpu.md").read_text()


@needs_jax
@pytest.mark.slow
def test_gpu_check_dry_run_takes_every_step_and_leaves_docs_alone(tmp_path):
    """scripts/gpu_check.sh with GPU_CHECK_DRY_RUN=1 (one test, so that the script runs once whatever the
    workers): every step on the CPU, each one's exit status 0 (the wheels' step excepted: the carried wheels are
    for the GPU machine's Python 3.12), the bench's and the workload's reports, the files for $OUT, docs/
    untouched."""
    docs_before = _docs_state()
    dry_run = _dry_run(tmp_path)
    _check_bench_reports(dry_run)
    _check_workload(dry_run)
    log = (dry_run / "out" / "gpu_check.log").read_text()
    summary = log[log.index("== summary"):]
    for name in ("jax-devices", "parity", "bench", "workload"):
        assert f"   {name}: exit 0," in summary, log[-3000:]
    assert "3 of 3 parity cases pass on cpu" in log
    assert "cv2 " in log and "| psutil " in log and "MISSING" not in log  # what leuknet needs there, named
    assert "No module named 'tensorflow'" not in log  # TensorFlow hidden, as there, and nothing needed it
    assert "s] [1/3] keras leuknet fp32 batch 4 ..." in log and "s]     train " in log, log[-3000:]  # describe()
    assert sorted(p.name for p in (dry_run / "out").iterdir()) == ["bench_gpu.json", "bench_gpu.md", "bench_gpu.png",
                                                                    "gpu_check.log", "parity_gpu"]
    assert sorted(p.name for p in (dry_run / "out" / "parity_gpu").iterdir()) == ["parity.json", "parity.md"]
    assert docs_before == _docs_state()


@needs_jax
@pytest.mark.slow
def test_bench_cli_under_jax_without_tensorflow(tmp_path):
    """`leuknet bench` under JAX where TensorFlow cannot be imported: --device cpu runs the JAX benchmark (a line
    per measurement), --device gpu without a GPU is one line, exit 2, and writes nothing."""
    import os
    import sys

    env = dict(os.environ, KERAS_BACKEND="jax", TF_CPP_MIN_LOG_LEVEL="3",
               PYTHONPATH=str(ROOT / "tests" / "no_tensorflow"))
    run = lambda *a: subprocess.run([sys.executable, "-m", "leuknet.cli", "bench", *map(str, a)],  # noqa: E731
                                    capture_output=True, text=True, env=env, timeout=600, cwd=ROOT)
    r = run("--device", "cpu", "--batch-size", "4", "--image-size", "32", "--repeats", "1", "--warmup", "1",
            "--out", tmp_path / "b")
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    assert "[1/2] keras leuknet fp32 batch 4 ..." in r.stdout and "train " in r.stdout and "pipeline " in r.stdout
    saved = json.loads((tmp_path / "b" / "bench_gpu.json").read_text())
    assert saved["platform"] == "cpu" and [x["model"] for x in saved["results"]] == ["leuknet"]  # no --baseline
    r = run("--device", "gpu", "--batch-size", "4", "--out", tmp_path / "g")
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "GPU" in r.stderr, r.stderr
    assert not (tmp_path / "g").exists()


def test_progress_lines_say_each_event():
    """describe(): the line `leuknet bench` under JAX and gpu_check.sh print for each progress event."""
    d = bench_gpu.describe
    assert d("probe", {}) == "Matmul peak probe ..."
    assert d("probe_result", {"device_kind": "NVIDIA H200", "peaks": {"bf16": {"median_gflops": 790e3}}}) == \
        "    NVIDIA H200: bf16 790 TFLOP/s"
    spec = {"kind": "keras", "model": "leuknet", "precision": "bf16", "batch_size": 128}
    assert d("config", {"i": 0, "n": 9, "spec": spec}) == "[1/9] keras leuknet bf16 batch 128 ..."
    row = {"train_images_per_s": 3012.4, "inference_images_per_s": 9001.0, "train_fraction_of_peak": 0.123,
           "first_train_step_s": 4.26, "peak_memory_bytes": 3 * 2**30}
    assert d("result", row) == ("    train 3012.4 img/s, inference 9001.0 img/s, 12.3% of peak, first step 4.3 s, "
                                "peak memory 3.0 GiB")
    assert d("result", {"train_images_per_s": 5.0, "inference_images_per_s": 7.0}) == \
        "    train 5.0 img/s, inference 7.0 img/s"
    assert d("result", {"error": "timed out after 120 s"}) == "    failed: timed out after 120 s"
    assert d("result", {"pipeline_images_per_s": 812.0, "to_device_images_per_s": 790.2}) == \
        "    pipeline 812 img/s on the host, 790 img/s to the device"
    assert d("skipped", spec) == "    not measured (time budget spent): keras leuknet bf16 batch 128"
    assert d("workload", {"name": "leuknet-paper", "precision": "bf16"}) == "Workload leuknet-paper (bf16) ..."
    assert d("workload_result", {"wall_s": 17.23, "train_s": 9.0, "iterations": 120, "test_accuracy": 0.9}) == \
        "    17.2 s wall (9.0 s training), 120 iterations, test accuracy 90.00%"
    assert d("workload_result", {"error": "exit 1: boom"}) == "    failed: exit 1: boom"
    assert d("something new", {}) is None


def test_measurements_run_in_order_within_the_budget(tmp_path, monkeypatch):
    """The run order (LeukNet and its peer at the first batch size, then the host pipeline, then the rest), and
    the budget: each measurement's limit is what is left of it, one that cannot start is listed as not measured,
    so a caller's own time limit never kills a measurement unrecorded."""
    clock = {"t": 0.0}
    calls = []

    def child(spec, timeout=None, cache_dir=None):
        calls.append((spec["kind"], spec.get("model"), spec.get("precision"), spec["batch_size"] if "batch_size" in
                      spec else None, timeout))
        if spec["kind"] == "probe":
            return {"devices": ["cpu"], "device_kind": "cpu", "versions": {}, "peaks": {}}
        clock["t"] += 40.0  # each measurement takes 40 s
        if timeout < 40.0:
            return {"error": f"timed out after {timeout:.0f} s"}
        if spec["kind"] == "workload":
            return {"workload": spec["name"], "precision": spec["precision"], "images": 60, "epochs": 30,
                    "batch_size": 10, "iterations": 180, "wall_s": 40.0, "train_s": 30.0, "paper_wall_s": 600.0}
        rates = ({"pipeline_images_per_s": 1.0, "to_device_images_per_s": 1.0} if spec["kind"] == "pipeline" else
                 _row(spec["model"], spec["precision"], spec["batch_size"], 1.0, 1.0))
        return rates

    monkeypatch.setattr(bench_gpu, "_run_child", child)
    monkeypatch.setattr(bench_gpu, "write_bmp_cells", lambda folder, n, unique=32: ["x.bmp"] * n)
    monkeypatch.setattr(bench_gpu.time, "perf_counter", lambda: clock["t"])
    report = bench_gpu.run_gpu_bench(models=("alexnet", "leuknet"), precisions=("bf16", "fp32"),
                                     batch_sizes=(128, 256), platform="cpu", out=tmp_path, budget_s=190,
                                     child_timeout_s=120, peak_probes=2, workload="leuknet-paper")
    measured = [c for c in calls if c[0] != "probe"]
    assert [c[:4] for c in measured] == [("keras", "leuknet", "bf16", 128), ("torch", bench_gpu.PEER, "bf16", 128),
                                         ("keras", "leuknet", "fp32", 128), ("torch", bench_gpu.PEER, "fp32", 128),
                                         ("pipeline", None, None, 128)]
    assert [c[4] for c in measured] == [120, 120, 110, 70, 30]  # the budget left, at most each one's own limit
    assert report["pipeline"][0]["error"] == "timed out after 30 s"
    assert len(report["skipped"]) == 14 - 5 + 1  # the rest: pipeline 256, LeukNet 256 and its peer, AlexNet;
    assert report["skipped"][-1] == {"kind": "workload", "name": "leuknet-paper", "precision": "bf16"}  # workload
    assert "; workload leuknet-paper bf16." in (tmp_path / "bench_gpu.md").read_text()
    assert [c[0] for c in calls].count("probe") == 1  # no time left for the second probe

    # with time left, the workload's limit is what is left of the budget (not its own, longer one)
    clock["t"], calls[:] = 0.0, []
    report = bench_gpu.run_gpu_bench(models=("leuknet",), precisions=("bf16",), batch_sizes=(128,), platform="cpu",
                                     out=tmp_path / "b", budget_s=150, child_timeout_s=120, peak_probes=1,
                                     pipeline=False, workload="leuknet-paper")
    assert [(c[0], c[4]) for c in calls] == [("probe", 120), ("keras", 120), ("torch", 110), ("workload", 70)]
    assert len(report["workloads"]) == 1 and not report["skipped"]
