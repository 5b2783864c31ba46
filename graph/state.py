"""The checkpointed state: small and JSON-like, O(batch) — never the pool, memory or embeddings.

Values cross the checkpoint as plain dicts; nodes read them through the typed accessors of
:mod:`labelgraph.agents.accessors` (in the agents layer, which may not import the graph)
instead of re-applying defaults with ``state.get(...)`` in every node.
"""

from __future__ import annotations

from typing import Annotated, Any, TypedDict

from labelgraph.types import LabeledItem

__all__ = ["MAX_LOG", "RECENT_METRICS", "State", "bounded_log", "merge_proposals",
           "recent_metrics"]

MAX_LOG = 200
RECENT_METRICS = 5


def merge_proposals(old: dict[str, Any] | None, new: dict[str, Any] | None) -> dict[str, Any]:
    """Each agent's latest proposal by agent name; ``None`` clears them (after a decision)."""
    if new is None:
        return {}
    return {**(old or {}), **new}


def _latest(old: list[Any] | None, new: list[Any] | None, keep: int) -> list[Any]:
    return ((old or []) + (new or []))[-keep:]


def bounded_log(old: list[str] | None, new: list[str] | None) -> list[str]:
    """Console messages, keeping only the latest MAX_LOG so the checkpoint stays small."""
    return _latest(old, new, MAX_LOG)


def recent_metrics(old: list[dict[str, Any]] | None,
                   new: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """The latest RECENT_METRICS rounds' metrics, for a front-end reading the state: every
    round's are in the ledger (``Ledger.metrics()``, where the nodes read the history), so a
    checkpoint does not grow with the number of rounds."""
    return _latest(old, new, RECENT_METRICS)


class State(TypedDict, total=False):
    round: int  #: the current round (0 before the first decision)
    seed: list[str]  #: the cold-start seed's pool ids, chosen once by bootstrap
    decision: dict[str, Any] | None  #: the last Decision, as a dict
    batch: list[LabeledItem]  #: the round's items as the last stage left them
    proposals: Annotated[dict[str, Any], merge_proposals]  #: agent -> Proposal dict
    metrics: Annotated[list[dict[str, Any]], recent_metrics]  #: the latest rounds' rows
    spend: dict[str, float]  #: labels, tokens and usd spent (a snapshot, for display)
    idle_rounds: int  #: rounds in a row that added nothing to memory
    stop_reason: str | None  #: why the run stopped; set once
    log: Annotated[list[str], bounded_log]  #: human-readable lines for front-ends
    steering: dict[str, Any]  #: what a person said about the run (a Steering)
