"""Functional forms of the layers (``import glassgrad.nn.functional as F``)."""

from glassgrad import ops


def linear(input, weight, bias=None):
    """y = input @ weight^T + bias. input (*, in), weight (out, in), bias (out) -> (*, out)."""
    if input.shape[-1] != weight.shape[-1]:
        raise RuntimeError(
            f"linear: input has {input.shape[-1]} features in its last dimension (shape {tuple(input.shape)}) "
            f"but the weight expects {weight.shape[-1]} (weight shape {tuple(weight.shape)}); "
            "check in_features, or flatten the input first (nn.Flatten())"
        )
    out = ops.matmul(input, ops.transpose(weight, 0, 1))
    return out if bias is None else out + bias
