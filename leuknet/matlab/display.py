"""MATLAB's image display: ``imshow``, ``imtile`` and ``montage``, drawn with matplotlib.

- ``imshow(I)``, ``imshow(I, [low high])``, ``imshow(I, [])``, ``imshow(RGB)``, ``imshow(X, map)``,
  ``imshow(filename)``: https://www.mathworks.com/help/images/ref/imshow.html. A grey image is shown with a grey
  colormap over its display range: by default its class's range (double and single [0, 1], uint8 [0, 255],
  uint16 [0, 65535], int16 [-32768, 32767], logical [0, 1]); ``[]`` the image's own [min, max]; values outside the
  range are black or white. A truecolor image is shown in its class's range (floating point clipped to [0, 1]);
  ``DisplayRange`` applies to grey images only. ``X, map``: indices into a c x 3 colormap (0-based for integer
  classes, 1-based for floating point, as MATLAB). Draws into the current axes (``plt.gca()``, as MATLAB draws
  into ``gca``) or ``'Parent'``, without axis ticks, and returns matplotlib's image object.
- ``B = imtile(images, 'Frames', idx, 'GridSize', [r c], 'ThumbnailSize', [h w], 'BorderSize', [t l],
  'BackgroundColor', rgb)``: https://www.mathworks.com/help/images/ref/imtile.html; ``montage(...)`` shows the
  same tiling (``'Size'`` for the grid, ``'Indices'`` for the frames, ``'DisplayRange'``, ``'Parent'``):
  https://www.mathworks.com/help/images/ref/montage.html. ``images``: a list of arrays or file names, an
  ``imageDatastore``, an M x N x P array (P grey frames) or M x N x C x P (MATLAB's order). As MathWorks' montage:
  every frame is fitted into the thumbnail (by default the first frame's size) keeping its aspect ratio
  (``imresize``), centred on the background colour (black), with ``BorderSize`` around it; grey frames join colour
  ones as three equal channels, mixed classes become double, logical frames uint8; the grid by default has
  ``ceil(sqrt(h * P / w))`` columns (roughly square) and enough rows, one NaN in ``GridSize`` is worked out, and
  frames fill it row by row.

- ``plot(lgraph)``, ``plot(net)``, ``plot(layers)``: the layer graph drawn top to bottom, a dot and the name for
  each layer, a line for each connection, the last layer at y = 1 and one unit per level above it (so MathWorks'
  ``plot(lgraph); ylim([0,10])`` shows the last layers), as MATLAB's ``plot`` of a LayerGraph
  (https://www.mathworks.com/help/deeplearning/ref/nnet.cnn.layergraph.plot.html); anything else goes to
  ``matplotlib.pyplot.plot`` unchanged, so the name serves both.

- ``figure``, ``figure(n)``, ``figure('Name', 'Confusion', 'NumberTitle', 'off', 'Units', 'normalized', 'Position',
  [0.3 0.3 0.4 0.4], 'Visible', 'off', 'Color', 'w')``: https://www.mathworks.com/help/matlab/ref/figure.html, as a
  matplotlib figure: ``Position`` is [left bottom width height] in ``Units`` (pixels by default; 'normalized' is a
  fraction of a 1920 x 1080 screen; 'inches', 'centimeters', 'points') and sets the figure's size; ``Name`` its
  label and window title; ``figure(n)`` makes figure n current (creating it).

Where leuknet differs: figures are matplotlib's (``subplot``, ``title`` from ``matplotlib.pyplot``), so
``InitialMagnification`` has no effect (the image fits its axes; said once) and montage draws no wait bar.
"""

from __future__ import annotations

import math
import os

import numpy as np

from leuknet.errors import ConfigError, DataError
from leuknet.matlab.conventions import choice, note, options_only, parse
from leuknet.matlab.datastore import ImageDatastore

__all__ = ["figure", "imshow", "imtile", "montage", "plot"]

# MATLAB's screen for 'normalized' figure positions (a figure's size has no screen to refer to here)
SCREEN_PIXELS = (1920, 1080)
_PER_INCH = {"pixels": 96.0, "inches": 1.0, "centimeters": 2.54, "points": 72.0}


