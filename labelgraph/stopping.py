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
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from labelgraph.config import RunConfig
    from labelgraph.policies import Signals

__all__ = ["AGENT_PROPOSALS", "CONSENSUS", "CV_ACCURACY", "GUARDRAIL_CRITERIA", "AccuracyPlateau",
           "AgentProposals", "ClassificationChange", "Consensus", "CostAware", "IdlePatience",
           "LabelBudget", "MoneyBudget", "OverallUncertainty", "PoolExhausted", "RoundBudget",
           "StabilizingPredictions", "StoppingCriterion", "TokenBudget", "budget_spent",
           "expected_gain", "how_to_go_on", "needed", "stop_grounds", "votes"]

#: Criteria that are guardrails: they apply to every run whatever its config says.
GUARDRAIL_CRITERIA = ("label_budget", "token_budget", "usd_budget", "round_budget", "patience",
                      "pool_exhausted")


#: The criterion that stops a run on the agents' proposals (:class:`AgentProposals`).
AGENT_PROPOSALS = "agent_proposals"

#: What lets a run go on past each guardrail (``how_to_go_on`` words the optional ones).
_GO_ON = {
    "label_budget": "raise the label budget",
    "token_budget": "raise the token budget",
    "usd_budget": "raise the money budget",
    "round_budget": "raise the round budget",
    "patience": "change something and go on (idle rounds start again from zero)",
    "pool_exhausted": "turn synthesis on (it needs an LLM) or start a run on a larger pool",
    "human": "ask it to go on",
    "policy": "ask it to go on, or force the next action",
}


def how_to_go_on(name: str) -> str:
    """In words, what would let a run stopped by criterion ``name`` go on."""
    return _GO_ON.get(name, f"lift the stopping criterion {name!r} (the run's stopping "
                            "setting), or force the next round")


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
        return f"no new labels in {n} rounds{idle_why(signals.history[-n:])}" \
            if n >= config.patience else None


def idle_why(rows: Sequence[dict[str, Any]]) -> str:
    """Why rounds added nothing, from their rows of the curve: how many items were asked,
    how many got no label (the annotator abstained, a person skipped, or the budget refused
    the call, with what one needs and what is left) and how many the verifier rejected —
    so a model that cannot answer, or a budget too small for one call, is not a silent stop."""
    asked = sum(int(r.get("batch") or 0) for r in rows)
    if not rows or any("abstained" not in r for r in rows):
        return ""  # rows from before the curve recorded abstentions
    if not asked:
        return ": no items to label (nothing selected or synthesized)"
    none = sum(int(r.get("abstained") or 0) for r in rows)
    refused = min(none, sum(int(r.get("refused") or 0) for r in rows))
    rejected = sum(int(r.get("rejected") or 0) for r in rows) - none  # "no label" is one
    other = none - refused
    parts = [f"{other} got no label (the annotator abstained or a person skipped; the "
             "ledger's anomalies and the run's ModelCannot events say why)" if other else "",
             f"the verifier rejected {rejected}" if rejected else "",
             _refused_words(refused, asked, rows) if refused else ""]
    said = ", ".join(p for p in parts if p) or "none was added to memory"
    return f": of {asked} items asked, {said}"


def _refused_words(refused: int, asked: int, rows: Sequence[dict[str, Any]]) -> str:
    """The budget's refusals in words: which budget, of how many calls, what the cheapest
    refused call needed and what was left (the latest row that recorded it)."""
    refusal = next((r["refusal"] for r in reversed(rows) if isinstance(r.get("refusal"),
                                                                       dict)), None) or {}
    unit = refusal.get("unit")
    budget = {"usd": "the money budget", "tokens": "the token budget",
              "labels": "the label budget"}.get(str(unit), "the budget")
    calls = "every call" if refused >= asked else f"the calls of {refused}"
    if unit == "usd":
        need = f"${float(refusal['need']):.6f}".rstrip("0").rstrip(".")
        left = f"${float(refusal['left']):.6f}".rstrip("0").rstrip(".")
        return (f"{budget} refused {calls}: one needs about {need}, {left} is left (raise "
                "the money budget)")
    if unit in {"tokens", "labels"}:
        need_n, left_n = int(refusal["need"]), int(refusal["left"])
        return (f"{budget} refused {calls}: one needs about {need_n} "
                f"{unit if need_n != 1 else unit[:-1]}, {left_n} left (raise the "
                f"{budget.split()[1]} budget)")
    return f"{budget} refused {calls}"


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


