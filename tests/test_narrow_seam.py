"""Issue 23's seam: pieces below the graph see the run through labelgraph.runtime.RunContext,
declare what they can do as capabilities instead of being recognized by name, and the
renamed Signals classes still import under their old, documented names."""

from __future__ import annotations

import ast
import warnings
from pathlib import Path

import pytest

from labelgraph import Budget, LabelGraph, Task
from labelgraph.annotators import (
    HumanAnnotator,
    HybridAnnotator,
    LLMAnnotator,
    OracleAnnotator,
    SimulatedAnnotator,
    annotator_sources,
)
from labelgraph.capabilities import USES_TOOLS, capability
from labelgraph.config import RunConfig
from labelgraph.policies import RoundSignals, RulePolicy, guard
from labelgraph.registry import Entry, registry
from labelgraph.runtime import RunContext
from labelgraph.strategies import PLAYS_ARMS, Margin
from labelgraph.trust import ConfidenceSignals
from labelgraph.types import Decision

ROOT = Path(__file__).resolve().parents[1]
TASK = Task(labels=["positive", "negative"], description="movie review sentiment")


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


def test_the_graphs_context_is_a_run_context(tmp_path: Path) -> None:
    lg = LabelGraph(TASK, llm="none", annotator="oracle", budget=Budget(labels=6),
                    run_dir=tmp_path / "run", embedding="hashing")
    assert isinstance(lg.context, RunContext)
    lg.close()


def test_capabilities_are_read_with_their_declared_defaults() -> None:
    assert capability(object(), USES_TOOLS) is False
    assert capability(LLMAnnotator(), USES_TOOLS) is True
    assert capability(HybridAnnotator(), USES_TOOLS) is True  # its first source is an LLM
    assert capability(HybridAnnotator(first=SimulatedAnnotator()), USES_TOOLS) is False
    assert capability(RulePolicy(), USES_TOOLS) is False


def test_who_can_be_asked_again_is_the_annotators_to_say() -> None:
    human, oracle = HumanAnnotator(), OracleAnnotator()
    assert annotator_sources(human) == (human, None)
    assert annotator_sources(oracle) == (oracle, None)
    assert annotator_sources(SimulatedAnnotator()) == (None, None)
    hybrid = HybridAnnotator(human="oracle", strong="none")
    person, stronger = annotator_sources(hybrid)
    assert isinstance(person, OracleAnnotator) and isinstance(stronger, LLMAnnotator)


class _ArmsByGain(Margin):
    """A plug-in's bandit, under a name of its own."""

    plays_arms = True


def test_any_strategy_that_plays_arms_is_resolved_not_only_the_one_named_bandit(
        monkeypatch: pytest.MonkeyPatch) -> None:
    registry.names("strategies")  # entry points read first, so the patch below stays alone
    monkeypatch.setitem(registry._entries["strategies"], "arms_by_gain",
                        Entry("strategies", "arms_by_gain", "test", "test:_ArmsByGain",
                              _obj=_ArmsByGain))
    assert capability(_ArmsByGain(), PLAYS_ARMS)
    config = RunConfig(strategy="arms_by_gain", bandit_arms=("margin", "arms_by_gain", "badge"))
    signals = RoundSignals(round=3, labeled=10, label_counts={"positive": 5, "negative": 5},
                           spent={"labels": 10, "tokens": 0, "usd": 0.0}, budget=Budget(),
                           unlabeled=50, has_model=True, accuracy=None, curve_slope=None,
                           rejection_rate=None, synth_acceptance=None, rounds_since_synth=1,
                           idle_rounds=0, can_synthesize=False)
    decided = guard(Decision(action="query", strategy="arms_by_gain", reason="the plug-in's"),
                    signals, config, TASK.labels, (), registry.names("strategies"))
    assert decided.strategy == "margin"  # an arm, never the stand-in itself
    assert "bandit: trying margin" in decided.reason


def test_the_renamed_signals_still_import_under_their_documented_names() -> None:
    import labelgraph
    import labelgraph.policies
    import labelgraph.trust

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert labelgraph.policies.Signals is RoundSignals
        assert labelgraph.trust.Signals is ConfidenceSignals
        assert labelgraph.Signals is RoundSignals
    assert [w.category for w in caught] == [DeprecationWarning] * 3
    assert all("renamed" in str(w.message) and w.filename == __file__ for w in caught)
    assert labelgraph.RoundSignals is RoundSignals
    with pytest.raises(AttributeError):
        labelgraph.policies.NoSuchName  # noqa: B018
