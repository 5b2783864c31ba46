"""Where the graph's time beyond the plain loop goes, part by part.

    python benchmarks/graph_parts.py [--dataset rt] [--repeats 7]

The runs of benchmarks/graph_overhead.py (the same data, student, strategy, seed and
schedule; plain loop and graph interleaved), with the parts the plain loop does not have
timed inside the graph run: Chroma catching up with memory (``ExampleMemory.flush``), the
checkpoint saver's ``put`` and ``put_writes``, saving the pool and test split into the run
(``LabelGraph.add_pool``), building the run's context, and ``result()``; beside them, each
node's own time as the run records it. Medians over the repeats; results go to
benchmarks/results/graph_parts.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import graph_overhead as go
from langgraph.checkpoint.sqlite import SqliteSaver

import labelgraph.api as api
from labelgraph.assets import atomic_write_text
from labelgraph.memory.examples import ExampleMemory

RESULTS = Path(__file__).resolve().parent / "results" / "graph_parts.json"
PARTS: dict[str, float] = defaultdict(float)


def _time(owner: type, name: str, part: str) -> None:
    """Add the time of every call of ``owner.name`` to PARTS[part]."""
    method: Callable[..., Any] = getattr(owner, name)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return method(*args, **kwargs)
        finally:
            PARTS[part] += time.perf_counter() - start
    setattr(owner, name, wrapper)


_time(ExampleMemory, "flush", "Chroma catching up (flush)")
_time(SqliteSaver, "put", "checkpoints (put, put_writes)")
_time(SqliteSaver, "put_writes", "checkpoints (put, put_writes)")
_time(api.LabelGraph, "add_pool", "pool and test saved into the run")
_time(api.LabelGraph, "_assemble", "context built")
_time(api.LabelGraph, "result", "result()")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="rt")
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    frame, emb = go.load(args.dataset)
    split = go.Split(frame, emb, 0)
    cache = go.CACHE / "embeddings"
    split.seed_cache(cache)
    rows: dict[str, list[float]] = defaultdict(list)
    with tempfile.TemporaryDirectory(prefix="graph_parts-") as tmp:
        go.graph_loop(split, 0, cache, Path(tmp))  # warm: imports, first Chroma client
        for _ in range(args.repeats):
            PARTS.clear()
            rows["plain loop (whole)"].append(go.hand_loop(split, 0)["seconds"])
            run = go.graph_loop(split, 0, cache, Path(tmp))
            rows["graph (whole)"].append(run["seconds"])
            for part, seconds in PARTS.items():
                rows[part].append(seconds)
            for node, seconds in (run["recorded"] or {}).items():
                rows[f"node {node}"].append(seconds)
    medians = {part: round(statistics.median(v), 3) for part, v in rows.items()}
    results = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}
    results[args.dataset] = {"repeats": args.repeats, "uptime": go.uptime(),
                             "median_seconds": medians}
    atomic_write_text(RESULTS, json.dumps(results, indent=1))
    for part, seconds in medians.items():
        print(f"| {part} | {seconds:.3f} |")


if __name__ == "__main__":
    main()
