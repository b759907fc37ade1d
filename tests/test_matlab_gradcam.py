"""gradCAM and the overlay around it (hold, imagesc, colormap, colorbar) against references not derived from
leuknet: PyTorch's autograd on the same network, Grad-CAM's identity with CAM for a global-average-pooled network
(Selvaraju et al., ICCV 2017, sec. 3.1: alpha_k = w_k^c / Z), MATLAB's imresize transcribed in NumPy, MATLAB's
published jet(64) and hot(64) tables, and what matplotlib actually draws."""

import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from leuknet.errors import ConfigError, DataError  # noqa: E402
from leuknet.matlab import (activations, classificationLayer, classify, colorbar, colormap,  # noqa: E402
                            convolution2dLayer, fullyConnectedLayer, globalAveragePooling2dLayer, gradCAM, hold, hot,
                            imageInputLayer, imagesc, imshow, ishold, jet, maxPooling2dLayer, reluLayer, saveas,
                            resnet18, softmaxLayer, trainingOptions, trainNetwork)
from parity.references import imresize_bicubic  # noqa: E402

OPTS = dict(MaxEpochs=2, MiniBatchSize=8, Verbose=False, InitialLearnRate=0.01)


def toy(n=16, size=16, seed=0):
    """H x W x 3 x N uint8 images (MATLAB's order): 'blast' has a bright square top left, 'normal' bottom right."""
    rng = np.random.default_rng(seed)
    y = np.array(["blast", "normal"])[np.arange(n) % 2]
    x = rng.integers(0, 60, (size, size, 3, n)).astype(np.uint8)
    h = size // 2
    x[:h, :h, :, y == "blast"] += 150
    x[h:, h:, :, y == "normal"] += 150
    return x, y


@pytest.fixture(scope="module")
def series_net():
    x, y = toy()
    layers = [imageInputLayer([16, 16, 3]), convolution2dLayer(3, 4, "Padding", "same"), reluLayer,
              maxPooling2dLayer(2, "Stride", 2), fullyConnectedLayer(2), softmaxLayer, classificationLayer]
    return trainNetwork(x, y, layers, trainingOptions("sgdm", **OPTS)), x


@pytest.fixture(scope="module")
def gap_net():
    x, y = toy(seed=1)
    layers = [imageInputLayer([16, 16, 3]), convolution2dLayer(3, 6, "Padding", "same"), reluLayer,
              globalAveragePooling2dLayer, fullyConnectedLayer(2), softmaxLayer, classificationLayer]
    return trainNetwork(x, y, layers, trainingOptions("sgdm", **OPTS)), x


def torch_grad_cam(net, image, cls):
    """Grad-CAM at the max-pooling layer of conv-relu-maxpool-fc, written in PyTorch from net.Layers (MATLAB's
    layouts): torch's autograd differentiates the fc output (the softmax input) for class ``cls``."""
    torch = pytest.importorskip("torch")
    f = torch.nn.functional
    L = net.Layers
    x = torch.tensor(image.astype(np.float64) - L[0].Mean, dtype=torch.float64).permute(2, 0, 1)[None]
    w = torch.tensor(L[1].Weights.astype(np.float64)).permute(3, 2, 0, 1)  # H x W x C x N -> N x C x H x W
    a = f.max_pool2d(f.relu(f.conv2d(x, w, torch.tensor(L[1].Bias.astype(np.float64)).reshape(-1), padding=1)), 2)
    a = a.detach().requires_grad_()  # the feature layer's output, what the score is differentiated with respect to
    flat = a.permute(0, 1, 3, 2).reshape(1, -1)  # MATLAB flattens H x W x C column-major (H fastest)
    scores = flat @ torch.tensor(L[4].Weights.astype(np.float64)).T + torch.tensor(L[4].Bias.astype(np.float64)).T
    scores[0, cls].backward()
    feats, grads = a[0].detach().numpy(), a.grad[0].numpy()  # C x h x w
    return np.maximum((grads.mean(axis=(1, 2))[:, None, None] * feats).sum(0), 0)  # the paper's eq. 1-2


