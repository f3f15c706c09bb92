"""Bad input gets one line on stderr naming what was wrong, exit code 2, never a traceback."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from selfsup.cli import main
from tests.conftest import SHARED_DATA, TINY

REPO = Path(__file__).resolve().parents[2]


def one_line_error(argv, capsys) -> str:
    code = main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2, (code, err)
    assert len(err) == 1 and err[0].startswith("error: "), err
    return err[0]


@pytest.mark.parametrize(
    "argv, expected",
    [
        # the config: ranges, types, names, keys (issue #21's list first)
        (["train", "data.batch_size=0"], "data.batch_size must be an integer >= 1, got 0 (in the"),
        (["train", "data.batch_size=-3"], "data.batch_size must be an integer >= 1, got -3"),
        (["train", "optim.lr=-1"], "optim.lr must be a finite number > 0, got -1.0"),
        (["train", "optim.lr=nan"], "optim.lr must be a finite number > 0, got nan"),
        (["train", "optim.lr=inf"], "optim.lr must be a finite number > 0, got inf"),
        (["train", "trainer.max_epochs=abc"], "trainer.max_epochs must be an integer >= 0"),
        (["train", "trainer.max_epochs=-3"], "trainer.max_epochs must be an integer >= 0"),
        (["train", "trainer.max_epochs=2.5"], "trainer.max_epochs must be an integer >= 0"),
        (["train", "data.train_subset=-5"], "data.train_subset must be an integer >= 0, got -5"),
        (["train", "data.batch_size=abc"], "data.batch_size must be an integer >= 1, got 'abc'"),
        (["train", "optim.lr=fast"], "optim.lr must be a finite number > 0, got 'fast'"),
        (["train", "optim.momentum=2"], "optim.momentum must be a finite number >= 0 and <= 1"),
        (["train", "checkpoint.keep=-2"], "checkpoint.keep must be an integer >= 0 (or -1"),
        (["train", "seed=-1"], "seed must be an integer >= 0"),
        (["train", "trainer.devices=2", "trainer.max_steps=0"], "trainer.max_steps must be"),
        (["train", "trainer.max_epochs=-1"], "trainer.max_epochs=-1 (no limit) needs"),
        (["train", "trainer.precision=8"], "trainer.precision must be one of"),
        (["train", "trainer.limit_train_batches=-1"], "trainer.limit_train_batches must be"),
        (["train", "method.name=byol2"], "method.name must be one of barlow_twins, "),
        (["train", "data.name=imagenet"], "data.name must be one of celeba, cifar10,"),
        (["train", "backbone.name=vit"], "backbone.name must be one of conv_vae, convnet,"),
        (["train", "data.views=fancy"], "data.views must be one of byol,"),
        (["train", "data.colour=1"], "unknown config key 'data.colour'"),
        (
            ["train", "optim.LR=0.1"],
            "'optim.LR' in the command-line overrides; did you mean optim.lr?",
        ),
        (
            ["train", "optim.lrr=0.1"],
            "'optim.lrr' in the command-line overrides; did you mean optim.lr?",
        ),
        (
            ["train", "mehtod.name=simclr"],
            "unknown config key 'mehtod' in the command-line overrides; did you mean method?",
        ),
        (
            ["train", "trainer.max_epoch=3"],
            "'trainer.max_epoch': not an argument of lightning.Trainer; did you mean "
            "trainer.max_epochs? (in the command line)",
        ),
        (["train", "trainer.logger=comet"], "trainer.logger: unknown logger 'comet'"),
        (["train", "trainer.callbacks=[]"], "trainer.callbacks is set by selfsup itself"),
        (["train", "max_epochs"], "'max_epochs' is neither an option nor an override"),
        (["train", "--config", "missing.yaml"], "config file 'missing.yaml' not found"),
        (["train", "--resume"], "--resume needs --run-dir"),
        (["train", "--run-dirr", "x"], "unrecognized arguments: --run-dirr"),
        (["train", "method.params.sim_coef=3"], "unknown method parameter(s) sim_coef"),
        (["train", "method.name=simclr", "method.params.sim_coeff=3"], "for 'simclr'; valid:"),
        (["train", "backbone.params.depth=3"], "unknown backbone parameter(s) depth for 'convnet'"),
        # checked when the data is loaded (after the imports)
        (
            ["train", "data.name=mnist", "data.root=/nonexistent"],
            "dataset 'MNIST' not found under '/nonexistent'",
        ),
        # files that are not what they should be
        (["eval", "/nonexistent/run"], "neither a run directory nor a checkpoint"),
        (["eval", str(REPO / "README.md")], "README.md is not a PyTorch checkpoint"),
        (["eval"], "name a run directory or checkpoint"),
        # the command line itself
        (["trian"], "invalid choice: 'trian'"),
        (["--bogus"], "unrecognized arguments: --bogus"),
        (["reproduce", "nope"], "unknown reproduction 'nope'"),
        (["reproduce", "simvae", "--steps", "x"], "--steps takes one integer, got 'x'"),
        (["dynamics", "nope"], "unknown experiment 'nope'"),
    ],
)
def test_bad_input_is_one_line(argv, expected, capsys):
    assert expected in one_line_error(argv, capsys)


def test_a_config_file_is_checked_like_the_overrides(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("data:\n  batch_size: 0\n")
    err = one_line_error(["train", "--config", str(bad)], capsys)
    assert "data.batch_size must be an integer >= 1, got 0 (in bad.yaml" in err
    bad.write_text("data:\n  batch_size: abc\n")
    err = one_line_error(["train", "--config", str(bad)], capsys)
    assert "data.batch_size must be an integer >= 1, got 'abc'" in err


def test_overrides_stand_anywhere_on_the_line(tmp_path, capsys):
    # the last override (after --run-dir) is read: its error is the one reported
    argv = ["train", "--config", "quickstart", "seed=1", "--run-dir", str(tmp_path / "r")]
    err = one_line_error([*argv, "optim.lr=-1"], capsys)
    assert "optim.lr must be" in err
    assert not (tmp_path / "r").exists()


def test_debug_shows_the_traceback(capsys):
    assert main(["--debug", "train", "data.batch_size=0"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" in err and err.strip().splitlines()[-1].startswith("error: ")
    assert main(["train", "data.batch_size=0", "--debug"]) == 2
    assert "Traceback" in capsys.readouterr().err


def test_a_config_error_imports_neither_torch_nor_lightning(tmp_path):
    code = (
        "import sys; from selfsup.cli import main; rc = main(['train', 'data.batch_size=0']); "
        "print(rc, 'torch' in sys.modules, 'lightning' in sys.modules)"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert out.stdout.split() == ["2", "False", "False"], out.stderr
    assert list(tmp_path.iterdir()) == []


def test_bare_selfsup_prints_usage_and_creates_nothing(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main([]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: selfsup") and "train" in out and "reproduce" in out
    assert list(tmp_path.iterdir()) == []


def test_version_and_every_help(capsys):
    from selfsup import __version__

    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"selfsup {__version__}"
    for argv in (["--help"], ["train", "--help"], ["eval", "--help"], ["analyze", "--help"]):
        assert main(argv) == 0
        assert capsys.readouterr().out.startswith("usage: selfsup"), argv
    assert main(["reproduce", "--help"]) == 0
    out = capsys.readouterr().out
    assert "usage: selfsup reproduce NAME" in out and "simvae" in out
    assert main(["reproduce", "simvae", "--help"]) == 0
    out = capsys.readouterr().out
    assert "--steps N" in out and "--seeds N" in out and "--data-root DIR" in out
    assert main(["dynamics", "--help"]) == 0
    assert "--data-root DIR" in capsys.readouterr().out


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory) -> Path:
    """A 2-epoch quickstart run (TINY sizes)."""
    from selfsup.config import load_config
    from selfsup.train import train

    run = tmp_path_factory.mktemp("cli") / "run"
    train(load_config(None, [*TINY, "eval.linear_probe=false"]), run)
    return run


def test_resume_below_the_epochs_done_is_refused(digits_run, capsys):
    argv = ["train", "--run-dir", str(digits_run), "--resume", "trainer.max_epochs=1"]
    err = one_line_error(argv, capsys)
    assert "trainer.max_epochs=1 is below the 2 epochs" in err


def test_a_truncated_checkpoint_is_one_line(digits_run, tmp_path, capsys):
    whole = (digits_run / "checkpoints" / "last.ckpt").read_bytes()
    cut = tmp_path / "cut.ckpt"
    cut.write_bytes(whole[: len(whole) // 2])
    assert "cut.ckpt is truncated or corrupted" in one_line_error(["eval", str(cut)], capsys)


def test_analyze_on_a_dataset_of_another_shape(digits_run, capsys):
    err = one_line_error(["analyze", str(digits_run), "--dataset", "shapes"], capsys)
    assert "trained on images of shape (1, 8, 8)" in err


def test_analyze_a_digits_run_on_mnist(digits_run, mnist_root, capsys):
    argv = ["analyze", "--run-dir", str(digits_run), "--dataset", "mnist"]
    err = one_line_error([*argv, "--data-root", str(mnist_root)], capsys)
    assert "trained on images of shape (1, 8, 8), but 'mnist' has (1, 28, 28)" in err


def test_eval_advice_names_its_own_options(digits_run, tmp_path, monkeypatch, capsys):
    argv = ["eval", str(digits_run), "--dataset", "mnist", "--data-root", str(tmp_path)]
    # the image shapes differ, which is said first, before any data is looked for ...
    assert "but 'mnist' has (1, 28, 28)" in one_line_error(argv, capsys)
    # ... and where a shape is not known in advance, the missing data's advice is eval's own
    monkeypatch.setattr("selfsup.train.preflight.dataset_shape", lambda name: None)
    err = one_line_error(argv, capsys)
    assert "point --data-root" in err and "data.download" not in err


def _in_a_fresh_process(argv: list[str], cwd: Path) -> tuple[int, bool, bool, str]:
    """``selfsup ARGV`` in a new Python: exit code, whether torch and Lightning were imported,
    and stderr."""
    code = (
        "import sys; from selfsup.cli import main; rc = main(sys.argv[1:]); "
        "print(rc, 'torch' in sys.modules, 'lightning' in sys.modules)"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    out = subprocess.run(
        [sys.executable, "-c", code, *argv], cwd=cwd, env=env, capture_output=True, text=True
    )
    rc, torch_, lightning = out.stdout.split()
    return int(rc), torch_ == "True", lightning == "True", out.stderr


def test_file_and_resume_errors_come_before_lightning(digits_run, tmp_path):
    """Files that are not what they should be, a resume below the epochs done and unknown
    method parameters are refused before Lightning is imported (the plain ones before torch):
    one line, exit 2, nothing written (benchmarks/cli_startup.py times them)."""
    whole = (digits_run / "checkpoints" / "last.ckpt").read_bytes()
    (tmp_path / "cut.ckpt").write_bytes(whole[: len(whole) // 2])
    before = sorted(p.name for p in digits_run.rglob("*"))
    cases = [  # argv, torch may be imported, expected
        (["eval", str(REPO / "README.md")], False, "README.md is not a PyTorch checkpoint"),
        (["analyze", str(REPO / "README.md")], False, "README.md is not a PyTorch checkpoint"),
        (["eval", "cut.ckpt"], False, "cut.ckpt is truncated or corrupted"),
        (["eval", "nowhere"], False, "'nowhere' is neither a run directory nor a checkpoint"),
        (["train", "method.params.sim_coef=3"], False, "unknown method parameter(s) sim_coef"),
        (["train", "backbone.params.depth=3"], False, "unknown backbone parameter(s) depth"),
        (
            ["analyze", "--run-dir", str(digits_run), "--dataset", "mnist"],
            True,
            "trained on images of shape (1, 8, 8), but 'mnist' has (1, 28, 28)",
        ),
        (["eval", str(digits_run), "--dataset", "cifar10"], True, "but 'cifar10' has (3, 32, 32)"),
        (
            ["train", "--run-dir", str(digits_run), "--resume", "trainer.max_epochs=1"],
            True,
            "trainer.max_epochs=1 is below the 2 epochs",
        ),
        (
            ["train", "--run-dir", str(digits_run), "--resume", "seed=3"],
            True,
            "--resume cannot change seed (0 -> 3)",
        ),
    ]
    for argv, torch_allowed, expected in cases:
        rc, torch_, lightning, err = _in_a_fresh_process(argv, tmp_path)
        lines = err.strip().splitlines()
        assert rc == 2 and len(lines) == 1 and expected in lines[0], (argv, err)
        assert not lightning, argv
        assert torch_allowed or not torch_, argv
    assert sorted(p.name for p in digits_run.rglob("*")) == before


def test_reproduction_option_errors_skip_the_heavy_imports(tmp_path):
    """A reproduction's option error is answered before scikit-learn, scipy.stats,
    scipy.integrate or Lightning are imported (each ~1-2 s; benchmarks/cli_startup.py times
    these against ``import torch``)."""
    heavy = ("sklearn", "scipy.stats", "scipy.integrate", "lightning")
    code = (
        "import sys; from selfsup.cli import main; rc = main(sys.argv[1:]); "
        f"print(rc, *[m for m in {heavy!r} if m in sys.modules])"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    for argv in (
        ["reproduce", "simvae", "--budget", "abc"],
        ["reproduce", "infomax", "--seeds", "x"],
        ["dynamics", "mnist", "--bogus"],
    ):
        out = subprocess.run(
            [sys.executable, "-c", code, *argv],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
        )
        assert out.stdout.split() == ["2"], (argv, out.stdout, out.stderr)
        assert len(out.stderr.strip().splitlines()) == 1, out.stderr
    assert list(tmp_path.iterdir()) == []


def test_data_advice_is_true_for_each_command(tmp_path, capsys):
    missing = str(tmp_path / "nowhere")
    # train accepts data.download; reproduce and eval take --data-root
    err = one_line_error(["train", "data.name=mnist", f"data.root={missing}"], capsys)
    assert f"not found under '{missing}'" in err and "data.download=true" in err
    err = one_line_error(["train", "data.name=mnist", f"--data-root={missing}"], capsys)
    assert f"not found under '{missing}'" in err
    argv = ["reproduce", "infomax", "--quick", "--data-root", missing, "--out", str(tmp_path)]
    err = one_line_error(argv, capsys)
    assert "point --data-root" in err and "data.download" not in err


def test_the_path_is_shown_as_typed_not_resolved(tmp_path, monkeypatch, capsys):
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    monkeypatch.chdir(tmp_path)
    err = one_line_error(["train", "data.name=mnist", "data.root=link"], capsys)
    assert f"not found under '{tmp_path / 'link'}'" in err


def test_existing_run_is_not_overwritten(tmp_path, capsys):
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / "last.ckpt").write_bytes(b"")
    assert main(["train", "--run-dir", str(tmp_path)]) == 2
    assert "already holds a run; pass --resume" in capsys.readouterr().err


def test_shared_data_exists_for_the_mnist_cases():
    # documents where the MNIST cases look (they skip, not fail, elsewhere)
    assert SHARED_DATA.name == "data"


def test_a_failed_download_does_not_advise_downloading():
    from selfsup.data.datasets import DatasetNotFoundError

    err = str(DatasetNotFoundError("MNIST", Path("data"), "no dataset files there", True))
    assert "data.download=true" not in err and "network" in err
    err = str(DatasetNotFoundError("MNIST", Path("data"), "no dataset files there", False))
    assert "set data.download=true" in err
