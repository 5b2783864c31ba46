"""Query strategies: small pure objects over arrays, unit-testable without an LLM.

A strategy gets the student's class probabilities for the pool (``None`` before the first
student), the pool embeddings, a mask of rows already labeled, a count and a random
generator, and returns up to ``n`` unlabeled row indices, best first. Uncertainty
strategies are a score over probabilities; diversity is a wrapper over any base strategy.
Register your own under a name with ``labelgraph.registry.register("strategies", ...)`` or
the ``labelgraph.strategies`` entry-point group.

The built-ins, by family:

- uncertainty: ``LeastConfidence``, ``Margin``, ``Entropy``;
- uncertainty and diversity: ``Diverse`` (a base strategy spread over k-means clusters),
  ``Badge`` (k-means++ seeding on gradient embeddings of a linear student, Ash et al. 2020),
  ``DensityWeighted`` (uncertainty times representativeness, Settles & Craven 2008),
  ``Contrastive`` (CAL: disagreement with the nearest labeled rows, Margatina et al. 2021);
- diversity alone: ``KCenterGreedy`` (core-set, Sener & Savarese 2018);
- cold start, before any student: ``TypicalitySeed`` (TypiClust, Hacohen et al. 2022) and
  ``ClusterSeed`` (the row nearest each k-means centroid), registered as
  :data:`COLD_START`, the seed every run starts with;
- chosen by the run: ``Bandit`` (an arm of ``RunConfig.bandit_arms`` each round) and
  ``LLMSelection`` (the run's chat model picks from a shortlist).

Every one is vectorized and bounded in memory: nothing builds a rows x rows matrix or copies
the whole embedding table, so selection stays fast on a pool of a million rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Protocol, runtime_checkable

import numpy as np

from labelgraph.capabilities import Capability
from labelgraph.geometry import (
    CHUNK_ROWS,
    fit_centres,
    nearest_centre,
    no_rows,
    sq_dist,
    sq_norms,
    subsample,
    unit_rows,
)

__all__ = ["BASELINE", "COLD_START", "EXCERPT", "PLAYS_ARMS", "SHORTLIST", "Badge", "Bandit",
           "ClusterSeed", "Contrastive", "DensityWeighted", "Diverse", "Entropy",
           "KCenterGreedy", "LLMSelection", "LeastConfidence", "Margin", "RandomStrategy",
           "Strategy", "TypicalitySeed", "diverse_margin", "top_unlabeled"]

#: The registry name of the cold-start strategy: the diverse seed a run labels before any
#: student exists (the bootstrap picks it; the rule policy and the guardrails decide it
#: until a student exists, and the selector then takes the bootstrap's seed first).
COLD_START = "cold_start"


@runtime_checkable
class Strategy(Protocol):
    """What the selector calls. ``needs_model``: it cannot run before the first student.

    Optional capabilities (:mod:`labelgraph.capabilities`; the value assumed without each):

    - ``plays_arms`` (False): a stand-in the guardrails replace each query round with one
      of ``RunConfig.bandit_arms``, chosen by measured gain (:data:`PLAYS_ARMS`);
    - ``shortlist(probs, embeddings, labeled, n, rng)`` (absent): the rows the run's chat
      model picks the batch from, with ``excerpt`` (300) characters of each shown; ``select``
      is then the fallback without a capable model (:data:`SHORTLIST`, :data:`EXCERPT`);
    - ``baseline`` (False): it ignores what the student knows, so the selector does not
      judge the pool uninformative by the student's confidence (:data:`BASELINE`).
    """

    needs_model: bool

    def select(self, probs: np.ndarray | None, embeddings: np.ndarray, labeled: np.ndarray,
               n: int, rng: np.random.Generator) -> np.ndarray:
        """Up to ``n`` unlabeled row indices, best first."""
        ...


PLAYS_ARMS = Capability(
    "plays_arms", False,
    "a stand-in the guardrails replace each query round with one of RunConfig.bandit_arms, "
    "chosen by measured gain (labelgraph.policies.choose_arm)")
SHORTLIST = Capability(
    "shortlist", None,
    "shortlist(probs, embeddings, labeled, n, rng) -> rows the run's chat model picks the "
    "batch from (the selector asks it); absent: select() alone chooses")
EXCERPT = Capability(
    "excerpt", 300, "characters of each shortlisted text shown to the chat model")
BASELINE = Capability(
    "baseline", False,
    "it ignores what the student knows: the selector does not propose synthesis because the "
    "student is sure of the pool")


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
    baseline: ClassVar[bool] = True  #: a baseline stays one: see :data:`BASELINE`

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


# --- bounded-memory helpers ---------------------------------------------------------------

# --- diversity and representativeness -----------------------------------------------------


@dataclass
class KCenterGreedy:
    """Core-set (Sener & Savarese 2018): repeatedly the row farthest from everything labeled
    or already picked, so a batch covers the embedding space; one min-distance vector only.

    Distances to the labeled set are measured against a random sample of at most
    ``max_reference`` labeled rows (exact below that), which keeps the first pass at
    O(rows x max_reference) however many labels there are.
    """

    max_reference: int = 1000
    needs_model: bool = False

    def select(self, probs, embeddings, labeled, n, rng):  # noqa: ANN001, ANN201 - Strategy
        unlabeled = ~labeled
        n = min(n, int(unlabeled.sum()))
        if n <= 0:
            return no_rows()
        sq = sq_norms(embeddings)
        min_d = np.full(labeled.size, np.inf)
        reference = subsample(np.flatnonzero(labeled), self.max_reference, rng)
        if reference.size:
            ref = embeddings[reference]
            ref_sq = sq[reference]
            step = max(1, (CHUNK_ROWS * 256) // reference.size)
            for start in range(0, labeled.size, step):
                block = embeddings[start:start + step]
                min_d[start:start + block.shape[0]] = sq_dist(block, ref, ref_sq).min(axis=1)
            first = int(np.argmax(np.where(unlabeled, min_d, -np.inf)))
        else:
            first = int(rng.choice(np.flatnonzero(unlabeled)))
        min_d[labeled] = -np.inf  # never picked
        picked = [first]
        for _ in range(n - 1):
            j = picked[-1]
            d = sq + sq[j] - 2.0 * (embeddings @ embeddings[j])
            np.minimum(min_d, d, out=min_d)
            min_d[j] = -np.inf
            picked.append(int(np.argmax(min_d)))
        return np.asarray(picked, dtype=np.int64)


@dataclass
class Badge:
    """BADGE (Ash et al. 2020) for linear students: k-means++ seeding on the gradient
    embeddings (p - onehot(argmax p)) x embedding, i.e. rows both uncertain and diverse.

    Only the ``factor * n`` rows with the largest gradient norm ||p - e|| * ||x|| are seeded,
    and their gradient embeddings are never built: <g_i, g_j> = <a_i, a_j> * <x_i, x_j>.
    """

    factor: int = 10
    needs_model: bool = True

    def select(self, probs, embeddings, labeled, n, rng):  # noqa: ANN001, ANN201 - Strategy
        p = np.asarray(probs, dtype=np.float64)
        residual = p.copy()
        residual[np.arange(p.shape[0]), p.argmax(axis=1)] -= 1.0
        g_norm = np.linalg.norm(residual, axis=1) * np.sqrt(sq_norms(embeddings))
        short = top_unlabeled(g_norm + rng.random(g_norm.size) * 1e-9, labeled,
                              max(n, n * self.factor))
        if short.size <= n:
            return short
        a = residual[short]
        x = np.asarray(embeddings[short], dtype=np.float64)
        g_sq = g_norm[short] ** 2

        def sq_dist_to(i: int) -> np.ndarray:
            return np.maximum(g_sq + g_sq[i] - 2.0 * (a @ a[i]) * (x @ x[i]), 0.0)

        picked = [0]  # BADGE starts from the largest gradient
        d2 = sq_dist_to(0)
        d2[0] = 0.0
        for _ in range(n - 1):
            total = d2.sum()
            if total <= 0.0:  # only duplicates of picked rows left: fill in gradient order
                taken = set(picked)
                picked += [i for i in range(short.size) if i not in taken][:n - len(picked)]
                break
            i = int(rng.choice(short.size, p=d2 / total))
            picked.append(i)
            np.minimum(d2, sq_dist_to(i), out=d2)
            d2[picked] = 0.0
        return short[np.asarray(picked, dtype=np.int64)]


@dataclass
class DensityWeighted:
    """Information density (Settles & Craven 2008): uncertainty x (mean cosine similarity to
    the pool)^beta, so an uncertain outlier loses to an equally uncertain typical row.

    The mean cosine similarity to a set is the dot product with the mean of its unit vectors,
    so the density is exact over the whole pool at O(rows x dim), a block at a time.
    """

    base: _Uncertainty = field(default_factory=Entropy)
    beta: float = 1.0
    needs_model: bool = True

    def select(self, probs, embeddings, labeled, n, rng):  # noqa: ANN001, ANN201 - Strategy
        if n <= 0 or labeled.all():
            return no_rows()
        norms = np.sqrt(sq_norms(embeddings))
        inverse = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)
        centre = np.zeros(embeddings.shape[1])
        for start in range(0, labeled.size, CHUNK_ROWS):  # the mean of the unit rows
            centre += inverse[start:start + CHUNK_ROWS] @ embeddings[start:start + CHUNK_ROWS]
        centre /= labeled.size
        density = (embeddings @ centre.astype(embeddings.dtype)) * inverse
        uncertainty = np.asarray(self.base.score(probs), dtype=np.float64)
        uncertainty = uncertainty - min(0.0, float(uncertainty.min()))  # margin is <= 0
        score = uncertainty * np.clip(density, 0.0, None) ** self.beta
        return top_unlabeled(score + rng.random(score.size) * 1e-12, labeled, n)


@dataclass
class Contrastive:
    """CAL (Margatina et al. 2021): contrastive rows, whose prediction diverges most (mean KL)
    from those of their ``k`` nearest labeled rows, among the ``factor * n`` most uncertain.

    Nearest neighbours are by cosine on the embeddings, found a block of labeled rows at a
    time; with no labeled rows yet it is plain margin sampling.
    """

    k: int = 10
    factor: int = 10
    needs_model: bool = True

    def select(self, probs, embeddings, labeled, n, rng):  # noqa: ANN001, ANN201 - Strategy
        short = Margin().select(probs, embeddings, labeled, max(n, n * self.factor), rng)
        known = np.flatnonzero(labeled)
        if known.size == 0 or short.size <= n:
            return short[:n]
        k = min(self.k, known.size)
        cand = unit_rows(embeddings[short])
        best_sim = np.full((short.size, 0), -np.inf)
        best_row = np.zeros((short.size, 0), dtype=np.int64)
        for start in range(0, known.size, CHUNK_ROWS):
            rows = known[start:start + CHUNK_ROWS]
            sim = np.concatenate([best_sim, cand @ unit_rows(embeddings[rows]).T], axis=1)
            row = np.concatenate([best_row, np.broadcast_to(rows, (short.size, rows.size))],
                                 axis=1)
            keep = np.argpartition(-sim, k - 1, axis=1)[:, :k] if sim.shape[1] > k else None
            if keep is not None:
                sim, row = np.take_along_axis(sim, keep, 1), np.take_along_axis(row, keep, 1)
            best_sim, best_row = sim, row
        logp = np.log(np.clip(np.asarray(probs, dtype=np.float64), 1e-12, 1.0))
        neighbours = np.exp(logp[best_row])  # (candidates, k, classes)
        kl = (neighbours * (logp[best_row] - logp[short][:, None, :])).sum(axis=2).mean(axis=1)
        order = np.argsort(-(kl + rng.random(kl.size) * 1e-12), kind="stable")[:n]
        return short[order]


# --- diversity over a base strategy -------------------------------------------------------


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
        # The best row of each cluster (its first in the shortlist), kept best first.
        first = np.sort(np.unique(assign, return_index=True)[1])
        # Duplicate embeddings leave clusters empty: top up in the base strategy's order.
        rest = np.setdiff1d(np.arange(short.size), first, assume_unique=True)
        return short[np.r_[first, rest[:n - first.size]]].astype(np.int64)


def diverse_margin() -> Diverse:
    """Margin sampling spread over embedding clusters."""
    return Diverse(Margin())


class Bandit(Margin):
    """The name ``bandit``: the supervisor's guardrails replace it each round with one of
    ``RunConfig.bandit_arms``, chosen by measured gain (``labelgraph.policies.choose_arm``).
    Used directly, outside a run, it is margin sampling."""

    plays_arms: ClassVar[bool] = True  #: see :data:`PLAYS_ARMS`


@dataclass
class LLMSelection:
    """Strategy ``"llm"``: a chat model picks the batch from a shortlist of ``k * n``
    uncertain, diverse rows (margin spread over embedding clusters) and says why. The
    selector node asks the model (:data:`SHORTLIST`); as a pure strategy, with no model, it
    is margin sampling (its fallback)."""

    k: int = 3  #: shortlist size, as a multiple of the batch size
    excerpt: int = 300  #: characters of each candidate's text shown to the model
    needs_model: bool = True

    def shortlist(self, probs: np.ndarray, embeddings: np.ndarray, labeled: np.ndarray,
                  n: int, rng: np.random.Generator) -> np.ndarray:
        """Up to ``k * n`` unlabeled rows, best first: what the model chooses from."""
        return Diverse(Margin()).select(probs, embeddings, labeled, self.k * n, rng)

    def select(self, probs, embeddings, labeled, n, rng):  # noqa: ANN001, ANN201 - Strategy
        return Margin().select(probs, embeddings, labeled, n, rng)


# --- cold start ---------------------------------------------------------------------------


@dataclass
class TypicalitySeed:
    """Cold start (TypiClust, Hacohen et al. 2022): cluster the unlabeled rows into n groups
    and take from each its most typical row, the one whose k nearest neighbours are closest.

    Centroids are fitted on at most ``max_fit`` rows, every row is assigned a block at a
    time, and typicality is computed on at most ``max_members`` rows of each cluster.
    """

    k: int = 20
    max_fit: int = 20_000
    max_members: int = 2_000
    needs_model: bool = False

    def select(self, probs, embeddings, labeled, n, rng):  # noqa: ANN001, ANN201 - Strategy
        candidates = np.flatnonzero(~labeled)
        n = min(n, candidates.size)
        if n <= 0:
            return no_rows()
        centres = fit_centres(embeddings, candidates, n, self.max_fit, rng)
        assign = nearest_centre(embeddings, candidates, centres)
        order = np.argsort(assign, kind="stable")
        sizes = np.bincount(assign, minlength=n)
        groups = np.split(candidates[order], np.cumsum(sizes)[:-1])
        # Larger clusters first: their typical row represents more of the pool.
        ranked = [self._by_typicality(embeddings, groups[c], rng)
                  for c in np.argsort(-sizes, kind="stable") if sizes[c]]
        # One row per cluster, then (only when clusters came out empty) the runners-up.
        picked = [g[r] for r in range(max(map(len, ranked))) for g in ranked if r < len(g)]
        return np.asarray(picked[:n], dtype=np.int64)

    def _by_typicality(self, embeddings: np.ndarray, members: np.ndarray,
                       rng: np.random.Generator) -> np.ndarray:
        """A sample of a cluster's rows, most typical (1 / mean kNN distance) first."""
        members = subsample(members, self.max_members, rng)
        k = min(self.k, members.size - 1)
        if k <= 0:
            return members
        x = embeddings[members]
        d = sq_dist(x, x, np.einsum("ij,ij->i", x, x)).astype(np.float64, copy=False)
        np.fill_diagonal(d, np.inf)
        knn = np.sqrt(np.partition(d, k - 1, axis=1)[:, :k]).mean(axis=1)
        return members[np.argsort(knn, kind="stable")]


