"""Bad input gets one clear line on stderr and a non-zero exit, never a traceback."""

import pytest

from selfsup.cli import main


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["train", "--config", "missing.yaml"], "config file 'missing.yaml' not found"),
        (["train", "method.name=byol2"], "unknown method 'byol2'; valid: barlow_twins, "),
        (["train", "data.name=imagenet"], "unknown dataset 'imagenet'; valid names:"),
        (["train", "data.colour=1"], "unknown config key 'data.colour'"),
        (["train", "optim.lr=fast"], "bad config value for 'optim.lr'"),
        (["train", "trainer.max_epoch=3"], "unknown config key 'trainer.max_epoch'"),
        (["train", "method.params.sim_coef=3"], "unknown method parameter(s) sim_coef"),
        (["train", "backbone.params.depth=3"], "unknown backbone parameter(s) depth for 'mlp'"),
        (
            ["train", "data.name=mnist", "data.root=/nonexistent"],
            "dataset 'MNIST' not found under '/nonexistent'",
        ),
        (["train", "--resume"], "--resume needs --run-dir"),
        (["eval", "/nonexistent/run"], "neither a run directory nor a checkpoint"),
    ],
)
def test_bad_input_is_one_line(argv, expected, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ")
    assert expected in err[0]


def test_existing_run_is_not_overwritten(tmp_path, capsys):
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / "last.ckpt").write_bytes(b"")
    assert main(["train", "--run-dir", str(tmp_path)]) == 2
    assert "already holds a run; pass --resume" in capsys.readouterr().err
