"""Running training: the data module, callbacks, the run itself and its report.

The names below are imported on first use, so that ``selfsup.train.checkpoints`` and
``selfsup.train.preflight`` (which need torch, not Lightning) stay light: a command checks the
files it is given before Lightning is imported.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from selfsup.train.callbacks import OnlineLinearProbe
    from selfsup.train.datamodule import ImageDataModule
    from selfsup.train.run import evaluate_encoder, last_checkpoint, train
    from selfsup.train.trained import load_method

#: public name -> the module that defines it
_HOMES = {
    "ImageDataModule": "datamodule",
    "OnlineLinearProbe": "callbacks",
    "evaluate_encoder": "run",
    "last_checkpoint": "run",
    "train": "run",
    "load_method": "trained",
}

__all__ = [
    "ImageDataModule",
    "OnlineLinearProbe",
    "evaluate_encoder",
    "last_checkpoint",
    "load_method",
    "train",
]


def __getattr__(name: str):
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f"selfsup.train.{_HOMES[name]}"), name)
