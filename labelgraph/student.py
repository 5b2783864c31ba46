"""The student model: any scikit-learn classifier with ``predict_proba`` over our features.

Features are the embeddings the memory already computes, with TF-IDF of the text beside
them (measured on Rotten Tomatoes: MiniLM embeddings beat TF-IDF alone; both together are
the default). The TF-IDF vocabulary is fitted once on the whole unlabeled pool.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import Any

import numpy as np
from scipy import sparse
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from threadpoolctl import ThreadpoolController

from labelgraph.errors import InputError


class Featurizer(BaseEstimator, TransformerMixin):
    """Embeddings, optionally beside TF-IDF of the texts, as one sparse feature matrix."""

    def __init__(self, tfidf: bool = True, tfidf_weight: float = 1.0,
                 max_features: int = 20000) -> None:
        self.tfidf = tfidf
        self.tfidf_weight = tfidf_weight
        self.max_features = max_features

    def fit(self, texts: Sequence[str], y: Any = None) -> Featurizer:
        self._fit_words(texts)
        return self

    def _fit_words(self, texts: Sequence[str]) -> sparse.csr_matrix | None:
        """Fit the TF-IDF vocabulary; returns the texts' TF-IDF (None without TF-IDF)."""
        if not self.tfidf:
            return None
        self.vectorizer_ = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True,
                                           max_features=self.max_features)
        try:
            return self.vectorizer_.fit_transform(list(texts))
        except ValueError:  # tiny pools: every term appears once
            self.vectorizer_ = TfidfVectorizer(sublinear_tf=True)
            return self.vectorizer_.fit_transform(list(texts))

    def transform(self, texts: Sequence[str], embeddings: np.ndarray) -> sparse.csr_matrix:
        words = self.vectorizer_.transform(list(texts)) if self.tfidf else None
        return self._join(embeddings, words)

    def fit_transform(self, texts: Sequence[str],  # type: ignore[override]
                      embeddings: np.ndarray) -> sparse.csr_matrix:
        """``fit(texts).transform(texts, embeddings)`` in one pass over the texts (tokenizing
        a pool is most of the work: on the 10 201 review snippets with their embeddings,
        1.08 s became 0.65 s; benchmarks/graph_parts.py)."""
        return self._join(embeddings, self._fit_words(texts))

    def _join(self, embeddings: np.ndarray,
              words: sparse.csr_matrix | None) -> sparse.csr_matrix:
        dense = sparse.csr_matrix(np.asarray(embeddings, dtype=np.float64))
        if words is None:
            return dense
        return sparse.hstack([dense, words * self.tfidf_weight], format="csr")


def default_student() -> LogisticRegression:
    """Logistic regression: fast, calibrated enough for uncertainty sampling."""
    return LogisticRegression(C=4.0, max_iter=2000)


def check_student(estimator: Any) -> Any:
    """Accept any scikit-learn classifier that can estimate class probabilities."""
    if not hasattr(estimator, "fit") or not hasattr(estimator, "predict_proba"):
        raise InputError(
            f"the student must be a scikit-learn classifier with fit and predict_proba, got "
            f"{type(estimator).__name__}")
    return estimator


_CONTROLLER: ThreadpoolController | None = None


def fitting(estimator: Any) -> AbstractContextManager[Any]:
    """Where to fit (or cross-validate) a student: a linear one with BLAS on one thread.

    Its solver calls BLAS only on small vectors (L-BFGS-B's updates), where waking a thread
    pool costs more than it saves: on 2 loaded cores a 525-label fit on the default features
    took 2.25 s with OpenBLAS's threads and 0.22 s on one (benchmarks/graph_overhead.py).
    Other students keep the library's threads.
    """
    global _CONTROLLER
    if not type(estimator).__module__.startswith("sklearn.linear_model"):
        return nullcontext()
    if _CONTROLLER is None:
        _CONTROLLER = ThreadpoolController()
    return _CONTROLLER.limit(limits=1, user_api="blas")


def fit_student(prototype: Any, features: sparse.csr_matrix, labels: Sequence[str],
                previous: Any = None) -> Any:
    """A fresh clone of the prototype fitted on the features; needs at least two classes.

    A prototype built with ``warm_start=True`` (scikit-learn's own switch) starts from the
    ``previous`` student's coefficients when it saw the same classes and features: fewer
    solver iterations per round, a solution within the solver's tolerance.
    """
    y = np.asarray(labels)
    if len(set(labels)) < 2:
        raise ValueError("the student needs at least two classes to fit")
    model = clone(prototype)
    if getattr(prototype, "warm_start", False) and previous is not None \
            and type(previous) is type(model) and hasattr(previous, "coef_") \
            and np.array_equal(np.asarray(previous.classes_), np.unique(y)) \
            and getattr(previous, "n_features_in_", None) == features.shape[1]:
        model.coef_ = previous.coef_.copy()
        if hasattr(previous, "intercept_"):
            model.intercept_ = np.copy(previous.intercept_)
    with fitting(model):
        return model.fit(features, y)


