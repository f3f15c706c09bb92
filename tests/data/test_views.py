"""The batched view pipeline against torchvision's per-image definitions.

References are torchvision.transforms.v2 (its functional ops on one image with one factor, and
its RandomResizedCrop sampler): written independently of ours, per image, in another style.
"""

import math

import pytest
import torch
import torchvision.transforms.v2 as T
import torchvision.transforms.v2.functional as TF
from scipy import stats

from selfsup.data import colour, make_views, pipeline
from selfsup.data import views as views_module
from selfsup.data.geometric import box_limits, box_matrices, crop_boxes, resample
from selfsup.data.pipeline import View, ViewSpec
from selfsup.data.views import PRESETS, MultiView


def _hard_images(n: int = 48, h: int = 20, w: int = 24) -> torch.Tensor:
    """Random colours plus the cases that break hue code: greys, ties, saturated extremes."""
    g = torch.Generator().manual_seed(0)
    x = torch.rand(n, 3, h, w, generator=g)
    x[:4] = torch.rand(4, 1, h, w, generator=g)  # grey pixels: no hue
    x[4:10] = (x[4:10] * 3).round() / 3  # many ties between channels
    x[10:12, :, :5] = torch.tensor([1.0, 0.0, 0.0]).view(3, 1, 1)  # pure red, on the seam
    x[12, :, :, :4] = 0.0
    x[13, :, :, :4] = 1.0
    return x


def _use(engine: str, monkeypatch) -> None:
    """``compiled``: the numba kernels (``colour_compiled``); ``by_order`` / ``by_position``:
    the torch operations with the jitter grouped that way."""
    if engine == "compiled":
        pytest.importorskip("selfsup.data.colour_compiled")
        monkeypatch.setenv("SELFSUP_COMPILED_VIEWS", "1")
        return
    monkeypatch.setenv("SELFSUP_COMPILED_VIEWS", "0")
    limit = {"by_order": -1, "by_position": 1 << 40, "torch": pipeline._BY_POSITION_MAX_BYTES}
    monkeypatch.setattr(pipeline, "_BY_POSITION_MAX_BYTES", limit[engine])


def _per_image(fn, x: torch.Tensor, factors: torch.Tensor) -> torch.Tensor:
    return torch.stack([fn(x[i], float(factors[i])) for i in range(len(x))])


@pytest.mark.parametrize(
    "ours,theirs,low,high",
    [
        (colour.brightness, TF.adjust_brightness, 0.0, 2.0),
        (colour.contrast, TF.adjust_contrast, 0.0, 2.0),
        (colour.saturation, TF.adjust_saturation, 0.0, 2.0),
        (colour.hue, TF.adjust_hue, -0.5, 0.5),
    ],
)
def test_jitter_ops_match_torchvision(ours, theirs, low, high):
    x = _hard_images()
    factors = torch.linspace(low, high, len(x))  # includes both ends (hue: +-half a turn)
    factors = factors[torch.randperm(len(x), generator=torch.Generator().manual_seed(1))]
    got = ours(x, factors)
    assert got.shape == x.shape
    torch.testing.assert_close(got, _per_image(theirs, x, factors), atol=2e-6, rtol=0)


def test_grey_images_take_brightness_and_contrast_only():
    x = _hard_images()[:, :1]
    f = torch.linspace(0.2, 1.8, len(x))
    torch.testing.assert_close(colour.contrast(x, f), _per_image(TF.adjust_contrast, x, f))
    assert torch.equal(colour.saturation(x, f), x) and torch.equal(colour.hue(x, f - 1), x)


def test_grey_solarise_and_blur_match_torchvision():
    x = _hard_images()
    torch.testing.assert_close(colour.to_grey(x), TF.rgb_to_grayscale(x, 3), atol=1e-6, rtol=0)
    torch.testing.assert_close(colour.solarise(x), TF.solarize(x, 0.5), atol=0, rtol=0)
    torch.testing.assert_close(colour.solarise(x, 0.3), TF.solarize(x, 0.3), atol=0, rtol=0)
    sigma = torch.linspace(0.1, 2.0, len(x))
    ref = torch.stack(
        [TF.gaussian_blur(x[i], [13, 13], [float(sigma[i])] * 2) for i in range(len(x))]
    )
    torch.testing.assert_close(colour.gaussian_blur(x, sigma), ref, atol=2e-6, rtol=0)


