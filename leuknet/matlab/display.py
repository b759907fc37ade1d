"""MATLAB's image display: ``imshow``, ``imtile``, ``montage``, ``imagesc`` and their axes, drawn with matplotlib.

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

- ``hold``, ``imagesc``, ``colormap``, ``colorbar``, ``jet``/``hot``/``gray``: MATLAB's overlay of a map on an
  image (``imshow(X); hold on; imagesc(scoreMap, 'AlphaData', 0.5); colormap jet; colorbar``); see each function.
  With hold off, ``imshow``, ``imagesc`` and ``montage`` replace what the axes hold, as MATLAB's do; images sit on
  MATLAB's pixel coordinates (centres at 1..N, 1..M).

- ``visboundaries(BW | B, 'Color', 'r', 'LineWidth', 2, 'LineStyle', '-', 'EnhanceVisibility', true)``
  (https://www.mathworks.com/help/images/ref/visboundaries.html): the boundaries of a binary image's objects and
  holes (``bwboundaries``) or a list of Q x 2 ``[row col]`` boundaries drawn over the current axes (or
  ``'Parent'``), red and 2 points wide by default, with a white line beneath each for contrast
  (``EnhanceVisibility``); the axes keep what they hold. Returns the lines.

Where leuknet differs: figures are matplotlib's (``subplot``, ``title`` from ``matplotlib.pyplot``), so
``InitialMagnification`` has no effect (the image fits its axes; said once) and montage draws no wait bar.
"""

from __future__ import annotations

import math
import os

import numpy as np

from leuknet.errors import ConfigError, DataError
from leuknet.matlab.conventions import choice, note, options_only, parse, shown
from leuknet.matlab.datastore import ImageDatastore

__all__ = ["colorbar", "colormap", "figure", "gray", "hold", "hot", "imagesc", "imshow", "imtile", "ishold", "jet",
           "montage", "plot", "visboundaries"]

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
    ax = _new_plot(o["Parent"] if o["Parent"] is not None else plt.gca())
    extent = _pixel_extent(a.shape, None, None)
    if a.ndim == 3:  # truecolor: the class's range, clipped
        h = ax.imshow(_truecolor(a), interpolation=interpolation, extent=extent)
    else:
        low, high = _display_range(fn, a, display_range)
        h = ax.imshow(a.astype(np.float64), cmap=_colormap(fn, cmap), vmin=low, vmax=high,
                      interpolation=interpolation, extent=extent)
    ax.set_axis_off()
    return h


def _truecolor(a):
    """An M x N x 3 image in its class's range as RGB in [0, 1] (floating point clipped)."""
    low, high = _class_range(a)
    return np.clip((a.astype(np.float64) - low) / (high - low), 0.0, 1.0)


def _pixel_extent(shape, x, y):
    """matplotlib's extent for MATLAB's image coordinates: pixel centres at x = 1..N and y = 1..M (or the first and
    last column and row centres ``x``, ``y`` given, as imagesc's XData/YData), row 1 at the top."""
    m, n = shape[:2]

    def edges(c, count, name):
        c = np.asarray(c if c is not None else [1, count], float).ravel()
        if c.size == 0 or not np.all(np.isfinite(c)):
            raise ConfigError(f"imagesc: {name} must be finite numbers, received {c.tolist()}")
        first = c[0]
        last = first + count - 1 if c.size == 1 else c[-1]  # a scalar: the first centre, the others 1 apart
        step = (last - first) / (count - 1) if count > 1 else 1.0
        return first - step / 2, last + step / 2

    left, right = edges(x, n, "x")
    top, bottom = edges(y, m, "y")
    return (left, right, bottom, top)


def _new_plot(ax):
    """The axes a new image goes into: cleared first unless ``hold on`` (MATLAB's NextPlot 'replace' / 'add')."""
    if not getattr(ax, "_leuknet_hold", False):
        ax.cla()
    return ax


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

    return ListedColormap(_colormap_rows(fn, cmap))


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


