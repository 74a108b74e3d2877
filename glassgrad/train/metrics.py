"""Counting what a classifier gets right: top-k hits, confusion matrices, running sums over an epoch."""

import numpy as np


def topk_correct(logits, targets, ks=(1, 5)):
    """Number of rows whose target is among the ``k`` largest logits, for each ``k`` in ``ks``.

    ``logits``: (N, C) array; ``targets``: (N,) integer array. ``k`` larger than C counts every row.
    Ties are broken as ``argsort`` breaks them (stable, lower index first after negation).
    """
    logits = np.asarray(logits)
    targets = np.asarray(targets).reshape(-1)
    k_max = min(max(ks), logits.shape[1])
    # argpartition finds the k largest without sorting all C columns.
    if k_max < logits.shape[1]:
        top = np.argpartition(-logits, k_max - 1, axis=1)[:, :k_max]
        order = np.take_along_axis(logits, top, axis=1).argsort(axis=1, kind="stable")[:, ::-1]
        top = np.take_along_axis(top, order, axis=1)
    else:
        top = np.argsort(-logits, axis=1, kind="stable")
    hits = top == targets[:, None]
    return [int(hits[:, : min(k, logits.shape[1])].any(axis=1).sum()) for k in ks]


def confusion_matrix(predictions, targets, num_classes):
    """(num_classes, num_classes) counts: row = true class, column = predicted class."""
    predictions = np.asarray(predictions, dtype=np.int64).reshape(-1)
    targets = np.asarray(targets, dtype=np.int64).reshape(-1)
    flat = np.bincount(targets * num_classes + predictions, minlength=num_classes * num_classes)
    return flat[: num_classes * num_classes].reshape(num_classes, num_classes)


class RunningMetrics:
    """Sums over the batches of an epoch: loss (weighted by batch size), top-1 and top-5 hits, images."""

    def __init__(self):
        self.loss_sum = 0.0
        self.top1 = 0
        self.top5 = 0
        self.count = 0

    def update(self, loss, batch_size, top1, top5):
        self.loss_sum += float(loss) * batch_size
        self.top1 += top1
        self.top5 += top5
        self.count += batch_size

    def result(self):
        n = max(self.count, 1)
        return {"loss": self.loss_sum / n, "top1": self.top1 / n, "top5": self.top5 / n, "images": self.count}

    def state_dict(self):
        return {"loss_sum": self.loss_sum, "top1": self.top1, "top5": self.top5, "count": self.count}

    def load_state_dict(self, state):
        self.loss_sum = float(state["loss_sum"])
        self.top1 = int(state["top1"])
        self.top5 = int(state["top5"])
        self.count = int(state["count"])


def precision_recall(confusion):
    """Per class (rows of ``confusion`` are true classes): precision, recall and support.

    Returns three arrays of length C; a class never predicted has precision NaN, one never present
    has recall NaN (there is nothing to divide by, and 0 would read as "always wrong").
    """
    confusion = np.asarray(confusion, dtype=np.float64)
    hits = np.diag(confusion)
    predicted = confusion.sum(axis=0)
    support = confusion.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(predicted > 0, hits / predicted, np.nan)
        recall = np.where(support > 0, hits / support, np.nan)
    return precision, recall, support.astype(np.int64)


class PredictionGallery:
    """Test images kept for the report while evaluation runs: the first ``samples`` images, and the
    ``mistakes`` wrong predictions made with the highest confidence (softmax probability).

    Only those images are copied (a bounded amount of memory, whatever the test set's size).
    """

    def __init__(self, samples=32, mistakes=16):
        self.samples, self.mistakes = int(samples), int(mistakes)
        self.first = []  # (image, predicted, true, confidence)
        self.worst = []
        self.seen = 0

    def add(self, images, logits, targets):
        """One batch: ``images`` (N, C, H, W) or (N, ...) array, ``logits`` (N, K), ``targets`` (N,)."""
        logits = np.asarray(logits, dtype=np.float64)
        shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
        probabilities = shifted / shifted.sum(axis=1, keepdims=True)
        predicted = probabilities.argmax(axis=1)
        confidence = probabilities[np.arange(len(predicted)), predicted]
        targets = np.asarray(targets).reshape(-1)
        take = max(0, self.samples - len(self.first))
        for i in range(min(take, len(targets))):
            self.first.append((np.array(images[i]), int(predicted[i]), int(targets[i]), float(confidence[i])))
        wrong = np.flatnonzero(predicted != targets)
        if wrong.size and self.mistakes:
            # Only candidates that could enter the top list are copied.
            order = wrong[np.argsort(-confidence[wrong], kind="stable")][: self.mistakes]
            floor = self.worst[-1][3] if len(self.worst) >= self.mistakes else -1.0
            for i in order:
                if confidence[i] <= floor:
                    break
                self.worst.append((np.array(images[i]), int(predicted[i]), int(targets[i]), float(confidence[i])))
            self.worst.sort(key=lambda item: -item[3])
            del self.worst[self.mistakes :]
        self.seen += len(targets)
