"""Stopping criteria: every rule that can end a run, as a small object with one ``stop``.

A criterion reads the round's :class:`~labelgraph.policies.Signals` and the run's config and
returns a reason to stop, or ``None``. The supervisor's guardrails ask every criterion of
the run each round; a stop decision names all that voted. The guardrail criteria (the four
budgets, idle-round patience, an exhausted pool) always apply: they are what bounds a run.
The others are chosen by ``RunConfig.stopping`` (names in the registry, so plug-ins add
their own through the ``labelgraph.stopping`` entry-point group).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from labelgraph.config import RunConfig
    from labelgraph.policies import Signals

__all__ = ["GUARDRAIL_CRITERIA", "IdlePatience", "LabelBudget", "MoneyBudget", "PoolExhausted",
           "RoundBudget", "StabilizingPredictions", "StoppingCriterion", "TokenBudget", "votes"]

#: Criteria that are guardrails: they apply to every run whatever its config says.
GUARDRAIL_CRITERIA = ("label_budget", "token_budget", "usd_budget", "round_budget", "patience",
                      "pool_exhausted")


@runtime_checkable
class StoppingCriterion(Protocol):
    """One rule for ending the run."""

    def stop(self, signals: Signals, config: RunConfig) -> str | None:
        """A reason to stop now, or None."""
        ...


class LabelBudget:
    """Every label of the budget is bought."""

    def stop(self, signals: Signals, config: RunConfig) -> str | None:
        limit = signals.budget.labels
        return "budget exhausted: labels" if limit is not None and \
            signals.spent["labels"] >= limit else None


class TokenBudget:
    """Every LLM token of the budget is spent."""

    def stop(self, signals: Signals, config: RunConfig) -> str | None:
        limit = signals.budget.tokens
        return "budget exhausted: tokens" if limit is not None and \
            signals.spent["tokens"] >= limit else None


class MoneyBudget:
    """Every dollar of the budget is spent. A zero-dollar budget still allows free (local)
    work: it forbids paid calls, which the meter refuses one by one."""

    def stop(self, signals: Signals, config: RunConfig) -> str | None:
        limit = signals.budget.usd
        return "budget exhausted: usd" if limit is not None and limit > 0 and \
            signals.spent["usd"] >= limit - 1e-12 else None


class RoundBudget:
    """The run has had all the rounds its budget allows."""

    def stop(self, signals: Signals, config: RunConfig) -> str | None:
        limit = signals.budget.rounds
        return "budget exhausted: rounds" if limit is not None and \
            signals.round > limit else None


class IdlePatience:
    """Too many rounds in a row added no label to memory."""

    def stop(self, signals: Signals, config: RunConfig) -> str | None:
        n = signals.idle_rounds
        return f"no new labels in {n} rounds" if n >= config.patience else None


class PoolExhausted:
    """Nothing is left to label in the pool and nothing may be synthesized."""

    def stop(self, signals: Signals, config: RunConfig) -> str | None:
        if signals.unlabeled == 0 and not signals.can_synthesize:
            return "the pool is exhausted and synthesis is off"
        return None


@dataclass
class StabilizingPredictions:
    """Successive students agree: Cohen's kappa between their predictions on a fixed stop set
    stayed at least ``config.kappa_threshold`` for ``config.kappa_window`` rounds
    (Bloodgood & Vijay-Shanker 2009), after ``config.min_rounds`` rounds."""

    def stop(self, signals: Signals, config: RunConfig) -> str | None:
        recent = signals.kappas[-config.kappa_window:]
        if signals.round <= config.min_rounds or len(recent) < config.kappa_window or \
                any(k is None or k < config.kappa_threshold for k in recent):
            return None
        return (f"predictions have stabilized: kappa ≥ {config.kappa_threshold} for "
                f"{config.kappa_window} rounds")


def votes(criteria: Sequence[tuple[str, StoppingCriterion]], signals: Signals,
          config: RunConfig) -> list[tuple[str, str]]:
    """(name, reason) of every criterion that votes to stop now."""
    out = []
    for name, criterion in criteria:
        reason = criterion.stop(signals, config)
        if reason:
            out.append((name, reason))
    return out
