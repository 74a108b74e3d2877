"""glassgrad.vision.transforms against torchvision's own outputs.

torchvision does not import beside the torch of the main environment; run this file with the
second one: ``PYTHONPATH=. /work/venv-tv/bin/python -m pytest tests/vision/test_torchvision_transforms.py``
(.ci/run does). Deterministic functional ops must agree exactly on uint8 images (PIL and tensor)
and within 1e-5 on float images; random transforms are checked through their functional form.
"""

import math

import numpy as np
import pytest
from PIL import Image

tv = pytest.importorskip("torchvision", reason="torchvision is not installed here (see .ci/run: a second venv)")
import torch  # noqa: E402
import torchvision.transforms.functional as TF  # noqa: E402
from torchvision.transforms import InterpolationMode as TVMode  # noqa: E402

import glassgrad  # noqa: E402
import glassgrad.vision.transforms as T  # noqa: E402
import glassgrad.vision.transforms.functional as F  # noqa: E402
#V2


def _images(seed=0, h=23, w=31):
    rng = np.random.default_rng(seed)
    # Smooth structure plus noise, so blurs, histograms and hues meet real variety.
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.stack([xx * 255 / w, yy * 255 / h, (xx + yy) * 127 / (h + w)], axis=-1)
    hwc = np.clip(base + rng.integers(-60, 60, (h, w, 3)), 0, 255).astype(np.uint8)
    return hwc


HWC = _images()
CHW = np.ascontiguousarray(HWC.transpose(2, 0, 1))
FLOAT = (CHW / 255.0).astype(np.float32)


def _ours(a):
    return glassgrad.tensor(a)


def _theirs(a):
    return torch.from_numpy(np.array(a))


def _same_tensor(ours, theirs, atol=1e-5):
    o = ours.numpy() if hasattr(ours, "numpy") else np.asarray(ours)
    t = theirs.numpy()
    assert o.shape == t.shape and o.dtype == t.dtype, (o.shape, t.shape, o.dtype, t.dtype)
    if o.dtype.kind == "f":
        np.testing.assert_allclose(o, t, atol=atol, rtol=0)
    else:
        np.testing.assert_array_equal(o, t)


def _same_pil(ours, theirs):
    assert ours.mode == theirs.mode and ours.size == theirs.size
    np.testing.assert_array_equal(np.asarray(ours), np.asarray(theirs))


COLOR_CASES = [
    ("adjust_brightness", (0.0,)),
    ("adjust_brightness", (0.63,)),
    ("adjust_brightness", (1.7,)),
    ("adjust_contrast", (0.0,)),
    ("adjust_contrast", (0.4,)),
    ("adjust_contrast", (1.9,)),
    ("adjust_saturation", (0.0,)),
    ("adjust_saturation", (0.3,)),
    ("adjust_saturation", (2.2,)),
    ("adjust_hue", (-0.45,)),
    ("adjust_hue", (0.1,)),
    ("adjust_hue", (0.5,)),
    ("adjust_sharpness", (0.0,)),
    ("adjust_sharpness", (0.5,)),
    ("adjust_sharpness", (2.5,)),
    ("adjust_gamma", (0.5,)),
    ("adjust_gamma", (2.0, 0.9)),
    ("invert", ()),
    ("autocontrast", ()),
    ("solarize", (128,)),
    ("gaussian_blur", ([3, 5], [0.8, 1.3])),
    ("gaussian_blur", (5, None)),
]
UINT8_ONLY = [("posterize", (3,)), ("posterize", (8,)), ("posterize", (1,)), ("equalize", ())]


@pytest.mark.parametrize("name,args", COLOR_CASES + UINT8_ONLY)
def test_uint8_tensor_and_pil_equal_torchvision(name, args):
    ours, theirs = getattr(F, name), getattr(TF, name)
    _same_tensor(ours(_ours(CHW), *args), theirs(_theirs(CHW), *args))
    # NumPy HWC arrays take the tensor path.
    _same_tensor(ours(HWC, *args).transpose(2, 0, 1), theirs(_theirs(CHW), *args))
    pil = Image.fromarray(HWC)
    _same_pil(ours(pil, *args), theirs(pil, *args))
    grey = Image.fromarray(HWC[..., 0])
    _same_pil(ours(grey, *args), theirs(grey, *args))


@pytest.mark.parametrize("name,args", [c for c in COLOR_CASES if c[0] != "solarize"] + [("solarize", (0.5,))])
def test_float_tensor_within_1e5_of_torchvision(name, args):
    ours, theirs = getattr(F, name), getattr(TF, name)
    _same_tensor(ours(_ours(FLOAT), *args), theirs(_theirs(FLOAT), *args))
    batch = np.stack([FLOAT, FLOAT[::-1].copy()])
    _same_tensor(ours(_ours(batch), *args), theirs(_theirs(batch), *args))


def test_grey_tensor_images():
    grey = CHW[:1]
    for name, args in COLOR_CASES + UINT8_ONLY:
        _same_tensor(getattr(F, name)(_ours(grey), *args), getattr(TF, name)(_theirs(grey), *args))


