"""Recurrent layers: RNN, LSTM, GRU and their cells, with PyTorch's parameters, shapes and gates.

Each layer and direction projects the input of every time step in one matrix product, then
loops over the time steps (not the elements) for the recurrent product and the gates, all
built from differentiable ops, so backward is the ops' own. A PackedSequence runs padded
with a mask: a sequence's state stops changing after its last step, and the reverse
direction starts from it, as PyTorch's packed kernels do.
"""

from __future__ import annotations

import math
import numbers
import warnings
from typing import TYPE_CHECKING, Any

import numpy as np

from glassgrad import creation, ops
from glassgrad.nn import functional as F
from glassgrad.nn import init
from glassgrad.nn.module import Module
from glassgrad.nn.parameter import Parameter
from glassgrad.nn.utils.rnn import PackedSequence, pack_sorted, pad_packed_sequence

if TYPE_CHECKING:
    from glassgrad._dtype import DTypeLike
    from glassgrad.tensor import Tensor

_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


def _rnn_tanh_cell(gi, h, c, w_hh, b_hh, w_hr):
    return ops.tanh(gi + F.linear(h, w_hh, b_hh)), None


def _rnn_relu_cell(gi, h, c, w_hh, b_hh, w_hr):
    return ops.relu(gi + F.linear(h, w_hh, b_hh)), None


def _lstm_cell(gi, h, c, w_hh, b_hh, w_hr):
    # Gate order as PyTorch's weights: input, forget, cell, output.
    i, f, g, o = ops.chunk(gi + F.linear(h, w_hh, b_hh), 4, -1)
    c = ops.sigmoid(f) * c + ops.sigmoid(i) * ops.tanh(g)
    h = ops.sigmoid(o) * ops.tanh(c)
    if w_hr is not None:
        h = F.linear(h, w_hr)
    return h, c


def _gru_cell(gi, h, c, w_hh, b_hh, w_hr):
    # Gate order as PyTorch's weights: reset, update, new; the reset gate scales W_hn h + b_hn.
    i_r, i_z, i_n = ops.chunk(gi, 3, -1)
    h_r, h_z, h_n = ops.chunk(F.linear(h, w_hh, b_hh), 3, -1)
    r = ops.sigmoid(i_r + h_r)
    z = ops.sigmoid(i_z + h_z)
    n = ops.tanh(i_n + r * h_n)
    return n + z * (h - n), None


_CELLS = {"RNN_TANH": _rnn_tanh_cell, "RNN_RELU": _rnn_relu_cell, "LSTM": _lstm_cell, "GRU": _gru_cell}


def _check_size(name, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} should be of type int, got: {type(value).__name__}")
    if value <= 0:
        raise ValueError(f"{name} must be greater than zero")


