"""Issue 16's "Legacy and everyday API" names, the distributions and the special functions: each
exists in glassgrad, and its parameter names are PyTorch's wherever PyTorch has a Python signature
(most of PyTorch's functions are builtins without one; those are checked by the op registry's tests)."""

import importlib
import inspect

import pytest

import glassgrad

TOP = """
FloatTensor LongTensor DoubleTensor IntTensor ShortTensor CharTensor ByteTensor BoolTensor HalfTensor Tensor
randint zeros ones empty full rand randn arange linspace logspace eye randperm tensor as_tensor normal
zeros_like ones_like empty_like full_like rand_like randn_like randint_like
einsum tril triu diag diagonal trace diag_embed scatter scatter_add scatter_reduce
unique unique_consecutive bincount histc narrow select unbind movedim moveaxis roll flip rot90 repeat_interleave tile
cumsum cumprod cummax logcumsumexp meshgrid
log1p expm1 sinh cosh asinh acosh atanh erf erfinv lgamma digamma
xlogy i0 sinc logit logaddexp logaddexp2 hypot copysign nextafter frac trunc fix fmod remainder polygamma mvlgamma
bfloat16 float16 half autocast
""".split()

METHODS = """
type random_ normal_ uniform_ bernoulli_ exponential_ geometric_
scatter scatter_ scatter_add scatter_add_ scatter_reduce index_add_ index_copy_ masked_scatter_
unique unique_consecutive bincount histc narrow select unbind movedim moveaxis roll flip rot90 repeat_interleave tile
stride is_contiguous storage_offset data_ptr cumsum cumprod cummax logcumsumexp
tril triu diag diagonal trace diag_embed half bfloat16 norm
""".split()

IN_MODULES = {
    "linalg": "norm vector_norm matrix_norm inv det solve svd qr eigh cholesky".split(),
    "autograd": ["Variable"],
    "utils.checkpoint": ["checkpoint", "checkpoint_sequential"],
    "distributions": "Distribution Categorical Normal Bernoulli Uniform OneHotCategorical kl_divergence".split(),
    "special": (
        "xlogy xlog1py i0 i0e i1 i1e ndtr ndtri log_ndtr logit expit sinc entr erf erfc erfcx erfinv gammaln "
        "digamma psi polygamma multigammaln softmax log_softmax round log1p expm1 exp2 logsumexp"
    ).split(),
}

DISTRIBUTION_METHODS = "__init__ sample rsample log_prob entropy cdf icdf expand enumerate_support".split()
DISTRIBUTION_PROPERTIES = "mean variance stddev mode batch_shape event_shape has_rsample support".split()
DISTRIBUTIONS = "Categorical Normal Bernoulli Uniform".split()


def _resolve(module, dotted):
    for part in dotted.split("."):
        module = getattr(module, part)
    return module


def _names():
    names = [(name, name, False) for name in TOP]
    names += [(f"Tensor.{name}", f"Tensor.{name}", True) for name in METHODS]
    names += [
        (f"{module}.{name}", f"{module}.{name}", False) for module, names_ in IN_MODULES.items() for name in names_
    ]
    names += [
        (f"distributions.{cls}.{method}", f"distributions.{cls}.{method}", True)
        for cls in DISTRIBUTIONS
        for method in DISTRIBUTION_METHODS
    ]
    return names


NAMES = _names()


@pytest.mark.parametrize("name, path, bound", NAMES, ids=[n for n, _, _ in NAMES])
def test_name_exists_in_glassgrad(name, path, bound):
    module = path.split(".")[0]
    if module in ("linalg", "autograd", "utils", "distributions", "special"):
        importlib.import_module(f"glassgrad.{'utils.checkpoint' if module == 'utils' else module}")
    assert _resolve(glassgrad, path) is not None


@pytest.mark.parametrize("cls", DISTRIBUTIONS)
def test_distribution_properties_exist(cls):
    dist = {
        "Categorical": lambda: glassgrad.distributions.Categorical(logits=glassgrad.zeros(3)),
        "Normal": lambda: glassgrad.distributions.Normal(0.0, 1.0),
        "Bernoulli": lambda: glassgrad.distributions.Bernoulli(0.5),
        "Uniform": lambda: glassgrad.distributions.Uniform(0.0, 1.0),
    }[cls]()
    for prop in DISTRIBUTION_PROPERTIES:
        getattr(dist, prop)  # raises if missing
    assert isinstance(dist, glassgrad.distributions.Distribution)


def _parameters(fn, bound):
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):  # a builtin without a Python signature
        return None
    return params[1:] if bound else params


@pytest.mark.parametrize("name, path, bound", NAMES, ids=[n for n, _, _ in NAMES])
def test_parameter_names_are_pytorchs(name, path, bound):
    torch = pytest.importorskip("torch", reason="parameter names are compared with PyTorch's")
    if path.startswith("utils."):
        importlib.import_module("torch.utils.checkpoint")
        importlib.import_module("glassgrad.utils.checkpoint")
    theirs = _parameters(_resolve(torch, path), bound)
    if theirs is None or isinstance(_resolve(torch, path), type(torch.float32)):
        pytest.skip(f"torch.{path} has no Python signature to compare")
    if theirs and all(p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in theirs):
        pytest.skip(f"torch.{path} takes (*args, **kwargs): its signature names nothing")
    mine = _parameters(_resolve(glassgrad, path), bound)
    assert mine is not None, f"glassgrad's {path} has no signature"
    assert [p.name for p in mine] == [p.name for p in theirs], f"{path}: {mine} vs PyTorch's {theirs}"
    assert [p.kind for p in mine] == [p.kind for p in theirs], f"{path}: parameter kinds differ"
