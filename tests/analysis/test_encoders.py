"""selfsup analyze --encoder torchvision:/timm: --weights FILE: key layouts of plain state dicts,
safetensors, solo-learn and lightly checkpoints (small fakes of their layouts), bad files, and
analysis.json end to end."""

import json
import math
import pickle

import pytest
import torch
import torchvision
from torch import nn

from selfsup.analysis.command import main
from selfsup.analysis.encoders import encoder_from_file
from selfsup.errors import SelfsupError


def _features(net: nn.Module, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return net.eval()(x)


def _source(small_stem: bool = False) -> nn.Module:
    torch.manual_seed(0)
    net = torchvision.models.resnet18()
    if small_stem:  # solo-learn's CIFAR ResNet
        net.conv1 = nn.Conv2d(3, 64, 3, 1, 1, bias=False)
        net.maxpool = nn.Identity()
    # non-trivial batch-norm statistics, so a missed buffer shows in the features
    for m in net.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
    net.fc = nn.Identity()
    return net.eval()


X = torch.rand(2, 3, 32, 32)


def test_plain_state_dict_and_safetensors(tmp_path):
    from safetensors.torch import save_file

    src = _source()
    state = {k: v for k, v in src.state_dict().items()}
    torch.save(state, tmp_path / "w.pt")
    save_file(state, str(tmp_path / "w.safetensors"))
    for name in ("w.pt", "w.safetensors"):
        enc, how = encoder_from_file("torchvision:resnet18", str(tmp_path / name), 3)
        assert "plain" in how
        assert torch.allclose(_features(enc, X), _features(src, X), atol=1e-5)


def test_solo_learn_checkpoint_takes_the_online_backbone(tmp_path):
    src = _source(small_stem=True)
    state = {f"backbone.{k}": v for k, v in src.state_dict().items()}
    # the momentum copy holds other values: it must not be the one loaded
    state.update({f"momentum_backbone.{k}": v + 1.0 for k, v in src.state_dict().items()})
    state["projector.0.weight"] = torch.randn(2048, 512)
    state["classifier.weight"], state["classifier.bias"] = torch.randn(10, 512), torch.zeros(10)
    ckpt = {"state_dict": state, "epoch": 3, "global_step": 100, "pytorch-lightning_version": "2"}
    torch.save(ckpt, tmp_path / "solo.ckpt")
    enc, how = encoder_from_file("torchvision:resnet18", str(tmp_path / "solo.ckpt"), 3)
    assert "prefix 'backbone.'" in how
    assert enc.conv1.kernel_size == (3, 3) and isinstance(enc.maxpool, nn.Identity)
    assert torch.allclose(_features(enc, X), _features(src, X), atol=1e-5)


def test_lightly_sequential_backbone(tmp_path):
    src = _source()
    # lightly's examples: backbone = nn.Sequential(*list(resnet18().children())[:-1])
    backbone = nn.Sequential(*list(src.children())[:-1])
    state = {f"backbone.{k}": v for k, v in backbone.state_dict().items()}
    state["projection_head.layers.0.weight"] = torch.randn(512, 512)
    torch.save({"state_dict": state}, tmp_path / "lightly.ckpt")
    enc, how = encoder_from_file("torchvision:resnet18", str(tmp_path / "lightly.ckpt"), 3)
    assert "children under 'backbone.'" in how
    assert torch.allclose(_features(enc, X), _features(src, X), atol=1e-5)


def test_timm_resnet(tmp_path):
    timm = pytest.importorskip("timm")
    torch.manual_seed(1)
    src = timm.create_model("resnet18", pretrained=False, num_classes=7).eval()
    torch.save(src.state_dict(), tmp_path / "timm.pt")
    enc, how = encoder_from_file("timm:resnet18", str(tmp_path / "timm.pt"), 3)
    src.reset_classifier(0)
    assert torch.allclose(_features(enc, X), _features(src, X), atol=1e-5)


def test_bad_files_are_one_line_errors(tmp_path):
    state = _source().state_dict()
    del state["layer4.1.bn2.running_var"]
    torch.save(state, tmp_path / "short.pt")
    with pytest.raises(SelfsupError, match="no key layout fits.*layer4.1.bn2.running_var"):
        encoder_from_file("torchvision:resnet18", str(tmp_path / "short.pt"), 3)
    with open(tmp_path / "code.pt", "wb") as f:
        pickle.dump({"x": torch.nn.ReLU()}, f)  # unpickling would build an object: refused
    with pytest.raises(SelfsupError, match="code.pt"):
        encoder_from_file("torchvision:resnet18", str(tmp_path / "code.pt"), 3)
    with pytest.raises(SelfsupError, match="unknown torchvision"):
        encoder_from_file("torchvision:resnet_nope", str(tmp_path / "short.pt"), 3)
    with pytest.raises(SelfsupError, match="needs --weights"):
        encoder_from_file("torchvision:resnet18", None, 3)


def test_analyze_writes_analysis_json_with_intervals_and_augmentation_r2(tmp_path):
    torch.manual_seed(0)
    weights = tmp_path / "resnet18.pt"
    torch.save(torchvision.models.resnet18().state_dict(), weights)
    out = tmp_path / "out"
    argv = ["--encoder", "torchvision:resnet18", "--weights", str(weights), "--dataset", "digits"]
    small = ["--n-samples", "96", "--n-gaussianity", "2", "--n-views", "20", "--n-resamples", "20"]
    assert main([*argv, "--image-size", "16", "--channels", "3", "--out", str(out), *small]) == 0
    result = json.loads((out / "analysis.json").read_text())
    assert result["weights"] == str(weights) and result["dims"] == {"encoder": 512}
    for key in ("rankme", "effective_rank", "alpha_req", "lidar"):
        entry = result[key]["encoder"]
        lo, hi = entry["ci95"]
        assert math.isfinite(entry["value"]) and lo <= hi
    for entry in (
        *result["entropy"]["encoder"].values(),
        *result["mutual_information"]["encoder"].values(),
    ):
        assert math.isfinite(entry["value"]) and isinstance(entry["below_measured_regime"], bool)
    assert result["entropy"]["encoder"]["knn"]["below_measured_regime"]  # d = 512 > 5
    r2 = result["augmentation_r2"]["encoder"]
    assert {"crop_scale", "crop_left", "angle"} <= set(r2)
    assert all(math.isfinite(v) and v <= 1.0 for v in r2.values())
    assert "## encoder output (d = 512)" in (out / "report.md").read_text()


def test_grey_images_into_an_rgb_encoder_say_what_to_do(tmp_path, capsys):
    weights = tmp_path / "resnet18.pt"
    torch.save(torchvision.models.resnet18().state_dict(), weights)
    argv = ["--encoder", "torchvision:resnet18", "--weights", str(weights), "--dataset", "digits"]
    assert main([*argv, "--out", str(tmp_path / "o")]) == 2
    assert "--channels 3" in capsys.readouterr().err
