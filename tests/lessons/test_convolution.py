import numpy as np
from PIL import Image

from glassgrad.lessons import convolution as conv


def test_output_sizes_values_and_pooling(tmp_path):
    result = conv.run(out=tmp_path)
    assert {k: v.shape for k, v in result.outputs.items()} == {
        "stride 1": (3, 3),
        "stride 2": (2, 2),
        "zero padding 1, stride 1": (5, 5),
    }
    np.testing.assert_array_equal(result.outputs["stride 1"], [[4, 3, 4], [2, 4, 3], [2, 3, 4]])
    np.testing.assert_array_equal(result.outputs["stride 2"], [[4, 4], [2, 4]])
    assert all(result.matches_conv2d.values())
    np.testing.assert_array_equal(result.pooled, [[6, 8], [3, 4]])
    assert result.rgb_output_shape == (6, 28, 28)
    assert conv.output_size(32, 5, 1, 0) == 28
    frames = {}
    for path in result.figures:
        with Image.open(path) as image:
            frames[path.rsplit("/", 1)[-1]] = image.n_frames
    assert frames == {
        "conv_stride_1.gif": 10,
        "conv_stride_2.gif": 5,
        "conv_zero_padding_1_stride_1.gif": 26,
        "max_pool.gif": 5,
    }
