"""A tiny `selfsup reproduce infomax` (the `tiny` preset) writes its results and report and
reuses finished runs with --resume."""

import json

import pytest

from selfsup.cli import main as cli_main
from selfsup.experiments.command import main as reproduce
from selfsup.experiments.infomax import RESULT_KEYS, TRACKED


def test_tiny_reproduction_writes_results(tmp_path):
    argv = ["infomax", "--preset", "tiny", "--out", str(tmp_path)]
    assert reproduce(argv) == 0
    results = json.loads((tmp_path / "results.json").read_text())
    rows = results["summary"]["digits"]
    assert set(rows) == {"vicreg", "vicreg_logdet"}
    assert results["seeds"] == [0]
    for row in rows.values():
        for key in RESULT_KEYS:
            assert len(row[key]["values"]) == 1 and 0.0 <= row[key]["mean"] <= 1.0
            assert row[key]["std"] == 0.0
        for key in TRACKED:
            assert f"info_last/{key}" in row and f"info_first/{key}" in row
    claims = {c["claim"]: c for c in results["claims"]}
    gaussian = claims["Projector outputs are Gaussian under augmentation"]
    assert gaussian["regime"] == "digits" and set(gaussian["ours"]) == set(rows)
    rejected = {m: row["info_last/gauss_frac_dims_rejected"]["mean"] for m, row in rows.items()}
    assert gaussian["ours"] == rejected
    # one seed: never settled; where it leans follows the share against 0.1
    assert gaussian["verdict"] == "single seed" and gaussian["interval"] is None
    assert gaussian["leaning"] == (
        "holds" if all(v < 0.1 for v in rejected.values()) else "does not hold"
    )
    versus = claims["The information-theoretic variants match or beat VICReg (linear_top1)"]
    diff = rows["vicreg_logdet"]["linear_top1"]["mean"] - rows["vicreg"]["linear_top1"]["mean"]
    assert versus["ours"]["vicreg_logdet"] == pytest.approx(100 * diff)
    assert versus["verdict"] == "single seed" and versus["unit"] == "pts"
    assert versus["leaning"] == ("holds" if 100 * diff > -0.5 else "does not hold")
    for c in results["claims"]:
        assert {"effect", "interval", "seeds", "verdict", "deterministic"} <= set(c)
        assert c["seeds"] == 1 and c["verdict"] == "single seed", c["claim"]
    # the Gaussianity-vs-noise map: every (method, level), then the real views
    sweep = results["summary"]["gaussianity_vs_noise"]
    assert [(e["method"], e["noise"]) for e in sweep] == [
        (m, n) for m in ("vicreg", "vicreg_logdet") for n in (1e-4, 0.3, None)
    ]
    for e in sweep:
        assert 0.0 <= e["in_region_share"] <= 1.0 and e["affine_cov_rel_err"] >= 0.0
        assert 0.0 <= e["normality_reject_share"] <= 1.0 and e["normality_reject_expected"] == 0.05
    (premise,) = [c for c in results["claims"] if "map over augmentation strength" in c["claim"]]
    assert set(premise["ours"]) == {"digits/vicreg", "digits/vicreg_logdet"}
    assert premise["regime"] and "at the methods' own views" in premise["regime"]
    report = (tmp_path / "report.md").read_text()
    assert "| vicreg_logdet |" in report and "## Claims" in report
    assert (tmp_path / "gaussianity_vs_noise_digits.png").stat().st_size > 1000
    assert (tmp_path / "accuracy_digits.png").exists() and (tmp_path / "info_digits.png").exists()
    # finished runs are reused with --resume, not retrained
    metrics = tmp_path / "runs" / "digits-vicreg-s0" / "metrics.json"
    before = metrics.stat().st_mtime
    assert reproduce([*argv, "--resume"]) == 0
    assert metrics.stat().st_mtime == before


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["--methods", "byol"], "--methods: unknown ['byol']"),
        (["--seeds", "a"], "argument --seeds: invalid int value: 'a'"),
        (["--datasets", "mnist", "--data-root", "/nonexistent"], "not found under"),
        (["--frobnicate"], "unrecognized arguments"),
        (["--n-views", "5"], "--n-views must be >= 20, got 5"),
        (["--noise-levels", "1e-3,0"], "--noise-levels must be > 0"),
    ],
)
def test_bad_input_is_one_line(argv, expected, capsys):
    assert cli_main(["reproduce", "infomax", *argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: selfsup reproduce infomax: "), err
    assert expected in err[0]


def test_radial_vicreg_labels_build_both_radial_forms():
    """Each infomax label trains the method it names: radial_vicreg_w1 is Radial-VICReg with
    the W1 term, radial_vicreg the KL one (its default), at the same shared settings."""
    from selfsup.config import load_config
    from selfsup.data import load_dataset
    from selfsup.experiments.infomax import PRESETS, overrides
    from selfsup.methods import build_method

    params, data = PRESETS["tiny"].params, load_dataset("digits")
    built = {}
    for label in ("radial_vicreg", "radial_vicreg_w1"):
        words = overrides(params, "digits", label, seed=0)
        assert "method.name=radial_vicreg" in words
        built[label] = build_method(load_config("vicreg_digits", words), data)
    assert built["radial_vicreg"].loss_args["radial"] == "kl"
    assert built["radial_vicreg_w1"].loss_args["radial"] == "w1"
