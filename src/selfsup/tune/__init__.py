"""Hyperparameter sweeps on Optuna, with or without labels: ``selfsup sweep``.

- ``space.py``: search-space words (``optim.lr=loguniform(1e-4,1e-2)``) and their checks;
- ``storage.py``: the Optuna study (SQLite by default, any SQLAlchemy URL), shared by workers;
  trials of dead workers marked failed;
- ``objective.py``: the objectives (kNN, linear probe, RankMe, LiDAR, alpha-ReQ);
  ``pruning.py``: the per-epoch report Optuna's pruners act on;
- ``trial.py``: one trial, an ordinary selfsup run in ``OUT/trial-NNN``;
- ``results.py``: ``sweep.json``, ``sweep.md`` and the figures;
- ``command.py``: the command line.
"""
