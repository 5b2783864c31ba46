"""Query strategies: small pure objects over arrays, unit-testable without an LLM.

A strategy gets the student's class probabilities for the pool (``None`` before the first
student), the pool embeddings, a mask of rows already labeled, a count and a random
generator, and returns up to ``n`` unlabeled row indices, best first. Uncertainty
strategies are a score over probabilities; diversity is a wrapper over any base strategy.
Register your own under a name with ``labelgraph.registry.register("strategies", ...)`` or
the ``labelgraph.strategies`` entry-point group.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np

__all__ = ["ClusterSeed", "Diverse", "Entropy", "LeastConfidence", "Margin", "RandomStrategy",
           "Strategy", "diverse_margin", "top_unlabeled"]


@runtime_checkable
class Strategy(Protocol):
    """What the selector calls. ``needs_model``: it cannot run before the first student."""

    needs_model: bool

    def select(self, probs: np.ndarray | None, embeddings: np.ndarray, labeled: np.ndarray,
               n: int, rng: np.random.Generator) -> np.ndarray:
        """Up to ``n`` unlabeled row indices, best first."""
        ...


def top_unlabeled(scores: np.ndarray, labeled: np.ndarray, n: int) -> np.ndarray:
    """Indices of the n highest scores among unlabeled rows, best first (vectorized)."""
    candidates = np.flatnonzero(~labeled)
    n = min(n, candidates.size)
    if n <= 0:
        return np.zeros(0, dtype=np.int64)
    s = scores[candidates]
    part = np.argpartition(-s, n - 1)[:n] if n < s.size else np.arange(s.size)
    return candidates[part[np.argsort(-s[part], kind="stable")]]


@dataclass
class RandomStrategy:
    """Uniformly random unlabeled rows: the baseline every strategy must beat."""

    needs_model: bool = False

    def select(self, probs, embeddings, labeled, n, rng):  # noqa: ANN001, ANN201 - Strategy
        return top_unlabeled(rng.random(labeled.size), labeled, n)


class _Uncertainty:
    """Base of scorers: higher ``score`` = more uncertain; ties broken by a tiny jitter."""

    needs_model = True

    def score(self, probs: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def select(self, probs, embeddings, labeled, n, rng):  # noqa: ANN001, ANN201 - Strategy
        score = self.score(probs)
        # A tiny random jitter breaks ties (e.g. identical texts) without changing order.
        return top_unlabeled(score + rng.random(score.size) * 1e-9, labeled, n)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class LeastConfidence(_Uncertainty):
    """One minus the probability of the most likely class."""

    def score(self, probs: np.ndarray) -> np.ndarray:
        return 1.0 - probs.max(axis=1)


class Margin(_Uncertainty):
    """Minus the gap between the two most probable classes."""

    def score(self, probs: np.ndarray) -> np.ndarray:
        top2 = np.partition(probs, probs.shape[1] - 2, axis=1)[:, -2:]
        return -(top2[:, 1] - top2[:, 0])


class Entropy(_Uncertainty):
    """Shannon entropy of the predicted distribution."""

    def score(self, probs: np.ndarray) -> np.ndarray:
        p = np.clip(probs, 1e-12, 1.0)
        return -(p * np.log(p)).sum(axis=1)


@dataclass
class Diverse:
    """Any strategy spread over embedding clusters: the ``factor * n`` best rows of ``base``
    are clustered into ``n`` groups and the best of each is taken, so one batch does not ask
    the same question n times."""

    base: Strategy = field(default_factory=Margin)
    factor: int = 10

    @property
    def needs_model(self) -> bool:
        return self.base.needs_model

    def select(self, probs, embeddings, labeled, n, rng):  # noqa: ANN001, ANN201 - Strategy
        from sklearn.cluster import KMeans

        short = self.base.select(probs, embeddings, labeled, n * self.factor, rng)
        if short.size <= n:
            return short
        km = KMeans(n_clusters=n, n_init=1, random_state=int(rng.integers(1 << 31)))
        assign = km.fit_predict(embeddings[short])
        picked = [short[assign == c][0] for c in range(n) if np.any(assign == c)]
        # Duplicate embeddings leave clusters empty: top up in the base strategy's order.
        chosen = set(picked)
        picked += [r for r in short if r not in chosen][:n - len(picked)]
        return np.asarray(picked, dtype=np.int64)


def diverse_margin() -> Diverse:
    """Margin sampling spread over embedding clusters."""
    return Diverse(Margin())


@dataclass
class ClusterSeed:
    """Cold start: the unlabeled item nearest each of n k-means centroids of the pool."""

    needs_model: bool = False

    def select(self, probs, embeddings, labeled, n, rng):  # noqa: ANN001, ANN201 - Strategy
        from sklearn.cluster import KMeans, MiniBatchKMeans

        candidates = np.flatnonzero(~labeled)
        n = min(n, candidates.size)
        if n == 0:
            return np.zeros(0, dtype=np.int64)
        x = embeddings[candidates]
        seed = int(rng.integers(1 << 31))
        km = (MiniBatchKMeans(n_clusters=n, random_state=seed, n_init=3, batch_size=2048)
              if x.shape[0] > 5000 else KMeans(n_clusters=n, random_state=seed, n_init=3))
        km.fit(x)
        picked: list[int] = []
        taken: set[int] = set()
        for centre in km.cluster_centers_:
            order = np.argsort(((x - centre) ** 2).sum(1))
            row = next((int(r) for r in order if int(r) not in taken), None)
            if row is not None:
                picked.append(row)
                taken.add(row)
        return candidates[np.asarray(picked, dtype=np.int64)]
