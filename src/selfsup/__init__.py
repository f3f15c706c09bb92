"""selfsup: self-supervised representation learning, and the theory to measure it.

Layers (dependencies point inwards):

- ``selfsup.losses``, ``selfsup.info``, ``selfsup.dynamics``: pure tensor maths.
- ``selfsup.data``, ``selfsup.nets``: datasets, batched views, backbones and heads.
- ``selfsup.methods``: one thin LightningModule per method.
- ``selfsup.evaluate``: kNN, probes and clustering on frozen features.
- ``selfsup.train``, ``selfsup.cli``, ``selfsup.experiments``: running things.
"""

__version__ = "0.1.0"
