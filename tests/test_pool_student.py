"""The student that learns from the pool (``pool_learning="self_training"``): a pure piece
over arrays that sees only labeled and unlabeled pool features, whose pseudo-labels never
reach memory or the ledger; ``"off"`` is the student of before."""

from __future__ import annotations

import functools

import numpy as np
import pytest
from scipy import sparse
from sklearn.linear_model import LogisticRegression

import labelgraph.agents.learner as learner
import labelgraph.student as student
from labelgraph import Budget, LabelGraph, Task
from labelgraph.student import default_student, fit_student, pseudo_labels, self_train

TASK = Task(labels=["positive", "negative"], description="movie review sentiment")
CONFIG = {"seed_size": 6, "batch_size": 8, "synthesize": False, "stopping": ()}


class Recording(LogisticRegression):
    """Logistic regression that keeps what each fit was given (on the class: clones)."""

    calls: list[tuple[tuple[int, int], np.ndarray | None]] = []

    def fit(self, X, y, sample_weight=None):  # noqa: ANN001, ANN201, N803
        Recording.calls.append((X.shape, None if sample_weight is None
                                else np.asarray(sample_weight)))
        return super().fit(X, y, sample_weight=sample_weight)


def blobs(n: int, seed: int) -> tuple[sparse.csr_matrix, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = np.array(["a", "b"] * (n // 2))
    x = rng.normal(size=(n, 4)) + np.where(y == "a", 3.0, -3.0)[:, None]
    return sparse.csr_matrix(x), y


def test_pseudo_labels_keep_only_the_confident_and_at_most_k_per_class() -> None:
    proba = np.array([[0.95, 0.05], [0.99, 0.01], [0.97, 0.03], [0.6, 0.4], [0.02, 0.98]])
    rows, labels = pseudo_labels(proba, np.array(["a", "b"]), threshold=0.9, per_class=2)
    assert rows.tolist() == [1, 2, 4]  # the two most confident "a"s and the one "b"
    assert labels.tolist() == ["a", "a", "b"]
    rows, _ = pseudo_labels(proba, np.array(["a", "b"]), threshold=0.999, per_class=5)
    assert rows.size == 0


def test_self_training_refits_on_labels_and_down_weighted_pool_rows_only() -> None:
    x, y = blobs(10, 0)
    pool, _ = blobs(40, 1)
    Recording.calls = []
    model = self_train(Recording(), x, list(y), pool, threshold=0.9, weight=0.3)
    assert list(model.classes_) == ["a", "b"]
    (first, w1), (second, w2) = Recording.calls
    assert first == (10, 4) and w1 is None  # the labels alone first
    extra = second[0] - 10
    assert 0 < extra <= 10  # at most as many pseudo-labels as real ones, by default
    assert second[1] == 4  # features of labels and pool rows, nothing else
    assert np.all(w2[:10] == 1.0) and np.all(w2[10:] == 0.3)


def test_self_training_without_a_confident_pool_is_the_plain_student() -> None:
    x, y = blobs(10, 0)
    model = self_train(default_student(), x, list(y), sparse.csr_matrix((0, 4)))
    plain = fit_student(default_student(), x, list(y))
    assert np.array_equal(model.coef_, plain.coef_)


def run(tmp_path, pool, **config) -> LabelGraph:  # noqa: ANN001
    lg = LabelGraph(TASK, llm="none", annotator="oracle", budget=Budget(labels=30),
                    run_dir=tmp_path, embedding="hashing", config={**CONFIG, **config})
    lg.run(pool.iloc[:40], test=pool.iloc[40:], label_column="label")
    return lg


def test_pseudo_labels_never_reach_memory_or_the_ledger_nor_see_the_test_split(
        tmp_path, pool, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[int, int]] = []
    picked: list[int] = []

    def spy_self_train(prototype, features, labels, unlabeled, **kw):  # noqa: ANN001, ANN202
        seen.append((len(labels), unlabeled.shape[0]))
        return self_train(prototype, features, labels, unlabeled, **kw)

    def spy_pseudo(*args, **kw):  # noqa: ANN002, ANN003, ANN202
        rows, labels = pseudo_labels(*args, **kw)
        picked.append(len(rows))
        return rows, labels

    monkeypatch.setattr(learner, "self_train", functools.partial(spy_self_train, threshold=0.5))
    monkeypatch.setattr(student, "pseudo_labels", spy_pseudo)
    lg = run(tmp_path / "run", pool, pool_learning="self_training")
    ctx = lg.context
    n_pool = len(ctx.store.pool())
    assert n_pool == 40 and seen and sum(picked) > 0  # pseudo-labels were used
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

    default = run(tmp_path / "default", pool)
    curve = [m["accuracy"] for m in default.context.ledger.metrics()]
    coef = default.context.store.model().coef_
    default.close()
    monkeypatch.setattr(learner, "self_train", never)
    off = run(tmp_path / "off", pool, pool_learning="off")
    assert off.context.config.pool_learning == "off"
    assert [m["accuracy"] for m in off.context.ledger.metrics()] == curve
    assert np.array_equal(off.context.store.model().coef_, coef)
    off.close()