# ------------------------------------------------------------------------------------------------------------
# hold, imagesc, colormap, colorbar: the overlay of a score map on an image

def _axes_argument(args):
    """A leading matplotlib Axes (MATLAB's ``f(ax, ...)``), and the rest."""
    from matplotlib.axes import Axes

    if args and isinstance(args[0], Axes):
        return args[0], args[1:]
    return None, args


def hold(*args):
    """``hold on`` / ``hold off`` (``hold('on')``, ``hold(True)``), ``hold`` (toggle), ``hold(ax, 'on')``,
    ``hold all`` (= on): whether the next ``imshow``/``imagesc``/``montage`` in the axes adds to it or replaces it
    (https://www.mathworks.com/help/matlab/ref/hold.html). matplotlib's own functions always add."""
    import matplotlib.pyplot as plt

    ax, rest = _axes_argument(args)
    ax = ax or plt.gca()
    if len(rest) > 1:
        raise ConfigError(f"hold: expected 'on', 'off' or nothing (and an axes first), received {list(rest)!r}")
    if not rest:
        state = not getattr(ax, "_leuknet_hold", False)
    elif isinstance(rest[0], (bool, np.bool_)):
        state = bool(rest[0])
    else:
        state = choice("hold", "the state", rest[0], ("on", "off", "all")) != "off"
    ax._leuknet_hold = state


def ishold(ax=None):
    """``tf = ishold`` / ``ishold(ax)``: whether ``hold`` is on for the current (or given) axes."""
    import matplotlib.pyplot as plt

    return bool(getattr(ax or plt.gca(), "_leuknet_hold", False))


def _jet(m):
    # MATLAB's jet.m: n = ceil(m/4) steps up, flat, down, the three channels offset by n
    n = math.ceil(m / 4)
    u = np.concatenate([np.arange(1, n + 1) / n, np.ones(n - 1), np.arange(n, 0, -1) / n])
    g = math.ceil(n / 2) - (m % 4 == 1) + np.arange(1, len(u) + 1)
    r, b = g + n, g - n
    g, r, b = g[g <= m], r[r <= m], b[b >= 1]
    out = np.zeros((m, 3))
    out[r - 1, 0] = u[:len(r)]
    out[g - 1, 1] = u[:len(g)]
    out[b - 1, 2] = u[len(u) - len(b):]
    return out


def _hot(m):
    # MATLAB's hot.m: red rises over the first 3/8, then green, then blue
    n = int(3 / 8 * m)
    r = np.concatenate([np.arange(1, n + 1) / n, np.ones(m - n)])
    g = np.concatenate([np.zeros(n), np.arange(1, n + 1) / n, np.ones(m - 2 * n)])
    b = np.concatenate([np.zeros(2 * n), np.arange(1, m - 2 * n + 1) / (m - 2 * n)])
    return np.stack([r, g, b], axis=1)


def _gray(m):
    g = np.arange(m) / max(m - 1, 1)
    return np.stack([g, g, g], axis=1)


def _length(fn, m):
    if not isinstance(m, (int, np.integer)) or isinstance(m, bool) or m < 1:
        raise ConfigError(f"{fn}: the number of colours must be a positive integer, received {m!r}")
    return int(m)


def jet(m=256):
    """MATLAB's ``jet(m)``: m x 3 (https://www.mathworks.com/help/matlab/ref/jet.html; 256 rows by default)."""
    return _jet(_length("jet", m))


def hot(m=256):
    """MATLAB's ``hot(m)``: black, red, yellow, white (https://www.mathworks.com/help/matlab/ref/hot.html)."""
    return _hot(_length("hot", m))


def gray(m=256):
    """MATLAB's ``gray(m)``: a linear grey ramp from black to white."""
    return _gray(_length("gray", m))


_NAMED = {"jet": _jet, "hot": _hot, "gray": _gray}
_PARULA_NOTE = ("MATLAB's default colormap parula is MathWorks' own table, not reproduced here: leuknet draws "
                "viridis in its place (colormap('jet') or any other map gives that map)")


