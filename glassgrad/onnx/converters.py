"""One converter per glassgrad op: ``converter(builder, result, *inputs, **options) -> ONNX name``.

A converter receives exactly what the op's ``forward`` received (tensors, numbers and keyword
options) and the op's result (for its shape and dtype), and emits ONNX nodes computing the same
values. Where ONNX has no operator with glassgrad's exact semantics, the op is written with several
(GELU as Erf, interpolation as gathers and weights), so that the exported model gives the numbers
glassgrad gives. Adding an op to the export = one function here and one entry in ``CONVERTERS``.
"""

import math

import numpy as np

from glassgrad.onnx.export import OnnxExportError
from glassgrad.ops import activation as act
from glassgrad.ops import (
    dropout,
    embedding,
    indexing,
    interpolate,
    linalg,
    linear,
    normalization,
    pooling,
    reduction,
    shape,
)
from glassgrad.ops import elementwise as ew
from glassgrad.ops.conv import Convolution
from glassgrad.tensor import Tensor


def _dtype(result):
    return result.array.dtype


def _scalar(b, value, result):
    return b.const(np.asarray(value, dtype=_dtype(result)))


# ----- linear algebra and convolution -----
def convolution(b, result, x, weight, bias, stride=(1, 1), padding=((0, 0), (0, 0)), dilation=(1, 1), groups=1):
    (top, bottom), (left, right) = padding
    inputs = [b.name(x), b.name(weight)] + ([b.name(bias)] if bias is not None else [])
    return b.node(
        "Conv",
        inputs,
        kernel_shape=list(weight.shape[2:]),
        strides=list(stride),
        pads=[top, left, bottom, right],
        dilations=list(dilation),
        group=int(groups),
    )


def linear_op(b, result, x, weight, bias=None):
    if x.ndim == 2:
        inputs = [b.name(x), b.name(weight)] + ([b.name(bias)] if bias is not None else [])
        return b.node("Gemm", inputs, transB=1)
    out = b.node("MatMul", [b.name(x), b.node("Transpose", [b.name(weight)], perm=[1, 0])])
    return out if bias is None else b.node("Add", [out, b.name(bias)])


def matmul(b, result, a, c):
    return b.node("MatMul", [b.name(a, like=result), b.name(c, like=result)])


# ----- elementwise -----
def _binary(op_type):
    def convert(b, result, a, c):
        return b.node(op_type, [b.name(a, like=result), b.name(c, like=result)])

    convert.__name__ = op_type.lower()
    return convert


def _add_sub(op_type):
    def convert(b, result, a, c, alpha=1):
        right = b.name(c, like=result)
        if alpha != 1:
            right = b.node("Mul", [right, _scalar(b, alpha, result)])
        return b.node(op_type, [b.name(a, like=result), right])

    return convert


def _unary(op_type, **attributes):
    def convert(b, result, a):
        return b.node(op_type, [b.name(a)], **attributes)

    return convert


def rsqrt(b, result, a):
    return b.node("Reciprocal", [b.node("Sqrt", [b.name(a)])])


def clamp(b, result, a, low=None, high=None):
    low_name = "" if low is None else _bound(b, low, result)
    high_name = "" if high is None else _bound(b, high, result)
    inputs = [b.name(a), low_name, high_name]
    while inputs[-1] == "":
        inputs.pop()
    return b.node("Clip", inputs)


def _bound(b, value, result):
    if isinstance(value, Tensor):
        if value.numel() != 1:
            # Clip takes scalar bounds only: a tensor bound is a Max/Min.
            raise OnnxExportError("export: clamp with tensor bounds is not supported; use torch.maximum/minimum")
        return b.const(value.array.reshape(()).astype(_dtype(result)))
    return _scalar(b, value, result)


def where(b, result, condition, a, c):
    cond = b.name(condition)
    if not isinstance(condition, Tensor) or condition.array.dtype != np.bool_:
        cond = b.node("Cast", [cond], to=b.onnx.TensorProto.BOOL)
    return b.node("Where", [cond, b.name(a, like=result), b.name(c, like=result)])


def cast(b, result, a, dtype=None):
    return b.node("Cast", [b.name(a)], to=b.onnx.helper.np_dtype_to_tensor_dtype(_dtype(result)))


