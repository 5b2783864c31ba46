"""Agents as units on a real (small) run context: verifier flags, generator dedupe, policy."""

from __future__ import annotations

import pytest

from conftest import make_pool
from labelgraph import Budget, LabelGraph, Task
from labelgraph.agents.generator import drop_near_duplicates
from labelgraph.agents.verifier import verify
from labelgraph.config import RunConfig
from labelgraph.errors import ModelNotInstalledError
from labelgraph.llm import resolve_llm
from labelgraph.memory.examples import Example
from labelgraph.policies import RoundSignals as Signals
from labelgraph.policies import RulePolicy, guard
from labelgraph.registry import registry
from labelgraph.stopping import GUARDRAIL_CRITERIA
from labelgraph.types import Proposal

TASK = Task(labels=["positive", "negative"], description="movie review sentiment")


@pytest.fixture
def ctx(tmp_path):  # noqa: ANN201
    lg = LabelGraph(TASK, llm="none", annotator="oracle", budget=Budget(labels=100),
                    run_dir=tmp_path / "run", embedding="hashing")
    pool = make_pool()
    lg.add_pool(pool, label_column="label")
    context = lg.context
    rows = pool.iloc[:30]
    context.memory.upsert([Example(id=f"m{i}", text=t, label=lab, source="oracle",
                                   confidence=1.0, round=1)
                           for i, (t, lab) in enumerate(zip(rows.text, rows.label,
                                                            strict=True))])
    from labelgraph.agents.learner import learn

    learn(context, 1)
    return context


def test_verifier_flags_a_label_that_neighbours_and_student_dispute(ctx):
    pool = ctx.store.pool()
    wrong = {"id": pool.ids[40], "text": pool.texts[40], "origin": "pool", "intended": None,
             "label": "negative" if pool.gold[40] == "positive" else "positive",
             "source": "llm", "confidence": 0.9}
    right = {**wrong, "id": pool.ids[41], "text": pool.texts[41], "label": pool.gold[41]}
    odd = {**wrong, "id": pool.ids[42], "text": pool.texts[42], "label": "neutral"}
    out = {i["id"]: i for i in verify(ctx, [wrong, right, odd], round_=2)}
    assert out[wrong["id"]]["verdict"] == "flag" and "point to 'positive'" in \
        out[wrong["id"]]["reason"]
    assert out[right["id"]]["verdict"] == "accept"
    assert out[odd["id"]]["verdict"] == "reject"
    flagged, _ = ctx.memory.all(status="flagged")
    assert [e.id for e in flagged] == [wrong["id"]]  # an LLM label under dispute: kept apart


@pytest.mark.parametrize(("source", "verdict"), [("llm", "flag"), ("oracle", "accept")])
def test_verifier_never_suspects_a_gold_label(ctx, source, verdict):
    pool = ctx.store.pool()
    odd = {"id": pool.ids[40], "text": pool.texts[40], "origin": "pool", "intended": None,
           "label": "negative" if pool.gold[40] == "positive" else "positive",
           "source": source, "confidence": 1.0}
    # the same label on the same text: disputed when a model gave it, kept when it is gold
    (out,) = verify(ctx, [odd], round_=2)
    assert out["verdict"] == verdict
    assert (out["reason"] == "ok") == (source == "oracle")


def test_generator_drops_near_duplicates_of_pool_memory_and_each_other(ctx):
    pool = ctx.store.pool()
    fresh = "an entirely new kind of review about submarines and opera"
    texts = [pool.texts[50], ctx.memory.all()[0][0].text, fresh, fresh + "!"]
    kept, emb, dropped = drop_near_duplicates(ctx, texts)
    assert kept == [fresh] and dropped == 3 and emb.shape[0] == 1


def _signals(**kw) -> Signals:  # noqa: ANN003
    base = dict(round=5, labeled=40, label_counts={"positive": 20, "negative": 20},
                spent={"labels": 40, "tokens": 0, "usd": 0.0},
                budget=Budget(labels=100, usd=1.0), unlabeled=100, has_model=True,
                accuracy=0.8, curve_slope=0.01, rejection_rate=0.0, synth_acceptance=None,
                rounds_since_synth=1, idle_rounds=0, can_synthesize=True, proposals={})
    return Signals(**{**base, **kw})


