"""The model layer (labelgraph.llm): naming a model server, its price, reading a bare
label strictly, a provider's package missing, transient provider errors, a label's mass
from log-probabilities, and the metered caller (MeteredLLM): recorded, replayed, never
over budget."""

from __future__ import annotations

import math
from typing import Any

import pytest
from langchain_core.messages import BaseMessage, HumanMessage
from pydantic import BaseModel, Field

from labelgraph import Budget
from labelgraph.budget import PRICES, BudgetMeter
from labelgraph.errors import BudgetExhausted, InputError, ModelNotInstalledError
from labelgraph.llm import (
    MeteredLLM,
    is_transient,
    label_mass,
    resolve_llm,
    split_server,
    strict_label,
)
from labelgraph.memory.ledger import Ledger
from support.builders import exhausted
from support.fakes import FREE, ScriptedChatModel


def test_a_server_is_named_by_its_base_url():
    assert split_server("gemma@http://127.0.0.1:8080/v1/") == ("gemma", "http://127.0.0.1:8080/v1")
    assert split_server("gpt-4o-mini") == ("gpt-4o-mini", None)
    assert split_server("name@not-a-url") == ("name@not-a-url", None)
    llm = resolve_llm("openai:gemma@http://127.0.0.1:8080/v1")
    assert (llm.model_name, str(llm.openai_api_base)) == ("gemma", "http://127.0.0.1:8080/v1")
    assert llm.max_retries == 0 and llm.request_timeout == 60.0  # labelgraph retries


