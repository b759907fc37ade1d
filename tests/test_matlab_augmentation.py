"""imageDataAugmenter, augment, augmentedImageDatastore, the pipeline's augmenter hook and grey data.

References are independent of leuknet's code: hand-computed pixel positions, NumPy flips/rotations, and OpenCV's
warpAffine with the matrix written out here from MathWorks' imageDataAugmenter formula (row vectors, the
transform T = Rc * Shc * Scc * Refc * Tr about the centre ((W-1)/2, (H-1)/2))."""

import cv2
import numpy as np
import pytest

from conftest import write_image
from leuknet.data.pipeline import ImageData, load_image_data
from leuknet.errors import ConfigError, DataError
from leuknet.matlab import augment, augmentedImageDatastore, imageDataAugmenter
from leuknet.matlab.augmentation import augmenter_from_spec


def matlab_tform(h, w, rot=0.0, xsh=0.0, ysh=0.0, xs=1.0, ys=1.0, xr=1.0, yr=1.0, tx=0.0, ty=0.0):
    """MathWorks' imageDataAugmenter transform in MATLAB's post-multiply (row vector) form, transcribed from the
    formula: [u v 1] = [x y 1] * T."""
    c, s = np.cos(np.radians(rot)), np.sin(np.radians(rot))
    R = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])
    Sh = np.array([[1, np.tan(np.radians(ysh)), 0], [np.tan(np.radians(xsh)), 1, 0], [0, 0, 1]])
    Sc = np.diag([xs, ys, 1.0])
    Ref = np.diag([xr, yr, 1.0])
    Tr = np.eye(3)
    Tr[2, :2] = tx, ty
    to0, back = np.eye(3), np.eye(3)
    to0[2, :2] = -(w - 1) / 2, -(h - 1) / 2
    back[2, :2] = (w - 1) / 2, (h - 1) / 2
    centred = [to0 @ m @ back for m in (R, Sh, Sc, Ref)]
    return centred[0] @ centred[1] @ centred[2] @ centred[3] @ Tr


def opencv_reference(img, T, fill=0):
    """OpenCV warpAffine with MATLAB's row-vector matrix T (its transpose is the column-vector affine)."""
    h, w = img.shape[:2]
    out = cv2.warpAffine(img, T.T[:2].astype(np.float64), (w, h), flags=cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_CONSTANT, borderValue=fill)
    return out.reshape(img.shape)


def dot(h, w, y, x, c=None):
    img = np.zeros((h, w) if c is None else (h, w, c), np.uint8)
    img[y, x] = 255
    return img


def bright(img):
    return [tuple(p) for p in np.argwhere(img >= 250)]


# -- defaults, options ---------------------------------------------------------------------------------------

def test_defaults_are_matlabs_and_the_identity():
    aug = imageDataAugmenter()
    assert aug.FillValue == 0 and aug.RandXReflection is False and aug.RandYReflection is False
    assert aug.RandRotation == (0, 0) and aug.RandScale == (1, 1)
    assert aug.RandXScale == (1, 1) and aug.RandYScale == (1, 1)
    assert aug.RandXShear == (0, 0) and aug.RandYShear == (0, 0)
    assert aug.RandXTranslation == (0, 0) and aug.RandYTranslation == (0, 0)
    img = np.random.default_rng(0).integers(0, 256, (7, 9, 3), dtype=np.uint8)
    np.testing.assert_array_equal(augment(aug, img), img)
    text = repr(aug)
    assert text.startswith("imageDataAugmenter with properties") and "RandRotation: [0 0]" in text


def test_options_follow_matlab_conventions_and_are_checked():
    a = imageDataAugmenter("randrotation", [-10, 10], RandXReflection=1)
    assert a.RandRotation == (-10, 10) and a.RandXReflection is True
    a.RandYTranslation = [-2, 2]
    assert a.RandYTranslation == (-2, 2)
    for bad in [dict(RandRotation=[10, -10]), dict(RandRotation=5), dict(RandXShear=[-90, 0]),
                dict(RandXScale=[0, 1]), dict(FillValue=[1, 2]), dict(RandXReflection="maybe"), dict(Rotation=[0, 1])]:
        with pytest.raises(ConfigError) as e:
            imageDataAugmenter(**bad)
        assert str(e.value).startswith("imageDataAugmenter:") and "\n" not in str(e.value)
    with pytest.raises(ConfigError, match="RandScale"):  # MATLAB: RandScale excludes RandXScale / RandYScale
        imageDataAugmenter(RandScale=[0.5, 2], RandXScale=[0.9, 1.1])
    with pytest.raises(ConfigError, match="RandScale"):
        a = imageDataAugmenter(RandScale=[0.5, 2])
        a.RandYScale = [1, 2]


