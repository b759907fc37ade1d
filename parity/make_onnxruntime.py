"""Regenerate the onnxruntime cases: ONNX graphs built with onnx.helper, run by onnxruntime (NCHW), outputs
stored NHWC. Needs onnx and onnxruntime (pip install -e '.[test]'):  python parity/make_onnxruntime.py

ONNX LRN is y = x / (bias + alpha/size * sum_sq)^beta, the MATLAB form; onnxruntime refuses even sizes (those
cases come from the NumPy transcription instead)."""

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

from common import save

rng = np.random.default_rng(7)


def run(node, x, inits=(), out_shape=None):
    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(x.shape))]
    graph = helper.make_graph([node], "g", inputs, [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None] * 4)],
                              initializer=[numpy_helper.from_array(a, n) for n, a in inits])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=8)
    onnx.checker.check_model(model)
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, {"x": x})[0]


for size in (3, 5, 7):
    x = rng.normal(0, 6, (2, 17, 6, 5)).astype(np.float32)  # NCHW
    y = run(helper.make_node("LRN", ["x"], ["y"], size=size, alpha=3e-2, beta=0.75, bias=1.5), x)
    save(f"lrn_odd_w{size}_onnxruntime", kind="lrn", oracle="onnxruntime",
         behaviour=f"crossChannelNormalizationLayer window {size} (ONNX LRN)", tolerance=2e-6,
         why="float32 against float32, different summation order", expected=y.transpose(0, 2, 3, 1),
         x=x.transpose(0, 2, 3, 1), w=size, alpha=3e-2, beta=0.75, k=1.5)

for name, groups, cin, cout, k, stride, pad in (("conv_stride2_pad1", 1, 3, 8, 5, 2, 1),
                                                ("grouped_conv_alexnet_like", 2, 8, 12, 3, 1, 1),
                                                ("grouped_conv_4groups", 4, 8, 8, 3, 1, 0)):
    x = rng.normal(size=(2, cin, 11, 11)).astype(np.float32)
    w = rng.normal(size=(cout, cin // groups, k, k)).astype(np.float32)
    b = rng.normal(size=(cout,)).astype(np.float32)
    node = helper.make_node("Conv", ["x", "w", "b"], ["y"], group=groups, strides=[stride, stride],
                            pads=[pad] * 4, kernel_shape=[k, k])
    y = run(node, x, [("w", w), ("b", b)])
    save(name, kind="conv", oracle="onnxruntime",
         behaviour=f"{'groupedConvolution2dLayer' if groups > 1 else 'convolution2dLayer'} ({groups} group(s), "
                   f"stride {stride}, padding {pad}) with MATLAB weight layouts",
         tolerance=1e-4, why="float32 sums of up to 75 products of order 1 (oneDNN vs MLAS order)",
         expected=y.transpose(0, 2, 3, 1), x_nhwc=x.transpose(0, 2, 3, 1), w_oihw=w, b=b, groups=groups,
         stride=stride, pad=pad)

for name, pool, stride in (("maxpool_3_stride2", 3, 2), ("maxpool_3_default_stride1", 3, 0)):
    x = rng.normal(size=(2, 4, 9, 9)).astype(np.float32)
    y = run(helper.make_node("MaxPool", ["x"], ["y"], kernel_shape=[pool, pool], strides=[stride or 1] * 2), x)
    save(name, kind="maxpool", oracle="onnxruntime",
         behaviour=f"maxPooling2dLayer({pool}" + (f", Stride={stride})" if stride else ") with MATLAB's default "
                                                                                     "stride 1"),
         tolerance=0, why="max is exact", expected=y.transpose(0, 2, 3, 1), x_nhwc=x.transpose(0, 2, 3, 1),
         pool=pool, stride=stride)
print("written")

# a whole BVLC-AlexNet-layout forward pass (the same 5 conv / 3 FC structure with LRN and grouped convolutions,
# at 99 x 99 with narrow layers so the fixture stays small), in both channel orders
import sys  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from onnx_graphs import SIZE, alexnet_like  # noqa: E402

for order, name in (("rgb", "data"), ("bgr", "data_0")):
    with tempfile.TemporaryDirectory() as d:
        mean = rng.uniform(90, 130, (3, SIZE, SIZE)) if order == "rgb" else None
        p = alexnet_like(Path(d) / "a.onnx", name, mean, seed=5)
        x = rng.uniform(0, 255, (2, SIZE, SIZE, 3)).astype(np.float32)
        sess = ort.InferenceSession(str(p), providers=["CPUExecutionProvider"])
        src = x[..., ::-1] if order == "bgr" else x
        y = np.concatenate([sess.run(None, {name: np.ascontiguousarray(s[None].transpose(0, 3, 1, 2))})[0]
                            for s in src])
        save(f"alexnet_layout_forward_{order}", kind="onnx_forward", oracle="onnxruntime",
             behaviour=f"whole BVLC-AlexNet-layout forward pass imported from ONNX ({order.upper()} source"
                       + (", mean subtraction in the graph)" if mean is not None else ")"),
             tolerance=1e-5, why="probabilities; float32 on both sides through 8 learnable layers",
             expected=y, x=x, onnx=np.frombuffer(p.read_bytes(), np.uint8), order=order)
print("written")
