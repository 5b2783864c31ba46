"""The whole graph end to end: every agent runs and the supervisor queries, synthesizes
and stops (a scripted chat model), and the rule policy runs to a stop within the label
budget; real Chroma and SQLite."""

from __future__ import annotations

from typing import Any

from conftest import sentiment_of
from labelgraph import Budget, LabelGraph, Task
from labelgraph.events import Decided, Labeled, Learned
from labelgraph.graph.builder import NODES
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
