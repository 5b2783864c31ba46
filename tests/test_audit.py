"""The memory audit where some class has too few labels to cross-check: the other classes are
still audited, and the skipped ones are named, with why, in the findings, the ledger and the
event (real Chroma and SQLite, hashing embeddings, no LLM, the oracle as annotator).

And the audit of a whole memory with suspect labels: asked for (``LabelGraph.audit``), with a
person or without one, and the periodic audit only where it could change a label."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from conftest import make_pool
from labelgraph import Budget, LabelGraph, Task
from labelgraph.annotators import HybridAnnotator, SimulatedAnnotator
from labelgraph.audit import audit_memory, unauditable
from labelgraph.events import Audited
from labelgraph.memory.examples import Example
from labelgraph.memory.store import rebuild_memory

TASK = Task(labels=["positive", "negative", "mixed"], description="movie review sentiment")
MIXED = "a wonderful film, scene 999, with dull acting and mixed feelings"


SENTIMENT = Task(labels=["positive", "negative"], description="movie review sentiment")


def _memory(tmp_path, counts: dict[str, int], flip: int = 6) -> tuple[LabelGraph, set[str]]:
    """A run whose memory holds ``counts`` labels of each class, LLM-labeled, ``flip`` of the
    positive and negative ones flipped to the other of the two; returns the flipped ids."""
    pool = pd.concat([make_pool(60), pd.DataFrame([{"text": MIXED, "label": "mixed"}])],
                     ignore_index=True)
    lg = LabelGraph(TASK, llm="none", annotator="oracle", budget=Budget(labels=500),
                    run_dir=tmp_path / "run", embedding="hashing")
    lg.add_pool(pool, label_column="label")
    ids = lg.context.store.pool().ids
    wanted = dict(counts)
    examples, flipped = [], set()
    for n, (text, label) in enumerate(zip(pool.text, pool.label, strict=True)):
        if not wanted.get(label):
            continue
        wanted[label] -= 1
        given = label
        if label != "mixed" and n % 17 == 0 and len(flipped) < flip:
            given = "negative" if label == "positive" else "positive"
            flipped.add(ids[n])
        examples.append(Example(id=ids[n], text=text, label=given, source="llm",
                                confidence=0.9, round=1))
    lg.context.memory.upsert(examples)
    return lg, flipped


def test_a_one_label_class_is_scored_from_its_neighbours_and_the_rest_is_audited(
        tmp_path) -> None:
    lg, flipped = _memory(tmp_path, {"positive": 50, "negative": 50, "mixed": 1})
    ctx = lg.context
    events: list = []
    findings = audit_memory(ctx, 1, write=events.append)
    assert len(findings) == 101  # one row per label
    (mixed,) = [f for f in findings if f["label"] == "mixed"]
    # Its own text is unlike every other label's: nothing speaks against it, and it says how
    # it was scored.
    assert mixed["action"] == "keep" and not math.isnan(mixed["score"])
    assert mixed["score"] < 0.8 and "scored from its neighbours: 'mixed' has 1 label" \
        in mixed["reason"]
    assert not [f for f in findings if f["action"] == "skip"]
    # The big classes were audited as before: the oracle was asked about the flipped labels.
    asked = {f["item_id"] for f in findings if f["action"] == "ask"}
    assert len(asked & flipped) >= 4 and len(asked - flipped) <= 3
    pool = ctx.store.pool()
    for example in ctx.memory.get(sorted(asked)):
        assert example.source == "oracle" and example.label == pool.gold_of(example.id)
    recorded = ctx.ledger.audits(1)
    assert {r["item_id"] for r in recorded if r["action"] == "ask"} == asked
    (event,) = [e for e in events if isinstance(e, Audited)]
    assert event.checked == 101 and event.not_audited == {}
    assert "skip" not in event.actions and event.actions["ask"] == len(asked)


def test_a_wrong_label_alone_in_its_class_is_found_and_asked_again(tmp_path) -> None:
    """A positive review labeled 'mixed', the class's only label: its neighbours and the
    student of the other classes say positive, 4 to 1 or more, so the oracle is asked."""
    lg, _ = _memory(tmp_path, {"positive": 40, "negative": 40}, flip=0)
    ctx = lg.context
    pool = ctx.store.pool()
    memory_ids = {e.id for e in ctx.memory.all()[0]}
    row = next(n for n, i in enumerate(pool.ids)
               if i not in memory_ids and pool.gold_of(i) == "positive")
    wrong = pool.ids[row]
    ctx.memory.upsert([Example(id=wrong, text=pool.texts[row], label="mixed",
                               source="llm", confidence=0.9, round=1)])
    findings = audit_memory(ctx, 1)
    (alone,) = [f for f in findings if f["item_id"] == wrong]
    assert alone["action"] == "ask" and alone["suggested"] == "positive"
    assert alone["score"] >= 0.8 and "has 1 label" in alone["reason"]
    (relabeled,) = ctx.memory.get([wrong])
    assert relabeled.label == "positive" and relabeled.source == "oracle"
    assert [r["action"] for r in ctx.ledger.audits(1) if r["item_id"] == wrong] == ["ask"]


def test_lg_audit_scores_the_one_label_class_in_its_table(tmp_path) -> None:
    lg, _ = _memory(tmp_path, {"positive": 30, "negative": 30, "mixed": 1}, flip=0)
    table = lg.audit(apply=False)
    assert len(table) == len(lg.context.memory) == 61
    row = table[table.label == "mixed"].iloc[0]
    assert row.action != "skip" and "'mixed' has 1 label" in row.reason
    assert table.score.notna().all()


def test_with_one_class_to_cross_check_nothing_is_scored_and_it_says_why(tmp_path) -> None:
    lg, _ = _memory(tmp_path, {"positive": 30, "negative": 1}, flip=0)
    events: list = []
    findings = audit_memory(lg.context, 1, write=events.append)
    assert len(findings) == 31 and {f["action"] for f in findings} == {"skip"}
    (event,) = events
    assert event.checked == 0 and event.suspect == 0
    why = "nothing to cross-check it against: 'positive' is the only class with 2 labels or more"
    assert event.not_audited == {"negative": why, "positive": why}
    assert {r["label"] for r in lg.context.ledger.audits(1)} == {"positive", "negative"}


NONE_YET = "nothing to cross-check against: no class has 2 labels yet"


@pytest.mark.parametrize(("counts", "expected"), [
    ({"a": 5, "b": 3}, {}),
    ({"a": 5, "b": 2, "c": 1}, {}),
    ({"a": 1, "b": 1, "c": 0}, {"a": NONE_YET, "b": NONE_YET}),
    ({}, {}),
])
def test_unauditable_names_the_classes_it_cannot_score(counts, expected) -> None:
    assert unauditable(counts) == expected


@pytest.mark.parametrize(("action", "expected"), [
    ("ask", "ask"), ("relabel", "keep"), ("drop", "keep"), ("keep", "keep")])
def test_a_lone_label_is_changed_only_by_a_person(action, expected) -> None:
    from labelgraph.audit import lone_finding

    finding = {"item_id": "x", "label": "rare", "source": "llm", "score": 0.9,
               "action": action, "suggested": "common", "reason": "the evidence prefers another"}
    out = lone_finding(finding)
    assert out["action"] == expected and "'rare' has 1 label" in out["reason"]
    assert ("none can be asked" in out["reason"]) == (action in ("relabel", "drop"))
    assert finding["action"] == action  # the finding given is left as it was


# -- the audit asked for, and the periodic audit -------------------------------------------
@pytest.fixture
def audited(tmp_path):  # noqa: ANN201
    """A run whose memory holds 40 right labels of each class and 6 flipped LLM labels."""
    def make(annotator) -> tuple[LabelGraph, set[str]]:  # noqa: ANN001
        lg = LabelGraph(SENTIMENT, llm="none", annotator=annotator, budget=Budget(labels=500),
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


@pytest.mark.parametrize(("annotator", "audits"), [("oracle", False), ("simulated", True)])
def test_the_periodic_audit_runs_only_where_it_could_change_a_label(tmp_path, annotator,
                                                                     audits) -> None:
    """Gold labels are always kept, so a run labeled only by the oracle skips the periodic
    audit (its cross-validation is the verifier's largest cost); an LLM-labeled run audits."""
    from labelgraph.events import Audited

    who = "oracle" if annotator == "oracle" else SimulatedAnnotator(error_rate=0.2, seed=1)
    lg = LabelGraph(SENTIMENT, llm="none", annotator=who, budget=Budget(labels=40),
                    run_dir=tmp_path / "run", embedding="hashing",
                    config={"batch_size": 10, "seed_size": 10, "synthesize": False,
                            "stopping": [], "spot_check": 0.0, "audit_every": 1})
    events = [chunk for mode, chunk in lg.stream(make_pool(30), label_column="label")
              if mode == "custom"]
    assert len(lg.context.memory) >= 30
    assert any(isinstance(e, Audited) for e in events) is audits
    assert len(lg.audit()) == len(lg.context.memory)  # asked for, it runs whatever the sources