def proba_in_order(model: Any, features: sparse.csr_matrix, labels: Sequence[str]) -> np.ndarray:
    """predict_proba with columns in the task's label order (zeros for unseen classes)."""
    raw = model.predict_proba(features)
    out = np.zeros((raw.shape[0], len(labels)), dtype=np.float64)
    col = {str(c): j for j, c in enumerate(model.classes_)}
    for i, label in enumerate(labels):
        if label in col:
            out[:, i] = raw[:, col[label]]
    return out


def pseudo_labels(proba: np.ndarray, classes: np.ndarray, threshold: float,
                  per_class: int) -> tuple[np.ndarray, np.ndarray]:
    """The confident part of a pool: (rows, labels) of the items whose top probability is at
    least ``threshold``, the ``per_class`` most confident of each predicted class at most
    (so a class the student already favours cannot flood the refit)."""
    top = proba.argmax(1)
    best = proba[np.arange(len(proba)), top]
    rows: list[np.ndarray] = []
    for j in range(len(classes)):
        mine = np.flatnonzero((top == j) & (best >= threshold))
        rows.append(mine[np.argsort(-best[mine], kind="stable")[:per_class]])
    chosen = np.sort(np.concatenate(rows)) if rows else np.zeros(0, dtype=np.int64)
    return chosen, np.asarray(classes)[top[chosen]]


def spread_labels(graph: sparse.csr_matrix, rows: np.ndarray, codes: np.ndarray,
                  n_classes: int, alpha: float = 0.9, iterations: int = 30) -> np.ndarray:
    """Label spreading over a neighbour graph (Zhou et al., 2004): each row's class
    distribution, from the labeled ``rows`` (class ``codes``) passed along the graph's
    symmetric-normalised edges, ``alpha`` of each step from the neighbours and the rest from
    the row's own label. Rows the labels cannot reach get a uniform distribution."""
    n = graph.shape[0]
    seeds = np.zeros((n, n_classes))
    seeds[np.asarray(rows, dtype=np.int64), np.asarray(codes, dtype=np.int64)] = 1.0
    degree = np.asarray(graph.sum(axis=1)).ravel()
    scale = np.divide(1.0, np.sqrt(degree), out=np.zeros_like(degree), where=degree > 0)
    walk = sparse.diags(scale) @ graph @ sparse.diags(scale)
    spread = seeds.copy()
    for _ in range(iterations):
        spread = alpha * (walk @ spread) + (1.0 - alpha) * seeds
    total = spread.sum(axis=1, keepdims=True)
    return np.divide(spread, total, out=np.full_like(spread, 1.0 / n_classes),
                     where=total > 0)


def self_train(prototype: Any, features: sparse.csr_matrix, labels: Sequence[str],
               unlabeled: sparse.csr_matrix, threshold: float = 0.5, weight: float = 0.5,
               per_class: int | None = None, proba: np.ndarray | None = None,
               classes: Sequence[str] | None = None) -> Any:
    """Self-training on the unlabeled pool: the student fitted on the labels and, at
    ``sample_weight`` ``weight`` (real labels weigh 1), on the confident predictions
    (:func:`pseudo_labels`) of a student on the ``unlabeled`` rows. That student's
    probabilities are ``proba`` (columns in ``classes`` order) when given — the learner
    passes the previous round's, already computed for the selector, so a round costs one
    fit — else those of a first fit on the labels alone. ``per_class`` defaults to the mean
    number of real labels per class: pseudo-labels never outnumber real ones. They live only
    inside this fit. A student whose ``fit`` takes no ``sample_weight``, or a pool with no
    confident row, gives the student fitted on the labels alone."""
    from sklearn.utils.validation import has_fit_parameter

    y = np.asarray(labels)
    if proba is None or classes is None or len(proba) != unlabeled.shape[0]:
        if unlabeled.shape[0] == 0 or not has_fit_parameter(prototype, "sample_weight"):
            return fit_student(prototype, features, labels)
        base = fit_student(prototype, features, labels)
        with fitting(base):
            proba = base.predict_proba(unlabeled)
        classes = list(base.classes_)
    names = np.asarray(classes)
    cap = per_class if per_class is not None else max(1, len(y) // len(set(labels)))
    rows, pseudo = pseudo_labels(proba, names, threshold, cap)
    if not len(rows) or not has_fit_parameter(prototype, "sample_weight"):
        return fit_student(prototype, features, labels)
    model = clone(prototype)
    weights = np.concatenate([np.ones(len(y)), np.full(len(rows), weight)])
    with fitting(model):
        return model.fit(sparse.vstack([features, unlabeled[rows]], format="csr"),
                         np.concatenate([y, pseudo]), sample_weight=weights)