def figure(*args, **kwargs):
    """MATLAB's ``figure`` with its name-value properties, as a matplotlib figure (see the module's docstring);
    returns it."""
    import matplotlib.pyplot as plt

    fn = "figure"
    pos, _, o = parse(fn, args, kwargs, {"Name": "", "NumberTitle": "on", "Units": "pixels", "Position": None,
                                         "Visible": "on", "Color": None, "WindowState": "normal"},
                      max_positional=1)
    units = choice(fn, "Units", o["Units"], ("pixels", "normalized", "inches", "centimeters", "points"))
    size = None
    if o["Position"] is not None:
        p = np.asarray(o["Position"], float).ravel()
        if p.size != 4 or not np.all(np.isfinite(p)) or p[2] <= 0 or p[3] <= 0:
            raise ConfigError(f"{fn}: Position must be [left bottom width height] with a positive width and height, "
                              f"received {o['Position']!r}")
        w, h = p[2:]
        if units == "normalized":
            w, h = w * SCREEN_PIXELS[0] / _PER_INCH["pixels"], h * SCREEN_PIXELS[1] / _PER_INCH["pixels"]
        else:
            w, h = w / _PER_INCH[units], h / _PER_INCH[units]
        size = (w, h)
    number = pos[0] if pos else None
    if number is not None and not (isinstance(number, (int, np.integer)) and number > 0):
        raise ConfigError(f"{fn}: a figure number is a positive integer, received {number!r}")
    fig = plt.figure(num=int(number) if number is not None else None, facecolor=o["Color"])
    if size is not None:  # also for an existing figure(n), which plt.figure's figsize leaves as it is
        fig.set_size_inches(*size)
    if o["Name"]:
        fig.set_label(str(o["Name"]))
        manager = getattr(fig.canvas, "manager", None)
        if manager is not None:
            manager.set_window_title(str(o["Name"]))
    return fig

_IMAGE_CLASSES = ("uint8", "uint16", "int16", "float64", "float32", "bool")


def _class_range(a):
    if a.dtype == bool or a.dtype.kind == "f":
        return 0.0, 1.0
    info = np.iinfo(a.dtype)
    return float(info.min), float(info.max)


def _read(fn, source):
    from leuknet.matlab.images import imread

    a, cmap = imread(source, nargout=2)[:2]
    if cmap is not None and np.size(cmap):
        return _indexed_to_rgb(fn, a, cmap)
    return np.asarray(a)


def _indexed_to_rgb(fn, x, cmap):
    cmap = np.asarray(cmap, dtype=float)
    if cmap.ndim != 2 or cmap.shape[1] != 3:
        raise ConfigError(f"{fn}: a colormap is a c x 3 array of RGB values in [0, 1], received shape {cmap.shape}")
    x = np.asarray(x)
    idx = x.astype(np.int64) if x.dtype.kind in "uib" else np.floor(x).astype(np.int64) - 1  # double: 1-based
    return cmap[np.clip(idx, 0, len(cmap) - 1)]


def _image(fn, I):
    a = np.asarray(I)
    if a.dtype.name not in _IMAGE_CLASSES:
        raise ConfigError(f"{fn}: expected a uint8, uint16, int16, single, double or logical image, received "
                          f"{a.dtype.name}")
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[:, :, 0]
    if not (a.ndim == 2 or (a.ndim == 3 and a.shape[2] == 3)):
        raise ConfigError(f"{fn}: expected an M x N or M x N x 3 image, received shape {a.shape}")
    return a


def imshow(I, *args, **kwargs):
    """``h = imshow(...)``: see the module's docstring."""
    import matplotlib.pyplot as plt

    fn = "imshow"
    if isinstance(I, (str, os.PathLike)):
        I = _read(fn, I)
    pos, _, o = parse(fn, args, kwargs, {"DisplayRange": None, "Colormap": None, "Parent": None,
                                         "InitialMagnification": None, "Border": "loose",
                                         "Interpolation": "nearest"}, max_positional=1)
    a = np.asarray(I)
    cmap = o["Colormap"]
    display_range = o["DisplayRange"]
    if pos:
        p = np.asarray(pos[0], dtype=float)
        if p.ndim == 2 and p.shape[1] == 3:
            a = _indexed_to_rgb(fn, a, p)  # imshow(X, map)
        elif p.size in (0, 2):
            display_range = pos[0]
        else:
            raise ConfigError(f"{fn}: the second argument is [low high], [] or a c x 3 colormap, received "
                              f"{pos[0]!r}")
    a = _image(fn, a)
    if o["InitialMagnification"] is not None:
        note(f"{fn}: InitialMagnification has no effect (matplotlib fits the image to its axes)")
    choice(fn, "Border", o["Border"], ("tight", "loose"))
    interpolation = choice(fn, "Interpolation", o["Interpolation"], ("nearest", "bilinear"))
    ax = o["Parent"] if o["Parent"] is not None else plt.gca()
    if a.ndim == 3:  # truecolor: the class's range, clipped
        low, high = _class_range(a)
        shown = np.clip((a.astype(np.float64) - low) / (high - low), 0.0, 1.0)
        h = ax.imshow(shown, interpolation=interpolation)
    else:
        low, high = _display_range(fn, a, display_range)
        h = ax.imshow(a.astype(np.float64), cmap=_colormap(fn, cmap), vmin=low, vmax=high,
                      interpolation=interpolation)
    ax.set_axis_off()
    return h


