"""regionprops, bwconncomp and the CIELAB conversions against GNU Octave's image package (fixtures made by
parity/make_octave_image.py), MathWorks' printed examples and hand-worked cases of MathWorks' regionprops.m."""

import math
from pathlib import Path

import numpy as np
import pytest

from leuknet.errors import ConfigError
from leuknet.matlab import (bwboundaries, bwconncomp, bwlabel, im2double, lab2rgb, lab2xyz, labelmatrix, regionprops, rgb2lab,
                            rgb2xyz, whitepoint, xyz2lab, xyz2rgb)

FIX = np.load(Path(__file__).parent / "fixtures" / "octave_image.npz")
COMPARED = ("Area", "Centroid", "BoundingBox", "MajorAxisLength", "MinorAxisLength", "Eccentricity", "Orientation",
            "EquivDiameter", "Extent", "FilledArea", "EulerNumber", "Perimeter", "MeanIntensity", "MinIntensity",
            "MaxIntensity", "WeightedCentroid")


@pytest.mark.parametrize("source, grey", [("L", "GI"), ("BW", "G8")])
def test_regionprops_matches_octave(source, grey):
    stats = regionprops(FIX[f"in_{source}"], FIX[f"in_{grey}"], *COMPARED)
    for p in COMPARED:
        got = np.array([np.ravel(v) for v in (s[p] for s in stats)], np.float64)
        np.testing.assert_allclose(got, FIX[f"rp_{source}_{p}"].reshape(got.shape), rtol=1e-12, atol=1e-12,
                                   err_msg=p)
    ours = regionprops(FIX[f"in_{source}"], "PixelIdxList").PixelIdxList
    theirs = FIX[f"rp_{source}_PixelIdxList"]
    for k, idx in enumerate(ours):
        octave = theirs[theirs[:, 0] == k + 1, 1] - 1  # 1-based there
        if source == "L":
            np.testing.assert_array_equal(idx, octave)
        else:  # Octave lists a component's pixels in its flood's order; MATLAB's bwconncomp (and leuknet) ascending
            np.testing.assert_array_equal(idx, np.sort(octave))


def test_hand_worked_rectangle_and_empty_label():
    """A 2 x 3 block: Area 6, Centroid at its centre, the box's corner on .5; MathWorks' moments (each pixel adds
    1/12) give the axes 2 w / sqrt(3) = 4 sqrt(w^2 / 12) for a w-long side; an absent label gives MATLAB's empty
    region (Area 0, NaN centroid, box [0.5 0.5 0 0], zero axes)."""
    L = np.zeros((5, 6))
    L[1:3, 2:5] = 1
    s = regionprops(L, "Area", "Centroid", "BoundingBox", "MajorAxisLength", "MinorAxisLength", "Orientation",
                    "Eccentricity", "Extent", "EquivDiameter", "Image", "PixelList")
    assert len(s) == 1 and s[0].Area == 6
    np.testing.assert_allclose(s[0].Centroid, [4, 2.5])
    np.testing.assert_allclose(s[0].BoundingBox, [2.5, 1.5, 3, 2])
    np.testing.assert_allclose([s[0].MajorAxisLength, s[0].MinorAxisLength], [6 / math.sqrt(3), 4 / math.sqrt(3)])
    assert s[0].Orientation == 0 and s[0].Extent == 1
    np.testing.assert_allclose(s[0].EquivDiameter, math.sqrt(24 / math.pi))
    assert s[0].Image.shape == (2, 3) and s[0].Image.all()
    np.testing.assert_array_equal(s[0].PixelList[:2], [[3, 2], [3, 3]])  # column-major, [x y]
    L[4, 5] = 3
    s = regionprops(L, "Area", "Centroid", "BoundingBox", "MajorAxisLength", "Perimeter")
    assert len(s) == 3 and s[1].Area == 0 and np.isnan(s[1].Centroid).all()
    np.testing.assert_array_equal(s[1].BoundingBox, [0.5, 0.5, 0, 0])
    assert s[1].MajorAxisLength == 0 and s[2].Perimeter == 0  # a single pixel has no perimeter


def test_perimeter_euler_number_and_filled_area_of_simple_shapes():
    """MATLAB's perimeter (0.980 a straight step, 1.406 a diagonal one, -0.091 a turn): a 3 x 3 ring is 8 straight
    steps with 4 turns = 7.476 (Octave prints 7.4760 too); a 2-pixel line walks there and back, 1.960."""
    ring = np.zeros((5, 5), bool)
    ring[1:4, 1:4] = True
    ring[2, 2] = False
    s = regionprops(ring, "Perimeter", "EulerNumber", "FilledArea")
    assert s[0].Perimeter == pytest.approx(8 * 0.980 - 4 * 0.091)
    assert s[0].EulerNumber == 0 and s[0].FilledArea == 9
    line = np.zeros((4, 3), bool)
    line[1:3, 1] = True
    assert regionprops(line, "Perimeter")[0].Perimeter == pytest.approx(1.96)


