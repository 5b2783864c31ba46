"""Going on after a stop: a person's change to a run, in words, and whether a stopped run
continues with it.

"Stopped is not final" (DESIGN §7): a person who gives a stopped run more budget, a forced
action or a changed stopping setting continues it from where it stopped; but only when they
changed something, and only when no stopping criterion would stop it again at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from labelgraph.agents.supervisor import compute_signals
from labelgraph.errors import InputError
from labelgraph.events import Continued, NotContinued
from labelgraph.stopping import GUARDRAIL_CRITERIA, how_to_go_on, votes
from labelgraph.types import Budget, Steering

if TYPE_CHECKING:
    from labelgraph.graph.context import Context
    from labelgraph.memory.examples import Example

__all__ = ["blockers", "correct", "go_on", "worded"]


def worded(change: Mapping[str, Any], config: Any, budget: Budget) -> str:
    """A change in words, old to new ("label budget 40 → 60, strategy margin → entropy"), for
    the decision that follows it and the ``Continued`` event."""
    parts = []
    for key, new in change.items():
        if key == "budget":
            old = budget.model_dump()
            parts += [f"{'label' if unit == 'labels' else unit} budget {old.get(unit)} → {value}"
                      for unit, value in dict(new).items() if old.get(unit) != value]
        elif hasattr(config, key):
            parts.append(f"{key.replace('_', ' ')} {getattr(config, key)} → {new}")
        else:
            parts.append(f"{key} {new}")
    return ", ".join(parts)


def blockers(ctx: Context, values: Mapping[str, Any],
             round_: int | None = None) -> list[tuple[str, str]]:
    """The stopping criteria that would stop the run at its next decision, as (name,
    reason), given the graph's state ``values``: what keeps a stopped run from going on. A
    forced action is held back only by the guardrails, as the supervisor does."""
    round_ = round_ if round_ is not None else \
        max(int(values.get("round") or 0), ctx.ledger.last_round())
    steering = Steering.model_validate(values.get("steering") or {})
    # idle rounds start again when a person gives a reason; the agents' proposals are
    # spent by the stop decision (they speak again after the next round)
    signals = compute_signals({**values, "round": round_, "idle_rounds": 0,  # type: ignore[typeddict-item]
                               "proposals": {}}, ctx)
    criteria = [(n, c) for n, c in ctx.criteria
                if not steering.force or n in GUARDRAIL_CRITERIA]
    return votes(criteria, signals, ctx.config)


def go_on(ctx: Context, values: dict[str, Any],
          last: int) -> tuple[dict[str, Any] | None, Continued | NotContinued]:
    """The input that continues a stopped run, or why it stays stopped.

    A stopped run goes on only when a person has changed it since it stopped (a
    ``steer``: more budget, a forced action, a stopping setting, or just "go on") and no
    stopping criterion would stop it again at once: the same criteria the supervisor
    asks, on the same signals, with the idle rounds counted from zero."""
    reason = str(values["stop_reason"])
    steering = Steering.model_validate(values.get("steering") or {})
    stopped = next((d for d in reversed(ctx.ledger.decisions())
                    if d["action"] == "stop"), {})
    if not (steering.news or steering.force):
        criteria = tuple(stopped.get("criteria") or ["human"])
        hints = "; or ".join(how_to_go_on(c) for c in criteria)
        return None, NotContinued(round=last, reason=reason, criteria=criteria,
                                  hint=f"nothing has changed since it stopped: {hints}")
    found = blockers(ctx, values, last)
    if found:
        return None, NotContinued(round=last, reason="; ".join(r for _, r in found),
                                  hint="; or ".join(how_to_go_on(n) for n, _ in found),
                                  criteria=tuple(n for n, _ in found))
    ctx.ledger.record_human(last, "continue", {"after": reason, "changes": steering.news})
    return ({"round": last, "stop_reason": None, "idle_rounds": 0},
            Continued(round=last, after=reason, changes=tuple(steering.news)))


def correct(ctx: Context, item_id: str, label: str | None) -> Example:
    """A person's correction of a label in memory (``label=None`` rejects it), recorded in
    the ledger with the label it replaces and where that came from."""
    if label is not None and label not in ctx.task.labels:
        raise InputError(f"unknown label {label!r}; choose one of {list(ctx.task.labels)}")
    found = ctx.memory.get([item_id])
    if not found:
        raise InputError(f"no labeled item {item_id!r} in memory")
    fixed = found[0].corrected(label)
    ctx.ledger.record_human(ctx.ledger.last_round(), "reject" if label is None
                            else "correct", {"item_id": item_id, "label": label,
                                             "previous": found[0].label,
                                             "previous_source": found[0].source})
    ctx.memory.upsert([fixed])
    return fixed
