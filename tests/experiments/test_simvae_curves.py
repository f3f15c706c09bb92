"""The budget, the curves and their crossing points, the resumable runs, ``styled_mnist``."""

from __future__ import annotations

import json
import math

import pytest
import torch

from selfsup.errors import SelfsupError
from selfsup.experiments.simvae.curves import (
    advantage_claims,
    crossings,
    mean_curve,
    plateaued,
)
from selfsup.experiments.simvae.settings import curve_steps, parse_budget, split_method


def test_crossings_interpolates_in_log_steps():
    # a - b = -0.2 at 100, +0.2 at 400: the zero is halfway in log(step), at 200
    out = crossings([100, 400], [0.3, 0.7], [0.5, 0.5])
    assert len(out) == 1
    assert out[0]["step"] == pytest.approx(200.0, rel=1e-12)
    assert out[0]["direction"] == "a_overtakes" and out[0]["between"] == [100.0, 400.0]


def test_crossings_both_ways_ties_and_gaps():
    steps = [1, 2, 4, 8, 16, 32]
    a = [0.1, 0.5, 0.5, None, 0.2, 0.9]
    b = [0.2, 0.4, 0.5, 0.3, 0.3, 0.1]
    out = crossings(steps, a, b)
    # -0.1, +0.1 (a ahead), 0 (tie, skipped), gap, -0.1 (b ahead), +0.8 (a ahead)
    assert [c["direction"] for c in out] == ["a_overtakes", "b_overtakes", "a_overtakes"]
    assert out[0]["step"] == pytest.approx(math.sqrt(2), rel=1e-12)
    assert out[1]["between"] == [2.0, 16.0]  # the tie at 4 and the gap at 8 are skipped
    assert crossings(steps, [1.0] * 6, [0.0] * 6) == []


def test_crossings_rejects_bad_steps():
    with pytest.raises(ValueError, match="increasing"):
        crossings([2, 1], [0, 1], [1, 0])
    with pytest.raises(ValueError, match="one value per step"):
        crossings([1, 2], [0], [1, 0])


