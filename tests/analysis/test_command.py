"""selfsup analyze on a tiny trained run and on a module:callable encoder; bad input."""

import pytest

from selfsup.analysis.command import main
from selfsup.cli import main as cli_main
from selfsup.config import load_config
from selfsup.train import train
from tests.conftest import TINY

SMALL = ["--n-samples", "128", "--n-gaussianity", "2", "--n-views", "24", "--n-resamples", "20"]
SECTIONS = ("## How to read this", "## Regime notes", "## Augmentation parameters", "## Plots")


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("run")
    train(load_config(None, [*TINY, "trainer.max_epochs=1", "eval.linear_probe=false"]), path)
    return path


def test_analyze_a_run(run_dir, tmp_path):
    out = tmp_path / "analysis"
    assert main([str(run_dir), "--out", str(out), *SMALL]) == 0
    report = (out / "report.md").read_text()
    assert "## backbone output (d = 32)" in report
    assert "## projector output (d = 64)" in report
    for section in SECTIONS:
        assert report.count(section) >= 1, section
    assert (out / "analysis_backbone.png").exists() and (out / "analysis_projector.png").exists()
    assert "n/a" not in report.split("## backbone")[1].split("## Regime")[0]
    # analysis.json: both layers, augmentation R^2 per layer and parameter
    import json

    result = json.loads((out / "analysis.json").read_text())
    assert result["dims"] == {"backbone": 32, "projector": 64}
    assert set(result["augmentation_r2"]) == {"backbone", "projector"}
    assert "crop_scale" in result["augmentation_r2"]["projector"]
    assert set(result["rankme"]) == {"backbone", "projector"}


ENCODER = """
from torch import nn

def rgb16():
    # expects normalised 3 x 16 x 16 images, as a torchvision-style model would
    return nn.Sequential(nn.Flatten(), nn.Linear(3 * 16 * 16, 32), nn.ReLU(), nn.Linear(32, 8))
"""


def test_analyze_a_callable_encoder_with_resizing(tmp_path, monkeypatch):
    (tmp_path / "my_encoders.py").write_text(ENCODER)
    monkeypatch.syspath_prepend(str(tmp_path))
    out = tmp_path / "out"
    argv = ["--encoder", "my_encoders:rgb16", "--dataset", "digits", "--out", str(out)]
    assert main([*argv, "--image-size", "16", "--channels", "3", *SMALL]) == 0
    report = (out / "report.md").read_text()
    assert "## encoder output (d = 8)" in report
    for section in SECTIONS:
        assert section in report


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["analyze", "/nonexistent/run"], "neither a run directory nor a checkpoint"),
        (["analyze", "--", "--encoder", "no_such_mod:f", "--dataset", "digits"], "cannot import"),
        (["analyze", "--encoder", "torch.nn:Identity"], "--encoder needs --dataset"),
        (["analyze", "--encoder", "nocolon", "--dataset", "digits"], "module:callable"),
        (["analyze", "--", "--dataset", "digits"], "exactly one"),
        (["analyze", "x", "--n-views", "5"], "--n-views must be >= 20"),
        (["analyze", "x", "--bogus"], "unrecognized arguments: --bogus"),
    ],
)
def test_bad_input_is_one_line(argv, expected, capsys):
    assert cli_main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: "), err
    assert expected in err[0]


def test_dataset_of_another_shape_is_one_line(run_dir, mnist_root, capsys):
    argv = ["analyze", str(run_dir), "--dataset", "mnist", "--data-root", str(mnist_root)]
    assert cli_main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "trained on images of shape (1, 8, 8)" in err[0]
    assert "'mnist' has (1, 28, 28)" in err[0]


def test_absent_data_advice_names_this_commands_option(tmp_path, capsys):
    # a user encoder: a digits run on mnist is refused earlier, for its image shape
    argv = ["analyze", "--encoder", "torch.nn:Flatten", "--dataset", "mnist"]
    argv += ["--data-root", str(tmp_path)]
    assert cli_main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"not found under '{tmp_path}'" in err[0]
    assert "--data-root" in err[0] and "data.download" not in err[0]


def test_encoder_output_goes_under_runs(tmp_path, monkeypatch):
    (tmp_path / "my_encoders.py").write_text(ENCODER)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    argv = ["--encoder", "my_encoders:rgb16", "--dataset", "digits", "--image-size", "16"]
    assert main([*argv, "--channels", "3", *SMALL]) == 0
    assert (tmp_path / "runs" / "analysis-rgb16" / "report.md").exists()
    assert not (tmp_path / "analysis-rgb16").exists()
