"""``selfsup reproduce rankme``: tiny per-seed sweeps through the framework, claims decided
across seeds, and the docs' tables rendered from the committed results."""

import json
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from selfsup.experiments.claims import VERDICTS, Claim, verdict
from selfsup.experiments.experiment import Finished, Plan, RunContext
from selfsup.experiments.rankme import EXPERIMENT, Params, claims, plan_runs, run_sweep
from selfsup.experiments.rankme_claims import table_lines
from selfsup.tune.results import SCORES
from tests.docs.test_site import docs_tables

REPO = Path(__file__).resolve().parents[2]
TINY = Params(
    methods=("vicreg",),
    trials=3,
    epochs=1,
    n_train=200,
    n_test=100,
    n_samples=64,
    widths=("[32]", "[64,64]"),
)


def test_tiny_sweeps_per_seed_and_their_claims(tmp_path):
    runs = plan_runs(TINY, Plan(seeds=[0, 1], data_root=tmp_path))
    assert [r.key for r in runs] == ["digits-vicreg-s0", "digits-vicreg-s1"]
    finished = []
    for run in runs:
        assert f"seed={run.args['seed']}" in run.args["words"]
        ctx = RunContext(tmp_path, tmp_path / run.key, tmp_path, 1)
        words = [*run.args["words"], "backbone.params.hidden=[64]", "data.batch_size=50"]
        result = run_sweep({**run.args, "words": words}, ctx)
        assert result["counts"] == {"COMPLETE": 3}
        finished.append(Finished(run, result, 0.0))
    # each seed's trials trained with that seed
    for seed in (0, 1):
        config = (tmp_path / f"digits-vicreg-s{seed}" / "trial-000" / "config.yaml").read_text()
        assert f"seed: {seed}\n" in config
    summary = EXPERIMENT.summarise(TINY, finished)
    assert summary["vicreg"]["seeds"] == [0, 1]
    stated = claims(summary, TINY)
    assert len(stated) == 4
    for c in stated:
        record = c.to_dict()
        assert {"effect", "interval", "seeds", "verdict"} <= set(record)
        assert c.verdict in VERDICTS and not c.deterministic
        # a seed whose trials tie (a constant measure: no Spearman) is left out of the interval
        assert c.seeds in (0, 1, 2)
        if c.seeds == 2:
            low, high = c.interval
            assert low <= c.effect <= high and c.verdict != "single seed"
        else:
            assert c.interval is None
            assert c.verdict == ("single seed" if c.seeds == 1 else "inconclusive")
    assert stated[0].seeds == 2  # every sweep has a regret
    regrets = [s["picks"]["rankme"]["regret"] for s in summary["vicreg"]["sweeps"]]
    assert stated[0].effect == pytest.approx(100 * np.mean(regrets))
    rho = [
        {k: s["spearman_with_knn"][k] for k in ("rankme", "lidar")}
        for s in summary["vicreg"]["sweeps"]
    ]
    if all(r["rankme"] is not None and r["lidar"] is not None for r in rho):
        gap = np.mean([r["lidar"] - r["rankme"] for r in rho])
        assert stated[2].effect == pytest.approx(gap)


def _sweep(regret, rho_rankme, rho_lidar, rho_alpha):
    pick = {"trial": 1, "knn_top1": 0.9, "regret": regret}
    return {
        "counts": {"COMPLETE": 16},
        "oracle": {"trial": 0, "knn_top1": 0.9 + regret},
        "picks": {"rankme": pick, "lidar": pick, "alpha_req_score": pick},
        "spearman_with_knn": {
            "rankme": rho_rankme,
            "lidar": rho_lidar,
            "alpha_req_score": rho_alpha,
        },
    }


def _method(*sweeps):
    return {"seeds": list(range(len(sweeps))), "sweeps": list(sweeps)}


def _t_interval(values):
    values = np.asarray(values, dtype=np.float64)
    return stats.t.interval(0.95, len(values) - 1, loc=values.mean(), scale=stats.sem(values))


def test_clear_claims_hold_with_their_intervals():
    regrets = [0.002, 0.004, 0.003]
    lidar, rankme = [0.7, 0.8, 0.6], [0.3, 0.35, 0.32]
    sweeps = [
        _sweep(r, rk, li, 0.5 + i / 10)
        for i, (r, rk, li) in enumerate(zip(regrets, rankme, lidar, strict=True))
    ]
    stated = claims({"vicreg": _method(*sweeps)}, Params())
    assert [c.verdict for c in stated] == ["holds"] * 4
    assert stated[0].effect == pytest.approx(0.3) and stated[0].unit == "pts"
    assert stated[0].interval == pytest.approx(_t_interval([100 * r for r in regrets]))
    assert stated[2].interval == pytest.approx(
        _t_interval([li - rk for li, rk in zip(lidar, rankme, strict=True)])
    )
    assert stated[2].interval_method.startswith("paired")


def test_clear_losses_straddles_and_single_seeds():
    good = _method(*(_sweep(0.003, 0.5, 0.7, 0.2) for _ in range(2)), _sweep(0.004, 0.6, 0.75, 0.3))
    bad = _method(
        _sweep(0.03, -0.5, -0.7, -0.4),
        _sweep(0.04, -0.4, -0.6, -0.5),
        _sweep(0.05, -0.6, -0.9, -0.3),
    )
    both = claims({"vicreg": good, "simclr": bad}, Params())
    assert [c.verdict for c in both] == ["does not hold"] * 4
    assert both[0].parts[0]["name"] == "simclr"
    # regrets 0.2 and 1.8 points: the interval straddles the 1-point bound
    straddle = claims(
        {"vicreg": _method(_sweep(0.002, 0.1, 0.2, 0.1), _sweep(0.018, -0.1, 0.1, -0.2))}, Params()
    )
    assert straddle[0].verdict == "inconclusive"
    low, high = straddle[0].interval
    assert low < 1.0 < high
    single = claims({"vicreg": _method(_sweep(0.005, 0.5, 0.7, 0.2))}, Params())
    assert [c.verdict for c in single] == ["single seed"] * 4
    assert all(c.interval is None and c.leaning == "holds" for c in single)
    missing = claims(
        {"vicreg": _method(_sweep(0.0, None, 0.3, None), _sweep(0.0, None, 0.2, None))}, Params()
    )
    assert [c.verdict for c in missing] == ["holds", "inconclusive", "inconclusive", "inconclusive"]


def _table_rows(lines: list[str]) -> list[str]:
    """The header and data rows of a markdown table, without its separator row."""
    return [line for line in lines if line.startswith("|") and set(line) - set("|- ")]


def test_docs_tables_are_rendered_from_the_committed_results():
    results = json.loads((REPO / "docs" / "data" / "rankme_quick.json").read_text())
    page = docs_tables.expand((REPO / "docs" / "tuning.md").read_text(), root=REPO)
    page_lines = page.splitlines()
    assert len(results["seeds"]) >= 3
    measures = _table_rows(table_lines(results["summary"], SCORES))
    stated = [Claim.from_dict(c) for c in results["claims"]]
    assert all(c.seeds >= 3 and c.verdict in VERDICTS for c in stated)
    assert len(measures) == 1 + 6 * 2
    # the page's per-measure table, as the docs site renders it, holds every row; its verdict
    # table is checked against the same file by tests/docs/test_claims_record.py
    assert [row for row in measures if row not in page_lines] == []
    assert all(f"| {c.claim} | {verdict(c)} |" in page for c in stated)
