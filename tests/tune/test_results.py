"""The sweep's summary: the oracle, each measure's pick and regret, Spearman with kNN."""

import pytest

from selfsup.tune.results import label_free_choice


def _trial(number, knn, rankme, lidar):
    return {
        "number": number,
        "knn_top1": knn,
        "state": "COMPLETE",
        "measures": {"rankme": rankme, "lidar": lidar, "alpha_req_score": None},
    }


def test_picks_regret_and_rank_correlation_by_hand():
    trials = [
        _trial(0, 0.90, 10.0, 3.0),
        _trial(1, 0.95, 30.0, 1.0),
        _trial(2, 0.93, 40.0, 2.0),
        _trial(3, 0.80, 20.0, 4.0),
    ]
    got = label_free_choice(trials)
    assert got["oracle"] == {"trial": 1, "knn_top1": 0.95}
    # RankMe ranks trial 2 first (40): its kNN 0.93, regret 0.95 - 0.93
    assert got["picks"]["rankme"]["trial"] == 2
    assert got["picks"]["rankme"]["regret"] == pytest.approx(0.02)
    # LiDAR picks trial 3 (4.0): regret 0.15
    assert got["picks"]["lidar"] == {"trial": 3, "knn_top1": 0.80, "regret": pytest.approx(0.15)}
    # ranks of kNN (2, 4, 3, 1); RankMe (1, 3, 4, 2): d^2 = 1+1+1+1 = 4 -> 1 - 24/60 = 0.6
    assert got["spearman_with_knn"]["rankme"] == pytest.approx(0.6)
    # LiDAR (3, 1, 2, 4): d^2 = 1+9+1+9 = 20 -> 1 - 120/60 = -1
    assert got["spearman_with_knn"]["lidar"] == pytest.approx(-1.0)
    assert "alpha_req_score" not in got["picks"]


def test_without_labels_there_is_no_oracle():
    trials = [_trial(0, None, 10.0, 3.0), _trial(1, None, 30.0, 1.0)]
    assert label_free_choice(trials) == {"oracle": None, "picks": {}, "spearman_with_knn": {}}
