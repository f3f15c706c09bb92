"""``selfsup reproduce rankme``: choosing hyperparameters without labels, checked with labels.

Garrido et al. (2023, RankMe), Thilak et al. (2024, LiDAR) and Agrawal et al. (2022,
alpha-ReQ) propose label-free measures of a representation for picking among SSL runs. For
each method (VICReg, SimCLR) this runs one ``selfsup sweep`` (Optuna, TPE sampler, seeded) over
the learning rate, weight decay, projector width and the method's loss coefficients (VICReg's
variance and covariance weights; SimCLR's temperature); every trial is scored by RankMe,
LiDAR and alpha-ReQ on training images (no labels) and by kNN accuracy on the test split.
Each seed runs its own sweep (the seed sets every trial's training seed and the sampler's),
so a claim's number (the regret of the RankMe pick against the labelled oracle, the trial with
the best kNN accuracy; a measure's Spearman correlation with kNN over the trials) has one value
per seed, and its verdict is decided by the 95 % interval across seeds
(:mod:`selfsup.experiments.rankme_claims`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from selfsup.experiments.experiment import (
    Experiment,
    Finished,
    Plan,
    Preset,
    Run,
    RunContext,
    option,
)
from selfsup.experiments.rankme_claims import claims, table_lines

#: what each seed's sweep keeps in the summary
SWEEP_KEYS = ("counts", "oracle", "picks", "spearman_with_knn")

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
    "quick": Preset(
        Params(), "digits (MLP), 16 trials x 2 methods x 3 seeds, 5 epochs each", seeds=3
    ),
    "full": Preset(
        Params(dataset="mnist", config="vicreg_mnist", epochs=10, n_train=20000, n_test=5000),
        "MNIST (ConvNet), 16 trials x 2 methods x 3 seeds, 10 epochs on 20k images each",
        seeds=3,
    ),
}


def plan_runs(params: Params, plan: Plan) -> list[Run]:
    plan.require_dataset(params.dataset)
    runs = []
    for seed in plan.seeds:  # seed by seed, so that a reproduction stopped early has whole seeds
        for method in params.methods:
            words = [
                f"method.name={method}",
                f"seed={seed}",
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
                "method": method,
                "words": words,
                "trials": params.trials,
                "n_samples": params.n_samples,
                "seed": seed,
                "data_root": str(plan.data_root),
            }
            runs.append(Run(f"{params.dataset}-{method}-s{seed}", run_sweep, args))
    return runs


def run_sweep(args: dict, ctx: RunContext) -> dict:
    """One method's sweep for one seed in ``ctx.run_dir`` (a resumed study continues to
    ``trials``); ``seed`` seeds the TPE sampler, and the words set every trial's ``seed``."""
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
    """Per method, each seed's sweep: ``{method: {"seeds": [...], "sweeps": [...]}}`` (in seed
    order; a sweep is its counts, oracle, picks and Spearman correlations with kNN)."""
    out: dict = {}
    for f in sorted(finished, key=lambda f: f.run.args["seed"]):
        method = f.run.args["method"]
        entry = out.setdefault(method, {"seeds": [], "sweeps": []})
        entry["seeds"].append(f.run.args["seed"])
        entry["sweeps"].append({k: f.result[k] for k in SWEEP_KEYS})
    return {m: out[m] for m in params.methods if m in out}


def report(summary: dict, params: Params, finished: list[Finished], out: Path) -> list[str]:
    from selfsup.experiments.report import image
    from selfsup.tune.results import SCORES

    lines = ["## Label-free picks against the labelled oracle", ""]
    lines += table_lines(summary, SCORES)
    first = min((f.run.args["seed"] for f in finished), default=None)
    for f in finished:
        if f.run.args["seed"] != first:
            continue  # one seed's figures stand for the others
        for name in ("sweep_measures_vs_knn.png", "sweep_objective.png"):
            path = out / "runs" / f.run.key / name
            if path.exists():
                lines += ["", image(path, out, f"{f.run.key} {name[6:-4]}")]
    return lines


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