def test_gradcam_is_torch_autograd_grad_cam_and_upsampled_as_imresize(series_net):
    net, x = series_net
    image = x[..., 0]
    label = classify(net, image)
    cam, feature, reduction = gradCAM(net, image, label, "OutputUpsampling", "none", nargout=3)
    # the defaults MATLAB reports: the last layer with more than one pixel, and the class scores before softmax
    assert (feature, reduction) == ("maxpool", "fc")
    cls = ["blast", "normal"].index(str(label))
    ref = torch_grad_cam(net, image, cls)
    assert cam.shape == (8, 8) and cam.dtype == np.float32 and ref.max() > 0
    np.testing.assert_allclose(cam, ref, rtol=1e-4, atol=1e-5 * ref.max())
    # 'bicubic' (the default) is imresize's to the input size; 'nearest' repeats each cell 2 x 2 here
    np.testing.assert_allclose(gradCAM(net, image, label), imresize_bicubic(ref, (16, 16)), rtol=1e-4,
                               atol=1e-5 * ref.max())
    np.testing.assert_allclose(gradCAM(net, image, label, OutputUpsampling="nearest"),
                               np.kron(ref, np.ones((2, 2))), rtol=1e-4, atol=1e-5 * ref.max())
    # a 0-based class index, a class name and a reduction function of the fc output are the same request
    other = 1 - cls
    by_index = gradCAM(net, image, other, OutputUpsampling="none")
    np.testing.assert_allclose(by_index, torch_grad_cam(net, image, other), rtol=1e-4, atol=1e-5 * ref.max() + 1e-7)
    np.testing.assert_array_equal(gradCAM(net, image, ["blast", "normal"][other], OutputUpsampling="none"), by_index)
    np.testing.assert_allclose(gradCAM(net, image, lambda z: z[other], OutputUpsampling="none"), by_index,
                               rtol=1e-6)


def test_gradcam_of_a_global_average_pooled_network_is_cam(gap_net):
    # Selvaraju et al., sec. 3.1: with A -> global average pooling -> fc, dy^c/dA^k_ij = w^c_k / Z, so Grad-CAM is
    # ReLU(sum_k w^c_k A^k / Z): the fc weights and the feature maps alone, no gradient code
    net, x = gap_net
    batch = x[..., :5]
    maps, feature, reduction = gradCAM(net, batch, ["blast", "normal"], OutputUpsampling="none", nargout=3)
    assert (feature, reduction) == ("relu", "fc")  # the pooled 1 x 1 output is not spatial
    assert maps.shape == (16, 16, 2, 5)  # MATLAB's H x W x classes x N
    A = activations(net, batch, "relu")  # H x W x C x N
    W = net.Layers[4].Weights  # classes x C
    for i in range(5):
        for c in range(2):
            ref = np.maximum(np.tensordot(A[:, :, :, i], W[c], axes=([2], [0])) / (16 * 16), 0)
            np.testing.assert_allclose(maps[:, :, c, i], ref, rtol=1e-4, atol=1e-6)
    # one class: H x W x 1 x N; one image: H x W x classes; MATLAB's H x W x C x N input or N x H x W x C alike
    assert gradCAM(net, batch, "blast").shape == (16, 16, 1, 5)
    assert gradCAM(net, x[..., 0], classify(net, x[..., :2])).shape == (16, 16, 2)
    np.testing.assert_allclose(gradCAM(net, np.moveaxis(batch, 3, 0), 0), gradCAM(net, batch, 0), rtol=1e-6)