def _colormap_rows(fn, cmap):
    """A colormap argument (a name or a c x 3 array) as c x 3 rows in [0, 1]."""
    if isinstance(cmap, str):
        name = cmap.lower()
        if name in _NAMED:
            return _NAMED[name](256)
        if name in ("parula", "default"):
            note(f"{fn}: {_PARULA_NOTE}")
            name = "viridis"
        from matplotlib import colormaps

        if name not in colormaps:
            raise ConfigError(f"{fn}: unknown colormap {cmap!r} (MATLAB's jet, hot, gray, parula, or a matplotlib "
                              "name, or a c x 3 array)")
        return colormaps[name](np.linspace(0, 1, 256))[:, :3]
    c = np.asarray(cmap, dtype=float)
    if c.ndim != 2 or c.shape[1] != 3 or len(c) == 0 or np.any(c < 0) or np.any(c > 1):
        raise ConfigError(f"{fn}: a colormap is a c x 3 array of values in [0, 1] or a name, received shape "
                          f"{c.shape}")
    return c


def _current_map(ax):
    """The colormap the axes' scaled images take: its own (``colormap(ax, ...)``), else its figure's, else the
    default (parula's stand-in)."""
    rows = getattr(ax, "_leuknet_colormap", None)
    if rows is None:
        rows = getattr(ax.figure, "_leuknet_colormap", None)
    if rows is None:
        rows = _colormap_rows("imagesc", "parula")
    from matplotlib.colors import ListedColormap

    return ListedColormap(rows)


def colormap(*args):
    """``colormap(map)`` / ``colormap jet`` (``colormap('jet')``) / ``colormap(ax, map)`` / ``cmap = colormap``:
    sets (or returns, as c x 3 rows) the colormap of the current figure, or of one axes; the images ``imagesc``
    drew there are recoloured (https://www.mathworks.com/help/matlab/ref/colormap.html). ``map``: a c x 3 array in
    [0, 1] (``jet(64)``) or a name: MATLAB's jet, hot and gray as MATLAB computes them, 'parula'/'default' drawn as
    viridis (parula's table is MathWorks'), any other matplotlib colormap by name or object. Images ``imshow`` drew keep
    their own (grey) map."""
    import matplotlib.pyplot as plt

    ax, rest = _axes_argument(args)
    if len(rest) > 1:
        raise ConfigError(f"colormap: expected one map (a name or a c x 3 array), received {len(rest)} arguments")
    if not rest:  # cmap = colormap: the figure's (or the axes' own, colormap(ax))
        if ax is None:
            rows = getattr(plt.gcf(), "_leuknet_colormap", None)
            return np.asarray(rows if rows is not None else _colormap_rows("colormap", "parula"), float)
        return np.asarray(_current_map(ax).colors, float)
    from matplotlib.colors import Colormap

    given = rest[0]
    if isinstance(given, Colormap):  # a matplotlib colormap object: 256 of its colours
        given = given(np.linspace(0, 1, 256))[:, :3]
    elif callable(given):  # colormap(jet) as MATLAB writes it: jet called with no arguments
        given = given()
    rows = _colormap_rows("colormap", given)
    if ax is not None:
        ax._leuknet_colormap = rows
        targets = [ax]
    else:
        fig = plt.gcf()
        fig._leuknet_colormap = rows
        targets = [a for a in fig.axes if getattr(a, "_leuknet_colormap", None) is None]
    for a in targets:
        cmap = _current_map(a)
        for image in a.images:
            if getattr(image, "_leuknet_scaled", False):
                image.set_cmap(cmap)
        bar = getattr(a, "_leuknet_colorbar", None)
        if bar is not None:
            bar.mappable.set_cmap(cmap)
    return rows


