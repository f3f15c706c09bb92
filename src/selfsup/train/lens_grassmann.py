"""The Grassmannian prediction of the learning-dynamics paper beside a linear head's training.

For a linear head ``f(x) = W^T x`` trained on ``L(W) = -tr(W^T C W)`` under ``W^T W = I``, the
span of ``W`` follows ``span(exp(2 t C) W0)`` (:func:`selfsup.dynamics.grassmann_flow`), with
``t`` the gradient-flow time: the sum of the learning rates of the steps taken (a GD step on that
loss is ``W + 2 lr C W``). :class:`GrassmannTrack` takes ``C`` from the probe batch's head inputs
(two views, the paper's "inner" form, :func:`selfsup.dynamics.loss_matrix`) at the first
measurement, and logs at each one:

* ``grass_pred_dist``: projector distance between the measured span of ``W`` and the closed-form
  prediction ``span(exp(2 t C0) W0)`` (0: the theory tracks the training);
* ``grass_top_dist``: distance between ``span(W)`` and the top-``h`` eigenspace of the current
  ``C`` (the flow's end point; 0 once the head has converged there), a check that holds for any
  loss whose optimum is that eigenspace;
* ``grass_pred_top_dist``: the prediction's own distance to that end point (how far along the
  theory says the head should be);
* ``grass_time``: the flow time ``t``.

Distances are ``||P1 - P2||_F / sqrt(2h)`` in [0, 1]. The prediction is exact only for the
paper's loss and an orthonormal ``W`` under small steps; for any other objective (VICReg...) its
time axis has no such meaning and the curves show how far the training departs from it.
"""

from __future__ import annotations

import torch
from torch import nn

from selfsup.dynamics import grassmann_flow, loss_matrix, subspace_distance, top_eigenspace


def linear_head(projector: nn.Module | None) -> nn.Linear | None:
    """The projector if it is a single ``nn.Linear`` (alone or in a one-layer Sequential)."""
    if isinstance(projector, nn.Linear):
        return projector
    layers = list(projector.children()) if isinstance(projector, nn.Sequential) else []
    if len(layers) == 1 and isinstance(layers[0], nn.Linear):
        return layers[0]
    return None


def _orthonormal(W: torch.Tensor) -> torch.Tensor:
    return torch.linalg.qr(W).Q


class GrassmannTrack:
    """Closed-form Grassmannian prediction vs the measured span of a linear head."""

    def __init__(self) -> None:
        self.time = 0.0  # gradient-flow time: sum of learning rates of the steps taken
        self.C0: torch.Tensor | None = None
        self.W0: torch.Tensor | None = None
        self.eig: tuple[torch.Tensor, torch.Tensor] | None = None

    def step(self, lr: float) -> None:
        self.time += float(lr)

    def measure(self, weight: torch.Tensor, x_a: torch.Tensor, x_b: torch.Tensor) -> dict:
        """``weight (h, d)`` of the ``nn.Linear``; ``x_a, x_b (n, d)`` its inputs for two views."""
        W = _orthonormal(weight.detach().double().T.cpu())  # (d, h)
        h = W.shape[1]
        C = loss_matrix(x_a.double().cpu(), x_b.double().cpu())
        if self.C0 is None:
            self.C0, self.W0 = C, W
            self.eig = torch.linalg.eigh(C)
        predicted = grassmann_flow(self.C0, self.W0, self.time, eig=self.eig)
        end_now = top_eigenspace(C, h)
        end_0 = top_eigenspace(self.C0, h, eig=self.eig)
        return {
            "grass_pred_dist": float(subspace_distance(W, predicted).projection),
            "grass_top_dist": float(subspace_distance(W, end_now).projection),
            "grass_pred_top_dist": float(subspace_distance(predicted, end_0).projection),
            "grass_time": self.time,
        }

    def state_dict(self) -> dict:
        return {"time": self.time, "C0": self.C0, "W0": self.W0}

    def load_state_dict(self, state: dict) -> None:
        self.time = float(state.get("time", 0.0))
        self.C0, self.W0 = state.get("C0"), state.get("W0")
        self.eig = torch.linalg.eigh(self.C0) if self.C0 is not None else None
