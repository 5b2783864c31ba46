"""The public API (labelgraph.api.LabelGraph): bad input is a clear error naming what,
or a counted skip; what is refused before a round; long texts kept; stream()'s typed events;
the policy a run decides by; a person steering a run between steps (steer / correct):
recorded in the ledger and the graph's state, followed by the supervisor, kept across a
reopen."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from conftest import make_pool
from labelgraph import Budget, InputError, LabelGraph, Task
from labelgraph.events import Decided, Learned, PoolChecked
from support.builders import LONG, with_a_long_text

TASK = Task(labels=["positive", "negative"], description="movie review sentiment")


TOPIC = Task(labels=["markets", "football"], description="topic")


# -- bad input: a clear error naming what, or a counted skip -------------------------------
def graph(tmp_path, **kw) -> LabelGraph:  # noqa: ANN001
    return LabelGraph(TASK, llm="none", annotator="oracle", budget=Budget(labels=5),
                      run_dir=tmp_path / "run", embedding="hashing", **kw)


def test_empty_pool_is_a_clear_error_and_writes_nothing(tmp_path):
    with pytest.raises(InputError, match="empty"):
        graph(tmp_path).run([])
    assert not (tmp_path / "run" / "pool.parquet").exists()


def test_no_pool_at_all_is_a_clear_error(tmp_path):
    with pytest.raises(InputError, match="no pool"):
        graph(tmp_path).run()


def test_one_label_is_a_clear_error():
    with pytest.raises(InputError, match="at least two labels"):
        Task(labels=["only"])


def test_duplicates_non_text_and_unknown_labels_are_counted_skips(tmp_path):
    lg = graph(tmp_path)
    frame = pd.DataFrame({
        "text": ["a fine film", "a fine film", 42, None, "  ", "a poor film", "so-so film"],
        "label": ["positive", "positive", "negative", "negative", "negative", "negative",
                  "meh"]})
    data = lg.add_pool(frame, label_column="label")
    assert data.texts == ["a fine film", "a poor film"]
    assert data.skipped["duplicate"] == 1
    assert data.skipped["non-text"] == 2
    assert data.skipped["empty"] == 1
    assert data.skipped["unknown label"] == 1
    assert lg.skipped["pool"] == data.skipped


def test_missing_text_column_names_the_columns(tmp_path):
    with pytest.raises(InputError, match="review"):
        graph(tmp_path).run(pd.DataFrame({"review": ["good"]}))


def test_unknown_strategy_annotator_and_config_key(tmp_path):
    with pytest.raises(InputError, match="unknown annotator"):
        _ = LabelGraph(TASK, llm="none", annotator="crowd", run_dir=tmp_path / "a",
                       embedding="hashing").context
    with pytest.raises(InputError, match="unknown config keys"):
        LabelGraph(TASK, llm="none", config={"batchsize": 3}, run_dir=tmp_path / "b")
    with pytest.raises(InputError, match="needs an LLM"):
        _ = LabelGraph(TASK, llm="none", annotator="llm", run_dir=tmp_path / "c",
                       embedding="hashing").context


def test_reopening_a_run_with_other_embeddings_is_a_clear_error(tmp_path):
    from labelgraph.errors import RunStateError

    graph(tmp_path).context.ledger.close()
    with pytest.raises(RunStateError, match="other embeddings"):
        _ = LabelGraph(TASK, llm="none", annotator="oracle", run_dir=tmp_path / "run",
                       embedding="minilm").context


def test_a_different_pool_for_an_existing_run_is_refused(tmp_path):
    from labelgraph.errors import RunStateError

    lg = graph(tmp_path)
    lg.add_pool(["a fine film", "a poor film"])
    with pytest.raises(RunStateError, match="different pool"):
        lg.add_pool(["another film entirely", "a poor film"])


# -- refused before a round ----------------------------------------------------------------
def test_an_oracle_without_gold_labels_is_refused_before_a_round(tmp_path: Path) -> None:
    lg = LabelGraph(TASK, llm="none", annotator="oracle", run_dir=tmp_path / "run",
                    embedding="hashing")
    with pytest.raises(InputError, match="label_column="):
        lg.run(make_pool())  # the label column is not named
    assert not (tmp_path / "run" / "checkpoints.sqlite").exists() or \
        lg.graph.get_state(lg.config_dict).values == {}


# -- long texts ----------------------------------------------------------------------------
def test_the_api_keeps_long_texts_in_pool_and_test_split(tmp_path: Path) -> None:
    lg = LabelGraph(TOPIC, llm="none", annotator="oracle", run_dir=tmp_path / "keep",
                    embedding="hashing", embedding_cache=False)
    lg.add_pool(with_a_long_text(), label_column="label", name="test")
    lg.add_pool(with_a_long_text(), label_column="label")
    for split in ("pool", "test"):
        assert LONG in pd.read_parquet(tmp_path / "keep" / f"{split}.parquet")["text"].tolist()
    dropped = LabelGraph(TOPIC, llm="none", annotator="oracle", run_dir=tmp_path / "drop",
                         embedding="hashing", embedding_cache=False)
    data = dropped.add_pool(with_a_long_text(), label_column="label", max_chars=5000)
    assert LONG not in data.texts and data.skipped == {"too long": 1}


# -- stream(): typed events ----------------------------------------------------------------
def _oracle(tmp_path: Path, **kw: Any) -> LabelGraph:
    options = {"llm": "none", "annotator": "oracle", "budget": Budget(labels=12),
               "run_dir": tmp_path / "run", "embedding": "hashing",
               "config": {"seed_size": 6, "batch_size": 6, "stopping": []}, **kw}
    return LabelGraph(TASK, **options)


def test_stream_yields_typed_events_beside_node_updates(tmp_path):
    lg = _oracle(tmp_path)
    pool = make_pool()
    pool.loc[len(pool)] = {"text": pool.text[0], "label": "positive"}  # a duplicate row
    items = list(lg.stream(pool, label_column="label"))
    modes = {mode for mode, _ in items}
    assert modes == {"updates", "custom"}
    events = [chunk for mode, chunk in items if mode == "custom"]
    assert events[0] == PoolChecked(round=0, name="pool", size=60, skipped={"duplicate": 1})
    assert [e.action for e in events if isinstance(e, Decided)] == ["query", "query", "stop"]
    assert [e.metrics["labels"] for e in events if isinstance(e, Learned)] == [6, 12]


# -- the policy a run was given ------------------------------------------------------------
def test_policy_auto_says_in_its_first_decision_that_the_rules_decide(tmp_path):
    lg = LabelGraph(TASK, llm="none", annotator="oracle", run_dir=tmp_path / "a",
                    embedding="hashing", budget=Budget(labels=12),
                    config={"seed_size": 6, "batch_size": 6, "stopping": []})
    lg.run(make_pool(), label_column="label")
    first, *rest = lg.context.ledger.decisions()
    assert first["reason"].endswith("; policy 'auto' decides by the rules: the run has no LLM")
    assert rest and not any("policy 'auto'" in d["reason"] for d in rest)  # said once


# -- steer() and correct(): a person between steps -----------------------------------------
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
