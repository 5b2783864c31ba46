"""A person steering a run between steps (LabelGraph.steer / correct): recorded in the ledger
and the graph's state, followed by the supervisor, kept across a reopen."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from conftest import make_pool
from labelgraph import Budget, LabelGraph, Task
from labelgraph.errors import InputError

TASK = Task(labels=["positive", "negative"], description="movie review sentiment")


def _graph(run_dir: Path, **kw: Any) -> LabelGraph:
    return LabelGraph(TASK, annotator="oracle", llm="none", budget=Budget(labels=40),
                      run_dir=run_dir, embedding="hashing",
                      config={"seed_size": 6, "batch_size": 5, "stopping": []}, **kw)


def _steps(lg: LabelGraph, pool: Any = None) -> Any:
    """Run one node per call, like the console's driver; yields the next node's name."""
    first = True
    while True:
        for _ in lg.stream(pool if first else None, label_column="label", pause_before="*"):
            pass
        first = False
        nxt = lg.graph.get_state(lg.config_dict).next
        if not nxt:
            return
        yield nxt[0]


def _until_supervisor(steps: Any, times: int) -> None:
    for _ in range(times):
        while next(steps) != "supervisor":
            pass


def test_settings_and_a_forced_action_are_followed_and_recorded(tmp_path):
    lg = _graph(tmp_path / "run")
    steps = _steps(lg, make_pool())
    _until_supervisor(steps, 2)  # round 1 done: the next node is the supervisor
    lg.steer(strategy="entropy", batch_size=7)
    _until_supervisor(steps, 1)
    lg.steer(force={"action": "query", "n": 3, "strategy": "random"})
    for _ in steps:
        pass
    decisions = lg.context.ledger.decisions()
    assert decisions[1]["strategy"] == "entropy" and decisions[1]["batch_size"] == 7
    assert decisions[1]["followed"] == ["human"]
    assert decisions[1]["reason"].endswith(
        "(following the human: strategy diverse_margin → entropy, batch size 5 → 7)"), \
        decisions[1]["reason"]
    assert decisions[2]["reason"] == "the human asked: query 3 by random"
    assert (decisions[2]["strategy"], decisions[2]["batch_size"]) == ("random", 3)
    assert decisions[3]["strategy"] == "entropy" and decisions[3]["followed"] == []
    kinds = [(a["kind"], a["round"]) for a in lg.context.ledger.human_actions()]
    assert kinds == [("steer", 1), ("steer", 2)]
    assert lg.graph.get_state(lg.config_dict).values["steering"]["settings"] == {
        "strategy": "entropy", "batch_size": 7}
    lg.close()
    again = LabelGraph.open(tmp_path / "run")  # the ledger keeps the standing changes
    assert (again.context.config.strategy, again.context.config.batch_size) == ("entropy", 7)
    again.close()


def test_a_raised_budget_and_a_forced_stop(tmp_path):
    lg = _graph(tmp_path / "run")
    steps = _steps(lg, make_pool())
    _until_supervisor(steps, 2)
    lg.steer(budget={"labels": 15})
    _until_supervisor(steps, 1)
    assert lg.context.meter.budget.labels == 15
    lg.steer(force={"action": "stop"})
    for _ in steps:
        pass
    result = lg.result()
    assert result.stop_reason == "the human asked: stop"
    assert result.decisions[-1]["criteria"] == ["human"]
    assert result.cost["labels"] <= 15
    lg.close()
    assert LabelGraph.open(tmp_path / "run").context.meter.budget.labels == 15


def test_bad_changes_are_refused_with_a_reason(tmp_path):
    lg = _graph(tmp_path / "run")
    lg.add_pool(make_pool(), label_column="label")
    for change, message in (({"strategy": "nope"}, "unknown strategy 'nope'"),
                            ({"batch_size": 0}, "batch_size"),
                            ({"seed": 3}, "cannot change \\['seed'\\]"),
                            ({"budget": {"labels": -1}}, "bad budget"),
                            ({"force": {"action": "dance"}}, "query, synthesize or stop"),
                            ({"force": {"action": "synthesize", "label": "meh"}},
                             "unknown label 'meh'")):
        with pytest.raises(InputError, match=message):
            lg.steer(**change)
    assert lg.context.ledger.human_actions() == []
    lg.close()


def test_a_correction_and_a_rejection_reach_memory_and_survive_a_rebuild(tmp_path):
    lg = _graph(tmp_path / "run", )
    lg.run(make_pool(), label_column="label")
    examples, _ = lg.context.memory.all()
    fix, drop = examples[0], examples[1]
    flipped = "negative" if fix.label == "positive" else "positive"
    lg.correct(fix.id, flipped)
    lg.correct(drop.id, None)
    with pytest.raises(InputError, match="unknown label"):
        lg.correct(fix.id, "meh")
    with pytest.raises(InputError, match="no labeled item"):
        lg.correct("nope", "positive")
    now = {e.id: e for e in lg.context.memory.get([fix.id, drop.id])}
    assert (now[fix.id].label, now[fix.id].source, now[fix.id].status) == (
        flipped, "human", "accepted")
    assert now[drop.id].status == "rejected"
    dataset = lg.result().dataset.set_index("id")
    assert dataset.loc[drop.id, "status"] == "rejected"
    assert (dataset.loc[fix.id, "label"], dataset.loc[fix.id, "source"]) == (flipped, "human")
    actions = lg.context.ledger.human_actions()
    assert [a["kind"] for a in actions] == ["correct", "reject"]
    assert actions[0]["payload"]["previous"] == fix.label
    lg.close()
    watcher = LabelGraph.open(tmp_path / "run", read_only=True)  # memory rebuilt from ledger
    rebuilt = {e.id: e for e in watcher.context.memory.get([fix.id, drop.id])}
    assert rebuilt[fix.id].label == flipped and rebuilt[drop.id].status == "rejected"
    watcher.close()
