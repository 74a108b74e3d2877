"""Numerical gradient check: central differences in float64 against the backward pass."""

import numpy as np

from glassgrad.autograd.grad_mode import enable_grad, no_grad
from glassgrad.tensor import Tensor


class GradcheckError(RuntimeError):
    """Raised when an analytic gradient disagrees with its numerical estimate."""


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True):
    """Compare ``fn``'s backward with central differences, input by input.

    ``inputs`` is a Tensor or a tuple of them; those with ``requires_grad`` are
    checked and must be float64 (float32 rounding swamps the differences). ``fn``
    may return a tensor of any shape: its gradient is taken against a fixed random
    projection, which tests every output element at once. Returns True, or raises
    ``GradcheckError`` naming the input and its worst element.
    """
    if isinstance(inputs, Tensor):
        inputs = (inputs,)
    inputs = tuple(inputs)
    checked = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    if not checked:
        raise ValueError("gradcheck: no input requires grad; nothing to check")
    for i in checked:
        if inputs[i].array.dtype != np.float64:
            raise TypeError(
                f"gradcheck: input {i} is {inputs[i].dtype}; use float64 inputs "
                "(x.double()) so rounding does not swamp the finite differences"
            )

    def evaluate():
        out = fn(*inputs)
        out = out if isinstance(out, Tensor) else out[0]
        if not isinstance(out, Tensor):
            raise TypeError(
                f"gradcheck: fn must return a Tensor (or a tuple starting with one), got {type(out).__name__}"
            )
        return out

    from glassgrad.autograd import grad

    with enable_grad():
        out = evaluate()
        rng = np.random.default_rng(0)
        projection = rng.standard_normal(out.array.shape)
        # autograd.grad, not backward: the inputs' .grad stay as the caller left them.
        grads = grad((out * Tensor(projection)).sum(), [inputs[i] for i in checked], allow_unused=True)
    analytic = [np.zeros(inputs[i].array.shape) if g is None else g.array for i, g in zip(checked, grads)]

    for slot, i in enumerate(checked):
        x = inputs[i].array
        numeric = np.zeros(x.shape)
        flat = x.reshape(-1)  # a view, so writes reach the tensor
        if not np.shares_memory(flat, x):
            raise ValueError(f"gradcheck: input {i} must be contiguous")
        with no_grad():  # the perturbed evaluations need no graph
            for k in range(flat.size):
                original = flat[k]
                flat[k] = original + eps
                plus = float((evaluate().array * projection).sum())
                flat[k] = original - eps
                minus = float((evaluate().array * projection).sum())
                flat[k] = original
                numeric.reshape(-1)[k] = (plus - minus) / (2 * eps)
        error = np.abs(analytic[slot] - numeric)
        bound = atol + rtol * np.abs(numeric)
        if np.any(error > bound) or not np.all(np.isfinite(analytic[slot])):
            worst = np.unravel_index(np.argmax(error - bound), x.shape) if x.ndim else ()
            message = (
                f"gradcheck: gradient of input {i} (shape {tuple(x.shape)}) is wrong at element "
                f"{tuple(int(w) for w in worst)}: analytic {analytic[slot][worst]:.8g}, "
                f"numerical {numeric[worst]:.8g} (atol={atol}, rtol={rtol})"
            )
            if raise_exception:
                raise GradcheckError(message)
            return False
    return True
