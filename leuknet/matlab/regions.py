"""MATLAB's measurements of image regions, as scripts use them to find and crop a cell before a network:
``bwconncomp``, ``labelmatrix``, ``regionprops``.

- ``CC = bwconncomp(BW[, conn])`` (https://www.mathworks.com/help/images/ref/bwconncomp.html): the components
  (8-connected by default) as a struct: ``Connectivity``, ``ImageSize``, ``NumObjects``, ``PixelIdxList`` (one
  array per component, numbered as ``bwlabel`` numbers them). ``L = labelmatrix(CC)`` gives the label matrix back.
- ``B = bwboundaries(BW[, conn][, 'holes' | 'noholes'])`` and ``B, L, n, A = bwboundaries(..., nargout=4)``
  (https://www.mathworks.com/help/images/ref/bwboundaries.html: Moore-neighbour tracing with Jacob's stopping
  criterion, after ``boundaries`` of Gonzalez, Woods & Eddins, *Digital Image Processing Using MATLAB*, whose
  code is public): each object's boundary (8-connected by default) from its first pixel in column-major order,
  clockwise, closed (the first pixel repeated last), as a Q x 2 array of 1-based ``[row col]``; then, with
  'holes' (the default), the holes' boundaries (the background regions the border cannot reach, 4-connected for
  8-connected objects), numbered after the objects. ``L`` labels objects and holes, ``n`` counts the objects,
  ``A[i, j]`` is true where boundary j immediately encloses boundary i (a hole in its object, an object in its
  hole; with 'noholes', an object in the object around its hole), as MathWorks' CreateAdjMatrix nests them. Drawn with ``plot(b[:, 1], b[:, 0])`` or ``visboundaries``.
- ``stats = regionprops(BW | CC | L, [I], properties...)`` and ``regionprops('table', ...)``
  (https://www.mathworks.com/help/images/ref/regionprops.html; MathWorks' regionprops.m, public copies of which
  were read): a binary image's 8-connected components (as ``bwconncomp``), a label matrix's labels 1..max(L)
  (an absent label gives an empty region), or a ``bwconncomp`` struct. Properties, case-insensitive, by
  unambiguous prefix, 'basic' (Area, Centroid, BoundingBox; the default) or 'all':

  Area; Centroid ``[x y]`` (1-based pixel coordinates: x the column); BoundingBox ``[x y width height]`` with x, y
  ending in .5 (the box's corner); MajorAxisLength, MinorAxisLength, Eccentricity, Orientation (the ellipse with
  the region's normalised second central moments, each pixel adding 1/12; orientation in degrees,
  counter-clockwise from the x axis, y pointing up); EquivDiameter ``sqrt(4 Area / pi)``; Extent (Area over the
  box's area); Image, FilledImage (holes filled, 4-connected background), FilledArea; EulerNumber (objects minus
  holes, 8-connected); Perimeter (the 8-connected
  boundary's steps, 0.980 per horizontal or vertical step, 1.406 per diagonal one, minus 0.091 per change of
  direction, as MATLAB's current regionprops; a label in several pieces is measured by the piece holding its first
  pixel, as MATLAB traces one boundary per label); PixelIdxList (0-based, column-major:
  ``I.T.flat[s.PixelIdxList]`` reads them, ``BW.T.flat[s.PixelIdxList] = 0`` clears them, as MATLAB's
  ``BW(s.PixelIdxList) = 0``), PixelList (``[x y]`` rows, 1-based); with a grey image ``I``: PixelValues,
  MeanIntensity, MinIntensity, MaxIntensity, WeightedCentroid.

  The result is a struct array (a list of structs; ``stats[k].Area``; ``stats.Area`` gives every region's value
  at once, MATLAB's ``[stats.Area]``, and ``cat(1, stats.Centroid)`` an N x 2 array) or, with 'table', a table
  whose variables are the properties (``stats.Centroid`` N x 2).

Checked against GNU Octave's image package (which follows MATLAB's definitions) on label matrices and binary
images with holes, diagonal contacts and labels in pieces (regionprops), and on the boundaries of objects, holes and
objects inside holes (bwboundaries), and against hand-worked cases.
Not provided: ConvexHull, ConvexImage, ConvexArea and Solidity (MATLAB rasterises the hull of the pixels' edge
midpoints with poly2mask's 5 x 5 sub-pixel rule; a plain centre-in-hull test differs on pixels whose centres lie on
the hull, two pixels in 65 in the tests' shapes), Circularity (corrected for small regions in R2023a by a formula
not reproduced here; before R2023a it was ``4 pi Area / Perimeter^2``), Extrema, SubarrayIdx, the Feret properties, MaxFeretDiameter, 3-D images, gpuArray.
"""

