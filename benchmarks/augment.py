"""Views per second: our batched view pipeline against lightly's per-image transforms.

Run: python benchmarks/augment.py [--quick] [--recipe vicreg|simclr|byol|dino] [--sizes 32 96]
    [--torch-colour] [--stages]
Needs the ``bench`` extra (lightly).

Both sides make two views of every image of a stream of uint8 RGB images (random pixels: the
cost of these transforms does not depend on the content), with the same parameter set:
  lightly: its transform object (``VICRegTransform(input_size=S)`` and so on, ToTensor and
      Normalize included) on PIL images, in 2 DataLoader workers as lightly's examples run it
      (batch 256); timed from the first batch to the last, so worker start-up is left out;
  ours: ``selfsup.data.views.MultiView`` (what training calls) with the same recipe, on uint8
      batches of 256 in the main process (torch's default threads), uint8 -> float and
      normalisation included, the jitter and grey scale compiled by numba
      (``selfsup.data.colour_compiled``; ``--torch-colour``: torch's operations instead),
      with glibc's allocator setting that ``selfsup train`` makes on CPU
      (``selfsup.allocator``; ``--default-allocator``: glibc's defaults, as lightly's side).
The two take turns, round by round (``harness.interleave``). Wall-clock views/s is the
headline; CPU seconds per view (ours: the process; lightly: its workers and main process,
from /proc) is printed beside it because it is far less sensitive to a shared machine.
Recipe differences: lightly applies solarisation before blur, we after (as the BYOL paper);
DINO resizes bicubic in lightly, bilinear here; DINO is timed on its two global views.
Last line: ``ratio_32=<ours/lightly views/s> ratio_96=... cpu_ratio_32=... cpu_ratio_96=...``.

``--stages``: instead, where our time goes: each stage of a view on one thread, in CPU
microseconds per view (median of 20), on chunks cut as the torch operations' pipeline cuts
them (geometry and jitter: one jitter order's share of a batch; grey, blur, solarisation: the
samples that drew them, one chunk per worker thread), stages applied with probability p timed
on every image of their chunk; the compiled jitter + grey (what CPU views use) as one stage on
a chunk of consecutive samples with their drawn orders; beside lightly's transform on one PIL
image in this process (CPU microseconds per view, same clock), and the expected cost of a view
on either path (each stage times its probability). The torch operations' chunks are those of
their order-by-order grouping, used at 96 px; at 32 px they jitter position by position
(``jitter_grouping.py``), which ``--stages`` does not follow.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import time
from pathlib import Path

import numpy as np
import torch
from harness import LoadLog, final_line, interleave, median

from selfsup.allocator import reuse_freed_memory
from selfsup.data.pipeline import View, ViewSpec
from selfsup.data.views import PRESETS, MultiView, Normalise, to_unit_float

BATCH = 256
IMAGENET = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))  # lightly's default normalisation


def lightly_transform(recipe: str, size: int):
    from lightly import transforms as LT

    if recipe == "vicreg":
        return LT.VICRegTransform(input_size=size)
    if recipe == "simclr":
        return LT.SimCLRTransform(input_size=size)
    if recipe == "byol":
        return LT.BYOLTransform(
            view_1_transform=LT.BYOLView1Transform(input_size=size),
            view_2_transform=LT.BYOLView2Transform(input_size=size),
        )
    return LT.DINOTransform(global_crop_size=size, n_local_views=0)


def our_specs(recipe: str) -> tuple[ViewSpec, ViewSpec]:
    """The same parameters as ``lightly_transform(recipe)``."""
    if recipe == "vicreg":  # lightly's VICRegTransform: symmetric, blur 0.5, solarise 0.1
        spec = ViewSpec(jitter=(0.4, 0.4, 0.2, 0.1), grey_p=0.2, blur_p=0.5, solarise_p=0.1)
        return spec, spec
    first, second, _ = PRESETS[recipe]
    return first, second


class _Images(torch.utils.data.Dataset):
    def __init__(self, images: np.ndarray, transform) -> None:
        self.images, self.transform = images, transform

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int):
        from PIL import Image

        return self.transform(Image.fromarray(self.images[i]))


def _cpu_seconds(pid: int) -> float:
    """utime + stime of a process from /proc (0 where unreadable)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Lightly:
    def __init__(self, recipe: str, images: np.ndarray) -> None:
        self.loader = torch.utils.data.DataLoader(
            _Images(images, lightly_transform(recipe, images.shape[1])),
            batch_size=BATCH,
            num_workers=2,
            persistent_workers=True,
        )
        self.views = self.cpu = 0.0

    def __call__(self) -> None:
        cpu0 = time.process_time()
        it = iter(self.loader)
        next(it)  # the workers are up and the prefetch queue is filling
        workers = [w.pid for w in it._workers]  # noqa: SLF001 (for CPU accounting only)
        wcpu0 = sum(_cpu_seconds(p) for p in workers)
        start, n = time.perf_counter(), 0
        for views in it:
            n += len(views[0])
        self.seconds = time.perf_counter() - start
        self.views = 2 * n
        self.cpu = sum(_cpu_seconds(p) for p in workers) - wcpu0 + time.process_time() - cpu0