def identity(b, result, a):
    return b.node("Identity", [b.name(a)])


def mask_scale(b, result, x, mask=None, scale=1.0):
    if mask is not None or scale != 1.0:
        raise OnnxExportError("export: dropout in training mode cannot be exported; call model.eval() first")
    return b.node("Identity", [b.name(x)])


# ----- activations -----
def leaky_relu(b, result, a, negative_slope=0.01):
    return b.node("LeakyRelu", [b.name(a)], alpha=float(negative_slope))


def elu(b, result, a, alpha=1.0, scale=1.0):
    out = b.node("Elu", [b.name(a)], alpha=float(alpha))
    return out if scale == 1.0 else b.node("Mul", [out, _scalar(b, scale, result)])


def celu(b, result, a, alpha=1.0):
    return b.node("Celu", [b.name(a)], alpha=float(alpha))


def gelu(b, result, a, approximate="none"):
    x = b.name(a)
    if approximate == "tanh":
        # 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
        cube = b.node("Mul", [b.node("Mul", [x, x]), x])
        inner = b.node("Add", [x, b.node("Mul", [cube, _scalar(b, 0.044715, result)])])
        inner = b.node("Mul", [inner, _scalar(b, math.sqrt(2 / math.pi), result)])
        gate = b.node("Add", [b.node("Tanh", [inner]), _scalar(b, 1.0, result)])
    else:
        erf = b.node("Erf", [b.node("Div", [x, _scalar(b, math.sqrt(2.0), result)])])
        gate = b.node("Add", [erf, _scalar(b, 1.0, result)])
    return b.node("Mul", [b.node("Mul", [x, gate]), _scalar(b, 0.5, result)])


def silu(b, result, a):
    x = b.name(a)
    return b.node("Mul", [x, b.node("Sigmoid", [x])])


def mish(b, result, a):
    x = b.name(a)
    return b.node("Mul", [x, b.node("Tanh", [b.node("Softplus", [x])])])


def softplus(b, result, a, beta=1.0, threshold=20.0):
    x = b.name(a)
    scaled = x if beta == 1.0 else b.node("Mul", [x, _scalar(b, beta, result)])
    soft = b.node("Softplus", [scaled])
    if beta != 1.0:
        soft = b.node("Div", [soft, _scalar(b, beta, result)])
    # Above the threshold glassgrad (as PyTorch) returns x itself.
    above = b.node("Greater", [scaled, _scalar(b, threshold, result)])
    return b.node("Where", [above, x, soft])


def log_sigmoid(b, result, a):
    return b.node("Neg", [b.node("Softplus", [b.node("Neg", [b.name(a)])])])


def hardtanh(b, result, a, min_val=-1.0, max_val=1.0):
    return b.node("Clip", [b.name(a), _scalar(b, min_val, result), _scalar(b, max_val, result)])


def hardsigmoid(b, result, a):
    return b.node("HardSigmoid", [b.name(a)], alpha=1.0 / 6.0, beta=0.5)


def hardswish(b, result, a):
    if b.opset >= 14:
        return b.node("HardSwish", [b.name(a)])
    x = b.name(a)
    return b.node("Mul", [x, b.node("HardSigmoid", [x], alpha=1.0 / 6.0, beta=0.5)])


def threshold(b, result, a, threshold=0.0, value=0.0):
    x = b.name(a)
    above = b.node("Greater", [x, _scalar(b, threshold, result)])
    return b.node("Where", [above, x, _scalar(b, value, result)])


def prelu(b, result, a, weight):
    slope = b.name(weight)
    if a.ndim > 2 and weight.numel() > 1:
        # One slope per channel (axis 1) broadcast over the spatial axes.
        slope = b.node("Reshape", [slope, b.ints([-1] + [1] * (a.ndim - 2))])
    return b.node("PRelu", [b.name(a), slope])


# ----- shapes -----
def reshape(b, result, a, shape=()):
    target = list(shape)
    if target and a.ndim and target[0] == a.shape[0]:
        # 0 copies the input's first dimension, so that a dynamic batch flows through a flatten.
        target[0] = 0
    return b.node("Reshape", [b.name(a), b.ints(target)])


def permute(b, result, a, dims=()):
    return b.node("Transpose", [b.name(a)], perm=[int(d) for d in dims])


