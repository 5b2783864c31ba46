"""The layer rule, checked by import-linter's contracts in pyproject.toml.

The package's subpackages live in top-level folders (agents/, graph/, tools/, memory/) and
are mapped into ``labelgraph`` at install time, which import-linter cannot see in the
source tree. So the test copies the tree into the installed layout and lints that copy.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _installed_layout(target: Path) -> Path:
    """Copy the sources into ``target`` as they are installed; returns the package folder."""
    dirs = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-dir"]
    for package, folder in sorted(dirs.items()):
        shutil.copytree(ROOT / folder, target / Path(*package.split(".")),
                        ignore=shutil.ignore_patterns("__pycache__"))
    return target / "labelgraph"


def _lint(tree: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    script = Path(sys.executable).with_name("lint-imports")
    return subprocess.run([str(script), "--config", str(ROOT / "pyproject.toml")],
                          capture_output=True, text=True, env=env, cwd=tree, check=False)


def test_the_layer_rule_holds_and_its_check_can_fail(tmp_path):
    package = _installed_layout(tmp_path)
    kept = _lint(tmp_path)
    assert kept.returncode == 0, kept.stdout + kept.stderr
    assert "Contracts: 3 kept, 0 broken." in kept.stdout
    analyzed = re.search(r"Analyzed (\d+) files", kept.stdout)
    assert analyzed and int(analyzed.group(1)) >= 40  # the whole installed layout, not 20
    # A pure piece that imports the graph breaks the rule; the check must say so.
    strategies = package / "strategies.py"
    strategies.write_text(strategies.read_text() + "\nimport labelgraph.graph.builder\n")
    broken = _lint(tmp_path)
    assert broken.returncode != 0
    assert "labelgraph.strategies -> labelgraph.graph.builder" in broken.stdout
