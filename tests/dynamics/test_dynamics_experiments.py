"""The experiment entry points: a tiny end-to-end reproduction and the CLI error contract."""

import json

import pytest

from selfsup.experiments.dynamics import main, reproduce


def test_tiny_reproduction_writes_report_results_and_plots(tmp_path, capsys):
    assert reproduce(["--tiny", "--out", str(tmp_path), "--data-root", str(tmp_path / "none")]) == 0
    results = json.loads((tmp_path / "results.json").read_text())
    for key in ("collapse", "exact", "contrastive", "width", "mnist", "claims", "meta", "timing_s"):
        assert key in results
    assert "skipped" in results["mnist"]
    assert results["exact"]["ode_check"]["cases"]["repeated"]["max_abs_projector_diff"] < 1e-10
    assert len(results["claims"]) == 4
    report = (tmp_path / "report.md").read_text()
    assert "## Claims" in report and "MNIST not found" in report
    for png in ("collapse.png", "exact_trajectories.png", "exact_error_vs_lr.png",
                "contrastive.png", "width.png"):  # fmt: skip
        assert (tmp_path / png).stat().st_size > 1000


@pytest.mark.mnist
def test_tiny_mnist_experiment(tmp_path, mnist_root):
    argv = ["mnist", "--tiny", "--out", str(tmp_path), "--data-root", str(mnist_root)]
    assert main(argv) == 0
    mnist = json.loads((tmp_path / "results.json").read_text())["mnist"]
    assert set(mnist["views"]) == {"noise", "crop"}
    assert (tmp_path / "mnist_width.png").exists()


@pytest.mark.parametrize(
    "argv",
    [["bogus"], [], ["collapse", "--seed", "x"], ["exact", "--nonsense"]],
)
def test_bad_input_is_one_line_and_exit_code_2(capsys, argv):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("selfsup dynamics: error:")


def test_reproduce_rejects_unknown_option(capsys):
    assert reproduce(["--fast"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "unrecognized arguments" in err[0]


def test_unwritable_output_dir_is_a_usage_error(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main(["collapse", "--tiny", "--out", str(blocker / "sub")]) == 2
    assert "cannot create output directory" in capsys.readouterr().err
