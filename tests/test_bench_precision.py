"""Precision policies, device resolution and the benchmark's output (no timing assertions)."""

import json

import keras
import numpy as np
import pytest

from leuknet.errors import DeviceError
from leuknet.precision import check_precision


def test_precision_availability_rules():
    assert check_precision("fp32", "cpu", flags=set()) == "float32"
    with pytest.raises(DeviceError, match="AVX512_BF16 or AMX_BF16"):
        check_precision("bf16", "cpu", flags={"avx2"})
    assert check_precision("bf16", "cpu", flags={"amx_bf16"}) == "mixed_bfloat16"
    assert check_precision("fp16", "gpu", flags=set()) == "mixed_float16"
    with pytest.raises(DeviceError, match="unknown precision"):
        check_precision("int8", "cpu")


def test_device_resolution_without_gpu():
    from leuknet.profiles import resolve_device

    assert resolve_device("cpu")["used"] == "cpu"
    assert resolve_device("auto")["used"] == "cpu"
    with pytest.raises(DeviceError, match="no GPU"):
        resolve_device("gpu")


@pytest.mark.parametrize("policy,compute", [("mixed_bfloat16", "bfloat16"), ("mixed_float16", "float16")])
def test_every_layer_dtype_under_mixed_policies(policy, compute):
    from leuknet import models
    from leuknet.matlab import trainingOptions
    from leuknet.train import Trainer

    keras.mixed_precision.set_dtype_policy(policy)
    try:
        m = models.build("leuknet", image_size=48, fc_units=8)
        for layer in m.layers[1:]:
            want = "float32" if layer.name in ("softmax", "classoutput") else compute
            assert layer.compute_dtype == want, layer.name
            for v in layer.weights:
                assert v.dtype == "float32", (layer.name, v.path)  # variables stay float32
        x = np.random.default_rng(0).integers(0, 255, (4, 48, 48, 3)).astype(np.float32)
        t = Trainer(m, trainingOptions("adam"))
        assert t.loss_scaling == (compute == "float16")
        loss, _ = t.train_step(x, np.array([0, 1, 0, 1], np.int32), 1e-3)
        assert np.isfinite(float(loss)) and m.output.dtype == "float32"
    finally:
        keras.mixed_precision.set_dtype_policy("float32")


