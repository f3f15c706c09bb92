"""One error hierarchy: every bad input a user can cause is a ``selfsup.InputError`` (a
``ValueError``), and the CLI prints every ``SelfsupError`` on one line with exit code 2."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

import selfsup
from selfsup import errors
from selfsup.cli import main
from selfsup.dynamics.loss_matrix import loss_matrix
from selfsup.evaluate.fewshot import balanced_subset
from selfsup.losses.radial_vicreg import m_spacing_entropy
from selfsup.nets.mlp import mlp

SRC = Path(__file__).resolve().parents[2] / "src" / "selfsup"


def test_no_bare_value_error_is_raised_in_the_package():
    pattern = re.compile(r"raise\s+ValueError\b")
    found = [
        f"{path.relative_to(SRC)}:{number}"
        for path in sorted(SRC.rglob("*.py"))
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if pattern.search(line)
    ]
    assert found == [], f"raise selfsup.errors.InputError instead of ValueError at {found}"


def test_the_hierarchy():
    assert selfsup.InputError is errors.InputError
    assert selfsup.SelfsupError is errors.SelfsupError
    assert issubclass(selfsup.InputError, selfsup.SelfsupError)
    assert issubclass(selfsup.InputError, ValueError)  # `except ValueError` keeps working
    assert issubclass(selfsup.NonFiniteInputError, selfsup.InputError)
    assert issubclass(selfsup.NonFiniteLossError, selfsup.SelfsupError)
    assert issubclass(selfsup.NonFiniteLossError, RuntimeError)
    from selfsup.methods import NonFiniteLossError
    from selfsup.validation import InputError, NonFiniteInputError

    assert NonFiniteLossError is selfsup.NonFiniteLossError
    assert (InputError, NonFiniteInputError) == (selfsup.InputError, selfsup.NonFiniteInputError)


@pytest.mark.parametrize(
    "call",
    [
        lambda: mlp([4]),
        lambda: balanced_subset(torch.zeros(4, dtype=torch.long), fraction=2.0),
        lambda: loss_matrix(torch.zeros(3, 2), torch.zeros(3, 2), form="nonsense"),
        lambda: m_spacing_entropy(torch.zeros(3), m=5),
    ],
)
def test_former_value_errors_are_input_errors(call):
    with pytest.raises(selfsup.InputError):
        call()


@pytest.mark.parametrize(
    "error",
    [
        errors.InputError("lens.lidar_samples must be >= 2"),
        errors.NonFiniteInputError("x holds NaN"),
        errors.NonFiniteLossError(3, 0, float("nan")),
    ],
)
def test_the_cli_prints_every_selfsup_error_on_one_line(error, monkeypatch, capsys):
    import selfsup.cli as cli

    def fail(_args):
        raise error

    monkeypatch.setattr(cli, "_eval", fail)
    code = main(["eval", "some-run"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and err == [f"error: {error}"]


def test_the_did_you_mean_hint_finds_the_nearest_name_in_any_case(capsys):
    names = ["lr", "weight_decay", "warmup_epochs"]
    assert errors.closest("lrr", names) == "lr"
    assert errors.closest("LR", names) == "lr"  # a case slip, returned as the name is spelt
    assert errors.closest("Weight_Decay", names) == "weight_decay"
    assert errors.closest("momentum", names) is None
    # the hints of the config's value rules come from it too
    assert main(["train", "method.name=VICReg"]) == 2
    assert "did you mean vicreg?" in capsys.readouterr().err
