"""Loss functions, each one Function with a fused, numerically stable backward.

Cross entropy works from log-softmax (never the log of a softmax that underflowed),
binary cross entropy with logits from log-sigmoid; their gradients are the familiar
``softmax - target`` and ``sigmoid - target``, finite for logits of any size.
``reduction`` is 'mean', 'sum' or 'none' throughout, as in PyTorch.
"""

import numpy as np

from glassgrad.autograd.function import Function

REDUCTIONS = ("mean", "sum", "none")


def check_reduction(reduction, op):
    if reduction not in REDUCTIONS:
        raise ValueError(f"{op}: reduction={reduction!r} is not valid; use 'mean', 'sum' or 'none'")


def _reduce(loss, reduction):
    if reduction == "mean":
        return loss.mean(dtype=loss.dtype) if loss.size else np.array(np.nan, dtype=loss.dtype)
    if reduction == "sum":
        return loss.sum(dtype=loss.dtype)
    return loss


def _reduced_grad(grad, shape, reduction):
    """d(reduced loss)/d(elementwise loss), broadcast to the elementwise shape."""
    if reduction == "none":
        return grad
    if reduction == "mean":
        return np.broadcast_to(grad / max(int(np.prod(shape)), 1), shape)
    return np.broadcast_to(grad, shape)


