"""The supervisor: reads the round's signals and the agents' proposals, returns a Decision.

The rule policy is the default and the fallback; the LLM policy asks a capable chat model
for a structured :class:`~labelgraph.types.Decision`. Guardrails always have the last
word: an exhausted budget stops, an invalid decision is repaired or falls back.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from langchain_core.messages import HumanMessage, SystemMessage
from langgraph.runtime import Runtime

from labelgraph.agents.selector import STRATEGIES
from labelgraph.llm import MeteredLLM
from labelgraph.types import Decision

if TYPE_CHECKING:
    from labelgraph.graph.context import Context, RunConfig
    from labelgraph.graph.state import State


@dataclass
class Signals:
    """What the supervisor knows at the start of a round."""

    round: int
    labeled: int
    label_counts: dict[str, int]
    labels_left: int | None
    exhausted: str | None
    unlabeled: int
    has_model: bool
    accuracy: float | None
    curve_slope: float | None
    rejection_rate: float | None
    synth_acceptance: float | None
    rounds_since_synth: int
    idle_rounds: int
    can_synthesize: bool
    max_rounds_reached: bool
    proposals: dict[str, Any] = field(default_factory=dict)


def compute_signals(state: State, ctx: Context) -> Signals:
    metrics = state.get("metrics") or []
    counts = ctx.memory.label_counts()
    unlabeled = int((~ctx.labeled_mask()).sum())
    accs = [m["accuracy"] for m in metrics if m.get("accuracy") is not None]
    slope = None
    if len(accs) >= 3:
        slope = (accs[-1] - accs[-3]) / 2
    last = metrics[-1] if metrics else {}
    synth = [m for m in metrics if m.get("action") == "synthesize"]
    synth_acc = None
    if synth and synth[-1].get("batch", 0):
        synth_acc = synth[-1]["accepted"] / synth[-1]["batch"]
    rounds_since = (metrics[-1]["round"] - synth[-1]["round"]) if synth else len(metrics)
    round_ = int(state.get("round", 0))
    ctx.meter.refresh()
    return Signals(
        round=round_ + 1,
        labeled=sum(counts.values()),
        label_counts={label: int(counts.get(label, 0)) for label in ctx.task.labels},
        labels_left=ctx.meter.remaining_labels(),
        exhausted=ctx.meter.exhausted(),
        unlabeled=unlabeled,
        has_model=ctx.model() is not None,
        accuracy=accs[-1] if accs else None,
        curve_slope=slope,
        rejection_rate=(last["rejected"] / last["batch"]) if last.get("batch") else None,
        synth_acceptance=synth_acc,
        rounds_since_synth=rounds_since,
        idle_rounds=int(state.get("idle_rounds", 0)),
        can_synthesize=ctx.config.synthesize and ctx.llm is not None,
        max_rounds_reached=(ctx.meter.budget.rounds is not None
                            and round_ >= ctx.meter.budget.rounds),
        proposals=dict(state.get("proposals") or {}),
    )


def _rarest(signals: Signals) -> list[str]:
    return [min(signals.label_counts, key=lambda label: signals.label_counts[label])]


class RulePolicy:
    """The default policy: cold start, then uncertainty sampling, with synthesis for rare
    classes or every few rounds, and a stop when the learner's stopping criterion votes."""

    name = "rule"

    def decide(self, signals: Signals, config: RunConfig) -> Decision:
        p = signals.proposals
        if not signals.has_model:
            return Decision(action="query", batch_size=config.seed_size, strategy="cold_start",
                            reason="no student yet: label a diverse seed from embedding clusters")
        if "learner" in p and p["learner"]["action"] == "stop" and \
                signals.round > config.min_rounds:
            return Decision(action="stop", reason=p["learner"]["reason"], followed=["learner"])
        counts = signals.label_counts
        gen_ok = signals.can_synthesize and not (
            "generator" in p and p["generator"]["action"] == "query")
        if gen_ok and signals.labeled:
            rare = _rarest(signals)
            if counts[rare[0]] < 0.5 * signals.labeled / len(counts):
                return Decision(action="synthesize", batch_size=config.synth_batch,
                                target_labels=rare,
                                reason=f"label {rare[0]!r} is rare ({counts[rare[0]]} of "
                                       f"{signals.labeled}): synthesize examples of it")
            if "selector" in p and p["selector"]["action"] == "synthesize":
                return Decision(action="synthesize", batch_size=config.synth_batch,
                                target_labels=rare, reason=p["selector"]["reason"],
                                followed=["selector"])
            if config.synthesize_every and signals.rounds_since_synth >= config.synthesize_every:
                return Decision(action="synthesize", batch_size=config.synth_batch,
                                target_labels=rare,
                                reason=f"{signals.rounds_since_synth} rounds since the last "
                                       "synthesis: add generated examples for "
                                       f"{rare[0]!r}")
        followed = ["generator"] if "generator" in p and p["generator"]["action"] == "query" \
            else []
        return Decision(action="query", batch_size=config.batch_size, strategy=config.strategy,
                        reason=f"query the pool by {config.strategy} sampling", followed=followed)


