"""``glassgrad.summary(model, input_size)``: a layer table like torchinfo's, from one real forward pass.

Each module call becomes a row with its output shape, its parameters (counted at its first call)
and the multiply-accumulates (MACs) of the convolutions and linear layers inside it. The totals add
an estimate of the memory one training step needs.
"""

import numpy as np

from glassgrad import _dtype
from glassgrad.autograd import no_grad
from glassgrad.creation import zeros
from glassgrad.tensor import Tensor


def _leaf_macs(module, output):
    """MACs of one call of a leaf module: convolutions and linear layers (the rest are negligible)."""
    weight = getattr(module, "weight", None)
    if not isinstance(output, Tensor) or not isinstance(weight, Tensor):
        return 0
    name = type(module).__name__
    if name.startswith("Conv") and weight.dim() >= 3:
        # Each output element is a dot product over in_channels/groups x kernel taps.
        return output.numel() * int(np.prod(weight.shape[1:]))
    if name in ("Linear", "Bilinear", "LazyLinear"):
        return output.numel() * weight.shape[-1]
    return 0


def _shape_of(output):
    if isinstance(output, Tensor):
        return list(output.shape)
    if isinstance(output, (tuple, list)):
        return [_shape_of(o) for o in output]
    return None


def _count(tensors):
    return sum(t.numel() for t in tensors)


class ModelSummary:
    """The result of ``summary``: ``str()`` of it is the table; the numbers are attributes.

    Attributes: ``rows`` (one dict per module call: name, type, depth, output_shape, params, macs),
    ``total_params``, ``trainable_params``, ``total_macs``, ``input_size``, ``memory`` (bytes of
    input, activations, parameters, gradients, optimizer state and their total).
    """

    def __init__(self, model_name, rows, input_size, total_params, trainable_params, total_macs, memory, depth):
        self.model_name = model_name
        self.rows = rows
        self.input_size = input_size
        self.total_params = total_params
        self.trainable_params = trainable_params
        self.total_macs = total_macs
        self.memory = memory
        self.depth = depth

    def to_dict(self):
        return {
            "model": self.model_name,
            "input_size": list(self.input_size),
            "total_params": self.total_params,
            "trainable_params": self.trainable_params,
            "total_macs": self.total_macs,
            "memory_bytes": dict(self.memory),
            "layers": [dict(r) for r in self.rows],
        }

    def __str__(self):
        shown = [r for r in self.rows if r["depth"] <= self.depth]
        labels = []
        for r in shown:
            label = r["type"] if r["depth"] == 0 else f"{r['name'].split('.')[-1]} ({r['type']})"
            labels.append("  " * r["depth"] + label)
        shapes = [str(r["output_shape"]) for r in shown]
        params = [f"{r['params']:,}" if r["params"] else "--" for r in shown]
        macs = [f"{r['macs']:,}" if r["macs"] else "--" for r in shown]
        head = ("Layer (type)", "Output shape", "Params", "MACs")
        widths = [
            max(len(head[i]), *(len(c[j]) for j in range(len(shown))))
            for i, c in enumerate((labels, shapes, params, macs))
        ]
        line = "  ".join(
            [head[0].ljust(widths[0]), head[1].ljust(widths[1]), head[2].rjust(widths[2]), head[3].rjust(widths[3])]
        )
        rule = "=" * len(line)
        out = [rule, line, rule]
        for cells in zip(labels, shapes, params, macs):
            out.append(
                "  ".join(
                    [
                        cells[0].ljust(widths[0]),
                        cells[1].ljust(widths[1]),
                        cells[2].rjust(widths[2]),
                        cells[3].rjust(widths[3]),
                    ]
                )
            )
        mem = self.memory
        mb = 1024 * 1024
        out += [
            rule,
            f"Total params: {self.total_params:,}",
            f"Trainable params: {self.trainable_params:,}",
            f"Non-trainable params: {self.total_params - self.trainable_params:,}",
            f"Total MACs: {self.total_macs:,} ({self.total_macs / 1e6:,.2f} M) for input {list(self.input_size)}",
            rule,
            f"Input size (MB): {mem['input'] / mb:,.2f}",
            f"Forward/backward pass size (MB): {mem['activations'] / mb:,.2f}",
            f"Params size (MB): {mem['params'] / mb:,.2f}",
            f"Gradients size (MB): {mem['gradients'] / mb:,.2f}",
            f"Optimizer state size (MB): {mem['optimizer_state'] / mb:,.2f}",
            f"Estimated training memory (MB): {mem['total'] / mb:,.2f}",
            rule,
        ]
        return "\n".join(out)

    __repr__ = __str__

    def _repr_html_(self):
        """Jupyter's view: the same table in HTML."""
        import html

        rows = []
        for r in (r for r in self.rows if r["depth"] <= self.depth):
            label = r["type"] if r["depth"] == 0 else f"{r['name'].split('.')[-1]} ({r['type']})"
            rows.append(
                f'<tr><td style="padding-left:{r["depth"] * 1.2:.1f}em;text-align:left">{html.escape(label)}</td>'
                f"<td>{html.escape(str(r['output_shape']))}</td>"
                f"<td>{r['params']:,}</td><td>{r['macs']:,}</td></tr>"
            )
        mb = 1024 * 1024
        return (
            "<table><thead><tr><th>Layer (type)</th><th>Output shape</th><th>Params</th><th>MACs</th></tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table>"
            f"<p>Total params: {self.total_params:,} ({self.trainable_params:,} trainable); "
            f"MACs: {self.total_macs:,} for input {list(self.input_size)}; "
            f"estimated training memory: {self.memory['total'] / mb:,.2f} MB</p>"
        )


