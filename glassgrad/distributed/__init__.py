"""Collectives across processes with ``torch.distributed``'s names, on two proven engines.

``backend="mpi"`` runs mpi4py over an MPI library (launch with ``mpirun -n N``, ``mpiexec`` or ``srun``);
``backend="gloo"`` runs PyTorch's gloo library when torch is installed (launch with ``torchrun``).
Every collective works in place on the tensor's own array: no copy for a contiguous tensor.
"""

from __future__ import annotations

import os
from enum import Enum

import numpy as np

from glassgrad.autograd.graph import increment_version
from glassgrad.distributed import _faults
from glassgrad.distributed._faults import DistBackendError
from glassgrad.tensor import Tensor

__all__ = [
    "Backend",
    "DistBackendError",
    "ReduceOp",
    "all_gather",
    "all_gather_into_tensor",
    "all_reduce",
    "barrier",
    "broadcast",
    "destroy_process_group",
    "gather",
    "get_backend",
    "get_rank",
    "get_world_size",
    "init_process_group",
    "is_available",
    "is_initialized",
    "is_mpi_available",
    "is_gloo_available",
    "new_group",
    "recv",
    "reduce",
    "reduce_scatter",
    "scatter",
    "send",
]


class ReduceOp(Enum):
    """How a reduction combines the processes' values."""

    SUM = "sum"
    AVG = "avg"
    MAX = "max"
    MIN = "min"
    PRODUCT = "product"


class Backend:
    MPI = "mpi"
    GLOO = "gloo"


class ProcessGroup:
    """A set of ranks with its own engine (the world, or one from ``new_group``)."""

    def __init__(self, engine):
        self._engine = engine

    def rank(self) -> int:
        return self._engine.rank

    def size(self) -> int:
        return self._engine.world_size

    def __repr__(self):
        return f"ProcessGroup(backend={self._engine.name!r}, rank={self.rank()}, size={self.size()})"


_WORLD: ProcessGroup | None = None


class _Done:
    def wait(self, timeout=None):
        return True

    def is_completed(self):
        return True


def is_available() -> bool:
    """True: the API is always present; engines are checked by ``init_process_group``."""
    return True


def is_mpi_available() -> bool:
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        return False
    return True


def is_gloo_available() -> bool:
    try:
        import torch.distributed as td
    except ImportError:
        return False
    return td.is_available()


def _mpi_launched() -> bool:
    return any(k in os.environ for k in ("PMI_RANK", "OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_SIZE"))


def init_process_group(
    backend: str | None = None,
    init_method: str | None = None,
    timeout=None,
    world_size: int = -1,
    rank: int = -1,
    store=None,
    group_name: str = "",
) -> None:
    """Join the default process group.

    ``backend`` is "mpi" or "gloo" (None: "mpi" under an MPI launcher, else "gloo"). For gloo the rank and
    world size come from the arguments or ``RANK``/``WORLD_SIZE``, the rendezvous from ``init_method``
    (default ``env://``: ``MASTER_ADDR``/``MASTER_PORT``). For MPI the launcher's rank is used.
    ``timeout`` (seconds or a ``timedelta``, default 1800 s) bounds rendezvous and every collective.

    From here on an uncaught exception on one rank ends every rank: it prints
    ``glassgrad.distributed: rank R failed: <exception>`` and aborts the group (MPI_Abort; gloo: the
    others' collectives raise ``DistBackendError`` naming rank R). See ``glassgrad.distributed._faults``.
    """
    global _WORLD
    if _WORLD is not None:
        raise RuntimeError("init_process_group was called twice; call destroy_process_group() first")
    if backend is None:
        backend = "mpi" if _mpi_launched() else "gloo"
    backend = str(backend).lower()
    seconds = 1800.0 if timeout is None else getattr(timeout, "total_seconds", lambda: float(timeout))()
    r = None if rank is None or rank < 0 else rank
    w = None if world_size is None or world_size < 0 else world_size
    if backend == "mpi":
        from glassgrad.distributed._mpi import MPIEngine

        engine: MPIEngine | GlooEngine = MPIEngine(r, w)
    elif backend == "gloo":
        from glassgrad.distributed._gloo import GlooEngine

        if r is None:
            r = int(_env("RANK"))
        if w is None:
            w = int(_env("WORLD_SIZE"))
        engine = GlooEngine(r, w, init_method or "env://", seconds)
    else:
        raise ValueError(f"backend={backend!r} is not one of 'mpi', 'gloo'")
    _WORLD = ProcessGroup(engine)
    _faults.install(engine, seconds)