class LLMPolicy:
    """Asks a capable chat model for a structured Decision; falls back to the rule policy."""

    name = "llm"

    def __init__(self, llm: MeteredLLM, fallback: RulePolicy | None = None) -> None:
        self.llm = llm
        self.fallback = fallback or RulePolicy()

    def decide(self, signals: Signals, config: RunConfig) -> Decision:
        system = SystemMessage(content=(
            "You supervise an active-learning loop. Each round choose one action: 'query' "
            "(label pool items chosen by a strategy), 'synthesize' (generate new examples for "
            "target labels), or 'stop'. Prefer query while the learning curve rises; "
            "synthesize for rare labels; stop when the curve is flat or labels run out. "
            f"Strategies: {sorted(STRATEGIES)}. Answer with the Decision tool."))
        human = HumanMessage(content="Signals of this round (JSON):\n" + json.dumps(
            asdict(signals), default=str) + f"\nDefault batch size: {config.batch_size}.")
        decision, reason = self.llm.structured("supervisor", Decision, [system, human],
                                               signals.round)
        if decision is None:
            fallback = self.fallback.decide(signals, config)
            return fallback.model_copy(update={
                "reason": f"{fallback.reason} (LLM policy abstained: {reason})"})
        return decision


def guard(decision: Decision, signals: Signals, config: RunConfig,
          labels: tuple[str, ...]) -> Decision:
    """Repair or override a decision so that it is valid and within budget."""
    def stop(reason: str) -> Decision:
        return Decision(action="stop", batch_size=0, reason=reason,
                        followed=decision.followed)

    if signals.exhausted:
        return stop(f"budget exhausted: {signals.exhausted}")
    if signals.max_rounds_reached:
        return stop("budget exhausted: rounds")
    if signals.idle_rounds >= config.patience:
        return stop(f"no new labels in {signals.idle_rounds} rounds")
    action = decision.action
    if action == "synthesize" and (not signals.can_synthesize or not signals.has_model):
        action = "query"
    if action == "query" and signals.unlabeled == 0:
        if not signals.can_synthesize:
            return stop("the pool is exhausted and synthesis is off")
        action = "synthesize"
    if action == "stop":
        return stop(decision.reason or "the policy chose to stop")
    size = decision.batch_size or (config.batch_size if action == "query" else config.synth_batch)
    if signals.labels_left is not None:
        size = min(size, signals.labels_left)
    size = max(1, size)
    strategy = decision.strategy if decision.strategy in STRATEGIES else config.strategy
    if action == "query" and not signals.has_model:
        strategy = "cold_start"
    elif strategy == "cold_start" and signals.has_model:
        strategy = config.strategy
    targets = [t for t in decision.target_labels if t in labels] or _rarest(signals)
    return decision.model_copy(update={
        "action": action, "batch_size": size, "strategy": strategy,
        "target_labels": targets if action == "synthesize" else []})


def supervisor_node(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """Decide the next round's action and record the decision and its reason."""
    ctx = runtime.context
    signals = compute_signals(state, ctx)
    decision = guard(ctx.policy.decide(signals, ctx.config), signals, ctx.config,
                     ctx.task.labels)
    ctx.ledger.record_decision(signals.round, decision.model_dump())
    ctx.emit("decision", round=signals.round, **decision.model_dump())
    update: dict[str, Any] = {"decision": decision.model_dump(), "proposals": None,
                              "spend": ctx.meter.snapshot(),
                              "log": [f"round {signals.round}: {decision.action} — "
                                      f"{decision.reason}"]}
    if decision.action == "stop":
        update["stop_reason"] = decision.reason
    else:
        update["round"] = signals.round
    return update
