"""``selfsup compare RUN [RUN ...] [--out DIR]``: runs side by side, with and without labels."""

from __future__ import annotations

import argparse
from pathlib import Path

from selfsup.errors import OneLineParser, SelfsupError


def parser() -> argparse.ArgumentParser:
    p = OneLineParser(
        prog="selfsup compare",
        description="One table (compare.md / .csv / .json) and figures of several runs on one "
        "dataset: method, the settings that differ, kNN / linear / online-probe accuracy, "
        "RankMe, LiDAR, alpha-ReQ, effective rank, entropy estimates, train time; and how "
        "well each label-free measure ranks the runs like kNN does (Spearman).",
        epilog="Every run's final encoder is measured on the same fixed batch of training images "
        "(no labels read); --from-lens takes the final row of a run's lens instead, where it has "
        "one. The lens curves of runs with a lens are drawn overlaid.",
    )
    p.add_argument("runs", nargs="+", metavar="RUN", help="run directories")
    p.add_argument(
        "--out", metavar="DIR", default="compare", help="output folder (default: compare)"
    )
    p.add_argument(
        "--data-root", metavar="DIR", help="where the runs' dataset lives (default: each run's)"
    )
    p.add_argument(
        "--n-samples", type=int, default=512, help="probe images for runs without a lens"
    )
    p.add_argument(
        "--from-lens", action="store_true", help="measures from lens.csv where a run has one"
    )
    p.add_argument("-v", "--verbose", action="store_true", help="show Lightning's messages")
    return p


def main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    if args.n_samples < 4:
        raise SelfsupError(f"selfsup compare: --n-samples must be >= 4, got {args.n_samples}")
    from selfsup.compare.runs import read_run

    records = [read_run(path) for path in args.runs]
    names = [r.name for r in records]
    if len(set(names)) < len(names):  # the figures name runs by their folder
        for r in records:
            r.name = str(r.path)
    datasets = sorted({r.dataset for r in records})
    if len(datasets) > 1:
        raise SelfsupError(
            f"selfsup compare: the runs are on different datasets ({', '.join(datasets)}); "
            f"compare runs on one dataset"
        )
    return compare(records, Path(args.out), args.data_root, args.n_samples, args.from_lens)


def compare(
    records, out: Path, data_root: str | None = None, n_samples: int = 512, from_lens: bool = False
) -> int:
    """Measure, tabulate and draw ``records`` (:class:`~selfsup.compare.runs.RunRecord`)."""
    from selfsup.compare import figures
    from selfsup.compare.measures import MEASURES
    from selfsup.compare.runs import measure, measure_run
    from selfsup.compare.table import write_tables

    for r in records:
        measure_run(r, data_root, n_samples, from_lens=from_lens)
    result = write_tables(records, out)
    figures.accuracy_per_run(records, out / "accuracy.png")
    figures.lens_curves(records, out / "lens_curves.png")
    knn = [float(r.metrics.get("knn_top1", "nan")) for r in records]
    scores = {name: [measure(r, name) for r in records] for name in MEASURES}
    figures.measures_vs_knn([r.name for r in records], scores, knn, out / "measures_vs_knn.png")
    written = sorted(p.name for p in out.iterdir() if p.suffix in (".md", ".csv", ".json", ".png"))
    print(f"{len(records)} runs on {result['dataset']}: wrote {', '.join(written)} in {out}")
    return 0