class RNNBase(Module):
    """What RNN, LSTM and GRU share: the parameters of every layer and direction, and the loop.

    Parameters per layer k (suffix ``_reverse`` for the backward direction), gate count G
    (1 RNN, 4 LSTM, 3 GRU): weight_ih_l{k} (G*hidden, input_size or D*H_out), weight_hh_l{k}
    (G*hidden, H_out), bias_ih_l{k}/bias_hh_l{k} (G*hidden), and for an LSTM with proj_size > 0,
    weight_hr_l{k} (proj_size, hidden); all ~ U(-1/sqrt(hidden), 1/sqrt(hidden)).
    """

    def __init__(
        self,
        mode: str,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        proj_size: int = 0,
        device: Any = None,
        dtype: DTypeLike | None = None,
    ) -> None:
        super().__init__()
        if mode not in _GATES:
            raise ValueError(f"Unrecognized RNN mode: {mode}; use one of {sorted(_GATES)}")
        if isinstance(dropout, bool) or not isinstance(dropout, numbers.Number) or not 0 <= dropout <= 1:
            raise ValueError(
                "dropout should be a number in range [0, 1] representing the probability of an element being zeroed"
            )
        if dropout > 0 and num_layers == 1:
            warnings.warn(
                "dropout option adds dropout after all but last recurrent layer, so non-zero dropout expects "
                f"num_layers greater than 1, but got dropout={dropout} and num_layers={num_layers}",
                stacklevel=2,
            )
        _check_size("hidden_size", hidden_size)
        _check_size("num_layers", num_layers)
        if proj_size < 0:
            raise ValueError("proj_size should be a positive integer or zero to disable projections")
        if proj_size >= hidden_size:
            raise ValueError("proj_size has to be smaller than hidden_size")
        if proj_size and mode != "LSTM":
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        self.mode = mode
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = float(dropout)
        self.bidirectional = bidirectional
        self.proj_size = proj_size
        directions = 2 if bidirectional else 1
        real_hidden = proj_size if proj_size > 0 else hidden_size
        gate_size = _GATES[mode] * hidden_size

        self._flat_weights_names = []
        self._all_weights = []
        for layer in range(num_layers):
            for direction in range(directions):
                layer_input = input_size if layer == 0 else real_hidden * directions
                shapes: list[tuple[str, tuple[int, ...]]] = [
                    ("weight_ih", (gate_size, layer_input)),
                    ("weight_hh", (gate_size, real_hidden)),
                ]
                if bias:
                    shapes += [("bias_ih", (gate_size,)), ("bias_hh", (gate_size,))]
                if proj_size > 0:
                    shapes.append(("weight_hr", (proj_size, hidden_size)))
                suffix = "_reverse" if direction == 1 else ""
                names = []
                for kind, shape in shapes:
                    name = f"{kind}_l{layer}{suffix}"
                    setattr(self, name, Parameter(creation.empty(shape, dtype=dtype)))
                    names.append(name)
                self._flat_weights_names.extend(names)
                self._all_weights.append(names)
        self.reset_parameters()

    def reset_parameters(self):
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for weight in self.parameters():
            init.uniform_(weight, -stdv, stdv)

    def flatten_parameters(self):
        """A no-op: glassgrad keeps no fused weight buffer to compact (PyTorch's is for cuDNN)."""

    @property
    def _flat_weights(self):
        return [getattr(self, name) for name in self._flat_weights_names]

    @property
    def all_weights(self):
        return [[getattr(self, name) for name in names] for names in self._all_weights]

    def _weights(self, layer, direction):
        suffix = "_reverse" if direction == 1 else ""

        def get(kind):
            return getattr(self, f"{kind}_l{layer}{suffix}", None)

        return get("weight_ih"), get("weight_hh"), get("bias_ih"), get("bias_hh"), get("weight_hr")

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size != 0:
            s += f", proj_size={self.proj_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if self.batch_first is not False:
            s += f", batch_first={self.batch_first}"
        if self.dropout != 0:
            s += f", dropout={self.dropout}"
        if self.bidirectional is not False:
            s += f", bidirectional={self.bidirectional}"
        return s

    # -- the forward pass -----------------------------------------------------------

    def _prepare(self, input, hx):
        """Input as (T, B, input_size), the mask of valid steps or None, and how to give results back."""
        name = type(self).__name__
        if isinstance(input, PackedSequence):
            padded, lengths = pad_packed_sequence(input)
            steps = padded.shape[0]
            mask = creation.tensor((np.arange(steps)[:, None] < lengths.numpy()[None, :])[..., None])
            return padded, mask, {"packed": input, "lengths": lengths.numpy(), "batched": True}
        if input.ndim not in (2, 3):
            raise ValueError(f"{name}: Expected input to be 2D or 3D, got {input.ndim}D tensor instead")
        batched = input.ndim == 3
        if not batched:
            input = input.unsqueeze(1)
        elif self.batch_first:
            input = input.transpose(0, 1)
        return input, None, {"packed": None, "batched": batched}

    def _check_hidden(self, h, expected, batched, which=""):
        if h.ndim != (3 if batched else 2):
            if batched:
                raise RuntimeError(f"For batched 3-D input, hx{which} should also be 3-D but got {h.ndim}-D tensor")
            raise RuntimeError(f"For unbatched 2-D input, hx{which} should also be 2-D but got {h.ndim}-D tensor")
        shape = tuple(h.shape) if batched else (h.shape[0], 1, h.shape[1])
        if shape != expected:
            got = list(h.shape)
            want = expected if batched else (expected[0], expected[2])
            label = "hidden size" if not which else f"hidden{which} size"
            raise RuntimeError(f"Expected {label} {want}, got {got}")

    def _run(self, input, states, mask):
        """input (T, B, I); states: per layer*direction a (h, c) pair (c None but for LSTM)."""
        if input.shape[-1] != self.input_size:
            raise RuntimeError(
                f"input.size(-1) must be equal to input_size. Expected {self.input_size}, got {input.shape[-1]}"
            )
        cell = _CELLS[self.mode]
        directions = 2 if self.bidirectional else 1
        steps = input.shape[0]
        finals = []
        layer_input = input
        for layer in range(self.num_layers):
            outputs = []
            for direction in range(directions):
                w_ih, w_hh, b_ih, b_hh, w_hr = self._weights(layer, direction)
                h, c = states[layer * directions + direction]
                projected = F.linear(layer_input, w_ih, b_ih)  # every time step in one product
                order = range(steps - 1, -1, -1) if direction == 1 else range(steps)
                out = [None] * steps
                for t in order:
                    h_new, c_new = cell(projected[t], h, c, w_hh, b_hh, w_hr)
                    if mask is not None:
                        # Past a sequence's end its state stays; the reverse pass starts at its end.
                        h_new = ops.where(mask[t], h_new, h)
                        if c_new is not None:
                            c_new = ops.where(mask[t], c_new, c)
                    h, c = h_new, c_new
                    out[t] = h
                outputs.append(ops.stack(out, 0) if steps else creation.zeros(0, *h.shape, dtype=h.dtype))
                finals.append((h, c))
            layer_input = outputs[0] if directions == 1 else ops.cat(outputs, 2)
            if self.dropout and self.training and layer < self.num_layers - 1:
                layer_input = F.dropout(layer_input, self.dropout, True)
        return layer_input, finals

    def _finish(self, output, info):
        if info["packed"] is not None:
            if output.ndim == 3:
                return pack_sorted(output, info["lengths"], info["packed"].sorted_indices)
        if not info["batched"]:
            return output.squeeze(1)
        if self.batch_first:
            return output.transpose(0, 1)
        return output

    def _zeros(self, batch, size, like):
        directions = 2 if self.bidirectional else 1
        return creation.zeros(self.num_layers * directions, batch, size, dtype=like.dtype)

    def _hidden_out(self, states, info):
        stacked = ops.stack(states, 0)
        return stacked if info["batched"] else stacked.squeeze(1)


