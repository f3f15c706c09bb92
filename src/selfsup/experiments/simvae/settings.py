"""Parameters of the SimVAE reproduction: per-dataset settings (encoder, views, budget) of the
``quick`` and ``full`` presets, and the command-line options that change them."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace

from selfsup.errors import SelfsupError
from selfsup.experiments.experiment import Preset, option

GENERATIVE = ("simvae", "vae", "beta_vae", "cr_vae")
DISCRIMINATIVE = ("simclr", "vicreg", "barlow_twins")
# a generative method with the official code's weighting of its objective (docs/simvae.md)
OFFICIAL = ("simvae_official", "vae_official", "beta_vae_official")
ALL_METHODS = (*GENERATIVE, *OFFICIAL, *DISCRIMINATIVE)
DEFAULT_METHODS = ("simvae", "simvae_official", "vae", "beta_vae", "cr_vae", *DISCRIMINATIVE)
# the quick preset leaves out beta-VAE and CR-VAE (``--methods`` brings them back)
QUICK_METHODS = ("simvae", "simvae_official", "vae", *DISCRIMINATIVE)
ALL_DATASETS = ("mnist", "fashion_mnist", "cifar10", "celeba", "shapes", "styled_mnist")
RESULT_KEYS = (
    "content_linear_top1",
    "content_knn_top1",
    "gmm_accuracy",
    "nmi",
    "ari",
    "style_score",
)
KNN_KS = (1, 5, 10, 20)


@dataclass
class Setting:
    """One dataset's shared encoder, views and budget."""

    backbone: str
    backbone_params: dict
    views: str
    likelihood: str
    binarise_targets: float | None
    steps: int
    batch_size: int
    lr: float
    data_params: dict = field(default_factory=dict)
    projector: list[int] = field(default_factory=lambda: [512, 512])
    eval_train: int = 0  # 0: the whole train split for probes
    minutes: float | None = None  # a time budget: train until then (``steps`` is a cap)
    eval_at: list[int] = field(default_factory=list)  # steps of the curve's probe points
    # the curve's probes fit on this many train images and score on this many test images
    # (the first ones), so that a point costs seconds; the final table uses eval_train / all
    curve_eval: tuple[int, int] = (2000, 1000)


def split_method(name: str) -> tuple[str, str]:
    """``"simvae_official"`` -> ``("simvae", "official")``; ``"vicreg"`` -> ``("vicreg", "elbo")``
    (the weighting only means something for the generative methods)."""
    if name.endswith("_official"):
        return name[: -len("_official")], "official"
    return name, "elbo"


