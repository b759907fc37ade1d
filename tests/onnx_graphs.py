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
