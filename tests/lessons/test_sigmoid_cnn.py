import os

import pytest

from glassgrad.lessons import sigmoid_cnn


def test_sigmoid_cnn_lesson_on_digits(tmp_path):
    result = sigmoid_cnn.run(out=tmp_path, dataset="digits", limit=320, epochs=1, test_limit=200, batch_size=32)
    sigmoid, fixed = sigmoid_cnn.NETWORKS
    assert result.train_size == 320 and result.test_size == 200
    assert result.accuracy[sigmoid][0] <= 20  # chance is 10%: the seed's network does not learn
    assert result.accuracy[fixed][0] >= result.accuracy[sigmoid][0] + 10
    assert result.findings[sigmoid][0].kind == "vanishing-gradients" and result.findings[fixed] == []
    text = "\n".join(sigmoid_cnn.describe(result))
    assert "no problems found" in text and "Vanishing gradients" in text
    assert [os.path.basename(p) for p in result.figures] == [
        "accuracy.png",
        "gradient_norms_sigmoid.png",
        "gradient_norms_fixed.png",
    ]


def test_cifar10_subset_is_balanced_and_normalised():
    if not os.environ.get("GLASSGRAD_DATA"):
        pytest.skip("GLASSGRAD_DATA not set: the CIFAR-10 lesson data test needs cifar10-jpeg.tar.gz")
    x, y, xt, yt, channels, size = sigmoid_cnn.load("cifar10", limit=500, test_limit=100, seed=0)
    assert x.shape == (500, 3, 32, 32) and xt.shape == (100, 3, 32, 32) and (channels, size) == (3, 32)
    assert x.dtype.name == "float32" and abs(float(x.mean())) < 0.3
    assert min(list(y).count(c) for c in range(10)) >= 25  # a random subset, not the first class folder


def test_unknown_dataset_names_the_choices(tmp_path):
    with pytest.raises(ValueError, match="use cifar10 or digits"):
        sigmoid_cnn.run(out=tmp_path, dataset="mnist")
