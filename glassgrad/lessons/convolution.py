"""Convolution: a 3x3 kernel sliding over a 5x5 input (stride 1, 2, zero padding), max pooling, 32x32x3 -> 28x28x6."""

from dataclasses import dataclass, field

import numpy as np

import glassgrad
from glassgrad.lessons import output_folder
from glassgrad.nn import functional as F
from glassgrad.viz import plots

OPTIONS = ()

# The classic binary image and the "X" kernel of the animation the seed shows.
IMAGE = np.array(
    [[1, 1, 1, 0, 0], [0, 1, 1, 1, 0], [0, 0, 1, 1, 1], [0, 0, 1, 1, 0], [0, 1, 1, 0, 0]], dtype=np.float32
)
KERNEL = np.array([[1, 0, 1], [0, 1, 0], [1, 0, 1]], dtype=np.float32)
SETTINGS = {"stride 1": (1, 0), "stride 2": (2, 0), "zero padding 1, stride 1": (1, 1)}
POOL_INPUT = np.array([[1, 1, 2, 4], [5, 6, 7, 8], [3, 2, 1, 0], [1, 2, 3, 4]], dtype=np.float32)


@dataclass
class ConvolutionResult:
    outputs: dict  # setting -> output array (from the NumPy sliding window)
    matches_conv2d: dict  # setting -> glassgrad's F.conv2d gives the same numbers
    pooled: np.ndarray
    rgb_output_shape: tuple  # (C, H, W) of six 5x5x3 filters on a 3x32x32 image
    figures: list = field(default_factory=list)


def output_size(n, k, stride, padding):
    return (n + 2 * padding - k) // stride + 1


def slide(image, kernel, stride, padding):
    """Every window the kernel visits, and the sum of products at each: the definition, in NumPy."""
    padded = np.pad(image, padding)
    windows = np.lib.stride_tricks.sliding_window_view(padded, kernel.shape)[::stride, ::stride]
    return windows, np.einsum("ijkl,kl->ij", windows, kernel)


def run(out="lesson-convolution", seed=0):
    folder = output_folder(out)
    outputs, matches = {}, {}
    for name, (stride, padding) in SETTINGS.items():
        _, result = slide(IMAGE, KERNEL, stride, padding)
        outputs[name] = result
        ours = F.conv2d(
            glassgrad.from_numpy(IMAGE[None, None]),
            glassgrad.from_numpy(KERNEL[None, None]),
            stride=stride,
            padding=padding,
        )
        matches[name] = bool(np.array_equal(ours.numpy()[0, 0], result))
    pooled = F.max_pool2d(glassgrad.from_numpy(POOL_INPUT[None, None]), 2, 2).numpy()[0, 0]
    glassgrad.manual_seed(seed)
    rgb = glassgrad.nn.Conv2d(3, 6, kernel_size=5)(glassgrad.randn(1, 3, 32, 32))
    result = ConvolutionResult(outputs, matches, pooled, tuple(rgb.shape[1:]))
    for name, (stride, padding) in SETTINGS.items():
        file = name.replace(" ", "_").replace(",", "")
        result.figures.append(plots.save_gif(_slide_frames(stride, padding, name), f"{folder}/conv_{file}.gif", 600))
    result.figures.append(plots.save_gif(_pool_frames(pooled), f"{folder}/max_pool.gif", 700))
    return result


def _grid(draw, values, x0, y0, cell, font, highlight=None, fill=None, shown=None, pad=0):
    rows, cols = values.shape
    for i in range(rows):
        for j in range(cols):
            box = [x0 + j * cell, y0 + i * cell, x0 + (j + 1) * cell, y0 + (i + 1) * cell]
            is_pad = pad and (i < pad or j < pad or i >= rows - pad or j >= cols - pad)
            color = (230, 230, 230) if is_pad else (fill or (222, 235, 247))
            if highlight and highlight[0] <= i < highlight[2] and highlight[1] <= j < highlight[3]:
                color = (253, 208, 162)
            draw.rectangle(box, fill=color, outline=(90, 90, 90))
            if shown is None or shown[i, j]:
                draw.text(
                    ((box[0] + box[2]) / 2, (box[1] + box[3]) / 2),
                    f"{values[i, j]:g}",
                    fill="black",
                    font=font,
                    anchor="mm",
                )


