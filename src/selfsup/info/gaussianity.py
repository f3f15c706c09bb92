"""Are a network's outputs Gaussian under augmentation? (the paper's second assumption)

For each sample, many augmented views go through the model; the outputs are tested for
normality per dimension (D'Agostino-Pearson, ``scipy.stats.normaltest``) and jointly (Mardia's
skewness and kurtosis tests, implemented here with numpy / scipy), and their covariance is
compared with the local-affine prediction ``A Sigma A^T`` (``A`` the Jacobian at the clean
sample, ``Sigma`` the empirical covariance of the flattened input views).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from selfsup.info.affine import activation_patterns, eval_mode, local_affine, region_stability
from selfsup.validation import InputError, NonFiniteInputError


@dataclass(frozen=True)
class MardiaResult:
    """Mardia's multivariate normality tests on ``n`` points in ``p`` dimensions."""

    skewness: float  # b_{1,p}; 0 for a normal population
    skew_stat: float  # n b1 / 6, asymptotically chi2 with p (p + 1) (p + 2) / 6 dof
    skew_pvalue: float
    kurtosis: float  # b_{2,p}; p (p + 2) for a normal population
    kurt_stat: float  # (b2 - p (p + 2)) / sqrt(8 p (p + 2) / n), asymptotically N(0, 1)
    kurt_pvalue: float  # two-sided


def mardia_test(x: np.ndarray) -> MardiaResult:
    """Mardia's (1970) multivariate skewness and kurtosis tests, asymptotic forms.

    Uses the maximum-likelihood covariance (divided by ``n``) as Mardia does. Reliable for
    ``n`` well above ``p`` (rule of thumb ``n >= 20 p``); the skewness test is conservative at
    small ``n``.

    Args:
        x: ``(n, p)`` observations, ``n > p``.
    """
    # imported here, not at the top: option errors should not wait for scipy.stats
    # (benchmarks/cli_startup.py times them)
    from scipy import stats

    fn = "mardia_test"
    x = np.asarray(x)
    if x.ndim != 2 or x.dtype.kind not in "fiu":
        raise InputError(f"{fn}: x must be a real (n, p) array, got {x.dtype} of shape {x.shape}")
    x = x.astype(np.float64)
    n, p = x.shape
    if n <= p or p < 1:
        raise InputError(
            f"{fn}: needs more observations than dimensions (n > p >= 1), got x of shape {x.shape}"
        )
    if not np.isfinite(x).all():
        raise NonFiniteInputError(
            f"{fn}: x has {int((~np.isfinite(x)).sum())} non-finite value(s) (NaN or inf); only "
            "finite values are allowed"
        )
    xc = x - x.mean(0)
    s = xc.T @ xc / n
    g = xc @ np.linalg.solve(s, xc.T)  # (n, n) Mahalanobis inner products
    b1 = float((g**3).sum() / n**2)
    b2 = float((np.diag(g) ** 2).mean())
    skew_stat = n * b1 / 6.0
    dof = p * (p + 1) * (p + 2) / 6.0
    kurt_stat = (b2 - p * (p + 2)) / np.sqrt(8.0 * p * (p + 2) / n)
    return MardiaResult(
        skewness=b1,
        skew_stat=float(skew_stat),
        skew_pvalue=float(stats.chi2.sf(skew_stat, dof)),
        kurtosis=b2,
        kurt_stat=float(kurt_stat),
        kurt_pvalue=float(2.0 * stats.norm.sf(abs(kurt_stat))),
    )


@dataclass(frozen=True)
class GaussianityResult:
    """Per-sample results of :func:`augmentation_gaussianity` (arrays have length ``batch``)."""

    dim_pvalues: np.ndarray  # (batch, out) D'Agostino-Pearson p-values; nan for constant dims
    frac_dims_rejected: np.ndarray  # (batch,) share of non-constant dims with p < alpha
    mardia: list[MardiaResult]  # (batch,) on the top `mv_dims` principal components
    cov_rel_error: np.ndarray  # (batch,) ||C_emp - A Sigma A^T||_F / ||C_emp||_F
    region_stability: np.ndarray  # (batch,) share of views in the clean sample's linear region
    n_views: int
    alpha: float


