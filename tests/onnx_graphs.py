"""Small BVLC-AlexNet-layout ONNX graphs with random weights, built with onnx.helper (for import tests)."""

import numpy as np
from onnx import TensorProto, helper, numpy_helper

SIZE = 99  # conv1 /4 -> 23, pool -> 11, pool -> 5, pool5 -> 2 x 2 (so the FC flatten order matters)


def alexnet_like(path, input_name="data", mean=None, seed=0, classes=10, size=SIZE, ceil_mode=False, fc_in=64):
    """``ceil_mode``: Caffe-style ceil-mode pooling (the model zoo's converted files); pool2 also gets explicit
    bottom/right pads. ``fc_in``: fc6's input size (pool5's C*H*W)."""
    rng = np.random.default_rng(seed)
    inits, nodes = [], []

    def w(name, shape, scale):
        inits.append(numpy_helper.from_array((rng.normal(0, scale, shape)).astype(np.float32), name))
        return name

    x = input_name
    if mean is not None:
        inits.append(numpy_helper.from_array(np.asarray(mean, np.float32).reshape(1, 3, size, size)
                                             if np.ndim(mean) == 3 else np.asarray(mean, np.float32).reshape(1, 3, 1, 1),
                                             "mean"))
        nodes.append(helper.make_node("Sub", [x, "mean"], ["x0"]))
        x = "x0"

    def conv(name, inp, cin, cout, k, stride=1, pad=0, group=1):
        nodes.append(helper.make_node("Conv", [inp, w(f"{name}_w", (cout, cin // group, k, k), 0.05),
                                               w(f"{name}_b", (cout,), 0.1)], [name], kernel_shape=[k, k],
                                      strides=[stride] * 2, pads=[pad] * 4, group=group))
        nodes.append(helper.make_node("Relu", [name], [f"{name}_r"]))
        return f"{name}_r"

    def lrn(inp, name):
        nodes.append(helper.make_node("LRN", [inp], [name], size=5, alpha=1e-4, beta=0.75, bias=1.0))
        return name

    def pool(inp, name):
        extra = {"ceil_mode": 1, "pads": [0, 0, 1, 1]} if ceil_mode and name == "pool2" else \
            ({"ceil_mode": 1} if ceil_mode else {})
        nodes.append(helper.make_node("MaxPool", [inp], [name], kernel_shape=[3, 3], strides=[2, 2], **extra))
        return name

    h = pool(lrn(conv("conv1", x, 3, 8, 11, stride=4), "norm1"), "pool1")
    h = pool(lrn(conv("conv2", h, 8, 16, 5, pad=2, group=2), "norm2"), "pool2")
    h = conv("conv3", h, 16, 24, 3, pad=1)
    h = conv("conv4", h, 24, 24, 3, pad=1, group=2)
    h = pool(conv("conv5", h, 24, 16, 3, pad=1, group=2), "pool5")
    inits.append(numpy_helper.from_array(np.array([1, -1], np.int64), "shape"))
    nodes.append(helper.make_node("Reshape", [h, "shape"], ["flat"]))
    h = "flat"
    for name, i, o, last in (("fc6", fc_in, 32, False), ("fc7", 32, 32, False), ("fc8", 32, classes, True)):
        nodes.append(helper.make_node("Gemm", [h, w(f"{name}_w", (o, i), 0.2), w(f"{name}_b", (o,), 0.1)], [name],
                                      transB=1))
        h = name
        if not last:
            nodes.append(helper.make_node("Relu", [h], [f"{name}_r"]))
            nodes.append(helper.make_node("Dropout", [f"{name}_r"], [f"{name}_d"]))
            h = f"{name}_d"
    nodes.append(helper.make_node("Softmax", [h], ["prob"]))
    graph = helper.make_graph(nodes, "alexnet_like",
                              [helper.make_tensor_value_info(input_name, TensorProto.FLOAT, [1, 3, size, size])],
                              [helper.make_tensor_value_info("prob", TensorProto.FLOAT, [1, classes])],
                              initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=8)
    with open(path, "wb") as f:
        f.write(model.SerializeToString())
    return path


# BVLC GoogLeNet's inception modules (Szegedy et al. 2015, Table 1): 1x1, 3x3 reduce, 3x3, 5x5 reduce, 5x5, pool proj
GOOGLENET_TABLE = {"3a": (64, 96, 128, 16, 32, 32), "3b": (128, 128, 192, 32, 96, 64), "4a": (192, 96, 208, 16, 48, 64),
                   "4b": (160, 112, 224, 24, 64, 64), "4c": (128, 128, 256, 24, 64, 64),
                   "4d": (112, 144, 288, 32, 64, 64), "4e": (256, 160, 320, 32, 128, 128),
                   "5a": (256, 160, 320, 32, 128, 128), "5b": (384, 192, 384, 48, 128, 128)}


def googlenet_zoo_like(path, seed=0, size=224, classes=1000):
    """BVLC GoogLeNet as the ONNX model zoo's Caffe2-converted ``googlenet-12.onnx`` lays it out (Caffe's
    bvlc_googlenet/deploy.prototxt: input ``data_0`` in BGR with the mean already subtracted, initialisers
    ``<caffe layer>_w_0``/``_b_0``, Caffe's ceil-mode stride-2 pooling, LRN 5/1e-4/0.75/1, concatenation of the
    1x1, 3x3, 5x5 and pool-projection branches, global average pooling, Gemm with transB), with random weights.
    Also outputs ``pool5`` (the global average) for feature comparisons. Returns {initialiser name: array}."""
    rng = np.random.default_rng(seed)
    inits, nodes, arrays = [], [], {}

    def param(name, shape, scale):
        a = rng.normal(0, scale, shape).astype(np.float32)
        arrays[name] = a
        inits.append(numpy_helper.from_array(a, name))
        return name

    def conv(caffe, inp, cin, cout, k, stride=1, pad=0):
        nodes.append(helper.make_node("Conv", [inp, param(f"{caffe}_w_0", (cout, cin, k, k), np.sqrt(2 / (cin * k * k))),
                                               param(f"{caffe}_b_0", (cout,), 0.05)], [caffe], kernel_shape=[k, k],
                                      strides=[stride] * 2, pads=[pad] * 4))
        nodes.append(helper.make_node("Relu", [caffe], [caffe + "_relu"]))
        return caffe + "_relu"

    def maxpool(name, inp, stride, pad=0, ceil=0):
        nodes.append(helper.make_node("MaxPool", [inp], [name], kernel_shape=[3, 3], strides=[stride] * 2,
                                      pads=[pad] * 4, ceil_mode=ceil))
        return name

    def lrn(name, inp):
        nodes.append(helper.make_node("LRN", [inp], [name], size=5, alpha=1e-4, beta=0.75, bias=1.0))
        return name

    h = conv("conv1/7x7_s2", "data_0", 3, 64, 7, stride=2, pad=3)
    h = lrn("pool1/norm1", maxpool("pool1/3x3_s2", h, 2, ceil=1))
    h = conv("conv2/3x3_reduce", h, 64, 64, 1)
    h = conv("conv2/3x3", h, 64, 192, 3, pad=1)
    h, cin = maxpool("pool2/3x3_s2", lrn("conv2/norm2", h), 2, ceil=1), 192
    for m, (n1, r3, n3, r5, n5, proj) in GOOGLENET_TABLE.items():
        p = f"inception_{m}/"
        b1 = conv(p + "1x1", h, cin, n1, 1)
        b3 = conv(p + "3x3", conv(p + "3x3_reduce", h, cin, r3, 1), r3, n3, 3, pad=1)
        b5 = conv(p + "5x5", conv(p + "5x5_reduce", h, cin, r5, 1), r5, n5, 5, pad=2)
        bp = conv(p + "pool_proj", maxpool(p + "pool", h, 1, pad=1), cin, proj, 1)
        nodes.append(helper.make_node("Concat", [b1, b3, b5, bp], [p + "output"], axis=1))
        h, cin = p + "output", n1 + n3 + n5 + proj
        if m in ("3b", "4e"):
            h = maxpool(f"pool{3 if m == '3b' else 4}/3x3_s2", h, 2, ceil=1)
    nodes.append(helper.make_node("GlobalAveragePool", [h], ["pool5"]))
    nodes.append(helper.make_node("Dropout", ["pool5"], ["pool5_drop"]))
    inits.append(numpy_helper.from_array(np.array([1, -1], np.int64), "shape"))
    nodes.append(helper.make_node("Reshape", ["pool5_drop", "shape"], ["flat"]))
    nodes.append(helper.make_node("Gemm", ["flat", param("loss3/classifier_w_0", (classes, cin), 0.05),
                                           param("loss3/classifier_b_0", (classes,), 0.1)], ["logits"], transB=1))
    nodes.append(helper.make_node("Softmax", ["logits"], ["prob_1"]))
    graph = helper.make_graph(nodes, "googlenet_zoo_like",
                              [helper.make_tensor_value_info("data_0", TensorProto.FLOAT, [1, 3, size, size])],
                              [helper.make_tensor_value_info("prob_1", TensorProto.FLOAT, [1, classes]),
                               helper.make_tensor_value_info("pool5", TensorProto.FLOAT, [1, cin, 1, 1])],
                              initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 12)], ir_version=7)
    with open(path, "wb") as f:
        f.write(model.SerializeToString())
    return arrays
