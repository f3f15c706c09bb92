"""A run's files are as readable as the umask says, and a refused start leaves the run
directory exactly as it found it (absent if it was absent, a previous run's files untouched)."""

import hashlib
import os
import shutil
import stat
from pathlib import Path

import pytest

from selfsup.cli import main
from selfsup.config import load_config
from selfsup.errors import SelfsupError
from selfsup.train import loggers as run_loggers
from selfsup.train import run_dir as run_dir_module
from selfsup.train import train
from selfsup.train.atomic import atomic_file, atomic_write_text
from tests.conftest import TINY

ONE_EPOCH = [*TINY, "trainer.max_epochs=1", "eval.linear_probe=false"]


@pytest.fixture
def umask(request):
    """Run the test under ``request.param`` as the process's umask (restored after)."""
    old = os.umask(request.param)
    yield request.param
    os.umask(old)


def _modes(folder: Path) -> dict[Path, int]:
    return {p: stat.S_IMODE(p.stat().st_mode) for p in folder.rglob("*")}


def _assert_umask_modes(folder: Path, mask: int) -> None:
    for path, mode in _modes(folder).items():
        expected = (0o777 if path.is_dir() else 0o666) & ~mask
        assert mode == expected, f"{path.relative_to(folder)}: {oct(mode)}, not {oct(expected)}"


@pytest.mark.parametrize("umask", [0o022, 0o027], indirect=True, ids=oct)
def test_every_run_file_honours_the_umask(tmp_path, umask):
    from selfsup.analysis.command import main as analyze
    from selfsup.encoder import load_encoder, save_encoder
    from selfsup.export import export_encoder

    run = tmp_path / "run"
    config = load_config(None, [*ONE_EPOCH, "trainer.logger=tensorboard"])
    train(config, run)
    files = {p.relative_to(run).as_posix() for p in run.rglob("*") if p.is_file()}
    for name in ("config.yaml", "metrics.json", "metrics.csv", "training_curves.png"):
        assert name in files
    assert {"checkpoints/epoch=000.ckpt", "checkpoints/last.ckpt"} <= files
    assert any(f.startswith("tensorboard/events.out.tfevents") for f in files)

    exported = tmp_path / "exports" / "encoder.safetensors"
    export_encoder(run, exported)
    encoder = load_encoder(exported)  # a whole, loadable file
    save_encoder(encoder.backbone, encoder.metadata, exported.parent / "saved.safetensors")

    small = ["--n-samples", "64", "--n-gaussianity", "2", "--n-views", "20", "--n-resamples", "20"]
    assert analyze([str(run), "--out", str(run / "analysis"), *small]) == 0
    assert (run / "analysis" / "analysis.json").is_file()

    _assert_umask_modes(run, umask)
    _assert_umask_modes(exported.parent, umask)


@pytest.mark.parametrize("umask", [0o022, 0o027, 0o077], indirect=True, ids=oct)
def test_the_atomic_writer_creates_files_like_open_does(tmp_path, umask):
    atomic_write_text(tmp_path / "a.txt", "x")
    with open(tmp_path / "reference.txt", "w") as f:  # how any program makes a file
        f.write("x")
    mode = stat.S_IMODE((tmp_path / "a.txt").stat().st_mode)
    assert mode == stat.S_IMODE((tmp_path / "reference.txt").stat().st_mode) == 0o666 & ~umask
    # a failed write leaves no temporary file, and the target as it was
    with pytest.raises(RuntimeError), atomic_file(tmp_path / "a.txt", "w") as f:
        f.write("half")
        raise RuntimeError("writer failed")
    assert (tmp_path / "a.txt").read_text() == "x"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "reference.txt"]


# --- a refused start --------------------------------------------------------------------


