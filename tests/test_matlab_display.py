"""imshow, imtile and montage against MathWorks' documented display ranges and montage's tiling (the grid of
ceil(sqrt(h * P / w)) columns filled row by row, frames fitted into the thumbnail and centred: MathWorks'
montage.m, transcribed here in NumPy), and what matplotlib actually draws."""

import math

import cv2
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from leuknet.errors import ConfigError  # noqa: E402
from leuknet.matlab import imageDatastore, imshow, imtile, montage  # noqa: E402


def reference_tiling(frames, grid=None):
    """montage.m's stitching for equal-size frames: columns ceil(sqrt(h * P / w)), rows ceil(P / columns)
    (P = 1: one cell), black where no frame falls, filled row by row."""
    h, w = frames[0].shape[:2]
    p = len(frames)
    if grid is None:
        cols = 1 if p == 1 else math.ceil(math.sqrt(h * p / w))
        rows = 1 if p == 1 else math.ceil(p / cols)
    else:
        rows, cols = grid
    big = np.zeros((rows * h, cols * w) + frames[0].shape[2:], frames[0].dtype)
    k = 0
    for i in range(rows):
        for j in range(cols):
            if k < p:
                big[i * h:(i + 1) * h, j * w:(j + 1) * w] = frames[k]
                k += 1
    return big


@pytest.mark.parametrize("p,shape", [(1, (4, 4)), (5, (2, 3)), (7, (3, 2)), (20, (28, 28)), (6, (5, 5, 3))])
def test_imtile_grid_and_order_are_montages(p, shape):
    rng = np.random.default_rng(p)
    frames = [rng.integers(0, 256, shape).astype(np.uint8) for _ in range(p)]
    np.testing.assert_array_equal(imtile(frames), reference_tiling(frames))
    # the same frames as MATLAB's M x N x P (grey) or M x N x C x P array
    stacked = np.stack(frames, axis=-1)
    np.testing.assert_array_equal(imtile(stacked), reference_tiling(frames))


def test_imtile_grid_size_frames_and_errors():
    frames = [np.full((2, 2), 10 * (k + 1), np.uint8) for k in range(5)]
    np.testing.assert_array_equal(imtile(frames, "GridSize", [2, math.nan]), reference_tiling(frames, (2, 3)))
    np.testing.assert_array_equal(imtile(frames, GridSize=[math.nan, 1]), reference_tiling(frames, (5, 1)))
    np.testing.assert_array_equal(imtile(frames, "Frames", [4, 0]), reference_tiling([frames[4], frames[0]]))
    with pytest.raises(ConfigError, match="imtile: a grid of 2 x 2 cannot hold 5 images"):
        imtile(frames, GridSize=[2, 2])
    with pytest.raises(ConfigError, match="frame indices must be 0-based integers below 5"):
        imtile(frames, Frames=[5])
    with pytest.raises(ConfigError, match="expected an M x N or M x N x 3 image"):
        imtile([np.zeros((2, 2, 2), np.uint8)])


