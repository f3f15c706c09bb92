"""Encoders from weight files for ``selfsup analyze``: ``torchvision:NAME`` / ``timm:NAME`` with
``--weights FILE``, whatever library wrote the file.

The file is read without running code from it (safetensors, or ``torch.load`` with
``weights_only=True`` through :func:`selfsup.train.checkpoints.load_checkpoint`). Its tensors are
matched to the architecture's own parameter names by the first layout that fits:

* ``plain``: the model's ``state_dict()`` as saved by ``torch.save`` / ``safetensors``;
* ``prefix 'P'``: every key under one prefix, e.g. ``backbone.`` (solo-learn, whose Lightning
  checkpoints hold ``state_dict`` with ``backbone.*``, ``momentum_backbone.*``,
  ``projector.*``, ``classifier.*``; older versions ``encoder.*``), ``module.`` (DDP),
  ``model.`` or ``encoder_q.`` (MoCo); keys of a momentum / EMA / teacher copy are used only
  when nothing else fits;
* ``children under 'P'``: lightly's examples build ``backbone = nn.Sequential(*list(
  resnet.children())[:-1])``, so their keys are ``backbone.0.weight`` (``conv1``),
  ``backbone.4.0.conv1.weight`` (``layer1.0.conv1``)...: the index is mapped to the name of the
  architecture's child at that position.

Every parameter and buffer of the architecture except its classifier must be found with the
right shape, otherwise the error says how many are missing and names a few. A ResNet whose file
has a 3x3 ``conv1`` gets the small-image stem first (solo-learn's CIFAR models).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn

from selfsup.errors import SelfsupError

#: prefixes of a second copy of the encoder (BYOL / MoCo / DINO targets): last resort only
_SHADOW = ("momentum", "target", "teacher", "ema", "key", "encoder_k")
LIBRARIES = ("torchvision", "timm")


def read_weights(path: str | Path) -> dict[str, torch.Tensor]:
    """The tensors of a weight file (safetensors or a ``torch.save`` file), flattened to
    ``{name: tensor}``: a checkpoint's ``state_dict`` / ``model`` / ``state_dict_ema`` entry is
    unwrapped. Never runs code from the file."""
    path = Path(path)
    if not path.is_file():
        raise SelfsupError(f"--weights {path}: no such file")
    if path.suffix == ".safetensors":
        try:
            from safetensors import SafetensorError
            from safetensors.torch import load_file
        except ImportError:
            raise SelfsupError(
                "reading .safetensors needs safetensors: pip install 'selfsup[weights]'"
            ) from None

        try:
            return load_file(str(path))
        except (SafetensorError, OSError) as err:
            raise SelfsupError(
                f"--weights {path}: not a readable safetensors file ({err})"
            ) from None
    from selfsup.train.checkpoints import load_checkpoint

    state = load_checkpoint(path)
    for key in ("state_dict", "model", "model_state_dict", "module"):
        inner = state.get(key)
        if isinstance(inner, dict) and any(isinstance(v, torch.Tensor) for v in inner.values()):
            state = inner
            break
    tensors = {k: v for k, v in state.items() if isinstance(k, str) and isinstance(v, torch.Tensor)}
    if not tensors:
        raise SelfsupError(f"--weights {path}: holds no tensors (keys: {list(state)[:6]})")
    return tensors


def build_architecture(spec: str, in_channels: int) -> nn.Module:
    """``torchvision:NAME`` or ``timm:NAME`` with random weights, classifier still in place."""
    library, _, name = spec.partition(":")
    if library == "torchvision":
        import torchvision

        if name not in torchvision.models.list_models(module=torchvision.models):
            raise SelfsupError(f"--encoder {spec}: unknown torchvision classification model")
        return torchvision.models.get_model(name, weights=None)
    if library == "timm":
        try:
            import timm
        except ImportError:
            raise SelfsupError(
                "--encoder timm:NAME needs timm: pip install 'selfsup[timm]'"
            ) from None
        if not timm.is_model(name):
            raise SelfsupError(f"--encoder {spec}: unknown timm model")
        return timm.create_model(name, pretrained=False, in_chans=in_channels)
    raise SelfsupError(f"--encoder {spec}: expected torchvision:NAME, timm:NAME or module:callable")


def _classifier_names(net: nn.Module) -> set[str]:
    """Parameter names of the final classifier (the last ``nn.Linear``), which need no weights."""
    last = [name for name, m in net.named_modules() if isinstance(m, nn.Linear)]
    if not last:
        return set()
    return {f"{last[-1]}.{p}" for p, _ in net.get_submodule(last[-1]).named_parameters()}


def _strip(state: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    return {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}


def _children_renamed(state: dict, prefix: str, children: Sequence[str]) -> dict:
    out = {}
    for key, value in _strip(state, prefix).items():
        match = re.match(r"(\d+)\.(.*)", key)
        if match and int(match[1]) < len(children):
            out[f"{children[int(match[1])]}.{match[2]}"] = value
    return out


def _candidates(state: dict, net: nn.Module) -> list[tuple[str, dict]]:
    """(layout name, renamed state) for every layout worth trying, most specific first."""
    prefixes = {""}
    for key in state:
        parts = key.split(".")
        prefixes.update(".".join(parts[:i]) + "." for i in range(1, len(parts)))
    children = [name for name, _ in net.named_children()]
    out = []
    for prefix in sorted(prefixes, key=len):
        out.append((f"prefix '{prefix}'" if prefix else "plain", _strip(state, prefix)))
        renamed = _children_renamed(state, prefix, children)
        if renamed:
            out.append((f"nn.Sequential children under '{prefix}' (lightly)", renamed))
    return out


def _small_stem_if_needed(net: nn.Module, renamed: dict) -> bool:
    """Give a 7x7-stem ResNet the small-image stem when the file's ``conv1`` is 3x3."""
    conv, file_conv = getattr(net, "conv1", None), renamed.get("conv1.weight")
    if not isinstance(conv, nn.Conv2d) or file_conv is None or file_conv.ndim != 4:
        return False
    if conv.kernel_size != (7, 7) or tuple(file_conv.shape[-2:]) != (3, 3):
        return False
    from selfsup.nets.external import small_image_stem

    small_image_stem(net, file_conv.shape[1])
    return True


