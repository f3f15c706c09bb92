"""Compare a reproduction's numbers before the framework (commit 2e2f1fb) and after it.

    python -m tests.experiments.before_after dynamics OLD_OUT NEW_OUT
    python -m tests.experiments.before_after infomax OLD_OUT NEW_OUT
    python -m tests.experiments.before_after simvae OLD_OUT NEW_OUT
    python -m tests.experiments.before_after simvae-runs OLD_OUT NEW_OUT   (finished runs only)

``OLD_OUT`` / ``NEW_OUT`` are the ``--out`` folders of the same ``--quick`` command (same seeds)
run on each commit. Every number is compared except timings and metadata; the claims are
compared by verdict (their shape changed: sentences -> objects). Prints one line per
difference and a summary; exit code 0 when nothing but the listed exceptions differs.
"""

from __future__ import annotations

import json
import math
import re
import sys
from pathlib import Path

TIMING = {"train_seconds", "wall_seconds", "seconds", "wall_s", "run_dir", "pictures"}


def flatten(value, prefix: str = "") -> dict[str, object]:
    """``{"a/b/0": leaf}`` for nested dicts and lists; timing keys dropped."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if k not in TIMING:
                out.update(flatten(v, f"{prefix}/{k}" if prefix else str(k)))
        return out
    if isinstance(value, list):
        out = {}
        for i, v in enumerate(value):
            out.update(flatten(v, f"{prefix}/{i}"))
        return out
    return {prefix: value}


def diff(old, new, where: str) -> tuple[int, list[str]]:
    """``(number of leaves compared, differences)``; floats must be equal bit for bit."""
    a, b = flatten(old), flatten(new)
    lines = [f"{where}: only before: {k}" for k in sorted(set(a) - set(b))]
    lines += [f"{where}: only after: {k}" for k in sorted(set(b) - set(a))]
    for k in sorted(set(a) & set(b)):
        x, y = a[k], b[k]
        same = x == y or (
            isinstance(x, float) and isinstance(y, float) and math.isnan(x) and math.isnan(y)
        )
        if not same:
            lines.append(f"{where}: {k}: {x!r} -> {y!r}")
    return len(set(a) & set(b)), lines


def load(path: Path):
    return json.loads(path.read_text())


def dynamics(old_out: Path, new_out: Path) -> tuple[int, list[str]]:
    old, new = load(old_out / "results.json"), load(new_out / "results.json")
    n, lines = 0, []
    for part in ("collapse", "exact", "contrastive", "width", "mnist"):
        k, d = diff(old[part], new["summary"]["0"][part], part)
        n, lines = n + k, lines + d
    before = {c["claim"]: c for c in old["claims"]}
    after: dict[str, list] = {}
    for c in new["claims"]:
        after.setdefault(c["claim"], []).append(c)
    for claim, c in before.items():
        verdicts = [x["holds"] for x in after.get(claim, [])]
        n += 1
        if not verdicts:
            lines.append(f"claim missing after: {claim}")
        elif all(verdicts) != c["holds"] or (len(set(verdicts)) > 1) != c.get("partial", False):
            lines.append(f"claim verdict moved: {claim}: {c} -> {verdicts}")
    return n, lines


def infomax(old_out: Path, new_out: Path) -> tuple[int, list[str]]:
    old, new = load(old_out / "results.json"), load(new_out / "results.json")
    n, lines = diff(old["summary"], new["summary"], "summary")
    for dataset, by_method in old["runs"].items():
        for method, runs in by_method.items():
            for seed, metrics in zip(old["seeds"], runs, strict=True):
                key = f"{dataset}-{method}-s{seed}"
                result = load(new_out / "runs" / key / "result.json")["result"]
                k, d = diff(metrics, result["metrics"], f"{key} metrics")
                n, lines = n + k, lines + d
                history = load(old_out / "runs" / key / "info_tracking.json")
                k, d = diff(history, result["history"], f"{key} history")
                n, lines = n + k, lines + d
    # claims: every number-bearing phrase of the new evidence appears in the old sentences
    old_text = " ".join(old["claims"])
    for c in new["claims"]:
        n += 1
        if c["claim"].startswith("The information-theoretic variants"):
            for part in c["evidence"].split("; "):
                if part not in old_text:
                    lines.append(f"variant comparison not in the old claims: {part}")
        gaussian = re.search(
            rf"{c['regime']}: Gaussian outputs under augmentation: (\w+ ?\w*)", old_text
        )
        if c["claim"].startswith("Projector outputs are Gaussian"):
            if gaussian is None:
                lines.append(f"no Gaussian verdict for {c['regime']} in the old claims")
            elif (gaussian.group(1) == "holds") != c["holds"]:
                lines.append(f"Gaussian verdict moved: {gaussian.group(1)} -> {c['holds']}")
    return n, lines


def simvae(old_out: Path, new_out: Path) -> tuple[int, list[str]]:
    old_means = load(old_out / "results.json")
    detail = load(old_out / "results_detail.json")
    new = load(new_out / "results.json")
    n, lines = 0, []
    for d, by_method in detail.items():
        for m, info in by_method.items():
            after = new["summary"][d][m]
            headline = {k: after["mean"].get(k) for k in old_means[d][m]}
            for name, a, b in (
                ("headline means", old_means[d][m], headline),
                ("mean", info["mean"], after["mean"]),
                ("std", info["std"], after["std"]),
                ("runs", info["runs"], after["runs"]),
                ("errors", info["errors"], after["errors"]),
            ):
                k, dd = diff(a, b, f"{d}/{m} {name}")
                n, lines = n + k, lines + dd
    old_report = (old_out / "report.md").read_text()
    for c in new["claims"]:
        n += 1
        rival = (
            next((k for k in c["ours"] if k != "simvae"), None)
            if isinstance(c["ours"], dict)
            else None
        )
        if rival is None:
            continue
        pattern = rf"SimVAE [\d.± -]+ (beats|does NOT beat) {'VAE' if rival == 'vae' else rival} "
        found = re.search(pattern, old_report)
        if found is None or (found.group(1) == "beats") != c["holds"]:
            lines.append(f"claim verdict moved or missing: {c['claim']}")
    return n, lines


def simvae_runs(old_out: Path, new_out: Path) -> tuple[int, list[str]]:
    """Run by run, for the runs the new ``OUT/runs`` holds so far (a command still going, or
    stopped): each against the old ``results_detail.json`` entry of its dataset, method, seed."""
    detail = load(old_out / "results_detail.json")
    n, lines, finished = 0, [], 0
    for path in sorted((new_out / "runs").glob("*/result.json")):
        record = load(path)
        args = record["args"]
        old_runs = detail[args["dataset"]][args["method"]]["runs"]
        k, d = diff(old_runs[args["seed"]], record["result"], record["key"])
        n, lines, finished = n + k, lines + d, finished + 1
    if not finished:
        lines.append(f"no finished run under {new_out / 'runs'}")
    print(f"simvae-runs: {finished} finished runs compared")
    return n, lines


def main(argv: list[str]) -> int:
    name, old_out, new_out = argv[0], Path(argv[1]), Path(argv[2])
    compared, lines = {
        "dynamics": dynamics,
        "infomax": infomax,
        "simvae": simvae,
        "simvae-runs": simvae_runs,
    }[name](old_out, new_out)
    for line in lines:
        print(line)
    print(f"{name}: {compared} values compared, {len(lines)} differences")
    return 0 if not lines else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
