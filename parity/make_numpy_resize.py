"""Regenerate the resize cases: a NumPy transcription of MATLAB's imresize(I, [m n], 'bilinear') with
antialiasing (the contributions algorithm: triangle kernel widened by 1/scale when shrinking, weights
normalised, symmetric padding at the borders).  python parity/make_numpy_resize.py

leuknet resizes with tf.image.resize(antialias=True), the same kernel, which renormalises truncated kernels at
the borders instead of mirroring: interior pixels agree to uint8 rounding, border pixels differ (measured
below and listed as a known divergence)."""

import cv2
import numpy as np

from common import save


def imresize_bilinear(img, out_size):
    img = np.asarray(img, np.float64)
    for axis, n_out in ((0, out_size[0]), (1, out_size[1])):
        n_in = img.shape[axis]
        scale = n_out / n_in
        width = 2.0 / scale if scale < 1 else 2.0
        x = np.arange(1, n_out + 1)
        u = x / scale + 0.5 * (1 - 1 / scale)
        left = np.floor(u - width / 2)
        p = int(np.ceil(width)) + 2
        idx = left[:, None] + np.arange(p)[None, :] - 1
        d = u[:, None] - idx - 1
        w = scale * np.maximum(0, 1 - np.abs(scale * d)) if scale < 1 else np.maximum(0, 1 - np.abs(d))
        w = w / w.sum(1, keepdims=True)
        aux = np.concatenate([np.arange(n_in), np.arange(n_in)[::-1]])
        idx = aux[np.mod(idx.astype(int), 2 * n_in)]
        img = np.moveaxis(np.einsum("op,op...->o...", w, np.moveaxis(img, axis, 0)[idx]), 0, axis)
    return np.clip(np.floor(img + 0.5), 0, 255)  # uint8 output: rounded and saturated


rng = np.random.default_rng(3)
for name, shape, size in (("resize_450_to_224_interior", (450, 450), (224, 224)),
                          ("resize_227_from_300x260_interior", (300, 260), (227, 227))):
    img = cv2.GaussianBlur(rng.integers(0, 256, shape + (3,)).astype(np.uint8), (0, 0), 2.0)
    ref = imresize_bilinear(img, size)
    m = 3
    save(name, kind="resize", oracle="NumPy (MATLAB imresize algorithm)",
         behaviour=f"augmentedImageDatastore / imresize bilinear with antialiasing {shape} -> {size}, interior",
         tolerance=1, why="uint8 rounding of the same kernel computed in float32 vs float64",
         expected=ref[m:-m, m:-m], x=img, size=np.array(size), margin=m)
img = cv2.GaussianBlur(rng.integers(0, 256, (450, 450, 3)).astype(np.uint8), (0, 0), 2.0)
img[:, :20] = 255  # a bright border band makes the border treatment visible
ref = imresize_bilinear(img, (224, 224))
save("resize_450_to_224_whole_image", kind="resize", oracle="NumPy (MATLAB imresize algorithm)",
     behaviour="imresize bilinear with antialiasing, whole image including borders", tolerance=16,
     why="known divergence at the outermost pixels (see note); interior within 1",
     divergence="tf.image.resize renormalises the truncated kernel at image borders where MATLAB mirrors the "
                "image: border pixels differ by up to the tolerance on a bright edge, interior pixels by <= 1",
     expected=ref, x=img, size=np.array((224, 224)), margin=0)
print("written")
