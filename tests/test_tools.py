"""Tools (labelgraph.tools): which agents may have tools, and the deterministic hooks
that run an agent's tools when no LLM calls them."""

from __future__ import annotations

from typing import Any

import pytest

from conftest import sentiment_of
from labelgraph import Budget, LabelGraph, Task
from support.fakes import ScriptedChatModel, last_text


# -- the tool registry ---------------------------------------------------------------------
def test_pure_pieces_take_no_tools():
    from labelgraph.errors import InputError
    from labelgraph.tools.registry import ToolRegistry

    def hint() -> str:
        """A hint."""
        return "x"

    with pytest.raises(InputError, match="the selector is a pure piece and calls no tools"):
        ToolRegistry({"selector": [hint]})


# -- deterministic hooks -------------------------------------------------------------------
TASK = Task(labels=["positive", "negative"], description="movie review sentiment")


def test_custom_verifier_tool_rejects_and_annotator_tool_adds_context(tmp_path, pool):
    prompts: list[str] = []

    def respond(messages: list[Any], tool: str) -> dict[str, Any] | str:
        prompts.append(str(messages[-1].content))
        return {"label": sentiment_of(last_text(messages)), "confidence": 0.9}

    def even(text: str) -> bool:
        return int(text.split("scene ")[1].split(",")[0]) % 2 == 0

    def odd_scenes_only(text: str) -> dict[str, str] | None:
        """Reject texts about even-numbered scenes."""
        return {"verdict": "reject", "reason": "even scene"} if even(text) else None

    def glossary(text: str) -> str:
        """Domain hints for the annotator."""
        return "GLOSSARY: 'tedious' means negative"

    lg = LabelGraph(TASK, llm=ScriptedChatModel(responder=respond), annotator="llm",
                    policy="rule", budget=Budget(labels=12), run_dir=tmp_path / "run",
                    embedding="hashing", tools={"verifier": [odd_scenes_only],
                                                "annotator": [glossary]},
                    config={"seed_size": 12, "synthesize": False})
    result = lg.run(pool, label_column="label")
    assert all("GLOSSARY" in p for p in prompts) and prompts
    assert len(result.dataset) and not any(even(t) for t in result.dataset["text"])
    rejected = [v for v in lg.context.ledger.verdicts().values() if "odd_scenes_only" in v[2]]
    assert rejected and all(v[0] == "reject" for v in rejected)