# -- geometry ------------------------------------------------------------------------------------------------

def test_rotation_is_anticlockwise_about_the_centre():
    # 7 x 9 image: centre (x, y) = (4, 3); the pixel 2 to the right of it goes 2 above it after +90 degrees
    out = augment(imageDataAugmenter(RandRotation=[90, 90]), dot(7, 9, 3, 6))
    assert bright(out) == [(1, 4)]
    img = np.random.default_rng(1).integers(0, 256, (5, 5, 3), dtype=np.uint8)
    np.testing.assert_array_equal(augment(imageDataAugmenter(RandRotation=[90, 90]), img), np.rot90(img, 1))
    np.testing.assert_array_equal(augment(imageDataAugmenter(RandRotation=[180, 180]), img), img[::-1, ::-1])
    # a function returning the angle (MATLAB's function handle)
    np.testing.assert_array_equal(augment(imageDataAugmenter(RandRotation=lambda: -90), img), np.rot90(img, -1))


@pytest.mark.parametrize("name,flip", [("RandXReflection", lambda a: a[:, ::-1]),
                                       ("RandYReflection", lambda a: a[::-1])])
def test_each_reflection_flips_about_the_centre_with_probability_one_half(name, flip):
    aug = imageDataAugmenter(**{name: True})
    aug.rng = np.random.default_rng(0)
    img = np.random.default_rng(2).integers(0, 256, (6, 7, 3), dtype=np.uint8)
    flipped = 0
    for _ in range(200):
        out = augment(aug, img)
        if np.array_equal(out, flip(img)):
            flipped += 1
        else:
            np.testing.assert_array_equal(out, img)
    assert 70 < flipped < 130  # binomial(200, 0.5): mean 100, sd 7


def test_translation_moves_by_pixels_and_fills():
    img = np.random.default_rng(3).integers(1, 256, (6, 8), dtype=np.uint8)
    out = augment(imageDataAugmenter(RandXTranslation=[2, 2], RandYTranslation=[-1, -1], FillValue=7), img)
    expected = np.full_like(img, 7)
    expected[:-1, 2:] = img[1:, :-2]  # out(x + 2, y - 1) = in(x, y)
    np.testing.assert_array_equal(out, expected)
    rgb = np.random.default_rng(4).integers(1, 256, (5, 6, 3), dtype=np.uint8)
    out = augment(imageDataAugmenter(RandXTranslation=[3, 3], FillValue=[10, 20, 30]), rgb)
    np.testing.assert_array_equal(out[:, :3], np.broadcast_to([10, 20, 30], (5, 3, 3)))
    np.testing.assert_array_equal(out[:, 3:], rgb[:, :3])
    with pytest.raises(DataError, match="FillValue"):
        augment(imageDataAugmenter(FillValue=[1, 2, 3]), img)


def test_scale_and_shear_move_pixels_as_the_formula_says():
    # scale 2 about the centre (4, 3) of a 7 x 9 image: the pixel one right of the centre lands two right of it
    out = augment(imageDataAugmenter(RandScale=[2, 2]), dot(7, 9, 3, 5))
    assert out[3, 6] == 255 and abs(int(out[3, 5]) - 127.5) <= 1  # halfway between the centre (0) and the dot
    assert bright(augment(imageDataAugmenter(RandXScale=[3, 3]), dot(7, 9, 3, 5))) == [(3, 7)]
    assert bright(augment(imageDataAugmenter(RandYScale=[2, 2]), dot(7, 9, 2, 4))) == [(1, 4)]
    # x shear of 45 degrees: x moves by tan(45) * (y - cy); y shear: y moves by tan(45) * (x - cx)
    assert bright(augment(imageDataAugmenter(RandXShear=[45, 45]), dot(7, 9, 5, 4))) == [(5, 6)]
    assert bright(augment(imageDataAugmenter(RandYShear=[45, 45]), dot(7, 9, 3, 2))) == [(1, 2)]


