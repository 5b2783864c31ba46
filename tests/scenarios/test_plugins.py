"""The example plug-in package, really installed: its strategy, stopping criterion, verifier
tool and annotator are found through their entry points and drive real loops.

``examples/plugin`` is installed with pip into a temporary directory (no dependencies, no build
isolation, no index: nothing is fetched and the system site-packages are not touched), and
subprocesses see it through ``PYTHONPATH``, so ``importlib.metadata`` finds its entry points.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PLUGIN = ROOT / "examples" / "plugin"
DIST = "labelgraph-example-plugin"
STRATEGY, CRITERION, TOOL = "typical_first", "accuracy_target", "no_shouting"


@pytest.fixture(scope="module")
def plugin_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The environment of a subprocess that sees the installed example plug-in."""
    tmp = tmp_path_factory.mktemp("plugin")
    source, site = tmp / "src", tmp / "site"
    # Build from a copy, so setuptools' build/ and egg-info never land in the repository.
    shutil.copytree(PLUGIN, source, ignore=shutil.ignore_patterns(
        "build", "*.egg-info", "__pycache__"))
    done = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation",
         "--no-index", "--disable-pip-version-check", "--target", str(site), str(source)],
        capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"pip could not install the example plug-in:\n" \
                                 f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    assert any(site.glob("labelgraph_example_plugin-*.dist-info/entry_points.txt"))
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(site), env.get("PYTHONPATH")) if p)
    env["COLUMNS"] = "200"  # rich wraps the table to the terminal width otherwise
    return env


def test_plugins_command_lists_the_entry_points(plugin_env: dict[str, str]) -> None:
    done = subprocess.run([sys.executable, "-m", "labelgraph.cli", "plugins"],
                          capture_output=True, text=True, env=plugin_env, timeout=120)
    assert done.returncode == 0, done.stderr
    for kind, name in (("strategies", STRATEGY), ("stopping", CRITERION), ("tools", TOOL)):
        rows = [line for line in done.stdout.splitlines()
                if re.search(rf"\b{kind}\b", line) and re.search(rf"\b{name}\b", line)]
        assert len(rows) == 1, f"{kind} {name} is not listed once:\n{done.stdout}"
        assert f"entry point ({DIST})" in rows[0], rows[0]


LOOP = textwrap.dedent("""
    import json
    import sys

    import pandas as pd

    sys.path.insert(0, sys.argv[2])
    from conftest import POS, make_pool

    from labelgraph import Budget, LabelGraph, Task

    # A sentiment pool plus reviews shouted in capitals, which the plug-in's tool rejects.
    shouted = [{"text": f"A {POS[i].upper()} FILM, SCENE {90 + i}, WITH "
                        f"{POS[(i + 1) % 6].upper()} ACTING", "label": "positive"}
               for i in range(6)]
    pool = pd.concat([make_pool(), pd.DataFrame(shouted)], ignore_index=True)
    test = make_pool(40).iloc[60:].reset_index(drop=True)  # scenes the pool does not have
    lg = LabelGraph(Task(labels=["positive", "negative"], description="movie review sentiment"),
                    llm="none", annotator="oracle", budget=Budget(labels=40), run_dir=sys.argv[1],
                    embedding="hashing",
                    config={"strategy": "typical_first", "stopping": ["accuracy_target"],
                            "seed_size": 6, "batch_size": 6})
    result = lg.run(pool, test=test, label_column="label")
    texts = dict(zip(result.dataset["id"], result.dataset["text"]))
    print(json.dumps({
        "actions": [d.get("action") for d in result.decisions],
        "strategies": [d.get("strategy") for d in result.decisions],
        "criteria": result.decisions[-1].get("criteria"),
        "stop_reason": result.stop_reason,
        "accuracy": [None if a != a else a for a in result.curve["accuracy"]],
        "tools": [[s.agent, s.name, s.origin] for s in lg.context.tools.specs()],
        "verdicts": [[verdict, reason] for verdict, _, reason
                     in lg.context.ledger.verdicts().values() if "no_shouting" in (reason or "")],
        "accepted_texts": list(texts.values()),
    }))
    lg.close()
""")


