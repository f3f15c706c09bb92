"""One convention for every estimator in selfsup.info: torch tensors out, 0-d for one value.

A mix (some Python floats, some 0-d tensors) made ``rankme(z) == effective_rank(z)``-style
code and ``pytest.approx`` behave differently per function; the table below covers every
public function of ``selfsup.info`` that returns a number, and the last test makes sure a new
one joins it.
"""

import warnings

import pytest
import torch

import selfsup.info as info

torch.manual_seed(0)
Z = torch.randn(300, 4, dtype=torch.float64)
VIEWS = torch.randn(30, 4, 4, dtype=torch.float64)
COV = torch.eye(4, dtype=torch.float64) + 0.1
MEANS = torch.randn(5, 2, dtype=torch.float64)

#: function name -> a call on small valid input
SCALAR_CALLS = {
    "effective_rank": lambda: info.effective_rank(Z),
    "rankme": lambda: info.rankme(Z),
    "alpha_req": lambda: info.alpha_req(Z),
    "lidar": lambda: info.lidar(VIEWS),
    "gaussian_entropy": lambda: info.gaussian_entropy(COV),
    "gaussian_entropy_from_samples": lambda: info.gaussian_entropy_from_samples(Z),
    "gaussian_mutual_information": lambda: info.gaussian_mutual_information(COV, 2),
    "ledoit_wolf_entropy": lambda: info.ledoit_wolf_entropy(Z),
    "logdet_entropy": lambda: info.logdet_entropy(Z),
    "knn_entropy": lambda: info.knn_entropy(Z),
    "ksg_mutual_information": lambda: info.ksg_mutual_information(Z[:, :1], Z[:, 1:2]),
    "pairwise_distance_entropy": lambda: info.pairwise_distance_entropy(Z),
    "mixture_entropy_mc": lambda: info.mixture_entropy_mc(
        MEANS, torch.eye(2, dtype=torch.float64), n_samples=500
    ),
}
#: public functions returning several numbers: each of them a 0-d tensor
TUPLE_CALLS = {
    "mixture_entropy_bounds": lambda: info.mixture_entropy_bounds(
        MEANS, torch.eye(2, dtype=torch.float64)
    ),
}
#: public names that are not numeric estimates (tensors of another shape, result records,
#: classes); each says what it returns
OTHERS = {
    "ActivationPatternRecorder": "a class",
    "EstimatorRegimeWarning": "a warning class",
    "GaussianityResult": "a result record",
    "MardiaResult": "a result record",
    "activation_patterns": "a list of pattern tensors",
    "augmentation_gaussianity": "a GaussianityResult",
    "conditional_covariance": "(batch, out, out) tensor",
    "gram_eigenvalues": "(k,) tensor",
    "knn_distances": "(n,) tensor",
    "ledoit_wolf_covariance": "((d, d) tensor, 0-d tensor)",
    "local_affine": "(A, b) tensors",
    "mardia_test": "a MardiaResult",
    "mixture_log_density": "(m,) tensor",
    "region_stability": "(batch,) tensor",
    "sample_covariance": "(d, d) tensor",
}


@pytest.mark.parametrize("name", sorted(SCALAR_CALLS))
def test_every_scalar_estimate_is_a_0d_tensor(name):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # regime notes on this small sample
        value = SCALAR_CALLS[name]()
    assert isinstance(value, torch.Tensor) and value.ndim == 0, (name, type(value))
    assert value.is_floating_point()
    assert isinstance(float(value), float)


@pytest.mark.parametrize("name", sorted(TUPLE_CALLS))
def test_several_estimates_are_each_a_0d_tensor(name):
    values = TUPLE_CALLS[name]()
    assert all(isinstance(v, torch.Tensor) and v.ndim == 0 for v in values), name


def test_batched_input_gives_a_batch_of_values():
    batch = torch.randn(3, 20, 5, dtype=torch.float64)
    assert info.effective_rank(batch).shape == (3,)


def test_every_public_function_is_covered():
    covered = set(SCALAR_CALLS) | set(TUPLE_CALLS) | set(OTHERS)
    assert set(info.__all__) == covered