def test_composition_matches_opencv_with_mathworks_matrix():
    rng = np.random.default_rng(5)
    img = cv2.GaussianBlur(rng.integers(0, 256, (21, 26, 3), dtype=np.uint8), (5, 5), 0)
    p = dict(rot=25.0, xsh=10.0, ysh=-5.0, xs=1.2, ys=0.9, tx=3.0, ty=-2.0)
    aug = imageDataAugmenter(RandRotation=[25, 25], RandXShear=[10, 10], RandYShear=[-5, -5], RandXScale=[1.2, 1.2],
                             RandYScale=[0.9, 0.9], RandXTranslation=[3, 3], RandYTranslation=[-2, -2], FillValue=40)
    ref = opencv_reference(img, matlab_tform(21, 26, **p), fill=(40, 40, 40))
    np.testing.assert_array_equal(augment(aug, img), ref)
    # with a random x reflection: each result is one of the two references, both occur
    aug.RandXReflection = True
    refl = opencv_reference(img, matlab_tform(21, 26, xr=-1.0, **p), fill=(40, 40, 40))
    seen = set()
    for _ in range(20):
        out = augment(aug, img)
        seen.add(0 if np.array_equal(out, ref) else 1 if np.array_equal(out, refl) else -1)
    assert seen == {0, 1}


def test_augment_gives_a_list_the_same_transformation():
    aug = imageDataAugmenter(RandRotation=[-180, 180])
    img = np.random.default_rng(6).integers(0, 256, (9, 9), dtype=np.uint8)
    a, b = augment(aug, [img, img.copy()])
    np.testing.assert_array_equal(a, b)
    f = augment(aug, img.astype(np.float64) / 255)
    assert f.dtype == np.float64 and f.shape == (9, 9)


# -- the pipeline hook ---------------------------------------------------------------------------------------

def memory_data(seed=0, n=6, aug=None):
    imgs = np.random.default_rng(7).integers(0, 256, (n, 10, 10, 3), dtype=np.uint8)
    return ImageData(np.arange(n) % 2, (10, 10), images=imgs, augmenter=aug, augment_seed=seed)


def stream(data, order, bs=4):
    return np.concatenate([x.numpy() for x, _ in data.batches(order, bs)])


def test_a_fresh_transform_every_epoch_reproducible_for_a_seed():
    aug = imageDataAugmenter(RandRotation=[-180, 180])
    two_epochs = np.r_[np.arange(6), np.arange(6)]
    a = stream(memory_data(1, aug=aug), two_epochs)
    assert not np.array_equal(a[:6], a[6:])  # epoch 2 sees new transforms
    np.testing.assert_array_equal(a, stream(memory_data(1, aug=aug), two_epochs))
    assert not np.array_equal(a, stream(memory_data(2, aug=aug), two_epochs))
    # validation / prediction read through the augmenter too, afresh at each pass
    d = memory_data(1, aug=aug)
    v1 = np.concatenate([np.asarray(x) for x, _ in d.stored_batches(4)])
    v2 = np.concatenate([np.asarray(x) for x, _ in d.stored_batches(4)])
    assert not np.array_equal(v1, d.images) and not np.array_equal(v1, v2)
    # without an augmenter: the stored slices, unchanged
    plain = memory_data()
    np.testing.assert_array_equal(next(plain.stored_batches(6))[0], plain.images)
    assert next(plain.stored_batches(6))[0].base is plain.images


def test_translation_of_cached_resized_images_is_in_source_pixels(tmp_path):
    """A file of 24 x 24 cached at 12 x 12: a 4-pixel translation of the source is 2 pixels of the cached image
    (conjugated by the resize); streamed from the file, the source is shifted at its size, then resized."""
    src = np.zeros((24, 24, 3), np.uint8)
    src[8:12, 8:16] = (200, 100, 50)
    path = str(write_image(tmp_path / "a.png", src))
    aug = imageDataAugmenter(RandXTranslation=[4, 4], RandYTranslation=[-4, -4])
    plain, _ = load_image_data([path], [0], (12, 12))
    assert plain.source_sizes.tolist() == [[24, 24]]
    resized = plain.images[0]
    expected = np.zeros_like(resized)
    expected[:-2, 2:] = resized[2:, :-2]
    cached, _ = load_image_data([path], [0], (12, 12))
    cached.augmenter = aug
    np.testing.assert_array_equal(stream(cached, [0])[0], expected)
    streamed, _ = load_image_data([path], [0], (12, 12), cache_budget_mb=0)
    streamed.augmenter = aug
    np.testing.assert_array_equal(stream(streamed, [0])[0], expected)


