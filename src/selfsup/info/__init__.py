"""Information-theory toolkit: entropy and mutual-information estimators, piecewise-affine and
Gaussianity analyses of networks, spectral measures (effective rank, RankMe,
alpha-ReQ, LiDAR). Pure tensor maths; imports nothing else from selfsup.

Units: every entropy and mutual information is in nats (divide by ``math.log(2)`` for bits).
Every estimator returns torch tensors: 0-d for one value, ``(...)`` for a batch of inputs, in
the input's dtype or float64 as each says; ``float(...)`` gives the Python number.
See docs/info.md for each estimator's assumptions and measured bias; a call outside the regime
where the bias was measured emits an ``EstimatorRegimeWarning``. Bad arguments (wrong shapes or
dtypes, NaN / inf, repeated points for the kNN estimators) raise ``ValueError``
(``selfsup.validation``).
"""

from selfsup.info.affine import (
    ActivationPatternRecorder,
    activation_patterns,
    conditional_covariance,
    local_affine,
    region_stability,
)
from selfsup.info.gaussian import (
    gaussian_entropy,
    gaussian_entropy_from_samples,
    gaussian_mutual_information,
    ledoit_wolf_covariance,
    ledoit_wolf_entropy,
    logdet_entropy,
    sample_covariance,
)
from selfsup.info.gaussianity import (
    GaussianityResult,
    MardiaResult,
    augmentation_gaussianity,
    mardia_test,
)
from selfsup.info.knn import knn_distances, knn_entropy, ksg_mutual_information
from selfsup.info.mixture import (
    mixture_entropy_bounds,
    mixture_entropy_mc,
    mixture_log_density,
    pairwise_distance_entropy,
)
from selfsup.info.regimes import EstimatorRegimeWarning
from selfsup.info.spectral import alpha_req, effective_rank, gram_eigenvalues, lidar, rankme

__all__ = [
    "EstimatorRegimeWarning",
    "ActivationPatternRecorder",
    "GaussianityResult",
    "MardiaResult",
    "activation_patterns",
    "alpha_req",
    "augmentation_gaussianity",
    "conditional_covariance",
    "effective_rank",
    "gaussian_entropy",
    "gaussian_entropy_from_samples",
    "gaussian_mutual_information",
    "gram_eigenvalues",
    "knn_distances",
    "knn_entropy",
    "ksg_mutual_information",
    "ledoit_wolf_covariance",
    "ledoit_wolf_entropy",
    "lidar",
    "local_affine",
    "logdet_entropy",
    "mardia_test",
    "mixture_entropy_bounds",
    "mixture_entropy_mc",
    "mixture_log_density",
    "pairwise_distance_entropy",
    "rankme",
    "region_stability",
    "sample_covariance",
]
