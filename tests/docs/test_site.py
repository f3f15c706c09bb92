"""The documentation site: its tables render from the measurement records, every record says
what produced it, every page is in the navigation, and no page points outside the repository.

``mkdocs build --strict`` itself (broken links, missing API references, docstring errors) runs
in CI (``.ci/run``) and in :func:`test_the_site_builds_strict` when MkDocs is installed (the
``docs`` extra; slow).
"""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.docs.test_documented_commands import DOCS, PLACEHOLDER, check_parses, selfsup_words

REPO = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("docs_tables", REPO / "tools" / "docs_tables.py")
docs_tables = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(docs_tables)

RECORDS = sorted((REPO / "benchmarks" / "results").glob("*.json"))
MARKERS = [
    (page, m.group("path")) for page in DOCS for m in docs_tables.MARKER.finditer(page.read_text())
]


def test_every_table_marker_names_a_record_that_renders():
    assert len(MARKERS) >= 10
    for page, path in MARKERS:
        table = docs_tables.render(docs_tables.load_record(REPO / path))
        header, rule, *rows = table.split("\n\n")[0].splitlines()
        assert _bars(header) == _bars(rule), (page.name, path)
        assert rows and all(_bars(row) == _bars(header) for row in rows), (page, path)


def _bars(row: str) -> int:
    """Cell separators of a Markdown table row (a ``\\|`` inside a cell is text)."""
    return len(re.findall(r"(?<!\\)\|", row))


def test_every_record_is_shown_and_says_what_produced_it():
    shown = {path for _, path in MARKERS}
    for record in RECORDS:
        name = str(record.relative_to(REPO))
        assert name in shown, f"{name} is rendered by no page: add its marker or remove it"
        data = docs_tables.load_record(record)
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", data["date"]), name
        assert re.fullmatch(r"[0-9a-f]{7,40}(\+dirty)?", data["commit"]), name
        assert data["command"].split()[0] in ("python", "selfsup"), name
        words = selfsup_words(data["command"])
        if words is not None and not PLACEHOLDER.search(" ".join(words)):
            check_parses(words)  # the command behind a table runs as written


def test_the_renderer_shows_columns_values_and_provenance(tmp_path):
    record = {
        "command": "python benchmarks/x.py --quick",
        "machine": "a test machine",
        "commit": "abc1234",
        "date": "2026-01-02",
        "columns": {"size": "size (px)", "ratio": "ratio"},
        "table": [{"size": 32, "ratio": 15.2161, "ignored": 1}, {"size": 96, "ratio": None}],
        "note": "a note",
    }
    (tmp_path / "r.json").write_text(json.dumps(record))
    page = docs_tables.expand("before\n<!-- table: r.json -->\nafter", root=tmp_path)
    lines = page.splitlines()
    assert lines[0] == "before" and lines[-1] == "after"
    assert lines[1] == "| size (px) | ratio |"
    assert lines[2] == "| ---: | ---: |"
    assert lines[3] == "| 32 | 15.22 |"
    assert lines[4] == "| 96 |  |"
    assert (
        "`python benchmarks/x.py --quick` · a test machine · commit `abc1234` · 2026-01-02" in page
    )
    assert "a note" in page
    # a record with only the final key=value pairs renders them as a two-column table
    del record["table"], record["columns"]
    record["values"] = {"ratio_32": 15.2}
    (tmp_path / "r.json").write_text(json.dumps(record))
    assert "| ratio_32 | 15.2 |" in docs_tables.expand("<!-- table: r.json -->", root=tmp_path)


def test_a_reproduction_style_record_renders_too(tmp_path):
    """The layout ``selfsup.experiments.meta`` gives a reproduction's or a script's results."""
    record = {
        "command": "python benchmarks/q.py",
        "started": "2026-01-02T03:04:05+0000",
        "git": {"commit": "0123456789abcdef", "dirty": True},
        "machine": {"processor": "x86_64", "cpus": 2, "platform": "Linux"},
        "runs": [{"seed": 0, "knn_top1": 0.5, "printed": ["a line"]}],
    }
    (tmp_path / "q.json").write_text(json.dumps(record))
    page = docs_tables.expand("<!-- table: q.json -->", root=tmp_path)
    assert "| seed | knn_top1 |" in page and "| 0 | 0.5 |" in page  # lists are left out
    assert "commit `0123456+dirty` · 2026-01-02" in page and "x86_64, 2 CPUs" in page


