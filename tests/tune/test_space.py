"""Search-space words: parsing, the schema check before any trial, one-line errors."""

import pytest

from selfsup.cli import main
from selfsup.tune.space import SearchSpaceError, check_space, parse_space, trial_overrides


def test_words_split_into_fixed_and_dimensions():
    space = parse_space(
        [
            "trainer.max_epochs=2",
            "optim.lr=loguniform(1e-4,1e-2)",
            "method.projector=choice([512,512],[1024,1024,1024])",
            "method.name=choice(vicreg,simclr,barlow_twins)",
            "method.params.cov_coeff=uniform(0.5,4)",
            "data.batch_size=int(64,256)",
        ]
    )
    assert space.fixed == ("trainer.max_epochs=2",)
    dims = {d.key: d for d in space.dimensions}
    assert dims["optim.lr"].kind == "loguniform" and (
        dims["optim.lr"].low,
        dims["optim.lr"].high,
    ) == (1e-4, 1e-2)
    assert dims["method.projector"].choices == ("[512,512]", "[1024,1024,1024]")
    assert space.ordered()[0].key == "method.name"  # drawn first: it resets method.params
    check_space(None, space)


def test_a_parameter_the_drawn_method_does_not_take_is_not_drawn():
    space = parse_space(
        ["method.name=choice(vicreg,simclr)", "method.params.cov_coeff=uniform(0.5,4)"]
    )
    picks = {"method.name": "simclr"}
    overrides, skipped = trial_overrides(None, space, lambda d: picks.get(d.key, d.corners()[0]))
    assert skipped == ["method.params.cov_coeff"]
    assert overrides == ["method.name=simclr"]
    picks["method.name"] = "vicreg"
    overrides, skipped = trial_overrides(None, space, lambda d: picks.get(d.key, d.corners()[-1]))
    assert skipped == [] and overrides[-1] == "method.params.cov_coeff=4.0"


@pytest.mark.parametrize(
    "word, says",
    [
        ("optim.lr=loguniform(0,1e-2)", "needs 0 < low"),
        ("optim.lr=loguniform(1e-2)", "two numbers"),
        ("optim.lr=uniform(1e-2,1e-4)", "low < high"),
        ("optim.lr=uniform(a,b)", "two numbers"),
        ("optim.lr=gauss(0,1)", "unknown distribution"),
        ("data.batch_size=int(1.5,4)", "whole numbers"),
        ("method.name=choice()", "needs values"),
        ("method.name=choice(vicreg,vicreg)", "repeated"),
    ],
)
def test_syntax_errors_are_one_line(word, says):
    with pytest.raises(SearchSpaceError, match=says):
        parse_space([word])


@pytest.mark.parametrize(
    "words, says",
    [
        (["optim.lr=uniform(-1,1)"], "'optim.lr=uniform(-1,1)', its low end -1.0: optim.lr must"),
        (["optim.min_lr_ratio=uniform(0.5,2)"], "its high end 2.0: optim.min_lr_ratio must"),
        (["method.name=choice(vicreg,nosuch)"], "the choice nosuch: method.name"),
        (["optim.nosuch=uniform(0,1)"], "unknown config key"),
        (["method.name=choice(simclr)", "method.params.cov_coeff=uniform(1,2)"], "no method"),
        (["optim.lr=0.1", "optim.lr=uniform(0.1,1)"], "both fixed and searched"),
    ],
)
def test_bad_spaces_fail_before_any_trial(words, says, tmp_path, capsys):
    code = main(["sweep", "--out", str(tmp_path / "s"), "--trials", "1", *words])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("error: ") and says in err
    assert not (tmp_path / "s").exists()  # nothing created, no trial run


def test_without_optuna_the_sweep_says_how_to_install_it(monkeypatch, tmp_path, capsys):
    import sys

    monkeypatch.setitem(sys.modules, "optuna", None)  # import optuna -> ImportError
    assert main(["sweep", "--out", str(tmp_path / "s"), "optim.lr=uniform(0.1,1)"]) == 2
    err = capsys.readouterr().err
    assert err == "error: selfsup sweep needs Optuna: pip install 'selfsup[sweep]'\n"


def test_sweep_parses_without_importing_lightning():
    import subprocess
    import sys

    code = (
        "import sys; from selfsup.tune import command; command.parser(); "
        "print('lightning' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
