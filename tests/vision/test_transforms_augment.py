"""The random transforms: each equals its functional form with the parameters it draws, under one seed.

Parity of the functional forms with torchvision is in test_torchvision_transforms.py (second venv).
"""

import numpy as np
import pytest
from PIL import Image

import glassgrad
from glassgrad.vision import transforms as T
from glassgrad.vision.transforms import functional as F
from glassgrad.vision.transforms import v2


@pytest.fixture
def rgb():
    return np.random.default_rng(1).integers(0, 256, (19, 25, 3), dtype=np.uint8)


def _same(a, b):
    if isinstance(a, Image.Image):
        assert a.mode == b.mode and a.size == b.size
        a, b = np.asarray(a), np.asarray(b)
    elif isinstance(a, glassgrad.Tensor):
        a, b = a.numpy(), b.numpy()
    np.testing.assert_array_equal(a, b)


def _inputs(rgb):
    return [Image.fromarray(rgb), glassgrad.tensor(rgb.transpose(2, 0, 1).copy()), rgb]


def test_color_jitter_is_its_drawn_ops_in_order(rgb):
    t = T.ColorJitter(0.4, (0.5, 1.5), 0.3, 0.2)
    for img in _inputs(rgb):
        glassgrad.manual_seed(5)
        order, b, c, s, h = T.ColorJitter.get_params(t.brightness, t.contrast, t.saturation, t.hue)
        assert sorted(order) == [0, 1, 2, 3] and 0.6 <= b <= 1.4 and 0.5 <= c <= 1.5 and abs(h) <= 0.2
        expected = img
        for k in order:
            op = (F.adjust_brightness, F.adjust_contrast, F.adjust_saturation, F.adjust_hue)[k]
            expected = op(expected, (b, c, s, h)[k])
        glassgrad.manual_seed(5)
        _same(t(img), expected)
    assert T.ColorJitter().brightness is None and T.ColorJitter(hue=0).hue is None
    with pytest.raises(ValueError, match="hue"):
        T.ColorJitter(hue=0.7)


def test_geometric_transforms_equal_functional(rgb):
    for img in _inputs(rgb):
        glassgrad.manual_seed(3)
        angle = T.RandomRotation.get_params((-30.0, 30.0))
        glassgrad.manual_seed(3)
        fill = 0 if isinstance(img, Image.Image) else [0.0] * 3
        _same(T.RandomRotation(30)(img), F.rotate(img, angle, fill=fill))

        t = T.RandomAffine(15, translate=(0.2, 0.1), scale=(0.8, 1.2), shear=(-5, 5, -3, 3))
        glassgrad.manual_seed(4)
        angle, shift, scale, shear = t.get_params(t.degrees, t.translate, t.scale, t.shear, [25, 19])
        assert -15 <= angle <= 15 and abs(shift[0]) <= 5 and abs(shift[1]) <= 2 and 0.8 <= scale <= 1.2
        glassgrad.manual_seed(4)
        _same(t(img), F.affine(img, angle, shift, scale, shear, fill=fill))

        t = T.RandomPerspective(0.6, p=1.0)
        glassgrad.manual_seed(6)
        glassgrad.random.default_generator.rng.random()  # the p draw comes first
        start, end = t.get_params(25, 19, 0.6)
        glassgrad.manual_seed(6)
        _same(t(img), F.perspective(img, start, end, fill=fill))
        assert T.RandomPerspective(p=0.0)(img) is img


def test_perspective_corners_stay_in_their_quarters():
    glassgrad.manual_seed(0)
    for _ in range(50):
        start, end = T.RandomPerspective.get_params(40, 30, 0.5)
        assert start == [[0, 0], [39, 0], [39, 29], [0, 29]]
        (tlx, tly), (trx, try_), (brx, bry), (blx, bly) = end
        assert 0 <= tlx <= 10 and 0 <= tly <= 7 and 29 <= trx <= 39 and 22 <= bry <= 29 and 0 <= blx <= 10


def test_gaussian_blur_erasing_grayscale(rgb):
    for img in _inputs(rgb):
        glassgrad.manual_seed(2)
        sigma = T.GaussianBlur.get_params(0.1, 2.0)
        glassgrad.manual_seed(2)
        _same(T.GaussianBlur((3, 5))(img), F.gaussian_blur(img, [3, 5], [sigma, sigma]))
        grey = T.RandomGrayscale(p=1.0)(img)
        assert F.get_dimensions(grey) == [3, 19, 25]
        assert T.RandomGrayscale(p=0.0)(img) is img
    x = glassgrad.tensor(rgb.transpose(2, 0, 1).astype(np.float32) / 255)
    glassgrad.manual_seed(8)
    glassgrad.random.default_generator.rng.random()
    i, j, h, w, v = T.RandomErasing.get_params(x, (0.02, 0.33), (0.3, 3.3), [0.5])
    glassgrad.manual_seed(8)
    out = T.RandomErasing(p=1.0, value=0.5)(x).numpy()
    assert (out[:, i : i + h, j : j + w] == 0.5).all() and 0 < h < 19 and 0 < w < 25
    rest = np.ones(out.shape, bool)
    rest[:, i : i + h, j : j + w] = False
    np.testing.assert_array_equal(out[rest], x.numpy()[rest])
    noisy = T.RandomErasing(p=1.0, value="random")(x)
    assert noisy.shape == x.shape and (noisy.numpy() != x.numpy()).any()
    with pytest.raises(TypeError, match="Tensor image"):
        T.RandomErasing(p=1.0)(Image.fromarray(rgb))


