"""Training-step cost of every method's shipped config relative to VICReg's, in one run.

Run: python benchmarks/method_cost.py [--data digits|mnist] [--rounds 7] [--steps 3] [--quickstart]
``--quickstart``: every method from the unchanged quickstart with only ``method.name`` set (its
class defaults, sized to the data where they are ``"auto"``: MoCo's queue, DINO's prototypes
and local crops), instead of the method's ``*_digits`` config.
One step is what ``training_step`` does: views (DINO: with its local crops), forward, loss,
backward, AdamW step, and the teacher's EMA update for the momentum methods. Methods are
timed in alternating rounds (each round times every method once, ``--steps`` steps each, after
one warm-up step), so a machine shared with other jobs slows them alike; the ratio to VICReg's
median is what this measures. Batch 256 of random uint8 images of the dataset's shape.
Last line: name=value ratios.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch

import selfsup
from selfsup.config import load_config
from selfsup.data.views import to_unit_float
from selfsup.methods import build_method
from selfsup.methods.momentum import MomentumMethod

METHODS = ["vicreg", "simclr", "barlow_twins", "moco", "byol", "dino", "simsiam", "radial_vicreg"]
CONFIGS = Path(selfsup.__file__).parent / "configs"
SHAPES = {"digits": (1, 8, 8), "mnist": (1, 28, 28)}
#: training-set sizes, for the defaults sized to the data (MoCo's queue, DINO's prototypes)
TRAIN_SIZES = {"digits": 1437, "mnist": 60000}


class _Data:
    num_classes = 10

    def __init__(self, name: str) -> None:
        self.name, self.image_shape = name, SHAPES[name]
        self.ssl_train = range(TRAIN_SIZES[name])  # only its length is read


def config_for(method: str, data: str, quickstart: bool = False) -> tuple[str, list[str]]:
    """The shipped config of ``method`` on ``data`` and its overrides: the method's own config
    where there is one (unless ``quickstart``), else the quickstart (MNIST: VICReg's) with
    ``method.name`` set."""
    if quickstart and data == "digits":
        return "vicreg_digits", [f"method.name={method}"]
    names = {("vicreg", "digits"): "vicreg_digits", ("barlow_twins", "mnist"): "barlow_mnist"}
    name = names.get((method, data), f"{method}_{data}")
    if (CONFIGS / f"{name}.yaml").exists():
        return name, []
    return ("vicreg_digits" if data == "digits" else "vicreg_mnist"), [f"method.name={method}"]


def build(method: str, data: str, batch: int, quickstart: bool = False):
    config = load_config(*config_for(method, data, quickstart))
    torch.manual_seed(0)
    model = build_method(config, _Data(data))
    model.total_steps = 1000
    params = [p for p in model.parameters() if p.requires_grad]
    optimiser = torch.optim.AdamW(params, lr=1e-3, weight_decay=1e-4)
    images = torch.randint(0, 256, (batch, *SHAPES[data]), dtype=torch.uint8)
    return model, optimiser, images


def step(model, optimiser, images) -> None:
    if isinstance(model, MomentumMethod):
        model.update_teacher(0.99)
    views = [model.normalise(v) for v in model.views(to_unit_float(images))]
    terms, _ = model.compute_loss(views)
    optimiser.zero_grad(set_to_none=True)
    terms[0].backward()
    optimiser.step()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", choices=sorted(SHAPES), default="digits")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--quickstart", action="store_true", help="quickstart + method.name")
    args = parser.parse_args()
    torch.set_num_threads(2)
    built = {m: build(m, args.data, args.batch, args.quickstart) for m in METHODS}
    for m in METHODS:
        step(*built[m])  # warm-up
    times: dict[str, list[float]] = {m: [] for m in METHODS}
    for _ in range(args.rounds):
        for m in METHODS:
            t0 = time.perf_counter()
            for _ in range(args.steps):
                step(*built[m])
            times[m].append((time.perf_counter() - t0) / args.steps)
    base = statistics.median(times["vicreg"])
    print(f"{'method':<14} {'config':<36} {'median ms/step':>14} {'x VICReg':>9}")
    for m in METHODS:
        med = statistics.median(times[m])
        name, overrides = config_for(m, args.data, args.quickstart)
        print(f"{m:<14} {' '.join([name, *overrides]):<36} {1000 * med:>14.1f} {med / base:>9.2f}")
    print(" ".join(f"{m}={statistics.median(times[m]) / base:.3f}" for m in METHODS))


if __name__ == "__main__":
    main()
