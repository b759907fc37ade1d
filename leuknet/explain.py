"""Grad-CAM (Selvaraju et al. 2017): which part of the cell drives the prediction.

``heatmap = ReLU(sum_k alpha_k A_k)`` with ``A_k`` the target layer's feature maps and ``alpha_k`` the spatial mean
of the gradient of the class score (the softmax input) with respect to ``A_k``. The target layer is the last
layer with a 4-D output that is a convolution (found automatically) or one given by name. Works for every
registered model (LeukNet, AlexNet, the keras.applications backbones)."""

from __future__ import annotations

from pathlib import Path

import cv2
import keras
import numpy as np

from leuknet.errors import ConfigError, DataError
from leuknet.layers import GroupedConv2D


def find_target_layer(model, name=None):
    if name:
        try:
            return model.get_layer(name)
        except ValueError:
            raise ConfigError(f"the model has no layer {name!r}; its layers with a spatial output: "
                              f"{', '.join(_spatial_layers(model))}") from None
    for layer in reversed(model.layers):
        if isinstance(layer, (keras.layers.Conv2D, GroupedConv2D, keras.layers.DepthwiseConv2D)) and \
                len(layer.output.shape) == 4:
            # prefer the activation that follows a convolution when there is one
            return _following_activation(model, layer) or layer
    raise ConfigError("the model has no convolution layer for Grad-CAM; pass --layer")


def _spatial_layers(model):
    """The names of the layers with an H x W x C output (what Grad-CAM can target), input first."""
    names = []
    for layer in model.layers:
        try:
            shape = layer.output.shape
        except (AttributeError, ValueError):
            continue
        if len(shape) == 4 and not isinstance(layer, keras.layers.InputLayer):
            names.append(layer.name)
    return names


def _following_activation(model, conv):
    names = [l.name for l in model.layers]
    i = names.index(conv.name)
    for nxt in model.layers[i + 1 : i + 3]:
        if isinstance(nxt, (keras.layers.ReLU, keras.layers.Activation)) and len(nxt.output.shape) == 4:
            return nxt
    return None


def _logits_tensor(model):
    """The softmax layer's input (class scores before normalisation)."""
    for layer in model.layers:
        if isinstance(layer, keras.layers.Softmax) or getattr(layer, "activation", None) is keras.activations.softmax:
            return layer.input
    return model.output


def grad_cam(model, images, class_index=None, layer_name=None):
    """Heatmaps in [0, 1] at the target layer's resolution, one per image, and the class indices explained (the
    predicted class where ``class_index`` is None)."""
    target = find_target_layer(model, layer_name)
    x = np.asarray(images, np.float32)
    idx = None if class_index is None else np.full(len(x), int(class_index), np.int32)
    grad_model = gradient_model(model, target, _logits_tensor(model))
    feats, grads, scores = layer_gradients(grad_model, target, x, class_scores(idx))
    if idx is None:  # the class the gradient pass explained: the highest score (softmax keeps the order)
        idx = scores.argmax(-1).astype(np.int32)
    cam = grad_cam_maps(feats, grads)
    cam = cam / np.maximum(cam.max(axis=(1, 2), keepdims=True), 1e-12)
    return cam, idx, target.name


def grad_cam_maps(feats, grads):
    """``ReLU(sum_k alpha_k A_k)`` with ``alpha_k`` the spatial mean of the gradient (Selvaraju et al., eq. 1-2):
    N x H x W from the feature maps and their gradients (N x H x W x C)."""
    weights = grads.mean(axis=(1, 2), keepdims=True)
    return np.maximum((weights * feats).sum(axis=-1), 0.0)


def class_scores(idx=None):
    """A score function for :func:`layer_gradients`: image i's score for class ``idx[i]`` (None: its highest
    score, chosen in the same pass)."""
    fixed = None if idx is None else np.asarray(idx, np.int32)[:, None]

    def pick(scores):
        if len(scores.shape) == 4:  # 1 x 1 x K pooled scores (SqueezeNet's): the K scores
            scores = keras.ops.reshape(scores, (-1, scores.shape[-1]))
        which = keras.ops.expand_dims(keras.ops.argmax(scores, axis=-1), -1) if fixed is None else \
            keras.ops.convert_to_tensor(fixed)
        return keras.ops.take_along_axis(scores, which, axis=1)[:, 0]
    return pick


def gradient_model(model, feature_layer, score_tensor):
    """The model from ``model``'s input to ``[feature_layer``'s output, ``score_tensor]``, for
    :func:`layer_gradients` (built once, used for every batch and class)."""
    inputs = model.inputs[0] if len(model.inputs) == 1 else model.inputs  # called with one array: no structure warning
    return keras.Model(inputs, [feature_layer.output, score_tensor])


def layer_gradients(grad_model, feature_layer, x, score_of):
    """``(features, gradients, scores)`` as float32 arrays: the output of ``feature_layer`` for the images ``x``,
    its gradient of ``score_of(scores)`` (one score per image; their sum is differentiated, so each image's gradient
    is its own), and ``scores``, the second output of ``grad_model`` (:func:`gradient_model`). The gradient is the
    backend's own: TensorFlow's tape, or under JAX ``jax.grad`` with respect to a zero added to the feature layer's
    output (the same derivative, with no second model)."""
    if keras.backend.backend() == "jax":
        return _gradients_jax(grad_model, feature_layer, x, score_of)
    return _gradients_tf(grad_model, x, score_of)


