"""Layer graphs (``layerGraph``, ``addLayers``, ``connectLayers``, ``replaceLayer``, ...) and ``analyzeNetwork``:
the core's :mod:`leuknet.spec.graph`, re-exported under the skin's name (``leuknet.matlab.graph`` as before)."""

from leuknet.spec.graph import *  # noqa: F401,F403
from leuknet.spec.graph import (TYPES, Connections, LayerGraph, NetworkAnalysis, __all__,  # noqa: F401
                                input_layer_spec, network_graph, output_layer_spec)
