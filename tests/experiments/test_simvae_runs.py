"""End to end: SimVAE trains and resumes through `selfsup train`, `reproduce simvae` writes its
report; MNIST-specific checks skip when ../shared/data is absent."""

import json

import torch

from selfsup.config import load_config
from selfsup.data import load_dataset
from selfsup.experiments.command import main as reproduce
from selfsup.experiments.simvae import RESULT_KEYS
from selfsup.methods import SimVAE, build_method
from selfsup.train import load_method, train

TINY_SHAPES = [
    "data.params.n_train=96",
    "data.params.n_test=32",
    "data.params.image_size=16",
    "data.batch_size=16",
    "backbone.params.widths=[8,16]",
    "backbone.params.latent_dim=6",
    "trainer.max_epochs=1",
    "trainer.enable_progress_bar=false",
    "trainer.enable_model_summary=false",
    "eval.online_probe=false",
]


def test_simvae_train_and_resume_on_shapes(tmp_path):
    config = load_config("simvae_shapes", TINY_SHAPES)
    first = train(config, tmp_path / "run")
    assert first is not None and first["global_step"] == 96 // 16
    ckpt_one = torch.load(tmp_path / "run/checkpoints/last.ckpt", weights_only=False)
    more = load_config(tmp_path / "run/config.yaml", ["trainer.max_epochs=2"])
    second = train(more, tmp_path / "run", resume=True)
    assert second["global_step"] == 2 * (96 // 16) and second["epochs"] == 2
    method, _ = load_method(tmp_path / "run")
    assert isinstance(method, SimVAE)
    # the resumed run changed the weights it restored
    before = ckpt_one["state_dict"]["backbone.head.weight"]
    assert not torch.equal(before, method.state_dict()["backbone.head.weight"])
    assert all(torch.isfinite(p).all() for p in method.parameters())


def test_official_defaults_stay_finite_on_mnist(mnist_root):
    # the official config (lr 8e-5, sigma^2 0.15, Bernoulli, N(0, I) hyperprior) for 12 steps
    config = load_config("simvae_mnist", [f"data.root={mnist_root}"])
    data = load_dataset("mnist", mnist_root)
    torch.manual_seed(0)
    method = build_method(config, data)
    assert method.normalise.std.eq(1).all()  # Bernoulli VAE: images in [0, 1], not normalised
    optimiser = torch.optim.Adam(method.parameters(), lr=8e-5, eps=1e-4)
    losses = []
    for step in range(12):
        images = data.train.images[step * 64 : (step + 1) * 64].float() / 255
        terms, features = method.compute_loss(method.views(images))
        assert features.shape == (64, 10)
        optimiser.zero_grad()
        terms.loss.backward()
        optimiser.step()
        losses.append(terms.loss.item())
    assert all(torch.isfinite(torch.tensor(losses)))
    assert sum(losses[-3:]) < sum(losses[:3])  # it learns


def test_reproduce_smoke(tmp_path, capsys):
    out = tmp_path / "rep"
    argv = ["simvae", "--preset", "tiny", "--workers", "1", "--out", str(out)]
    assert reproduce([*argv, "--budget", "4", "--curve-from", "2"]) == 0
    results = json.loads((out / "results.json").read_text())
    shapes = results["summary"]["shapes"]
    assert set(shapes) == {"simvae", "vicreg"}
    assert set(RESULT_KEYS) <= set(shapes["simvae"]["mean"])
    assert 0 <= shapes["simvae"]["mean"]["content_linear_top1"] <= 1
    (run,) = shapes["simvae"]["runs"]
    assert run["content_linear_top1"] == shapes["simvae"]["mean"]["content_linear_top1"]
    claims = {c["claim"]: c for c in results["claims"]}
    style = claims["SimVAE's representation keeps more style (style_score) than vicreg's"]
    ours = (shapes["simvae"]["mean"]["style_score"], shapes["vicreg"]["mean"]["style_score"])
    assert style["ours"] == {"simvae": ours[0], "vicreg": ours[1]}
    assert style["regime"].startswith("shapes, 4 steps")
    # one seed: never settled; where it leans follows the difference against the margin
    assert style["verdict"] == "single seed" and style["seeds"] == 1
    assert style["leaning"] == ("holds" if 100 * (ours[0] - ours[1]) > 0.5 else "does not hold")
    for c in results["claims"]:
        assert {"effect", "interval", "seeds", "verdict", "deterministic"} <= set(c)
        assert c["verdict"] == "single seed" and c["interval"] is None, c["claim"]
    # the rival's projector output is probed too; the VAE has no projector
    proj = shapes["vicreg"]["mean"]["projector_style_score"]
    head = claims[
        "SimVAE's representation keeps more style (style_score) than vicreg's projector output"
    ]
    assert head["ours"] == {"simvae": ours[0], "vicreg projector output": proj}
    assert "projector_style_score" not in shapes["simvae"]["mean"]
    # the curves: probe points at steps 2, 3 and 4, and the advantage claim built on them
    curve = shapes["simvae"]["curve"]
    assert curve["steps"] == [2, 3, 4] and len(curve["mean"]["style_score"]) == 3
    advantage = [c for c in results["claims"] if "once trained long enough" in c["claim"]]
    assert [c["claim"].split(" keeps")[0] for c in advantage] == ["simvae"]
    assert advantage[0]["ours"]["last_step"] == 4 and advantage[0]["regime"].startswith("shapes:")
    assert (out / "curves-shapes.png").exists() and "curves-shapes.png" in results["figures"]
    # a longer budget continues the same runs from their saved state
    assert reproduce([*argv, "--budget", "6", "--curve-from", "2", "--resume"]) == 0
    longer = json.loads((out / "results.json").read_text())["summary"]["shapes"]["simvae"]
    assert longer["runs"][0]["resumed_at_step"] == 4 and longer["curve"]["steps"] == [2, 3, 4, 6]
    report = (out / "report.md").read_text()
    assert "## shapes" in report and "style_score" in report and "## Claims" in report
    assert (out / "runs" / "shapes-simvae-s0" / "recon.png").exists()
    assert "(runs/shapes-simvae-s0/recon.png)" in report
    assert reproduce(["simvae", "--out", str(out), "--methods", "nope"]) == 2
    assert "nope" in capsys.readouterr().err