def test_curve_steps_and_budget():
    assert curve_steps(400, 100) == [100, 140, 200, 280, 400]
    grid = curve_steps(6000, 6000 // 32)
    assert grid[0] == 190 and grid[-1] == 6000 and grid == sorted(set(grid))
    assert all(b / a < 1.6 for a, b in zip(grid[:-2], grid[1:-1], strict=True))
    assert parse_budget("6000") == (6000, None)
    assert parse_budget("6000steps") == (6000, None)
    assert parse_budget("30m") == (None, 30.0)
    assert parse_budget("2.5min") == (None, 2.5)
    for bad in ("", "-3", "ten", "30h", "1.5steps", "0"):
        with pytest.raises(SelfsupError, match="--budget"):
            parse_budget(bad)
    assert split_method("simvae_official") == ("simvae", "official")
    assert split_method("vicreg") == ("vicreg", "elbo")


def _run(curve):
    return {"curve": [{"step": s, "style_score": v} for s, v in curve]}


def test_mean_curve_advantage_claim_and_plateau():
    # binary fractions, so that the tie at 200 is exact
    simvae = mean_curve(
        [
            _run([(100, 0.125), (200, 0.375), (400, 0.75), (800, 0.5)]),
            _run([(100, 0.375), (200, 0.625), (400, 0.75)]),
        ]
    )
    assert simvae["steps"] == [100, 200, 400]  # the steps every seed measured
    assert simvae["mean"]["style_score"] == [0.25, 0.5, 0.75]
    rival = mean_curve([_run([(100, 0.5), (200, 0.5), (400, 0.625)])])
    (claim,) = advantage_claims(
        {"simvae": simvae, "simclr": rival}, "shapes", "simvae", ["simclr", "vicreg"]
    )
    # two SimVAE runs against one rival run: no interval on the rival's side, never settled
    assert claim.verdict == "single seed" and claim.leaning == "holds"
    assert claim.effect == pytest.approx(12.5) and claim.unit == "pts"
    assert claim.ours["advantage_at_last_step"] == 0.125
    assert claim.ours["crossing_steps"] == [200.0]  # behind at 100, level at 200, ahead at 400
    assert "ahead at steps 400 of 100-400" in claim.regime
    assert crossings([1, 2, 3], [0.0, 0.5, 1.0], [1.0, 0.5, 2.0]) == []  # touches, no crossing
    assert not plateaued([0.3, 0.6, 0.8], [0.0, 0.0, 0.0])
    assert plateaued([0.3, 0.797, 0.80, 0.805], [0.0, 0.01, 0.01, 0.0])
    assert mean_curve([{"steps": 3}]) is None


def test_styled_mnist_from_sklearn_digits():
    from selfsup.data import load_dataset
    from selfsup.data.styled_mnist import BACKGROUNDS, COLOURS, render_digits

    d = load_dataset("styled_mnist", base="digits", n_train=60, n_test=30, image_size=24)
    assert d.train.images.shape == (60, 3, 24, 24) and d.train.images.dtype == torch.uint8
    assert d.test.images.shape == (30, 3, 24, 24)
    assert set(d.extras["style_train"]) == {"x", "y", "scale", "colour", "background"}
    again = load_dataset("styled_mnist", base="digits", n_train=60, n_test=30, image_size=24)
    assert torch.equal(d.train.images, again.train.images)
    # a blank digit is the background colour everywhere; a full one the foreground colour
    # wherever the digit's box covers the pixel (its centre always does)
    blank = torch.zeros(4, 1, 8, 8, dtype=torch.uint8)
    images, style = render_digits(blank, 16, seed=3)
    for img, bg in zip(images, style["background"], strict=True):
        expect = (BACKGROUNDS[bg] * 255).round().to(torch.uint8)
        assert torch.equal(img, expect[:, None, None].expand(3, 16, 16))
    full = torch.full((4, 1, 8, 8), 255, dtype=torch.uint8)
    images, style = render_digits(full, 16, seed=3)
    for img, c, x, y in zip(images, style["colour"], style["x"], style["y"], strict=True):
        col = int(round((x.item() + 1) / 2 * 16 - 0.5))
        row = int(round((y.item() + 1) / 2 * 16 - 0.5))
        expect = (COLOURS[c] * 255).round().to(torch.uint8)
        assert torch.equal(img[:, row, col], expect)


def test_styled_mnist_needs_mnist_files(tmp_path):
    from selfsup.data import load_dataset
    from selfsup.data.datasets import DatasetNotFoundError

    with pytest.raises(DatasetNotFoundError, match="MNIST"):
        load_dataset("styled_mnist", tmp_path)


def test_interrupted_run_resumes_to_the_same_result(tmp_path, monkeypatch):
    """A run killed after its first curve step continues from its saved state and ends with
    the same weights, curve and losses as an uninterrupted run."""
    from dataclasses import asdict

    from selfsup.experiments.experiment import RunContext
    from selfsup.experiments.simvae import Params, setting_for, train_eval
    from selfsup.experiments.simvae.settings import quick_settings

    torch.set_num_threads(1)
    p = Params(
        settings=quick_settings(),
        budget="6",
        curve_from=3,
        widths=(8, 16),
        batch_size=8,
        shapes_size=(48, 40),
    )
    s = setting_for(p, "shapes")
    assert s.eval_at == [3, 4, 6]
    job = dict(
        dataset="shapes",
        method="simvae_official",
        seed=0,
        setting=asdict(s),
        pictures=False,
        mlp_probe=False,
    )

    def ctx(out):
        run_dir = out / "runs" / "shapes-simvae_official-s0"
        run_dir.mkdir(parents=True)
        return RunContext(out, run_dir, tmp_path, 1)

    whole = train_eval.run_one(job, ctx(tmp_path / "a"))

    saves = []
    real_save = train_eval._save_state

    def save_then_die(path, state):
        real_save(path, state)
        saves.append(int(state["counters"][0]))
        if len(saves) == 1:
            raise KeyboardInterrupt

    monkeypatch.setattr(train_eval, "_save_state", save_then_die)
    with pytest.raises(KeyboardInterrupt):
        train_eval.run_one(job, ctx(tmp_path / "b"))
    assert saves == [3]
    (tmp_path / "b" / "runs").rename(tmp_path / "b" / "old")  # the runner clears the run dir
    resumed = train_eval.run_one(job, ctx(tmp_path / "b"))
    assert resumed["resumed_at_step"] == 3 and whole["resumed_at_step"] is None
    assert json.dumps(resumed["losses"]) == json.dumps(whole["losses"])
    assert [r["step"] for r in resumed["curve"]] == [3, 4, 6]
    for a, b in zip(resumed["curve"], whole["curve"], strict=True):
        assert a["style_score"] == pytest.approx(b["style_score"], abs=1e-6)
    a = torch.load(tmp_path / "a/partial/shapes-simvae_official-s0/state.pt", weights_only=True)
    b = torch.load(tmp_path / "b/partial/shapes-simvae_official-s0/state.pt", weights_only=True)
    for k in a["model"]:
        torch.testing.assert_close(a["model"][k], b["model"][k], rtol=0, atol=1e-6)


def test_advantage_claim_is_paired_by_seed_at_the_last_step():
    # differences at step 400 by seed: 0.02, 0.03, 0.01 -> mean 2 points, sd 1 point,
    # half-width t(0.975, 2) = 4.303 (the t table) x 1 / sqrt(3) = 2.48 points: straddles 0.5
    ours = mean_curve([_run([(100, 0.5), (400, v)]) for v in (0.62, 0.63, 0.61)])
    rival = mean_curve([_run([(100, 0.5), (400, 0.6)]) for _ in range(3)])
    (claim,) = advantage_claims({"simvae": ours, "vicreg": rival}, "shapes", "simvae", ["vicreg"])
    half = 4.303 / 3**0.5
    assert claim.verdict == "inconclusive" and claim.seeds == 3
    assert claim.interval == pytest.approx((2 - half, 2 + half), abs=1e-3)
    # a steady 2-point lead at every seed holds beyond the 0.5-point margin
    ours = mean_curve([_run([(100, 0.5), (400, 0.62)]) for _ in range(3)])
    (claim,) = advantage_claims({"simvae": ours, "vicreg": rival}, "shapes", "simvae", ["vicreg"])
    assert claim.verdict == "holds" and claim.effect == pytest.approx(2.0)
