"""What a trial is scored by (the per-epoch report for pruning: ``pruning.py``).

Objectives (all maximised):

* ``knn``, ``linear``: the run's own kNN / linear-probe top-1 on the test split (labels);
* ``rankme``, ``lidar``: RankMe / LiDAR of the backbone output;
* ``alpha_req``: ``-|alpha - 1|`` of the backbone output's covariance spectrum.

The label-free ones are measured on the final encoder, on a fixed probe batch of *training*
images (:func:`selfsup.compare.measures.label_free_measures`): no label is read.
"""

from __future__ import annotations

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
