"""Small helpers shared by the model files: input sizes and the arithmetic of conv/pool output sizes."""


def pair(size):
    """``32`` or ``(28, 28)`` -> ``(h, w)``; the input size every model constructor accepts."""
    if isinstance(size, int):
        return size, size
    h, w = size
    return int(h), int(w)


def conv_out(size, kernel, stride=1, padding=0, ceil_mode=False):
    """Output length of a convolution or pooling along one axis (PyTorch's formula, dilation 1)."""
    span = size + 2 * padding - kernel
    if ceil_mode:
        out = -(-span // stride) + 1
        # PyTorch drops a last window that would start inside the right padding.
        if (out - 1) * stride >= size + padding:
            out -= 1
        return out
    return span // stride + 1


def check_size(model, h, w, minimum):
    """Raise a clear error when an input is too small for the architecture's downsampling."""
    if h < minimum or w < minimum:
        raise ValueError(
            f"{model}: input size {h}x{w} is too small; it needs at least {minimum}x{minimum} "
            f"(pass input_size=... matching your images, or resize them)"
        )
