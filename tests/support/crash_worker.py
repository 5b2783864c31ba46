"""A run in its own process, for crash-and-resume tests.

Usage: python crash_worker.py RUN_DIR CRASH_AT [LABELS] [CRASH_AT is "annotator:N" (die on
the Nth LLM label call), "verifier:N" (die in the Nth custom check) or "none"; LABELS, when
given and the run has stopped, raises its label budget to that and lets it go on]. Dies with
``os._exit(17)`` — like ``kill -9``: no cleanup, no flush — and otherwise prints one JSON
line with the calls this process made.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1]))  # tests/: conftest and support

from conftest import make_pool, sentiment_of  # noqa: E402
from labelgraph import Budget, LabelGraph, Task  # noqa: E402
from support.fakes import ScriptedChatModel, last_text  # noqa: E402

run_dir, crash_at = sys.argv[1], sys.argv[2]
where, _, nth = crash_at.partition(":")
counts = {"annotator": 0, "verifier": 0}


def respond(messages, tool):  # noqa: ANN001, ANN201
    counts["annotator"] += 1
    if where == "annotator" and counts["annotator"] == int(nth):
        os._exit(17)
    return {"label": sentiment_of(last_text(messages)), "confidence": 0.9}


def audit(text: str) -> None:
    """A custom check that may crash the process."""
    counts["verifier"] += 1
    if where == "verifier" and counts["verifier"] == int(nth):
        os._exit(17)


lg = LabelGraph(Task(labels=["positive", "negative"], description="movie review sentiment"),
                llm=ScriptedChatModel(responder=respond), annotator="llm", policy="rule",
                budget=Budget(labels=30), run_dir=run_dir, embedding="hashing",
                tools={"verifier": [audit]},
                # memory reaches Chroma only when the run ends: a crash loses all of it
                # there, and the resumed run must repair it from the ledger
                config={"seed_size": 8, "batch_size": 6, "synthesize": False,
                        "stopping": [], "memory_write_behind": 3600})
if len(sys.argv) > 3 and (Path(run_dir) / "run.json").exists() and \
        lg.graph.get_state(lg.config_dict).values.get("stop_reason"):
    lg.steer(budget={"labels": int(sys.argv[3])})  # a stopped run, given more budget
pool = make_pool()
result = lg.run(pool if not (Path(run_dir) / "pool.parquet").exists() else None,
                label_column="label")
print(json.dumps({"llm_calls": counts["annotator"], "stop_reason": result.stop_reason,
                  "labels": result.cost["labels"]}))
