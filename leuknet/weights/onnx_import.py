"""Import AlexNet-like ONNX graphs (BVLC / Caffe layout) into a MATLAB-style layer array, then a Keras model.

The graph is read with the ``onnx`` package and never executed to build the model: tensors are mapped by
structure. NCHW becomes NHWC; the first convolution's input channels are flipped where the source is BGR (the
ONNX model zoo's ``bvlcalexnet`` converted from Caffe) and kept for RGB (MATLAB's ``exportONNXNetwork``); the first
fully connected layer after a spatial input is permuted from ONNX's (C, H, W) flattening to MATLAB's column-major
(H, W, C); grouped kernels are split per group; LRN parameters come from the nodes; an input normalisation in the
graph (a ``Sub`` of a constant before the first convolution, as MATLAB exports ``zerocenter``) becomes the input
layer's mean (``none`` otherwise, or ``mean`` given by the user).

After the import, :func:`verify` runs the source graph in onnxruntime and the Keras model on the same random input
and refuses the import if they differ.

``input_order='auto'``: 'bgr' when the graph input is named ``data_0`` (the Caffe2-converted zoo files), else 'rgb'
(MATLAB's exports name it ``data``). Pass it explicitly when in doubt.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

import leuknet.spec.layers as ml
from leuknet.errors import ModelFileError
from leuknet.weights.where import WHERE, not_this_network

ALEXNET_NAMES = ["conv1", "relu1", "norm1", "pool1", "conv2", "relu2", "norm2", "pool2", "conv3", "relu3", "conv4",
                 "relu4", "conv5", "relu5", "pool5", "fc6", "relu6", "drop6", "fc7", "relu7", "drop7", "fc8", "prob"]


def _attrs(node):
    import onnx

    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def _require(package: str):
    """Import an optional package (installed with leuknet; a trimmed environment may lack it) or say what to do."""
    import importlib

    try:
        return importlib.import_module(package)
    except ImportError:
        from leuknet.errors import ConfigError

        raise ConfigError(f"ONNX weights need the {package} package, which leuknet installs: pip install "
                          "'onnx>=1.16,<1.24' 'onnxruntime>=1.18,<1.32'") from None


def read_onnx(path):
    onnx = _require("onnx")

    p = Path(path)
    if not p.is_file():
        raise ModelFileError(f"ONNX file {p} does not exist. {WHERE}")
    try:
        model = onnx.load(str(p))
        onnx.checker.check_model(model)
    except Exception as e:  # noqa: BLE001
        raise ModelFileError(f"{p} is not a readable ONNX model: {str(e).splitlines()[0][:200]}") from None
    return model


def import_onnx(path, input_order="auto", mean=None):
    """Returns (MATLAB layer array with weights, info dict)."""
    model = read_onnx(path)
    from onnx import numpy_helper

    g = model.graph
    inits = {t.name: numpy_helper.to_array(t).astype(np.float32) for t in g.initializer}
    for n in g.node:  # Constant nodes hold tensors too
        if n.op_type == "Constant":
            inits[n.output[0]] = numpy_helper.to_array(_attrs(n)["value"]).astype(np.float32)
    inputs = [i for i in g.input if i.name not in inits]
    if len(inputs) != 1:
        raise ModelFileError(f"{path}: expected one image input, found {len(inputs)}")
    inp = inputs[0]
    dims = [d.dim_value for d in inp.type.tensor_type.shape.dim]
    if len(dims) != 4 or dims[1] != 3 or not dims[2] or not dims[3]:
        raise ModelFileError(f"{path}: input {inp.name} has shape {dims}; expected N x 3 x H x W")
    h, w = dims[2], dims[3]
    if input_order == "auto":
        input_order = "bgr" if inp.name == "data_0" else "rgb"
    if input_order not in ("rgb", "bgr"):
        raise ModelFileError(f"input order must be rgb, bgr or auto, received {input_order!r}")
    bgr = input_order == "bgr"

    layers, spatial = [], True
    graph_mean = None
    first_conv = True
    shape = (h, w, 3)
    for node in g.node:
        op, a = node.op_type, _attrs(node)
        if op in ("Constant", "Identity", "Reshape", "Flatten", "Squeeze", "Unsqueeze", "Shape", "Gather"):
            continue
        if op == "Sub" and first_conv and node.input[1] in inits:
            m = inits[node.input[1]].reshape(-1, 3, *inits[node.input[1]].shape[-2:])[0] \
                if inits[node.input[1]].ndim == 4 else inits[node.input[1]].reshape(3, 1, 1)
            graph_mean = np.transpose(m, (1, 2, 0))  # C,H,W -> H,W,C
            if bgr:
                graph_mean = graph_mean[..., ::-1]
            continue
        if op == "Conv":
            W = inits[node.input[1]]
            b = inits[node.input[2]] if len(node.input) > 2 else np.zeros(W.shape[0], np.float32)
            groups = int(a.get("group", 1))
            if first_conv and bgr:
                W = W[:, ::-1]
            first_conv = False
            pads = a.get("pads", [0, 0, 0, 0])
            pad = (pads[0], pads[2], pads[1], pads[3])  # ONNX: [t, l, b, r] -> MATLAB [t b l r]
            stride = tuple(a.get("strides", [1, 1]))
            o, cg, kh, kw = W.shape
            if groups == 1:
                layers.append(ml.convolution2dLayer([kh, kw], o, Stride=stride, Padding=pad,
                                                    Weights=W.transpose(2, 3, 1, 0), Bias=b.reshape(1, 1, -1)))
            else:
                fg = o // groups
                layers.append(ml.groupedConvolution2dLayer(
                    [kh, kw], fg, groups, Stride=stride, Padding=pad,
                    Weights=W.reshape(groups, fg, cg, kh, kw).transpose(3, 4, 2, 1, 0),
                    Bias=b.reshape(groups, fg).T.reshape(1, 1, fg, groups)))
            shape = (_out(shape[0], kh, stride[0], pad[0] + pad[1]), _out(shape[1], kw, stride[1], pad[2] + pad[3]), o)
        elif op == "Relu":
            layers.append(ml.reluLayer())
        elif op == "LRN":
            layers.append(ml.crossChannelNormalizationLayer(int(a["size"]), Alpha=float(a.get("alpha", 1e-4)),
                                                            Beta=float(a.get("beta", 0.75)),
                                                            K=float(a.get("bias", 1.0))))
        elif op == "MaxPool":
            k = tuple(a["kernel_shape"])
            s = tuple(a.get("strides", [1, 1]))
            pads = list(a.get("pads", [0, 0, 0, 0]))  # [t, l, b, r]
            if a.get("ceil_mode", 0):  # extra bottom/right cells so the last partial window counts (Caffe)
                for axis, (n, kk, ss) in enumerate(zip(shape[:2], k, s)):
                    full = n + pads[axis] + pads[axis + 2]
                    out_ceil = -(-(full - kk) // ss) + 1
                    pads[axis + 2] += max(0, (out_ceil - 1) * ss + kk - full)
            pad = (pads[0], pads[2], pads[1], pads[3])
            layers.append(ml.maxPooling2dLayer(list(k), Stride=list(s), Padding=pad))
            shape = ((shape[0] + pad[0] + pad[1] - k[0]) // s[0] + 1, (shape[1] + pad[2] + pad[3] - k[1]) // s[1] + 1,
                     shape[2])
        elif op in ("Gemm", "MatMul"):
            B = inits[node.input[1]]
            if op == "Gemm" and a.get("transB", 0):
                Wm = B  # O x I
            else:
                Wm = B.T
            if op == "Gemm" and float(a.get("alpha", 1.0)) != 1.0:
                Wm = Wm * float(a["alpha"])
            bias = inits[node.input[2]] * float(a.get("beta", 1.0)) if op == "Gemm" and len(node.input) > 2 \
                else np.zeros(Wm.shape[0], np.float32)
            if spatial:
                hh, ww, cc = shape
                # ONNX flattens (C, H, W) row-major; MATLAB's column-major (H, W, C) = row-major (C, W, H)
                Wm = Wm.reshape(-1, cc, hh, ww).transpose(0, 1, 3, 2).reshape(Wm.shape[0], -1)
                spatial = False
            layers.append(ml.fullyConnectedLayer(Wm.shape[0], Weights=Wm, Bias=bias.reshape(-1, 1)))
            shape = (Wm.shape[0],)
        elif op == "Add" and layers and isinstance(layers[-1], ml.FullyConnectedLayer) and node.input[1] in inits:
            layers[-1].Bias = (np.asarray(layers[-1].Bias).ravel() + inits[node.input[1]].ravel()).reshape(-1, 1)
        elif op == "Dropout":
            layers.append(ml.dropoutLayer(float(a.get("ratio", 0.5)) if "ratio" in a else 0.5))
        elif op == "Softmax":
            layers.append(ml.softmaxLayer())
        else:
            raise ModelFileError(f"{path}: unsupported ONNX operator {op} (node {node.name!r}); leuknet imports "
                                 "AlexNet-like graphs (Conv, Relu, LRN, MaxPool, Gemm, Dropout, Softmax)")
    if not layers or not isinstance(layers[-1], ml.SoftmaxLayer):
        layers.append(ml.softmaxLayer())
    user_mean = None if mean is None else np.asarray(mean, np.float32)
    mean_arr = user_mean if user_mean is not None else graph_mean
    if mean_arr is None:
        inp_layer = ml.imageInputLayer([h, w, 3], Normalization="none")
    else:
        dim = "element" if mean_arr.ndim == 3 and mean_arr.shape[:2] == (h, w) else "channel"
        inp_layer = ml.imageInputLayer([h, w, 3], Normalization="zerocenter",
                                       NormalizationDimension="element" if dim == "element" else "auto",
                                       Mean=mean_arr.reshape(-1) if dim == "channel" else mean_arr)
    layers = [inp_layer] + layers + [ml.classificationLayer()]
    kinds = [type(l).__name__ for l in layers[1:-1]]
    ref = [type(l).__name__ for l in _alexnet_kinds()]
    if kinds == ref:
        layers[0].Name = "data"
        for l, n in zip(layers[1:-1], ALEXNET_NAMES):
            l.Name = n
        layers[-1].Name = "output"
    info = {"source": str(path), "input_name": inp.name, "input_size": [h, w], "input_order": input_order,
            "mean": "graph" if graph_mean is not None and user_mean is None else ("user" if user_mean is not None
                                                                                   else "none"),
            "alexnet_layout": kinds == ref, "n_layers": len(layers)}
    return layers, info


def _alexnet_kinds():
    from leuknet.spec.alexnet import alexnet_layers

    return alexnet_layers()[1:-1]


def _out(n, k, s, p):
    return (n + p - k) // s + 1


def verify(path, model, input_order, seed=0, tolerance=1e-3, mean_rgb=None):
    """Run the ONNX graph in onnxruntime and the Keras model on the same input; return the largest absolute
    difference of the outputs (probabilities) and refuse (ModelFileError) above ``tolerance``. ``mean_rgb``: the
    graph takes the image with this mean already subtracted (the Caffe2 zoo files), which the Keras model's input
    layer subtracts itself."""
    ort = _require("onnxruntime")
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    inp = sess.get_inputs()[0]
    h, w = model.input.shape[1:3]
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 255, (2, h, w, 3)).astype(np.float32)
    src = x if mean_rgb is None else x - np.asarray(mean_rgb, np.float32).reshape(1, 1, 1, 3)
    src = src[..., ::-1] if input_order == "bgr" else src
    # one image per run: source graphs often fix the batch dimension to 1
    ref = np.concatenate([sess.run(None, {inp.name: np.ascontiguousarray(s[None].transpose(0, 3, 1, 2))})[0]
                          for s in src])
    got = model(x, training=False).numpy()
    err = float(np.max(np.abs(got.reshape(ref.shape) - ref)))
    if not err <= tolerance:
        raise ModelFileError(f"imported model differs from {path} by {err:.3g} (> {tolerance}); import refused")
    return err


def import_to_keras(src, dst=None, input_order="auto", mean=None, check=True):
    """Import ``src`` (ONNX), verify against onnxruntime, optionally save to ``dst`` (.keras). Returns
    (model, info)."""
    from leuknet.io import save_model
    from leuknet.spec.layers import assemble

    layers, info = import_onnx(src, input_order, mean)
    model, _ = assemble(layers, name="alexnet" if info["alexnet_layout"] else "imported")
    if check:
        info["max_abs_difference_vs_onnxruntime"] = verify(src, model, info["input_order"])
    if dst:
        save_model(model, dst)
    return model, info


def load_caffe2_onnx(fn, path, specs, first_conv):
    """Set the weights of MATLAB layer specs ``specs`` (changed in place) by name from an ONNX file converted from
    Caffe through Caffe2, as the ONNX model zoo's ``googlenet-12.onnx`` (BVLC GoogLeNet): its initialisers are
    ``<Caffe layer>_w_0`` and ``<Caffe layer>_b_0``, Caffe's ``/`` in a name being MATLAB's ``-``
    (``inception_3a/1x1`` is ``inception_3a-1x1``). Kernels go from (N, C, H, W) to H x W x C x N; the first
    convolution's input channels are reversed when the graph takes BGR (its input named ``data_0``, as Caffe2's
    conversions name it), since MATLAB's network takes RGB; a ``Gemm`` weight is used as (out, in) or transposed as
    its ``transB`` says. Returns the graph's input order ('bgr' or 'rgb')."""
    from onnx import numpy_helper

    g = read_onnx(path).graph
    inits = {t.name: numpy_helper.to_array(t).astype(np.float32) for t in g.initializer}
    transposed = {n.input[1]: bool(_attrs(n).get("transB", 0)) for n in g.node if n.op_type == "Gemm"}
    inputs = [i.name for i in g.input if i.name not in inits]
    order = "bgr" if inputs == ["data_0"] else "rgb"
    found = {k[:-len("_w_0")].replace("/", "-"): k for k in inits if k.endswith("_w_0")}
    learnable = {s.Name: s for s in specs if isinstance(s, (ml.Convolution2DLayer, ml.FullyConnectedLayer))}
    extra, missing = sorted(set(found) - set(learnable)), sorted(set(learnable) - set(found))
    if extra or missing:  # no '<layer>_w_0' at all: every layer is missing
        raise not_this_network(path, f"{fn}'s Caffe2 ONNX file (initialisers '<layer>_w_0')", fn, extra, missing)
    for name, key in found.items():
        spec, w = learnable[name], inits[key]
        bias = inits.get(key[:-len("_w_0")] + "_b_0")
        if isinstance(spec, ml.FullyConnectedLayer):
            w = w if transposed.get(key, False) else w.T
            if w.shape[0] != spec.OutputSize:
                raise ModelFileError(f"{path}: {key} is {'x'.join(map(str, w.shape))}, {name} has {spec.OutputSize} "
                                     "outputs")
            spec.Weights, spec.Bias = w, (bias if bias is not None else np.zeros(w.shape[0], np.float32)).reshape(-1, 1)
            continue
        if w.ndim != 4 or tuple(w.shape[2:]) != tuple(spec.FilterSize) or w.shape[0] != spec.NumFilters:
            raise ModelFileError(f"{path}: {key} is {'x'.join(map(str, w.shape))}, {name} needs {spec.NumFilters} "
                                 f"filters of {'x'.join(map(str, spec.FilterSize))}")
        if name == first_conv and order == "bgr":
            w = w[:, ::-1]
        spec.Weights = np.ascontiguousarray(w.transpose(2, 3, 1, 0))
        spec.Bias = (bias if bias is not None else np.zeros(w.shape[0], np.float32)).reshape(1, 1, -1)
    return order

