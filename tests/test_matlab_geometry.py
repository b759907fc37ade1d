"""MATLAB's geometric transforms (randomAffine2d, affineOutputView, imwarp, imref2d, imrotate, flip) against
references leuknet does not compute: SciPy's ``map_coordinates`` (mode 'constant': no interpolation beyond the
edge, as MATLAB's interp2), NumPy's ``rot90`` / ``flip``, the documented composition of randomAffine2d, values
printed on MathWorks' pages, and geometry worked by hand."""

import math

import numpy as np
import pytest
from scipy import ndimage

from leuknet.errors import ConfigError
from leuknet.matlab import (affine2d, affineOutputView, affinetform2d, flip, fliplr, flipud, imref2d, imrotate,
                            imwarp, rand, randomAffine2d, rng, trainNetwork)


def image(h=9, w=13, c=3, seed=0, dtype=np.float64):
    a = np.random.default_rng(seed).random((h, w, c)) * 255
    return a.astype(dtype) if dtype != np.uint8 else np.floor(a).astype(np.uint8)


def test_random_affine_is_the_documented_composition_of_draws_from_the_global_stream():
    """randomAffine2d's source: one rand per range (XShear, YShear, Rotation, reflections when enabled, Scale,
    XTranslation, YTranslation), T = [Sh*R*F*S; tx ty] in row-vector form."""
    opts = dict(Rotation=[-30, 30], Scale=[0.8, 1.2], XShear=[-10, 10], YShear=[-5, 5], XTranslation=[-4, 4],
                YTranslation=[1, 3], XReflection=True, YReflection=True)
    rng(11)
    u = np.random.default_rng(11).random(8)  # the global stream after rng(11) is NumPy's default_rng(11)
    t = randomAffine2d(**opts)
    xs, ys, rot = -10 + 20 * u[0], -5 + 10 * u[1], -30 + 60 * u[2]
    fx, fy = (-1 if u[3] > 0.5 else 1), (-1 if u[4] > 0.5 else 1)
    s, tx, ty = 0.8 + 0.4 * u[5], -4 + 8 * u[6], 1 + 2 * u[7]
    sh = np.array([[1, math.tan(math.radians(ys))], [math.tan(math.radians(xs)), 1]])
    r = np.array([[math.cos(math.radians(rot)), -math.sin(math.radians(rot))],
                  [math.sin(math.radians(rot)), math.cos(math.radians(rot))]])
    expected = np.eye(3)
    expected[:2, :2] = sh @ r @ np.diag([fx, fy]) @ (s * np.eye(2))
    expected[2, :2] = tx, ty
    np.testing.assert_allclose(t.T, expected, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(t.A, t.T.T)
    # the identity defaults still draw one number per range (6), reflections none unless enabled
    rng(3)
    randomAffine2d()
    after = np.random.default_rng(3)
    after.random(6)
    rng(3)
    randomAffine2d()
    from leuknet.spec.randstream import generator

    assert generator().random() == after.random()


def test_function_handles_and_argument_errors():
    t = randomAffine2d("Rotation", lambda: 90.0)
    np.testing.assert_array_equal(t.T[:2, :2], [[0, -1], [1, 0]])  # cosd/sind exact at 90 degrees
    for bad in (dict(Rotation=[10, -10]), dict(Scale=[0, 2]), dict(XShear=[-90, 0]), dict(Rotation=5),
                dict(Spin=[0, 1]), dict(Scale=lambda: -1.0)):
        with pytest.raises(ConfigError) as e:
            randomAffine2d(**bad)
        assert "\n" not in str(e.value)
    with pytest.raises(ConfigError, match="last column"):
        affine2d([[1, 0, 1], [0, 1, 0], [0, 0, 1]])
    with pytest.raises(ConfigError, match="last row"):
        affinetform2d([[1, 0, 0], [0, 1, 0], [2, 3, 1]])
    with pytest.raises(ConfigError, match="cubic"):
        imwarp(image(), affine2d(), "cubic")


def test_row_vector_convention_of_affine2d():
    """affine2d's page: [x y 1] = [u v 1] * T; its example rotates 10 degrees counterclockwise with
    [cosd(10) -sind(10) 0; sind(10) cosd(10) 0; 0 0 1]."""
    c, s = math.cos(math.radians(10)), math.sin(math.radians(10))
    t = affine2d([[c, -s, 0], [s, c, 0], [0, 0, 1]])
    x, y = t.transformPointsForward(5, 10)
    assert (x, y) == pytest.approx((5 * c + 10 * s, -5 * s + 10 * c))
    np.testing.assert_allclose(t.transformPointsInverse(np.array([[5 * c + 10 * s, -5 * s + 10 * c]])), [[5, 10]])
    # affinetform2d (R2022b): column vectors, [x; y; 1] = A * [u; v; 1]
    a = affinetform2d([[2, 0.5, 3], [0, 1, -1], [0, 0, 1]])
    assert a.transformPointsForward(1, 2) == pytest.approx((2 + 1 + 3, 2 - 1))
    np.testing.assert_array_equal(a.T, [[2, 0, 0], [0.5, 1, 0], [3, -1, 1]])


def test_imref2d_defaults_and_the_published_pixel_extent():
    r = imref2d([100, 200, 3])
    np.testing.assert_array_equal(r.XWorldLimits, [0.5, 200.5])
    np.testing.assert_array_equal(r.YWorldLimits, [0.5, 100.5])
    np.testing.assert_array_equal(r.ImageSize, [100, 200])
    # MATLAB Answers 593431: imref2d([199 199], [1 100], [1 100]) has PixelExtentInWorldX 0.4975 (limits are the
    # pixels' outer edges)
    assert imref2d([199, 199], [1, 100], [1, 100]).PixelExtentInWorldX == pytest.approx(0.4975, abs=5e-5)
    assert imref2d([4, 5], 2, 3).XWorldLimits.tolist() == [1.0, 11.0]
    with pytest.raises(ConfigError):
        imref2d([4, 5], [3, 1], [0, 1])


@pytest.mark.parametrize("k", [1, 2, 3])
def test_rotation_by_multiples_of_90_is_numpys_rot90(k):
    """Positive angles turn the image counterclockwise on screen (randomAffine2d's and imrotate's pages), as
    NumPy's rot90 does; about the centre with the default CenterOutput view."""
    img = image(11, 11)
    t = randomAffine2d(Rotation=[90 * k, 90 * k])
    out = imwarp(img, t, "OutputView", affineOutputView(img.shape, t))
    np.testing.assert_allclose(out, np.rot90(img, k), rtol=0, atol=1e-9)
    np.testing.assert_array_equal(imrotate(img, 90 * k), np.rot90(img, k))
    wide = image(6, 10)
    assert imrotate(wide, 90).shape == (10, 6, 3)
    cropped = imrotate(wide, 90, "crop")  # MathWorks: the centred square rotated, the rest 0
    np.testing.assert_array_equal(cropped[:, 2:8], np.rot90(wide[:, 2:8], 1))
    assert not cropped[:, :2].any() and not cropped[:, 8:].any()


def test_reflections_are_flips_and_translation_moves_whole_pixels():
    img = image(7, 10, dtype=np.uint8)
    tx = randomAffine2d(XReflection=lambda: True)
    np.testing.assert_array_equal(imwarp(img, tx, "OutputView", affineOutputView(img.shape, tx)), fliplr(img))
    ty = randomAffine2d(YReflection=lambda: 1)
    np.testing.assert_array_equal(imwarp(img, ty, "OutputView", affineOutputView(img.shape, ty)), flipud(img))
    tt = randomAffine2d(XTranslation=[3, 3], YTranslation=[-2, -2])
    moved = imwarp(img, tt, "OutputView", affineOutputView(img.shape, tt))
    expected = np.zeros_like(img)
    expected[:-2, 3:] = img[2:, :-3]
    np.testing.assert_array_equal(moved, expected)
    # SameAsInput: the frame stays; FollowOutput: the frame moves with the image (nothing lost, nothing added)
    np.testing.assert_array_equal(imwarp(img, tt, "OutputView", affineOutputView(img.shape, tt,
                                                                                "BoundsStyle", "same")), expected)
    np.testing.assert_array_equal(imwarp(img, tt), img)


def reference_warp(img, linear, t, fill, out_hw=None):
    """The CenterOutput warp by hand: output pixel (i, j) (1-based) samples c + inv(L) ((j, i) - c - t), c the
    image centre ((W+1)/2, (H+1)/2), L the linear part in column form; SciPy interpolates (0-based (row, col))."""
    h, w = img.shape[:2]
    oh, ow = out_hw or (h, w)
    c = np.array([(w + 1) / 2, (h + 1) / 2])
    j, i = np.meshgrid(np.arange(1, ow + 1), np.arange(1, oh + 1))
    p = np.stack([j.ravel(), i.ravel()]) - (c + t)[:, None]
    src = np.linalg.inv(linear) @ p + c[:, None]
    out = np.stack([ndimage.map_coordinates(img[:, :, k].astype(np.float64), [src[1] - 1, src[0] - 1], order=1,
                                            mode="constant", cval=fill[k]) for k in range(img.shape[2])], axis=-1)
    return out.reshape(oh, ow, -1)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_warp_matches_scipy_bilinear_with_fill_outside(seed):
    img = image(17, 23, seed=seed)
    rng(seed)
    t = randomAffine2d(Rotation=[-40, 40], Scale=[0.7, 1.3], XShear=[-15, 15], XTranslation=[-3, 3],
                       YReflection=True)
    fill = np.array([10.0, 20.0, 30.0])
    out = imwarp(img, t, "OutputView", affineOutputView(img.shape, t), "FillValues", fill)
    expected = reference_warp(img, t.A[:2, :2], t.A[:2, 2], fill)
    np.testing.assert_allclose(out, expected, rtol=0, atol=1e-7)
    assert (out == fill).all(axis=-1).any()  # corners come from outside
    # uint8 keeps its class, rounded half away from zero as MATLAB casts
    u8 = image(17, 23, seed=seed, dtype=np.uint8)
    out8 = imwarp(u8, t, "OutputView", affineOutputView(u8.shape, t))
    ref8 = reference_warp(u8, t.A[:2, :2], t.A[:2, 2], [0, 0, 0])
    assert out8.dtype == np.uint8
    np.testing.assert_array_equal(out8, np.floor(ref8 + 0.5).astype(np.uint8))


def test_nearest_and_grey_images():
    img = image(9, 9, c=1)[:, :, 0]
    t = randomAffine2d(Rotation=[17, 17], Scale=[1.1, 1.1])
    out = imwarp(img, t, "nearest", "OutputView", affineOutputView(img.shape, t))
    assert out.shape == (9, 9)
    h, w = img.shape
    c = np.array([(w + 1) / 2, (h + 1) / 2])
    j, i = np.meshgrid(np.arange(1, w + 1), np.arange(1, h + 1))
    src = np.linalg.inv(t.A[:2, :2]) @ (np.stack([j.ravel(), i.ravel()]) - c[:, None]) + c[:, None]
    ref = ndimage.map_coordinates(img, [src[1] - 1, src[0] - 1], order=0, mode="constant", cval=0.0).reshape(h, w)
    np.testing.assert_array_equal(out, ref)


def rotate_reference(img, angle, method, loose):
    """imrotate by hand: about the centre, counterclockwise on screen, the image padded with zeros (MathWorks'
    imrotate warps with SmoothEdges on); loose: the output grid of the rotated bounding box, rounded up."""
    h, w = img.shape
    a = math.radians(angle)
    rot = np.array([[math.cos(a), math.sin(a)], [-math.sin(a), math.cos(a)]])  # column form, y down
    oh, ow = (math.ceil(w * abs(math.sin(a)) + h * abs(math.cos(a))),
              math.ceil(w * abs(math.cos(a)) + h * abs(math.sin(a)))) if loose else (h, w)
    ci, co = np.array([(w + 1) / 2, (h + 1) / 2]), np.array([(ow + 1) / 2, (oh + 1) / 2])
    j, i = np.meshgrid(np.arange(1, ow + 1), np.arange(1, oh + 1))
    src = np.linalg.inv(rot) @ (np.stack([j.ravel(), i.ravel()]) - co[:, None]) + ci[:, None]
    padded = np.pad(img.astype(np.float64), 3)
    if method == "bilinear":
        out = ndimage.map_coordinates(padded, [src[1] + 2, src[0] + 2], order=1, mode="constant", cval=0.0)
    else:  # the nearest pixel centre, a tie rounded up (MATLAB's round of positive coordinates)
        r, q = np.floor(src[1] + 2 + 0.5).astype(int), np.floor(src[0] + 2 + 0.5).astype(int)
        ok = (r >= 0) & (r < h + 6) & (q >= 0) & (q < w + 6)
        out = np.where(ok, padded[r.clip(0, h + 5), q.clip(0, w + 5)], 0.0)
    return out.reshape(oh, ow)


@pytest.mark.parametrize("method", ["nearest", "bilinear"])
@pytest.mark.parametrize("bbox", ["loose", "crop"])
def test_imrotate_pixels_match_a_rotation_about_the_centre(method, bbox):
    img = image(12, 17, c=1, seed=4)[:, :, 0]
    for angle in (37, -113):  # angles whose sampling points fall on no half-pixel tie
        out = imrotate(img, angle, method, bbox)
        np.testing.assert_allclose(out, rotate_reference(img, angle, method, bbox == "loose"), rtol=0, atol=1e-9)


def test_default_view_holds_the_whole_image_and_imrotate_loose_size():
    """Rotating W x H by a about the centre needs W|cos a| + H|sin a| by W|sin a| + H|cos a| (rounded up)."""
    img = image(100, 200, c=1, dtype=np.uint8)[:, :, 0]
    a = math.radians(30)
    size = (math.ceil(200 * math.sin(a) + 100 * math.cos(a)), math.ceil(200 * math.cos(a) + 100 * math.sin(a)))
    out, ref = imwarp(img, randomAffine2d(Rotation=[30, 30]), nargout=2)
    assert out.shape == size and tuple(ref.ImageSize) == size
    assert imrotate(img, 30).shape == size
    assert imrotate(img, 30, "bilinear", "crop").shape == img.shape
    assert imrotate(img, -30, "crop")[50, 100] == img[50, 100]  # about the centre (pixel centre (100.5, 50.5))


def test_spatial_referencing_output_views_and_classes():
    img = image(9, 13)
    # an input in world units of 2 per pixel: the identity keeps the image, on the same grid
    ra = imref2d(img.shape, 2, 2)
    out, rout = imwarp(img, ra, affine2d(), nargout=2)
    np.testing.assert_allclose(out, img, atol=1e-12)
    assert rout.PixelExtentInWorldX == 2 and rout.XWorldLimits.tolist() == [1.0, 27.0]
    with pytest.raises(ConfigError, match="ImageSize"):
        imwarp(img, imref2d([8, 10]), affine2d())
    # an output view smaller than the image: the pixels it covers
    np.testing.assert_allclose(imwarp(img, affine2d(), "OutputView", imref2d([5, 6])), img[:5, :6], atol=1e-12)
    # classes kept: uint16 rounded half away from zero, float32, logical
    t = randomAffine2d(Rotation=[25, 25])
    for dtype in (np.uint16, np.float32):
        a = (image(9, 13, c=1)[:, :, 0] * 100).astype(dtype)
        got = imwarp(a, t, "OutputView", affineOutputView(a.shape, t))
        ref = reference_warp(a[:, :, None], t.A[:2, :2], t.A[:2, 2], [0.0])[:, :, 0]
        assert got.dtype == dtype
        np.testing.assert_allclose(got, np.floor(ref + 0.5) if dtype == np.uint16 else ref, rtol=1e-6, atol=1e-3)
    mask = image(9, 13, c=1)[:, :, 0] > 128
    assert imwarp(mask, t).dtype == np.bool_
    # the +-90 degree crop of an image whose sides differ by an odd number (MathWorks' imbegin: floor of halves)
    odd = image(7, 10, c=1)[:, :, 0]
    cropped = imrotate(odd, -90, "crop")
    np.testing.assert_array_equal(cropped[:, 2:9], np.rot90(odd[:, 2:9], -1))
    assert not cropped[:, :2].any() and not cropped[:, 9:].any()


def test_smooth_edges_blends_the_border_with_the_fill_value():
    """imwarp's page: SmoothEdges pads the image with FillValues; without it a point outside the pixel centres
    is the fill value (no blending). A shift of half a pixel puts the first column half outside."""
    img = np.full((4, 6), 100.0)
    t = affine2d([[1, 0, 0], [0, 1, 0], [0.5, 0, 1]])
    view = imref2d(img.shape)
    hard = imwarp(img, t, "OutputView", view, "FillValues", 20)
    soft = imwarp(img, t, "OutputView", view, "FillValues", 20, "SmoothEdges", True)
    np.testing.assert_allclose(hard[:, 0], 20.0)
    np.testing.assert_allclose(soft[:, 0], 60.0)  # halfway between the pixel and the fill
    np.testing.assert_allclose(hard[:, 1:], 100.0)
    np.testing.assert_allclose(soft[:, 1:], 100.0)
    # the fill value is cast to the image's class first (MATLAB's cast(fillValues, 'like', A)): 300 is 255 in uint8
    u8 = np.full((4, 6), 100, np.uint8)
    blended = imwarp(u8, t, "OutputView", view, "FillValues", 300, "SmoothEdges", True)
    np.testing.assert_array_equal(blended[:, 0], 178)  # (100 + 255) / 2 = 177.5, rounded half away from zero


def test_flip_matches_the_pages_examples():
    """flip's page: flip(diag([100 200 300])) and flip(..., 2)."""
    d = np.diag([100, 200, 300])
    np.testing.assert_array_equal(flip(d), [[0, 0, 300], [0, 200, 0], [100, 0, 0]])
    np.testing.assert_array_equal(flip(d, 2), [[0, 0, 100], [0, 200, 0], [300, 0, 0]])
    np.testing.assert_array_equal(flip(np.array([[1, 2, 3]])), [[3, 2, 1]])  # first non-singleton dimension
    rgb = image(2, 2)
    np.testing.assert_array_equal(flip(rgb, 3), rgb[:, :, ::-1])
    # a 1-D array is a row vector (1 x N), as size() reports it; a scalar is itself
    np.testing.assert_array_equal(fliplr([1, 2, 3]), [3, 2, 1])
    np.testing.assert_array_equal(flip(np.array([1, 2, 3]), 2), [3, 2, 1])
    np.testing.assert_array_equal(flipud(np.array([1, 2, 3])), [1, 2, 3])
    assert flip(5) == 5


@pytest.mark.slow
def test_offline_augmentation_loop_into_a_4d_array_trains(tmp_path):
    """The pattern of public MATLAB augmentation scripts: random affine copies of each training image appended to
    an H x W x C x N array with repeated labels, then trainNetwork(X, Y, layers, options)."""
    from leuknet.matlab import (categorical, classificationLayer, convolution2dLayer, fullyConnectedLayer,
                                imageInputLayer, maxPooling2dLayer, reluLayer, softmaxLayer, trainingOptions)

    gen = np.random.default_rng(0)
    X = np.zeros((16, 16, 3, 12), np.uint8)
    labels = []
    for n in range(12):
        big = n % 2 == 0
        X[4:12, 4:12, :, n] = 220 if big else 60
        labels.append("all" if big else "hem")
    X += gen.integers(0, 30, X.shape).astype(np.uint8)
    rng("default")
    copies, more = [], []
    for n in range(12):
        img = X[:, :, :, n]
        if round(rand()):
            img = flip(img, 2)
        tform = randomAffine2d("Rotation", [-10, 10], "XTranslation", [-2, 2], "YTranslation", [-2, 2])
        outputView = affineOutputView(img.shape, tform)
        copies.append(imwarp(img, tform, "OutputView", outputView))
        more.append(labels[n])
    X2 = np.concatenate([X, np.stack(copies, axis=3)], axis=3)
    Y = categorical(labels + more)
    layers = [imageInputLayer([16, 16, 3]), convolution2dLayer(3, 4, "Padding", "same"), reluLayer,
              maxPooling2dLayer(2, "Stride", 2), fullyConnectedLayer(2), softmaxLayer, classificationLayer]
    options = trainingOptions("sgdm", "MaxEpochs", 2, "MiniBatchSize", 8, "Verbose", False)
    net = trainNetwork(X2, Y, layers, options)
    assert net.Layers[-1].Classes.tolist() == ["all", "hem"]


def test_integer_conversions_round_and_saturate_as_matlab():
    """https://www.mathworks.com/help/matlab/ref/uint8.html: values rounded to the nearest integer (halves away from
    zero), saturated at the class's range, NaN to 0; NumPy's astype truncates and wraps instead."""
    from leuknet.matlab import int16, transformPointsForward, uint8, uint16

    np.testing.assert_array_equal(uint8([300.0, -2, 2.5, 3.5, np.nan, 1.49]), [255, 0, 3, 4, 0, 1])
    assert uint16(70000.4) == 65535 and int16(-2.5) == -3 and uint8(np.array([7], np.uint8)).dtype == np.uint8
    np.testing.assert_allclose(transformPointsForward(affine2d([[1, 0, 0], [0, 1, 0], [2, 3, 1]]), [1, 2]), [[3, 5]])
