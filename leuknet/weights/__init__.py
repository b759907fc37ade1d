"""Weight import, always from a file the user gives, never from the network: ONNX files of AlexNet-like (BVLC / Caffe
layout) networks and the model zoo's GoogLeNet (:mod:`leuknet.weights.onnx_import`), Keras Applications' files
(:mod:`~leuknet.weights.keras_applications`), torchvision's ResNet-18 (:mod:`~leuknet.weights.torchvision_resnet`)
and MathWorks' parameters MAT-files (:mod:`~leuknet.weights.matlab_params`)."""

from __future__ import annotations

from pathlib import Path

from leuknet.errors import ModelFileError

from leuknet.weights.where import WHERE


def load_alexnet_layers(path, input_order=None):
    """MATLAB-style layer array (with weights) from .onnx, .keras or .weights.h5."""
    from leuknet.spec.layers import assemble, network_layers

    p = Path(path)
    if not p.is_file():
        raise ModelFileError(f"weights file {p} does not exist. {WHERE}")
    name = p.name.lower()
    if name.endswith(".onnx"):
        from leuknet.weights.onnx_import import import_onnx

        layers, _ = import_onnx(p, input_order=input_order or "auto")
        return layers
    if name.endswith(".keras"):
        from leuknet.io import load_model

        return network_layers(load_model(p))
    if name.endswith(".weights.h5"):
        from leuknet.spec.alexnet import alexnet_layers

        model, _ = assemble(alexnet_layers(), name="alexnet")
        try:
            model.load_weights(p)
        except Exception as e:  # noqa: BLE001
            raise ModelFileError(f"cannot load {p} into MATLAB's AlexNet layout: {str(e).splitlines()[0][:200]}") \
                from None
        return network_layers(model)
    raise ModelFileError(f"{p}: unsupported weights file (use .onnx, .keras or .weights.h5)")