# -- channels ------------------------------------------------------------------------------------------------

def test_grey_files_with_one_channel_and_colour_conversions(tmp_path):
    rng = np.random.default_rng(8)
    grey = rng.integers(0, 256, (6, 6), dtype=np.uint8)
    rgb = rng.integers(0, 256, (6, 6, 3), dtype=np.uint8)
    rgb[0, :4] = [[255, 0, 0], [0, 255, 0], [0, 0, 255], [10, 200, 30]]
    g, c = str(write_image(tmp_path / "g.png", grey)), str(write_image(tmp_path / "c.png", rgb))
    for budget in (2048, 0):  # in memory and streamed
        d, _ = load_image_data([g], [0], (6, 6), channels=1, cache_budget_mb=budget)
        x = stream(d, [0])
        assert x.shape == (1, 6, 6, 1)
        np.testing.assert_array_equal(x[0, ..., 0], grey)
    d, _ = load_image_data([g], [0], (6, 6))  # 3 channels: replicated (leuknet's default)
    np.testing.assert_array_equal(d.images[0], np.repeat(grey[..., None], 3, 2))
    with pytest.raises(DataError, match="3 channels, the input layer takes 1.*'ColorPreprocessing', 'rgb2gray'"):
        load_image_data([g, c], [0, 1], (6, 6), channels=1)
    d, _ = load_image_data([c], [0], (6, 6), channels=1, color_preprocessing="rgb2gray")
    w = np.array([0.298936021293775, 0.587043074451121, 0.114020904255103])  # MathWorks rgb2gray
    np.testing.assert_array_equal(d.images[0, ..., 0], np.floor(rgb @ w + 0.5).astype(np.uint8))
    assert d.images[0, 0, :4, 0].tolist() == [76, 150, 29, 124]  # MATLAB's rgb2gray of red, green, blue, [10 200 30]
    rgba = np.dstack([rgb[..., ::-1], np.full((6, 6), 128, np.uint8)])  # BGRA as OpenCV writes it
    cv2.imwrite(str(tmp_path / "a.png"), rgba)
    d, _ = load_image_data([str(tmp_path / "a.png")], [0], (6, 6))
    np.testing.assert_array_equal(d.images[0], rgb)
    with pytest.raises(ConfigError):
        load_image_data([g], [0], (6, 6), channels=1, colorspace="hsv")


# -- crops ---------------------------------------------------------------------------------------------------

def test_centercrop_and_randcrop_windows():
    X = np.random.default_rng(9).integers(0, 256, (3, 7, 9, 3), dtype=np.uint8)
    ds = augmentedImageDatastore([4, 5], X, ["a", "b", "a"], "OutputSizeMode", "centercrop")
    d, _ = ds.image_data((4, 5, 3))
    np.testing.assert_array_equal(stream(d, [0, 1, 2]), X[:, 1:5, 2:7])  # floor((7-4)/2), floor((9-5)/2)
    ds = augmentedImageDatastore([4, 5], X, ["a", "b", "a"], OutputSizeMode="randcrop")
    d, _ = ds.image_data((4, 5, 3))
    seen = set()
    for img in stream(d, np.zeros(40, np.int64), 8):
        hits = [(r, c) for r in range(4) for c in range(5) if np.array_equal(img, X[0, r : r + 4, c : c + 5])]
        assert hits
        seen.add(hits[0])
    assert len(seen) > 5  # a fresh window each read
    with pytest.raises(DataError, match="centercrop"):
        augmentedImageDatastore([8, 5], X, OutputSizeMode="centercrop").image_data((8, 5, 3))


def test_crop_after_augmentation_from_files(tmp_path):
    """MATLAB order: augment the whole image, then cut the window (here a translation then the centre crop)."""
    src = np.random.default_rng(10).integers(0, 256, (9, 11, 3), dtype=np.uint8)
    path = str(write_image(tmp_path / "x.png", src))
    from leuknet.matlab import imageDatastore

    imds = imageDatastore(str(tmp_path))
    aug = imageDataAugmenter(RandXTranslation=[1, 1])
    ds = augmentedImageDatastore([5, 5], imds, DataAugmentation=aug, OutputSizeMode="centercrop")
    d, _ = ds.image_data((5, 5, 3))
    shifted = np.zeros_like(src)
    shifted[:, 1:] = src[:, :-1]
    np.testing.assert_array_equal(stream(d, [0])[0], shifted[2:7, 3:8])
    assert imds.Files == [path]


