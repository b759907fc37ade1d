"""The documentation is true to the code: docs/cli.md is what the command line says, and every `leuknet` command
in a fenced ```bash block of README.md or docs/*.md runs (at tiny sizes, on small data this test makes).

A new command in the docs that this test does not know how to run makes it fail, not skip: teach it below
(PLACEHOLDERS for a new placeholder path, TINY for a new command, SHELL_LINES / NOT_RUN for a shell line).
"""

from __future__ import annotations

import csv
import difflib
import importlib.util
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import blob_image, run_cli, write_image

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md"] + sorted((ROOT / "docs").glob("*.md"))


# ---- docs/cli.md -----------------------------------------------------------------------------------------------


def _gen_cli_docs():
    spec = importlib.util.spec_from_file_location("gen_cli_docs", ROOT / "scripts" / "gen_cli_docs.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_cli_reference_is_current():
    gen = _gen_cli_docs()
    expected = gen.render()
    actual = gen.OUT.read_text() if gen.OUT.exists() else ""
    diff = "".join(list(difflib.unified_diff(actual.splitlines(True), expected.splitlines(True), "docs/cli.md",
                                             "the command line now"))[:40])
    assert actual == expected, f"docs/cli.md is out of date: run python scripts/gen_cli_docs.py\n{diff}"


# ---- the commands the docs show ---------------------------------------------------------------------------------

# Segments of a fenced line that are not leuknet commands and are run elsewhere (.ci/run installs and tests).
INSTALL_OR_TEST = ("python3 -m venv", ".venv/bin/pip install", ".venv/bin/python -m pytest", "python -m pytest")

# Shell lines (not leuknet commands) the test carries out itself, by the start of the line.
SHELL_LINES = {
    "RUN=$(ls -d runs/leuknet-* | tail -1)": "set $RUN to the newest runs/leuknet-* in the working directory",
}

# Fenced lines that mention leuknet but cannot run here, with the test that covers what they show instead.
NOT_RUN = {
    "HOSTS=$(scontrol show hostnames": "a Slurm allocation (the multi-worker path: tests/test_multiworker.py)",
    "srun bash -c 'leuknet train": "a Slurm allocation (the multi-worker path: tests/test_multiworker.py)",
    "leuknet train --backend jax": "another Keras backend than this process's (a subprocess: "
                                   "tests/test_backends.py::test_backend_flag_jax_learns_separable_cells)",
}

# Placeholder paths in the docs -> what the test makes for them (in the temporary working directory `wd`).
# Inputs are made by make_fixtures() below; output paths under /data/ or /shared/ are moved into `wd`.
PLACEHOLDERS = {
    "/data/C-NMC_training_data": "C-NMC layout (leuknet.data.synthetic.write_demo): 10 cells per class, 64 x 64, "
                                 "8 subjects per class, fold_*/all|hem/UID_*.png",
    "/data/held_out": "C-NMC layout as above, another seed, 4 cells per class (the demo model's classes)",
    "/data/ALL_IDB2": "ALL-IDB2 layout: 10 ImNNN_1.tif (blast) and 10 ImNNN_0.tif (healthy), 64 x 64",
    "/data/my_cells": "one folder per class: blast/ and normal/, 6 PNG each",
    "/data/cnmc-balanced": "output folder (leuknet augment --out)",
    "/shared/": "output folders (moved into the working directory)",
    "cell1.bmp": "a 48 x 48 BMP in the working directory",
    "folder/": "a folder of 3 PNGs in the working directory",
    "/data/subtypes": "16 PNGs, 64 x 64",
    "/data/subtypes/labels.csv": "file,label rows for them (L1, L2, L3, normal)",
    "bvlcalexnet-12.onnx": "tests/onnx_graphs.alexnet_like, input data_0 (BGR, as the model zoo), 99 x 99",
    "alexnet_matlab.onnx": "tests/onnx_graphs.alexnet_like, input data (RGB, as exportONNXNetwork), 99 x 99",
    "$RUN": "the run directory of the README's quick-start train (SHELL_LINES)",
}

TRAIN_TINY = {"--epochs": "1", "--batch-size": "4", "--image-size": "32", "--quiet": None}
# Per command: options set to these values (replacing what the docs give; None: a flag), so each runs in seconds.
TINY = {
    "train": TRAIN_TINY,
    # two spaces, RGB and the HCbCr trap, for time (every conversion has its own tests in test_colorspace.py)
    "colorspace": {"--epochs": "1", "--batch-size": "4", "--image-size": "32", "--repeats": "1",
                   "--spaces": "rgb,hcbcr"},
    "study fc-units": {"--values": "8,4", "--epochs": "1", "--batch-size": "4", "--image-size": "99"},
    # every model the docs name (no --fc-units: vgg16 refuses it, and compare's flags go to every model)
    "compare": {"--epochs": "1", "--batch-size": "4", "--image-size": "32", "--repeats": "1"},
    "bench": {"--batch-size": "4", "--image-size": "32", "--repeats": "1", "--warmup": "1"},
    "augment": {"--per-class": "4"},
    "evaluate": {"--batch-size": "4"},
    "predict": {},
    "report": {},
    "explain": {},
    "weights import": {},
    "models": {},
    "recipes": {},
    "parity": {},
}
# Commands run in a subprocess beside the others (they read nothing the others write): `leuknet bench` is a
# minute or two of fixed costs (its peak probe and 256 BMP files) at any size, spent mostly in its own children.
BACKGROUND = {"bench"}
SMALL_DATA = {"--demo-per-class": "6"}  # train / colorspace / compare without --data or --labels
# With --cv (train, compare, colorspace, study fc-units) every fold of every repeat is a run: two folds of one
# repeat take every step of the cross-validated path (folds, pooled cells, pairs, summary) at the least cost, and
# fit the fixtures (K may not exceed the smallest class's cells: 6 in /data/my_cells).
SMALL_CV = {"--cv": "2", "--repeats": "1"}
SMALL_NET = {"leuknet": {"--fc-units": "8"},
             "alexnet": {"--fc-units": "8", "--image-size": "99"}}  # 99: the size of the test ONNX graphs


def _strip_comment(line: str) -> str:
    """The line without a trailing `# comment` (a # after whitespace, outside quotes)."""
    quote = None
    for i, ch in enumerate(line):
        if quote:
            quote = None if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1].isspace()):
            return line[:i].rstrip()
    return line.rstrip()