def test_jitter_applies_the_given_order():
    x = _hard_images()[:8]
    factors = torch.tensor([[1.3, 0.6, 1.5, 0.2]]).repeat(8, 1)
    ops = [TF.adjust_brightness, TF.adjust_contrast, TF.adjust_saturation, TF.adjust_hue]
    for order in [(0, 1, 2, 3), (3, 2, 1, 0), (1, 3, 0, 2)]:
        ref = x.clone()
        for i in order:
            ref = ops[i](ref, float(factors[0, i]))
        torch.testing.assert_close(colour.jitter(x, factors, order), ref, atol=2e-6, rtol=0)


def test_crop_boxes_follow_torchvision_random_resized_crop():
    n, h, w, scale, ratio = 4000, 32, 48, (0.08, 1.0), (3 / 4, 4 / 3)
    torch.manual_seed(0)
    ours = crop_boxes(n, h, w, scale, ratio).double()
    sampler = T.RandomResizedCrop(16, scale=scale, ratio=ratio)
    image = torch.zeros(3, h, w)
    theirs = []
    for _ in range(n):
        p = sampler.make_params([image])
        theirs.append([p["top"], p["left"], p["height"], p["width"]])
    theirs = torch.tensor(theirs, dtype=torch.float64)
    assert (ours[:, 0] >= 0).all() and (ours[:, 0] + ours[:, 2] <= h).all()
    assert (ours[:, 1] >= 0).all() and (ours[:, 1] + ours[:, 3] <= w).all()
    for stat in (
        lambda b: b[:, 2] * b[:, 3] / (h * w),  # area fraction
        lambda b: b[:, 3] / b[:, 2],  # aspect
        lambda b: (b[:, 0] + b[:, 2] / 2) / h,  # centre row
        lambda b: (b[:, 1] + b[:, 3] / 2) / w,  # centre column
    ):
        assert stats.ks_2samp(stat(ours).numpy(), stat(theirs).numpy()).pvalue > 1e-3


def test_crop_boxes_fall_back_like_torchvision():
    # no box of area >= 90% fits a 10 x 100 image with aspect in [1, 1.1]: the fallback is the
    # centred 10 x 11 box
    boxes = crop_boxes(50, 10, 100, (0.9, 1.0), (1.0, 1.1))
    assert (boxes == torch.tensor([0, 44, 10, 11])).all()


def test_resample_is_torchvision_resized_crop_and_flip():
    torch.manual_seed(0)
    x = torch.rand(100, 3, 24, 20)
    boxes = crop_boxes(100, 24, 20, (0.08, 1.0))
    flip = torch.rand(100) < 0.5
    theta = box_matrices(boxes, 24, 20, flip=flip)
    for size in ((24, 20), (12, 9), (40, 40)):  # up- and down-sampling
        got = resample(x, theta, size, limits=box_limits(boxes, 24, 20))
        ref = torch.stack(
            [
                TF.resized_crop(x[i], *boxes[i].tolist(), list(size), antialias=False)
                for i in range(100)
            ]
        )
        ref = torch.where(flip.view(-1, 1, 1, 1), ref.flip(-1), ref)
        torch.testing.assert_close(got, ref, atol=1e-5, rtol=0)


def test_axis_aligned_grid_equals_the_general_one():
    """Unrotated maps build their grid from per-row / per-column terms (clamped there); a
    rotation of 1e-6 rad takes the general path (full grid, clamped per point)."""
    torch.manual_seed(1)
    x = torch.rand(30, 3, 24, 20)
    boxes = crop_boxes(30, 24, 20, (0.08, 1.0))
    limits = box_limits(boxes, 24, 20)
    flip = torch.rand(30) < 0.5
    aligned = resample(x, box_matrices(boxes, 24, 20, flip=flip), (16, 16), limits=limits)
    tilted = box_matrices(boxes, 24, 20, angle=torch.full((30,), 1e-6), flip=flip)
    assert tilted[:, 0, 1].abs().min() > 0
    torch.testing.assert_close(
        resample(x, tilted, (16, 16), limits=limits), aligned, atol=1e-4, rtol=0
    )


def test_rotation_turns_counter_clockwise_like_torchvision():
    x = torch.rand(2, 3, 16, 16)
    whole = torch.tensor([[0, 0, 16, 16]] * 2)
    for degrees in (90.0, 30.0):
        angle = torch.full((2,), math.radians(degrees))
        got = resample(x, box_matrices(whole, 16, 16, angle=angle), (16, 16))
        ref = TF.rotate(x, degrees, interpolation=TF.InterpolationMode.BILINEAR)
        torch.testing.assert_close(got, ref, atol=1e-5, rtol=0)


