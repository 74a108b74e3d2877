"""Connectionist temporal classification: the negative log likelihood of each target under all
alignments of the input, by the forward-backward recursions in log space.

The recursions run over time steps; each step is vectorised over the batch and the extended
targets (blank, l1, blank, l2, ..., blank). The gradient is PyTorch's: with respect to the
log-probabilities as if they came from log_softmax (softmax - posterior occupancy), which is
what a log_softmax in front turns into the exact gradient of its logits.
"""

import numpy as np

from glassgrad.autograd.function import Function

_NEG = -np.inf


def _lse(*terms):
    out = terms[0]
    for t in terms[1:]:
        out = np.logaddexp(out, t)
    return out


class CTCLoss(Function):
    """log_probs (T, N, C); labels (N, S) int (padded); input_lengths, target_lengths (N,) int.
    Output: the per-sample negative log likelihood (N,)."""

    def forward(self, lp, labels, input_lengths, target_lengths, blank=0, zero_infinity=False):
        steps, n, classes = lp.shape
        s_max = labels.shape[1]
        width = 2 * s_max + 1
        ext = np.full((n, width), blank, dtype=np.int64)
        ext[:, 1::2] = labels
        ext_len = 2 * target_lengths + 1
        valid = np.arange(width)[None, :] < ext_len[:, None]
        # A label may skip the blank before it unless it repeats the label two places back.
        skip = np.zeros((n, width), dtype=bool)
        skip[:, 2:] = (ext[:, 2:] != blank) & (ext[:, 2:] != ext[:, :-2])
        rows = np.arange(n)[:, None]
        emit = lp[:, rows, ext]  # (T, N, width): log-probability of each extended label at each step

        alpha = np.full((steps, n, width), _NEG, dtype=lp.dtype)
        alpha[0, :, 0] = emit[0, :, 0]
        alpha[0, :, 1] = np.where(target_lengths > 0, emit[0, :, 1], _NEG)
        alpha[0] = np.where(valid, alpha[0], _NEG)
        for t in range(1, steps):
            prev = alpha[t - 1]
            one = np.full_like(prev, _NEG)
            one[:, 1:] = prev[:, :-1]
            two = np.full_like(prev, _NEG)
            two[:, 2:] = np.where(skip[:, 2:], prev[:, :-2], _NEG)
            alpha[t] = np.where(valid, _lse(prev, one, two) + emit[t], _NEG)

        last = input_lengths - 1
        end = alpha[last, np.arange(n)]  # (N, width) at each sample's last step
        final = _lse(
            end[np.arange(n), ext_len - 1],
            np.where(ext_len >= 2, end[np.arange(n), np.maximum(ext_len - 2, 0)], _NEG),
        )
        nll = -final
        self.infinite = np.isinf(nll)
        if zero_infinity:
            nll = np.where(self.infinite, 0.0, nll)
        self.zero_infinity = zero_infinity
        if self.needs_input_grad[0]:
            self.save_for_backward(lp)
            self.state = (alpha, emit, ext, ext_len, valid, skip, input_lengths, -final)
        return nll.astype(lp.dtype)

    def backward(self, grad):
        (lp,) = self.saved_tensors
        alpha, emit, ext, ext_len, valid, skip, input_lengths, nll = self.state
        steps, n, classes = lp.shape
        width = ext.shape[1]
        samples = np.arange(n)
        beta = np.full((steps, n, width), _NEG, dtype=lp.dtype)
        after = np.full((n, width), _NEG, dtype=lp.dtype)  # beta at t + 1
        skip_next = np.zeros_like(skip)
        skip_next[:, :-2] = skip[:, 2:]  # from s one may jump to s + 2 where s + 2 may skip back
        for t in range(steps - 1, -1, -1):
            one = np.full_like(after, _NEG)
            one[:, :-1] = after[:, 1:]
            two = np.full_like(after, _NEG)
            two[:, :-2] = np.where(skip_next[:, :-2], after[:, 2:], _NEG)
            here = _lse(after, one, two) + emit[t]
            start = input_lengths - 1 == t  # samples whose last step is t start their recursion here
            init = np.full((n, width), _NEG, dtype=lp.dtype)
            init[samples, ext_len - 1] = emit[t, samples, ext_len - 1]
            second = np.maximum(ext_len - 2, 0)
            init[samples, second] = np.where(ext_len >= 2, emit[t, samples, second], init[samples, second])
            here = np.where(start[:, None], init, here)
            here = np.where((t <= input_lengths - 1)[:, None] & valid, here, _NEG)
            beta[t] = here
            after = here

        # log of the summed occupancy of each class at each step: alpha*beta counts emit twice.
        occupancy = np.full((steps, n, classes), _NEG, dtype=lp.dtype)
        t_idx = np.broadcast_to(np.arange(steps)[:, None, None], alpha.shape)
        n_idx = np.broadcast_to(samples[None, :, None], alpha.shape)
        c_idx = np.broadcast_to(ext[None, :, :], alpha.shape)
        np.logaddexp.at(occupancy, (t_idx, n_idx, c_idx), alpha + beta)
        with np.errstate(invalid="ignore", over="ignore"):
            g = np.exp(lp) - np.exp(occupancy + nll[None, :, None] - lp)
        active = (np.arange(steps)[:, None] < input_lengths[None, :])[..., None]
        g = np.where(active, g, 0.0)
        if self.zero_infinity:
            g = np.where(self.infinite[None, :, None], 0.0, g)
        return (g * grad[None, :, None]).astype(lp.dtype), None, None, None
