"""One driver per run: a second driver is refused with the holder named; a lock left by a
process killed with SIGKILL is taken over; watchers (read-only opens) need no lock."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from conftest import make_pool
from labelgraph import Budget, LabelGraph, RunStateError, Task

TASK = Task(labels=["positive", "negative"], description="movie review sentiment")
HOLD = textwrap.dedent("""
    import sys, time
    from labelgraph import Budget, LabelGraph, Task
    lg = LabelGraph(Task(labels=["positive", "negative"]), llm="none", annotator="oracle",
                    budget=Budget(labels=12), run_dir=sys.argv[1], embedding="hashing")
    lg.context  # takes the driver lock
    print("driving", flush=True)
    time.sleep(600)
""")


def _driver(run_dir: Path) -> LabelGraph:
    return LabelGraph(TASK, llm="none", annotator="oracle", budget=Budget(labels=12),
                      run_dir=run_dir, embedding="hashing",
                      config={"seed_size": 6, "batch_size": 6, "stopping": []})


def test_a_second_driver_is_refused_and_a_killed_drivers_lock_is_taken_over(tmp_path):
    run_dir = tmp_path / "run"
    first = _driver(run_dir)
    first.run(make_pool(), label_column="label")
    first.close()
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(run_dir)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "driving"
        with pytest.raises(RunStateError, match=f"driven by process {holder.pid} on "):
            _ = _driver(run_dir).context
        watcher = LabelGraph.open(run_dir, read_only=True)
        assert len(watcher.result().dataset) == 12  # watching needs no lock
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait(timeout=30)
    finally:
        holder.kill()
        holder.wait(timeout=30)
    again = LabelGraph.open(run_dir)  # the dead driver's lock is taken over
    assert again.resume().stop_reason == "budget exhausted: labels"
    again.close()


class _Planted:
    """A pickle that, when loaded, would write a file: code from the run directory."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):  # noqa: ANN204
        return (Path.write_text, (self.marker, "code ran"))


def test_opening_a_run_runs_no_code_from_its_directory(tmp_path):
    """Before: reopening a run unpickled model.joblib; now the student is refitted from the
    labels in memory (the same student the learner fitted)."""
    import joblib

    run_dir = tmp_path / "run"
    lg = _driver(run_dir)
    before = lg.run(make_pool(), label_column="label").model
    lg.close()
    marker = tmp_path / "pwned"
    joblib.dump(_Planted(marker), run_dir / "model.joblib")
    again = LabelGraph.open(run_dir)
    model = again.result().model
    assert not marker.exists()
    pool = again.context.store.pool()
    features = again.context.store.pool_features()
    assert (model.predict(features) == before.predict(features)).all()
    assert len(pool) == 60
    again.close()


def _snapshot(run_dir: Path) -> dict[str, tuple[int, bytes]]:
    """Every file's mtime and content, but SQLite's own -wal/-shm sidecars (a reader of a
    WAL database may create them; they hold no data of the run)."""
    import hashlib

    return {str(p.relative_to(run_dir)): (p.stat().st_mtime_ns,
                                          hashlib.sha256(p.read_bytes()).digest())
            for p in sorted(run_dir.rglob("*"))
            if p.is_file() and not p.name.endswith(("-wal", "-shm"))}


def test_watchers_never_write(tmp_path):
    """Before: reopening or exporting a run rewrote Chroma's files and the SQLite files."""
    from typer.testing import CliRunner

    from labelgraph.cli import app

    run_dir = tmp_path / "run"
    lg = _driver(run_dir)
    done = lg.run(make_pool(), label_column="label")
    lg.close()
    before = _snapshot(run_dir)
    watcher = LabelGraph.open(run_dir, read_only=True)
    seen = watcher.result()
    assert sorted(seen.dataset["id"]) == sorted(done.dataset["id"])
    assert seen.stop_reason == done.stop_reason and seen.model is not None
    assert seen.cost["labels"] == 12
    watcher.close()
    out = CliRunner().invoke(app, ["export", str(run_dir), "--out", str(tmp_path / "d.csv")])
    assert out.exit_code == 0, out.output
    after = _snapshot(run_dir)
    assert after == before
    assert any(name.startswith("chroma") for name in after)  # Chroma's files were compared