def _display_range(fn, a, display_range):
    if display_range is None:
        return _class_range(a)
    r = np.asarray(display_range, dtype=float).ravel()
    if r.size == 0:  # imshow(I, []): the image's own range
        low, high = float(np.min(a)), float(np.max(a))
        return (low, high) if high > low else (low, low + 1.0)
    if r.size != 2 or not r[0] < r[1]:
        raise ConfigError(f"{fn}: DisplayRange must be [low high] with low < high, or [], received "
                          f"{display_range!r}")
    return float(r[0]), float(r[1])


def _colormap(fn, cmap):
    if cmap is None:
        return "gray"
    from matplotlib.colors import ListedColormap

    c = np.asarray(cmap, dtype=float)
    if c.ndim != 2 or c.shape[1] != 3 or np.any(c < 0) or np.any(c > 1):
        raise ConfigError(f"{fn}: Colormap must be a c x 3 array of values in [0, 1], received shape {c.shape}")
    return ListedColormap(c)


# ------------------------------------------------------------------------------------------------------------
# imtile / montage

def _frames(fn, images, indices):
    """The frames as a list of arrays (files read as they are needed: only the frames asked for)."""
    if isinstance(images, ImageDatastore):
        sources = list(images.Files)
    elif isinstance(images, (list, tuple)):
        sources = list(images)
    else:
        a = np.asarray(images)
        if a.ndim == 2:
            sources = [a]
        elif a.ndim == 3:  # M x N x P: P grey frames
            sources = [a[:, :, k] for k in range(a.shape[2])]
        elif a.ndim == 4 and a.shape[2] in (1, 3):  # M x N x C x P
            sources = [a[:, :, :, k] for k in range(a.shape[3])]
        else:
            raise ConfigError(f"{fn}: expected images as a list, an imageDatastore, an M x N x P or M x N x C x P "
                              f"array, received shape {a.shape}")
    if not sources:
        raise DataError(f"{fn}: no images to tile")
    if indices is not None:
        idx = np.atleast_1d(np.asarray(indices)).ravel()
        if idx.dtype == bool:
            idx = np.flatnonzero(idx)
        if idx.size == 0 or idx.dtype.kind not in "iu" or idx.min() < -len(sources) or idx.max() >= len(sources):
            raise ConfigError(f"{fn}: frame indices must be 0-based integers below {len(sources)}, received "
                              f"{indices!r}")
        sources = [sources[int(i)] for i in idx]
    return sources


def _frame(fn, src):
    if isinstance(src, (str, os.PathLike)):
        return _image(fn, _read(fn, src))
    return _image(fn, src)


