"""Policies and guardrails (labelgraph.policies): the rule policy's decisions and how it
weighs the agents' proposals by its documented rule (docs/agents.md), the LLM policy and its
fallbacks, the strategy bandit; the guardrails always win, and a reason matches its
action."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from conftest import make_pool, sentiment_of
from labelgraph import Budget, LabelGraph, Task
from labelgraph.capabilities import capability
from labelgraph.config import RunConfig
from labelgraph.policies import RoundSignals, RulePolicy, arm_rewards, choose_arm, guard
from labelgraph.registry import Entry, registry
from labelgraph.stopping import GUARDRAIL_CRITERIA
from labelgraph.strategies import PLAYS_ARMS, Margin
from labelgraph.types import Decision, Proposal
from support.builders import (
    history_round,
    history_signals,
    proposal,
    proposal_signals,
    typical_signals,
)
from support.fakes import ScriptedChatModel, last_text

TASK = Task(labels=["positive", "negative"], description="movie review sentiment")


GUARDRAILS = tuple((name, registry.create("stopping", name)) for name in GUARDRAIL_CRITERIA)


# -- the rule policy and the guardrails ----------------------------------------------------
CRITERIA = tuple((name, registry.create("stopping", name))
                 for name in (*GUARDRAIL_CRITERIA, "stabilizing_predictions"))
STRATEGIES = registry.names("strategies")
LABELS = ("positive", "negative")


def _guard(decision, signals, config=RunConfig()):  # noqa: ANN001, ANN202, B008
    return guard(decision, signals, config, LABELS, CRITERIA, STRATEGIES)


def test_rule_policy_decisions():
    policy, config = RulePolicy(), RunConfig()
    assert policy.decide(typical_signals(has_model=False), config).strategy == "cold_start"
    rare = policy.decide(typical_signals(label_counts={"positive": 36, "negative": 4}), config)
    assert rare.action == "synthesize" and rare.target_labels == ["negative"]
    assert policy.decide(typical_signals(), config).action == "query"
    gen = {"generator": Proposal(agent="generator", action="query", reason="rejected")}
    decision = policy.decide(typical_signals(rounds_since_synth=9, proposals=gen), config)
    assert decision.action == "query" and decision.followed == ["generator"]
    sel = {"selector": Proposal(agent="selector", action="synthesize", reason="all certain")}
    decision = policy.decide(typical_signals(proposals=sel), config)
    assert decision.action == "synthesize" and decision.followed == ["selector"]


def test_guardrails_win():
    config = RunConfig()
    synth = RulePolicy().decide(typical_signals(rounds_since_synth=9), config)
    assert synth.action == "synthesize"
    spent = {"labels": 40, "tokens": 0, "usd": 1.0}
    stop = _guard(synth, typical_signals(spent=spent))
    assert stop.action == "stop" and stop.criteria == ["usd_budget"]
    assert _guard(synth, typical_signals(can_synthesize=False)).action == "query"
    big = synth.model_copy(update={"action": "query", "batch_size": 500, "strategy": "nope"})
    fixed = _guard(big, typical_signals(spent={"labels": 93, "tokens": 0, "usd": 0.0}))
    assert fixed.batch_size == 7 and fixed.strategy == config.strategy
    assert _guard(big, typical_signals(idle_rounds=3)).action == "stop"


def test_a_stop_names_every_criterion_that_voted():
    signals = typical_signals(spent={"labels": 100, "tokens": 0, "usd": 1.0}, idle_rounds=3,
                       kappas=[0.995, 1.0, 0.999])
    stop = _guard(RulePolicy().decide(signals, RunConfig()), signals)
    assert stop.action == "stop"
    assert stop.criteria == ["label_budget", "usd_budget", "patience", "stabilizing_predictions"]
    assert "budget exhausted: labels" in stop.reason and "stabilized" in stop.reason


def test_one_batch_size_default():
    """The supervisor's decision and the run config agree on the batch size."""
    config = RunConfig()
    decision = RulePolicy().decide(typical_signals(), config)
    assert decision.batch_size is None  # "the run's own batch size"
    assert _guard(decision, typical_signals()).batch_size == config.batch_size == 20


# -- the LLM policy; the cold start; the batch size ----------------------------------------
def test_malformed_llm_decision_falls_back_to_the_rule_policy(tmp_path, pool):
    def respond(messages: list[Any], tool: str) -> dict[str, Any] | str:
        if tool == "Decision":
            return {"action": "dance", "reason": 3}
        return {"label": sentiment_of(last_text(messages)), "confidence": 0.9}

    lg = LabelGraph(TASK, llm=ScriptedChatModel(responder=respond), annotator="llm",
                    policy="llm", budget=Budget(labels=10), run_dir=tmp_path / "run",
                    embedding="hashing", config={"seed_size": 6, "batch_size": 4,
                                                 "synthesize": False})
    result = lg.run(pool, label_column="label")
    assert result.cost["labels"] == 10
    assert "LLM policy abstained" in result.decisions[0]["reason"]


