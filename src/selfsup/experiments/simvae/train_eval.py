"""One SimVAE-reproduction run: train a method on one dataset for a fixed number of steps with
Adam (a plain loop, no Lightning: the runs are small and many), then evaluate the frozen encoder
(linear probe, kNN sweep, GMM clustering, latent structure, style probes) and, for seed 0 of a
generative method, draw reconstructions and cluster samples."""

from __future__ import annotations

import json
import time
from pathlib import Path

import torch
from omegaconf import OmegaConf

from selfsup.experiments.experiment import RunContext
from selfsup.experiments.simvae.settings import GENERATIVE, KNN_KS, Setting


def run_config(dataset: str, method: str, seed: int, s: Setting, data_root: str) -> dict:
    """The full selfsup config of one run (also usable with ``selfsup train``)."""
    params: dict = {}
    if method in GENERATIVE:
        params = dict(likelihood=s.likelihood, binarise_targets=s.binarise_targets)
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
        "method": {"name": method, "params": params, "projector": s.projector},
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


def _train_and_evaluate(job: dict, ctx: RunContext) -> dict:
    from selfsup.config import Config
    from selfsup.data.views import to_unit_float
    from selfsup.evaluate import (
        LinearProbe,
        MLPProbe,
        extract_features,
        gmm_clustering,
        knn_sweep,
        latent_structure,
        style_scores,
    )
    from selfsup.evaluate.pictures import cluster_samples_grid, reconstruction_grid
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
    order_gen = torch.Generator().manual_seed(seed)
    n = len(data.ssl_train)
    order = torch.randperm(n, generator=order_gen)
    cursor, losses, start = 0, [], time.time()
    method.train()
    for step in range(s.steps):
        if cursor + s.batch_size > n:
            order, cursor = torch.randperm(n, generator=order_gen), 0
        images, _ = data.ssl_train.get_batch(order[cursor : cursor + s.batch_size])
        cursor += s.batch_size
        torch.manual_seed(seed * 1_000_003 + step)  # the views of a step depend on (seed, step)
        views = [method.normalise(v) for v in method.views(to_unit_float(images))]
        terms, _ = method.compute_loss(views)
        if not torch.isfinite(terms[0]):
            raise NonFiniteLossError(step, 0, terms[0].item())
        optimiser.zero_grad(set_to_none=True)
        terms[0].backward()
        optimiser.step()
        if step % max(1, s.steps // 20) == 0 or step == s.steps - 1:
            losses.append((step, float(terms[0].detach())))
    train_seconds = time.time() - start
    method.eval()
    train_set, train_idx = _subset(data.train, s.eval_train, seed=0)
    tr_f, tr_y = extract_features(method.backbone, train_set, method.normalise)
    te_f, te_y = extract_features(method.backbone, data.test, method.normalise)
    finite = bool(torch.isfinite(tr_f).all() and torch.isfinite(te_f).all())
    m: dict = {
        "train_seconds": round(train_seconds, 1),
        "final_loss": losses[-1][1],
        "finite": finite,
        "losses": losses,
    }
    m["content_linear_top1"] = LinearProbe().fit(tr_f, tr_y).score(te_f, te_y)
    knn = knn_sweep(*_standardise(tr_f, te_f, tr_y, te_y), ks=KNN_KS)
    m["knn_by_k"] = knn
    m["content_knn_top1"] = max(knn.values())
    if job["mlp_probe"]:
        m["content_mlp_top1"] = MLPProbe(seed=seed).fit(tr_f, tr_y).score(te_f, te_y)
    m.update(gmm_clustering(te_f, te_y, data.num_classes, seed=seed))
    m.update(latent_structure(tr_f, tr_y, te_f, te_y, seed=seed))
    m["style_score"] = None
    if "style_train" in data.extras:
        style_train = data.extras["style_train"]
        if train_idx is not None:
            style_train = {k: v[train_idx] for k, v in style_train.items()}
        m.update(style_scores(tr_f, style_train, te_f, data.extras["style_test"]))
    if job["pictures"] and method_name in GENERATIVE:
        images, _ = data.test.get_batch(torch.arange(12))
        reconstruction_grid(method, images, ctx.run_dir / "recon.png")
        cluster_samples_grid(method, tr_f[:5000], data.num_classes, ctx.run_dir / "samples.png")
        m["pictures"] = ["recon.png", "samples.png"]
    return m


def _standardise(tr_f, te_f, tr_y, te_y):
    # cosine kNN on centred, unit-variance features: the VAE means are not centred at 0
    mean, std = tr_f.mean(0), tr_f.std(0).clamp_min(1e-8)
    return (tr_f - mean) / std, tr_y, (te_f - mean) / std, te_y
