"""Annotators (labelgraph.annotators): the simulated annotator, hybrid routing, label
costs, the oracle buying a batch once, who can be asked again, the LLM annotator's
confidence from a provider's log-probabilities, on real Chroma and SQLite with small
made-up data."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult

from conftest import make_pool, sentiment_of
from labelgraph import Budget, LabelGraph, Task
from labelgraph.annotators import (
    HumanAnnotator,
    HybridAnnotator,
    LLMAnnotator,
    OracleAnnotator,
    SimulatedAnnotator,
    annotator_sources,
)
from labelgraph.errors import InputError
from labelgraph.llm import returns_logprobs
from support.builders import hybrid_run
from support.fakes import ScriptedChatModel, last_text

TASK = Task(labels=["positive", "negative"], description="movie review sentiment")
LABELS = list(TASK.labels)


# -- the simulated and hybrid annotators, the oracle, label costs --------------------------
def _auroc(score: np.ndarray, positive: np.ndarray) -> float:
    pos, neg = score[positive], score[~positive]
    return float((pos[:, None] > neg[None, :]).mean())


def test_simulated_annotator_errs_at_its_rate_and_knows_it_as_told() -> None:
    gold = ["positive" if n % 2 else "negative" for n in range(3000)]
    sim = SimulatedAnnotator(error_rate=0.15, informativeness=0.9, seed=3)
    answers = [sim.answer(f"item{n}", g, LABELS) for n, g in enumerate(gold)]
    right = np.array([a.label == g for a, g in zip(answers, gold, strict=True)])
    conf = np.array([a.confidence for a in answers])
    assert right.mean() == pytest.approx(0.85, abs=0.02)
    assert _auroc(conf, right) > 0.95
    assert conf.min() >= 0.5 and conf.max() <= 1.0
    assert sim.answer("item7", gold[7], LABELS) == answers[7]  # deterministic per item
    blind = SimulatedAnnotator(error_rate=0.15, informativeness=0.0, seed=3)
    blind_answers = [blind.answer(f"item{n}", g, LABELS) for n, g in enumerate(gold)]
    blind_right = np.array([a.label == g for a, g in zip(blind_answers, gold, strict=True)])
    assert _auroc(np.array([a.confidence for a in blind_answers]), blind_right) == \
        pytest.approx(0.5, abs=0.05)
    by_class = SimulatedAnnotator(error_rate=0.0, class_error_rates={"positive": 0.5}, seed=3)
    wrong = [by_class.answer(f"item{n}", g, LABELS).label != g for n, g in enumerate(gold)]
    assert np.mean([w for w, g in zip(wrong, gold, strict=True) if g == "positive"]) == \
        pytest.approx(0.5, abs=0.05)
    assert not any(w for w, g in zip(wrong, gold, strict=True) if g == "negative")


@pytest.mark.parametrize("bad", [{"error_rate": 1.5}, {"informativeness": -0.1},
                                 {"price": -1.0}, {"class_error_rates": {"positive": 2.0}}])
def test_simulated_annotator_refuses_bad_settings(bad: dict) -> None:
    with pytest.raises(InputError):
        SimulatedAnnotator(**bad)


def test_hybrid_routes_low_confidence_to_the_person_and_records_every_cost(tmp_path) -> None:
    lg = hybrid_run(tmp_path, 0.8)
    ledger = lg.context.ledger
    rows = ledger.all_labels()
    gold = dict(zip(make_pool(60).text, make_pool(60).label, strict=True))
    llm = {r.item_id: r for r in rows if r.source == "llm"}
    oracle = {r.item_id: r for r in rows if r.source == "oracle"}
    assert llm and oracle
    for row in llm.values():  # every LLM label carries its calibrated confidence and signals
        assert row.signals and 0.0 <= row.confidence <= 1.0 and row.usd == 0.01
    # After the cold start, an LLM label goes on to the person exactly when under 0.8.
    later = [r for r in llm.values() if r.round > 1]
    assert later and all(r.confidence < 0.8 for r in later if r.item_id in oracle)
    unasked = [r for r in later if r.confidence < 0.8 and r.item_id not in oracle]
    # ... unless the budget ran out first: then only in the last round.
    assert not unasked or (ledger.totals()["labels"] == 70
                           and {r.round for r in unasked} == {max(r.round for r in rows)})
    result = lg.result()
    for row in result.dataset.itertuples():  # the person's word is what memory keeps
        if row.id in oracle:
            assert row.source == "oracle" and row.label == gold[row.text]
            assert row.cost == pytest.approx(0.1 + (0.01 if row.id in llm else 0.0))
    cost = result.cost
    assert cost["usd"] == pytest.approx(0.01 * len(llm) + 0.1 * len(oracle))
    assert cost["bought_twice"] == len(set(llm) & set(oracle))
    assert cost["by_source"]["oracle"]["labels"] == len(oracle)
    assert cost["usd_per_accepted_label"] == pytest.approx(cost["usd"] / cost["accepted"],
                                                           abs=1e-6)
    assert cost["calibration"]["llm"]["confirmed"] == len(set(llm) & set(oracle))


def test_the_threshold_decides_how_much_goes_to_the_person(tmp_path) -> None:
    never = hybrid_run(tmp_path / "low", 0.0).context.ledger
    always = hybrid_run(tmp_path / "high", 1.0).context.ledger
    def person(ledger) -> int:  # noqa: ANN001
        return sum(1 for r in ledger.all_labels() if r.source == "oracle" and r.round > 1)
    assert person(never) == 0
    # a simulated labeler needs no demonstrations: the seed is routed like every batch
    llm = [r for r in always.all_labels() if r.source == "llm"]
    asked = {r.item_id for r in always.all_labels() if r.source == "oracle"}
    assert any(r.round == 1 for r in llm) and asked
    last = max(r.round for r in llm)  # where the label budget may run out mid-batch
    assert all(r.item_id in asked for r in llm if r.round < last)


def test_a_few_shot_labeler_waits_for_demonstrations_a_simulated_one_does_not(tmp_path) -> None:
    from conftest import sentiment_of
    from support.fakes import ScriptedChatModel, last_text

    def answer(messages, tool):  # noqa: ANN001, ANN202
        return {"label": sentiment_of(last_text(messages)), "confidence": 0.9}

    lg = LabelGraph(TASK, llm=ScriptedChatModel(responder=answer),
                    annotator=HybridAnnotator(human="oracle"), budget=Budget(labels=30),
                    run_dir=tmp_path / "run", embedding="hashing",
                    config={"batch_size": 10, "seed_size": 10, "synthesize": False,
                            "stopping": [], "audit_every": 0})
    lg.run(make_pool(30), label_column="label")
    rows = lg.context.ledger.all_labels()
    assert {r.source for r in rows if r.round == 1} == {"oracle"}  # the seed: no demos yet
    assert any(r.source == "llm" for r in rows if r.round > 1)
    assert LLMAnnotator().few_shot(lg.context) and not LLMAnnotator(n_shots=0).few_shot(
        lg.context)
    assert not hasattr(SimulatedAnnotator(), "few_shot")


def _oracle_context(tmp_path, labels: int, prices: dict | None = None):  # noqa: ANN202
    lg = LabelGraph(TASK, llm="none", annotator="oracle", budget=Budget(labels=labels),
                    run_dir=tmp_path / "run", embedding="hashing",
                    config={"label_prices": prices or {}})
    lg.add_pool(make_pool(), label_column="label")
    ctx = lg.context
    pool = ctx.store.pool()
    items = [{"id": pool.ids[i], "text": pool.texts[i], "origin": "pool", "intended": None}
             for i in range(6)]
    return ctx, pool, items


def test_the_oracle_buys_a_batch_at_once_within_budget_and_never_twice(tmp_path) -> None:
    ctx, pool, items = _oracle_context(tmp_path, labels=4, prices={"oracle": 0.5})
    oracle = OracleAnnotator()
    # the third item twice: bought once; the budget of 4 labels stops the batch at item 5
    batch = [items[0], items[1], items[2], items[2], items[3], items[4], items[5]]
    answers = oracle.annotate(batch, ctx, round_=1)
    assert [a.label for a in answers[:5]] == [pool.gold[i] for i in (0, 1, 2, 2, 3)]
    assert [a.label for a in answers[5:]] == [None, None]
    assert all(a.note.startswith("budget:") for a in answers[5:])
    assert ctx.ledger.totals()["labels"] == 4 and ctx.meter.spent.labels == 4
    assert ctx.ledger.totals()["usd"] == pytest.approx(2.0)
    assert ctx.meter.pending == type(ctx.meter.pending)()  # every reservation settled
    # asked again (a re-run after a crash): the same labels replayed, nothing bought
    again = oracle.annotate(items[:4], ctx, round_=1)
    assert [a.label for a in again] == [pool.gold[i] for i in range(4)]
    assert ctx.ledger.totals()["labels"] == 4 and ctx.meter.spent.labels == 4


def test_a_failed_oracle_write_buys_nothing_of_the_batch(tmp_path, monkeypatch) -> None:
    ctx, _, items = _oracle_context(tmp_path, labels=10)

    def disk_full(rows):  # noqa: ANN001, ANN202
        raise OSError("disk full")

    monkeypatch.setattr(ctx.ledger, "record_labels", disk_full)
    with pytest.raises(OSError, match="disk full"):
        OracleAnnotator().annotate(items, ctx, round_=1)
    monkeypatch.undo()
    assert ctx.ledger.totals()["labels"] == 0
    assert ctx.meter.spent.labels == 0 and ctx.meter.pending.labels == 0
    assert len(OracleAnnotator().annotate(items, ctx, round_=1)) == 6
    assert ctx.ledger.totals()["labels"] == 6


# -- who can be asked again ----------------------------------------------------------------
def test_who_can_be_asked_again_is_the_annotators_to_say() -> None:
    human, oracle = HumanAnnotator(), OracleAnnotator()
    assert annotator_sources(human) == (human, None)
    assert annotator_sources(oracle) == (oracle, None)
    assert annotator_sources(SimulatedAnnotator()) == (None, None)
    hybrid = HybridAnnotator(human="oracle", strong="none")
    person, stronger = annotator_sources(hybrid)
    assert isinstance(person, OracleAnnotator) and isinstance(stronger, LLMAnnotator)


# -- the LLM annotator's confidence from a provider's log-probabilities --------------------
class LogprobChatModel(ScriptedChatModel):
    """A fake provider with OpenAI's log-probability fields: asked for them, it answers the
    bare label and the first token's top log-probabilities (unless ``send`` is off)."""

    logprobs: bool | None = None
    top_logprobs: int | None = None
    max_tokens: int | None = None
    send: bool = True

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                  run_manager: CallbackManagerForLLMRun | None = None,
                  **kwargs: Any) -> ChatResult:
        if not self.logprobs:
            return super()._generate(messages, stop, run_manager, **kwargs)
        self.calls.append(f"logprobs top={self.top_logprobs} max_tokens={self.max_tokens}")
        label = sentiment_of(last_text(messages))
        other = "negative" if label == "positive" else "positive"
        top = [{"token": label[:3].capitalize(), "logprob": math.log(0.7)},
               {"token": " " + other[:3], "logprob": math.log(0.2)},
               {"token": "The", "logprob": math.log(0.1)}]
        meta = {"logprobs": {"content": [{"token": top[0]["token"], "logprob": top[0]["logprob"],
                                          "top_logprobs": top}]}} if self.send else {}
        msg = AIMessage(content=label, response_metadata=meta,
                        usage_metadata={"input_tokens": 50, "output_tokens": 2,
                                        "total_tokens": 52})
        return ChatResult(generations=[ChatGeneration(message=msg)])


