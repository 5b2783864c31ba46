"""The layer rule, checked by import-linter's contracts in pyproject.toml.

The subpackages live in top-level folders (agents/, graph/, tools/, memory/) and are mapped
into ``labelgraph`` at install time; symlinks inside ``labelgraph/`` give the source tree the
same layout, so plain ``lint-imports`` at the repository root sees every module.

And the narrow seam of issue 23: annotators and tools see the run through
labelgraph.runtime.RunContext and never name the graph, not even for type checkers."""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SUBPACKAGES = ("agents", "graph", "tools", "memory")


def _lint(root: Path) -> subprocess.CompletedProcess[str]:
    script = Path(sys.executable).with_name("lint-imports")
    return subprocess.run([str(script)], capture_output=True, text=True, cwd=root, check=False)


def test_lint_imports_at_the_repository_root_keeps_every_contract():
    kept = _lint(ROOT)
    assert kept.returncode == 0, kept.stdout + kept.stderr
    assert "Contracts: 3 kept, 0 broken." in kept.stdout
    analyzed = re.search(r"Analyzed (\d+) files", kept.stdout)
    assert analyzed and int(analyzed.group(1)) >= 40  # the whole layout, not labelgraph/ alone


def test_the_layer_check_can_fail(tmp_path):
    """A pure piece that imports the graph breaks the rule; the check must say so."""
    for folder in ("labelgraph", *SUBPACKAGES):
        shutil.copytree(ROOT / folder, tmp_path / folder, symlinks=True,
                        ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    strategies = tmp_path / "labelgraph" / "strategies.py"
    strategies.write_text(strategies.read_text() + "\nimport labelgraph.graph.builder\n")
    broken = _lint(tmp_path)
    assert broken.returncode != 0
    assert "labelgraph.strategies -> labelgraph.graph.builder" in broken.stdout


# -- the narrow seam -----------------------------------------------------------------------
def _imports(path: Path) -> set[str]:
    """Every module a file imports, type-checking imports included."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def test_annotators_and_tools_never_name_the_graph_not_even_for_type_checkers() -> None:
    files = [*sorted((ROOT / "labelgraph" / "annotators").glob("*.py")),
             *sorted((ROOT / "tools").glob("*.py")), ROOT / "labelgraph" / "runtime.py"]
    assert len(files) > 10
    for path in files:
        upward = [m for m in _imports(path)
                  if m.startswith(("labelgraph.graph", "labelgraph.agents", "labelgraph.api"))]
        assert not upward, f"{path.relative_to(ROOT)} imports {upward}"
