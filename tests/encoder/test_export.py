"""selfsup export RUN FILE.safetensors, and selfsup.load_encoder without Lightning."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from selfsup.cli import main as cli_main
from selfsup.config import load_config
from selfsup.encoder import load_encoder
from selfsup.errors import SelfsupError
from selfsup.train import train
from selfsup.train.trained import load_method
from tests.conftest import TINY

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def convnet_run(tmp_path_factory):
    """A ConvNet (trained channels-last) on digits, one epoch."""
    run = tmp_path_factory.mktemp("export") / "run"
    words = [*TINY, "backbone.name=convnet", "backbone.params={channels: [8, 16]}"]
    words += ["trainer.max_epochs=1", "eval.linear_probe=false"]
    config = load_config(None, words)
    config.backbone.params = {"channels": [8, 16]}  # replaces the MLP's hidden sizes
    train(config, run)
    return run


def test_exported_encoder_gives_the_runs_features(convnet_run, tmp_path, capsys):
    out = tmp_path / "new" / "enc.safetensors"  # its folder is made
    assert cli_main(["export", str(convnet_run), str(out)]) == 0
    said = capsys.readouterr().out
    assert said.startswith(f"wrote {out}:") and "load with selfsup.load_encoder" in said
    assert cli_main(["export", str(convnet_run), str(out)]) == 0  # a second export says so
    assert capsys.readouterr().out.startswith(f"replaced {out}:")
    encoder = load_encoder(out)
    assert not encoder.training and encoder.image_shape == (1, 8, 8) and encoder.out_dim == 16
    assert encoder.metadata["method"] == "vicreg" and encoder.metadata["dataset"] == "digits"
    method, _ = load_method(convnet_run)
    images = torch.randint(0, 256, (7, 1, 8, 8), dtype=torch.uint8)
    with torch.no_grad():
        assert torch.allclose(encoder(images), method.encode(images), atol=1e-6, rtol=0)
        # floats in [0, 1] are the same images
        assert torch.allclose(encoder(images / 255.0), encoder(images), atol=1e-6, rtol=0)


def test_load_encoder_imports_no_lightning(convnet_run, tmp_path):
    out = tmp_path / "enc.safetensors"
    assert cli_main(["export", str(convnet_run), str(out)]) == 0
    script = (
        "import sys, torch, selfsup\n"
        f"enc = selfsup.load_encoder({str(out)!r})\n"
        "with torch.no_grad():\n"
        "    f = enc(torch.zeros(2, 1, 8, 8))\n"
        "banned = [m for m in sys.modules if m.split('.')[0] in ('lightning', "
        "'pytorch_lightning', 'lightning_fabric') or m.startswith(('selfsup.train', "
        "'selfsup.methods', 'selfsup.cli', 'selfsup.experiments'))]\n"
        "print(tuple(f.shape), banned)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "(2, 16) []"


def test_export_needs_no_data_when_the_checkpoint_records_the_shape(convnet_run, tmp_path):
    import selfsup.data.from_config as run

    def no_data(config):
        raise AssertionError("export loaded the dataset")

    original, run.load_data = run.load_data, no_data
    try:
        assert cli_main(["export", str(convnet_run), str(tmp_path / "e.safetensors")]) == 0
    finally:
        run.load_data = original


@pytest.mark.parametrize(
    "write, message",
    [
        (lambda p: p.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{garbage"), "cannot read"),
        (lambda p: save_file({"w": torch.zeros(2)}, str(p)), "not a selfsup encoder"),
        (
            lambda p: save_file(
                {"w": torch.zeros(2)}, str(p), {"format": "selfsup.encoder", "version": "1"}
            ),
            "metadata is damaged",
        ),
        (
            lambda p: save_file(
                {"net.0.weight": torch.zeros(2)},
                str(p),
                {
                    "format": "selfsup.encoder",
                    "version": "1",
                    "metadata": json.dumps(
                        {
                            "backbone": "convnet",
                            "backbone_params": {"channels": [8]},
                            "image_shape": [1, 8, 8],
                            "out_dim": 8,
                        }
                    ),
                },
            ),
            "weights do not fit",
        ),
    ],
)
def test_bad_encoder_files_are_one_line_errors(tmp_path, write, message):
    path = tmp_path / "e.safetensors"
    write(path)
    with pytest.raises(SelfsupError, match=message) as caught:
        load_encoder(path)
    assert "\n" not in str(caught.value)


def test_export_errors_are_one_line(convnet_run, tmp_path, capsys):
    assert cli_main(["export", str(tmp_path / "nowhere"), str(tmp_path / "e.safetensors")]) == 2
    assert "neither a run directory nor a checkpoint" in capsys.readouterr().err
    assert cli_main(["export", str(convnet_run), str(tmp_path / "e.pt")]) == 2
    assert "must end in .safetensors" in capsys.readouterr().err


def test_a_plugin_methods_encoder_on_a_builtin_backbone_loads_without_the_plugin(tmp_path):
    """The file names its run's plug-ins, but a built-in backbone needs none of them: a
    colleague without the method's code can load it (and a plug-in backbone still needs its
    module, named in one line)."""
    import selfsup
    from selfsup.encoder import encoder_metadata, save_encoder
    from selfsup.nets import build_backbone

    backbone = build_backbone("mlp", (1, 8, 8), hidden=[16, 8])
    meta = encoder_metadata(
        "mlp",
        {"hidden": [16, 8]},
        (1, 8, 8),
        backbone.out_dim,
        [0.3],
        [0.4],
        plugins=["no_such_plugin_module"],
    )
    path = save_encoder(backbone, meta, tmp_path / "plug.safetensors")
    encoder = selfsup.load_encoder(path)
    x = torch.rand(3, 1, 8, 8)
    with torch.no_grad():
        assert torch.equal(
            encoder(x),
            backbone.eval()(
                torch.addcmul(
                    torch.full((1, 1, 1, 1), -0.3 / 0.4), x, torch.full((1, 1, 1, 1), 1 / 0.4)
                )
            ),
        )

    foreign = dict(meta, backbone="plugin_only_backbone")
    save_encoder(backbone, foreign, tmp_path / "foreign.safetensors")
    with pytest.raises(selfsup.SelfsupError, match="no_such_plugin_module"):
        selfsup.load_encoder(tmp_path / "foreign.safetensors")
