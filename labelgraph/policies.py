"""Policies: the round's signals, the rule and LLM policies, and the guardrails.

"The policy proposes, the guardrails dispose": a policy turns :class:`RoundSignals` into a
:class:`~labelgraph.types.Decision`; :func:`guard` then stops the run when any stopping
criterion votes, and repairs anything invalid (an unknown strategy, a batch over budget,
synthesis without a generator).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Collection, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from labelgraph.capabilities import capability
from labelgraph.errors import BudgetExhausted, ProviderError
from labelgraph.prompts import supervisor_messages
from labelgraph.registry import registry
from labelgraph.stopping import (
    AGENT_PROPOSALS,
    StoppingCriterion,
    budget_spent,
    stop_grounds,
    votes,
)
from labelgraph.strategies import COLD_START, PLAYS_ARMS
from labelgraph.tools.agent import ToolLimits, run_tool_agent
from labelgraph.types import Budget, Decision, Proposal

if TYPE_CHECKING:
    from langchain_core.tools import BaseTool

    from labelgraph.config import RunConfig
    from labelgraph.llm import MeteredLLM

__all__ = ["HISTORY_FIELDS", "QUALITY_AGENTS", "LLMPolicy", "Policy", "RulePolicy", "RoundSignals",
           "choose_arm", "failed_synthesis", "guard", "proposing"]

#: The learner's per-round figures in :attr:`RoundSignals.history` (the stopping criteria and
#: the bandit read them).
HISTORY_FIELDS = ("round", "action", "strategy", "labels", "kappa", "stop_changed",
                  "stop_uncertainty", "cv_accuracy", "batch_gain", "batch", "abstained",
                  "rejected", "refused", "refusal")


@dataclass(frozen=True)
class RoundSignals:
    """What the supervisor knows at the start of a round."""

    round: int  #: the round about to be decided (1-based)
    labeled: int  #: accepted examples in memory
    label_counts: dict[str, int]  #: accepted examples per label, every label present
    spent: dict[str, float]  #: labels, tokens and usd spent so far
    budget: Budget  #: the run's limits
    unlabeled: int  #: pool items with no label bought yet
    has_model: bool  #: a student has been fitted (needs two labels seen)
    accuracy: float | None  #: the last round's held-out accuracy
    curve_slope: float | None  #: accuracy gained per round over the last two rounds
    rejection_rate: float | None  #: share of the last batch the verifier rejected
    synth_acceptance: float | None  #: share of the last synthetic batch accepted
    rounds_since_synth: int  #: rounds since the last synthesis round
    idle_rounds: int  #: rounds in a row that added no label to memory
    can_synthesize: bool  #: synthesis is on and an LLM can write
    kappas: list[float | None] = field(default_factory=list)  #: per-round stop-set kappa
    #: per-round learner figures: round, action, strategy, labels, kappa, stop_changed,
    #: stop_uncertainty, cv_accuracy, batch_gain (the stopping criteria and the bandit read
    #: them)
    history: list[dict[str, Any]] = field(default_factory=list)
    proposals: dict[str, Proposal] = field(default_factory=dict)  #: by agent name

    @property
    def labels_left(self) -> int | None:
        if self.budget.labels is None:
            return None
        return max(0, self.budget.labels - int(self.spent["labels"]))

    @property
    def rarest(self) -> str:
        return min(self.label_counts, key=lambda label: self.label_counts[label])

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "budget": self.budget.model_dump(),
                "labels_left": self.labels_left,
                "proposals": {k: v.model_dump() for k, v in self.proposals.items()}}


@runtime_checkable
class Policy(Protocol):
    """Chooses the next round's action from the signals.

    Optional capability (:mod:`labelgraph.capabilities`; the value assumed without it):
    ``uses_tools`` (False): when the run's chat model calls tools, the supervisor hands
    ``decide`` the supervisor's tools as ``tools=`` and it may inspect the run with them
    before deciding (:data:`~labelgraph.capabilities.USES_TOOLS`).
    """

    def decide(self, signals: RoundSignals, config: RunConfig) -> Decision:
        """The decision for this round; the guardrails may still override it."""
        ...


#: Agents whose proposal to query is a warning about label quality (rule 3 of RulePolicy).
QUALITY_AGENTS = ("verifier", "annotator", "generator")


def proposing(signals: RoundSignals, action: str) -> list[str]:
    """The agents that propose ``action``, in a fixed order (by name)."""
    return sorted(a for a, p in signals.proposals.items() if p.action == action)


def failed_synthesis(signals: RoundSignals, config: RunConfig) -> str | None:
    """Why synthesis is still ruled out after a failed synthetic batch (None: it is not):
    at least ``synth_rejected_share`` of the last one was rejected, under
    ``proposal_window`` rounds ago. The generator's and verifier's warnings last one round;
    this keeps a label the learner lacks from being asked of the generator every other
    round while its examples keep failing."""
    if not signals.can_synthesize or signals.synth_acceptance is None:
        return None
    rejected = 1.0 - signals.synth_acceptance
    if rejected < config.synth_rejected_share or \
            signals.rounds_since_synth >= config.proposal_window:
        return None
    return (f"the synthetic batch of round {signals.round - 1 - signals.rounds_since_synth} "
            f"was {rejected:.0%} rejected: no synthesis for {config.proposal_window} rounds "
            f"after it")


def _not_followed(signals: RoundSignals, decision: Decision, config: RunConfig) -> str:
    """Proposals a decision does not follow, and why, as a short tail of its reason."""
    out = []
    for agent in sorted(signals.proposals):
        p = signals.proposals[agent]
        if agent in decision.followed or p.action == decision.action:
            continue
        if decision.action == "stop":
            why = "the run stops"
        elif p.action == "stop":
            why = (f"{AGENT_PROPOSALS} is not among the run's stopping criteria"
                   if AGENT_PROPOSALS not in config.stopping
                   else f"only {budget_spent(signals):.0%} of the budget spent, < "
                        f"{config.flat_stop_share:.0%}" if agent == "learner"
                   else "one agent alone does not stop a run")
        elif p.action == "synthesize":
            why = ("a quality warning rules synthesis out" if proposing(signals, "query")
                   or failed_synthesis(signals, config)
                   else "synthesis cannot run" if not signals.can_synthesize
                   else "its target is not a label of the task")
        else:
            why = "outweighed"
        out.append(f"{agent}'s {p.action} ({why})")
    return f" [not followed: {'; '.join(out)}]" if out else ""


class RulePolicy:
    """The default policy: it weighs the agents' proposals by a fixed rule, then falls back
    to uncertainty sampling with periodic synthesis. In order (docs/agents.md):

    1. No student yet: label the diverse cold-start seed (no agent has evidence yet).
    2. **Stop** when two or more agents propose stop, or when the learner does (its curve
       is flat) and at least ``flat_stop_share`` of the tightest budget is spent. This rule
       is the ``agent_proposals`` stopping criterion (:func:`labelgraph.stopping.
       stop_grounds`, on by default), which :func:`guard` applies under every policy: so
       the run's ``stopping`` setting governs it and a person can lift it like any other.
    3. **Query** when the verifier, the annotator or the generator proposes query: a
       warning about label quality rules synthesis out this round; so does a failed
       synthetic batch for ``proposal_window`` rounds (:func:`failed_synthesis`).
    4. **Synthesize**, when the run can: for the label the learner names; on the selector's
       word that nothing informative is left (for the rarest label); for a label rare in
       memory; or every ``synthesize_every`` rounds.
    5. Otherwise **query** the pool by the run's strategy.

    A decision's ``followed`` names every agent whose proposal it takes (and its reason
    says which proposals it did not take, and why). With ``use_proposals=False`` the
    supervisor hands neither it nor the guardrails any proposals, so rules 2-4 fall to the
    signals alone. The guardrails (:func:`guard`) still win: budgets and stopping criteria
    stop the run, and an action that cannot run is replaced, with the reason saying so.

    ``because`` says why the rules decide when a person asked for ``policy="auto"`` (no
    model that answers with structured decisions); the run's first decision says it.
    """

    def __init__(self, because: str = "") -> None:
        self.because = because

    def decide(self, signals: RoundSignals, config: RunConfig) -> Decision:
        if not signals.has_model:
            why = f"; {self.because}" if self.because and signals.round <= 1 else ""
            return Decision(action="query", batch_size=config.seed_size, strategy=COLD_START,
                            reason="no student yet: label a diverse seed from embedding "
                                   f"clusters{why}")
        decision = self._weigh(signals, config)
        return decision.model_copy(update={
            "reason": decision.reason + _not_followed(signals, decision, config)})

    def _weigh(self, signals: RoundSignals, config: RunConfig) -> Decision:
        """Rules 3-5 of the class docstring (rule 2 is the guardrails')."""
        query = Decision(action="query", strategy=config.strategy,
                         reason=f"query the pool by {config.strategy} sampling")
        warned = [a for a in proposing(signals, "query") if a in QUALITY_AGENTS]
        failed = failed_synthesis(signals, config)
        if warned or failed:
            instead = ", not synthesize" if signals.can_synthesize else ""
            why = [f"{a}: {signals.proposals[a].reason}" for a in warned]
            return query.model_copy(update={
                "followed": warned,
                "reason": f"query the pool by {config.strategy} sampling{instead}: "
                          + "; ".join([*why, *([failed] if failed else [])])})
        counts = signals.label_counts
        if signals.can_synthesize and signals.labeled:
            synth = {"action": "synthesize", "batch_size": config.synth_batch}
            wanted = proposing(signals, "synthesize")
            learner = signals.proposals.get("learner")
            if learner is not None and learner.action == "synthesize" and \
                    learner.target_label in counts:
                return Decision(**synth, target_labels=[learner.target_label],
                                reason=f"synthesize for {learner.target_label!r}: "
                                       f"{learner.reason}", followed=wanted)
            if "selector" in wanted:
                return Decision(**synth, target_labels=[signals.rarest],
                                reason=f"synthesize for {signals.rarest!r}: "
                                       f"{signals.proposals['selector'].reason}",
                                followed=wanted)
            rare = signals.rarest
            if counts[rare] < 0.5 * signals.labeled / len(counts):
                return Decision(**synth, target_labels=[rare],
                                reason=f"label {rare!r} is rare ({counts[rare]} of "
                                       f"{signals.labeled}): synthesize examples of it",
                                followed=wanted)
            if config.synthesize_every and signals.rounds_since_synth >= config.synthesize_every:
                return Decision(**synth, target_labels=[rare],
                                reason=f"{signals.rounds_since_synth} rounds since the last "
                                       f"synthesis: add generated examples for {rare!r}",
                                followed=wanted)
        return query.model_copy(update={"followed": proposing(signals, "query")})


class LLMPolicy:
    """Asks a capable chat model for a structured Decision; the rule policy is its fallback
    when the output is malformed or the call does not fit the budget — and it says so.

    Given tools and a model that calls them, it runs as a bounded tool-calling agent that
    inspects the run before it decides (``uses_tools``); the decision's reason ends with the
    tools it called.
    """

    uses_tools = True

    def __init__(self, llm: MeteredLLM, fallback: Policy | None = None,
                 strategies: Sequence[str] = (), limits: ToolLimits | None = None) -> None:
        self.llm = llm
        self.fallback = fallback or RulePolicy()
        self.strategies = list(strategies)
        self.limits = limits

    def decide(self, signals: RoundSignals, config: RunConfig,
               tools: Sequence[BaseTool] = ()) -> Decision:
        from labelgraph.llm import calls_tools

        agentic = bool(tools) and calls_tools(self.llm.llm)
        messages = supervisor_messages(signals.as_dict(), self.strategies, config.batch_size,
                                       with_tools=agentic)
        called: list[str] = []
        try:
            if agentic:
                decision, why, called = run_tool_agent(
                    self.llm, "supervisor", signals.round, "decide", tools,
                    str(messages[0].content), str(messages[1].content), Decision, self.limits)
            else:
                decision, why = self.llm.structured("supervisor", Decision, messages,
                                                    signals.round)
        except BudgetExhausted as exc:
            decision, why = None, f"the call does not fit the budget ({exc})"
        except ProviderError as exc:
            decision, why = None, f"the provider failed ({exc})"
        if decision is not None and called:
            decision = decision.model_copy(update={
                "reason": f"{decision.reason} [looked at: {', '.join(called)}]"})
        if decision is None:
            fallback = self.fallback.decide(signals, config)
            return fallback.model_copy(update={
                "reason": f"{fallback.reason} (rule policy: the LLM policy abstained: {why})"})
        return decision


def arm_rewards(history: Sequence[dict[str, Any]], arms: Collection[str],
                baseline: int = 3, reward: str = "change") -> list[tuple[int, str, float]]:
    """(round, arm, reward) of every query round that used one of ``arms``.

    ``change``: how much the round's labels changed the student's predictions on the stop
    set, relative to the median change of the last ``baseline`` rounds (whatever their
    strategy): changes shrink as a run goes on, and a relative reward keeps early plays
    from looking better for being early. ``gain``: how much they improved the student on
    the next round's new labels (the learner's ``batch_gain``, measured on labels neither
    student was fitted on), less the median gain of the last ``baseline`` rounds, in units
    of the mean such deviation."""
    if reward not in {"change", "gain"}:
        raise ValueError(f"unknown bandit reward {reward!r}; choose 'change' or 'gain'")
    if reward == "gain":
        by_round = {m.get("round"): m.get("batch_gain") for m in history}
        gains = [(int(m["round"]), str(m["strategy"]), by_round.get(int(m["round"]) + 1))
                 for m in history if m.get("action") == "query" and m.get("strategy") in arms
                 and m.get("round") is not None]
        known = [(r, g) for r, g in sorted(by_round.items(), key=lambda x: x[0] or 0)
                 if g is not None and r is not None]
        out = []
        for r, arm, gain in gains:
            if gain is None:
                continue
            recent = sorted(g for q, g in known if r + 1 - baseline < q <= r + 1)
            out.append((r, arm, float(gain) - recent[len(recent) // 2]))
        # in units of the run's typical deviation, so that UCB's exploration weighs the
        # same whatever the scale of the gains (they shrink as the student improves)
        scale = sum(abs(v) for _, _, v in out) / len(out) if out else 0.0
        return [(r, arm, v / scale if scale > 0 else 0.0) for r, arm, v in out]
    changes = [(m.get("round"), m.get("stop_changed")) for m in history]
    out = []
    for n, m in enumerate(history):
        value = m.get("stop_changed")
        if m.get("action") != "query" or m.get("strategy") not in arms or value is None:
            continue
        recent = sorted(v for _, v in changes[max(0, n - baseline + 1):n + 1] if v is not None)
        median = recent[len(recent) // 2]
        out.append((int(m["round"]), str(m["strategy"]),
                    float(value) / median if median > 0 else 1.0))
    return out


def choose_arm(history: Sequence[dict[str, Any]], arms: Sequence[str], round_: int,
               discount: float = 0.8, explore: float = 0.5,
               reward: str = "change") -> tuple[str, str]:
    """The strategy to play this round, and why: each arm once, then discounted UCB over
    :func:`arm_rewards` (recent rounds weigh more: the best strategy early in a run need
    not be the best later)."""
    rewards = arm_rewards(history, arms, reward=reward)
    played = {m.get("strategy") for m in history if m.get("action") == "query"}
    fresh = [arm for arm in arms if arm not in played]
    if fresh:
        return fresh[0], f"bandit: trying {fresh[0]} (not yet measured)"
    weight: dict[str, float] = dict.fromkeys(arms, 0.0)
    total: dict[str, float] = dict.fromkeys(arms, 0.0)
    for r, arm, value in rewards:
        w = discount ** max(round_ - r, 0)
        weight[arm] += w
        total[arm] += w * value
    # an arm played but not measured yet (a gain is known a round later) waits for it
    measured = [arm for arm in arms if weight[arm] > 0] or list(arms)
    mean = {arm: total[arm] / weight[arm] if weight[arm] else 0.0 for arm in arms}
    n = sum(weight.values())
    score = {arm: mean[arm] + explore * math.sqrt(math.log(max(n, 1.0 + 1e-9))
                                                  / max(weight[arm], 1e-9))
             for arm in measured}
    best = max(measured, key=lambda arm: score[arm])
    last = next((m.get("strategy") for m in reversed(history) if m.get("action") == "query"
                 and m.get("strategy") in arms), None)
    others = ", ".join(f"{arm} {mean[arm]:+.2f}" if reward == "gain" else
                       f"{arm} {mean[arm]:.2f}" for arm in arms if arm != best)
    move = f"switched from {last}" if last and last != best else "kept"
    if reward == "gain":
        return best, (f"bandit: {move} {best}: its labels raised the student's log-probability "
                      f"of the next labels by {mean[best]:+.2f} typical deviations from the "
                      f"recent median (others: {others})")
    return best, (f"bandit: {move} {best}: its labels changed the student {mean[best]:.2f}× "
                  f"the recent average (others: {others})")


def _what(decision: Decision) -> str:
    """A decision's action in a few words ("query by margin", "synthesize for 'neg'"),
    noting a person's request."""
    what = {"query": f"query by {decision.strategy}" if decision.strategy else "query",
            "synthesize": "synthesize" + (f" for {', '.join(map(repr, decision.target_labels))}"
                                          if decision.target_labels else ""),
            "stop": "stop"}[decision.action]
    return f"{what} as the human asked" if "human" in decision.followed else what


def _changed(decision: Decision, signals: RoundSignals) -> tuple[str, str | None]:
    """The action the guardrails allow instead of the decision's, and why it changed (None:
    unchanged). ``stop`` here means nothing can run: the pool is used up and synthesis
    cannot run."""
    action = decision.action
    if action == "synthesize" and not (signals.can_synthesize and signals.has_model):
        why = "synthesis is off or no LLM can write" if not signals.can_synthesize \
            else "there is no student yet to aim synthesis at"
        if signals.unlabeled > 0:
            return "query", why
        if not signals.can_synthesize:
            return "stop", f"{why} and the pool is exhausted"
        return action, None  # the pool is used up: synthesis is all that is left
    if action == "query" and signals.unlabeled == 0:
        if signals.can_synthesize:
            return "synthesize", "the pool is exhausted"
        return "stop", "the pool is exhausted and synthesis cannot run"
    return action, None


def _plays_arms(name: str) -> bool:
    """Is the registered strategy ``name`` a stand-in for an arm chosen each round (the
    bandit)? Read from the strategy itself (:data:`~labelgraph.strategies.PLAYS_ARMS`)."""
    return bool(capability(registry.create("strategies", name), PLAYS_ARMS))


def guard(decision: Decision, signals: RoundSignals, config: RunConfig, labels: Sequence[str],
          criteria: Sequence[tuple[str, StoppingCriterion]],
          strategies: Collection[str]) -> Decision:
    """Stop when any stopping criterion votes; otherwise make the decision valid and
    affordable: a known strategy, a batch within the labels left, synthesis only when it
    can run, the cold start until a student exists. When a guardrail changes the action,
    the reason says what it changed and why, and ``followed`` keeps only the agents that
    proposed the new action: a reason always matches its action."""
    voted = votes(criteria, signals, config)
    if voted:
        agents = stop_grounds(signals, config) if any(n == AGENT_PROPOSALS for n, _ in voted) \
            else None
        followed = agents[0] if agents else \
            decision.followed if decision.action == "stop" else []
        return Decision(action="stop", batch_size=0, reason="; ".join(r for _, r in voted),
                        followed=followed, criteria=[n for n, _ in voted])
    action, why = _changed(decision, signals)
    followed = decision.followed if why is None else \
        [a for a in decision.followed if a in proposing(signals, action)]
    if action == "stop":
        reason = decision.reason or "the policy chose to stop"
        if why is not None:
            reason = f"guardrail: {why}, so stop instead of {_what(decision)}"
        return Decision(action="stop", batch_size=0, reason=reason, followed=followed,
                        criteria=["pool_exhausted" if why is not None else "policy"])
    cold = action == "query" and not signals.has_model
    size = decision.batch_size if why is None else None
    size = size or (config.seed_size if cold else config.batch_size
                    if action == "query" else config.synth_batch)
    if signals.labels_left is not None:
        size = min(size, signals.labels_left)
    strategy = decision.strategy if decision.strategy in strategies else config.strategy
    reason = decision.reason
    if cold:
        strategy = COLD_START
    elif strategy == COLD_START and signals.has_model:
        strategy = config.strategy
    targets = [t for t in decision.target_labels if t in labels] or [signals.rarest]
    if why is not None:
        now = Decision(action=action, strategy=strategy, target_labels=targets)
        reason = f"guardrail: {why}, so {_what(now)} instead of {_what(decision)}"
    if action == "query" and not cold and _plays_arms(strategy):
        arms = [arm for arm in config.bandit_arms if arm in strategies and not _plays_arms(arm)]
        if arms:
            strategy, why_arm = choose_arm(signals.history, arms, signals.round,
                                           reward=config.bandit_reward)
            reason = f"{reason}; {why_arm}"
    return decision.model_copy(update={
        "action": action, "batch_size": max(1, size), "reason": reason, "followed": followed,
        "strategy": strategy if action == "query" else None,
        "target_labels": targets if action == "synthesize" else []})


def __getattr__(name: str) -> Any:
    """``Signals``, the old name of :class:`RoundSignals`, still imports (with a
    DeprecationWarning): it is a documented public name."""
    if name == "Signals":
        warnings.warn("labelgraph.policies.Signals is renamed RoundSignals; "
                      "the old name will be removed",
                      DeprecationWarning, stacklevel=2)
        return RoundSignals
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
