"""Fixtures for the dynamics tests."""

import pytest
import torch


@pytest.fixture
def gen() -> torch.Generator:
    """Seeded generator so every test is deterministic."""
    return torch.Generator().manual_seed(1234)