@dataclass
class ClusterSeed:
    """Cold start: the unlabeled row nearest each of n k-means centroids of the pool.

    Centroids are fitted on at most ``max_fit`` rows; the nearest rows are found a block of
    rows at a time, keeping only the n nearest per centroid.
    """

    max_fit: int = 20_000
    needs_model: bool = False

    def select(self, probs, embeddings, labeled, n, rng):  # noqa: ANN001, ANN201 - Strategy
        candidates = np.flatnonzero(~labeled)
        n = min(n, candidates.size)
        if n <= 0:
            return no_rows()
        centres = fit_centres(embeddings, candidates, n, self.max_fit, rng)
        c_sq = np.einsum("ij,ij->i", centres, centres)
        # For each centroid the n nearest rows so far: enough to find one not taken.
        best_d = np.full((n, 0), np.inf)
        best_row = np.zeros((n, 0), dtype=np.int64)
        for start in range(0, candidates.size, CHUNK_ROWS):
            rows = candidates[start:start + CHUNK_ROWS]
            d = np.concatenate([best_d, sq_dist(embeddings[rows], centres, c_sq).T], axis=1)
            row = np.concatenate([best_row, np.broadcast_to(rows, (n, rows.size))], axis=1)
            if d.shape[1] > n:
                keep = np.argpartition(d, n - 1, axis=1)[:, :n]
                d, row = np.take_along_axis(d, keep, 1), np.take_along_axis(row, keep, 1)
            best_d, best_row = d, row
        picked: list[int] = []
        for c in range(n):
            for r in best_row[c][np.argsort(best_d[c], kind="stable")]:
                if int(r) not in picked:
                    picked.append(int(r))
                    break
        return np.asarray(picked, dtype=np.int64)