def _env(name):
    if name not in os.environ:
        raise RuntimeError(
            f"init_process_group: {name} is not set and was not passed; launch with torchrun, "
            f"`glassgrad train --nproc N`, or pass rank=/world_size="
        )
    return os.environ[name]


def is_initialized() -> bool:
    return _WORLD is not None


def _group(group) -> ProcessGroup:
    if _WORLD is None:
        raise RuntimeError("the default process group is not initialized; call init_process_group() first")
    return _WORLD if group is None else group


def get_rank(group=None) -> int:
    """This process's rank in ``group`` (-1 when not a member); 0 before any init, like a single process."""
    if _WORLD is None:
        return 0
    return -1 if group is GroupMember.NON_GROUP_MEMBER else _group(group).rank()


def get_world_size(group=None) -> int:
    if _WORLD is None:
        return 1
    return _group(group).size()


def get_backend(group=None) -> str:
    return _group(group)._engine.name


class GroupMember:
    WORLD = None
    NON_GROUP_MEMBER = object()


def new_group(ranks=None, timeout=None, backend=None):
    """A subgroup of the given global ranks (all ranks must call it); non-members get a non-member handle."""
    g = _group(None)
    ranks = list(range(g.size())) if ranks is None else sorted(int(r) for r in ranks)
    eng = g._engine.new(ranks)
    return GroupMember.NON_GROUP_MEMBER if eng is None else ProcessGroup(eng)


def destroy_process_group(group=None) -> None:
    global _WORLD
    if group is None or group is _WORLD:
        if _WORLD is not None:
            _WORLD._engine.destroy()
            _faults.uninstall()
        _WORLD = None


def _arr(t: Tensor, what: str) -> np.ndarray:
    if not isinstance(t, Tensor):
        raise TypeError(f"{what} expects a glassgrad Tensor, got {type(t).__name__}")
    a = t.array
    if not a.flags.c_contiguous:
        raise ValueError(f"{what} needs a contiguous tensor (shape {tuple(a.shape)}); call .contiguous() first")
    return a


def _op(op) -> str:
    if isinstance(op, ReduceOp):
        return op.value
    name = str(op).lower().split(".")[-1]
    if name == "prod":
        name = "product"
    if name not in {o.value for o in ReduceOp}:
        raise ValueError(f"op={op!r} is not a ReduceOp (SUM, AVG, MAX, MIN, PRODUCT)")
    return name


def _written(*ts):
    for t in ts:
        increment_version(t)


def _ret(work, async_op):
    return work if async_op else None


def barrier(group=None, async_op: bool = False, device_ids=None):
    _group(group)._engine.barrier()
    return _ret(_Done(), async_op)


def broadcast(tensor: Tensor, src: int, group=None, async_op: bool = False):
    """Overwrite ``tensor`` on every rank with rank ``src``'s values."""
    g = _group(group)
    w = g._engine.broadcast(_arr(tensor, "broadcast"), src, async_op)
    _written(tensor)
    if not async_op:
        w.wait()
    return _ret(w, async_op)


def all_reduce(tensor: Tensor, op=ReduceOp.SUM, group=None, async_op: bool = False):
    """Combine ``tensor`` across ranks with ``op``, in place on every rank."""
    w = _group(group)._engine.all_reduce(_arr(tensor, "all_reduce"), _op(op), async_op)
    _written(tensor)
    return _ret(w, async_op)


