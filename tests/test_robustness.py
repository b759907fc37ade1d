"""Bad input everywhere: one line and exit 2 (or a listed skip), never a traceback, never a half-written model,
never a change to the user's data folder."""

import hashlib
import json
import os
import subprocess
import sys
import textwrap

import cv2
import numpy as np
import pytest

from conftest import blob_image, write_image
from leuknet.data.pipeline import load_image_data
from leuknet.errors import DataError, ModelFileError


def tree_digest(root):
    h = hashlib.sha256()
    for dirpath, _, files in sorted(os.walk(root)):
        for f in sorted(files):
            p = os.path.join(dirpath, f)
            h.update(p.encode())
            h.update(open(p, "rb").read())
    return h.hexdigest()


def awkward_folder(root):
    """Odd sizes, grey, RGBA, 16-bit, TIFF/JPEG/BMP, plus zero-byte, truncated and mislabelled files."""
    rng = np.random.default_rng(0)
    for c in (0, 1):
        d = root / ("blast" if c == 0 else "normal")
        for i in range(6):
            write_image(d / f"rgb{i}.png", blob_image(c, rng, 40 + 7 * i))
        img = blob_image(c, rng, 37)
        cv2.imwrite(str(d / "grey.bmp"), img[..., 0])
        cv2.imwrite(str(d / "rgba.png"), cv2.cvtColor(img, cv2.COLOR_RGB2BGRA))
        cv2.imwrite(str(d / "deep.tif"), (img.astype(np.uint16) * 257))
        cv2.imwrite(str(d / "wide.jpg"), cv2.resize(img, (90, 23)))
    (root / "blast" / "zero.bmp").write_bytes(b"")
    (root / "normal" / "truncated.png").write_bytes((root / "normal" / "rgb0.png").read_bytes()[:60])
    (root / "normal" / "notes.jpg").write_text("this is text, not a JPEG")
    return root


def test_api_skips_and_lists_unreadable_files(tmp_path):
    root = awkward_folder(tmp_path / "cells")
    files = sorted(str(p) for p in root.rglob("*") if p.is_file())
    data, bad = load_image_data(files, [0] * len(files), (32, 32))
    assert sorted(os.path.basename(b) for b in bad) == ["notes.jpg", "truncated.png", "zero.bmp"]
    assert data.images.shape == (len(files) - 3, 32, 32, 3)


def test_api_model_file_errors(tmp_path):
    from leuknet.run import load_model, predict_files

    (tmp_path / "m.keras").write_bytes(b"garbage")
    with pytest.raises(ModelFileError, match="cannot load model"):
        load_model(tmp_path / "m.keras")
    with pytest.raises(ModelFileError, match="does not exist"):
        predict_files(tmp_path / "none.keras", [tmp_path])
    with pytest.raises(DataError):
        from leuknet.run import collect_images

        collect_images([tmp_path / "nothing-here"])


@pytest.mark.slow
def test_cli_trains_on_awkward_files_without_touching_them(tmp_path):
    root = awkward_folder(tmp_path / "cells")
    before = tree_digest(root)
    out = tmp_path / "run"
    r = subprocess.run([sys.executable, "-m", "leuknet.cli", "train", "--data", root, "--image-size", "32",
                        "--epochs", "1", "--batch-size", "4", "--fc-units", "8", "--split", "0.6,0.2,0.2",
                        "--device", "cpu", "--out", out, "--quiet"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    skipped = json.loads((out / "config.json").read_text())["skipped_files"]
    assert len(skipped) == 3 and "Skipped 3 unreadable files" in r.stdout
    assert "WARN" not in r.stderr, r.stderr  # no OpenCV decoder log lines: skipped.csv says why
    assert tree_digest(root) == before


DISK_FULL = textwrap.dedent("""
    import errno, os, sys
    real = os.replace
    def replace(src, dst, *a, **k):
        if str(dst).endswith("model.keras"):
            raise OSError(errno.ENOSPC, "No space left on device", str(dst))
        return real(src, dst, *a, **k)
    os.replace = replace
    from leuknet.cli import main
    main(sys.argv[1:])
""")


@pytest.mark.slow
def test_full_disk_on_write_is_one_line_and_leaves_nothing(tmp_path):
    out = tmp_path / "run"
    r = subprocess.run([sys.executable, "-c", DISK_FULL, "train", "--device", "cpu", "--demo-per-class", "12",
                        "--image-size", "32", "--epochs", "1", "--batch-size", "4", "--fc-units", "8", "--out", out,
                        "--quiet"], capture_output=True, text=True)
    lines = [l for l in r.stderr.splitlines() if l.strip()]
    assert r.returncode == 2 and len(lines) == 1 and "No space left on device" in lines[0], r.stderr
    assert "Traceback" not in r.stderr
    assert not out.exists() and not (tmp_path / "run.partial").exists()
    assert not list(tmp_path.glob("**/*.keras"))
