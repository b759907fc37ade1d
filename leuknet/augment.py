"""Augmentation (OpenCV-backed, every parameter explicit, seeded): mirroring, rotation, Gaussian blur, shear,
salt and pepper. Used online (in the training pipeline, one seed per sample copy) and offline
(``leuknet augment``: a balanced, augmented copy of a folder with a manifest; the source is never modified).

de Oliveira & Dantas (C-NMC 2019) augmented with mirroring, rotation, Gaussian blur 17 x 17, shear 0.3 and salt
and pepper noise; :data:`OLIVEIRA` holds those settings.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class AugmentConfig:
    mirror_probability: float = 0.5  # each of horizontal and vertical mirroring
    rotation_degrees: float = 180.0  # uniform in [-r, r]
    blur_kernel: int = 17  # odd; 0 = no blur
    blur_probability: float = 0.3
    shear: float = 0.3  # uniform in [-s, s], horizontal
    shear_probability: float = 0.5
    salt_pepper_amount: float = 0.01  # share of pixels set to black or white
    salt_pepper_probability: float = 0.3

    def to_dict(self):
        return asdict(self)


OLIVEIRA = AugmentConfig()


def mirror(img, horizontal=True):
    return np.ascontiguousarray(img[:, ::-1] if horizontal else img[::-1])


def rotate(img, degrees):
    """Rotation about the centre, same size, black (background) fill, bilinear."""
    h, w = img.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2 - 0.5, h / 2 - 0.5), degrees, 1.0)
    return cv2.warpAffine(img, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)


def gaussian_blur(img, kernel=17):
    if kernel < 3:
        return img
    if kernel % 2 == 0:
        raise ValueError(f"blur kernel must be odd, received {kernel}")
    return cv2.GaussianBlur(img, (kernel, kernel), 0)


def shear(img, factor):
    """Horizontal shear x' = x + factor * (y - h/2), same size, black fill."""
    h, w = img.shape[:2]
    m = np.float32([[1, factor, -factor * h / 2], [0, 1, 0]])
    return cv2.warpAffine(img, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)


def salt_and_pepper(img, amount, rng):
    """Set ``amount`` of the pixels (all channels) to 0 or 255, half each."""
    out = img.copy()
    h, w = img.shape[:2]
    n = int(round(amount * h * w))
    idx = rng.choice(h * w, size=n, replace=False)
    ys, xs = np.unravel_index(idx, (h, w))
    out[ys, xs] = np.where(rng.random(n) < 0.5, 0, 255).astype(img.dtype)[:, None]
    return out


def augment_image(img, seed, config: AugmentConfig = OLIVEIRA):
    """One random augmentation of ``img`` (uint8 H x W x C), fully determined by ``seed``. Returns (image, ops)."""
    rng = np.random.default_rng(seed)
    ops = []
    c = config
    if rng.random() < c.mirror_probability:
        img, _ = mirror(img, True), ops.append("mirror_h")
    if rng.random() < c.mirror_probability:
        img, _ = mirror(img, False), ops.append("mirror_v")
    if c.rotation_degrees:
        a = float(rng.uniform(-c.rotation_degrees, c.rotation_degrees))
        img, _ = rotate(img, a), ops.append(f"rotate({a:.1f})")
    if c.shear and rng.random() < c.shear_probability:
        s = float(rng.uniform(-c.shear, c.shear))
        img, _ = shear(img, s), ops.append(f"shear({s:.3f})")
    if c.blur_kernel >= 3 and rng.random() < c.blur_probability:
        img, _ = gaussian_blur(img, c.blur_kernel), ops.append(f"blur({c.blur_kernel})")
    if c.salt_pepper_amount and rng.random() < c.salt_pepper_probability:
        img, _ = salt_and_pepper(img, c.salt_pepper_amount, rng), ops.append(f"salt_pepper({c.salt_pepper_amount})")
    return img, ops


def balance_plan(labels, per_class, seed=0):
    """Indices and augmentation seeds that bring every class to ``per_class`` samples: the originals first (each
    once, seed -1 = unaugmented, at most ``per_class``), then augmented copies of random originals."""
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    idx, seeds = [], []
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        take = members[rng.permutation(len(members))][:per_class]
        idx.extend(take.tolist())
        seeds.extend([-1] * len(take))
        extra = per_class - len(take)
        if extra > 0:
            idx.extend(rng.choice(members, size=extra, replace=True).tolist())
            seeds.extend(rng.integers(0, 2**31 - 1, size=extra).tolist())
    return np.array(idx, np.int64), np.array(seeds, np.int64)


def write_augmented_copy(dataset, per_class, out, seed=0, config: AugmentConfig = OLIVEIRA, progress=None):
    """``leuknet augment``: a folder per class with ``per_class`` images each (originals copied, the rest
    augmented) and ``manifest.csv`` (output, source, class, ops). The source folder is only read."""
    from pathlib import Path

    from leuknet.data.pipeline import read_image
    from leuknet.io import write_csv

    out = Path(out)
    labels = dataset.labels
    idx, seeds = balance_plan(labels, per_class, seed)
    rows = []
    for k, (i, s) in enumerate(zip(idx, seeds)):
        sample = dataset.samples[i]
        img = read_image(sample.path)
        ops = []
        if s >= 0:
            img, ops = augment_image(img, int(s), config)
        d = out / sample.label
        d.mkdir(parents=True, exist_ok=True)
        name = f"{k:06d}_{Path(sample.path).stem}{'_aug' if ops else ''}.png"
        cv2.imwrite(str(d / name), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
        rows.append([f"{sample.label}/{name}", sample.path, sample.label, int(s), ";".join(ops)])
        if progress:
            progress(1)
    write_csv(out / "manifest.csv", ["file", "source", "class", "seed", "ops"], rows)
    return out
