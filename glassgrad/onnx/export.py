"""Tracing a model's ops and assembling them into an ONNX model with the ``onnx`` package."""

import os
import tempfile
from pathlib import Path

import numpy as np

from glassgrad.autograd import no_grad
from glassgrad.autograd.function import observe_ops
from glassgrad.tensor import Tensor

_INSTALL = "pip install 'glassgrad[onnx]' (or: pip install onnx)"
DEFAULT_OPSET = 17
# The opsets whose operator definitions the converters are written against.
OPSETS = range(13, 22)


class OnnxExportError(RuntimeError):
    """The model cannot be expressed in ONNX: an op without a converter, or an unsupported option."""


def _onnx():
    try:
        import onnx
    except ImportError as error:
        raise ModuleNotFoundError(
            f"glassgrad.onnx builds ONNX files with the onnx package, which is not installed ({error}); "
            f"install it with: {_INSTALL}"
        ) from None
    return onnx


class Builder:
    """The graph under construction: value names, nodes and initializers.

    Converters call ``name(x)`` for the ONNX name of an input (a traced tensor, a parameter, or a
    constant that becomes an initializer), ``node(op, inputs, **attributes)`` to add a node, and
    ``const(array)`` for constants of their own.
    """

    def __init__(self, onnx, opset, names, inputs):
        self.onnx = onnx
        self.opset = opset
        self.nodes = []
        self.initializers = {}
        self._values = {}  # id(Tensor) -> ONNX name
        self._keep = []  # the tensors named, so that their ids stay theirs
        self._parameter_names = names
        self._inputs = inputs
        self._count = 0

    def fresh(self, prefix):
        self._count += 1
        return f"{prefix}_{self._count}"

    def bind(self, tensor, name):
        self._values[id(tensor)] = name
        self._keep.append(tensor)

    def const(self, array, prefix="const"):
        name = self.fresh(prefix)
        self.initializers[name] = np.asarray(array)
        return name

    def name(self, x, like=None):
        """The ONNX value name of ``x``: a tensor traced or known, or a number (as ``like``'s dtype)."""
        if x is None:
            return ""
        if isinstance(x, Tensor):
            known = self._values.get(id(x))
            if known is not None:
                return known
            for example in self._inputs:
                if np.shares_memory(x.array, example.array):
                    raise OnnxExportError(
                        f"a tensor of shape {tuple(x.shape)} is derived from the model's input by an operation "
                        "that is not a glassgrad op (NumPy on .numpy(), a Python loop?), so it cannot be traced"
                    )
            name = self._parameter_names.get(id(x)) or self.fresh("const")
            self.initializers[name] = x.array
            self.bind(x, name)
            return name
        dtype = like.array.dtype if isinstance(like, Tensor) else None
        return self.const(np.asarray(x, dtype=dtype))

    def node(self, op_type, inputs, outputs=1, **attributes):
        names = [self.fresh(op_type) for _ in range(outputs)] if isinstance(outputs, int) else list(outputs)
        attributes = {key: value for key, value in attributes.items() if value is not None}
        self.nodes.append(
            self.onnx.helper.make_node(op_type, list(inputs), names, name=self.fresh(f"{op_type}_node"), **attributes)
        )
        return names[0] if len(names) == 1 else names

    def ints(self, values):
        return self.const(np.asarray(values, dtype=np.int64), "ints")

    def reduce(self, op_type, x, axes, keepdims):
        """A Reduce* node over ``axes`` (all when empty), written for this opset's signature."""
        keep = int(bool(keepdims))
        if not axes:
            return self.node(op_type, [x], keepdims=keep)
        axes = [int(a) for a in axes]
        if op_type == "ReduceSum" or self.opset >= 18:
            return self.node(op_type, [x, self.ints(axes)], keepdims=keep)
        return self.node(op_type, [x], axes=axes, keepdims=keep)

    def unsqueeze(self, x, axes):
        return self.node("Unsqueeze", [x, self.ints(axes)])

    def squeeze(self, x, axes):
        return self.node("Squeeze", [x, self.ints(axes)])


def supported_ops():
    """The names of the glassgrad ops (``Function`` classes) that export to ONNX."""
    from glassgrad.onnx.converters import CONVERTERS

    return sorted(cls.__name__ for cls in CONVERTERS)


def _flatten(value, what):
    if isinstance(value, Tensor):
        return [value]
    if isinstance(value, (list, tuple)):
        items = []
        for item in value:
            items += _flatten(item, what)
        return items
    if isinstance(value, dict):
        return _flatten(list(value.values()), what)
    raise OnnxExportError(f"export: the model's {what} must be tensors (or tuples of them), got {type(value).__name__}")


def _dims(shape, axes):
    """Dimensions for a value_info: numbers, and names for the dynamic axes."""
    dims = list(shape)
    for axis, label in axes.items():
        dims[axis] = label
    return dims


def _dynamic(spec, name, ndim):
    if spec is None:
        return {}
    if isinstance(spec, dict):
        axes = {int(axis) % ndim: str(label) for axis, label in spec.items()}
    else:
        axes = {int(axis) % ndim: f"{name}_dynamic_axes_{int(axis) % ndim + 1}" for axis in spec}
    return axes


