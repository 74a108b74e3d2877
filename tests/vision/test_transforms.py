"""glassgrad.vision.transforms on PIL images, uint8 arrays, tensors and whole batches."""

import numpy as np
import pytest
from PIL import Image

import glassgrad
from glassgrad.vision import transforms as T
from glassgrad.vision.transforms import functional as F


@pytest.fixture
def rgb():
    return np.random.default_rng(0).integers(0, 256, (9, 11, 3), dtype=np.uint8)


def test_to_tensor_scales_uint8_to_chw_float32(rgb):
    for pic in (rgb, Image.fromarray(rgb)):
        t = T.ToTensor()(pic)
        assert isinstance(t, glassgrad.Tensor) and t.shape == (3, 9, 11) and t.dtype == glassgrad.float32
        np.testing.assert_array_equal(t.numpy(), rgb.transpose(2, 0, 1).astype(np.float32) / np.float32(255))
    grey = T.ToTensor()(Image.fromarray(rgb[:, :, 0]))
    assert grey.shape == (1, 9, 11) and grey.numpy().max() <= 1.0
    kept = T.ToTensor()(np.ones((2, 2, 1), np.float64) * 7)
    assert kept.dtype == glassgrad.float64 and kept.numpy().max() == 7
    with pytest.raises(TypeError, match="already a tensor"):
        T.ToTensor()(glassgrad.zeros(3, 2, 2))


def test_to_tensor_and_normalize_match_pytorch(rgb):
    torch = pytest.importorskip("torch", reason="PyTorch not installed: parity tests skipped")
    mean, std = (0.4914, 0.4822, 0.4465), (0.2023, 0.1994, 0.2010)
    ours = T.Compose([T.ToTensor(), T.Normalize(mean, std)])(rgb).numpy()
    ref = torch.from_numpy(rgb).permute(2, 0, 1).to(torch.float32).div(255)
    ref = ref.sub(torch.tensor(mean).view(3, 1, 1)).div(torch.tensor(std).view(3, 1, 1))
    np.testing.assert_allclose(ours, ref.numpy(), rtol=1e-6, atol=1e-6)


def test_normalize_values_inplace_and_errors():
    x = glassgrad.tensor(np.arange(12, dtype=np.float32).reshape(3, 2, 2))
    out = T.Normalize((1.0, 2.0, 3.0), (2.0, 4.0, 0.5))(x)
    expected = (x.numpy() - np.array([1, 2, 3], np.float32).reshape(3, 1, 1)) / np.array(
        [2, 4, 0.5], np.float32
    ).reshape(3, 1, 1)
    np.testing.assert_array_equal(out.numpy(), expected)
    assert x.numpy()[0, 0, 0] == 0  # not in place by default
    same = T.Normalize((1.0, 2.0, 3.0), (2.0, 4.0, 0.5), inplace=True)(x)
    assert same is x and np.array_equal(x.numpy(), expected)
    with pytest.raises(ValueError, match="divide by zero"):
        T.Normalize((0.0,), (0.0,))(glassgrad.ones(1, 2, 2))
    with pytest.raises(ValueError, match="2 values but the image has 3 channels"):
        T.Normalize((0.0, 0.0), (1.0, 1.0))(glassgrad.ones(3, 2, 2))
    with pytest.raises(TypeError, match="ToTensor"):
        T.Normalize((0.0,), (1.0,))(np.zeros((2, 2, 1)))


def test_normalize_of_a_tensor_that_requires_grad_is_differentiable():
    x = glassgrad.ones(2, 2, 2, requires_grad=True)
    T.Normalize((0.5, 0.5), (2.0, 4.0))(x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy()[:, 0, 0], [0.5, 0.25])


@pytest.mark.parametrize("mode", ["constant", "edge", "reflect", "symmetric"])
def test_pad_matches_numpy_for_pil_arrays_and_tensors(rgb, mode):
    expected = np.pad(rgb, ((2, 4), (1, 3), (0, 0)), mode=mode)
    for img in (rgb, Image.fromarray(rgb)):
        np.testing.assert_array_equal(np.asarray(F.pad(img, (1, 2, 3, 4), padding_mode=mode)), expected)
    chw = glassgrad.tensor(rgb.transpose(2, 0, 1))
    np.testing.assert_array_equal(F.pad(chw, (1, 2, 3, 4), padding_mode=mode).numpy(), expected.transpose(2, 0, 1))


