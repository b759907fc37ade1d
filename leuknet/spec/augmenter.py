"""MATLAB's ``imageDataAugmenter`` and ``augment``, and the CLI's ``--augment`` specs built from them: the core's
augmenter, re-exported by :mod:`leuknet.matlab.augmentation` (where ``augmentedImageDatastore`` is) and checked
by the CLI before anything heavy starts.

Sources (MathWorks):
- imageDataAugmenter: https://www.mathworks.com/help//releases/R2021a/deeplearning/ref/imagedataaugmenter.html
  (properties and defaults; FillValue scalar or one per channel; reflections with probability 0.5; ranges or
  function handles). The page does not give the order in which the transforms compose nor their centre: leuknet
  follows MathWorks' own ``imageDataAugmenter.m`` (R2018b, ``makeAffineTransform``, as shipped in public copies):
  rotation, then shear, scale and reflection, each about the centre ((W-1)/2, (H-1)/2) of the image in 0-based
  pixel coordinates, then the translation; values drawn in the order reflections, rotation, shears, translations,
  scale (RandScale, one factor for both axes, when given; giving it with RandXScale or RandYScale is an error).
  Positive angles turn the image anticlockwise on screen; RandXShear shifts x by tan(angle) * y.
- augment: https://uk.mathworks.com/help/deeplearning/ref/imagedataaugmenter.augment.html (one image, or a cell
  array of images that all get the same transformation), drawing from MATLAB's global stream
  (:mod:`leuknet.spec.randstream`).

Where leuknet differs: its random stream is NumPy's, not MATLAB's (same distributions, other numbers); the warp is
OpenCV's ``warpAffine`` (bilinear; 8-bit images interpolated with 1/32-pixel fixed-point weights).
"""

from __future__ import annotations

import numpy as np

from leuknet.augment import RandomAffine, resize_conjugate, warp
from leuknet.errors import ConfigError, DataError
from leuknet.spec.conventions import boolean, options_only
from leuknet.spec.randstream import generator

__all__ = ["imageDataAugmenter", "ImageDataAugmenter", "augment"]

# name: (default, RandomAffine field)
_PROPERTIES = {
    "FillValue": (0, "fill"),
    "RandXReflection": (False, "x_reflection"),
    "RandYReflection": (False, "y_reflection"),
    "RandRotation": ((0, 0), "rotation"),
    "RandScale": ((1, 1), "scale"),
    "RandXScale": ((1, 1), "x_scale"),
    "RandYScale": ((1, 1), "y_scale"),
    "RandXShear": ((0, 0), "x_shear"),
    "RandYShear": ((0, 0), "y_shear"),
    "RandXTranslation": ((0, 0), "x_translation"),
    "RandYTranslation": ((0, 0), "y_translation"),
}


def _range(name, v):
    """A 2-element nondecreasing range [lo hi] (or a callable returning one value, MATLAB's function handle)."""
    fn = "imageDataAugmenter"
    if callable(v):
        return v
    try:
        a = np.asarray(v, np.float64).ravel()
    except (TypeError, ValueError):
        a = np.zeros(0)
    if isinstance(v, (str, bool)) or a.size != 2 or not np.all(np.isfinite(a)) or a[0] > a[1]:
        raise ConfigError(f"{fn}: {name} must be a 2-element range lo, hi with lo <= hi (or a function "
                          f"returning a value), received {v!r}")
    if name.endswith("Scale") and np.any(a <= 0):
        raise ConfigError(f"{fn}: {name} must be positive, received {v!r}")
    if name.endswith("Shear") and np.any(np.abs(a) >= 90):
        raise ConfigError(f"{fn}: {name} must lie in (-90, 90) degrees, received {v!r}")
    return (float(a[0]), float(a[1]))


def _fill(v):
    try:
        a = np.asarray(v, np.float64).ravel()
    except (TypeError, ValueError):
        a = np.zeros(0)
    if isinstance(v, (str, bool)) or a.size not in (1, 3) or not np.all(np.isfinite(a)):
        raise ConfigError(f"imageDataAugmenter: FillValue must be a number or one number per channel (3 for RGB), "
                          f"received {v!r}")
    return float(a[0]) if a.size == 1 else tuple(float(x) for x in a)


