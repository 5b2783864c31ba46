"""The other libraries in the bench: small-text's and modAL's own query strategies, run in a
plain loop on the same features, student, seed items and schedule as labelgraph's runs."""

from __future__ import annotations

import contextlib
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from labelgraph.bench.result import Curve, Schedule
from labelgraph.data import PoolData
from labelgraph.memory.pool import PoolStore
from labelgraph.student import Featurizer, default_student
from labelgraph.types import Task

__all__ = ["COMPARE_STRATEGIES", "MODAL", "SMALL_TEXT", "Features", "available_libraries",
           "modal_shim", "run_other"]

# The other libraries' strategies, by the name the bench shows: (library, class or function).
SMALL_TEXT = {"small-text:breaking_ties": "BreakingTies",
              "small-text:prediction_entropy": "PredictionEntropy",
              "small-text:greedy_coreset": "GreedyCoreset",
              "small-text:embedding_kmeans": "EmbeddingKMeans"}
MODAL = {"modAL:uncertainty_sampling": "uncertainty_sampling",
         "modAL:margin_sampling": "margin_sampling",
         "modAL:entropy_sampling": "entropy_sampling"}
COMPARE_STRATEGIES = (*SMALL_TEXT, *MODAL)


@dataclass
class Features:
    """One seed's pool and test as the run sees them: the same rows, embeddings (through
    the cache) and featurizer, with labels coded as integers in the task's order."""

    x: Any
    y: np.ndarray
    emb: np.ndarray
    ids: list[str]
    x_test: Any
    y_test: np.ndarray

    @classmethod
    def build(cls, task: Task, pool: PoolData, test: PoolData, embedding: Any,
              cache: Path | None, tfidf: bool) -> Features:
        code = {label: i for i, label in enumerate(task.labels)}
        with tempfile.TemporaryDirectory(prefix="bench-features-") as tmp:
            stores = []
            for name, data in (("pool", pool), ("test", test)):
                PoolStore.write(Path(tmp), name, data.texts, data.gold)
                stores.append(PoolStore.open(Path(tmp), name, embedding, cache_dir=cache,
                                             write=cache is not None))
        p, t = stores
        featurizer = Featurizer(tfidf=tfidf)
        return cls(x=featurizer.fit_transform(p.texts, p.embeddings),
                   y=np.array([code[g] for g in p.gold or []]), emb=p.embeddings, ids=p.ids,
                   x_test=featurizer.transform(t.texts, t.embeddings),
                   y_test=np.array([code[g] for g in t.gold or []]))


@contextlib.contextmanager
def modal_shim() -> Iterator[None]:
    """modAL 0.4.2 passes ``force_all_finite`` to scikit-learn's check_X_y, which recent
    scikit-learn renamed ``ensure_all_finite``: translate it, only while the comparison runs."""
    import modAL.models.learners as learners
    from sklearn.utils import check_X_y

    def translated(*args: Any, **kwargs: Any) -> Any:
        if "force_all_finite" in kwargs:
            value = kwargs.pop("force_all_finite")
            try:
                return check_X_y(*args, force_all_finite=value, **kwargs)
            except TypeError:
                return check_X_y(*args, ensure_all_finite=value, **kwargs)
        return check_X_y(*args, **kwargs)

    original = learners.check_X_y
    learners.check_X_y = translated
    try:
        yield
    finally:
        learners.check_X_y = original


def _evaluate(predict: Callable[[Any], np.ndarray], f: Features,
              k: int) -> tuple[float, float]:
    from sklearn.metrics import accuracy_score, f1_score

    pred = predict(f.x_test)
    return (float(accuracy_score(f.y_test, pred)),
            float(f1_score(f.y_test, pred, average="macro", labels=list(range(k)),
                           zero_division=0)))


