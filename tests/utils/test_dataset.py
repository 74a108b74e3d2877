"""Datasets, samplers and collation of glassgrad.utils.data."""

import collections

import numpy as np
import pytest

import glassgrad
from glassgrad.utils.data import (
    BatchSampler,
    ConcatDataset,
    Dataset,
    RandomSampler,
    SequentialSampler,
    Subset,
    SubsetRandomSampler,
    TensorDataset,
    WeightedRandomSampler,
    default_collate,
    default_convert,
    random_split,
)


class Squares(Dataset):
    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        if not 0 <= i < self.n:
            raise IndexError(i)
        return i * i


def test_tensor_dataset_rows_and_shape_check():
    x = glassgrad.arange(12).reshape(6, 2)
    y = glassgrad.arange(6)
    ds = TensorDataset(x, y)
    assert len(ds) == 6
    xi, yi = ds[4]
    assert xi.tolist() == [8, 9] and yi.item() == 4
    rows = ds.__getitems__([5, 0])
    assert [r[1].item() for r in rows] == [5, 0] and rows[0][0].tolist() == [10, 11]
    with pytest.raises(ValueError, match="same first dimension"):
        TensorDataset(x, glassgrad.arange(5))


def test_subset_and_concat():
    sub = Subset(Squares(10), [3, 1, 7])
    assert len(sub) == 3 and [sub[i] for i in range(3)] == [9, 1, 49]
    assert sub.__getitems__([2, 0]) == [49, 9]
    cat = ConcatDataset([Squares(3), Squares(4)])
    assert len(cat) == 7 and cat.cumulative_sizes == [3, 7]
    assert [cat[i] for i in range(7)] == [0, 1, 4, 0, 1, 4, 9]
    assert cat[-1] == 9 and cat[-7] == 0
    with pytest.raises(IndexError):
        cat[7]
    assert len(Squares(2) + Squares(5)) == 7


def test_random_split_by_lengths_is_a_seeded_partition():
    parts = random_split(Squares(10), [3, 7], generator=glassgrad.Generator().manual_seed(4))
    again = random_split(Squares(10), [3, 7], generator=glassgrad.Generator().manual_seed(4))
    assert [len(p) for p in parts] == [3, 7]
    assert sorted(parts[0].indices + parts[1].indices) == list(range(10))
    assert parts[0].indices == again[0].indices
    assert (
        parts[0].indices != random_split(Squares(10), [3, 7], generator=glassgrad.Generator().manual_seed(5))[0].indices
    )


def test_random_split_by_fractions_deals_the_remainder_round_robin():
    parts = random_split(Squares(10), [0.33, 0.33, 0.34], generator=glassgrad.Generator().manual_seed(0))
    # floor gives 3, 3, 3; the one left over goes to the first part (PyTorch's rule).
    assert [len(p) for p in parts] == [4, 3, 3]
    assert [len(p) for p in random_split(Squares(11), [0.5, 0.5])] == [6, 5]
    with pytest.raises(ValueError, match="sum to"):
        random_split(Squares(10), [3, 3])


def test_sequential_random_and_subset_samplers():
    assert list(SequentialSampler(range(4))) == [0, 1, 2, 3]
    a = list(RandomSampler(range(50), generator=glassgrad.Generator().manual_seed(1)))
    b = list(RandomSampler(range(50), generator=glassgrad.Generator().manual_seed(1)))
    assert a == b and sorted(a) == list(range(50)) and a != list(range(50))
    glassgrad.manual_seed(3)
    c = list(RandomSampler(range(50)))
    glassgrad.manual_seed(3)
    assert list(RandomSampler(range(50))) == c
    drawn = list(RandomSampler(range(5), replacement=True, num_samples=40))
    assert len(drawn) == 40 and set(drawn) <= set(range(5))
    longer = list(RandomSampler(range(5), num_samples=12))
    assert len(longer) == 12 and sorted(longer[:5]) == list(range(5)) and sorted(longer[5:10]) == list(range(5))
    assert sorted(SubsetRandomSampler([7, 3, 9])) == [3, 7, 9]


