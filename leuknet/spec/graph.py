"""Layer graphs (``layerGraph``, ``addLayers``, ``connectLayers``, ``replaceLayer``, ...) and ``analyzeNetwork``.

As in MATLAB, a :class:`LayerGraph` is a value: every function returns a new graph and leaves its argument as it
was (https://www.mathworks.com/help/deeplearning/ref/nnet.cnn.layergraph.html). Connections go from a layer's
output (``'conv1'`` or ``'conv1/out'``) to one of a layer's inputs (``'relu1'`` for a single-input layer, which
MATLAB names ``'in'``; ``'add/in2'`` for the second input of a multi-input layer). ``assemble`` builds a graph
into a Keras functional model; ``layerGraph(net)`` turns a trained network back into a graph with its weights,
so MathWorks' transfer-learning recipe ports as written::

    lgraph = layerGraph(net)
    lgraph = replaceLayer(lgraph, 'loss3-classifier', fullyConnectedLayer(5, 'Name', 'fc'))
    lgraph = replaceLayer(lgraph, 'output', classificationLayer('Name', 'output'))
    net = trainNetwork(imdsTrain, lgraph, options)

leuknet builds networks with one ``imageInputLayer`` and one output.
"""

from __future__ import annotations

import copy

import keras
import numpy as np

import leuknet.spec.layers as ml
from leuknet.errors import ConfigError
from leuknet.spec.conventions import choice, flatten_layers, options_only


class Connections:
    """``lgraph.Connections``: a small table with ``Source`` and ``Destination`` (lists of str), one row a
    connection, in MATLAB's notation (``'add/in2'``)."""

    def __init__(self, rows):
        self.rows = [{"Source": s, "Destination": d} for s, d in rows]

    @property
    def Source(self):  # noqa: N802
        return [r["Source"] for r in self.rows]

    @property
    def Destination(self):  # noqa: N802
        return [r["Destination"] for r in self.rows]

    def __len__(self):
        return len(self.rows)

    def __getitem__(self, i):
        return self.rows[i]

    def __iter__(self):
        return iter(self.rows)

    def __repr__(self):
        """As MATLAB prints the table: a header, a rule of underscores, each name a {'cell'}."""
        src = [f"{{'{s}'}}" for s in self.Source]
        dst = [f"{{'{d}'}}" for d in self.Destination]
        ws, wd = max([len("Source")] + [len(s) for s in src]), max([len("Destination")] + [len(d) for d in dst])
        lines = [f"    {'Source'.center(ws)}    {'Destination'.center(wd)}", f"    {'_' * ws}    {'_' * wd}", ""]
        lines += [f"    {s:<{ws}}    {d:<{wd}}".rstrip() for s, d in zip(src, dst)]
        return f"  {len(self.rows)}x2 table\n\n" + "\n".join(lines)


class LayerGraph:
    """MATLAB's ``LayerGraph``: ``Layers`` (a new list of copies each time), ``Connections``, ``InputNames``,
    ``OutputNames``. Build and edit it with the functions of this module."""

    def __init__(self, layers=(), edges=()):
        self._layers = list(layers)
        self._edges = list(edges)  # (source name, destination name, destination input name)

    @property
    def Layers(self):  # noqa: N802
        return ml.LayerArray(copy.copy(l) for l in self._layers)

    @property
    def Connections(self):  # noqa: N802
        by_name = {l.Name: l for l in self._layers}
        return Connections((s, d if by_name[d].InputNames == ["in"] else f"{d}/{i}") for s, d, i in self._edges)

    @property
    def InputNames(self):  # noqa: N802
        return [l.Name for l in self._layers if isinstance(l, ml.ImageInputLayer)]

    @property
    def OutputNames(self):  # noqa: N802
        return [l.Name for l in self._layers if isinstance(l, ml.ClassificationOutputLayer)]

    def _copy(self):
        return LayerGraph([copy.copy(l) for l in self._layers], list(self._edges))

    def _layer(self, fn, name):
        for l in self._layers:
            if l.Name == name:
                return l
        raise ConfigError(f"{fn}: the layer graph has no layer named {name!r}")

    def __repr__(self):
        return (f"LayerGraph with properties:\n\n         Layers: [{len(self._layers)}x1 nnet.cnn.layer.Layer]\n"
                f"    Connections: [{len(self._edges)}x2 table]\n     InputNames: {self.InputNames}\n"
                f"    OutputNames: {self.OutputNames}")


