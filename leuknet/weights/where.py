"""Where AlexNet weights come from (said in every missing-file error): a leaf, imported by the package and by
:mod:`leuknet.weights.onnx_import` alike."""

WHERE = ("AlexNet weights are not bundled and never downloaded. Get an ONNX file from the ONNX model zoo "
         "(validated/vision/classification/alexnet/model/bvlcalexnet-12.onnx) or export MATLAB's with "
         "exportONNXNetwork(alexnet, 'alexnet.onnx'), then pass its path.")
