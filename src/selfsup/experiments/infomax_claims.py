"""The infomax reproduction's claims, each decided by a 95 % Student-t interval across seeds:
per method for the "every method" claims, paired by seed for the comparisons with VICReg, and
at the smallest noise level of the Gaussianity-vs-noise map (whose ``regime`` is the map of the
seed means)."""

from __future__ import annotations

from selfsup.experiments import infomax_regimes as regimes
from selfsup.experiments.claims import Claim, all_of, compare, measure, verdict

ALPHA = 0.05  # level of the normality tests InfoTracking runs
RESULT_KEYS = ("knn_top1", "linear_top1")
VARIANTS = ("vicreg_logdet", "vicreg_pairdist")  # what the paper proposes in VICReg's place


#: "match or beat VICReg": an accuracy within this many points below VICReg's counts as a match
MATCH_MARGIN_PTS = 0.5


def _per_seed(row: dict, key: str) -> dict[int, float | None]:
    """``{seed: value}`` of one summarised quantity of one method."""
    return dict(zip(row["seeds"], row[key]["values"], strict=True))


def claims(summary: dict, p: object = None) -> list[Claim]:
    """What our numbers say about the paper's claims, per dataset (computed, never fixed).

    Every verdict applies to a 95 % Student-t interval across seeds (per method for the
    "every method" claims; paired by seed for the comparisons with VICReg)."""
    out: list[Claim] = []
    for dataset, rows in ((k, v) for k, v in summary.items() if k != regimes.KEY):

        def last(method: str, key: str, rows: dict = rows) -> dict:
            return _per_seed(rows[method], f"info_last/{key}")

        def first(method: str, key: str, rows: dict = rows) -> dict:
            return _per_seed(rows[method], f"info_first/{key}")

        def mean(method: str, key: str, rows: dict = rows) -> float | None:
            return rows[method][f"info_last/{key}"]["mean"]

        methods = list(rows)
        rej = {m: measure(m, last(m, "gauss_frac_dims_rejected"), below=2 * ALPHA) for m in methods}
        stab = {m: measure(m, last(m, "region_stability"), above=0.5) for m in methods}
        out.append(
            all_of(
                "Projector outputs are Gaussian under augmentation",
                rej,
                paper=f"share of dims rejected at level {ALPHA}: about {ALPHA}",
                ours={m: mean(m, "gauss_frac_dims_rejected") for m in methods},
                tolerance=f"share of dims whose normality D'Agostino rejects < {2 * ALPHA}, "
                "for every method",
                regime=dataset,
                evidence="share of projector-output dimensions whose normality D'Agostino "
                f"rejects at {ALPHA}: "
                + ", ".join(f"{m} {_f(mean(m, 'gauss_frac_dims_rejected'))}" for m in methods)
                + "; median Mardia skewness p: "
                + ", ".join(f"{m} {_f(mean(m, 'gauss_mardia_skew_p'), 3)}" for m in methods),
            )
        )
        out.append(
            all_of(
                "Augmented views stay in the clean sample's linear region (the premise of "
                "the exact-Gaussian argument)",
                stab,
                ours={m: mean(m, "region_stability") for m in methods},
                tolerance="region stability > 0.5 for every method",
                regime=dataset,
                evidence="share of views in the clean sample's linear region "
                + ", ".join(f"{m} {_f(mean(m, 'region_stability'))}" for m in methods)
                + "; relative error of the affine covariance A Sigma A^T: "
                + ", ".join(f"{m} {_f(mean(m, 'gauss_cov_rel_error'))}" for m in methods),
            )
        )
        sep = {}
        for m in methods:
            after, before = last(m, "emb_separation"), first(m, "emb_separation")
            sep[f"{m}: ratio after training"] = measure(m, after, above=1.0)
            sep[f"{m}: after - before"] = compare(m, after, before, above=0.0)
        words = {
            m: (mean(m, "emb_separation"), rows[m]["info_first/emb_separation"]["mean"])
            for m in methods
        }
        out.append(
            all_of(
                "Per-sample output clusters separate: farther apart than their spread, "
                "more so as training goes on",
                sep,
                ours={m: b for m, (b, _) in words.items()},
                tolerance="E||z_i - z_j||^2 / E||z_i - z_i'||^2 > 1 after training and larger "
                "than before (paired by seed), for every method",
                regime=dataset,
                evidence="E||z_i - z_j||^2 / E||z_i - z_i'||^2 (distinct samples vs two views "
                "of one sample, projector output) before -> after training: "
                + ", ".join(f"{m} {_f(a, 2)} -> {_f(b, 2)}" for m, (b, a) in words.items())
                + "; a ratio of a few means the per-sample components overlap, the regime "
                "where the mixture-entropy bounds are loose",
            )
        )
        if "vicreg" in rows:
            out += _versus_vicreg(dataset, rows)
    return out + regime_claims(summary.get(regimes.KEY, []))


def _versus_vicreg(dataset: str, rows: dict) -> list[Claim]:
    """Each variant's accuracy minus VICReg's, paired by seed, in points."""
    out = []
    for key in RESULT_KEYS:
        base = _per_seed(rows["vicreg"], key)
        diffs = {
            m: compare(
                m,
                _per_seed(rows[m], key),
                base,
                above=-MATCH_MARGIN_PTS,
                scale=100,
                unit="pts",
                names=(m, "vicreg"),
            )
            for m in rows
            if m != "vicreg"
        }
        variants = {m: c for m, c in diffs.items() if m in VARIANTS}
        if not variants:
            continue
        out.append(
            all_of(
                f"The information-theoretic variants match or beat VICReg ({key})",
                variants,
                ours={m: c.effect for m, c in variants.items()},
                tolerance=f"accuracy - VICReg's > -{MATCH_MARGIN_PTS} points (paired by seed), "
                "for each variant",
                regime=dataset,
                evidence="accuracy minus VICReg's, points: "
                + "; ".join(f"{m} {verdict(c)}" for m, c in diffs.items()),
            )
        )
    return out


