"""The memory audit where some class has too few labels to cross-check: the other classes are
still audited, and the skipped ones are named, with why, in the findings, the ledger and the
event (real Chroma and SQLite, hashing embeddings, no LLM, the oracle as annotator)."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from conftest import make_pool
from labelgraph import Budget, LabelGraph, Task
from labelgraph.agents.verifier import audit_memory, unauditable
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


def test_a_one_label_class_is_named_as_not_audited_and_the_rest_is_audited(tmp_path) -> None:
    lg, flipped = _memory(tmp_path, {"positive": 50, "negative": 50, "mixed": 1})
    ctx = lg.context
    events: list = []
    findings = audit_memory(ctx, 1, write=events.append)
    assert len(findings) == 101  # one row per label, audited or not
    why = "too few labels to cross-check: 'mixed' has 1"
    skipped = [f for f in findings if f["action"] == "skip"]
    assert [(f["label"], f["reason"]) for f in skipped] == [("mixed", why)]
    assert math.isnan(skipped[0]["score"]) and skipped[0]["suggested"] is None
    # The big classes were audited as before: the oracle was asked about the flipped labels.
    asked = {f["item_id"] for f in findings if f["action"] == "ask"}
    assert len(asked & flipped) >= 4 and len(asked - flipped) <= 3
    pool = ctx.store.pool()
    for example in ctx.memory.get(sorted(asked)):
        assert example.source == "oracle" and example.label == pool.gold_of(example.id)
    recorded = ctx.ledger.audits(1)
    assert [(r["label"], r["action"], r["reason"]) for r in recorded
            if r["action"] == "skip"] == [("mixed", "skip", why)]
    assert {r["item_id"] for r in recorded if r["action"] == "ask"} == asked
    (event,) = [e for e in events if isinstance(e, Audited)]
    assert event.checked == 100 and event.not_audited == {"mixed": why}
    assert "skip" not in event.actions and event.actions["ask"] == len(asked)


def test_lg_audit_shows_the_skipped_class_in_its_table(tmp_path) -> None:
    lg, _ = _memory(tmp_path, {"positive": 30, "negative": 30, "mixed": 1}, flip=0)
    table = lg.audit(apply=False)
    assert len(table) == len(lg.context.memory) == 61
    row = table[table.label == "mixed"].iloc[0]
    assert row.action == "skip" and "'mixed' has 1" in row.reason
    assert table[table.label != "mixed"].score.notna().all()


def test_with_one_class_to_cross_check_nothing_is_scored_and_it_says_why(tmp_path) -> None:
    lg, _ = _memory(tmp_path, {"positive": 30, "negative": 1}, flip=0)
    events: list = []
    findings = audit_memory(lg.context, 1, write=events.append)
    assert len(findings) == 31 and {f["action"] for f in findings} == {"skip"}
    (event,) = events
    assert event.checked == 0 and event.suspect == 0
    assert event.not_audited == {
        "negative": "too few labels to cross-check: 'negative' has 1",
        "positive": "nothing to cross-check it against: 'positive' is the only class with "
                    "2 labels or more"}
    assert {r["label"] for r in lg.context.ledger.audits(1)} == {"positive", "negative"}


@pytest.mark.parametrize(("counts", "expected"), [
    ({"a": 5, "b": 3}, {}),
    ({"a": 5, "b": 2, "c": 1}, {"c": "too few labels to cross-check: 'c' has 1"}),
    ({}, {}),
])
def test_unauditable_names_the_classes_below_two_labels(counts, expected) -> None:
    assert unauditable(counts) == expected