def test_weighted_sampler_never_draws_zero_weights():
    s = WeightedRandomSampler([0.0, 1.0, 0.0, 3.0], 200, generator=glassgrad.Generator().manual_seed(0))
    drawn = np.array(list(s))
    assert len(drawn) == 200 and set(drawn.tolist()) <= {1, 3}
    assert 0.6 < (drawn == 3).mean() < 0.9
    with pytest.raises(ValueError, match="without replacement"):
        WeightedRandomSampler([1.0, 0.0], 2, replacement=False)


def test_batch_sampler_lengths():
    assert list(BatchSampler(range(7), 3, False)) == [[0, 1, 2], [3, 4, 5], [6]]
    assert list(BatchSampler(range(7), 3, True)) == [[0, 1, 2], [3, 4, 5]]
    assert len(BatchSampler(range(7), 3, False)) == 3 and len(BatchSampler(range(7), 3, True)) == 2
    with pytest.raises(ValueError, match="positive integer"):
        BatchSampler(range(7), 0, False)


Pair = collections.namedtuple("Pair", "image label")


def test_default_collate_structures():
    batch = [
        {"x": np.full((2,), k, np.float32), "y": k, "w": 0.5 * k, "name": f"s{k}", "t": glassgrad.ones(3) * k}
        for k in range(3)
    ]
    out = default_collate(batch)
    assert out["x"].shape == (3, 2) and out["x"].dtype == glassgrad.float32
    assert out["y"].tolist() == [0, 1, 2] and out["y"].dtype == glassgrad.int64
    assert out["w"].dtype == glassgrad.float32 and out["w"].tolist() == [0.0, 0.5, 1.0]
    assert out["name"] == ["s0", "s1", "s2"]
    assert out["t"].numpy()[:, 0].tolist() == [0.0, 1.0, 2.0]
    pairs = default_collate([Pair(np.zeros((2, 2)), 1), Pair(np.ones((2, 2)), 0)])
    assert isinstance(pairs, Pair) and pairs.image.shape == (2, 2, 2) and pairs.label.tolist() == [1, 0]
    x, y = default_collate([(glassgrad.zeros(2), True), (glassgrad.ones(2), False)])
    assert x.numpy().tolist() == [[0, 0], [1, 1]] and y.dtype == glassgrad.bool
    with pytest.raises(RuntimeError, match="different shapes"):
        default_collate([np.zeros(2), np.zeros(3)])
    with pytest.raises(TypeError, match="ToTensor"):
        default_collate([object(), object()])


def test_default_convert_keeps_structure():
    out = default_convert({"a": np.arange(3), "b": [np.zeros(1), "s"]})
    assert isinstance(out["a"], glassgrad.Tensor) and out["a"].tolist() == [0, 1, 2]
    assert isinstance(out["b"][0], glassgrad.Tensor) and out["b"][1] == "s"


def test_stack_dataset_positional_and_keyword_forms():
    from glassgrad.utils.data import DataLoader, StackDataset, TensorDataset

    images = glassgrad.arange(12.0).reshape(4, 3)
    labels = [10, 11, 12, 13]
    pair = StackDataset(TensorDataset(images), labels)
    assert len(pair) == 4
    (row,), label = pair[2]
    assert row.tolist() == [6.0, 7.0, 8.0] and label == 12
    named = StackDataset(image=images, label=labels)
    batch = next(iter(DataLoader(named, batch_size=2)))
    assert batch["image"].tolist() == [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]] and batch["label"].tolist() == [10, 11]


def test_stack_dataset_refuses_unequal_lengths_naming_them():
    from glassgrad.utils.data import StackDataset

    with pytest.raises(ValueError, match=r"one length.*\{'a': 2, 'b': 3\}"):
        StackDataset(a=[1, 2], b=[1, 2, 3])


def test_distributed_sampler_is_under_torch_utils_data_too():
    from glassgrad.utils.data import DistributedSampler
    from glassgrad.utils.data.distributed import DistributedSampler as home

    assert DistributedSampler is home
    assert list(DistributedSampler(range(6), num_replicas=2, rank=1, shuffle=False)) == [1, 3, 5]
