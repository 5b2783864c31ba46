"""Deterministic hooks: how agents run their tools when no LLM calls them.

With the embedded model (which cannot call tools), each agent runs its registered tools as
code on every item: an annotator tool adds a note to the prompt, a verifier tool is a check
that passes, flags or rejects a label.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from langchain_core.tools import BaseTool

__all__ = ["annotator_notes", "call_with", "run_checks", "tool_verdict"]


def call_with(t: BaseTool, values: Mapping[str, Any]) -> Any:
    """Invoke a tool with the subset of ``values`` its argument schema names."""
    schema = t.args or {}
    return t.invoke({k: v for k, v in values.items() if k in schema})


def tool_verdict(result: Any) -> tuple[str, str] | None:
    """Read a check's result: None/True/"" pass; False or a string flag; a dict may say
    {"verdict": "reject"|"flag"|"accept", "reason": ...}."""
    if result is None or result is True or result == "":
        return None
    if result is False:
        return ("flag", "a custom check failed")
    if isinstance(result, dict):
        verdict = str(result.get("verdict", "flag"))
        if verdict == "accept":
            return None
        return (verdict if verdict in {"flag", "reject"} else "flag",
                str(result.get("reason", "a custom check failed")))
    return ("flag", str(result))


def annotator_notes(tools: Iterable[BaseTool], text: str, labels: Sequence[str]) -> list[str]:
    """The notes the annotator's tools add about one text (empty answers are dropped)."""
    notes = []
    for t in tools:
        note = call_with(t, {"text": text, "labels": list(labels)})
        if note:
            notes.append(str(note))
    return notes


def run_checks(tools: Iterable[BaseTool], values: Mapping[str, Any],
               verdict: str) -> tuple[str, str] | None:
    """Run the verifier's checks on one label; returns the (verdict, reason) they impose on
    a label that currently has ``verdict``: a reject always wins, a flag only over accept."""
    found: tuple[str, str] | None = None
    for check in tools:
        result = tool_verdict(call_with(check, values))
        if result and (result[0] == "reject" or verdict == "accept"):
            verdict = result[0]
            found = (result[0], f"{check.name}: {result[1]}")
    return found
