"""MoCo, BYOL, DINO, SimSiam and Radial-VICReg: the momentum teacher, training end to end with the
analysis tools attached, exact resume of the momentum methods, and bad parameters."""

import json
import math

import lightning as L
import pytest
import torch

from selfsup.analysis.command import main as analyze_main
from selfsup.cli import main as cli_main
from selfsup.config import load_config
from selfsup.data import load_dataset
from selfsup.methods import build_method
from selfsup.methods.momentum import cosine_momentum, ema_update_
from selfsup.train import load_method, train
from tests.conftest import TINY
from tests.train.test_train import CrashAfterEpoch

# small enough for seconds per epoch; the paper-sized defaults are exercised by the configs
SMALL = {
    "moco": ["method.params.queue_size=256"],
    "byol": ["method.params.predictor_hidden=64"],
    "dino": [
        "method.params.out_dim=128",
        "method.params.local_crops=2",
        "method.params.local_crop_scale=[0.3,0.6]",
        "method.params.warmup_teacher_temperature_epochs=2",
    ],
    "simsiam": ["method.params.predictor_hidden=16"],
    "radial_vicreg": [],
}


def _config(method: str, *more: str):
    # 512 of the 1437 training images: 4 steps an epoch
    small = [*TINY, "data.train_subset=512", f"method.name={method}", *SMALL[method]]
    return load_config(None, [*small, *more])


def test_cosine_momentum_follows_byols_formula():
    base, total = 0.996, 1000
    for k in (0, 1, 250, 500, 999, 1000, 1500):
        expected = 1 - (1 - base) * (math.cos(math.pi * min(k, total) / total) + 1) / 2
        assert cosine_momentum(k, total, base, 1.0) == pytest.approx(expected, abs=1e-15)
    assert cosine_momentum(0, total, base) == pytest.approx(base)
    assert cosine_momentum(total, total, base) == 1.0
    assert cosine_momentum(123, total, 0.99, 0.99) == pytest.approx(0.99)  # MoCo's constant


def test_ema_update_is_the_weighted_average():
    torch.manual_seed(0)
    student, teacher = torch.nn.Linear(3, 2), torch.nn.Linear(3, 2)
    before = [p.clone() for p in teacher.parameters()]
    ema_update_(teacher, student, 0.9)
    for t, t0, s in zip(teacher.parameters(), before, student.parameters(), strict=True):
        assert torch.allclose(t, 0.9 * t0 + 0.1 * s, rtol=0, atol=1e-7)
    frozen = [p.clone() for p in teacher.parameters()]
    ema_update_(teacher, student, 1.0)
    assert all(torch.equal(a, b) for a, b in zip(frozen, teacher.parameters(), strict=True))


@pytest.mark.parametrize("method", ["moco", "byol", "dino"])
def test_teacher_gets_no_gradient_and_no_optimiser(method):
    data = load_dataset("digits")
    model = build_method(_config(method), data)
    images = data.train.get_batch(torch.arange(16))[0].float() / 255
    views = [model.normalise(v) for v in model.views(images)]
    terms, features = model.compute_loss(views)
    terms.loss.backward()
    assert features.shape == (16, model.backbone.out_dim)
    assert all(p.grad is None and not p.requires_grad for p in model.teacher.parameters())
    assert any(p.grad is not None for p in model.backbone.parameters())
    teacher_ids = {id(p) for p in model.teacher.parameters()}
    from selfsup.optim import parameter_groups

    chosen = parameter_groups([m for n, m in model.named_children() if n != "views"], 0.0)
    assert not teacher_ids & {id(p) for g in chosen for p in g["params"]}