@pytest.mark.parametrize(
    "record, message",
    [
        ("not json", "not a readable JSON record"),
        ("[1, 2]", "a record is a JSON object"),
        ('{"command": "x", "machine": "m", "commit": "c"}', "missing date"),
        ('{"command": "x", "machine": "m", "commit": "c", "date": "d"}', "anything to show"),
        ('{"command": "x", "machine": "m", "commit": "c", "date": "d", "table": [1]}', "list of"),
    ],
)
def test_a_bad_record_fails_with_its_name(tmp_path, record, message):
    (tmp_path / "bad.json").write_text(record)
    with pytest.raises(docs_tables.RecordError, match=message) as err:
        docs_tables.expand("<!-- table: bad.json -->", root=tmp_path)
    assert "bad.json" in str(err.value)
    done = subprocess.run(
        [sys.executable, str(REPO / "tools" / "docs_tables.py"), str(tmp_path / "bad.json")],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2 and done.stderr.startswith("error: ")


def test_every_public_name_has_its_api_entry():
    """An API page either renders a whole module or lists its public names one by one (grouped
    for readers); a listed page must keep up with ``__all__``."""
    import importlib

    checked = 0
    for page in sorted((REPO / "docs" / "api").glob("*.md")):
        listed: dict[str, set[str]] = {}
        for module, name in re.findall(r"^::: (selfsup\.\w+)\.(\w+)$", page.read_text(), re.M):
            listed.setdefault(module, set()).add(name)
        for module, names in listed.items():
            public = set(getattr(importlib.import_module(module), "__all__", ()))
            if len(names) > 1:  # a page of the module's names, not one function of it
                assert public <= names, f"{page.name} leaves out {sorted(public - names)}"
                checked += 1
    assert checked >= 2


def test_every_page_is_in_the_navigation():
    import yaml

    nav = json.dumps(yaml.safe_load((REPO / "mkdocs.yml").read_text())["nav"])
    pages = [p.relative_to(REPO / "docs").as_posix() for p in (REPO / "docs").rglob("*.md")]
    assert [p for p in pages if f'"{p}"' not in nav] == []


def test_no_page_points_outside_the_repository():
    outside = re.compile(r"\.\./shared|/work/|\]\(\.\./\.\./|\]\(/(?!/)")
    found = [
        f"{page.relative_to(REPO)}:{n}"
        for page in DOCS
        for n, line in enumerate(page.read_text().splitlines(), 1)
        if outside.search(line)
    ]
    assert found == []


#: how the project was built, which the product never says (the history is in CHANGELOG.md)
HISTORY = re.compile(
    r"\bsessions?\b|\bissues? #?[0-9]|#[0-9]{2}|\b20[0-9]{2}-[0-9]{2}-[0-9]{2}\b|load average"
    r"|quiet machine|\bthis machine\b",
    re.I,
)


def test_the_product_tells_no_history():
    """README, docs and the sources speak to users: no issue numbers, sessions, dates, loads
    or one machine's timings (a record in benchmarks/results/ carries those, as data)."""
    sources = sorted((REPO / "src").rglob("*.py"))
    found = [
        f"{path.relative_to(REPO)}:{n}: {line.strip()[:80]}"
        for path in [*DOCS, *sources]
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if HISTORY.search(line)
        and "loadavg" not in line  # a report's own run metadata
        and not line.startswith("<small>")  # a table's provenance: machine, commit, date
    ]
    assert found == []


@pytest.mark.slow
def test_the_site_builds_strict(tmp_path):
    """``mkdocs build --strict``: broken links, missing API references and docstrings that do
    not parse fail it (CI runs the same line in .ci/run)."""
    if shutil.which("mkdocs") is None:
        pytest.skip("MkDocs is not installed (pip install -e '.[docs]')")
    done = subprocess.run(
        ["mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=REPO,
        capture_output=True,
        text=True,
        env={**__import__("os").environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    site = tmp_path / "site"
    for page, name in [
        ("losses", "selfsup.losses.vicreg_loss"),
        ("info", "selfsup.info.rankme"),
        ("info", "selfsup.info.knn_entropy"),
        ("encoder", "selfsup.encoder.load_encoder"),
    ]:
        html = (site / "api" / page / "index.html").read_text()
        assert f'id="{name}"' in html, (page, name)  # rendered from its docstring
    assert ":func:<code>" not in (site / "api" / "losses" / "index.html").read_text()
    # a table rendered from its record, with its provenance line
    assert "commit <code>1eb6add</code>" in (site / "benchmarks" / "index.html").read_text()
