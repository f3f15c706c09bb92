"""Every command and python block in README.md and docs/ runs as written, in order, on a
fresh clone.

What runs where:

- **default suite** (CI, seconds): every documented ``selfsup`` command (in code blocks and
  inline) *parses*: its options exist and its config and values pass the checks ``selfsup``
  itself makes, without running it (synopses with placeholders such as ``NAME``, ``RUN_DIR``,
  ``[...]`` are left out). Every *shell block* (a code block with a command in it) is either
  run by the slow check below or listed in :data:`NOT_RUN` with the reason, and every entry of
  :data:`NOT_RUN` names a block that exists. Every ``python`` block compiles, and binds every
  name it uses unless :data:`PYTHON_NOT_RUN` says why it is a fragment.
- **slow** (``python -m pytest -q -m slow tests/docs -p no:cacheprovider``): the README's
  blocks, then every runnable shell and python block of ``docs/`` in the site's order
  (``mkdocs.yml``), run top to bottom by bash in *one* copy of the working tree (what a fresh
  clone has; a guide's blocks use the runs an earlier page made, e.g. ``runs/my-run``), with
  MNIST from ``$SELFSUP_DATA``; afterwards nothing outside ``runs/`` may have been created or
  changed. A command an earlier one already covered (an exact repeat, or the same command with
  other option values, :func:`drop_repeated_variants`) is not run again. It prints each
  block's wall and CPU time (``-s`` shows them).

Each command runs as written at a small budget (the README says which, below its install
lines): ``selfsup train`` lines get :data:`TRAIN_BUDGET` appended (overrides may stand anywhere
and the last one wins, so the line is otherwise unchanged) and at most :data:`MAX_EPOCHS`
epochs, ``analyze`` fewer samples
(:data:`ANALYZE_BUDGET`), a reproduction's ``--quick`` smaller sizes
(:data:`SMALL_REPRODUCTIONS`), and a ``cp`` that refreshes a figure in ``docs/img/`` copies it
to ``runs/docs-img/`` instead (the figure is made and checked to exist; the tracked PNG is left
alone).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import SHARED_DATA
from tests.plugin_helpers import registry_restored

REPO = Path(__file__).resolve().parents[2]


def site_order() -> list[Path]:
    """The pages of docs/ in the order of the site's navigation (``mkdocs.yml``), then any page
    the navigation leaves out, by name: the order a reader follows, so a guide's blocks can use
    the runs an earlier page made (getting_started.md makes ``runs/my-run``)."""
    import yaml

    def walk(node) -> list[str]:
        if isinstance(node, str):
            return [node] if node.endswith(".md") else []
        if isinstance(node, list):
            return [page for item in node for page in walk(item)]
        if isinstance(node, dict):
            return [page for value in node.values() for page in walk(value)]
        return []

    docs = REPO / "docs"
    config = (
        yaml.safe_load((REPO / "mkdocs.yml").read_text()) if (REPO / "mkdocs.yml").is_file() else {}
    )
    ordered = [docs / page for page in walk(config.get("nav", []))]
    rest = sorted(set(docs.rglob("*.md")) - set(ordered))
    return [page for page in ordered + rest if page.is_file()]


DOCS = [REPO / "README.md", *site_order()]


def doc_name(path: Path) -> str:
    """``README.md``, or the page's path under docs/ (``your_data.md``, ``theory/simvae.md``)."""
    return path.name if path.parent == REPO else str(path.relative_to(REPO / "docs"))


