"""The learner's stopping signals: changed predictions and uncertainty on the stop set, and
cross-validated accuracy only when the accuracy plateau is used or watched."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import cohen_kappa_score, f1_score

from labelgraph import Budget, LabelGraph, Task
from labelgraph.agents.learner import cv_accuracy, kappa, macro_f1, stop_set_rows
from labelgraph.student import default_student, proba_in_order

TASK = Task(labels=["positive", "negative"], description="movie review sentiment")
CONFIG = {"seed_size": 6, "batch_size": 8, "synthesize": False, "stopping": (),
          "stop_set_size": 20}


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


def test_features_read_from_the_pool_equal_a_fresh_transform(tmp_path, pool):
    lg = run(tmp_path / "run", pool)
    store = lg.context.store
    items = store.pool()
    texts = [items.texts[3], "a text that is not in the pool at all", items.texts[0]]
    emb = np.vstack([items.embeddings[3], lg.context.embedding.embed([texts[1]])[0],
                     items.embeddings[0] + 1.0])  # the last: another embedding, recomputed
    got = store.features(texts, emb)
    want = store.featurizer().transform(texts, emb)
    assert got.shape == want.shape and abs(got - want).max() <= 1e-12  # the pool's matrix
    lg.close()                                                   # came from fit_transform


@pytest.mark.parametrize("tfidf", [True, False])
def test_featurizer_fit_transform_is_fit_then_transform(tfidf: bool) -> None:
    from labelgraph.data import load_rotten_tomatoes
    from labelgraph.student import Featurizer

    texts = load_rotten_tomatoes()["text"].tolist()[:2000]
    emb = np.random.default_rng(0).normal(size=(len(texts), 16))
    once = Featurizer(tfidf=tfidf, tfidf_weight=0.5).fit_transform(texts, emb)
    fitted = Featurizer(tfidf=tfidf, tfidf_weight=0.5).fit(texts)
    twice = fitted.transform(texts, emb)
    assert once.shape == twice.shape == (2000, 16 + (len(fitted.vectorizer_.vocabulary_)
                                                    if tfidf else 0))
    assert abs(once - twice).max() <= 1e-12 and abs(once).sum() > 0
    tiny = Featurizer().fit_transform(["one text", "another"], emb[:2])  # every term once
    assert tiny.shape[0] == 2 and tiny.shape[1] > 16


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
