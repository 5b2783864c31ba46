"""The memory audit where some class has too few labels to cross-check: the other classes are
still audited, and the skipped ones are named, with why, in the findings, the ledger and the
event (real Chroma and SQLite, hashing embeddings, no LLM, the oracle as annotator)."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from conftest import make_pool
from labelgraph import Budget, LabelGraph, Task
from labelgraph.audit import audit_memory, unauditable
from labelgraph.events import Audited
from labelgraph.memory.examples import Example

TASK = Task(labels=["positive", "negative", "mixed"], description="movie review sentiment")
MIXED = "a wonderful film, scene 999, with dull acting and mixed feelings"


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
