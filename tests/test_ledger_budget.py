"""The ledger, the budget meter and the metered LLM caller, over in-memory and SQLite ledgers."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import BaseMessage, HumanMessage
from pydantic import BaseModel, Field

from labelgraph.budget import PRICES, UNKNOWN_PRICE, BudgetMeter, Spend, price_for
from labelgraph.errors import BudgetExhausted, InputError
from labelgraph.llm import MeteredLLM
from labelgraph.memory.ledger import CallRow, LabelRow, Ledger
from labelgraph.types import Budget, Task, content_id
from support.fakes import FREE, ScriptedChatModel


@pytest.fixture(params=["memory", "sqlite"])
def ledger(request: pytest.FixtureRequest, tmp_path: Path):  # noqa: ANN201
    led = Ledger(":memory:" if request.param == "memory" else tmp_path / "ledger.sqlite")
    yield led
    led.close()


def _label(item: str, label: str | None = "pos", *, source: str = "llm", round_: int = 0,
           usd: float = 0.0, tokens: int = 0) -> LabelRow:
    return LabelRow(item_id=item, source=source, text=f"text of {item}", label=label,
                    confidence=0.8, origin="pool", intended=None, round=round_, usd=usd,
                    tokens=tokens, note=None)


def _call(call_id: str, *, tin: int = 10, tout: int = 5, usd: float = 0.0,
          output: str = '{"label": "pos"}') -> CallRow:
    return CallRow(call_id=call_id, agent="annotator", model="scripted", output=output,
                   input_tokens=tin, output_tokens=tout, usd=usd, round=1)


# === ledger ===============================================================================


def test_record_labels_is_idempotent(ledger: Ledger) -> None:
    assert ledger.record_labels([_label("a"), _label("b")]) == 2
    # the same (item, source) again, even with a different label, keeps the first row
    assert ledger.record_labels([_label("a", "neg"), _label("b", "neg")]) == 0
    got = ledger.labels_for(["a", "b"])
    assert {k: v.label for k, v in got.items()} == {("a", "llm"): "pos", ("b", "llm"): "pos"}
    assert got[("a", "llm")] == _label("a")
    # another source for the same item is another row
    assert ledger.record_labels([_label("a", "neg", source="human")]) == 1
    assert ledger.labels_for(["a"])[("a", "human")].label == "neg"
    assert ledger.labeled_ids() == {"a", "b"}
    assert ledger.totals()["labels"] == 3


def test_record_labels_accepts_a_generator_and_none_label(ledger: Ledger) -> None:
    ledger.record_labels(_label(f"g{i}", None if i == 0 else "pos") for i in range(3))
    rows = ledger.labels_for(["g0", "g1", "g2"])
    assert len(rows) == 3 and rows[("g0", "llm")].label is None


def test_a_failed_write_writes_nothing(ledger: Ledger) -> None:
    bad = LabelRow(item_id="bad", source="llm", text=None, label="pos",  # type: ignore[arg-type]
                   confidence=0.5, origin="pool", intended=None, round=0)
    with pytest.raises(Exception, match="NOT NULL"):
        ledger.record_labels([_label("ok"), bad])
    assert ledger.labeled_ids() == set()
    ledger.record_labels([_label("ok")])  # the ledger is still usable
    assert ledger.labeled_ids() == {"ok"}


def test_labels_for_many_ids(ledger: Ledger) -> None:
    n = 1234  # more than two chunks of 500 bound parameters
    ledger.record_labels([_label(f"item{i}", "pos" if i % 2 else "neg") for i in range(n)])
    asked = [f"item{i}" for i in range(n)] + ["missing1", "missing2"]
    got = ledger.labels_for(asked)
    assert len(got) == n
    assert got[("item1233", "llm")].label == "pos"
    assert got[("item0", "llm")].label == "neg"
    assert ledger.labels_for([]) == {}
    assert len(ledger.all_labels()) == n


def test_totals(ledger: Ledger) -> None:
    assert ledger.totals() == {"labels": 0, "tokens": 0, "usd": 0.0, "calls": 0,
                               "calls_pending_at_kill": 0}
    ledger.record_labels([_label("a"), _label("b", source="oracle")])
    ledger.record_call(_call("c1", tin=100, tout=20, usd=0.5))
    ledger.record_call(_call("c2", tin=30, tout=7, usd=0.25))
    totals = ledger.totals()
    assert totals == {"labels": 2, "tokens": 157, "usd": pytest.approx(0.75), "calls": 2,
                      "calls_pending_at_kill": 0}
    # A call written ahead counts at its reservation until it is answered or orphaned.
    ledger.record_pending("c3", "annotator", "m", tokens=500, usd=0.1, round_=1)
    assert ledger.totals()["tokens"] == 657 and ledger.totals()["calls_pending_at_kill"] == 1
    ledger.record_call(_call("c3", tin=40, tout=10, usd=0.01))
    assert ledger.totals()["tokens"] == 207 and ledger.totals()["calls_pending_at_kill"] == 0
    ledger.record_pending("c4", "annotator", "m", tokens=500, usd=0.1, round_=1)
    assert ledger.orphan_pending() == 1 and ledger.orphan_pending() == 0
    assert [o["call_id"] for o in ledger.orphans()] == ["c4"]
    assert ledger.totals()["tokens"] == 707


def test_record_call_and_call(ledger: Ledger) -> None:
    row = _call("c1", tin=12, tout=3, usd=0.001)
    ledger.record_call(row)
    assert ledger.call("c1") == row
    assert ledger.call("nope") is None
    ledger.record_call(_call("c1", output="different"))  # never overwritten
    assert ledger.call("c1") == row
    assert ledger.totals()["calls"] == 1


def test_verdicts_latest_per_item(ledger: Ledger) -> None:
    ledger.record_verdicts([("a", 0, "accept", "pos", "votes agree"),
                            ("b", 0, "flag", None, "neighbours disagree")])
    ledger.record_verdicts([("a", 2, "reject", "neg", "audit")])
    ledger.record_verdicts([("a", 1, "flag", "pos", "student disagrees")])  # an older round
    ledger.record_verdicts([("a", 2, "accept", "pos", "rewritten?")])  # same round: ignored
    assert ledger.verdicts() == {"a": ("reject", "neg", "audit"),
                                 "b": ("flag", None, "neighbours disagree")}


def test_verdicts_for_a_round(ledger: Ledger) -> None:
    ledger.record_verdicts([("a", 0, "accept", "pos", "r0"), ("b", 0, "reject", None, "r0b"),
                            ("a", 1, "flag", "pos", "r1")])
    assert ledger.verdicts_for(["a", "b", "c"], 0) == {"a": ("accept", "r0"),
                                                       "b": ("reject", "r0b")}
    assert ledger.verdicts_for(["a", "b"], 1) == {"a": ("flag", "r1")}
    assert ledger.verdicts_for(["a"], 5) == {}
    assert ledger.verdicts_for([], 0) == {}


def test_decisions_and_metrics_round_trip(ledger: Ledger) -> None:
    d0 = {"action": "query", "batch_size": 10, "strategy": "margin", "reason": "start",
          "target_labels": [], "followed": ["selector"]}
    d1 = {"action": "stop", "batch_size": 0, "strategy": "margin", "reason": "budget"}
    ledger.record_decision(1, d1)
    ledger.record_decision(0, d0)
    ledger.record_decision(0, {"action": "synthesize"})  # a re-run of round 0: ignored
    assert ledger.decisions() == [dict(d0, round=0), dict(d1, round=1)]
    m0 = {"round": 0, "accuracy": 0.5, "n_labels": 10, "per_class": {"pos": 5, "neg": 5}}
    m1 = {"round": 1, "accuracy": 0.75, "n_labels": 20, "per_class": {"pos": 9, "neg": 11}}
    ledger.record_metrics(1, m1)
    ledger.record_metrics(0, m0)
    ledger.record_metrics(0, {"accuracy": 0.0})
    assert ledger.metrics() == [m0, m1]


def test_concurrent_writers(ledger: Ledger) -> None:
    def write(worker: int) -> None:
        for i in range(10):
            ledger.record_labels([_label(f"w{worker}-{i}"), _label(f"shared{i}")])
            ledger.record_call(_call(f"c{worker}-{i}"))

    threads = [threading.Thread(target=write, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    totals = ledger.totals()
    assert totals["labels"] == 8 * 10 + 10
    assert totals["calls"] == 8 * 10


def test_file_ledger_reopens_with_everything(tmp_path: Path) -> None:
    path = tmp_path / "run" / "ledger.sqlite"
    path.parent.mkdir()
    first = Ledger(path)
    first.record_labels([_label("a"), _label("b", "neg", source="human")])
    first.record_call(_call("c1", tin=40, tout=8, usd=0.02))
    first.record_verdicts([("a", 0, "accept", "pos", "ok")])
    first.record_decision(0, {"action": "query", "reason": "start"})
    first.record_metrics(0, {"accuracy": 0.6})
    snapshot = (first.all_labels(), first.totals(), first.verdicts(), first.decisions(),
                first.metrics(), first.call("c1"))
    first.close()

    again = Ledger(path)
    try:
        assert (again.all_labels(), again.totals(), again.verdicts(), again.decisions(),
                again.metrics(), again.call("c1")) == snapshot
        assert again.record_labels([_label("a", "neg")]) == 0  # still idempotent after reopen
        assert again.labels_for(["a"])[("a", "llm")].label == "pos"
    finally:
        again.close()


# === value types ==========================================================================


def test_budget_defaults_and_limits() -> None:
    assert Budget().labels == 200
    assert Budget(labels=None, rounds=3).labels is None
    assert Budget(labels=5, usd=0).usd == 0
    with pytest.raises(ValueError, match="labels"):
        Budget(labels=0)
    with pytest.raises(ValueError, match="usd"):
        Budget(usd=-1)
    with pytest.raises(InputError, match="labels or on rounds"):
        Budget(labels=None, rounds=None)
    with pytest.raises(ValueError):
        Budget().labels = 3  # type: ignore[misc]  # frozen


def test_task_labels() -> None:
    assert Task(labels=" pos , neg").labels == ("pos", "neg")
    assert Task(labels=["a", "b", "c"]).labels == ("a", "b", "c")
    with pytest.raises(InputError, match="at least two labels"):
        Task(labels=["only"])
    with pytest.raises(InputError, match="distinct"):
        Task(labels="pos, neg, pos")
    with pytest.raises(InputError, match="non-empty"):
        Task(labels="pos,,neg")


@pytest.mark.parametrize("make", [
    lambda: Budget(labels=None, rounds=None),
    lambda: Task(labels=["only"]),
    lambda: Task(labels="pos,pos"),
], ids=["budget-unbounded", "task-one-label", "task-duplicates"])
def test_bad_task_or_budget_raises_input_error(make: Any) -> None:
    with pytest.raises(InputError):
        make()


def test_content_id() -> None:
    assert content_id("hello") == content_id("  hello \n")
    assert content_id("hello") != content_id("hello", "call")
    assert content_id("hello") != content_id("hullo")
    assert len(content_id("hello")) == 24


def test_price_for() -> None:
    assert price_for("openai:gpt-4o-mini") == PRICES["openai:gpt-4o-mini"]
    for free in ("local", "local:gemma", "none", "ollama:llama3"):
        assert price_for(free) == (0.0, 0.0)
    assert price_for("scripted") == UNKNOWN_PRICE  # pricing knows no test fake
    assert price_for("scripted", FREE) == (0.0, 0.0)
    assert price_for("someone:new-model") == UNKNOWN_PRICE
    assert price_for("someone:new-model", {"someone:new-model": (1.0, 2.0)}) == (1.0, 2.0)


# === budget meter =========================================================================


def test_reserve_and_settle(ledger: Ledger) -> None:
    meter = BudgetMeter(Budget(labels=10, tokens=1000, usd=1.0), ledger)
    held = meter.reserve(labels=3, tokens=400, usd=0.4, what="annotate")
    assert (held.labels, held.tokens, held.usd) == (3, 400, 0.4)
    assert (meter.pending.labels, meter.pending.tokens) == (3, 400)
    assert meter.can_afford(labels=7, tokens=600, usd=0.6)
    assert not meter.can_afford(labels=8)
    assert not meter.can_afford(tokens=601)
    assert not meter.can_afford(usd=0.61)
    meter.settle(held, labels=2, tokens=150, usd=0.1)  # actual spend is less than held
    assert (meter.pending.labels, meter.pending.tokens) == (0, 0)
    assert meter.pending.usd == pytest.approx(0.0)
    assert meter.snapshot() == {"labels": 2, "tokens": 150, "usd": 0.1}
    assert meter.remaining_labels() == 8
    meter.settle(Spend(), labels=1, tokens=10, usd=0.05)
    assert meter.snapshot() == {"labels": 3, "tokens": 160, "usd": 0.15}
    released = meter.reserve(tokens=100)
    meter.settle(released)  # a failed call releases its hold and counts nothing
    assert meter.snapshot()["tokens"] == 160 and meter.pending.tokens == 0


def test_reserve_refuses_over_budget(ledger: Ledger) -> None:
    meter = BudgetMeter(Budget(labels=5), ledger)
    meter.reserve(labels=4)
    with pytest.raises(BudgetExhausted, match="annotate batch"):
        meter.reserve(labels=2, what="annotate batch")
    assert meter.pending.labels == 4  # the refused reservation holds nothing
    meter.reserve(labels=1)
    assert not meter.can_afford(labels=1)
    assert meter.can_afford(labels=0)


def test_budget_unit_none_is_unlimited(ledger: Ledger) -> None:
    meter = BudgetMeter(Budget(labels=None, rounds=2), ledger)
    assert meter.remaining_labels() is None
    meter.reserve(labels=10**6, tokens=10**9, usd=10**6)
    assert meter.can_afford(labels=10**6, tokens=10**9, usd=10**6)


def test_concurrent_reservations_for_the_last_label(ledger: Ledger) -> None:
    ledger.record_labels([_label(f"x{i}") for i in range(4)])
    meter = BudgetMeter(Budget(labels=5), ledger)
    assert meter.remaining_labels() == 1
    barrier = threading.Barrier(8)
    won: list[int] = []
    refused: list[int] = []

    def grab(worker: int) -> None:
        barrier.wait()
        try:
            meter.reserve(labels=1)
        except BudgetExhausted:
            refused.append(worker)
        else:
            won.append(worker)

    threads = [threading.Thread(target=grab, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(won) == 1 and len(refused) == 7
    assert meter.pending.labels == 1


def test_meter_reads_totals_from_the_ledger(ledger: Ledger) -> None:
    ledger.record_labels([_label("a"), _label("b")])
    ledger.record_call(_call("c1", tin=50, tout=10, usd=0.2))
    meter = BudgetMeter(Budget(labels=10, tokens=1000, usd=1.0), ledger)  # a resumed run
    assert meter.snapshot() == {"labels": 2, "tokens": 60, "usd": 0.2}
    ledger.record_labels([_label("c")])  # another writer
    ledger.record_call(_call("c2", tin=5, tout=5, usd=0.1))
    assert meter.spent.labels == 2
    meter.refresh()
    assert meter.snapshot() == {"labels": 3, "tokens": 70, "usd": 0.3}
    assert meter.remaining_labels() == 7


@pytest.mark.parametrize("budget, spend, unit", [
    (Budget(labels=2), {"labels": 2}, "labels"),
    (Budget(labels=10, tokens=100), {"tokens": 100}, "tokens"),
    (Budget(labels=10, usd=0.5), {"usd": 0.5}, "usd"),
    (Budget(labels=10, tokens=100, usd=0.5), {"tokens": 99, "usd": 0.49}, None),
])
def test_exhausted_names_the_unit(ledger: Ledger, budget: Budget, spend: dict[str, Any],
                                  unit: str | None) -> None:
    meter = BudgetMeter(budget, ledger)
    assert _exhausted(meter) is None
    meter.settle(Spend(), **spend)
    assert _exhausted(meter) == unit


def test_zero_dollar_budget_allows_free_work(ledger: Ledger) -> None:
    meter = BudgetMeter(Budget(labels=10, usd=0.0), ledger)
    assert _exhausted(meter) is None
    held = meter.reserve(labels=1, tokens=5000, usd=0.0, what="local model")
    meter.settle(held, labels=1, tokens=4000)
    assert _exhausted(meter) is None
    with pytest.raises(BudgetExhausted):
        meter.reserve(usd=0.001, what="paid call")


def _exhausted(meter: BudgetMeter) -> str | None:
    """The unit the budget stopping criteria say is used up, as the supervisor sees it."""
    from labelgraph.config import RunConfig
    from labelgraph.policies import RoundSignals as Signals
    from labelgraph.stopping import LabelBudget, MoneyBudget, TokenBudget

    signals = Signals(round=1, labeled=0, label_counts={}, spent=meter.snapshot(),
                      budget=meter.budget, unlabeled=1, has_model=False, accuracy=None,
                      curve_slope=None, rejection_rate=None, synth_acceptance=None,
                      rounds_since_synth=0, idle_rounds=0, can_synthesize=False)
    for criterion in (LabelBudget(), TokenBudget(), MoneyBudget()):
        reason = criterion.stop(signals, RunConfig())
        if reason:
            return reason.rsplit(": ", 1)[1]
    return None


# === metered LLM ==========================================================================


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
    assert _exhausted(llm.meter) == "tokens"
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