def test_frames_are_fitted_into_the_first_frames_size_and_centred():
    square = np.full((4, 4), 50, np.uint8)
    wide = np.full((2, 4), 100, np.uint8)  # fits at its size: one black row above, one below
    tall = np.full((4, 2), 200, np.uint8)  # one black column left, one right
    big = imtile([square, wide, tall], GridSize=[1, 3])
    assert big.shape == (4, 12)
    np.testing.assert_array_equal(big[:, 4:8], [[0] * 4, [100] * 4, [100] * 4, [0] * 4])
    np.testing.assert_array_equal(big[:, 8:12], [[0, 200, 200, 0]] * 4)
    # a larger frame is shrunk to fit (imresize keeps its aspect ratio), a colour frame turns the tiling colour,
    # mixed classes become double
    large = np.full((8, 16, 3), 0.5)
    out = imtile([square, large], GridSize=[1, 2], BorderSize=1)
    assert out.dtype == np.float64 and out.shape == (6, 12, 3)
    np.testing.assert_allclose(out[1:5, 1:5, 0], 50 / 255)  # the first frame inside a 1-pixel border
    np.testing.assert_allclose(out[2:4, 7:11], 0.5)  # 8 x 16 -> 2 x 4, centred in 4 x 4
    assert out[1, 7:11].max() == 0 and out[0].max() == 0
    red = imtile([square, wide], GridSize=[1, 2], BackgroundColor=[1, 0, 0])
    assert red.dtype == np.uint8 and red.shape == (4, 8, 3)
    assert red[0, 4].tolist() == [255, 0, 0] and red[1, 4].tolist() == [100, 100, 100]
    # a coloured background makes even same-size grey frames colour (the empty cell red); a grey one keeps grey
    same = imtile([square, square, square], BackgroundColor=[1, 0, 0])
    assert same.shape == (8, 8, 3) and same[6, 6].tolist() == [255, 0, 0] and same[0, 0].tolist() == [50] * 3
    grey = imtile([square, square, square], BackgroundColor=[0.2, 0.2, 0.2])
    assert grey.shape == (8, 8) and grey[6, 6] == 51
    with pytest.raises(ConfigError, match="GridSize must be positive"):
        imtile([square, square], GridSize=[0, math.nan])


def test_imtile_reads_files_and_datastores(tmp_path):
    files = []
    for k, label in enumerate(("a", "b", "a")):
        (tmp_path / label).mkdir(exist_ok=True)
        f = tmp_path / label / f"{k}.png"
        cv2.imwrite(str(f), np.full((3, 5, 3), (10 * k, 20, 30), np.uint8))  # BGR on disk
        files.append(str(f))
    expected = reference_tiling([np.full((3, 5, 3), (30, 20, 10 * k), np.uint8) for k in range(3)])
    np.testing.assert_array_equal(imtile(files), expected)
    imds = imageDatastore(tmp_path, "IncludeSubfolders", True)
    np.testing.assert_array_equal(imtile(imds), reference_tiling(
        [cv2.imread(f)[:, :, ::-1] for f in imds.Files]))


