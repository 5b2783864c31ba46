"""A provider that raises inside any agent's turn is an abstention, never a crash.

Every agent that talks to a model — the supervisor (structured and tool-calling), the
annotator, the generator (structured and tool-calling) and the console — meets a fake
provider that raises a ``ValueError`` (an unparseable body), a ``KeyError``, an HTTP 400 or
an HTTP 404 on its turn; the run goes on to its stop, the reason is in the decision or the
answer, and nothing is retried that no retry mends.
"""

from __future__ import annotations

from typing import Any

import pytest

from conftest import make_pool, sentiment_of
from labelgraph import Budget, LabelGraph, Task
from labelgraph.console.controller import Controller
from labelgraph.console.interpret import AgentInterpreter
from support.fakes import HTTPStatusError, ScriptedChatModel, ToolCallingChatModel, last_text

TASK = Task(labels=["positive", "negative"], description="movie review sentiment")
FAULTS = {"ValueError": lambda: ValueError("Expecting value: line 1 column 1 (char 0)"),
          "KeyError": lambda: KeyError("choices"),
          "HTTP 400": lambda: HTTPStatusError(400, "invalid request"),
          "HTTP 404": lambda: HTTPStatusError(404, "model not found")}
#: each agent's structured answer, by the tool the caller asks for
TURNS = {"supervisor": "Decision", "annotator": "LabelAnswer", "generator": "GeneratedExamples"}


def _good(tool: str, messages: list[Any]) -> dict[str, Any]:
    if tool == "Decision":
        return {"action": "synthesize", "target_labels": ["positive"], "batch_size": 2,
                "reason": "try synthesis"}
    if tool == "GeneratedExamples":
        return {"examples": ["a delightful and moving little film about two sisters"]}
    return {"label": sentiment_of(last_text(messages)), "confidence": 0.9}


def _rows(lg: LabelGraph, sql: str) -> list[Any]:
    return lg.context.ledger._rows(sql)  # noqa: SLF001 (the test reads the ledger's table)


def _run(tmp_path: Any, llm: Any) -> LabelGraph:
    return LabelGraph(TASK, llm=llm, annotator="llm", policy="llm", budget=Budget(labels=16),
                      run_dir=tmp_path / "run", embedding="hashing",
                      config={"seed_size": 6, "batch_size": 4, "synth_batch": 2,
                              "stopping": [], "retry_backoff": 0.0, "provider_retries": 2})


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("agent", TURNS)
def test_a_structured_turn_that_raises_is_an_abstention(tmp_path, agent, fault):
    asked: list[str] = []

    def respond(messages: list[Any], tool: str) -> Any:
        asked.append(tool)
        if tool == TURNS[agent]:
            raise FAULTS[fault]()
        return _good(tool, messages)

    lg = _run(tmp_path, ScriptedChatModel(responder=respond))
    result = lg.run(make_pool(), label_column="label")
    assert result.done and result.stop_reason  # it ended by itself, with a reason
    failed = asked.count(TURNS[agent])
    assert failed >= 1  # the turn was reached, and raised
    decisions = lg.context.ledger.decisions()
    if agent == "supervisor":  # every LLM decision fell back to the rules, saying why
        llm_turns = [d for d in decisions if "LLM policy abstained" in d["reason"]]
        assert llm_turns and all("the provider failed" in d["reason"] for d in llm_turns)
        assert failed <= len(decisions)  # at most one call per decision: none retried
    elif agent == "annotator":  # no LLM label, so the run stopped for want of labels
        assert _rows(lg, "SELECT 1 FROM labels WHERE source = 'llm' AND label IS NOT NULL") \
            == []
        # ... and the stop says why: every item asked got no label, not a silent stop
        assert result.stop_reason.startswith("no new labels in 3 rounds: of 18 items asked, "
                                             "18 got no label (the annotator abstained")
        assert "rejected" not in result.stop_reason
    else:  # the generator wrote nothing; the synthesis rounds say so
        assert _rows(lg, "SELECT 1 FROM labels WHERE origin = 'synthetic'") == []
    lg.close()


def _tool_model(agent: str, fault: str) -> ToolCallingChatModel:
    def script(messages: list[Any], names: list[str]) -> Any:
        if TURNS[agent] in names:
            raise FAULTS[fault]()
        tool = next(n for n in ("Decision", "GeneratedExamples", "LabelAnswer") if n in names)
        return {"tool": tool, "args": _good(tool, messages)}
    return ToolCallingChatModel(script=script)


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("agent", ["supervisor", "generator"])
def test_a_tool_calling_turn_that_raises_is_an_abstention(tmp_path, agent, fault):
    lg = _run(tmp_path, _tool_model(agent, fault))
    result = lg.run(make_pool(), label_column="label")
    assert result.done and result.stop_reason
    decisions = lg.context.ledger.decisions()
    if agent == "supervisor":
        kind = type(FAULTS[fault]()).__name__  # the provider's error, named in the reason
        assert any("LLM policy abstained" in d["reason"] and kind in d["reason"]
                   for d in decisions)
    else:
        assert _rows(lg, "SELECT 1 FROM labels WHERE origin = 'synthetic'") == []
    lg.close()


@pytest.mark.parametrize("fault", FAULTS)
def test_a_console_turn_that_raises_is_an_answer_not_a_crash(tmp_path, fault):
    def script(messages: list[Any], names: list[str]) -> Any:
        if "ConsoleReply" in names:
            raise FAULTS[fault]()
        return {"tool": "LabelAnswer", "args": _good("LabelAnswer", messages)}

    lg = LabelGraph(TASK, llm=ToolCallingChatModel(script=script), annotator="oracle",
                    policy="rule", budget=Budget(labels=6), run_dir=tmp_path / "run",
                    embedding="hashing", config={"seed_size": 6, "stopping": []})
    lg.run(make_pool(), label_column="label")
    ctl = Controller(lg, interpreter=AgentInterpreter())
    reply = ctl.execute("how is it going?")
    assert reply.startswith("the console agent could not answer (")
    assert "slash commands always work" in reply
    assert "labels 6/6" in ctl.execute("/status")  # the console still works
    lg.close()