#: appended to every documented ``selfsup train`` line when it is run
TRAIN_BUDGET = [
    "data.train_subset=256",
    "data.test_subset=200",
    "data.batch_size=64",
    "eval.linear_probe=false",
    "trainer.enable_progress_bar=false",
]
#: a documented ``trainer.max_epochs`` above this runs this many (the README resumes 5 -> 8)
MAX_EPOCHS = 8
ANALYZE_BUDGET = [
    "--n-samples",
    "64",
    "--n-gaussianity",
    "2",
    "--n-views",
    "20",
    "--n-resamples",
    "20",
]
#: a documented reproduction's ``--quick`` in the full check: ``(what --quick becomes, words
#: appended at the end)``; the run keys and output files stay those of the documented command
#: (MNIST stays MNIST, so later blocks find the runs they analyse)
SMALL_REPRODUCTIONS = {
    "infomax": (
        "--quick",
        "--seeds 1 --epochs 1 --n-train 512 --n-test 256 --n-gaussianity 1 --n-views 20 "
        "--noise-levels 1e-4,0.3",
    ),
    "dynamics": ("--preset tiny", ""),
    "rankme": ("--quick", "--trials 3 --epochs 1 --n-train 300 --n-test 100 --n-samples 64"),
    "simvae": (
        "--quick",
        "--seeds 1 --workers 1 --budget 4 --curve-from 2 --batch-size 16 --widths 8,16 "
        "--hidden 32,16 --shapes-size 64,40",
    ),
}
#: shell blocks the full check does not run: ``(file, text in the block) -> why``
NOT_RUN = {
    ("README.md", "pip install"): "installs into a new virtual environment (needs the network "
    "and would change the environment the test runs in); CI's .ci/run runs this line",
    ("dynamics.md", "selfsup dynamics EXPERIMENT"): "a synopsis (placeholders), not a command",
    ("lens.md", "selfsup analyze RUN_DIR"): "a synopsis (placeholders), not a command; "
    "lens.md's example blocks run the same forms",
    ("index.md", "pip install"): "installs into a new virtual environment, as the README's "
    "first line (CI's .ci/run runs that one)",
    ("getting_started.md", "pip install"): "installs into a new virtual environment, as the "
    "README's first line (CI's .ci/run runs that one)",
    ("benchmarks.md", "SELFSUP_BENCH_JSON"): "a benchmark against lightly (minutes, the bench "
    "extra) that rewrites a tracked record; tests/benchmarks checks the record it writes",
    ("your_data.md", "torchrun --nnodes=2"): "needs 4 devices on each of 2 nodes; "
    "tests/train/test_multinode.py runs 2 nodes x 1 process through torchrun's rendezvous (slow)",
    ("your_data.md", "srun selfsup"): "needs a SLURM cluster",
    ("tuning.md", "postgresql://"): "needs a PostgreSQL server; tests/tune runs two workers on "
    "one SQLite study, the same code path with another SQLAlchemy URL",
}
#: python blocks the full check does not run: ``(file, text in the block) -> why``
PYTHON_NOT_RUN = {
    ("simvae.md", "terms = simvae_elbo(x, x_logits"): "a synopsis of the API's signatures; "
    "tests/losses/test_simvae_losses.py runs every function on real tensors",
}
#: words that mark a synopsis rather than a command
PLACEHOLDER = re.compile(r"(?<![$A-Za-z])[A-Z]{2,}|\[|\.\.\.|\||<")
WRAPPERS = {"nice": 2, "/usr/bin/time": 2}  # wrapper -> how many words it takes
#: programs that make a code block a shell block; the full check runs those in RUNNABLE
PROGRAMS = {"selfsup", "python", "python3.11", "pip", "cp", "export", "torchrun", "srun", "wait"}
RUNNABLE = {"selfsup", "python", "cp", "export", "wait"}


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


def program_words(command: str) -> list[str]:
    """The program and its words (env assignments and nice / time wrappers skipped); ``[]``
    for prose in a block (an unbalanced apostrophe)."""
    try:
        words = shlex.split(command)
    except ValueError:
        return []
    while words and re.match(r"^[A-Z_]+=", words[0]):
        words = words[1:]
    while words and words[0] in WRAPPERS:
        words = words[1 + WRAPPERS[words[0]] :]
    return words


def selfsup_words(command: str) -> list[str] | None:
    """The words after ``selfsup``, or ``None`` for another program."""
    words = program_words(command)
    return words[1:] if words[:1] == ["selfsup"] else None


@dataclass
class Block:
    """A fenced code block: where it starts, its language tag, body and shell commands."""

    file: str
    line: int
    lang: str
    body: str
    commands: list[str]

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"

    @property
    def is_shell(self) -> bool:
        return any(program_words(c)[:1] and program_words(c)[0] in PROGRAMS for c in self.commands)

    def not_run(self) -> str | None:
        """Why the full check leaves it out (:data:`NOT_RUN`, :data:`PYTHON_NOT_RUN`), or
        ``None``."""
        for (file, text), why in (PYTHON_NOT_RUN if self.lang == "python" else NOT_RUN).items():
            if file == self.file and text in self.body:
                return why
        return None

    def runnable(self) -> bool:
        """Every line a command the full check can run (no placeholder, no other program)."""
        return all(
            program_words(c)[:1] and program_words(c)[0] in RUNNABLE and not _synopsis(c)
            for c in self.commands
        )


