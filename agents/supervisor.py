"""The supervisor node: gathers the round's signals, asks the policy, applies the guardrails.

The policy and the guardrails are pure pieces (``labelgraph.policies``); this node only
reads the state and the run, and records the decision in the ledger and the stream. The
agents' proposals of the last round reach the policy in the signals (not with
``use_proposals=False``; they are recorded with the decision either way, for ``/why``).
What a person said (the state's ``steering``) comes first: a forced action is the decision
(within the budget), and the first decision after a change says it followed the human.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from langgraph.runtime import Runtime

from labelgraph.agents.accessors import idle_rounds_of, proposals_of, round_of, steering_of
from labelgraph.capabilities import USES_TOOLS, capability
from labelgraph.events import Decided
from labelgraph.llm import calls_tools
from labelgraph.policies import HISTORY_FIELDS, RoundSignals, guard
from labelgraph.registry import registry
from labelgraph.stopping import GUARDRAIL_CRITERIA, votes
from labelgraph.tools.builtin import builtin_tools
from labelgraph.types import Decision, Steering

if TYPE_CHECKING:
    from labelgraph.graph.context import Context
    from labelgraph.graph.state import State


def compute_signals(state: State, ctx: Context,
                    metrics: list[dict[str, Any]] | None = None) -> RoundSignals:
    """What the supervisor knows at the start of a round, from the state and the run
    (``metrics``: every finished round's, by default read from the ledger)."""
    metrics = ctx.ledger.metrics() if metrics is None else metrics
    counts = ctx.memory.label_counts()
    accs = [m["accuracy"] for m in metrics if m.get("accuracy") is not None]
    last = metrics[-1] if metrics else {}
    synth = [m for m in metrics if m.get("action") == "synthesize"]
    ctx.meter.refresh()
    return RoundSignals(
        round=round_of(state) + 1,
        labeled=sum(counts.values()),
        label_counts={label: int(counts.get(label, 0)) for label in ctx.task.labels},
        spent=ctx.meter.snapshot(),
        budget=ctx.meter.budget,
        unlabeled=int((~ctx.labeled_mask()).sum()),
        has_model=ctx.store.model() is not None,
        accuracy=accs[-1] if accs else None,
        curve_slope=(accs[-1] - accs[-3]) / 2 if len(accs) >= 3 else None,
        rejection_rate=(last["rejected"] / last["batch"]) if last.get("batch") else None,
        synth_acceptance=(synth[-1]["accepted"] / synth[-1]["batch"])
        if synth and synth[-1].get("batch") else None,
        rounds_since_synth=(metrics[-1]["round"] - synth[-1]["round"]) if synth
        else len(metrics),
        idle_rounds=idle_rounds_of(state),
        can_synthesize=ctx.can_synthesize,
        kappas=[m.get("kappa") for m in metrics],
        history=[{k: m.get(k) for k in HISTORY_FIELDS} for m in metrics],
        proposals=proposals_of(state),
    )


def forced(force: dict[str, Any]) -> Decision:
    """The decision a person forced: query n by a strategy, synthesize n for a label, stop."""
    action = force["action"]
    what = {"query": f"query {force.get('n') or 'a batch'}" + (
                f" by {force['strategy']}" if force.get("strategy") else ""),
            "synthesize": f"synthesize {force.get('n') or 'a batch'}" + (
                f" for {force['label']!r}" if force.get("label") else ""),
            "stop": "stop"}[action]
    return Decision(action=action, batch_size=force.get("n"), strategy=force.get("strategy"),
                    target_labels=[force["label"]] if force.get("label") else [],
                    reason=f"the human asked: {what}", followed=["human"],
                    criteria=["human"] if action == "stop" else [])


def decide(ctx: Context, signals: RoundSignals, steering: Steering,
           metrics: Sequence[dict[str, Any]] = ()) -> Decision:
    """The policy's decision (or the person's), made valid and affordable by the guardrails
    (``metrics``, every finished round's, for the tools a tool-calling policy may call).
    With ``use_proposals`` off, the policy and the guardrails see no proposals."""
    if not ctx.config.use_proposals:
        signals = replace(signals, proposals={})
    if steering.force:
        proposed = forced(steering.force)
        if proposed.action == "stop":
            return proposed
        # a person's request overrides the optional stopping criteria, never the budget
        criteria = tuple((n, c) for n, c in ctx.criteria if n in GUARDRAIL_CRITERIA)
        return guard(proposed, signals, ctx.config, ctx.task.labels, criteria,
                     registry.names("strategies"))
    if capability(ctx.policy, USES_TOOLS) and ctx.llm is not None and \
            calls_tools(ctx.llm.llm):  # it may inspect the run with tools before deciding
        tools = [*builtin_tools(ctx, "supervisor", metrics),
                 *ctx.tools.for_agent("supervisor")]
        proposed = ctx.policy.decide(signals, ctx.config, tools=tools)
    else:
        proposed = ctx.policy.decide(signals, ctx.config)
    decision = guard(proposed, signals, ctx.config, ctx.task.labels, ctx.criteria,
                     registry.names("strategies"))
    if steering.news and decision.action != "stop":
        decision = decision.model_copy(update={
            "followed": [*decision.followed, "human"],
            "reason": f"{decision.reason} (following the human: {'; '.join(steering.news)})"})
    return decision


def supervisor_node(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """Decide the next round's action and record the decision and its reason."""
    ctx = runtime.context
    metrics = ctx.ledger.metrics()  # every finished round's (the state keeps the latest)
    signals = compute_signals(state, ctx, metrics)
    steering = steering_of(state)
    decision = decide(ctx, signals, steering, metrics)
    watched = [(name, registry.create("stopping", name)) for name in ctx.config.stopping_watch]
    would_stop = dict(votes(watched, signals, ctx.config))  # recorded, not acted on
    seen = signals.as_dict()  # what the decision was made from, for "why?" later
    seen["kappas"] = seen["kappas"][-5:]
    seen["history"] = seen["history"][-5:]
    ctx.ledger.record_decision(signals.round, {**decision.model_dump(), "signals": seen,
                                               "would_stop": would_stop,
                                               "use_proposals": ctx.config.use_proposals})
    runtime.stream_writer(Decided(
        round=signals.round, action=decision.action, reason=decision.reason,
        batch_size=decision.batch_size, strategy=decision.strategy,
        target_labels=tuple(decision.target_labels), followed=tuple(decision.followed),
        criteria=tuple(decision.criteria)))
    update: dict[str, Any] = {"decision": decision.model_dump(), "proposals": None,
                              "steering": steering.model_copy(
                                  update={"force": None, "news": []}).model_dump(),
                              "spend": ctx.meter.snapshot(),
                              "log": [f"round {signals.round}: {decision.action} — "
                                      f"{decision.reason}"]}
    if decision.action == "stop":
        update["stop_reason"] = decision.reason
    else:
        update["round"] = signals.round
    return update
