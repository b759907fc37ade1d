"""leuknet.matlab's structuring elements and morphology against GNU Octave's image package (fixtures made by
parity/make_octave_image.py), MATLAB-exported disk shapes and hand-worked cases of MathWorks' strel.m."""

from pathlib import Path

import numpy as np
import pytest

from leuknet.errors import ConfigError
from leuknet.matlab import (decompose, imbothat, imclearborder, imclose, imdilate, imerode, imopen, imtophat,
                            reflect, strel, translate)

FIX = np.load(Path(__file__).parent / "fixtures" / "octave_image.npz")
IMAGES = {"BW": FIX["in_BW"], "G8": FIX["in_G8"], "GD": FIX["in_GD"]}
ELEMENTS = {  # leuknet's element for each of the fixture's
    "asym": np.array([[1, 1, 0], [0, 1, 0], [0, 0, 0]]), "even": np.array([[1, 1], [0, 1]]),
    "row4": np.array([[1, 0, 1, 1]]), "line10_20": lambda: strel("line", 10, 20),
    "diamond2": lambda: strel("diamond", 2), "octagon3": lambda: strel("octagon", 3),
    "disk4_0": lambda: strel("disk", 4, 0), "square3": lambda: strel("square", 3),
    "rect2x5": lambda: strel("rectangle", [2, 5]),
}
OPS = {"imdilate": imdilate, "imerode": imerode, "imopen": imopen, "imclose": imclose, "imtophat": imtophat,
       "imbothat": imbothat}


def element(name):
    e = ELEMENTS[name]
    return e() if callable(e) else e


@pytest.mark.parametrize("name", sorted(set(ELEMENTS) - {"line10_20"}))  # the line: hand-worked below
def test_shapes_are_octaves_and_matlabs(name):
    se = strel(element(name))
    np.testing.assert_array_equal(se.Neighborhood, FIX[f"nhood_{name}"].astype(bool))


@pytest.mark.parametrize("op", sorted(OPS))
@pytest.mark.parametrize("name", sorted(ELEMENTS))
def test_morphology_matches_octave_on_binary_uint8_and_double_images(op, name):
    for img, a in IMAGES.items():
        got = OPS[op](a, element(name))
        assert got.dtype == a.dtype, (op, img)
        np.testing.assert_array_equal(got.astype(np.float64), FIX[f"{op}_{img}_{name}"], err_msg=f"{op} {img}")


@pytest.mark.parametrize("op", ["imdilate", "imerode"])
def test_full_results_match_octave_for_an_odd_element(op):
    for img in ("BW", "G8"):
        got = OPS[op](IMAGES[img], ELEMENTS["asym"], "full")
        np.testing.assert_array_equal(got.astype(np.float64), FIX[f"{op}_full_{img}_asym"])


def test_full_results_for_an_even_element_hold_the_whole_dilation():
    """Hand-worked: a pixel at (1, 1) dilated by [1 1; 0 1] (origin at its first element) reaches (1, 1), (1, 2)
    and (2, 2); 'full' keeps what falls past the last row and column (Octave's loses it)."""
    A = np.zeros((3, 3), bool)
    A[2, 2] = True
    full = imdilate(A, [[1, 1], [0, 1]], "full")
    assert full.shape == (4, 4)
    np.testing.assert_array_equal(np.argwhere(full), [[2, 2], [2, 3], [3, 3]])
    np.testing.assert_array_equal(imdilate(A, [[1, 1], [0, 1]]), full[:3, :3])
    # erosion reads I(z + b): the zero at (2, 2) reaches z = (2, 2), (2, 1), (1, 1), one row and column later in
    # the full result (it starts size - 1 - origin before the image)
    eroded = imerode(~A, [[1, 1], [0, 1]], "full")
    assert eroded.shape == (4, 4)
    np.testing.assert_array_equal(np.argwhere(~eroded), [[2, 2], [3, 2], [3, 3]])


def test_clearborder_matches_octave():
    np.testing.assert_array_equal(imclearborder(IMAGES["BW"]), FIX["imclearborder_8"].astype(bool))
    np.testing.assert_array_equal(imclearborder(IMAGES["BW"], 4), FIX["imclearborder_4"].astype(bool))


def octagon_of_matlab(r):
    """The closed form of MATLAB's strel('disk', r) (n = 4) recovered from MATLAB-exported neighbourhoods (radii
    3, 5, 15, 25) and published with EccoPy (eccopy/core/disk.py): a (2r - 1) square, half-width
    A - max(0, |y| - (A - 2d)) in row y, A = r - 1, d = floor((3r - 5) / 10)."""
    A, d = r - 1, (3 * r - 5) // 10
    yy, xx = np.mgrid[-A:A + 1, -A:A + 1]
    return np.abs(xx) <= A - np.maximum(0, np.abs(yy) - (A - 2 * d))


