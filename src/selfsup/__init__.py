"""selfsup: self-supervised representation learning, and the theory to measure it.

Layers (dependencies point inwards):

- ``selfsup.losses``, ``selfsup.info``, ``selfsup.dynamics``: pure tensor maths.
- ``selfsup.data``, ``selfsup.nets``: datasets, batched views, backbones and heads.
- ``selfsup.methods``: one thin LightningModule per method.
- ``selfsup.evaluate``: kNN, probes and clustering on frozen features.
- ``selfsup.train``, ``selfsup.cli``, ``selfsup.experiments``: running things.
- ``selfsup.load_encoder(PATH)``: a trained encoder (an exported ``.safetensors`` file, a run
  directory or a checkpoint) as a torch module; ``encoder.preprocess(images)`` readies images.
- ``selfsup.SelfsupError`` and its subclasses (``InputError``, a ``ValueError``, for every bad
  input; ``NonFiniteLossError``): what the CLI prints on one line (``selfsup.errors``).
- ``selfsup.register_method`` / ``register_dataset`` / ``register_backbone`` /
  ``register_views``: add your own, by name, to every command (``selfsup.registry``).
"""

from selfsup.errors import InputError, NonFiniteInputError, NonFiniteLossError, SelfsupError
from selfsup.registry import register_backbone, register_dataset, register_method, register_views
from selfsup.version import __version__

__all__ = [
    "InputError",
    "NonFiniteInputError",
    "NonFiniteLossError",
    "SelfsupError",
    "__version__",
    "load_encoder",
    "register_backbone",
    "register_dataset",
    "register_method",
    "register_views",
]


def __getattr__(name: str):
    # imported on first use: `import selfsup` stays light, and an exported encoder loads
    # with torch and selfsup.nets alone (no Lightning)
    if name == "load_encoder":
        from selfsup.load import load_encoder

        return load_encoder
    raise AttributeError(f"module 'selfsup' has no attribute {name!r}")


def __dir__() -> list[str]:
    # the lazy names too, so that dir(), tab completion and help() list them
    return sorted({*globals(), *__all__})
