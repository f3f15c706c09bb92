"""Plug-ins and new built-ins: a user's method in a module outside the repository trains,
resumes, evaluates, is analysed and exported; a run whose plug-in is gone is one line; a new
built-in method is one new file in ``selfsup/methods``; bad ``params`` are one line, exit 2."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from selfsup import cli, registry
from tests.plugin_helpers import registry_restored

SRC = Path(__file__).resolve().parents[2] / "src"
#: the contract users write against: the documented example itself (docs/extending.md shows it)
HALFVIC = (SRC.parent / "docs" / "examples" / "halfvic.py").read_text()
TINY = [  # the digits MLP (the default config is a ConvNet on nuisance_digits)
    "data.name=digits",
    "backbone.name=mlp",
    "data.train_subset=128",
    "data.test_subset=64",
    "data.batch_size=64",
    "backbone.params.hidden=[32,32]",
    "method.projector=[32,32]",
    "eval.linear_probe=false",
    "eval.online_probe=false",
    "trainer.enable_progress_bar=false",
]


def _run(args: list[str], pythonpath: list[Path], cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(map(str, pythonpath))}
    env.pop("SELFSUP_DEBUG", None)
    return subprocess.run(
        [sys.executable, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=600
    )


@pytest.fixture
def plugin_dir(tmp_path) -> Path:
    folder = tmp_path / "outside"
    folder.mkdir()
    (folder / "myplug.py").write_text(HALFVIC)
    return folder


def test_a_plugin_method_runs_through_every_command(plugin_dir, tmp_path):
    run = tmp_path / "run"
    paths = [SRC, plugin_dir]
    trained = _run(
        ["-m", "selfsup.cli", "train", "plugins=[myplug]", "method.name=halfvic",
         "method.params.cov_weight=1", "trainer.max_epochs=1", "--run-dir", str(run), *TINY],
        paths, tmp_path,
    )  # fmt: skip
    assert trained.returncode == 0, trained.stderr[-2000:]
    config = (run / "config.yaml").read_text()
    assert "plugins:\n- myplug" in config and "name: halfvic" in config
    # a new process, told nothing of the plug-in: it comes from the run's config / checkpoint
    script = textwrap.dedent(f"""
        import json, sys
        from selfsup.cli import main
        run = {str(run)!r}
        assert main(["train", "--run-dir", run, "--resume", "trainer.max_epochs=2"]) == 0
        assert main(["eval", run]) == 0
        assert main(["analyze", run, "--n-samples", "32", "--n-gaussianity", "1",
                     "--n-views", "20", "--n-resamples", "20"]) == 0
        assert main(["export", run, run + "/encoder.safetensors"]) == 0
        import selfsup, torch
        encoder = selfsup.load_encoder(run + "/encoder.safetensors")
        print(json.dumps(list(encoder(torch.rand(3, 1, 8, 8)).shape)))
        """)
    later = _run(["-c", script], paths, tmp_path)
    assert later.returncode == 0, later.stderr[-3000:]
    assert json.loads(later.stdout.strip().splitlines()[-1]) == [3, 32]
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["method"] == "halfvic" and metrics["epochs"] == 2
    assert "knn_top1" in metrics["eval"]["digits"]
    assert (run / "analysis" / "report.md").is_file()
    # the plug-in is gone: one line naming the module, exit 2, before anything else is read
    gone = _run(["-m", "selfsup.cli", "eval", str(run)], [SRC], tmp_path)
    assert gone.returncode == 2
    assert gone.stderr.count("\n") == 1 and "plug-in module 'myplug'" in gone.stderr


def test_a_plugin_method_trains_with_two_ddp_processes(plugin_dir, tmp_path):
    """Lightning starts the second rank as a new process: it must import the plug-in from the
    config as the first did, and both ranks must train the same plug-in method."""
    run = tmp_path / "ddp"
    trained = _run(
        ["-m", "selfsup.cli", "train", "plugins=[myplug]", "method.name=halfvic",
         "trainer.devices=2", "trainer.strategy=ddp", "trainer.max_epochs=1",
         "--run-dir", str(run), *TINY],
        [SRC, plugin_dir], tmp_path,
    )  # fmt: skip
    assert trained.returncode == 0, trained.stderr[-3000:]
    metrics = json.loads((run / "metrics.json").read_text())
    # 128 training images, global batch 2 x 64: one step per epoch
    assert metrics["method"] == "halfvic" and metrics["global_step"] == 1
    assert "knn_top1" in metrics


def test_a_new_builtin_method_is_one_file(tmp_path):
    """A copy of the package with one new file in methods/ and no other edit: the method is a
    valid ``method.name``, its parameters are checked, and it trains."""
    package = tmp_path / "src" / "selfsup"
    shutil.copytree(SRC / "selfsup", package, ignore=shutil.ignore_patterns("__pycache__"))
    before = {p.relative_to(package) for p in package.rglob("*") if p.is_file()}
    (package / "methods" / "quarter_vicreg.py").write_text(
        textwrap.dedent('''
        """VICReg with a quarter of its covariance weight (a throwaway method)."""

        from selfsup.losses import vicreg_terms
        from selfsup.methods.base import JointEmbedding
        from selfsup.registry import register_method


        @register_method("quarter_vicreg")
        class QuarterVICReg(JointEmbedding):
            def __init__(self, *, cov_weight: float = 0.25, **common) -> None:
                super().__init__(**common)
                self.cov_weight = cov_weight

            def objective(self, z_a, z_b):
                return vicreg_terms(z_a, z_b, cov_coeff=self.cov_weight)
        ''')
    )
    after = {p.relative_to(package) for p in package.rglob("*") if p.is_file()}
    assert after - before == {Path("methods/quarter_vicreg.py")}
    paths = [tmp_path / "src"]
    bad = _run(["-m", "selfsup.cli", "train", "method.name=quarter_vicreg",
                "method.params.cov_weight=x"], paths, tmp_path)  # fmt: skip
    assert bad.returncode == 2
    said = "method.params.cov_weight must be a finite number, got 'x' (in the command line)"
    assert bad.stderr == f"error: {said}\n"
    run = tmp_path / "run"
    argv = ["train", "method.name=quarter_vicreg", "trainer.max_epochs=1", "--run-dir", str(run)]
    trained = _run(["-m", "selfsup.cli", *argv, *TINY], paths, tmp_path)
    assert trained.returncode == 0, trained.stderr[-2000:]
    assert json.loads((run / "metrics.json").read_text())["method"] == "quarter_vicreg"


def _one_line(argv: list[str], capsys) -> str:
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: "), err
    return err


@pytest.mark.parametrize(
    ("overrides", "said"),
    [
        (["method.params.cov_wieght=1"], "unknown method parameter(s) cov_wieght for 'halfvic' "
         "(did you mean cov_weight?)"),
        (["method.params.cov_weight=abc"], "method.params.cov_weight must be a finite number, "
         "got 'abc'"),
        (["method.name=halfvc"], "got 'halfvc'; did you mean halfvic?"),
    ],
)  # fmt: skip
def test_plugin_params_are_checked_by_their_type_hints(overrides, said, plugin_dir, capsys):
    sys.path.insert(0, str(plugin_dir))
    try:
        with registry_restored():
            argv = ["train", "plugins=[myplug]", "method.name=halfvic", *overrides]
            assert said in _one_line(argv, capsys)
    finally:
        sys.path.remove(str(plugin_dir))
    assert "halfvic" not in registry.names("method")


def test_a_missing_or_failing_plugin_is_one_line(tmp_path, capsys):
    assert "plug-in module 'no_such_plugin' (named in the command line) cannot be imported" in (
        _one_line(["train", "plugins=[no_such_plugin]"], capsys)
    )
    (tmp_path / "broken_plugin.py").write_text("raise RuntimeError('half written')\n")
    sys.path.insert(0, str(tmp_path))
    try:
        with registry_restored():
            err = _one_line(["train", "plugins=[broken_plugin]"], capsys)
    finally:
        sys.path.remove(str(tmp_path))
    assert "'broken_plugin' (named in the command line) failed on import: RuntimeError" in err
    assert "is not a Python module name" in _one_line(["train", "plugins=[../evil.py]"], capsys)


def test_a_plugin_name_taken_by_a_builtin_is_refused(tmp_path, capsys):
    (tmp_path / "clash_plugin.py").write_text(
        "import selfsup\n\n@selfsup.register_method('vicreg')\nclass Mine:\n    pass\n"
    )
    sys.path.insert(0, str(tmp_path))
    try:
        with registry_restored():
            err = _one_line(["train", "plugins=[clash_plugin]"], capsys)
    finally:
        sys.path.remove(str(tmp_path))
    assert "method 'vicreg' is registered twice" in err
    (tmp_path / "clash_views.py").write_text(
        "import selfsup\nfrom selfsup.data import ViewSpec\n\n"
        "selfsup.register_views('mnist')((ViewSpec(),))\n"
    )
    sys.path.insert(0, str(tmp_path))
    try:
        with registry_restored():
            err = _one_line(["train", "plugins=[clash_views]"], capsys)
    finally:
        sys.path.remove(str(tmp_path))
    assert "views 'mnist' is registered twice" in err


@pytest.mark.parametrize(
    ("overrides", "said"),
    [
        (["lens.every_n_epochs=1", "lens.lidar_samples=1"],
         "lens.lidar_samples must be an integer >= 2 (or 0: no LiDAR), got 1"),
        (["backbone.name=resnet", "backbone.params.depth=20"],
         "backbone.params.depth must be one of 18, 34, 50, got 20"),
        (["callbacks.info_tracking.n_views=10", *TINY, "trainer.max_epochs=1"],
         "callbacks.info_tracking: n_views must be >= 20 (normality tests), got 10"),
    ],
)  # fmt: skip
def test_bad_values_are_one_line_before_training(overrides, said, tmp_path, capsys):
    run = tmp_path / "run"
    assert said in _one_line(["train", "--run-dir", str(run), *overrides], capsys)
    assert not list(run.glob("checkpoints/*.ckpt"))  # refused before the first step


def test_an_installed_package_plugs_in_through_its_entry_point(plugin_dir, tmp_path):
    """A package whose metadata lists ``myplug`` in the ``selfsup.plugins`` group (a dist-info
    folder on the path, as pip leaves it): its method is known with no ``plugins=``."""
    dist = plugin_dir / "myplug-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: myplug\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[selfsup.plugins]\nhalfvic = myplug\n")
    argv = ["-m", "selfsup.cli", "train", "method.name=halfvic", "method.params.cov_weight=abc"]
    done = _run(argv, [SRC, plugin_dir], tmp_path)
    assert done.returncode == 2
    assert done.stderr == (
        "error: method.params.cov_weight must be a finite number, got 'abc' (in the command line)\n"
    )
    # without the package, the name is unknown (and the built-ins are listed)
    done = _run(argv, [SRC], tmp_path)
    assert done.returncode == 2 and "method.name must be one of barlow_twins" in done.stderr
