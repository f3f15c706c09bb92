"""The analysis report reads as one account: every quantity once, with the numbers of
analysis.json; the estimators' regime warnings summarised in the report, not printed; plots
labelled, with a spectrum that stops where float32 stops resolving eigenvalues."""

import json
import math
import warnings

import matplotlib
import numpy as np
import pytest
import torch

from selfsup.analysis.command import main
from selfsup.analysis.report import FLOAT32_EPS, _fmt, _in_short, plot_space, spectrum_range
from selfsup.config import load_config
from selfsup.info.regimes import EstimatorRegimeWarning
from selfsup.train import train
from tests.conftest import TINY

SMALL = ["--n-samples", "96", "--n-gaussianity", "3", "--n-views", "20", "--n-resamples", "20"]


@pytest.fixture(scope="module")
def analysed(tmp_path_factory):
    """A one-epoch digits run analysed, with every warning the command lets out."""
    path = tmp_path_factory.mktemp("run")
    train(load_config(None, [*TINY, "trainer.max_epochs=1", "eval.linear_probe=false"]), path)
    with warnings.catch_warnings(record=True) as escaped:
        warnings.simplefilter("always")
        assert main([str(path), *SMALL]) == 0
    out = path / "analysis"
    return out, escaped


def _rows(report: str) -> list[tuple[str, list[str]]]:
    """``(section, cells)`` of every table row of a space's table."""
    rows, section = [], ""
    for line in report.splitlines():
        if line.startswith("## "):
            section = line[3:]
        elif line.startswith("| ") and not line.startswith(("| quantity", "| parameter")):
            rows.append((section, [c.strip() for c in line.strip().strip("|").split("|")]))
    return rows


def test_every_quantity_appears_once_with_one_value(analysed):
    out, _ = analysed
    report = (out / "report.md").read_text()
    rows = [(section, cells) for section, cells in _rows(report) if "output (d =" in section]
    assert rows and all(len(cells) == 5 for _, cells in rows), rows  # no stray "|" in a cell
    keys = [(section, cells[0].rstrip(" !")) for section, cells in rows]
    assert len(keys) == len(set(keys)), [k for k in keys if keys.count(k) > 1]
    # where the prose says two bounds coincide, it quotes the value both rows print
    for section in {section for section, _ in rows}:
        table = {cells[0]: cells[3] for s, cells in rows if s == section}
        text = report.split(f"## {section}")[1].split("\n## ")[0]
        for line in text.splitlines():
            if line.startswith("- The pairwise-distance bounds coincide"):
                value = line.split(" = ")[1].split(":")[0]
                assert table["H(z + s noise) lower bound (nats)"] == value
                assert table["H(z + s noise) upper bound (nats)"] == value


def test_report_numbers_are_the_json_numbers(analysed):
    out, _ = analysed
    result = json.loads((out / "analysis.json").read_text())
    by_key = {(s, c[0].rstrip(" !")): c for s, c in _rows((out / "report.md").read_text())}
    for space in ("backbone", "projector"):
        section = f"{space} output (d = {result['dims'][space]})"
        k = result["k_pcs"][space]
        for quantity, entry in (
            ("RankMe", result["rankme"][space]),
            ("H(z) estimate (nats)", result["entropy"][space]["knn"]),
            ("H(z) upper bound (nats)", result["entropy"][space]["gaussian"]),
            (f"I(top {k} PCs of view a; of view b) (nats)",
             result["mutual_information"][space]["gaussian_top_pcs"]),
            ("I(first PC of view a; of view b) (nats)",
             result["mutual_information"][space]["ksg_first_pc"]),
            ("invariance", result["invariance"][space]),
        ):  # fmt: skip
            cells = by_key[(section, quantity)]
            assert cells[3] == _fmt(entry["value"])
            lo, hi = entry["ci95"]
            assert cells[4] == f"[{_fmt(lo)}, {_fmt(hi)}]"
        checks = result["checks"][space]
        lower = by_key[(section, "H(z + s noise) lower bound (nats)")][3]
        upper = by_key[(section, "H(z + s noise) upper bound (nats)")][3]
        assert (lower, upper) == (_fmt(checks["pairwise_lower"]), _fmt(checks["pairwise_upper"]))
        # Kolchinsky-Tracey: Bhattacharyya below KL, both at most log n above the component
        assert checks["pairwise_lower"] <= checks["pairwise_upper"] + 1e-9
        assert checks["pairwise_upper"] <= checks["pairwise_ceiling"] + 1e-9


def test_regime_warnings_are_listed_in_the_report_not_let_out(analysed):
    out, escaped = analysed
    assert not [w for w in escaped if issubclass(w.category, EstimatorRegimeWarning)]
    report = (out / "report.md").read_text()
    notes = report.split("## Regime notes")[1].split("## ")[0]
    # d = 32 and 64 at n = 96: the kNN entropy is outside its measured regime (d <= 5)
    assert "backbone: kNN H(z) in d = 32 with n = 96" in notes
    lines = [line for line in notes.splitlines() if line.startswith("- ")]
    assert len(lines) == len(set(lines)) and len(lines) >= 4
    result = json.loads((out / "analysis.json").read_text())
    assert [f"- {note}" for note in result["regime_notes"]] == lines
    assert "## How to read this" in report and "very negative" in report


