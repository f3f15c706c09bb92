"""What a trial is scored by, and the per-epoch report that lets Optuna prune it.

Objectives (all maximised):

* ``knn``, ``linear``: the run's own kNN / linear-probe top-1 on the test split (labels);
* ``rankme``, ``lidar``: RankMe / LiDAR of the backbone output;
* ``alpha_req``: ``-|alpha - 1|`` of the backbone output's covariance spectrum.

The label-free ones are measured on the final encoder, on a fixed probe batch of *training*
images (:func:`selfsup.compare.measures.label_free_measures`): no label is read.
"""

from __future__ import annotations

import math

import lightning as L

from selfsup.compare.measures import label_free_measures, selection_scores
from selfsup.errors import SelfsupError

LABELLED = {"knn": "knn_top1", "linear": "linear_top1"}
LABEL_FREE = {"rankme": "rankme", "lidar": "lidar", "alpha_req": "alpha_req_score"}
OBJECTIVES = (*LABELLED, *LABEL_FREE)


def objective_value(objective: str, metrics: dict, scores: dict[str, float]) -> float:
    """The trial's value: from ``metrics.json`` (labelled) or the label-free ``scores``."""
    if objective in LABELLED:
        value = metrics.get(LABELLED[objective])
        if value is None:
            why = metrics.get("eval_skipped", "the run has no such metric")
            raise SelfsupError(
                f"objective '{objective}' needs labels: {why}; use rankme, lidar or alpha_req"
            )
        return float(value)
    return float(scores[LABEL_FREE[objective]])


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
