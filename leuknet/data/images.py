"""Reading one image file as MATLAB's ``imread`` + ``im2uint8`` see it (OpenCV and NumPy only, no TensorFlow):
grey, RGBA and 16-bit files, the network's channel count, MATLAB's ``rgb2gray``, a border crop, the colour space,
and why a file that does not read cannot be read (``skipped.csv``). :mod:`leuknet.data.pipeline` decodes with
these in its tf.data maps; reports, augmented copies and Grad-CAM read with them without importing TensorFlow."""

from __future__ import annotations

import os

import cv2
import numpy as np

from leuknet import colorspace as cs
from leuknet.errors import DataError

# MATLAB rgb2gray: https://mathworks.com/help/matlab/ref/rgb2gray.html ("Algorithms"), uint8 results rounded
RGB2GRAY_WEIGHTS = np.array([0.298936021293775, 0.587043074451121, 0.114020904255103])
COLOR_PREPROCESSING = ("none", "gray2rgb", "rgb2gray")
OUTPUT_SIZE_MODES = ("resize", "centercrop", "randcrop")


class ChannelMismatch(DataError):
    """An image whose channel count the input layer cannot take without a colour conversion."""


def rgb2gray_uint8(img):
    """MATLAB ``rgb2gray`` on H x W x 3 uint8: the weighted sum rounded half up, H x W x 1 uint8."""
    g = img.astype(np.float64) @ RGB2GRAY_WEIGHTS
    return np.clip(np.floor(g + 0.5), 0, 255).astype(np.uint8)[..., None]


def _depth_to_uint8(img):
    if img.dtype == np.uint16:
        return np.floor(img.astype(np.float64) / 257.0 + 0.5).astype(np.uint8)  # im2uint8 on uint16
    if img.dtype in (np.float32, np.float64):
        return np.clip(np.floor(np.clip(img, 0, 1) * 255.0 + 0.5), 0, 255).astype(np.uint8)
    if img.dtype != np.uint8:
        info = np.iinfo(img.dtype)
        return np.floor((img.astype(np.float64) - info.min) / (info.max - info.min) * 255 + 0.5).astype(np.uint8)
    return img


def fit_channels(img, channels=3, color_preprocessing="none"):
    """H x W x 1 or 3 uint8 as the network's ``channels``: ``'gray2rgb'`` (and leuknet's default for 3 channels)
    replicates a grey image, ``'rgb2gray'`` converts a colour one; a colour image for 1 channel without
    ``'rgb2gray'`` raises :class:`ChannelMismatch` (MATLAB's augmentedImageDatastore converts only when asked)."""
    c = img.shape[2]
    if c == channels:
        return img
    if channels == 3 and c == 1 and color_preprocessing != "rgb2gray":
        return np.repeat(img, 3, axis=2)
    if channels == 1 and c == 3 and color_preprocessing == "rgb2gray":
        return rgb2gray_uint8(img)
    raise ChannelMismatch(f"the image has {c} channel{'s' if c > 1 else ''}, the input layer takes {channels}: use "
                          f"augmentedImageDatastore(..., 'ColorPreprocessing', "
                          f"'{'rgb2gray' if channels == 1 else 'gray2rgb'}')")


def to_uint8(img: np.ndarray, channels=3, color_preprocessing="none") -> np.ndarray:
    """A decoded OpenCV array (BGR / BGRA / grey, any depth) as H x W x ``channels`` uint8 (RGB for 3), as
    MATLAB's ``imread`` sees the file (grey: 1 channel; RGBA: RGB) then :func:`fit_channels`."""
    if img.ndim == 3 and img.shape[2] == 1:
        img = img[..., 0]
    img = _depth_to_uint8(img)
    if img.ndim == 2:
        img = img[..., None]
    elif img.shape[2] == 4:
        img = cv2.cvtColor(img, cv2.COLOR_BGRA2RGB)
    elif img.shape[2] == 3:
        img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
    else:
        raise DataError(f"unsupported channel count {img.shape[2]}")
    return fit_channels(img, int(channels), color_preprocessing)


def to_rgb_uint8(img: np.ndarray) -> np.ndarray:
    """A decoded OpenCV array (BGR / BGRA / grey, any depth) as H x W x 3 uint8 RGB."""
    return to_uint8(img, 3)


def read_image(path, channels=3, color_preprocessing="none") -> np.ndarray:
    """Read one image file as H x W x ``channels`` uint8 (RGB for 3; see :func:`to_uint8`); raises
    :class:`DataError` if it cannot be decoded or has channels the input cannot take."""
    path = os.fsdecode(path)
    data = np.fromfile(path, dtype=np.uint8) if os.path.isfile(path) else None
    if data is None:
        raise DataError(f"{path}: no such file")
    if data.size == 0:
        raise DataError(f"{path}: empty file")
    img = cv2.imdecode(data, cv2.IMREAD_UNCHANGED | cv2.IMREAD_ANYDEPTH)
    if img is None or img.size == 0:
        raise DataError(f"{path}: not a readable image (corrupt or unsupported format)")
    try:
        return to_uint8(img, channels, color_preprocessing)
    except ChannelMismatch as e:
        raise ChannelMismatch(f"{path}: {e}") from None


def none_readable(n, skipped) -> DataError:
    """The error where none of ``n`` image files can be read (``skipped``: their (path, reason) pairs)."""
    return DataError(f"none of the {n} image files could be read (first: {skipped[0][0]}: {skipped[0][1]})")