def _show(v):
    if callable(v):
        return f"@{getattr(v, '__name__', 'fcn')}"
    if isinstance(v, bool):
        return str(int(v))
    if isinstance(v, tuple):
        return "[" + " ".join(f"{x:g}" for x in v) + "]"
    return f"{v:g}" if isinstance(v, float) else str(v)


class ImageDataAugmenter(RandomAffine):
    """MATLAB's ``imageDataAugmenter``: its properties as attributes (``aug.RandRotation``), settable as MATLAB's
    are (each value checked); :meth:`augment`; and the pipeline's augmenter protocol (``apply``)."""

    def __init__(self, **values):
        super().__init__()
        self._props = {}
        for name, (default, _) in _PROPERTIES.items():
            self._set(name, values.get(name, default))
        self._check_scale()
        # augment() draws from MATLAB's global stream (leuknet.matlab.randstream) unless given a stream of its own
        self.rng = None

    def _set(self, name, v):
        field = _PROPERTIES[name][1]
        if name in ("RandXReflection", "RandYReflection"):
            v = boolean("imageDataAugmenter", name, v)
        elif name == "FillValue":
            v = _fill(v)
        else:
            v = _range(name, v)
        self._props[name] = v
        if name == "RandScale":
            object.__setattr__(self, "scale", None if v == (1.0, 1.0) else v)
        else:
            object.__setattr__(self, field, v)

    def _check_scale(self):
        # MATLAB: RandScale replaces RandXScale and RandYScale; giving both is an error (randScalePreferred)
        if self.scale is not None and (self._props["RandXScale"] != (1.0, 1.0)
                                       or self._props["RandYScale"] != (1.0, 1.0)):
            raise ConfigError("imageDataAugmenter: RandScale cannot be combined with RandXScale or RandYScale "
                              "(RandScale scales both axes by one factor)")

    def __getattr__(self, name):
        props = self.__dict__.get("_props", {})
        if name in props:
            return props[name]
        raise AttributeError(f"imageDataAugmenter has no property {name!r}; properties: {', '.join(_PROPERTIES)}")

    def __setattr__(self, name, value):
        if name in _PROPERTIES:
            old = dict(self._props)
            self._set(name, value)
            try:
                self._check_scale()
            except ConfigError:
                for k, v in old.items():
                    self._set(k, v)
                raise
            return
        if name[:1].isupper():
            raise ConfigError(f"imageDataAugmenter: no property {name!r}; properties: {', '.join(_PROPERTIES)}")
        object.__setattr__(self, name, value)

    def _fill_for(self, c):
        f = self._props["FillValue"]
        if isinstance(f, tuple) and len(f) != c:
            raise DataError(f"imageDataAugmenter: FillValue has {len(f)} values for an image of {c} channel"
                            f"{'s' if c > 1 else ''} (a scalar, or one value per channel)")
        return f

    def apply(self, img, rng, scale=(1.0, 1.0)):
        """The pipeline's protocol: ``img`` (a source image resized by ``scale = (sy, sx)``) with a fresh transform
        drawn from ``rng``."""
        sy, sx = (float(v) for v in scale)
        a = self.random_matrix(rng, (img.shape[0] / sy, img.shape[1] / sx))
        if (sy, sx) != (1.0, 1.0):
            a = resize_conjugate(a, (sy, sx))
        return warp(img, a, fill=self._fill_for(img.shape[2] if img.ndim == 3 else 1))

    def augment(self, I):
        """MATLAB's ``augment(aug, I)``: one image (H x W or H x W x C, any numeric type, the type kept) with a
        random transform, or a list of images that all get the same transformation (each about its own centre)."""
        p = self.draw(self.rng if self.rng is not None else generator())
        if isinstance(I, (list, tuple)):
            return [self._warp_one(x, p) for x in I]
        return self._warp_one(I, p)

    def _warp_one(self, x, p):
        a = np.asarray(x)
        if a.dtype == object or a.ndim not in (2, 3) or a.size == 0:
            raise DataError(f"augment: expected an H x W or H x W x C image (or a list of them), received "
                            f"{type(x).__name__} of shape {getattr(a, 'shape', None)}")
        work = a if a.dtype in (np.uint8, np.uint16, np.int16, np.float32, np.float64) else a.astype(np.float64)
        c = a.shape[2] if a.ndim == 3 else 1
        out = warp(work.reshape(a.shape[0], a.shape[1], c), self.matrix(p, a.shape[:2]), fill=self._fill_for(c))
        out = out.reshape(a.shape)
        if out.dtype != a.dtype:
            out = (np.clip(np.round(out), 0, 1) if a.dtype == bool else out).astype(a.dtype)
        return out

    def __repr__(self):
        width = max(map(len, _PROPERTIES))
        lines = ["imageDataAugmenter with properties:", ""]
        lines += [f"    {n.rjust(width)}: {_show(self._props[n])}" for n in _PROPERTIES]
        return "\n".join(lines)

    __str__ = __repr__