def test_struct_array_table_and_the_idioms_around_them():
    BW = FIX["in_BW"].astype(bool)
    stats = regionprops(BW)
    assert list(stats[0]) == ["Area", "Centroid", "BoundingBox"]
    areas = stats.Area  # MATLAB's [stats.Area]
    assert isinstance(areas, np.ndarray) and len(areas) == len(stats)
    biggest = stats[int(np.argmax(areas))]
    assert biggest.Area == areas.max()
    t = regionprops("table", BW, "Centroid", "Area")
    assert t.VariableNames == ["Centroid", "Area"] and t.Centroid.shape == (len(stats), 2)
    np.testing.assert_array_equal(t.Area, areas)
    # BW(CC.PixelIdxList{k}) = 0 in MATLAB; the column-major flat view in NumPy
    cc = bwconncomp(BW)
    assert cc.NumObjects == len(stats) and cc.ImageSize == [23.0, 19.0]
    cleared = BW.copy()
    cleared.T.flat[cc.PixelIdxList[int(np.argmax(areas))]] = False
    assert cleared.sum() == BW.sum() - areas.max()
    np.testing.assert_array_equal(labelmatrix(cc), bwlabel(BW))
    np.testing.assert_array_equal(regionprops(cc, "Area").Area, areas)
    assert len(regionprops(BW, "all")[0]) == 16 and len(regionprops(BW, BW.astype(np.uint8), "all")[0]) == 21


def test_struct_array_slices_empty_results_and_nonzero_masks():
    stats = regionprops(FIX["in_L"], "Area", "Perimeter")
    np.testing.assert_array_equal(stats[1:3].Area, FIX["rp_L_Area"][1:3, 0])  # a slice is a struct array
    none = regionprops(np.zeros((4, 4), bool), "Area", "Centroid")
    assert len(none) == 0 and none.Area.size == 0 and len(none.Centroid) == 0
    with pytest.raises(AttributeError, match="no field 'Aera'"):
        _ = none.Aera
    mask = (FIX["in_BW"] * 255).astype(np.uint8)  # a 0/255 mask read from a PNG: nonzero is foreground
    assert bwconncomp(mask).NumObjects == bwconncomp(FIX["in_BW"].astype(bool)).NumObjects
    # a label in two pieces is measured by the piece holding its first pixel (Octave agrees: fixture label 3)
    three = FIX["in_L"] == 3
    assert regionprops(three.astype(float), "Perimeter")[0].Perimeter == FIX["rp_L_Perimeter"][2, 0]
    assert regionprops(three, "Perimeter").Perimeter.size == 2
    # four pieces of one label: the top-left pair holds the first pixel (Octave prints 1.96 for this label)
    pieces = np.array([[1, 1, 0, 1, 1], [0, 0, 0, 0, 0], [1, 1, 1, 0, 1]], float)
    assert regionprops(pieces, "Perimeter")[0].Perimeter == pytest.approx(1.96)


def test_bwboundaries_objects_match_octave():
    """Objects' boundaries: MathWorks' and Octave's Moore tracing (clockwise from the first pixel in column-major
    order, closed). 8-connected objects in MATLAB's column-major numbering; Octave numbers 4-connected components
    otherwise, so those are matched by their first pixel."""
    BW = FIX["in_BW"].astype(bool)
    for name, image, conn in (("BW8", BW, 8), ("L8", FIX["in_L"] > 0, 8)):
        ours = np.concatenate([np.column_stack([np.full(len(b), k + 1), b])
                               for k, b in enumerate(bwboundaries(image, conn, "noholes"))])
        np.testing.assert_array_equal(ours, FIX[f"bwboundaries_{name}"], err_msg=name)
    theirs = FIX["bwboundaries_BW4"]
    by_start = {tuple(theirs[theirs[:, 0] == k][0, 1:]): theirs[theirs[:, 0] == k][:, 1:]
                for k in np.unique(theirs[:, 0])}
    ours = bwboundaries(BW, 4, "noholes")
    assert len(ours) == len(by_start)
    for b in ours:
        np.testing.assert_array_equal(b, by_start[tuple(b[0])])


