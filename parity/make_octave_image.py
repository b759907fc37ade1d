"""Regenerate tests/fixtures/octave_image.npz: GNU Octave's image package (Debian packages octave and octave-image;
Octave 7.3, image 2.14 here) on the structuring elements, morphology, region measurements and CIELAB conversions
that leuknet.matlab reproduces.  python parity/make_octave_image.py

The inputs are drawn here with NumPy (seed 5) and passed to Octave in a MAT-file; Octave's outputs come back the
same way. Octave's 'full' results for even-sized elements lose the last row and column (they are not compared);
Octave's own 'line' strel does not follow MathWorks' intline (MATLAB's line is passed as an array). Octave does not
provide MATLAB's approximated disk (strel('disk', r) with n > 0): the tests check it
against MATLAB-exported shapes instead. Octave's rgb2lab differs from MATLAB's in the last digits of a* and b*
(the published rgb2lab([1 1 1]) is [100 0 0]; Octave's is [100 -0.0025 0.0047]): the tests check rgb2lab against
MathWorks' printed examples, and against Octave only loosely."""

import subprocess
import tempfile
from pathlib import Path

import numpy as np
from scipy.io import loadmat, savemat

OUT = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "octave_image.npz"

rng = np.random.default_rng(5)
BW = rng.random((23, 19)) < 0.45
BW[8:17, 4:13] = True  # a block with a hole and a notch
BW[11:13, 7:9] = False
BW[16, 8:11] = False
G8 = rng.integers(0, 256, (23, 19)).astype(np.uint8)
GD = rng.random((23, 19))
# a label matrix: blobs with a hole, diagonal contacts, a one-pixel region, lines, a concave region
L = np.zeros((30, 28))
L[2:9, 3:12] = 1
L[4:7, 6:9] = 0
L[12:13, 2:20] = 2
yy, xx = np.mgrid[0:30, 0:28]
L[((yy - 21) ** 2 / 30 + (xx - 9) ** 2 / 12) <= 1] = 3
L[25, 25] = 4
L[27, 2:5] = 5
L[(np.abs(yy - xx - 12) < 2) & (yy > 14)] = 0  # cuts label 3 in pieces: a label measured by its first
for k in range(6):
    L[15 + k, 18 + k] = 6  # a diagonal line
L[3:10, 20:26] = 7
L[5:8, 22] = 0  # a notch: concave
GI = rng.integers(0, 200, L.shape).astype(np.uint8)
RGB8 = rng.integers(0, 256, (8, 8, 3)).astype(np.uint8)
RGBD = rng.random((8, 8, 3))
LAB = np.stack([rng.uniform(0, 100, (8, 8)), rng.uniform(-60, 60, (8, 8)), rng.uniform(-60, 60, (8, 8))], axis=2)

ELEMENTS = {  # name: Octave expression of the element
    "asym": "[1 1 0; 0 1 0; 0 0 0]",
    "even": "[1 1; 0 1]",
    "row4": "[1 0 1 1]",
    # MATLAB's strel('line', 10, 20) (MathWorks' intline; Octave's own line strel rounds differently)
    "line10_20": "[0 0 0 0 0 0 0 1 1; 0 0 0 0 0 1 1 0 0; 0 0 0 0 1 0 0 0 0; 0 0 1 1 0 0 0 0 0; 1 1 0 0 0 0 0 0 0]",
    "diamond2": "strel('diamond', 2)",
    "octagon3": "strel('octagon', 3)",
    "disk4_0": "strel('disk', 4, 0)",
    "square3": "strel('square', 3)",
    "rect2x5": "strel('rectangle', [2 5])",
}
OPS = ("imdilate", "imerode", "imopen", "imclose", "imtophat", "imbothat")
PROPS = ("Area", "Centroid", "BoundingBox", "MajorAxisLength", "MinorAxisLength", "Eccentricity", "Orientation",
         "EquivDiameter", "Extent", "FilledArea", "EulerNumber", "Perimeter",
         "MeanIntensity", "MinIntensity", "MaxIntensity", "WeightedCentroid")

lines = ["pkg load image", "load(fullfile(d, 'in.mat'));", "out = struct();", "BW = logical(BW);"]
for name, expr in ELEMENTS.items():
    # the ops get the neighbourhood itself: Octave applies a strel's decomposition without padding, which changes
    # grey erosions at the border (MATLAB pads so that a decomposition gives the neighbourhood's result)
    lines.append(f"se = {expr}; if isobject(se), nh = getnhood(se); else, nh = logical(se); end; se = nh;")
    lines.append(f"out.nhood_{name} = double(nh);")
    for op in OPS:
        for img in ("BW", "G8", "GD"):
            lines.append(f"out.{op}_{img}_{name} = double({op}({img}, se));")
