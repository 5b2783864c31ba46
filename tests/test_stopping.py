"""Stopping criteria (labelgraph.stopping): pure pieces on made-up round histories, and a
small real run that watches every criterion without stopping; the agents' proposals as a
criterion, and why a run that bought no new labels stopped."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from conftest import make_pool, sentiment_of
from labelgraph import Budget, LabelGraph, Task
from labelgraph.config import RunConfig
from labelgraph.policies import RoundSignals as Signals
from labelgraph.policies import RulePolicy, guard
from labelgraph.registry import registry
from labelgraph.stopping import (
    GUARDRAIL_CRITERIA,
    budget_spent,
    expected_gain,
    idle_why,
    stop_grounds,
)
from support.builders import (
    history_round,
    history_signals,
    proposal,
    proposal_signals,
    typical_signals,
)
from support.fakes import ScriptedChatModel, last_text

TASK = Task(labels=["positive", "negative"], description="movie review sentiment")
OPTIONAL = [n for n in registry.names("stopping") if n not in GUARDRAIL_CRITERIA]


def _stop(name: str, history: list[dict[str, Any]], usd: float = 0.0,
          **config: Any) -> str | None:
    return registry.create("stopping", name).stop(history_signals(history, usd),
                                                  RunConfig(**config))


def test_every_new_criterion_is_registered() -> None:
    assert {"uncertainty", "classification_change", "accuracy_plateau", "cost_aware",
            "stabilizing_predictions"} <= set(OPTIONAL)


def test_overall_uncertainty() -> None:
    sure = [history_round(n, stop_uncertainty=u)
            for n, u in enumerate([0.3, 0.2, 0.08, 0.07, 0.05], 1)]
    assert "sure of the pool" in _stop("uncertainty", sure, uncertainty_threshold=0.1)
    # 0.2 is still in the window
    assert _stop("uncertainty", sure[:4], uncertainty_threshold=0.1) is None
    assert _stop("uncertainty", sure, uncertainty_threshold=0.06) is None
    assert _stop("uncertainty", sure[:2], min_rounds=0) is None  # window not yet full


def test_classification_change() -> None:
    calm = [history_round(n, stop_changed=c)
            for n, c in enumerate([None, 0.2, 0.005, 0.0, 0.01], 1)]
    assert "change few predictions" in _stop("classification_change", calm)
    assert _stop("classification_change", calm, change_threshold=0.005) is None
    restless = calm[:-1] + [history_round(5, stop_changed=0.05)]
    assert _stop("classification_change", restless) is None


def test_expected_gain_is_the_slope_of_cross_validated_accuracy() -> None:
    rising = [history_round(n, cv_accuracy=0.5 + 0.01 * n) for n in range(1, 6)]
    assert expected_gain(history_signals(rising), 3) == pytest.approx(0.01 / 25)
    assert expected_gain(history_signals(rising[:3]), 3) is None
    gaps = rising[:-1] + [history_round(5)]
    assert expected_gain(history_signals(gaps), 3) is None


def test_accuracy_plateau() -> None:
    flat = [history_round(n, cv_accuracy=a) for n, a in enumerate([0.6, 0.7, 0.80, 0.801, 0.80,
                                                             0.802], 1)]
    assert "plateau" in _stop("accuracy_plateau", flat, plateau_window=3)
    assert _stop("accuracy_plateau", flat) is None  # the default window needs 7 rounds
    rising = [history_round(n, cv_accuracy=0.6 + 0.02 * n) for n in range(1, 7)]
    assert _stop("accuracy_plateau", rising, plateau_window=3) is None
    assert _stop("accuracy_plateau", flat, plateau_window=3, plateau_delta=0.0) is None


def test_cost_aware_weighs_the_gain_against_the_price() -> None:
    slow = [history_round(n, cv_accuracy=0.7 + 0.001 * n) for n in range(1, 7)]  # +0.1 pt a round
    # 150 labels for $7.50: five cents a label, 0.00004 accuracy a label -> 0.0008 per USD
    assert "cost more than they bring" in _stop("cost_aware", slow, usd=7.5, plateau_window=3)
    assert _stop("cost_aware", slow, usd=7.5, plateau_window=3, min_gain_per_usd=0.0005) is None
    assert _stop("cost_aware", slow, usd=0.0, plateau_window=3) is None  # free labels
    fast = [history_round(n, cv_accuracy=0.5 + 0.05 * n) for n in range(1, 7)]
    assert _stop("cost_aware", fast, usd=7.5, plateau_window=3) is None


def test_a_run_watches_every_criterion_and_the_bandit_switches(tmp_path, pool) -> None:
    lg = LabelGraph(TASK, llm=None, annotator="oracle", budget=Budget(labels=44),
                    run_dir=tmp_path / "run", embedding="hashing",
                    config={"seed_size": 8, "batch_size": 6, "synthesize": False,
                            "stopping": (), "stopping_watch": OPTIONAL, "min_rounds": 0,
                            "stop_window": 1, "strategy": "bandit",
                            "bandit_arms": ("margin", "random")})
    result = lg.run(pool.iloc[:50], test=pool.iloc[50:], label_column="label")
    assert result.cost["labels"] == 44  # nothing stopped the run before its budget
    decisions = lg.context.ledger.decisions()
    assert all("would_stop" in d for d in decisions)
    watched = {name for d in decisions for name in d["would_stop"]}
    assert watched and watched <= set(OPTIONAL)
    played = [d["strategy"] for d in decisions if d["action"] == "query"][1:]
    assert set(played) == {"margin", "random"}
    assert all("bandit:" in d["reason"] for d in decisions[1:] if d["action"] == "query")
    metrics = lg.context.ledger.metrics()
    assert any(m.get("cv_accuracy") is not None for m in metrics)
    assert any(m.get("stop_changed") is not None for m in metrics)


def test_consensus_stops_only_when_its_criteria_agree_at_their_own_settings() -> None:
    from labelgraph.stopping import needed

    calm = [history_round(n, stop_changed=c) for n, c in enumerate([0.3, 0.2, 0.04, 0.03, 0.02], 1)]
    settled = replace(history_signals(calm), kappas=[0.5, 0.8, 0.92, 0.93, 0.95])
    unsettled = replace(settled, kappas=[0.5, 0.8, 0.92, 0.85, 0.95])
    consensus = registry.create("stopping", "consensus")
    config = RunConfig(consensus_of=("stabilizing_predictions", "classification_change"),
                       consensus_settings={"kappa_threshold": 0.9, "change_threshold": 0.05})
    why = consensus.stop(settled, config)
    assert why.startswith("2 criteria agree: stabilizing_predictions: ") and \
        "classification_change: new labels change few predictions" in why
    # Alone, at the run's own settings (kappa 0.97, 1 % changed), neither votes.
    for name in config.consensus_of:
        assert registry.create("stopping", name).stop(settled, config) is None
    assert consensus.stop(unsettled, config) is None  # only one of the two
    assert consensus.stop(unsettled, config.model_copy(update={"consensus_min": 1}))
    # What its criteria read, the learner computes: accuracy_plateau needs cross-validation.
    plateau = RunConfig(consensus_of=("accuracy_plateau", "uncertainty"))
    assert needed(["consensus"], plateau) == {"cv_accuracy"}
    assert needed(["consensus"], config) == set()


# -- stabilizing predictions ---------------------------------------------------------------
def test_stabilizing_predictions_waits_for_the_window_and_min_rounds():
    criterion, config = registry.create("stopping", "stabilizing_predictions"), RunConfig()
    assert criterion.stop(typical_signals(kappas=[0.5, 0.995, 1.0]), config) is None
    assert criterion.stop(typical_signals(kappas=[None, 1.0, 1.0, 1.0]), config)
    assert criterion.stop(typical_signals(round=2, kappas=[1.0, 1.0, 1.0]), config) is None


# -- the agents' proposals as a criterion --------------------------------------------------
CONFIG = RunConfig()
LABELS = ("positive", "negative")
GUARDRAILS = tuple((name, registry.create("stopping", name)) for name in GUARDRAIL_CRITERIA)
STRATEGIES = registry.names("strategies")


def _decided(signals: Signals, config: RunConfig = CONFIG) -> Any:
    """The rule policy's decision after the guardrails, with the run's optional criteria."""
    criteria = (*GUARDRAILS, *((name, registry.create("stopping", name))
                             for name in config.stopping))
    return guard(RulePolicy().decide(signals, config), signals, config, LABELS, criteria,
                 STRATEGIES)


def test_one_agent_alone_does_not_stop_a_run_two_do():
    alone = _decided(proposal_signals(proposals=proposal("selector", "stop")))
    assert alone.action == "query" and alone.followed == []
    assert "selector's stop (one agent alone does not stop a run)" in alone.reason
    two = proposal_signals(proposals={**proposal("selector", "stop"),
                                      **proposal("learner", "stop")})
    assert stop_grounds(two, CONFIG) == (["learner", "selector"], (
        "agents agree to stop: learner: learner says stop; selector: selector says stop"))
    both = _decided(two)
    assert both.action == "stop" and both.followed == ["learner", "selector"]
    assert both.criteria == ["agent_proposals"] and both.reason.startswith("agents agree")
    # the run's stopping setting governs it like any other criterion
    off = _decided(two, CONFIG.model_copy(update={"stopping": ()}))
    assert off.action == "query" and "learner's stop (agent_proposals is not among the "\
        "run's stopping criteria)" in off.reason


def test_the_learners_flat_curve_stops_once_enough_budget_is_spent():
    early = _decided(proposal_signals(proposals=proposal("learner", "stop")))  # 40 % of the labels
    assert early.action == "query" and "only 40% of the budget spent, < 50%" in early.reason
    late = proposal_signals(proposals=proposal("learner", "stop"),
                    spent={"labels": 40, "tokens": 0, "usd": 0.6},
                    budget=Budget(labels=100, usd=1.0))  # money is the tighter budget
    assert budget_spent(late) == pytest.approx(0.6)
    stop = _decided(late)
    assert stop.action == "stop" and stop.followed == ["learner"]
    assert stop.criteria == ["agent_proposals"]
    assert stop.reason == "learner: learner says stop, with 60% of the budget spent (≥ 50%)"


# -- no new labels: why --------------------------------------------------------------------
def test_a_money_budget_too_small_for_one_call_says_so_in_the_stop(tmp_path: Path) -> None:
    llm = ScriptedChatModel(responder=lambda messages, tool: {
        "label": sentiment_of(last_text(messages)), "confidence": 0.9})
    lg = LabelGraph(TASK, llm=llm, annotator="llm", policy="rule",
                    budget=Budget(labels=40, usd=0.0001), run_dir=tmp_path / "run",
                    embedding="hashing", prices={"scripted": (5.0, 25.0)},
                    config={"seed_size": 6, "batch_size": 6, "synthesize": False,
                            "stopping": []})
    result = lg.run(make_pool(), label_column="label")
    lg.close()
    assert llm.calls == []  # no call fitted the budget
    reason = result.stop_reason
    assert reason.startswith("no new labels in 3 rounds: of 18 items asked, the money budget "
                             "refused every call: one needs about $"), reason
    assert "$0.0001 is left" in reason and "raise the money budget" in reason
    assert result.curve["refused"].tolist() == [6, 6, 6]
    need = float(reason.split("one needs about $")[1].split(",")[0])
    assert need == pytest.approx(result.curve["refusal"].iloc[-1]["need"]) and need > 0.0001


def test_idle_why_names_the_budget_that_refused_and_keeps_other_abstentions() -> None:
    rows = [{"batch": 6, "abstained": 6, "rejected": 6, "refused": 2,
             "refusal": {"unit": "tokens", "need": 300, "left": 12}}] * 3
    assert idle_why(rows) == (
        ": of 18 items asked, 12 got no label (the annotator abstained or a person skipped; "
        "the ledger's anomalies and the run's ModelCannot events say why), the token budget "
        "refused the calls of 6: one needs about 300 tokens, 12 left (raise the token budget)")
    old = [{"batch": 6, "abstained": 6, "rejected": 6}] * 3  # rows from before refusals
    assert "got no label" in idle_why(old) and "budget" not in idle_why(old)
