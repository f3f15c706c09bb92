"""A tiny `selfsup reproduce infomax` (hidden size flags) writes its results and report."""

import json

import pytest

from selfsup.cli import main as cli_main
from selfsup.experiments.infomax import RESULT_KEYS, TRACKED, reproduce


def test_tiny_reproduction_writes_results(tmp_path):
    argv = [
        "--datasets", "digits", "--methods", "vicreg,vicreg_logdet", "--seeds", "0",
        "--epochs", "1", "--hidden", "32,16", "--projector", "32,32", "--n-views", "20",
        "--n-gaussianity", "1",
        "--out", str(tmp_path),
    ]  # fmt: skip
    assert reproduce(argv) == 0
    results = json.loads((tmp_path / "results.json").read_text())
    for key in ("summary", "claims", "runs", "settings", "seeds", "methods", "wall_seconds"):
        assert key in results
    rows = results["summary"]["digits"]
    assert set(rows) == {"vicreg", "vicreg_logdet"}
    for row in rows.values():
        for key in RESULT_KEYS:
            assert len(row[key]["values"]) == 1 and 0.0 <= row[key]["mean"] <= 1.0
            assert row[key]["std"] >= 0.0
        for key in TRACKED:
            assert f"info_last/{key}" in row and f"info_first/{key}" in row
    assert any("Gaussian outputs under augmentation" in c for c in results["claims"])
    assert any("variants vs VICReg, linear_top1" in c for c in results["claims"])
    report = (tmp_path / "report.md").read_text()
    assert "| vicreg_logdet |" in report and "## The paper's claims" in report
    assert (tmp_path / "accuracy_digits.png").exists() and (tmp_path / "info_digits.png").exists()
    # finished runs are reused, not retrained
    before = (tmp_path / "runs" / "digits-vicreg-s0" / "metrics.json").stat().st_mtime
    assert reproduce(argv) == 0
    assert (tmp_path / "runs" / "digits-vicreg-s0" / "metrics.json").stat().st_mtime == before


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["--methods", "byol"], "unknown method(s) ['byol']"),
        (["--seeds", "a,b"], "--seeds must be comma-separated integers"),
        (["--datasets", "mnist", "--data-root", "/nonexistent"], "not found under"),
        (["--frobnicate"], "unrecognized arguments"),
    ],
)
def test_bad_input_is_one_line(argv, expected, capsys):
    assert cli_main(["reproduce", "infomax", *argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: "), err
    assert expected in err[0]
