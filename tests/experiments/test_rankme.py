"""``selfsup reproduce rankme``: a tiny sweep through the framework, claims from its numbers,
and the docs' table rendered from the committed results."""

import json
from pathlib import Path

from selfsup.experiments.claims import Claim, claims_table
from selfsup.experiments.experiment import Plan, RunContext
from selfsup.experiments.rankme import EXPERIMENT, Params, claims, plan_runs, run_sweep, table_lines
from selfsup.tune.results import SCORES

REPO = Path(__file__).resolve().parents[2]


def test_tiny_sweep_and_its_claims(tmp_path):
    params = Params(
        methods=("vicreg",),
        trials=2,
        epochs=1,
        n_train=200,
        n_test=100,
        n_samples=64,
        widths=("[32]", "[64,64]"),
    )
    (run,) = plan_runs(params, Plan(seeds=[0], data_root=tmp_path))
    ctx = RunContext(tmp_path, tmp_path / "run", tmp_path, 1)
    result = run_sweep(
        {
            **run.args,
            "words": [*run.args["words"], "backbone.params.hidden=[64]", "data.batch_size=100"],
        },
        ctx,
    )
    assert result["counts"] == {"COMPLETE": 2}
    assert sorted(p.name for p in (tmp_path / "run").glob("trial-*")) == ["trial-000", "trial-001"]
    summary = EXPERIMENT.summarise(params, [type("F", (), {"run": run, "result": result})()])
    stated = claims(summary, params)
    regret = summary["vicreg"]["picks"]["rankme"]["regret"]
    assert stated[0].ours == {"vicreg regret": regret}
    assert stated[0].holds == (regret <= 0.01)
    assert (tmp_path / "run" / "sweep.json").exists()


def test_claims_follow_the_numbers():
    def summary(regret, rho_rankme, rho_lidar, rho_alpha):
        pick = {"trial": 1, "knn_top1": 0.9, "regret": regret}
        return {
            "oracle": {"trial": 0, "knn_top1": 0.9 + regret},
            "picks": {"rankme": pick, "lidar": pick, "alpha_req_score": pick},
            "spearman_with_knn": {
                "rankme": rho_rankme,
                "lidar": rho_lidar,
                "alpha_req_score": rho_alpha,
            },
        }

    good = claims({"vicreg": summary(0.005, 0.5, 0.7, 0.2)}, Params())
    assert [c.holds for c in good] == [True, True, True, True]
    bad = claims(
        {"vicreg": summary(0.005, 0.5, 0.7, 0.2), "simclr": summary(0.02, -0.1, -0.3, -0.2)},
        Params(),
    )
    assert [c.holds for c in bad] == [False, False, False, False]
    undecided = claims({"vicreg": summary(0.0, None, 0.3, None)}, Params())
    assert [c.holds for c in undecided] == [True, None, None, None]


def test_docs_table_is_rendered_from_the_committed_results():
    results = json.loads((REPO / "docs" / "data" / "rankme_quick.json").read_text())
    docs = (REPO / "docs" / "tuning.md").read_text()
    assert "\n".join(table_lines(results["summary"], SCORES)) in docs
    assert "\n".join(claims_table([Claim(**c) for c in results["claims"]])) in docs