def _gradients_tf(grad_model, x, score_of):
    import tensorflow as tf

    x = tf.convert_to_tensor(x)
    with tf.GradientTape() as tape:
        feats, scores = grad_model(x, training=False)
        total = tf.reduce_sum(score_of(tf.cast(scores, tf.float32)))
    grads = tape.gradient(total, feats)
    if grads is None:  # the score does not depend on the feature layer (another branch of a graph)
        grads = tf.zeros_like(feats)
    return tuple(tf.cast(t, tf.float32).numpy() for t in (feats, grads, scores))


def _gradients_jax(grad_model, target, x, score_of):
    import jax
    import jax.numpy as jnp

    feats, scores = grad_model(x, training=False)
    call = target.call

    def total(delta):
        object.__setattr__(target, "call", lambda *a, **k: call(*a, **k) + delta)
        try:
            _, scores = grad_model(x, training=False)
        finally:
            object.__delattr__(target, "call")
        return jnp.sum(score_of(scores.astype(jnp.float32)))

    grads = jax.grad(total)(jnp.zeros(feats.shape, feats.dtype))
    return np.asarray(feats, np.float32), np.asarray(grads, np.float32), np.asarray(scores, np.float32)


def overlay(rgb, cam, alpha=0.45):
    """The heatmap (jet colours) resized to the image and blended over it, RGB uint8."""
    h, w = rgb.shape[:2]
    heat = cv2.resize(cam.astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR)
    colour = cv2.applyColorMap(np.uint8(np.clip(heat, 0, 1) * 255), cv2.COLORMAP_JET)[..., ::-1]
    return np.uint8(np.clip((1 - alpha) * rgb + alpha * colour, 0, 255))


def gradcam_figure(rgb, cam, class_name, probability, layer=None):
    """The Grad-CAM figure :func:`explain_files` writes: the cell beside the heatmap overlay, titled with the
    explained class and its probability, and a colour bar for the heatmap's scale (0: no contribution, 1: the
    strongest). Both images keep square pixels. Returns the matplotlib Figure (its own Agg canvas)."""
    from matplotlib import colormaps
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    from leuknet.figures import subplots

    h, w = rgb.shape[:2]
    side = 3.2
    fig, axes = subplots(1, 2, figsize=(2 * side * max(w / h, 0.5) + 1.4, side + 0.9))
    axes[0].imshow(rgb, interpolation="nearest")
    axes[0].set_title("cell", fontsize=9)
    axes[1].imshow(overlay(rgb, cam), interpolation="nearest")
    axes[1].set_title("Grad-CAM" + (f" at {layer}" if layer else ""), fontsize=9)
    for ax in axes:
        ax.set_axis_off()
    bar = fig.colorbar(ScalarMappable(Normalize(0, 1), colormaps["jet"]), ax=list(axes), fraction=0.046, pad=0.03,
                       shrink=0.8)
    bar.set_label("relative contribution", fontsize=8)
    bar.ax.tick_params(labelsize=7)
    fig.suptitle(f"explained class: {class_name}, probability {probability:.3f}", fontsize=10)
    return fig


def explain_files(model_file, inputs, out, class_name=None, layer_name=None, progress=None) -> list[dict]:
    """Grad-CAM PNGs for image files/folders: ``<out>/<stem>_gradcam.png`` (:func:`gradcam_figure`: cell and
    overlay, the explained class with its probability, a colour bar) per image. Inputs, class and layer are checked
    before anything is written; ``progress('files', n)`` then, for each file, ``progress('done', file)`` or, for an
    unreadable one, which is skipped, ``progress('skipped', (file, reason))``; where none can be read it is a
    DataError and nothing is written."""
    from keras import ops

    from leuknet.colorspace import convert
    from leuknet.data.images import none_readable, unreadable_reason
    from leuknet.data.pipeline import crop_border, read_image, resize_image
    from leuknet.io import atomic_path
    from leuknet.run import collect_images, load_model, model_metadata

    files = collect_images(inputs)
    model = load_model(model_file)
    meta = model_metadata(model)
    cls = None
    if class_name is not None:
        if class_name not in meta["classes"]:
            raise ConfigError(f"unknown class {class_name!r}; the model's classes: {', '.join(meta['classes'])}")
        cls = meta["classes"].index(class_name)
    target_name = find_target_layer(model, layer_name).name
    if progress:
        progress("files", len(files))
    out = Path(out)
    rows, skipped = [], []
    for f in files:
        try:
            rgb = crop_border(read_image(f), meta.get("crop", 0))
        except (DataError, OSError):  # not an image, or not openable
            skipped.append((f, unreadable_reason(f, meta.get("crop", 0))))
            if progress:
                progress("skipped", skipped[-1])
            continue
        x = resize_image(convert(rgb, meta["colorspace"]), meta["input_size"])
        cam, idx, target = grad_cam(model, x[None], cls, target_name)
        probs = ops.convert_to_numpy(model(x[None].astype(np.float32), training=False))[0]
        explained, p = meta["classes"][int(idx[0])], float(probs[int(idx[0])])
        shown = resize_image(rgb, meta["input_size"])
        fig = gradcam_figure(shown, cam[0], explained, p, target)
        path = out / f"{Path(f).stem}_gradcam.png"
        with atomic_path(path) as tmp:  # makes the folder at the first heatmap
            fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")
        rows.append({"file": f, "heatmap": str(path), "class": explained, "layer": target, "probability": p})
        if progress:
            progress("done", f)
    if not rows:
        raise none_readable(len(files), skipped)
    return rows