def summary(model, input_size=None, *, input_data=None, depth=3, dtype=None, optimizer_states=1):
    """Run ``model`` once on zeros of ``input_size`` and tabulate its layers, like ``torchinfo.summary``.

    ``input_size`` is ``(C, H, W)`` (a batch of one is added) or the full ``(N, C, H, W)``; or pass
    ``input_data`` (a tensor). ``depth`` limits how deep the table goes (totals always count
    everything). ``optimizer_states`` is the number of parameter-sized buffers the optimizer keeps
    (1 for SGD with momentum, 2 for Adam) for the training-memory estimate, which counts the input,
    every layer's output twice (forward value and gradient, as torchinfo does), parameters,
    gradients and optimizer state. The model runs in eval mode without gradients; its mode is
    restored afterwards.
    """
    if input_data is None:
        if input_size is None:
            raise ValueError("summary: give input_size, e.g. (3, 32, 32), or input_data")
        size = tuple(int(s) for s in input_size)
        if len(size) == 3:
            size = (1,) + size
        input_data = zeros(*size, dtype=dtype or _dtype.get_default_dtype())
    size = tuple(input_data.shape)

    names = {module: name for name, module in model.named_modules()}
    rows, stack, seen, handles = [], [], set(), []

    def pre_hook(module, args):
        name = names.get(module, "")
        row = {
            "name": name,
            "type": type(module).__name__,
            "depth": 0 if not name else name.count(".") + 1,
            "output_shape": None,
            "params": 0 if module in seen else _count(module.parameters()),
            "macs": 0,
        }
        seen.add(module)
        rows.append(row)
        stack.append(row)

    def hook(module, args, output):
        row = stack.pop()
        row["output_shape"] = _shape_of(output)
        if next(module.children(), None) is None:
            row["activation_elements"] = output.numel() if isinstance(output, Tensor) else 0
            macs = _leaf_macs(module, output)
            row["macs"] += macs
            for outer in stack:
                outer["macs"] += macs

    for module in names:
        handles.append(module.register_forward_pre_hook(pre_hook))
        handles.append(module.register_forward_hook(hook))
    was_training = model.training
    model.eval()
    try:
        with no_grad():
            model(input_data)
    finally:
        for handle in handles:
            handle.remove()
        model.train(was_training)

    params = list(model.parameters())
    total = _count(params)
    trainable = _count(p for p in params if p.requires_grad)
    total_macs = sum(r["macs"] for r in rows if r["depth"] == 0)
    item = params[0].element_size() if params else input_data.element_size()
    activations = 2 * sum(r.get("activation_elements", 0) for r in rows) * item
    memory = {
        "input": input_data.numel() * input_data.element_size(),
        "activations": activations,
        "params": total * item,
        "gradients": trainable * item,
        "optimizer_state": optimizer_states * trainable * item,
    }
    memory["total"] = sum(memory.values())
    for r in rows:
        r.pop("activation_elements", None)
    return ModelSummary(type(model).__name__, rows, size, total, trainable, total_macs, memory, depth)
