"""A run whose supervisor calls a tool with a side effect, in its own process.

Usage: python tool_worker.py RUN_DIR EFFECTS_FILE die|live. The supervisor's tool appends
"round N" to EFFECTS_FILE. With "die", the process kills itself (``os._exit(17)``, like
``kill -9``) the moment the model sees that tool's first result in round 2 — after the tool
ran and was recorded, before anything else happened. It prints one JSON line on success.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parents[1]))  # tests/: conftest and support

from langchain_core.messages import ToolMessage  # noqa: E402

from conftest import make_pool, sentiment_of  # noqa: E402
from labelgraph import Budget, LabelGraph, Task  # noqa: E402
from support.fakes import ToolCallingChatModel, last_text  # noqa: E402

run_dir, effects, mode = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
state = {"round": 0}


def note_round(round: int) -> str:
    """Write down that this round was looked at (a tool with a side effect)."""
    with effects.open("a") as fh:
        fh.write(f"round {round}\n")
    return "noted"


def script(messages: list[Any], names: list[str]) -> Any:
    if "Decision" in names:
        seen = [m for m in messages if isinstance(m, ToolMessage)]
        signals = json.loads(str(messages[1].content).split("\n", 1)[1])
        if not seen:
            return {"tool": "note_round", "args": {"round": signals["round"]}}
        if mode == "die" and signals["round"] == 2:
            os._exit(17)
        return {"tool": "Decision", "args": {"action": "query", "reason": "noted"}}
    return {"tool": "LabelAnswer", "args": {"label": sentiment_of(last_text(messages)),
                                            "confidence": 0.9}}


lg = LabelGraph(Task(labels=["positive", "negative"], description="movie review sentiment"),
                llm=ToolCallingChatModel(script=script), annotator="llm", policy="llm",
                budget=Budget(labels=18), run_dir=run_dir, embedding="hashing",
                tools={"supervisor": [note_round]},
                config={"seed_size": 6, "batch_size": 6, "synthesize": False, "stopping": []})
result = lg.run(make_pool() if not (Path(run_dir) / "pool.parquet").exists() else None,
                label_column="label")
print(json.dumps({"stop_reason": result.stop_reason, "labels": result.cost["labels"]}))