from __future__ import annotations

import math

import numpy as np

from leuknet.errors import ConfigError
from leuknet.matlab.binary import label_column_major
from leuknet.matlab.conventions import Struct, choice, shown

__all__ = ["bwboundaries", "bwconncomp", "labelmatrix", "regionprops", "StructArray"]

_BASIC = ("Area", "Centroid", "BoundingBox")
_SHAPE = ("Area", "Centroid", "BoundingBox", "MajorAxisLength", "MinorAxisLength", "Eccentricity", "Orientation",
          "Image", "FilledImage", "FilledArea", "EulerNumber", "EquivDiameter", "Extent", "PixelIdxList",
          "PixelList", "Perimeter")
_INTENSITY = ("PixelValues", "WeightedCentroid", "MeanIntensity", "MinIntensity", "MaxIntensity")
_REFUSED = ("Circularity", "ConvexHull", "ConvexImage", "ConvexArea", "Solidity", "Extrema", "SubarrayIdx",
            "MaxFeretProperties", "MinFeretProperties", "MaxFeretDiameter", "MinFeretDiameter", "MaxFeretAngle", "MinFeretAngle", "MaxFeretCoordinates", "MinFeretCoordinates")


class StructArray(list):
    """MATLAB's struct array: a list of structs (``s[k].Area``) whose field read on the array gives every element's
    value, ``s.Area`` (MATLAB's ``[s.Area]``: a NumPy array where the values are scalars, else a list); a slice is
    a struct array too, and an empty one still knows its fields."""

    def __init__(self, items=(), fields=()):
        super().__init__(items)
        self._fields = tuple(fields) or (tuple(self[0]) if self else ())

    def __getitem__(self, key):
        got = super().__getitem__(key)
        return StructArray(got, self._fields) if isinstance(key, slice) else got

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        if name not in self._fields:
            raise AttributeError(f"the struct array has no field {name!r}; fields: {', '.join(self._fields)}")
        values = [s[name] for s in self]
        if all(np.ndim(v) == 0 for v in values):
            return np.array(values)
        return values


def _pixel_lists(L, n):
    """Per label 1..n, its pixels' 0-based column-major indices, ascending (MATLAB's PixelIdxList)."""
    flat = L.T.ravel()  # column-major
    order = np.argsort(flat, kind="stable")
    sorted_labels = flat[order]
    starts = np.searchsorted(sorted_labels, np.arange(1, n + 2))
    return [order[starts[k]:starts[k + 1]].astype(np.int64) for k in range(n)]


def bwconncomp(BW, conn=8):
    """``CC = bwconncomp(BW)`` / ``bwconncomp(BW, conn)``: see the module's docstring."""
    from leuknet.matlab.binary import _binary

    a = _binary("bwconncomp", BW, nonzero=True)
    L, n = label_column_major("bwconncomp", a, conn)
    return Struct(Connectivity=float(conn), ImageSize=[float(s) for s in a.shape], NumObjects=float(n),
                  PixelIdxList=_pixel_lists(L, n))