def imagesc(*args, **kwargs):
    """``imagesc(C)``, ``imagesc(C, clims)``, ``imagesc(x, y, C)``, ``imagesc(x, y, C, clims)``, with
    ``'AlphaData'`` (a scalar or an array of C's size) and ``'Parent'``
    (https://www.mathworks.com/help/matlab/ref/imagesc.html): C drawn with the colours of the current colormap
    scaled to [min(C(:)) max(C(:))] (or ``clims``), pixel centres at x = 1..N and y = 1..M (or ``x``, ``y``: the
    first and last column and row centres; a scalar the first, the others 1 apart), row 1 at the top, axes ticks
    shown; over an image (``hold on``) the axes keep their limits, and a colour bar follows the new limits. With ``hold on`` it goes over what
    is there (MATLAB's Grad-CAM overlay: ``imshow(X); hold on; imagesc(map, 'AlphaData', 0.5); colormap jet``),
    else it replaces it. An M x N x 3 C is drawn as truecolor. Returns matplotlib's image."""
    import matplotlib.pyplot as plt

    fn = "imagesc"
    pos, _, o = parse(fn, args, kwargs, {"AlphaData": None, "Parent": None}, max_positional=4)
    if not pos:
        raise ConfigError(f"{fn}: expected the data C (imagesc(C), imagesc(C, clims), imagesc(x, y, C))")
    x = y = clims = None
    if len(pos) in (1, 2):
        c, clims = pos[0], (pos[1] if len(pos) == 2 else None)
    else:
        x, y, c = pos[:3]
        clims = pos[3] if len(pos) == 4 else None
    a = np.asarray(c)
    if a.dtype == object or a.dtype.kind not in "biuf" or not (a.ndim == 2 or (a.ndim == 3 and a.shape[2] == 3)):
        raise ConfigError(f"{fn}: C must be a numeric M x N (or M x N x 3 truecolor) array, received "
                          f"{a.dtype.name} of shape {a.shape}")
    if a.size == 0:
        raise ConfigError(f"{fn}: C is empty")
    alpha = o["AlphaData"]
    if alpha is not None:
        alpha = np.asarray(alpha, float)
        if alpha.ndim and alpha.shape != a.shape[:2]:
            raise ConfigError(f"{fn}: AlphaData must be a scalar or an array of C's size {list(a.shape[:2])}, "
                              f"received shape {list(alpha.shape)}")
        if np.any((alpha < 0) | (alpha > 1)):
            raise ConfigError(f"{fn}: AlphaData must be in [0, 1]")
        alpha = float(alpha) if alpha.ndim == 0 else alpha
    ax = _new_plot(o["Parent"] if o["Parent"] is not None else plt.gca())
    over = bool(ax.images)  # held, over an image: its axes keep their limits and shape (imshow's square pixels)
    aspect = ax.get_aspect() if over else "auto"
    limits = (ax.get_xlim(), ax.get_ylim())
    extent = _pixel_extent(a.shape, x, y)
    if a.ndim == 3:
        h = ax.imshow(_truecolor(a), interpolation="nearest", extent=extent, alpha=alpha, aspect=aspect)
    else:
        data = a.astype(np.float64)
        if clims is not None:
            lim = np.asarray(clims, float).ravel()
            if lim.size != 2 or not lim[0] < lim[1]:
                raise ConfigError(f"{fn}: clims must be [cmin cmax] with cmin < cmax, received {clims!r}")
            low, high = float(lim[0]), float(lim[1])
        else:
            finite = data[np.isfinite(data)]
            low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
        h = ax.imshow(data, cmap=_current_map(ax), vmin=low, vmax=high, interpolation="nearest", extent=extent,
                      alpha=alpha, aspect=aspect)
        h._leuknet_scaled = True
        bar = getattr(ax, "_leuknet_colorbar", None)
        if bar is not None:  # the axes' colour bar shows the new colour limits, as MATLAB's follows CLim
            bar.mappable.set_clim(low, high)
    if over:
        ax.set_xlim(*limits[0])
        ax.set_ylim(*limits[1])
    else:
        ax.set_xlim(extent[0], extent[1])
        ax.set_ylim(extent[2], extent[3])
    return h


