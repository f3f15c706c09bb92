"""Our losses against independent re-derivations of the official codes, including the gather.

Re-derived here from reading (not copying) each project's loss, written plainly:
- VICReg: facebookresearch/vicreg ``main_vicreg.py`` (``VICReg.forward``, ``FullGatherLayer``);
- SimCLR: google-research/simclr ``tf2/objective.py`` (``add_contrastive_loss``, NT-Xent with
  ``LARGE_NUM`` masking and ``tpu_cross_replica_concat``), in torch;
- Barlow Twins: facebookresearch/barlowtwins ``main.py`` (``BarlowTwins.forward``: BatchNorm
  without affine, ``c / batch_size``, ``all_reduce(c)``, SyncBatchNorm across processes);
- CLIP: mlfoundations/open_clip ``loss.py`` (``ClipLoss`` with ``gather_features``).
Conventions that differ (documented in docs/losses.md): SimCLR's loss is twice ours; with B = 1
SimCLR returns 0 where we refuse the batch; the official VICReg takes the invariance on each
process's own batch; per-process gradients of the official Barlow Twins and open_clip are
1 / world_size of ours (they differentiate only their own slice), of SimCLR twice ours.
"""

from __future__ import annotations

import socket

import pytest
import torch
import torch.distributed as dist
import torch.distributed.nn.functional as dist_fn
import torch.multiprocessing as mp
import torch.nn.functional as F

from selfsup import losses
from selfsup.validation import InputError
from tests.losses import textbook

EPS32 = torch.finfo(torch.float32).eps


# --- the re-derivations ------------------------------------------------------------------------


def _offdiag(m: torch.Tensor) -> torch.Tensor:
    n = m.shape[0]
    return m.flatten()[1:].view(n - 1, n + 1)[:, :-1].flatten()  # skip every (n+1)-th entry


def official_vicreg(x, y, x_all=None, y_all=None, sim=25.0, std=25.0, cov=1.0):
    """``x, y``: this process's projections; ``x_all, y_all``: after the gather (or None)."""
    repr_loss = F.mse_loss(x, y)  # local batch only
    x = x if x_all is None else x_all
    y = y if y_all is None else y_all
    batch_size, num_features = x.shape
    x, y = x - x.mean(0), y - y.mean(0)
    std_x, std_y = torch.sqrt(x.var(0) + 1e-4), torch.sqrt(y.var(0) + 1e-4)
    std_loss = F.relu(1 - std_x).mean() / 2 + F.relu(1 - std_y).mean() / 2
    cov_x, cov_y = x.T @ x / (batch_size - 1), y.T @ y / (batch_size - 1)
    cov_loss = (_offdiag(cov_x).pow(2).sum() + _offdiag(cov_y).pow(2).sum()) / num_features
    return {"loss": sim * repr_loss + std * std_loss + cov * cov_loss}


def official_simclr(h1, h2, h1_all=None, h2_all=None, temperature=0.1, offset=0):
    """NT-Xent as SimCLR writes it: local anchors against the (gathered) batch, the self
    logit pushed down by 1e9, loss = mean_local(CE_a + CE_b). ``offset``: this process's
    first row in the gathered batch."""
    h1, h2 = F.normalize(h1, dim=-1), F.normalize(h2, dim=-1)
    h1_all = h1 if h1_all is None else F.normalize(h1_all, dim=-1)
    h2_all = h2 if h2_all is None else F.normalize(h2_all, dim=-1)
    n_local, n_all = h1.shape[0], h1_all.shape[0]
    idx = torch.arange(n_local) + offset
    masks = F.one_hot(idx, n_all).to(h1.dtype)
    logits_aa = h1 @ h1_all.T / temperature - masks * 1e9
    logits_bb = h2 @ h2_all.T / temperature - masks * 1e9
    logits_ab = h1 @ h2_all.T / temperature
    logits_ba = h2 @ h1_all.T / temperature
    loss_a = F.cross_entropy(torch.cat([logits_ab, logits_aa], 1), idx)
    loss_b = F.cross_entropy(torch.cat([logits_ba, logits_bb], 1), idx)
    return {"loss": loss_a + loss_b}