def _stated(messages: list[Any], tool: str) -> dict[str, Any]:
    return {"label": sentiment_of(last_text(messages)), "confidence": 0.93}


def test_remote_logprobs_become_the_labels_confidence(tmp_path, pool) -> None:
    model = LogprobChatModel(responder=_stated, calls=[])
    assert returns_logprobs(model) and not returns_logprobs(ScriptedChatModel(responder=_stated))
    lg = LabelGraph(TASK, llm=model, annotator="llm", budget=Budget(labels=16),
                    run_dir=tmp_path / "run", embedding="hashing",
                    config={"seed_size": 8, "batch_size": 8, "synthesize": False})
    result = lg.run(pool, label_column="label")
    rows = [r for r in lg.context.ledger.all_labels() if r.source == "llm"]
    assert rows and result.cost["labels"] <= 16
    for row in rows:
        signals = json.loads(row.signals)
        assert abs(signals["llm"] - 0.7 / 0.9) < 1e-3 and signals.get("verbal") is None
    examples, _ = lg.context.memory.all()
    assert all(e.label == sentiment_of(e.text) for e in examples if e.source == "llm")
    asked = [c for c in model.calls if c.startswith("logprobs")]
    assert asked and all(c == "logprobs top=20 max_tokens=8" for c in asked)
    assert "LabelAnswer" not in model.calls


