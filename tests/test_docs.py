"""The commands a newcomer copies are written in more than one place; they must not drift.

The test command is the README's, `.ci/run`'s (CI runs exactly it) and the docs site's
Getting started page's; the quick start is the README's, the site's home page's and Getting
started's. (The site itself is checked by `mkdocs build --strict` in that command.)
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _bash_blocks(path: Path) -> list[str]:
    return [b.strip() for b in re.findall(r"```bash\n(.*?)```", path.read_text(), re.DOTALL)]


def _test_command(path: Path) -> str:
    found = [line for line in path.read_text().splitlines()
             if "pytest" in line and "pip install" in line]
    assert len(found) == 1, f"{path.name}: expected one test command, found {len(found)}"
    return found[0].strip()


def test_the_test_command_is_the_same_everywhere():
    ci = _test_command(ROOT / ".ci" / "run")
    assert _test_command(ROOT / "README.md") == ci
    assert _test_command(ROOT / "docs" / "getting-started.md") == ci
    assert "mkdocs build --strict" in ci


def test_the_quick_start_is_the_same_everywhere():
    quick = _bash_blocks(ROOT / "README.md")[0]
    assert quick.endswith("labelgraph demo")
    assert _bash_blocks(ROOT / "docs" / "index.md")[0] == quick
    assert _bash_blocks(ROOT / "docs" / "getting-started.md")[0] == quick
