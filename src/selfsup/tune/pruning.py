"""The per-epoch report that lets Optuna prune a trial (``selfsup sweep --prune``)."""

from __future__ import annotations

import math

import lightning as L

from selfsup.compare.measures import label_free_measures, selection_scores
from selfsup.tune.objective import LABEL_FREE, LABELLED


class PruningReport(L.Callback):
    """Reports the objective to an Optuna trial after each epoch; stops training when the
    pruner says so (the run is still evaluated; the trial is then told ``PRUNED``).

    ``knn`` / ``linear`` report the kNN monitor's ``val/knn_top1`` (needs
    ``eval.knn_monitor`` and labels); the label-free objectives measure the current weights on
    the training probe batch. An epoch's value is reported when the next epoch starts (the kNN
    monitor logs it after this callback's epoch end), so the last epoch is never pruned.
    """

    def __init__(self, trial, objective: str, n_samples: int = 512) -> None:
        self.trial, self.objective, self.n_samples = trial, objective, n_samples
        self.pruned_at: int | None = None

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        epoch = trainer.current_epoch  # epochs completed
        if epoch == 0 or self.pruned_at is not None:
            return
        if self.objective in LABELLED:
            value = trainer.callback_metrics.get("val/knn_top1")
            if value is None:
                return
            value = float(value)
        else:
            measures = label_free_measures(pl_module, trainer.datamodule.data, self.n_samples)
            value = selection_scores(measures)[LABEL_FREE[self.objective]]
        if not math.isfinite(value):
            return
        self.trial.report(value, epoch)
        if self.trial.should_prune():
            self.pruned_at = epoch
            trainer.should_stop = True