def test_a_provider_that_sends_no_logprobs_gets_a_structured_answer(tmp_path, pool) -> None:
    model = LogprobChatModel(responder=_stated, send=False, calls=[])
    lg = LabelGraph(TASK, llm=model, annotator="llm", budget=Budget(labels=8),
                    run_dir=tmp_path / "run", embedding="hashing",
                    config={"seed_size": 8, "batch_size": 8, "synthesize": False})
    lg.run(pool, label_column="label")
    rows = [r for r in lg.context.ledger.all_labels() if r.source == "llm"]
    assert rows
    assert all(json.loads(r.signals)["verbal"] == 0.93 for r in rows)
    assert "LabelAnswer" in model.calls


# -- the hybrid annotator asks a person ----------------------------------------------------
def _human_graph(tmp_path: Path, annotator: str, llm=None) -> LabelGraph:  # noqa: ANN001
    return LabelGraph(TASK, llm=llm if llm is not None else "none", annotator=annotator,
                      policy="rule", budget=Budget(labels=12), run_dir=tmp_path / "run",
                      embedding="hashing", config={"seed_size": 6, "batch_size": 6,
                                                   "synthesize": False})


def test_hybrid_sends_low_confidence_to_the_human_with_a_suggestion(tmp_path, pool):
    def respond(messages, tool):  # noqa: ANN001, ANN202
        text = last_text(messages)
        return {"label": sentiment_of(text), "confidence": 0.5 if "scene 1," in text else 0.97}

    lg = _human_graph(tmp_path, "hybrid", llm=ScriptedChatModel(responder=respond))
    result = lg.run(pool, label_column="label")
    # Memory is empty at first: the whole seed goes to the human.
    assert len(result.pending["questions"]) == 6
    result = lg.resume({q["id"]: sentiment_of(q["text"]) for q in result.pending["questions"]})
    while result.pending is not None:
        qs = result.pending["questions"]
        assert all("suggestion" in q and q["confidence"] < 0.8 for q in qs)
        result = lg.resume({q["id"]: sentiment_of(q["text"]) for q in qs})
    sources = set(result.dataset["source"])
    assert sources >= {"human", "llm"}