def _recent(signals: Signals, key: str, window: int) -> list[float] | None:
    """The last ``window`` rounds' values of a learner metric, or None while any is missing
    (too early, or the metric is not measured)."""
    values = [m.get(key) for m in signals.history[-window:]]
    if len(values) < window or any(v is None for v in values):
        return None
    return [float(v) for v in values]  # type: ignore[arg-type]


@dataclass
class OverallUncertainty:
    """The student is sure of the pool: the mean uncertainty (1 - its top probability) on
    the stop set stayed under ``config.uncertainty_threshold`` for ``config.stop_window``
    rounds (Zhu et al. 2008's overall uncertainty)."""

    def stop(self, signals: Signals, config: RunConfig) -> str | None:
        recent = _recent(signals, "stop_uncertainty", config.stop_window)
        if signals.round <= config.min_rounds or recent is None or \
                max(recent) >= config.uncertainty_threshold:
            return None
        return (f"the student is sure of the pool: mean uncertainty {recent[-1]:.3f} < "
                f"{config.uncertainty_threshold} for {config.stop_window} rounds")


@dataclass
class ClassificationChange:
    """New labels no longer change the student's mind: at most ``config.change_threshold``
    of the stop set's predicted labels changed in each of the last ``config.stop_window``
    rounds (Zhu et al. 2008's classification change)."""

    def stop(self, signals: Signals, config: RunConfig) -> str | None:
        recent = _recent(signals, "stop_changed", config.stop_window)
        if signals.round <= config.min_rounds or recent is None or \
                max(recent) > config.change_threshold:
            return None
        return (f"new labels change few predictions: at most {max(recent):.1%} of the stop set "
                f"for {config.stop_window} rounds")


def expected_gain(signals: Signals, window: int) -> float | None:
    """Accuracy gained per label lately, from cross-validation on the labeled set (never the
    test split): the least-squares slope of the last ``window + 1`` rounds' cross-validated
    accuracy against labels. None until those rounds are measured."""
    rows = [(m.get("labels"), m.get("cv_accuracy")) for m in signals.history[-(window + 1):]]
    if len(rows) < window + 1 or any(n is None or a is None for n, a in rows):
        return None
    n = [float(r[0]) for r in rows]  # type: ignore[arg-type]
    acc = [float(r[1]) for r in rows]  # type: ignore[arg-type]
    mean_n, mean_a = sum(n) / len(n), sum(acc) / len(acc)
    spread = sum((x - mean_n) ** 2 for x in n)
    if spread == 0:
        return 0.0
    return sum((x - mean_n) * (y - mean_a) for x, y in zip(n, acc, strict=True)) / spread


#: What a criterion reads that the learner computes only on request (``needs``).
CV_ACCURACY = "cv_accuracy"


@dataclass
class AccuracyPlateau:
    """Accuracy has stopped rising: the slope of cross-validated accuracy on the labeled set
    over the last ``config.plateau_window`` rounds is under ``config.plateau_delta`` per
    batch (a learning-curve plateau, measured without the test split; a short window is
    fooled by the noise of cross-validation on few labels)."""

    needs = frozenset({CV_ACCURACY})

    def stop(self, signals: Signals, config: RunConfig) -> str | None:
        gain = expected_gain(signals, config.plateau_window)
        if signals.round <= config.min_rounds or gain is None or \
                gain * config.batch_size >= config.plateau_delta:
            return None
        return (f"accuracy has reached a plateau: cross-validated accuracy gains "
                f"{gain * config.batch_size:+.4f} per batch of {config.batch_size} "
                f"(< {config.plateau_delta})")


@dataclass
class CostAware:
    """The next labels are not worth their price: the expected accuracy gain per dollar
    (the cross-validated learning curve's slope over the money a label costs so far) fell
    under ``config.min_gain_per_usd``. Labels that cost nothing never trigger it."""

    needs = frozenset({CV_ACCURACY})

    def stop(self, signals: Signals, config: RunConfig) -> str | None:
        gain = expected_gain(signals, config.plateau_window)
        labels = signals.spent["labels"]
        per_label = signals.spent["usd"] / labels if labels else 0.0
        if signals.round <= config.min_rounds or gain is None or per_label <= 0:
            return None
        per_usd = max(gain, 0.0) / per_label
        if per_usd >= config.min_gain_per_usd:
            return None
        return (f"labels cost more than they bring: {per_usd:.4f} accuracy per USD "
                f"(< {config.min_gain_per_usd}) at ${per_label:.4f} a label")


