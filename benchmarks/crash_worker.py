"""One process of a crash benchmark trial (driven by ``benchmarks/crash.py``).

Usage:

    python benchmarks/crash_worker.py run RUN_DIR SEED      # drive (or resume) the run
    python benchmarks/crash_worker.py inspect RUN_DIR       # read its results, read-only

``run`` builds the benchmark's ``LabelGraph`` on ``RUN_DIR`` (passing the pool only when
``pool.parquet`` does not exist yet, like ``tests/support/crash_worker.py``) and drives it to
the end. The chat model is the scripted one of ``tests/support/fakes.py``, answering by
keyword after a random 5-40 ms sleep (seeded by ``SEED``), so that a ``kill -9`` can land
while calls are in flight.

Everything this process does is appended to ``RUN_DIR/log.<pid>.jsonl``, one JSON object a
line, each written with a single unbuffered ``os.write`` on an ``O_APPEND`` descriptor (so it
survives a SIGKILL the moment the call returns):

- ``{"kind": "start"}`` once the imports (also those a run makes lazily) are done, before
  the ``LabelGraph`` is built;
- ``{"kind": "call", "tool", "text"}`` when a provider invocation starts (it is paid from now);
- ``{"kind": "reply", "tool", "text"}`` when it returns its answer;
- ``{"kind": "update", "nodes"}`` after each graph node; ``{"kind": "event", "type",
  "round"}`` for each typed event of ``labelgraph.events`` (``Progress`` excluded);
- ``{"kind": "done", "stop_reason"}`` at the end.

It prints one JSON line: the calls this process made and the stop reason. ``inspect`` prints
the memory size (``result().dataset`` length), the stop reason and the cost of the run.
"""

from __future__ import annotations

import importlib
import json
import os
import random
import sys
import time
from pathlib import Path
from typing import Any

TESTS = Path(__file__).resolve().parent.parent / "tests"
sys.path.insert(0, str(TESTS))

from conftest import make_pool, sentiment_of  # noqa: E402
from labelgraph import Budget, LabelGraph, Task  # noqa: E402
from support.fakes import ScriptedChatModel, last_text  # noqa: E402

TASK = Task(labels=["positive", "negative"], description="movie review sentiment")
BUDGET = Budget(labels=40)
CONFIG = {"seed_size": 8, "batch_size": 6, "synthesize": False, "stopping": []}
SLEEP_S = (0.005, 0.040)
# Imported on first use by a run; imported before the start line instead, so that the
# kills counted from it land in the run's own work rather than in Python's imports.
WARM_UP = ("chromadb", "pyarrow.parquet", "sklearn.cluster", "sklearn.linear_model",
           "sklearn.feature_extraction.text", "labelgraph.memory.embeddings")


def warm_up() -> None:
    """Import the modules a run would import lazily (a missing one is skipped)."""
    for name in WARM_UP:
        try:
            importlib.import_module(name)
        except ImportError:
            continue


class JsonlLog:
    """An append-only JSONL file written with one unbuffered ``os.write`` per line."""

    def __init__(self, path: Path) -> None:
        self.fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)

    def write(self, kind: str, **fields: Any) -> None:
        """Append one line ``{"kind": kind, "t": now, **fields}``; thread-safe by O_APPEND."""
        line = json.dumps({"kind": kind, "t": time.time(), **fields}, default=str) + "\n"
        os.write(self.fd, line.encode())


def audit(text: str) -> None:
    """Pass every item: a no-op verifier check (it flags nothing, rejects nothing)."""
    return None


def build(run_dir: Path, seed: int, log: JsonlLog) -> tuple[LabelGraph, list[int]]:
    """The benchmark's LabelGraph on ``run_dir``, and a one-item list counting its calls."""
    rng = random.Random(seed)
    count = [0]

    def respond(messages: list[Any], tool: str) -> dict[str, Any]:
        """Answer by keyword after a short random sleep, logging the invocation."""
        text = last_text(messages)
        count[0] += 1
        log.write("call", tool=tool, text=text)
        time.sleep(rng.uniform(*SLEEP_S))
        log.write("reply", tool=tool, text=text)
        return {"label": sentiment_of(text), "confidence": 0.9}

    lg = LabelGraph(TASK, llm=ScriptedChatModel(responder=respond), annotator="llm",
                    policy="rule", budget=BUDGET, run_dir=run_dir, embedding="hashing",
                    tools={"verifier": [audit]}, config=CONFIG)
    return lg, count


def drive(run_dir: Path, seed: int) -> int:
    """Drive (or resume) the run to its end, logging as it goes; the exit code."""
    warm_up()
    run_dir.mkdir(parents=True, exist_ok=True)
    log = JsonlLog(run_dir / f"log.{os.getpid()}.jsonl")
    log.write("start")
    lg, count = build(run_dir, seed, log)
    pool = None if (run_dir / "pool.parquet").exists() else make_pool()
    for mode, chunk in lg.stream(pool, label_column="label"):
        if mode == "updates":
            log.write("update", nodes=sorted(chunk))
        elif type(chunk).__name__ != "Progress":
            log.write("event", type=type(chunk).__name__, round=getattr(chunk, "round", None))
    result = lg.result()
    log.write("done", stop_reason=result.stop_reason)
    lg.close()
    print(json.dumps({"llm_calls": count[0], "stop_reason": result.stop_reason,
                      "labels": result.cost["labels"]}))
    return 0


def chroma_matches_ledger(run_dir: Path) -> bool:
    """Does the run's Chroma collection, read from its files, hold what the ledger says?
    (Memory reaches Chroma behind the ledger; the driver repairs what a kill kept from it.)"""
    from chromadb.api.client import SharedSystemClient

    from labelgraph.memory.embeddings import HashingEmbedding
    from labelgraph.memory.examples import ExampleMemory, collection_name, make_client
    from labelgraph.memory.ledger import Ledger
    from labelgraph.memory.store import ledger_memory, same_example

    run_id = json.loads((run_dir / "run.json").read_text())["run_id"]
    memory = ExampleMemory(make_client(run_dir / "chroma"), HashingEmbedding(),
                           name=collection_name(run_id))
    stored = {e.id: e for e in memory.all(status=None)[0]}
    ledger = Ledger(run_dir / "ledger.sqlite", read_only=True)
    want = ledger_memory(ledger)
    ledger.close()
    SharedSystemClient.clear_system_cache()
    return stored.keys() == want.keys() and all(same_example(stored[i], want[i]) for i in want)


def inspect(run_dir: Path) -> int:
    """Print the run's memory size, stop reason and cost, opened read-only, and whether
    its Chroma collection holds what the ledger says."""
    chroma_ok = chroma_matches_ledger(run_dir)
    lg = LabelGraph.open(run_dir, read_only=True)
    result = lg.result()
    cost = {k: v for k, v in result.cost.items() if k != "seconds"}
    print(json.dumps({"memory": len(result.dataset), "stop_reason": result.stop_reason,
                      "cost": cost, "chroma_matches_ledger": chroma_ok,
                      "dataset": sorted([str(i), str(lab), str(s)] for i, lab, s in zip(
                          result.dataset.get("id", []), result.dataset.get("label", []),
                          result.dataset.get("status", []), strict=True))}))
    lg.close()
    return 0


def main(argv: list[str]) -> int:
    """Dispatch ``run RUN_DIR SEED`` or ``inspect RUN_DIR``."""
    if len(argv) == 3 and argv[0] == "run":
        return drive(Path(argv[1]), int(argv[2]))
    if len(argv) == 2 and argv[0] == "inspect":
        return inspect(Path(argv[1]))
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
