"""Regenerate the resize cases: a NumPy transcription of MATLAB's imresize(I, [m n], 'bilinear') with
antialiasing (the contributions algorithm: triangle kernel widened by 1/scale when shrinking, weights
normalised, symmetric padding at the borders).  python parity/make_numpy_resize.py

leuknet's TensorFlow pipeline resizes with tf.image.resize(antialias=True), the same kernel, which renormalises
truncated kernels at the borders instead of mirroring: interior pixels agree to uint8 rounding, border pixels
differ (measured below and listed as a known divergence). The NumPy pipeline of the other backends
(leuknet.data.pipeline.resize_uint8_np) mirrors as MATLAB does: within uint8 rounding everywhere."""

import cv2
import numpy as np

from common import save
from references import imresize_bilinear


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