def budget_spent(signals: Signals) -> float:
    """The share of the tightest budget spent so far: labels, tokens, dollars or rounds
    (0.0 for a run whose only limits are unset)."""
    b, spent = signals.budget, signals.spent
    shares = [spent["labels"] / b.labels if b.labels else None,
              spent["tokens"] / b.tokens if b.tokens else None,
              spent["usd"] / b.usd if b.usd else None,
              (signals.round - 1) / b.rounds if b.rounds else None]
    return max([s for s in shares if s is not None], default=0.0)


def stop_grounds(signals: Signals, config: RunConfig) -> tuple[list[str], str] | None:
    """(agents, why) when the agents' proposals stop the run: two or more agents propose
    stop, or the learner alone does (its curve is flat) and at least
    ``config.flat_stop_share`` of the tightest budget is spent; None otherwise."""
    stop = sorted(a for a, p in signals.proposals.items() if p.action == "stop")
    if len(stop) >= 2:
        return stop, "agents agree to stop: " + "; ".join(
            f"{a}: {signals.proposals[a].reason}" for a in stop)
    spent = budget_spent(signals)
    if stop == ["learner"] and spent >= config.flat_stop_share:
        return stop, (f"learner: {signals.proposals['learner'].reason}, with {spent:.0%} of "
                      f"the budget spent (≥ {config.flat_stop_share:.0%})")
    return None


@dataclass
class AgentProposals:
    """The agents propose to stop (docs/agents.md): two or more of them, or the learner alone
    — its curve is flat — once ``config.flat_stop_share`` of the tightest budget is spent.
    A stopping criterion, so the run's ``stopping`` setting governs it like any other (a
    person lifts it with ``/stopping off agent_proposals``), under every policy; with
    ``use_proposals=False`` the supervisor hands it no proposals and it never votes."""

    def stop(self, signals: Signals, config: RunConfig) -> str | None:
        grounds = stop_grounds(signals, config)
        return None if grounds is None else grounds[1]


@dataclass
class Consensus:
    """Criteria that agree: at least ``config.consensus_min`` of ``config.consensus_of`` vote
    to stop in the same round, each read with ``config.consensus_settings`` over the run's
    settings. One signal alone is noisy (a kappa or a share of changed predictions can
    settle for a few rounds and move again); two that measure different things rarely agree
    by chance, so each can be set looser and the pair still stops late enough
    (benchmarks/stopping_defaults.py --pairs chose the default pair on five seeds of three
    data sets and checked it on five others)."""

    def stop(self, signals: Signals, config: RunConfig) -> str | None:
        from labelgraph.registry import registry

        member = config.model_copy(update=dict(config.consensus_settings))
        said = [(name, registry.create("stopping", name).stop(signals, member))
                for name in config.consensus_of]
        agree = [(name, why) for name, why in said if why]
        if len(agree) < config.consensus_min:
            return None
        return f"{len(agree)} criteria agree: " + "; ".join(
            f"{name}: {why}" for name, why in agree)


#: The criterion that stops when several others agree (:class:`Consensus`).
CONSENSUS = "consensus"


def needed(names: Sequence[str], config: RunConfig | None = None) -> set[str]:
    """What the named criteria read beyond the learner's every-round figures (with
    ``config``, those of the criteria a :class:`Consensus` asks too)."""
    from labelgraph.registry import registry

    names = list(names)
    if config is not None and CONSENSUS in names:
        names += list(config.consensus_of)
    return {need for name in names for need in getattr(registry.get("stopping", name),
                                                          "needs", ())}


def votes(criteria: Sequence[tuple[str, StoppingCriterion]], signals: Signals,
          config: RunConfig) -> list[tuple[str, str]]:
    """(name, reason) of every criterion that votes to stop now."""
    out = []
    for name, criterion in criteria:
        reason = criterion.stop(signals, config)
        if reason:
            out.append((name, reason))
    return out