class Ours:
    def __init__(self, recipe: str, images: np.ndarray, tune_allocator: bool = True) -> None:
        size = images.shape[1]
        self.tune_allocator = tune_allocator
        self.batches = torch.from_numpy(images).permute(0, 3, 1, 2).contiguous().split(BATCH)
        self.multiview = MultiView([View(spec, size) for spec in our_specs(recipe)])
        self.normalise = Normalise(*IMAGENET)

    def __call__(self) -> None:
        # tuned only while ours runs: lightly's DataLoader workers fork with glibc's defaults
        tuned = reuse_freed_memory() if self.tune_allocator else contextlib.nullcontext()
        cpu0, start = time.process_time(), time.perf_counter()
        n = 0
        with tuned:
            for batch in self.batches:
                x = to_unit_float(batch)
                views = [self.normalise(v) for v in self.multiview(x)]
                n += len(views[0])
        self.seconds = time.perf_counter() - start
        self.views, self.cpu = 2 * n, time.process_time() - cpu0


def compare(
    recipe: str, size: int, n_images: int, rounds: int, load: LoadLog, tune_allocator: bool
) -> dict:
    images = np.random.default_rng(size).integers(0, 256, (n_images, size, size, 3), np.uint8)
    lightly = Lightly(recipe, images)
    # lightly's rate is timed from its first batch on: give it one batch more
    ours = Ours(recipe, images[: n_images - BATCH], tune_allocator)
    rates: dict[str, list[float]] = {"lightly": [], "ours": []}
    cpu: dict[str, list[float]] = {"lightly": [], "ours": []}

    def run(name, side):
        def call():
            side()
            rates[name].append(side.views / side.seconds)
            cpu[name].append(side.cpu / side.views)

        return call

    interleave({"lightly": run("lightly", lightly), "ours": run("ours", ours)}, rounds, 1, load)
    for d in (rates, cpu):  # drop the warm-up round
        for k in d:
            d[k] = d[k][1:]
    out = {}
    for name in rates:
        out[name] = (median(rates[name]), median(cpu[name]))
        print(
            f"{recipe} {size} px {name:>8s}: {out[name][0]:7.0f} views/s (median of {rounds}; "
            f"{', '.join(f'{r:.0f}' for r in rates[name])}), "
            f"{out[name][1] * 1e6:.0f} CPU-us per view",
            flush=True,
        )
    return {
        "size": size,
        "lightly_views_s": round(out["lightly"][0]),
        "ours_views_s": round(out["ours"][0]),
        "ratio": round(out["ours"][0] / out["lightly"][0], 2),
        "lightly_cpu_us": round(out["lightly"][1] * 1e6),
        "ours_cpu_us": round(out["ours"][1] * 1e6),
        "cpu_ratio": round(out["lightly"][1] / out["ours"][1], 2),
    }


