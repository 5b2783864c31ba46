"""A run that stops at its label budget, is given more, and goes on from where it stopped.

    python examples/go_on_after_a_stop.py

The oracle labels (the demo data carries gold labels), so it needs no model and runs in
seconds. The same works from the command line (``labelgraph resume RUN --budget-labels 60``)
and in the console (``/budget +20`` then ``/continue``).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from labelgraph import Budget, LabelGraph, Task
from labelgraph.data import load_rotten_tomatoes
from labelgraph.events import Continued, Decided, NotContinued


def main() -> None:
    pool = load_rotten_tomatoes().sample(n=600, random_state=0)
    task = Task(labels=["positive", "negative"], description="movie review sentiment")
    with tempfile.TemporaryDirectory() as tmp:
        lg = LabelGraph(task, annotator="oracle", llm="none", budget=Budget(labels=40),
                        run_dir=Path(tmp) / "run", embedding="hashing",
                        config={"stopping": [], "batch_size": 20})
        first = lg.run(pool, label_column="label")
        print(f"stopped: {first.stop_reason} with {len(first.dataset)} labels")

        lg.steer(budget={"labels": 60})  # a reason to go on, recorded as a human action
        print("would anything stop it again at once?", lg.blockers() or "no")
        for mode, event in lg.stream():  # ("custom", event) pairs carry the typed events
            if mode != "custom":
                continue
            if isinstance(event, Continued):
                print(f"going on after the stop ({event.after}): {', '.join(event.changes)}")
            elif isinstance(event, NotContinued):
                print(f"cannot go on: {event.reason}; {event.hint}")
            elif isinstance(event, Decided):
                print(f"decided: {event.action} — {event.reason}")
        result = lg.result()
        print(f"stopped: {result.stop_reason} with {len(result.dataset)} labels")
        lg.close()


if __name__ == "__main__":
    main()
