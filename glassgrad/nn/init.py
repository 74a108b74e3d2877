"""Weight initialisation, in place and without recording a graph (PyTorch's ``torch.nn.init``).

Random draws come from glassgrad's global generator (or ``generator=``), so
``glassgrad.manual_seed`` makes them repeat. Draws are made in the tensor's own dtype.
"""

import functools
import math
import threading

import numpy as np

from glassgrad import random as _random
from glassgrad.autograd.grad_mode import no_grad
from glassgrad.autograd.graph import increment_version


def calculate_gain(nonlinearity, param=None):
    """The factor by which an activation shrinks the variance, undone by the init's std.

    ``linear``, ``conv*``, ``sigmoid``: 1; ``tanh``: 5/3; ``relu``: sqrt(2);
    ``leaky_relu``: sqrt(2 / (1 + negative_slope^2)) with slope ``param`` (default 0.01); ``selu``: 3/4.
    """
    linear_fns = ["linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d"]
    if nonlinearity in linear_fns or nonlinearity == "sigmoid":
        return 1
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif not isinstance(param, bool) and isinstance(param, (int, float)):
            slope = param
        else:
            raise ValueError(f"negative_slope {param} not a valid number")
        return math.sqrt(2.0 / (1 + slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(
        f"Unsupported nonlinearity {nonlinearity}; use one of linear, conv2d, sigmoid, tanh, relu, leaky_relu, selu"
    )


def _calculate_fan_in_and_fan_out(tensor):
    """fan_in = input features x receptive field, fan_out = output features x receptive field
    (a weight is laid out ``(out, in, *kernel)`` as in Linear and Conv2d)."""
    if tensor.dim() < 2:
        raise ValueError(
            "Fan in and fan out can not be computed for tensor with fewer than 2 dimensions "
            f"(this one has shape {tuple(tensor.shape)})"
        )
    receptive_field = 1
    for s in tensor.shape[2:]:
        receptive_field *= s
    return tensor.shape[1] * receptive_field, tensor.shape[0] * receptive_field


def _calculate_correct_fan(tensor, mode):
    mode = mode.lower()
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"Mode {mode} not supported, please use one of fan_in, fan_out")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


# Set by ``glassgrad.nn.utils.skip_init`` while it builds a module: every fill below is then skipped
# (no random draws), so a 100M-parameter model is built in a moment, with its memory left as it came.
_skip = threading.local()


def skipping():
    """Whether initialisation is being skipped (inside ``glassgrad.nn.utils.skip_init``) on this thread."""
    return getattr(_skip, "depth", 0) > 0


def _skippable(function):
    @functools.wraps(function)
    def init(tensor, *args, **kwargs):
        return tensor if skipping() else function(tensor, *args, **kwargs)

    return init


@_skippable
def _fill(tensor, values):
    with no_grad():
        tensor.array[...] = values
        increment_version(tensor, "nn.init")
    return tensor


@_skippable
def uniform_(tensor, a=0.0, b=1.0, generator=None):
    """Fill with U(a, b)."""
    return _fill(tensor, _random.uniform(a, b, tuple(tensor.shape), generator, dtype=tensor.array.dtype))


@_skippable
def normal_(tensor, mean=0.0, std=1.0, generator=None):
    """Fill with N(mean, std^2)."""
    return _fill(tensor, _random.normal(mean, std, tuple(tensor.shape), generator, dtype=tensor.array.dtype))


@_skippable
def trunc_normal_(tensor, mean=0.0, std=1.0, a=-2.0, b=2.0, generator=None):
    """Fill with N(mean, std^2) restricted to [a, b]: out-of-range draws are drawn again."""
    if not a < b:
        raise ValueError(f"trunc_normal_: the bounds must satisfy a < b, got a={a}, b={b}")
    shape = tuple(tensor.shape)
    values = _random.normal(mean, std, shape, generator, dtype=np.float64)
    outside = (values < a) | (values > b)
    # Rejection sampling over whole arrays; each round keeps most of the remaining draws.
    for _ in range(1000):
        if not outside.any():
            break
        values[outside] = _random.normal(mean, std, int(outside.sum()), generator, dtype=np.float64)
        outside = (values < a) | (values > b)
    return _fill(tensor, np.clip(values, a, b))


def constant_(tensor, val):
    return _fill(tensor, val)


def ones_(tensor):
    return _fill(tensor, 1)


def zeros_(tensor):
    return _fill(tensor, 0)


def eye_(tensor):
    """The identity matrix, for a 2-D tensor."""
    if tensor.dim() != 2:
        raise ValueError(f"eye_: only 2-D tensors are supported, got shape {tuple(tensor.shape)}")
    return _fill(tensor, np.eye(*tensor.shape, dtype=tensor.array.dtype))


def dirac_(tensor, groups=1):
    """A convolution kernel that passes its input through (the identity of Conv1d/2d/3d)."""
    if tensor.dim() not in (3, 4, 5):
        raise ValueError(f"dirac_: only 3, 4 or 5-D tensors are supported, got shape {tuple(tensor.shape)}")
    out_per_group = tensor.shape[0] // groups
    n = min(out_per_group, tensor.shape[1])
    values = np.zeros(tuple(tensor.shape), dtype=tensor.array.dtype)
    centre = tuple(s // 2 for s in tensor.shape[2:])
    for g in range(groups):
        idx = np.arange(n)
        values[(g * out_per_group + idx, idx) + centre] = 1
    return _fill(tensor, values)


@_skippable
def orthogonal_(tensor, gain=1, generator=None):
    """A (semi-)orthogonal matrix from the QR decomposition of a Gaussian one, times ``gain``."""
    if tensor.dim() < 2:
        raise ValueError("Only tensors with 2 or more dimensions are supported")
    rows = tensor.shape[0]
    cols = tensor.numel() // rows
    flat = _random.normal(0.0, 1.0, (rows, cols), generator, dtype=np.float64)
    if rows < cols:
        flat = flat.T
    q, r = np.linalg.qr(flat)
    q = q * np.sign(np.diag(r))
    if rows < cols:
        q = q.T
    return _fill(tensor, (gain * q).reshape(tuple(tensor.shape)))


def xavier_uniform_(tensor, gain=1.0, generator=None):
    """U(-a, a) with a = gain * sqrt(6 / (fan_in + fan_out)) (Glorot and Bengio, 2010)."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    bound = gain * math.sqrt(6.0 / float(fan_in + fan_out))
    return uniform_(tensor, -bound, bound, generator)


def xavier_normal_(tensor, gain=1.0, generator=None):
    """N(0, std^2) with std = gain * sqrt(2 / (fan_in + fan_out))."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    return normal_(tensor, 0.0, std, generator)


def kaiming_uniform_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    """U(-b, b) with b = gain * sqrt(3 / fan) (He et al., 2015); ``a`` is the leaky_relu slope."""
    if 0 in tensor.shape:
        return tensor
    fan = _calculate_correct_fan(tensor, mode)
    bound = math.sqrt(3.0) * calculate_gain(nonlinearity, a) / math.sqrt(fan)
    return uniform_(tensor, -bound, bound, generator)


def kaiming_normal_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    """N(0, std^2) with std = gain / sqrt(fan) (He et al., 2015)."""
    if 0 in tensor.shape:
        return tensor
    fan = _calculate_correct_fan(tensor, mode)
    std = calculate_gain(nonlinearity, a) / math.sqrt(fan)
    return normal_(tensor, 0.0, std, generator)


# PyTorch's deprecated names without the trailing underscore.
uniform = uniform_
normal = normal_
constant = constant_
xavier_uniform = xavier_uniform_
xavier_normal = xavier_normal_
kaiming_uniform = kaiming_uniform_
kaiming_normal = kaiming_normal_
orthogonal = orthogonal_


def _default_weight_and_bias_(weight, bias):
    """PyTorch's default for Linear and Conv layers: kaiming_uniform_ with a=sqrt(5), which makes
    the weight bound 1/sqrt(fan_in), and the bias uniform within the same bound."""
    kaiming_uniform_(weight, a=math.sqrt(5))
    if bias is not None:
        fan_in, _ = _calculate_fan_in_and_fan_out(weight)
        bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
        uniform_(bias, -bound, bound)
