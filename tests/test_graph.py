"""The whole graph end to end with a scripted chat model, real Chroma and SQLite."""

from __future__ import annotations

from typing import Any

import pytest

from conftest import sentiment_of
from labelgraph import Budget, LabelGraph, Task
from labelgraph.errors import RunStateError
from labelgraph.events import Decided, Labeled, Learned
from labelgraph.graph.builder import NODES, build_graph
from support.fakes import ScriptedChatModel, last_text

TASK = Task(labels=["positive", "negative"], description="movie review sentiment")
TRAP = "a wonderful trap of a film that the annotator will call negative"


def scripted(decisions: list[dict[str, Any]]) -> ScriptedChatModel:
    """Decisions in order; labels by keyword (TRAP mislabeled); two generated examples."""
    plan = iter(decisions)

    def respond(messages: list[Any], tool: str) -> dict[str, Any] | str:
        if tool == "Decision":
            return next(plan, {"action": "stop", "reason": "script ended"})
        if tool == "LabelAnswer":
            text = last_text(messages)
            label = "negative" if "trap" in text else sentiment_of(text)
            return {"label": label, "confidence": 0.95}
        if tool == "GeneratedExamples":
            return {"examples": ["a superb, delightful picture about two sisters at sea", TRAP]}
        raise AssertionError(f"unexpected tool {tool}")

    return ScriptedChatModel(responder=respond)


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


def test_every_agent_runs_and_the_supervisor_queries_synthesizes_and_stops(tmp_path, pool):
    model = scripted([
        {"action": "query", "batch_size": 8, "strategy": "cold_start", "reason": "seed"},
        {"action": "query", "batch_size": 6, "strategy": "margin", "reason": "uncertain"},
        {"action": "synthesize", "batch_size": 2, "target_labels": ["positive"],
         "reason": "more positives"},
        {"action": "stop", "reason": "enough"},
    ])
    lg = LabelGraph(TASK, llm=model, annotator="llm", policy="llm", budget=Budget(labels=50),
                    run_dir=tmp_path / "run", embedding="hashing")
    seen: set[str] = set()
    events: list[Any] = []
    for mode, chunk in lg.stream(pool.iloc[:40], test=pool.iloc[40:], label_column="label"):
        if mode == "updates":
            seen.update(chunk)
        else:
            events.append(chunk)
    result = lg.result()
    assert seen == set(NODES)
    decided = [e for e in events if isinstance(e, Decided)]
    assert [e.action for e in decided] == ["query", "query", "synthesize", "stop"]
    assert sum(e.n for e in events if isinstance(e, Labeled)) == 16
    assert [e.metrics["labels"] for e in events if isinstance(e, Learned)] == \
        result.curve["labels"].tolist()
    assert [d["action"] for d in result.decisions] == ["query", "query", "synthesize", "stop"]
    assert result.stop_reason == "enough"
    verdicts = lg.context.ledger.verdicts()
    trap = [v for v in verdicts.values() if v[1] == "negative" and "blind label" in v[2]]
    assert len(trap) == 1 and trap[0][0] == "reject"
    texts = set(result.dataset["text"])
    assert TRAP not in texts
    assert "a superb, delightful picture about two sisters at sea" in texts
    synthetic = result.dataset[result.dataset["origin"] == "synthetic"]
    assert list(synthetic["label"]) == ["positive"]
    assert result.cost["labels"] == 8 + 6 + 2
    assert result.cost["tokens"] > 0 and result.curve["accuracy"].iloc[-1] == 1.0
    assert (tmp_path / "run" / "checkpoints.sqlite").exists()
    assert (tmp_path / "run" / "ledger.sqlite").exists()
    assert (tmp_path / "run" / "chroma").is_dir()


