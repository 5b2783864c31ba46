"""Stopping criteria and the strategy bandit: pure pieces on made-up round histories, and a
small real run that watches every criterion without stopping."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from labelgraph import Budget, LabelGraph, Task
from labelgraph.config import RunConfig
from labelgraph.policies import RoundSignals as Signals
from labelgraph.policies import RulePolicy, arm_rewards, choose_arm, guard
from labelgraph.registry import registry
from labelgraph.stopping import GUARDRAIL_CRITERIA, expected_gain
from labelgraph.types import Decision

TASK = Task(labels=["positive", "negative"], description="movie review sentiment")
OPTIONAL = [n for n in registry.names("stopping") if n not in GUARDRAIL_CRITERIA]


def _round(n: int, **kw: Any) -> dict[str, Any]:
    return {"round": n, "action": "query", "strategy": "margin", "labels": 25 * n,
            "kappa": None, "stop_changed": None, "stop_uncertainty": None,
            "cv_accuracy": None, **kw}


def _signals(history: list[dict[str, Any]], usd: float = 0.0) -> Signals:
    labels = history[-1]["labels"] if history else 0
    return Signals(round=len(history) + 1, labeled=labels,
                   label_counts={"positive": labels // 2, "negative": labels - labels // 2},
                   spent={"labels": labels, "tokens": 0, "usd": usd},
                   budget=Budget(labels=1000), unlabeled=500, has_model=True, accuracy=None,
                   curve_slope=None, rejection_rate=None, synth_acceptance=None,
                   rounds_since_synth=1, idle_rounds=0, can_synthesize=False,
                   history=history)


def _stop(name: str, history: list[dict[str, Any]], usd: float = 0.0,
          **config: Any) -> str | None:
    return registry.create("stopping", name).stop(_signals(history, usd),
                                                  RunConfig(**config))


def test_every_new_criterion_is_registered() -> None:
    assert {"uncertainty", "classification_change", "accuracy_plateau", "cost_aware",
            "stabilizing_predictions"} <= set(OPTIONAL)


def test_overall_uncertainty() -> None:
    sure = [_round(n, stop_uncertainty=u) for n, u in enumerate([0.3, 0.2, 0.08, 0.07, 0.05], 1)]
    assert "sure of the pool" in _stop("uncertainty", sure, uncertainty_threshold=0.1)
    # 0.2 is still in the window
    assert _stop("uncertainty", sure[:4], uncertainty_threshold=0.1) is None
    assert _stop("uncertainty", sure, uncertainty_threshold=0.06) is None
    assert _stop("uncertainty", sure[:2], min_rounds=0) is None  # window not yet full


def test_classification_change() -> None:
    calm = [_round(n, stop_changed=c) for n, c in enumerate([None, 0.2, 0.005, 0.0, 0.01], 1)]
    assert "change few predictions" in _stop("classification_change", calm)
    assert _stop("classification_change", calm, change_threshold=0.005) is None
    restless = calm[:-1] + [_round(5, stop_changed=0.05)]
    assert _stop("classification_change", restless) is None


def test_expected_gain_is_the_slope_of_cross_validated_accuracy() -> None:
    rising = [_round(n, cv_accuracy=0.5 + 0.01 * n) for n in range(1, 6)]
    assert expected_gain(_signals(rising), 3) == pytest.approx(0.01 / 25)
    assert expected_gain(_signals(rising[:3]), 3) is None
    gaps = rising[:-1] + [_round(5)]
    assert expected_gain(_signals(gaps), 3) is None


def test_accuracy_plateau() -> None:
    flat = [_round(n, cv_accuracy=a) for n, a in enumerate([0.6, 0.7, 0.80, 0.801, 0.80,
                                                             0.802], 1)]
    assert "plateau" in _stop("accuracy_plateau", flat, plateau_window=3)
    assert _stop("accuracy_plateau", flat) is None  # the default window needs 7 rounds
    rising = [_round(n, cv_accuracy=0.6 + 0.02 * n) for n in range(1, 7)]
    assert _stop("accuracy_plateau", rising, plateau_window=3) is None
    assert _stop("accuracy_plateau", flat, plateau_window=3, plateau_delta=0.0) is None


def test_cost_aware_weighs_the_gain_against_the_price() -> None:
    slow = [_round(n, cv_accuracy=0.7 + 0.001 * n) for n in range(1, 7)]  # +0.1 pt a round
    # 150 labels for $7.50: five cents a label, 0.00004 accuracy a label -> 0.0008 per USD
    assert "cost more than they bring" in _stop("cost_aware", slow, usd=7.5, plateau_window=3)
    assert _stop("cost_aware", slow, usd=7.5, plateau_window=3, min_gain_per_usd=0.0005) is None
    assert _stop("cost_aware", slow, usd=0.0, plateau_window=3) is None  # free labels
    fast = [_round(n, cv_accuracy=0.5 + 0.05 * n) for n in range(1, 7)]
    assert _stop("cost_aware", fast, usd=7.5, plateau_window=3) is None


def test_arm_rewards_are_relative_to_the_recent_change() -> None:
    history = [_round(1, strategy="cold_start", stop_changed=None),
               _round(2, strategy="margin", stop_changed=0.20),
               _round(3, strategy="badge", stop_changed=0.10),
               _round(4, strategy="margin", stop_changed=0.05),
               _round(5, strategy="badge", stop_changed=0.10)]
    rewards = arm_rewards(history, ["margin", "badge"])
    assert [(r, a) for r, a, _ in rewards] == [(2, "margin"), (3, "badge"), (4, "margin"),
                                               (5, "badge")]
    # round 4's change is half the median of rounds 2-4; round 5's twice that of rounds 3-5
    assert rewards[2][2] == pytest.approx(0.5) and rewards[3][2] == pytest.approx(1.0)


def test_gain_rewards_credit_the_round_before_the_labels_they_were_measured_on() -> None:
    history = [_round(1, strategy="cold_start"),
               _round(2, strategy="margin"),
               _round(3, strategy="badge", batch_gain=0.30),  # margin's labels (round 2)
               _round(4, strategy="margin", batch_gain=0.10),  # badge's
               _round(5, strategy="badge", batch_gain=0.20)]  # margin's again
    rewards = arm_rewards(history, ["margin", "badge"], reward="gain")
    # each less the median gain of the last three rounds up to the one measured on (0,
    # -0.2, 0), in units of the mean absolute deviation (0.2 / 3)
    assert rewards == [(2, "margin", pytest.approx(0.0)), (3, "badge", pytest.approx(-3.0)),
                       (4, "margin", pytest.approx(0.0))]
    with pytest.raises(ValueError, match="unknown bandit reward"):
        arm_rewards(history, ["margin"], reward="luck")


def test_choose_arm_waits_for_an_arms_first_gain_and_says_why() -> None:
    arms = ["margin", "badge"]
    history = [_round(2, strategy="margin"), _round(3, strategy="badge", batch_gain=0.2)]
    # badge was played but is not measured yet: margin, the one measured arm, is chosen
    arm, why = choose_arm(history, arms, 4, reward="gain")
    assert arm == "margin" and "log-probability of the next labels" in why
    history += [_round(4, strategy="margin", batch_gain=0.5),
                _round(5, strategy="badge", batch_gain=0.1),
                _round(6, strategy="margin", batch_gain=0.6)]
    # badge's labels (rounds 3 and 5) were followed by the large gains
    assert choose_arm(history, arms, 7, reward="gain", explore=0.0)[0] == "badge"


def test_choose_arm_tries_each_arm_then_prefers_the_one_that_moves_the_student() -> None:
    arms = ["margin", "badge", "kcenter"]
    assert choose_arm([], arms, 2)[0] == "margin"
    history = [_round(2, strategy="margin", stop_changed=0.1)]
    assert choose_arm(history, arms, 3) == ("badge", "bandit: trying badge (not yet measured)")
    history = [_round(n, strategy=a, stop_changed=c) for n, (a, c) in enumerate(
        [("margin", 0.10), ("badge", 0.10), ("kcenter", 0.01), ("margin", 0.08),
         ("badge", 0.12), ("kcenter", 0.01), ("badge", 0.10), ("margin", 0.08)], 2)]
    arm, why = choose_arm(history, arms, 10, explore=0.0)
    assert arm == "badge" and "switched from margin badge" in why and "kcenter" in why
    # exploration eventually revisits an arm that has not been played for a while
    assert choose_arm(history, arms, 10, explore=50.0)[0] == "kcenter"


def test_guard_resolves_the_bandit_and_says_why() -> None:
    config = RunConfig(strategy="bandit", bandit_arms=("margin", "badge"))
    strategies = registry.names("strategies")
    history = [_round(1, strategy="cold_start")]
    signals = _signals(history)
    proposed = RulePolicy().decide(signals, config)
    assert proposed.strategy == "bandit"
    decided = guard(proposed, signals, config, TASK.labels, (), strategies)
    assert decided.strategy == "margin" and "bandit: trying margin" in decided.reason
    person = Decision(action="query", strategy="bandit", reason="the human asked")
    assert guard(person, signals, config, TASK.labels, (), strategies).strategy in \
        {"margin", "badge"}


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


def test_the_learner_measures_each_rounds_gain_on_the_next_labels(tmp_path, pool) -> None:
    lg = LabelGraph(TASK, llm=None, annotator="oracle", budget=Budget(labels=38),
                    run_dir=tmp_path / "run", embedding="hashing",
                    config={"seed_size": 8, "batch_size": 6, "synthesize": False,
                            "stopping": (), "strategy": "bandit", "bandit_reward": "gain",
                            "bandit_arms": ("margin", "random")})
    lg.run(pool.iloc[:50], test=pool.iloc[50:], label_column="label")
    gains = [m.get("batch_gain") for m in lg.context.ledger.metrics()]
    # no gain before two students exist; after that one every round, a finite number
    assert gains[:2] == [None, None] and len(gains) == 6
    assert all(isinstance(g, float) and np.isfinite(g) for g in gains[2:])
    reasons = [d["reason"] for d in lg.context.ledger.decisions() if d["action"] == "query"]
    assert any("log-probability of the next labels" in r for r in reasons)


def test_a_reopened_run_measures_no_gain_and_fits_nothing_for_it(tmp_path, pool) -> None:
    from labelgraph.agents.learner import batch_gain

    run_dir = tmp_path / "run"
    lg = LabelGraph(TASK, llm=None, annotator="oracle", budget=Budget(labels=20),
                    run_dir=run_dir, embedding="hashing",
                    config={"seed_size": 8, "batch_size": 6, "synthesize": False,
                            "stopping": ()})
    lg.run(pool.iloc[:50], test=pool.iloc[50:], label_column="label")
    lg.close()
    again = LabelGraph.open(run_dir)
    ctx = again.context
    examples, _ = ctx.memory.all(with_embeddings=True)
    # no predecessor in this process: no gain, and the student is not refitted to find out
    assert batch_gain(ctx, examples, 4) is None
    assert not ctx.store._model_loaded
    again.close()


def test_consensus_stops_only_when_its_criteria_agree_at_their_own_settings() -> None:
    from dataclasses import replace

    from labelgraph.stopping import needed

    calm = [_round(n, stop_changed=c) for n, c in enumerate([0.3, 0.2, 0.04, 0.03, 0.02], 1)]
    settled = replace(_signals(calm), kappas=[0.5, 0.8, 0.92, 0.93, 0.95])
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


def test_consensus_settings_must_be_run_settings() -> None:
    from labelgraph.config import make_config
    from labelgraph.errors import InputError

    with pytest.raises(InputError, match="consensus_settings: unknown setting"):
        make_config({"consensus_settings": {"kapa_threshold": 0.9}})