def _oracle(tmp_path: Path, **kw: Any) -> LabelGraph:
    options = {"llm": "none", "annotator": "oracle", "budget": Budget(labels=12),
               "run_dir": tmp_path / "run", "embedding": "hashing",
               "config": {"seed_size": 6, "batch_size": 6, "stopping": []}, **kw}
    return LabelGraph(TASK, **options)


def test_llm_policy_that_does_not_fit_the_budget_degrades_to_rules(tmp_path):
    """Before: a supervisor call over the token budget raised BudgetExhausted out of the
    graph, and resume() raised it again."""
    model = ScriptedChatModel(responder=lambda m, t: {"action": "query", "reason": "go"})
    lg = _oracle(tmp_path, llm=model, policy="llm",
                 budget=Budget(labels=12, tokens=60, usd=1.0))
    result = lg.run(make_pool(), label_column="label")
    assert result.stop_reason == "budget exhausted: labels"
    assert all("does not fit the budget" in d["reason"] for d in result.decisions[:-1])
    assert model.calls == []  # nothing was bought over budget
    assert lg.resume().stop_reason == "budget exhausted: labels"


def test_a_one_class_seed_goes_on_until_every_label_is_seen(tmp_path):
    """Before: a seed with a single label ended the run ("no new labels in 3 rounds")."""
    lg = _oracle(tmp_path, budget=Budget(labels=10),
                 config={"seed_size": 1, "batch_size": 3, "stopping": []})
    result = lg.run(make_pool(), label_column="label")
    assert result.stop_reason == "budget exhausted: labels"
    assert set(result.dataset["label"]) == {"positive", "negative"}
    assert result.model is not None  # a student was fitted once both labels were seen
    assert [d["strategy"] for d in result.decisions[:2]] == ["cold_start", "cold_start"]


def test_two_batch_size_defaults_are_one(tmp_path):
    """Before: an LLM decision without a batch size got Decision's default of 10, while
    RunConfig.batch_size and the LLM policy's prompt said 20."""
    prompts: list[str] = []

    def respond(messages: list[Any], tool: str) -> dict[str, Any]:
        prompts.append(str(messages[0].content))
        return {"action": "query", "reason": "more"}

    lg = _oracle(tmp_path, llm=ScriptedChatModel(responder=respond), policy="llm",
                 budget=Budget(labels=50), config={"seed_size": 6, "stopping": []})
    result = lg.run(make_pool(), label_column="label")
    assert result.curve["labels"].tolist()[:3] == [6, 26, 46]
    assert prompts and all("batch size (20)" in p for p in prompts)


# -- the rule policy weighs the agents' proposals ------------------------------------------
CONFIG = RunConfig()


def _proposal_guard(decision, signals):  # noqa: ANN001, ANN202
    return guard(decision, signals, CONFIG, LABELS, GUARDRAILS, STRATEGIES)


def test_a_quality_warning_rules_synthesis_out():
    policy = RulePolicy()
    rare = {"positive": 36, "negative": 4}
    for agent in ("verifier", "annotator", "generator"):
        decision = policy.decide(proposal_signals(
            label_counts=rare, rounds_since_synth=9,
            proposals={**proposal(agent, "query"), **proposal("selector", "synthesize")}), CONFIG)
        assert decision.action == "query" and decision.followed == [agent]
        assert decision.reason.startswith("query the pool by diverse_margin sampling, not "
                                          f"synthesize: {agent}: {agent} says query")
        assert "selector's synthesize (a quality warning rules synthesis out)" in\
            decision.reason
    # without a warning the same signals synthesize
    assert policy.decide(proposal_signals(label_counts=rare), CONFIG).action == "synthesize"


def test_a_failed_synthetic_batch_rules_synthesis_out_for_a_while():
    policy = RulePolicy()
    wish = proposal("learner", "synthesize", "negative")
    after = policy.decide(proposal_signals(synth_acceptance=0.2, rounds_since_synth=2,
                                   proposals=wish), CONFIG)
    assert after.action == "query" and after.followed == []
    assert "the synthetic batch of round 3 was 80% rejected: no synthesis for 3 rounds "\
           "after it" in after.reason
    later = policy.decide(proposal_signals(synth_acceptance=0.2, rounds_since_synth=3,
                                   proposals=wish), CONFIG)
    assert later.action == "synthesize" and later.followed == ["learner"]
    fine = policy.decide(proposal_signals(synth_acceptance=0.5, rounds_since_synth=0,
                                  proposals=wish), CONFIG)
    assert fine.action == "synthesize"


