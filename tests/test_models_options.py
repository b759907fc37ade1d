"""Which build options each model accepts (models.accepts, models.build's refusal), and inputs too small for a
network's feature maps (a ConfigError naming the smallest size that works, computed from the layers)."""

from __future__ import annotations

import pytest

from leuknet import models
from leuknet.errors import ConfigError

APPLICATIONS = ("vgg16", "vgg19", "xception", "resnet50", "efficientnetb0")
INPUT = {"image_size", "classes", "colorspace", "normalization", "crop", "class_weights"}


def test_every_model_accepts_its_options_from_the_vocabulary():
    assert models.accepts("leuknet") == frozenset(INPUT | {"fc_units", "pool_stride"})
    assert models.accepts("alexnet") == frozenset(INPUT | {"weights", "fc_units", "lr_factor", "freeze_base",
                                                           "input_order", "transfer"})
    for name in APPLICATIONS:
        assert models.accepts(name) == frozenset(INPUT | {"weights", "l1l2"})
    assert set(models.list_models()) == {"leuknet", "alexnet", *APPLICATIONS}
    for name in models.list_models():
        assert models.accepts(name) <= set(models.OPTIONS)
        assert models.model_info(name)["options"] == [o for o in models.OPTIONS if o in models.accepts(name)]
    with pytest.raises(ConfigError, match="unknown model 'nope'"):
        models.accepts("nope")


def test_every_builder_takes_exactly_its_options():
    """The registered builders' keyword parameters are the model's options (and num_classes): no catch-all."""
    import inspect

    for name in models.list_models():
        builder = models.builder(name)
        params = inspect.signature(builder).parameters
        assert not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()), name
        assert set(params) - {"num_classes"} == set(models.accepts(name)), name


@pytest.mark.parametrize("name,option,value", [("vgg16", "fc_units", 256), ("leuknet", "freeze_base", True),
                                               ("leuknet", "weights", "x.onnx"), ("resnet50", "pool_stride", 1),
                                               ("alexnet", "l1l2", 1e-4), ("xception", "transfer", True),
                                               ("leuknet", "filters", (4, 4, 4))])
def test_an_option_that_does_not_apply_is_refused_naming_its_flag_and_the_model(name, option, value):
    flag = "--" + option.replace("_", "-")
    with pytest.raises(ConfigError) as e:
        models.build(name, 2, **{option: value})
    msg = str(e.value)
    assert msg.startswith(f"{flag} does not apply to model {name} (it accepts: ")
    for accepted in models.accepts(name):
        assert "--" + accepted.replace("_", "-") in msg


def test_the_applicability_check_comes_before_building(monkeypatch):
    built = []
    info, builder = models._get("leuknet")
    monkeypatch.setitem(models._REGISTRY, "leuknet", (info, lambda **kw: built.append(kw)))
    with pytest.raises(ConfigError, match="--lr-factor does not apply to model leuknet"):
        models.build("leuknet", 2, image_size=48, lr_factor=10.0)
    assert built == []
    models.build("leuknet", 3, image_size=48)
    assert built == [{"num_classes": 3, "image_size": 48}]


def test_existing_callers_still_build():
    m = models.build("alexnet", 2, image_size=67, fc_units=8, transfer=True, lr_factor=10.0, freeze_base=True,
                     classes=["a", "b"], class_weights=[1.0, 2.0], crop=3)
    assert m.name == "alexnet" and m.output.shape[-1] == 2 and m.input.shape[1] == 67
    m = models.build("leuknet", 2, image_size=48, fc_units=8, pool_stride=2, colorspace="hsv")
    assert m.get_layer("imageinput").colorspace == "hsv"


def _builds(name, size, **kw):
    try:
        models.build(name, 2, image_size=size, **kw)
    except ConfigError as e:
        assert "needs an input of at least" in str(e), str(e)
        return False
    return True


@pytest.mark.parametrize("name,size,kw", [("alexnet", 40, dict(fc_units=8)), ("alexnet", 64, dict(fc_units=8)),
                                          ("leuknet", 20, dict(fc_units=8)),
                                          ("leuknet", 8, dict(fc_units=8, pool_stride=1))])
def test_an_input_too_small_names_the_smallest_size_that_builds(name, size, kw):
    import re

    with pytest.raises(ConfigError, match=rf"^{name} needs an input of at least (\d+) x \1, received {size} ") as e:
        models.build(name, 2, image_size=size, **kw)
    least = int(re.search(r"at least (\d+) x", str(e.value)).group(1))
    assert least > size
    assert _builds(name, least, **kw), f"{name} does not build at the size its message names, {least}"
    assert not _builds(name, least - 1, **kw), f"{name} builds at {least - 1}, below the size its message names"


def test_the_minimum_sizes_follow_from_the_layers():
    from leuknet.models.leuknet_cnn import leuknet_layers
    from leuknet.spec.alexnet import alexnet_layers
    from leuknet.spec.layers import minimum_input_size

    # AlexNet: conv1 11/4, pool1 3/2, conv2 5 pad 2, pool2 3/2, conv3-5 3 pad 1, pool5 3/2 -> 67
    assert minimum_input_size(alexnet_layers()) == (67, 67)
    # LeukNet: three times conv 3 (valid) + pool 3: (n - 2 - 3) // s + 1 >= 1 at each stage
    assert minimum_input_size(leuknet_layers(pool_stride=2)) == (29, 29)
    assert minimum_input_size(leuknet_layers(pool_stride=1)) == (13, 13)


def test_assemble_names_the_smallest_input_for_any_layer_array():
    from leuknet.spec.layers import (assemble, classificationLayer, convolution2dLayer, fullyConnectedLayer,
                                     imageInputLayer, maxPooling2dLayer, minimum_input_size, softmaxLayer)

    def net(h, w):
        return [imageInputLayer([h, w, 1], Normalization="none"), convolution2dLayer([5, 3], 2, Stride=[2, 1]),
                maxPooling2dLayer(2, Stride=2, Padding=[1, 0]), convolution2dLayer(3, 2, Padding="same",
                                                                                   DilationFactor=2),
                fullyConnectedLayer(2), softmaxLayer, classificationLayer]

    assert minimum_input_size(net(9, 9)) == (5, 4)
    with pytest.raises(ConfigError, match=r"^assemble: the network needs an input of at least 5 x 4, received 4 x 3 "):
        assemble(net(4, 3))
    with pytest.raises(ConfigError, match=r"^trainNetwork: the network needs an input of at least 5 x 4, received 5 "
                                          r"x 3 "):
        assemble(net(5, 3), fn="trainNetwork")
    model, _ = assemble(net(5, 4))
    assert model.output.shape[-1] == 2
