"""Regenerate the GNU Octave cases (Debian packages octave and octave-image; Octave 7.3, image 2.14 here):
rgb2hsv, im2uint8, rgb2ycbcr (uint8 and double) and HCbCr on a random image with primaries, greys and saturated
corners.  python parity/make_octave.py

Octave's imresize has no antialiasing, so it is not an oracle for the resize; make_numpy_resize.py transcribes
MATLAB's documented imresize algorithm instead."""

import subprocess
import tempfile
from pathlib import Path

import numpy as np

from common import save

rng = np.random.default_rng(11)
img = rng.integers(0, 256, (16, 16, 3)).astype(np.uint8)
edge = [[0, 0, 0], [255, 255, 255], [128, 128, 128], [255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 0],
        [255, 0, 255], [0, 255, 255], [1, 1, 1], [254, 254, 254], [10, 200, 30], [200, 200, 10], [255, 254, 255],
        [0, 1, 0], [127, 128, 129]]
img[0] = np.array(edge, np.uint8)

SCRIPT = r"""
pkg load image
d = '%s';
v = dlmread([d '/in.txt']);
I = uint8(reshape(v, [16 16 3]));
H = rgb2hsv(I);
Y = rgb2ycbcr(I);
Yd = rgb2ycbcr(double(I) / 255);
H8 = im2uint8(H);
HC = cat(3, H8(:,:,1), Y(:,:,2), Y(:,:,3));
f = @(name, a) dlmwrite([d '/' name], double(a(:))', 'precision', '%%.17g');
f('hsv.txt', H); f('hsv8.txt', H8); f('ycc.txt', Y); f('yccd.txt', Yd); f('hcbcr.txt', HC);
"""

with tempfile.TemporaryDirectory() as d:
    # column-major (Octave) order
    np.savetxt(Path(d) / "in.txt", img.reshape(-1, order="F")[None, :], fmt="%d", delimiter=",")
    subprocess.run(["octave", "--no-gui", "--quiet", "--eval", SCRIPT % d], check=True)

    def load(name):
        return np.loadtxt(Path(d) / name, delimiter=",").reshape((16, 16, 3), order="F")

    outputs = {n: load(f"{n}.txt") for n in ("hsv", "hsv8", "ycc", "yccd", "hcbcr")}

version = subprocess.run(["octave", "--version"], capture_output=True, text=True).stdout.splitlines()[0]
DIVERGENCE = {
    "hsv8": "where S*255 or H*255 is exactly x.5 in real arithmetic, Octave's s = 1 - min/v and MATLAB's "
            "documented s = (v - min)/v differ in the last bit and round to neighbouring integers (1 value of 768 "
            "here); which one MATLAB's compiled rgb2hsv matches is unverified",
    "yccd": "Octave derives the BT.601 matrix from Kr = 0.299, Kb = 0.114 exactly; MATLAB documents it rounded to "
            "three decimals (37.797 for 37.7969...): differences up to 7e-7 of the [0, 1] range for double input, "
            "none after uint8 rounding",
}
for name, fn, key, tol, why in (
        ("octave_rgb2hsv", "rgb2hsv", "hsv", 1e-12, "float64 both sides"),
        ("octave_im2uint8_rgb2hsv", "im2uint8_rgb2hsv", "hsv8", 1, "uint8; exact except at x.5 ties (see note)"),
        ("octave_rgb2ycbcr_uint8", "rgb2ycbcr_uint8", "ycc", 0, "uint8: exact (rounding and saturation)"),
        ("octave_rgb2ycbcr_double", "rgb2ycbcr_double", "yccd", 1e-6, "matrix rounding differs (see note)"),
        ("octave_hcbcr", "hcbcr", "hcbcr", 0, "uint8: exact")):
    save(name, divergence=DIVERGENCE.get(key), kind="colour", oracle=f"GNU Octave ({version.replace('GNU Octave, version ', 'Octave ')} + image)",
         behaviour={"rgb2hsv": "rgb2hsv on uint8 (H, S, V in [0, 1])", "im2uint8_rgb2hsv": "im2uint8(rgb2hsv(I))",
                    "rgb2ycbcr_uint8": "rgb2ycbcr on uint8 (BT.601 studio swing)",
                    "rgb2ycbcr_double": "rgb2ycbcr on double in [0, 1]",
                    "hcbcr": "HCbCr = H of im2uint8(rgb2hsv) with Cb, Cr of rgb2ycbcr"}[fn],
         tolerance=tol, why=why, expected=outputs[key],
         x=(img.astype(np.float64) / 255 if fn == "rgb2ycbcr_double" else img), fn=fn)
print("written")