def _fit(fn, a, thumb, border, background):
    """A frame fitted into ``thumb`` (h, w) keeping its aspect ratio, centred on the background, with ``border``
    (top/bottom, left/right) pixels around it."""
    from leuknet.matlab.images import imresize

    th, tw = thumb
    if a.shape[:2] != (th, tw):
        a = imresize(a, [th, math.nan]) if a.shape[0] > a.shape[1] else imresize(a, [math.nan, tw])
        if a.shape[0] > th:
            a = imresize(a, [th, math.nan])
        if a.shape[1] > tw:
            a = imresize(a, [math.nan, tw])
    pad_h, pad_w = th - a.shape[0], tw - a.shape[1]
    top, left = max(pad_h // 2, 0) + border[0], max(pad_w // 2, 0) + border[1]
    bottom, right = max(pad_h - pad_h // 2, 0) + border[0], max(pad_w - pad_w // 2, 0) + border[1]
    if not (top or bottom or left or right):
        return a
    out = np.zeros((a.shape[0] + top + bottom, a.shape[1] + left + right, *a.shape[2:]), dtype=a.dtype)
    if background is not None:
        out[...] = _in_class(background if a.ndim == 3 else background[:1], a.dtype)
    out[top:top + a.shape[0], left:left + a.shape[1]] = a
    return out


def _in_class(rgb01, dtype):
    if dtype == bool or np.dtype(dtype).kind == "f":  # noqa: E721 (bool, np.bool_ or a dtype: == compares all)
        return np.asarray(rgb01, dtype=dtype)
    low, high = _class_range(np.zeros(1, dtype))
    return np.round(low + np.asarray(rgb01) * (high - low)).astype(dtype)


def _to_double(a):
    low, high = _class_range(a)
    return a.astype(np.float64) if a.dtype.kind == "f" or a.dtype == bool else (a - low) / (high - low)


def _pair(fn, name, v, allow_nan=False):
    a = np.atleast_1d(np.asarray(v, dtype=float)).ravel()
    if a.size == 1:
        a = np.repeat(a, 2)
    ok = a.size == 2 and all((allow_nan and math.isnan(x)) or (x >= 0 and x == int(x)) for x in a)
    if not ok:
        raise ConfigError(f"{fn}: {name} must be two non-negative integers{' (one may be NaN)' if allow_nan else ''}"
                          f", received {v!r}")
    return a


def _grid(fn, n, h, w, grid):
    if grid is None or all(math.isnan(g) for g in grid):
        if n == 1:
            return 1, 1
        cols = math.ceil(math.sqrt(h * n / w))
        return math.ceil(n / cols), cols
    rows, cols = grid
    if (not math.isnan(rows) and rows < 1) or (not math.isnan(cols) and cols < 1):
        raise ConfigError(f"{fn}: GridSize must be positive (or NaN), received {list(grid)}")
    if math.isnan(rows):
        rows = math.ceil(n / cols)
    elif math.isnan(cols):
        cols = math.ceil(n / rows)
    rows, cols = int(rows), int(cols)
    if rows * cols < n:
        raise ConfigError(f"{fn}: a grid of {rows} x {cols} cannot hold {n} images")
    return rows, cols


def _tile(fn, images, frames=None, grid=None, thumbnail=None, border=(0, 0), background=None):
    sources = _frames(fn, images, frames)
    border = tuple(int(b) for b in _pair(fn, "BorderSize", border))
    if background is not None:
        bg = np.asarray(background, dtype=float).ravel()
        if bg.size != 3 or np.any(bg < 0) or np.any(bg > 1):
            raise ConfigError(f"{fn}: BackgroundColor must be an RGB triplet in [0, 1], received {background!r}")
        background = bg
    first = _frame(fn, sources[0])
    if thumbnail is None:
        thumb = first.shape[:2]
    else:
        t = _pair(fn, "ThumbnailSize", thumbnail, allow_nan=True)
        if all(math.isnan(x) for x in t):
            thumb = first.shape[:2]
        elif any(math.isnan(x) for x in t):  # keep the first frame's aspect ratio
            h, w = first.shape[:2]
            thumb = (int(t[0]), max(1, round(w * t[0] / h))) if math.isnan(t[1]) else \
                (max(1, round(h * t[1] / w)), int(t[1]))
        else:
            thumb = (int(t[0]), int(t[1]))
        if min(thumb) < 1:
            raise ConfigError(f"{fn}: ThumbnailSize must be positive, received {thumbnail!r}")
    colour_background = background is not None and not np.all(background == background[0])
    frames_out = []
    for k, src in enumerate(sources):
        a = first if k == 0 else _frame(fn, src)
        if a.dtype == bool:
            a = a.astype(np.uint8) * 255  # logical frames are shown as uint8
        if colour_background and a.ndim == 2:  # a coloured background makes the tiling colour
            a = np.repeat(a[:, :, None], 3, axis=2)
        frames_out.append(_fit(fn, a, thumb, border, background))
    if len({f.dtype for f in frames_out}) > 1:
        frames_out = [_to_double(f) for f in frames_out]
    if any(f.ndim == 3 for f in frames_out):
        frames_out = [np.repeat(f[:, :, None], 3, axis=2) if f.ndim == 2 else f for f in frames_out]
    h, w = frames_out[0].shape[:2]
    rows, cols = _grid(fn, len(frames_out), h, w, None if grid is None else _pair(fn, "GridSize", grid, True))
    big = np.zeros((rows * h, cols * w, *frames_out[0].shape[2:]), dtype=frames_out[0].dtype)
    if background is not None:
        big[...] = _in_class(background if big.ndim == 3 else background[:1], big.dtype)
    for k, f in enumerate(frames_out):  # row by row
        i, j = divmod(k, cols)
        big[i * h:(i + 1) * h, j * w:(j + 1) * w] = f
    return big


def imtile(images, *args, **kwargs):
    """``B = imtile(images, ...)``: see the module's docstring (``Frames`` 0-based)."""
    fn = "imtile"
    o = options_only(fn, args, kwargs, {"Frames": None, "GridSize": None, "ThumbnailSize": None,
                                        "BorderSize": 0, "BackgroundColor": None})
    return _tile(fn, images, o["Frames"], o["GridSize"], o["ThumbnailSize"], o["BorderSize"],
                 o["BackgroundColor"])


def montage(images, *args, **kwargs):
    """``h = montage(images, ...)``: the tiling of :func:`imtile` shown with :func:`imshow` (``Size`` for the grid,
    ``Indices`` 0-based)."""
    fn = "montage"
    o = options_only(fn, args, kwargs, {"Size": None, "Indices": None, "ThumbnailSize": None, "BorderSize": 0,
                                        "BackgroundColor": None, "DisplayRange": None, "Parent": None})
    big = _tile(fn, images, o["Indices"], o["Size"], o["ThumbnailSize"], o["BorderSize"], o["BackgroundColor"])
    return imshow(big, DisplayRange=o["DisplayRange"], Parent=o["Parent"])


# ------------------------------------------------------------------------------------------------------------
# plot(lgraph)

def _graph_of(x):
    from leuknet.spec.conventions import flatten_layers
    from leuknet.spec.graph import LayerGraph, layerGraph

    if isinstance(x, LayerGraph):
        return x
    if hasattr(x, "model") and hasattr(x, "Layers"):  # a trained network
        return layerGraph(x)
    if isinstance(x, (list, tuple)) and x:
        try:
            flatten_layers("plot", x)
        except ConfigError:
            return None
        return layerGraph(x)
    return None


def _depths(names, edges):
    """Each layer's depth: the longest chain of connections from a layer with no inputs (a cycle or an
    unconnected layer, as a graph being edited may have, still gets a place)."""
    incoming = {n: [s for s, d, _ in edges if d == n] for n in names}
    depth = {}

    def visit(n, seen):
        if n in depth:
            return depth[n]
        if n in seen:
            return 0
        seen = seen | {n}
        depth[n] = 1 + max((visit(s, seen) for s in incoming[n] if s in incoming), default=-1)
        return depth[n]

    for n in names:
        visit(n, frozenset())
    return depth


def plot(*args, **kwargs):
    """``plot(lgraph)`` (or a network, or a layer array): see the module's docstring; returns the axes it drew
    in. Any other arguments: ``matplotlib.pyplot.plot(*args, **kwargs)``."""
    import matplotlib.pyplot as plt

    graph = _graph_of(args[0]) if len(args) == 1 else None
    if graph is None:
        return plt.plot(*args, **kwargs)
    layers, edges = graph._layers, graph._edges
    names = [l.Name for l in layers]
    depth = _depths(names, edges)
    by_level = {}
    for n in names:
        by_level.setdefault(depth[n], []).append(n)
    pos, deepest = {}, max(by_level)
    for level, members in by_level.items():  # the last layer at y = 1, the input at the top, as MATLAB's plot: its
        for k, n in enumerate(members):      # examples zoom on the last layers with ylim([0, 10])
            pos[n] = (k - (len(members) - 1) / 2, deepest - level + 1)
    ax = kwargs.pop("Parent", None) or plt.gca()
    for s, d, _ in edges:
        (x0, y0), (x1, y1) = pos[s], pos[d]
        skip = abs(y1 - y0) > 1  # a connection past a level is drawn as an arc, clear of the chain
        ax.annotate("", xy=(x1, y1), xytext=(x0, y0),
                    arrowprops={"arrowstyle": "-|>", "color": "0.45", "shrinkA": 4, "shrinkB": 4, "lw": 0.8,
                                "connectionstyle": f"arc3,rad={0.4 if skip else 0.0}"})
    xs, ys = zip(*(pos[n] for n in names))
    ax.plot(xs, ys, "o", color="#0072BD", markersize=4)
    for n in names:
        ax.text(pos[n][0] + 0.08, pos[n][1], n, va="center", fontsize=8)
    ax.set_axis_off()
    ax.set_xlim(min(xs) - 1.0, max(xs) + 1.5)
    ax.set_ylim(min(ys) - 0.5, max(ys) + 0.5)
    return ax
