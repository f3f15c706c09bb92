"""Quiet by default: Lightning's notes are shown only with ``selfsup -v`` (``SELFSUP_VERBOSE=1``).

What is hidden when quiet: Lightning's info lines (GPU/TPU availability, the logger advert,
"Loading `train_dataloader` ...", "`Trainer.fit` stopped ...", "Restored all states ..."),
the model summary table (its FLOPs column reads 0 for our modules), and Lightning's own hints
that do not apply to a selfsup run (a short epoch vs ``log_every_n_steps``, Lightning's
internal deprecations). Warnings raised by selfsup's own code are fixed where they arise
instead of being hidden. Errors and warnings about the user's data or config still show.
"""

from __future__ import annotations

import logging
import os
import warnings

_LOGGERS = ("lightning.pytorch", "lightning.fabric", "pytorch_lightning", "lightning_fabric")
#: Lightning's hints that say nothing useful about a selfsup run
_HINTS = (
    r"The number of training batches \(\d+\) is smaller than the logging interval",
    r".*`isinstance\(treespec, LeafSpec\)` is deprecated",
    r".*does not have many workers which may be a bottleneck",
    r"The '(train|val)_dataloader' does not have many workers",
    r"Experiment logs directory .* exists and is not empty",
    r"Checkpoint directory .* exists and is not empty",
    r"The dirpath has changed from",
)


def verbose() -> bool:
    """Whether Lightning's chatter is wanted (``selfsup -v`` sets ``SELFSUP_VERBOSE=1``)."""
    return os.environ.get("SELFSUP_VERBOSE", "") not in ("", "0")


def quiet_lightning() -> None:
    """Hide Lightning's info lines and inapplicable hints for this process (unless verbose)."""
    level = logging.INFO if verbose() else logging.WARNING  # INFO: Lightning's own default
    for name in _LOGGERS:
        logging.getLogger(name).setLevel(level)
    if verbose():
        return
    for pattern in _HINTS:
        warnings.filterwarnings("ignore", message=pattern)
