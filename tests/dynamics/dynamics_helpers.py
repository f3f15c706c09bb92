"""Reference helpers for the dynamics tests: numpy/scipy only, independent of selfsup."""

import numpy as np
import torch
from scipy.integrate import solve_ivp


def random_orthonormal(d: int, h: int, gen: torch.Generator) -> torch.Tensor:
    return torch.linalg.qr(torch.randn(d, h, generator=gen, dtype=torch.float64)).Q


def symmetric_with_spectrum(lam: list[float], gen: torch.Generator) -> torch.Tensor:
    Q = random_orthonormal(len(lam), len(lam), gen)
    C = Q @ torch.diag(torch.tensor(lam, dtype=torch.float64)) @ Q.T
    return (C + C.T) / 2


def np_projector(W: np.ndarray) -> np.ndarray:
    """Projector onto span(W) with numpy's own QR (independent of selfsup)."""
    Q, _ = np.linalg.qr(W)
    return Q @ Q.T


def integrate_oja(C: np.ndarray, W0: np.ndarray, times: np.ndarray) -> np.ndarray:
    """Reference: DOP853 integration of dW/dt = 2 (I - W W^T) C W at tight tolerances."""
    d, h = W0.shape

    def rhs(_t: float, w: np.ndarray) -> np.ndarray:
        W = w.reshape(d, h)
        CW = C @ W
        return (2 * (CW - W @ (W.T @ CW))).ravel()

    sol = solve_ivp(
        rhs,
        (0.0, float(times[-1])),
        W0.ravel(),
        t_eval=times,
        method="DOP853",
        rtol=1e-13,
        atol=1e-15,
    )
    assert sol.success, sol.message
    return sol.y.T.reshape(len(times), d, h)
