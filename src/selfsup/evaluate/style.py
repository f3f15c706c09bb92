"""Style probes: how well each known style factor is predicted from frozen features.

A categorical factor is probed with the multinomial ``LinearProbe`` (accuracy); a continuous
one with ridge regression on standardised features (R^2 on the test split). Each factor's
*score* puts both on one scale, 0 for chance and 1 for perfect: R^2 as is, and for
accuracies ``(acc - chance) / (1 - chance)`` with chance the test share of the most
frequent value. ``style_score`` is the mean score over the factors.
"""

from __future__ import annotations

import torch

from selfsup.errors import InputError
from selfsup.evaluate.probes import LinearProbe


def ridge_r2(
    train_x: torch.Tensor,
    train_t: torch.Tensor,
    test_x: torch.Tensor,
    test_t: torch.Tensor,
    alpha: float = 1e-3,
) -> float:
    """Test R^2 of ridge regression ``t ~ x`` (features standardised with train statistics).

    Args:
        train_x: ``(n, dim)``, train_t: ``(n,)``; test_x: ``(m, dim)``, test_t: ``(m,)``.
        alpha: ridge penalty per sample (``alpha * n * ||w||^2``).
    """
    x, xt = train_x.double(), test_x.double()
    mean, std = x.mean(0), x.std(0).clamp_min(1e-8)
    x, xt = (x - mean) / std, (xt - mean) / std
    t, tt = train_t.double(), test_t.double()
    t_mean = t.mean()
    a = x.T @ x + alpha * x.shape[0] * torch.eye(x.shape[1], dtype=x.dtype)
    w = torch.linalg.solve(a, x.T @ (t - t_mean))
    residual = tt - (xt @ w + t_mean)
    return float(1 - residual.pow(2).sum() / (tt - tt.mean()).pow(2).sum().clamp_min(1e-12))


def style_scores(
    train_features: torch.Tensor,
    train_style: dict[str, torch.Tensor],
    test_features: torch.Tensor,
    test_style: dict[str, torch.Tensor],
) -> dict[str, float]:
    """Probe every style factor; integer tensors are categorical, floating ones continuous.

    Args:
        train_features: ``(n, dim)``; train_style: name -> ``(n,)``; likewise for test.

    Returns:
        ``style_<name>`` (the factor's score, see the module docstring), ``style_<name>_acc``
        or ``style_<name>_r2`` (the raw number), and ``style_score`` (mean of the scores).
    """
    if set(train_style) != set(test_style) or not train_style:
        raise InputError(
            f"train and test must name the same, non-empty style factors; got "
            f"{sorted(train_style)} and {sorted(test_style)}"
        )
    out: dict[str, float] = {}
    for name in train_style:
        t, tt = train_style[name], test_style[name]
        if t.shape != (train_features.shape[0],) or tt.shape != (test_features.shape[0],):
            raise InputError(
                f"style factor '{name}' must have one value per image: got {tuple(t.shape)} for "
                f"{train_features.shape[0]} train and {tuple(tt.shape)} for "
                f"{test_features.shape[0]} test images"
            )
        if t.is_floating_point():
            r2 = ridge_r2(train_features, t, test_features, tt)
            out[f"style_{name}_r2"] = out[f"style_{name}"] = r2
        else:
            acc = LinearProbe().fit(train_features, t.long()).score(test_features, tt.long())
            chance = float(torch.bincount(tt.long()).max()) / len(tt)
            out[f"style_{name}_acc"] = acc
            out[f"style_{name}"] = (acc - chance) / max(1e-12, 1 - chance)
    out["style_score"] = sum(out[f"style_{n}"] for n in train_style) / len(train_style)
    return out
