"""The README's install line gives every tracker its examples use."""

import re
import tomllib
from pathlib import Path

from selfsup.train.loggers import PACKAGES

REPO = Path(__file__).resolve().parents[2]


def _core_packages() -> set[str]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    return {re.split(r"[<>=!~\[ ;]", d, maxsplit=1)[0].lower() for d in project["dependencies"]}


def test_the_loggers_in_the_readme_need_no_extra():
    readme = (REPO / "README.md").read_text()
    assert "pip install -q -e . && selfsup train" in readme  # the install the examples follow
    # the README's own-data commands live in the guide it links to, in its "In short" block
    guide = (REPO / "docs" / "your_data.md").read_text()
    documented = readme + guide[guide.index("## In short") :].split("\n## ", 1)[0]
    used = set(re.findall(r"trainer\.logger=(\w+)", documented)) & set(PACKAGES)
    assert "tensorboard" in used
    missing = {PACKAGES[name] for name in used} - _core_packages()
    assert not missing, f"README examples use loggers whose packages need an extra: {missing}"