class RNN(RNNBase):
    """Elman RNN: h_t = nonlinearity(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh), tanh or relu.

    Input: (L, N, H_in), (N, L, H_in) with batch_first, (L, H_in) unbatched, or a PackedSequence;
    hx: (D*num_layers, N, H_out) or None (zeros). Output: (output (L, N, D*H_out), h_n (D*num_layers, N, H_out)).
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        nonlinearity: str = "tanh",
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        device: Any = None,
        dtype: DTypeLike | None = None,
    ) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or 'relu'.")
        mode = "RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU"
        super().__init__(
            mode, input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional, 0, device, dtype
        )
        self.nonlinearity = nonlinearity

    def forward(self, input: Tensor, hx: Any = None) -> tuple[Tensor, Any]:
        x, mask, info = self._prepare(input, hx)
        expected = (self.num_layers * (2 if self.bidirectional else 1), x.shape[1], self.hidden_size)
        if hx is None:
            hx = self._zeros(x.shape[1], self.hidden_size, x)
        else:
            self._check_hidden(hx, expected, info["batched"])
            if not info["batched"]:
                hx = hx.unsqueeze(1)
        output, finals = self._run(x, [(hx[i], None) for i in range(expected[0])], mask)
        return self._finish(output, info), self._hidden_out([h for h, _ in finals], info)


class LSTM(RNNBase):
    """Long short-term memory: gates i, f, g, o from x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh,
    c_t = f*c_{t-1} + i*g, h_t = o*tanh(c_t) (times W_hr^T when proj_size > 0).

    Input as RNN; hx: (h_0 (D*num_layers, N, H_out), c_0 (D*num_layers, N, hidden_size)) or None.
    Output: (output (L, N, D*H_out), (h_n, c_n)), H_out = proj_size or hidden_size.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        proj_size: int = 0,
        device: Any = None,
        dtype: DTypeLike | None = None,
    ) -> None:
        super().__init__(
            "LSTM",
            input_size,
            hidden_size,
            num_layers,
            bias,
            batch_first,
            dropout,
            bidirectional,
            proj_size,
            device,
            dtype,
        )

    def forward(self, input: Tensor, hx: Any = None) -> tuple[Tensor, Any]:
        x, mask, info = self._prepare(input, hx)
        layers = self.num_layers * (2 if self.bidirectional else 1)
        h_out = self.proj_size if self.proj_size > 0 else self.hidden_size
        if hx is None:
            h0, c0 = self._zeros(x.shape[1], h_out, x), self._zeros(x.shape[1], self.hidden_size, x)
        else:
            if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                raise RuntimeError("LSTM: hx must be a tuple (h_0, c_0) of two tensors")
            h0, c0 = hx
            self._check_hidden(h0, (layers, x.shape[1], h_out), info["batched"], "[0]")
            self._check_hidden(c0, (layers, x.shape[1], self.hidden_size), info["batched"], "[1]")
            if not info["batched"]:
                h0, c0 = h0.unsqueeze(1), c0.unsqueeze(1)
        output, finals = self._run(x, [(h0[i], c0[i]) for i in range(layers)], mask)
        h_n = self._hidden_out([h for h, _ in finals], info)
        c_n = self._hidden_out([c for _, c in finals], info)
        return self._finish(output, info), (h_n, c_n)


