"""Every loss as its paper writes it, plainly: the references the fast losses are checked against.

Centred covariances and cross-correlations are formed as ``D x D`` matrices and their
off-diagonal entries picked with an explicit mask (never ``||M||^2 - sum diag^2``, which
cancels); pairwise distances are explicit differences; ``z - zbar`` and ``exp(d) - 1 - d`` are
written as the papers write them. They run in the dtype of their inputs: in float64 they are
the truth the tests measure against (tests/losses/test_hard_batches.py,
tests/losses/test_fast_paths.py), in float32 they are "the plain formula's float32 error" our
losses must stay within 10x of, and ``benchmarks/losses.py`` times them.

Each ``*_terms`` returns a dict with the field names of the matching ``selfsup.losses`` terms;
the ``textbook_*`` scalars keep the default coefficients. Shapes: ``a``, ``b`` are ``(B, D)``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from selfsup.errors import InputError

T = torch.Tensor


def _off_diagonal(m: T) -> T:
    """The ``D (D - 1)`` off-diagonal entries of a square matrix, by mask."""
    mask = ~torch.eye(m.shape[0], dtype=torch.bool, device=m.device)
    return m[mask]


def _covariance(z: T) -> T:
    zc = z - z.mean(0)
    return zc.T @ zc / (z.shape[0] - 1)


def vicreg_terms(a: T, b: T, sim=25.0, std=25.0, cov=1.0, eps=1e-4) -> dict[str, T]:
    def variance(z: T) -> T:
        return F.relu(1 - torch.sqrt(z.var(0) + eps)).mean()

    def covariance(z: T) -> T:
        return _off_diagonal(_covariance(z)).pow(2).sum() / z.shape[1]

    inv = F.mse_loss(a, b)
    var = (variance(a) + variance(b)) / 2
    cv = covariance(a) + covariance(b)
    return {"loss": sim * inv + std * var + cov * cv, "invariance": inv, "variance": var,
            "covariance": cv}  # fmt: skip


def barlow_twins_terms(a: T, b: T, lambd=5.1e-3, eps=1e-5) -> dict[str, T]:
    def standardise(z: T) -> T:  # BatchNorm1d(affine=False), training mode
        return (z - z.mean(0)) / torch.sqrt(z.var(0, unbiased=False) + eps)

    c = standardise(a).T @ standardise(b) / a.shape[0]
    on = (torch.diagonal(c) - 1).pow(2).sum()
    off = _off_diagonal(c).pow(2).sum()
    return {"loss": on + lambd * off, "on_diagonal": on, "off_diagonal": off}


def info_nce_terms(a: T, b: T, temperature=0.1) -> dict[str, T]:
    z = F.normalize(torch.cat([a, b]), dim=1)
    n = len(z)
    self_mask = torch.eye(n, dtype=torch.bool, device=z.device)
    logits = (z @ z.T / temperature).masked_fill(self_mask, float("-inf"))
    target = torch.arange(n, device=z.device).roll(len(a))
    return {"loss": F.cross_entropy(logits, target)}


def clip_terms(a: T, b: T, logit_scale=10.0) -> dict[str, T]:
    logits = logit_scale * F.normalize(a, dim=1) @ F.normalize(b, dim=1).T
    target = torch.arange(len(a), device=a.device)
    a_to_b, b_to_a = F.cross_entropy(logits, target), F.cross_entropy(logits.T, target)
    return {"loss": (a_to_b + b_to_a) / 2, "a_to_b": a_to_b, "b_to_a": b_to_a}


def vicreg_logdet_terms(a: T, b: T, sim=25.0, coeff=1.0, beta=1.0) -> dict[str, T]:
    def entropy(z: T) -> T:
        eye = torch.eye(z.shape[1], dtype=z.dtype, device=z.device)
        return 0.5 * torch.linalg.slogdet(eye + beta * _covariance(z))[1]

    inv = F.mse_loss(a, b)
    h = (entropy(a) + entropy(b)) / 2
    return {"loss": sim * inv - coeff * h, "invariance": inv, "entropy": h}


def vicreg_pairdist_terms(a: T, b: T, sim=25.0, coeff=1.0, sigma=1.0, c=8.0) -> dict[str, T]:
    def entropy(z: T) -> T:  # Kolchinsky-Tracey with D_ij = ||z_i - z_j||^2 / (c sigma^2)
        n, d = z.shape
        dist2 = (z[:, None, :] - z[None, :, :]).pow(2).sum(-1)
        inner = torch.logsumexp(-dist2 / (c * sigma**2), dim=1) - math.log(n)
        return 0.5 * d * math.log(2 * math.pi * math.e * sigma**2) - inner.mean()

    inv = F.mse_loss(a, b)
    h = (entropy(a) + entropy(b)) / 2
    return {"loss": sim * inv - coeff * h, "invariance": inv, "entropy": h}


def _bernoulli_nll(x: T, logits: T) -> T:
    # -[x log p + (1 - x) log(1 - p)], p = sigmoid(logits), via log-sigmoids
    return -(x * F.logsigmoid(logits) + (1 - x) * F.logsigmoid(-logits)).flatten(-3).sum(-1)


def _kl_normal(mu: T, logvar: T, mu_p: T | float = 0.0, logvar_p: T | float = 0.0) -> T:
    var_ratio = torch.exp(logvar - logvar_p)
    maha = (mu - mu_p).pow(2) / torch.exp(torch.as_tensor(logvar_p, dtype=mu.dtype))
    return 0.5 * (var_ratio + maha - 1 - (logvar - logvar_p)).sum(-1)


def vae_terms(x: T, logits: T, mu: T, logvar: T, beta=1.0) -> dict[str, T]:
    rec = _bernoulli_nll(x, logits).mean()
    kl = _kl_normal(mu, logvar).mean()
    return {"loss": rec + beta * kl, "reconstruction": rec, "kl": kl}


def cr_vae_terms(x: T, logits: T, mu: T, logvar: T, beta=1.0, gamma=1.0) -> dict[str, T]:
    rec = _bernoulli_nll(x, logits).mean()
    kl = _kl_normal(mu, logvar).mean()
    cons = _kl_normal(mu[:, 1], logvar[:, 1], mu[:, 0], logvar[:, 0]).mean()
    return {"loss": rec + beta * kl + gamma * cons, "reconstruction": rec, "kl": kl,
            "consistency": cons}  # fmt: skip


def simvae_terms(
    x: T, logits: T, mu: T, logvar: T, z: T, sigma2=0.15, hyperprior="normal"
) -> dict[str, T]:
    rec = _bernoulli_nll(x, logits).sum(1).mean()
    ent = -0.5 * logvar.sum((1, 2)).mean()
    zbar = z.mean(1, keepdim=True)
    prior = 0.5 * ((z - zbar).pow(2).sum((1, 2)) / sigma2).mean()
    hyper = 0.5 * zbar.pow(2).sum((1, 2)).mean() if hyperprior == "normal" else 0 * prior
    return {"loss": rec + ent + prior + hyper, "reconstruction": rec, "entropy": ent,
            "prior": prior, "hyperprior": hyper}  # fmt: skip


def textbook_vicreg(a: T, b: T) -> T:
    return vicreg_terms(a, b)["loss"]


def textbook_barlow_twins(a: T, b: T) -> T:
    return barlow_twins_terms(a, b)["loss"]


def textbook_info_nce(a: T, b: T, t: float = 0.1) -> T:
    return info_nce_terms(a, b, t)["loss"]


# --- hard inputs: where float32 rounding bites ------------------------------------------------

HARD_CASES = (
    "dominant x300",
    "dominant x1e3",
    "dominant x1e4",
    "offset 1e3",
    "spread 1e-3",
    "log-spread",
)


def _hard_transform(case: str, z: T) -> T:
    """Per-column scales / offsets of a standard-normal ``z: (..., D)``."""
    if case.startswith("dominant x"):
        scale = torch.ones(z.shape[-1], dtype=z.dtype)
        scale[0] = float(case.removeprefix("dominant x"))
        return z * scale
    if case == "offset 1e3":
        return z + 1e3
    if case == "spread 1e-3":
        return z * 1e-3
    if case == "log-spread":  # column scales 1e-3 .. 1e3, log-uniformly
        return z * torch.logspace(-3, 3, z.shape[-1], dtype=z.dtype)
    raise InputError(f"unknown hard case {case!r}; valid: {', '.join(HARD_CASES)}")


def hard_pair(case: str, batch: int, dim: int, seed: int = 0) -> tuple[T, T]:
    """Two float32 views ``(batch, dim)``: ``b`` is ``a`` plus noise of half its scale, both
    transformed by ``case`` (e.g. one column 1e4 times larger than the others)."""
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(batch, dim, generator=g, dtype=torch.float64)
    b = a + 0.5 * torch.randn(batch, dim, generator=g, dtype=torch.float64)
    return _hard_transform(case, a).float(), _hard_transform(case, b).float()


def hard_elbo_inputs(case: str, batch: int, views: int, latent: int, seed: int = 0):
    """float32 ``(x, logits, mu, logvar, z)`` for the ELBOs: images ``(B, J, 1, 4, 4)`` in [0, 1],
    posteriors ``(B, J, L)`` with ``case`` applied to ``mu`` and ``z`` (the views' latents spread
    around ``mu`` by ``exp(logvar / 2)``, transformed alike), ``logvar`` small (``0.01 N(0, 1)``,
    where ``exp(d) - 1 - d`` cancels)."""
    g = torch.Generator().manual_seed(seed)
    kw = {"generator": g, "dtype": torch.float64}
    x = torch.rand(batch, views, 1, 4, 4, **kw)
    logits = 2 * torch.randn(batch, views, 1, 4, 4, **kw)
    centre = torch.randn(batch, 1, latent, **kw)
    mu = centre + 0.3 * torch.randn(batch, views, latent, **kw)
    logvar = 0.01 * torch.randn(batch, views, latent, **kw)
    z = mu + torch.exp(0.5 * logvar) * torch.randn(batch, views, latent, **kw)
    mu, z = _hard_transform(case, mu), _hard_transform(case, z)
    return tuple(t.float() for t in (x, logits, mu, logvar, z))


# --- measuring a float32 loss against the float64 plain formula -------------------------------


def _relative(x: T, ref: T, floor: float = 0.0) -> float:
    """``||x - ref|| / max(||ref||, floor)`` (0 when both are 0)."""
    err, scale = (x.double() - ref).norm().item(), max(ref.norm().item(), floor)
    if scale == 0.0:
        return 0.0 if err == 0.0 else float("inf")
    return err / scale


def _values_and_gradients(fn, inputs: tuple[T, ...]) -> dict[str, tuple[T, T]]:
    """``{term: (value, gradient w.r.t. all inputs, flattened)}`` of ``fn(*inputs)``."""
    leaves = [t.detach().clone().requires_grad_() for t in inputs]
    terms = fn(*leaves)
    terms = terms._asdict() if hasattr(terms, "_asdict") else terms
    out = {}
    for name, value in terms.items():
        if not isinstance(value, torch.Tensor) or not value.requires_grad:
            continue
        grads = torch.autograd.grad(value, leaves, retain_graph=True, allow_unused=True)
        flat = [(g if g is not None else torch.zeros_like(x)).reshape(-1) for g, x in
                zip(grads, leaves, strict=True)]  # fmt: skip
        out[name] = (value.detach(), torch.cat(flat).detach())
    return out


def float32_errors(ours_fn, plain_fn, inputs32: tuple[T, ...], value_floor: float = 0.0) -> dict:
    """``{(term, "value" | "gradient"): (ours error, plain float32 error)}``, both against
    ``plain_fn`` on the same inputs in float64. Values: relative error, against
    ``value_floor`` when the true value is smaller (a term that vanishes by cancellation of
    O(1) parts, e.g. Barlow Twins' ``sum (d - 1)^2`` at ``d = 1``: pass its natural scale).
    Gradients (w.r.t. all inputs): relative norm of the difference, against
    ``max(|value|, value_floor) / ||inputs||`` when the true gradient is smaller (a vanishing
    gradient, e.g. of a normalised 1-D embedding)."""
    inputs64 = tuple(t.double() for t in inputs32)
    size = torch.cat([t.reshape(-1) for t in inputs64]).norm().item()
    ref = _values_and_gradients(plain_fn, inputs64)
    plain = _values_and_gradients(plain_fn, inputs32)
    ours = _values_and_gradients(ours_fn, inputs32)
    out = {}
    for name in sorted(ref.keys() & ours.keys()):
        value = max(abs(ref[name][0].item()), value_floor)
        floors = (value_floor, value / max(size, 1e-300))
        for what, k in (("value", 0), ("gradient", 1)):
            out[(name, what)] = (
                _relative(ours[name][k], ref[name][k], floors[k]),
                _relative(plain[name][k], ref[name][k], floors[k]),
            )
    return out
