"""Dataset discovery: C-NMC 2019, ALL-IDB1/2 and any folder-per-class layout (MATLAB ``imageDatastore``).

Every source returns a :class:`Dataset`: samples sorted by path, class names sorted (class index i = i-th
name, as MATLAB's categorical), and subject ids where the layout has them.
"""

from __future__ import annotations

import csv
import hashlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from leuknet.errors import DataError

IMAGE_EXTENSIONS = (".bmp", ".png", ".jpg", ".jpeg", ".tif", ".tiff")
FORMATS = ("cnmc", "allidb", "folders")

# UID_<subject>_<image>_<cell>_<all|hem>.bmp ; healthy subjects start with H (sometimes lower-case h)
CNMC_NAME = re.compile(r"^UID_(?P<subject>[^_]+)_(?P<image>\d+)_(?P<cell>\d+)_(?P<label>all|hem)\.[A-Za-z]+$", re.I)
ALLIDB_NAME = re.compile(r"^Im(?P<image>\d+)_(?P<label>[01])\.(?P<ext>tif|tiff|jpg|jpeg)$", re.I)
ALLIDB_CLASSES = {"1": "blast", "0": "healthy"}


@dataclass(frozen=True)
class Sample:
    path: str
    label: str
    subject: str | None = None


@dataclass
class Dataset:
    samples: list[Sample]
    classes: list[str]
    format: str
    root: str
    synthetic: bool = False
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)

    def __len__(self) -> int:
        return len(self.samples)

    @property
    def labels(self) -> list[int]:
        index = {c: i for i, c in enumerate(self.classes)}
        return [index[s.label] for s in self.samples]

    @property
    def has_subjects(self) -> bool:
        return bool(self.samples) and all(s.subject for s in self.samples)

    def counts(self) -> dict[str, int]:
        out = {c: 0 for c in self.classes}
        for s in self.samples:
            out[s.label] += 1
        return out

    def subset(self, indices) -> "Dataset":
        return Dataset([self.samples[i] for i in indices], list(self.classes), self.format, self.root,
                       self.synthetic)

    def fingerprint(self) -> str:
        """sha256 over (relative path, size in bytes, label) of every sample: changes when files change."""
        h = hashlib.sha256()
        for s in sorted(self.samples, key=lambda s: s.path):
            rel = os.path.relpath(s.path, self.root)
            try:
                size = os.path.getsize(s.path)
            except OSError:
                size = -1
            h.update(f"{rel}\t{size}\t{s.label}\n".encode())
        return h.hexdigest()

    def describe(self) -> dict:
        return {
            "format": self.format,
            "root": self.root,
            "synthetic": self.synthetic,
            "n_images": len(self.samples),
            "classes": self.classes,
            "counts": self.counts(),
            "n_subjects": len({s.subject for s in self.samples}) if self.has_subjects else None,
            "fingerprint_sha256": self.fingerprint(),
            "fingerprint_method": "sha256 of sorted (relative path, size, label)",
        }


def _is_image(p: Path) -> bool:
    return p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS and not p.name.startswith(".")


def _walk_images(root: Path):
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            p = Path(dirpath) / name
            if p.suffix.lower() in IMAGE_EXTENSIONS and not name.startswith("."):
                yield p


def _finish(samples, fmt, root, classes=None, skipped=None) -> Dataset:
    if not samples:
        raise DataError(f"no images found under {root} in the {fmt} layout")
    samples = sorted(samples, key=lambda s: s.path)
    present = sorted({s.label for s in samples})
    classes = sorted(classes) if classes else present
    empty = [c for c in classes if c not in present]
    if empty:
        raise DataError(f"class {empty[0]!r} has no images under {root}")
    if len(classes) < 2:
        raise DataError(f"only one class ({classes[0]!r}) found under {root}; classification needs at least two")
    return Dataset(samples, classes, fmt, str(root), skipped=list(skipped or []))