class GRU(RNNBase):
    """Gated recurrent unit: r, z = sigmoid(...), n = tanh(W_in x + b_in + r*(W_hn h + b_hn)),
    h_t = (1 - z)*n + z*h_{t-1}. Input, hx and output as RNN."""

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        device: Any = None,
        dtype: DTypeLike | None = None,
    ) -> None:
        super().__init__(
            "GRU", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional, 0, device, dtype
        )

    forward = RNN.forward


# -- cells ----------------------------------------------------------------------------


class RNNCellBase(Module):
    """One time step; parameters weight_ih (G*hidden, input_size), weight_hh (G*hidden, hidden),
    bias_ih, bias_hh (G*hidden), all ~ U(-1/sqrt(hidden), 1/sqrt(hidden))."""

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool,
        num_chunks: int,
        device: Any = None,
        dtype: DTypeLike | None = None,
    ) -> None:
        super().__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bias
        self.weight_ih = Parameter(creation.empty((num_chunks * hidden_size, input_size), dtype=dtype))
        self.weight_hh = Parameter(creation.empty((num_chunks * hidden_size, hidden_size), dtype=dtype))
        if bias:
            self.bias_ih = Parameter(creation.empty(num_chunks * hidden_size, dtype=dtype))
            self.bias_hh = Parameter(creation.empty(num_chunks * hidden_size, dtype=dtype))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self):
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for weight in self.parameters():
            init.uniform_(weight, -stdv, stdv)

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if getattr(self, "nonlinearity", "tanh") != "tanh":
            s += f", nonlinearity={self.nonlinearity}"
        return s

    def _batched(self, input):
        if input.ndim not in (1, 2):
            raise ValueError(f"{type(self).__name__}: Expected input to be 1D or 2D, got {input.ndim}D instead")
        if input.shape[-1] != self.input_size:
            raise RuntimeError(
                f"{type(self).__name__}: input has inconsistent input_size: got {input.shape[-1]} expected {self.input_size}"
            )
        return input.ndim == 2

    def _state(self, h, input, batched, name="hx"):
        if h is None:
            return creation.zeros(input.shape[0] if batched else 1, self.hidden_size, dtype=input.dtype)
        if h.ndim != input.ndim:
            raise RuntimeError(
                f"{type(self).__name__}: Expected {name} to be {input.ndim}D, got {h.ndim}D instead "
                "(hx must be batched exactly when the input is)"
            )
        want = (input.shape[0], self.hidden_size) if batched else (self.hidden_size,)
        if tuple(h.shape) != want:
            raise RuntimeError(f"{type(self).__name__}: Expected {name} of shape {want}, got {tuple(h.shape)}")
        return h if batched else h.unsqueeze(0)


