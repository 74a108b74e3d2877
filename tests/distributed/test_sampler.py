import pytest

from glassgrad.utils.data.distributed import DistributedSampler


@pytest.mark.parametrize(
    "n,replicas,shuffle,drop_last",
    [(10, 3, True, False), (10, 3, True, True), (1797, 2, True, False), (7, 4, False, False), (8, 2, False, True)],
)
def test_distributed_sampler_matches_torch(n, replicas, shuffle, drop_last):
    tdata = pytest.importorskip("torch.utils.data.distributed")
    data = list(range(n))
    for epoch in (0, 3):
        for rank in range(replicas):
            ours = DistributedSampler(data, replicas, rank, shuffle=shuffle, seed=5, drop_last=drop_last)
            theirs = tdata.DistributedSampler(data, replicas, rank, shuffle=shuffle, seed=5, drop_last=drop_last)
            ours.set_epoch(epoch)
            theirs.set_epoch(epoch)
            assert list(ours) == list(theirs)
            assert len(ours) == len(theirs)


def test_shares_cover_the_dataset_without_torch():
    data = list(range(11))
    shares = [list(DistributedSampler(data, 3, r, seed=1)) for r in range(3)]
    assert all(len(s) == 4 for s in shares)
    assert set(sum(shares, [])) == set(data)


def test_bad_rank_names_the_value():
    with pytest.raises(ValueError, match="rank=3"):
        DistributedSampler([1, 2], num_replicas=2, rank=3)
