"""The training doctor: watches activations and gradients while a network trains and says, in plain
words, why it does not learn.

    doctor = glassgrad.doctor.Doctor().attach(model)
    for step, (x, y) in enumerate(loader):
        optimizer.zero_grad()
        loss = criterion(model(x), y)
        loss.backward()
        doctor.observe(step, loss, optimizer)   # after backward, before optimizer.step()
        optimizer.step()
    for finding in doctor.report():
        print(finding)

What it looks at:
  * forward hooks on every leaf module: the share of saturated sigmoid/tanh units, of dead ReLUs,
    and the first layer (and op inside it) whose output holds NaN or Inf;
  * tensor hooks on each layer's output: the gradient flowing back into it, and the first layer
    where that gradient stops being finite;
  * at ``observe``: the loss, each layer's weight-gradient norm (vanishing: first against last
    layer; exploding: growing over the steps), and the update-to-weight ratio
    ||W_after - W_before|| / ||W|| of the step just taken.

It can also be handed to ``Trainer(callbacks=[doctor])``: it attaches itself at the start of ``fit``.
"""

import math
from dataclasses import dataclass

import numpy as np

from glassgrad.autograd import grad_mode
from glassgrad.tensor import Tensor
from glassgrad.train.trainer import Callback

# Thresholds, chosen so the seed's sigmoid CNN is diagnosed and its ReLU/He/BN/momentum fix is not.
VANISHING_RATIO = 1e-2  # first layer's weight-gradient norm / last layer's, per weight
SATURATED_SHARE = 0.5  # share of a layer's sigmoid/tanh outputs within 0.01 of their limits
DEAD_SHARE = 0.5  # share of a layer's ReLU units that were zero for every sample of the batch
UPDATE_TOO_LARGE = 1e-1  # ||dW|| / ||W|| of the fastest-moving layer
UPDATE_TOO_SMALL = 1e-5
STUCK_TOLERANCE = 0.03  # relative distance of the recent loss from ln(num_classes)
MIN_STEPS = 10  # judge trends only after this many observed steps

_SATURATING = {"Sigmoid": (0.0, 1.0), "Tanh": (-1.0, 1.0), "Hardtanh": (-1.0, 1.0)}
_RELU = {"ReLU", "ReLU6", "LeakyReLU"}

FIXES = (
    "replace sigmoid by ReLU (nn.ReLU), whose slope is 1 where it is active instead of at most 0.25; "
    "initialise weights with He (nn.init.kaiming_normal_(w, nonlinearity='relu')); "
    "add batch norm after each convolution (nn.BatchNorm2d) to keep activations centred; "
    "train with momentum (optim.SGD(..., momentum=0.9)) or Adam, which carry small gradients further"
)


@dataclass
class Finding:
    """One diagnosis: ``kind`` (a short key), ``message`` (what is wrong) and ``advice`` (what to try)."""

    kind: str
    message: str
    advice: str = ""

    def __str__(self):
        return f"{self.message} Try: {self.advice}" if self.advice else self.message


class _Layer:
    """What the doctor keeps about one layer: its name, type and the numbers seen at each step."""

    def __init__(self, name, kind):
        self.name, self.kind = name, kind
        self.grad_norms, self.weight_norms, self.update_ratios = [], [], []
        self.output_grad_norms = []
        self.saturated, self.dead = [], []