def _synopsis(command: str) -> bool:
    words = program_words(command)
    if words[:2] == ["python", "-c"] or words[:1] == ["export"]:
        return False  # code or an assignment, not a synopsis
    # brackets in an override's value are a list (method.projector=[512,512]), not a placeholder
    words = [re.sub(r"[\[\]]", "", w) if re.match(r"^[\w.]+=", w) else w for w in words]
    return bool(PLACEHOLDER.search(" ".join(words[1:])))


def all_blocks() -> list[Block]:
    """Every fenced block of the README, then of docs/*.md in name order."""
    found = []
    for path in DOCS:
        text = path.read_text()
        for m in re.finditer(r"^```(\w*)\n(.*?)^```", text, re.S | re.M):
            line = text[: m.start()].count("\n") + 1
            body = m.group(2)
            found.append(Block(doc_name(path), line, m.group(1), body, block_commands(body)))
    return found


def documented_commands() -> list[tuple[str, str]]:
    """``(where, command)`` for every documented ``selfsup`` command without placeholders."""
    found = [(b.where, command) for b in all_blocks() for command in b.commands]
    for path in DOCS:
        text = path.read_text()
        for m in re.finditer(r"`((?:[A-Z_]+=\S+ )*selfsup [^`]+)`", text):
            words = m.group(1).split()
            if len(words) <= 2 or words[-1].startswith("--"):
                continue  # a mention of a command or an option in the text, not a command
            command = " ".join(words)
            found.append((f"{doc_name(path)}:{text[: m.start()].count(chr(10)) + 1}", command))
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
    if words[-1:] == ["&"]:  # started in the background
        words = words[:-1]
    if "-h" in words or "--help" in words or "--version" in words:
        assert cli.main(words) == 0, words
        return
    name, rest = words[0], words[1:]
    if name == "train":
        args = cli._train_parser().parse_intermixed_args(rest)
        overrides = [*args.overrides] + ([f"data.root={args.data_root}"] if args.data_root else [])
        if not args.resume:
            examples = str(REPO / "docs" / "examples")  # the docs' plug-ins
            with registry_restored():
                sys.path.insert(0, examples)
                try:
                    load_config(args.config, overrides)
                finally:
                    sys.path.remove(examples)
    elif name == "eval":
        cli._eval_parser().parse_intermixed_args(rest)
    elif name == "analyze":
        from selfsup.analysis.args import parse_args

        parse_args(cli._run_dir_as_positional(rest))  # the options and their values
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
    elif name == "compare":
        from selfsup.compare import command as compare

        compare.parser().parse_args(rest)
    elif name == "sweep":
        from selfsup.tune import command as sweep
        from selfsup.tune.space import check_space, parse_space

        args = sweep.parser().parse_intermixed_args(rest)
        check_space(args.config, parse_space(args.words))
    else:
        raise AssertionError(f"unknown command {name}")


COMMANDS = documented_commands()


def test_the_docs_have_commands():
    assert len(COMMANDS) > 30
    assert any("reproduce simvae" in c and "--steps" not in c for _, c in COMMANDS)


@pytest.mark.parametrize("where, command", COMMANDS, ids=[f"{w} {c}"[:90] for w, c in COMMANDS])
def test_every_documented_command_parses(where, command):
    check_parses(selfsup_words(command))


def with_budget(command: str) -> str:
    """The command at the test's small budget (see the module docstring)."""
    if command.startswith("cp ") and " docs/img/" in command:
        return "mkdir -p runs/docs-img && " + command.replace(" docs/img/", " runs/docs-img/")
    words = selfsup_words(command)
    if words is None:
        return command
    if words[:1] == ["train"]:
        written = [int(m) for m in re.findall(r"trainer\.max_epochs=(\d+)", command)]
        epochs = ["trainer.max_epochs=2"] if not written else []
        if written and written[-1] > MAX_EPOCHS:
            epochs = [f"trainer.max_epochs={MAX_EPOCHS}"]
        return f"{command} {' '.join(TRAIN_BUDGET + epochs)}"
    if words[:1] == ["analyze"]:
        return f"{command} {' '.join(ANALYZE_BUDGET)}"
    if words[:1] == ["sweep"]:  # two trials of a few images and one epoch each
        base = command.rstrip().removesuffix("&").rstrip()
        background = " &" if base != command.rstrip() else ""
        return f"{base} --trials 2 {' '.join(TRAIN_BUDGET)} trainer.max_epochs=1{background}"
    if words[:1] == ["reproduce"] and "--quick" in words:
        quick, appended = SMALL_REPRODUCTIONS[words[1]]
        return f"{command.replace('--quick', quick)} {appended}".rstrip()
    return command