def test_gradcam_names_layers_and_refuses_bad_requests_in_one_line(series_net):
    net, x = series_net
    image = x[..., 0]
    relu = gradCAM(net, image, 0, FeatureLayer="relu", OutputUpsampling="none")
    assert relu.shape == (16, 16)
    # the classification output layer named as the reduction layer stands for its input (the probabilities)
    _, _, red = gradCAM(net, image, 0, ReductionLayer="classoutput", nargout=3)
    assert red == "softmax"
    bad = [((image, 2), "class index 2 out of range 0..1 (leuknet's indices are 0-based"),
           ((image, "monocyte"), "'monocyte' is not a class of the network; its classes: blast, normal"),
           ((image, 0, "FeatureLayer", "fc"), "the feature layer 'fc' has no spatial output"),
           ((image, 0, "FeatureLayer", "conv9"), "FeatureLayer 'conv9' is not a layer of the network"),
           ((image, 0, "ReductionLayer", "relu"), "not a vector of class scores: pass a reduction function"),
           ((image, 0, "OutputUpsampling", "bilinear"), "OutputUpsampling must be one of 'bicubic', 'nearest'"),
           ((image, 0, "FeatureLayer", "relu", "ReductionLayer", "conv"), "'relu' does not feed the reduction layer"),
           ((image, 0, "MiniBatchSize", 0), "MiniBatchSize"),
           ((image, 0, "Colour", 1), "Colour")]
    for args, message in bad:
        with pytest.raises(ConfigError) as e:
            gradCAM(net, *args)
        assert message in str(e.value) and "\n" not in str(e.value), str(e.value)
    with pytest.raises(DataError, match="do not match the input layer's size"):
        gradCAM(net, np.zeros((20, 20, 3, 2), np.uint8), 0)


def test_jet_and_hot_are_matlabs_tables():
    # MATLAB's jet(64): rows 1, 8, 9, 24, 25, 40, 41, 56, 64 of the published table
    J = jet(64)
    assert J.shape == (64, 3)
    for row, rgb in {1: [0, 0, 0.5625], 8: [0, 0, 1], 9: [0, 0.0625, 1], 24: [0, 1, 1], 25: [0.0625, 1, 0.9375],
                     40: [1, 1, 0], 41: [1, 0.9375, 0], 56: [1, 0, 0], 64: [0.5, 0, 0]}.items():
        np.testing.assert_allclose(J[row - 1], rgb, err_msg=f"jet(64) row {row}")
    H = hot(64)  # hot(64): red over 24 rows (1/24 first), then green, then blue up to white
    np.testing.assert_allclose(H[[0, 23, 24, 47, 48, 63]], [[1 / 24, 0, 0], [1, 0, 0], [1, 1 / 24, 0], [1, 1, 0],
                                                           [1, 1, 1 / 16], [1, 1, 1]])
    assert jet().shape == (256, 3)
    with pytest.raises(ConfigError, match="jet: the number of colours must be a positive integer"):
        jet(0)


def test_the_matlab_overlay_draws_the_map_over_the_image(tmp_path):
    """MATLAB's Grad-CAM display, line by line: imshow(X); hold on; imagesc(map,'AlphaData',0.5); colormap jet;
    colorbar — what the figure shows is half the image and half jet's colour of the map."""
    X = np.zeros((20, 20, 3), np.uint8)
    X[:, :10] = [200, 200, 200]
    m = np.tile(np.linspace(0, 1, 20), (20, 1))
    fig = plt.figure(figsize=(3, 3), dpi=40)
    try:
        shown = imshow(X)
        assert not ishold()
        hold("on")
        assert ishold()
        h = imagesc(m, "AlphaData", 0.5)
        assert colormap("jet").shape == (256, 3)
        bar = colorbar()
        ax = h.axes
        assert shown.axes is ax and len(ax.images) == 2 and h.get_cmap().N == 256
        # the same pixel grid as the image (MATLAB's pixel centres 1..N), the image's axes unchanged
        assert h.get_extent() == shown.get_extent() == [0.5, 20.5, 20.5, 0.5]
        assert h.get_clim() == (0.0, 1.0) and np.allclose(bar.mappable.get_cmap()(1.0)[:3], jet(256)[-1])
        assert colorbar() is not bar and len(fig.axes) == 2  # one colour bar per axes, as MATLAB's
        fig.canvas.draw()
        drawn = np.asarray(fig.canvas.buffer_rgba())[..., :3].astype(float)
        box = ax.get_window_extent()
        height = drawn.shape[0]

        def pixel(col, row):  # the drawn colour at the centre of image pixel (row, col), 1-based
            px = box.x0 + (col - 0.5) / 20 * box.width
            py = height - (box.y0 + (1 - (row - 0.5) / 20) * box.height)
            return drawn[int(py), int(px)]

        for col in (3, 17):
            expect = 0.5 * X[10, col - 1] + 0.5 * 255 * jet(256)[int(round(m[10, col - 1] * 255))]
            assert np.abs(pixel(col, 10) - expect).max() <= 6, (col, pixel(col, 10), expect)
        saveas(fig, str(tmp_path / "overlay.png"))
        assert (tmp_path / "overlay.png").stat().st_size > 0
        # a smaller map over the image (a coarse score map): the axes keep the image's limits, as MATLAB's
        limits = (ax.get_xlim(), ax.get_ylim())
        small = imagesc(np.ones((5, 5)) * 3.0, "AlphaData", 0.3)
        assert (ax.get_xlim(), ax.get_ylim()) == limits and small.get_extent() == [0.5, 5.5, 5.5, 0.5]
        # hold off: the next image replaces what is there
        hold("off")
        imshow(X)
        assert len(ax.images) == 1 and colorbar("off") is None and len(fig.axes) == 1
    finally:
        plt.close(fig)


