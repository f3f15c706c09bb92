"""A run's data from its config's ``data`` section: the one place every command reads it."""

from __future__ import annotations

from omegaconf import DictConfig

from selfsup.config import check_data_files, to_dict
from selfsup.data.datasets import load_dataset
from selfsup.data.images import DataSplits


def load_data(config: DictConfig) -> DataSplits:
    """The train / test splits ``config.data`` names: the dataset with its ``path`` /
    ``test_path`` and ``params``, cut to ``train_subset`` / ``test_subset`` (a fixed seed, so
    every command of a run sees the same images).

    Raises:
        SelfsupError: the data section breaks a rule (e.g. a folder run without ``data.path``)
            or the files are missing or unreadable.
    """
    d = config.data
    check_data_files(d)  # a stored config is checked again: it may predate the rule
    files = {k: d.get(k) for k in ("path", "test_path") if d.get(k)}
    data = load_dataset(d.name, d.root, d.download, **files, **to_dict(d.params))
    if d.train_subset or d.test_subset:
        data = data.subset(d.train_subset, d.test_subset, seed=0)
    return data
