"""Learning dynamics of linear and two-layer SSL models (Esser, Mukherjee & Ghoshdastidar 2023).

Linear model ``f(x) = W^T x``; every loss here is ``L(W) = -tr(W^T C W)`` for a symmetric ``C``
built by ``loss_matrix``. Unconstrained gradient flow ``W(t) = exp(2tC) W0`` collapses to one
dimension; with ``W^T W = I`` the flow lives on the Grassmannian and ``grassmann_flow`` gives it
in closed form, which ``riemannian_gd`` approaches as the step size goes to 0. Float64 throughout
unless the inputs say otherwise.
"""

from selfsup.dynamics.flows import grassmann_flow, projector, top_eigenspace, unconstrained_flow
from selfsup.dynamics.loss_matrix import loss_matrix, quadratic_loss
from selfsup.dynamics.metrics import SubspaceDistance, subspace_distance, top_direction_alignment
from selfsup.dynamics.ntk import empirical_ntk, ntk_relative_change, two_layer_ntk
from selfsup.dynamics.riemannian import retract, riemannian_gd, riemannian_step, stiefel_project
from selfsup.dynamics.two_layer import TwoLayerNet, mse_loss, ssl_loss, ssl_step, supervised_step
from selfsup.info.spectral import effective_rank  # Roy & Vetterli, of W as given

__all__ = [
    "SubspaceDistance",
    "TwoLayerNet",
    "effective_rank",
    "empirical_ntk",
    "grassmann_flow",
    "loss_matrix",
    "mse_loss",
    "ntk_relative_change",
    "projector",
    "quadratic_loss",
    "retract",
    "riemannian_gd",
    "riemannian_step",
    "ssl_loss",
    "ssl_step",
    "stiefel_project",
    "subspace_distance",
    "supervised_step",
    "top_direction_alignment",
    "top_eigenspace",
    "two_layer_ntk",
    "unconstrained_flow",
]
