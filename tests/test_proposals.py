"""Every agent proposes from its own evidence; the rule policy weighs the proposals by its
documented rule (docs/agents.md); the guardrails still win, and a reason matches its action."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from conftest import make_pool
from labelgraph import Budget, LabelGraph, Task
from labelgraph.agents.supervisor import decide
from labelgraph.annotators import HybridAnnotator, SimulatedAnnotator
from labelgraph.config import RunConfig
from labelgraph.console.reads import why
from labelgraph.policies import RoundSignals as Signals
from labelgraph.policies import RulePolicy, guard
from labelgraph.proposals import (
    Overrulings,
    annotator_proposal,
    class_gap,
    flat_curve,
    generator_proposal,
    learner_proposal,
    overrulings,
    selector_proposal,
    verifier_proposal,
)
from labelgraph.registry import registry
from labelgraph.stopping import GUARDRAIL_CRITERIA, budget_spent, stop_grounds
from labelgraph.types import Proposal, Steering
from support.fakes import ScriptedChatModel

TASK = Task(labels=["positive", "negative"], description="movie review sentiment")
CONFIG = RunConfig()
LABELS = ("positive", "negative")
CRITERIA = tuple((name, registry.create("stopping", name)) for name in GUARDRAIL_CRITERIA)
STRATEGIES = registry.names("strategies")


def _signals(**kw: Any) -> Signals:
    base: dict[str, Any] = dict(
        round=6, labeled=40, label_counts={"positive": 20, "negative": 20},
        spent={"labels": 40, "tokens": 0, "usd": 0.0}, budget=Budget(labels=100),
        unlabeled=100, has_model=True, accuracy=0.8, curve_slope=0.01, rejection_rate=0.0,
        synth_acceptance=None, rounds_since_synth=1, idle_rounds=0, can_synthesize=True,
        proposals={})
    return Signals(**{**base, **kw})


def _p(agent: str, action: str, target: str | None = None) -> dict[str, Proposal]:
    return {agent: Proposal(agent=agent, action=action, reason=f"{agent} says {action}",
                            target_label=target)}


def _guard(decision, signals):  # noqa: ANN001, ANN202
    return guard(decision, signals, CONFIG, LABELS, CRITERIA, STRATEGIES)


# -- each agent's evidence, as pure functions ------------------------------------------------
def test_annotator_counts_who_overruled_its_labels_and_proposes_query_when_mostly():
    rows = [
        {"item_id": "a", "origin": "pool", "label": "positive", "other": "negative"},  # person
        {"item_id": "b", "origin": "pool", "label": "positive", "other": "positive"},  # agreed
        {"item_id": "c", "origin": "pool", "label": "positive", "verdict": "flag",
         "reason": "the student and the neighbours point to 'negative'"},  # verifier
        {"item_id": "d", "origin": "pool", "label": "positive", "verdict": "reject",
         "reason": "duplicate of an example already labeled"},  # nobody's error
        {"item_id": "e", "origin": "pool", "label": "positive", "verdict": "accept"},
        {"item_id": "f", "origin": "pool", "label": "negative", "verdict": "accept"},  # corrected
        {"item_id": "g", "origin": "pool", "label": "negative"},  # nobody looked yet
        {"item_id": "s", "origin": "synthetic", "label": "negative", "verdict": "reject",
         "reason": "blind label 'negative' differs from the intended 'positive'"},
    ]
    found = overrulings(rows, {"f": "positive"})
    assert found == Overrulings(checked=7, by_person=1, by_verifier=2, corrected=1,
                                synthetic=1, synthetic_overruled=1)
    proposal = annotator_proposal(found, CONFIG)  # 4 of 7 >= 0.5
    assert proposal is not None and proposal.action == "query"
    assert proposal.reason.startswith("4 of my last 7 model labels were overruled (1 by a "
                                      "more trusted source, 2 by the verifier, 1 by a "
                                      "person's correction)")
    assert annotator_proposal(found, CONFIG.model_copy(update={"proposal_evidence": 8})) \
        is None  # too little evidence to speak
    synthetic = Overrulings(checked=20, by_verifier=5, synthetic=6, synthetic_overruled=5)
    said = annotator_proposal(synthetic, CONFIG)
    assert said is not None and "stop synthesizing" in said.reason
    assert annotator_proposal(Overrulings(checked=20, by_person=3), CONFIG) is None


def test_verifier_proposes_query_on_many_doubts_or_audit_suspects():
    said = verifier_proposal({"accept": 6, "flag": 2, "reject": 2}, None, CONFIG)
    assert said is not None and said.action == "query"
    assert said.reason.startswith("4 of the 10 new labels were rejected or flagged")
    assert verifier_proposal({"accept": 8, "flag": 1, "reject": 1}, None, CONFIG) is None
    assert verifier_proposal({"reject": 3}, None, CONFIG) is None  # under the evidence floor
    audit = verifier_proposal({"accept": 10}, (40, 6), CONFIG)
    assert audit is not None and "the audit found 6 of 40 labels" in audit.reason
    assert verifier_proposal({"accept": 10}, (40, 2), CONFIG) is None


def test_learner_names_a_missing_label_and_stops_on_a_flat_curve():
    counts = {"positive": 20, "negative": 10, "neutral": 6}
    assert class_gap(counts, {"positive": 600, "negative": 400, "neutral": 0}, CONFIG) == \
        ("neutral", "the student never predicts 'neutral' on the stop set (6 labels of it)")
    assert class_gap({**counts, "neutral": 2}, None, CONFIG) == \
        ("neutral", "'neutral' has only 2 accepted labels (< 3)")
    assert class_gap(counts, {"positive": 5, "negative": 4, "neutral": 1}, CONFIG) is None
    # a label with no example yet is left to the pool: the generator continues examples
    assert class_gap({**counts, "neutral": 0}, {"positive": 5, "negative": 4}, CONFIG) is None
    flat = [{"round": r, "stop_changed": c} for r, c in
            [(1, None), (2, 0.3), (3, 0.05), (4, 0.01), (5, 0.0), (6, 0.02)]]
    assert flat_curve(flat, CONFIG) == ("the curve is flat: at most 2.0% of the stop set's "
                                        "predictions changed in each of the last 3 rounds")
    assert flat_curve(flat[:-1] + [{"round": 6, "stop_changed": 0.03}], CONFIG) is None
    assert flat_curve(flat[:4], CONFIG) is None  # round 4 of min_rounds 3: 0.05 in the window
    gap = {"positive": 600, "negative": 400, "neutral": 0}
    synth = learner_proposal(flat, counts, gap, True, CONFIG)
    assert synth is not None and (synth.action, synth.target_label) == ("synthesize",
                                                                        "neutral")
    stop = learner_proposal(flat, counts, gap, False, CONFIG)  # synthesis cannot run
    assert stop is not None and stop.action == "stop" and stop.reason.endswith(": stop")
    assert learner_proposal(flat[:3], counts, None, False, CONFIG) is None


def test_selector_proposes_synthesis_or_stop_when_nothing_informative_is_left():
    empty = selector_proposal(0, None, True, CONFIG)
    assert empty is not None and empty.action == "synthesize"
    assert "nothing is left in the pool" in empty.reason
    sure = selector_proposal(50, 0.995, False, CONFIG)
    assert sure is not None and sure.action == "stop" and "sure of every pool item" in \
        sure.reason
    assert selector_proposal(50, 0.9, True, CONFIG) is None
    assert selector_proposal(50, None, True, CONFIG) is None


def test_generator_proposes_query_when_its_examples_fail():
    none = generator_proposal(0, 3, 5, None, CONFIG)
    assert none is not None and none.reason.startswith("no usable examples after 3 attempts")
    rejected = generator_proposal(4, 1, 0, 0.2, CONFIG)
    assert rejected is not None and rejected.reason.startswith("80% of my last examples")
    assert generator_proposal(4, 1, 0, 0.5, CONFIG) is None


# -- the rule policy's weighing (Signals in, Decision out) ---------------------------------
def _decided(signals: Signals, config: RunConfig = CONFIG) -> Any:
    """The rule policy's decision after the guardrails, with the run's optional criteria."""
    criteria = (*CRITERIA, *((name, registry.create("stopping", name))
                             for name in config.stopping))
    return guard(RulePolicy().decide(signals, config), signals, config, LABELS, criteria,
                 STRATEGIES)


def test_one_agent_alone_does_not_stop_a_run_two_do():
    alone = _decided(_signals(proposals=_p("selector", "stop")))
    assert alone.action == "query" and alone.followed == []
    assert "selector's stop (one agent alone does not stop a run)" in alone.reason
    two = _signals(proposals={**_p("selector", "stop"), **_p("learner", "stop")})
    assert stop_grounds(two, CONFIG) == (["learner", "selector"], (
        "agents agree to stop: learner: learner says stop; selector: selector says stop"))
    both = _decided(two)
    assert both.action == "stop" and both.followed == ["learner", "selector"]
    assert both.criteria == ["agent_proposals"] and both.reason.startswith("agents agree")
    # the run's stopping setting governs it like any other criterion
    off = _decided(two, CONFIG.model_copy(update={"stopping": ()}))
    assert off.action == "query" and "learner's stop (agent_proposals is not among the " \
        "run's stopping criteria)" in off.reason


def test_the_learners_flat_curve_stops_once_enough_budget_is_spent():
    early = _decided(_signals(proposals=_p("learner", "stop")))  # 40 % of the labels
    assert early.action == "query" and "only 40% of the budget spent, < 50%" in early.reason
    late = _signals(proposals=_p("learner", "stop"),
                    spent={"labels": 40, "tokens": 0, "usd": 0.6},
                    budget=Budget(labels=100, usd=1.0))  # money is the tighter budget
    assert budget_spent(late) == pytest.approx(0.6)
    stop = _decided(late)
    assert stop.action == "stop" and stop.followed == ["learner"]
    assert stop.criteria == ["agent_proposals"]
    assert stop.reason == "learner: learner says stop, with 60% of the budget spent (≥ 50%)"


def test_a_quality_warning_rules_synthesis_out():
    policy = RulePolicy()
    rare = {"positive": 36, "negative": 4}
    for agent in ("verifier", "annotator", "generator"):
        decision = policy.decide(_signals(
            label_counts=rare, rounds_since_synth=9,
            proposals={**_p(agent, "query"), **_p("selector", "synthesize")}), CONFIG)
        assert decision.action == "query" and decision.followed == [agent]
        assert decision.reason.startswith("query the pool by diverse_margin sampling, not "
                                          f"synthesize: {agent}: {agent} says query")
        assert "selector's synthesize (a quality warning rules synthesis out)" in \
            decision.reason
    # without a warning the same signals synthesize
    assert policy.decide(_signals(label_counts=rare), CONFIG).action == "synthesize"


def test_a_failed_synthetic_batch_rules_synthesis_out_for_a_while():
    policy = RulePolicy()
    wish = _p("learner", "synthesize", "negative")
    after = policy.decide(_signals(synth_acceptance=0.2, rounds_since_synth=2,
                                   proposals=wish), CONFIG)
    assert after.action == "query" and after.followed == []
    assert "the synthetic batch of round 3 was 80% rejected: no synthesis for 3 rounds " \
           "after it" in after.reason
    later = policy.decide(_signals(synth_acceptance=0.2, rounds_since_synth=3,
                                   proposals=wish), CONFIG)
    assert later.action == "synthesize" and later.followed == ["learner"]
    fine = policy.decide(_signals(synth_acceptance=0.5, rounds_since_synth=0,
                                  proposals=wish), CONFIG)
    assert fine.action == "synthesize"


def test_synthesis_targets_the_label_the_learner_names():
    policy = RulePolicy()
    three = {"positive": 20, "negative": 18, "neutral": 2}
    decision = policy.decide(_signals(
        label_counts=three, labeled=40,
        proposals={**_p("learner", "synthesize", "negative"),
                   **_p("selector", "synthesize")}), CONFIG)
    assert decision.action == "synthesize" and decision.target_labels == ["negative"]
    assert decision.followed == ["learner", "selector"]
    assert decision.reason == "synthesize for 'negative': learner says synthesize"
    selector = policy.decide(_signals(label_counts=three, proposals=_p("selector",
                                                                       "synthesize")), CONFIG)
    assert selector.target_labels == ["neutral"] and selector.followed == ["selector"]
    # synthesis cannot run: the learner's wish is recorded as not followed, and why
    off = policy.decide(_signals(can_synthesize=False,
                                 proposals=_p("learner", "synthesize", "negative")), CONFIG)
    assert off.action == "query" and "learner's synthesize (synthesis cannot run)" in \
        off.reason


def test_guardrails_win_over_proposals():
    proposals = {**_p("learner", "synthesize", "negative"), **_p("selector", "synthesize")}
    broke = _signals(proposals=proposals, spent={"labels": 100, "tokens": 0, "usd": 0.0})
    decided = _guard(RulePolicy().decide(broke, CONFIG), broke)
    assert decided.action == "stop" and decided.criteria == ["label_budget"]
    assert decided.followed == []  # the budget stopped it, not an agent


# -- a guardrail's change of action: the reason says what changed and why -------------------
def test_a_guardrail_change_gets_a_reason_that_matches_the_action():
    dry = _signals(unlabeled=0)
    policy_says = RulePolicy().decide(dry, CONFIG)
    assert policy_says.reason == "query the pool by diverse_margin sampling"
    decided = _guard(policy_says, dry)
    assert decided.action == "synthesize" and decided.target_labels == ["positive"]
    assert decided.reason == ("guardrail: the pool is exhausted, so synthesize for "
                              "'positive' instead of query by diverse_margin")
    assert "query the pool" not in decided.reason
    # (the pool_exhausted criterion stops such a run first; without it, guard still does)
    nothing = guard(policy_says, _signals(unlabeled=0, can_synthesize=False), CONFIG, LABELS,
                    (), STRATEGIES)
    assert nothing.action == "stop" and nothing.criteria == ["pool_exhausted"]
    assert nothing.reason == ("guardrail: the pool is exhausted and synthesis cannot run, so "
                              "stop instead of query by diverse_margin")
    wanted = RulePolicy().decide(_signals(proposals=_p("selector", "synthesize")), CONFIG)
    assert wanted.followed == ["selector"]
    off = _guard(wanted, _signals(can_synthesize=False, proposals=_p("selector",
                                                                    "synthesize")))
    assert off.action == "query" and off.followed == [] and off.batch_size == \
        CONFIG.batch_size
    assert off.reason == ("guardrail: synthesis is off or no LLM can write, so query by "
                          "diverse_margin instead of synthesize for 'positive'")


# -- small real runs -----------------------------------------------------------------------
def _run(tmp_path: Path, annotator: Any = "oracle", labels: int = 60, llm: Any = "none",
         task: Task = TASK, pool: pd.DataFrame | None = None,
         **config: Any) -> LabelGraph:
    lg = LabelGraph(task, annotator=annotator, llm=llm, policy="rule",
                    budget=Budget(labels=labels), run_dir=tmp_path / "run",
                    embedding="hashing",
                    config={"seed_size": 4, "batch_size": 4, "stopping": ["agent_proposals"],
                            **config})
    lg.run(make_pool() if pool is None else pool, label_column="label")
    return lg


def _proposed(decision: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return (decision.get("signals") or {}).get("proposals") or {}


def test_a_real_run_stops_on_the_learners_flat_curve_and_why_shows_it(tmp_path):
    lg = _run(tmp_path)
    decisions = lg.context.ledger.decisions()
    last = decisions[-1]
    assert last["action"] == "stop" and last["followed"] == ["learner"]
    assert last["criteria"] == ["agent_proposals"] and last["use_proposals"] is True
    assert _proposed(last)["learner"]["action"] == "stop"
    assert lg.context.ledger.totals()["labels"] < 60  # it stopped before the budget
    shown = why(lg)
    assert "followed: learner" in shown and "learner proposed stop: the curve is flat" in shown
    assert "stopping criteria that voted: agent_proposals" in shown
    # stopped is not final: lifting the criterion lets it run to its budget
    lg.steer(stopping=[])
    for _ in lg.stream():
        pass
    assert lg.result().stop_reason.startswith("budget exhausted: labels")
    lg.close()


def test_use_proposals_false_ignores_them_but_records_them(tmp_path):
    lg = _run(tmp_path, use_proposals=False)
    decisions = lg.context.ledger.decisions()
    assert decisions[-1]["reason"].startswith("budget exhausted: labels")
    assert lg.context.ledger.totals()["labels"] == 60
    assert all(d["followed"] == [] and d["use_proposals"] is False for d in decisions)
    assert any(_proposed(d).get("learner", {}).get("action") == "stop" for d in decisions)
    # and the supervisor's decide hands the policy none: the same signals, with proposals on
    # and off
    signals = _signals(proposals={**_p("learner", "stop"), **_p("selector", "stop")})
    off = decide(lg.context, signals, Steering())
    assert off.action == "query" and off.followed == []
    config = lg.context.config.model_copy(update={"use_proposals": True})
    on = decide(replace(lg.context, config=config), signals, Steering())
    assert on.action == "stop" and on.followed == ["learner", "selector"]
    assert on.criteria == ["agent_proposals"]
    lg.close()


def test_a_real_annotator_overruled_by_the_person_proposes_query(tmp_path):
    noisy = SimulatedAnnotator(error_rate=0.6, informativeness=0.95, seed=1)
    hybrid = HybridAnnotator(human="oracle", threshold=0.9, min_demos=0, first=noisy)
    lg = _run(tmp_path, annotator=hybrid, labels=40, seed_size=6, batch_size=6)
    decisions = lg.context.ledger.decisions()
    followed = [d for d in decisions if "annotator" in d["followed"]]
    assert followed and all(d["action"] == "query" for d in followed)
    said = _proposed(followed[0])["annotator"]
    assert said["action"] == "query" and "model labels were overruled" in said["reason"]
    assert "by a more trusted source" in said["reason"]
    lg.close()


def _writer(texts: list[str]) -> ScriptedChatModel:
    """A chat model that writes ``texts`` whenever it is asked to generate."""
    def respond(messages: list[Any], tool: str) -> dict[str, Any]:
        assert tool == "GeneratedExamples", tool
        return {"examples": texts}

    return ScriptedChatModel(responder=respond)


NEW = ["a quiet documentary about lighthouse keepers in norway",
       "an opera staged inside an abandoned submarine base",
       "a cooking contest judged by retired astronauts",
       "a heist planned by three elderly chess champions",
       "a road trip with a talking vintage typewriter",
       "a courtroom drama about a stolen violin"]


def test_real_verifier_and_generator_warn_when_synthesis_fails(tmp_path):
    # the oracle has no gold label for a synthetic item: every one is rejected
    lg = _run(tmp_path, llm=_writer(NEW), labels=30, synth_batch=6, synthesize_every=1)
    decisions = lg.context.ledger.decisions()
    synth = next(n for n, d in enumerate(decisions) if d["action"] == "synthesize")
    after = decisions[synth + 1]
    verifier = _proposed(after)["verifier"]
    assert verifier["action"] == "query" and verifier["reason"].startswith(
        "6 of the 6 new labels were rejected or flagged")
    assert after["action"] == "query" and "verifier" in after["followed"]
    assert "not synthesize" in after["reason"]
    # the pool's own texts are near-duplicates: the generator has nothing and says so
    lg2 = _run(tmp_path / "dup", llm=_writer(list(make_pool().text[:6])), labels=30,
               synth_batch=6, synthesize_every=1)
    decisions = lg2.context.ledger.decisions()
    synth = next(n for n, d in enumerate(decisions) if d["action"] == "synthesize")
    said = _proposed(decisions[synth + 1])["generator"]
    assert said["action"] == "query" and said["reason"].startswith("no usable examples")
    assert "generator" in decisions[synth + 1]["followed"]
    lg.close()
    lg2.close()


def test_a_real_learner_asks_synthesis_for_a_label_it_lacks(tmp_path):
    task = Task(labels=["positive", "negative", "neutral"], description="sentiment")
    pool = pd.concat([make_pool(), pd.DataFrame(
        {"text": ["an ordinary film, scene 1, with average acting",
                  "an ordinary film, scene 2, with plain acting"],
         "label": ["neutral", "neutral"]})], ignore_index=True)
    lg = _run(tmp_path, llm=_writer(NEW), labels=20, task=task, pool=pool,
              synthesize_every=0)
    decisions = lg.context.ledger.decisions()
    asked = [d for d in decisions if "learner" in d["followed"]]
    for d in asked:  # every synthesis it asked for went to the label it named
        said = _proposed(d)["learner"]
        assert d["action"] == "synthesize" and d["target_labels"] == [said["target_label"]]
        assert d["reason"].startswith(f"synthesize for {said['target_label']!r}: ")
    assert "neutral" in {d["target_labels"][0] for d in asked}
    # a failed synthetic batch rules synthesis out for proposal_window rounds
    failed = [d for d in decisions if "no synthesis for 3 rounds after it" in d["reason"]]
    assert failed and all(d["action"] == "query" for d in failed)
    lg.close()


def test_a_real_selector_proposes_stop_when_the_pool_runs_out(tmp_path):
    lg = _run(tmp_path, labels=200, pool=make_pool(5))  # 10 items, no synthesis
    decisions = lg.context.ledger.decisions()
    last = decisions[-1]
    assert last["action"] == "stop"
    said = _proposed(last)["selector"]
    assert said["action"] == "stop" and "nothing is left in the pool" in said["reason"]
    lg.close()