def fenced_lines(text: str):
    """(line number, line) of every ```bash (or sh, shell) block's lines, `\\` continuations joined, comments removed."""
    out, in_bash, pending, start = [], False, "", 0
    for n, raw in enumerate(text.splitlines(), start=1):
        s = raw.strip()
        if s.startswith("```"):
            in_bash = (not in_bash) and s[3:].strip() in ("bash", "sh", "shell")
            pending = ""
            continue
        if not in_bash:
            continue
        line = _strip_comment(raw).strip()
        if not pending:
            start = n
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line, pending = (pending + line).strip(), ""
        if line:
            out.append((start, line))
    return out


def _is_leuknet(tokens) -> bool:
    return bool(tokens) and (tokens[0] == "leuknet" or tokens[0].endswith("/leuknet"))


def documented_commands():
    """Every fenced line of the docs as (where, kind, payload): kind 'leuknet' (argv), 'shell' (SHELL_LINES key),
    'skip' (reason) or 'unknown' (the line)."""
    items = []
    for doc in DOCS:
        for n, line in fenced_lines(doc.read_text()):
            where = f"{doc.relative_to(ROOT)}:{n}"
            shell = next((k for k in SHELL_LINES if line.startswith(k)), None)
            if shell:
                items.append((where, "shell", shell))
                continue
            skip = next((k for k in NOT_RUN if line.startswith(k)), None)
            if skip:
                items.append((where, "skip", NOT_RUN[skip]))
                continue
            found = False
            for seg in (s.strip() for s in line.split("&&")):
                tokens = shlex.split(seg)
                if _is_leuknet(tokens):
                    items.append((where, "leuknet", tokens[1:]))
                    found = True
                elif seg.startswith(INSTALL_OR_TEST):
                    continue
                else:
                    items.append((where, "unknown", seg))
                    found = True
            if not found and "leuknet" in line:
                items.append((where, "unknown", line))
    return items


def _command_name(argv):
    return " ".join(argv[:2]) if argv[:1] in (["weights"], ["study"]) else (argv[0] if argv else "")


def _set(argv, flag, value):
    """argv with every `flag [value]` removed and `flag value` (or the bare flag) appended."""
    out, i = [], 0
    takes_value = value is not None
    while i < len(argv):
        if argv[i] == flag:
            i += 2 if takes_value and i + 1 < len(argv) and not argv[i + 1].startswith("--") else 1
            continue
        if argv[i].startswith(flag + "="):
            i += 1
            continue
        out.append(argv[i])
        i += 1
    return out + ([flag, value] if takes_value else [flag])


def _option(argv, flag, default=None):
    return argv[argv.index(flag) + 1] if flag in argv[:-1] else default


def substitute(argv, wd: Path, run_dir):
    """The placeholders of PLACEHOLDERS replaced by the test's files; anything else under /data/ is an error."""
    out = []
    for a in argv:
        if a.startswith("$RUN"):
            assert run_dir is not None, "$RUN used before the quick-start train and RUN=... line"
            a = str(run_dir) + a[len("$RUN"):]
        elif a.startswith("$"):
            raise AssertionError(f"unknown shell variable {a}: add it to PLACEHOLDERS / SHELL_LINES")
        elif a.startswith(("/data/", "/shared/")):
            known = [k for k in PLACEHOLDERS if a == k or (k.endswith("/") and a.startswith(k))]
            assert known, f"unknown placeholder path {a}: add it to PLACEHOLDERS and make_fixtures"
            a = str(wd / a.lstrip("/"))
        out.append(a)
    return out


