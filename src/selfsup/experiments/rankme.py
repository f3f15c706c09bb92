"""``selfsup reproduce rankme``: choosing hyperparameters without labels, checked with labels.

Garrido et al. (2023, RankMe), Thilak et al. (2024, LiDAR) and Agrawal et al. (2022,
alpha-ReQ) propose label-free measures of a representation for picking among SSL runs. For
each method (VICReg, SimCLR) this runs one ``selfsup sweep`` (Optuna, TPE sampler, seeded) over
the learning rate, weight decay, projector width and the method's loss coefficients (VICReg's
variance and covariance weights; SimCLR's temperature); every trial is scored by RankMe,
LiDAR and alpha-ReQ on training images (no labels) and by kNN accuracy on the test split.
The claims compare the label-free picks with the labelled oracle (the trial with the best kNN
accuracy) and the measures' rank correlations with kNN over the trials.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from selfsup.experiments.claims import Claim
from selfsup.experiments.experiment import (
    Experiment,
    Finished,
    Plan,
    Preset,
    Run,
    RunContext,
    option,
)

#: each method's searched coefficients, as search-space words
METHOD_SPACE = {
    "vicreg": ["method.params.std_coeff=uniform(10,40)", "method.params.cov_coeff=uniform(0.5,4)"],
    "simclr": ["method.params.temperature=loguniform(0.05,0.5)"],
}
COMMON_SPACE = ["optim.lr=loguniform(1e-4,1e-2)", "optim.weight_decay=loguniform(1e-6,1e-3)"]


@dataclass(frozen=True)
class Params:
    dataset: str = option("digits", "dataset of every trial", choices=("digits", "mnist"))
    methods: tuple[str, ...] = option(
        ("vicreg", "simclr"), "methods swept", choices=tuple(METHOD_SPACE)
    )
    trials: int = option(16, "trials per method", minimum=2)
    epochs: int = option(5, "training epochs per trial", minimum=1)
    n_train: int = option(0, "training images (0: all)", minimum=0)
    n_test: int = option(0, "test images for kNN (0: all)", minimum=0)
    n_samples: int = option(512, "training images the label-free measures use", minimum=4)
    widths: tuple[str, ...] = ("[256]", "[512,512]", "[1024,1024]")  # projector choices
    config: str = "vicreg_digits"  # digits with an MLP (the former quickstart)


PRESETS = {
    "quick": Preset(Params(), "digits (MLP), 16 trials x 2 methods, 5 epochs each"),
    "full": Preset(
        Params(dataset="mnist", config="vicreg_mnist", epochs=10, n_train=20000, n_test=5000),
        "MNIST (ConvNet), 16 trials x 2 methods, 10 epochs on 20k images each",
    ),
}


def plan_runs(params: Params, plan: Plan) -> list[Run]:
    plan.require_dataset(params.dataset)
    runs = []
    for method in params.methods:
        words = [
            f"method.name={method}",
            f"trainer.max_epochs={params.epochs}",
            f"data.train_subset={params.n_train}",
            f"data.test_subset={params.n_test}",
            "trainer.enable_progress_bar=false",
            "eval.online_probe=false",
            "eval.knn_monitor=false",
            "checkpoint.keep=0",
            *COMMON_SPACE,
            f"method.projector=choice({','.join(params.widths)})",
            *METHOD_SPACE[method],
        ]
        args = {
            "config": params.config,
            "words": words,
            "trials": params.trials,
            "n_samples": params.n_samples,
            "seed": plan.seeds[0],
            "data_root": str(plan.data_root),
        }
        runs.append(Run(f"{params.dataset}-{method}", run_sweep, args))
    return runs


def run_sweep(args: dict, ctx: RunContext) -> dict:
    """One method's sweep in ``ctx.run_dir`` (a resumed study continues to ``trials``)."""
    import optuna
    from optuna.trial import TrialState

    from selfsup.tune import results
    from selfsup.tune.space import check_space, parse_space
    from selfsup.tune.storage import default_storage, fail_dead_trials, open_study
    from selfsup.tune.trial import TrialSettings, run_trial

    ctx.run_dir.mkdir(parents=True, exist_ok=True)
    words = [*args["words"], f"data.root={args['data_root']}"]
    space = parse_space(words)
    check_space(args["config"], space)
    url = default_storage(ctx.run_dir)
    study = open_study(url, "rankme", sampler=optuna.samplers.TPESampler(seed=args["seed"]))
    fail_dead_trials(study)
    settings = TrialSettings(
        args["config"], space, "rankme", ctx.run_dir, n_samples=args["n_samples"]
    )
    while len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))) < args["trials"]:
        if len(study.get_trials(deepcopy=False)) >= 2 * args["trials"]:
            break  # too many failures: report what there is
        run_trial(study, settings)
    summary = results.summarise(study, "rankme", "study.db", words)
    results.write(summary, ctx.run_dir, study)
    if not summary["counts"].get("COMPLETE"):
        from selfsup.errors import SelfsupError

        errors = [t["error"] for t in summary["trials"] if t["error"]]
        raise SelfsupError(f"every trial failed, e.g. {errors[0] if errors else '?'}")
    return {k: summary[k] for k in ("counts", "oracle", "picks", "spearman_with_knn", "trials")}


def summarise(params: Params, finished: list[Finished]) -> dict:
    return {
        f.run.key.split("-", 1)[1]: {
            k: f.result[k] for k in ("counts", "oracle", "picks", "spearman_with_knn")
        }
        for f in finished
    }