def _cc_fields(fn, CC):
    try:
        shape = tuple(int(s) for s in CC["ImageSize"])
        lists = [np.asarray(p, np.int64).ravel() for p in CC["PixelIdxList"]]
    except (KeyError, TypeError, ValueError):
        raise ConfigError(f"{fn}: expected a connected-components struct (bwconncomp's: ImageSize, "
                          "PixelIdxList)") from None
    if len(shape) != 2:
        raise ConfigError(f"{fn}: leuknet measures 2-D images; the struct's ImageSize is {list(shape)}")
    total = shape[0] * shape[1]
    if any(idx.size and (idx.min() < 0 or idx.max() >= total) for idx in lists):
        raise ConfigError(f"{fn}: the struct's PixelIdxList holds indices outside the image's {total} pixels "
                          "(they are 0-based, column-major)")
    return shape, lists


def labelmatrix(CC):
    """``L = labelmatrix(CC)``: component k's pixels labelled k (a double matrix, as MATLAB's smallest integer
    class holds the same values)."""
    shape, lists = _cc_fields("labelmatrix", CC)
    flat = np.zeros(shape[0] * shape[1], np.float64)
    for k, idx in enumerate(lists, start=1):
        flat[idx] = k
    return flat.reshape(shape[1], shape[0]).T.copy()


def _regions(fn, source):
    """(image shape, [PixelIdxList per region]) of a binary image, a label matrix or a bwconncomp struct."""
    if isinstance(source, dict):
        return _cc_fields(fn, source)
    a = np.asarray(source)
    if a.ndim != 2 or a.dtype.kind not in "buif":
        raise ConfigError(f"{fn}: expected a 2-D binary image, label matrix or bwconncomp struct, received "
                          f"{a.dtype.name} of shape {list(a.shape)}")
    if a.dtype == bool:
        L, n = label_column_major(fn, a, 8)
        return a.shape, _pixel_lists(L, n)
    if not np.all(np.isfinite(a)) or np.any(a < 0) or np.any(a != np.round(a)):
        raise ConfigError(f"{fn}: a label matrix holds non-negative integers (0 the background); for a binary image "
                          "pass a logical array (BW > 0)")
    L = a.astype(np.int64)
    n = int(L.max()) if L.size else 0
    return a.shape, _pixel_lists(L, n)


def _property_list(fn, names, with_intensity):
    official = _SHAPE + (_INTENSITY if with_intensity else ())
    if not names:
        return list(_BASIC)
    flat = []
    for v in names:
        flat.extend(v if isinstance(v, (list, tuple)) else [v])
    if len(flat) == 1 and isinstance(flat[0], str) and flat[0].lower() in ("all", "basic"):
        return list(official) if flat[0].lower() == "all" else list(_BASIC)
    out = []
    for v in flat:
        if not isinstance(v, str):
            raise ConfigError(f"{fn}: properties are names (strings), received {shown(v)}")
        if any(v.lower() == r.lower() for r in _REFUSED):
            why = ""
            if v.lower().startswith(("convex", "solid")):
                why = ": MATLAB rasterises the convex hull with poly2mask's sub-pixel rule, which leuknet does not reproduce"
            elif v.lower() == "circularity":
                why = (": MATLAB's formula changed in R2023a (a correction for small regions, not reproduced); before "
                       "R2023a it was 4*pi*Area/Perimeter^2, computable from those two properties")
            raise ConfigError(f"{fn}: the property {v!r} is not provided by leuknet{why}")
        if not with_intensity and any(v.lower() == p.lower() for p in _INTENSITY):
            raise ConfigError(f"{fn}: {v!r} needs a grey image: regionprops(BW, I, {v!r})")
        p = choice(fn, "a property", v, official)
        if p not in out:
            out.append(p)
    return out


