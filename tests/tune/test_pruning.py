"""--prune: the per-epoch report reaches Optuna's pruner, which stops the run early; the
trial is told PRUNED, and its run is still an evaluated, ordinary run."""

import json

import optuna
import pytest

from selfsup.cli import main
from selfsup.tune.space import parse_space
from selfsup.tune.storage import open_study
from selfsup.tune.trial import TrialSettings, run_trial

SMALL = [
    "backbone.params.hidden=[32]",
    "method.projector=[32]",
    "data.train_subset=300",
    "data.test_subset=100",
    "data.batch_size=100",
    "eval.linear_probe=false",
    "eval.online_probe=false",
    "trainer.max_epochs=3",
]


@pytest.mark.parametrize("objective", ["knn", "rankme"])
def test_a_pruned_trial_stops_after_its_first_report(objective, tmp_path):
    study = open_study(f"sqlite:///{tmp_path / 'study.db'}", "p")
    study.pruner = optuna.pruners.ThresholdPruner(lower=1e9)  # every report is too low
    space = parse_space([*SMALL, "optim.lr=loguniform(1e-4,1e-2)"])
    run_trial(
        study, TrialSettings("vicreg_digits", space, objective, tmp_path, prune=True, n_samples=64)
    )
    (trial,) = study.get_trials()
    assert trial.state == optuna.trial.TrialState.PRUNED
    assert trial.user_attrs["pruned_at_epoch"] == 1
    assert list(trial.intermediate_values) == [1]
    metrics = json.loads((tmp_path / "trial-000" / "metrics.json").read_text())
    # one epoch trained (300 images / 100 a batch = 3 steps) of 3, then evaluated
    assert metrics["status"] == "finished" and metrics["global_step"] == 3
    assert "knn_top1" in metrics


def test_without_prune_the_same_trial_runs_to_the_end(tmp_path):
    study = open_study(f"sqlite:///{tmp_path / 'study.db'}", "p")
    study.pruner = optuna.pruners.ThresholdPruner(lower=1e9)
    space = parse_space(SMALL)
    run_trial(study, TrialSettings("vicreg_digits", space, "rankme", tmp_path, n_samples=64))
    (trial,) = study.get_trials()
    assert trial.state == optuna.trial.TrialState.COMPLETE
    assert json.loads((tmp_path / "trial-000" / "metrics.json").read_text())["global_step"] == 9
    # --trials 0 runs nothing and writes the report of the study so far
    assert not (tmp_path / "sweep.md").exists()
    assert main(["sweep", "--out", str(tmp_path), "--study", "p", "--trials", "0"]) == 0
    assert len(study.get_trials()) == 1
    assert "Trials: 1 complete." in (tmp_path / "sweep.md").read_text()