def official_barlow_twins(z1, z2, lambd=5.1e-3):
    """On the whole batch (under SyncBatchNorm and ``all_reduce(c)`` every process computes
    this value, differentiating only its own rows)."""
    bn = torch.nn.BatchNorm1d(z1.shape[1], affine=False, dtype=z1.dtype).train()
    c = bn(z1).T @ bn(z2) / z1.shape[0]
    on_diag = (torch.diagonal(c) - 1).pow(2).sum()
    off_diag = _offdiag(c).pow(2).sum()
    return {"loss": on_diag + lambd * off_diag}


def official_clip(image_features, text_features, logit_scale):
    """open_clip's ``ClipLoss`` (features L2-normalised by the model before the loss)."""
    image_features = F.normalize(image_features, dim=-1)
    text_features = F.normalize(text_features, dim=-1)
    logits_per_image = logit_scale * image_features @ text_features.T
    logits_per_text = logits_per_image.T
    labels = torch.arange(logits_per_image.shape[0])
    total = F.cross_entropy(logits_per_image, labels) + F.cross_entropy(logits_per_text, labels)
    return {"loss": total / 2}


# ours (as {"loss": ...}) and the official re-derivation; SimCLR's loss is twice ours
PEERS = {
    "vicreg": (lambda a, b: {"loss": losses.vicreg_loss(a, b)}, official_vicreg),
    "simclr": (lambda a, b: {"loss": 2 * losses.info_nce_loss(a, b)}, official_simclr),
    "barlow_twins": (lambda a, b: {"loss": losses.barlow_twins_loss(a, b)}, official_barlow_twins),
    "clip": (
        lambda a, b: {"loss": losses.clip_loss(a, b, 14.3)},
        lambda a, b: official_clip(a, b, 14.3),
    ),
}


# --- one process -------------------------------------------------------------------------------


@pytest.mark.parametrize("peer", list(PEERS))
@pytest.mark.parametrize("shape", [(64, 32), (8, 128), (2, 3)], ids=str)
def test_float64_equals_the_official_loss(peer, shape):
    ours, official = PEERS[peer]
    for case in ("dominant x1e3", "offset 1e3", "log-spread"):
        a, b = (t.double() for t in textbook.hard_pair(case, *shape, seed=1))
        a.requires_grad_(True)
        b.requires_grad_(True)
        got, want = ours(a, b)["loss"], official(a, b)["loss"]
        assert got.item() == pytest.approx(want.item(), rel=1e-10, abs=1e-12), case
        g_got = torch.autograd.grad(got, (a, b))
        g_want = torch.autograd.grad(want, (a, b))
        for x, y in zip(g_got, g_want, strict=True):
            torch.testing.assert_close(x, y, rtol=1e-8, atol=1e-10 * y.abs().max().item())


@pytest.mark.parametrize("peer", list(PEERS))
def test_float32_within_10x_of_the_official_float32_error(peer):
    ours, official = PEERS[peer]
    torch.set_num_threads(1)
    try:
        for shape in [(128, 64), (8, 128), (2, 1)]:
            for case in textbook.HARD_CASES:
                worst = [0.0, 0.0]
                for seed in range(3):
                    pair = textbook.hard_pair(case, *shape, seed)
                    floor = shape[1] if peer == "barlow_twins" else 0.0  # sum (d - 1)^2 -> 0
                    errs = textbook.float32_errors(ours, official, pair, floor)[("loss", "value")]
                    worst = [max(worst[0], errs[0]), max(worst[1], errs[1])]
                assert worst[0] <= 10 * max(worst[1], 2 * EPS32), (shape, case, worst)
    finally:
        torch.set_num_threads(2)


def test_batch_of_one_simclr_returns_zero_we_refuse():
    a, b = torch.randn(1, 8, dtype=torch.float64), torch.randn(1, 8, dtype=torch.float64)
    assert official_simclr(a, b)["loss"].item() == pytest.approx(0.0, abs=1e-12)
    with pytest.raises(InputError, match="at least 2 samples"):
        losses.info_nce_loss(a, b)
    # CLIP with a single pair: one candidate, both conventions give 0
    assert losses.clip_loss(a, b, 10.0).item() == pytest.approx(0.0, abs=1e-12)
    assert official_clip(a, b, 10.0)["loss"].item() == pytest.approx(0.0, abs=1e-12)


