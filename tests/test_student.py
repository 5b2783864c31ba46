"""The student (labelgraph.student): the pure pieces of the student that learns from the
pool (``pool_learning="self_training"`` and ``"label_spreading"``, with the neighbour graph
of labelgraph.geometry), over arrays that hold only labeled and unlabeled
pool features, and the featurizer, whose fit_transform is fit then transform. (The learner
that uses them, and keeps pseudo-labels out of memory and the ledger: test_agents.py.)"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import sparse
from sklearn.linear_model import LogisticRegression

from labelgraph.geometry import knn_graph
from labelgraph.student import (
    default_student,
    fit_student,
    pseudo_labels,
    self_train,
    spread_labels,
)


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


# -- the featurizer ------------------------------------------------------------------------
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


def test_knn_graph_links_each_row_to_its_nearest_by_cosine_symmetrically() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 8)).astype(np.float32)
    graph = knn_graph(x, k=5)
    assert graph.shape == (300, 300) and (graph != graph.T).nnz == 0
    assert graph.diagonal().sum() == 0  # no self loops
    unit = x / np.linalg.norm(x, axis=1, keepdims=True)
    sims = unit @ unit.T
    np.fill_diagonal(sims, -np.inf)
    for row in (0, 17, 299):  # every row reaches its own 5 nearest, weighted by similarity
        nearest = np.argsort(-sims[row])[:5]
        assert set(nearest) <= set(graph[row].indices)
        np.testing.assert_allclose(graph[row, nearest].toarray().ravel(),
                                   np.maximum(sims[row, nearest], 0), rtol=1e-5)
    assert knn_graph(x[:1], k=5).nnz == 0  # one row has no neighbour


def test_label_spreading_follows_the_pool_s_clusters_not_the_nearest_label() -> None:
    """Two moons of points: a label spreads along its own chain, so a point nearer the other
    class's only label (in a straight line) still gets the label of its chain."""
    t = np.linspace(0, np.pi, 60)
    upper = np.c_[np.cos(t), np.sin(t)]
    lower = np.c_[1 - np.cos(t), 0.4 - np.sin(t)]
    x = np.vstack([upper, lower])
    # lifted to a plane at height 10: cosine neighbours are the plane's nearest points
    graph = knn_graph(np.c_[x, np.full(len(x), 10.0)], k=4)
    truth = np.r_[np.zeros(60), np.ones(60)]
    # the labels sit mid-chain; the upper chain's end (1, 0) is 0.6 from the lower label
    # (1, -0.6) and 1.4 from its own (0, 1)
    assert np.linalg.norm(x[0] - x[90]) < np.linalg.norm(x[0] - x[30])
    proba = spread_labels(graph, np.array([30, 90]), np.array([0, 1]), 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert (proba.argmax(1) == truth).all()  # the nearest label would get 15 % wrong
    far = spread_labels(graph, np.zeros(0, dtype=int), np.zeros(0, dtype=int), 2)
    np.testing.assert_allclose(far, 0.5)  # no label reaches: uniform, not NaN