def parse_budget(text: str) -> tuple[int | None, float | None]:
    """``"6000"`` / ``"6000steps"`` -> ``(6000, None)``; ``"30m"`` / ``"30min"`` ->
    ``(None, 30.0)``."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(steps?|m|min|minutes?)?\s*", text)
    if match is None or float(match[1]) <= 0:
        raise SelfsupError(
            f"--budget takes a number of steps (e.g. 6000) or of minutes (e.g. 30m), got '{text}'"
        )
    value, unit = float(match[1]), match[2] or "steps"
    if unit.startswith("step"):
        if value != int(value):
            raise SelfsupError(f"--budget: a number of steps must be whole, got '{text}'")
        return int(value), None
    return None, value


def curve_steps(last: int, first: int, per_octave: int = 2) -> list[int]:
    """Probe steps from ``first`` to ``last``, ``per_octave`` of them per doubling (rounded to
    two significant figures), always including ``last``."""
    steps: set[int] = {last}
    k = 0
    while True:
        raw = first * 2 ** (k / per_octave)
        if raw >= last:
            break
        digits = max(0, int(math.floor(math.log10(raw))) - 1)
        steps.add(int(round(raw / 10**digits) * 10**digits))
        k += 1
    return sorted(x for x in steps if 0 < x <= last)


def quick_settings() -> dict[str, Setting]:
    """Narrower nets, a larger lr and few steps: a budget that runs on 2 CPU cores."""
    mlp = dict(latent_dim=10, hidden=[512, 256])
    conv = dict(latent_dim=64, widths=[16, 32, 64], residual=False)
    grey = Setting("mlp_vae", mlp, "simvae_grey_fast", "bernoulli", 0.5, 800, 64, 1e-3)
    grey.projector, grey.eval_train = [256, 256], 10000  # probes fit on 10k train images
    shapes = Setting(
        "conv_vae", conv, "shapes", "gaussian", None, 400, 32, 1e-3,
        data_params=dict(n_train=10000, n_test=2000),
    )  # fmt: skip
    shapes.projector = [256, 256]
    shapes.eval_at = [100, 200]  # with the last step: a three-point style curve
    return {
        "mnist": grey,
        "fashion_mnist": replace(grey, binarise_targets=None),
        "shapes": shapes,
        # MNIST digits restyled (colour, background, position, scale): the same conv budget
        "styled_mnist": replace(shapes),
    }


def full_settings() -> dict[str, Setting]:
    """The official sizes: MLP 2000-500-500 / residual conv encoders, 30,000 steps, lr 8e-5."""
    mlp = dict(latent_dim=10, hidden=[2000, 500, 500])
    conv = dict(latent_dim=64, widths=[32, 64, 128, 256], residual=True)
    grey = Setting("mlp_vae", mlp, "simvae_grey_fast", "bernoulli", 0.5, 30000, 64, 8e-5)
    colour = Setting("conv_vae", conv, "simvae_colour", "gaussian", None, 30000, 64, 8e-5)
    return {
        "mnist": grey,
        "fashion_mnist": replace(grey, binarise_targets=None),
        "cifar10": colour,
        "celeba": replace(colour, data_params=dict(image_size=64), eval_train=20000),
        "shapes": replace(colour, views="shapes", data_params=dict(n_train=20000, n_test=5000)),
        "styled_mnist": replace(
            colour, views="shapes", data_params=dict(n_train=60000, n_test=10000)
        ),
    }


@dataclass(frozen=True)
class Params:
    methods: tuple[str, ...] = option(
        DEFAULT_METHODS,
        "methods to compare (NAME_official: the official code's weighting of a VAE objective)",
        choices=ALL_METHODS,
    )
    datasets: tuple[str, ...] = option(
        ALL_DATASETS,
        "datasets; absent ones, and ones the preset has no settings for, are skipped",
        choices=ALL_DATASETS,
    )
    steps: int | None = option(None, "training steps per run", minimum=1)
    budget: str | None = option(
        None,
        "training budget per run, in steps (6000) or minutes (30m), measured along the way "
        "(style and content probes at about 2 steps per doubling, for the curves); "
        "overrides --steps; interrupted runs continue with --resume",
        metavar="STEPS|MINm",
    )
    curve_from: int | None = option(
        None, "first step of the curve's probe points (default 100; then 2 per doubling)", minimum=1
    )
    batch_size: int | None = option(None, "images per step, x 2 views", minimum=1)
    lr: float | None = option(None, "Adam learning rate", minimum=0.0)
    hidden: tuple[int, ...] | None = option(
        None, "MLP encoder widths of the grey datasets, e.g. 512,256", minimum=1
    )
    widths: tuple[int, ...] | None = option(
        None, "conv encoder widths of the colour datasets, e.g. 16,32,64", minimum=1
    )
    shapes_size: tuple[int, ...] | None = option(
        None,
        "shapes / styled_mnist images to render for training and test",
        minimum=1,
        metavar="N_TRAIN,N_TEST",
    )
    eval_train: int | None = option(None, "train images the probes fit on (0: all)", minimum=0)
    mlp_probe: bool = option(False, "also an MLP probe (slower)")
    settings: dict[str, Setting] = field(default_factory=full_settings)  # preset-only


def setting_for(p: Params, dataset: str) -> Setting | None:
    """``dataset``'s setting with the command line's changes; ``None`` if the preset lacks it."""
    s = p.settings.get(dataset)
    if s is None:
        return None
    changes: dict = {}
    for name in ("steps", "batch_size", "lr", "eval_train"):
        if getattr(p, name) is not None:
            changes[name] = getattr(p, name)
    if p.budget is not None:
        steps, minutes = parse_budget(p.budget)
        # one grid from --curve-from for every budget, so that a longer budget's curve
        # extends a shorter one's (a run continues from the shorter one's saved state)
        first = p.curve_from or 100
        if minutes is not None:
            # the curve's steps are not known beforehand: from the first one, up to a cap
            changes["steps"], changes["minutes"] = 10**8, minutes
            changes["eval_at"] = [x for x in curve_steps(10**8, first) if x < 10**8]
        else:
            changes["steps"] = steps
            changes["eval_at"] = curve_steps(steps, min(first, steps))
    elif p.curve_from is not None:
        last = changes.get("steps", s.steps)
        changes["eval_at"] = curve_steps(last, p.curve_from)
    if p.hidden is not None and s.backbone == "mlp_vae":
        changes["backbone_params"] = {**s.backbone_params, "hidden": list(p.hidden)}
    if p.widths is not None and s.backbone == "conv_vae":
        changes["backbone_params"] = {**s.backbone_params, "widths": list(p.widths)}
    if p.shapes_size is not None and dataset in ("shapes", "styled_mnist"):
        n_train, n_test = p.shapes_size
        changes["data_params"] = {**s.data_params, "n_train": n_train, "n_test": n_test}
    out = replace(s, **changes)
    return replace(out, eval_at=[x for x in out.eval_at if x <= out.steps])


PRESETS = {
    "full": Preset(Params(), "official sizes, 30,000 steps per run (hours per run on a CPU)", 3),
    "quick": Preset(
        Params(
            settings=quick_settings(),
            # FashionMNIST would add 18 more MLP runs: --datasets brings it in
            datasets=("mnist", "shapes"),
            methods=QUICK_METHODS,
        ),
        "MNIST MLP 800 steps, shapes conv 400 steps, six methods (--datasets adds fashion_mnist, "
        "or styled_mnist: the digits with known style at the shapes budget)",
        3,
    ),
    "tiny": Preset(
        Params(
            settings=quick_settings(),
            datasets=("shapes",),
            methods=("simvae", "vicreg"),
            steps=3,
            batch_size=16,
            widths=(8, 16),
            shapes_size=(64, 40),
        ),
        "shapes, two methods, 3 steps (the test suite)",
        1,
    ),
}
