"""The ledger (labelgraph.memory.ledger) over in-memory and SQLite files: labels, calls,
verdicts, decisions, metrics and node timings."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from labelgraph.memory.ledger import LabelRow, Ledger
from support.builders import call_row, label_row


def test_record_labels_is_idempotent(ledger: Ledger) -> None:
    assert ledger.record_labels([label_row("a"), label_row("b")]) == 2
    # the same (item, source) again, even with a different label, keeps the first row
    assert ledger.record_labels([label_row("a", "neg"), label_row("b", "neg")]) == 0
    got = ledger.labels_for(["a", "b"])
    assert {k: v.label for k, v in got.items()} == {("a", "llm"): "pos", ("b", "llm"): "pos"}
    assert got[("a", "llm")] == label_row("a")
    # another source for the same item is another row
    assert ledger.record_labels([label_row("a", "neg", source="human")]) == 1
    assert ledger.labels_for(["a"])[("a", "human")].label == "neg"
    assert ledger.labeled_ids() == {"a", "b"}
    assert ledger.totals()["labels"] == 3


def test_record_labels_accepts_a_generator_and_none_label(ledger: Ledger) -> None:
    ledger.record_labels(label_row(f"g{i}", None if i == 0 else "pos") for i in range(3))
    rows = ledger.labels_for(["g0", "g1", "g2"])
    assert len(rows) == 3 and rows[("g0", "llm")].label is None


def test_a_failed_write_writes_nothing(ledger: Ledger) -> None:
    bad = LabelRow(item_id="bad", source="llm", text=None, label="pos",  # type: ignore[arg-type]
                   confidence=0.5, origin="pool", intended=None, round=0)
    with pytest.raises(Exception, match="NOT NULL"):
        ledger.record_labels([label_row("ok"), bad])
    assert ledger.labeled_ids() == set()
    ledger.record_labels([label_row("ok")])  # the ledger is still usable
    assert ledger.labeled_ids() == {"ok"}


def test_labels_for_many_ids(ledger: Ledger) -> None:
    n = 1234  # more than two chunks of 500 bound parameters
    ledger.record_labels([label_row(f"item{i}", "pos" if i % 2 else "neg") for i in range(n)])
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
    ledger.record_labels([label_row("a"), label_row("b", source="oracle")])
    ledger.record_call(call_row("c1", tin=100, tout=20, usd=0.5))
    ledger.record_call(call_row("c2", tin=30, tout=7, usd=0.25))
    totals = ledger.totals()
    assert totals == {"labels": 2, "tokens": 157, "usd": pytest.approx(0.75), "calls": 2,
                      "calls_pending_at_kill": 0}
    # A call written ahead counts at its reservation until it is answered or orphaned.
    ledger.record_pending("c3", "annotator", "m", tokens=500, usd=0.1, round_=1)
    assert ledger.totals()["tokens"] == 657 and ledger.totals()["calls_pending_at_kill"] == 1
    ledger.record_call(call_row("c3", tin=40, tout=10, usd=0.01))
    assert ledger.totals()["tokens"] == 207 and ledger.totals()["calls_pending_at_kill"] == 0
    ledger.record_pending("c4", "annotator", "m", tokens=500, usd=0.1, round_=1)
    assert ledger.orphan_pending() == 1 and ledger.orphan_pending() == 0
    assert [o["call_id"] for o in ledger.orphans()] == ["c4"]
    assert ledger.totals()["tokens"] == 707


def test_record_call_and_call(ledger: Ledger) -> None:
    row = call_row("c1", tin=12, tout=3, usd=0.001)
    ledger.record_call(row)
    assert ledger.call("c1") == row
    assert ledger.call("nope") is None
    ledger.record_call(call_row("c1", output="different"))  # never overwritten
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
            ledger.record_labels([label_row(f"w{worker}-{i}"), label_row(f"shared{i}")])
            ledger.record_call(call_row(f"c{worker}-{i}"))

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
    first.record_labels([label_row("a"), label_row("b", "neg", source="human")])
    first.record_call(call_row("c1", tin=40, tout=8, usd=0.02))
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
        assert again.record_labels([label_row("a", "neg")]) == 0  # still idempotent after reopen
        assert again.labels_for(["a"])[("a", "llm")].label == "pos"
    finally:
        again.close()


# -- node timings --------------------------------------------------------------------------
def test_timings_ride_along_with_the_next_write_or_the_close(tmp_path):
    ledger = Ledger(tmp_path / "ledger.sqlite")
    ledger.record_timing(1, "learner", 0.25)
    assert ledger.timings() == [{"round": 1, "node": "learner", "seconds": 0.25}]
    ledger.record_metrics(1, {"labels": 3})  # the pending timing is written with it
    ledger.record_timing(2, "supervisor", 0.5)
    ledger.close()
    reader = Ledger(tmp_path / "ledger.sqlite", read_only=True)
    assert [(r["round"], r["node"]) for r in reader.timings()] == [(1, "learner"),
                                                                   (2, "supervisor")]
    reader.close()
