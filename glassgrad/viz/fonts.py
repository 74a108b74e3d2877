"""The font of glassgrad's drawn frames (viz.animate, the lessons)."""

import os


def font(size):
    """A Pillow font of ``size`` pixels: DejaVu Sans, or Pillow's default where it is missing."""
    import matplotlib
    from PIL import ImageFont

    # DejaVu ships with matplotlib and has the ∂ → ∇ · glyphs Pillow's default font lacks.
    path = os.path.join(os.path.dirname(matplotlib.__file__), "mpl-data", "fonts", "ttf", "DejaVuSans.ttf")
    try:
        return ImageFont.truetype(path, size)
    except OSError:
        return ImageFont.load_default(size=size)
