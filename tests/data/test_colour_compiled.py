"""The compiled colour path (``colour_compiled``, numba) against torchvision and the torch path.

References: torchvision.transforms.v2.functional on one image with one factor (written
independently, per image, in another style), and ``colour.py``'s batched torch operations
(themselves checked against torchvision in ``test_views.py``).
"""

import itertools
import sys

import pytest
import torch
import torchvision.transforms.v2.functional as TF

from selfsup.data import colour, colour_compiled, make_views, pipeline
from selfsup.data.pipeline import View, ViewSpec
from selfsup.data.views import PRESETS
from tests.data.test_views import _hard_images

TORCHVISION = [TF.adjust_brightness, TF.adjust_contrast, TF.adjust_saturation, TF.adjust_hue]
RANGES = [(0.0, 2.0), (0.0, 2.0), (0.0, 2.0), (-0.5, 0.5)]


def _jitter(x, factors, ops, grey=None, offset=3):
    """``colour_compiled.jitter_into`` into a larger batch at ``offset``; returns the rows."""
    k = len(x)
    out = torch.full((k + 2 * offset, *x.shape[1:]), float("nan"))
    grey = torch.zeros(k, dtype=torch.bool) if grey is None else grey
    colour_compiled.jitter_into(x, factors, ops, grey, out, offset)
    assert out[:offset].isnan().all() and out[offset + k :].isnan().all()  # nothing else written
    return out[offset : offset + k]


def _factors(op: int, n: int) -> torch.Tensor:
    factors = torch.zeros(n, 4)
    low, high = RANGES[op]
    values = torch.linspace(low, high, n)  # both ends included (hue: +- half a turn)
    factors[:, op] = values[torch.randperm(n, generator=torch.Generator().manual_seed(op))]
    return factors


@pytest.mark.parametrize("op", range(4), ids=["brightness", "contrast", "saturation", "hue"])
def test_each_operation_matches_torchvision(op):
    x = _hard_images()
    factors = _factors(op, len(x))
    got = _jitter(x, factors, torch.full((len(x), 1), op))
    ref = torch.stack([TORCHVISION[op](x[i], float(factors[i, op])) for i in range(len(x))])
    torch.testing.assert_close(got, ref, atol=2e-6, rtol=0)


def test_one_channel_images_take_brightness_and_contrast_only():
    x = _hard_images()[:, :1].contiguous()
    for op in range(4):
        factors = _factors(op, len(x))
        got = _jitter(x, factors, torch.full((len(x), 1), op))
        if op >= colour.SATURATION:  # as torchvision: nothing to do on a grey image
            assert torch.equal(got, x)
            continue
        ref = torch.stack([TORCHVISION[op](x[i], float(factors[i, op])) for i in range(len(x))])
        torch.testing.assert_close(got, ref, atol=2e-6, rtol=0)


def test_each_image_takes_its_own_order_then_grey():
    """Every image of one call with its own order of the four operations (or none), then
    grey scale where drawn: against colour.py's jitter of that order, image by image."""
    x = _hard_images(50)
    g = torch.Generator().manual_seed(3)
    low = torch.tensor([0.6, 0.6, 0.7, -0.5])
    factors = low + torch.tensor([0.8, 0.8, 0.6, 1.0]) * torch.rand(len(x), 4, generator=g)
    orders = list(itertools.permutations(range(4)))
    ops = torch.tensor([orders[i % 24] if i < 48 else (-1,) * 4 for i in range(len(x))])
    grey = torch.rand(len(x), generator=g) < 0.4
    got = _jitter(x, factors, ops, grey)
    for i in range(len(x)):
        ref = x[i : i + 1]
        if i < 48:
            ref = colour.jitter(ref, factors[i : i + 1], orders[i % 24])
        if grey[i]:
            ref = colour.to_grey(ref)
        torch.testing.assert_close(got[i : i + 1], ref, atol=2e-6, rtol=0)
    assert torch.equal(got[48:][~grey[48:]], x[48:][~grey[48:]])  # no jitter: copied as is
    assert grey[:48].any() and (~grey[:48]).any()


def _spy_kernels(monkeypatch) -> list[int]:
    """Counts the images the compiled path renders."""
    rendered = []
    original = colour_compiled.jitter_into

    def spy(src, *args):
        rendered.append(len(src))
        return original(src, *args)

    monkeypatch.setattr(colour_compiled, "jitter_into", spy)
    return rendered


_GREY_ONLY = ViewSpec(grey_p=0.5, blur_p=0.3)
_ONE_CHANNEL_JITTER = ViewSpec(jitter=(0.4, 0.4, 0.3, 0.1), degrees=10.0, noise_std=0.05)