# -- augmentedImageDatastore ---------------------------------------------------------------------------------

def test_augmented_datastore_from_arrays_in_both_orders():
    rng = np.random.default_rng(11)
    X = rng.integers(0, 256, (5, 12, 12, 1), dtype=np.uint8)
    Y = ["b", "a", "b", "a", "a"]
    nhwc = augmentedImageDatastore([6, 6], X, Y)
    hwcn = augmentedImageDatastore([6, 6], np.moveaxis(X, 0, 3), Y)
    assert nhwc.NumObservations == len(hwcn) == 5 and nhwc.Labels.categories == ["a", "b"]
    d1, c1 = nhwc.image_data((6, 6, 1))
    d2, c2 = hwcn.image_data((6, 6, 1), classes=["b", "a"])
    np.testing.assert_array_equal(d1.images, d2.images)
    assert d1.images.shape == (5, 6, 6, 1) and c1 == ["a", "b"] and c2 == ["b", "a"]
    assert d1.labels.tolist() == [1, 0, 1, 0, 0] and d2.labels.tolist() == [0, 1, 0, 1, 1]
    assert d1.source_sizes.tolist() == [[12, 12]] * 5
    with pytest.raises(DataError, match="6x6 but the input layer expects images of size 8x8x1"):
        nhwc.image_data((8, 8, 1))
    with pytest.raises(DataError, match="gray2rgb"):
        nhwc.image_data((6, 6, 3))
    rgb = augmentedImageDatastore([6, 6], X, Y, "ColorPreprocessing", "gray2rgb")
    d3, _ = rgb.image_data((6, 6, 3))
    np.testing.assert_array_equal(d3.images, np.repeat(d1.images, 3, axis=3))
    t = rgb.read()
    assert len(t) == 5 and t.input[0].shape == (6, 6, 3) and t.response.tolist() == Y and not rgb.hasdata()
    with pytest.raises(ConfigError, match="OutputSizeMode"):
        augmentedImageDatastore([6, 6], X, Y, OutputSizeMode="stretch")
    with pytest.raises(ConfigError, match="outputSize"):
        augmentedImageDatastore([0, 6], X, Y)


def test_augmented_datastore_from_an_image_datastore_with_grey_files(tmp_path):
    from leuknet.matlab import imageDatastore

    rng = np.random.default_rng(12)
    for k, lab in enumerate(["hem", "all", "hem", "all"]):
        write_image(tmp_path / lab / f"{k}.png", rng.integers(0, 256, (10, 8), dtype=np.uint8))
    imds = imageDatastore(str(tmp_path), "IncludeSubfolders", True, "LabelSource", "foldernames")
    ds = augmentedImageDatastore([5, 4], imds, "ColorPreprocessing", "gray2rgb",
                                 "DataAugmentation", imageDataAugmenter(RandRotation=[-10, 10]))
    d, classes = ds.image_data((5, 4, 3))
    assert classes == ["all", "hem"] and d.images.shape == (4, 5, 4, 3) and d.augmenter is ds.DataAugmentation
    assert d.source_sizes.tolist() == [[10, 8]] * 4
    assert stream(d, [0, 1, 2, 3]).shape == (4, 5, 4, 3)
    grey = augmentedImageDatastore([5, 4], imds)
    assert grey.image_data((5, 4, 1))[0].images.shape == (4, 5, 4, 1)
    assert grey.preview().input[0].shape == (5, 4)


def test_tiny_network_trains_on_augmented_data_for_two_epochs():
    from leuknet.matlab import (classificationLayer, convolution2dLayer, fullyConnectedLayer, imageInputLayer,
                                reluLayer, softmaxLayer, trainingOptions)
    from leuknet.matlab.layers import assemble
    from leuknet.train import Trainer

    rng = np.random.default_rng(13)
    y = rng.integers(0, 2, 16)
    x = rng.integers(0, 60, (16, 8, 8, 1)).astype(np.uint8)
    x[y == 1, 2:6, 2:6] += 150
    model, _ = assemble([imageInputLayer([8, 8, 1]), convolution2dLayer(3, 4), reluLayer(), fullyConnectedLayer(2),
                         softmaxLayer(), classificationLayer()], classes=["a", "b"])
    data = ImageData(y, (8, 8), images=x, channels=1,
                     augmenter=imageDataAugmenter(RandRotation=[-90, 90], RandXReflection=True), augment_seed=3)
    info = Trainer(model, trainingOptions("adam", MaxEpochs=2, MiniBatchSize=4, Verbose=False)).fit(data, seed=0)
    loss = info.as_dict()["TrainingLoss"]
    assert len(loss) == 8 and np.all(np.isfinite(loss))  # floor(16 / 4) iterations x 2 epochs