def test_bwboundaries_holes_and_nesting_as_mathworks_code():
    """MathWorks' bwboundaries.m: holes are imclearborder(~BW) labelled and traced 4-connected for 8-connected
    objects, numbered after the objects; A(child, parent) marks what immediately encloses what."""
    frame = np.ones((5, 5), bool)
    frame[1:4, 1:4] = False
    frame[2, 2] = True  # an object inside the hole
    B, L, n, A = bwboundaries(frame, nargout=4)
    assert n == 2 and len(B) == 3
    np.testing.assert_array_equal(B[1], [[3, 3], [3, 3]])  # a single pixel: itself, closed
    np.testing.assert_array_equal(B[2], [[2, 2], [2, 3], [2, 4], [3, 4], [4, 4], [4, 3], [4, 2], [3, 2], [2, 2]])
    np.testing.assert_array_equal(np.argwhere(A), [[1, 2], [2, 0]])  # object 2 in hole 3, hole 3 in object 1
    np.testing.assert_array_equal(L[1:4, 1:4], [[3, 3, 3], [3, 2, 3], [3, 3, 3]])
    diagonal = np.ones((5, 5), bool)
    diagonal[1, 1] = diagonal[2, 2] = False  # two holes for 8-connected objects (one for Octave's 8-connected holes)
    assert len(bwboundaries(diagonal)) == 3 and len(bwboundaries(diagonal, "noholes")) == 1
    assert len(bwboundaries(diagonal, 4)) == 2  # 4-connected objects: 8-connected holes, one
    # without holes, A still nests objects: a ring inside a ring's hole (MathWorks' CreateAdjMatrix over objects)
    rings = np.ones((7, 7), bool)
    rings[1:6, 1:6] = False
    rings[2:5, 2:5] = True
    rings[3, 3] = False
    _, _, n, A = bwboundaries(rings, 8, "noholes", nargout=4)
    np.testing.assert_array_equal(np.argwhere(A), [[1, 0]])
    _, _, n, A = bwboundaries(rings, nargout=4)
    np.testing.assert_array_equal(np.argwhere(A), [[1, 2], [2, 0], [3, 1]])


def test_visboundaries_draws_each_boundary_over_the_image():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from leuknet.matlab import imshow, visboundaries

    BW = FIX["in_BW"].astype(bool)
    fig = plt.figure()
    imshow(BW)
    lines = visboundaries(BW, "Color", "g", "EnhanceVisibility", False)
    B = bwboundaries(BW)
    assert len(lines) == len(B) and len(fig.axes[0].images) == 1  # drawn over the image, not instead of it
    np.testing.assert_array_equal(lines[0].get_xydata(), B[0][:, ::-1])  # x = column, y = row
    assert len(visboundaries(B[:2])) == 4  # a white line beneath each by default
    assert len(visboundaries(B[:2], "EnhanceVisibility", "off")) == 2
    for bad in ({"LineWidth": "thick"}, {"Color": "notacolour"}):
        with pytest.raises(ConfigError, match="visboundaries"):
            visboundaries(B[:1], **bad)
    plt.close(fig)


@pytest.mark.parametrize("call, words", [
    (lambda: bwboundaries(FIX["in_BW"], 6), "connectivity"),
    (lambda: bwboundaries(FIX["in_BW"], np.ones((3, 3))), "connectivity"),
    (lambda: labelmatrix({"ImageSize": [2, 2], "PixelIdxList": [np.array([0, 7])]}), "outside"),
    (lambda: bwconncomp(FIX["in_BW"], 6), "bwconncomp: connectivity"),
    (lambda: regionprops(FIX["in_BW"].astype(bool), "MeanIntensity"), "grey image"),
    (lambda: regionprops(FIX["in_BW"].astype(bool), "Solidity"), "poly2mask"),
    (lambda: regionprops(FIX["in_BW"].astype(bool), "ConvexArea"), "poly2mask"),
    (lambda: regionprops(FIX["in_BW"].astype(bool), "Extrema"), "not provided"),
    (lambda: regionprops(FIX["in_BW"].astype(bool), "Circularity"), "R2023a"),
    (lambda: regionprops(np.array([[0.5, 1]]), "Area"), "label matrix"),
    (lambda: regionprops(FIX["in_BW"].astype(bool), np.zeros((2, 2)), "Area"), "size"),
    (lambda: regionprops(FIX["in_BW"].astype(bool), "Aera"), "property"),
    (lambda: regionprops("matrix", FIX["in_BW"].astype(bool)), "output format"),
])
def test_regionprops_bad_input_is_one_line(call, words):
    with pytest.raises(ConfigError) as e:
        call()
    assert words in str(e.value) and "\n" not in str(e.value)