def regionprops(*args):
    """``stats = regionprops([outputFormat,] BW | CC | L, [I,] properties...)``: see the module's docstring."""
    fn = "regionprops"
    args = list(args)
    fmt = "struct"
    if args and isinstance(args[0], str):
        fmt = choice(fn, "the output format", args.pop(0), ("struct", "table"))
    if not args:
        raise ConfigError(f"{fn}: expected a binary image, a label matrix or a bwconncomp struct")
    shape, lists = _regions(fn, args.pop(0))
    I = None
    if args and not isinstance(args[0], (str, list, tuple)):
        I = np.asarray(args.pop(0))
        if I.shape != shape or I.dtype.kind not in "buif":
            raise ConfigError(f"{fn}: the grey image I must be numeric and the size of the label image {list(shape)}, "
                              f"received {I.dtype.name} of shape {list(I.shape)}")
    props = _property_list(fn, args, I is not None)
    stats = StructArray((_measure(shape, idx, props, I) for idx in lists), props)
    if fmt == "struct":
        return stats
    from leuknet.matlab.datastore import Table

    columns = {}
    for p in props:
        values = [s[p] for s in stats]
        if values and all(np.ndim(v) == 0 for v in values):
            columns[p] = np.array(values)
        elif values and all(np.ndim(v) == 1 and len(v) == len(values[0]) for v in values) and p in (
                "Centroid", "BoundingBox", "WeightedCentroid"):
            columns[p] = np.stack(values)
        else:
            columns[p] = values
    return Table(**columns)


def _measure(shape, idx, props, I):
    """One region's properties (MathWorks' regionprops.m, computed from its column-major pixel indices)."""
    m = shape[0]
    rows, cols = idx % m + 1, idx // m + 1  # 1-based
    n = idx.size
    out = Struct()
    cache = {}

    def image():
        if "image" not in cache:
            if n == 0:
                cache["image"] = np.zeros((0, 0), bool)
            else:
                r0, c0 = rows.min(), cols.min()
                img = np.zeros((rows.max() - r0 + 1, cols.max() - c0 + 1), bool)
                img[rows - r0, cols - c0] = True
                cache["image"] = img
        return cache["image"]

    def centroid():
        return np.array([cols.mean(), rows.mean()]) if n else np.array([np.nan, np.nan])

    def bbox():
        if n == 0:
            return np.array([0.5, 0.5, 0.0, 0.0])
        return np.array([cols.min() - 0.5, rows.min() - 0.5, float(np.ptp(cols) + 1), float(np.ptp(rows) + 1)])

    def perimeter():
        if "perimeter" not in cache:
            cache["perimeter"] = _perimeter(_first_piece(image()))
        return cache["perimeter"]

    values = None if I is None else I.T.ravel()[idx]
    for p in props:
        if p == "Area":
            out[p] = float(n)
        elif p == "Centroid":
            out[p] = centroid()
        elif p == "BoundingBox":
            out[p] = bbox()
        elif p in ("MajorAxisLength", "MinorAxisLength", "Eccentricity", "Orientation"):
            out[p] = _ellipse(rows, cols)[p]
        elif p == "Image":
            out[p] = image().copy()
        elif p in ("FilledImage", "FilledArea"):
            from scipy.ndimage import binary_fill_holes

            filled = binary_fill_holes(image(), structure=np.array([[0, 1, 0], [1, 1, 1], [0, 1, 0]], bool))
            out[p] = filled if p == "FilledImage" else float(filled.sum())
        elif p == "EulerNumber":
            out[p] = float(_euler8(image()))
        elif p == "EquivDiameter":
            out[p] = math.sqrt(4 * n / math.pi)
        elif p == "Extent":
            b = bbox()
            out[p] = n / (b[2] * b[3]) if n else math.nan
        elif p == "PixelIdxList":
            out[p] = idx.copy()
        elif p == "PixelList":
            out[p] = np.stack([cols, rows], axis=1).astype(np.float64)
        elif p == "Perimeter":
            out[p] = perimeter()
        elif p == "PixelValues":
            out[p] = values.copy()
        elif p == "MeanIntensity":
            out[p] = float(np.mean(values.astype(np.float64))) if n else math.nan
        elif p in ("MinIntensity", "MaxIntensity"):
            out[p] = (values.min() if p == "MinIntensity" else values.max()) if n else np.zeros(0, I.dtype)
        elif p == "WeightedCentroid":
            w = values.astype(np.float64)
            total = w.sum()
            out[p] = np.array([np.sum(cols * w) / total, np.sum(rows * w) / total]) if n else np.array([np.nan] * 2)
    return out