@pytest.mark.parametrize("engine", ["compiled", "by_order", "by_position"])
@pytest.mark.parametrize("size", [20, 28])
def test_view_equals_torchvision_per_image_on_the_same_draws(size, engine, monkeypatch):
    """The whole pipeline (the compiled jitter, or the torch operations with the jitter
    grouped by order or by position; chunks, worker threads, masks, scatter) against
    torchvision's functional ops applied image by image with the drawn parameters."""
    _use(engine, monkeypatch)
    spec = ViewSpec(
        scale=(0.3, 1.0), jitter=(0.4, 0.4, 0.3, 0.1), grey_p=0.3, blur_p=0.5, solarise_p=0.3
    )
    view = View(spec, size)
    x = _hard_images(64, 24, 24)
    torch.manual_seed(5)
    got = view(x)
    torch.manual_seed(5)
    boxes = crop_boxes(64, 24, 24, spec.scale, spec.ratio)
    torch.manual_seed(5)
    p = view._draw(64, 3, 24, 24, size, x.device)
    ops = [TF.adjust_brightness, TF.adjust_contrast, TF.adjust_saturation, TF.adjust_hue]
    flips = p.theta[:, 0, 0] < 0
    for i in range(64):
        y = TF.resized_crop(x[i], *boxes[i].tolist(), [size, size], antialias=False)
        y = y.flip(-1) if flips[i] else y
        if p.group[i] < len(view.orders):
            for op in view.orders[p.group[i]]:
                y = ops[op](y, float(p.factors[i, op]))
        if p.grey[i]:
            y = TF.rgb_to_grayscale(y, 3)
        if p.blur[i]:
            y = TF.gaussian_blur(y, [13, 13], [float(p.sigma[i])] * 2)
        if p.solar[i]:
            y = TF.solarize(y, 0.5)
        torch.testing.assert_close(got[i], y, atol=1e-5, rtol=0)
    # every branch was exercised
    assert p.grey.any() and p.blur.any() and p.solar.any() and (p.group == 24).any()
    assert len(set(p.group.tolist())) > 12


def test_parameters_are_drawn_per_sample_in_their_ranges():
    # brightness only, always applied, on a flat 0.5 image: each output pixel is 0.5 * factor
    view = View(ViewSpec(crop=False, flip_p=0.0, jitter=(0.4, 0.0, 0.0, 0.0), jitter_p=1.0))
    torch.manual_seed(0)
    factor = view(torch.full((2000, 3, 4, 4), 0.5))[:, 0, 0, 0] / 0.5
    assert factor.min() >= 0.6 - 1e-6 and factor.max() <= 1.4 + 1e-6
    assert stats.kstest(factor.numpy(), stats.uniform(0.6, 0.8).cdf).pvalue > 1e-3
    # neighbours are independent draws
    assert abs(stats.pearsonr(factor[:-1].numpy(), factor[1:].numpy())[0]) < 0.1
    # probabilities: solarisation turns the flat 0.8 image to 0.2 in ~30% of samples
    view = View(ViewSpec(crop=False, flip_p=0.0, solarise_p=0.3))
    out = view(torch.full((4000, 3, 2, 2), 0.8))[:, 0, 0, 0]
    solarised = torch.isclose(out, torch.tensor(0.2))
    assert solarised.logical_or(torch.isclose(out, torch.tensor(0.8))).all()
    assert abs(solarised.float().mean() - 0.3) < 0.03  # 4 standard deviations


def test_jitter_order_is_uniform_over_permutations():
    view = View(ViewSpec(jitter=(0.4, 0.4, 0.2, 0.1), jitter_p=1.0))
    torch.manual_seed(0)
    p = view._draw(24000, 3, 8, 8, 8, torch.device("cpu"))
    counts = torch.bincount(p.group, minlength=25)
    assert counts[24] == 0 and len(view.orders) == 24
    assert stats.chisquare(counts[:24].numpy()).pvalue > 1e-3