def _cnmc_csv_samples(root: Path):
    """C-NMC preliminary-test folder: images named 1.bmp, 2.bmp, ... with a CSV of new_names,labels (1 = all)."""
    samples = []
    for csv_path in sorted(root.rglob("*.csv")):
        with open(csv_path, newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            fields = {k.strip().lower(): k for k in (reader.fieldnames or [])}
            if "new_names" not in fields or "labels" not in fields:
                continue
            for row in reader:
                name = row[fields["new_names"]].strip()
                matches = [p for p in (csv_path.parent / name, csv_path.parent / csv_path.stem.replace("_labels", "") / name)
                           if p.is_file()]
                if not matches:
                    found = list(root.rglob(name))
                    matches = [p for p in found if p.is_file()]
                if not matches:
                    continue
                label = "all" if row[fields["labels"]].strip() in ("1", "all", "ALL") else "hem"
                subject = None
                if "patient_id" in fields:
                    m = CNMC_NAME.match(row[fields["patient_id"]].strip())
                    subject = m.group("subject").upper() if m else None
                samples.append(Sample(str(matches[0]), label, subject))
    return samples


def discover_cnmc(root: Path) -> Dataset:
    samples = []
    for p in _walk_images(root):
        if p.parent.name.lower() not in ("all", "hem"):
            continue
        m = CNMC_NAME.match(p.name)
        label = p.parent.name.lower()
        subject = m.group("subject").upper() if m else None
        samples.append(Sample(str(p), label, subject))
    samples.extend(_cnmc_csv_samples(root))
    return _finish(samples, "cnmc", root, classes=["all", "hem"])


def discover_allidb(root: Path) -> Dataset:
    samples = []
    for p in _walk_images(root):
        m = ALLIDB_NAME.match(p.name)
        if m:
            samples.append(Sample(str(p), ALLIDB_CLASSES[m.group("label")], None))
    return _finish(samples, "allidb", root, classes=list(ALLIDB_CLASSES.values()))


def discover_folders(root: Path) -> Dataset:
    """``imageDatastore(root, 'IncludeSubfolders', true, 'LabelSource', 'foldernames')`` with one folder per class.

    Class = name of the top-level folder an image is under; classes and files sorted.
    """
    classes = sorted(d.name for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
    if not classes:
        raise DataError(f"{root} has no class folders (expected one sub-folder of images per class)")
    samples = []
    for c in classes:
        n = 0
        for p in _walk_images(root / c):
            samples.append(Sample(str(p), c, None))
            n += 1
        if n == 0:
            raise DataError(f"class folder {root / c} has no images ({', '.join(IMAGE_EXTENSIONS)})")
    return _finish(samples, "folders", root, classes=classes)


def detect_format(root: Path) -> str:
    for p in _walk_images(root):
        if CNMC_NAME.match(p.name) and p.parent.name.lower() in ("all", "hem"):
            return "cnmc"
        if ALLIDB_NAME.match(p.name):
            return "allidb"
    if any(p.suffix.lower() == ".csv" for p in root.rglob("*.csv")) and _cnmc_csv_samples(root):
        return "cnmc"
    return "folders"


def discover(path, dataset_format: str | None = None) -> Dataset:
    """Find the images under ``path``; ``dataset_format`` forces cnmc, allidb or folders (default: detect)."""
    if path is None or str(path) == "":
        raise DataError("no data path given")
    root = Path(path).expanduser()
    if not root.exists():
        raise DataError(f"data path {root} does not exist")
    if not root.is_dir():
        raise DataError(f"data path {root} is not a folder")
    if dataset_format is not None and dataset_format not in FORMATS:
        raise DataError(f"unknown dataset format {dataset_format!r}; choose one of {', '.join(FORMATS)}")
    fmt = dataset_format or detect_format(root)
    ds = {"cnmc": discover_cnmc, "allidb": discover_allidb, "folders": discover_folders}[fmt](root.resolve())
    if (root / "SYNTHETIC.json").is_file():  # leuknet's generated demo set (leuknet.data.synthetic) says so
        ds.synthetic = True
        ds.format = f"demo (synthetic, {fmt} layout)"
    return ds


def discover_csv(csv_path, root=None) -> Dataset:
    """Labels from a CSV with columns ``file,label`` (a header row is optional); relative paths are taken from
    ``root`` or else the CSV's folder. Classes are the sorted label names (e.g. ALL subtypes L1, L2, L3, normal)."""
    p = Path(csv_path).expanduser()
    if not p.is_file():
        raise DataError(f"labels file {p} does not exist")
    base = Path(root).expanduser() if root else p.parent
    samples, missing = [], []
    with open(p, newline="", encoding="utf-8-sig") as f:
        rows = [r for r in csv.reader(f) if r and any(c.strip() for c in r)]
    if rows and [c.strip().lower() for c in rows[0][:2]] == ["file", "label"]:
        rows = rows[1:]
    for i, r in enumerate(rows, start=1):
        if len(r) < 2 or not r[1].strip():
            raise DataError(f"{p}, row {i}: expected file,label, received {','.join(r)!r}")
        f_ = Path(r[0].strip())
        f_ = f_ if f_.is_absolute() else base / f_
        if not f_.is_file():
            missing.append(str(f_))
            continue
        samples.append(Sample(str(f_.resolve()), r[1].strip(), None))
    if missing:
        raise DataError(f"{len(missing)} file(s) listed in {p} do not exist, first: {missing[0]}")
    return _finish(samples, "csv", base.resolve())
