"""Per-node time: every node that ran is timed in the ledger, and the report shows it."""

from __future__ import annotations

import time

from rich.console import Console

from labelgraph import Budget, LabelGraph, Task
from labelgraph.report import print_report

TASK = Task(labels=["positive", "negative"], description="movie review sentiment")
CONFIG = {"seed_size": 10, "batch_size": 10, "synthesize": False, "stopping": ()}


def test_every_node_that_ran_is_timed_within_the_wall_time(tmp_path, pool):
    lg = LabelGraph(TASK, llm="none", annotator="oracle", budget=Budget(labels=30),
                    run_dir=tmp_path / "run", embedding="hashing", config=CONFIG)
    ran: dict[str, int] = {}
    start = time.perf_counter()
    for mode, chunk in lg.stream(pool.iloc[:40], test=pool.iloc[40:], label_column="label"):
        if mode == "updates":
            for node in chunk:
                ran[node] = ran.get(node, 0) + 1
    wall = time.perf_counter() - start
    timings = lg.timings()
    assert set(timings.index) == set(ran)  # every node that ran, and only those
    assert (timings.to_numpy() >= 0).all()
    assert 0 < timings.to_numpy().sum() <= wall
    rows = lg.context.ledger.timings()
    for node, count in ran.items():  # one timing per run of the node
        assert sum(r["node"] == node for r in rows) == count
    assert list(timings.columns) == sorted({r["round"] for r in rows})
    result = lg.result()
    assert result.timings.equals(timings)
    console = Console(record=True, width=140)
    figures = print_report(lg, result, console)
    text = console.export_text()
    assert "time per node" in text
    for node in ran:
        assert node in figures["node_seconds"]
    lg.close()
    # Written to the ledger (at the latest when the run closes): a reopened run has them.
    reopened = LabelGraph.open(tmp_path / "run", read_only=True)
    assert reopened.timings().round(9).equals(timings.round(9))
    reopened.close()