def colorbar(*args, **kwargs):
    """``colorbar``, ``colorbar(ax)``, ``colorbar('off')``, ``colorbar('Location', 'southoutside')``: the colour
    scale of the axes' last ``imagesc`` image (or of the colormap over [0 1] where there is none), one per axes as
    MATLAB's (https://www.mathworks.com/help/matlab/ref/colorbar.html). Returns matplotlib's Colorbar."""
    import matplotlib.pyplot as plt

    fn = "colorbar"
    ax, rest = _axes_argument(args)
    ax = ax or plt.gca()
    off = bool(rest) and isinstance(rest[0], str) and rest[0].lower() in ("off", "delete", "hide")
    where = {"eastoutside": "right", "westoutside": "left", "northoutside": "top", "southoutside": "bottom"}
    if len(rest) % 2 == 1 and isinstance(rest[0], str) and rest[0].lower() in where:  # colorbar('southoutside')
        rest = ("Location", *rest)
    old = getattr(ax, "_leuknet_colorbar", None)
    if old is not None:
        old.remove()
        ax._leuknet_colorbar = None
    if off:
        return None
    o = options_only(fn, rest, kwargs, {"Location": "eastoutside"})
    location = where[choice(fn, "Location", o["Location"], tuple(where))]
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    scaled = [im for im in ax.images if getattr(im, "_leuknet_scaled", False)]
    # the scale alone, opaque as MATLAB's (an image's AlphaData does not fade its colour bar); colormap recolours it
    norm = Normalize(*scaled[-1].get_clim()) if scaled else Normalize(0, 1)
    mappable = ScalarMappable(norm, _current_map(ax))
    bar = ax.figure.colorbar(mappable, ax=ax, location=location)
    ax._leuknet_colorbar = bar
    return bar


def visboundaries(*args, **kwargs):
    """``visboundaries(BW | B, name-value...)``: see the module's docstring."""
    import matplotlib.pyplot as plt

    from leuknet.matlab.regions import bwboundaries

    fn = "visboundaries"
    args = list(args)
    ax = args.pop(0) if args and hasattr(args[0], "plot") else None
    if not args:
        raise ConfigError(f"{fn}: expected a binary image or a list of boundaries")
    source = args.pop(0)
    o = options_only(fn, args, kwargs, {"Color": "r", "LineWidth": 2, "LineStyle": "-", "EnhanceVisibility": True,
                                         "Parent": None})
    if isinstance(source, (list, tuple)):
        boundaries = []
        for b in source:
            arr = np.asarray(b, np.float64) if not isinstance(b, str) else np.zeros(0)
            if arr.ndim != 2 or arr.shape[1] != 2:
                raise ConfigError(f"{fn}: each boundary is a Q x 2 array of [row col], received shape "
                                  f"{list(np.shape(arr))}")
            boundaries.append(arr)
    else:
        boundaries = bwboundaries(source)
    from matplotlib.colors import is_color_like

    from leuknet.matlab.conventions import boolean, number

    width = number(fn, "LineWidth", o["LineWidth"], low=0, low_open=True)
    enhance = boolean(fn, "EnhanceVisibility", o["EnhanceVisibility"])
    colour = o["Color"]
    if not is_color_like(colour if isinstance(colour, str) else tuple(np.ravel(colour))):
        raise ConfigError(f"{fn}: Color must be a colour name, a letter such as 'r' or an RGB triple, received "
                          f"{shown(colour)}")
    style = choice(fn, "LineStyle", o["LineStyle"], ("-", "--", ":", "-."))
    ax = o["Parent"] or ax or plt.gca()
    lines = []
    for b in boundaries:
        if enhance:
            lines += ax.plot(b[:, 1], b[:, 0], color="w", linewidth=width + 2, linestyle=style)
        lines += ax.plot(b[:, 1], b[:, 0], color=colour if isinstance(colour, str) else tuple(np.ravel(colour)),
                         linewidth=width, linestyle=style)
    return lines