def blocks_to_run() -> list[Block]:
    """The shell and python blocks the full check runs, in order (README first)."""
    return [b for b in all_blocks() if (b.is_shell or b.lang == "python") and b.not_run() is None]


def block_script(block: Block) -> list[str]:
    """What bash runs for a block: its shell lines, or a python block fed to ``python -``."""
    if block.lang == "python":
        return [f"python - <<'PYTHON_BLOCK'\n{block.body}PYTHON_BLOCK"]
    return block.commands


def undefined_names(code: str) -> set[str]:
    """Names a block reads but never binds (imports, assignments, loops, definitions, ``with``
    targets, arguments) and that are not builtins: what makes it a fragment, not a script."""
    import ast
    import builtins

    tree = ast.parse(code)
    bound = set(dir(builtins))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            bound |= {(a.asname or a.name).split(".")[0] for a in node.names}
        elif isinstance(node, ast.ClassDef):
            bound.add(node.name)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            bound.add(node.name)
            bound |= {a.arg for a in ast.walk(node.args) if isinstance(a, ast.arg)}
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store | ast.Del):
            bound.add(node.id)
        elif isinstance(node, ast.Lambda):
            bound |= {a.arg for a in ast.walk(node.args) if isinstance(a, ast.arg)}
    read = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    return read - bound


def test_every_shell_block_is_run_or_says_why_not():
    blocks = all_blocks()
    shell = [b for b in blocks if b.is_shell]
    assert len(shell) > 15
    unrunnable = [b.where for b in blocks_to_run() if b.is_shell and not b.runnable()]
    assert unrunnable == [], (
        f"shell blocks with a line the full check cannot run: {unrunnable}; make them "
        f"runnable, or list them in NOT_RUN with the reason"
    )
    for (file, text), why in NOT_RUN.items():
        matches = [b.where for b in shell if b.file == file and text in b.body]
        assert len(matches) == 1, f"NOT_RUN entry ({file}, {text!r}) matches {matches}"
        assert why
    # each reproduction the docs run has its small budget
    for block in blocks_to_run():
        for command in block.commands:
            words = selfsup_words(command) or []
            if words[:1] == ["reproduce"] and "--quick" in words:
                assert words[1] in SMALL_REPRODUCTIONS, (block.where, command)


def test_python_blocks_are_scripts_or_say_why_not():
    """Every python block compiles; the ones the full check runs (all but
    :data:`PYTHON_NOT_RUN`) bind every name they use, so they run as printed."""
    python = [b for b in all_blocks() if b.lang == "python"]
    assert python
    for block in python:
        compile(block.body, block.where, "exec")
        if block.not_run() is None:
            assert undefined_names(block.body) == set(), (
                f"{block.where} uses names it never defines: a fragment cannot run as printed; "
                f"make it a complete script, or list it in PYTHON_NOT_RUN with the reason"
            )
    for (file, text), why in PYTHON_NOT_RUN.items():
        matches = [b.where for b in python if b.file == file and text in b.body]
        assert len(matches) == 1, f"PYTHON_NOT_RUN entry ({file}, {text!r}) matches {matches}"
        assert undefined_names(next(b.body for b in python if b.where == matches[0])), (
            f"{matches[0]} is a complete script: run it rather than list it"
        )
        assert why


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
        if source.is_symlink():  # as git checks it out (``configs`` -> ``src/selfsup/configs``)
            (clone / name).parent.mkdir(parents=True, exist_ok=True)
            (clone / name).symlink_to(os.readlink(source))
        elif source.is_file():
            (clone / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, clone / name)
    return clone


def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    return {
        str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in root.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }


