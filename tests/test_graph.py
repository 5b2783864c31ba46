"""The graph (labelgraph.graph): the seven nodes, a graph without a run, a run's graph on
a fresh thread, checkpoints that do not grow with rounds, the context as a RunContext."""

from __future__ import annotations

from pathlib import Path

import pytest

from labelgraph import Budget, LabelGraph, Task
from labelgraph.errors import RunStateError
from labelgraph.graph.builder import NODES, build_graph
from labelgraph.runtime import RunContext

TASK = Task(labels=["positive", "negative"], description="movie review sentiment")


def test_graph_has_the_seven_nodes() -> None:
    text = build_graph().get_graph().draw_mermaid()
    for node in NODES:
        assert node in text


def test_a_graph_with_no_run_says_what_to_do_instead_of_failing_in_a_node() -> None:
    with pytest.raises(RunStateError, match=r"no run to work on.*LabelGraph\(\.\.\.\)\.graph"):
        build_graph().invoke({}, {"recursion_limit": 10})


def test_a_runs_graph_works_on_a_fresh_thread_without_context(tmp_path, pool):
    lg = LabelGraph(TASK, llm="none", annotator="oracle", budget=Budget(labels=11),
                    run_dir=tmp_path / "run", embedding="hashing",
                    config={"seed_size": 6, "batch_size": 5, "stopping": []})
    lg.add_pool(pool, label_column="label")
    out = lg.graph.invoke({}, {"configurable": {"thread_id": "fresh"}, "recursion_limit": 60})
    assert out["stop_reason"] == "budget exhausted: labels"
    assert len(lg.context.ledger.all_labels()) == 11
    last = lg.context.ledger.last_round()
    again = lg.graph.invoke({}, {"configurable": {"thread_id": "another"},
                                 "recursion_limit": 60})
    assert again["round"] >= last  # a new thread goes on counting from the ledger
    assert len(lg.context.ledger.all_labels()) == 11  # and buys nothing past the budget
    lg.close()


def test_checkpoints_do_not_grow_with_rounds_and_the_supervisor_sees_every_round(
        tmp_path, pool):
    import sqlite3

    from labelgraph.agents.supervisor import compute_signals
    from labelgraph.graph.state import RECENT_METRICS

    lg = LabelGraph(TASK, llm="none", annotator="oracle", budget=Budget(labels=26),
                    run_dir=tmp_path / "run", embedding="hashing",
                    config={"seed_size": 2, "batch_size": 2, "stopping": [],
                            "synthesize": False})
    result = lg.run(pool, label_column="label")
    assert len(result.curve) == 13
    state = lg.graph.get_state(lg.config_dict).values
    assert [m["round"] for m in state["metrics"]] == list(range(14 - RECENT_METRICS, 14))
    signals = compute_signals(state, lg.context)  # the history comes from the ledger
    assert [m["round"] for m in signals.history] == list(range(1, 14))
    assert len(signals.kappas) == 13
    conn = sqlite3.connect(tmp_path / "run" / "checkpoints.sqlite")
    sizes = [n for (n,) in conn.execute("SELECT length(checkpoint) FROM checkpoints "
                                        "ORDER BY rowid")]
    conn.close()
    half = len(sizes) // 2  # a row of metrics a round would add ~4 KB over the second half
    assert max(sizes[half:]) < 1.3 * max(sizes[:half])
    lg.close()


# -- the graph's context -------------------------------------------------------------------
def test_the_graphs_context_is_a_run_context(tmp_path: Path) -> None:
    lg = LabelGraph(TASK, llm="none", annotator="oracle", budget=Budget(labels=6),
                    run_dir=tmp_path / "run", embedding="hashing")
    assert isinstance(lg.context, RunContext)
    lg.close()