def test_the_command_prints_no_warning(tmp_path, capsys, analysed):
    out, _ = analysed
    run = out.parent
    assert main([str(run), "--out", str(tmp_path / "again"), *SMALL]) == 0
    assert "Warning" not in capsys.readouterr().err


def test_spectrum_keeps_the_eigenvalues_float32_resolves():
    # closed form: centred orthonormal columns scaled by s have covariance eigenvalues
    # s^2 / (n - 1), and exact zeros elsewhere (rounding noise once stored as float32)
    g = torch.Generator().manual_seed(0)
    n, d = 64, 256
    u = torch.linalg.qr(torch.randn(n, 5, generator=g, dtype=torch.float64) - 0)[0]
    u = u - u.mean(0)  # centred columns, still spanning a 5-d subspace
    u = torch.linalg.qr(u)[0]
    v = torch.linalg.qr(torch.randn(d, 5, generator=g, dtype=torch.float64))[0]
    s = torch.tensor([30.0, 10.0, 3.0, 1.0, 0.3], dtype=torch.float64)
    z = (u * s) @ v.T + 100.0  # a large offset, as real features have
    z = z.float().double()
    eig = (torch.linalg.svdvals(z - z.mean(0)) ** 2 / (n - 1)).numpy()
    kept, (bottom, top) = spectrum_range(eig)
    np.testing.assert_allclose(kept, (s**2 / (n - 1)).numpy(), rtol=1e-3)
    assert FLOAT32_EPS * eig.max() / 2 <= bottom < kept.min() and top > kept.max()


def test_plots_have_labels_and_sane_limits(analysed, tmp_path, monkeypatch):
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figures = []
    monkeypatch.setattr(plt, "close", figures.append)
    g = torch.Generator().manual_seed(1)
    z = torch.cat([torch.randn(40, 3, generator=g), torch.zeros(40, 61)], 1).double()
    plot = {
        "z": z,
        "pvalues": np.random.default_rng(0).uniform(size=(3, 64)),
        "clusters": torch.randn(3, 20, 64, generator=g).double(),
    }
    assert plot_space("backbone", plot, tmp_path) == "analysis_backbone.png"
    assert (tmp_path / "analysis_backbone.png").stat().st_size > 0
    spectrum, pvalues, views = figures[0].axes
    for ax in (spectrum, pvalues, views):
        assert ax.get_xlabel() and ax.get_ylabel() and ax.get_title()
    bottom, top = spectrum.get_ylim()
    variances = z.var(0)
    # three directions of unit variance; the 61 exact zeros are not drawn
    assert bottom >= FLOAT32_EPS * float(variances.max()) / 2 and bottom < 0.5
    assert math.log10(top / bottom) < 4 and len(spectrum.lines[0].get_xdata()) == 3
    assert pvalues.get_xlim() == (0.0, 1.0)


def test_in_short_quotes_the_numbers_of_the_tables(analysed):
    out, _ = analysed
    report = (out / "report.md").read_text()
    result = json.loads((out / "analysis.json").read_text())
    short = report.split("## In short")[1].split("\n## ")[0]
    lines = {line.split("**")[1]: line for line in short.splitlines() if line.startswith("- **")}
    assert set(lines) == {"backbone", "projector"}
    for space, line in lines.items():
        checks = result["checks"][space]
        d = result["dims"][space]
        assert f"RankMe {_fmt(result['rankme'][space]['value'])} of {d} dimensions" in line
        assert f"{_fmt(100 * checks['region_stability'])} % of views stay" in line
        assert f"{_fmt(100 * checks['share_non_normal'])} % of output dims" in line
        # the verdict follows the two numbers it quotes
        holds = checks["region_stability"] > 0.5 and checks["share_non_normal"] < 0.1
        assert ("premise holds" in line) == holds and ("does not hold" in line) != holds
        r2 = result["augmentation_r2"][space]
        best = max((k for k in r2 if math.isfinite(r2[k])), key=r2.get)
        assert f"kept best is {best} (R^2 {_fmt(r2[best])})" in line


def test_in_short_without_the_checks_says_so_and_prints_no_numbers_for_them():
    lens = {"dims": {"backbone": 8}, "rankme": {"backbone": {"value": 3.0}},
            "augmentation_r2": {"backbone": {"scale": math.nan}}}  # fmt: skip
    nan = {"region_stability": math.nan, "share_non_normal": 0.3, "normality_alpha": 0.05,
           "direction_separation": math.nan}  # fmt: skip
    (line,) = [x for x in _in_short(lens, {"backbone": nan}) if x.startswith("- ")]
    assert line == (
        "- **backbone**: RankMe 3 of 8 dimensions in use; the Gaussian-mixture premise could "
        "not be checked."
    )
    far = {**nan, "region_stability": 0.9, "share_non_normal": 0.05, "direction_separation": 5.0}
    (line,) = [x for x in _in_short(lens, {"backbone": far}) if x.startswith("- ")]
    assert "premise holds (90 % of views" in line and "barely overlap (d' 5)" in line
