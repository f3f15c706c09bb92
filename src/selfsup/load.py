"""``selfsup.load_encoder``: a trained encoder from wherever it is, as a torch module.

An exported ``.safetensors`` file (``selfsup export``) is read by
:func:`selfsup.encoder.load_encoder` with safetensors and torch alone; a run directory (its
newest checkpoint) or a checkpoint file is read with the run's safe checkpoint loader
(``torch.load(weights_only=True)``, no code from the file runs) and its backbone rebuilt from
the stored config, as ``selfsup export`` does, without writing a file.
"""

from __future__ import annotations

from pathlib import Path

import torch

from selfsup.encoder import Encoder, encoder_from_backbone
from selfsup.encoder import load_encoder as load_encoder_file


def load_encoder(path: str | Path, device: str | torch.device = "cpu") -> Encoder:
    """The trained encoder in ``path``, in eval mode on ``device``: an exported
    ``.safetensors`` file, a run directory or a checkpoint file.

    ``encoder(images)`` takes uint8 or [0, 1] float ``(B, C, H, W)`` batches;
    ``encoder.preprocess(images)`` makes one from PIL images or uint8 arrays.

    Raises:
        SelfsupError: the path is missing, not a selfsup encoder, run or checkpoint, damaged
            or unsafe, or its weights do not fit the network its metadata describes.
    """
    path = Path(path)
    if path.is_dir() or (path.is_file() and path.suffix != ".safetensors"):
        from selfsup.export import trained_encoder  # Lightning-free, the safe loader

        backbone, metadata = trained_encoder(path)
        return encoder_from_backbone(backbone, metadata).to(device).eval()
    return load_encoder_file(path, device)
