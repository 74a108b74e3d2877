"""``torchvision.utils``: images of a batch laid out in one grid, saved as a file, boxes drawn on an image.

``make_grid`` pads and tiles (B, C, H, W) images row by row; ``save_image`` writes that grid as a
PNG (or any format PIL knows); ``draw_bounding_boxes`` draws (xmin, ymin, xmax, ymax) boxes on a
(C, H, W) image. Semantics follow torchvision's.
"""

import math
import os
import tempfile

import numpy as np
from PIL import Image, ImageColor, ImageDraw, ImageFont

from glassgrad.tensor import Tensor

__all__ = ["draw_bounding_boxes", "make_grid", "save_image"]


def _as_batch(tensor) -> np.ndarray:
    """(B, C, H, W) float array from a tensor of 2, 3 or 4 dims or a list of (C, H, W) tensors."""
    if isinstance(tensor, (list, tuple)):
        if not tensor:
            raise ValueError("make_grid: the list of images is empty; give at least one (C, H, W) tensor")
        arrays = [t.detach().array if isinstance(t, Tensor) else np.asarray(t) for t in tensor]
        shapes = {a.shape for a in arrays}
        if len(shapes) != 1:
            raise ValueError(f"make_grid: the images have different shapes {sorted(shapes)}; resize them first")
        array = np.stack(arrays)
    elif isinstance(tensor, Tensor):
        array = tensor.detach().array
    else:
        raise TypeError(f"make_grid: tensor or list of tensors expected, got {type(tensor).__name__}")
    if array.ndim == 2:
        array = array[None]
    if array.ndim == 3:
        # One image: a single channel becomes grey RGB, as torchvision does.
        array = (np.concatenate([array] * 3) if array.shape[0] == 1 else array)[None]
    if array.ndim != 4:
        raise ValueError(f"make_grid: expected images of 2, 3 or 4 dimensions, got shape {array.shape}")
    if array.shape[1] == 1:
        array = np.concatenate([array] * 3, axis=1)
    return array


def _rescale(array, low, high):
    array = np.clip(array, low, high)
    return (array - low) / max(high - low, 1e-5)


def make_grid(
    tensor,
    nrow: int = 8,
    padding: int = 2,
    normalize: bool = False,
    value_range=None,
    scale_each: bool = False,
    pad_value: float = 0.0,
) -> Tensor:
    """Tile a batch (B, C, H, W) (or a list of (C, H, W)) into one image (C, rows*(H+p)+p, cols*(W+p)+p).

    ``nrow`` images per row (cols = min(nrow, B)); ``padding`` pixels of ``pad_value`` around
    each. One-channel images become three. ``normalize`` maps ``value_range`` (default: the
    batch's min and max, or each image's own with ``scale_each``) to [0, 1]. A batch of one
    comes back as that image, unpadded.
    """
    if value_range is not None and not isinstance(value_range, tuple):
        raise TypeError("make_grid: value_range has to be a tuple (min, max) if specified")
    array = _as_batch(tensor)
    if normalize:
        array = array.astype(np.result_type(array.dtype, np.float32), copy=True)
        if scale_each:
            for i in range(array.shape[0]):  # per image, not per pixel
                low, high = value_range or (float(array[i].min()), float(array[i].max()))
                array[i] = _rescale(array[i], low, high)
        else:
            low, high = value_range or (float(array.min()), float(array.max()))
            array = _rescale(array, low, high)
    if array.shape[0] == 1:
        return Tensor._wrap(np.ascontiguousarray(array[0]))
    batch, channels, h, w = array.shape
    cols = min(nrow, batch)
    rows = math.ceil(batch / cols)
    cell_h, cell_w = h + padding, w + padding
    grid = np.full((channels, rows * cell_h + padding, cols * cell_w + padding), pad_value, dtype=array.dtype)
    for k in range(batch):
        y, x = divmod(k, cols)
        top, left = y * cell_h + padding, x * cell_w + padding
        grid[:, top : top + h, left : left + w] = array[k]
    return Tensor._wrap(grid)


def _to_uint8_hwc(grid: np.ndarray) -> np.ndarray:
    """A [0, 1] float (C, H, W) image as (H, W, C) uint8, rounding half up as torchvision does."""
    return np.clip(grid * 255 + 0.5, 0, 255).astype(np.uint8).transpose(1, 2, 0)