def augmentation_gaussianity(
    model: nn.Module,
    x: torch.Tensor,
    augment: Callable[[torch.Tensor], torch.Tensor],
    n_views: int = 256,
    alpha: float = 0.05,
    mv_dims: int = 5,
) -> GaussianityResult:
    """Test whether ``model``'s outputs on augmented views of each sample look Gaussian.

    Args:
        model: network taking ``(n, *in_shape)``; run in eval mode, no grad except the Jacobian.
        x: ``(batch, *in_shape)`` clean samples.
        augment: maps a batch ``(n, *in_shape)`` to augmented views of the same shape (called
            once per sample on ``n_views`` copies of it; must draw independent views).
        n_views: views per sample (>= 20 for the kurtosis part of ``normaltest``).
        alpha: level used for ``frac_dims_rejected``.
        mv_dims: Mardia's test runs on the outputs projected onto their top ``mv_dims``
            principal components (the full output is usually too high-dimensional for the
            number of views).

    Returns:
        :class:`GaussianityResult`.
    """
    from scipy import stats  # imported here: see mardia_test

    if n_views < 20:
        raise InputError(f"n_views must be >= 20 for scipy.stats.normaltest, got {n_views}")
    batch = x.shape[0]
    A, _ = local_affine(model, x)
    dim_p, frac_rej, mardia, cov_err, all_views = [], [], [], [], []
    with eval_mode(model), torch.no_grad():
        for i in range(batch):
            views = augment(x[i : i + 1].expand(n_views, *x.shape[1:]).clone())
            if views.shape != (n_views, *x.shape[1:]):
                raise InputError(
                    f"augment must return shape {(n_views, *x.shape[1:])}, got {tuple(views.shape)}"
                )
            all_views.append(views)
            z = model(views).reshape(n_views, -1).double().cpu().numpy()
            xin = views.reshape(n_views, -1).double().cpu().numpy()

            zc = z - z.mean(0)
            c_emp = zc.T @ zc / (n_views - 1)
            # A Sigma A^T = cov of the inputs pushed through A: never forms the (in, in) Sigma.
            proj = (xin - xin.mean(0)) @ A[i].double().cpu().numpy().T
            c_pred = proj.T @ proj / (n_views - 1)
            norm = np.linalg.norm(c_emp)
            cov_err.append(np.linalg.norm(c_emp - c_pred) / norm if norm > 0 else np.nan)

            const = z.std(0) <= 1e-12 * (1.0 + np.abs(z).max())
            p = np.full(z.shape[1], np.nan)
            if (~const).any():
                p[~const] = stats.normaltest(z[:, ~const], axis=0).pvalue
            dim_p.append(p)
            frac_rej.append(float(np.mean(p[~const] < alpha)) if (~const).any() else np.nan)

            evals, evecs = np.linalg.eigh(c_emp)
            keep = min(mv_dims, int((evals > 1e-12 * max(evals.max(), 1e-300)).sum()))
            mardia.append(mardia_test(zc @ evecs[:, ::-1][:, :keep]) if keep > 0 else None)
    if activation_patterns(model, x[:1]):
        stab = region_stability(model, x, torch.stack(all_views)).cpu().numpy()
    else:  # no piecewise-linear op: the model is affine, one region
        stab = np.ones(batch)
    return GaussianityResult(
        dim_pvalues=np.stack(dim_p),
        frac_dims_rejected=np.asarray(frac_rej),
        mardia=mardia,
        cov_rel_error=np.asarray(cov_err),
        region_stability=stab,
        n_views=n_views,
        alpha=alpha,
    )
