"""Normalisation: batch norm, layer norm, group norm, local response norm.

Each is one Function whose backward is the closed form (no chain of small ops), e.g.
for batch norm in training mode, with x_hat the normalised input and g' = g * weight:

    dx = invstd * (g' - mean(g') - x_hat * mean(g' * x_hat))

where the means run over the axes the statistics were taken over.
"""

import numpy as np

from glassgrad import backend
from glassgrad.autograd.function import Function
from glassgrad.backend.numpy_kernels import inverse_std, normalize, normalized_backward, scale_shift


def _channel_shape(x):
    return (1, x.shape[1]) + (1,) * (x.ndim - 2)


def update_running(running_mean, running_var, momentum, instances, mean, var, count):
    """Move the running averages (C) in place: running = (1 - momentum) * running + momentum * batch,
    with the unbiased batch variance for ``running_var`` (PyTorch's convention). ``mean`` and
    ``var`` (biased, over ``count`` values) are (instances * C,): per instance for instance norm,
    whose running averages take their mean over the instances."""
    unbiased = var * (count / (count - 1))
    for buffer, batch in ((running_mean, mean), (running_var, unbiased)):
        if instances > 1:
            batch = batch.reshape(instances, -1).mean(axis=0)
        buffer[...] = (1 - momentum) * buffer + momentum * batch.astype(buffer.dtype, copy=False)


class BatchNorm(Function):
    """Batch normalisation over every dimension but the channels (dimension 1).

    input: (N, C) or (N, C, *); weight, bias: (C) or None; running_mean, running_var: (C).
    With ``training`` the batch statistics normalise the input, and ``update`` (optional:
    ``(mean, var, momentum, instances)``, the running averages' arrays (C)) moves the running
    averages towards them in place (see ``update_running``; the caller bumps the buffers'
    versions); otherwise ``running_mean`` and ``running_var`` normalise. Output: the input's shape.
    The arithmetic is glassgrad.backend's: compiled passes where numba is installed, NumPy's
    otherwise (figures in benchmarks/README.md).
    """

    def forward(
        self, x, weight=None, bias=None, running_mean=None, running_var=None, training=True, eps=1e-5, update=None
    ):
        shape = _channel_shape(x)
        self.training, self.axes, self.shape = training, (0,) + tuple(range(2, x.ndim)), shape
        if training:
            count = x.size // x.shape[1] if x.shape[1] else 0
            if x.size == 0:
                # PyTorch's convention: an empty batch normalises to an empty output, and
                # leaves the running averages alone.
                self.empty = True
                self.save_for_backward(None, None, None, weight)
                return np.empty_like(x)
            if count <= 1:
                raise ValueError(
                    f"batch_norm: expected more than 1 value per channel when training, got input size "
                    f"{tuple(x.shape)}; use a batch of 2 or more, or call model.eval() first"
                )
            out, mean, var, invstd = backend.batch_norm_train(x, weight, bias, eps)
            if update is not None:
                update_running(*update, mean, var, count)
            # The input rather than x_hat (backward recomputes it): forward skips a store pass.
            self.save_for_backward(x, mean, invstd, weight)
            return out
        out = backend.batch_norm_eval(x, running_mean, running_var, weight, bias, eps)
        if any(self.needs_input_grad):  # evaluation mode with gradients: keep x_hat and invstd for backward
            invstd = inverse_std(running_var.astype(x.dtype, copy=False).reshape(shape), eps)
            x_hat = (x - running_mean.astype(x.dtype, copy=False).reshape(shape)) * invstd
            self.save_for_backward(x_hat, None, invstd, weight)
        return out

    def backward(self, grad):
        # Training: (x, batch mean, invstd, weight); evaluation: (x_hat, None, invstd, weight).
        x, mean, invstd, weight = self.saved_tensors
        wants = tuple(self.needs_input_grad[:3]) + (False,) * 3
        if getattr(self, "empty", False):
            zeros = None if weight is None else np.zeros_like(weight)
            return (
                np.zeros_like(grad) if wants[0] else None,
                zeros if wants[1] else None,
                zeros if wants[2] else None,
                None,
                None,
            )
        if self.training and wants[0]:
            grad_x, grad_w, grad_b = backend.batch_norm_train_backward(grad, x, mean, invstd.reshape(-1), weight)
            return grad_x, grad_w if wants[1] else None, grad_b if wants[2] else None, None, None
        # Evaluation mode (the statistics are constants), or training without the input's gradient.
        x_hat = (x - mean.reshape(self.shape)) * invstd.reshape(self.shape) if self.training else x
        grad_x = scale_shift(grad, weight, None, self.shape) * invstd if wants[0] else None
        grad_w = (grad * x_hat).sum(axis=self.axes) if wants[1] else None
        grad_b = grad.sum(axis=self.axes) if wants[2] else None
        return grad_x, grad_w, grad_b, None, None


