"""``selfsup sweep``: an Optuna study whose trials are selfsup runs, scored with or without
labels (``selfsup sweep --help``)."""

from __future__ import annotations

import argparse
from pathlib import Path

from selfsup.errors import OneLineParser, SelfsupError

EPILOG = """search-space words (quote them in the shell):
  'optim.lr=loguniform(1e-4,1e-2)'   'method.params.cov_coeff=uniform(0.5,4)'
  'data.batch_size=int(64,256)'      'method.projector=choice([512,512],[1024,1024,1024])'
  'method.name=choice(vicreg,simclr,barlow_twins)'
plain key=value words fix a value for every trial.

Several workers with the same --storage, --study and --out share one study (run the same
command on several machines with a database URL, e.g. postgresql://user:pw@host/db).
Run the command again to continue a study."""


def parser() -> argparse.ArgumentParser:
    from selfsup.tune.objective import OBJECTIVES

    p = OneLineParser(
        prog="selfsup sweep",
        description="Tune hyperparameters with Optuna. Each trial is an ordinary selfsup run in "
        "OUT/trial-NNN; the label-free objectives (rankme, lidar, alpha_req) never read labels.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--config", help="YAML file or shipped config name (default: quickstart)")
    p.add_argument(
        "--trials",
        type=int,
        default=10,
        help="trials this worker runs (default 10; 0 only rewrites the report of the study)",
    )
    p.add_argument(
        "--objective",
        choices=OBJECTIVES,
        help="maximised (default: the study's own, else rankme; a study keeps one objective)",
    )
    p.add_argument(
        "--storage", metavar="URL", help="SQLAlchemy URL (default: sqlite file OUT/study.db)"
    )
    p.add_argument("--study", default="selfsup", help="study name (default: selfsup)")
    p.add_argument("--out", metavar="DIR", default="sweep", help="output folder (default: sweep)")
    p.add_argument(
        "--prune", action="store_true", help="stop poor trials early (Optuna's median pruner)"
    )
    p.add_argument("--seed", type=int, help="seed of the sampler (default: random)")
    p.add_argument("--data-root", metavar="DIR", help="the same as data.root=DIR")
    p.add_argument("--n-samples", type=int, default=512, help="training images the measures use")
    p.add_argument("-v", "--verbose", action="store_true", help="show Lightning's messages")
    p.add_argument(
        "words", nargs="*", metavar="key=value|key=dist(...)", help="overrides and search space"
    )
    return p


def main(argv: list[str]) -> int:
    args = parser().parse_intermixed_args(argv)
    if args.trials < 0:
        raise SelfsupError(f"selfsup sweep: --trials must be >= 0, got {args.trials}")
    if args.n_samples < 4:
        raise SelfsupError(f"selfsup sweep: --n-samples must be >= 4, got {args.n_samples}")
    try:
        import optuna  # noqa: F401
    except ImportError:
        raise SelfsupError("selfsup sweep needs Optuna: pip install 'selfsup[sweep]'") from None
    from selfsup.tune.space import check_space, parse_space

    words = list(args.words) + ([f"data.root={args.data_root}"] if args.data_root else [])
    space = parse_space(words)
    check_space(args.config, space)  # every bound through the schema, before any trial
    return sweep(args, space, words)


def sweep(args: argparse.Namespace, space, words: list[str]) -> int:
    import optuna

    from selfsup.tune import results
    from selfsup.tune.storage import default_storage, fail_dead_trials, mask, open_study
    from selfsup.tune.trial import TrialSettings, run_trial

    out = Path(args.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise SelfsupError(f"cannot create output folder '{out}': {err.strerror}") from None
    url = args.storage or default_storage(out)
    sampler = optuna.samplers.TPESampler(seed=args.seed)
    study = open_study(url, args.study, sampler=sampler)
    failed = fail_dead_trials(study)
    if failed:
        print(f"trials {failed} of a stopped worker marked failed", flush=True)
    if args.prune:
        study.pruner = optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=1)
    objective, words = study_settings(study, args.study, args.objective, words)
    settings = TrialSettings(args.config, space, objective, out, args.prune, args.n_samples)
    try:
        for _ in range(args.trials):
            run_trial(study, settings)
    finally:
        summary = results.summarise(study, objective, mask(url), words)
        results.write(summary, out, study)
    best = summary["best"]
    where = (
        f"best trial {best['number']} ({objective}={best['value']:.4g})"
        if best
        else "no complete trial yet"
    )
    print(
        f"study '{args.study}': {len(summary['trials'])} trials, {where}; wrote {out / 'sweep.md'}"
    )
    return 0


def study_settings(
    study, name: str, objective: str | None, words: list[str]
) -> tuple[str, list[str]]:
    """The objective and the words of the study: stored with it by its first worker, so that a
    later call (another worker, or ``--trials 0`` for the report) needs neither; an objective
    other than the study's is refused, since one study ranks its trials by one number."""
    stored = study.user_attrs.get("objective")
    if stored and objective and objective != stored:
        raise SelfsupError(
            f"study '{name}' maximises {stored}, not {objective}: leave out --objective, or "
            "start another study (--study NAME)"
        )
    objective = objective or stored or "rankme"
    if not stored:
        study.set_user_attr("objective", objective)
    if words and "words" not in study.user_attrs:
        study.set_user_attr("words", list(words))
    return objective, list(words) or list(study.user_attrs.get("words", []))
