"""``selfsup sweep``'s study settings: the objective and the search words are the study's,
stored by its first worker, so later workers and ``--trials 0`` (the report) need neither."""

import optuna
import pytest

from selfsup.errors import SelfsupError
from selfsup.tune.command import study_settings


def test_a_study_keeps_its_objective_and_words_for_later_calls():
    study = optuna.create_study(direction="maximize")
    words = ["optim.lr=loguniform(1e-4,1e-2)", "trainer.max_epochs=3"]
    assert study_settings(study, "s", "knn", words) == ("knn", words)
    # a later worker, or --trials 0 for the report, told neither
    assert study_settings(study, "s", None, []) == ("knn", words)
    with pytest.raises(SelfsupError, match="study 's' maximises knn, not rankme"):
        study_settings(study, "s", "rankme", [])
    fresh = optuna.create_study(direction="maximize")
    assert study_settings(fresh, "t", None, []) == ("rankme", [])  # the default, then stored
    assert study_settings(fresh, "t", None, words) == ("rankme", words)