CRITERIA = tuple((name, registry.create("stopping", name))
                 for name in (*GUARDRAIL_CRITERIA, "stabilizing_predictions"))
STRATEGIES = registry.names("strategies")
LABELS = ("positive", "negative")


def _guard(decision, signals, config=RunConfig()):  # noqa: ANN001, ANN202, B008
    return guard(decision, signals, config, LABELS, CRITERIA, STRATEGIES)


def test_rule_policy_decisions():
    policy, config = RulePolicy(), RunConfig()
    assert policy.decide(_signals(has_model=False), config).strategy == "cold_start"
    rare = policy.decide(_signals(label_counts={"positive": 36, "negative": 4}), config)
    assert rare.action == "synthesize" and rare.target_labels == ["negative"]
    assert policy.decide(_signals(), config).action == "query"
    gen = {"generator": Proposal(agent="generator", action="query", reason="rejected")}
    decision = policy.decide(_signals(rounds_since_synth=9, proposals=gen), config)
    assert decision.action == "query" and decision.followed == ["generator"]
    sel = {"selector": Proposal(agent="selector", action="synthesize", reason="all certain")}
    decision = policy.decide(_signals(proposals=sel), config)
    assert decision.action == "synthesize" and decision.followed == ["selector"]


def test_guardrails_win():
    config = RunConfig()
    synth = RulePolicy().decide(_signals(rounds_since_synth=9), config)
    assert synth.action == "synthesize"
    spent = {"labels": 40, "tokens": 0, "usd": 1.0}
    stop = _guard(synth, _signals(spent=spent))
    assert stop.action == "stop" and stop.criteria == ["usd_budget"]
    assert _guard(synth, _signals(can_synthesize=False)).action == "query"
    big = synth.model_copy(update={"action": "query", "batch_size": 500, "strategy": "nope"})
    fixed = _guard(big, _signals(spent={"labels": 93, "tokens": 0, "usd": 0.0}))
    assert fixed.batch_size == 7 and fixed.strategy == config.strategy
    assert _guard(big, _signals(idle_rounds=3)).action == "stop"


def test_a_stop_names_every_criterion_that_voted():
    signals = _signals(spent={"labels": 100, "tokens": 0, "usd": 1.0}, idle_rounds=3,
                       kappas=[0.995, 1.0, 0.999])
    stop = _guard(RulePolicy().decide(signals, RunConfig()), signals)
    assert stop.action == "stop"
    assert stop.criteria == ["label_budget", "usd_budget", "patience", "stabilizing_predictions"]
    assert "budget exhausted: labels" in stop.reason and "stabilized" in stop.reason


def test_stabilizing_predictions_waits_for_the_window_and_min_rounds():
    criterion, config = registry.create("stopping", "stabilizing_predictions"), RunConfig()
    assert criterion.stop(_signals(kappas=[0.5, 0.995, 1.0]), config) is None
    assert criterion.stop(_signals(kappas=[None, 1.0, 1.0, 1.0]), config)
    assert criterion.stop(_signals(round=2, kappas=[1.0, 1.0, 1.0]), config) is None


def test_one_batch_size_default():
    """The supervisor's decision and the run config agree on the batch size."""
    config = RunConfig()
    decision = RulePolicy().decide(_signals(), config)
    assert decision.batch_size is None  # "the run's own batch size"
    assert _guard(decision, _signals()).batch_size == config.batch_size == 20


def test_provider_spec_without_its_package_says_how_to_install(monkeypatch):
    import builtins

    real = builtins.__import__

    def fake(name, *args, **kw):  # noqa: ANN001, ANN002, ANN003, ANN202
        if name.startswith("langchain.chat_models") or name == "langchain":
            raise ImportError("no langchain")
        return real(name, *args, **kw)

    monkeypatch.setattr(builtins, "__import__", fake)
    with pytest.raises(ModelNotInstalledError, match=r"labelgraph\[openai\]"):
        resolve_llm("openai:gpt-4o-mini")
    assert resolve_llm("none") is None
