"""Runs that start together never mix (issue 22): locked run directories, atomic caches, parallel studies.

Real ``leuknet`` processes are started at once (few, bounded in time, each killed in ``finally``) on an empty
``LEUKNET_CACHE`` and into one output directory; every run either completes or refuses with one line, every
completed run saw the same, complete data, and no temporary file is left anywhere.
"""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

TINY = ["--epochs", "1", "--demo-per-class", "6", "--image-size", "32", "--batch-size", "4", "--device", "cpu"]
TIMEOUT = 300


def start(args, env_extra=None, cwd=None):
    env = dict(os.environ, **(env_extra or {}))
    return subprocess.Popen([sys.executable, "-m", "leuknet.cli", *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env, cwd=cwd)


def finish(procs):
    """Wait for every process (bounded); kill any still running. Returns [(returncode, stdout, stderr)]."""
    results = []
    try:
        deadline = time.monotonic() + TIMEOUT
        for p in procs:
            o, e = p.communicate(timeout=max(1, deadline - time.monotonic()))
            results.append((p.returncode, o, e))
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    return results


def stray_files(*roots):
    """Temporary or lock files, partial directories: nothing of the kind may be left behind."""
    found = []
    for root in roots:
        for dirpath, dirnames, filenames in os.walk(root):
            for name in dirnames + filenames:
                if name.startswith(".") or name.endswith((".partial", ".lock", ".tmp")):
                    found.append(os.path.join(dirpath, name))
    return found


def error_lines(stderr):
    return [line for line in stderr.splitlines() if line.strip()]


# ---- the lock itself ----------------------------------------------------------------------------------------

HOLDER = textwrap.dedent("""
    import sys, time
    from leuknet.locks import acquire
    lock = acquire(sys.argv[1], what="the test's resource")
    print("held", flush=True)
    time.sleep(120)
""")


def test_lock_names_its_owner_and_is_released_when_the_owner_dies(tmp_path):
    from leuknet.errors import LeuknetError
    from leuknet.locks import InUseError, acquire, owner

    path = tmp_path / "thing.lock"
    p = subprocess.Popen([sys.executable, "-c", HOLDER, str(path)], stdout=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline().strip() == "held"
        with pytest.raises(InUseError, match=f"in use by process {p.pid}") as e:
            acquire(path, what="the test's resource")
        assert isinstance(e.value, LeuknetError) and "\n" not in str(e.value)
        assert owner(path)["pid"] == p.pid
        t = time.monotonic()
        with pytest.raises(InUseError, match="waited"):
            acquire(path, timeout=0.5)
        assert time.monotonic() - t >= 0.5
        os.kill(p.pid, signal.SIGKILL)  # a crash: the OS releases the lock; the stale file is harmless
        p.wait(timeout=30)
        lock = acquire(path, timeout=10)
        assert owner(path)["pid"] == os.getpid()
        lock.release()
        assert not path.exists()  # released: nothing left behind
        lock.release()  # twice is harmless
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


def test_lock_is_exclusive_between_opens_and_waits(tmp_path):
    import threading

    from leuknet.locks import InUseError, acquire

    path = tmp_path / "x.lock"
    first = acquire(path)
    with pytest.raises(InUseError):
        acquire(path)
    got = []
    t = threading.Thread(target=lambda: got.append(acquire(path, timeout=20)))
    t.start()
    time.sleep(0.3)
    assert not got
    first.release()
    t.join(20)
    assert got and path.exists()
    got[0].release()
    assert not path.exists()


# ---- run directories ----------------------------------------------------------------------------------------


def _cfg(out, **kw):
    from leuknet.config import resolve

    return resolve(dict(epochs=1, demo_per_class=6, image_size=32, batch_size=4, device="cpu", out=str(out), **kw))


def test_a_run_directory_in_use_is_refused_for_new_resume_and_overwrite(tmp_path):
    from dataclasses import replace

    from leuknet.locks import acquire
    from leuknet.run import RunInUse, check_run_directory, partial_dir, run_lock_path

    out = tmp_path / "runs" / "x"
    held = acquire(run_lock_path(out), what=f"run directory {out}")
    try:
        for cfg in (_cfg(out), _cfg(out, overwrite=True)):
            with pytest.raises(RunInUse, match=f"{out}.*in use by process {os.getpid()}"):
                check_run_directory(cfg)
        partial_dir(out).mkdir(parents=True)
        (partial_dir(out) / "checkpoint.npz").write_bytes(b"")
        with pytest.raises(RunInUse, match="in use by process"):
            check_run_directory(replace(_cfg(out), resume=True))
        assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == ["x.lock", "x.partial"]
    finally:
        held.release()
    # free again: the crashed run's checkpoint can be resumed, and the claim is this process's until released
    where = check_run_directory(replace(_cfg(out), resume=True))
    assert where.lock is not None and run_lock_path(out).exists()
    assert check_run_directory(replace(_cfg(out), resume=True)).lock is where.lock  # the CLI checks, then runs
    where.lock.release()
    assert not run_lock_path(out).exists()


def test_evaluate_report_and_bench_refuse_an_output_in_use(tmp_path):
    from leuknet.bench import run_bench
    from leuknet.locks import InUseError, acquire, lock_path_for
    from leuknet.report import build_report
    from leuknet.run import evaluate_run

    for out, call in ((tmp_path / "ev", lambda o: evaluate_run(tmp_path / "none.keras", tmp_path, out=o)),
                      (tmp_path / "report.html", lambda o: build_report([tmp_path], o)),
                      (tmp_path / "bench", lambda o: run_bench(["leuknet"], ["fp32"], [4], "cpu", 32, 1, 1,
                                                               out=o))):
        held = acquire(lock_path_for(out))
        try:
            with pytest.raises(InUseError, match=f"{out.name}.*in use by process {os.getpid()}"):
                call(out)
            assert not out.exists()
        finally:
            held.release()


# ---- the demo cache -----------------------------------------------------------------------------------------

READER = textwrap.dedent("""
    import json, sys
    import cv2
    from leuknet.data.synthetic import demo_dataset
    ds = demo_dataset(per_class=int(sys.argv[1]), seed=0)
    bad = [s.path for s in ds.samples if cv2.imread(s.path) is None]
    print(json.dumps({"n": len(ds.samples), "unreadable": len(bad), "fingerprint": ds.fingerprint()}))
""")


def test_demo_cache_built_by_three_processes_at_once_is_read_whole(tmp_path):
    cache = tmp_path / "cache"
    env = dict(os.environ, LEUKNET_CACHE=str(cache))
    procs = [subprocess.Popen([sys.executable, "-c", READER, "40"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, env=env) for _ in range(3)]
    results = finish(procs)
    seen = []
    for rc, o, e in results:
        assert rc == 0, e[-2000:]
        seen.append(json.loads(o.strip().splitlines()[-1]))
    assert [s["n"] for s in seen] == [80] * 3 and [s["unreadable"] for s in seen] == [0] * 3
    assert len({s["fingerprint"] for s in seen}) == 1
    assert stray_files(cache) == [] and len(list(cache.iterdir())) == 1


def test_demo_cache_records_what_made_it_and_is_rebuilt_when_it_does_not_match(tmp_path):
    from leuknet.data.synthetic import GENERATOR_VERSION, demo_dataset

    ds = demo_dataset(per_class=4, seed=0, cache_dir=tmp_path)
    folder = Path(ds.root)
    marker = json.loads((folder / "SYNTHETIC.json").read_text())
    assert marker["seed"] == 0 and marker["version"] == GENERATOR_VERSION and marker["files"] == 8
    (folder / "SYNTHETIC.json").write_text(json.dumps(dict(marker, version=-1)))  # made by another generator
    victim = Path(ds.samples[0].path)
    victim.unlink()
    ds2 = demo_dataset(per_class=4, seed=0, cache_dir=tmp_path)
    assert victim.is_file() and len(ds2.samples) == 8 and ds2.fingerprint() == ds.fingerprint()
    (folder / "SYNTHETIC.json").unlink()  # an old-style partial folder (no marker): rebuilt, not read
    assert len(demo_dataset(per_class=4, seed=0, cache_dir=tmp_path).samples) == 8
    assert stray_files(tmp_path) == []


# ---- real processes at once ---------------------------------------------------------------------------------


@pytest.mark.slow
def test_trains_started_together_on_an_empty_cache_complete_or_refuse(tmp_path):
    """Three ``leuknet train`` at once on an empty cache, two of them into the same --out."""
    cache = tmp_path / "cache"
    runs = tmp_path / "runs"
    env = {"LEUKNET_CACHE": str(cache)}
    args = [*TINY, "--demo-per-class", "30", "--fc-units", "8", "--quiet"]
    procs = [start(["train", *args, "--out", runs / name], env) for name in ("x", "x", "y")]
    results = finish(procs)
    x = [r for r in results[:2]]
    done = [r for r in x if r[0] == 0]
    refused = [r for r in x if r[0] != 0]
    assert len(done) == 1 and len(refused) == 1, [r[2][-800:] for r in x]
    rc, _, err = refused[0]
    lines = error_lines(err)
    assert rc == 2 and len(lines) == 1, err
    assert str(runs / "x") in lines[0] and ("in use by process" in lines[0] or "already exists" in lines[0])
    assert results[2][0] == 0, results[2][2][-2000:]
    cfgs = [json.loads((runs / d / "config.json").read_text()) for d in ("x", "y")]
    assert [c["dataset"]["n_images"] for c in cfgs] == [60, 60]
    assert [c["skipped_files"] for c in cfgs] == [[], []]
    assert len({c["dataset"]["fingerprint_sha256"] for c in cfgs}) == 1
    assert len({json.loads((runs / d / "metrics.json").read_text())["n_test"] for d in ("x", "y")}) == 1
    assert sorted(p.name for p in runs.iterdir()) == ["x", "y"]
    assert stray_files(tmp_path) == []
    assert sorted(p.name for p in (runs / "x").iterdir()) == ["config.json", "history.csv", "metrics.json",
                                                             "model.keras", "predictions.csv", "splits.csv"]


def _table(study):
    data = json.loads((study / "colorspace.json").read_text())["spaces"]
    return {space: {k: s[k] for k in ("training_samples", "accuracy", "macro_f1", "confusion_matrix_sum")}
            for space, s in data.items()}


@pytest.mark.slow
def test_colorspace_study_by_two_processes_does_each_run_once_and_matches_one_process(tmp_path):
    env = {"LEUKNET_CACHE": str(tmp_path / "cache")}
    args = ["colorspace", *TINY, "--fc-units", "8", "--spaces", "rgb,hsv", "--repeats", "1"]
    shared, alone = tmp_path / "shared", tmp_path / "alone"
    procs = [start([*args, "--out", shared], env), start([*args, "--out", shared], env),
             start([*args, "--out", alone], env)]
    results = finish(procs)
    for rc, _, e in results:
        assert rc == 0, e[-2000:]
    trained = "".join(o for _, o, _ in results[:2])
    for run in ("rgb seed 0", "hsv seed 0"):
        assert trained.count(f"{run}: test accuracy") == 1, trained  # each sub-run exactly once
    assert _table(shared) == _table(alone)
    assert "Colour-space study" in results[0][1] + results[1][1]  # the table, from the one that finished last
    assert stray_files(tmp_path) == []
    # run again: nothing is redone, and the summary is not rewritten
    from leuknet.study import run_study

    before = (shared / "colorspace.json").stat().st_mtime_ns
    events = []
    flags = dict(epochs=1, demo_per_class=6, image_size=32, batch_size=4, device="cpu", fc_units=8, seed=0)
    res = run_study(flags, "rgb,hsv", 1, shared, callback=lambda e, p: events.append(e))
    assert events.count("run_skipped") == 2 and "run_start" not in events and res["pending"] == []
    assert (shared / "colorspace.json").stat().st_mtime_ns == before
    assert res["summary"] == json.loads((shared / "colorspace.json").read_text())["spaces"]


@pytest.mark.slow
def test_fc_units_study_with_workers_does_each_run_once(tmp_path):
    env = {"LEUKNET_CACHE": str(tmp_path / "cache")}
    out = tmp_path / "fc"
    rc, o, e = finish([start(["study", "fc-units", "--model", "leuknet", "--values", "4,8", *TINY, "--workers", "2",
                              "--out", out], env)])[0]
    assert rc == 0, e[-2000:]
    assert o.count("fc 4 seed 0: test accuracy") == 1 and o.count("fc 8 seed 0: test accuracy") == 1, o
    rows = json.loads((out / "fc_units.json").read_text())["results"]
    assert [r["fc_units"] for r in rows] == [4, 8]
    assert "| Feature vector (units)" in o
    assert stray_files(tmp_path) == []