def expand(b, result, a, shape=()):
    return b.node("Expand", [b.name(a), b.ints(list(result.shape))])


def repeat(b, result, a, repeats=()):
    x = b.name(a)
    extra = len(repeats) - a.ndim
    if extra > 0:
        x = b.unsqueeze(x, list(range(extra)))
    return b.node("Tile", [x, b.ints(list(repeats))])


def concatenate(b, result, *arrays, axis=0):
    return b.node("Concat", [b.name(t, like=result) for t in arrays], axis=int(axis))


def stack(b, result, *arrays, axis=0):
    axis = int(axis) % result.ndim
    return b.node("Concat", [b.unsqueeze(b.name(t, like=result), [axis]) for t in arrays], axis=axis)


def pad(b, result, a, widths=(), value=0.0):
    before = [int(lo) for lo, _ in widths]
    after = [int(hi) for _, hi in widths]
    return b.node("Pad", [b.name(a), b.ints(before + after), _scalar(b, value, result)], mode="constant")


def get_item(b, result, a, index=None):
    parts = list(index) if isinstance(index, tuple) else [index]
    if any(not (p is None or p is Ellipsis or isinstance(p, (int, np.integer, slice))) for p in parts):
        raise OnnxExportError(
            "export: indexing with tensors, lists or masks is not supported; only slices, integers, None and ..."
        )
    if parts.count(Ellipsis) > 1:
        raise OnnxExportError("export: an index with more than one ... is not supported")
    used = sum(1 for p in parts if p is not None and p is not Ellipsis)
    if Ellipsis in parts:
        at = parts.index(Ellipsis)
        parts[at : at + 1] = [slice(None)] * (a.ndim - used)
    x = b.name(a)
    starts, ends, axes, steps, drop, new = [], [], [], [], [], []
    axis = 0
    position = 0
    for part in parts:
        if part is None:
            new.append(position)
            position += 1
            continue
        if axis >= a.ndim:
            break
        size = a.shape[axis]
        if isinstance(part, slice):
            start, stop, step = part.indices(size)
            if (start, stop, step) != (0, size, 1):
                if step < 0 and stop < 0:
                    stop = -size - 1  # "to the beginning", which a non-negative end cannot say
                starts.append(start)
                ends.append(stop)
                axes.append(axis)
                steps.append(step)
            position += 1
        else:
            i = int(part) % size
            starts.append(i)
            ends.append(i + 1)
            axes.append(axis)
            steps.append(1)
            drop.append(axis)
        axis += 1
    if starts:
        x = b.node("Slice", [x, b.ints(starts), b.ints(ends), b.ints(axes), b.ints(steps)])
    if drop:
        x = b.squeeze(x, drop)
    if new:
        x = b.unsqueeze(x, new)
    if not (starts or drop or new):
        x = b.node("Identity", [x])
    return x


def gather(b, result, a, index=None, axis=0):
    return b.node("GatherElements", [b.name(a), b.const(np.asarray(index, dtype=np.int64))], axis=int(axis))


def index_select(b, result, a, index=None, axis=0):
    return b.node("Gather", [b.name(a), b.const(np.asarray(index, dtype=np.int64))], axis=int(axis))


def embedding_op(b, result, weight, indices, padding_idx=None, scale_grad_by_freq=False):
    index = b.name(indices)
    if isinstance(indices, Tensor) and indices.array.dtype != np.int64:
        index = b.node("Cast", [index], to=b.onnx.TensorProto.INT64)
    return b.node("Gather", [b.name(weight), index], axis=0)


# ----- reductions -----
def _reduce(op_type):
    def convert(b, result, a, axes=(), keepdim=False, **options):
        if options.get("largest") is False:
            return b.reduce("ReduceMin", b.name(a), axes, keepdim)
        return b.reduce(op_type, b.name(a), axes, keepdim)

    return convert


def max_min_dim(b, result, a, axis=0, keepdim=False, largest=True):
    return b.reduce("ReduceMax" if largest else "ReduceMin", b.name(a), [axis], keepdim)


def softmax(b, result, a, axis=-1):
    return b.node("Softmax", [b.name(a)], axis=int(axis))


