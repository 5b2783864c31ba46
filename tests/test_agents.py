"""Agents as units on a real (small) run context: verifier flags, generator dedupe, policy."""

from __future__ import annotations

import pytest

from conftest import make_pool
from labelgraph import Budget, LabelGraph, Task
from labelgraph.agents.generator import drop_near_duplicates
from labelgraph.agents.supervisor import RulePolicy, Signals, guard
from labelgraph.agents.verifier import verify
from labelgraph.errors import ModelNotInstalledError
from labelgraph.graph.context import RunConfig
from labelgraph.llm import resolve_llm
from labelgraph.memory.examples import Example

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
    pool = ctx.pool()
    wrong = {"id": pool.ids[40], "text": pool.texts[40], "origin": "pool", "intended": None,
             "label": "negative" if pool.gold[40] == "positive" else "positive",
             "source": "llm", "confidence": 0.9}
    right = {**wrong, "id": pool.ids[41], "text": pool.texts[41], "label": pool.gold[41]}
    odd = {**wrong, "id": pool.ids[42], "text": pool.texts[42], "label": "neutral"}
    out = {i["id"]: i for i in verify(ctx, [wrong, right, odd], round_=2)}
    assert out[wrong["id"]]["verdict"] == "flag" and "neighbours say" in \
        out[wrong["id"]]["reason"]
    assert out[right["id"]]["verdict"] == "accept"
    assert out[odd["id"]]["verdict"] == "reject"
    flagged, _ = ctx.memory.all(status="flagged")
    assert [e.id for e in flagged] == [wrong["id"]]  # an LLM label under dispute: kept apart


def test_generator_drops_near_duplicates_of_pool_memory_and_each_other(ctx):
    pool = ctx.pool()
    fresh = "an entirely new kind of review about submarines and opera"
    texts = [pool.texts[50], ctx.memory.all()[0][0].text, fresh, fresh + "!"]
    kept, emb, dropped = drop_near_duplicates(ctx, texts)
    assert kept == [fresh] and dropped == 3 and emb.shape[0] == 1


def _signals(**kw) -> Signals:  # noqa: ANN003
    base = dict(round=5, labeled=40, label_counts={"positive": 20, "negative": 20},
                labels_left=60, exhausted=None, unlabeled=100, has_model=True, accuracy=0.8,
                curve_slope=0.01, rejection_rate=0.0, synth_acceptance=None,
                rounds_since_synth=1, idle_rounds=0, can_synthesize=True,
                max_rounds_reached=False, proposals={})
    return Signals(**{**base, **kw})


def test_rule_policy_decisions():
    policy, config = RulePolicy(), RunConfig()
    assert policy.decide(_signals(has_model=False), config).strategy == "cold_start"
    rare = policy.decide(_signals(label_counts={"positive": 36, "negative": 4}), config)
    assert rare.action == "synthesize" and rare.target_labels == ["negative"]
    assert policy.decide(_signals(), config).action == "query"
    stop = {"learner": {"agent": "learner", "action": "stop", "reason": "stable"}}
    assert policy.decide(_signals(proposals=stop), config).action == "stop"
    gen = {"generator": {"agent": "generator", "action": "query", "reason": "rejected"}}
    decision = policy.decide(_signals(rounds_since_synth=9, proposals=gen), config)
    assert decision.action == "query" and decision.followed == ["generator"]


def test_guardrails_win():
    config, labels = RunConfig(), ("positive", "negative")
    synth = RulePolicy().decide(_signals(rounds_since_synth=9), config)
    assert synth.action == "synthesize"
    assert guard(synth, _signals(exhausted="usd"), config, labels).action == "stop"
    assert guard(synth, _signals(can_synthesize=False), config, labels).action == "query"
    big = synth.model_copy(update={"action": "query", "batch_size": 500, "strategy": "nope"})
    fixed = guard(big, _signals(labels_left=7), config, labels)
    assert fixed.batch_size == 7 and fixed.strategy == config.strategy
    assert guard(big, _signals(idle_rounds=3), config, labels).action == "stop"


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