def _ellipse(rows, cols):
    """MathWorks' ComputeEllipseParams: the ellipse with the region's normalised second central moments."""
    if rows.size == 0:
        return dict(MajorAxisLength=0.0, MinorAxisLength=0.0, Eccentricity=0.0, Orientation=0.0)
    x = cols - cols.mean()
    y = -(rows - rows.mean())  # y up: the orientation is counter-clockwise
    n = rows.size
    uxx = np.sum(x ** 2) / n + 1 / 12
    uyy = np.sum(y ** 2) / n + 1 / 12
    uxy = np.sum(x * y) / n
    common = math.sqrt((uxx - uyy) ** 2 + 4 * uxy ** 2)
    major = 2 * math.sqrt(2) * math.sqrt(uxx + uyy + common)
    minor = 2 * math.sqrt(2) * math.sqrt(max(uxx + uyy - common, 0.0))
    ecc = 2 * math.sqrt(max((major / 2) ** 2 - (minor / 2) ** 2, 0.0)) / major
    if uyy > uxx:
        num, den = uyy - uxx + math.sqrt((uyy - uxx) ** 2 + 4 * uxy ** 2), 2 * uxy
    else:
        num, den = 2 * uxy, uxx - uyy + math.sqrt((uxx - uyy) ** 2 + 4 * uxy ** 2)
    if num == 0 and den == 0:
        orientation = 0.0
    elif den == 0:
        orientation = math.copysign(90.0, num)
    else:
        orientation = 180 / math.pi * math.atan(num / den)
    return dict(MajorAxisLength=major, MinorAxisLength=minor, Eccentricity=ecc, Orientation=orientation)


def _euler8(img):
    """bweuler(img, 8): objects (8-connected) minus holes, from the image's 2 x 2 quads (Gray's counts)."""
    if img.size == 0:
        return 0
    p = np.pad(img, 1).astype(np.int64)
    a, b, c, d = p[:-1, :-1], p[:-1, 1:], p[1:, :-1], p[1:, 1:]
    s = a + b + c + d
    q1 = np.sum(s == 1)
    q3 = np.sum(s == 3)
    qd = np.sum((s == 2) & (a == d))
    return (q1 - q3 - 2 * qd) // 4


def _first_piece(img):
    """The 8-connected piece of a region holding its first pixel in column-major order: MATLAB traces one
    boundary per label (a label in several pieces is measured by its first)."""
    from scipy.ndimage import label

    if img.size == 0:
        return img
    raw, count = label(img, structure=np.ones((3, 3), bool))
    if count <= 1:
        return img
    first = raw.T.ravel()
    return raw == first[first > 0][0]