@pytest.mark.parametrize(
    "recipe, channels, size",
    [
        ("vicreg", 3, 20),
        ("shapes", 3, 16),
        ("cifar", 3, 24),
        ("dino", 3, 20),
        (_GREY_ONLY, 3, 20),  # grey without jitter
        (_ONE_CHANNEL_JITTER, 1, 16),  # brightness and contrast on one channel
        ("digits", 1, 8),  # no colour work: the torch path, unchanged
        ("mnist", 1, 20),
        ("vicreg", 4, 16),  # four channels: geometry and blur only
    ],
)
def test_compiled_views_equal_the_torch_views(recipe, channels, size, monkeypatch):
    """Whole views on the same draws, compiled path against the torch operations (geometry,
    jitter in every order, grey, then blur, solarisation and noise on both)."""
    x = _hard_images(64, 24, 24)
    x = torch.cat([x, x[:, :1]], 1) if channels == 4 else x[:, :channels].contiguous()
    if isinstance(recipe, str):
        views = make_views(recipe, size, 3 if recipe == "dino" else 2)
    else:
        views = pipeline.View(recipe, size)
    rendered = _spy_kernels(monkeypatch)
    out = {}
    for engine in ("1", "0"):
        monkeypatch.setenv("SELFSUP_COMPILED_VIEWS", engine)
        torch.manual_seed(9)
        got = views(x)
        out[engine] = got if isinstance(got, list) else [got]
        if engine == "1":  # every image of every view through the kernels, where it has colour
            colour_work = isinstance(recipe, ViewSpec) or recipe not in ("digits", "mnist")
            expected = len(out["1"]) * len(x) if colour_work and channels != 4 else 0
            assert sum(rendered) == expected
    assert sum(rendered) == expected  # none with the switch off
    for compiled, plain in zip(out["1"], out["0"], strict=True):
        torch.testing.assert_close(compiled, plain, atol=1e-5, rtol=0)
        if not expected:  # no colour work: the same views bit for bit
            assert torch.equal(compiled, plain)
    if len(out["1"]) > 1:
        assert not torch.equal(out["1"][0], out["1"][1])


def test_switch_and_fallback(monkeypatch):
    """``SELFSUP_COMPILED_VIEWS=0``, no numba (with a warning) or numba's compilation switched
    off give the torch operations; views still run."""
    assert pipeline.compiled_colour() is colour_compiled
    monkeypatch.setenv("SELFSUP_COMPILED_VIEWS", "0")
    assert pipeline.compiled_colour() is None
    monkeypatch.delenv("SELFSUP_COMPILED_VIEWS")
    view = View(ViewSpec(jitter=(0.4, 0.4, 0.2, 0.1), grey_p=0.5), 16)
    try:
        pipeline._load_compiled.cache_clear()
        monkeypatch.setitem(sys.modules, "numba", None)  # import numba now fails
        monkeypatch.delitem(sys.modules, "selfsup.data.colour_compiled")
        with pytest.warns(UserWarning, match="compiled colour operations are unavailable"):
            assert pipeline.compiled_colour() is None
        assert pipeline.compiled_colour() is None  # remembered: no second import, no warning
        assert view(_hard_images(16, 16, 16)).shape == (16, 3, 16, 16)
        monkeypatch.undo()
        pipeline._load_compiled.cache_clear()
        monkeypatch.setattr(colour_compiled, "jit_disabled", lambda: True)
        assert pipeline.compiled_colour() is None
    finally:
        monkeypatch.undo()
        pipeline._load_compiled.cache_clear()
    assert pipeline.compiled_colour() is colour_compiled


def test_float64_images_take_the_torch_operations(monkeypatch):
    """The kernels are float32: float64 views take the torch operations."""
    rendered = _spy_kernels(monkeypatch)
    x = _hard_images(16, 16, 16)
    view = View(PRESETS["vicreg"][0], 16)
    torch.manual_seed(4)
    single = view(x)
    assert sum(rendered) == 16
    torch.manual_seed(4)
    double = view(x.double())
    assert double.dtype == torch.float64 and sum(rendered) == 16
    torch.testing.assert_close(single, double.float(), atol=1e-5, rtol=0)


def test_bad_arguments_are_refused_before_the_kernel_runs():
    """numba does not check bounds: ``jitter_into`` checks shapes, rows and dtypes first."""
    src = torch.rand(4, 3, 8, 8)
    ok = dict(factors=torch.ones(4, 4), ops=torch.zeros(4, 2, dtype=torch.long))
    grey = torch.zeros(4, dtype=torch.bool)
    dst = torch.empty(6, 3, 8, 8)
    colour_compiled.jitter_into(src, ok["factors"], ok["ops"], grey, dst, 2)  # fits exactly
    bad = [
        (src, ok["factors"], ok["ops"], grey, dst, 3),  # past the end
        (src, ok["factors"], ok["ops"], grey, dst, -1),
        (src, ok["factors"][:3], ok["ops"], grey, dst, 0),
        (src, ok["factors"], ok["ops"].int(), grey, dst, 0),
        (src, ok["factors"], ok["ops"], grey, torch.empty(6, 3, 8, 9), 0),
        (src.double(), ok["factors"], ok["ops"], grey, dst.double(), 0),
        (torch.rand(4, 2, 8, 8), ok["factors"], ok["ops"], grey, torch.empty(6, 2, 8, 8), 0),
    ]
    for args in bad:
        with pytest.raises(ValueError, match="jitter_into"):
            colour_compiled.jitter_into(*args)
