"""``leuknet parity``: every MATLAB behaviour leuknet claims, checked against reference cases made by
implementations leuknet did not write (onnxruntime, GNU Octave, NumPy float64 transcriptions of MATLAB's
documented equations, values published by MathWorks). The cases are small committed files in ``parity/cases``
(one ``.npz`` per case: ``kind``, ``oracle``, ``tolerance``, ``why``, inputs and the oracle's output); the scripts
beside them regenerate them. Running the suite needs neither Octave nor onnxruntime nor network. It runs under
the Keras backend in use (TensorFlow or JAX; under JAX without importing TensorFlow), which each result records.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import numpy as np

from leuknet.errors import DataError
from leuknet.tflog import no_false_retracing_warning as _no_false_retracing_warning

DEFAULT_CASES = Path(__file__).resolve().parents[1] / "parity" / "cases"
INSTALL_ONNX = "pip install onnx onnxruntime"


class MissingPackage(Exception):
    """A case needs a package that is not installed: the case is reported as not run, with what to install."""


def _require(module, install=INSTALL_ONNX):
    try:
        importlib.import_module(module)
    except ImportError:
        raise MissingPackage(f"not run: the {module} package is not installed ({install})") from None


def _backend() -> str:
    import keras

    return keras.backend.backend()


def _numpy(x) -> np.ndarray:
    """A layer's or model's output (a TensorFlow tensor, a jax.Array) or a variable as a NumPy array (a variable
    through its value: Keras 3.15's JAX variable has an ``__array__`` without NumPy 2's ``copy`` keyword)."""
    import keras
    from keras import ops

    if isinstance(x, keras.Variable):
        x = x.value
    return np.asarray(ops.convert_to_numpy(x))


# what a case's recorded divergence says of one backend's implementation only: kind -> (backend, the other
# backends' implementation), written into the report beside the divergence where another backend ran
_DIVERGENCE_OF_BACKEND = {"resize": ("tensorflow", ("this run resized with leuknet.data.pipeline.resize_uint8_np, "
                                                    "which mirrors the image at its borders as MATLAB does"))}


# -- leuknet's side of each kind of case ------------------------------------------------------------------------

def _lrn(c):
    from leuknet.layers import CrossChannelNormalization

    return _numpy(CrossChannelNormalization(int(c["w"]), float(c["alpha"]), float(c["beta"]), float(c["k"]))(
        c["x"].astype(np.float32)))


def _conv(c):
    """ONNX Conv (OIHW weights, NCHW) through convolution2dLayer / groupedConvolution2dLayer (MATLAB layouts)."""
    from leuknet.matlab import convolution2dLayer, groupedConvolution2dLayer, imageInputLayer
    from leuknet.matlab.layers import assemble

    x = c["x_nhwc"].astype(np.float32)
    w = c["w_oihw"].astype(np.float32)
    g = int(c["groups"])
    o, cg, kh, kw = w.shape
    pad, stride = int(c["pad"]), int(c["stride"])
    if g == 1:
        spec = convolution2dLayer([kh, kw], o, Weights=w.transpose(2, 3, 1, 0), Bias=c["b"].reshape(1, 1, -1),
                                  Stride=stride, Padding=pad)
    else:
        fg = o // g
        wm = w.reshape(g, fg, cg, kh, kw).transpose(3, 4, 2, 1, 0)  # FH x FW x C/G x F/G x G
        bm = c["b"].reshape(g, fg).T.reshape(1, 1, fg, g)
        spec = groupedConvolution2dLayer([kh, kw], fg, g, Weights=wm, Bias=bm, Stride=stride, Padding=pad)
    model, _ = assemble([imageInputLayer(x.shape[1:], Normalization="none"), spec])
    return _numpy(model(x))


def _maxpool(c):
    from leuknet.matlab import imageInputLayer, maxPooling2dLayer
    from leuknet.matlab.layers import assemble

    x = c["x_nhwc"].astype(np.float32)
    kw = {} if int(c["stride"]) == 0 else {"Stride": int(c["stride"])}
    model, _ = assemble([imageInputLayer(x.shape[1:], Normalization="none"), maxPooling2dLayer(int(c["pool"]), **kw)])
    return _numpy(model(x))


def _fc(c):
    from leuknet.matlab import fullyConnectedLayer, imageInputLayer
    from leuknet.matlab.layers import assemble

    x = c["x"].astype(np.float32)
    model, _ = assemble([imageInputLayer(x.shape[1:], Normalization="none"),
                         fullyConnectedLayer(c["W"].shape[0], Weights=c["W"], Bias=c["b"])])
    return _numpy(model(x))


def _colour(c):
    from leuknet import colorspace as cs

    fn = str(c["fn"])
    x = c["x"]
    if fn == "rgb2hsv":
        return cs.rgb2hsv(x)
    if fn == "im2uint8_rgb2hsv":
        return cs.convert(x, "hsv")
    if fn == "rgb2ycbcr_uint8":
        return cs.rgb2ycbcr(x)
    if fn == "rgb2ycbcr_double":
        return cs.rgb2ycbcr(x.astype(np.float64))
    if fn == "hcbcr":
        return cs.convert(x, "hcbcr")
    raise ValueError(fn)


def _resize(c):
    """The resize the running backend's pipeline uses: tf.data's :func:`resize_uint8` (``tf.image.resize``) under
    TensorFlow, :func:`resize_uint8_np` (MATLAB's mirrored borders) under any other backend."""
    from leuknet.data.pipeline import resize_image

    out = resize_image(c["x"], tuple(int(v) for v in c["size"])).astype(np.float64)
    m = int(c["margin"])
    return out[m:-m, m:-m] if m else out


def _solver(c):
    from leuknet.matlab import classificationLayer, fullyConnectedLayer, imageInputLayer, softmaxLayer, trainingOptions
    from leuknet.matlab.layers import assemble
    from leuknet.train import Trainer

    f = c["factors"]
    layers = [imageInputLayer([c["x"].shape[1], 1, 1], Normalization="none"),
              fullyConnectedLayer(c["W"].shape[0], Weights=c["W"], Bias=c["b"], WeightLearnRateFactor=f[0],
                                  BiasLearnRateFactor=f[1], WeightL2Factor=f[2], BiasL2Factor=f[3]),
              softmaxLayer(), classificationLayer()]
    model, _ = assemble(layers)
    opts = json.loads(str(c["options"]))
    trainer = Trainer(model, trainingOptions(str(c["solver"]), **opts))
    x = c["x"].reshape(len(c["x"]), -1, 1, 1).astype(np.float32)
    for lr in c["lrs"]:
        trainer.train_step(x, c["y"].astype(np.int32), float(lr))
    layer = model.get_layer("fc")
    return np.concatenate([_numpy(layer.kernel).T.ravel(), _numpy(layer.bias).ravel()])


def _schedule(c):
    from leuknet.matlab import trainingOptions

    o = trainingOptions("adam", InitialLearnRate=float(c["initial"]), LearnRateSchedule="piecewise",
                        LearnRateDropFactor=float(c["drop"]), LearnRateDropPeriod=int(c["period"]))
    return np.array([o.learn_rate(int(e)) for e in c["epochs"]])


def _cadence(c):
    """Iterations per epoch (partial batch dropped) and validated iterations, from a real (tiny) training run."""
    from leuknet.data.pipeline import ImageData
    from leuknet.matlab import (classificationLayer, fullyConnectedLayer, imageInputLayer, softmaxLayer,
                                trainingOptions)
    from leuknet.matlab.layers import assemble
    from leuknet.train import Trainer

    n, b, epochs, freq = (int(v) for v in c["n_b_epochs_freq"])
    model, _ = assemble([imageInputLayer([2, 1, 1], Normalization="none"), fullyConnectedLayer(2), softmaxLayer(),
                         classificationLayer()])
    data = ImageData(np.arange(n) % 2, (2, 1), images=np.zeros((n, 2, 1, 1), np.float32))
    t = Trainer(model, trainingOptions("sgdm", MaxEpochs=epochs, MiniBatchSize=b, ValidationFrequency=freq,
                                       Verbose=False))
    info = t.fit(data, data.subset(np.arange(2)))
    validated = [r["Iteration"] for r in info.rows if not np.isnan(r["ValidationLoss"])]
    return np.array([info.iterations_per_epoch, len(info.rows)] + validated, np.float64)


def _stats(c):
    from leuknet.layers import input_statistics

    s = input_statistics([c["x"]], "zscore", str(c["dimension"]))
    return np.concatenate([s["mean"].ravel(), s["std"].ravel()])


def _glorot(c):
    from leuknet.matlab import convolution2dLayer, fullyConnectedLayer, imageInputLayer
    from leuknet.matlab.layers import assemble

    h, w, cin, fh, fout = (int(v) for v in c["shape"])
    spec = convolution2dLayer(fh, fout) if fh > 0 else fullyConnectedLayer(fout)
    model, _ = assemble([imageInputLayer([h, w, cin], Normalization="none"), spec])
    layer = model.layers[-1]
    init = layer.kernel_initializer
    return np.array([init.maxval])


def _crossentropy(c):
    from leuknet.layers import crossentropyex

    w = c["w"] if c["w"].size else None
    return np.array([float(crossentropyex(c["Y"].astype(np.float32), c["T"], w))])


def _split(c):
    from leuknet.data.split import split_each_label

    parts = split_each_label(c["labels"], tuple(c["fractions"]), randomized=False)
    return np.array([[np.sum(c["labels"][p] == k) for p in parts] for k in np.unique(c["labels"])], np.float64)


def _onnx_forward(c):
    import tempfile

    _require("onnx")
    from leuknet.matlab.layers import assemble
    from leuknet.weights.onnx_import import import_onnx

    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "model.onnx"
        p.write_bytes(c["onnx"].tobytes())
        layers, _ = import_onnx(p, input_order=str(c["order"]))
    model, _ = assemble(layers)
    return _numpy(model(c["x"].astype(np.float32), training=False))


KINDS = {"onnx_forward": _onnx_forward, "lrn": _lrn, "conv": _conv, "maxpool": _maxpool, "fc": _fc, "colour": _colour, "resize": _resize,
         "solver": _solver, "schedule": _schedule, "cadence": _cadence, "stats": _stats, "glorot": _glorot,
         "crossentropy": _crossentropy, "split": _split}


def run_case(path: Path) -> dict:
    with np.load(path, allow_pickle=False) as z:
        c = {k: z[k] for k in z.files}
    kind = str(c["kind"])
    expected = np.asarray(c["expected"], np.float64)
    try:
        with _no_false_retracing_warning():
            got = np.asarray(KINDS[kind](c), np.float64)
        err = float(np.max(np.abs(got - expected))) if got.shape == expected.shape else float("inf")
        note = "" if got.shape == expected.shape else f"shape {got.shape} != {expected.shape}"
    except MissingPackage as e:
        err, note = float("inf"), str(e)
    except Exception as e:  # noqa: BLE001 - a failing case is a result, not a crash
        err, note = float("inf"), f"{type(e).__name__}: {e}"
    tol = float(c["tolerance"])
    backend = _backend()
    divergence = str(c["divergence"]) if "divergence" in c else ""
    if divergence and kind in _DIVERGENCE_OF_BACKEND and _DIVERGENCE_OF_BACKEND[kind][0] != backend:
        of, instead = _DIVERGENCE_OF_BACKEND[kind]
        divergence = f"(the {of} backend's; {instead}) {divergence}"
    return {"name": path.stem, "kind": kind, "oracle": str(c["oracle"]), "behaviour": str(c["behaviour"]),
            "max_abs_error": err, "tolerance": tol, "passed": bool(err <= tol), "why": str(c["why"]),
            "known_divergence": divergence, "note": note, "backend": backend}


def run_all(cases_dir=None, progress=None) -> list[dict]:
    d = Path(cases_dir) if cases_dir else DEFAULT_CASES
    files = sorted(d.glob("*.npz")) if d.is_dir() else []
    if not files:
        raise DataError(f"no parity cases (*.npz) in {d}; pass --cases PATH to the repository's parity/cases")
    out = []
    for f in files:
        out.append(run_case(f))
        if progress:
            progress(out[-1])
    return out


def markdown(results) -> str:
    backends = ", ".join(sorted({r.get("backend", "") for r in results} - {""})) or "unknown"
    lines = ["# leuknet parity", "", f"{sum(r['passed'] for r in results)} of {len(results)} cases pass, "
             f"{len({r['oracle'] for r in results})} independent oracles (Keras backend: {backends}).", "",
             "| case | behaviour | oracle | max abs error | tolerance | pass | why this tolerance |",
             "|---|---|---|---|---|---|---|"]
    for r in results:
        lines.append(f"| {r['name']} | {r['behaviour']} | {r['oracle']} | {r['max_abs_error']:.3g} | "
                     f"{r['tolerance']:.3g} | {'yes' if r['passed'] else '**NO**'} | {r['why']} |")
    failed = [r for r in results if not r["passed"] and r["note"]]
    if failed:
        lines += ["", "Why cases did not pass:", ""]
        lines += [f"- {r['name']}: {r['note']}" for r in failed]
    div = [r for r in results if r["known_divergence"]]
    if div:
        lines += ["", "Known divergences (measured, not hidden):", ""]
        lines += [f"- {r['name']}: {r['known_divergence']}" for r in div]
    return "\n".join(lines) + "\n"


def write(results, out):
    from leuknet.io import write_json, write_text

    out = Path(out)
    write_json(out / "parity.json", {"cases": [{k: r[k] for k in ("name", "oracle", "behaviour", "max_abs_error",
                                                                  "tolerance", "passed", "known_divergence",
                                                                  "note", "backend")} for r in results]})
    write_text(out / "parity.md", markdown(results))
