"""Datasets by name and batched random views on the training device."""

from selfsup.data.datasets import (
    DATASETS,
    BatchDataset,
    DataSplits,
    FileImages,
    TensorImages,
    default_root,
    load_dataset,
)
from selfsup.data.loading import ShardedBatchSampler, batch_loader
from selfsup.data.pipeline import View, ViewSpec
from selfsup.data.views import PRESETS, MultiView, Normalise, make_views, normaliser, to_unit_float

__all__ = [
    "DATASETS",
    "PRESETS",
    "BatchDataset",
    "DataSplits",
    "FileImages",
    "MultiView",
    "Normalise",
    "ShardedBatchSampler",
    "TensorImages",
    "View",
    "ViewSpec",
    "batch_loader",
    "default_root",
    "load_dataset",
    "make_views",
    "normaliser",
    "to_unit_float",
]