def test_synthesis_targets_the_label_the_learner_names():
    policy = RulePolicy()
    three = {"positive": 20, "negative": 18, "neutral": 2}
    decision = policy.decide(proposal_signals(
        label_counts=three, labeled=40,
        proposals={**proposal("learner", "synthesize", "negative"),
                   **proposal("selector", "synthesize")}), CONFIG)
    assert decision.action == "synthesize" and decision.target_labels == ["negative"]
    assert decision.followed == ["learner", "selector"]
    assert decision.reason == "synthesize for 'negative': learner says synthesize"
    selector = policy.decide(proposal_signals(label_counts=three, proposals=proposal("selector",
                                                                       "synthesize")), CONFIG)
    assert selector.target_labels == ["neutral"] and selector.followed == ["selector"]
    # synthesis cannot run: the learner's wish is recorded as not followed, and why
    off = policy.decide(proposal_signals(can_synthesize=False,
                                 proposals=proposal("learner", "synthesize", "negative")), CONFIG)
    assert off.action == "query" and "learner's synthesize (synthesis cannot run)" in\
        off.reason


def test_guardrails_win_over_proposals():
    proposals = {**proposal("learner", "synthesize", "negative"),
                 **proposal("selector", "synthesize")}
    broke = proposal_signals(proposals=proposals, spent={"labels": 100, "tokens": 0, "usd": 0.0})
    decided = _proposal_guard(RulePolicy().decide(broke, CONFIG), broke)
    assert decided.action == "stop" and decided.criteria == ["label_budget"]
    assert decided.followed == []  # the budget stopped it, not an agent


def test_a_guardrail_change_gets_a_reason_that_matches_the_action():
    dry = proposal_signals(unlabeled=0)
    policy_says = RulePolicy().decide(dry, CONFIG)
    assert policy_says.reason == "query the pool by diverse_margin sampling"
    decided = _proposal_guard(policy_says, dry)
    assert decided.action == "synthesize" and decided.target_labels == ["positive"]
    assert decided.reason == ("guardrail: the pool is exhausted, so synthesize for "
                              "'positive' instead of query by diverse_margin")
    assert "query the pool" not in decided.reason
    # (the pool_exhausted criterion stops such a run first; without it, guard still does)
    nothing = guard(policy_says, proposal_signals(unlabeled=0, can_synthesize=False),
                    CONFIG, LABELS, (), STRATEGIES)
    assert nothing.action == "stop" and nothing.criteria == ["pool_exhausted"]
    assert nothing.reason == ("guardrail: the pool is exhausted and synthesis cannot run, so "
                              "stop instead of query by diverse_margin")
    wanted = RulePolicy().decide(
        proposal_signals(proposals=proposal("selector", "synthesize")), CONFIG)
    assert wanted.followed == ["selector"]
    off = _proposal_guard(wanted, proposal_signals(
        can_synthesize=False, proposals=proposal("selector", "synthesize")))
    assert off.action == "query" and off.followed == [] and off.batch_size ==\
        CONFIG.batch_size
    assert off.reason == ("guardrail: synthesis is off or no LLM can write, so query by "
                          "diverse_margin instead of synthesize for 'positive'")


# -- the strategy bandit -------------------------------------------------------------------
def test_arm_rewards_are_relative_to_the_recent_change() -> None:
    history = [history_round(1, strategy="cold_start", stop_changed=None),
               history_round(2, strategy="margin", stop_changed=0.20),
               history_round(3, strategy="badge", stop_changed=0.10),
               history_round(4, strategy="margin", stop_changed=0.05),
               history_round(5, strategy="badge", stop_changed=0.10)]
    rewards = arm_rewards(history, ["margin", "badge"])
    assert [(r, a) for r, a, _ in rewards] == [(2, "margin"), (3, "badge"), (4, "margin"),
                                               (5, "badge")]
    # round 4's change is half the median of rounds 2-4; round 5's twice that of rounds 3-5
    assert rewards[2][2] == pytest.approx(0.5) and rewards[3][2] == pytest.approx(1.0)


