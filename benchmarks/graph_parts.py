"""Where the graph's time beyond the plain loop goes, part by part.

    python benchmarks/graph_parts.py [--dataset rt] [--repeats 7]

The runs of benchmarks/graph_overhead.py (the same data, student, strategy, seed and
schedule; plain loop and graph interleaved), with the parts the plain loop does not have
timed inside the graph run: Chroma catching up with memory (``ExampleMemory.flush``), the
checkpoint saver's ``put`` and ``put_writes``, saving the pool and test split into the run
(``LabelGraph.add_pool``), building the run's context, and ``result()``; beside them, each
node's own time as the run records it. Two references beside them: LangGraph's own cost,
a graph of the run's shape (five nodes a round, the same number of rounds) whose nodes do
nothing, without a checkpointer and with a SqliteSaver fsyncing every commit or not (the
run's setting); the pool's features built in two passes over the texts (fit, then
transform) against one (``Featurizer.fit_transform``); and Chroma indexing the run's labels
in one upsert with their texts (with and without its full-text index), without, and with
short stand-ins (what a label costs Chroma, and how much of it is the text). Memory's
write-behind flushes while the verifier writes, so that flush time is counted once, per
label, and taken out of the verifier's round time.
Medians over the repeats; results go to benchmarks/results/graph_parts/graph_parts.json.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import graph_overhead as go
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.graph import END, START, StateGraph
from provenance import stamp

import labelgraph.agents.verifier as verifier
import labelgraph.api as api
from labelgraph.assets import atomic_write_text
from labelgraph.memory.examples import ExampleMemory
from labelgraph.student import Featurizer

RESULTS = Path(__file__).resolve().parent / "results" / "graph_parts" / "graph_parts.json"
ROUND_NODES = ("supervisor", "selector", "annotator", "verifier", "learner")
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
FLUSH_IN_VERIFIER = "Chroma catching up inside the verifier"


def _flushes_inside(module: Any, name: str) -> None:
    """Add to PARTS[FLUSH_IN_VERIFIER] the flush time spent inside calls of ``module.name``:
    memory's write-behind flushes while the verifier writes, so the verifier node's time
    holds Chroma's indexing, which is counted per label (once, not twice)."""
    function: Callable[..., Any] = getattr(module, name)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        before = PARTS["Chroma catching up (flush)"]
        try:
            return function(*args, **kwargs)
        finally:
            PARTS[FLUSH_IN_VERIFIER] += PARTS["Chroma catching up (flush)"] - before
    setattr(module, name, wrapper)


_flushes_inside(verifier, "verify")
_time(SqliteSaver, "put", "checkpoints (put, put_writes)")
_time(SqliteSaver, "put_writes", "checkpoints (put, put_writes)")
_time(api.LabelGraph, "add_pool", "pool and test saved into the run")
_time(api.LabelGraph, "_assemble", "context built")
_time(api.LabelGraph, "result", "result()")


