"""Every command on runs trained on the user's own files: a folder of images at a size other
than the folder loader's default, and an .npz file, trained at a tiny budget through the CLI,
then analysed, evaluated and exported from another working directory, with ``$SELFSUP_DATA``
pointing elsewhere (the run's own data section must be what is read)."""

import json
import os

import numpy as np
import pytest
import torch

from selfsup.cli import main as cli_main
from selfsup.config import load_config, upgrade_data_section
from selfsup.encoder import load_encoder
from selfsup.errors import SelfsupError
from selfsup.train.trained import load_method
from tests.data import fakes

QUIET = ["trainer.enable_progress_bar=false", "trainer.enable_model_summary=false"]
#: the smallest analysis that still runs every part of the report
SMALL_ANALYSIS = ["--n-samples", "24", "--n-gaussianity", "2", "--n-views", "20"]
SMALL_ANALYSIS += ["--n-resamples", "20"]


def _digits_npz(folder):
    from sklearn.datasets import load_digits

    d = load_digits()
    x = (d.images * 16).clip(0, 255).astype(np.uint8)
    np.savez(folder / "train.npz", x=x[:200], y=d.target[:200])
    np.savez(folder / "test.npz", x=x[1500:1560], y=d.target[1500:1560])


@pytest.fixture(scope="module")
def own_runs(tmp_path_factory):
    """A folder run at 16 px (the loader's default is 64) and a tensors run, one epoch each."""
    base = tmp_path_factory.mktemp("own")
    fakes.stripes(base / "stripes", {"train": 8, "test": 4})
    _digits_npz(base)
    folder = ["train", "--config", "vicreg_folder", "--run-dir", str(base / "folder-run")]
    folder += [f"data.path={base / 'stripes'}", "data.params={image_size: 16}"]
    folder += ["data.batch_size=8", "backbone.params={channels: [8, 16]}"]
    folder += ["method.projector=[32,32]", "trainer.max_epochs=1", *QUIET]
    tensors = ["train", "--config", "vicreg_digits", "--run-dir", str(base / "tensors-run")]
    tensors += ["data.name=tensors"]
    tensors += ["data.path=train.npz", "data.test_path=test.npz"]  # relative to base
    tensors += ["backbone.params.hidden=[32,16]", "method.projector=[32,32]"]
    tensors += ["data.batch_size=50", "trainer.max_epochs=1", "eval.mlp_probe=false", *QUIET]
    here = os.getcwd()
    os.chdir(base)
    try:
        for argv in (folder, tensors):
            assert cli_main(argv) == 0
    finally:
        os.chdir(here)
    return base


@pytest.mark.parametrize(
    "run, shape, n_test", [("folder-run", (3, 16, 16), 8), ("tensors-run", (1, 8, 8), 60)]
)
def test_analyze_eval_export_work_on_a_run_of_own_files(
    own_runs, run, shape, n_test, tmp_path, monkeypatch, capsys
):
    # another working directory (the tensors run named its files relative to its own), and
    # $SELFSUP_DATA pointing at a folder of other images: only the run's own data.path is read
    fakes.stripes(tmp_path / "elsewhere", {"train": 2}, grey=True)
    monkeypatch.setenv("SELFSUP_DATA", str(tmp_path / "elsewhere"))
    monkeypatch.chdir(tmp_path)
    run_dir = own_runs / run
    capsys.readouterr()

    assert cli_main(["analyze", str(run_dir), *SMALL_ANALYSIS]) == 0, capsys.readouterr().err
    analysis = json.loads((run_dir / "analysis" / "analysis.json").read_text())
    assert analysis["dataset"] == ("folder" if run == "folder-run" else "tensors")
    # the run's own test split: all of it, or the 24 asked for
    assert analysis["n_samples"] == min(24, n_test) and set(analysis["dims"]) == {
        "backbone",
        "projector",
    }
    assert "Traceback" not in capsys.readouterr().err

    assert cli_main(["eval", str(run_dir)]) == 0, capsys.readouterr().err
    record = json.loads((run_dir / "metrics.json").read_text())
    evaluated = record["eval"][analysis["dataset"]]
    assert 0.0 <= evaluated["knn_top1"] <= 1.0
    # the run's own test split: its own kNN, as the run reported it after training
    assert evaluated["knn_top1"] == pytest.approx(record["knn_top1"], abs=1e-6)

    out = tmp_path / "encoder.safetensors"
    assert cli_main(["export", str(run_dir), str(out)]) == 0, capsys.readouterr().err
    encoder = load_encoder(out)
    assert encoder.image_shape == shape
    method, _ = load_method(run_dir)
    images = torch.randint(0, 256, (5, *shape), dtype=torch.uint8)
    with torch.no_grad():
        assert torch.allclose(encoder(images), method.encode(images), atol=1e-5, rtol=0)