def test_a_remote_server_needs_a_key_and_a_url_goes_with_openai(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("LABELGRAPH_LLM_API_KEY", raising=False)
    with pytest.raises(InputError, match="LABELGRAPH_LLM_API_KEY"):
        resolve_llm("openai:big@https://models.example.com/v1")
    monkeypatch.setenv("LABELGRAPH_LLM_API_KEY", "sk-test")
    assert resolve_llm("openai:big@https://models.example.com/v1").openai_api_key
    with pytest.raises(InputError, match="goes with 'openai:'"):
        resolve_llm("anthropic:m@http://127.0.0.1:1/v1")


def test_the_cap_is_sent_as_the_server_reads_it():
    llm = resolve_llm("openai:gemma@http://127.0.0.1:8080/v1").model_copy(
        update={"max_tokens": 8})
    payload = llm._get_request_payload([("user", "hi")])  # noqa: SLF001 (what is sent)
    assert payload["max_completion_tokens"] == 8 and payload["max_tokens"] == 8


def test_a_bare_answer_is_read_strictly():
    labels = ["positive", "negative", "neutral"]
    assert strict_label("Positive.", labels) == "positive"
    assert strict_label(" **negative** because", labels) == "negative"
    assert strict_label("positively not", labels) is None  # more of a word follows
    assert strict_label("Classify the sentiment", labels) is None  # an echo
    assert strict_label("", labels) is None
    assert strict_label("pos", ["pos", "positive"]) == "pos"


# -- provider packages ---------------------------------------------------------------------
def test_provider_spec_without_its_package_says_how_to_install(monkeypatch):
    import builtins

    real = builtins.__import__

    def fake(name, *args, **kw):  # noqa: ANN001, ANN002, ANN003, ANN202
        if name.startswith("langchain.chat_models") or name == "langchain":
            raise ImportError("no langchain")
        return real(name, *args, **kw)

    monkeypatch.setattr(builtins, "__import__", fake)
    with pytest.raises(ModelNotInstalledError, match=r"labelgraph\[openai\]"):
        resolve_llm("openai:gpt-4o-mini")
    assert resolve_llm("none") is None


# -- provider errors -----------------------------------------------------------------------
class RateLimitError(Exception):
    """Shaped like a provider SDK's 429."""

    status_code = 429


def test_transient_errors_are_recognised():
    assert is_transient(TimeoutError()) and is_transient(ConnectionError())
    assert is_transient(RateLimitError()) and not is_transient(ValueError("bad"))


# -- log-probabilities ---------------------------------------------------------------------
def test_label_mass_reads_the_first_token() -> None:
    top = [("Pos", math.log(0.6)), (" negative", math.log(0.3)), ("The", math.log(0.1))]
    mass = label_mass(top, ["positive", "negative"])
    assert mass is not None
    assert abs(mass["positive"] - 0.6 / 0.9) < 1e-12 and abs(sum(mass.values()) - 1) < 1e-12
    assert label_mass([("The", -0.1), ("", -1.0)], ["positive", "negative"]) is None
    # a token that begins two labels gives each half its probability
    split = label_mass([("s", math.log(0.5)), ("sports", math.log(0.5))], ["sports", "science"])
    assert split == {"sports": 0.75, "science": 0.25}


# -- the metered caller (MeteredLLM) -------------------------------------------------------
class Verdict(BaseModel):
    label: str = Field(description="the chosen label")
    confidence: float = Field(description="between 0 and 1")


def _msgs(text: str) -> list[BaseMessage]:
    return [HumanMessage(content=f"Label the text.\n<text>{text}</text>")]


def _good(messages: list[BaseMessage], tool: str) -> dict[str, Any]:
    return {"label": "pos", "confidence": 0.9}


def _metered(ledger: Ledger, model: ScriptedChatModel, budget: Budget | None = None,
             **kw: Any) -> MeteredLLM:
    meter = BudgetMeter(budget or Budget(labels=10), ledger)
    return MeteredLLM(model, ledger=ledger, meter=meter, **{"prices": FREE, **kw})


def test_structured_call_is_recorded(ledger: Ledger) -> None:
    model = ScriptedChatModel(responder=_good)
    llm = _metered(ledger, model)
    out, reason = llm.structured("annotator", Verdict, _msgs("a fine film"), 3)
    assert out == Verdict(label="pos", confidence=0.9) and reason == ""
    assert model.calls == ["Verdict"]
    totals = ledger.totals()
    assert totals["calls"] == 1 and totals["tokens"] > 0 and totals["usd"] == 0.0
    assert llm.meter.spent.tokens == totals["tokens"]
    assert llm.meter.pending.tokens == 0


def test_structured_call_replays_instead_of_re_calling(ledger: Ledger) -> None:
    first = ScriptedChatModel(responder=_good)
    _metered(ledger, first).structured("annotator", Verdict, _msgs("a fine film"), 0)
    spent = ledger.totals()

    # a re-run after a crash: a new model object, a new meter, the same ledger
    second = ScriptedChatModel(responder=lambda m, t: {"label": "neg", "confidence": 0.1})
    llm = _metered(ledger, second)
    out, _ = llm.structured("annotator", Verdict, _msgs("a fine film"), 0)
    assert out == Verdict(label="pos", confidence=0.9)  # the recorded answer
    assert second.calls == []
    assert ledger.totals() == spent
    # a different prompt is a different call
    llm.structured("annotator", Verdict, _msgs("a dull film"), 0)
    assert second.calls == ["Verdict"]


def test_replay_is_free_even_when_the_budget_is_spent(ledger: Ledger) -> None:
    _metered(ledger, ScriptedChatModel(responder=_good)).structured(
        "annotator", Verdict, _msgs("x"), 0)
    tokens = ledger.totals()["tokens"]
    model = ScriptedChatModel(responder=_good)
    llm = _metered(ledger, model, Budget(labels=10, tokens=tokens))
    assert exhausted(llm.meter) == "tokens"
    out, _ = llm.structured("annotator", Verdict, _msgs("x"), 0)
    assert out is not None and model.calls == []
    with pytest.raises(BudgetExhausted):
        llm.structured("annotator", Verdict, _msgs("y"), 0)


@pytest.mark.parametrize("bad", [
    "I think it is positive.",  # plain text, no tool call
    {"label": "pos", "confidence": "very"},  # a tool call that does not validate
    {"confidence": 0.3},  # a missing field
], ids=["text", "wrong-type", "missing-field"])
def test_malformed_output_retries_then_gives_up(ledger: Ledger, bad: Any) -> None:
    model = ScriptedChatModel(responder=lambda m, t: bad)
    llm = _metered(ledger, model, max_retries=2)
    out, reason = llm.structured("annotator", Verdict, _msgs("x"), 0)
    assert out is None
    assert reason.startswith("malformed output")
    assert len(model.calls) == 3  # one try and two retries
    assert ledger.totals()["calls"] == 3  # every attempt was paid for and recorded
    # re-running replays the failed attempts; nothing is bought twice
    again = ScriptedChatModel(responder=lambda m, t: bad)
    assert _metered(ledger, again, max_retries=2).structured(
        "annotator", Verdict, _msgs("x"), 0) == (None, reason)
    assert again.calls == []


def test_malformed_then_good_output(ledger: Ledger) -> None:
    answers = iter(["not json at all", {"label": "neg", "confidence": 0.6}])
    model = ScriptedChatModel(responder=lambda m, t: next(answers))
    out, reason = _metered(ledger, model).structured("annotator", Verdict, _msgs("x"), 0)
    assert out == Verdict(label="neg", confidence=0.6) and reason == ""
    assert len(model.calls) == 2


def test_token_budget_refuses_before_the_call(ledger: Ledger) -> None:
    model = ScriptedChatModel(responder=_good)
    llm = _metered(ledger, model, Budget(labels=10, tokens=100))  # < one call's estimate
    with pytest.raises(BudgetExhausted):
        llm.structured("annotator", Verdict, _msgs("x"), 0)
    assert model.calls == []
    assert ledger.totals()["calls"] == 0
    assert llm.meter.pending.tokens == 0


def test_token_budget_is_never_exceeded(ledger: Ledger) -> None:
    budget = 3000
    model = ScriptedChatModel(responder=_good)
    llm = _metered(ledger, model, Budget(labels=10, tokens=budget))
    made = 0
    with pytest.raises(BudgetExhausted):
        for i in range(1000):
            llm.structured("annotator", Verdict, _msgs(f"item {i} " + "words " * 60), 0)
            made += 1
    assert made >= 2
    totals = ledger.totals()
    assert totals["calls"] == made == len(model.calls)
    assert totals["tokens"] <= budget
    assert llm.meter.spent.tokens == totals["tokens"]
    assert llm.meter.pending.tokens == 0


def test_usd_budget_refuses_a_paid_model(ledger: Ledger) -> None:
    model = ScriptedChatModel(responder=_good)
    llm = _metered(ledger, model, Budget(labels=10, usd=1e-6), name="openai:gpt-4o")
    with pytest.raises(BudgetExhausted):
        llm.structured("annotator", Verdict, _msgs("x"), 0)
    assert model.calls == []
    free = ScriptedChatModel(responder=_good)
    out, _ = _metered(ledger, free, Budget(labels=10, usd=0.0)).structured(
        "annotator", Verdict, _msgs("x"), 0)
    assert out is not None and free.calls == ["Verdict"]


def test_paid_call_is_priced(ledger: Ledger) -> None:
    llm = _metered(ledger, ScriptedChatModel(responder=_good), Budget(labels=10, usd=1.0),
                   name="openai:gpt-4o-mini")
    llm.structured("annotator", Verdict, _msgs("x"), 0)
    (row,) = [ledger.call(cid) for cid in _call_ids(ledger)]
    p_in, p_out = PRICES["openai:gpt-4o-mini"]
    assert row.model == "openai:gpt-4o-mini"
    assert row.usd == pytest.approx((row.input_tokens * p_in + row.output_tokens * p_out) / 1e6)
    assert llm.meter.spent.usd == pytest.approx(row.usd)


def _call_ids(ledger: Ledger) -> list[str]:
    return [r[0] for r in ledger._rows("SELECT call_id FROM calls")]


def test_a_failing_model_releases_its_reservation(ledger: Ledger) -> None:
    def boom(messages: list[BaseMessage], tool: str) -> dict[str, Any]:
        raise RuntimeError("connection reset")

    llm = _metered(ledger, ScriptedChatModel(responder=boom), Budget(labels=10, tokens=5000))
    with pytest.raises(RuntimeError, match="connection reset"):
        llm.structured("annotator", Verdict, _msgs("x"), 0)
    assert llm.meter.pending.tokens == 0 and llm.meter.spent.tokens == 0
    assert ledger.totals()["calls"] == 0


class VerboseChatModel(ScriptedChatModel):
    """Reports a long answer (2000 output tokens) unless its ``max_tokens`` cap is set."""

    max_tokens: int | None = None

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                  run_manager: Any = None, **kwargs: Any) -> Any:
        result = super()._generate(messages, stop, run_manager, **kwargs)
        usage = result.generations[0].message.usage_metadata
        usage["output_tokens"] = min(2000, int(self.max_tokens or 2000))
        usage["total_tokens"] = usage["input_tokens"] + usage["output_tokens"]
        return result


def test_token_budget_holds_when_the_model_writes_long_answers(ledger: Ledger) -> None:
    budget = 1500
    llm = _metered(ledger, VerboseChatModel(responder=_good), Budget(labels=10, tokens=budget))
    with pytest.raises(BudgetExhausted):
        for i in range(10):
            llm.structured("annotator", Verdict, _msgs(f"item {i}"), 0)
    assert ledger.totals()["tokens"] <= budget