def export(
    model,
    args,
    f,
    export_params=True,
    verbose=False,
    input_names=None,
    output_names=None,
    opset_version=None,
    dynamic_axes=None,
    do_constant_folding=True,
    training=None,
    **unused,
):
    """Write ``model(*args)`` as an ONNX model to ``f`` (a path or a writable binary file).

    ``args``: a tensor or a tuple of tensors (the example input); ``input_names``/``output_names``
    name the graph's inputs and outputs (default ``input``/``output``, numbered when several);
    ``dynamic_axes`` maps a name to the axes that may change (``{"input": {0: "batch"}}``);
    ``opset_version`` 13-21 (default 17). The model is exported in evaluation mode (batch norm with
    its running statistics, no dropout), as PyTorch does. Returns the ``onnx.ModelProto``.
    """
    onnx = _onnx()
    from glassgrad.onnx.converters import CONVERTERS

    opset = DEFAULT_OPSET if opset_version is None else int(opset_version)
    if opset not in OPSETS:
        raise OnnxExportError(f"export: opset_version={opset} is not supported; use {OPSETS.start}-{OPSETS.stop - 1}")
    inputs = _flatten(args if isinstance(args, (list, tuple)) else (args,), "inputs")
    input_names = list(input_names or (["input"] if len(inputs) == 1 else [f"input_{i}" for i in range(len(inputs))]))
    if len(input_names) != len(inputs):
        raise OnnxExportError(f"export: {len(input_names)} input_names for {len(inputs)} inputs")

    records = []

    def record(cls, op_inputs, options, result):
        records.append((cls, op_inputs, options, result))

    def record_inplace(tensor, result):
        # From here on, the tensor changed in place holds the value of ``result``.
        records.append((None, (tensor,), {}, result))

    was_training = getattr(model, "training", False)
    if hasattr(model, "eval"):
        model.eval()
    try:
        with no_grad(), observe_ops(record, inplace=record_inplace):
            output = model(*inputs)
    finally:
        if hasattr(model, "train"):
            model.train(was_training)
    outputs = _flatten(output, "outputs")
    output_names = list(
        output_names or (["output"] if len(outputs) == 1 else [f"output_{i}" for i in range(len(outputs))])
    )
    if len(output_names) != len(outputs):
        raise OnnxExportError(f"export: {len(output_names)} output_names for {len(outputs)} outputs")

    names = {}
    if hasattr(model, "named_parameters"):
        names.update({id(p): name for name, p in model.named_parameters()})
        names.update({id(b): name for name, b in model.named_buffers()})
    builder = Builder(onnx, opset, names, inputs)
    for tensor, name in zip(inputs, input_names):
        builder.bind(tensor, name)
    for cls, op_inputs, options, result in records:
        if cls is None:
            builder.bind(op_inputs[0], builder.name(result))
            continue
        converter = CONVERTERS.get(cls)
        if converter is None:
            raise OnnxExportError(
                f"export: the op {cls.__name__} (from {cls.__module__}) has no ONNX converter; "
                f"the ops that export are: {', '.join(supported_ops())}"
            )
        builder.bind(result, converter(builder, result, *op_inputs, **options))

    dynamic_axes = dynamic_axes or {}
    graph_outputs = []
    for tensor, name in zip(outputs, output_names):
        builder.nodes.append(onnx.helper.make_node("Identity", [builder.name(tensor)], [name], name=f"{name}_identity"))
        axes = _dynamic(dynamic_axes.get(name), name, tensor.ndim)
        graph_outputs.append(_value_info(onnx, name, tensor, axes))
    graph_inputs = [
        _value_info(onnx, name, tensor, _dynamic(dynamic_axes.get(name), name, tensor.ndim))
        for tensor, name in zip(inputs, input_names)
    ]
    nodes = _reachable(builder.nodes, output_names)
    used = {name for node in nodes for name in node.input}
    initializers = [
        onnx.numpy_helper.from_array(np.ascontiguousarray(array), name)
        for name, array in builder.initializers.items()
        if name in used
    ]
    graph = onnx.helper.make_graph(nodes, type(model).__name__, graph_inputs, graph_outputs, initializers)
    proto = onnx.helper.make_model(
        graph, opset_imports=[onnx.helper.make_opsetid("", opset)], producer_name="glassgrad", ir_version=8
    )
    onnx.checker.check_model(proto, full_check=True)
    if verbose:
        print(onnx.helper.printable_graph(proto.graph))
    _save(proto, f)
    return proto


def _value_info(onnx, name, tensor, axes):
    element = onnx.helper.np_dtype_to_tensor_dtype(tensor.array.dtype)
    return onnx.helper.make_tensor_value_info(name, element, _dims(tensor.shape, axes))


def _reachable(nodes, output_names):
    """The nodes the outputs depend on, in their order (ops whose results were not used go)."""
    producer = {out: index for index, node in enumerate(nodes) for out in node.output}
    keep, stack = set(), list(output_names)
    while stack:
        index = producer.get(stack.pop())
        if index is None or index in keep:
            continue
        keep.add(index)
        stack.extend(nodes[index].input)
    return [node for index, node in enumerate(nodes) if index in keep]


def _save(proto, f):
    data = proto.SerializeToString()
    if hasattr(f, "write"):
        f.write(data)
        return
    path = Path(f)
    # Written beside the target and renamed over it, so that a reader never sees half a model.
    handle, temporary = tempfile.mkstemp(dir=path.parent or ".", prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
