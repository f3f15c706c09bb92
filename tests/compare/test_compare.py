"""``selfsup compare``: three runs of different methods, their table and figures; runs on
different datasets refused in one line."""

import csv
import json
from pathlib import Path

import pytest

from selfsup.cli import main
from selfsup.compare.runs import RunRecord
from selfsup.compare.table import correlations, differing_settings, markdown, rows, spearman
from selfsup.config import load_config
from selfsup.train import train
from tests.conftest import TINY

SMALL = [
    *TINY,
    "data.train_subset=300",
    "data.test_subset=150",
    "eval.linear_probe=false",
    "trainer.max_epochs=1",
]


@pytest.fixture(scope="module")
def three_runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    for method in ("vicreg", "simclr", "barlow_twins"):
        lens = ["lens.every_n_epochs=1", "lens.n_samples=64", "lens.lidar_samples=8"]
        overrides = [f"method.name={method}", *SMALL, *(lens if method == "vicreg" else [])]
        train(load_config(None, overrides), root / method)
    return root


def test_three_methods_compared(three_runs, tmp_path, capsys):
    runs = [str(three_runs / m) for m in ("vicreg", "simclr", "barlow_twins")]
    out = tmp_path / "cmp"
    assert main(["compare", *runs, "--out", str(out), "--n-samples", "64"]) == 0
    result = json.loads((out / "compare.json").read_text())
    table = result["table"]
    assert [r["method"] for r in table] == ["vicreg", "simclr", "barlow_twins"]
    assert "method.name" in result["differing_settings"]
    assert not any(k.startswith("lens.") for k in result["differing_settings"])
    for row in table:
        assert 0 <= row["knn_top1"] <= 1 and row["rankme"] > 1 and row["lidar"] > 0
        assert row["measured_on"] == "final encoder, 64 training images"
    with open(out / "compare.csv") as f:
        assert len(list(csv.DictReader(f))) == 3
    knn = [r["knn_top1"] for r in table]
    rankme = [r["rankme"] for r in table]
    assert result["spearman_with_knn"]["rankme"] == pytest.approx(
        spearman(rankme, knn), nan_ok=True
    )
    for name in ("accuracy.png", "lens_curves.png", "measures_vs_knn.png"):
        assert (out / name).stat().st_size > 1000, name
    md = (out / "compare.md").read_text()
    assert all(f"| {m} | {m} |" in md for m in ("vicreg", "simclr", "barlow_twins"))
    # --from-lens: the vicreg run's measures from its lens.csv
    assert (
        main(
            ["compare", *runs, "--out", str(tmp_path / "lens"), "--n-samples", "64", "--from-lens"]
        )
        == 0
    )
    rows = json.loads((tmp_path / "lens" / "compare.json").read_text())["table"]
    assert rows[0]["measured_on"].startswith("lens, epoch 1")


def test_different_datasets_are_refused(three_runs, tmp_path, capsys):
    other = tmp_path / "mnist-run"
    other.mkdir()
    (other / "config.yaml").write_text("data:\n  name: mnist\nmethod:\n  name: vicreg\n")
    (other / "metrics.json").write_text('{"dataset": "mnist"}')
    code = main(["compare", str(three_runs / "vicreg"), str(other), "--out", str(tmp_path / "x")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "different datasets (digits, mnist)" in err
    assert not (tmp_path / "x").exists()


def test_spearman_against_a_hand_computed_case():
    # ranks (1, 2, 3, 4) vs (2, 1, 4, 3): d^2 = 4, rho = 1 - 6 * 4 / (4 * 15) = 0.6
    assert spearman([1.0, 2.0, 3.0, 4.0], [20.0, 10.0, 40.0, 30.0]) == pytest.approx(0.6)
    assert spearman([1.0, float("nan"), 3.0, 2.0], [1.0, 5.0, 3.0, 2.0]) == pytest.approx(1.0)


def test_two_runs_on_the_users_own_tensors(tmp_path, monkeypatch):
    """Runs trained on an .npz file named relative to where they were trained: compare reads
    each run's own data section from another working directory, with $SELFSUP_DATA elsewhere."""
    import numpy as np
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = (digits.images * 16).clip(0, 255).astype(np.uint8)
    base = tmp_path / "own"
    base.mkdir()
    np.savez(base / "train.npz", x=x[:200], y=digits.target[:200])
    np.savez(base / "test.npz", x=x[1500:1560], y=digits.target[1500:1560])
    monkeypatch.chdir(base)
    for method in ("vicreg", "simclr"):
        argv = ["train", "--config", "vicreg_digits", "--run-dir", str(base / method)]
        argv += ["data.name=tensors"]
        argv += ["data.path=train.npz", "data.test_path=test.npz", f"method.name={method}"]
        argv += ["backbone.params.hidden=[32,16]", "method.projector=[32,32]"]
        argv += ["data.batch_size=50", "trainer.max_epochs=1", "eval.linear_probe=false"]
        argv += ["trainer.enable_progress_bar=false", "trainer.enable_model_summary=false"]
        assert main(argv) == 0
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    monkeypatch.setenv("SELFSUP_DATA", str(elsewhere))
    runs = [str(base / "vicreg"), str(base / "simclr")]
    # a run without the final evaluation's feature_dim (unlabelled data): measured instead
    metrics = json.loads((base / "simclr" / "metrics.json").read_text())
    del metrics["feature_dim"]
    (base / "simclr" / "metrics.json").write_text(json.dumps(metrics))
    assert main(["compare", *runs, "--out", "cmp", "--n-samples", "64"]) == 0
    table = json.loads((elsewhere / "cmp" / "compare.json").read_text())["table"]
    assert [r["method"] for r in table] == ["vicreg", "simclr"]
    for row in table:
        assert row["measured_on"] == "final encoder, 64 training images"
        assert 0 <= row["knn_top1"] <= 1 and row["rankme"] > 1 and row["lidar"] > 0
        assert row["feature_dim"] == 16  # the MLP's last layer, from metrics or measured


def _record(name: str, settings: dict, metrics: dict) -> RunRecord:
    measures = {"rep_rankme": 10.0, "rep_gauss_ub": -5.0}
    dim = metrics["feature_dim"]
    return RunRecord(Path(name), name, settings, metrics, measures=measures, feature_dim=dim)


def test_the_table_names_sections_once_and_says_what_cannot_be_compared():
    records = [
        _record(
            "a",
            {"method.name": "simclr", "method.params": {}, "plugins": ["my_loss.py", "pkg.mod"]},
            {"dataset": "digits", "knn_top1": 0.9, "feature_dim": 64},
        ),
        _record(
            "b",
            {"method.name": "simclr", "method.params.temperature": 0.2, "plugins": []},
            {"dataset": "digits", "knn_top1": 0.8, "feature_dim": 128},
        ),
    ]
    # the empty section of run a is not a column beside the key run b sets in it
    assert differing_settings(records) == ["method.params.temperature", "plugins"]
    table = rows(records)
    assert [row["feature_dim"] for row in table] == [64, 128]
    md = markdown({"dataset": "digits", "table": table, "spearman_with_knn": correlations(records)})
    assert "| a | simclr | — | my_loss.py, pkg.mod | 0.9 |" in "\n".join(md)
    assert "| b | simclr | 0.2 | (none) | 0.8 |" in "\n".join(md)
    assert any("which differ here (64, 128)" in line for line in md)
    assert "- RankMe: —" in md  # two runs: no rank correlation, and the page says why
    assert any("needs at least 3 runs with both this measure" in line for line in md)
