"""Every command in README.md and docs/*.md runs as written, in order, on a fresh clone.

Two checks:

- **parses** (fast, every documented ``selfsup`` command, in code blocks and inline): its
  options exist and its config and values pass the checks ``selfsup`` itself makes, without
  running anything. Synopses with placeholders (``NAME``, ``RUN_DIR``, ``[...]``) are left out.
- **runs**: a code block is run top to bottom by bash in a copy of the working tree (what a
  fresh clone has) at a small budget: ``selfsup train`` lines get :data:`TRAIN_BUDGET` appended
  (overrides may stand anywhere, so the line is otherwise unchanged), ``reproduce NAME --quick``
  runs ``--preset tiny`` where NAME has one (in the default suite only: the docs' own blocks
  analyse the runs ``--quick`` makes), ``analyze`` gets fewer samples. Afterwards nothing
  outside ``runs/`` may have been created or changed. The README's Training block is in the
  default suite; the docs' blocks are ``slow``.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import SHARED_DATA

REPO = Path(__file__).resolve().parents[2]
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
#: appended to every documented ``selfsup train`` line when it is run
TRAIN_BUDGET = [
    "data.train_subset=256",
    "data.test_subset=200",
    "data.batch_size=64",
    "eval.linear_probe=false",
    "trainer.enable_progress_bar=false",
]
ANALYZE_BUDGET = ["--n-samples", "64", "--n-gaussianity", "2", "--n-views", "20"]
#: words that mark a synopsis rather than a command
PLACEHOLDER = re.compile(r"(?<![$A-Za-z])[A-Z]{2,}|\[|\.\.\.|\||<")
WRAPPERS = {"nice": 2, "/usr/bin/time": 2}  # wrapper -> how many words it takes


def fenced_blocks(path: Path) -> list[tuple[int, str]]:
    """``(line number, body)`` of every fenced code block of a markdown file."""
    text = path.read_text()
    return [
        (text[: m.start()].count("\n") + 1, m.group(2))
        for m in re.finditer(r"^```(\w*)\n(.*?)^```", text, re.S | re.M)
    ]


def block_commands(body: str) -> list[str]:
    """The shell lines of a block: continuations joined, comments and blank lines dropped."""
    joined = re.sub(r"\\\n\s*", " ", body)
    out, pending = [], ""
    for line in joined.splitlines():
        if pending:  # inside a quoted argument that spans lines (python -c "...")
            pending += "\n" + line
            if pending.count('"') % 2 == 0:
                out.append(pending)
                pending = ""
            continue
        line = re.sub(r"\s+#.*$", "", line).strip()
        if line.count('"') % 2:
            pending = line
        elif line and not line.startswith("#"):
            out.append(line)
    return out


def selfsup_words(command: str) -> list[str] | None:
    """The words after ``selfsup`` (env assignments and nice / time wrappers skipped), or
    ``None`` for another program."""
    try:
        words = shlex.split(command)
    except ValueError:  # prose in a block (an apostrophe), not a shell line
        return None
    while words and re.match(r"^[A-Z_]+=", words[0]):
        words = words[1:]
    while words and words[0] in WRAPPERS:
        words = words[1 + WRAPPERS[words[0]] :] if words[0] == "nice" else words[3:]
    if words and words[0] == "selfsup":
        return words[1:]
    return None


def documented_commands() -> list[tuple[str, str]]:
    """``(where, command)`` for every documented ``selfsup`` command without placeholders."""
    found = []
    for path in DOCS:
        text = path.read_text()
        for line, body in fenced_blocks(path):
            for command in block_commands(body):
                found.append((f"{path.name}:{line}", command))
        for m in re.finditer(r"`((?:[A-Z_]+=\S+ )*selfsup [^`]+)`", text):
            words = m.group(1).split()
            if len(words) <= 2 or words[-1].startswith("--"):
                continue  # a mention of a command or an option in the text, not a command
            command = " ".join(words)
            found.append((f"{path.name}:{text[: m.start()].count(chr(10)) + 1}", command))
    out = []
    for where, command in found:
        if selfsup_words(command) is None or PLACEHOLDER.search(command.split("selfsup", 1)[1]):
            continue
        out.append((where, command))
    return out


def check_parses(words: list[str]) -> None:
    """Parse a ``selfsup`` command line as ``selfsup`` would, and check its config / options
    (raises ``SelfsupError``), without running it."""
    from selfsup import cli
    from selfsup.config import load_config
    from selfsup.experiments import command as reproduce
    from selfsup.experiments import load

    words = [w for w in words if w not in ("-v", "--verbose", "--debug")]
    if "-h" in words or "--help" in words or "--version" in words:
        assert cli.main(words) == 0, words
        return
    name, rest = words[0], words[1:]
    if name == "train":
        args = cli._train_parser().parse_intermixed_args(rest)
        overrides = [*args.overrides] + ([f"data.root={args.data_root}"] if args.data_root else [])
        if not args.resume:
            load_config(args.config, overrides)
    elif name == "eval":
        cli._eval_parser().parse_intermixed_args(rest)
    elif name == "analyze":
        from selfsup.experiments import analyze

        analyze._parser().parse_args(cli._run_dir_as_positional(rest))
    elif name == "reproduce":
        if rest and rest[0] not in ("--list", "-h", "--help"):
            experiment = load(rest[0])
            parser = reproduce.parser(experiment, f"selfsup reproduce {rest[0]}")
            reproduce.resolve(experiment, parser.parse_args(rest[1:]))
    elif name == "dynamics":
        from selfsup.experiments import dynamics

        parser = reproduce.parser(dynamics.EXPERIMENT, "selfsup dynamics")
        reproduce.resolve(dynamics.EXPERIMENT, parser.parse_args(["--experiments", *rest]))
    elif name == "export":
        from selfsup import export

        export.parser().parse_args(rest)
    else:
        raise AssertionError(f"unknown command {name}")


COMMANDS = documented_commands()


def test_the_docs_have_commands():
    assert len(COMMANDS) > 30
    assert any("reproduce simvae" in c and "--steps" not in c for _, c in COMMANDS)


@pytest.mark.parametrize("where, command", COMMANDS, ids=[f"{w} {c}"[:90] for w, c in COMMANDS])
def test_every_documented_command_parses(where, command):
    check_parses(selfsup_words(command))


def with_budget(command: str, tiny_reproductions: bool = True) -> str:
    """The command at the test's small budget (see the module docstring)."""
    words = selfsup_words(command)
    if words is None:
        return command
    if words[:1] == ["train"]:
        epochs = [] if "trainer.max_epochs=" in command else ["trainer.max_epochs=2"]
        extra = TRAIN_BUDGET + epochs
        return f"{command} {' '.join(extra)}"
    if words[:1] == ["analyze"]:
        return f"{command} {' '.join(ANALYZE_BUDGET)}"
    if words[:1] == ["reproduce"] and "--quick" in words and tiny_reproductions:
        from selfsup.experiments import load

        if "tiny" in load(words[1]).presets:
            return command.replace("--quick", "--preset tiny")
    return command