def run_other(name: str, f: Features, seed_rows: np.ndarray, seed: int, schedule: Schedule,
               k: int) -> Curve:
    """A small-text or modAL strategy in a hand-written loop: the library's learner fits the
    student on the labeled rows, we evaluate it, its strategy picks the next batch."""
    library = name.split(":")[0]
    curve = Curve(library, name.split(":", 1)[1], seed)
    rng = np.random.default_rng(seed)
    labeled = np.zeros(len(f.y), dtype=bool)
    labeled[seed_rows] = True
    adapter = _SmallText(name, f, k) if library == "small-text" else _ModAL(name, f)
    start = time.perf_counter()
    for round_ in range(schedule.rounds + 1):
        classes = np.unique(f.y[labeled])
        fitted = classes.size >= 2
        if fitted:
            acc, f1 = _evaluate(adapter.fit(labeled), f, k)
        else:  # one class seen: the student can only say that class
            acc, f1 = _evaluate(lambda x, c=classes[0]: np.full(x.shape[0], c), f, k)
        curve.labels.append(int(labeled.sum()))
        curve.accuracy.append(acc)
        curve.macro_f1.append(f1)
        unlabeled = np.flatnonzero(~labeled)
        n = min(schedule.batch, unlabeled.size)
        if round_ == schedule.rounds or n == 0:
            break
        t0 = time.perf_counter()
        chosen = adapter.query(labeled, n) if fitted else rng.choice(unlabeled, n, replace=False)
        curve.query_seconds.append(time.perf_counter() - t0)
        labeled[np.asarray(chosen, dtype=np.int64)] = True
    curve.seconds = time.perf_counter() - start
    return curve


class _SmallText:
    """small-text's SklearnClassifier around a fresh student each round, and its strategy
    (embedding-based ones get the same MiniLM embeddings labelgraph uses)."""

    EMBEDDED = ("small-text:greedy_coreset", "small-text:embedding_kmeans")

    def __init__(self, name: str, f: Features, k: int) -> None:
        import small_text

        self.st, self.f, self.k = small_text, f, k
        self.strategy = getattr(small_text, SMALL_TEXT[name])()
        self.dataset = small_text.SklearnDataset(f.x, f.y)
        self.embedded = name in self.EMBEDDED
        self.clf: Any = None

    def fit(self, labeled: np.ndarray) -> Callable[[Any], np.ndarray]:
        from sklearn.base import clone

        self.clf = self.st.SklearnClassifier(clone(default_student()), self.k)
        self.clf.fit(self.dataset[np.flatnonzero(labeled)])
        return self.clf.model.predict

    def query(self, labeled: np.ndarray, n: int) -> np.ndarray:
        lab, unl = np.flatnonzero(labeled), np.flatnonzero(~labeled)
        kwargs = {"embeddings": self.f.emb[np.concatenate([unl, lab])]} if self.embedded else {}
        return self.strategy.query(self.clf, self.dataset, unl, lab, self.f.y[lab], n=n,
                                   **kwargs)


class _ModAL:
    """modAL's ActiveLearner: created on the seed, taught each new batch (it refits the
    student on everything it was taught), queried on the unlabeled rows."""

    def __init__(self, name: str, f: Features) -> None:
        import modAL.uncertainty

        self.function = getattr(modAL.uncertainty, MODAL[name])
        self.f = f
        self.learner: Any = None
        self.taught = np.zeros(len(f.y), dtype=bool)

    def fit(self, labeled: np.ndarray) -> Callable[[Any], np.ndarray]:
        from modAL.models import ActiveLearner
        from sklearn.base import clone

        new = np.flatnonzero(labeled & ~self.taught)
        if self.learner is None:
            self.learner = ActiveLearner(estimator=clone(default_student()),
                                         query_strategy=self.function,
                                         X_training=self.f.x[new], y_training=self.f.y[new])
        elif new.size:
            self.learner.teach(self.f.x[new], self.f.y[new])
        self.taught |= labeled
        return self.learner.predict

    def query(self, labeled: np.ndarray, n: int) -> np.ndarray:
        unl = np.flatnonzero(~labeled)
        idx, _ = self.learner.query(self.f.x[unl], n_instances=n)
        return unl[np.asarray(idx, dtype=np.int64)]


def available_libraries() -> dict[str, str | None]:
    """Which comparison libraries import here: name -> None, or why not."""
    out: dict[str, str | None] = {}
    for library, module in (("small-text", "small_text"), ("modAL", "modAL")):
        try:
            __import__(module)
            out[library] = None
        except Exception as exc:  # ImportError, or a broken dependency of theirs
            out[library] = f"{type(exc).__name__}: {exc}"
    return out
