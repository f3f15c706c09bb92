"""Shared fixtures: where MNIST lives, and small configs that train in seconds."""

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
#: MNIST for the tests that need it: ``$SELFSUP_DATA`` when it holds MNIST, else ../shared/data
SHARED_DATA = REPO.parent / "shared" / "data"
if os.environ.get("SELFSUP_DATA") and (Path(os.environ["SELFSUP_DATA"]) / "MNIST" / "raw").is_dir():
    SHARED_DATA = Path(os.environ["SELFSUP_DATA"]).resolve()


@pytest.fixture
def mnist_root() -> Path:
    if not (SHARED_DATA / "MNIST" / "raw" / "train-images-idx3-ubyte").exists():
        pytest.skip(
            f"MNIST not found under {SHARED_DATA} (tests read $SELFSUP_DATA/MNIST/raw or "
            "../shared/data/MNIST/raw)"
        )
    return SHARED_DATA


#: the quickstart config cut to an MLP on the plain 8x8 digits (the former quickstart): the
#: fastest run there is, for tests of the machinery rather than of the recipe
TINY = [
    "data.name=digits",
    "backbone.name=mlp",
    "backbone.params.hidden=[64,32]",
    "method.projector=[64,64]",
    "data.batch_size=128",
    "trainer.max_epochs=2",
    "trainer.enable_progress_bar=false",
    "trainer.enable_model_summary=false",
    "eval.mlp_probe=false",
]
