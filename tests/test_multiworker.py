"""Two worker processes on 127.0.0.1 train one model with MultiWorkerMirroredStrategy (bounded, cleaned up)."""

import json
import socket
import subprocess
import sys

import pytest


def free_ports(n):
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


@pytest.mark.slow
def test_two_workers_on_loopback_train_to_completion(tmp_path):
    ports = free_ports(2)
    workers = ",".join(f"127.0.0.1:{p}" for p in ports)
    out = tmp_path / "run"
    args = ["train", "--device", "cpu", "--demo-per-class", "16", "--image-size", "32", "--epochs", "2",
            "--batch-size", "4", "--fc-units", "8", "--workers", workers, "--out", out, "--quiet"]
    procs = [subprocess.Popen([sys.executable, "-m", "leuknet.cli", *map(str, args), "--task-index", str(i)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(2)]
    try:
        results = [p.communicate(timeout=300) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    for p, (_, e) in zip(procs, results):
        assert p.returncode == 0, e[-3000:]
    cfg = json.loads((out / "config.json").read_text())
    assert (cfg["strategy"], cfg["num_workers"], cfg["num_replicas"]) == ("multi-worker", 2, 2)
    assert cfg["profile"]["global_batch"] == 4 and cfg["profile"]["per_replica_batch"] == 2
    assert (out / "model.keras").is_file() and (out / "metrics.json").is_file()
    assert len(list(tmp_path.iterdir())) == 1  # only the chief wrote a run directory