class Doctor(Callback):
    """Watch a model train and report what goes wrong. See the module docstring for the loop.

    Args:
        num_classes: for the "loss stuck at ln(num_classes)" check; None reads it from the
            width of the model's output.
        every: look at activations and weights every ``every`` steps (the hooks cost a few reductions
            and a copy of the weights); the loss is recorded at every step.
    """

    def __init__(self, num_classes=None, every=1):
        self.num_classes = num_classes
        self.every = max(1, int(every))
        self.model = None
        self.handles = []
        self.layers = {}
        self.order = []  # parameterised layers in the order forward calls them
        self.losses, self.steps = [], []
        self.sampled_steps = []  # the steps whose per-layer numbers were recorded (every ``every``)
        self.nonfinite_forward = None
        self.nonfinite_backward = None
        self.nonfinite_loss = None
        self.lr = None
        self._watching = True
        self._snapshot = {}
        self._call_index = {}
        self._last_layer = None
        self._step = 0

    # -- attaching -----------------------------------------------------------------------------

    def attach(self, model):
        """Hook every leaf module of ``model``; returns the doctor."""
        if self.model is not None:
            self.detach()
        self.model = model
        self.handles.append(model.register_forward_pre_hook(self._on_forward_start))
        self.handles.append(model.register_forward_hook(self._on_model_output))
        for name, module in model.named_modules():
            if next(iter(module.children()), None) is not None:
                continue
            self.handles.append(module.register_forward_hook(self._make_forward_hook(name or type(module).__name__)))
        return self

    def detach(self):
        for handle in self.handles:
            handle.remove()
        self.handles = []

    def _on_forward_start(self, module, args):
        self._call_index = {}
        self._last_layer = None
        self._watching = grad_mode.is_grad_enabled() and module.training and self._step % self.every == 0

    def _on_model_output(self, module, args, output):
        if self.num_classes is None and isinstance(output, Tensor) and output.ndim == 2:
            self.num_classes = output.shape[-1]

    def _make_forward_hook(self, name):
        def hook(module, args, output):
            if not isinstance(output, Tensor):
                return None
            kind = type(module).__name__
            # Sampling (every > 1) also samples this check: it reads every activation.
            checking = self._watching or self.every == 1
            if checking and self.nonfinite_forward is None and output.array.dtype.kind == "f":
                inputs_finite = all(np.isfinite(a.array).all() for a in args if isinstance(a, Tensor))
                if inputs_finite and not np.isfinite(output.array).all():
                    self.nonfinite_forward = (self._step, name, kind, _first_nonfinite_op(module, args))
            if not self._watching:
                return None
            if kind in _SATURATING or kind in _RELU:
                count = self._call_index.get(name, 0)
                self._call_index[name] = count + 1
                label = f"{name} after {self._last_layer}" if self._last_layer else name
                layer = self.layers.setdefault(label, _Layer(label, kind))
                if kind in _SATURATING:
                    low, high = _SATURATING[kind]
                    y = output.array
                    layer.saturated.append(float(((y < low + 0.01) | (y > high - 0.01)).mean()))
                else:
                    layer.dead.append(_dead_share(output.array))
                return None
            weight = getattr(module, "weight", None)
            if weight is None or not isinstance(weight, Tensor) or weight.ndim < 2:
                return None
            if name not in self.layers:
                self.layers[name] = _Layer(name, kind)
                self.order.append(name)
            self._last_layer = name
            if output.requires_grad:
                output.register_hook(self._make_grad_hook(name, kind))
            return None

        return hook

    def _make_grad_hook(self, name, kind):
        def hook(grad):
            g = grad.array
            if self.nonfinite_backward is None and not np.isfinite(g).all():
                self.nonfinite_backward = (self._step, name, kind)
            self.layers[name].output_grad_norms.append(float(np.linalg.norm(g)))
            return None

        return hook

    # -- observing -----------------------------------------------------------------------------

    def observe(self, step, loss, optimizer=None):
        """Record one training step: call after ``loss.backward()``, before ``optimizer.step()``."""
        if self.model is None:
            raise RuntimeError("Doctor.observe: attach the doctor first: doctor.attach(model)")
        value = float(loss.item() if isinstance(loss, Tensor) else loss)
        self.steps.append(step)
        self.losses.append(value)
        if self.nonfinite_loss is None and not math.isfinite(value):
            self.nonfinite_loss = step
        if optimizer is not None and getattr(optimizer, "param_groups", None):
            self.lr = optimizer.param_groups[0].get("lr")
        modules = dict(self.model.named_modules())
        sampled = self._step % self.every == 0
        for name in self.order:
            weight = modules[name].weight
            w = weight.array
            layer = self.layers[name]
            # The weights of the previous step, if it was sampled: their change is that step's update.
            before = self._snapshot.pop(name, None)
            if before is not None:
                layer.update_ratios.append(float(np.linalg.norm(w - before)) / max(float(np.linalg.norm(w)), 1e-12))
            if not sampled:
                continue
            layer.weight_norms.append(float(np.linalg.norm(w)))
            layer.grad_norms.append(float(np.linalg.norm(weight.grad.array)) if weight.grad is not None else 0.0)
            self._snapshot[name] = w.copy()
        if sampled:
            self.sampled_steps.append(step)
        self._step += 1

    # Trainer callback: the doctor attaches itself and observes every step.
    def on_fit_start(self, trainer):
        if self.model is not trainer.model:
            self.attach(trainer.model)

    def on_after_backward(self, trainer, step, loss):
        self.observe(step, loss, trainer.optimizer)

    # -- judging -------------------------------------------------------------------------------

    def gradient_ratio(self):
        """Median over steps of (first layer's weight-gradient RMS) / (last layer's)."""
        if len(self.order) < 2:
            return None
        first, last = self.layers[self.order[0]], self.layers[self.order[-1]]
        modules = dict(self.model.named_modules())
        size_first = modules[first.name].weight.array.size
        size_last = modules[last.name].weight.array.size
        ratios = [
            (a / math.sqrt(size_first)) / (b / math.sqrt(size_last))
            for a, b in zip(first.grad_norms, last.grad_norms)
            if b > 0 and math.isfinite(a) and math.isfinite(b)
        ]
        return float(np.median(ratios)) if ratios else None

    def report(self):
        """The findings, most serious first; an empty list means nothing looked wrong."""
        findings = []
        findings += self._nonfinite()
        if not self.losses:
            return findings
        ratio = self.gradient_ratio()
        if ratio is not None and ratio < VANISHING_RATIO:
            first, last = self.order[0], self.order[-1]
            findings.append(
                Finding(
                    "vanishing-gradients",
                    f"Vanishing gradients: per weight, the first layer ({first}) gets {ratio:.1e} times the gradient "
                    f"of the last layer ({last}); the early layers barely learn. Each sigmoid scales the gradient "
                    "by at most 0.25 on its way back, and small random weights shrink it further.",
                    FIXES,
                )
            )
        for layer in self.layers.values():
            if layer.saturated and np.median(layer.saturated) > SATURATED_SHARE:
                findings.append(
                    Finding(
                        "saturated-units",
                        f"Saturated units: {np.median(layer.saturated):.0%} of the outputs of {layer.name} ({layer.kind}) "
                        "sit at its limits, where its slope is almost 0, so no gradient passes.",
                        "smaller initial weights or inputs normalised to mean 0 and std 1, batch norm before the "
                        "activation, or ReLU",
                    )
                )
            if layer.dead and len(layer.dead) >= 2 and np.median(layer.dead[-MIN_STEPS:]) > DEAD_SHARE:
                findings.append(
                    Finding(
                        "dead-relus",
                        f"Dead ReLUs: {np.median(layer.dead[-MIN_STEPS:]):.0%} of the units of {layer.name} output 0 "
                        "for every sample of a batch; they get no gradient and cannot recover.",
                        "a smaller learning rate, He initialisation, LeakyReLU, or batch norm before the ReLU",
                    )
                )
        findings += self._exploding_gradients()
        findings += self._learning_rate()
        stuck = self._stuck()
        if stuck:
            findings.append(stuck)
        return findings

    def _nonfinite(self):
        findings = []
        if self.nonfinite_forward:
            step, name, kind, op = self.nonfinite_forward
            where = f", first in its {op} op" if op else ""
            findings.append(
                Finding(
                    "nonfinite-forward",
                    f"NaN/Inf values first appear at step {step} in the output of {name} ({kind}){where}, "
                    "while its inputs were finite.",
                    "a smaller learning rate, gradient clipping (nn.utils.clip_grad_norm_), and checking for "
                    "log(0), division by 0 or exp overflow in that layer",
                )
            )
        if self.nonfinite_backward:
            step, name, kind = self.nonfinite_backward
            findings.append(
                Finding(
                    "nonfinite-backward",
                    f"NaN/Inf gradients first appear at step {step} flowing back into the output of {name} ({kind}).",
                    "a smaller learning rate or gradient clipping (nn.utils.clip_grad_norm_)",
                )
            )
        if self.nonfinite_loss is not None and not self.nonfinite_forward:
            findings.append(
                Finding(
                    "nonfinite-loss",
                    f"The loss became NaN/Inf at step {self.nonfinite_loss}.",
                    "a smaller learning rate, and a numerically stable loss (CrossEntropyLoss on logits)",
                )
            )
        elif self.losses and len(self.losses) >= MIN_STEPS and math.isfinite(self.losses[-1]):
            start = np.median(self.losses[:3])
            if self.losses[-1] > 10 * max(start, 1e-8) and self.losses[-1] > start + 1:
                findings.append(
                    Finding(
                        "exploding-loss",
                        f"Exploding loss: it grew from {start:.3g} to {self.losses[-1]:.3g}.",
                        "a smaller learning rate or gradient clipping",
                    )
                )
        return findings

    def _exploding_gradients(self):
        for name in self.order:
            norms = [n for n in self.layers[name].grad_norms if math.isfinite(n)]
            if len(norms) < MIN_STEPS:
                continue
            quarter = max(len(norms) // 4, 2)
            early, late = float(np.median(norms[:quarter])), float(np.median(norms[-quarter:]))
            if late > 100 * max(early, 1e-12) and late > 10:
                return [
                    Finding(
                        "exploding-gradients",
                        f"Exploding gradients: the gradient norm of {name} grew from {early:.3g} to {late:.3g}.",
                        "a smaller learning rate, gradient clipping (nn.utils.clip_grad_norm_), or batch norm",
                    )
                ]
        return []

    def _learning_rate(self):
        ratios = {name: self.layers[name].update_ratios for name in self.order if self.layers[name].update_ratios}
        if not ratios or len(next(iter(ratios.values()))) < 3:
            return []
        fastest = max(ratios, key=lambda n: np.median(ratios[n]))
        value = float(np.median(ratios[fastest]))
        lr = f" (lr {self.lr:g})" if self.lr is not None else ""
        if value > UPDATE_TOO_LARGE:
            return [
                Finding(
                    "lr-too-large",
                    f"Learning rate too large{lr}: each step changes the weights of {fastest} by {value:.1%} of "
                    "their size (about 0.1% is healthy).",
                    "divide the learning rate by 10, or add a warm-up",
                )
            ]
        if value < UPDATE_TOO_SMALL:
            return [
                Finding(
                    "lr-too-small",
                    f"Learning rate too small{lr}: even the fastest-moving layer ({fastest}) changes by only "
                    f"{value:.1e} of its size per step (about 1e-3 is healthy).",
                    "multiply the learning rate by 10, or use Adam",
                )
            ]
        return []

    def _stuck(self):
        if not self.num_classes or self.num_classes < 2 or len(self.losses) < MIN_STEPS:
            return None
        chance = math.log(self.num_classes)
        recent = float(np.mean(self.losses[-max(MIN_STEPS // 2, len(self.losses) // 4) :]))
        if abs(recent - chance) <= STUCK_TOLERANCE * chance:
            return Finding(
                "loss-stuck",
                f"Loss stuck at ln({self.num_classes}) = {chance:.3f} (recent mean {recent:.3f}): the network "
                "predicts the same probability for every class, as if guessing.",
                "look at the other findings; if there are none, check the labels and a larger learning rate",
            )
        return None

    # -- drawing -------------------------------------------------------------------------------

    def plot(self, path):
        """Write a figure of each layer's weight-gradient norm over the steps (log scale)."""
        from glassgrad.viz import plots

        fig = plots.figure(7.5, 4.5)
        ax = fig.add_subplot()
        for name in self.order:
            norms = np.array(self.layers[name].grad_norms)
            ax.semilogy(self.sampled_steps[: len(norms)], np.where(norms > 0, norms, np.nan), label=name)
        ax.set_xlabel("step")
        ax.set_ylabel("||dL/dW|| per layer")
        ax.set_title("Gradient norms per layer (first layer at the bottom means vanishing gradients)")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8)
        return plots.save(fig, path)


def _dead_share(y):
    """Share of units (channels of a conv map, features of a linear layer) zero for every sample."""
    if y.ndim < 2:
        return float((y <= 0).all())
    alive = (y > 0).any(axis=0)
    if y.ndim > 2:  # a channel is alive if any position of any sample is
        alive = alive.reshape(alive.shape[0], -1).any(axis=1)
    return float(1.0 - alive.mean())


def _first_nonfinite_op(module, args):
    """Re-run ``module`` recording each op, and name the first whose output is not finite."""
    from glassgrad.viz.graph import trace

    try:
        with grad_mode.enable_grad(), trace() as recorded:
            module.forward(*args)
    except Exception:  # a diagnosis must not crash the training it watches
        return None
    for fn, value in recorded.values.items():
        if isinstance(value, np.ndarray) and value.dtype.kind == "f" and not np.isfinite(value).all():
            return fn.name
    return None
