"""VGG16, VGG19, Xception, ResNet50 and EfficientNetB0 on ``keras.applications`` backbones with the published
heads. Weights come from a local file or nowhere: never downloaded.

- de Oliveira & Dantas (2021): VGG16 / VGG19: global average pooling, FC 512 + dropout 0.5 + FC 512 +
  dropout 0.5 + softmax; Xception: global average pooling, FC 2048 + dropout 0.5 + softmax; L1 + L2 with one
  lambda on the FC layers (1e-4 VGG, 7e-4 Xception); inputs: pixels / 255 minus the channel mean.
- Senthilkumar et al. (2023): ResNet50, EfficientNetB0 (and VGG16) by transfer learning: global average pooling,
  dropout 0.5 and a softmax layer.

Input normalisation is leuknet's :class:`~leuknet.layers.ImageInputNormalization` ('zerocenter' with the mean of
the training split, scaled by 1/255), recorded in the model with its colour space and crop. EfficientNetB0 carries
its own rescaling and normalisation, so it gets leuknet's zerocenter without the 1/255.
"""

from __future__ import annotations

from leuknet.errors import ConfigError, ModelFileError

APPS = {
    "vgg16": ("VGG16", "oliveira_vgg", 1e-4, 224),
    "vgg19": ("VGG19", "oliveira_vgg", 1e-4, 224),
    "xception": ("Xception", "oliveira_xception", 7e-4, 299),
    "resnet50": ("ResNet50", "transfer", None, 224),
    "efficientnetb0": ("EfficientNetB0", "transfer", None, 224),
}
MIN_SIZE = {"xception": 71, "vgg16": 32, "vgg19": 32, "resnet50": 32, "efficientnetb0": 32}
WEIGHT_FILES = {"VGG16": "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5",
                "VGG19": "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5",
                "Xception": "xception_weights_tf_dim_ordering_tf_kernels_notop.h5",
                "ResNet50": "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5",
                "EfficientNetB0": "efficientnetb0_notop.h5"}


def build(name, num_classes=2, image_size=None, classes=None, colorspace="rgb", normalization="zerocenter", crop=0,
          class_weights=None, weights=None, l1l2=None):
    import keras  # here, not at import: the model registry reads APPS without choosing the Keras backend

    from leuknet.layers import ClassificationOutput, ImageInputNormalization, Softmax

    app_name, head, default_l1l2, default_size = APPS[name]
    size = int(image_size or default_size)
    if size < MIN_SIZE[name]:
        raise ConfigError(f"{name} needs an input of at least {MIN_SIZE[name]} x {MIN_SIZE[name]}, received {size}")
    inp = keras.Input((size, size, 3), name="imageinput_pixels")
    scale = 1.0 if name == "efficientnetb0" else 1.0 / 255.0
    x = ImageInputNormalization(normalization, "channel", colorspace, crop=crop, scale=scale, name="imageinput")(inp)
    app = getattr(keras.applications, app_name)
    backbone = app(include_top=False, weights=None, input_tensor=x)
    if weights:  # load into the stand-alone application (the file's layout), then copy layer by layer by name
        try:
            standalone = app(include_top=False, weights=None, input_shape=(size, size, 3))
            standalone.load_weights(str(weights))
            for layer in standalone.layers:
                if layer.weights:
                    backbone.get_layer(layer.name).set_weights(layer.get_weights())
        except FileNotFoundError:
            raise ModelFileError(f"weights file {weights} does not exist; leuknet never downloads weights: save "
                                 f"the keras.applications file {WEIGHT_FILES[app_name]} and pass its path") from None
        except Exception as e:  # noqa: BLE001
            raise ModelFileError(f"cannot load {weights} into {app_name} without its top: "
                                 f"{str(e).splitlines()[0][:200]} (expected {WEIGHT_FILES[app_name]})") from None
    lam = default_l1l2 if l1l2 is None else l1l2
    reg = keras.regularizers.L1L2(l1=lam, l2=lam) if lam else None
    h = keras.layers.GlobalAveragePooling2D(name="gap")(backbone.output)
    if head == "oliveira_vgg":
        for i in (1, 2):
            h = keras.layers.Dense(512, activation="relu", kernel_regularizer=reg, name=f"fc{i}")(h)
            h = keras.layers.Dropout(0.5, name=f"dropout{i}")(h)
    elif head == "oliveira_xception":
        h = keras.layers.Dense(2048, activation="relu", kernel_regularizer=reg, name="fc1")(h)
        h = keras.layers.Dropout(0.5, name="dropout1")(h)
    else:
        h = keras.layers.Dropout(0.5, name="dropout1")(h)
    h = keras.layers.Dense(num_classes, kernel_regularizer=reg, name="fc_out")(h)
    h = Softmax(name="softmax", dtype="float32")(h)
    out = ClassificationOutput(classes or [str(i) for i in range(num_classes)], class_weights, name="classoutput")(h)
    return keras.Model(inp, out, name=name)