def tiny(argv):
    name = _command_name(argv)
    assert name in TINY, f"no tiny settings for `leuknet {name}`: add it to TINY"
    for flag, value in TINY[name].items():
        argv = _set(argv, flag, value)
    if name in ("train", "colorspace", "compare") and "--data" not in argv and "--labels" not in argv:
        for flag, value in SMALL_DATA.items():
            argv = _set(argv, flag, value)
    if name in ("train", "colorspace"):  # one model (_option: the first --model); compare's reach every model
        for flag, value in SMALL_NET.get(_option(argv, "--model", "leuknet"), {}).items():
            argv = _set(argv, flag, value)
    if "--cv" in argv:
        for flag, value in SMALL_CV.items():
            argv = _set(argv, flag, value)
    return argv


def make_fixtures(wd: Path):
    """The inputs of PLACEHOLDERS, small."""
    from onnx_graphs import alexnet_like

    from leuknet.data.synthetic import write_demo

    rng = np.random.default_rng(0)
    write_demo(wd / "data" / "C-NMC_training_data", per_class=10, seed=0, image_size=64)
    write_demo(wd / "data" / "held_out", per_class=4, seed=1, image_size=64)
    for i in range(20):
        write_image(wd / "data" / "ALL_IDB2" / "img" / f"Im{i:03d}_{i % 2}.tif", blob_image(1 - i % 2, rng, 64))
    for c, cls in enumerate(("blast", "normal")):
        for i in range(6):
            write_image(wd / "data" / "my_cells" / cls / f"{i:02d}.png", blob_image(c, rng, 48))
    write_image(wd / "cell1.bmp", blob_image(0, rng, 48))
    for i in range(3):
        write_image(wd / "folder" / f"c{i}.png", blob_image(i % 2, rng, 48))
    rows = [["file", "label"]]
    for i in range(16):
        f = write_image(wd / "data" / "subtypes" / f"c{i:02d}.png", blob_image(i % 2, rng, 64))
        rows.append([f.name, ["L1", "L2", "L3", "normal"][i % 4]])
    with open(wd / "data" / "subtypes" / "labels.csv", "w", newline="") as fh:
        csv.writer(fh).writerows(rows)
    alexnet_like(wd / "bvlcalexnet-12.onnx", "data_0")
    alexnet_like(wd / "alexnet_matlab.onnx", "data")


def start_cli(argv, wd: Path):
    """`python -m leuknet.cli ARGV` in a subprocess (for BACKGROUND commands)."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", COLUMNS="200")
    return subprocess.Popen([sys.executable, "-m", "leuknet.cli", *map(str, argv)], cwd=wd, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def test_documented_commands_parse():
    """Cheap and fast: every fenced line is known (a leuknet command with tiny settings, a shell line the test
    carries out, or one listed as not runnable here), and the docs show the commands the README promises."""
    items = documented_commands()
    unknown = [f"{w}: {p}" for w, k, p in items if k == "unknown"]
    assert not unknown, "fenced lines this test does not know how to run:\n" + "\n".join(unknown)
    names = {_command_name(p) for _, k, p in items if k == "leuknet"}
    assert names <= set(TINY), names - set(TINY)
    for n in ("train", "evaluate", "predict", "report", "colorspace", "bench"):
        assert n in names, f"the README's next steps should show leuknet {n}"
    for _, k, argv in items:
        if k == "leuknet":
            tiny(argv)


@pytest.mark.slow
def test_documented_commands_run(tmp_path, monkeypatch):
    wd = tmp_path / "wd"
    wd.mkdir()
    make_fixtures(wd)
    monkeypatch.chdir(wd)
    monkeypatch.setenv("COLUMNS", "200")
    items = documented_commands()
    unknown = [f"{w}: {p}" for w, k, p in items if k == "unknown"]
    assert not unknown, "fenced lines this test does not know how to run:\n" + "\n".join(unknown)
    run_dir, failures, log, background = None, [], [], []

    def check(where, payload, argv, code, output, seconds):
        log.append(f"{seconds:6.1f} s  {where}  leuknet {' '.join(payload)}")
        if code != 0:
            tail = "\n".join(output.strip().splitlines()[-8:])
            failures.append(f"{where}: leuknet {shlex.join(payload)}\n  ran: leuknet {shlex.join(argv)}\n"
                            f"  exit status {code}:\n{tail}")

    for where, kind, payload in items:
        if kind == "skip":
            continue
        if kind == "shell":  # SHELL_LINES: RUN=$(ls -d runs/leuknet-* | tail -1)
            runs = sorted(wd.glob("runs/leuknet-*"))
            assert runs, f"{where}: no runs/leuknet-* to set $RUN from"
            run_dir = runs[-1]
            continue
        argv = tiny(substitute(payload, wd, run_dir))
        t0 = time.perf_counter()
        if _command_name(argv) in BACKGROUND:
            background.append((where, payload, argv, start_cli(argv, wd), t0))
            continue
        code, output = run_cli(argv)
        check(where, payload, argv, code, output, time.perf_counter() - t0)
    for where, payload, argv, proc, t0 in background:
        output, _ = proc.communicate(timeout=900)
        check(where, payload, argv, proc.returncode, output, time.perf_counter() - t0)
    print("\n".join(log))
    assert not failures, "documented commands that failed:\n\n" + "\n\n".join(failures)
