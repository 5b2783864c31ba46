"""The checkpointed state: small and JSON-like, O(batch) — never the pool, memory or embeddings."""

from __future__ import annotations

import operator
from typing import Annotated, Any, TypedDict

MAX_LOG = 200


def merge_proposals(old: dict[str, Any] | None, new: dict[str, Any] | None) -> dict[str, Any]:
    """Each agent's latest proposal by agent name; ``None`` clears them (after a decision)."""
    if new is None:
        return {}
    return {**(old or {}), **new}


def bounded_log(old: list[str] | None, new: list[str] | None) -> list[str]:
    """Console messages, keeping only the latest MAX_LOG so the checkpoint stays small."""
    return ((old or []) + (new or []))[-MAX_LOG:]


class Item(TypedDict, total=False):
    """One item of the current batch and what the agents found out about it."""

    id: str
    text: str
    origin: str  # pool | synthetic
    intended: str | None  # the label a synthetic item was written for (hidden from the annotator)
    label: str | None
    source: str | None  # human | llm | oracle
    confidence: float | None
    verdict: str | None  # accept | flag | reject
    reason: str | None


class State(TypedDict, total=False):
    round: int
    seed: list[str]
    decision: dict[str, Any] | None
    batch: list[Item]
    proposals: Annotated[dict[str, Any], merge_proposals]
    metrics: Annotated[list[dict[str, Any]], operator.add]
    spend: dict[str, float]
    idle_rounds: int
    stop_reason: str | None
    log: Annotated[list[str], bounded_log]
