"""torch.normal in all its forms: tensor or number mean and std, or numbers and a size.

Samples come from glassgrad's generators (``manual_seed`` repeats them); as in PyTorch they are
not reparameterised: no gradient reaches mean or std (use ``mean + std * randn_like(mean)``).
"""

import numpy as np

from glassgrad import _dtype, creation, random
from glassgrad.ops.registry import OpInfo, Sample, register
from glassgrad.tensor import Tensor, check_cpu


def normal(
    mean,
    std=1.0,
    size=None,
    *,
    generator=None,
    out=None,
    dtype=None,
    layout=None,
    device=None,
    pin_memory=False,
    requires_grad=False,
):
    """Normal samples: ``normal(mean_tensor, std_tensor)`` (broadcast), ``normal(mean_tensor, std=1.0)``,
    ``normal(mean, std_tensor)``, or ``normal(mean, std, size)`` for numbers and a shape."""
    tensors = [x for x in (mean, std) if isinstance(x, Tensor)]
    if not tensors:
        if size is None:
            raise TypeError(
                "normal() received an invalid combination of arguments - got (float, float): give a size, "
                "normal(mean, std, size), or a tensor mean or std"
            )
        target = _dtype.to_dtype(dtype).numpy if dtype is not None else _dtype.get_default_dtype().numpy
        shape = tuple(int(s) for s in size)
    else:
        if size is not None:
            raise TypeError("normal(): size is only accepted when mean and std are both numbers")
        target = np.result_type(*[t.array.dtype for t in tensors])
        if target.kind != "f":
            raise NotImplementedError(f'"normal_kernel_cpu" not implemented for {_dtype.from_numpy_dtype(target)}')
        shape = np.broadcast_shapes(*[np.shape(x.array if isinstance(x, Tensor) else x) for x in (mean, std)])
    check_cpu(device, "normal")
    m = mean.array if isinstance(mean, Tensor) else float(mean)
    s = std.array if isinstance(std, Tensor) else float(std)
    if np.any(np.asarray(s) < 0):
        worst = float(np.min(s))
        raise RuntimeError(f"normal expects std >= 0.0, but found std {worst:g}")
    sample = np.asarray(m + s * random.standard_normal(shape, generator, dtype=np.float64)).astype(target)
    result = Tensor._wrap(sample)
    if out is not None:
        out.copy_(result)
        return out
    return result.requires_grad_(True) if requires_grad else result


register(
    OpInfo(
        "normal",
        normal,
        [Sample((3,), 1.0), Sample((3,), (3,)), Sample(2.0, (2, 3)), Sample(0.0, 2.0, size=(2, 3))],
        methods=(),
        gradcheck=False,
        torch=None,  # random: tests/ops/test_sampling.py checks the forms, shapes, dtypes and moments
    ),
    # Defined with the factories (glassgrad.multinomial, glassgrad.bernoulli); registered for their methods.
    OpInfo(
        "multinomial",
        creation.multinomial,
        [Sample(np.array([[0.0, 1.0], [1.0, 0.0]]), 3, replacement=True)],  # certain draws: methods compare
        gradcheck=False,
        torch=None,
    ),
    OpInfo("bernoulli", creation.bernoulli, [Sample(np.array([0.0, 1.0, 1.0]))], gradcheck=False, torch=None),
)