def test_analyze_on_another_dataset_of_the_same_shape_drops_the_runs_files(own_runs, capsys):
    # the tensors run was trained on 8x8 digits: the named dataset 'digits' is read instead of
    # the run's file, with its own defaults (no data.path is carried over)
    run_dir = own_runs / "tensors-run"
    out = own_runs / "digits-analysis"
    argv = ["analyze", str(run_dir), "--dataset", "digits", "--out", str(out), *SMALL_ANALYSIS]
    assert cli_main(argv) == 0, capsys.readouterr().err
    assert json.loads((out / "analysis.json").read_text())["dataset"] == "digits"


def test_a_folder_recipe_without_its_folder_is_one_line_not_selfsup_data(
    tmp_path, monkeypatch, capsys
):
    # $SELFSUP_DATA holds images: it must still not be taken for the user's folder
    fakes.stripes(tmp_path / "data", {"train": 4})
    monkeypatch.setenv("SELFSUP_DATA", str(tmp_path / "data"))
    run_dir = tmp_path / "run"
    argv = ["train", "--config", "vicreg_folder", "--run-dir", str(run_dir), *QUIET]
    assert cli_main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["error: data.name=folder needs data.path=DIR, the folder of your images"], err
    assert not run_dir.exists()


def test_data_root_for_a_folder_says_to_use_data_path(tmp_path, capsys):
    fakes.stripes(tmp_path / "images", {"train": 4})
    argv = ["train", "--config", "vicreg_folder", f"data.root={tmp_path / 'images'}", *QUIET]
    assert cli_main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"pass data.path={tmp_path / 'images'} instead" in err[0], err


@pytest.mark.parametrize(
    "overrides, message",
    [
        (["data.name=tensors"], "data.name=tensors needs data.path=FILE"),
        (["data.path=x.npz"], "data.path is for your own files"),
        (["data.name=mnist", "data.test_path=x.npz"], "data.test_path is for your own files"),
    ],
)
def test_data_files_rule(overrides, message):
    with pytest.raises(SelfsupError, match=message):
        load_config(None, overrides)


def test_a_run_stored_with_its_folder_in_data_root_still_loads():
    # runs trained before data.path named the folder stored it in data.root
    old = load_config(None, ["data.name=tensors", "data.path=x.npz"]).data
    old.name, old.path, old.root = "folder", None, "/images"
    upgrade_data_section(old)
    assert (old.path, old.root) == ("/images", None)
    mnist = load_config(None, ["data.name=mnist", "data.root=/datasets"]).data
    upgrade_data_section(mnist)  # a named dataset's root keeps its meaning
    assert (mnist.path, mnist.root) == (None, "/datasets")


def test_folder_test_path_is_a_separate_evaluation_folder(tmp_path):
    from selfsup.data import load_dataset

    fakes.stripes(tmp_path / "train", {"a": 3}, seed=1)  # train/a/<class>/<image>
    fakes.stripes(tmp_path / "held", {"b": 2}, seed=2)
    data = load_dataset(
        "folder", path=tmp_path / "train" / "a", test_path=tmp_path / "held" / "b", image_size=8
    )
    assert data.labelled and len(data.train) == 6 and len(data.test) == 4
    labels = data.test.get_batch(torch.arange(4))[1].tolist()
    assert labels == [0, 0, 1, 1]
    with pytest.raises(SelfsupError, match="not both"):
        load_dataset(
            "folder", path=tmp_path / "train" / "a", test_path=tmp_path / "held" / "b",
            test_split="val",
        )  # fmt: skip