def fresh_clone(tmp_path: Path) -> Path:
    """The working tree's tracked and unignored files (a clone with the current changes)."""
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\0")
    clone = tmp_path / "selfsup"
    for name in filter(None, listed):
        source = REPO / name
        if source.is_file():
            (clone / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, clone / name)
    return clone


def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    return {
        str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in root.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }


def run_block(commands: list[str], tmp_path: Path, timeout: float, tiny: bool = True) -> Path:
    """Run ``commands`` by bash, in order, in a fresh clone; the clone. ``tiny``: reproductions
    run their ``tiny`` preset instead of ``--quick``."""
    clone = fresh_clone(tmp_path)
    # the docs record the exact commands behind their numbers, which name this workspace's
    # data folder as ../shared/data: beside the clone, it is the tests' data folder
    if SHARED_DATA.is_dir():
        (tmp_path / "shared").mkdir()
        (tmp_path / "shared" / "data").symlink_to(SHARED_DATA)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "selfsup").write_text(f'#!/bin/sh\nexec "{sys.executable}" -m selfsup.cli "$@"\n')
    (bin_dir / "selfsup").chmod(0o755)
    (bin_dir / "python").symlink_to(sys.executable)
    script = "\n".join(with_budget(c, tiny) for c in commands)
    script = f"set -euo pipefail\n{script}\n"
    env = {
        **os.environ,
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "PYTHONPATH": str(clone / "src"),
        "SELFSUP_DATA": str(SHARED_DATA),
    }
    env.pop("SELFSUP_VERBOSE", None)
    before = snapshot(clone)
    done = subprocess.run(
        ["bash", "-c", script], cwd=clone, env=env, capture_output=True, text=True, timeout=timeout
    )
    assert done.returncode == 0, f"{script}\n--- stderr:\n{done.stderr[-3000:]}"
    after = snapshot(clone)
    outside = sorted(
        name
        for name, stamp in after.items()
        if not name.startswith("runs/") and before.get(name) != stamp
    )
    assert outside == [], f"documented commands wrote outside runs/: {outside}"
    return clone


def readme_training_block() -> list[str]:
    text = (REPO / "README.md").read_text()
    section = text[text.index("## Training") :]
    body = re.search(r"```bash\n(.*?)```", section, re.S).group(1)
    return block_commands(body)


@pytest.fixture
def mnist_present(mnist_root):
    return mnist_root


@pytest.mark.slow  # ~4 minutes on 2 cores: outside the default suite's 10-minute budget
def test_readme_training_block_runs_in_order(mnist_present, tmp_path):
    commands = readme_training_block()
    assert any("--resume" in c for c in commands)
    clone = run_block(commands, tmp_path, timeout=1200)
    assert (clone / "runs" / "my-run" / "analysis" / "report.md").is_file()
    assert (clone / "runs" / "reproduce-infomax" / "report.md").is_file()


def _doc_blocks() -> list[tuple[str, list[str]]]:
    """The docs' code blocks whose commands are all runnable (no synopsis, no install)."""
    blocks = []
    for path in DOCS[1:]:
        for line, body in fenced_blocks(path):
            commands = block_commands(body)
            runnable = [
                c
                for c in commands
                if (selfsup_words(c) is not None or c.startswith("python benchmarks/"))
                and not PLACEHOLDER.search(c.split(maxsplit=1)[-1])
            ]
            if commands and runnable == commands:
                blocks.append((f"{path.name}:{line}", commands))
    return blocks


@pytest.mark.slow
def test_every_documented_block_runs_in_order(mnist_present, tmp_path):
    """The README's Training block, then every runnable block of docs/*.md in file order, in
    one clone (the docs' blocks use the runs the README made, e.g. runs/my-run)."""
    commands = readme_training_block()
    for _, block in _doc_blocks():
        commands += block
    run_block(commands, tmp_path, timeout=4 * 3600, tiny=False)