def _slide_frames(stride, padding, title):
    from PIL import Image, ImageDraw

    from glassgrad.viz import fonts

    windows, result = slide(IMAGE, KERNEL, stride, padding)
    padded = np.pad(IMAGE, padding)
    cell, font, big = 40, fonts.font(16), fonts.font(15)
    n, m = result.shape
    width = 60 + padded.shape[1] * cell + 80 + 3 * cell + 80 + m * cell
    height = 110 + max(padded.shape[0], 3) * cell + 30
    frames = []
    for step in range(n * m + 1):
        image = Image.new("RGB", (width, height), "white")
        draw = ImageDraw.Draw(image)
        shown = np.arange(n * m).reshape(n, m) < step
        i, j = divmod(min(step, n * m) - 1, m) if step else (None, None)
        window = (i * stride, j * stride, i * stride + 3, j * stride + 3) if step else None
        out_n = output_size(5, 3, stride, padding)
        draw.text(
            (20, 14),
            f"{title}: 5x5 input, 3x3 kernel -> {out_n}x{out_n} output  ((5 + 2*{padding} - 3) / {stride} + 1 = {out_n})",
            fill="black",
            font=big,
        )
        _grid(draw, padded, 20, 60, cell, font, highlight=window, pad=padding)
        kx = 20 + padded.shape[1] * cell + 60
        draw.text((kx, 44), "kernel", fill="black", font=font)
        _grid(draw, KERNEL, kx, 60, cell, font, fill=(199, 233, 192))
        ox = kx + 3 * cell + 60
        draw.text((ox, 44), "output", fill="black", font=font)
        _grid(
            draw,
            result,
            ox,
            60,
            cell,
            font,
            highlight=(i, j, i + 1, j + 1) if step else None,
            shown=shown,
            fill=(240, 240, 255),
        )
        if step:
            terms = " + ".join(f"{a:g}*{b:g}" for a, b in zip(windows[i, j].ravel(), KERNEL.ravel()))
            draw.text(
                (20, height - 28), f"out[{i},{j}] = {terms} = {result[i, j]:g}", fill="black", font=fonts.font(12)
            )
        frames.append(image)
    return frames


def _pool_frames(pooled):
    from PIL import Image, ImageDraw

    from glassgrad.viz import fonts

    cell, font = 44, fonts.font(16)
    frames = []
    for step in range(5):
        image = Image.new("RGB", (460, 250), "white")
        draw = ImageDraw.Draw(image)
        draw.text((20, 12), "max pooling 2x2, stride 2: 4x4 -> 2x2", fill="black", font=font)
        i, j = divmod(step - 1, 2) if step else (None, None)
        window = (2 * i, 2 * j, 2 * i + 2, 2 * j + 2) if step else None
        _grid(draw, POOL_INPUT, 20, 50, cell, font, highlight=window)
        shown = np.arange(4).reshape(2, 2) < step
        _grid(
            draw,
            pooled,
            280,
            94,
            cell,
            font,
            shown=shown,
            fill=(240, 240, 255),
            highlight=(i, j, i + 1, j + 1) if step else None,
        )
        frames.append(image)
    return frames


def describe(result):
    lines = ["5x5 input, 3x3 kernel [[1,0,1],[0,1,0],[1,0,1]]; output size = (n + 2p - k) / s + 1"]
    for name, out in result.outputs.items():
        same = "same as glassgrad F.conv2d" if result.matches_conv2d[name] else "DIFFERENT from F.conv2d"
        rows = "; ".join(" ".join(f"{v:g}" for v in row) for row in out)
        lines.append(f"  {name:26s} -> {out.shape[0]}x{out.shape[1]}: {rows}  ({same})")
    lines.append(f"  max pooling 2x2 of {POOL_INPUT.astype(int).tolist()} -> {result.pooled.astype(int).tolist()}")
    c, h, w = result.rgb_output_shape
    lines.append(f"  32x32x3 image through six 5x5x3 filters -> {h}x{w}x{c} (one channel per filter)")
    return lines