def load_weights(net: nn.Module, state: dict[str, torch.Tensor], source: str) -> str:
    """Load ``state`` into ``net`` by the first layout that covers every non-classifier entry;
    returns the layout's name. Raises ``SelfsupError`` naming what is missing otherwise."""
    target = net.state_dict()
    needed = [k for k in target if k not in _classifier_names(net)]
    best: tuple[int, str, dict] | None = None
    for shadow in (False, True):
        for name, renamed in _candidates(state, net):
            if any(s in name for s in _SHADOW) != shadow:
                continue
            if _small_stem_if_needed(net, renamed):
                target = net.state_dict()
            fits = [k for k in needed if k in renamed and renamed[k].shape == target[k].shape]
            if len(fits) == len(needed):
                net.load_state_dict({k: renamed[k] for k in needed}, strict=False)
                return name
            if best is None or len(fits) > best[0]:
                best = (len(fits), name, renamed)
    found, name, renamed = best or (0, "plain", state)
    missing = [k for k in needed if k not in renamed or renamed[k].shape != target[k].shape]
    raise SelfsupError(
        f"--weights {source}: no key layout fits this architecture (best: {name}, "
        f"{found} of {len(needed)} tensors; missing or mis-shaped e.g. {', '.join(missing[:3])}); "
        "check --encoder NAME matches the file"
    )


def drop_classifier(net: nn.Module) -> nn.Module:
    """The features before the classifier: timm's ``reset_classifier(0)``, else the last
    ``nn.Linear`` replaced by the identity (torchvision)."""
    if hasattr(net, "reset_classifier"):
        net.reset_classifier(0)
        return net
    from selfsup.nets.external import _drop_classifier

    _drop_classifier(net)
    return net


def encoder_from_file(spec: str, weights: str | None, in_channels: int) -> tuple[nn.Module, str]:
    """``(encoder in eval mode, a one-line description of where its weights came from)``."""
    net = build_architecture(spec, in_channels)
    if weights is None:
        raise SelfsupError(f"--encoder {spec} needs --weights FILE (these machines are offline)")
    layout = load_weights(net, read_weights(weights), weights)
    return drop_classifier(net).eval(), f"{spec} with {weights} (key layout: {layout})"
