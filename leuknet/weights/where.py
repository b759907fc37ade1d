"""Where AlexNet weights come from (said in every missing-file error), and the refusal of another network's file
that every weights reader shares: a leaf, imported by the package and by its readers alike."""

from leuknet.errors import ModelFileError

WHERE = ("AlexNet weights are not bundled and never downloaded. Get an ONNX file from the ONNX model zoo "
         "(validated/vision/classification/alexnet/model/bvlcalexnet-12.onnx) or export MATLAB's with "
         "exportONNXNetwork(alexnet, 'alexnet.onnx'), then pass its path.")


def _names(names):
    return ", ".join(names[:4]) + (", ..." if len(names) > 4 else "")


def not_this_network(path, what_file, net, extra, missing, hint=""):
    """The error for a weights file of another network: it has layers ``net`` does not (``extra``), or it lacks some
    of ``net``'s (``missing``); the first few named."""
    why = f"has layers {net} does not ({_names(list(extra))})" if extra else f"lacks {net}'s {_names(list(missing))}"
    return ModelFileError(f"{path} is not {what_file}: it {why}" + (f". {hint}" if hint else ""))