for op in ("imdilate", "imerode"):
    for img in ("BW", "G8"):
        lines.append(f"out.{op}_full_{img}_asym = double({op}({img}, [1 1 0; 0 1 0; 0 0 0], 'full'));")
        lines.append(f"out.{op}_full_{img}_even = double({op}({img}, [1 1; 0 1], 'full'));")
# MATLAB's strel('disk', 5) (n = 4) from the closed form of MATLAB-exported disks (EccoPy), not from leuknet
A5, d5 = 4, 1
yy5, xx5 = np.mgrid[-A5:A5 + 1, -A5:A5 + 1]
DISK5 = (np.abs(xx5) <= A5 - np.maximum(0, np.abs(yy5) - (A5 - 2 * d5))).astype(np.uint8)
lines += ["out.imopen_G8_disk5 = double(imopen(G8, logical(DISK5)));",
          "out.imclose_BW_disk5 = double(imclose(BW, logical(DISK5)));",
          "out.imerode_RGB8_diamond1 = double(imerode(RGB8, logical([0 1 0; 1 1 1; 0 1 0])));"]
# objects' boundaries (Octave traces holes 8-connected where MATLAB's bwboundaries.m uses 4: holes are not compared)
for name, expr in (("BW8", "bwboundaries(BW, 8, 'noholes')"), ("BW4", "bwboundaries(BW, 4, 'noholes')"),
                   ("L8", "bwboundaries(L > 0, 8, 'noholes')")):
    lines.append(f"B = {expr}; v = []; for k = 1:numel(B), v = [v; k * ones(size(B{{k}}, 1), 1) B{{k}}]; end; "
                 f"out.bwboundaries_{name} = v;")
# distance transform, regional minima, watershed (random small integers: many ties and plateaus)
WS = rng.integers(0, 6, (14, 17)).astype(np.float64)
cy, cx = np.mgrid[0:24, 0:34]
CELLS = (((cy - 11) ** 2 + (cx - 11) ** 2 <= 49) | ((cy - 12) ** 2 + (cx - 21) ** 2 <= 56)).astype(np.uint8)
lines += ["[D, IDX] = bwdist(BW); out.bwdist_e = double(D); out.bwdist_e_idx = double(IDX);",
          "out.bwdist_c = double(bwdist(BW, 'cityblock')); out.bwdist_q = double(bwdist(BW, 'chessboard'));",
          "out.regmin_8 = double(imregionalmin(WS)); out.regmin_4 = double(imregionalmin(WS, 4));",
          "out.ws_8 = watershed(WS); out.ws_4 = watershed(WS, 4);",
          "D = -bwdist(~BW); D(~BW) = -Inf; out.ws_cells = watershed(D);",
          "out.recon_G8 = double(imreconstruct(uint8(max(double(G8) - 60, 0)), G8));",
          "out.recon_G8_4 = double(imreconstruct(uint8(max(double(G8) - 60, 0)), G8, 4));",
          "m = false(size(BW)); m(12, 8) = true; out.recon_BW = double(imreconstruct(m & BW, BW));",
          "out.hmin_G8 = double(imhmin(G8, 40)); out.hmin_GD = imhmin(GD, 0.2); out.hmax_G8 = double(imhmax(G8, 40));",
          "out.emin_G8 = double(imextendedmin(G8, 40)); out.emax_GD = double(imextendedmax(GD, 0.2));",
          "out.emin_G8_4 = double(imextendedmin(G8, 40, 4));",
          "mk = false(size(G8)); mk(5, 5) = true; mk(18, 14) = true;",
          "out.impose_G8 = double(imimposemin(G8, mk)); out.impose_GD = imimposemin(GD, mk);",
          "out.regmax_8 = double(imregionalmax(WS)); out.regmax_4 = double(imregionalmax(WS, 4));",
          "B = uint8([9 9 9 9 9; 9 5 9 2 9; 9 9 9 9 9]); out.hmax_frac = double(imhmax(B, 2.5));",
          "out.hmin_frac = double(imhmin(B, 2.6)); out.emin_frac = double(imextendedmin(B, 3.6));",
          "G16 = uint16(G8) * 257; out.hmin_G16 = double(imhmin(G16, 9000));",
          "GI16 = int16(double(G8) * 100 - 12000); out.hmin_GI16 = double(imhmin(GI16, 3000));",
          "out.impose_GI16 = double(imimposemin(GI16, mk));",
          "out.imfill_G8 = double(imfill(G8)); out.imfill_G8_8 = double(imfill(G8, 8)); out.imfill_GD = imfill(GD);",
          "C = logical(CELLS); D = -bwdist(~C); D2 = imimposemin(D, imextendedmin(D, 1));",
          "out.ws_marked = watershed(D2); D(~C) = -Inf; out.ws_two_cells = watershed(D);"]