class LayerNorm(Function):
    """Normalises over the last ``n_dims`` dimensions, then scales and shifts elementwise.

    input: (*, *normalized_shape); weight, bias: normalized_shape or None. Output: input's shape.
    """

    def forward(self, x, weight=None, bias=None, n_dims=1, eps=1e-5):
        axes = tuple(range(x.ndim - n_dims, x.ndim))
        x_hat, _, _, invstd = normalize(x, axes, eps)
        out = scale_shift(x_hat, weight, bias)
        self.axes = axes
        self.lead = tuple(range(x.ndim - n_dims))
        self.save_for_backward(x_hat, invstd, weight)
        return out.astype(x.dtype, copy=False)

    def backward(self, grad):
        x_hat, invstd, weight = self.saved_tensors
        g_hat = scale_shift(grad, weight, None)
        grad_x = normalized_backward(g_hat, x_hat, invstd, self.axes) if self.needs_input_grad[0] else None
        grad_w = (grad * x_hat).sum(axis=self.lead) if self.needs_input_grad[1] else None
        grad_b = grad.sum(axis=self.lead) if self.needs_input_grad[2] else None
        return grad_x, grad_w, grad_b


class GroupNorm(Function):
    """Normalises each of ``num_groups`` groups of channels per sample, then scales and shifts
    per channel. input: (N, C, *); weight, bias: (C) or None. Output: the input's shape."""

    def forward(self, x, weight=None, bias=None, num_groups=1, eps=1e-5):
        n = x.shape[0]
        x_hat, _, _, invstd = normalize(x.reshape(n, num_groups, -1), (2,), eps)
        x_hat = x_hat.reshape(x.shape)
        shape = _channel_shape(x)
        out = scale_shift(x_hat, weight, bias, shape)
        self.shape, self.groups = shape, num_groups
        self.save_for_backward(x_hat, invstd, weight)
        return out.astype(x.dtype, copy=False)

    def backward(self, grad):
        x_hat, invstd, weight = self.saved_tensors
        n = x_hat.shape[0]
        axes = (0,) + tuple(range(2, x_hat.ndim))
        grad_x = grad_w = grad_b = None
        if self.needs_input_grad[0]:
            g_hat = scale_shift(grad, weight, None, self.shape)
            grouped = normalized_backward(
                g_hat.reshape(n, self.groups, -1), x_hat.reshape(n, self.groups, -1), invstd, (2,)
            )
            grad_x = grouped.reshape(x_hat.shape)
        if self.needs_input_grad[1]:
            grad_w = (grad * x_hat).sum(axis=axes)
        if self.needs_input_grad[2]:
            grad_b = grad.sum(axis=axes)
        return grad_x, grad_w, grad_b


def _window_sum(a, before, after):
    """out[:, c] = sum of a[:, c - before : c + after + 1] along the channels, zero outside."""
    channels = a.shape[1]
    widths = [(0, 0)] * a.ndim
    widths[1] = (before, after)
    padded = np.pad(a, widths)
    out = padded[:, 0:channels].copy()
    # One slice per window offset (the window is a handful of channels), never per element.
    for offset in range(1, before + after + 1):
        out += padded[:, offset : offset + channels]
    return out


class LocalResponseNorm(Function):
    """b_c = a_c / (k + alpha / size * sum of a_j^2 over the ``size`` channels around c)^beta.

    The window runs from c - size//2 to c + (size-1)//2, zero-padded at the ends, and
    the sum is divided by ``size`` whatever the padding (PyTorch's average-pool form).
    input: (N, C, *). Output: the input's shape.
    """

    def forward(self, x, size=5, alpha=1e-4, beta=0.75, k=1.0):
        self.size, self.alpha, self.beta = size, alpha, beta
        scale = x.dtype.type(alpha / size)
        denom = x.dtype.type(k) + scale * _window_sum(x * x, size // 2, (size - 1) // 2)
        factor = denom ** x.dtype.type(-beta)
        self.save_for_backward(x, denom, factor)
        return x * factor

    def backward(self, grad):
        x, denom, factor = self.saved_tensors
        # d out_c / d a_j reaches every c whose window holds j: the window mirrored.
        spread = _window_sum(grad * x * factor / denom, (self.size - 1) // 2, self.size // 2)
        coeff = x.dtype.type(2 * self.beta * self.alpha / self.size)
        return grad * factor - coeff * x * spread