def save_image(tensor, fp, format=None, **kwargs) -> None:
    """Write ``make_grid(tensor, **kwargs)`` (values in [0, 1]) to ``fp``, a path or a binary file.

    The format comes from ``format`` or the path's extension. A path is written atomically: a
    temporary file in the same folder, renamed over ``fp`` once complete.
    """
    grid = make_grid(tensor, **kwargs).array
    pixels = _to_uint8_hwc(grid.astype(np.float64))
    image = Image.fromarray(pixels[..., 0] if pixels.shape[2] == 1 else pixels)
    if not isinstance(fp, (str, os.PathLike)):
        image.save(fp, format=format)
        return
    path = os.fspath(fp)
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"save_image: the folder {folder!r} does not exist; create it first")
    fmt = format or Image.registered_extensions().get(os.path.splitext(path)[1].lower())
    if fmt is None:
        raise ValueError(f"save_image: cannot tell the image format of {path!r}; give format= or a known extension")
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=".save_image-", suffix=os.path.splitext(path)[1])
    try:
        with os.fdopen(handle, "wb") as f:
            image.save(f, format=fmt)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def _palette(count: int) -> list:
    """Distinct RGB colours for boxes without a given colour (a fixed multiplicative sequence)."""
    base = np.array([2**25 - 1, 2**15 - 1, 2**21 - 1])
    return [tuple(int(c) for c in (i * base) % 255) for i in range(count)]


def _rgb(color) -> tuple:
    return ImageColor.getrgb(color) if isinstance(color, str) else tuple(int(c) for c in color)


def draw_bounding_boxes(
    image: Tensor,
    boxes: Tensor,
    labels=None,
    colors=None,
    fill: bool = False,
    width: int = 1,
    font=None,
    font_size=None,
) -> Tensor:
    """Draw ``boxes`` (N, 4) as (xmin, ymin, xmax, ymax) pixels on ``image`` (C, H, W), C 1 or 3.

    ``image`` is uint8 (or float in [0, 1], returned as float); a grey image comes back with three
    channels. ``colors``: one colour for all, or one per box (names like ``"red"`` or RGB
    tuples); ``fill`` paints the inside at alpha 100/255; ``labels`` writes one string per box at
    its top-left corner. Returns a new (3, H, W) tensor of the input's dtype.
    """
    if not isinstance(image, Tensor):
        raise TypeError(f"draw_bounding_boxes: Tensor expected, got {type(image).__name__}")
    array = image.detach().array
    floating = array.dtype.kind == "f"
    if array.dtype != np.uint8 and not floating:
        raise ValueError(f"draw_bounding_boxes: the image dtype must be uint8 or float, got {image.dtype}")
    if array.ndim != 3:
        raise ValueError(f"draw_bounding_boxes: pass individual images, not batches (got shape {array.shape})")
    if array.shape[0] not in (1, 3):
        raise ValueError(
            f"draw_bounding_boxes: only grayscale and RGB images are supported, got {array.shape[0]} channels"
        )
    box_array = np.asarray(boxes.detach().array if isinstance(boxes, Tensor) else boxes, dtype=np.float64)
    if box_array.size == 0:
        return Tensor._wrap(array.copy())
    if box_array.ndim != 2 or box_array.shape[1] != 4:
        raise ValueError(f"draw_bounding_boxes: boxes must have shape (N, 4), got {box_array.shape}")
    if (box_array[:, 0] > box_array[:, 2]).any() or (box_array[:, 1] > box_array[:, 3]).any():
        raise ValueError(
            "draw_bounding_boxes: boxes need to be in (xmin, ymin, xmax, ymax) format; convert "
            "(x, y, w, h) boxes with xmax = x + w, ymax = y + h"
        )
    count = box_array.shape[0]
    if labels is not None and len(labels) != count:
        raise ValueError(f"draw_bounding_boxes: {count} boxes but {len(labels)} labels; give one label per box")
    if colors is None:
        rgb = _palette(count)
    elif isinstance(colors, list):
        if len(colors) < count:
            raise ValueError(f"draw_bounding_boxes: {count} boxes but only {len(colors)} colors")
        rgb = [_rgb(c) for c in colors[:count]]
    else:
        rgb = [_rgb(colors)] * count
    pixels = np.clip(array * 255 + 0.5, 0, 255).astype(np.uint8) if floating else array
    if pixels.shape[0] == 1:
        pixels = np.concatenate([pixels] * 3)
    canvas = Image.fromarray(np.ascontiguousarray(pixels.transpose(1, 2, 0)))
    draw = ImageDraw.Draw(canvas, "RGBA" if fill else None)
    text_font = ImageFont.load_default() if font is None else ImageFont.truetype(font, font_size or 10)
    for i, box in enumerate(box_array.tolist()):
        if fill:
            draw.rectangle(box, width=width, outline=rgb[i], fill=(*rgb[i], 100))
        else:
            draw.rectangle(box, width=width, outline=rgb[i])
        if labels is not None:
            margin = width + 1
            draw.text((box[0] + margin, box[1] + margin), str(labels[i]), fill=rgb[i], font=text_font)
    out = np.asarray(canvas, dtype=np.uint8).transpose(2, 0, 1).copy()
    return Tensor._wrap((out / 255).astype(array.dtype) if floating else out)
