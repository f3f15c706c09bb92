import pytest
import torch

from selfsup.data import ShardedBatchSampler, load_dataset, make_views, to_unit_float
from selfsup.errors import SelfsupError


def test_digits_split_is_stratified_and_uint8():
    data = load_dataset("digits")
    assert len(data.train) == 1437 and len(data.test) == 360
    x, y = data.train.get_batch(torch.arange(10))
    assert x.dtype == torch.uint8 and x.shape == (10, 1, 8, 8)
    assert int(x.max()) > 200  # digits' 0..16 scaled to 0..255
    counts = torch.bincount(data.test.labels, minlength=10)
    assert counts.min() >= 34 and counts.max() <= 37


def test_sharded_sampler_ranks_partition_the_global_batch():
    single = list(ShardedBatchSampler(100, 20, seed=3))
    ranks = [list(ShardedBatchSampler(100, 10, seed=3, rank=r, world_size=2)) for r in (0, 1)]
    assert len(single) == len(ranks[0]) == len(ranks[1]) == 5
    for full, a, b in zip(single, *ranks, strict=True):
        assert full == a + b


def test_sampler_epoch_changes_order_and_is_reproducible():
    s = ShardedBatchSampler(50, 10, seed=1)
    first = list(s)
    s.set_epoch(1)
    second = list(s)
    s.set_epoch(0)
    assert list(s) == first and second != first
    assert sorted(i for b in first for i in b) == list(range(50))


def test_sampler_rejects_a_batch_larger_than_the_dataset():
    with pytest.raises(ValueError, match="fewer than one global batch"):
        ShardedBatchSampler(10, 8, world_size=2)


@pytest.mark.parametrize(
    "preset,size,channels",
    [("mnist", 28, 1), ("vicreg", 32, 3), ("simclr", 32, 3), ("digits", 8, 1)],
)
def test_views_draw_parameters_per_sample(preset, size, channels):
    torch.manual_seed(0)
    image = torch.rand(1, channels, size, size)
    batch = image.repeat(16, 1, 1, 1)  # the same image 16 times
    view_a, view_b = make_views(preset, size)(batch)
    assert view_a.shape == batch.shape and view_a.min() >= 0 and view_a.max() <= 1
    # per-sample parameters: copies of one image get different views
    per_sample = (view_a - view_a[:1]).flatten(1).abs().sum(1)
    assert (per_sample[1:] > 1e-3).float().mean() > 0.5
    assert not torch.allclose(view_a, view_b)


def test_unknown_names_list_the_valid_ones():
    with pytest.raises(SelfsupError, match="valid: .*digits.*mnist"):
        load_dataset("imagenet-22k")
    with pytest.raises(SelfsupError, match="valid: .*mnist"):
        make_views("fancy", 28)


def test_missing_dataset_says_where_it_looked(tmp_path):
    with pytest.raises(SelfsupError, match=f"not found under '{tmp_path}'.*data.download=true"):
        load_dataset("cifar10", root=tmp_path)


def test_missing_dataset_message_is_true_to_the_situation(tmp_path, monkeypatch):
    from selfsup.data.datasets import DatasetNotFoundError, _missing

    # the path as typed (made absolute), not the target of a symlink
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    with pytest.raises(DatasetNotFoundError, match=f"not found under '{tmp_path / 'link'}'"):
        load_dataset("mnist", root=tmp_path / "link")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DatasetNotFoundError, match=f"under '{tmp_path / 'rel'}'"):
        load_dataset("mnist", root="rel")
    # torchvision's advice names its own argument; a failed download advises no download
    err = _missing("MNIST", tmp_path, RuntimeError("Dataset not found. You can use download=True"),
                   download=True)  # fmt: skip
    assert "download=True" not in str(err) and "data.download=true" not in str(err)
    assert "the download failed" in str(err)
    advised = err.advise("pass --data-root DIR")
    assert advised.endswith("; pass --data-root DIR") and str(tmp_path) in advised


def test_mnist_from_shared_data(mnist_root):
    data = load_dataset("mnist", root=mnist_root)
    assert len(data.train) == 60000 and len(data.test) == 10000
    x, y = data.test.get_batch(torch.tensor([0, 1]))
    assert x.shape == (2, 1, 28, 28) and y.tolist() == [7, 2]  # the well-known first labels
    assert to_unit_float(x).max() <= 1.0


def test_subsets_are_fixed_and_sized():
    data = load_dataset("digits")
    small = data.subset(100, 50)
    again = data.subset(100, 50)
    assert len(small.train) == 100 and len(small.test) == 50 and small.ssl_train is small.train
    assert torch.equal(small.train.labels, again.train.labels)
    assert len(data.subset(0, 50).train) == len(data.train)