def _perimeter(img):
    """MATLAB's Perimeter: the 8-connected outer boundary traced pixel to pixel; 0.980 per horizontal or vertical
    step, 1.406 per diagonal step, minus 0.091 per change of step (the boundary taken as closed)."""
    import cv2

    if img.sum() <= 1:
        return 0.0
    contours, _ = cv2.findContours(np.pad(img, 1).astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    b = contours[0][:, 0, :].astype(np.int64)  # one piece: one outer boundary
    b = np.vstack([b, b[:1]])
    delta = np.diff(b, axis=0) ** 2
    if len(delta) <= 1:
        return 0.0
    corner = np.any(np.diff(np.vstack([delta, delta[:1]]), axis=0) != 0, axis=1)
    even = np.any(delta == 0, axis=1)
    return float(even.sum() * 0.980 + (~even).sum() * 1.406 - corner.sum() * 0.091)


# --- boundaries ------------------------------------------------------------------------------------------------

_MOORE = {  # (row, column) steps in the search order, the next search's start after a step, the next direction
    8: ([(-1, 0), (-1, 1), (0, 1), (1, 1), (1, 0), (1, -1), (0, -1), (-1, -1)], [7, 7, 1, 1, 3, 3, 5, 5]),
    4: ([(-1, 0), (0, 1), (1, 0), (0, -1)], [3, 0, 1, 2]),
}


def _trace(mask, start, conn):
    """The boundary of the region ``mask`` (padded by one background pixel) from ``start``: MathWorks' and
    Gonzalez et al.'s Moore-neighbour tracing, clockwise, stopping when the start would be left the way it was
    first left (Jacob's criterion)."""
    steps, next_search = _MOORE[conn]
    current = start
    path = [start]
    departure = None
    search = 1  # NE for 8-connected tracing, E for 4-connected: the first step away from a pixel with background above
    while True:
        direction = search
        for _ in range(len(steps)):
            dr, dc = steps[direction]
            neighbour = (current[0] + dr, current[1] + dc)
            if mask[neighbour]:
                break
            direction = (direction + 1) % len(steps)
        else:  # a single pixel
            return [start, start]
        if current == start:
            if departure is None:
                departure = direction
            elif departure == direction:
                return path
        search = next_search[direction]
        path.append(neighbour)
        current = neighbour


def _first_pixels(L, n):
    """Each label 1..n's first pixel in column-major order, as (row, column)."""
    flat = L.T.ravel()
    values, first = np.unique(flat, return_index=True)
    at = dict(zip(values.tolist(), first.tolist()))
    rows = L.shape[0]
    return [(at[k] % rows, at[k] // rows) for k in range(1, n + 1)]


def _boundaries(L, n, conn):
    """Each label's traced boundary (1-based [row col] rows), each label traced within its own bounding box."""
    from scipy.ndimage import find_objects

    if n == 0:
        return []
    out = []
    for k, (box, first) in enumerate(zip(find_objects(L, max_label=n), _first_pixels(L, n)), start=1):
        r0, c0 = box[0].start, box[1].start
        mask = np.pad(L[box] == k, 1)  # a background frame: the tracing never leaves the array
        path = _trace(mask, (first[0] - r0 + 1, first[1] - c0 + 1), conn)
        out.append(np.array(path, np.float64) + [r0, c0])  # the frame's 1 makes the coordinates 1-based
    return out


def bwboundaries(BW, *args, nargout=None):
    """``B = bwboundaries(BW[, conn][, options])`` / ``B, L, n, A = bwboundaries(..., nargout=4)``: see the
    module's docstring."""
    from leuknet.matlab.binary import _binary
    from leuknet.matlab.conventions import outputs
    from leuknet.matlab.morphology import imclearborder

    fn = "bwboundaries"
    a = _binary(fn, BW, nonzero=True)
    conn, holes = 8, True
    for v in args:
        if isinstance(v, str):
            holes = choice(fn, "the option", v, ("holes", "noholes")) == "holes"
        elif not isinstance(v, bool) and np.ndim(v) == 0 and isinstance(v, (int, float, np.integer, np.floating)) \
                and v in (4, 8):
            conn = int(v)
        else:
            raise ConfigError(f"{fn}: expected a connectivity (4 or 8) or 'holes' / 'noholes', received {shown(v)}")
    L, n = label_column_major(fn, a, conn)
    B = _boundaries(L, n, conn)
    background_conn = 4 if conn == 8 else 8  # MathWorks: holes take the other connectivity
    H, nh = label_column_major(fn, imclearborder(~a, background_conn), background_conn)
    combined = L + np.where(H > 0, H + n, 0)
    if holes:
        B += _boundaries(H, nh, background_conn)
    A = np.zeros((len(B), len(B)), bool)
    if nargout is not None and nargout >= 4:
        # the pixel above a region's first pixel lies in what immediately encloses it (a hole for an object, an
        # object for a hole); without holes, an object's parent is the object around its hole
        parent = {}
        for k, (r, c) in enumerate(_first_pixels(L, n) + _first_pixels(H, nh)):
            above = int(combined[r - 1, c]) if r > 0 else 0
            if above > 0 and (k < n) == (above > n):
                parent[k] = above - 1
        for k in range(len(B)):
            if k in parent:
                p = parent[k] if holes else parent.get(parent[k])
                if p is not None:
                    A[k, p] = True
    return outputs(fn, (B, (combined if holes else L).astype(np.float64), float(n), A), nargout)
