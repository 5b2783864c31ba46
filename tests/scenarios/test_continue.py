"""Stopped is not final: a stopped run goes on when a person gives it a reason — from Python,
the command line and (in test_console.py) the console — and a kill during the continued part
resumes like any run."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from conftest import make_pool
from labelgraph import Budget, LabelGraph, Task
from labelgraph.cli import app
from labelgraph.events import Continued, NotContinued
from support.workers import run_worker

TASK = Task(labels=["positive", "negative"], description="movie review sentiment")


def _run(run_dir: Path, labels: int = 12, **config: Any) -> LabelGraph:
    lg = LabelGraph(TASK, annotator="oracle", llm="none", budget=Budget(labels=labels),
                    run_dir=run_dir, embedding="hashing",
                    config={"seed_size": 4, "batch_size": 4, "stopping": [], **config})
    lg.run(make_pool(), label_column="label")
    return lg


def _events(lg: LabelGraph) -> list[Any]:
    return [chunk for mode, chunk in lg.stream() if mode == "custom"]


def test_python_more_budget_goes_on_and_nothing_else_does(tmp_path):
    lg = _run(tmp_path / "run")
    assert lg.result().stop_reason == "budget exhausted: labels"
    (event,) = _events(lg)  # nothing changed since the stop: it says so, and what would
    assert isinstance(event, NotContinued) and event.criteria == ("label_budget",)
    assert event.hint == "nothing has changed since it stopped: raise the label budget"
    lg.steer(strategy="entropy")  # a change, but not one that lifts the budget
    (event,) = _events(lg)
    assert isinstance(event, NotContinued) and event.reason == "budget exhausted: labels"
    lg.steer(budget={"labels": 20})
    events = _events(lg)
    assert isinstance(events[0], Continued) and events[0].after == "budget exhausted: labels"
    result = lg.result()
    assert result.stop_reason == "budget exhausted: labels" and result.cost["labels"] == 20
    rounds = [d["round"] for d in result.decisions]
    assert rounds == sorted(set(rounds)) and rounds[-1] > 4
    resumed = result.decisions[4]
    assert resumed["followed"] == ["human"] and "following the human" in resumed["reason"]
    assert resumed["strategy"] == "entropy"
    kinds = [a["kind"] for a in lg.context.ledger.human_actions()]
    assert kinds == ["steer", "steer", "continue"]
    lg.close()


def test_python_a_forced_round_passes_a_criterion_but_not_the_budget(tmp_path):
    lg = _run(tmp_path / "run", labels=40, stopping=["stabilizing_predictions"],
              kappa_threshold=0.0, min_rounds=1, kappa_window=1)
    assert lg.result().decisions[-1]["criteria"] == ["stabilizing_predictions"]
    before = lg.result().cost["labels"]
    assert lg.blockers()[0][0] == "stabilizing_predictions"
    lg.steer(force={"action": "query", "n": 3})
    events = _events(lg)
    assert isinstance(events[0], Continued)
    result = lg.result()
    assert result.cost["labels"] == before + 3  # the forced round, then the criterion again
    assert result.decisions[-1]["criteria"] == ["stabilizing_predictions"]
    lg.steer(stopping=[])  # lifting the criterion lets it run to its budget
    _events(lg)
    assert lg.result().stop_reason == "budget exhausted: labels"
    assert lg.result().cost["labels"] == 40
    lg.close()


def test_cli_resume_with_more_budget(tmp_path):
    run_dir = tmp_path / "run"
    _run(run_dir, labels=8).close()
    runner = CliRunner()
    out = runner.invoke(app, ["resume", str(run_dir)])
    assert out.exit_code == 1  # nothing lifts the budget: it says why and what would
    assert "stopped (budget exhausted: labels) and nothing lets it go on: raise the label " \
        "budget" in " ".join(out.output.split())
    lg = LabelGraph.open(run_dir, read_only=True)
    assert lg.context.ledger.human_actions() == []  # a refused resume records nothing
    lg.close()
    out = runner.invoke(app, ["resume", str(run_dir), "--budget-labels", "16"])
    assert out.exit_code == 0, out.output
    assert "going on after the stop (budget exhausted: labels)" in out.output
    lg = LabelGraph.open(run_dir, read_only=True)
    assert lg.result().stop_reason == "budget exhausted: labels"
    assert lg.result().cost["labels"] == 16
    lg.close()


def test_cli_resume_lifts_a_stopping_criterion(tmp_path):
    run_dir = tmp_path / "run"
    _run(run_dir, labels=30, stopping=["stabilizing_predictions"], kappa_threshold=0.0,
         min_rounds=1, kappa_window=1).close()
    runner = CliRunner()
    out = runner.invoke(app, ["resume", str(run_dir), "--budget-labels", "40"])
    assert out.exit_code == 1  # more budget does not lift the criterion that stopped it
    assert "lift the stopping criterion 'stabilizing_predictions'" in \
        " ".join(out.output.split())
    out = runner.invoke(app, ["resume", str(run_dir), "--stopping", "none"])
    assert out.exit_code == 0, out.output
    lg = LabelGraph.open(run_dir, read_only=True)
    assert lg.result().stop_reason == "budget exhausted: labels"
    assert lg.result().cost["labels"] == 40  # the budget raised first still stands
    assert lg.context.config.stopping == ()
    lg.close()


def test_a_kill_during_the_continued_part_resumes_without_losing_or_rebuying(tmp_path):
    run_dir = tmp_path / "run"
    first = run_worker(run_dir, "none")  # a run of 30 LLM labels, to its stop
    assert first.returncode == 0, first.stderr
    second = run_worker(run_dir, "annotator:5", "42")  # more budget; killed on its way
    assert second.returncode == 17, second.stderr
    third = run_worker(run_dir, "none")  # resumed like any run
    assert third.returncode == 0, third.stderr
    with sqlite3.connect(run_dir / "ledger.sqlite") as conn:
        labels = conn.execute("SELECT item_id, source FROM labels").fetchall()
        calls = conn.execute("SELECT COUNT(*) FROM calls").fetchone()[0]
        kinds = [k for (k,) in conn.execute("SELECT kind FROM human_actions ORDER BY seq")]
    assert len(labels) == len(set(labels)) == 42 and calls == 42  # none lost, none twice
    assert kinds == ["steer", "continue"]
    lg = LabelGraph.open(run_dir, read_only=True)
    assert lg.result().stop_reason == "budget exhausted: labels"
    assert len(lg.result().dataset) == 42
    lg.close()