def test_choice_order_crops_and_dtype(rgb):
    picked = {T.RandomChoice([lambda x: 1, lambda x: 2], p=[0.9, 0.1])(None) for _ in range(40)}
    assert picked == {1, 2}
    glassgrad.manual_seed(0)
    assert sum(T.RandomChoice([lambda x: 1, lambda x: 0], p=[0.9, 0.1])(None) for _ in range(200)) > 160
    trace = []
    T.RandomOrder([lambda x: trace.append("a"), lambda x: trace.append("b"), lambda x: trace.append("c")])(None)
    assert sorted(trace) == ["a", "b", "c"]
    crops = T.TenCrop(8)(Image.fromarray(rgb))
    assert len(crops) == 10 and all(c.size == (8, 8) for c in crops)
    _same(crops[5], F.hflip(Image.fromarray(rgb)).crop((0, 0, 8, 8)))
    tl, tr, bl, br, center = T.FiveCrop((5, 7))(rgb)
    np.testing.assert_array_equal(br, rgb[-5:, -7:])
    np.testing.assert_array_equal(center, rgb[7:12, 9:16])
    f = T.ConvertImageDtype(glassgrad.float32)(glassgrad.tensor(rgb.transpose(2, 0, 1).copy()))
    np.testing.assert_allclose(f.numpy(), rgb.transpose(2, 0, 1) / np.float32(255), rtol=1e-7)
    back = T.ConvertImageDtype(glassgrad.uint8)(f)
    np.testing.assert_array_equal(back.numpy(), rgb.transpose(2, 0, 1))


def test_color_ops_values():
    a = np.array([[[0, 100], [200, 255]]], np.uint8)  # (1, 2, 2)
    x = glassgrad.tensor(a)
    np.testing.assert_array_equal(F.adjust_brightness(x, 0.5).numpy(), [[[0, 50], [100, 127]]])
    np.testing.assert_array_equal(F.invert(x).numpy(), 255 - a)
    np.testing.assert_array_equal(F.posterize(x, 2).numpy(), a & 0xC0)
    np.testing.assert_array_equal(F.solarize(x, 150).numpy(), [[[0, 100], [55, 0]]])
    np.testing.assert_array_equal(F.autocontrast(glassgrad.tensor(a // 2 + 10)).numpy(), [[[0, 100], [200, 255]]])
    flat = glassgrad.tensor(np.full((3, 4, 4), 0.25, np.float32))
    # A flat grey plane has no contrast to scale (RGB would not be flat in luma: the weights sum to 0.9999).
    np.testing.assert_allclose(F.adjust_contrast(flat[:1], 3.0).numpy(), 0.25, atol=1e-7)
    np.testing.assert_allclose(F.gaussian_blur(flat, 3).numpy(), 0.25, atol=1e-7)
    red = glassgrad.tensor(np.array([1.0, 0.0, 0.0], np.float32).reshape(3, 1, 1))
    np.testing.assert_allclose(F.adjust_hue(red, 1 / 3).numpy().ravel(), [0, 1, 0], atol=1e-6)
    with pytest.raises(TypeError, match="uint8"):
        F.equalize(flat)


def test_rotate_quarter_turn_is_rot90(rgb):
    x = glassgrad.tensor(rgb[:19, :19].transpose(2, 0, 1).copy())
    np.testing.assert_array_equal(F.rotate(x, 90).numpy(), np.rot90(x.numpy(), 1, axes=(1, 2)))
    shifted = F.affine(x, 0, [3, 0], 1.0, 0).numpy()
    np.testing.assert_array_equal(shifted[:, :, 3:], x.numpy()[:, :, :-3])
    assert (shifted[:, :, :3] == 0).all()


def test_autoaugment_family_shapes(rgb):
    glassgrad.manual_seed(0)
    for policy in T.AutoAugmentPolicy:
        assert len(T.AutoAugment(policy).policies) == 25
    for t in (T.AutoAugment(T.AutoAugmentPolicy.CIFAR10), T.RandAugment(num_ops=3), T.TrivialAugmentWide()):
        for img in _inputs(rgb):
            out = t(img)
            assert F.get_dimensions(out) == [3, 19, 25]
    with pytest.raises(ValueError, match="unknown operation"):
        from glassgrad.vision.transforms.autoaugment import apply_op

        apply_op(rgb, "Blur", 1.0)


def test_v2_passes_labels_and_dicts_through(rgb):
    t = v2.Compose([v2.ToImage(), v2.RandomHorizontalFlip(1.0), v2.ToDtype(glassgrad.float32, scale=True)])
    img, label = t(Image.fromarray(rgb), 7)
    assert label == 7 and img.dtype == glassgrad.float32
    np.testing.assert_allclose(img.numpy(), rgb[:, ::-1].transpose(2, 0, 1) / np.float32(255), rtol=1e-6)
    out = t({"image": Image.fromarray(rgb), "target": {"label": 3}})
    assert out["target"] == {"label": 3} and out["image"].shape == (3, 19, 25)
    kept = v2.ToDtype(glassgrad.float32)(v2.ToImage()(rgb))
    assert kept.numpy().max() == rgb.max()  # no scale unless asked, unlike ConvertImageDtype
    assert v2.ToPureTensor()(kept) is kept


def test_erase_in_place_and_copy():
    x = glassgrad.zeros(2, 4, 4)
    y = F.erase(x, 1, 1, 2, 2, 5.0)
    assert float(x.numpy().sum()) == 0 and float(y.numpy().sum()) == 5.0 * 2 * 2 * 2
    assert F.erase(x, 0, 0, 1, 1, 3.0, inplace=True) is x and float(x.numpy()[:, 0, 0].sum()) == 6.0
