"""glassgrad: a deep learning framework on NumPy whose every value and gradient can be seen.

Written to PyTorch's names and semantics: ``import glassgrad as torch`` runs PyTorch code.
"""

__version__ = "0.1.0"

from glassgrad._dtype import (  # noqa: I001  (dtypes and Tensor load before the ops)
    bool_ as bool,
    dtype,
    float16,
    float16 as half,
    float32,
    float32 as float,
    float64,
    float64 as double,
    get_default_dtype,
    int8,
    int16,
    int32,
    int32 as int,
    int64,
    int64 as long,
    set_default_dtype,
    uint8,
)
from glassgrad.tensor import Size, Tensor, device
from glassgrad import autograd, backends, cuda, ops, random
from glassgrad.autograd import enable_grad, inference_mode, is_grad_enabled, no_grad, set_grad_enabled
from glassgrad.creation import (
    arange,
    as_tensor,
    bernoulli,
    empty,
    empty_like,
    eye,
    from_dlpack,
    from_numpy,
    full,
    full_like,
    linspace,
    logspace,
    multinomial,
    ones,
    ones_like,
    rand,
    rand_like,
    randint,
    randint_like,
    randn,
    randn_like,
    randperm,
    tensor,
    zeros,
    zeros_like,
)
from glassgrad.ops import (
    abs,
    add,
    all,
    allclose,
    amax,
    amin,
    any,
    argmax,
    argmin,
    argsort,
    cat,
    ceil,
    chunk,
    clamp,
    clip,
    clone,
    concat,
    concatenate,
    cos,
    div,
    eq,
    equal,
    exp,
    expand,
    flatten,
    floor,
    floor_divide,
    gather,
    ge,
    gt,
    index_select,
    isfinite,
    isinf,
    isnan,
    le,
    log,
    log_softmax,
    logical_and,
    logical_not,
    logical_or,
    logical_xor,
    logsumexp,
    lt,
    matmul,
    max,
    maximum,
    mean,
    min,
    minimum,
    mul,
    ne,
    neg,
    nonzero,
    norm,
    permute,
    pow,
    prod,
    relu,
    remainder,
    repeat,
    reshape,
    round,
    rsqrt,
    sigmoid,
    sign,
    sin,
    softmax,
    sort,
    split,
    sqrt,
    squeeze,
    stack,
    std,
    sub,
    sum,
    tanh,
    topk,
    transpose,
    unbind,
    unflatten,
    unsqueeze,
    var,
    where,
)
from glassgrad.random import Generator, get_rng_state, initial_seed, manual_seed, seed, set_rng_state
from glassgrad.nn.functional import conv1d, conv2d, max_pool2d
from glassgrad import nn
from glassgrad.io import load, save
from glassgrad import optim
from glassgrad import utils
from glassgrad.summary import summary

mm = matmul
bmm = matmul
multiply = mul
subtract = sub
divide = div
negative = neg
greater = gt
less = lt


def is_tensor(obj):
    return isinstance(obj, Tensor)


def numel(t):
    return t.numel()


def set_num_threads(n):
    """Limit the threads of NumPy's BLAS (and glassgrad's own kernels) to ``n``."""
    from glassgrad import _threads

    _threads.set_num_threads(n)


def get_num_threads():
    from glassgrad import _threads

    return _threads.get_num_threads()


def __getattr__(name):
    # Loaded on first use: `glassgrad.doctor` (the training doctor) and `glassgrad.viz` pull in
    # matplotlib and the training package, which plain tensor code never needs.
    if name in ("doctor", "viz"):
        import importlib

        module = importlib.import_module("glassgrad.train.doctor" if name == "doctor" else "glassgrad.viz")
        globals()[name] = module
        return module
    raise AttributeError(f"module 'glassgrad' has no attribute {name!r}")


from glassgrad import accelerator, jit  # noqa: E402
from glassgrad._runtime import (  # noqa: E402
    are_deterministic_algorithms_enabled,
    compile,
    get_float32_matmul_precision,
    is_deterministic_algorithms_warn_only_enabled,
    set_float32_matmul_precision,
    use_deterministic_algorithms,
)
