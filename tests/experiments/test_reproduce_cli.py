"""`selfsup reproduce` as a user meets it: --list, --help, every option listed, one data rule."""

import argparse
import dataclasses

import pytest

from selfsup.cli import main as cli_main
from selfsup.experiments import REPRODUCTIONS, command, load


def test_list_names_every_reproduction(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no earlier reports in the default folders
    assert cli_main(["reproduce", "--list"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert [line.split()[0] for line in lines] == list(REPRODUCTIONS)
    assert set(REPRODUCTIONS) == {"infomax", "simvae", "dynamics", "rankme"}


def test_list_shows_the_last_reports_verdicts_with_intervals(capsys, tmp_path, monkeypatch):
    import json

    from selfsup.experiments.claims import compare

    monkeypatch.chdir(tmp_path)
    claim = compare("A beats B", {0: 0.92, 1: 0.93, 2: 0.94}, {0: 0.90, 1: 0.91, 2: 0.92})
    (tmp_path / "runs/reproduce-dynamics").mkdir(parents=True)
    record = {"preset": "quick", "claims": [claim.to_dict()]}
    (tmp_path / "runs/reproduce-dynamics/results.json").write_text(json.dumps(record))
    (tmp_path / "runs/reproduce-simvae").mkdir(parents=True)
    (tmp_path / "runs/reproduce-simvae/results.json").write_text("{not json")  # ignored
    assert cli_main(["reproduce", "--list"]) == 0
    out = capsys.readouterr().out
    assert "runs/reproduce-dynamics/results.json (preset quick)" in out
    # differences 0.02 at every seed: no spread, the interval is the point
    assert "holds (+0.02, 95 % CI [+0.02, +0.02], 3 seeds): A beats B" in out
    assert "reproduce-simvae/results.json" not in out


@pytest.mark.parametrize("argv", [["reproduce"], ["reproduce", "--help"], ["reproduce", "-h"]])
def test_bare_and_help_print_usage(argv, capsys):
    assert cli_main(argv) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: selfsup reproduce NAME")
    assert all(name in out for name in REPRODUCTIONS)


@pytest.mark.parametrize("name", list(REPRODUCTIONS))
def test_help_lists_every_option_and_hides_none(name, capsys):
    experiment = load(name)
    assert cli_main(["reproduce", name, "--help"]) == 0
    text = capsys.readouterr().out
    fields = [f for f in dataclasses.fields(experiment.params_type) if "help" in f.metadata]
    for flag in [f"--{f.name.replace('_', '-')}" for f in fields]:
        assert flag in text, flag
    for flag in command.FRAMEWORK_OPTIONS:
        assert f"--{flag.replace('_', '-')}" in text
    parser = command.parser(experiment, "x")
    assert all(a.help != argparse.SUPPRESS for a in parser._actions)
    assert {"full", "quick"} <= set(experiment.presets)


def test_simvae_steps_is_an_option(capsys):  # docs/simvae.md uses it
    assert cli_main(["reproduce", "simvae", "--help"]) == 0
    assert "--steps N" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["reproduce", "nope"], "unknown reproduction 'nope'; valid: infomax, simvae, dynamics"),
        (["reproduce", "infomax", "--seeds", "0,1"], "argument --seeds: invalid int value"),
        (["reproduce", "simvae", "--methods", "nope"], "--methods: unknown ['nope']"),
        (["dynamics", "bogus"], "unknown experiment 'bogus'"),
        (["dynamics"], "name an experiment"),
        (["dynamics", "exact", "--seed", "1"], "unrecognized arguments: --seed"),
    ],
)
def test_bad_input_is_one_line(argv, expected, capsys):
    assert cli_main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: "), err
    assert expected in err[0]


@pytest.mark.parametrize("name", ["infomax", "simvae"])
def test_missing_data_advice_is_true_for_reproduce(name, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("SELFSUP_DATA", str(tmp_path / "from-env"))
    argv = ["reproduce", name, "--datasets", "mnist", "--out", str(tmp_path / "o")]
    assert cli_main(argv) == 2
    err = capsys.readouterr().err.strip()
    # $SELFSUP_DATA is where it looked when --data-root is not given
    assert f"not found under '{tmp_path / 'from-env'}'" in err
    assert "--data-root" in err and "data.download" not in err and "download=True" not in err


def test_data_root_beats_the_environment(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("SELFSUP_DATA", str(tmp_path / "from-env"))
    argv = ["reproduce", "infomax", "--datasets", "mnist", "--data-root", str(tmp_path / "flag")]
    assert cli_main([*argv, "--out", str(tmp_path / "o")]) == 2
    assert f"not found under '{tmp_path / 'flag'}'" in capsys.readouterr().err


def test_default_data_root_is_dot_data(monkeypatch, tmp_path, capsys):
    monkeypatch.delenv("SELFSUP_DATA", raising=False)
    monkeypatch.chdir(tmp_path)
    assert cli_main(["reproduce", "infomax", "--datasets", "mnist"]) == 2
    assert f"not found under '{tmp_path / 'data'}'" in capsys.readouterr().err
