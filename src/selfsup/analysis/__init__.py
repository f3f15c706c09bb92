"""The information-theory lens on one trained encoder: ``selfsup analyze``.

- ``command.py``: the command (load the encoder, embed a dataset, measure, write the report);
- ``args.py``: its options and their checks, without torch (the CLI refuses a bad line before
  anything heavy loads);
- ``encoders.py``: encoders from other libraries' weight files (torchvision, timm, lightly,
  solo-learn);
- ``lens.py``: the lens numbers, their intervals and ``augmentation_r2``;
- ``report.py``: ``report.md``, ``analysis.json`` and the plots.
"""