def log_softmax(b, result, a, axis=-1):
    return b.node("LogSoftmax", [b.name(a)], axis=int(axis))


# ----- normalisation -----
def batch_norm(
    b, result, x, weight=None, bias=None, running_mean=None, running_var=None, training=True, eps=1e-5, update=None
):
    if training or running_mean is None:
        raise OnnxExportError(
            "export: batch norm with batch statistics (training mode, or track_running_stats=False) cannot be "
            "exported; call model.eval() on a model with running statistics"
        )
    channels = x.shape[1]
    dtype = _dtype(result)
    scale = b.name(weight) if weight is not None else b.const(np.ones(channels, dtype))
    shift = b.name(bias) if bias is not None else b.const(np.zeros(channels, dtype))
    return b.node(
        "BatchNormalization",
        [b.name(x), scale, shift, b.name(running_mean), b.name(running_var)],
        epsilon=float(eps),
    )


def layer_norm(b, result, x, weight=None, bias=None, n_dims=1, eps=1e-5):
    if b.opset < 17:
        raise OnnxExportError("export: layer norm needs opset_version >= 17")
    normalized = list(x.shape[-n_dims:])
    dtype = _dtype(result)
    scale = b.name(weight) if weight is not None else b.const(np.ones(normalized, dtype))
    inputs = [b.name(x), scale] + ([b.name(bias)] if bias is not None else [])
    return b.node("LayerNormalization", inputs, axis=-int(n_dims), epsilon=float(eps))


def local_response_norm(b, result, x, size=5, alpha=1e-4, beta=0.75, k=1.0):
    if size % 2 == 0:
        # ONNX centres an even window one channel later than PyTorch does.
        raise OnnxExportError(f"export: local response norm with an even size ({size}) is not supported")
    return b.node("LRN", [b.name(x)], size=int(size), alpha=float(alpha), beta=float(beta), bias=float(k))


# ----- pooling -----
def max_pool(
    b, result, x, kernel=(2, 2), stride=(2, 2), padding=(0, 0), dilation=(1, 1), ceil_mode=False, indices=False
):
    return b.node(
        "MaxPool",
        [b.name(x)],
        kernel_shape=list(kernel),
        strides=list(stride),
        pads=[padding[0], padding[1], padding[0], padding[1]],
        dilations=list(dilation),
        ceil_mode=int(bool(ceil_mode)),
    )


def avg_pool(
    b,
    result,
    x,
    kernel=(2, 2),
    stride=(2, 2),
    padding=(0, 0),
    ceil_mode=False,
    count_include_pad=True,
    divisor_override=None,
):
    if divisor_override is not None:
        raise OnnxExportError("export: avg_pool2d with divisor_override has no ONNX equivalent")
    return b.node(
        "AveragePool",
        [b.name(x)],
        kernel_shape=list(kernel),
        strides=list(stride),
        pads=[padding[0], padding[1], padding[0], padding[1]],
        ceil_mode=int(bool(ceil_mode)),
        count_include_pad=int(bool(count_include_pad)),
    )


def _matrix_along(b, x, matrix, axis, ndim):
    """``x`` with axis ``axis`` multiplied by ``matrix`` (out, in): a MatMul on the last two axes."""
    dtype = matrix.dtype
    if axis == ndim - 1:
        return b.node("MatMul", [x, b.const(np.ascontiguousarray(matrix.T).astype(dtype))])
    if axis == ndim - 2:
        return b.node("MatMul", [b.const(matrix), x])
    perm = list(range(ndim))
    perm[axis], perm[-1] = perm[-1], perm[axis]
    moved = b.node("Transpose", [x], perm=perm)
    moved = b.node("MatMul", [moved, b.const(np.ascontiguousarray(matrix.T))])
    return b.node("Transpose", [moved], perm=perm)


def adaptive_avg_pool(b, result, x, output_size=(1, 1)):
    if tuple(output_size) == (1, 1):
        return b.node("GlobalAveragePool", [b.name(x)])
    out = b.name(x)
    dtype = _dtype(result)
    for axis, (size, target) in enumerate(zip(x.shape[-2:], output_size), start=x.ndim - 2):
        out = _matrix_along(b, out, interpolate.area_matrix(size, target, dtype), axis, x.ndim)
    return out


