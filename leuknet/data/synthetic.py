"""The embedded demo data: a seeded generator of synthetic C-NMC-like cells.

450 x 450 RGB images, black background, one stained cell near the centre, written in the C-NMC 2019 layout
(``fold_k/{all,hem}/UID_<subject>_<image>_<cell>_<all|hem>.png``) so the demo goes through the same loader as
the real data. The two classes differ in distribution, not in a single give-away feature:

- ``all`` (synthetic blast): larger cell and nucleus, higher nucleus-to-cell ratio, irregular nuclear outline,
  fine pale chromatin with one to three nucleoli;
- ``hem`` (synthetic normal B cell): smaller, rounder nucleus with coarse dark chromatin clumps.

Sizes, stain colour and brightness vary per image and per subject and the class distributions overlap, so the
task is learnable but not trivial. It is synthetic: never report results on it as results on C-NMC.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

import cv2
import numpy as np

from leuknet.data.sources import Dataset, discover_cnmc

GENERATOR_VERSION = 1
IMAGE_SIZE = 450


def _blob_mask(shape, centre, radius, harmonics, rng):
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    dy, dx = yy - centre[0], xx - centre[1]
    theta = np.arctan2(dy, dx)
    dist = np.sqrt(dx * dx + dy * dy)
    r = np.full_like(theta, radius)
    for k, amp in harmonics:
        r = r + radius * amp * np.cos(k * theta + rng.uniform(0, 2 * np.pi))
    return dist <= r, dist / np.maximum(r, 1e-3)


def _noise(shape, sigma, rng):
    n = rng.standard_normal(shape).astype(np.float32)
    n = cv2.GaussianBlur(n, (0, 0), sigma)
    return n / (n.std() + 1e-6)


def synth_cell(label: str, rng: np.random.Generator, size: int = IMAGE_SIZE, stain=None) -> np.ndarray:
    """One synthetic cell image (H x W x 3 uint8 RGB)."""
    blast = label == "all"
    img = np.zeros((size, size, 3), np.float32)
    scale = size / IMAGE_SIZE
    centre = (size / 2 + rng.normal(0, 12 * scale), size / 2 + rng.normal(0, 12 * scale))
    cell_r = rng.normal(100 if blast else 86, 13) * scale
    ratio = rng.normal(0.80 if blast else 0.70, 0.06)
    nuc_r = cell_r * np.clip(ratio, 0.5, 0.95)
    stain = stain if stain is not None else rng.normal(0, 1, 3)
    cyto_col = np.array([140, 108, 170]) + 10 * stain
    nuc_col = np.array([104, 58, 138]) + 12 * stain + (rng.normal(14, 8) if blast else rng.normal(-4, 8))

    cell, _ = _blob_mask((size, size), centre, cell_r, [(2, rng.normal(0, 0.04)), (3, rng.normal(0, 0.03))], rng)
    irregular = 0.07 if blast else 0.025
    offset = (centre[0] + rng.normal(0, 6 * scale), centre[1] + rng.normal(0, 6 * scale))
    nucleus, rel = _blob_mask((size, size), offset, nuc_r,
                              [(k, rng.normal(0, irregular / k ** 0.5)) for k in (2, 3, 4, 5, 7)], rng)
    nucleus &= cell

    cyto_tex = 6 * _noise((size, size), 6 * scale, rng)
    img[cell] = cyto_col + cyto_tex[cell, None]
    if blast:  # fine, pale, even chromatin
        tex = 10 * _noise((size, size), 1.2 * scale, rng) + 4 * _noise((size, size), 5 * scale, rng)
    else:  # coarse clumps of condensed chromatin
        tex = 8 * _noise((size, size), 1.2 * scale, rng) + 18 * np.maximum(_noise((size, size), 4.5 * scale, rng), 0)
    shade = nuc_col[None, :] - tex[nucleus, None] * np.array([0.8, 1.0, 0.7])
    img[nucleus] = shade - 10 * np.clip(rel[nucleus], 0, 1)[:, None] ** 2
    if blast:
        for _ in range(rng.integers(1, 4)):
            ang, rad = rng.uniform(0, 2 * np.pi), rng.uniform(0, 0.5) * nuc_r
            c = (offset[0] + rad * np.sin(ang), offset[1] + rad * np.cos(ang))
            spot, _ = _blob_mask((size, size), c, rng.uniform(6, 11) * scale, [], rng)
            spot &= nucleus
            img[spot] = img[spot] * 0.6 + np.array([150, 110, 175]) * 0.4
    img = cv2.GaussianBlur(img, (0, 0), 1.0 * scale)
    img[~cell] = 0.0
    img += rng.normal(0, 2.0, img.shape).astype(np.float32) * cell[..., None]
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def default_cache_dir() -> Path:
    return Path(os.environ.get("LEUKNET_CACHE", Path.home() / ".cache" / "leuknet"))


def demo_spec(per_class: int, seed: int, image_size: int = IMAGE_SIZE) -> dict:
    return {"generator": "leuknet.data.synthetic", "version": GENERATOR_VERSION, "per_class": per_class,
            "seed": seed, "image_size": image_size, "subjects_per_class": 8, "folds": 3}


def _marker(folder: Path) -> dict | None:
    try:
        return json.loads((folder / "SYNTHETIC.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def is_complete(folder, spec: dict) -> bool:
    """True when ``folder`` holds a whole demo set made as ``spec`` says (generator, version, seed, sizes): the
    marker is written last, inside a temporary folder that is renamed into place, so a marked folder is whole."""
    m = _marker(Path(folder))
    return m is not None and {k: m.get(k) for k in spec} == spec


def write_demo(out_dir, per_class: int = 150, seed: int = 0, image_size: int = IMAGE_SIZE) -> Path:
    """Write the synthetic set to ``out_dir`` atomically: built in a temporary folder beside it, its marker
    (``SYNTHETIC.json``: what made it, and how many files) written last, then renamed into place; an earlier
    folder there is moved aside first and deleted after, so ``out_dir`` is never a half-written set."""
    out_dir = Path(out_dir)
    spec = demo_spec(per_class, seed, image_size)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}-", dir=out_dir.parent))
    old = None
    try:
        subjects = spec["subjects_per_class"]
        n = 0
        for label in ("all", "hem"):
            label_rng = np.random.default_rng([seed, 0 if label == "all" else 1])
            stains = label_rng.normal(0, 1, (subjects, 3))
            for i in range(per_class):
                s = i % subjects
                subject = f"{s + 1}" if label == "all" else f"H{s + 1}"
                fold = s % spec["folds"]
                rng = np.random.default_rng([seed, 0 if label == "all" else 1, i])
                img = synth_cell(label, rng, image_size, stain=stains[s] + rng.normal(0, 0.3, 3))
                d = tmp / "C-NMC_demo_synthetic" / f"fold_{fold}" / label
                d.mkdir(parents=True, exist_ok=True)
                name = f"UID_{subject}_{i // subjects + 1}_1_{label}.png"
                if not cv2.imwrite(str(d / name), cv2.cvtColor(img, cv2.COLOR_RGB2BGR)):
                    raise OSError(f"cannot write {d / name}")
                n += 1
        (tmp / "SYNTHETIC.json").write_text(json.dumps(dict(spec, files=n), indent=2))
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o777 & ~umask)  # mkdtemp makes it private; the cache is the user's, as any folder
        if out_dir.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}-old-", dir=out_dir.parent))
            os.replace(out_dir, old)  # onto an empty folder: allowed, and atomic
        os.replace(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    return out_dir


# a process that finds the set being built waits for it (building 2 x 1130 cells takes minutes)
CACHE_WAIT_SECONDS = 3600


def demo_dataset(per_class: int = 150, seed: int = 0, cache_dir=None) -> Dataset:
    """The demo set, generated once into the cache folder (``$LEUKNET_CACHE`` or ``~/.cache/leuknet``).

    Safe for processes started together: the set is built by one of them under a lock (``demo-<key>.lock``) while
    the others wait for it, and read only once it is whole and made as asked (a set with another marker, or
    none, is rebuilt)."""
    from leuknet.locks import acquire

    spec = demo_spec(per_class, seed)
    key = hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:12]
    folder = Path(cache_dir or default_cache_dir()) / f"demo-{key}"
    if not is_complete(folder, spec):
        with acquire(folder.with_name(folder.name + ".lock"), timeout=CACHE_WAIT_SECONDS,
                     what=f"the demo data cache {folder}"):
            if not is_complete(folder, spec):  # built by another process while this one waited
                write_demo(folder, per_class, seed)
    ds = discover_cnmc(folder)
    ds.format = "demo (synthetic, C-NMC layout)"
    ds.synthetic = True
    return ds