def test_cielab_reproduces_mathworks_printed_examples():
    """rgb2lab, lab2rgb and xyz2lab pages' examples (MathWorks documentation)."""
    np.testing.assert_allclose(rgb2lab([[1, 1, 1]]), [[100, 0, 0]], atol=5e-5)
    np.testing.assert_allclose(rgb2lab([[.2, .3, .4]], "ColorSpace", "adobe-rgb-1998"),
                               [[30.1783, -5.6902, -20.8223]], atol=5e-5)
    np.testing.assert_allclose(lab2rgb([[70, 5, 10]]), [[0.7359, 0.6566, 0.6010]], atol=5e-5)
    np.testing.assert_allclose(lab2rgb([[70, 5, 10]], ColorSpace="adobe-rgb-1998"), [[0.7086, 0.6507, 0.5978]],
                               atol=5e-5)
    np.testing.assert_array_equal(lab2rgb([[70, 5, 10]], "OutputType", "uint8"), np.array([[188, 167, 153]],
                                                                                           np.uint8))
    np.testing.assert_allclose(xyz2lab([[0.25, 0.40, 0.10]]), [[69.4695, -48.0439, 57.1259]], atol=5e-5)
    # D50: the whitepoint page's four-digit white; MATLAB's printed values agree to 1e-3
    np.testing.assert_allclose(rgb2lab([[.2, .3, .4]], "WhitePoint", "d50"), [[31.3294, -4.0732, -18.1750]],
                               atol=1e-3)
    np.testing.assert_allclose(lab2rgb([[70, 5, 10]], "WhitePoint", "d50"), [[0.7282, 0.6573, 0.6007]], atol=1e-4)
    np.testing.assert_allclose(xyz2lab([[0.25, 0.40, 0.10]], "WhitePoint", "d50"), [[69.4695, -49.5717, 48.3864]],
                               atol=1e-3)


def test_cielab_against_octave_and_round_trips():
    np.testing.assert_allclose(rgb2lab(FIX["in_RGB8"]), FIX["rgb2lab_u8"], atol=5e-3)
    np.testing.assert_allclose(rgb2lab(FIX["in_RGBD"]), FIX["rgb2lab_d"], atol=5e-3)
    np.testing.assert_allclose(lab2rgb(FIX["in_LAB"]), FIX["lab2rgb"], atol=1e-4)
    rgb = FIX["in_RGBD"]
    np.testing.assert_array_equal(rgb2lab(FIX["in_RGB8"]), rgb2lab(im2double(FIX["in_RGB8"])))
    for space in ("srgb", "adobe-rgb-1998", "linear-rgb"):
        for wp in ("d65", "d50", [0.9, 1, 1.1]):
            np.testing.assert_allclose(lab2rgb(rgb2lab(rgb, ColorSpace=space, WhitePoint=wp), ColorSpace=space,
                                               WhitePoint=wp), rgb, atol=1e-10)
            np.testing.assert_allclose(xyz2rgb(rgb2xyz(rgb, ColorSpace=space, WhitePoint=wp), ColorSpace=space,
                                               WhitePoint=wp), rgb, atol=1e-10)
    np.testing.assert_allclose(lab2xyz(xyz2lab(rgb2xyz(rgb))), rgb2xyz(rgb), atol=1e-12)
    assert rgb2lab(rgb.astype(np.float32)).dtype == np.float32
    assert lab2rgb(np.float32([[70, 5, 10]])).dtype == np.float32
    assert lab2rgb(np.float32([[70, 5, 10]]), "OutputType", "double").dtype == np.float64
    np.testing.assert_allclose(whitepoint("d65"), [0.95047, 1, 1.08883])


@pytest.mark.parametrize("call, words", [
    (lambda: rgb2lab(np.zeros((4, 4))), "M x N x 3"),
    (lambda: rgb2lab(np.full((1, 1, 3), 100, np.int16)), "uint16"),
    (lambda: lab2xyz(np.zeros((1, 1, 3), np.uint8)), "single or double"),
    (lambda: rgb2lab(np.zeros((2, 2, 3)), "ColorSpace", "prophoto-rgb"), "prophoto"),
    (lambda: rgb2lab(np.zeros((2, 2, 3)), "WhitePoint", [1, 1]), "WhitePoint"),
    (lambda: lab2rgb(np.zeros((2, 2, 3)), "OutputType", "int8"), "OutputType"),
])
def test_cielab_bad_input_is_one_line(call, words):
    with pytest.raises(ConfigError) as e:
        call()
    assert words in str(e.value) and "\n" not in str(e.value)
