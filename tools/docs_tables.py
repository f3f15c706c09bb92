"""Render measurement records (JSON) as the documentation's tables.

A page says where a table goes with a marker on a line of its own::

    <!-- table: benchmarks/results/augment.json -->

and this module, run by MkDocs as a hook (``hooks:`` in ``mkdocs.yml``), replaces it with the
record's table and one line saying what produced it: the command, the machine, the commit and
the date. Re-running the command with ``SELFSUP_BENCH_JSON`` pointing at the file (see
``benchmarks/harness.py``) updates the page. ``python tools/docs_tables.py FILE.json`` prints
the same Markdown.

A record is a JSON object with ``command``, ``machine``, ``commit``, ``date`` (strings),
or the layout a reproduction writes (``git``, ``started``, ``machine`` and ``runs``, from
``selfsup.experiments.meta``), and
``table`` (a list of rows, each an object of cell values) and optionally ``values`` (the
benchmark's final ``key=value`` pairs, shown as a two-column table when ``table`` is empty),
``columns`` (``{key: label}``: which keys to show, in order, and their headings), ``load``
and ``note`` (one line shown under the table).
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

MARKER = re.compile(r"^<!-- table: (?P<path>[^ ]+\.json) -->$", re.M)
ROOT = Path(__file__).resolve().parents[1]


class RecordError(ValueError):
    """A record that cannot be rendered; the message names the file and what is wrong."""


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1e5 else f"{value:,.0f}"
    return str(value).replace("|", "\\|").replace("\n", " ")


def _from_metadata(record: dict) -> dict:
    """A record in the reproductions' layout (``selfsup.experiments.meta.collect``: ``git``,
    ``started``, ``machine`` as a dict, ``runs`` as rows) in this module's layout."""
    out = dict(record)
    git, machine = record.get("git"), record.get("machine")
    if not out.get("commit") and isinstance(git, dict) and git.get("commit"):
        out["commit"] = git["commit"][:7] + ("+dirty" if git.get("dirty") else "")
    if not out.get("date") and isinstance(record.get("started"), str):
        out["date"] = record["started"][:10]
    if isinstance(machine, dict):
        out["machine"] = f"{machine.get('processor', '?')}, {machine.get('cpus', '?')} CPUs, " + (
            f"{machine.get('platform', '')}"
        )
    if not out.get("table") and isinstance(record.get("runs"), list):
        out["table"] = [
            {k: v for k, v in run.items() if isinstance(v, int | float | str)}
            for run in record["runs"]
            if isinstance(run, dict)
        ]
    return out


def load_record(path: Path) -> dict:
    """The record in ``path``, checked for the keys every table needs."""
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise RecordError(f"{path}: not a readable JSON record ({err})") from err
    if not isinstance(record, dict):
        raise RecordError(f"{path}: a record is a JSON object")
    record = _from_metadata(record)
    missing = [k for k in ("command", "machine", "commit", "date") if not record.get(k)]
    if missing:
        raise RecordError(f"{path}: missing {', '.join(missing)}")
    rows = record.get("table") or []
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise RecordError(f"{path}: 'table' must be a list of objects")
    if not rows and not record.get("values"):
        raise RecordError(f"{path}: neither 'table' nor 'values' has anything to show")
    return record


def render(record: dict) -> str:
    """The Markdown table of ``record`` and its provenance line."""
    rows = record.get("table") or [{"quantity": k, "value": v} for k, v in record["values"].items()]
    columns = record.get("columns") or {k: k for row in rows for k in row}
    lines = [
        "| " + " | ".join(columns.values()) + " |",
        "| " + " | ".join("---:" if _numeric(rows, k) else "---" for k in columns) + " |",
    ]
    for row in rows:
        lines.append("| " + " | ".join(_cell(row.get(k)) for k in columns) + " |")
    provenance = (
        f"`{record['command']}` · {record['machine']} · commit `{record['commit']}` · "
        f"{record['date']}"
    )
    lines += ["", f"<small>{provenance}</small>"]
    if record.get("note"):
        lines += ["", f"<small>{record['note']}</small>"]
    return "\n".join(lines)


def _numeric(rows: list[dict], key: str) -> bool:
    values = [r.get(key) for r in rows if r.get(key) is not None]
    return bool(values) and all(isinstance(v, int | float) for v in values)


def expand(markdown: str, root: Path = ROOT) -> str:
    """``markdown`` with every table marker replaced by its rendered record."""
    return MARKER.sub(lambda m: render(load_record(root / m.group("path"))), markdown)


def on_page_markdown(markdown: str, **kwargs: object) -> str:
    """MkDocs hook: render the page's table markers (a bad record fails the build)."""
    return expand(markdown)


def main(argv: list[str]) -> int:
    if not argv:
        print("usage: python tools/docs_tables.py RECORD.json [...]", file=sys.stderr)
        return 2
    try:
        for name in argv:
            print(render(load_record(Path(name))), end="\n\n")
    except RecordError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