def imageDataAugmenter(*args, **kwargs):
    """``imageDataAugmenter(Name, Value, ...)`` with MATLAB's options and defaults: FillValue 0, RandXReflection
    and RandYReflection false, RandRotation [0 0] degrees, RandScale / RandXScale / RandYScale [1 1], RandXShear /
    RandYShear [0 0] degrees, RandXTranslation / RandYTranslation [0 0] pixels. Ranges are [lo hi] (uniform) or a
    function returning one value."""
    o = options_only("imageDataAugmenter", args, kwargs, {k: d for k, (d, _) in _PROPERTIES.items()})
    return ImageDataAugmenter(**dict(o))


def augment(aug, I):
    """``augI = augment(augmenter, I)``: see :meth:`ImageDataAugmenter.augment`."""
    if not isinstance(aug, ImageDataAugmenter):
        raise ConfigError(f"augment: the first argument must be an imageDataAugmenter, received {type(aug).__name__}")
    return aug.augment(I)


RANDOM_DEFAULT = {"RandRotation": (-180, 180), "RandXReflection": True, "RandYReflection": True}


def augmenter_from_spec(spec):
    """``leuknet train --augment``'s on-the-fly augmenters: ``random`` (imageDataAugmenter with RandRotation
    [-180 180], RandXReflection and RandYReflection true: cells have no up or orientation), ``oliveira`` (de Oliveira
    & Dantas' mirroring, rotation, blur, shear and salt and pepper, drawn afresh at each read), or a MATLAB-style
    spec ``"RandRotation=-20,20;RandXReflection=true"`` of imageDataAugmenter options. None for ``none``."""
    s = str(spec).strip()
    low = s.lower()
    if low in ("", "none"):
        return None
    if low == "random":
        return ImageDataAugmenter(**RANDOM_DEFAULT)
    if low == "oliveira":
        from leuknet.augment import OliveiraAugmenter

        return OliveiraAugmenter()
    if "=" not in s:
        raise ConfigError(f"--augment: unknown augmentation {spec!r}; choose none, rotate-mirror, random, oliveira "
                          "or imageDataAugmenter options such as 'RandRotation=-20,20;RandXReflection=true'")
    opts = {}
    for part in filter(None, (p.strip() for p in s.split(";"))):
        name, _, value = part.partition("=")
        name, value = name.strip(), value.strip()
        if not name or not value:
            raise ConfigError(f"--augment: {part!r} is not Name=value (e.g. RandRotation=-20,20)")
        if value.lower() in ("true", "false", "on", "off"):
            opts[name] = value.lower() in ("true", "on")
            continue
        try:
            nums = [float(v) for v in value.replace(" ", ",").split(",") if v]
        except ValueError:
            raise ConfigError(f"--augment: {name}={value!r} is not true/false or numbers") from None
        opts[name] = nums[0] if len(nums) == 1 else nums
    try:
        return imageDataAugmenter(**opts)
    except ConfigError as e:
        raise ConfigError(f"--augment: {e}") from None