GEOMETRY_CASES = [
    ("rotate", (30.0,), {}),
    ("rotate", (-73.5,), {"interpolation": "bilinear"}),
    ("rotate", (90.0,), {"expand": True}),
    ("rotate", (17.0,), {"expand": True, "interpolation": "bilinear", "fill": [10, 200, 30]}),
    ("rotate", (45.0,), {"center": [3, 5], "fill": 7}),
    ("affine", (12.0, [3, -2], 1.2, [10.0, 5.0]), {}),
    ("affine", (-40.0, [0, 4], 0.8, 20.0), {"interpolation": "bilinear"}),
    ("affine", (0.0, [5, 0], 1.0, [0.0, 0.0]), {"fill": 255}),
    ("affine", (0.0, [0, 0], 1.0, [16.7, 0.0]), {"center": [0, 0], "fill": [1, 2, 3]}),
    ("perspective", ([[0, 0], [30, 0], [30, 22], [0, 22]], [[3, 2], [27, 1], [29, 20], [1, 21]]), {}),
    ("perspective", ([[0, 0], [30, 0], [30, 22], [0, 22]], [[5, 0], [30, 4], [24, 22], [0, 17]]), {"interpolation": "nearest", "fill": 9}),  # fmt: skip
]


def _tv_kwargs(kwargs):
    out = dict(kwargs)
    if "interpolation" in out:
        out["interpolation"] = TVMode(out["interpolation"])
    return out


def _ours_kwargs(kwargs):
    out = dict(kwargs)
    if "interpolation" in out:
        out["interpolation"] = T.InterpolationMode(out["interpolation"])
    return out


@pytest.mark.parametrize("name,args,kwargs", GEOMETRY_CASES)
def test_warps_equal_torchvision(name, args, kwargs):
    ours, theirs = getattr(F, name), getattr(TF, name)
    o = ours(_ours(CHW), *args, **_ours_kwargs(kwargs)).numpy()
    t = theirs(_theirs(CHW), *args, **_tv_kwargs(kwargs)).numpy()
    # The sampling grid follows torch's fused multiply-adds, so even nearest-neighbour ties agree.
    np.testing.assert_array_equal(o, t)
    of = ours(_ours(FLOAT), *args, **_ours_kwargs(kwargs)).numpy()
    tf = theirs(_theirs(FLOAT), *args, **_tv_kwargs(kwargs)).numpy()
    # A fill colour of 200 on a [0, 1] image makes float32 blends cancel: the bound scales with it.
    scale = max([1.0] + [abs(float(v)) for v in np.ravel(kwargs.get("fill", 0))])
    np.testing.assert_allclose(of, tf, atol=1e-5 * scale, rtol=0)
    pil = Image.fromarray(HWC)
    _same_pil(ours(pil, *args, **_ours_kwargs(kwargs)), theirs(pil, *args, **_tv_kwargs(kwargs)))


def test_perspective_coefficients_match():
    start = [[0, 0], [30, 0], [30, 22], [0, 22]]
    end = [[3, 2], [27, 1], [29, 20], [1, 21]]
    from glassgrad.vision.transforms._geometry import perspective_coeffs
    from torchvision.transforms.functional import _get_perspective_coeffs

    np.testing.assert_allclose(perspective_coeffs(start, end), _get_perspective_coeffs(start, end), rtol=1e-6)


def test_crops_and_erase_equal_torchvision():
    for ours, theirs in zip(F.five_crop(_ours(CHW), 10), TF.five_crop(_theirs(CHW), 10)):
        _same_tensor(ours, theirs)
    for ours, theirs in zip(F.ten_crop(_ours(CHW), [9, 12], True), TF.ten_crop(_theirs(CHW), [9, 12], True)):
        _same_tensor(ours, theirs)
    pil = Image.fromarray(HWC)
    for ours, theirs in zip(F.ten_crop(pil, 7), TF.ten_crop(pil, 7)):
        _same_pil(ours, theirs)
    v = np.arange(3 * 4 * 5, dtype=np.float32).reshape(3, 4, 5)
    _same_tensor(F.erase(_ours(FLOAT), 2, 3, 4, 5, _ours(v)), TF.erase(_theirs(FLOAT), 2, 3, 4, 5, _theirs(v)))


@pytest.mark.parametrize("src,dst", [("uint8", "float32"), ("float32", "uint8"), ("uint8", "int32"), ("int32", "uint8"), ("float64", "int32"), ("uint8", "float64")])  # fmt: skip
def test_convert_image_dtype(src, dst):
    a = CHW.astype(src) if src != "float32" and src != "float64" else FLOAT.astype(src)
    if src == "int32":
        a = a * 1000
    ours = F.convert_image_dtype(_ours(a), getattr(glassgrad, dst))
    theirs = TF.convert_image_dtype(_theirs(a), getattr(torch, dst))
    _same_tensor(ours, theirs)
    _same_tensor(T.ConvertImageDtype(getattr(glassgrad, dst))(_ours(a)), theirs)
