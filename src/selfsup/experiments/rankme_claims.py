"""The label-free selection reproduction's claims, each decided across seeds.

Every seed runs its own sweep per method, so each claim's number has one value per seed and
method: the regret of the RankMe pick (oracle kNN minus the picked trial's kNN, in accuracy
points), a measure's Spearman correlation with kNN over the trials, or the paired difference
of two measures' correlations. A claim holds for every method when the 95 % Student-t interval
of its per-seed values lies on the claim's side of the bound (:mod:`.claims`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from selfsup.experiments.claims import Claim, all_of, compare, measure
from selfsup.experiments.stats import mean_std

#: "close to the labelled selection": the RankMe pick may lose at most this many kNN points
REGRET_BOUND_PTS = 1.0


def per_seed(entry: dict, get: Callable[[dict], float | None]) -> dict[int, float | None]:
    """``{seed: value}`` of one number of one method's sweeps."""
    return {s: get(sweep) for s, sweep in zip(entry["seeds"], entry["sweeps"], strict=True)}


def _regret(name: str) -> Callable[[dict], float | None]:
    return lambda sweep: (sweep["picks"].get(name) or {}).get("regret")


def _rho(name: str) -> Callable[[dict], float | None]:
    return lambda sweep: sweep["spearman_with_knn"].get(name)


def claims(summary: dict, params: object) -> list[Claim]:
    """The claims from each method's per-seed sweeps (computed, never fixed)."""
    seeds = sorted({s for e in summary.values() for s in e["seeds"]})
    regime = (
        f"{params.dataset}, {params.trials} trials per method and seed, "
        f"{params.epochs} epochs, seeds {', '.join(map(str, seeds))}"
    )
    regret = {
        m: measure(
            m,
            per_seed(e, _regret("rankme")),
            below=REGRET_BOUND_PTS,
            scale=100,
            unit="pts",
        )
        for m, e in summary.items()
    }
    rho = {
        name: {m: per_seed(e, _rho(name)) for m, e in summary.items()}
        for name in ("rankme", "lidar", "alpha_req_score")
    }
    ranks = {m: measure(m, rho["rankme"][m], above=0.0) for m in summary}
    lidar = {
        m: compare(m, rho["lidar"][m], rho["rankme"][m], above=0.0, names=("LiDAR", "RankMe"))
        for m in summary
    }
    alpha = {m: measure(m, rho["alpha_req_score"][m], above=0.0) for m in summary}
    return [
        all_of(
            "RankMe's pick is within 1 kNN point of the labelled oracle",
            regret,
            paper="RankMe-selected hyperparameters reach close to the labelled selection",
            tolerance=f"oracle kNN - picked kNN < {REGRET_BOUND_PTS:g} point (mean over seeds), "
            "for every method",
            regime=regime,
            evidence=_evidence(summary, "rankme"),
        ),
        all_of(
            "RankMe ranks the trials like kNN accuracy does",
            ranks,
            paper="rank correlates with downstream accuracy",
            tolerance="Spearman(RankMe, kNN) > 0 (mean over seeds), for every method",
            regime=regime,
        ),
        all_of(
            "LiDAR correlates with kNN more strongly than RankMe",
            lidar,
            paper="LiDAR's rank correlation with linear-probe accuracy exceeds RankMe's",
            tolerance="Spearman(LiDAR) - Spearman(RankMe) > 0 (paired by seed), for every method",
            regime=regime,
            evidence=_evidence(summary, "lidar"),
        ),
        all_of(
            "alpha-ReQ: an eigenspectrum decay closer to 1 goes with higher kNN accuracy",
            alpha,
            paper="alpha near 1 marks the best representations",
            tolerance="Spearman(-|alpha - 1|, kNN) > 0 (mean over seeds), for every method",
            regime=regime,
            evidence=_evidence(summary, "alpha_req_score"),
        ),
    ]


def _evidence(summary: dict, name: str) -> str:
    """Per method and seed: the oracle trial's kNN and the pick's kNN."""
    parts = []
    for m, e in summary.items():
        for seed, sweep in zip(e["seeds"], e["sweeps"], strict=True):
            pick, oracle = sweep["picks"].get(name), sweep["oracle"]
            if pick and oracle:
                parts.append(
                    f"{m} seed {seed}: oracle kNN {oracle['knn_top1']:.3f}, {name} picks trial "
                    f"{pick['trial']} kNN {pick['knn_top1']:.3f}"
                )
    return "; ".join(parts)


def table_lines(summary: dict, scores: Sequence[str]) -> list[str]:
    """Markdown: per method and measure, the mean ± std over seeds of its Spearman correlation
    with kNN, of its pick's kNN, of the oracle's kNN and of the pick's regret."""
    from selfsup.compare.measures import LABELS

    lines = [
        "| method | measure | seeds | Spearman with kNN | pick's kNN | oracle kNN | regret |",
        "|---|---|---|---|---|---|---|",
    ]
    for m, e in summary.items():
        oracle = [(s["oracle"] or {}).get("knn_top1") for s in e["sweeps"]]
        for name in scores:
            picks = [s["picks"].get(name) or {} for s in e["sweeps"]]
            cells = [
                m,
                LABELS.get(name, name).replace("|", "\\|"),
                str(len(e["seeds"])),
                _pm([s["spearman_with_knn"].get(name) for s in e["sweeps"]]),
                _pm([p.get("knn_top1") for p in picks]),
                _pm(oracle),
                _pm([p.get("regret") for p in picks]),
            ]
            lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "Mean ± standard deviation over the seeds (one sweep per seed and method)."]
    return lines


def _pm(values: list[float | None]) -> str:
    mean, std = mean_std(values)
    return "—" if mean is None else f"{mean:.3f} ± {std:.3f}"