class RNNCell(RNNCellBase):
    """h' = nonlinearity(x W_ih^T + b_ih + h W_hh^T + b_hh). Input (N, H_in) or (H_in); hx (N, H) or (H)."""

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        nonlinearity: str = "tanh",
        device: Any = None,
        dtype: DTypeLike | None = None,
    ) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"Unknown nonlinearity: {nonlinearity}; use 'tanh' or 'relu'")
        super().__init__(input_size, hidden_size, bias, 1, device, dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input: Tensor, hx: Any = None) -> Tensor:
        batched = self._batched(input)
        h = self._state(hx, input, batched)
        x = input if batched else input.unsqueeze(0)
        cell = _rnn_tanh_cell if self.nonlinearity == "tanh" else _rnn_relu_cell
        out, _ = cell(F.linear(x, self.weight_ih, self.bias_ih), h, None, self.weight_hh, self.bias_hh, None)
        return out if batched else out.squeeze(0)


class LSTMCell(RNNCellBase):
    """One LSTM step. Input (N, H_in) or (H_in); hx (h, c) of (N, H) each, or None. Returns (h', c')."""

    def __init__(
        self, input_size: int, hidden_size: int, bias: bool = True, device: Any = None, dtype: DTypeLike | None = None
    ) -> None:
        super().__init__(input_size, hidden_size, bias, 4, device, dtype)

    def forward(self, input: Tensor, hx: Any = None) -> tuple[Tensor, Tensor]:
        batched = self._batched(input)
        h, c = (None, None) if hx is None else hx
        h = self._state(h, input, batched, "hx[0]")
        c = self._state(c, input, batched, "hx[1]")
        x = input if batched else input.unsqueeze(0)
        h, c = _lstm_cell(F.linear(x, self.weight_ih, self.bias_ih), h, c, self.weight_hh, self.bias_hh, None)
        return (h, c) if batched else (h.squeeze(0), c.squeeze(0))


class GRUCell(RNNCellBase):
    """One GRU step. Input (N, H_in) or (H_in); hx (N, H) or (H) or None. Returns h'."""

    def __init__(
        self, input_size: int, hidden_size: int, bias: bool = True, device: Any = None, dtype: DTypeLike | None = None
    ) -> None:
        super().__init__(input_size, hidden_size, bias, 3, device, dtype)

    def forward(self, input: Tensor, hx: Any = None) -> Tensor:
        batched = self._batched(input)
        h = self._state(hx, input, batched)
        x = input if batched else input.unsqueeze(0)
        out, _ = _gru_cell(F.linear(x, self.weight_ih, self.bias_ih), h, None, self.weight_hh, self.bias_hh, None)
        return out if batched else out.squeeze(0)