def _is_graph(x):
    return isinstance(x, LayerGraph)


def _keras_model(x):
    """The Keras model of a trained network (a keras.Model or an object with one as ``.model``), else None."""
    if isinstance(x, keras.Model):
        return x
    m = getattr(x, "model", None)
    return m if isinstance(m, keras.Model) else None


def _new_layers(fn, larray, taken):
    """Copies of the layers of ``larray`` (nested lists, bare constructors), unnamed ones named as MATLAB does
    and unique against ``taken``."""
    layers = [copy.copy(l) for l in flatten_layers(fn, larray)]
    if not layers:
        raise ConfigError(f"{fn}: the layer array is empty")
    for l in layers:
        if l.Name and l.Name in taken:
            raise ConfigError(f"{fn}: a layer named {l.Name!r} is already in the layer graph (names must be unique)")
    ml.name_layers(layers, taken)
    return layers


def network_graph(model) -> LayerGraph:
    """MATLAB's ``layerGraph(net)`` of a trained network (a Keras model built by ``assemble``, or an object with
    one as ``.model``): its layers with their weights in MATLAB's layouts and its connections; a serial network
    gives a serial graph."""
    m = _keras_model(model)
    if m is None:
        raise ConfigError(f"layerGraph: expected a trained network, received {type(model).__name__}")
    specs, edges = ml.model_graph(m)
    return LayerGraph(specs, edges)


def layerGraph(larray=None) -> LayerGraph:
    """``lgraph = layerGraph``, ``layerGraph(layers)`` (connected in series) or ``layerGraph(net)`` (a trained
    network, with its weights)."""
    fn = "layerGraph"
    if larray is None:
        return LayerGraph()
    if _is_graph(larray):
        return larray._copy()
    if _keras_model(larray) is not None:
        return network_graph(larray)
    layers = _new_layers(fn, larray, ())
    return LayerGraph(layers, ml.serial_edges(layers))


def addLayers(lgraph, larray) -> LayerGraph:
    """``lgraph = addLayers(lgraph, larray)``: the layers of ``larray`` added, connected in series among
    themselves and to nothing else."""
    fn = "addLayers"
    g = _graph_arg(fn, lgraph)
    layers = _new_layers(fn, larray, {l.Name for l in g._layers})
    g._layers += layers
    g._edges += ml.serial_edges(layers)
    return g


def _names(fn, v):
    if isinstance(v, str):
        return [v]
    if isinstance(v, (list, tuple)) and all(isinstance(n, str) for n in v):
        return list(v)
    raise ConfigError(f"{fn}: expected a layer name or a list of names, received {v!r}")


def removeLayers(lgraph, layerNames) -> LayerGraph:
    """``lgraph = removeLayers(lgraph, layerNames)``: the layers and every connection to or from them removed."""
    fn = "removeLayers"
    g = _graph_arg(fn, lgraph)
    names = _names(fn, layerNames)
    for n in names:
        g._layer(fn, n)
    gone = set(names)
    g._layers = [l for l in g._layers if l.Name not in gone]
    g._edges = [e for e in g._edges if e[0] not in gone and e[1] not in gone]
    return g


def _source(fn, g, s):
    if not isinstance(s, str):
        raise ConfigError(f"{fn}: the source must be a layer name ('conv1' or 'conv1/out'), received {s!r}")
    name, _, port = s.partition("/")
    layer = g._layer(fn, name)
    if port and port not in layer.OutputNames:
        raise ConfigError(f"{fn}: layer {name!r} has no output {port!r} (outputs: {', '.join(layer.OutputNames)})")
    if not layer.OutputNames:
        raise ConfigError(f"{fn}: layer {name!r} is an output layer and has no output to connect")
    return name


def _destination(fn, g, d):
    if not isinstance(d, str):
        raise ConfigError(f"{fn}: the destination must be a layer input ('relu1' or 'add/in2'), received {d!r}")
    name, _, port = d.partition("/")
    layer = g._layer(fn, name)
    ins = layer.InputNames
    if not port:
        if len(ins) != 1:
            raise ConfigError(f"{fn}: layer {name!r} has inputs {', '.join(ins) or 'none'}: name one "
                              f"('{name}/{ins[0] if ins else 'in'}')")
        port = ins[0]
    if port not in ins:
        raise ConfigError(f"{fn}: layer {name!r} has no input {port!r} (inputs: {', '.join(ins) or 'none'})")
    return name, port