def test_bench_tiny_configuration_writes_complete_reports(tmp_path):
    from leuknet.bench import run_bench

    report = run_bench(["leuknet"], ["fp32"], [2], image_size=32, repeats=1, warmup=1, out=tmp_path)
    data = json.loads((tmp_path / "bench.json").read_text())
    assert len(data["results"]) == len(report["results"]) == 1
    assert {"cpu", "physical_cores", "memory_gb"} <= set(data["machine"])
    r = data["results"][0]
    for key in ("model", "device", "precision", "batch_size", "train_images_per_s", "inference_images_per_s",
                "pipeline_images_per_s", "gflop_per_image", "achieved_train_gflops", "peak_gflops", "peak_rss_mb"):
        assert r[key] is not None, key
    assert r["train_images_per_s"] > 0 and r["peak_gflops"] > 0
    # the matrix-multiply probe ran before and after the timings; the peak is the higher one
    assert len(r["peak_gflops_probes"]) == 2 and r["peak_gflops"] == max(r["peak_gflops_probes"])
    from leuknet.profiles import physical_cores

    # timed under the profile `leuknet train` resolves for the CPU
    assert (r["intra_op_threads"], r["inter_op_threads"], r["policy"]) == (physical_cores(), 2, "float32")
    assert list(r["native_kernels"]) == ["cross_channel_norm"]  # which LRN implementation was timed
    assert (tmp_path / "bench.md").read_text().count("| leuknet |") == 1
    assert (tmp_path / "bench.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_gflop_count_of_leuknet():
    from leuknet import models
    from leuknet.bench import model_gflop_per_image

    m = models.build("leuknet")
    expected = 2 * (222 * 222 * 64 * 27 + 108 * 108 * 128 * 576 + 51 * 51 * 256 * 1152 + 160000 * 512 + 512 * 2)
    assert model_gflop_per_image(m) == pytest.approx(expected / 1e9)
    assert models.learnables(m) == 82_292_354


@pytest.mark.slow
def test_bench_workload_runs_leuknet_train_and_reports_wall_time(tmp_path):
    from leuknet.bench import PAPER_WALL_S, run_workload

    row = run_workload("leuknet-paper", device="cpu", precision="fp32", per_class=20, image_size=48, epochs=1,
                       batch_size=8, out=tmp_path)
    assert row["images"] == 40 and row["synthetic_data"] and row["paper_wall_s"] == PAPER_WALL_S == 2734
    assert row["iterations"] == 28 // 8 and row["wall_s"] > 0 and row["test_accuracy"] is not None
    cfg = json.loads((tmp_path / "workload-leuknet-paper-fp32" / "config.json").read_text())
    assert cfg["config"]["recipe"] == "leuknet-paper" and cfg["training_options"]["ValidationFrequency"] == 5
    from leuknet.bench import machine_info, markdown, wilson_interval

    md = markdown({"machine": machine_info(), "results": [], "workloads": [dict(row, note="a note")]})
    lo, hi = wilson_interval(row["test_accuracy"], row["splits"]["test"])
    assert f"| leuknet-paper (synthetic) | cpu | fp32 | 40 | 1 | 8 | {28 // 8} |" in md
    assert f"({100 * lo:.1f}-{100 * hi:.1f}) |" in md and f"\nfp32, {row['wall_s'] / 60:.1f} min: a note" in md


def test_bench_workload_on_given_data_and_its_mistakes_before_any_measurement(tmp_path):
    """`leuknet bench --workload leuknet-paper --data DIR` trains on DIR (the demo's size does not apply to it);
    a misspelt workload, the workload's options without it, and a missing data folder are one line, exit 2,
    before anything is measured or written."""
    from conftest import folder_data, run_cli
    from leuknet.bench import _run_workload_subprocess

    data = folder_data(tmp_path / "cells", per_class=10)
    said = []  # the child's progress, an epoch at a time, as it comes (leuknet bench prints it)
    row = _run_workload_subprocess(dict(name="leuknet-paper", device="cpu", precision="fp32", data=str(data),
                                        image_size=32, epochs=2, batch_size=4, out=str(tmp_path / "w")), "cpu",
                                   said.append)
    assert row["images"] == 20 and not row["synthetic_data"] and row["iterations"] == 2 * (14 // 4)
    assert [(p["epoch"], p["iteration"], p["iterations"]) for p in said] == [(1, 3, 6), (2, 6, 6)]
    assert 0 < said[0]["elapsed_s"] <= said[1]["elapsed_s"] < row["wall_s"] + 60
    out = tmp_path / "bench"
    for argv, said in [(["--workload", "leuknet_paper"], "unknown workload 'leuknet_paper' (did you mean "
                                                         "leuknet-paper?)"),
                       (["--data", data], "add --workload leuknet-paper"),
                       (["--workload", "leuknet-paper", "--data", tmp_path / "none"], "does not exist"),
                       (["--workload", "leuknet-paper", "--data", data, "--workload-images-per-class", "8"],
                        "applies to the demo set, not to --data")]:
        code, output = run_cli(["bench", "--device", "cpu", "--out", out, *argv])
        assert code == 2 and said in output, output
        assert not out.exists()


def test_the_machine_line_names_the_cpus_instruction_sets():
    """/proc/cpuinfo flags of the two kinds of CPU sessions get: AMD Zen 3 (AVX2 + FMA only) and Intel Sapphire
    Rapids (AVX-512 with BF16 and FP16, AMX)."""
    from leuknet.bench import instruction_sets, markdown

    zen3 = "fpu sse sse2 ssse3 sse4_1 sse4_2 avx f16c fma avx2 bmi2 sha_ni vaes".split()
    spr = zen3 + "avx512f avx512dq avx512bw avx512vl avx512_bf16 avx512_fp16 avx_vnni amx_bf16 amx_tile amx_int8".split()
    isa = lambda flags: sorted(f for f in flags if f.startswith(("avx", "fma", "amx")))  # noqa: E731 (machine_info's)
    assert instruction_sets(isa(zen3)) == "AVX2, FMA; no AVX-512, no AMX"
    assert instruction_sets(isa(spr)) == "AVX-512, FMA, AVX-512 BF16, AVX-512 FP16, AVX-VNNI, AMX (BF16, INT8, TILE)"
    machine = {"cpu": "AMD EPYC", "physical_cores": 2, "memory_gb": 23.5, "platform": "Linux", "isa": isa(zen3)}
    assert markdown({"machine": machine, "results": []}).splitlines()[2] == \
        "Machine: AMD EPYC (AVX2, FMA; no AVX-512, no AMX), 2 physical cores, 23.5 GB; Linux"


def test_wilson_interval_matches_published_values():
    """Newcombe (1998), Statistics in Medicine 17:857, Table I: 81/263 -> 0.2553 to 0.3662 (Wilson, method 3)."""
    from leuknet.bench import wilson_interval

    lo, hi = wilson_interval(81 / 263, 263)
    assert (round(lo, 4), round(hi, 4)) == (0.2553, 0.3662)
    lo, hi = wilson_interval(1.0, 29)  # Newcombe's 29/29 -> 0.8830 to 1
    assert (round(lo, 4), round(hi, 4)) == (0.8830, 1.0)


def test_bench_times_each_baseline_next_to_leuknet_at_its_batch_size(monkeypatch):
    """Ratios compare timings taken minutes apart: run order by batch size, baseline last; report in spec order."""
    from leuknet import bench

    ran = []

    def fake_run(spec, device):
        ran.append((spec["model"], spec["precision"], spec["batch_size"]))
        return dict(spec)

    monkeypatch.setattr(bench, "_run_subprocess", fake_run)
    monkeypatch.setattr(bench, "_run_paired_subprocess",
                        lambda spec, device: ran.append(("paired", "fp32", spec["batch_size"])) or dict(spec))
    report = bench.run_bench(["leuknet", "alexnet"], ["fp32"], [32, 128], baseline=True, out=None)
    assert [(m, b) for m, _, b in ran] == [("leuknet", 32), ("alexnet", 32), ("plain-keras-leuknet", 32),
                                           ("leuknet", 128), ("alexnet", 128), ("plain-keras-leuknet", 128),
                                           ("paired", 32), ("paired", 128)]
    assert [p["batch_size"] for p in report["paired"]] == [32, 128]
    assert [(r["model"], r["batch_size"]) for r in report["results"]] == [
        ("leuknet", 32), ("leuknet", 128), ("alexnet", 32), ("alexnet", 128), ("plain-keras-leuknet", 32),
        ("plain-keras-leuknet", 128)]


def test_paired_bench_alternates_the_two_steps_and_reports_the_median_ratio(monkeypatch):
    """The paired ratio is the median of per-pair ratios of back-to-back timings (stubbed clock: leuknet's steps
    take 1 s, plain Keras's 3 s, except one disturbed leuknet training step of 4 s)."""
    from leuknet import bench

    calls, clock = [], {"t": 0.0}

    def step(kind, who, seconds):
        def run():
            calls.append((kind, who))
            n = sum(1 for c in calls if c == ("train", "ours"))
            clock["t"] += 4.0 if (kind, who, n) == ("train", "ours", 4) else seconds
        return run

    def fake_steps(model_name, profile, x, y, size):
        who, s = ("plain", 3.0) if model_name == "plain-keras-leuknet" else ("ours", 1.0)
        return None, step("train", who, s), step("infer", who, s)

    monkeypatch.setattr(bench, "training_steps", fake_steps)
    monkeypatch.setattr(bench.time, "perf_counter", lambda: clock["t"])
    r = bench.bench_paired({"batch_size": 2, "image_size": 32, "repeats": 4, "warmup": 1})
    trains = [c[1] for c in calls if c[0] == "train"]
    assert trains == ["ours", "plain"] + ["ours", "plain", "plain", "ours", "ours", "plain", "plain", "ours"]
    assert r["train_speedup"] == 3.0 and r["train_speedup_stats"]["min"] == 0.75  # the disturbed pair: 3 / 4
    assert r["inference_speedup"] == 3.0 and r["pairs"] == 4
    assert r["train_pair_seconds"][2] == [4.0, 3.0]
    md = bench.markdown({"machine": bench.machine_info(), "results": [], "paired": [r]})
    assert "| 2 | 3.00x (0.75-3.00) | 3.00x (3.00-3.00) | 4 |" in md


@pytest.mark.slow
def test_bench_baseline_through_the_cli_writes_paired_ratios(tmp_path):
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-m", "leuknet.cli", "bench", "--batch-size", "2", "--image-size", "32",
                        "--repeats", "2", "--warmup", "1", "--baseline", "--out", str(tmp_path)],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    data = json.loads((tmp_path / "bench.json").read_text())
    assert [x["model"] for x in data["results"]] == ["leuknet", "plain-keras-leuknet"]
    (p,) = data["paired"]
    assert p["batch_size"] == 2 and p["pairs"] == 2 and len(p["train_pair_seconds"]) == 2
    assert p["train_speedup"] > 0 and p["inference_speedup"] > 0
    assert "Paired timings" in (tmp_path / "bench.md").read_text() and "Paired:" in r.stdout
