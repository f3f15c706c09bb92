"""Methods: one small LightningModule each, assembled from a config by ``build_method``."""

from __future__ import annotations

from collections.abc import Mapping

from omegaconf import DictConfig

from selfsup import registry
from selfsup.config import to_dict
from selfsup.data import DataSplits, make_views, normaliser
from selfsup.errors import SelfsupError
from selfsup.methods.barlow_twins import BarlowTwins
from selfsup.methods.base import JointEmbedding, NonFiniteLossError, SSLMethod
from selfsup.methods.byol import BYOL
from selfsup.methods.dino import DINO
from selfsup.methods.moco import MoCo
from selfsup.methods.momentum import MomentumMethod
from selfsup.methods.radial_vicreg import RadialVICReg
from selfsup.methods.simclr import SimCLR
from selfsup.methods.simsiam import SimSiam
from selfsup.methods.simvae import SimVAE
from selfsup.methods.vae import CRVAE, VAE, BetaVAE, GenerativeMethod
from selfsup.methods.vicreg import VICReg
from selfsup.methods.vicreg_logdet import VICRegLogDet
from selfsup.methods.vicreg_pairdist import VICRegPairDist
from selfsup.nets import build_backbone
from selfsup.optim import OptimSettings
from selfsup.registry import Registered, signature_params

#: every registered method by name (``@register_method``), plug-ins' included
METHODS: Mapping[str, type[SSLMethod]] = Registered("method")


def method_params(cls: type[SSLMethod]) -> list[str]:
    """The method's own keyword arguments (what ``method.params`` may set), including those
    of intermediate base classes (e.g. the likelihood options of ``GenerativeMethod``)."""
    return [p.name for p in signature_params("method", cls)[0]]


def build_method(config: DictConfig, data: DataSplits) -> SSLMethod:
    """Assemble the configured method for a dataset's image shape."""
    name = config.method.name
    cls = registry.get("method", name)
    params = to_dict(config.method.params)
    unknown = sorted(set(params) - set(method_params(cls)))
    if unknown:
        raise SelfsupError(
            f"unknown method parameter(s) {', '.join(unknown)} for '{name}'; "
            f"valid: {', '.join(method_params(cls))}"
        )
    shape = data.image_shape
    common = dict(
        backbone=build_backbone(config.backbone.name, shape, **to_dict(config.backbone.params)),
        views=make_views(config.data.views, shape[-1], config.data.n_views),
        normalise=normaliser(data.name, shape[0]),
        optim=OptimSettings.from_mapping(to_dict(config.optim)),
        seed=config.seed,
        train_size=len(data.ssl_train),  # for the defaults sized to the data ("auto")
        batch_size=config.data.batch_size,  # per process, for optim.scale_lr_with_batch
    )
    if issubclass(cls, JointEmbedding):
        common["projector_dims"] = list(config.method.projector)
    method = cls(**params, **common)
    method.run_config = to_dict(config)
    method.image_shape = tuple(shape)
    return method


__all__ = [
    "BYOL",
    "DINO",
    "METHODS",
    "BarlowTwins",
    "BetaVAE",
    "CRVAE",
    "GenerativeMethod",
    "JointEmbedding",
    "MoCo",
    "MomentumMethod",
    "NonFiniteLossError",
    "RadialVICReg",
    "SSLMethod",
    "SimCLR",
    "SimSiam",
    "SimVAE",
    "VAE",
    "VICReg",
    "VICRegLogDet",
    "VICRegPairDist",
    "build_method",
    "method_params",
]
