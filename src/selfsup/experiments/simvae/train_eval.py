"""One SimVAE-reproduction run: train a method on one dataset with Adam (a plain loop, no
Lightning: the runs are small and many) for a budget of steps or minutes, measure the frozen
encoder at the curve's steps along the way and fully at the end (``probing.py``) and, for seed 0
of a generative method, draw reconstructions and cluster samples.

A run saves its whole state (weights, Adam, the data order, the curve so far, its training
time) to ``OUT/partial/<key>/state.pt`` at every curve step and every ``SAVE_EVERY_S`` seconds
of training; a rerun with the same arguments continues from there, drawing exactly the views
and batches an uninterrupted run would have drawn, so an interruption loses at most that much.
A rerun with a larger budget (and otherwise the same arguments) continues it too: the budget
can grow in chunks. The curve's points probe a fixed subset of the images (``curve_eval``) so
that each costs seconds; the final table probes the full evaluation sets.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import torch
from omegaconf import OmegaConf

from selfsup.experiments.experiment import RunContext
from selfsup.experiments.simvae.probing import Features, final_metrics, point_metrics
from selfsup.experiments.simvae.settings import GENERATIVE, Setting, split_method

SAVE_EVERY_S = 60.0
STATE = "state.pt"


def run_config(dataset: str, method: str, seed: int, s: Setting, data_root: str) -> dict:
    """The full selfsup config of one run (also usable with ``selfsup train``); ``method`` may
    carry a weighting suffix, e.g. ``simvae_official``."""
    name, weighting = split_method(method)
    params: dict = {}
    if name in GENERATIVE:
        params = dict(likelihood=s.likelihood, binarise_targets=s.binarise_targets)
        if weighting != "elbo":
            params["weighting"] = weighting
    return {
        "seed": seed,
        "data": {
            "name": dataset,
            "root": data_root,
            "batch_size": s.batch_size,
            "views": s.views,
            "params": s.data_params,
        },
        "backbone": {"name": s.backbone, "params": s.backbone_params},
        "method": {"name": name, "params": params, "projector": s.projector},
        "optim": {
            "name": "adam",
            "lr": s.lr,
            "eps": 1e-4,
            "weight_decay": 0.0,
            "warmup_epochs": 0,
            "schedule": "constant",
        },
        "trainer": {"max_steps": s.steps},
    }


_DATA: dict = {}  # per process: a worker loads each dataset once for all its runs


def _data(dataset: str, root: Path, params: dict):
    from selfsup.data import load_dataset

    key = (dataset, str(root), json.dumps(params, sort_keys=True))
    if key not in _DATA:
        _DATA[key] = load_dataset(dataset, root, **params)
    return _DATA[key]


def _subset(dataset, n: int, seed: int = 0):
    from selfsup.data import TensorImages

    if not n or n >= len(dataset) or not isinstance(dataset, TensorImages):
        return dataset, None
    idx = torch.randperm(len(dataset), generator=torch.Generator().manual_seed(seed))[:n]
    return TensorImages(dataset.images[idx], dataset.labels[idx], dataset.num_classes), idx


def run_one(job: dict, ctx: RunContext) -> dict:
    """Train one (dataset, method, seed) and evaluate it; returns its metrics.

    A non-finite loss ends the run with ``{"error": ..., "finite": False}`` instead of
    stopping the reproduction: the report lists it."""
    from selfsup.methods import NonFiniteLossError

    try:
        return _train_and_evaluate(job, ctx)
    except NonFiniteLossError as err:
        return {"error": f"non-finite loss: {err}", "finite": False}


class _Progress:
    """Everything a run carries from step to step, saved and restored as plain tensors and
    lists (``torch.load(weights_only=True)`` reads it back)."""

    def __init__(self, seed: int, n: int) -> None:
        self.step, self.cursor, self.seconds = 0, 0, 0.0
        self.gen = torch.Generator().manual_seed(seed)
        self.order = torch.randperm(n, generator=self.gen)
        self.losses: list = []
        self.curve: list = []

    def state(self, method, optimiser, args: str) -> dict:
        return {
            "args": args,
            "model": method.state_dict(),
            "optimiser": optimiser.state_dict(),
            "gen": self.gen.get_state(),
            "order": self.order,
            "counters": torch.tensor([self.step, self.cursor], dtype=torch.int64),
            "seconds": torch.tensor(self.seconds, dtype=torch.float64),
            "losses": json.dumps(self.losses),
            "curve": json.dumps(self.curve),
        }

    def restore(self, saved: dict, method, optimiser) -> None:
        method.load_state_dict(saved["model"])
        optimiser.load_state_dict(saved["optimiser"])
        self.gen.set_state(saved["gen"])
        self.order = saved["order"]
        self.step, self.cursor = (int(v) for v in saved["counters"])
        self.seconds = float(saved["seconds"])
        self.losses, self.curve = json.loads(saved["losses"]), json.loads(saved["curve"])


def _identity(job: dict) -> str:
    """What a saved state must share with a run to continue it: everything but the budget, so
    that a longer budget continues a shorter one's run."""
    setting = {k: v for k, v in job["setting"].items() if k not in ("steps", "minutes", "eval_at")}
    return json.dumps({**job, "setting": setting, "pictures": None}, sort_keys=True)