# --- two processes -----------------------------------------------------------------------------

WORLD = 2


def _gather_no_grad(x: torch.Tensor, rank: int) -> torch.Tensor:
    """open_clip's gather without gradient, own slice put back so it keeps its graph."""
    parts = [torch.zeros_like(x) for _ in range(WORLD)]
    dist.all_gather(parts, x.detach())
    parts[rank] = x
    return torch.cat(parts)


def _worker(rank: int, port: int, out: str) -> None:
    dist.init_process_group(
        "gloo", rank=rank, world_size=WORLD, init_method=f"tcp://127.0.0.1:{port}"
    )
    torch.set_num_threads(1)
    a_full, b_full = (t.double() for t in textbook.hard_pair("dominant x1e3", 16, 12, seed=2))
    rows = slice(rank * 8, rank * 8 + 8)
    results = {}

    def leaves():
        return a_full[rows].clone().requires_grad_(), b_full[rows].clone().requires_grad_()

    def record(name, loss, a, b):
        ga, gb = torch.autograd.grad(loss, (a, b))
        results[name] = (loss.detach(), ga, gb)

    a, b = leaves()
    record("ours vicreg", losses.vicreg_loss(a, b, gather_distributed=True), a, b)
    a, b = leaves()
    a_all, b_all = (torch.cat(dist_fn.all_gather(t)) for t in (a, b))  # FullGatherLayer
    record("official vicreg", official_vicreg(a, b, a_all, b_all)["loss"], a, b)

    a, b = leaves()
    record("ours simclr", losses.info_nce_loss(a, b, gather_distributed=True), a, b)
    a, b = leaves()
    a_all, b_all = (torch.cat(dist_fn.all_gather(t)) for t in (a, b))  # cross-replica concat
    record("official simclr", official_simclr(a, b, a_all, b_all, offset=rank * 8)["loss"], a, b)

    a, b = leaves()
    record("ours barlow", losses.barlow_twins_loss(a, b, gather_distributed=True), a, b)
    a, b = leaves()
    loss = official_barlow_twins(_gather_no_grad(a, rank), _gather_no_grad(b, rank))["loss"]
    record("official barlow", loss, a, b)

    a, b = leaves()
    record("ours clip", losses.clip_loss(a, b, 14.3, gather_distributed=True), a, b)
    a, b = leaves()
    loss = official_clip(_gather_no_grad(a, rank), _gather_no_grad(b, rank), 14.3)["loss"]
    record("official clip", loss, a, b)
    torch.save(results, f"{out}.{rank}")
    dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_processes_match_the_official_gathers(tmp_path):
    out = str(tmp_path / "results")
    mp.spawn(_worker, args=(_free_port(), out), nprocs=WORLD, join=True)
    ranks = [torch.load(f"{out}.{r}", weights_only=True) for r in range(WORLD)]
    a_full, b_full = (t.double() for t in textbook.hard_pair("dominant x1e3", 16, 12, seed=2))
    single = {
        "vicreg": losses.vicreg_loss(a_full, b_full),
        "simclr": losses.info_nce_loss(a_full, b_full),
        "barlow": losses.barlow_twins_loss(a_full, b_full),
        "clip": losses.clip_loss(a_full, b_full, 14.3),
    }
    # official per-process gradient = factor x ours (see the module docstring)
    grad_factor = {"vicreg": 1.0, "simclr": 2.0, "barlow": 1 / WORLD, "clip": 1 / WORLD}
    for name, factor in grad_factor.items():
        for r in ranks:  # ours: every process computes the global-batch loss
            assert r[f"ours {name}"][0].item() == pytest.approx(single[name].item(), rel=1e-12)
        official = [r[f"official {name}"][0].item() for r in ranks]
        scale = 2.0 if name == "simclr" else 1.0
        # VICReg's invariance and SimCLR's anchors are per process: their mean is the loss
        assert sum(official) / WORLD == pytest.approx(scale * single[name].item(), rel=1e-10)
        for r in ranks:
            for k in (1, 2):
                torch.testing.assert_close(r[f"official {name}"][k], factor * r[f"ours {name}"][k])