def test_imagesc_scales_and_places_as_matlab():
    fig = plt.figure()
    try:
        h = imagesc(np.array([[2.0, 4.0], [6.0, 10.0]]))
        assert h.get_clim() == (2.0, 10.0) and h.axes.axison  # imagesc keeps the ticks
        assert h.get_extent() == [0.5, 2.5, 2.5, 0.5]
        bar = colorbar("southoutside")  # the location alone, as MATLAB takes it
        assert bar.orientation == "horizontal"
        h = imagesc([10, 20], [0, 4], np.zeros((3, 2)), [0, 5])  # x, y: the first and last pixel centres
        assert h.get_extent() == [5.0, 25.0, 5.0, -1.0] and h.get_clim() == (0.0, 5.0)
        assert len(h.axes.images) == 1  # hold off: replaced
        assert bar.mappable.get_clim() == (0.0, 5.0)  # the colour bar follows the new limits
        assert imagesc(3, 7, np.zeros((2, 4))).get_extent() == [2.5, 6.5, 8.5, 6.5]  # scalars: 1 apart from there
        h = imagesc(np.array([[2.0, 4.0], [6.0, 10.0]]))
        colormap(jet)  # colormap(jet) as MATLAB writes it (jet called with no arguments)
        np.testing.assert_allclose(h.get_cmap()(0.0)[:3], jet(256)[0])
        np.testing.assert_allclose(colormap(), jet(256))  # cmap = colormap: the figure's
        colormap(plt.get_cmap("gray"))  # a matplotlib colormap object
        np.testing.assert_allclose(h.get_cmap()(1.0)[:3], [1, 1, 1])
        grey = imshow(np.zeros((2, 2), np.uint8))
        colormap("hot")
        assert grey.get_cmap().name == "gray"  # imshow's own map stays
        for args, message in [((np.zeros((2, 2)), [3, 1]), "clims must be [cmin cmax] with cmin < cmax"),
                              ((np.array([["a"]]),), "C must be a numeric"),
                              ((np.zeros((2, 2)), "AlphaData", np.ones((3, 3))), "AlphaData must be a scalar or")]:
            with pytest.raises(ConfigError) as e:
                imagesc(*args)
            assert message in str(e.value)
        with pytest.raises(ConfigError, match="unknown colormap 'nope'"):
            colormap("nope")
        with pytest.raises(ConfigError, match="hold: the state must be one of 'on', 'off', 'all'"):
            hold("maybe")
    finally:
        plt.close(fig)


def test_gradcam_defaults_on_a_dag_network():
    # resnet18 (random weights): the last spatial layer is the last block's ReLU (7 x 7), the class scores fc1000's
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # no weights file: random, with a warning
        net = resnet18()
    x = np.random.default_rng(0).integers(0, 255, (224, 224, 3)).astype(np.uint8)
    cam, feature, reduction = gradCAM(net, x, 7, nargout=3)
    assert (feature, reduction) == ("res5b_relu", "fc1000") and cam.shape == (224, 224)
    coarse = gradCAM(net, x, 7, OutputUpsampling="none")
    assert coarse.shape == (7, 7) and coarse.min() >= 0