def test_pad_fill_per_channel(rgb):
    for img in (rgb, Image.fromarray(rgb)):
        out = np.asarray(T.Pad(2, fill=(10, 20, 30))(img))
        assert out.shape == (13, 15, 3)
        assert out[0, 0].tolist() == [10, 20, 30] and out[-1, 7].tolist() == [10, 20, 30]
        np.testing.assert_array_equal(out[2:-2, 2:-2], rgb)


def test_random_crop_same_pixels_for_pil_arrays_and_tensors(rgb):
    crop = T.RandomCrop(8, padding=3, fill=7)
    outs = []
    for img in (rgb, Image.fromarray(rgb), glassgrad.tensor(rgb.transpose(2, 0, 1))):
        glassgrad.manual_seed(5)
        out = crop(img)
        outs.append(out.numpy().transpose(1, 2, 0) if isinstance(out, glassgrad.Tensor) else np.asarray(out))
    assert outs[0].shape == (8, 8, 3)
    np.testing.assert_array_equal(outs[0], outs[1])
    np.testing.assert_array_equal(outs[0], outs[2])
    # The crop is a window of the padded image at the offsets the global generator gives.
    glassgrad.manual_seed(5)
    top = int(glassgrad.random.default_generator.rng.integers(0, 15 - 8 + 1))
    left = int(glassgrad.random.default_generator.rng.integers(0, 17 - 8 + 1))
    padded = np.pad(rgb, ((3, 3), (3, 3), (0, 0)), constant_values=7)
    np.testing.assert_array_equal(outs[0], padded[top : top + 8, left : left + 8])


def test_random_crop_pad_if_needed_and_errors(rgb):
    out = T.RandomCrop((12, 14), pad_if_needed=True)(rgb)
    assert out.shape == (12, 14, 3)
    with pytest.raises(ValueError, match="larger than the"):
        T.RandomCrop(20)(rgb)
    assert np.array_equal(T.RandomCrop((9, 11))(rgb), rgb)


def test_random_horizontal_flip_probability_and_seed(rgb):
    np.testing.assert_array_equal(T.RandomHorizontalFlip(p=1.0)(rgb), rgb[:, ::-1])
    np.testing.assert_array_equal(T.RandomHorizontalFlip(p=0.0)(rgb), rgb)
    pil = T.RandomHorizontalFlip(p=1.0)(Image.fromarray(rgb))
    np.testing.assert_array_equal(np.asarray(pil), rgb[:, ::-1])
    np.testing.assert_array_equal(T.RandomVerticalFlip(p=1.0)(rgb), rgb[::-1])
    glassgrad.manual_seed(0)
    flips = [T.RandomHorizontalFlip()(rgb)[0, 0, 0] != rgb[0, 0, 0] for _ in range(200)]
    glassgrad.manual_seed(0)
    again = [T.RandomHorizontalFlip()(rgb)[0, 0, 0] != rgb[0, 0, 0] for _ in range(200)]
    assert flips == again and 70 < sum(flips) < 130


def test_center_crop_and_padding_when_too_small(rgb):
    np.testing.assert_array_equal(T.CenterCrop(5)(rgb), rgb[2:7, 3:8])
    np.testing.assert_array_equal(np.asarray(T.CenterCrop((5, 4))(Image.fromarray(rgb))), rgb[2:7, 4:8])
    big = T.CenterCrop(13)(rgb)
    assert big.shape == (13, 13, 3) and big[0].sum() == 0
    np.testing.assert_array_equal(big[2:11, 1:12], rgb)


def test_resize_keeps_aspect_and_agrees_between_pil_and_arrays(rgb):
    out = T.Resize(6)(rgb)
    assert out.shape == (6, 7, 3)  # the shorter side (9) becomes 6, the other int(6 * 11 / 9)
    np.testing.assert_array_equal(np.asarray(T.Resize((4, 5))(Image.fromarray(rgb))), T.Resize((4, 5))(rgb))
    t = T.Resize((4, 5))(T.ToTensor()(rgb))
    assert t.shape == (3, 4, 5) and t.dtype == glassgrad.float32
    np.testing.assert_allclose(t.numpy() * 255, T.Resize((4, 5))(rgb).transpose(2, 0, 1), atol=1.0)


