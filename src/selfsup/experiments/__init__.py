"""Reproductions of papers' experiments, all on one small framework.

- ``experiment.py``: what a reproduction declares (:class:`Experiment`, presets, runs);
  ``claims.py``: a paper's claim as data (:class:`Claim`).
- ``command.py``: ``selfsup reproduce NAME ...``; ``runner.py``: seeds, threads, timing,
  resume, worker processes; ``report.py``: ``report.md`` + ``results.json``; ``meta.py``.
- one module or package per reproduction, listed in ``REPRODUCTIONS``.
"""

from __future__ import annotations

import importlib

from selfsup.errors import SelfsupError

#: name -> module holding ``EXPERIMENT``; ``selfsup reproduce --list`` shows them in this order
REPRODUCTIONS = {
    "infomax": "selfsup.experiments.infomax",
    "simvae": "selfsup.experiments.simvae",
    "dynamics": "selfsup.experiments.dynamics",
    "rankme": "selfsup.experiments.rankme",
}


def load(name: str):
    """The :class:`~selfsup.experiments.experiment.Experiment` registered as ``name``."""
    if name not in REPRODUCTIONS:
        raise SelfsupError(f"unknown reproduction '{name}'; valid: {', '.join(REPRODUCTIONS)}")
    return importlib.import_module(REPRODUCTIONS[name]).EXPERIMENT