def _drawn_centre(h):
    fig = h.axes.figure
    fig.canvas.draw()
    rgba = np.asarray(fig.canvas.buffer_rgba())
    return rgba[rgba.shape[0] // 2, rgba.shape[1] // 2, :3].astype(int)


def test_imshow_display_ranges_as_documented():
    # https://www.mathworks.com/help/images/ref/imshow.html: the class's range by default, [] the image's own
    fig = plt.figure()
    try:
        h = imshow(np.array([[0, 255], [128, 64]], np.uint8))
        assert h.get_clim() == (0.0, 255.0) and h.get_cmap().name == "gray" and not h.axes.axison
        assert imshow(np.zeros((2, 2))).get_clim() == (0.0, 1.0)
        assert imshow(np.zeros((2, 2), np.uint16)).get_clim() == (0.0, 65535.0)
        assert imshow(np.zeros((2, 2), np.int16)).get_clim() == (-32768.0, 32767.0)
        assert imshow(np.array([[10.0, 20.0], [15.0, 12.0]]), []).get_clim() == (10.0, 20.0)
        assert imshow(np.zeros((2, 2)), [-1, 3]).get_clim() == (-1.0, 3.0)
        assert imshow(np.zeros((2, 2), bool)).get_clim() == (0.0, 1.0)
        # truecolor: the class's range, floating point clipped to [0, 1]
        np.testing.assert_allclose(imshow(np.full((2, 2, 3), 51, np.uint8)).get_array(), 0.2)
        np.testing.assert_allclose(imshow(np.full((2, 2, 3), 1.7)).get_array(), 1.0)
        # X, map: integer indices 0-based, floating point 1-based
        cmap = np.array([[0, 0, 0], [1, 0, 0], [0, 0, 1]], float)
        np.testing.assert_array_equal(imshow(np.array([[1, 2]], np.uint8), cmap).get_array()[0, 1], [0, 0, 1])
        np.testing.assert_array_equal(imshow(np.array([[1.0, 2.0]]), cmap).get_array()[0, 1], [1, 0, 0])
        np.testing.assert_array_equal(imshow(np.array([[True, False]]), cmap).get_array()[0], [[1, 0, 0], [0, 0, 0]])
        with pytest.raises(ConfigError, match="imshow: DisplayRange must be \\[low high\\] with low < high"):
            imshow(np.zeros((2, 2)), [5, 1])
        with pytest.raises(ConfigError, match="imshow: expected an M x N or M x N x 3 image"):
            imshow(np.zeros((2, 2, 2)))
        with pytest.raises(ConfigError, match="imshow: expected a uint8, uint16, int16, single, double"):
            imshow(np.zeros((2, 2), np.int64))
    finally:
        plt.close(fig)


def test_what_imshow_draws_is_the_grey_level_in_its_range(tmp_path):
    # a uint8 128 and a double 0.5 both draw as mid-grey; 200 in [100 300] too; a file by its name
    for image, args, grey in [(np.full((40, 40), 128, np.uint8), (), 128), (np.full((40, 40), 0.5), (), 128),
                              (np.full((40, 40), 200.0), ([100, 300],), 128), (np.full((40, 40), 3.0), (), 255)]:
        fig = plt.figure(figsize=(2, 2), dpi=50)
        try:
            assert np.abs(_drawn_centre(imshow(image, *args)) - grey).max() <= 1
        finally:
            plt.close(fig)
    f = tmp_path / "g.png"
    cv2.imwrite(str(f), np.full((40, 40), 64, np.uint8))
    fig = plt.figure(figsize=(2, 2), dpi=50)
    try:
        assert np.abs(_drawn_centre(imshow(str(f))) - 64).max() <= 1
    finally:
        plt.close(fig)


def test_montage_and_subplots_draw_where_matlab_would():
    frames = [np.full((4, 4), 40 * k, np.uint8) for k in range(1, 5)]
    fig = plt.figure()
    try:
        plt.subplot(1, 2, 1)
        h1 = montage(frames, "Size", [1, 4])
        np.testing.assert_array_equal(h1.get_array(), imtile(frames, GridSize=[1, 4]))
        plt.subplot(1, 2, 2)
        h2 = imshow(frames[0])
        assert h1.axes is not h2.axes and len(fig.axes) == 2
        assert montage(frames, DisplayRange=[0, 100], Parent=h1.axes).get_clim() == (0.0, 100.0)
    finally:
        plt.close(fig)


def test_layers_of_a_plain_list_is_the_layer_array_table():
    """A port's `layers = [...]` list through Layers(): MATLAB's 'Nx1 Layer array with layers:' display."""
    from leuknet.matlab import Layers, fullyConnectedLayer, imageInputLayer, reluLayer

    shown = repr(Layers([imageInputLayer([8, 8, 3]), reluLayer, fullyConnectedLayer(2)]))
    assert shown.lstrip().startswith("3x1 Layer array with layers:") and "Fully Connected" in shown


def test_figure_takes_matlabs_properties():
    """https://www.mathworks.com/help/matlab/ref/figure.html: MathWorks' example line
    figure('Units','normalized','Position',[0.3 0.3 0.4 0.4]) (it failed in pyplot's figure), a name, a number."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from leuknet.errors import ConfigError
    from leuknet.matlab import figure

    try:
        fig = figure("Units", "normalized", "Position", [0.3, 0.3, 0.4, 0.4])
        assert tuple(fig.get_size_inches()) == pytest.approx((0.4 * 1920 / 96, 0.4 * 1080 / 96))
        named = figure("Name", "Confusion", "NumberTitle", "off", "Position", [100, 100, 480, 240])
        assert named.get_label() == "Confusion" and tuple(named.get_size_inches()) == pytest.approx((5.0, 2.5))
        assert plt.gcf() is named  # a new figure is the current one, as MATLAB's
        assert figure(7).number == 7 and figure(7).number == 7 and plt.fignum_exists(7)
        with pytest.raises(ConfigError, match="Position must be"):
            figure("Position", [0, 0, 0, 1])
        with pytest.raises(ConfigError, match="Units must be one of"):
            figure("Units", "furlongs")
    finally:
        plt.close("all")
