"""How the checkpoint database grows with the number of rounds.

    python benchmarks/checkpoint_growth.py [--rounds 50 200] [--batch 5] [--label after]

A run of the oracle annotator on the review snippets (hashing embedding, so the figure is
the graph's and not the embedder's), ``--batch`` labels a round for ``--rounds`` rounds.
Reported per run: the checkpoint database's size, the bytes of the first and the last
checkpoint (a checkpoint should cost O(batch), not O(rounds)), the time spent in the saver's
``put`` and ``put_writes``, and the wall time. Results go to
benchmarks/results/checkpoint_growth/checkpoint_growth.json under ``--label``, each row with
the command and the commit that measured it.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import tempfile
import time
from pathlib import Path
from typing import Any

from langgraph.checkpoint.sqlite import SqliteSaver
from provenance import stamp

from labelgraph.assets import atomic_write_text
from labelgraph.data import load_rotten_tomatoes

RESULTS = (Path(__file__).resolve().parent / "results" / "checkpoint_growth"
           / "checkpoint_growth.json")
SAVER_SECONDS = {"put": 0.0}


def _timed(method: Any) -> Any:
    def wrapper(self: SqliteSaver, *args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return method(self, *args, **kwargs)
        finally:
            SAVER_SECONDS["put"] += time.perf_counter() - start
    return wrapper


SqliteSaver.put = _timed(SqliteSaver.put)  # type: ignore[method-assign]
SqliteSaver.put_writes = _timed(SqliteSaver.put_writes)  # type: ignore[method-assign]


def run(rounds: int, batch: int, work: Path) -> dict[str, Any]:
    """One run of ``rounds`` rounds; the checkpoint figures."""
    from labelgraph.api import LabelGraph
    from labelgraph.types import Budget, Task

    data = load_rotten_tomatoes().sample(n=3000, random_state=0)
    run_dir = work / f"run{rounds}"
    lg = LabelGraph(Task(labels=["negative", "positive"], description="review sentiment"),
                    llm="none", annotator="oracle", embedding="hashing", run_dir=run_dir,
                    embedding_cache=False, budget=Budget(labels=batch * (rounds + 1)),
                    config={"seed_size": batch, "batch_size": batch, "stopping": (),
                            "synthesize": False})
    SAVER_SECONDS["put"] = 0.0
    start = time.perf_counter()
    result = lg.run(data, label_column="label")
    wall = time.perf_counter() - start
    lg.close()
    conn = sqlite3.connect(run_dir / "checkpoints.sqlite")
    sizes = [n for (n,) in conn.execute(
        "SELECT length(checkpoint) + length(metadata) FROM checkpoints ORDER BY rowid")]
    writes = conn.execute("SELECT COALESCE(SUM(length(value)), 0) FROM writes").fetchone()[0]
    conn.close()
    database = sum(p.stat().st_size for p in run_dir.glob("checkpoints.sqlite*"))
    return {"rounds": len(result.curve), "checkpoints": len(sizes),
            "first_checkpoint_bytes": sizes[0], "last_checkpoint_bytes": sizes[-1],
            "checkpoint_bytes": sum(sizes), "writes_bytes": writes,
            "database_bytes": database, "saver_seconds": round(SAVER_SECONDS["put"], 3),
            "wall_seconds": round(wall, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, nargs="+", default=[50, 200])
    parser.add_argument("--batch", type=int, default=5)
    parser.add_argument("--label", default="after")
    args = parser.parse_args()
    results = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}
    with tempfile.TemporaryDirectory(prefix="checkpoint_growth-") as tmp:
        rows = [{**run(n, args.batch, Path(tmp)), **stamp()} for n in args.rounds]
    results[args.label] = rows
    atomic_write_text(RESULTS, json.dumps(results, indent=1))
    print("| measurement | rounds | checkpoints | first (KB) | last (KB) | database (MB) | "
          "saver (s) | wall (s) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for label, runs in results.items():
        for r in runs:
            print(f"| {label} | {r['rounds']} | {r['checkpoints']} | "
                  f"{r['first_checkpoint_bytes'] / 1024:.1f} | "
                  f"{r['last_checkpoint_bytes'] / 1024:.1f} | "
                  f"{r['database_bytes'] / 2**20:.1f} | {r['saver_seconds']:.2f} | "
                  f"{r['wall_seconds']:.1f} |")


if __name__ == "__main__":
    main()