def test_loop_uses_the_plugin_strategy_criterion_and_tool(plugin_env: dict[str, str],
                                                         tmp_path: Path) -> None:
    script = tmp_path / "loop.py"
    script.write_text(LOOP)
    done = subprocess.run([sys.executable, str(script), str(tmp_path / "run"),
                           str(Path(__file__).parents[1])],
                          capture_output=True, text=True, env=plugin_env, cwd=tmp_path,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-5000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])

    # The tool came in through its entry point and is the verifier's.
    assert ["verifier", TOOL, f"entry point ({DIST})"] in out["tools"], out["tools"]
    # The cold start, then query rounds by the plug-in's strategy.
    strategies = out["strategies"]
    assert strategies[0] == "cold_start", out
    queried = [s for a, s in zip(out["actions"][1:], strategies[1:], strict=True) if a == "query"]
    assert queried and all(s == STRATEGY for s in queried), out
    # The run stopped because the plug-in's criterion voted, not a budget.
    assert out["actions"][-1] == "stop", out
    assert out["criteria"] == [CRITERION], out
    assert re.fullmatch(r"accuracy \d\.\d\d reached the target 0\.90", out["stop_reason"]), out
    assert max(a for a in out["accuracy"] if a is not None) >= 0.9, out
    # The tool rejected shouted reviews, and none of them made it into the dataset.
    assert out["verdicts"] and all(v == "reject" for v, _ in out["verdicts"]), out
    assert all(reason.startswith(f"{TOOL}: ") for _, reason in out["verdicts"]), out
    assert not [t for t in out["accepted_texts"] if "FILM" in t], out


# -- the plug-in's annotator --------------------------------------------------------------
ANNOTATOR = "keyword_vote"


LABEL = textwrap.dedent("""
    import json
    import sys

    sys.path.insert(0, sys.argv[2])
    from conftest import NEG, POS, make_pool

    from labelgraph import Budget, LabelGraph, Task
    from labelgraph.annotators import HybridAnnotator
    from labelgraph.registry import registry

    # Keywords for half of each side's words: the rest of the pool goes on to the oracle.
    words = registry.create("annotators", "keyword_vote",
                            keywords={"positive": POS[:3], "negative": NEG[:3]})
    pool = make_pool()
    lg = LabelGraph(Task(labels=["positive", "negative"], description="movie review sentiment"),
                    llm="none", annotator=HybridAnnotator(human="oracle", first=words),
                    budget=Budget(labels=24), run_dir=sys.argv[1], embedding="hashing",
                    config={"seed_size": 6, "batch_size": 6, "stopping": [],
                            "synthesize": False})
    result = lg.run(pool, label_column="label")
    gold = dict(zip(pool["text"], pool["label"]))
    rows = lg.context.ledger.all_labels()
    lg.close()
    first = LabelGraph.open(sys.argv[1]).annotator.first  # rebuilt from run.json
    print(json.dumps({
        "origin": registry.entry("annotators", "keyword_vote").origin,
        "by_source": {s: sum(r.source == s for r in rows) for s in {r.source for r in rows}},
        "wrong": sum(gold[r.text] != r.label for r in rows),
        "stop_reason": result.stop_reason,
        "reopened": [type(first).__name__, first.keywords],
    }))
""")


def test_the_plugin_annotator_imports_nothing_of_the_graph() -> None:
    import ast

    source = (PLUGIN / "labelgraph_example_plugin" / "__init__.py").read_text()
    modules = {n.module for n in ast.walk(ast.parse(source))
               if isinstance(n, ast.ImportFrom) and n.module} | \
        {a.name for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Import)
         for a in n.names}
    assert "labelgraph.annotators" in modules and "labelgraph.runtime" in modules
    assert not [m for m in modules if m.startswith(("labelgraph.graph", "labelgraph.agents"))]


def test_plugins_command_lists_the_annotator(plugin_env: dict[str, str]) -> None:
    done = subprocess.run([sys.executable, "-m", "labelgraph.cli", "plugins"],
                          capture_output=True, text=True, env=plugin_env, timeout=120)
    assert done.returncode == 0, done.stderr
    rows = [line for line in done.stdout.splitlines()
            if re.search(r"\bannotators\b", line) and re.search(rf"\b{ANNOTATOR}\b", line)]
    assert len(rows) == 1 and f"entry point ({DIST})" in rows[0], done.stdout


def test_the_plugin_annotator_labels_first_in_a_hybrid_and_is_restored(
        plugin_env: dict[str, str], tmp_path: Path) -> None:
    script = tmp_path / "label.py"
    script.write_text(LABEL)
    done = subprocess.run([sys.executable, str(script), str(tmp_path / "run"),
                           str(Path(__file__).parents[1])],
                          capture_output=True, text=True, env=plugin_env, cwd=tmp_path,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-5000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["origin"] == f"entry point ({DIST})", out
    # The keywords labeled what they could tell, the oracle the rest, and nothing is wrong.
    assert out["by_source"].get("keywords", 0) > 0 and out["by_source"].get("oracle", 0) > 0
    assert sum(out["by_source"].values()) == 24 and out["wrong"] == 0, out
    assert out["stop_reason"].startswith("budget exhausted"), out
    # run.json kept the plug-in annotator by its registry name and configuration.
    assert out["reopened"] == ["KeywordVote", {"positive": ["wonderful", "moving", "brilliant"],
                                               "negative": ["dull", "boring", "awful"]}], out