def _load_state(path: Path, args: str) -> dict | None:
    """The saved state of this very run, or ``None`` (absent, unreadable, other arguments)."""
    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
    except (OSError, RuntimeError, ValueError, EOFError):
        return None
    if not isinstance(saved, dict) or saved.get("args") != args:
        return None
    return saved


def _save_state(path: Path, state: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    tmp.replace(path)  # atomic: a kill while saving leaves the previous state intact


def _train_and_evaluate(job: dict, ctx: RunContext) -> dict:
    from selfsup.config import Config
    from selfsup.data.views import to_unit_float
    from selfsup.methods import NonFiniteLossError, build_method
    from selfsup.optim import build_optimizer, parameter_groups

    s = Setting(**job["setting"])
    dataset, method_name, seed = job["dataset"], job["method"], job["seed"]
    config = OmegaConf.merge(
        OmegaConf.structured(Config),
        run_config(dataset, method_name, seed, s, str(ctx.data_root)),
    )
    data = _data(dataset, ctx.data_root, s.data_params)
    torch.manual_seed(seed)
    method = build_method(config, data)
    modules = [m for n, m in method.named_children() if n not in ("views", "normalise")]
    optimiser = build_optimizer(parameter_groups(modules, 0.0), "adam", s.lr, 0.0, eps=1e-4)
    n = len(data.ssl_train)
    p = _Progress(seed, n)
    args = _identity(job)
    state_path = ctx.out / "partial" / ctx.run_dir.name / STATE
    saved = _load_state(state_path, args)
    if saved is not None and int(saved["counters"][0]) <= s.steps:
        p.restore(saved, method, optimiser)
    else:
        saved = None
    resumed_at = p.step
    train_set, train_idx = _subset(data.train, s.eval_train, seed=0)
    curve_train, curve_idx = _subset(train_set, s.curve_eval[0], seed=1)
    if train_idx is not None and curve_idx is not None:
        curve_idx = train_idx[curve_idx]
    elif curve_idx is None:
        curve_idx = train_idx
    curve_at = set(s.eval_at)
    last_save = time.time()

    def curve_point() -> None:
        if p.curve and p.curve[-1]["step"] == p.step:
            return  # measured before an interruption
        method.eval()
        f = Features(method, data, curve_train, curve_idx, test_n=s.curve_eval[1])
        p.curve.append({"step": p.step, "train_seconds": p.seconds, **point_metrics(f)})
        method.train()

    def out_of_budget() -> bool:
        if s.minutes is not None and p.seconds >= 60 * s.minutes:
            return True
        return p.step >= s.steps

    method.train()
    while not out_of_budget():
        start = time.time()
        if p.cursor + s.batch_size > n:
            p.order, p.cursor = torch.randperm(n, generator=p.gen), 0
        images, _ = data.ssl_train.get_batch(p.order[p.cursor : p.cursor + s.batch_size])
        p.cursor += s.batch_size
        torch.manual_seed(seed * 1_000_003 + p.step)  # the views of a step depend on (seed, step)
        views = [method.normalise(v) for v in method.views(to_unit_float(images))]
        terms, _ = method.compute_loss(views)
        if not torch.isfinite(terms[0]):
            raise NonFiniteLossError(p.step, 0, terms[0].item())
        optimiser.zero_grad(set_to_none=True)
        terms[0].backward()
        optimiser.step()
        log_every = max(1, s.steps // 20) if s.minutes is None else 50
        if p.step % log_every == 0:
            p.losses.append((p.step, float(terms[0].detach())))
        p.step += 1
        p.seconds += time.time() - start
        if p.step in curve_at or out_of_budget():
            curve_point()
        if p.step in curve_at or out_of_budget() or time.time() - last_save > SAVE_EVERY_S:
            _save_state(state_path, p.state(method, optimiser, args))
            last_save = time.time()
    if not p.curve or p.curve[-1]["step"] != p.step:  # resumed at the end of the budget
        curve_point()
        _save_state(state_path, p.state(method, optimiser, args))
    method.eval()
    features = Features(method, data, train_set, train_idx)
    m: dict = {
        "steps": p.step,
        "train_seconds": round(p.seconds, 1),
        "resumed_at_step": resumed_at or None,
        "final_loss": p.losses[-1][1] if p.losses else math.nan,
        "losses": p.losses,
    }
    m.update(final_metrics(features, data.num_classes, seed, job["mlp_probe"]))
    m["curve"] = p.curve
    if job["pictures"] and split_method(method_name)[0] in GENERATIVE:
        from selfsup.evaluate.pictures import cluster_samples_grid, reconstruction_grid

        images, _ = data.test.get_batch(torch.arange(12))
        reconstruction_grid(method, images, ctx.run_dir / "recon.png")
        cluster_samples_grid(
            method, features.train[:5000], data.num_classes, ctx.run_dir / "samples.png"
        )
        m["pictures"] = ["recon.png", "samples.png"]
    return m
