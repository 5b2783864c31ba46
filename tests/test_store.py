"""The run's store (labelgraph.memory.store): one driver per run (a second driver is
refused with the holder named; a lock left by a process killed with SIGKILL is taken over;
watchers need no lock), opening a run runs no code from it, the artefacts it builds lazily
(model.joblib, the pool's features) and rebuilds when damaged, memory repaired from the
ledger."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from conftest import make_pool
from labelgraph import Budget, LabelGraph, RunStateError, Task
from labelgraph.cli import app
from labelgraph.memory.store import repair_memory
from support.builders import copy_run, hybrid_run

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


# -- one driver per run --------------------------------------------------------------------
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


# -- model.joblib --------------------------------------------------------------------------
def test_model_joblib_is_written_when_the_run_pauses_and_when_it_stops(tmp_path, pool):
    import joblib
    import numpy as np

    lg = LabelGraph(TASK, llm="none", annotator="oracle", budget=Budget(labels=23),
                    run_dir=tmp_path / "run", embedding="hashing",
                    config={"seed_size": 6, "batch_size": 5, "stopping": []})
    path = tmp_path / "run" / "model.joblib"
    for _ in lg.stream(pool, label_column="label", pause_before="supervisor"):
        pass
    assert not path.exists()  # paused after the bootstrap: no student yet
    learned = 0
    for mode, chunk in lg.stream(pause_before="supervisor"):  # round 1, to the next pause
        learned += mode == "updates" and "learner" in chunk
        assert not path.exists()  # not written every round, only when the stream ends
    assert learned == 1
    paused = joblib.load(path)  # round 1's student
    assert lg.result().curve["labels"].tolist() == [6]
    result = lg.resume()
    written = joblib.load(path)
    assert result.curve["labels"].tolist()[-1] == 23
    assert len(written.coef_[0]) == len(paused.coef_[0])
    assert not np.allclose(written.coef_, paused.coef_)  # replaced by the final student
    np.testing.assert_array_equal(written.coef_, result.model.coef_)
    lg.close()


# -- damaged caches ------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["pool.emb.npy", "model.joblib", "pool.emb.json"])
def test_damaged_caches_are_rebuilt_not_trusted(name: str, finished: Path,
                                                tmp_path: Path) -> None:
    run_dir = copy_run(finished, tmp_path)
    (run_dir / name).write_bytes(b"\x93NUMPY truncated")
    lg = LabelGraph.open(run_dir)
    result = lg.resume()
    assert result.stop_reason == "budget exhausted: labels" and len(result.dataset) == 12
    assert result.model is not None
    lg.close()


# -- the pool's features -------------------------------------------------------------------
CONFIG = {"seed_size": 6, "batch_size": 8, "synthesize": False, "stopping": (),
          "stop_set_size": 20}


def run(tmp_path, pool: pd.DataFrame, **config) -> LabelGraph:
    lg = LabelGraph(TASK, llm="none", annotator="oracle", budget=Budget(labels=30),
                    run_dir=tmp_path, embedding="hashing", config={**CONFIG, **config})
    lg.run(pool.iloc[:40], test=pool.iloc[40:], label_column="label")
    return lg


def test_features_read_from_the_pool_equal_a_fresh_transform(tmp_path, pool):
    lg = run(tmp_path / "run", pool)
    store = lg.context.store
    items = store.pool()
    texts = [items.texts[3], "a text that is not in the pool at all", items.texts[0]]
    emb = np.vstack([items.embeddings[3], lg.context.embedding.embed([texts[1]])[0],
                     items.embeddings[0] + 1.0])  # the last: another embedding, recomputed
    got = store.features(texts, emb)
    want = store.featurizer().transform(texts, emb)
    assert got.shape == want.shape and abs(got - want).max() <= 1e-12  # the pool's matrix
    lg.close()                                                   # came from fit_transform


# -- memory repaired from the ledger -------------------------------------------------------
def test_live_memory_is_what_the_ledger_says_so_a_repair_touches_nothing(tmp_path) -> None:
    """A hybrid run with audits and a person's correction: every example memory holds is the
    ledger's account of it, so after a crash only what Chroma missed is written again."""
    lg = hybrid_run(tmp_path, 0.8, audit_every=2)
    ctx = lg.context
    some = ctx.memory.all()[0][0]
    lg.correct(some.id, "negative" if some.label == "positive" else "positive")
    assert repair_memory(ctx.ledger, ctx.memory) == 0
    # a lost write (the correction never reached memory) is found and written again
    ctx.memory.upsert([some])
    assert repair_memory(ctx.ledger, ctx.memory) == 1
    assert ctx.memory.get([some.id])[0].source == "human"