def regime_claims(entries: list[dict]) -> list[Claim]:
    """The map as claims whose ``regime`` is the noise range where each holds."""
    if not entries:
        return []
    alpha = entries[0]["normality_reject_expected"]
    ours, regime, _ = regimes.range_of(entries, regimes.premise_holds, "holds")
    views = [e for e in entries if e["augmentation"] == "views"]
    low = _smallest_noise(entries)
    reject_max = regimes.REJECT_FACTOR * alpha
    premise = {}
    for name, e in low.items():
        premise[f"{name}: in-region share"] = _measure(
            e, "in_region_share", above=regimes.MIN_IN_REGION
        )
        premise[f"{name}: affine cov. error"] = _measure(
            e, "affine_cov_rel_err", below=regimes.MAX_COV_ERR
        )
        premise[f"{name}: share rejected"] = _measure(e, "normality_reject_share", below=reject_max)
    out = [
        all_of(
            claim="Projector outputs are Gaussian under augmentation, exactly while views stay "
            "in the clean sample's linear region (map over augmentation strength)",
            parts=premise,
            paper="outputs ~ N(f(x), A Sigma A^T) for views in x's linear region",
            ours=ours,
            tolerance=f"in-region share > {regimes.MIN_IN_REGION}, affine cov. error < "
            f"{regimes.MAX_COV_ERR}, "
            f"share of dims rejected at {alpha} <= {regimes.REJECT_FACTOR * alpha:g}",
            regime=regime,
            evidence="verdict at the smallest noise std, per method, across seeds; the regime "
            "is the map of the seed means; largest noise std up to which the premise holds, "
            "per method; at the real "
            "views: "
            + ", ".join(
                f"{e['method']} in-region {e['in_region_share']:.3f}, cov. err "
                f"{e['affine_cov_rel_err']:.3g}, rejected {e['normality_reject_share']:.3f}"
                for e in views
            ),
        )
    ]
    ours, regime, _ = regimes.range_of(entries, regimes.approximately_gaussian, "holds")
    approximate = {k: v for k, v in premise.items() if "in-region" not in k}
    out.append(
        all_of(
            claim="Projector outputs are approximately Gaussian with the affine covariance "
            "A Sigma A^T, whether or not views leave the linear region",
            parts=approximate,
            paper="(the paper's consequence of the premise; no range given)",
            ours=ours,
            tolerance=f"affine cov. error <= {regimes.MAX_COV_ERR} and share of dims rejected at "
            f"{alpha} <= {regimes.REJECT_FACTOR * alpha:g}",
            regime=regime,
            evidence="verdict at the smallest noise std, across seeds; largest noise std up to "
            "which both hold, per method (in-region share "
            "not required)",
        )
    )
    ours, regime, _ = regimes.range_of(entries, regimes.brackets, "brackets")
    dims = entries[0]["entropy_dims"]
    bracket = {}
    for name, e in low.items():
        seeds = e.get("per_seed", {k: [e[k]] for k in regimes.FIELDS})
        knn, lower, upper = (seeds[k] for k in ("entropy_knn", "entropy_lower", "entropy_upper"))
        bracket[f"{name}: kNN - lower"] = measure(
            name,
            dict(enumerate(k - lo for k, lo in zip(knn, lower, strict=True))),
            above=-regimes.ENTROPY_SLACK,
            unit="nats",
        )
        bracket[f"{name}: upper - kNN"] = measure(
            name,
            dict(enumerate(up - k for k, up in zip(knn, upper, strict=True))),
            above=-regimes.ENTROPY_SLACK,
            unit="nats",
        )
    out.append(
        all_of(
            claim="The pairwise-distance (Kolchinsky-Tracey) bounds of the affine Gaussian-"
            "mixture model bracket the output entropy",
            parts=bracket,
            paper="lower <= H(Z) <= upper for the mixture of N(f(x_n), A_n Sigma A_n^T)",
            ours=ours,
            tolerance=f"kNN entropy (k = 3, top {dims} principal directions) within "
            f"[lower - {regimes.ENTROPY_SLACK:g}, upper + {regimes.ENTROPY_SLACK:g}] nats",
            regime=regime,
            evidence="verdict at the smallest noise std, across seeds; at the real views "
            "(lower / kNN / upper, nats): "
            + ", ".join(
                f"{e['method']} {e['entropy_lower']:.1f} / {e['entropy_knn']:.1f} / "
                f"{e['entropy_upper']:.1f}"
                for e in views
            ),
        )
    )
    return out


def _smallest_noise(entries: list[dict]) -> dict[str, dict]:
    """Each curve's entry at its smallest noise std (where the premise should hold)."""
    out = {}
    for (dataset, method), curve in regimes.by_curve(entries).items():
        noisy = [e for e in curve if e["augmentation"] == "noise"]
        if noisy:
            out[f"{dataset}/{method}"] = min(noisy, key=lambda e: e["noise"])
    return out


def _measure(e: dict, key: str, **bound: float) -> Claim:
    values = e.get("per_seed", {}).get(key, [e[key]])
    return measure(key, dict(enumerate(values)), **bound)


def _f(v: float | None, digits: int = 3) -> str:
    return "n/a" if v is None else f"{v:.{digits}f}"