def empty_graph_seconds(rounds: int, saver: str | None) -> float:
    """One pass of a graph of the run's shape whose nodes do nothing: ``saver`` None (no
    checkpointer), "FULL" or "NORMAL" (SQLite's synchronous setting, WAL mode)."""
    def step(state: dict[str, Any]) -> dict[str, Any]:
        return {"n": state.get("n", 0) + 1}

    graph = StateGraph(dict)
    graph.add_node("bootstrap", step)
    for node in ROUND_NODES:
        graph.add_node(node, step)
    graph.add_edge(START, "bootstrap")
    graph.add_edge("bootstrap", ROUND_NODES[0])
    for a, b in zip(ROUND_NODES, ROUND_NODES[1:], strict=False):
        graph.add_edge(a, b)
    limit = 1 + len(ROUND_NODES) * rounds
    graph.add_conditional_edges(ROUND_NODES[-1], lambda s: END if s["n"] >= limit
                                else ROUND_NODES[0], [ROUND_NODES[0], END])
    with tempfile.TemporaryDirectory(prefix="graph_parts-empty-") as tmp:
        checkpointer = None
        if saver is not None:
            conn = sqlite3.connect(Path(tmp) / "checkpoints.sqlite", check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(f"PRAGMA synchronous={saver}")
            checkpointer = SqliteSaver(conn)
        compiled = graph.compile(checkpointer=checkpointer)
        kwargs: dict[str, Any] = {"durability": "sync"} if checkpointer else {}
        start = time.perf_counter()
        for _ in compiled.stream({"n": 0}, {"configurable": {"thread_id": "t"},
                                            "recursion_limit": limit + 10}, **kwargs):
            pass
        return time.perf_counter() - start


CHROMA_TEXTS = ("pool", "pool, no full-text index", "none", "short")


def chroma_seconds(split: go.Split, labels: int, texts: str) -> float:
    """Chroma indexing ``labels`` pool items with their embeddings and metadata, as memory's
    write-behind does (one upsert), into a fresh persistent collection: with their texts
    (``"pool"``; ``"pool, no full-text index"``: the document index deleted through
    Chroma's ``Schema``), with none, or with a 25-character stand-in for each
    (``"short"``): what a label costs Chroma, and how much of it is the text."""
    from chromadb import Schema
    from chromadb.api.types import FtsIndexConfig
    from chromadb.execution.expression.operator import Key

    from labelgraph.memory.examples import make_client

    with tempfile.TemporaryDirectory(prefix="graph_parts-chroma-") as tmp:
        options: dict[str, Any] = {"metadata": {"hnsw:space": "cosine"}}
        if texts == "pool, no full-text index":
            schema = Schema()
            schema.delete_index(config=FtsIndexConfig(), key=Key.DOCUMENT)
            options = {"schema": schema}
        collection = make_client(Path(tmp)).get_or_create_collection(
            "memory", embedding_function=None, **options)
        documents = None if texts == "none" else split.pool_text[:labels] \
            if texts.startswith("pool") \
            else [f"a short text, number {i:05d}" for i in range(labels)]

        start = time.perf_counter()
        collection.upsert(ids=[str(i) for i in range(labels)], documents=documents,
                          embeddings=split.pool_emb[:labels],
                          metadatas=[{"label": str(g), "source": "oracle", "round": 1}
                                     for g in split.pool_gold[:labels]])
        return time.perf_counter() - start



def features_seconds(split: go.Split, one_pass: bool) -> float:
    """The pool's student features, fitted and transformed in one pass or two."""
    start = time.perf_counter()
    if one_pass:
        Featurizer().fit_transform(split.pool_text, split.pool_emb)
    else:
        Featurizer().fit(split.pool_text).transform(split.pool_text, split.pool_emb)
    return time.perf_counter() - start


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
            rounds = run["rounds"]
            for saver in (None, "FULL", "NORMAL"):
                rows[f"empty graph, {rounds} rounds, checkpoints: {saver or 'none'}"].append(
                    empty_graph_seconds(rounds, saver))
            labels = go.SEED_SIZE + go.ROUNDS * go.BATCH
            for texts in CHROMA_TEXTS:
                rows[f"Chroma indexing the labels, texts: {texts}"].append(
                    chroma_seconds(split, labels, texts))
            for one_pass in (False, True):
                rows[f"pool features, {'one pass' if one_pass else 'two passes'}"].append(
                    features_seconds(split, one_pass))
    medians = {part: round(statistics.median(v), 3) for part, v in rows.items()}
    cost = orchestration_cost(medians, rounds, go.SEED_SIZE + go.ROUNDS * go.BATCH)
    results = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}
    results[args.dataset] = {"repeats": args.repeats, "uptime": go.uptime(), **stamp(),
                             "median_seconds": medians, "orchestration": cost}
    atomic_write_text(RESULTS, json.dumps(results, indent=1))
    for part, seconds in medians.items():
        print(f"| {part} | {seconds:.3f} |")
    print(json.dumps(cost, indent=1))


#: The orchestration budget (issue 22): per round plus per label indexed, in seconds.
BUDGET_PER_ROUND, BUDGET_PER_LABEL = 0.015, 0.0006


def orchestration_cost(medians: dict[str, float], rounds: int, labels: int) -> dict[str, Any]:
    """What the graph spends beyond the plain loop, per round and per label indexed: the
    parts the plain loop does not have, each put where it grows (Chroma's indexing with the
    labels; checkpoints and the four light nodes with the rounds; saving the run's pool,
    building the context and ``result()`` once a run), beside the whole runs' difference
    (which also holds the machine's drift between the two) and the budget."""
    parts = {"label": ["Chroma catching up (flush)"],
             "round": ["checkpoints (put, put_writes)", "node supervisor", "node selector",
                       "node annotator", "node verifier"],
             "run": ["pool and test saved into the run", "context built", "result()"]}
    spent = {k: sum(medians.get(p, 0.0) for p in v) for k, v in parts.items()}
    # the verifier's flushes are Chroma's indexing, already counted per label
    spent["round"] -= medians.get(FLUSH_IN_VERIFIER, 0.0)
    budget = BUDGET_PER_ROUND * rounds + BUDGET_PER_LABEL * labels
    whole = medians["graph (whole)"] - medians["plain loop (whole)"]
    return {"rounds": rounds, "labels": labels,
            "per_label_ms": round(1000 * spent["label"] / labels, 3),
            "per_round_ms": round(1000 * spent["round"] / rounds, 2),
            "per_run_ms": round(1000 * spent["run"], 1),
            "within_budget": spent["label"] / labels <= BUDGET_PER_LABEL
            and spent["round"] / rounds <= BUDGET_PER_ROUND,
            "budget_s": round(budget, 3), "parts_s": round(sum(spent.values()), 3),
            "whole_difference_s": round(whole, 3)}


if __name__ == "__main__":
    main()