def adaptive_max_pool(b, result, x, output_size=(1, 1)):
    if tuple(output_size) == (1, 1):
        return b.node("GlobalMaxPool", [b.name(x)])
    raise OnnxExportError(
        f"export: adaptive max pooling to {tuple(output_size)} from {tuple(x.shape[-2:])} (windows of unequal sizes) "
        "has no ONNX equivalent"
    )


def resize(b, result, x, plans=()):
    """Each axis as glassgrad computes it: gathers of the source positions times their weights,
    or a matrix product (area mode), so that every interpolation mode exports exactly."""
    out = b.name(x)
    ndim = x.ndim
    dtype = _dtype(result)
    for axis, (kind, plan) in enumerate(plans, start=ndim - len(plans)):
        if kind == "matrix":
            out = _matrix_along(b, out, np.asarray(plan, dtype=dtype), axis, ndim)
            continue
        total = None
        for index, weight in plan:
            picked = b.node("Gather", [out, b.const(np.asarray(index, dtype=np.int64))], axis=axis)
            if weight is not None:
                shape = [1] * ndim
                shape[axis] = -1
                picked = b.node("Mul", [picked, b.const(np.asarray(weight, dtype=dtype).reshape(shape))])
            total = picked if total is None else b.node("Add", [total, picked])
        out = total
    return out


CONVERTERS = {
    Convolution: convolution,
    linear.Linear: linear_op,
    linalg.MatMul: matmul,
    ew.Add: _add_sub("Add"),
    ew.Sub: _add_sub("Sub"),
    ew.Mul: _binary("Mul"),
    ew.Div: _binary("Div"),
    ew.Pow: _binary("Pow"),
    ew.Maximum: _binary("Max"),
    ew.Minimum: _binary("Min"),
    ew.Where: where,
    ew.Neg: _unary("Neg"),
    ew.Abs: _unary("Abs"),
    ew.Exp: _unary("Exp"),
    ew.Log: _unary("Log"),
    ew.Sqrt: _unary("Sqrt"),
    ew.Rsqrt: rsqrt,
    ew.Sin: _unary("Sin"),
    ew.Cos: _unary("Cos"),
    ew.Tanh: _unary("Tanh"),
    ew.Sigmoid: _unary("Sigmoid"),
    ew.ReLU: _unary("Relu"),
    ew.Clamp: clamp,
    ew.Cast: cast,
    ew.Clone: identity,
    act.LeakyReLU: leaky_relu,
    act.ELU: elu,
    act.CELU: celu,
    act.GELU: gelu,
    act.SiLU: silu,
    act.Mish: mish,
    act.Softplus: softplus,
    act.LogSigmoid: log_sigmoid,
    act.Hardtanh: hardtanh,
    act.Hardsigmoid: hardsigmoid,
    act.Hardswish: hardswish,
    act.Softsign: _unary("Softsign"),
    act.Threshold: threshold,
    act.PReLU: prelu,
    shape.Reshape: reshape,
    shape.Permute: permute,
    shape.Expand: expand,
    shape.Repeat: repeat,
    shape.Concatenate: concatenate,
    shape.Stack: stack,
    shape.Pad: pad,
    indexing.GetItem: get_item,
    indexing.Gather: gather,
    indexing.IndexSelect: index_select,
    embedding.Embedding: embedding_op,
    reduction.Sum: _reduce("ReduceSum"),
    reduction.Mean: _reduce("ReduceMean"),
    reduction.Prod: _reduce("ReduceProd"),
    reduction.MaxMin: _reduce("ReduceMax"),
    reduction.MaxMinDim: max_min_dim,
    reduction.LogSumExp: _reduce("ReduceLogSumExp"),
    reduction.Softmax: softmax,
    reduction.LogSoftmax: log_softmax,
    normalization.BatchNorm: batch_norm,
    normalization.LayerNorm: layer_norm,
    normalization.LocalResponseNorm: local_response_norm,
    pooling.MaxPool2DWithIndices: max_pool,
    pooling.AvgPool2D: avg_pool,
    pooling.AdaptiveAvgPool2D: adaptive_avg_pool,
    pooling.AdaptiveMaxPool2D: adaptive_max_pool,
    interpolate.Resize: resize,
    dropout.MaskScale: mask_scale,
}
