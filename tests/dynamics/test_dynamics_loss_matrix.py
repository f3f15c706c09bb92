"""loss_matrix: -tr(W^T C W) must equal each loss evaluated from its definition."""

import pytest
import torch

from selfsup.dynamics import loss_matrix, quadratic_loss


def _data(gen, n=40, d=6, k=None):
    x = torch.randn(n, d, generator=gen, dtype=torch.float64)
    x_pos = x + 0.3 * torch.randn(n, d, generator=gen, dtype=torch.float64)
    shape = (n, d) if k is None else (n, k, d)
    x_neg = torch.randn(*shape, generator=gen, dtype=torch.float64) + 0.5
    return x, x_pos, x_neg


def _loss_from_definition(form, x, x_pos, x_neg, W, variance_weight=1.0):
    f, fp = x @ W, x_pos @ W
    if form == "inner":
        loss = -(f * fp).sum(1).mean()
        if x_neg is not None:
            fn = x_neg @ W
            if fn.ndim == 3:  # (n, k, h): average over the k negatives
                loss = loss + torch.einsum("nh,nkh->nk", f, fn).mean()
            else:
                loss = loss + (f * fn).sum(1).mean()
        return loss
    if form == "distance":
        loss = (f - fp).pow(2).sum(1).mean()
        if x_neg is not None:
            fn = x_neg @ W
            diff = f.unsqueeze(1) - fn if fn.ndim == 3 else f - fn
            loss = loss - diff.pow(2).sum(-1).mean()
        return loss
    if form == "distance_variance":
        variance = (f.var(0, unbiased=False).sum() + fp.var(0, unbiased=False).sum()) / 2
        return (f - fp).pow(2).sum(1).mean() - variance_weight * variance
    raise AssertionError(form)


@pytest.mark.parametrize(
    ("form", "negatives"),
    [
        ("inner", None),
        ("inner", "one"),
        ("inner", "many"),
        ("distance", None),
        ("distance", "one"),
        ("distance", "many"),
        ("distance_variance", None),
    ],
)
def test_quadratic_form_equals_loss_definition(gen, form, negatives):
    x, x_pos, x_neg = _data(gen, k=3 if negatives == "many" else None)
    x_neg = None if negatives is None else x_neg
    C = loss_matrix(x, x_pos, x_neg, form=form, variance_weight=0.7)
    assert torch.allclose(C, C.T, atol=0)
    for _ in range(3):
        W = torch.randn(6, 3, generator=gen, dtype=torch.float64)
        expected = _loss_from_definition(form, x, x_pos, x_neg, W, variance_weight=0.7)
        assert torch.allclose(quadratic_loss(C, W), expected, rtol=1e-12, atol=1e-12)


def test_contrastive_matrix_removes_direction_shared_with_negatives(gen):
    # x and its negative share a nuisance coefficient a along u; content is independent
    n, d = 20000, 5
    u = torch.zeros(d, dtype=torch.float64)
    u[0] = 1.0
    a = 3 * torch.randn(n, 1, generator=gen, dtype=torch.float64)
    content = torch.randn(n, d, generator=gen, dtype=torch.float64)
    content[:, 0] = 0
    x = content + a * u
    x_neg = torch.roll(content, 1, 0) + a * u
    C_nc = loss_matrix(x, x, None)
    C_c = loss_matrix(x, x, x_neg)
    assert C_nc[0, 0] == pytest.approx(9.0, rel=0.05)  # E[a^2]
    assert abs(C_c[0, 0]) < 1e-12  # shared exactly, cancels exactly


def test_bad_inputs_raise_clear_errors(gen):
    x, x_pos, _ = _data(gen)
    with pytest.raises(ValueError, match="unknown form"):
        loss_matrix(x, x_pos, form="cosine")
    with pytest.raises(ValueError, match="x_pos"):
        loss_matrix(x, x_pos[:-1])
    with pytest.raises(ValueError, match="x_neg"):
        loss_matrix(x, x_pos, x_pos[:, :-1])
    with pytest.raises(ValueError, match="non-contrastive"):
        loss_matrix(x, x_pos, x_pos, form="distance_variance")
