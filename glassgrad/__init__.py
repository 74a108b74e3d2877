"""glassgrad: a deep learning framework on NumPy whose every value and gradient can be seen.

Written to PyTorch's names and semantics: ``import glassgrad as torch`` runs PyTorch code.
"""

__version__ = "0.1.0"

from glassgrad._dtype import (  # noqa: I001  (dtypes and Tensor load before the ops)
    bfloat16,
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
from glassgrad.tensor import Size, Tensor, device, set_printoptions
from glassgrad.ops.shape import broadcast_shapes
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

# abs, add, ..., where: every op of the registry (glassgrad/ops/registry.py) under its names.
ops.registry.export(globals())
from glassgrad import linalg, special
from glassgrad.random import Generator, get_rng_state, initial_seed, manual_seed, seed, set_rng_state
from glassgrad.nn.functional import conv1d, conv2d, max_pool2d
from glassgrad import nn
from glassgrad.io import load, save
from glassgrad import optim
from glassgrad import utils
from glassgrad import distributions
from glassgrad.summary import summary


def is_tensor(obj):
    return isinstance(obj, Tensor)


def is_floating_point(t):
    """True if ``t`` holds floating-point numbers."""
    return t.is_floating_point()


def is_complex(t):
    """True if ``t`` holds complex numbers."""
    return t.is_complex()


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
    if name == "serialization":  # torch.serialization.safe_globals, without an import
        import importlib

        return importlib.import_module("glassgrad.serialization")
    raise AttributeError(f"module 'glassgrad' has no attribute {name!r}")


from glassgrad import accelerator, amp, jit  # noqa: E402
from glassgrad.amp import autocast, get_autocast_dtype, is_autocast_available, is_autocast_enabled  # noqa: E402
from glassgrad.compiler import compile  # noqa: E402
from glassgrad._runtime import (  # noqa: E402
    are_deterministic_algorithms_enabled,
    get_float32_matmul_precision,
    is_deterministic_algorithms_warn_only_enabled,
    set_float32_matmul_precision,
    use_deterministic_algorithms,
)
from glassgrad._legacy import (  # noqa: E402  (PyTorch's legacy tensor types)
    BoolTensor,
    ByteTensor,
    CharTensor,
    DoubleTensor,
    FloatTensor,
    HalfTensor,
    IntTensor,
    LongTensor,
    ShortTensor,
)
from glassgrad._numeric_info import finfo, iinfo  # noqa: E402

# PyTorch's numeric constants, as Python floats.
# (`float` here is glassgrad's dtype, hence the math module.)
import math as _math  # noqa: E402

inf = _math.inf
nan = _math.nan
pi = _math.pi
e = _math.e
