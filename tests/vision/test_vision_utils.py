"""glassgrad.vision.utils against torchvision's documented behaviour, on small hand-made cases."""

import numpy as np
import pytest
from PIL import Image

import glassgrad
from glassgrad.vision.utils import draw_bounding_boxes, make_grid, save_image


def _batch(values):
    return glassgrad.tensor(np.asarray(values, dtype=np.float32))


def test_grid_layout_padding_and_pad_value():
    # Five 2x2 one-channel images, three per row: two rows; each cell is 2 + padding 1 wide.
    images = _batch(np.arange(1, 6, dtype=np.float32).reshape(5, 1, 1, 1) * np.ones((5, 1, 2, 2)))
    grid = make_grid(images, nrow=3, padding=1, pad_value=-1.0).numpy()
    assert grid.shape == (3, 2 * 3 + 1, 3 * 3 + 1)
    np.testing.assert_array_equal(grid[0], grid[2])  # grey became three equal channels
    expected = np.full((7, 10), -1.0)
    for k in range(5):
        y, x = divmod(k, 3)
        expected[1 + 3 * y : 3 + 3 * y, 1 + 3 * x : 3 + 3 * x] = k + 1
    np.testing.assert_array_equal(grid[0], expected)  # the sixth cell stays padding


def test_default_nrow_8_and_padding_2():
    grid = make_grid(glassgrad.zeros(10, 3, 4, 5))
    assert grid.shape == (3, 2 * 6 + 2, 8 * 7 + 2)
    assert make_grid(glassgrad.zeros(3, 3, 4, 5)).shape == (3, 8, 3 * 7 + 2)  # fewer than nrow: one row


def test_a_single_image_comes_back_unpadded_and_a_list_is_stacked():
    image = glassgrad.rand(3, 4, 5)
    np.testing.assert_array_equal(make_grid(image).numpy(), image.numpy())
    np.testing.assert_array_equal(make_grid(glassgrad.ones(4, 5)).numpy(), np.ones((3, 4, 5)))
    grid = make_grid([glassgrad.ones(3, 2, 2), glassgrad.zeros(3, 2, 2)], padding=0)
    np.testing.assert_array_equal(grid.numpy()[0], [[1, 1, 0, 0], [1, 1, 0, 0]])


def test_normalize_over_the_batch_or_each_image_or_a_value_range():
    images = _batch([[[[0.0, 2.0]]], [[[4.0, 8.0]]]])  # (2, 1, 1, 2)
    whole = make_grid(images, normalize=True, padding=0).numpy()[0]
    np.testing.assert_allclose(whole, [[0.0, 0.25, 0.5, 1.0]])
    each = make_grid(images, normalize=True, scale_each=True, padding=0).numpy()[0]
    np.testing.assert_allclose(each, [[0.0, 1.0, 0.0, 1.0]])
    ranged = make_grid(images, normalize=True, value_range=(0.0, 4.0), padding=0).numpy()[0]
    np.testing.assert_allclose(ranged, [[0.0, 0.5, 1.0, 1.0]])  # clamped to the range first
    assert images.numpy()[1, 0, 0, 1] == 8.0  # the input is not changed
    with pytest.raises(TypeError, match="value_range has to be a tuple"):
        make_grid(images, normalize=True, value_range=[0, 1])


def test_save_image_writes_rounded_pixels(tmp_path):
    images = _batch(np.full((2, 3, 2, 2), 0.5))
    path = tmp_path / "grid.png"
    save_image(images, path, nrow=2, padding=1, pad_value=1.0)
    pixels = np.asarray(Image.open(path))
    assert pixels.shape == (4, 7, 3)  # one row of two: (2 + 1) + 1 high, 2 * (2 + 1) + 1 wide
    assert pixels[1, 1, 0] == 128 and pixels[0, 0, 0] == 255  # 0.5 * 255 + 0.5 rounds to 128
    assert [p.name for p in tmp_path.iterdir()] == ["grid.png"]  # no temporary left behind
    with pytest.raises(FileNotFoundError, match="does not exist"):
        save_image(images, tmp_path / "missing" / "x.png")


def test_draw_bounding_boxes_outline_fill_and_checks():
    image = glassgrad.zeros(3, 8, 8, dtype=glassgrad.uint8)
    out = draw_bounding_boxes(image, glassgrad.tensor([[1, 1, 4, 4]]), colors="red").numpy()
    assert out.dtype == np.uint8 and out.shape == (3, 8, 8)
    red = np.zeros((8, 8), np.uint8)
    red[1, 1:5] = red[4, 1:5] = red[1:5, 1] = red[1:5, 4] = 255
    np.testing.assert_array_equal(out[0], red)
    assert not out[1].any() and not image.numpy().any()  # green untouched; the input is not drawn on
    filled = draw_bounding_boxes(image, glassgrad.tensor([[1, 1, 4, 4]]), colors=(0, 0, 255), fill=True).numpy()
    assert filled[2, 2, 2] == 100 and filled[2, 0, 0] == 0  # alpha 100 over black
    grey = draw_bounding_boxes(glassgrad.zeros(1, 8, 8, dtype=glassgrad.uint8), glassgrad.tensor([[0, 0, 2, 2]]))
    assert grey.shape == (3, 8, 8)
    with pytest.raises(ValueError, match=r"\(xmin, ymin, xmax, ymax\) format"):
        draw_bounding_boxes(image, glassgrad.tensor([[4, 1, 1, 4]]))
    with pytest.raises(ValueError, match="not batches"):
        draw_bounding_boxes(glassgrad.zeros(1, 3, 8, 8, dtype=glassgrad.uint8), glassgrad.tensor([[0, 0, 1, 1]]))
    with pytest.raises(ValueError, match="one label per box"):
        draw_bounding_boxes(image, glassgrad.tensor([[0, 0, 1, 1]]), labels=["a", "b"])


def test_reachable_as_torchvision_utils_attribute():
    import glassgrad.vision as torchvision

    assert torchvision.utils.make_grid is make_grid