@pytest.mark.parametrize("r", [3, 5, 15, 25])
def test_the_default_disk_is_matlabs_periodic_line_approximation(r):
    se = strel("disk", r)
    np.testing.assert_array_equal(se.Neighborhood, octagon_of_matlab(r))
    seq = decompose(se)
    # EccoPy's MATLAB getsequence: 4 periodic lines (a, d, a, d members each side) and two 3-pixel lines
    d = (3 * r - 5) // 10
    a = r - 2 - 2 * d
    assert [int(s.Neighborhood.sum()) for s in seq] == [2 * a + 1, 2 * d + 1, 2 * a + 1, 2 * d + 1, 3, 3]
    composed = np.zeros((4 * r + 1, 4 * r + 1), bool)
    composed[2 * r, 2 * r] = True
    assert np.array_equal(imdilate(composed, seq)[r + 1:3 * r, r + 1:3 * r], se.Neighborhood)


def test_disk_counts_small_radii_and_other_line_numbers():
    assert int(strel("disk", 5).Neighborhood.sum()) == 69
    for r in (0, 1, 2):  # MATLAB forces n = 0 below radius 3: the Euclidean disk
        yy, xx = np.mgrid[-r:r + 1, -r:r + 1]
        np.testing.assert_array_equal(strel("disk", r).Neighborhood, xx ** 2 + yy ** 2 <= r ** 2)
    # n = 6 and 8: the documented decomposition, n periodic lines along strel's basis vectors (or n + 2 with the
    # two axis lines), symmetric about the origin and no wider than the radius
    basis = {6: [(1, 0), (1, 2), (2, 1), (0, 1), (-1, 2), (-2, 1)],
             8: [(1, 0), (2, 1), (1, 1), (1, 2), (0, 1), (-1, 2), (-1, 1), (-2, 1)]}
    for n, vectors in basis.items():
        se = strel("disk", 9, n)
        seq = decompose(se)
        assert len(seq) in (n, n + 2)
        for part, v in zip(seq, vectors):
            offs = np.argwhere(part.Neighborhood) - (np.array(part.Neighborhood.shape) - 1) // 2
            assert len(offs) % 2 == 1 and all(o[0] * v[1] - o[1] * v[0] == 0 for o in offs), (n, v, offs)
        nh = se.Neighborhood
        assert np.array_equal(nh, nh[::-1, ::-1]) and nh.shape[0] % 2 == 1 and (nh.shape[0] - 1) // 2 <= 9
        assert nh[nh.shape[0] // 2].all()


def test_line_follows_matlabs_intline():
    """strel('line', 10, 20): end points (+-round(4.5 cos 20), -+round(4.5 sin 20)) = (+-4, -+2), and MathWorks'
    intline rounds y = 2 - (x + 4) / 2 half away from zero: two pixels a row, one at the centre."""
    expected = np.array([[0, 0, 0, 0, 0, 0, 0, 1, 1], [0, 0, 0, 0, 0, 1, 1, 0, 0], [0, 0, 0, 0, 1, 0, 0, 0, 0],
                         [0, 0, 1, 1, 0, 0, 0, 0, 0], [1, 1, 0, 0, 0, 0, 0, 0, 0]], bool)
    np.testing.assert_array_equal(strel("line", 10, 20).Neighborhood, expected)
    np.testing.assert_array_equal(strel("line", 7, 90).Neighborhood, np.ones((7, 1), bool))
    # the length is the end centres' distance: 7 at 45 degrees ends at (+-round(3 cos 45), ...) = (+-2, -+2)
    np.testing.assert_array_equal(strel("line", 7, 45).Neighborhood, np.eye(5, dtype=bool)[::-1])
    np.testing.assert_array_equal(strel("periodicline", 2, [1, -2]).Neighborhood.sum(), 5)
    np.testing.assert_array_equal(strel("pair", [2, 1]).Neighborhood,
                                  np.pad(np.array([[1, 0], [0, 0], [0, 1]], bool), ((2, 0), (1, 0))))


def test_classes_channels_and_the_element_forms():
    rng = np.random.default_rng(0)
    for dtype in (np.uint16, np.int16, np.int8, np.float32):
        a = (rng.random((9, 8)) * 100).astype(dtype)
        got = imdilate(a, strel("square", 3))
        assert got.dtype == dtype
        ref = np.max([np.pad(a, 1, constant_values=np.iinfo(dtype).min if dtype != np.float32 else -np.inf)[
            i:i + 9, j:j + 8] for i in range(3) for j in range(3)], axis=0)
        np.testing.assert_array_equal(got, ref)
    # MATLAB's disk and a colour image, through Octave's morphology with the neighbourhood MATLAB exports (the
    # closed form of EccoPy's MATLAB masks, computed in the generator, not by leuknet)
    np.testing.assert_array_equal(imopen(IMAGES["G8"], strel("disk", 5)), FIX["imopen_G8_disk5"])
    np.testing.assert_array_equal(imclose(IMAGES["BW"], strel("disk", 5)), FIX["imclose_BW_disk5"].astype(bool))
    np.testing.assert_array_equal(imerode(FIX["in_RGB8"], strel("diamond", 1)), FIX["imerode_RGB8_diamond1"])


def test_grey_imclearborder_is_mathworks_subtraction():
    """MathWorks' imclearborder.m for a numeric image: I minus its reconstruction from the border values (Octave's
    instead zeroes only the pixels the reconstruction reaches fully, keeping 7 below). Hand-worked: the border's
    9 and 1s reach the interior at 1, so the 7 becomes 6 and everything else 0."""
    J = np.array([[9, 1, 1, 1], [1, 1, 7, 1], [1, 1, 1, 1]], np.uint8)
    np.testing.assert_array_equal(imclearborder(J), [[0, 0, 0, 0], [0, 0, 6, 0], [0, 0, 0, 0]])
    np.testing.assert_array_equal(imclearborder(J.astype(np.float64), 4), [[0, 0, 0, 0], [0, 0, 6, 0], [0, 0, 0, 0]])
    # on a logical image the grey definition and the component one agree
    np.testing.assert_array_equal(imclearborder(IMAGES["BW"].astype(np.uint8)),
                                  FIX["imclearborder_8"].astype(np.uint8))


def test_empty_nan_64_bit_and_class_edges():
    assert imdilate(np.zeros((0, 0)), strel("square", 3)).shape == (0, 0)
    assert imopen(np.zeros((0, 4), np.uint8), strel("disk", 3)).shape == (0, 4)
    assert imclearborder(np.zeros((0, 3), bool)).shape == (0, 3)
    with pytest.raises(ConfigError, match="NaN"):
        imdilate(np.array([[np.nan, 1.0], [2, 3]]), strel("square", 3))
    big = np.array([[1, 2], [3, 2 ** 64 - 1]], np.uint64)  # beyond float64's exact integers
    np.testing.assert_array_equal(imdilate(big, strel("square", 3)), np.full((2, 2), 2 ** 64 - 1, np.uint64))
    np.testing.assert_array_equal(imerode(big, [[1, 1, 0]]), np.array([[1, 1], [3, 3]], np.uint64))
    small = (np.random.default_rng(1).integers(-1000, 1000, (9, 8))).astype(np.int64)
    for se in (ELEMENTS["asym"], ELEMENTS["even"], strel("disk", 3)):
        for op in (imdilate, imerode):
            np.testing.assert_array_equal(op(small, se), op(small.astype(np.int32), se))
    numeric = np.array([[1, 0, 0], [0, 0, 0], [0, 1.0, 0]])
    cleared = imclearborder(np.pad(numeric, 1)[1:, 1:])
    assert cleared.dtype == np.float64


def test_reflect_translate_and_display():
    asym = strel(ELEMENTS["asym"])
    np.testing.assert_array_equal(reflect(asym).Neighborhood, ELEMENTS["asym"][::-1, ::-1].astype(bool))
    np.testing.assert_array_equal(reflect(strel([[1, 1]])).Neighborhood, [[0, 1, 1]])
    moved = translate(strel("square", 1), [1, -2])
    np.testing.assert_array_equal(np.argwhere(moved.Neighborhood) - np.array(moved.Neighborhood.shape) // 2,
                                  [[1, -2]])
    text = repr(strel("disk", 5))
    assert text.splitlines()[0] == "strel is a disk shaped structuring element with properties:"
    assert "Neighborhood: [9\u00d79 logical]" in text and "Dimensionality: 2" in text


@pytest.mark.parametrize("call, words", [
    (lambda: strel("ball", 3, 3), "flat"),
    (lambda: strel("disk", 2.5), "integer"),
    (lambda: strel("disk", 5, 5), "0, 4, 6 or 8"),
    (lambda: strel("octagon", 4), "multiple of 3"),
    (lambda: strel("line", 5), "2 parameter"),
    (lambda: strel("blob", 3), "shape"),
    (lambda: imdilate(np.zeros((3, 3)), "disk"), "structuring element"),
    (lambda: imdilate(np.zeros((3, 3)), np.zeros((3, 3))), "no members"),
    (lambda: imerode(np.zeros((3, 3)), strel("square", 3), "valid"), "same"),
    (lambda: imclearborder(np.zeros((2, 2, 3))), "2-D"),
    (lambda: strel("disk", 5, np.array([4, 4])), "0, 4, 6 or 8"),
    (lambda: translate(strel("square", 3), "ab"), "offset"),
])
def test_bad_input_is_one_line(call, words):
    with pytest.raises(ConfigError) as e:
        call()
    assert words in str(e.value) and "\n" not in str(e.value)
