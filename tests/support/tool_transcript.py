"""Print a transcript of a scripted tool-calling run: what the supervisor looked at, what it
decided, and the ledger rows that record it. ``python tests/support/tool_transcript.py``.

The scripted model (tests/support/fakes.py) stands in for a provider model; the run is otherwise
real: LangChain's create_agent loop, real tool calls and tool messages, Chroma and SQLite.
"""

from __future__ import annotations

import json
import sqlite3
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parents[1]))  # tests/: conftest and support

from langchain_core.messages import ToolMessage  # noqa: E402

from conftest import make_pool, sentiment_of  # noqa: E402
from labelgraph import Budget, LabelGraph, Task  # noqa: E402
from support.fakes import ToolCallingChatModel, last_text  # noqa: E402

LOOK = ["learning_curve", "strategy_gains", "label_distribution", "spend_and_budget"]


def supervisor(messages: list[Any], names: list[str]) -> Any:
    """Looks at four tools, then: the best-measured strategy, half the labels left."""
    if "Decision" not in names:
        return {"tool": "LabelAnswer", "args": {"label": sentiment_of(last_text(messages)),
                                                "confidence": 0.9}}
    seen = [json.loads(str(m.content)) for m in messages if isinstance(m, ToolMessage)]
    if len(seen) < len(LOOK):
        return {"tool": LOOK[len(seen)], "args": {}}
    gains, counts, spend = seen[1], seen[2], seen[3]
    best = max(gains, key=lambda s: gains[s]["change_per_label"]) if gains else "entropy"
    left = spend["labels_left"]
    return {"tool": "Decision", "args": {
        "action": "query", "strategy": best if best != "cold_start" else "entropy",
        "batch_size": max(1, left // 2),
        "reason": f"gains {gains or 'none yet'}; labels {counts}; {left} left: query half "
                  f"by {best if best != 'cold_start' else 'entropy'}"}}


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        lg = LabelGraph(Task(labels=["positive", "negative"], description="review sentiment"),
                        llm=ToolCallingChatModel(script=supervisor), annotator="llm",
                        policy="llm", budget=Budget(labels=30), run_dir=tmp,
                        embedding="hashing",
                        config={"seed_size": 8, "synthesize": False, "stopping": []})
        result = lg.run(make_pool(), label_column="label")
        calls = lg.context.ledger.tool_calls()
        for d in result.decisions:
            looked = [c["tool"] for c in calls if c["round"] == d["round"]]
            print(f"round {d['round']}: supervisor called {looked or 'no tools'}")
            print(f"  -> {d['action']} batch={d.get('batch_size')} "
                  f"strategy={d.get('strategy')}: {d['reason']}")
        print("\nledger.sqlite, table tool_calls:")
        conn = sqlite3.connect(Path(tmp) / "ledger.sqlite")
        for row in conn.execute("SELECT round, agent, tool, arguments, substr(result, 1, 90) "
                                "FROM tool_calls ORDER BY created"):
            print("  ", row)
        conn.close()
        lg.close()


if __name__ == "__main__":
    main()
