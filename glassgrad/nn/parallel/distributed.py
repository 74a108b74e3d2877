"""DistributedDataParallel: one model replica per process, gradients averaged across processes.

Gradients are gathered into flat buckets (about ``bucket_cap_mb`` each, parameters in reverse
order, which is roughly the order backward produces them). A hook on each parameter fires once
its gradient is accumulated; when every gradient of a bucket is in, that bucket's all-reduce
starts asynchronously, so communication runs while backward computes the earlier layers. A
callback queued on the autograd engine waits for the last buckets when backward ends and writes
the averages back into ``.grad``.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Any

import numpy as np

from glassgrad import distributed as dist
from glassgrad.autograd import engine, grad_mode
from glassgrad.nn.module import Module
from glassgrad.tensor import Tensor

__all__ = ["DistributedDataParallel"]


class _Bucket:
    """A flat buffer holding the gradients of some parameters of one dtype, reduced as one message."""

    def __init__(self, params, dtype):
        self.params = params
        self.offsets = []
        n = 0
        for p in params:
            self.offsets.append(n)
            n += p.array.size
        self.buffer = np.zeros(n, dtype=dtype)
        self.pending = len(params)
        self.ready = [False] * len(params)
        self.work = None

    def view(self, i):
        p = self.params[i]
        return self.buffer[self.offsets[i] : self.offsets[i] + p.array.size].reshape(p.array.shape)

    @property
    def nbytes(self):
        return self.buffer.nbytes


class DistributedDataParallel(Module):
    """Wrap ``module`` so that backward leaves in ``.grad`` the gradient averaged over all processes.

    At construction rank 0's parameters and buffers are broadcast to every process. Every rank
    must run the same model on its own share of the batch; ``no_sync()`` skips the averaging
    (gradients accumulate locally until the next synchronised backward). ``find_unused_parameters``
    lets parameters that receive no gradient in an iteration count as ready (with zeros).
    """

    def __init__(
        self,
        module: Module,
        device_ids: Any = None,
        output_device: Any = None,
        dim: int = 0,
        broadcast_buffers: bool = True,
        process_group: Any = None,
        bucket_cap_mb: int = 25,
        find_unused_parameters: bool = False,
        check_reduction: bool = False,
        gradient_as_bucket_view: bool = False,
        static_graph: bool = False,
    ) -> None:
        super().__init__()
        if not dist.is_initialized():
            raise RuntimeError(
                "DistributedDataParallel needs the default process group; call "
                "glassgrad.distributed.init_process_group() first"
            )
        if not any(p.requires_grad for p in module.parameters()):
            raise RuntimeError(
                "DistributedDataParallel is not needed when a module doesn't have any parameter that requires a gradient"
            )
        self.module = module
        self.process_group = process_group
        self.broadcast_buffers = broadcast_buffers
        self.find_unused_parameters = find_unused_parameters
        self.bucket_cap_mb = bucket_cap_mb
        self.dim = dim
        self.require_backward_grad_sync = True
        self.world_size = dist.get_world_size(process_group)
        self._params = [p for p in module.parameters() if p.requires_grad]
        with grad_mode.no_grad():
            for t in list(module.parameters()) + list(module.buffers()):
                dist.broadcast(t, 0, group=process_group)
        # As PyTorch: the first bucket (the last layers, whose gradients come first) is capped at 1 MB
        # so that communication starts early in backward; the others at bucket_cap_mb.
        cap = int(bucket_cap_mb * 1024 * 1024)
        self._build_buckets(min(cap, 1024 * 1024), cap)
        self._armed = False
        self._launched = 0
        # Figures of the last synchronised backward, for benchmarks and tests: seconds waited at its
        # end, and for each bucket how many gradients had arrived when its all-reduce started.
        self.last_wait_s = 0.0
        self.launch_points: list[int] = []
        for b, bucket in enumerate(self._buckets):
            for i, p in enumerate(bucket.params):
                p.register_post_accumulate_grad_hook(self._make_hook(b, i))

    def _build_buckets(self, first_cap, cap):
        self._buckets = []
        current, size, dtype = [], 0, None
        for p in reversed(self._params):
            limit = first_cap if not self._buckets else cap
            if current and (size + p.array.nbytes > limit or p.array.dtype != dtype):
                self._buckets.append(_Bucket(current, dtype))
                current, size = [], 0
            current.append(p)
            size += p.array.nbytes
            dtype = p.array.dtype
        if current:
            self._buckets.append(_Bucket(current, dtype))

    # -- forward -----------------------------------------------------------------------

    def forward(self, *inputs: Any, **kwargs: Any) -> Any:
        if self.broadcast_buffers and self.world_size > 1:
            with grad_mode.no_grad():
                for buf in self.module.buffers():
                    dist.broadcast(buf, 0, group=self.process_group)
        if grad_mode.is_grad_enabled() and self.require_backward_grad_sync:
            self._arm()
        else:
            self._armed = False
        return self.module(*inputs, **kwargs)

    def _arm(self):
        for bucket in self._buckets:
            bucket.pending = len(bucket.params)
            bucket.ready = [False] * len(bucket.params)
            bucket.work = None
        self._launched = 0
        self._queued = False
        self._arrived = 0
        self.launch_points = []
        self._armed = True

    @contextmanager
    def no_sync(self):
        """Inside this block backward accumulates gradients locally, with no communication."""
        old = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = old

    # -- backward ----------------------------------------------------------------------

    def _make_hook(self, b, i):
        def hook(param):
            if not self._armed:
                return
            if not self._queued:
                self._queued = True
                engine.queue_callback(self._finish)
            bucket = self._buckets[b]
            if bucket.ready[i]:
                raise RuntimeError(
                    "DistributedDataParallel: a parameter received its gradient twice in one backward "
                    "(the module is reused, or backward ran twice through one forward); PyTorch's "
                    "static_graph=True case is not supported here"
                )
            bucket.view(i)[...] = param.grad.array
            bucket.ready[i] = True
            bucket.pending -= 1
            self._arrived += 1
            self._launch_ready()
            self._progress()

        return hook

    def _launch_ready(self):
        # Buckets start in index order on every rank: collectives must be issued in the same order.
        while self._launched < len(self._buckets) and self._buckets[self._launched].pending == 0:
            bucket = self._buckets[self._launched]
            bucket.work = dist.all_reduce(Tensor._wrap(bucket.buffer), group=self.process_group, async_op=True)
            self.launch_points.append(self._arrived)
            self._launched += 1

    def _progress(self):
        # Testing a request lets an MPI library without a progress thread move a message along.
        for bucket in self._buckets[: self._launched]:
            if bucket.work is not None:
                bucket.work.is_completed()

    def _finish(self):
        used = [list(bucket.ready) for bucket in self._buckets]
        if self._launched < len(self._buckets):
            if not self.find_unused_parameters:
                self._armed = False
                names = {id(p): n for n, p in self.module.named_parameters()}
                missing = [names[id(p)] for b in self._buckets for p, r in zip(b.params, b.ready) if not r]
                raise RuntimeError(
                    "DistributedDataParallel: some parameters received no gradient in this backward "
                    f"({', '.join(missing[:5])}{', ...' if len(missing) > 5 else ''}); pass "
                    "find_unused_parameters=True to DistributedDataParallel, or make sure every "
                    "parameter takes part in computing the loss"
                )
            for bucket in self._buckets[self._launched :]:
                for i, ready in enumerate(bucket.ready):
                    if not ready:
                        p = bucket.params[i]
                        bucket.view(i)[...] = 0 if p.grad is None else p.grad.array
                        bucket.ready[i] = True
                bucket.pending = 0
            self._launch_ready()
        globally_used = None
        if self.find_unused_parameters:
            # As PyTorch: a parameter no rank used keeps .grad None instead of getting zeros.
            flags = np.array([r for u in used for r in u], dtype=np.float64)
            dist.all_reduce(Tensor._wrap(flags), group=self.process_group)
            globally_used = iter(flags > 0)
        start = time.perf_counter()
        for bucket in self._buckets:
            bucket.work.wait()
        self.last_wait_s = time.perf_counter() - start
        scale = 1.0 / self.world_size
        for bucket in self._buckets:
            bucket.buffer *= scale
            for i, p in enumerate(bucket.params):
                if globally_used is not None and not next(globally_used):
                    continue
                avg = bucket.view(i)
                if p.grad is None:
                    p.grad = Tensor._wrap(avg.copy())
                else:
                    p.grad.array[...] = avg
        self._armed = False

    # -- what it is --------------------------------------------------------------------

    def extra_repr(self):
        return f"world_size={self.world_size}, buckets={len(self._buckets)}"