def _log_softmax(x, axis):
    shifted = x - np.max(x, axis=axis, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


def _classes_last(x):
    """(N, C, d1, ...) -> (N * d1 * ..., C); (C,) -> (1, C)."""
    if x.ndim == 1:
        return x.reshape(1, -1)
    return np.moveaxis(x, 1, -1).reshape(-1, x.shape[1])


def _classes_back(flat, shape):
    """Undo ``_classes_last`` for an array of the input's shape."""
    if len(shape) == 1:
        return flat.reshape(shape)
    moved = (shape[0],) + tuple(shape[2:]) + (shape[1],)
    return np.moveaxis(flat.reshape(moved), -1, 1)


def _check_targets(target, n_classes, ignore_index, op):
    valid = target != ignore_index
    bad = valid & ((target < 0) | (target >= n_classes))
    if bad.any():
        raise IndexError(
            f"{op}: Target {int(target[bad][0])} is out of bounds: the input has {n_classes} classes, so class "
            f"indices must be in [0, {n_classes - 1}] (or equal ignore_index={ignore_index})"
        )
    return valid


class NLLFromLogProbs(Function):
    """Negative log likelihood (and cross entropy) with class-index targets.

    input: (N, C) or (N, C, d1, ...) or (C,); target: (N) or (N, d1, ...) or () of
    class indices; weight: (C) or None. With ``logits=True`` the input is logits and
    log-softmax over dimension 1 is taken first (cross entropy, with label smoothing).
    Output: a scalar, or the target's shape for reduction='none'.
    """

    def forward(self, x, target, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0, logits=True):
        op = "cross_entropy" if logits else "nll_loss"
        n_classes = x.shape[1] if x.ndim > 1 else x.shape[0]
        flat = _classes_last(x)
        t = target.reshape(-1).astype(np.int64, copy=False)
        expected = (x.shape[:1] + x.shape[2:]) if x.ndim > 1 else ()
        if target.shape != expected:
            raise ValueError(
                f"{op}: expected a target of shape {expected} (one class index per sample) for an input of "
                f"shape {x.shape}, got target shape {target.shape}"
                + (
                    "; squeeze the extra dimension (target.squeeze(1))"
                    if target.size == t.size == flat.shape[0]
                    else ""
                )
            )
        valid = _check_targets(t, n_classes, ignore_index, op)
        logp = _log_softmax(flat, 1) if logits else flat
        w = np.ones(n_classes, dtype=x.dtype) if weight is None else weight.astype(x.dtype, copy=False)
        safe_t = np.where(valid, t, 0)
        w_t = np.where(valid, w[safe_t], 0).astype(x.dtype, copy=False)
        picked = np.take_along_axis(logp, safe_t[:, None], axis=1)[:, 0]
        eps = label_smoothing
        loss = -(1 - eps) * w_t * picked
        if eps > 0:
            smooth = -(logp * w).sum(axis=1)
            loss = loss + (eps / n_classes) * np.where(valid, smooth, 0)
        loss = loss.astype(x.dtype, copy=False)
        if reduction == "mean":
            # A weighted mean: divided by the weights of the targets, as PyTorch does
            # (with no weight, the number of targets that are not ignored).
            self.denominator = w_t.sum(dtype=x.dtype)
            with np.errstate(invalid="ignore", divide="ignore"):
                out = loss.sum(dtype=x.dtype) / self.denominator  # NaN when every target is ignored
        elif reduction == "sum":
            out = loss.sum(dtype=x.dtype)
        else:
            out = loss.reshape(target.shape)
        self.shape, self.n_classes, self.reduction, self.eps, self.logits = x.shape, n_classes, reduction, eps, logits
        self.save_for_backward(logp, safe_t, w_t, w, valid)
        return np.asarray(out, dtype=x.dtype)

    def backward(self, grad):
        logp, t, w_t, w, valid = self.saved_tensors
        if self.reduction == "none":
            g = grad.reshape(-1)
        elif self.reduction == "mean":
            # Every target ignored: the loss is NaN but, as in PyTorch, the gradient is zero.
            scale = grad / self.denominator if self.denominator != 0 else 0
            g = np.full(logp.shape[0], scale, dtype=logp.dtype)
        else:
            g = np.full(logp.shape[0], grad, dtype=logp.dtype)
        g = np.where(valid, g, 0)
        # The loss of row i is -sum_c q_ic logp_ic with q_i = (1 - eps) w_t onehot + eps/C w.
        q = np.zeros_like(logp)
        rows = np.arange(logp.shape[0])
        q[rows, t] = (1 - self.eps) * w_t
        if self.eps > 0:
            q += (self.eps / self.n_classes) * w * valid[:, None]
        if self.logits:
            # d/dlogits of -sum q logsoftmax = softmax * sum(q) - q: bounded, even for logits of 1e3.
            grad_flat = (np.exp(logp) * q.sum(axis=1, keepdims=True) - q) * g[:, None]
        else:
            grad_flat = -q * g[:, None]
        return _classes_back(grad_flat.astype(logp.dtype, copy=False), self.shape), None, None


class CrossEntropyProbs(Function):
    """Cross entropy with class probabilities as targets (soft labels).

    input, target: (N, C, d1, ...) or (C,); weight (C) or None. 'mean' divides by the
    number of samples N * d1 * ..., whatever the weights (PyTorch's rule for this case).
    """

    def forward(self, x, target, weight=None, reduction="mean", label_smoothing=0.0):
        if x.shape != target.shape:
            raise ValueError(
                f"cross_entropy: probability targets must have the input's shape {x.shape}, got {target.shape}"
            )
        n_classes = x.shape[1] if x.ndim > 1 else x.shape[0]
        logp = _classes_last(x)
        logp = _log_softmax(logp, 1)
        q = _classes_last(target).astype(x.dtype, copy=False)
        if label_smoothing > 0:
            q = q * (1 - label_smoothing) + label_smoothing / n_classes
        if weight is not None:
            wq = q * weight.astype(x.dtype, copy=False)
        else:
            wq = q
        loss = -(logp * wq).sum(axis=1)
        self.count = loss.shape[0]
        if reduction == "mean":
            out = loss.sum(dtype=x.dtype) / x.dtype.type(self.count)
        elif reduction == "sum":
            out = loss.sum(dtype=x.dtype)
        else:
            out = loss.reshape(x.shape[:1] + x.shape[2:] if x.ndim > 1 else ())
        self.shape, self.reduction, self.smoothing = x.shape, reduction, label_smoothing
        self.save_for_backward(logp, wq, weight)
        return np.asarray(out, dtype=x.dtype)

    def backward(self, grad):
        logp, wq, weight = self.saved_tensors
        if self.reduction == "none":
            g = grad.reshape(-1, 1)
        else:
            g = np.asarray(grad / self.count if self.reduction == "mean" else grad, dtype=logp.dtype)
        grad_x = grad_t = None
        if self.needs_input_grad[0]:
            grad_x = _classes_back((np.exp(logp) * wq.sum(axis=1, keepdims=True) - wq) * g, self.shape)
        if self.needs_input_grad[1]:
            scale = (1 - self.smoothing) * (1 if weight is None else weight.astype(logp.dtype, copy=False))
            grad_t = _classes_back(-logp * scale * g, self.shape)
        return grad_x, grad_t, None


class MSELoss(Function):
    """mean/sum of (input - target)^2; input and target broadcast together."""

    def forward(self, x, target, reduction="mean"):
        diff = x - target
        self.reduction = reduction
        self.save_for_backward(diff)
        return np.asarray(_reduce(diff * diff, reduction))

    def backward(self, grad):
        (diff,) = self.saved_tensors
        g = 2 * diff * _reduced_grad(grad, diff.shape, self.reduction)
        return g, -g if self.needs_input_grad[1] else None


class L1Loss(Function):
    """mean/sum of |input - target|; the gradient at a tie is 0, as PyTorch's sign gives."""

    def forward(self, x, target, reduction="mean"):
        diff = x - target
        self.reduction = reduction
        self.save_for_backward(diff)
        return np.asarray(_reduce(np.abs(diff), reduction))

    def backward(self, grad):
        (diff,) = self.saved_tensors
        g = np.sign(diff) * _reduced_grad(grad, diff.shape, self.reduction)
        return g, -g if self.needs_input_grad[1] else None


class HuberLoss(Function):
    """0.5 d^2 where |d| < delta, delta (|d| - 0.5 delta) elsewhere; with ``beta`` set instead it is
    SmoothL1Loss: 0.5 d^2 / beta where |d| < beta, |d| - 0.5 beta elsewhere."""

    def forward(self, x, target, reduction="mean", delta=1.0, smooth_l1=False):
        diff = x - target
        ad = np.abs(diff)
        self.reduction, self.delta, self.smooth_l1 = reduction, delta, smooth_l1
        if smooth_l1:
            loss = np.where(ad < delta, 0.5 * diff * diff / delta, ad - 0.5 * delta) if delta > 0 else ad
        else:
            loss = np.where(ad < delta, 0.5 * diff * diff, delta * (ad - 0.5 * delta))
        self.save_for_backward(diff)
        return np.asarray(_reduce(loss.astype(x.dtype, copy=False), reduction))

    def backward(self, grad):
        (diff,) = self.saved_tensors
        d = self.delta
        inside = np.abs(diff) < d
        if self.smooth_l1:
            slope = np.where(inside, diff / d, np.sign(diff)) if d > 0 else np.sign(diff)
        else:
            slope = np.where(inside, diff, d * np.sign(diff))
        g = (slope * _reduced_grad(grad, diff.shape, self.reduction)).astype(diff.dtype, copy=False)
        return g, -g if self.needs_input_grad[1] else None


class BCELoss(Function):
    """-w (t log x + (1 - t) log(1 - x)) on probabilities x in [0, 1]; each log is clamped at
    -100 as PyTorch does, so x = 0 or 1 gives a finite loss."""

    def forward(self, x, target, weight=None, reduction="mean"):
        if np.any((x < 0) | (x > 1)):
            raise RuntimeError(
                "binary_cross_entropy: all elements of input should be between 0 and 1; "
                "pass probabilities (apply sigmoid), or use binary_cross_entropy_with_logits on the logits"
            )
        with np.errstate(divide="ignore"):
            log_x = np.maximum(np.log(x), -100)
            log_1mx = np.maximum(np.log1p(-x), -100)
        loss = -(target * log_x + (1 - target) * log_1mx)
        if weight is not None:
            loss = loss * weight
        self.reduction = reduction
        self.save_for_backward(x, target, weight, log_x, log_1mx)
        return np.asarray(_reduce(loss.astype(x.dtype, copy=False), reduction))

    def backward(self, grad):
        x, t, w, log_x, log_1mx = self.saved_tensors
        g = _reduced_grad(grad, np.broadcast_shapes(x.shape, np.shape(t)), self.reduction)
        if w is not None:
            g = g * w
        # PyTorch's form: (x - t) / max(x (1 - x), 1e-12), so saturated probabilities stay finite.
        grad_x = g * (x - t) / np.maximum((1 - x) * x, 1e-12) if self.needs_input_grad[0] else None
        grad_t = g * (log_1mx - log_x) if self.needs_input_grad[1] else None
        return grad_x, grad_t, None


class BCEWithLogits(Function):
    """(1 - t) x - (1 + (p - 1) t) log(sigmoid(x)), times ``weight``; ``pos_weight`` p weighs the
    positive term. log(sigmoid(x)) = -softplus(-x) keeps it finite for any logit."""

    def forward(self, x, target, weight=None, pos_weight=None, reduction="mean"):
        log_sig = -(np.maximum(-x, 0) + np.log1p(np.exp(-np.abs(x))))
        log_weight = 1 if pos_weight is None else 1 + (pos_weight - 1) * target
        loss = (1 - target) * x - log_weight * log_sig
        unweighted = loss
        if weight is not None:
            loss = loss * weight
        self.reduction = reduction
        self.save_for_backward(x, target, weight, pos_weight, log_sig, unweighted)
        return np.asarray(_reduce(loss.astype(x.dtype, copy=False), reduction))

    def backward(self, grad):
        x, t, w, pw, log_sig, unweighted = self.saved_tensors
        shape = np.broadcast_shapes(*(np.shape(a) for a in (x, t, w, pw) if a is not None))
        g = _reduced_grad(grad, shape, self.reduction)
        gw = g if w is None else g * w
        sig = np.exp(log_sig)
        log_weight = 1 if pw is None else 1 + (pw - 1) * t
        grad_x = gw * ((1 - t) - log_weight * (1 - sig)) if self.needs_input_grad[0] else None
        grad_t = None
        if self.needs_input_grad[1]:
            grad_t = gw * (-x - (0 if pw is None else (pw - 1) * log_sig))
        grad_w = g * unweighted if self.needs_input_grad[2] else None
        grad_pw = gw * (-t * log_sig) if self.needs_input_grad[3] else None
        return grad_x, grad_t, grad_w, grad_pw


class KLDivLoss(Function):
    """target * (log target - input) with log-probabilities as input; ``log_target`` when the
    target is given as log-probabilities too. 'batchmean' divides the sum by the batch size."""

    def forward(self, x, target, reduction="mean", log_target=False):
        if log_target:
            loss = np.exp(target) * (target - x)
        else:
            safe = np.where(target > 0, target, 1)
            loss = np.where(target > 0, target * (np.log(safe) - x), 0)
        self.reduction, self.log_target = reduction, log_target
        self.save_for_backward(x, target)
        loss = loss.astype(x.dtype, copy=False)
        if reduction == "batchmean":
            return np.asarray(loss.sum() / (x.shape[0] if x.ndim else 1), dtype=x.dtype)
        return np.asarray(_reduce(loss, reduction))

    def backward(self, grad):
        x, t = self.saved_tensors
        shape = np.broadcast_shapes(x.shape, t.shape)
        if self.reduction == "batchmean":
            g = np.broadcast_to(grad / (x.shape[0] if x.ndim else 1), shape)
        else:
            g = _reduced_grad(grad, shape, self.reduction)
        p = np.exp(t) if self.log_target else t
        grad_x = -p * g if self.needs_input_grad[0] else None
        grad_t = None
        if self.needs_input_grad[1]:
            if self.log_target:
                grad_t = g * p * (t - x + 1)
            else:
                grad_t = g * np.where(t > 0, np.log(np.where(t > 0, t, 1)) + 1 - x, 0)
        return grad_x, grad_t