def connectLayers(lgraph, s, d) -> LayerGraph:
    """``lgraph = connectLayers(lgraph, 's', 'd')``: connects output ``s`` (``'conv'`` or ``'conv/out'``) to
    input ``d`` (``'relu'`` or ``'add/in2'``); an input takes one connection."""
    fn = "connectLayers"
    g = _graph_arg(fn, lgraph)
    src = _source(fn, g, s)
    dst, port = _destination(fn, g, d)
    for a, b, i in g._edges:
        if (b, i) == (dst, port):
            raise ConfigError(f"{fn}: input {dst}/{port} is already connected (from {a!r}); disconnectLayers first")
    g._edges.append((src, dst, port))
    return g


def disconnectLayers(lgraph, s, d) -> LayerGraph:
    """``lgraph = disconnectLayers(lgraph, 's', 'd')``: removes the connection from ``s`` to ``d``."""
    fn = "disconnectLayers"
    g = _graph_arg(fn, lgraph)
    src = _source(fn, g, s)
    dst, port = _destination(fn, g, d)
    if (src, dst, port) not in g._edges:
        raise ConfigError(f"{fn}: there is no connection from {s!r} to {d!r}")
    g._edges.remove((src, dst, port))
    return g


def replaceLayer(lgraph, layerName, larray, *args, **kwargs) -> LayerGraph:
    """``lgraph = replaceLayer(lgraph, layerName, larray, 'ReconnectBy', 'name' | 'order')``: ``larray``
    (connected in series) takes the place of ``layerName``: its first layer the old layer's inputs (matched by
    input name, or by position with ``'order'``), its last layer the old layer's outputs
    (https://www.mathworks.com/help/deeplearning/ref/nnet.cnn.layergraph.replacelayer.html)."""
    fn = "replaceLayer"
    o = options_only(fn, args, kwargs, {"ReconnectBy": "name"})
    by = choice(fn, "ReconnectBy", o["ReconnectBy"], ("name", "order"))
    g = _graph_arg(fn, lgraph)
    old = g._layer(fn, layerName)
    new = _new_layers(fn, larray, {l.Name for l in g._layers if l.Name != layerName})
    first, last = new[0], new[-1]
    into = [(a, i) for a, b, i in g._edges if b == layerName]
    out_of = [(b, i) for a, b, i in g._edges if a == layerName]
    if by == "order":
        pos = {i: k for k, i in enumerate(old.InputNames)}
        into_new = []
        for a, i in into:
            if pos[i] >= len(first.InputNames):
                raise ConfigError(f"{fn}: layer {first.Name!r} has {len(first.InputNames)} inputs; "
                                  f"{layerName!r} had {len(old.InputNames)} connected")
            into_new.append((a, first.InputNames[pos[i]]))
    else:
        into_new = into
        for _, i in into:
            if i not in first.InputNames:
                raise ConfigError(f"{fn}: layer {first.Name!r} has no input {i!r} to take {layerName!r}'s "
                                  "connection (use 'ReconnectBy', 'order')")
    if out_of and not last.OutputNames:
        raise ConfigError(f"{fn}: {last.Name!r} is an output layer but {layerName!r} feeds {out_of[0][0]!r}")
    at = [l.Name for l in g._layers].index(layerName)
    g._layers[at : at + 1] = new
    g._edges = [e for e in g._edges if layerName not in (e[0], e[1])]
    g._edges += [(a, first.Name, i) for a, i in into_new] + ml.serial_edges(new)
    g._edges += [(last.Name, b, i) for b, i in out_of]
    return g


def _graph_arg(fn, lgraph):
    if not _is_graph(lgraph):
        raise ConfigError(f"{fn}: expected a layerGraph, received {type(lgraph).__name__}")
    return lgraph._copy()


def _specs(fn, x):
    if _is_graph(x):
        return list(x._layers)
    if _keras_model(x) is not None:
        return ml.network_layers(_keras_model(x))
    return flatten_layers(fn, x)