def test_gain_rewards_credit_the_round_before_the_labels_they_were_measured_on() -> None:
    history = [history_round(1, strategy="cold_start"),
               history_round(2, strategy="margin"),
               history_round(3, strategy="badge", batch_gain=0.30),  # margin's labels (round 2)
               history_round(4, strategy="margin", batch_gain=0.10),  # badge's
               history_round(5, strategy="badge", batch_gain=0.20)]  # margin's again
    rewards = arm_rewards(history, ["margin", "badge"], reward="gain")
    # each less the median gain of the last three rounds up to the one measured on (0,
    # -0.2, 0), in units of the mean absolute deviation (0.2 / 3)
    assert rewards == [(2, "margin", pytest.approx(0.0)), (3, "badge", pytest.approx(-3.0)),
                       (4, "margin", pytest.approx(0.0))]
    with pytest.raises(ValueError, match="unknown bandit reward"):
        arm_rewards(history, ["margin"], reward="luck")


def test_choose_arm_waits_for_an_arms_first_gain_and_says_why() -> None:
    arms = ["margin", "badge"]
    history = [history_round(2, strategy="margin"),
               history_round(3, strategy="badge", batch_gain=0.2)]
    # badge was played but is not measured yet: margin, the one measured arm, is chosen
    arm, why = choose_arm(history, arms, 4, reward="gain")
    assert arm == "margin" and "log-probability of the next labels" in why
    history += [history_round(4, strategy="margin", batch_gain=0.5),
                history_round(5, strategy="badge", batch_gain=0.1),
                history_round(6, strategy="margin", batch_gain=0.6)]
    # badge's labels (rounds 3 and 5) were followed by the large gains
    assert choose_arm(history, arms, 7, reward="gain", explore=0.0)[0] == "badge"


def test_choose_arm_tries_each_arm_then_prefers_the_one_that_moves_the_student() -> None:
    arms = ["margin", "badge", "kcenter"]
    assert choose_arm([], arms, 2)[0] == "margin"
    history = [history_round(2, strategy="margin", stop_changed=0.1)]
    assert choose_arm(history, arms, 3) == ("badge", "bandit: trying badge (not yet measured)")
    history = [history_round(n, strategy=a, stop_changed=c) for n, (a, c) in enumerate(
        [("margin", 0.10), ("badge", 0.10), ("kcenter", 0.01), ("margin", 0.08),
         ("badge", 0.12), ("kcenter", 0.01), ("badge", 0.10), ("margin", 0.08)], 2)]
    arm, why = choose_arm(history, arms, 10, explore=0.0)
    assert arm == "badge" and "switched from margin badge" in why and "kcenter" in why
    # exploration eventually revisits an arm that has not been played for a while
    assert choose_arm(history, arms, 10, explore=50.0)[0] == "kcenter"


def test_guard_resolves_the_bandit_and_says_why() -> None:
    config = RunConfig(strategy="bandit", bandit_arms=("margin", "badge"))
    strategies = registry.names("strategies")
    history = [history_round(1, strategy="cold_start")]
    signals = history_signals(history)
    proposed = RulePolicy().decide(signals, config)
    assert proposed.strategy == "bandit"
    decided = guard(proposed, signals, config, TASK.labels, (), strategies)
    assert decided.strategy == "margin" and "bandit: trying margin" in decided.reason
    person = Decision(action="query", strategy="bandit", reason="the human asked")
    assert guard(person, signals, config, TASK.labels, (), strategies).strategy in\
        {"margin", "badge"}


# -- any strategy that plays arms ----------------------------------------------------------
class _ArmsByGain(Margin):
    """A plug-in's bandit, under a name of its own."""

    plays_arms = True


def test_any_strategy_that_plays_arms_is_resolved_not_only_the_one_named_bandit(
        monkeypatch: pytest.MonkeyPatch) -> None:
    registry.names("strategies")  # entry points read first, so the patch below stays alone
    monkeypatch.setitem(registry._entries["strategies"], "arms_by_gain",
                        Entry("strategies", "arms_by_gain", "test", "test:_ArmsByGain",
                              _obj=_ArmsByGain))
    assert capability(_ArmsByGain(), PLAYS_ARMS)
    config = RunConfig(strategy="arms_by_gain", bandit_arms=("margin", "arms_by_gain", "badge"))
    signals = RoundSignals(round=3, labeled=10, label_counts={"positive": 5, "negative": 5},
                           spent={"labels": 10, "tokens": 0, "usd": 0.0}, budget=Budget(),
                           unlabeled=50, has_model=True, accuracy=None, curve_slope=None,
                           rejection_rate=None, synth_acceptance=None, rounds_since_synth=1,
                           idle_rounds=0, can_synthesize=False)
    decided = guard(Decision(action="query", strategy="arms_by_gain", reason="the plug-in's"),
                    signals, config, TASK.labels, (), registry.names("strategies"))
    assert decided.strategy == "margin"  # an arm, never the stand-in itself
    assert "bandit: trying margin" in decided.reason
