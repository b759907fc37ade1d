"""Augmentation (OpenCV-backed, every parameter explicit, seeded): mirroring, rotation, Gaussian blur, shear,
salt and pepper. Used online (in the training pipeline, one seed per sample copy) and offline
(``leuknet augment``: a balanced, augmented copy of a folder with a manifest; the source is never modified).

de Oliveira & Dantas (C-NMC 2019) augmented with mirroring, rotation, Gaussian blur 17 x 17, shear 0.3 and salt
and pepper noise; :data:`OLIVEIRA` holds those settings.

On-the-fly augmentation in the training pipeline goes through one protocol, ``ImageData.augmenter``: an object with
``apply(img, rng, scale=(sy, sx)) -> image of the same shape`` that draws a fresh random transform from ``rng`` each
time it is called. :class:`RandomAffine` (the core of MATLAB's ``imageDataAugmenter``) and :class:`OliveiraAugmenter`
(the ops above) implement it.
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
    return augment_with(img, np.random.default_rng(seed), config)


def augment_with(img, rng, config: AugmentConfig = OLIVEIRA):
    """:func:`augment_image` drawing from the generator ``rng``. Returns (image, ops)."""
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


class OliveiraAugmenter:
    """The ops of :class:`AugmentConfig` as an on-the-fly augmenter (``ImageData.augmenter``): a fresh draw from
    ``rng`` at every read, the same bits as :func:`augment_image` for a generator in the same state. ``scale`` is
    accepted for the protocol and unused (the ops work in the pixels of the image given)."""

    def __init__(self, config: AugmentConfig = OLIVEIRA):
        self.config = config

    def apply(self, img, rng, scale=(1.0, 1.0)):
        out = augment_with(img, rng, self.config)[0]
        return np.ascontiguousarray(out).reshape(img.shape)

    def __repr__(self):
        return f"OliveiraAugmenter({self.config})"


# ----------------------------------------------------------------------------------------------------------------
# random affine transforms (the core of MATLAB's imageDataAugmenter; leuknet.matlab.augmentation is its skin)

def translation(tx, ty):
    """The 3 x 3 affine (column vectors) moving points by (tx, ty) pixels."""
    return np.array([[1.0, 0.0, tx], [0.0, 1.0, ty], [0.0, 0.0, 1.0]])


_translate = translation


def _scaling(sx, sy):
    return np.diag([float(sx), float(sy), 1.0])


def resize_conjugate(a, scale):
    """The forward affine ``a`` (3 x 3, 0-based pixel coordinates of a source image) in the pixel coordinates of the
    same image resized by ``scale = (sy, sx)``: exact in continuous coordinates, with pixel centres at half-pixel
    offsets as ``tf.image.resize`` places them (x_resized = (x + 0.5) * sx - 0.5)."""
    sy, sx = (float(v) for v in scale)
    p = np.array([[sx, 0.0, 0.5 * sx - 0.5], [0.0, sy, 0.5 * sy - 0.5], [0.0, 0.0, 1.0]])
    return p @ a @ np.linalg.inv(p)


def warp(img, a, out_hw=None, fill=0.0):
    """``img`` (H x W x C) warped by the forward affine ``a`` (3 x 3, column vectors, 0-based pixel coordinates):
    ``out(a @ p) = img(p)``, bilinear, points from outside the image set to ``fill`` (scalar or per channel), output
    ``out_hw`` (default: the input's size). OpenCV's ``warpAffine`` (releases the GIL; 8-bit images are interpolated
    with its 1/32-pixel fixed-point weights)."""
    h, w = img.shape[:2]
    oh, ow = (h, w) if out_hw is None else (int(out_hw[0]), int(out_hw[1]))
    c = img.shape[2] if img.ndim == 3 else 1
    if (oh, ow) == (h, w) and np.allclose(a, np.eye(3), rtol=0, atol=1e-12):
        return img
    f = np.broadcast_to(np.asarray(fill, np.float64).ravel(), (c,)) if np.size(fill) in (1, c) else None
    if f is None:
        raise ValueError(f"a fill value of {np.size(fill)} elements for an image of {c} channels")
    out = cv2.warpAffine(np.ascontiguousarray(img), np.ascontiguousarray(a[:2], np.float64), (ow, oh),
                         flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                         borderValue=tuple(float(v) for v in f[:4]) + (0.0,) * (4 - min(c, 4)))
    return out.reshape(oh, ow, *img.shape[2:])


class RandomAffine:
    """Random rotation, reflection, scale, shear and translation combined into one affine transform about the image
    centre, drawn afresh at each :meth:`apply`: the transform of MATLAB's ``imageDataAugmenter`` (see
    :mod:`leuknet.matlab.augmentation` for its MATLAB names and the sources of its order and centre).

    Ranges are ``(lo, hi)`` (uniform) or a callable returning one value (MATLAB's function handles); reflections
    are booleans (each flips with probability 0.5). ``scale`` (one factor for both axes) replaces ``x_scale`` and
    ``y_scale`` when given. Angles in degrees, translations in pixels of the source image.
    """

    FIELDS = ("rotation", "x_reflection", "y_reflection", "scale", "x_scale", "y_scale", "x_shear", "y_shear",
              "x_translation", "y_translation", "fill")

    def __init__(self, rotation=(0.0, 0.0), x_reflection=False, y_reflection=False, scale=None, x_scale=(1.0, 1.0),
                 y_scale=(1.0, 1.0), x_shear=(0.0, 0.0), y_shear=(0.0, 0.0), x_translation=(0.0, 0.0),
                 y_translation=(0.0, 0.0), fill=0.0):
        self.rotation, self.x_reflection, self.y_reflection = rotation, bool(x_reflection), bool(y_reflection)
        self.scale, self.x_scale, self.y_scale = scale, x_scale, y_scale
        self.x_shear, self.y_shear = x_shear, y_shear
        self.x_translation, self.y_translation = x_translation, y_translation
        self.fill = fill

    @staticmethod
    def _value(r, rng):
        if callable(r):
            return float(r())
        lo, hi = r
        return float(lo) + (float(hi) - float(lo)) * float(rng.random())

    def draw(self, rng) -> dict:
        """One random set of parameters, in the order MATLAB's imageDataAugmenter draws them."""
        p = {"x_reflection": -1.0 if self.x_reflection and rng.random() < 0.5 else 1.0,
             "y_reflection": -1.0 if self.y_reflection and rng.random() < 0.5 else 1.0}
        for k in ("rotation", "x_shear", "y_shear", "x_translation", "y_translation"):
            p[k] = self._value(getattr(self, k), rng)
        if self.scale is not None:
            p["x_scale"] = p["y_scale"] = self._value(self.scale, rng)
        else:
            p["x_scale"] = self._value(self.x_scale, rng)
            p["y_scale"] = self._value(self.y_scale, rng)
        return p

    @staticmethod
    def matrix(p, source_hw):
        """The forward 3 x 3 affine (column vectors, 0-based pixel coordinates) of parameters ``p`` for an image of
        ``source_hw``: rotation, then shear, scale and reflection, all about the centre ((W-1)/2, (H-1)/2), then the
        translation."""
        h, w = source_hw
        t = np.radians(p["rotation"])
        c, s = np.cos(t), np.sin(t)
        rot = np.array([[c, s, 0.0], [-s, c, 0.0], [0.0, 0.0, 1.0]])  # positive: anticlockwise on screen (y down)
        shear = np.array([[1.0, np.tan(np.radians(p["x_shear"])), 0.0], [np.tan(np.radians(p["y_shear"])), 1.0, 0.0],
                          [0.0, 0.0, 1.0]])
        linear = _scaling(p["x_reflection"], p["y_reflection"]) @ _scaling(p["x_scale"], p["y_scale"]) @ shear @ rot
        cx, cy = (w - 1) / 2.0, (h - 1) / 2.0
        return _translate(p["x_translation"], p["y_translation"]) @ _translate(cx, cy) @ linear @ _translate(-cx, -cy)

    def random_matrix(self, rng, source_hw):
        return self.matrix(self.draw(rng), source_hw)

    def apply(self, img, rng, scale=(1.0, 1.0)):
        """``img`` with a fresh random transform. ``scale = (sy, sx)``: ``img`` is a source image resized by that
        factor; the transform is the source image's (centre and translations in source pixels), conjugated by the
        resize."""
        sy, sx = (float(v) for v in scale)
        source_hw = (img.shape[0] / sy, img.shape[1] / sx)
        a = self.random_matrix(rng, source_hw)
        if (sy, sx) != (1.0, 1.0):
            a = resize_conjugate(a, (sy, sx))
        return warp(img, a, fill=self.fill)

    def __repr__(self):
        return "RandomAffine(" + ", ".join(f"{k}={getattr(self, k)!r}" for k in self.FIELDS) + ")"