def claims(summary: dict, params: Params) -> list[Claim]:
    regime = f"{params.dataset}, {params.trials} trials per method, {params.epochs} epochs"

    def per_method(get) -> dict:
        return {m: get(s) for m, s in summary.items()}

    def all_of(values: dict, test) -> bool | None:
        if any(v is None for v in values.values()) or not values:
            return None
        return all(test(v) for v in values.values())

    regret = per_method(lambda s: (s["picks"].get("rankme") or {}).get("regret"))
    rho = {
        name: per_method(lambda s, n=name: s["spearman_with_knn"].get(n))
        for name in ("rankme", "lidar", "alpha_req_score")
    }
    lidar_gap = {
        m: (
            None
            if rho["lidar"][m] is None or rho["rankme"][m] is None
            else rho["lidar"][m] - rho["rankme"][m]
        )
        for m in summary
    }
    alpha_regret = per_method(lambda s: (s["picks"].get("alpha_req_score") or {}).get("regret"))
    return [
        Claim(
            "RankMe's pick is within 1 kNN point of the labelled oracle",
            ours={f"{m} regret": v for m, v in regret.items()},
            holds=all_of(regret, lambda v: v <= 0.01),
            paper="RankMe-selected hyperparameters reach close to the labelled selection",
            tolerance="oracle kNN - picked kNN <= 0.01 for every method",
            regime=regime,
            evidence=_evidence(summary, "rankme"),
        ),
        Claim(
            "RankMe ranks the trials like kNN accuracy does",
            ours={f"{m} Spearman": v for m, v in rho["rankme"].items()},
            holds=all_of(rho["rankme"], lambda v: v > 0),
            paper="rank correlates with downstream accuracy",
            tolerance="Spearman > 0 for every method",
            regime=regime,
        ),
        Claim(
            "LiDAR correlates with kNN more strongly than RankMe",
            ours={f"{m} Spearman LiDAR - RankMe": v for m, v in lidar_gap.items()},
            holds=all_of(lidar_gap, lambda v: v > 0),
            paper="LiDAR's rank correlation with linear-probe accuracy exceeds RankMe's",
            tolerance="Spearman(LiDAR) > Spearman(RankMe) for every method",
            regime=regime,
            evidence=_evidence(summary, "lidar"),
        ),
        Claim(
            "alpha-ReQ: an eigenspectrum decay closer to 1 goes with higher kNN accuracy",
            ours={f"{m} Spearman -|alpha-1|": v for m, v in rho["alpha_req_score"].items()},
            holds=all_of(rho["alpha_req_score"], lambda v: v > 0),
            paper="alpha near 1 marks the best representations",
            tolerance="Spearman(-|alpha - 1|, kNN) > 0 for every method",
            regime=regime,
            evidence=_evidence(summary, "alpha_req_score")
            + "; "
            + ", ".join(
                f"{m} pick regret {v:.3f}" for m, v in alpha_regret.items() if v is not None
            ),
        ),
    ]


def _evidence(summary: dict, name: str) -> str:
    parts = []
    for m, s in summary.items():
        pick, oracle = s["picks"].get(name), s["oracle"]
        if pick and oracle:
            parts.append(
                f"{m}: oracle trial {oracle['trial']} kNN {oracle['knn_top1']:.3f}, "
                f"{name} picks trial {pick['trial']} kNN {pick['knn_top1']:.3f}"
            )
    return "; ".join(parts)


def report(summary: dict, params: Params, finished: list[Finished], out: Path) -> list[str]:
    from selfsup.experiments.report import image
    from selfsup.tune.results import SCORES

    lines = ["## Label-free picks against the labelled oracle", ""]
    lines += table_lines(summary, SCORES)
    for f in finished:
        for name in ("sweep_measures_vs_knn.png", "sweep_objective.png"):
            path = out / "runs" / f.run.key / name
            if path.exists():
                lines += ["", image(path, out, f"{f.run.key} {name[6:-4]}")]
    return lines


def table_lines(summary: dict, scores) -> list[str]:
    """Markdown: per method and measure, Spearman with kNN, its pick's kNN and regret."""
    from selfsup.compare.measures import LABELS

    lines = [
        "| method | measure | Spearman with kNN | pick's kNN | oracle kNN | regret |",
        "|---|---|---|---|---|---|",
    ]
    for m, s in summary.items():
        for name in scores:
            rho, pick = s["spearman_with_knn"].get(name), s["picks"].get(name)
            oracle = s["oracle"]["knn_top1"] if s["oracle"] else None
            cells = [
                m,
                LABELS.get(name, name).replace("|", "\\|"),
                _f(rho),
                _f(pick and pick["knn_top1"]),
                _f(oracle),
                _f(pick and pick["regret"]),
            ]
            lines.append("| " + " | ".join(cells) + " |")
    return lines


def _f(value) -> str:
    return "—" if value is None else f"{value:.3f}"


def progress(result: dict) -> str:
    o = result.get("oracle") or {}
    pick = (result.get("picks") or {}).get("rankme") or {}
    nan = float("nan")
    return f"oracle kNN={o.get('knn_top1', nan):.3f} rankme pick={pick.get('knn_top1', nan):.3f}"


EXPERIMENT = Experiment(
    name="rankme",
    title="Choosing SSL hyperparameters without labels: RankMe, LiDAR and alpha-ReQ vs kNN",
    paper="Garrido et al. (2023); Thilak et al. (2024); Agrawal et al. (2022)",
    presets=PRESETS,
    runs=plan_runs,
    summarise=summarise,
    claims=claims,
    report=report,
    workers=1,
    progress=progress,
)
