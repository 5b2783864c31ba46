"""The selector: query strategies over a fixed pool, and the cold-start seed.

A strategy is a small pure object: given the student's class probabilities for the pool,
the pool embeddings, a mask of labeled rows and a count, it returns row indices. Nothing
here needs an LLM, so every strategy is unit-testable on arrays.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
from langgraph.runtime import Runtime
from sklearn.cluster import KMeans, MiniBatchKMeans

from labelgraph.errors import InputError
from labelgraph.types import Proposal

if TYPE_CHECKING:
    from labelgraph.graph.context import Context
    from labelgraph.graph.state import State


class Strategy(Protocol):
    name: str
    needs_model: bool

    def select(self, probs: np.ndarray | None, embeddings: np.ndarray, labeled: np.ndarray,
               n: int, rng: np.random.Generator) -> np.ndarray: ...


def _top_unlabeled(scores: np.ndarray, labeled: np.ndarray, n: int) -> np.ndarray:
    """Indices of the n highest scores among unlabeled rows, best first (vectorized)."""
    candidates = np.flatnonzero(~labeled)
    n = min(n, candidates.size)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    s = scores[candidates]
    part = np.argpartition(-s, n - 1)[:n] if n < s.size else np.arange(s.size)
    return candidates[part[np.argsort(-s[part], kind="stable")]]


def least_confidence(probs: np.ndarray) -> np.ndarray:
    return 1.0 - probs.max(axis=1)


def margin(probs: np.ndarray) -> np.ndarray:
    """Higher = more uncertain: minus the gap between the two most probable classes."""
    top2 = np.partition(probs, probs.shape[1] - 2, axis=1)[:, -2:]
    return -(top2[:, 1] - top2[:, 0])


def entropy(probs: np.ndarray) -> np.ndarray:
    p = np.clip(probs, 1e-12, 1.0)
    return -(p * np.log(p)).sum(axis=1)


@dataclass
class RandomStrategy:
    name: str = "random"
    needs_model: bool = False

    def select(self, probs, embeddings, labeled, n, rng):  # noqa: ANN001 - see Strategy
        return _top_unlabeled(rng.random(labeled.size), labeled, n)


@dataclass
class UncertaintyStrategy:
    """Least confidence, margin or entropy sampling."""

    name: str = "margin"
    needs_model: bool = True

    def select(self, probs, embeddings, labeled, n, rng):  # noqa: ANN001 - see Strategy
        score = {"least_confidence": least_confidence, "margin": margin,
                 "entropy": entropy}[self.name](probs)
        # A tiny random jitter breaks ties (e.g. identical texts) without changing order.
        return _top_unlabeled(score + rng.random(score.size) * 1e-9, labeled, n)


@dataclass
class DiverseMarginStrategy:
    """Margin sampling spread over embedding clusters: the most uncertain item per cluster
    among the ``factor * n`` most uncertain, so one batch does not ask the same thing n times."""

    name: str = "diverse_margin"
    needs_model: bool = True
    factor: int = 10

    def select(self, probs, embeddings, labeled, n, rng):  # noqa: ANN001 - see Strategy
        score = margin(probs) + rng.random(labeled.size) * 1e-9
        short = _top_unlabeled(score, labeled, n * self.factor)
        if short.size <= n:
            return short
        km = KMeans(n_clusters=n, n_init=1, random_state=int(rng.integers(1 << 31)))
        assign = km.fit_predict(embeddings[short])
        picked = [short[assign == c][0] for c in range(n) if np.any(assign == c)]
        # Duplicate embeddings leave clusters empty: top up in uncertainty order.
        chosen = set(picked)
        picked += [r for r in short if r not in chosen][:n - len(picked)]
        return np.asarray(picked, dtype=np.int64)


@dataclass
class ClusterSeedStrategy:
    """Cold start: the item nearest each of n k-means centroids of the unlabeled pool."""

    name: str = "cold_start"
    needs_model: bool = False

    def select(self, probs, embeddings, labeled, n, rng):  # noqa: ANN001 - see Strategy
        candidates = np.flatnonzero(~labeled)
        n = min(n, candidates.size)
        if n == 0:
            return np.zeros(0, dtype=np.int64)
        x = embeddings[candidates]
        seed = int(rng.integers(1 << 31))
        km = (MiniBatchKMeans(n_clusters=n, random_state=seed, n_init=3, batch_size=2048)
              if x.shape[0] > 5000 else KMeans(n_clusters=n, random_state=seed, n_init=3))
        km.fit(x)
        dists = ((x[:, None, :] - km.cluster_centers_[None, :, :]) ** 2).sum(-1) if x.shape[
            0] * n <= 2_000_000 else None
        picked: list[int] = []
        for c in range(n):
            if dists is not None:
                order = np.argsort(dists[:, c])
            else:
                order = np.argsort(((x - km.cluster_centers_[c]) ** 2).sum(1))
            for row in order:
                if int(row) not in picked:
                    picked.append(int(row))
                    break
        return candidates[np.asarray(picked, dtype=np.int64)]


STRATEGIES: dict[str, type] = {
    "random": RandomStrategy,
    "least_confidence": UncertaintyStrategy,
    "margin": UncertaintyStrategy,
    "entropy": UncertaintyStrategy,
    "diverse_margin": DiverseMarginStrategy,
    "cold_start": ClusterSeedStrategy,
}


def get_strategy(name: str) -> Strategy:
    """A strategy by name; unknown names get a clear error listing the valid ones."""
    if name not in STRATEGIES:
        raise InputError(f"unknown strategy {name!r}; choose one of {sorted(STRATEGIES)}")
    return STRATEGIES[name](name=name)


def selector_node(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """Pick the batch from the pool with the decided strategy (the seed on a cold start)."""
    ctx = runtime.context
    decision = state["decision"] or {}
    round_ = int(state.get("round", 0))
    pool = ctx.pool()
    labeled = ctx.labeled_mask()
    n = int(decision.get("batch_size") or ctx.config.batch_size)
    name = decision.get("strategy") or ctx.config.strategy
    probs = ctx.pool_proba()
    if name == "cold_start" and state.get("seed"):
        rows = [r for r in pool.rows(state["seed"]) if not labeled[r]][:n]
        chosen = np.asarray(rows, dtype=np.int64)
    else:
        strategy = get_strategy(name)
        if strategy.needs_model and probs is None:
            strategy = get_strategy("cold_start")
        chosen = strategy.select(probs, pool.embeddings, labeled, n, ctx.rng(round_, 1))
    batch = [{"id": pool.ids[r], "text": pool.texts[r], "origin": "pool", "intended": None}
             for r in chosen]
    proposals: dict[str, Any] = {}
    remaining = int((~labeled).sum()) - len(batch)
    if remaining <= 0:
        proposals["selector"] = Proposal(
            agent="selector", action="synthesize",
            reason="nothing informative left in the pool: synthesize").model_dump()
    elif probs is not None and name != "random":
        unl = probs[~labeled]
        if unl.size and float(unl.max(axis=1).min()) > 0.99:
            proposals["selector"] = Proposal(
                agent="selector", action="synthesize",
                reason="the student is confident on every pool item: synthesize near the "
                       "boundary").model_dump()
    ctx.emit("selected", round=round_, n=len(batch), strategy=name)
    return {"batch": batch, "proposals": proposals or {}}
