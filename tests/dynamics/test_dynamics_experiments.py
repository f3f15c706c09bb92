"""The dynamics reproduction end to end at test size, `selfsup dynamics EXPERIMENT`, and the
shape of its claims."""

import json
import math

import pytest

from selfsup.experiments.command import main as reproduce
from selfsup.experiments.dynamics import main


def test_tiny_reproduction_writes_report_results_and_plots(tmp_path):
    argv = ["dynamics", "--preset", "tiny", "--out", str(tmp_path), "--data-root", str(tmp_path)]
    assert reproduce(argv) == 0
    results = json.loads((tmp_path / "results.json").read_text())
    parts = results["summary"]["0"]
    assert set(parts) == {"collapse", "exact", "contrastive", "width"}
    assert "mnist" in results["skipped"] and "--data-root" in results["skipped"]["mnist"]
    assert parts["exact"]["ode_check"]["cases"]["repeated"]["max_abs_projector_diff"] < 1e-10
    claims = results["claims"]
    # collapse, exact (closed form = ODE), GD order, width in two regimes, contrastive
    assert [c["regime"] is not None for c in claims] == [False, False, False, True, True, False]
    # one seed: no interval, so every seed-dependent claim is "single seed", never settled
    width = parts["width"]["last_layer"]["fit_ntk_change_vs_m"]["ssl"]
    assert width["n"] == 2 and all(math.isnan(v) for v in width["ci"])
    for c in claims:
        assert {"claim", "paper", "ours", "holds", "tolerance", "regime"} <= set(c)
        assert {"effect", "interval", "seeds", "verdict", "deterministic"} <= set(c)
        assert c["seeds"] == 1 and c["interval"] is None
        if not c["deterministic"]:
            assert c["verdict"] == "single seed" and c["holds"] is None, c
            assert c["leaning"] in ("holds", "does not hold")
    # the closed form matches the ODE at any size, whatever the seed
    assert claims[1]["deterministic"] and claims[1]["verdict"] == "holds"
    assert claims[1]["effect"] < 1e-10
    report = (tmp_path / "report.md").read_text()
    assert "## Claims" in report and "- skipped mnist:" in report
    for png in ("collapse-s0/collapse.png", "exact-s0/exact_trajectories.png",
                "exact-s0/exact_error_vs_lr.png", "contrastive-s0/contrastive.png",
                "width-s0/width.png"):  # fmt: skip
        assert (tmp_path / "runs" / png).stat().st_size > 1000
        assert f"(runs/{png})" in report


def test_two_seeds_merge_claims_into_an_interval(tmp_path):
    argv = ["collapse", "--preset", "tiny", "--seeds", "2", "--out", str(tmp_path)]
    assert main(argv) == 0
    results = json.loads((tmp_path / "results.json").read_text())
    assert set(results["summary"]) == {"0", "1"}
    (claim,) = results["claims"]
    finals = [results["summary"][s]["collapse"]["h"]["4"]["final_erank_closed"] for s in "01"]
    assert claim["ours"]["seed 0"]["closed form h=4"] == finals[0]
    assert claim["ours"]["seed 1"]["closed form h=4"] == finals[1]
    assert finals[0] != finals[1]
    # the closed-form part: the mean of the two seeds' values, half-width t(0.975, 1 df) =
    # 12.706 times the standard error |x0 - x1| / 2 (the t table, not scipy)
    (part,) = [p for p in claim["parts"] if p["name"].startswith("closed form")]
    assert part["seeds"] == 2
    mean, half = sum(finals) / 2, 12.706 * abs(finals[0] - finals[1]) / 2
    assert part["effect"] == pytest.approx(mean)
    assert part["interval"] == pytest.approx([mean - half, mean + half], rel=1e-3)


def test_printed_verdicts_and_width_wording_agree_with_the_report(tmp_path, capsys):
    """No summary line may say "holds" where a report row says otherwise, and a width run
    with one initialisation per width does not claim a median over several."""
    argv = ["width", "--preset", "tiny", "--seeds", "2", "--out", str(tmp_path)]
    assert main(argv) == 0
    printed = [line for line in capsys.readouterr().out.splitlines() if ": 3. Wide" in line]
    claims = json.loads((tmp_path / "results.json").read_text())["claims"]
    assert len(printed) == len(claims) == 2  # one per protocol, no summary over them
    report = (tmp_path / "report.md").read_text()
    for line, c in zip(printed, claims, strict=True):
        assert line.startswith(c["verdict"]) and f"[{c['regime']}]" in line
        assert f"**{line.split(': 3. Wide')[0]}**" in report
    assert "median of" not in report and "seed(s)" not in report
    assert "one network initialisation per width" in report  # tiny: width_seeds=1


@pytest.mark.mnist
def test_tiny_mnist_experiment(tmp_path, mnist_root):
    argv = ["mnist", "--preset", "tiny", "--out", str(tmp_path), "--data-root", str(mnist_root)]
    assert main(argv) == 0
    mnist = json.loads((tmp_path / "results.json").read_text())["summary"]["0"]["mnist"]
    assert set(mnist["views"]) == {"noise", "crop"}
    assert (tmp_path / "runs/mnist-s0/mnist_width.png").exists()


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["bogus"], "unknown experiment 'bogus'"),
        ([], "name an experiment"),
        (["collapse", "--seeds", "x"], "argument --seeds: invalid int value: 'x'"),
        (["exact", "--nonsense"], "unrecognized arguments: --nonsense"),
    ],
)
def test_bad_input_is_one_line_and_exit_code_2(capsys, argv, expected):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: selfsup dynamics"), err
    assert expected in err[0]


def test_unwritable_output_dir_is_a_usage_error(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main(["collapse", "--preset", "tiny", "--out", str(blocker / "sub")]) == 2
    assert "cannot create output folder" in capsys.readouterr().err


def test_loglog_fit_slope_and_interval_match_the_textbook_formulas():
    import numpy as np
    from scipy import stats

    from selfsup.experiments.dynamics.common import loglog_fit

    rng = np.random.default_rng(0)
    ms = [64, 64, 256, 256, 1024, 1024, 4096, 4096]
    ys = [3.0 * m**-0.8 * math.exp(0.1 * rng.standard_normal()) for m in ms]
    fit = loglog_fit(ms, ys)
    x, y = np.log(ms), np.log(ys)
    sxx = ((x - x.mean()) ** 2).sum()
    slope = ((x - x.mean()) * (y - y.mean())).sum() / sxx
    resid = y - y.mean() - slope * (x - x.mean())
    se = math.sqrt((resid**2).sum() / (len(x) - 2) / sxx)
    half = stats.t.ppf(0.975, len(x) - 2) * se
    assert fit["slope"] == pytest.approx(slope, rel=1e-12) and fit["n"] == 8
    assert fit["ci"] == pytest.approx([slope - half, slope + half], rel=1e-10)
    assert fit["ci"][0] < -0.8 < fit["ci"][1]
    # two points: a slope, no interval; one width only: neither
    two = loglog_fit([64, 256], [1.0, 0.25])
    assert two["slope"] == pytest.approx(-1.0) and all(math.isnan(v) for v in two["ci"])
    assert math.isnan(loglog_fit([64, 64, 64], [1.0, 2.0, 3.0])["slope"])
