"""Simulated annotator, hybrid routing, label costs and the memory audit, on real Chroma and
SQLite with small made-up data."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import make_pool
from labelgraph import Budget, LabelGraph, Task
from labelgraph.annotators import (
    HybridAnnotator,
    LLMAnnotator,
    OracleAnnotator,
    SimulatedAnnotator,
)
from labelgraph.errors import InputError
from labelgraph.memory.examples import Example
from labelgraph.memory.store import rebuild_memory, repair_memory

TASK = Task(labels=["positive", "negative"], description="movie review sentiment")
LABELS = list(TASK.labels)


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


@pytest.mark.parametrize("prices", [{"human": -0.1}, {"person": 0.1}])
def test_bad_label_prices_are_refused(prices: dict) -> None:
    from labelgraph.config import make_config

    with pytest.raises(InputError, match="label_prices"):
        make_config({"label_prices": prices})


def _hybrid_run(tmp_path, threshold: float | None, **config) -> LabelGraph:  # noqa: ANN003
    pool = make_pool(60)
    first = SimulatedAnnotator(error_rate=0.2, informativeness=0.9, price=0.01, seed=1)
    lg = LabelGraph(TASK, llm="none", annotator=HybridAnnotator(human="oracle", first=first,
                                                                threshold=threshold),
                    budget=Budget(labels=70), run_dir=tmp_path / "run", embedding="hashing",
                    config={"label_prices": {"oracle": 0.1}, "batch_size": 10,
                            "seed_size": 10, "synthesize": False, "stopping": [],
                            "spot_check": 0.0, "audit_every": 0, **config})
    lg.run(pool, label_column="label")
    return lg


def test_hybrid_routes_low_confidence_to_the_person_and_records_every_cost(tmp_path) -> None:
    lg = _hybrid_run(tmp_path, 0.8)
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
    never = _hybrid_run(tmp_path / "low", 0.0).context.ledger
    always = _hybrid_run(tmp_path / "high", 1.0).context.ledger
    def person(ledger) -> int:  # noqa: ANN001
        return sum(1 for r in ledger.all_labels() if r.source == "oracle" and r.round > 1)
    assert person(never) == 0
    # a simulated labeler needs no demonstrations: the seed is routed like every batch
    llm = [r for r in always.all_labels() if r.source == "llm"]
    asked = {r.item_id for r in always.all_labels() if r.source == "oracle"}
    assert any(r.round == 1 for r in llm) and asked
    last = max(r.round for r in llm)  # where the label budget may run out mid-batch
    assert all(r.item_id in asked for r in llm if r.round < last)


@pytest.fixture
def audited(tmp_path):  # noqa: ANN201
    """A run whose memory holds 40 right labels of each class and 6 flipped LLM labels."""
    def make(annotator) -> tuple[LabelGraph, set[str]]:  # noqa: ANN001
        lg = LabelGraph(TASK, llm="none", annotator=annotator, budget=Budget(labels=500),
                        run_dir=tmp_path / "run", embedding="hashing")
        pool = make_pool(60)
        lg.add_pool(pool, label_column="label")
        ctx = lg.context
        rows = pool.iloc[:100]
        flipped = set(rows.index[::17][:6])
        examples = []
        for n, (text, label) in enumerate(zip(rows.text, rows.label, strict=True)):
            wrong = n in flipped
            examples.append(Example(
                id=ctx.store.pool().ids[n], text=text,
                label=("negative" if label == "positive" else "positive") if wrong else label,
                source="llm", confidence=0.9, round=1))
        ctx.memory.upsert(examples)
        return lg, {examples[n].id for n in flipped}
    return make


def test_audit_asks_the_person_about_suspect_labels_and_fixes_them(audited) -> None:
    lg, flipped = audited(HybridAnnotator(human="oracle", first=SimulatedAnnotator()))
    findings = lg.audit()
    asked = set(findings[findings.action == "ask"].item_id)
    assert len(asked & flipped) >= 4 and len(asked - flipped) <= 3
    pool = lg.context.store.pool()
    for example in lg.context.memory.get(sorted(asked)):
        assert example.source == "oracle" and example.label == pool.gold_of(example.id)
    recorded = lg.context.ledger.audits()
    assert {r["item_id"] for r in recorded if r["action"] == "ask"} == asked
    assert all(r["reason"] for r in recorded)


def test_audit_drops_what_nobody_can_check_and_the_drop_survives_a_rebuild(audited) -> None:
    lg, flipped = audited(SimulatedAnnotator())  # no person, no stronger model
    ctx = lg.context
    findings = lg.audit()
    assert set(findings.action) <= {"keep", "drop"}
    dropped = set(findings[findings.action == "drop"].item_id)
    assert len(dropped & flipped) >= 3 and len(dropped - flipped) <= 2
    assert {e.id for e in ctx.memory.get(sorted(dropped))} == dropped
    assert all(e.status == "rejected" for e in ctx.memory.get(sorted(dropped)))
    # The audit itself wrote no label: the memory's labels came from outside the ledger,
    # so a rebuild from the ledger knows none of them; its drops are still on record.
    assert rebuild_memory(ctx.ledger, ctx.memory) == 0
    assert {r["item_id"] for r in ctx.ledger.audits() if r["action"] == "drop"} == dropped


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


@pytest.mark.parametrize(("annotator", "audits"), [("oracle", False), ("simulated", True)])
def test_the_periodic_audit_runs_only_where_it_could_change_a_label(tmp_path, annotator,
                                                                     audits) -> None:
    """Gold labels are always kept, so a run labeled only by the oracle skips the periodic
    audit (its cross-validation is the verifier's largest cost); an LLM-labeled run audits."""
    from labelgraph.events import Audited

    who = "oracle" if annotator == "oracle" else SimulatedAnnotator(error_rate=0.2, seed=1)
    lg = LabelGraph(TASK, llm="none", annotator=who, budget=Budget(labels=40),
                    run_dir=tmp_path / "run", embedding="hashing",
                    config={"batch_size": 10, "seed_size": 10, "synthesize": False,
                            "stopping": [], "spot_check": 0.0, "audit_every": 1})
    events = [chunk for mode, chunk in lg.stream(make_pool(30), label_column="label")
              if mode == "custom"]
    assert len(lg.context.memory) >= 30
    assert any(isinstance(e, Audited) for e in events) is audits
    assert len(lg.audit()) == len(lg.context.memory)  # asked for, it runs whatever the sources


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


def test_live_memory_is_what_the_ledger_says_so_a_repair_touches_nothing(tmp_path) -> None:
    """A hybrid run with audits and a person's correction: every example memory holds is the
    ledger's account of it, so after a crash only what Chroma missed is written again."""
    lg = _hybrid_run(tmp_path, 0.8, audit_every=2)
    ctx = lg.context
    some = ctx.memory.all()[0][0]
    lg.correct(some.id, "negative" if some.label == "positive" else "positive")
    assert repair_memory(ctx.ledger, ctx.memory) == 0
    # a lost write (the correction never reached memory) is found and written again
    ctx.memory.upsert([some])
    assert repair_memory(ctx.ledger, ctx.memory) == 1
    assert ctx.memory.get([some.id])[0].source == "human"