def test_random_resized_crop_is_seeded_and_in_bounds(rgb):
    big = np.random.default_rng(1).integers(0, 256, (40, 50, 3), dtype=np.uint8)
    glassgrad.manual_seed(2)
    params = [T.RandomResizedCrop.get_params(big, (0.08, 1.0), (3 / 4, 4 / 3)) for _ in range(50)]
    for top, left, h, w in params:
        assert 0 <= top and top + h <= 40 and 0 <= left and left + w <= 50
        assert 0.08 * 2000 * 0.8 <= h * w <= 2000
    glassgrad.manual_seed(2)
    assert params == [T.RandomResizedCrop.get_params(big, (0.08, 1.0), (3 / 4, 4 / 3)) for _ in range(50)]
    out = T.RandomResizedCrop(16)(Image.fromarray(big))
    assert out.size == (16, 16)
    assert T.RandomResizedCrop((8, 10))(big).shape == (8, 10, 3)


def test_grayscale_arrays_match_pillow(rgb):
    expected = np.asarray(Image.fromarray(rgb).convert("L"))
    grey = T.Grayscale()(rgb)
    assert grey.shape == (9, 11, 1)  # an HWC array stays HWC
    np.testing.assert_array_equal(grey[:, :, 0], expected)
    np.testing.assert_array_equal(np.asarray(T.Grayscale()(Image.fromarray(rgb))), expected)
    three = T.Grayscale(3)(rgb)
    assert three.shape == (9, 11, 3) and np.array_equal(three[:, :, 2], expected)


def test_lambda_compose_and_repr(rgb):
    pipeline = T.Compose([T.Lambda(lambda a: a[:4]), T.ToTensor()])
    assert pipeline(rgb).shape == (3, 4, 11)
    assert "ToTensor()" in repr(pipeline) and "Lambda()" in repr(pipeline)
    with pytest.raises(TypeError, match="callable"):
        T.Lambda(3)


def test_to_pil_image_round_trip(rgb):
    back = T.ToPILImage()(T.ToTensor()(rgb))
    assert back.mode == "RGB" and back.size == (11, 9)
    assert np.abs(np.asarray(back).astype(int) - rgb).max() <= 1
    assert T.PILToTensor()(Image.fromarray(rgb)).dtype == glassgrad.uint8


@pytest.mark.parametrize("channels", [3, 1])
def test_batch_transform_equals_one_image_at_a_time(channels):
    images = np.random.default_rng(3).integers(0, 256, (16, 10, 12, 3), dtype=np.uint8)
    if channels == 1:
        images = images[..., 0]
    mean, std = (0.5,) * channels, (0.2,) * channels
    pipeline = T.Compose(
        [T.RandomCrop(8, padding=2, padding_mode="reflect"), T.RandomHorizontalFlip(), T.RandomVerticalFlip(),
         T.ToTensor(), T.Normalize(mean, std)]
    )  # fmt: skip
    glassgrad.manual_seed(11)
    one_by_one = np.stack([pipeline(Image.fromarray(img)).numpy() for img in images])
    glassgrad.manual_seed(11)
    batched = T.batch_transform(pipeline, images.copy(), owned=True)
    assert batched.shape == (16, channels, 8, 8) and batched.dtype == np.float32
    np.testing.assert_array_equal(batched, one_by_one)
    # The generator is left where the one-image path leaves it.
    after = glassgrad.rand(1).item()
    glassgrad.manual_seed(11)
    for img in images:
        pipeline(img)
    assert glassgrad.rand(1).item() == after


def test_batch_transform_declines_what_it_cannot_batch():
    images = np.zeros((2, 8, 8, 3), np.uint8)
    assert T.batch_transform(T.Compose([T.Resize(4), T.ToTensor()]), images) is None
    assert T.batch_transform(T.Compose([T.RandomCrop(4)]), images) is None  # ends as an image, not a tensor
    assert T.batch_transform(T.ToTensor(), images).shape == (2, 3, 8, 8)
    np.testing.assert_array_equal(
        T.batch_transform(T.Compose([T.CenterCrop(4), T.ToTensor()]), images), np.zeros((2, 3, 4, 4))
    )
