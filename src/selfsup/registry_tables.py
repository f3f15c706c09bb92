"""The docs' tables of built-in methods, backbones, datasets and view presets, rendered from the
registry: ``python -m selfsup.registry_tables docs/extending.md`` rewrites the text between each
``<!-- registry:KIND -->`` and ``<!-- /registry:KIND -->`` pair; ``--check`` only reports the
tables that differ (the tests run it)."""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from selfsup import registry


def _value(default: object) -> str:
    return "required" if default is registry.REQUIRED else repr(default).replace("|", "\\|")


def _params(entry: registry.Entry) -> str:
    shown = [f"`{p.name}={_value(p.default)}`" for p in entry.params]
    if entry.open_params:
        shown.append("and what it passes on")
    return ", ".join(shown) or "none"


def render(kind: str) -> str:
    """The Markdown table of the built-in ``kind`` entries."""
    rows = []
    for name, entry in registry.entries(kind).items():
        if entry.plugin is not None:
            continue
        where = f"`{entry.target}`"
        if "alias_of" in entry.meta:
            where = f"another name of `{entry.meta['alias_of']}`"
        if kind == "views":
            rows.append(f"| `{name}` | {where} |")
        elif kind == "dataset":
            meta = entry.meta
            shape = "x".join(map(str, meta["shape"])) if meta.get("shape") else "from its params"
            views = f"`{meta['views']}`" if meta.get("views") else "the config's"
            rows.append(f"| `{name}` | {where} | {views} | {shape} | {_params(entry)} |")
        else:
            rows.append(f"| `{name}` | {where} | {_params(entry)} |")
    columns = {
        "method": ["`method.name`", "defined in", "`method.params` (defaults)"],
        "backbone": ["`backbone.name`", "defined in", "`backbone.params` (defaults)"],
        "dataset": ["`data.name`", "defined in", "`data.views`", "image shape", "`data.params`"],
        "views": ["`data.views`", "defined in"],
    }[kind]
    head = "| " + " | ".join(columns) + " |\n|" + "---|" * len(columns)
    return head + "\n" + "\n".join(rows)


def _pattern(kind: str) -> re.Pattern:
    return re.compile(rf"(<!-- registry:{kind} -->)(.*?)(<!-- /registry:{kind} -->)", re.S)


def check_docs(path: Path) -> list[str]:
    """The kinds whose table in ``path`` is missing or differs from :func:`render`."""
    text = Path(path).read_text(encoding="utf-8")
    stale = []
    for kind in registry.KINDS:
        found = _pattern(kind).search(text)
        if found is None or found.group(2) != f"\n{render(kind)}\n":
            stale.append(kind)
    return stale


def write_docs(path: Path) -> None:
    text = Path(path).read_text(encoding="utf-8")
    for kind in registry.KINDS:
        fresh = f"\n{render(kind)}\n"
        text = _pattern(kind).sub(lambda m, new=fresh: m.group(1) + new + m.group(3), text)
    Path(path).write_text(text, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--check", action="store_true", help="report stale tables, write nothing")
    args = parser.parse_args(argv)
    stale = {str(f): check_docs(f) for f in args.files}
    if args.check:
        for file, kinds in stale.items():
            for kind in kinds:
                print(f"{file}: the {kind} table differs from the registry", file=sys.stderr)
        return int(any(stale.values()))
    for file in args.files:
        write_docs(file)
    return 0


if __name__ == "__main__":
    sys.exit(main())