@pytest.mark.parametrize("engine", ["compiled", "torch"])
def test_views_are_reproducible_and_independent_of_chunks_and_threads(engine, monkeypatch):
    _use(engine, monkeypatch)
    x = _hard_images(40, 16, 16)
    views = make_views("vicreg", 16)
    torch.manual_seed(3)
    first = views(x)
    monkeypatch.setattr(pipeline, "_CHUNK_BYTES", 3 * 16 * 16 * 4 * 3)  # 3 images per chunk
    torch.manual_seed(3)
    chunked = views(x)
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)  # rendered on the calling thread
        torch.manual_seed(3)
        serial = views(x)
    finally:
        torch.set_num_threads(threads)
    for a, b, c in zip(first, chunked, serial, strict=True):
        assert torch.equal(a, b) and torch.equal(a, c)
    torch.manual_seed(4)
    assert not torch.equal(views(x)[0], first[0])


@pytest.mark.parametrize(
    "preset, n_views, size, channels, engine",
    [
        ("vicreg", 2, 24, 3, "compiled"),
        ("vicreg", 2, 24, 3, "torch"),  # small batch: jittered position by position
        ("vicreg", 2, 24, 3, "by_order"),  # large batch: rendered order by order
        ("digits", 2, 8, 1, "torch"),  # rotation, pixel noise, one channel
        ("dino", 4, 24, 3, "compiled"),  # smaller local crops
        ("dino", 5, 24, 3, "compiled"),  # 5 views on 2 threads: one after another
        ("dino", 5, 24, 3, "torch"),
    ],
)
def test_views_rendered_at_once_equal_views_made_one_after_another(
    preset, n_views, size, channels, engine, monkeypatch
):
    """MultiView draws every view's parameters first and renders the views concurrently (one
    per worker thread, when the views share the threads out evenly; else one after another,
    each on all threads): the same views as calling each View in turn, which draws and renders
    one view before drawing the next."""
    _use(engine, monkeypatch)
    x = _hard_images(40, size, size)[:, :channels]
    views = make_views(preset, size, n_views)
    rendered_on = []
    original = views_module.run_tasks

    def spy(fn, tasks, parallel=True):
        rendered_on.append(parallel)
        return original(fn, tasks, parallel)

    monkeypatch.setattr(views_module, "run_tasks", spy)
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(2)  # the concurrent path, also on a one-core machine
        torch.manual_seed(11)
        together = views(x)
        torch.manual_seed(11)
        in_turn = [view(x).clamp_(0.0, 1.0) for view in views.views]
    finally:
        torch.set_num_threads(threads)
    assert rendered_on == [n_views % 2 == 0]
    assert len(together) == n_views
    if preset == "dino":  # local crops: smaller views, whose rendering ends earlier
        assert together[-1].shape[-1] < together[0].shape[-1]
    for a, b in zip(together, in_turn, strict=True):
        assert torch.equal(a, b)
    assert not torch.equal(together[0], together[1])


def test_multiview_takes_any_module_that_makes_views():
    """A user's own view module (no draw / render split) is called in turn with the Views."""
    x = _hard_images(16, 16, 16)
    flip = torch.nn.Module()
    flip.forward = lambda images: images.flip(-1) * 1.5  # out of range: MultiView clamps
    views = MultiView([View(PRESETS["cifar"][0], 16), flip])
    torch.manual_seed(1)
    got = views(x)
    torch.manual_seed(1)
    assert torch.equal(got[0], View(PRESETS["cifar"][0], 16)(x).clamp_(0.0, 1.0))
    assert torch.equal(got[1], (x.flip(-1) * 1.5).clamp_(0.0, 1.0))


@pytest.mark.parametrize("engine", ["compiled", "torch"])
@pytest.mark.parametrize("threads", [1, 2])
def test_views_ignore_autocast(threads, engine, monkeypatch):
    """Views inside a bfloat16-autocast training step are the float32 views: autocast is per
    thread, and the blur and contrast must not depend on which thread renders them."""
    _use(engine, monkeypatch)
    x = _hard_images(16, 24, 24)
    views = make_views("vicreg", 24)  # blur and a contrast mean (a matrix product)
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(threads)
        torch.manual_seed(2)
        plain = views(x)
        torch.manual_seed(2)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            mixed = views(x)
    finally:
        torch.set_num_threads(before)
    for a, b in zip(plain, mixed, strict=True):
        assert b.dtype == torch.float32 and torch.equal(a, b)