@pytest.mark.parametrize("method", sorted(SMALL))
def test_trains_and_the_analysis_tools_read_it(method, tmp_path):
    info = [
        "callbacks.info_tracking.n_samples=64",
        "callbacks.info_tracking.n_views=20",
        "callbacks.info_tracking.n_gaussianity=1",
        "callbacks.info_tracking.plot=false",
    ]
    config = _config(method, "trainer.max_epochs=1", "eval.linear_probe=false", *info)
    metrics = train(config, tmp_path)
    assert metrics["knn_top1"] > 0.5 and metrics["method"] == method
    history = json.loads((tmp_path / "info_tracking.json").read_text())
    assert len(history) == 2 and all(math.isfinite(v) for v in history[-1].values())
    out = tmp_path / "analysis"
    argv = [str(tmp_path), "--out", str(out), "--n-samples", "64"]
    assert analyze_main([*argv, "--n-gaussianity", "1", "--n-views", "20"]) == 0
    report = (out / "report.md").read_text()
    assert "## backbone output (d = 32)" in report and "## projector output" in report


@pytest.mark.parametrize("method", ["moco", "dino", pytest.param("byol", marks=pytest.mark.slow)])
def test_momentum_method_resumes_exactly(method, tmp_path):
    """2 epochs, a crash, a resume to 4 == 4 epochs straight: student, teacher, queue/centre."""
    config = _config(
        method, "trainer.max_epochs=4", "eval.linear_probe=false", "eval.online_probe=false"
    )
    straight = train(config, tmp_path / "straight")
    with pytest.raises(RuntimeError, match="simulated crash"):
        train(config, tmp_path / "crashed", extra_callbacks=[CrashAfterEpoch(1)])
    resumed = train(config, tmp_path / "crashed", resume=True)
    assert resumed["global_step"] == straight["global_step"] == 4 * (512 // 128)
    assert resumed["knn_top1"] == straight["knn_top1"]
    a, _ = load_method(tmp_path / "straight")
    b, _ = load_method(tmp_path / "crashed")
    state_a, state_b = a.state_dict(), b.state_dict()
    assert state_a.keys() == state_b.keys()
    assert any(k.startswith("teacher.") for k in state_a)
    for name, p in state_a.items():
        assert torch.equal(p, state_b[name]), name
    # the teacher moved away from its initial copy (train seeds before building), and it
    # differs from the student
    L.seed_everything(config.seed, verbose=False)
    initial = build_method(config, load_dataset("digits")).state_dict()
    teacher = [k for k in state_a if k.startswith("teacher.") and state_a[k].is_floating_point()]
    assert all(torch.equal(initial[k], initial[k.removeprefix("teacher.")]) for k in teacher)
    assert any(not torch.equal(state_a[k], initial[k]) for k in teacher)
    assert any(not torch.equal(state_a[k], state_a[k.removeprefix("teacher.")]) for k in teacher)


@pytest.mark.parametrize(
    "override, message",
    [
        ("method.name=moco method.params.queue_size=0", "queue_size"),
        ("method.name=byol method.params.base_momentum=1.5", "momentum"),
        ("method.name=radial_vicreg method.params.radial=kde", "radial"),
        ("method.name=dino method.params.local_crops=-1", "local_crops"),
    ],
)
def test_bad_method_parameters_are_one_line_errors(override, message, tmp_path, capsys):
    code = cli_main(["train", "--run-dir", str(tmp_path), *override.split(), *TINY])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error:") and message in err
    assert "Traceback" not in err


NEW_CONFIGS = [f"{m}_{d}" for m in sorted(SMALL) for d in ("digits", "mnist")]


@pytest.mark.parametrize("name", NEW_CONFIGS)
def test_shipped_configs_build_and_take_a_step(name, mnist_root):
    from selfsup.data.from_config import load_data

    config = load_config(name, [f"data.root={mnist_root}", "data.train_subset=64"])
    assert config.method.name == name.rsplit("_", 1)[0]
    model = build_method(config, load_data(config))
    images = load_data(config).train.get_batch(torch.arange(8))[0].float() / 255
    views = [model.normalise(v) for v in model.views(images)]
    if config.method.name == "dino":  # the MNIST config's local crops are smaller
        sizes = {v.shape[-1] for v in views[2:]}
        assert len(views) == 2 + config.method.params.local_crops
        assert sizes == {config.method.params.get("local_crop_size") or images.shape[-1]}
    terms, features = model.compute_loss(views)
    terms.loss.backward()
    assert torch.isfinite(terms.loss) and features.shape == (8, model.backbone.out_dim)
