"""Figures without global state: matplotlib Figures drawn on the Agg canvas, GIFs assembled with Pillow.

No pyplot, so nothing here changes the user's matplotlib backend or opens a window.
"""

import numpy as np


def figure(width=7.0, height=4.5, dpi=100):
    """A new matplotlib Figure on an Agg canvas."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=dpi)
    FigureCanvasAgg(fig)
    return fig


def to_image(fig):
    """The rendered figure as a Pillow RGB image."""
    from PIL import Image

    fig.canvas.draw()
    return Image.fromarray(np.asarray(fig.canvas.buffer_rgba())[..., :3].copy())


def save(fig, path):
    fig.savefig(path, bbox_inches="tight")
    return str(path)


def save_gif(images, path, duration_ms=400, hold_last=4):
    """Write an animated GIF that loops forever; the last frame stays ``hold_last`` times longer."""
    from PIL import Image

    if not images:
        raise ValueError(f"save_gif: no frames to write to {path}")
    # One palette for all frames, taken from the last (fullest) one, mapped without dithering:
    # many times faster than letting Pillow build a median-cut palette per frame, and no flicker.
    # Pillow 9.0 has the constants on Image itself; later versions in the Quantize/Dither enums.
    fast, no_dither = getattr(Image, "Quantize", Image).FASTOCTREE, getattr(Image, "Dither", Image).NONE
    palette = images[-1].convert("RGB").quantize(colors=128, method=fast)
    frames = [im.convert("RGB").quantize(palette=palette, dither=no_dither) for im in images]
    durations = [duration_ms] * (len(frames) - 1) + [duration_ms * hold_last]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=durations, loop=0)
    return str(path)


def training_curves(histories, path, ylabel="accuracy (%)", title=None, xlabel="epoch"):
    """One line per named history ({name: [values per epoch]}), written to ``path``."""
    fig = figure(6.5, 4.0)
    ax = fig.add_subplot()
    for name, values in histories.items():
        ax.plot(range(1, len(values) + 1), values, marker="o", label=name)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    return save(fig, path)