def _state(folder: Path) -> dict[str, tuple]:
    """Every entry under ``folder`` with its kind, mode and content (files)."""
    out = {}
    for path in sorted(folder.rglob("*")):
        info = path.lstat()
        data = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None
        out[path.relative_to(folder).as_posix()] = (stat.S_IFMT(info.st_mode), info.st_mode, data)
    return out


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("finished") / "run"
    train(load_config(None, ONE_EPOCH), run)
    return run


def _missing_wandb(monkeypatch) -> None:
    # whether or not wandb is installed here, the check sees a missing package
    monkeypatch.setitem(run_loggers.PACKAGES, "wandb", "selfsup_no_such_package")


def _small_disk(monkeypatch) -> None:
    usage = shutil.disk_usage("/")
    monkeypatch.setattr(
        run_dir_module.shutil, "disk_usage", lambda path: usage._replace(free=2**20)
    )


def _trainer_refuses(monkeypatch) -> None:
    # a refusal raised while the trainer is built (the run directory already in use)
    import lightning as L

    def refuse(*args, **kwargs):
        raise SelfsupError("refused by the trainer")

    monkeypatch.setattr(L, "Trainer", refuse)


REFUSALS = {
    "logger": (_missing_wandb, ["trainer.logger=wandb"], "needs the 'selfsup_no_such_package'"),
    "disk": (_small_disk, [], "MiB free on the disk of"),
    "trainer": (_trainer_refuses, [], "refused by the trainer"),
}


@pytest.mark.parametrize("refusal", list(REFUSALS))
def test_a_refused_new_run_leaves_no_directory(tmp_path, capsys, monkeypatch, refusal):
    patch, words, message = REFUSALS[refusal]
    patch(monkeypatch)
    run = tmp_path / "runs" / "new-run"  # neither it nor its parent exists
    assert main(["train", "--run-dir", str(run), *ONE_EPOCH, *words]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("refusal", list(REFUSALS))
def test_a_refused_resume_leaves_the_previous_run_untouched(
    finished, tmp_path, capsys, monkeypatch, refusal
):
    run = Path(shutil.copytree(finished, tmp_path / "run"))
    (run / "notes.txt").write_text("the user's own file")
    before = _state(run)
    patch, words, message = REFUSALS[refusal]
    patch(monkeypatch)
    argv = ["train", "--run-dir", str(run), "--resume", "trainer.max_epochs=2", *words]
    assert main(argv) == 2
    assert message in capsys.readouterr().err
    assert _state(run) == before


def test_a_refused_start_in_an_existing_folder_keeps_its_files(tmp_path, capsys, monkeypatch):
    # a folder with the user's files and a record left without checkpoints
    run = tmp_path / "run"
    run.mkdir()
    (run / "metrics.json").write_text('{"status": "failed"}\n')
    (run / "data").mkdir()
    (run / "data" / "x.npz").write_bytes(b"\1\2\3")
    before = _state(run)
    _missing_wandb(monkeypatch)
    assert main(["train", "--run-dir", str(run), *ONE_EPOCH, "trainer.logger=wandb"]) == 2
    assert "needs the 'selfsup_no_such_package'" in capsys.readouterr().err
    assert _state(run) == before
    # the same start, not refused, trains there and replaces the stale record
    assert main(["train", "--run-dir", str(run), *ONE_EPOCH]) == 0
    assert (run / "checkpoints" / "last.ckpt").exists()
    assert '"status": "finished"' in (run / "metrics.json").read_text()
    assert (run / "data" / "x.npz").read_bytes() == b"\1\2\3"


def test_a_start_that_fails_once_training_has_begun_keeps_its_files(tmp_path):
    # not a refusal: the run exists, its record says why it failed
    import lightning as L

    class Fail(L.Callback):
        def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
            if trainer.global_step == 3:
                raise RuntimeError("boom")

    run = tmp_path / "run"
    with pytest.raises(RuntimeError, match="boom"):
        train(load_config(None, ONE_EPOCH), run, extra_callbacks=[Fail()])
    assert '"status": "failed"' in (run / "metrics.json").read_text()
    assert (run / "config.yaml").exists()
