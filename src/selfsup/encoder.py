"""A trained encoder as one ``.safetensors`` file, and back as a plain ``torch.nn.Module``.

``selfsup export RUN FILE.safetensors`` writes the backbone's weights and, as the file's
metadata, what rebuilds it: the backbone's name and arguments, the image shape it was trained
on and the channel normalisation. :func:`load_encoder` reads the file with safetensors (no
code from the file runs), rebuilds the network from ``selfsup.nets`` and returns it in eval
mode. Nothing of Lightning, the methods or the training code is imported here, so an encoder
can be used wherever torch is; ``selfsup.load_encoder`` (``selfsup.load``) also takes a run
directory or a checkpoint file::

    encoder = selfsup.load_encoder("encoder.safetensors")  # or "runs/my-run", or a .ckpt
    features = encoder(images)  # (B, C, H, W) uint8 or floats in [0, 1] -> (B, out_dim)
    features = encoder(encoder.preprocess(pil_images))  # any size, grey or colour
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from selfsup.data.user_images import image_batch
from selfsup.data.views import Normalise, to_unit_float
from selfsup.errors import InputError, SelfsupError
from selfsup.nets import build_backbone

FORMAT = "selfsup.encoder"
VERSION = "1"
#: how far float inputs may stray outside [0, 1] (resampling overshoot) before they are refused
RANGE_SLACK = 0.1


class Encoder(nn.Module):
    """Channel normalisation, then the backbone: images in, representations out.

    Attributes:
        backbone: the trained network (takes normalised images).
        image_shape: ``(C, H, W)`` of the images it was trained on.
        out_dim: the representation size.
        metadata: everything the file recorded (method, dataset, step, backbone arguments).
    """

    def __init__(self, backbone: nn.Module, normalise: Normalise, metadata: dict) -> None:
        super().__init__()
        self.normalise, self.backbone = normalise, backbone
        self.metadata = metadata
        self.image_shape = tuple(metadata["image_shape"])
        self.out_dim = int(metadata["out_dim"])

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """``(B, C, H, W)`` uint8, or floats in [0, 1] -> ``(B, out_dim)`` float features.

        Raises:
            InputError: float images outside [0, 1] (0-255 values, or images normalised
                already: the encoder normalises them itself).
        """
        if images.is_floating_point() and images.numel():
            lo, hi = torch.aminmax(images.detach())
            lo, hi = float(lo), float(hi)
            if lo < -RANGE_SLACK or hi > 1 + RANGE_SLACK:
                raise InputError(
                    f"encoder: float images must lie in [0, 1], found [{lo:.4g}, {hi:.4g}]; "
                    f"pass uint8 pixels, or divide 0-255 values by 255, or use "
                    f"encoder.preprocess(images) (the encoder normalises them itself)"
                )
        return self.backbone(self.normalise(to_unit_float(images)))

    def preprocess(self, images, normalised: bool = False) -> torch.Tensor:
        """PIL images, or uint8 numpy arrays or tensors, one or many (layouts:
        ``selfsup.data.user_images``) -> a float ``(N, C, H, W)`` batch of the images as
        training saw them: the run's channels and size, values in [0, 1], ready for
        ``encoder(batch)``.

        Args:
            images: one image or several (a list may mix sizes and modes).
            normalised: return the backbone's input instead (the channel normalisation
                applied), for ``encoder.backbone(batch)``.

        Raises:
            InputError: not uint8 images, or an unknown layout.
        """
        batch = to_unit_float(image_batch(images, self.image_shape)).to(self.normalise.mean.device)
        return self.normalise(batch) if normalised else batch


def encoder_metadata(
    backbone: str,
    backbone_params: dict,
    image_shape,
    out_dim: int,
    mean,
    std,
    **about,
) -> dict:
    """The metadata :func:`save_encoder` writes (``about``: method, dataset, step, ...)."""
    return {
        "backbone": backbone,
        "backbone_params": dict(backbone_params),
        "image_shape": [int(s) for s in image_shape],
        "out_dim": int(out_dim),
        "normalise_mean": [float(m) for m in mean],
        "normalise_std": [float(s) for s in std],
        **about,
    }


def save_encoder(
    backbone: nn.Module,
    metadata: dict,
    path: str | Path,
    write: Callable[[Path, bytes], object] = Path.write_bytes,
) -> Path:
    """Write ``backbone``'s weights and ``metadata`` (see :func:`encoder_metadata`).

    Args:
        write: writes the file's bytes to ``path``; by default as ``open(path, "wb")`` does
            (mode 0666 less the umask; ``selfsup export`` passes an atomic writer).
    """
    from safetensors.torch import save

    path = Path(path)
    if path.suffix != ".safetensors":
        raise SelfsupError(f"the encoder file must end in .safetensors, got '{path.name}'")
    # channels-last weights (how selfsup trains ConvNets) are stored in the standard layout
    tensors = {k: v.detach().cpu().contiguous() for k, v in backbone.state_dict().items()}
    header = {"format": FORMAT, "version": VERSION, "metadata": json.dumps(metadata)}
    path.parent.mkdir(parents=True, exist_ok=True)
    # safetensors' own save_file makes the file 0600 whatever the umask: bytes, then write
    write(path, save(tensors, metadata=header))
    return path


def _read(path: Path) -> tuple[dict[str, torch.Tensor], dict]:
    from safetensors import SafetensorError, safe_open

    if not path.is_file():
        raise SelfsupError(
            f"'{path}' not found; selfsup.load_encoder takes an exported .safetensors file, a run "
            f"directory or a checkpoint file"
        )
    try:
        with safe_open(str(path), framework="pt", device="cpu") as f:
            header = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except (SafetensorError, OSError, ValueError) as err:
        first = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise SelfsupError(f"cannot read encoder file '{path}' ({first[:200]})") from None
    if header.get("format") != FORMAT:
        raise SelfsupError(
            f"'{path}' is a safetensors file but not a selfsup encoder (no '{FORMAT}' "
            f"metadata); write one with: selfsup export RUN FILE.safetensors"
        )
    if header.get("version") != VERSION:
        raise SelfsupError(
            f"'{path}' is a selfsup encoder of format version {header.get('version')}; this "
            f"selfsup reads version {VERSION}"
        )
    try:
        metadata = json.loads(header["metadata"])
        for key in ("backbone", "backbone_params", "image_shape", "out_dim"):
            metadata[key]  # noqa: B018 (a KeyError is the check)
    except (KeyError, TypeError, json.JSONDecodeError) as err:
        raise SelfsupError(f"encoder file '{path}': its metadata is damaged ({err})") from None
    return tensors, metadata


def load_encoder(path: str | Path, device: str | torch.device = "cpu") -> Encoder:
    """The encoder in an exported file, rebuilt in eval mode on ``device``.

    Raises:
        SelfsupError: the file is missing, not a selfsup encoder, damaged, or its weights do
            not fit the network its metadata describes.
    """
    from selfsup import registry
    from selfsup.registry import load_plugins

    path = Path(path)
    tensors, meta = _read(path)
    plugins = meta.get("plugins") or []
    if not isinstance(plugins, list):
        raise SelfsupError(f"encoder file '{path}': its metadata is damaged (plugins)")
    # module names only (the file holds no code), and only where the backbone is not a
    # built-in: a plug-in method's encoder on a built-in backbone loads without the method
    if registry.find("backbone", str(meta["backbone"])) is None:
        load_plugins(plugins, f"encoder file {path}")
    params = dict(meta["backbone_params"])
    if meta["backbone"] == "timm":
        params["pretrained"] = False  # the weights are in this file
    backbone = build_backbone(meta["backbone"], meta["image_shape"], **params)
    try:
        backbone.load_state_dict(tensors)
    except RuntimeError as err:
        first = str(err).strip().splitlines()[0]
        raise SelfsupError(
            f"encoder file '{path}': weights do not fit its network ({first})"
        ) from None
    return encoder_from_backbone(backbone, meta).to(device).eval()


def encoder_from_backbone(backbone: nn.Module, meta: dict) -> Encoder:
    """An :class:`Encoder` of a trained ``backbone`` and its :func:`encoder_metadata`."""
    mean = meta.get("normalise_mean") or [0.0] * meta["image_shape"][0]
    std = meta.get("normalise_std") or [1.0] * meta["image_shape"][0]
    return Encoder(backbone, Normalise(tuple(mean), tuple(std)), meta)
