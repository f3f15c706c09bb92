"""The one report writer: ``results.json`` (claims as a list of objects) and ``report.md``."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from selfsup.experiments.claims import Claim, claims_table, verdict
from selfsup.experiments.runner import dumps


def pyplot() -> Any:
    """``matplotlib.pyplot`` on the file-only Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig: Any, path: Path, dpi: int = 110) -> str:
    """Save a matplotlib figure as PNG, close it, return the file name."""
    plt = pyplot()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path.name


def image(path: Path | str, out: Path, caption: str = "") -> str:
    """Markdown image of ``path`` linked relative to the report in ``out``."""
    rel = os.path.relpath(Path(path), out)
    return f"![{caption or Path(path).stem}]({Path(rel).as_posix()})"


def figures_under(out: Path) -> list[str]:
    """Every PNG a reproduction wrote, relative to its folder."""
    return sorted(p.relative_to(out).as_posix() for p in out.rglob("*.png"))


def write(out: Path, record: dict, claims: Sequence[Claim], sections: list[str]) -> None:
    """``out/results.json`` (``record`` plus ``claims`` and ``figures``) and ``out/report.md``."""
    record = {**record, "claims": [c.to_dict() for c in claims], "figures": figures_under(out)}
    (out / "results.json").write_text(dumps(record))
    (out / "report.md").write_text("\n".join(_header(record) + sections) + "\n")


def _header(record: dict) -> list[str]:
    meta, timing = record["meta"], record["timing_s"]
    git = meta["git"]
    commit = (git["commit"] or "unknown")[:10] + (" (uncommitted changes)" if git["dirty"] else "")
    v = meta["versions"]
    lines = [
        f"# {record['title']}",
        "",
        f"Paper: {record['paper']}.  ",
        f"Command: `{meta['command']}`  ",
        f"Preset `{record['preset']}`, seeds {record['seeds']}, {len(record['runs'])} runs "
        f"({sum(r['reused'] for r in record['runs'].values())} reused) on "
        f"{meta['workers']} worker(s) x {meta['threads']} torch thread(s); wall time "
        f"{timing['total']:.1f} s; 1-min load average {meta['loadavg_1min_start']} at the "
        f"start, {meta['loadavg_1min_end']} at the end.  ",
        f"Code {commit}; Python {v['python']}, torch {v['torch']}; {meta['machine']['platform']}, "
        f"{meta['machine']['cpus']} CPUs.",
        "",
    ]
    if record["skipped"]:
        lines += [f"- skipped {what}: {why}" for what, why in record["skipped"].items()] + [""]
    lines += ["## Claims", "", *claims_table([Claim.from_dict(c) for c in record["claims"]]), ""]
    return lines


def print_claims(claims: Sequence[Claim]) -> None:
    for c in claims:
        regime = f" [{c.regime}]" if c.regime else ""
        print(f"{verdict(c)}: {c.claim}{regime}")