@pytest.mark.parametrize(
    "spec, channels",
    [
        (PRESETS["shapes"][0], 3),  # rotation, every jitter operation
        (PRESETS["vicreg"][1], 3),  # grey, blur, solarisation after the jitter
        (ViewSpec(jitter=(0.0, 0.5, 0.0, 0.2)), 3),  # two operations switched off
        (ViewSpec(jitter=(0.4, 0.4, 0.3, 0.1)), 1),  # saturation and hue do nothing on grey
    ],
    ids=["shapes", "vicreg", "two_ops", "grey"],
)
def test_jitter_by_position_equals_jitter_by_order(spec, channels, monkeypatch):
    """The torch operations' two ways of grouping the jitter (small batches on the CPU
    position by position, large ones order by order) give the same views bit for bit, also
    in chunks of a few images."""
    monkeypatch.setenv("SELFSUP_COMPILED_VIEWS", "0")
    x = _hard_images(48, 20, 20)[:, :channels]
    view = View(spec, 16)
    out = {}
    for name, limit, chunk in (
        ("order", -1, None),
        ("order_small_chunks", -1, 5),
        ("position", 1 << 40, None),
        ("position_small_chunks", 1 << 40, 5),
    ):
        monkeypatch.setattr(pipeline, "_BY_POSITION_MAX_BYTES", limit)
        monkeypatch.setattr(pipeline, "_CHUNK_BYTES", (chunk or 10**6) * channels * 16 * 16 * 4)
        torch.manual_seed(7)
        out[name] = view(x)
    torch.manual_seed(7)  # the draws of the runs above
    p = view._draw(48, channels, 20, 20, 16, x.device)
    assert p.group is not None and len(set(p.group.tolist())) > len(view.orders) // 2 + 1
    for name, got in out.items():
        assert torch.equal(got, out["order"]), name


@pytest.mark.parametrize("engine", ["compiled", "torch"])
def test_views_on_worker_threads_run_in_the_callers_inference_mode(engine, monkeypatch):
    # the lens draws its views under torch.inference_mode with training's threads: the worker
    # threads must run in that mode too (in-place updates of inference tensors fail otherwise)
    _use(engine, monkeypatch)
    x = _hard_images(40, 16, 16)
    views = make_views("vicreg", 16)
    monkeypatch.setattr(pipeline, "_CHUNK_BYTES", 3 * 16 * 16 * 4 * 3)  # many tasks
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        torch.manual_seed(5)
        with torch.no_grad():
            expected = views(x)
        torch.manual_seed(5)
        with torch.inference_mode():
            got = views(x)
    finally:
        torch.set_num_threads(threads)
    for a, b in zip(expected, got, strict=True):
        assert torch.equal(a, b)


@pytest.mark.parametrize(
    "preset,size,channels",
    [(name, 16, 3) for name in PRESETS] + [("mnist", 28, 1), ("digits", 8, 1)],
)
def test_presets_draw_parameters_per_sample(preset, size, channels):
    torch.manual_seed(0)
    batch = torch.rand(1, channels, size, size).repeat(16, 1, 1, 1)  # one image 16 times
    view_a, view_b = make_views(preset, size)(batch)
    assert view_a.shape == batch.shape and view_a.min() >= 0 and view_a.max() <= 1
    if preset != "none":
        per_sample = (view_a - view_a[:1]).flatten(1).abs().sum(1)
        assert (per_sample[1:] > 1e-3).float().mean() > 0.5
        assert not torch.allclose(view_a, view_b)
    else:
        assert torch.equal(view_a, batch)


def test_dino_extra_views_are_small_local_crops():
    views = make_views("dino", 224, n_views=4)(torch.rand(2, 3, 224, 224))
    assert [v.shape[-1] for v in views] == [224, 224, 96, 96]


def test_view_specs_reject_bad_values():
    with pytest.raises(ValueError, match="probability"):
        ViewSpec(grey_p=1.5)
    with pytest.raises(ValueError, match="hue"):
        ViewSpec(jitter=(0.4, 0.4, 0.4, 0.6))
    with pytest.raises(ValueError, match="scale"):
        ViewSpec(scale=(0.5, 0.2))


def test_views_work_in_a_forked_child():
    """A forked child (a DataLoader worker) inherits the worker pool without its threads."""
    import multiprocessing

    x = _hard_images(16, 16, 16)
    make_views("vicreg", 16)(x)  # the parent's worker threads exist now
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(1) as pool:
        pool_left, shapes = pool.apply_async(_in_child, (x,)).get(timeout=120)
    assert not pool_left and shapes == [tuple(x.shape)] * 2


def _in_child(x):
    from selfsup.data import workers

    # as DataLoader workers do: OpenMP is not fork-safe, a forked child computes on 1 thread
    torch.set_num_threads(1)
    return workers._pool is not None, [tuple(v.shape) for v in make_views("vicreg", 16)(x)]