def unreadable_reason(path, crop: int = 0) -> str:
    """Why ``path`` cannot be read as an image, in words for ``skipped.csv``: ``'empty file (0 bytes)'``,
    ``'truncated image (BMP: 7227 of 14454 bytes)'`` (a PNG, BMP, JPEG or TIFF whose header reads but whose file
    stops short: OpenCV decodes none of these), ``'corrupt PNG image (...)'`` (whole, but its data does not
    decode), ``'not an image (OpenCV cannot decode it)'`` or ``'cannot be opened: <strerror>'`` (missing file,
    folder, permission). A file that decodes gives ``'it is a W x H image, and a C-pixel border crop leaves nothing of
    it'`` when ``crop`` (the run's ``--crop``) is that large, else ``'decodes as a W x H image; ...'``: it was
    refused after decoding (channels)."""
    path = os.fsdecode(path)
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        return f"cannot be opened: {e.strerror or e}"
    if not data:
        return "empty file (0 bytes)"
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED | cv2.IMREAD_ANYDEPTH)
    if img is not None and img.size:
        size = f"a {img.shape[1]} x {img.shape[0]} image"
        if crop and 2 * int(crop) >= min(img.shape[:2]):
            return f"it is {size}, and a {int(crop)}-pixel border crop leaves nothing of it"
        return f"decodes as {size}; refused after decoding (border crop or channels)"
    fmt = _image_format(data)
    if fmt is None:
        return "not an image (OpenCV cannot decode it)"
    short = _SHORT_BY_FORMAT[fmt](data)
    if short:
        return f"truncated image ({fmt}: {short})"
    return f"corrupt {fmt} image (its structure is whole but OpenCV cannot decode it)"


def _image_format(data: bytes):
    for magic, fmt in ((b"\x89PNG\r\n\x1a\n", "PNG"), (b"BM", "BMP"), (b"\xff\xd8\xff", "JPEG"), (b"II*\x00", "TIFF"),
                       (b"MM\x00*", "TIFF")):
        if data.startswith(magic):
            return fmt
    return None


def _png_short(data: bytes) -> str:
    """'' when the chunks run whole to IEND, else how the file stops short."""
    pos, n = 8, len(data)
    while pos + 8 <= n:
        length = int.from_bytes(data[pos : pos + 4], "big")
        kind = data[pos + 4 : pos + 8].decode("latin-1")
        if pos + 12 + length > n:
            return f"the file ends after {n} bytes, inside its {kind} chunk"
        if kind == "IEND":
            return ""
        pos += 12 + length
    return f"the file ends after {n} bytes, before its IEND chunk"


def _bmp_short(data: bytes) -> str:
    n = len(data)
    if n < 34:
        return f"the file ends after {n} bytes, inside its header"
    declared = int.from_bytes(data[2:6], "little")
    offset = int.from_bytes(data[10:14], "little")
    width, height = (abs(int.from_bytes(data[k : k + 4], "little", signed=True)) for k in (18, 22))
    bits, compression = int.from_bytes(data[28:30], "little"), int.from_bytes(data[30:34], "little")
    pixels = offset + (bits * width + 31) // 32 * 4 * height if compression in (0, 3) else 0
    expected = max(declared, pixels)
    return f"{n} of {expected} bytes" if n < expected else ""


def _jpeg_short(data: bytes) -> str:
    n = len(data)
    return "" if data.rstrip(b"\x00\r\n ")[-2:] == b"\xff\xd9" else \
        f"the file ends after {n} bytes, before its end-of-image marker"


def _tiff_short(data: bytes) -> str:
    """Checks the first directory and the strips or tiles it points to."""
    n = len(data)
    order = "little" if data[:2] == b"II" else "big"

    def u(at, size):
        return int.from_bytes(data[at : at + size], order)

    ifd = u(4, 4)
    if ifd + 2 > n or ifd + 2 + 12 * u(ifd, 2) + 4 > n:
        return f"the file ends after {n} bytes, before the end of its image directory (at byte {ifd})"
    fields = {}
    for k in range(u(ifd, 2)):
        e = ifd + 2 + 12 * k
        tag, typ, count = u(e, 2), u(e + 2, 2), u(e + 4, 4)
        size = {3: 2, 4: 4}.get(typ)
        if size is None:
            continue
        at = e + 8 if size * count <= 4 else u(e + 8, 4)
        if at + size * count <= n:
            fields[tag] = [u(at + size * i, size) for i in range(count)]
    for offsets, counts in ((273, 279), (324, 325)):  # strips, tiles
        if offsets in fields and counts in fields:
            expected = max(o + c for o, c in zip(fields[offsets], fields[counts]))
            if n < expected:
                return f"{n} of {expected} bytes"
    return ""


_SHORT_BY_FORMAT = {"PNG": _png_short, "BMP": _bmp_short, "JPEG": _jpeg_short, "TIFF": _tiff_short}


def crop_border(img, crop):
    """Cut ``crop`` pixels from every border (de Oliveira & Dantas: 450 -> 250 with crop 100)."""
    crop = int(crop)
    if crop <= 0:
        return img
    if 2 * crop >= min(img.shape[:2]):
        raise DataError(f"a {crop}-pixel border crop leaves nothing of a {img.shape[1]} x {img.shape[0]} image")
    return img[crop:-crop, crop:-crop]


def _s(v):
    return v.decode() if isinstance(v, bytes) else str(v)


def _decode_full(path, space="rgb", crop=0, channels=3, color_preprocessing="none"):
    """One file decoded to H x W x ``channels`` uint8 at its own size (border crop, channels, colour space)."""
    img = crop_border(read_image(_s(path), int(channels), _s(color_preprocessing)), crop)
    space = _s(space)
    return cs.convert(img, space) if space != "rgb" else img
