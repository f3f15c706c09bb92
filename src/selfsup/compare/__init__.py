"""Comparing runs side by side: ``selfsup compare RUN [RUN ...]``.

- ``measures.py``: the label-free measures (RankMe, LiDAR, alpha-ReQ, effective rank, entropy
  estimates) of a trained encoder on a fixed probe batch of training images (no labels read);
- ``runs.py``: one run's record (settings, accuracies, measures, train time);
- ``table.py``: the table of runs (Markdown, CSV, JSON) and the settings that differ;
- ``figures.py``: accuracy per run, lens curves overlaid, measures against kNN;
- ``command.py``: the command line.
"""
