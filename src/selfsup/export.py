"""``selfsup export RUN FILE.safetensors``: a trained run's encoder as one portable file.

The run's newest checkpoint (or a named checkpoint file) is read safely
(``train.checkpoints``), its backbone rebuilt from the run's config and written with
``encoder.save_encoder``; ``selfsup.load_encoder(FILE)`` gives it back as a plain torch
module. The data is not needed when the checkpoint records the image shape (runs since this
command existed); older checkpoints load the dataset once to learn it.
"""

from __future__ import annotations

import sys
from pathlib import Path

from torch import nn

from selfsup.config import to_dict
from selfsup.data.views import normaliser
from selfsup.encoder import encoder_metadata, save_encoder
from selfsup.errors import OneLineParser, SelfsupError
from selfsup.nets import build_backbone
from selfsup.train.atomic import atomic_write_bytes
from selfsup.train.checkpoints import load_selfsup_checkpoint
from selfsup.train.preflight import resolve_checkpoint, stored_config
from selfsup.version import __version__

#: where a checkpoint records the ``(C, H, W)`` its method was built for
IMAGE_SHAPE = "selfsup_image_shape"


def export_encoder(run: str | Path, out: str | Path) -> tuple[Path, dict]:
    """Write the encoder of ``run`` (a run directory or checkpoint) to ``out``.

    Returns:
        The file written and its metadata.
    """
    backbone, metadata = trained_encoder(run)
    return save_encoder(backbone, metadata, out, write=atomic_write_bytes), metadata


def trained_encoder(run: str | Path) -> tuple[nn.Module, dict]:
    """The trained backbone of ``run`` (a run directory or checkpoint) and the metadata an
    export of it records (``encoder.encoder_metadata``)."""
    ckpt = resolve_checkpoint(run)
    state = load_selfsup_checkpoint(ckpt)
    config = stored_config(state, ckpt)
    shape = state.get(IMAGE_SHAPE)
    if shape is None:  # a checkpoint from before the shape was recorded
        from selfsup.data.from_config import load_data

        shape = load_data(config).image_shape
    shape = [int(s) for s in shape]
    name, params = config.backbone.name, to_dict(config.backbone.params)
    backbone = build_backbone(name, shape, **params)
    prefix = "backbone."
    weights = {k[len(prefix) :]: v for k, v in state["state_dict"].items() if k.startswith(prefix)}
    try:
        backbone.load_state_dict(weights)
    except RuntimeError as err:
        first = str(err).strip().splitlines()[0]
        raise SelfsupError(f"{ckpt}: its backbone does not fit its own config ({first})") from None
    norm = normaliser(config.data.name, shape[0])
    metadata = encoder_metadata(
        name,
        params,
        shape,
        backbone.out_dim,
        norm.mean.flatten().tolist(),
        norm.std.flatten().tolist(),
        method=config.method.name,
        dataset=config.data.name,
        global_step=int(state.get("global_step", 0)),
        checkpoint=ckpt.name,
        selfsup_version=__version__,
        plugins=list(config.plugins),  # load_encoder imports them (a plug-in backbone)
    )
    return backbone, metadata


def parser() -> OneLineParser:
    """The ``selfsup export`` command line."""
    out = OneLineParser(
        prog="selfsup export",
        description="Write a trained run's encoder (weights + how to rebuild it) to a "
        ".safetensors file; load it with selfsup.load_encoder(FILE).",
    )
    out.add_argument("run", help="run directory (its newest checkpoint) or checkpoint file")
    out.add_argument(
        "file",
        help="output file, ending in .safetensors (its folder is made; an existing file of that "
        "name is replaced)",
    )
    return out


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(sys.argv[1:] if argv is None else argv)
    replaced = Path(args.file).exists()  # replaced like cp would, but never without a word
    out, meta = export_encoder(args.run, args.file)
    shape = "x".join(str(s) for s in meta["image_shape"])
    print(
        f"{'replaced' if replaced else 'wrote'} {out}: {meta['backbone']} on {shape} images -> "
        f"{meta['out_dim']}-d features (step {meta['global_step']}); "
        f"load with selfsup.load_encoder('{out}')"
    )
    return 0