def stages(size: int, recipe: str) -> dict[str, float]:
    """CPU microseconds per view of each stage, one thread, chunks as the pipeline cuts them."""
    from PIL import Image

    from selfsup.data import colour, pipeline
    from selfsup.data.geometric import box_limits, box_matrices, crop_boxes, resample

    torch.set_num_threads(1)
    spec = our_specs(recipe)[0]
    # a typical task: the samples of one of the 24 jitter orders, within the chunk limit
    limit = pipeline._CHUNK_BYTES // (3 * size * size * 4)
    k = max(1, min(round(BATCH * spec.jitter_p / 24), limit))
    g = torch.Generator().manual_seed(0)
    images = torch.rand(BATCH, 3, size, size, generator=g)
    idx = torch.randperm(BATCH, generator=g)[:k]
    boxes = crop_boxes(BATCH, size, size, spec.scale, spec.ratio)
    theta = box_matrices(boxes, size, size, flip=torch.rand(BATCH) < 0.5).float()
    limits = box_limits(boxes, size, size).float()
    x = resample(images[idx], theta[idx], (size, size), limits=limits[idx])
    f, h = torch.rand(k) + 0.5, torch.rand(k) * 0.2 - 0.1
    out = torch.empty(BATCH, 3, size, size)
    # the operations after the jitter run on the samples that drew them across the batch,
    # cut into one chunk per worker thread (2 here) within the chunk limit
    post = {}
    for name, p in (("grey", spec.grey_p), ("blur", spec.blur_p), ("solarise", spec.solarise_p)):
        post[name] = torch.rand(max(1, min(limit, math.ceil(BATCH * p / 2))), 3, size, size)
    sigma = torch.rand(len(post["blur"])) * 1.9 + 0.1
    radius = colour.blur_radius(spec.blur_sigma[1])
    cases = {
        "gather": (lambda: images[idx], k),
        "crop+flip+resize": (
            lambda: resample(images[idx], theta[idx], (size, size), "zeros", limits[idx]),
            k,
        ),
        "brightness": (lambda: colour.brightness(x, f), k),
        "contrast": (lambda: colour.contrast(x, f), k),
        "saturation": (lambda: colour.saturation(x, f), k),
        "hue": (lambda: colour.hue(x, h), k),
        "scatter": (lambda: out.index_copy_(0, idx, x), k),
        "grey": (lambda: colour.to_grey(post["grey"]), len(post["grey"])),
        "blur": (lambda: colour.gaussian_blur(post["blur"], sigma, radius), len(sigma)),
        "solarise": (lambda: colour.solarise(post["solarise"]), len(post["solarise"])),
    }
    # the compiled path (``colour_compiled``): a run of consecutive samples (the chunk
    # limit), each through its own order of the jitter (or none) and grey where drawn, written
    # into the batch; its cost per view already weighs the probabilities
    kernels = pipeline.compiled_colour()
    if kernels is not None:
        m = min(limit, BATCH)
        view = View(spec, size)  # the recipe's orders and factor ranges
        orders = torch.tensor(view.orders)
        ops = orders[torch.randint(len(orders), (m,), generator=g)]
        ops[torch.rand(m, generator=g) >= spec.jitter_p] = -1
        factors = view._jitter_factors(m, torch.device("cpu"))
        grey = torch.rand(m, generator=g) < spec.grey_p
        chunk = torch.rand(m, 3, size, size, generator=g)
        cases["jitter+grey compiled"] = (
            lambda: kernels.jitter_into(chunk, factors, ops, grey, out, 0),
            m,
        )
    pil = [
        Image.fromarray(a)
        for a in np.random.default_rng(0).integers(0, 256, (k, size, size, 3), np.uint8)
    ]
    transform = lightly_transform(recipe, size)
    cases["lightly (per image)"] = (lambda: [transform(im) for im in pil], 2 * k)  # 2 views
    times = interleave({n: fn for n, (fn, _) in cases.items()}, 20, 2, clock=time.thread_time)
    per_view = {name: median(times[name]) / n * 1e6 for name, (_, n) in cases.items()}
    print(
        f"{recipe} {size} px, one thread, CPU us per view (geometry and jitter on a chunk of "
        f"{k} images, one order's share; {', '.join(f'{n} on {len(t)}' for n, t in post.items())}):"
    )
    for name, us in per_view.items():
        print(f"  {name:>20s} {us:8.1f}")
    share = {"grey": spec.grey_p, "blur": spec.blur_p, "solarise": spec.solarise_p}
    share.update(dict.fromkeys(("brightness", "contrast", "saturation", "hue"), spec.jitter_p))
    torch_path = [n for n in cases if "lightly" not in n and "compiled" not in n]
    compiled_path = ["crop+flip+resize", "jitter+grey compiled", "blur", "solarise"]
    paths = {"torch operations": torch_path}
    if kernels is not None:
        paths["compiled"] = compiled_path
    for path, names in paths.items():
        expected = sum(per_view[n] * share.get(n, 1.0) for n in names)
        per_view[f"expected_{path.split()[0]}"] = expected
        print(
            f"  expected cost of a view, {path} (each stage times its probability): "
            f"{expected:.0f} us, lightly / ours = {per_view['lightly (per image)'] / expected:.2f}"
        )
    return per_view


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="3 rounds of fewer images")
    ap.add_argument("--recipe", choices=["vicreg", "simclr", "byol", "dino"], default="vicreg")
    ap.add_argument("--sizes", type=int, nargs="+", default=[32, 96])
    ap.add_argument("--rounds", type=int, help="alternations (default 5; quick 3)")
    ap.add_argument("--stages", action="store_true", help="per-stage CPU cost instead")
    ap.add_argument(
        "--default-allocator",
        action="store_true",
        help="ours with glibc's default allocator settings (default: as `selfsup train`)",
    )
    ap.add_argument(
        "--torch-colour",
        action="store_true",
        help="ours with the torch colour operations (SELFSUP_COMPILED_VIEWS=0), not numba's",
    )
    args = ap.parse_args()
    if args.torch_colour:
        os.environ["SELFSUP_COMPILED_VIEWS"] = "0"
    try:
        import lightly  # noqa: F401
    except ImportError:
        print("lightly is not installed (pip install -e '.[bench]'); skipping")
        return
    load = LoadLog()
    if args.stages:
        results = {size: stages(size, args.recipe) for size in args.sizes}
        print(load)
        final_line(
            **{
                f"{name.split()[0].replace('+', '_')}_{size}_us": us
                for size, r in results.items()
                for name, us in r.items()
            }
        )
        return
    rounds = args.rounds or (3 if args.quick else 5)
    print(
        f"torch threads {torch.get_num_threads()}, lightly: 2 DataLoader workers, batch {BATCH}; "
        f"ours with {'glibc default' if args.default_allocator else 'the tuned'} allocator"
    )
    results = {}
    for size in args.sizes:
        # about 1 s of lightly's work per round on these machines
        n_images = BATCH * (4 if size <= 32 else 2) * (1 if args.quick else 2) + BATCH
        results[size] = compare(
            args.recipe, size, n_images, rounds, load, not args.default_allocator
        )
    print(load)
    final_line(
        table=list(results.values()),
        load=load,
        **{f"ratio_{s}": r["ratio"] for s, r in results.items()},
        **{f"cpu_ratio_{s}": r["cpu_ratio"] for s, r in results.items()},
    )


if __name__ == "__main__":
    main()
