"""Crash and resume in a fresh process; human-in-the-loop pause and resume."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from chromadb.api.client import SharedSystemClient

from conftest import sentiment_of
from labelgraph import Budget, LabelGraph, Task
from labelgraph.errors import RunStateError
from labelgraph.memory.embeddings import HashingEmbedding
from labelgraph.memory.examples import Example, ExampleMemory, collection_name, make_client
from labelgraph.memory.ledger import Ledger
from labelgraph.memory.store import ledger_memory, same_example
from support.workers import run_worker

TASK = Task(labels=["positive", "negative"], description="movie review sentiment")


def chroma_examples(run_dir: Path) -> dict[str, Example]:
    """What the run's Chroma collection holds, read from its files."""
    run_id = json.loads((run_dir / "run.json").read_text())["run_id"]
    client = make_client(run_dir / "chroma")
    memory = ExampleMemory(client, HashingEmbedding(), name=collection_name(run_id))
    try:
        return {e.id: e for e in memory.all(status=None)[0]}
    finally:
        SharedSystemClient.clear_system_cache()


def ledger_rows(run_dir: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(run_dir / "ledger.sqlite") as conn:
        return conn.execute(sql).fetchall()


@pytest.mark.parametrize("crash_at", ["annotator:11", "verifier:3"])
def test_kill_mid_run_then_resume_in_a_fresh_process(tmp_path, crash_at):
    run_dir = tmp_path / "run"
    first = run_worker(run_dir, crash_at)
    assert first.returncode == 17, first.stderr
    bought_before = ledger_rows(run_dir, "SELECT item_id FROM labels")
    assert bought_before, "the crash should come after some labels were bought"
    assert chroma_examples(run_dir) == {}  # the crash kept every memory write from Chroma

    second = run_worker(run_dir, "none")
    assert second.returncode == 0, second.stderr
    report = json.loads(second.stdout.strip().splitlines()[-1])
    assert report["stop_reason"] == "budget exhausted: labels"

    labels = ledger_rows(run_dir, "SELECT item_id, source FROM labels")
    calls = ledger_rows(run_dir, "SELECT COUNT(*) FROM calls")[0][0]
    assert len(labels) == len(set(labels)) == 30  # budget met exactly, nothing twice
    # Labels bought before the crash were never asked for again.
    assert {i for (i,) in bought_before} <= {i for i, _ in labels}
    # Calls answered (and recorded) just before the kill are replayed, not bought again.
    assert report["llm_calls"] <= 30 - len(bought_before)
    assert calls == 30
    # Every bought label reached memory: nothing lost.
    lg = LabelGraph.open(run_dir, read_only=True)
    assert len(lg.result().dataset) == 30
    # ... and Chroma: the resumed run repaired it from the ledger, row by row.
    ledger = Ledger(run_dir / "ledger.sqlite", read_only=True)
    stored, want = chroma_examples(run_dir), ledger_memory(ledger)
    assert stored.keys() == want.keys() and len(want) == 30
    assert all(same_example(stored[i], want[i]) for i in want)
    ledger.close()


def _human_graph(tmp_path: Path, annotator: str, llm=None) -> LabelGraph:  # noqa: ANN001
    return LabelGraph(TASK, llm=llm if llm is not None else "none", annotator=annotator,
                      policy="rule", budget=Budget(labels=12), run_dir=tmp_path / "run",
                      embedding="hashing", config={"seed_size": 6, "batch_size": 6,
                                                   "synthesize": False})


def test_human_label_request_pauses_and_resumes(tmp_path, pool):
    lg = _human_graph(tmp_path, "human")
    result = lg.run(pool, label_column="label")
    assert result.stop_reason is None and result.pending is not None
    questions = result.pending["questions"]
    assert len(questions) == 6 and questions[0]["labels"] == ["positive", "negative"]
    with pytest.raises(RunStateError):
        lg.run()
    answers = {q["id"]: sentiment_of(q["text"]) for q in questions}
    answers[questions[0]["id"]] = "maybe"  # outside the schema: the verifier rejects it
    result = lg.resume(answers)
    rows = {r.item_id: r for r in lg.context.ledger.all_labels()}
    for q in questions:
        assert rows[q["id"]].source == "human" and rows[q["id"]].label == answers[q["id"]]
    memory_ids = set(result.dataset["id"])
    assert {q["id"] for q in questions[1:]} <= memory_ids
    assert questions[0]["id"] not in memory_ids
    assert "outside the schema" in lg.context.ledger.verdicts()[questions[0]["id"]][2]
    # The next round asks again; a fresh LabelGraph on the same directory resumes it.
    assert result.pending is not None
    lg.close()
    again = LabelGraph.open(tmp_path / "run", embedding="hashing")
    second = again.pending()["questions"]
    result = again.resume({q["id"]: sentiment_of(q["text"]) for q in second})
    assert result.stop_reason == "budget exhausted: labels"
    assert result.cost["labels"] == 12


def test_a_run_with_history_is_never_started_over(tmp_path):
    """A kill after the annotator, then checkpoints that say nothing is next (here: lost):
    the run continues from its own records, and the labels bought before the kill are
    verified instead of being forgotten. Before: the run restarted at round 0."""
    run_dir = tmp_path / "run"
    first = run_worker(run_dir, "verifier:3")
    assert first.returncode == 17, first.stderr
    bought = {i for (i,) in ledger_rows(run_dir, "SELECT item_id FROM labels")}
    unverified = bought - {i for (i,) in ledger_rows(run_dir, "SELECT item_id FROM verdicts")}
    assert unverified, "the kill should leave bought labels unverified"
    for name in ("checkpoints.sqlite", "checkpoints.sqlite-wal", "checkpoints.sqlite-shm"):
        (run_dir / name).unlink(missing_ok=True)
    second = run_worker(run_dir, "none")
    assert second.returncode == 0, second.stderr
    assert json.loads(second.stdout.strip().splitlines()[-1])["stop_reason"] == \
        "budget exhausted: labels"
    labels = ledger_rows(run_dir, "SELECT item_id, source FROM labels")
    assert len(labels) == len(set(labels)) == 30  # nothing bought twice, budget met
    verdicts = {i for (i,) in ledger_rows(run_dir, "SELECT item_id FROM verdicts")}
    assert {i for i, _ in labels} <= verdicts  # every bought label was verified
    rounds = [r for (r,) in ledger_rows(run_dir, "SELECT round FROM metrics ORDER BY round")]
    assert rounds == list(range(1, len(rounds) + 1))  # no round repeated or dropped
    assert len(LabelGraph.open(run_dir, read_only=True).result().dataset) == 30


def test_calls_in_flight_at_a_kill_are_charged_and_only_they_are_paid_twice(tmp_path):
    """Each call is written ahead as pending with its reservation; a kill leaves the calls in
    flight pending, the next driver charges them as orphans, and only they may be paid
    twice. Before: in-flight and answered-but-unwritten calls were paid twice unaccounted."""
    run_dir = tmp_path / "run"
    first = run_worker(run_dir, "annotator:11")  # dies inside the 11th provider call
    assert first.returncode == 17, first.stderr
    in_flight = ledger_rows(run_dir, "SELECT call_id FROM pending_calls")
    assert 1 <= len(in_flight) <= 4  # max_concurrency: the 11th and its siblings
    second = run_worker(run_dir, "none")
    assert second.returncode == 0, second.stderr
    report = json.loads(second.stdout.strip().splitlines()[-1])
    orphans = ledger_rows(run_dir, "SELECT call_id, tokens FROM orphan_calls")
    assert {c for c, _ in orphans} == {c for (c,) in in_flight}
    assert ledger_rows(run_dir, "SELECT COUNT(*) FROM pending_calls")[0][0] == 0
    answered = ledger_rows(run_dir, "SELECT COUNT(*) FROM calls")[0][0]
    paid_twice = 11 + report["llm_calls"] - answered
    assert 0 <= paid_twice <= len(in_flight)
    reader = LabelGraph.open(run_dir, read_only=True)
    totals = reader.context.ledger.totals()
    assert totals["calls_pending_at_kill"] == len(in_flight)
    recorded = ledger_rows(run_dir, "SELECT SUM(input_tokens + output_tokens) FROM calls")[0][0]
    assert totals["tokens"] == recorded + sum(t for _, t in orphans)
