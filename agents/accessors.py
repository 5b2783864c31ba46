"""Typed reads of the checkpointed state (:class:`~labelgraph.graph.state.State`): what a
node reads of it, with its defaults applied once, as the values of :mod:`labelgraph.types`.

They live in the agents layer, beside the nodes that use them, because a node may not import
the graph; the schema itself stays with the graph, which compiles it (nodes name it in type
hints only).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from labelgraph.types import Decision, LabeledItem, Proposal, Steering

if TYPE_CHECKING:
    from labelgraph.graph.state import State

__all__ = ["batch_of", "decision_of", "idle_rounds_of", "proposals_of", "round_of",
           "steering_of"]


def round_of(state: State) -> int:
    """The current round (0 before the first decision)."""
    return int(state.get("round") or 0)


def decision_of(state: State) -> Decision | None:
    """The last decision, or None before the first."""
    raw = state.get("decision")
    return None if raw is None else Decision.model_validate(raw)


def proposals_of(state: State) -> dict[str, Proposal]:
    """Each agent's latest proposal, by agent name."""
    return {agent: Proposal.model_validate(p)
            for agent, p in (state.get("proposals") or {}).items()}


def batch_of(state: State) -> list[LabeledItem]:
    """A copy of the batch items, safe to update."""
    return [dict(item) for item in state.get("batch") or []]  # type: ignore[misc]


def idle_rounds_of(state: State) -> int:
    """Rounds in a row that added nothing to memory."""
    return int(state.get("idle_rounds") or 0)


def steering_of(state: State) -> Steering:
    """What a person said about the run (empty when nothing)."""
    return Steering.model_validate(state.get("steering") or {})