# -- the CLI's --augment -------------------------------------------------------------------------------------

def test_cli_augment_specs():
    a = augmenter_from_spec("RandRotation=-20,20;RandXReflection=true; RandXTranslation=-3,3")
    assert a.RandRotation == (-20, 20) and a.RandXReflection is True and a.RandXTranslation == (-3, 3)
    r = augmenter_from_spec("random")
    assert r.RandRotation == (-180, 180) and r.RandXReflection and r.RandYReflection
    assert augmenter_from_spec("none") is None
    for bad in ["RandRotation=20,-20", "Rotation=1,2", "RandRotation=a,b", "sideways", "RandRotation="]:
        with pytest.raises(ConfigError) as e:
            augmenter_from_spec(bad)
        assert str(e.value).startswith("--augment:") and "\n" not in str(e.value)


def test_oliveira_ops_on_the_fly_keep_their_bits():
    from leuknet.augment import augment_image

    o = augmenter_from_spec("oliveira")
    img = np.random.default_rng(14).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    np.testing.assert_array_equal(o.apply(img, np.random.default_rng(5)), augment_image(img, 5)[0])


def test_trainNetwork_classify_predict_on_augmented_datastores_of_matlab_arrays():
    """A MATLAB script's lines: H x W x C x N arrays, imageDataAugmenter, augmentedImageDatastore for training,
    validation and prediction (resized from 12 x 12 to the input layer's 8 x 8)."""
    from leuknet.matlab import (classificationLayer, classify, convolution2dLayer, fullyConnectedLayer,
                                imageInputLayer, predict, reluLayer, softmaxLayer, trainingOptions, trainNetwork)

    rng = np.random.default_rng(15)
    y = np.array(["a", "b"])[rng.integers(0, 2, 16)]
    x = rng.integers(0, 60, (12, 12, 1, 16)).astype(np.uint8)
    x[2:8, 2:8, :, y == "b"] += 150
    aug = imageDataAugmenter("RandRotation", [-20, 20], "RandXReflection", True)
    augimds = augmentedImageDatastore([8, 8], x, y, "DataAugmentation", aug)
    val = augmentedImageDatastore([8, 8], x[..., :6], y[:6])
    layers = [imageInputLayer([8, 8, 1]), convolution2dLayer(3, 4), reluLayer, fullyConnectedLayer(2), softmaxLayer,
              classificationLayer]
    opts = trainingOptions("adam", "MaxEpochs", 2, "MiniBatchSize", 4, "Verbose", False, "ValidationData", val)
    net = trainNetwork(augimds, layers, opts)
    assert len(classify(net, val)) == 6
    assert predict(net, augmentedImageDatastore([8, 8], x[..., :3])).shape == (3, 2)
    with pytest.raises(DataError, match="input layer expects images of size 8x8x1"):
        trainNetwork(augmentedImageDatastore([6, 6], x, y), layers, opts)


def test_cli_trains_with_on_the_fly_augmentation_and_refuses_a_bad_spec(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    from conftest import blob_image

    rng = np.random.default_rng(16)
    for c in (0, 1):
        for i in range(6):
            write_image(tmp_path / "cells" / ("blast" if c == 0 else "normal") / f"{i}.png", blob_image(c, rng, 40))
    cli = [str(Path(sys.executable).with_name("leuknet")), "train", "--data", str(tmp_path / "cells"),
           "--image-size", "32", "--epochs", "1", "--batch-size", "4"]
    bad = subprocess.run(cli + ["--augment", "RandRotation=20,-20", "--out", str(tmp_path / "bad")],
                         capture_output=True, text=True, timeout=120)
    lines = [line for line in bad.stderr.splitlines() if line.strip()]
    assert bad.returncode == 2 and len(lines) == 1 and "--augment: imageDataAugmenter: RandRotation" in lines[0]
    ok = subprocess.run(cli + ["--augment", "random", "--out", str(tmp_path / "run")], capture_output=True,
                        text=True, timeout=300)
    assert ok.returncode == 0, ok.stderr
    import json

    assert json.loads((tmp_path / "run" / "config.json").read_text())["config"]["augment"] == "random"