def reduce(tensor: Tensor, dst: int, op=ReduceOp.SUM, group=None, async_op: bool = False):
    """Combine ``tensor`` across ranks into rank ``dst``'s tensor."""
    w = _group(group)._engine.reduce(_arr(tensor, "reduce"), dst, _op(op), async_op)
    _written(tensor)
    return _ret(w, async_op)


def all_gather_into_tensor(output_tensor: Tensor, input_tensor: Tensor, group=None, async_op: bool = False):
    """Concatenate every rank's ``input_tensor`` (shape S) along dim 0 into ``output_tensor`` (N*S0, ...)."""
    g = _group(group)
    out, a = _arr(output_tensor, "all_gather_into_tensor"), _arr(input_tensor, "all_gather_into_tensor")
    if out.size != a.size * g.size():
        raise ValueError(
            f"all_gather_into_tensor: output has {out.size} elements, needs world_size*{a.size}={a.size * g.size()}"
        )
    w = g._engine.all_gather_into(out, a, async_op)
    _written(output_tensor)
    if not async_op:
        w.wait()
    return _ret(w, async_op)


def all_gather(tensor_list: list, tensor: Tensor, group=None, async_op: bool = False):
    """Fill ``tensor_list[i]`` with rank i's ``tensor`` on every rank."""
    g = _group(group)
    a = _arr(tensor, "all_gather")
    if len(tensor_list) != g.size():
        raise ValueError(f"all_gather: tensor_list has {len(tensor_list)} tensors, needs world_size={g.size()}")
    buf = np.empty((g.size(),) + a.shape, a.dtype)
    g._engine.all_gather_into(buf, a, False).wait()
    for t, b in zip(tensor_list, buf):
        _arr(t, "all_gather")[...] = b
    _written(*tensor_list)
    return _ret(_Done(), async_op)


def gather(tensor: Tensor, gather_list=None, dst: int = 0, group=None, async_op: bool = False):
    """Collect every rank's ``tensor`` into ``gather_list`` on rank ``dst``."""
    g = _group(group)
    outs = None
    if g.rank() == dst:
        if gather_list is None or len(gather_list) != g.size():
            raise ValueError(f"gather: rank {dst} needs a gather_list of {g.size()} tensors")
        outs = [_arr(t, "gather") for t in gather_list]
    g._engine.gather(_arr(tensor, "gather"), outs, dst, False).wait()
    if outs is not None:
        _written(*gather_list)
    return _ret(_Done(), async_op)


def scatter(tensor: Tensor, scatter_list=None, src: int = 0, group=None, async_op: bool = False):
    """Rank ``src`` sends ``scatter_list[i]`` to rank i's ``tensor``."""
    g = _group(group)
    ins = None
    if g.rank() == src:
        if scatter_list is None or len(scatter_list) != g.size():
            raise ValueError(f"scatter: rank {src} needs a scatter_list of {g.size()} tensors")
        ins = [_arr(t, "scatter") for t in scatter_list]
    g._engine.scatter(_arr(tensor, "scatter"), ins, src, False).wait()
    _written(tensor)
    return _ret(_Done(), async_op)


def reduce_scatter(output: Tensor, input_list: list, op=ReduceOp.SUM, group=None, async_op: bool = False):
    """Reduce ``input_list[i]`` across ranks into rank i's ``output``."""
    g = _group(group)
    if len(input_list) != g.size():
        raise ValueError(f"reduce_scatter: input_list has {len(input_list)} tensors, needs world_size={g.size()}")
    buf = np.ascontiguousarray(np.stack([_arr(t, "reduce_scatter") for t in input_list]))
    g._engine.all_reduce(buf, _op(op), False).wait()
    _arr(output, "reduce_scatter")[...] = buf[g.rank()]
    _written(output)
    return _ret(_Done(), async_op)


def send(tensor: Tensor, dst: int, group=None, tag: int = 0) -> None:
    _group(group)._engine.send(_arr(tensor, "send"), dst)


def recv(tensor: Tensor, src: int, group=None, tag: int = 0) -> int:
    _group(group)._engine.recv(_arr(tensor, "recv"), src)
    _written(tensor)
    return src
