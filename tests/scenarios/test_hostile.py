"""A fuzz test of hostile model replies and provider errors through whole runs.

The scripted model stands in for a remote provider that times out, rate-limits, drops the
connection, answers garbage or wrong types, puts lone surrogates in labels, and reports
absurd or negative token usage. Every run must finish without a crash, within every
budget, with the clamped usage recorded as suspicious.
"""

from __future__ import annotations

import random
from typing import Any

import pytest
from langchain_core.messages import AIMessage

from conftest import make_pool, sentiment_of
from labelgraph import Budget, LabelGraph, Task
from support.fakes import ScriptedChatModel, last_text

TASK = Task(labels=["positive", "negative"], description="movie review sentiment")
PRICES = {"scripted": (5.0, 10.0)}  # USD per million tokens, so the money budget binds


class RateLimitError(Exception):
    """Shaped like a provider SDK's 429."""

    status_code = 429


def _good(tool: str, messages: list[Any]) -> dict[str, Any]:
    if tool == "Decision":
        return {"action": "query", "reason": "keep going"}
    if tool == "GeneratedExamples":
        return {"examples": ["a delightful and moving little film about sisters"]}
    return {"label": sentiment_of(last_text(messages)), "confidence": 0.9}


def _call(tool: str, args: dict[str, Any], usage: dict[str, int]) -> AIMessage:
    return AIMessage(content="", usage_metadata=usage,
                     tool_calls=[{"name": tool, "args": args, "id": "c1"}])


def hostile(seed: int, counts: dict[str, int]) -> Any:
    rng = random.Random(seed)
    kinds = ["good", "good", "timeout", "rate", "connection", "surrogate", "huge_usage",
             "negative_usage", "garbage", "wrong_type", "empty"]

    def respond(messages: list[Any], tool: str) -> Any:
        kind = rng.choice(kinds)
        counts[kind] = counts.get(kind, 0) + 1
        usage = {"input_tokens": 40, "output_tokens": 10, "total_tokens": 50}
        if kind == "timeout":
            raise TimeoutError("the provider did not answer")
        if kind == "rate":
            raise RateLimitError("429 Too Many Requests")
        if kind == "connection":
            raise ConnectionError("connection reset by peer")
        if kind == "surrogate":
            args = _good(tool, messages)
            if "label" in args:
                args["label"] += "\ud800"
            if "reason" in args:
                args["reason"] = "go \udfff"
            return _call(tool, args, usage)
        if kind == "huge_usage":
            return _call(tool, _good(tool, messages),
                         {"input_tokens": 3_000_000, "output_tokens": 3_000_000,
                          "total_tokens": 6_000_000})
        if kind == "negative_usage":
            return _call(tool, _good(tool, messages),
                         {"input_tokens": -2_400_000, "output_tokens": -5,
                          "total_tokens": -2_400_005})
        if kind == "garbage":
            return "Sure! Here is my answer: ¯\\_(ツ)_/¯"
        if kind == "wrong_type":
            return {"label": 3, "confidence": "very", "action": ["stop"], "examples": 7}
        if kind == "empty":
            return AIMessage(content="")
        return _good(tool, messages)

    return respond


@pytest.mark.parametrize("seed", range(4))
def test_hostile_replies_never_crash_a_run_or_break_a_budget(tmp_path, seed):
    counts: dict[str, int] = {}
    budget = Budget(labels=30, tokens=40_000, usd=0.3)
    lg = LabelGraph(TASK, llm=ScriptedChatModel(responder=hostile(seed, counts)),
                    annotator="llm", policy="llm", budget=budget, run_dir=tmp_path / "run",
                    embedding="hashing", prices=PRICES,
                    config={"seed_size": 6, "batch_size": 6, "synth_batch": 2,
                            "synthesize_every": 2, "retry_backoff": 0.0,
                            "provider_retries": 1, "max_concurrency": 2})
    result = lg.run(make_pool(), label_column="label")
    assert result.done, "the run must end by itself"
    totals = lg.context.ledger.totals()
    assert totals["labels"] <= budget.labels
    assert 0 <= totals["tokens"] <= budget.tokens
    assert 0 <= totals["usd"] <= budget.usd + 1e-9
    calls = lg.context.ledger._rows("SELECT input_tokens, output_tokens FROM calls")
    assert all(tin >= 0 and tout >= 0 for tin, tout in calls)
    odd = {a["call_id"] for a in lg.context.ledger.anomalies() if a["kind"] != "capability"}
    assert len(odd) <= counts.get("huge_usage", 0) + counts.get("negative_usage", 0)
    if counts.get("huge_usage") or counts.get("negative_usage"):
        assert odd, "clamped usage is recorded as suspicious"
    stored = set(result.dataset["label"])
    assert stored <= {"positive", "negative"}  # a surrogate label never reaches memory
    assert sum(counts.values()) > 20