lines += ["out.imclearborder_8 = double(imclearborder(BW));", "out.imclearborder_4 = double(imclearborder(BW, 4));"]
for src in ("L", "BW"):
    img = "GI" if src == "L" else "G8"
    lines.append(f"s = regionprops({src}, {img}, {{{', '.join(repr(p) for p in PROPS)}}});")
    for p in PROPS:
        lines.append(f"out.rp_{src}_{p} = double(cat(1, s.{p}));")
    lines.append(f"s = regionprops({src}, 'PixelIdxList'); v = []; g = [];")
    lines.append("for k = 1:numel(s), v = [v; s(k).PixelIdxList(:)]; g = [g; k * ones(numel(s(k).PixelIdxList), 1)]; "
                 "end")
    lines.append(f"out.rp_{src}_PixelIdxList = [g v];")
lines += ["out.stretchlim_G8 = stretchlim(G8);", "out.stretchlim_RGB8 = stretchlim(RGB8);",
          "out.stretchlim_GD_tol = stretchlim(GD, [0.05 0.9]);", "out.imadjust_G8 = double(imadjust(G8));",
          "out.imadjust_GD = imadjust(GD);", "out.imadjust_G8_args = double(imadjust(G8, [0.2 0.7], [0.1 0.9], 0.5));",
          "out.imadjust_RGB8 = double(imadjust(RGB8, stretchlim(RGB8)));",
          "out.medfilt2_G8 = double(medfilt2(G8));", "out.medfilt2_G8_2x4 = double(medfilt2(G8, [2 4]));",
          "out.medfilt2_GD_4x3_sym = medfilt2(GD, [4 3], 'symmetric');",
          "out.medfilt2_BW_2x2 = double(medfilt2(BW, [2 2]));",
          "out.mat2gray_GD = mat2gray(GD * 7 - 3);", "out.mat2gray_G8_lim = mat2gray(G8, [20 200]);",
          "out.bwperim_4 = double(bwperim(BW));", "out.bwperim_8 = double(bwperim(BW, 8));",
          "out.imcomplement_G8 = double(imcomplement(G8));", "out.imcomplement_GD = imcomplement(GD);"]
lines += ["out.rgb2lab_u8 = rgb2lab(RGB8);", "out.rgb2lab_d = rgb2lab(RGBD);", "out.lab2rgb = lab2rgb(LAB);",
          "save('-v7', fullfile(d, 'out.mat'), '-struct', 'out');"]

with tempfile.TemporaryDirectory() as d:
    savemat(Path(d) / "in.mat", {"BW": BW.astype(np.uint8), "G8": G8, "GD": GD, "L": L, "GI": GI, "RGB8": RGB8,
                                 "RGBD": RGBD, "LAB": LAB, "DISK5": DISK5, "WS": WS, "CELLS": CELLS})
    script = f"d = '{d}';\n" + "\n".join(lines)
    run = subprocess.run(["octave", "--no-gui", "--quiet", "--eval", script], capture_output=True, text=True)
    if run.returncode:
        raise SystemExit(run.stderr[-2000:])
    got = loadmat(Path(d) / "out.mat")

version = subprocess.run(["octave", "--version"], capture_output=True, text=True).stdout.splitlines()[0]
outputs = {k: v for k, v in got.items() if not k.startswith("__")}
OUT.parent.mkdir(exist_ok=True)
np.savez_compressed(OUT, oracle=np.array(f"{version} + image package"), in_BW=BW, in_G8=G8, in_GD=GD, in_L=L, in_WS=WS, in_CELLS=CELLS,
                    in_GI=GI, in_RGB8=RGB8, in_RGBD=RGBD, in_LAB=LAB, **outputs)
print(f"{len(outputs)} outputs written to {OUT}")
