"""Fixtures for the dynamics tests."""

import pytest
import torch


@pytest.fixture
def gen() -> torch.Generator:
    """Seeded generator so every test is deterministic."""
    return torch.Generator().manual_seed(1234)


@pytest.fixture(autouse=True)
def _one_thread():
    """Run on one thread: every matrix here is small, so threads only add synchronisation, and on
    an oversubscribed machine OpenMP spin-waits make tiny QRs ~10x slower with two threads."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