def input_layer_spec(layers_or_graph):
    """The :class:`~leuknet.spec.layers.ImageInputLayer` of a layer array or graph (None if it has none)."""
    return next((l for l in _specs("input_layer_spec", layers_or_graph) if isinstance(l, ml.ImageInputLayer)), None)


def output_layer_spec(layers_or_graph):
    """The :class:`~leuknet.spec.layers.ClassificationOutputLayer` of a layer array or graph, or None."""
    return next((l for l in _specs("output_layer_spec", layers_or_graph)
                 if isinstance(l, ml.ClassificationOutputLayer)), None)


# ----------------------------------------------------------------------------------------------------------------
# analyzeNetwork

TYPES = ml.TYPE_NAMES

_LEARNABLES = {"Convolution2DLayer": ("Weights", "Bias"), "GroupedConvolution2DLayer": ("Weights", "Bias"),
               "FullyConnectedLayer": ("Weights", "Bias"), "BatchNormalizationLayer": ("Offset", "Scale")}


def _size(shape):
    dims = [int(d) for d in shape[1:]]
    if len(dims) == 1:
        dims = [1, 1] + dims
    return "x".join(map(str, dims))


class NetworkAnalysis:
    """What ``analyzeNetwork`` returns: prints as a table (Name, Type, Activations, Learnables); ``rows`` (a list
    of dicts with those keys and ``NumLearnables``) and ``TotalLearnables``."""

    def __init__(self, rows):
        self.rows = rows

    @property
    def TotalLearnables(self):  # noqa: N802
        return sum(r["NumLearnables"] for r in self.rows)

    @property
    def NumLayers(self):  # noqa: N802
        return len(self.rows)

    def __repr__(self):
        keys = ("#", "Name", "Type", "Activations", "Learnables")
        table = [{"#": str(k + 1), **r} for k, r in enumerate(self.rows)]
        w = {k: max([len(k)] + [len(str(r[k])) for r in table]) for k in keys}
        lines = ["  ".join(f"{k:<{w[k]}}" for k in keys), "  ".join("-" * w[k] for k in keys)]
        lines += ["  ".join(f"{str(r[k]):<{w[k]}}" for k in keys) for r in table]
        return "\n".join(lines + [f"\n{len(self.rows)} layers, {self.TotalLearnables:,} learnables"])

    __str__ = __repr__


def analyzeNetwork(net):
    """``analyzeNetwork(layers | lgraph | net)``: each layer's type, activation size (``'55x55x96'``) and
    learnables in MATLAB's layouts (``'Weights 11x11x3x96, Bias 1x1x96'``), and the total. MATLAB opens an
    interactive window (https://www.mathworks.com/help/deeplearning/ref/analyzenetwork.html); leuknet returns a
    :class:`NetworkAnalysis` that prints as a table. The errors MATLAB's analyzer reports for a network to train
    (no input layer, no output layer, unconnected inputs, cycles, sizes that do not fit) are one-line
    ConfigErrors."""
    fn = "analyzeNetwork"
    model = _keras_model(net)
    if model is None:
        specs, _ = ml.layers_and_edges(fn, net)
        if not any(isinstance(l, ml.ImageInputLayer) for l in specs):
            raise ConfigError(f"{fn}: missing input layer (the network must start with imageInputLayer)")
        if not any(isinstance(l, ml.ClassificationOutputLayer) for l in specs):
            raise ConfigError(f"{fn}: missing output layer (a network to train ends in classificationLayer)")
        model, _ = ml.assemble(net, fn=fn)
    rows = []
    for spec in ml.network_layers(model):
        learn = []
        for what in _LEARNABLES.get(spec.kind, ()):
            shape = np.shape(getattr(spec, what))
            learn.append((what, shape))
        rows.append({"Name": spec.Name, "Type": TYPES.get(spec.kind, spec.kind),
                     "Activations": _size(model.get_layer(spec.Name).output.shape),
                     "Learnables": ", ".join(f"{w} {'x'.join(map(str, s))}" for w, s in learn) or "-",
                     "NumLearnables": int(sum(int(np.prod(s)) for _, s in learn))})
    return NetworkAnalysis(rows)


__all__ = ["LayerGraph", "layerGraph", "addLayers", "removeLayers", "connectLayers", "disconnectLayers", "replaceLayer",
           "analyzeNetwork"]