def test_rule_policy_runs_to_a_stop_within_the_label_budget(tmp_path, pool):
    lg = LabelGraph(TASK, llm="none", annotator="oracle", budget=Budget(labels=23),
                    run_dir=tmp_path / "run", embedding="hashing",
                    config={"seed_size": 6, "batch_size": 5, "stopping": []})
    result = lg.run(pool, label_column="label")
    assert result.cost["labels"] == 23
    assert result.stop_reason == "budget exhausted: labels"
    assert len(result.dataset) == 23
    assert result.curve["labels"].tolist() == [6, 11, 16, 21, 23]


def test_model_joblib_is_written_when_the_run_pauses_and_when_it_stops(tmp_path, pool):
    import joblib
    import numpy as np

    lg = LabelGraph(TASK, llm="none", annotator="oracle", budget=Budget(labels=23),
                    run_dir=tmp_path / "run", embedding="hashing",
                    config={"seed_size": 6, "batch_size": 5, "stopping": []})
    path = tmp_path / "run" / "model.joblib"
    for _ in lg.stream(pool, label_column="label", pause_before="supervisor"):
        pass
    assert not path.exists()  # paused after the bootstrap: no student yet
    learned = 0
    for mode, chunk in lg.stream(pause_before="supervisor"):  # round 1, to the next pause
        learned += mode == "updates" and "learner" in chunk
        assert not path.exists()  # not written every round, only when the stream ends
    assert learned == 1
    paused = joblib.load(path)  # round 1's student
    assert lg.result().curve["labels"].tolist() == [6]
    result = lg.resume()
    written = joblib.load(path)
    assert result.curve["labels"].tolist()[-1] == 23
    assert len(written.coef_[0]) == len(paused.coef_[0])
    assert not np.allclose(written.coef_, paused.coef_)  # replaced by the final student
    np.testing.assert_array_equal(written.coef_, result.model.coef_)
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


def test_malformed_llm_decision_falls_back_to_the_rule_policy(tmp_path, pool):
    def respond(messages: list[Any], tool: str) -> dict[str, Any] | str:
        if tool == "Decision":
            return {"action": "dance", "reason": 3}
        return {"label": sentiment_of(last_text(messages)), "confidence": 0.9}

    lg = LabelGraph(TASK, llm=ScriptedChatModel(responder=respond), annotator="llm",
                    policy="llm", budget=Budget(labels=10), run_dir=tmp_path / "run",
                    embedding="hashing", config={"seed_size": 6, "batch_size": 4,
                                                 "synthesize": False})
    result = lg.run(pool, label_column="label")
    assert result.cost["labels"] == 10
    assert "LLM policy abstained" in result.decisions[0]["reason"]


def test_custom_verifier_tool_rejects_and_annotator_tool_adds_context(tmp_path, pool):
    prompts: list[str] = []

    def respond(messages: list[Any], tool: str) -> dict[str, Any] | str:
        prompts.append(str(messages[-1].content))
        return {"label": sentiment_of(last_text(messages)), "confidence": 0.9}

    def even(text: str) -> bool:
        return int(text.split("scene ")[1].split(",")[0]) % 2 == 0

    def odd_scenes_only(text: str) -> dict[str, str] | None:
        """Reject texts about even-numbered scenes."""
        return {"verdict": "reject", "reason": "even scene"} if even(text) else None

    def glossary(text: str) -> str:
        """Domain hints for the annotator."""
        return "GLOSSARY: 'tedious' means negative"

    lg = LabelGraph(TASK, llm=ScriptedChatModel(responder=respond), annotator="llm",
                    policy="rule", budget=Budget(labels=12), run_dir=tmp_path / "run",
                    embedding="hashing", tools={"verifier": [odd_scenes_only],
                                                "annotator": [glossary]},
                    config={"seed_size": 12, "synthesize": False})
    result = lg.run(pool, label_column="label")
    assert all("GLOSSARY" in p for p in prompts) and prompts
    assert len(result.dataset) and not any(even(t) for t in result.dataset["text"])
    rejected = [v for v in lg.context.ledger.verdicts().values() if "odd_scenes_only" in v[2]]
    assert rejected and all(v[0] == "reject" for v in rejected)
