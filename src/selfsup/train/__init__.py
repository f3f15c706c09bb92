"""Running training: the data module, callbacks, the run itself and its report."""

from selfsup.train.callbacks import OnlineLinearProbe
from selfsup.train.datamodule import ImageDataModule
from selfsup.train.run import evaluate_encoder, last_checkpoint, train
from selfsup.train.trained import load_method

__all__ = [
    "ImageDataModule",
    "OnlineLinearProbe",
    "evaluate_encoder",
    "last_checkpoint",
    "load_method",
    "train",
]
