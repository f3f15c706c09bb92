"""Exact dynamics on the Grassmannian (claim 2): with ``W^T W = I`` the flow has a closed form
for every h. Checked against a DOP853 integration of the ODE, and Riemannian GD (QR and polar
retractions) converges to it at first order in the step size."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from selfsup.dynamics import (
    grassmann_flow,
    loss_matrix,
    quadratic_loss,
    riemannian_gd,
    subspace_distance,
    top_eigenspace,
)
from selfsup.experiments.claims import Claim, all_of, exact, measure
from selfsup.experiments.dynamics.common import (
    F64,
    CEig,
    loglog_slope,
    noise_view,
    normalised,
    planted_data,
    random_frame,
)
from selfsup.experiments.dynamics.params import Sizes
from selfsup.experiments.report import pyplot, save_figure


def ode_check(sz: Sizes, seed: int) -> dict:
    """``grassmann_flow`` against a DOP853 integration of ``dW/dt = 2 (I - W W^T) C W``."""
    from scipy.integrate import solve_ivp  # here: `selfsup dynamics`' option errors come first

    gen = torch.Generator().manual_seed(seed)
    d, h = sz.ode_d, 5 if sz.ode_d > 10 else 3
    times = np.linspace(0.0, 2.0, 11)
    spectra = {
        "positive": torch.rand(d, generator=gen, dtype=F64).tolist(),
        "indefinite": torch.randn(d, generator=gen, dtype=F64).tolist(),
        # ties everywhere, including across the h boundary
        "repeated": [1.0] * (h + 2) + [-0.5] * (d - h - 2),
    }
    out = {}
    for name, lam in spectra.items():
        Q = random_frame(d, d, gen)
        C = Q @ torch.diag(torch.tensor(lam, dtype=F64)) @ Q.T
        C = (C + C.T) / 2
        W0 = random_frame(d, h, gen)
        Cn, hh = C.numpy(), h

        def rhs(_t: float, w: np.ndarray, Cn: np.ndarray = Cn, hh: int = hh) -> np.ndarray:
            W = w.reshape(-1, hh)
            CW = Cn @ W
            return (2 * (CW - W @ (W.T @ CW))).ravel()

        sol = solve_ivp(
            rhs,
            (0, times[-1]),
            W0.numpy().ravel(),
            t_eval=times,
            method="DOP853",
            rtol=1e-13,
            atol=1e-15,
        )
        ref = torch.from_numpy(sol.y.T.reshape(len(times), d, h).copy())
        closed = grassmann_flow(C, W0, torch.tensor(times))
        Pr = ref @ torch.linalg.pinv(ref)
        Pc = closed @ closed.transpose(1, 2)
        out[name] = {
            "max_abs_projector_diff": (Pr - Pc).abs().max().item(),
            "max_projection_distance": subspace_distance(ref, closed).projection.max().item(),
            "eigenvalues_min_max": [min(lam), max(lam)],
        }
    return {
        "d": d,
        "h": h,
        "t_max": float(times[-1]),
        "integrator": "scipy DOP853 rtol=1e-13",
        "cases": out,
    }


def run(
    sz: Sizes,
    seed: int,
    out: Path,
    C_eig: CEig | None = None,
    hs: tuple[int, ...] | None = None,
    lrs: tuple[float, ...] | None = None,
    t_end: float | None = None,
    tag: str = "exact",
) -> dict:
    """Riemannian GD for several h and lr on top of ``grassmann_flow``; error at fixed t vs lr."""
    gen = torch.Generator().manual_seed(seed)
    if C_eig is None:
        k = min(48, sz.exact_d - 2)
        strengths = torch.linspace(1.0, 0.1, k).sqrt().tolist()
        x, _, _ = planted_data(sz.exact_n, sz.exact_d, strengths, 0.1, gen)
        C_eig = normalised(loss_matrix(x, noise_view(x, 0.1, gen)))
    C, eig = C_eig
    hs = hs or sz.exact_hs
    lrs = lrs or sz.exact_lrs
    t_end = t_end or sz.exact_t
    t_fix = sz.exact_t_fix
    d = C.shape[0]
    lam = eig[0].flip(0)
    grid = 1.0 if t_end >= 10 else 0.5  # GD is compared on a time grid every lr divides
    n_grid = round(t_end / grid)
    times = torch.arange(n_grid + 1, dtype=F64) * grid
    i_fix = round(t_fix / grid)
    res: dict = {"d": d, "t_end": t_end, "t_fix": t_fix, "lrs": list(lrs), "h": {}}
    plt = pyplot()
    fig, axes = plt.subplots(2, len(hs), figsize=(3.2 * len(hs), 6), squeeze=False)
    for col, h in enumerate(hs):
        W0 = random_frame(d, h, gen)
        top = top_eigenspace(C, h, eig=eig)
        Wc = grassmann_flow(C, W0, times, eig=eig)
        loss_c = quadratic_loss(C, Wc)
        dist_c = subspace_distance(Wc, top).projection
        entry = {
            "eigengap": (lam[h - 1] - lam[h]).item() if h < d else float("nan"),
            "loss_closed": loss_c.tolist(),
            "dist_to_top_closed": dist_c.tolist(),
            "gd": {},
        }
        axes[0, col].plot(times, loss_c, "k-", lw=1.2, label="closed form")
        axes[1, col].semilogy(times, dist_c, "k-", lw=1.2, label="closed form")
        for j, lr in enumerate(lrs):
            every = round(grid / lr)
            Wg = riemannian_gd(C, W0, lr, every * n_grid, record_every=every)
            err = subspace_distance(Wg, Wc).projection
            entry["gd"][str(lr)] = {
                "error_at_t_fix": err[i_fix].item(),
                "max_error": err.max().item(),
                "loss": quadratic_loss(C, Wg).tolist(),
                "dist_to_top": subspace_distance(Wg, top).projection.tolist(),
            }
            if j in (0, len(lrs) - 1):
                mk = "o" if j == 0 else "x"
                axes[0, col].plot(times, entry["gd"][str(lr)]["loss"], mk, ms=3, label=f"GD {lr}")
                axes[1, col].semilogy(
                    times, entry["gd"][str(lr)]["dist_to_top"], mk, ms=3, label=f"GD {lr}"
                )
        errs = [entry["gd"][str(lr)]["error_at_t_fix"] for lr in lrs]
        entry["slope_error_vs_lr"] = loglog_slope(list(lrs), errs)
        res["h"][str(h)] = entry
        axes[0, col].set(title=f"h={h}", xlabel="t")
        axes[1, col].set(xlabel="t")
    axes[0, 0].set_ylabel("loss -tr(W^T C W)")
    axes[1, 0].set_ylabel("||P - P_top||_F / sqrt(2h)")
    axes[0, 0].legend(fontsize=7)
    save_figure(fig, out / f"{tag}_trajectories.png")

    # the polar retraction too, at one h: both retractions are first order
    h_p = hs[len(hs) // 2]
    W0 = random_frame(d, h_p, gen)
    ref = grassmann_flow(C, W0, t_fix, eig=eig)
    res["polar_retraction"] = {"h": h_p, "error_at_t_fix": {}}
    for lr in lrs:
        Wp = riemannian_gd(C, W0, lr, round(t_fix / lr), retraction="polar")[-1]
        res["polar_retraction"]["error_at_t_fix"][str(lr)] = subspace_distance(
            Wp, ref
        ).projection.item()
    pe = list(res["polar_retraction"]["error_at_t_fix"].values())
    res["polar_retraction"]["slope_error_vs_lr"] = loglog_slope(list(lrs), pe)

    fig, ax = plt.subplots(figsize=(5, 4))
    for h in hs:
        errs = [res["h"][str(h)]["gd"][str(lr)]["error_at_t_fix"] for lr in lrs]
        ax.loglog(
            lrs, errs, "o-", label=f"h={h} (slope {res['h'][str(h)]['slope_error_vs_lr']:.2f})"
        )
    ax.loglog(lrs, pe, "k--", label=f"polar, h={h_p}")
    ref_line = np.array(lrs) / lrs[0] * max(pe)
    ax.loglog(lrs, ref_line, ":", color="grey", label="slope 1")
    ax.set(xlabel="learning rate", ylabel=f"projector distance to closed form at t={t_fix}")
    ax.legend(fontsize=7)
    save_figure(fig, out / f"{tag}_error_vs_lr.png")
    slopes = [res["h"][str(h)]["slope_error_vs_lr"] for h in hs]
    res["slope_range"] = [min(slopes), max(slopes)]
    res["figures"] = [f"{tag}_trajectories.png", f"{tag}_error_vs_lr.png"]
    return res


ODE_MAX = 1e-10  # closed form vs DOP853 (rtol 1e-13): agreement to rounding


def claims(ex: dict) -> list[Claim]:
    ode = ex["ode_check"]["cases"]
    ode_max = max(c["max_abs_projector_diff"] for c in ode.values())
    lo, hi = ex["slope_range"]
    small = {h: e["gd"][str(ex["lrs"][-1])]["error_at_t_fix"] for h, e in ex["h"].items()}
    cases = ", ".join(f"{k} {c['max_abs_projector_diff']:.1e}" for k, c in ode.items())
    slopes = {
        "smallest GD error slope": measure("lo", {0: lo}, above=0.8, below=1.2),
        "largest GD error slope": measure("hi", {0: hi}, above=0.8, below=1.2),
    }
    return [
        exact(
            "2. With W^T W = I the dynamics are exact and closed form on the Grassmannian",
            ode_max,
            below=ODE_MAX,
            paper="closed-form flow of dW/dt = 2 (I - W W^T) C W",
            tolerance=f"max |P closed form - P DOP853| < {ODE_MAX:g} (to rounding)",
            evidence=f"closed form vs DOP853 max |P diff| by C: {cases} (positive, indefinite, "
            "repeated eigenvalues); the value depends on the seed only through rounding",
        ),
        all_of(
            "2b. Riemannian GD converges to the closed form at first order in lr, for every h",
            slopes,
            paper="GD error O(lr), i.e. log-log slope 1",
            ours={"slope min": lo, "slope max": hi},
            tolerance="log-log slope of GD error at t_fix vs lr in [0.8, 1.2] for every h",
            evidence=f"GD error at t={ex['t_fix']:g} falls with lr at log-log slope "
            f"{lo:.2f}..{hi:.2f} for h in {list(ex['h'])}; at lr={ex['lrs'][-1]} errors "
            + ", ".join(f"{v:.1e}" for v in small.values()),
        ),
    ]


def section(ex: dict, where: str) -> list[str]:
    """Markdown; ``where`` is the run's folder relative to the report."""
    lines = [
        "## Exact dynamics on the Grassmannian",
        "",
        f"Closed form vs scipy DOP853 integration (d={ex['ode_check']['d']}, "
        f"h={ex['ode_check']['h']}, t in [0, {ex['ode_check']['t_max']:g}]):",
        "",
        "| C | eigenvalue range | max abs projector diff |",
        "|---|---|---|",
    ]
    for name, c in ex["ode_check"]["cases"].items():
        lo, hi = c["eigenvalues_min_max"]
        lines.append(f"| {name} | [{lo:.2f}, {hi:.2f}] | {c['max_abs_projector_diff']:.2e} |")
    lines += exact_table(ex)
    pr = ex["polar_retraction"]
    lines += [
        "",
        f"Polar retraction (h={pr['h']}): slope {pr['slope_error_vs_lr']:.2f}.",
        "",
        *(f"![{name}]({where}/{name})" for name in ex["figures"]),
        "",
    ]
    return lines


def exact_table(ex: dict) -> list[str]:
    lines = [
        "",
        f"Riemannian GD (QR retraction) vs closed form, projector distance at "
        f"t={ex['t_fix']:g} (d={ex['d']}, C normalised to ||C||=1):",
        "",
        "| h | eigengap | "
        + " | ".join(f"lr={lr}" for lr in ex["lrs"])
        + " | slope | dist to top-h at t_end |",
        "|---" * (len(ex["lrs"]) + 4) + "|",
    ]
    for h, e in ex["h"].items():
        errs = " | ".join(f"{e['gd'][str(lr)]['error_at_t_fix']:.2e}" for lr in ex["lrs"])
        lines.append(
            f"| {h} | {e['eigengap']:.3g} | {errs} | {e['slope_error_vs_lr']:.2f} | "
            f"{e['dist_to_top_closed'][-1]:.2e} |"
        )
    return lines