def prepare_clone(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A fresh clone in ``tmp_path`` and the environment its commands run in (``selfsup`` on
    PATH running the clone's code, MNIST in ``$SELFSUP_DATA``)."""
    clone = fresh_clone(tmp_path)
    # the docs record the exact commands behind their numbers, which name this workspace's
    # data folder as ../shared/data: beside the clone, it is the tests' data folder
    if SHARED_DATA.is_dir():
        (tmp_path / "shared").mkdir()
        (tmp_path / "shared" / "data").symlink_to(SHARED_DATA)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    # wrappers, not links: a link to a virtual environment's python does not find its packages
    for name, run in (("selfsup", "-m selfsup.cli "), ("python", "")):
        (bin_dir / name).write_text(f'#!/bin/sh\nexec "{sys.executable}" {run}"$@"\n')
        (bin_dir / name).chmod(0o755)
    env = {
        **os.environ,
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "PYTHONPATH": str(clone / "src"),
        "SELFSUP_DATA": str(SHARED_DATA),
    }
    env.pop("SELFSUP_VERBOSE", None)
    return clone, env


def _children_cpu() -> float:
    """User + system seconds of the finished child processes (a block's cost under any load)."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_blocks(
    blocks: list[tuple[str, list[str]]],
    tmp_path: Path,
    timeout: float,
    clone_env: tuple[Path, dict[str, str]] | None = None,
) -> Path:
    """Run each ``(where, commands)`` block by bash, in order, in a fresh clone (or in
    ``clone_env``, from :func:`prepare_clone`), stopping at the first failure; the clone.
    Prints each block's wall and CPU time."""
    clone, env = clone_env or prepare_clone(tmp_path)
    before = snapshot(clone)
    deadline = time.monotonic() + timeout
    for where, commands in blocks:
        script = "set -euo pipefail\n" + "\n".join(with_budget(c) for c in commands)
        start, cpu = time.monotonic(), _children_cpu()
        done = subprocess.run(
            ["bash", "-c", script],
            cwd=clone,
            env=env,
            capture_output=True,
            text=True,
            timeout=max(1.0, deadline - start),
        )
        print(
            f"{where}: {time.monotonic() - start:.0f} s wall, {_children_cpu() - cpu:.0f} s CPU, "
            f"exit {done.returncode}",
            flush=True,
        )
        assert done.returncode == 0, f"{where}:\n{script}\n--- stderr:\n{done.stderr[-3000:]}"
    after = snapshot(clone)
    outside = sorted(
        name
        for name, stamp in after.items()
        if not name.startswith("runs/") and before.get(name) != stamp
    )
    assert outside == [], f"documented commands wrote outside runs/: {outside}"
    return clone


#: options whose value names what a command works on, not how much of it
IDENTITY_OPTIONS = {"--config", "--encoder", "--dataset", "--experiments", "--datasets"}
#: a reproduction's options that choose what runs; the others (methods, seeds, budgets, sizes)
#: pick among the runs its preset already makes, or size them
REPRODUCTION_IDENTITY = {"--quick", "--preset", "--experiments", "--datasets", "--resume"}
#: options whose value is where a command writes (a later command may read it)
OUTPUT_OPTIONS = {"--out", "--run-dir"}


def variant_key(command: str) -> tuple | None:
    """What a ``selfsup`` command does, apart from the values of its options: the sub-command,
    its positional words, the values of :data:`IDENTITY_OPTIONS`, and the *names* of the other
    options and config overrides. Two commands with one key run the same code paths on
    different settings. ``None`` for anything but ``selfsup``."""
    words = selfsup_words(command)
    if words is None:
        return None
    key, i = [], 0
    while i < len(words):
        word = words[i]
        if word.startswith("--"):
            name, _, value = word.partition("=")
            takes = not value and i + 1 < len(words) and not words[i + 1].startswith("-")
            if takes and "=" not in words[i + 1]:
                value, i = words[i + 1], i + 1
            if words[0] == "reproduce" and name not in REPRODUCTION_IDENTITY:
                pass
            elif name in IDENTITY_OPTIONS:
                key.append(f"{name}={value}")
            else:
                key.append(name)
        elif "=" in word:
            key.append(word.split("=", 1)[0] + "=")
        else:
            key.append(word)
        i += 1
    return tuple(key)


def output_paths(command: str) -> list[str]:
    """The paths a ``selfsup`` command writes to (:data:`OUTPUT_OPTIONS`)."""
    words = selfsup_words(command) or []
    out = []
    for i, word in enumerate(words):
        name, _, value = word.partition("=")
        if name in OUTPUT_OPTIONS:
            out.append(value or (words[i + 1] if i + 1 < len(words) else ""))
    return [path for path in out if path]


def drop_repeated_variants(
    blocks: list[tuple[str, list[str]]],
) -> tuple[list[tuple[str, list[str]]], list[str]]:
    """The blocks without the commands the full check has already covered: an exact repeat, or
    a variant (:func:`variant_key`) of a command run earlier whose output no later command
    reads. Their words are still parsed and checked by the default suite
    (:func:`test_every_documented_command_parses`). Returns the blocks and what was dropped."""
    flat = [(b, c) for b, (_, commands) in enumerate(blocks) for c in commands]
    seen: set = set()
    ran: set[str] = set()
    kept: list[list[str]] = [[] for _ in blocks]
    dropped = []
    for n, (b, command) in enumerate(flat):
        key = variant_key(command)
        later = " ".join(c for _, c in flat[n + 1 :])
        read_later = any(path in later for path in output_paths(command))
        repeat = key is not None and command in ran  # its output is there already
        background = command.rstrip().endswith("&")  # one of several workers started together
        if not background and (repeat or (key is not None and key in seen and not read_later)):
            dropped.append(f"{blocks[b][0]}: {command}")
            continue
        if key is not None:
            seen.add(key)
        ran.add(command)
        kept[b].append(command)
    return [(where, c) for (where, _), c in zip(blocks, kept, strict=True) if c], dropped


def test_the_full_check_skips_only_what_an_earlier_command_covered():
    blocks = [
        ("a.md:1", ["selfsup train --run-dir runs/r trainer.max_epochs=5", "python x.py"]),
        ("b.md:1", ["selfsup reproduce infomax --quick --methods vicreg --out runs/i1"]),
        ("c.md:1", ["selfsup train --run-dir runs/r trainer.max_epochs=5"]),  # exact repeat
        ("d.md:1", ["selfsup reproduce infomax --quick --methods simclr --out runs/i2"]),
        ("e.md:1", ["selfsup reproduce infomax --quick --seeds 1 --out runs/i3", "cp runs/i3/a b"]),
        ("f.md:1", ["selfsup reproduce simvae --quick --datasets shapes"]),
        ("g.md:1", ["selfsup reproduce simvae --quick --datasets styled_mnist"]),
        ("h.md:1", ["selfsup train --run-dir runs/r --resume trainer.max_epochs=8"]),
        ("i.md:1", ["selfsup train --config simclr_mnist optim.lr=0.1"]),
        ("j.md:1", ["selfsup train --config vicreg_mnist optim.lr=0.1"]),
        ("k.md:1", ["python x.py"]),  # not selfsup: always runs
        ("l.md:1", ["selfsup train --config vicreg_mnist optim.lr=0.2 &"] * 2 + ["wait"]),
    ]
    kept, dropped = drop_repeated_variants(blocks)
    assert [where for where, _ in kept] == [
        "a.md:1",
        "b.md:1",
        "e.md:1",
        "f.md:1",
        "g.md:1",
        "h.md:1",
        "i.md:1",
        "j.md:1",
        "k.md:1",
        "l.md:1",  # workers started together in the background all run
    ]
    assert kept[-1][1] == blocks[-1][1]
    assert dropped == [
        "c.md:1: selfsup train --run-dir runs/r trainer.max_epochs=5",  # its run exists already
        "d.md:1: selfsup reproduce infomax --quick --methods simclr --out runs/i2",  # a variant
    ]  # e.md's variant stays: a later command reads its output


@pytest.fixture
def mnist_present(mnist_root):
    return mnist_root


@pytest.mark.slow  # see the module docstring for its time
def test_every_documented_block_runs_in_order(mnist_present, tmp_path):
    """The README's blocks, then every runnable block of docs/ in the site's order, in one
    clone (a guide's blocks use the runs an earlier page made, e.g. runs/my-run), without the
    commands an earlier one already covered (:func:`drop_repeated_variants`). Prints each
    block's wall and CPU time."""
    blocks, dropped = drop_repeated_variants([(b.where, block_script(b)) for b in blocks_to_run()])
    print("covered by an earlier command, not run again:", *dropped, sep="\n  ")
    assert len(blocks) > 15
    clone = run_blocks(blocks, tmp_path, timeout=3 * 3600)
    runs = clone / "runs"
    assert (runs / "my-run" / "analysis" / "report.md").is_file()
    assert (runs / "reproduce-infomax" / "report.md").is_file()
    assert (runs / "docs-img" / "dynamics_width.png").is_file()
