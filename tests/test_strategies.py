"""Query strategies: pure functions of (probabilities, embeddings, labeled mask, n, rng)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from labelgraph import Task, strategies
from labelgraph.errors import InputError
from labelgraph.registry import registry
from labelgraph.strategies import (
    Badge,
    ClusterSeed,
    Contrastive,
    DensityWeighted,
    Diverse,
    Entropy,
    KCenterGreedy,
    LeastConfidence,
    LLMSelection,
    Margin,
    Strategy,
    TypicalitySeed,
    top_unlabeled,
)
from labelgraph.types import Steering

ALL = registry.names("strategies")
NO_MODEL = ("random", "kcenter", "cold_start", "cold_start_typical")
COLD_STARTS = ("cold_start", "cold_start_typical")
least_confidence, margin, entropy = LeastConfidence().score, Margin().score, Entropy().score


def get_strategy(name: str) -> Strategy:
    return registry.create("strategies", name)


def _pool(n_rows: int = 200, n_classes: int = 3, dim: int = 8, seed: int = 0,
          labeled_frac: float = 0.3) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    g = np.random.default_rng(seed)
    probs = g.dirichlet(np.ones(n_classes), size=n_rows)
    emb = g.normal(size=(n_rows, dim)).astype(np.float32)
    labeled = g.random(n_rows) < labeled_frac
    return probs, emb, labeled


def _blobs(k: int, per: int, dim: int = 4, seed: int = 0,
           spread: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """k tight, well-separated blobs; returns (embeddings, blob id per row)."""
    g = np.random.default_rng(seed)
    centres = np.eye(k, dim) * 20.0 if k <= dim else g.normal(size=(k, dim)) * 50.0
    emb = np.vstack([c + g.normal(scale=spread, size=(per, dim)) for c in centres])
    return emb, np.repeat(np.arange(k), per)


def _select(name: str, probs, emb, labeled, n, seed: int = 0) -> np.ndarray:  # noqa: ANN001
    return get_strategy(name).select(probs, emb, labeled, n, np.random.default_rng(seed))


# --- the contract every strategy keeps ---------------------------------------------------

@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("n", [1, 7, 25])
def test_returns_n_distinct_unlabeled_rows(name: str, n: int) -> None:
    probs, emb, labeled = _pool()
    out = _select(name, probs, emb, labeled, n)
    assert out.ndim == 1 and np.issubdtype(out.dtype, np.integer)
    assert len(out) == n
    assert len(set(out.tolist())) == n
    assert not labeled[out].any()
    assert ((0 <= out) & (out < len(labeled))).all()


@pytest.mark.parametrize("name", ALL)
def test_n_larger_than_unlabeled_returns_all_unlabeled(name: str) -> None:
    probs, emb, _ = _pool(n_rows=30)
    labeled = np.ones(30, dtype=bool)
    unlabeled = [2, 5, 11, 17, 29]
    labeled[unlabeled] = False
    out = _select(name, probs, emb, labeled, 50)
    assert sorted(out.tolist()) == unlabeled


@pytest.mark.parametrize("name", ALL)
def test_nothing_to_select(name: str) -> None:
    probs, emb, _ = _pool(n_rows=20)
    everything = np.ones(20, dtype=bool)
    assert len(_select(name, probs, emb, everything, 5)) == 0
    assert len(_select(name, probs, emb, np.zeros(20, dtype=bool), 0)) == 0


@pytest.mark.parametrize("name", ALL)
def test_same_seed_same_batch(name: str) -> None:
    probs, emb, labeled = _pool(seed=3)
    a = _select(name, probs, emb, labeled, 10, seed=42)
    b = _select(name, probs, emb, labeled, 10, seed=42)
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", ALL)
def test_chunking_does_not_change_the_batch(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # Blocks of 7 rows cross every chunk boundary a million-row pool would.
    probs, emb, labeled = _pool(n_rows=120, seed=5)
    whole = _select(name, probs, emb, labeled, 9, seed=3)
    from labelgraph import geometry

    monkeypatch.setattr(strategies, "CHUNK_ROWS", 7)  # the strategies' own blocks
    monkeypatch.setattr(geometry, "CHUNK_ROWS", 7)  # distances and norms
    np.testing.assert_array_equal(_select(name, probs, emb, labeled, 9, seed=3), whole)


def test_random_depends_on_seed() -> None:
    probs, emb, labeled = _pool(n_rows=1000)
    a = _select("random", probs, emb, labeled, 20, seed=1)
    b = _select("random", probs, emb, labeled, 20, seed=2)
    assert set(a.tolist()) != set(b.tolist())


def test_unknown_name_lists_the_valid_ones() -> None:
    with pytest.raises(InputError) as err:
        get_strategy("most_confused")
    message = str(err.value)
    assert message.startswith("unknown strategy 'most_confused'; choose one of")
    for name in ALL:
        assert name in message


@pytest.mark.parametrize("name", ALL)
def test_get_strategy_by_name(name: str) -> None:
    strategy = get_strategy(name)
    assert isinstance(strategy, Strategy)
    assert strategy.needs_model == (name not in NO_MODEL)


def test_diversity_wraps_any_base_strategy() -> None:
    emb, blob = _blobs(k=2, per=50, seed=4)
    probs = np.full((len(emb), 2), 0.5)
    labeled = np.zeros(len(emb), dtype=bool)
    for base in (Entropy(), get_strategy("random")):
        out = Diverse(base).select(probs, emb, labeled, 2, np.random.default_rng(0))
        assert set(blob[out].tolist()) == {0, 1}
    assert not Diverse(get_strategy("random")).needs_model


# --- uncertainty scores -------------------------------------------------------------------

# Rows 0-2 are uncertain, each by a different measure; rows 3-6 are confident.
#   row 0: the two top classes tie          -> margin 0 (the most uncertain by margin)
#   row 1: the lowest top probability       -> least confidence 0.66 (the highest)
#   row 2: the flattest distribution        -> entropy 1.33 (the highest)
PROBS = np.array([
    [0.45, 0.45, 0.10, 0.00],
    [0.34, 0.33, 0.33, 0.00],
    [0.40, 0.20, 0.20, 0.20],
    [0.97, 0.01, 0.01, 0.01],
    [0.01, 0.90, 0.09, 0.00],
    [0.05, 0.05, 0.85, 0.05],
    [0.00, 0.00, 0.00, 1.00],
])
EMB = np.arange(len(PROBS) * 2, dtype=np.float32).reshape(len(PROBS), 2)


def test_score_helpers_values() -> None:
    np.testing.assert_allclose(least_confidence(PROBS)[:3], [0.55, 0.66, 0.60])
    np.testing.assert_allclose(margin(PROBS)[:3], [0.0, -0.01, -0.20], atol=1e-12)
    expected_h2 = -(0.4 * np.log(0.4) + 3 * 0.2 * np.log(0.2))
    assert entropy(PROBS)[2] == pytest.approx(expected_h2)
    assert entropy(PROBS)[6] == pytest.approx(0.0, abs=1e-9)  # a one-hot row: no uncertainty
    # margin is "higher = more uncertain" whatever the column order
    shuffled = PROBS[:, [3, 1, 0, 2]]
    np.testing.assert_allclose(margin(shuffled), margin(PROBS))


@pytest.mark.parametrize("name, best", [("margin", 0), ("least_confidence", 1), ("entropy", 2)])
def test_uncertainty_picks_the_known_most_uncertain_row(name: str, best: int) -> None:
    labeled = np.zeros(len(PROBS), dtype=bool)
    out = _select(name, PROBS, EMB, labeled, 1)
    assert out.tolist() == [best]
    top3 = _select(name, PROBS, EMB, labeled, 3)
    assert top3[0] == best
    assert sorted(top3.tolist()) == [0, 1, 2]


@pytest.mark.parametrize("name, best, runner_up",
                         [("margin", 0, 1), ("least_confidence", 1, 2), ("entropy", 2, 1)])
def test_uncertainty_skips_labeled_rows(name: str, best: int, runner_up: int) -> None:
    labeled = np.zeros(len(PROBS), dtype=bool)
    labeled[best] = True
    assert _select(name, PROBS, EMB, labeled, 1).tolist() == [runner_up]


def test_top_unlabeled_is_best_first() -> None:
    scores = np.array([0.1, 0.9, 0.5, 0.7, 0.3])
    labeled = np.array([False, False, False, True, False])
    assert top_unlabeled(scores, labeled, 3).tolist() == [1, 2, 4]
    assert top_unlabeled(scores, labeled, 10).tolist() == [1, 2, 4, 0]
    assert top_unlabeled(scores, np.ones(5, dtype=bool), 3).size == 0


# --- diversity ----------------------------------------------------------------------------

@pytest.mark.parametrize("seed", range(5))
def test_diverse_margin_spreads_over_two_blobs(seed: int) -> None:
    emb, blob = _blobs(k=2, per=50, seed=seed)
    probs = np.full((len(emb), 2), 0.5)  # every point equally uncertain
    labeled = np.zeros(len(emb), dtype=bool)
    out = _select("diverse_margin", probs, emb, labeled, 2, seed=seed)
    assert len(out) == 2
    assert set(blob[out].tolist()) == {0, 1}


def test_diverse_margin_takes_the_most_uncertain_of_each_cluster() -> None:
    emb, blob = _blobs(k=2, per=10, seed=1)
    g = np.random.default_rng(0)
    p = 0.5 + g.uniform(0.01, 0.2, size=len(emb))  # no exact ties
    probs = np.stack([p, 1 - p], axis=1)
    labeled = np.zeros(len(emb), dtype=bool)
    out = _select("diverse_margin", probs, emb, labeled, 2)
    score = margin(probs)
    expected = {int(np.flatnonzero(blob == b)[np.argmax(score[blob == b])]) for b in (0, 1)}
    assert set(out.tolist()) == expected


def test_diverse_margin_returns_n_rows_with_duplicate_embeddings() -> None:
    # Duplicate texts (or texts with no hashing features) give identical embeddings.
    emb = np.repeat(np.eye(3, dtype=np.float32), 20, axis=0)  # only 3 distinct points
    probs = np.full((len(emb), 2), 0.5)
    labeled = np.zeros(len(emb), dtype=bool)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sklearn's ConvergenceWarning about duplicates
        out = _select("diverse_margin", probs, emb, labeled, 5)
    assert len(set(out.tolist())) == 5


@pytest.mark.parametrize("name", COLD_STARTS)
@pytest.mark.parametrize("k", [3, 5])
def test_cold_start_one_per_cluster(name: str, k: int) -> None:
    emb, blob = _blobs(k=k, per=30, dim=6, seed=k)
    labeled = np.zeros(len(emb), dtype=bool)
    out = _select(name, None, emb, labeled, k)
    assert sorted(blob[out].tolist()) == list(range(k))


@pytest.mark.parametrize("k", [3, 5])
def test_cold_start_kmeans_takes_the_row_nearest_each_centre(k: int) -> None:
    emb, blob = _blobs(k=k, per=30, dim=6, seed=k)
    out = _select("cold_start", None, emb, np.zeros(len(emb), dtype=bool), k)
    # each pick is the blob member nearest its cluster's centre (the blob mean)
    for row in out:
        members = np.flatnonzero(blob == blob[row])
        centre = emb[members].mean(axis=0)
        nearest = members[np.argmin(((emb[members] - centre) ** 2).sum(axis=1))]
        assert row == nearest


@pytest.mark.parametrize("name", COLD_STARTS)
def test_cold_start_ignores_labeled_rows(name: str) -> None:
    emb, blob = _blobs(k=3, per=20, seed=7)
    labeled = blob == 0  # blob 0 is already labeled
    out = _select(name, None, emb, labeled, 2)
    assert not labeled[out].any()
    assert sorted(blob[out].tolist()) == [1, 2]


@pytest.mark.parametrize("name", COLD_STARTS)
def test_cold_start_distinct_even_with_duplicate_embeddings(name: str) -> None:
    emb = np.repeat(np.eye(3, dtype=np.float32), 20, axis=0)
    labeled = np.zeros(len(emb), dtype=bool)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = _select(name, None, emb, labeled, 5)
    assert len(set(out.tolist())) == 5


def test_cold_start_is_the_kmeans_seed_and_typicality_is_offered() -> None:
    # Measured on Rotten Tomatoes (benchmarks/strategies_aulc.py, 10 seeds): the typicality
    # seed was no better than the k-means one, so the default stays.
    assert isinstance(get_strategy("cold_start"), ClusterSeed)
    assert isinstance(get_strategy("cold_start_typical"), TypicalitySeed)


@pytest.mark.parametrize("seed", range(4))
def test_typicality_seed_picks_a_central_row_not_an_outlier(seed: int) -> None:
    g = np.random.default_rng(seed)
    centres = np.eye(3, 5) * 20.0
    # each blob: 40 members around its centre and 3 stragglers on its edge
    parts = [np.vstack([c + g.normal(scale=1.0, size=(40, 5)),
                        c + g.normal(scale=1.0, size=(3, 5)) + 4.0]) for c in centres]
    emb = np.vstack(parts).astype(np.float32)
    blob = np.repeat(np.arange(3), 43)
    labeled = np.zeros(len(emb), dtype=bool)
    out = TypicalitySeed().select(None, emb, labeled, 3, np.random.default_rng(seed))
    assert sorted(blob[out].tolist()) == [0, 1, 2]
    for row in out:
        members = np.flatnonzero(blob == blob[row])
        dist = np.linalg.norm(emb[members] - emb[members[:40]].mean(axis=0), axis=1)
        assert row - members[0] < 40  # not a straggler
        assert dist[row - members[0]] < np.median(dist)  # nearer the centre than most


def test_typicality_seed_bounded_samples_still_one_per_blob() -> None:
    emb, blob = _blobs(k=4, per=60, dim=6, seed=2)
    seeder = TypicalitySeed(k=5, max_fit=50, max_members=10)
    out = seeder.select(None, emb, np.zeros(len(emb), dtype=bool), 4, np.random.default_rng(1))
    assert sorted(blob[out].tolist()) == [0, 1, 2, 3]


# --- core-set -----------------------------------------------------------------------------

def _blob_and_outlier(seed: int = 0) -> np.ndarray:
    g = np.random.default_rng(seed)
    emb = g.normal(scale=0.1, size=(30, 4))
    emb[17] = [9.0, 9.0, 9.0, 9.0]  # the one far-away row
    return emb.astype(np.float32)


def test_kcenter_picks_the_far_away_outlier_first() -> None:
    emb = _blob_and_outlier()
    labeled = np.zeros(len(emb), dtype=bool)
    labeled[:5] = True
    out = _select("kcenter", None, emb, labeled, 3)
    assert out[0] == 17
    assert not labeled[out].any()


@pytest.mark.parametrize("seed", range(5))
def test_kcenter_without_labels_reaches_the_outlier_in_two_picks(seed: int) -> None:
    emb = _blob_and_outlier(seed)
    out = _select("kcenter", None, emb, np.zeros(len(emb), dtype=bool), 2, seed=seed)
    assert 17 in out.tolist()


@pytest.mark.parametrize("seed", range(5))
def test_kcenter_covers_two_blobs(seed: int) -> None:
    emb, blob = _blobs(k=2, per=20, seed=seed)
    labeled = np.zeros(len(emb), dtype=bool)
    assert set(blob[_select("kcenter", None, emb, labeled, 2, seed=seed)].tolist()) == {0, 1}
    labeled[3] = True  # blob 0 is covered: the next pick is from blob 1
    assert blob[_select("kcenter", None, emb, labeled, 1, seed=seed)].tolist() == [1]


def test_kcenter_with_a_sampled_labeled_reference() -> None:
    probs, emb, labeled = _pool(n_rows=300, labeled_frac=0.5)
    out = KCenterGreedy(max_reference=10).select(probs, emb, labeled, 12,
                                                 np.random.default_rng(0))
    assert len(set(out.tolist())) == 12 and not labeled[out].any()


# --- BADGE --------------------------------------------------------------------------------

def _two_blobs_half_uncertain(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Two blobs of 30; in each, 12 rows are uncertain (p about 0.6), the rest confident."""
    emb, blob = _blobs(k=2, per=30, seed=seed)
    g = np.random.default_rng(seed)
    uncertain = np.zeros(len(emb), dtype=bool)
    uncertain[np.r_[0:12, 30:42]] = True
    # One predicted class throughout: BADGE treats rows predicted differently as far apart.
    p = np.where(uncertain, g.uniform(0.55, 0.65, len(emb)), g.uniform(0.95, 0.99, len(emb)))
    return emb, blob, np.stack([p, 1 - p], axis=1), uncertain


@pytest.mark.parametrize("seed", range(5))
def test_badge_picks_uncertain_rows_from_both_blobs(seed: int) -> None:
    emb, blob, probs, uncertain = _two_blobs_half_uncertain(seed)
    labeled = np.zeros(len(emb), dtype=bool)
    out = _select("badge", probs, emb, labeled, 2, seed=seed)
    assert set(blob[out].tolist()) == {0, 1}
    assert uncertain[out].all()


def test_badge_skips_labeled_rows_and_starts_from_the_largest_gradient() -> None:
    emb, _, probs, _ = _two_blobs_half_uncertain(0)
    probs[40] = [0.5, 0.5]  # the largest gradient norm among the unlabeled rows
    probs[41] = [0.5, 0.5]
    emb[41] *= 1.01
    labeled = np.zeros(len(emb), dtype=bool)
    labeled[41] = True
    out = Badge(factor=3).select(probs, emb, labeled, 4, np.random.default_rng(0))
    assert out[0] == 40 and 41 not in out.tolist()


# --- density weighting --------------------------------------------------------------------

@pytest.mark.parametrize("base", [Entropy(), Margin(), LeastConfidence()])
def test_density_weighting_prefers_a_dense_uncertain_row_over_an_isolated_one(
        base: Strategy) -> None:
    g = np.random.default_rng(0)
    emb = np.vstack([np.array([1.0, 0, 0, 0]) + g.normal(scale=0.05, size=(30, 4)),
                     [[0.0, 0.0, 1.0, 0.0]]]).astype(np.float32)  # row 30 is isolated
    p = np.full(len(emb), 0.97)
    p[[4, 30]] = 0.5  # equally uncertain: one in the crowd, one alone
    probs = np.stack([p, 1 - p], axis=1)
    labeled = np.zeros(len(emb), dtype=bool)
    out = DensityWeighted(base).select(probs, emb, labeled, 2, np.random.default_rng(0))
    assert out[0] == 4
    # with beta = 0 the density is ignored: both are equally likely, the order is a tie-break
    flat = DensityWeighted(base, beta=0.0).select(probs, emb, labeled, 2,
                                                   np.random.default_rng(0))
    assert sorted(flat.tolist()) == [4, 30]


# --- contrastive --------------------------------------------------------------------------

def _contrastive_pool() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Two regions, each sure of its own class; candidate 39 is the most uncertain, but
    candidate 19 disagrees most with its labeled neighbours."""
    g = np.random.default_rng(0)
    emb = np.vstack([np.array([1.0, 0, 0, 0]) + g.normal(scale=0.05, size=(20, 4)),
                     np.array([0, 1.0, 0, 0]) + g.normal(scale=0.05, size=(20, 4))])
    labeled = np.zeros(len(emb), dtype=bool)
    labeled[np.r_[0:12, 20:32]] = True  # 12 per region: k = 10 stays inside
    p = np.r_[np.full(20, 0.95), np.full(20, 0.05)]  # region A: class 0; region B: class 1
    p[19] = 0.40  # margin 0.20, leaning to class 1 among class-0 neighbours: KL 0.70
    p[39] = 0.42  # margin 0.16, leaning to class 1 among class-1 neighbours: KL 0.36
    return emb.astype(np.float32), np.stack([p, 1 - p], axis=1), labeled


def test_contrastive_picks_the_row_its_labeled_neighbours_disagree_with() -> None:
    emb, probs, labeled = _contrastive_pool()
    assert _select("margin", probs, emb, labeled, 2).tolist() == [39, 19]
    out = Contrastive(k=5).select(probs, emb, labeled, 2, np.random.default_rng(0))
    assert out.tolist() == [19, 39]
    assert _select("contrastive", probs, emb, labeled, 1).tolist() == [19]


def test_contrastive_without_labels_is_margin_order() -> None:
    probs, emb, _ = _pool(seed=8)
    labeled = np.zeros(len(probs), dtype=bool)
    np.testing.assert_array_equal(_select("contrastive", probs, emb, labeled, 6),
                                  _select("margin", probs, emb, labeled, 6))


# --- the LLM selects ----------------------------------------------------------------------
TASK = Task(labels=["positive", "negative"], description="movie review sentiment")


def test_llm_is_a_registered_strategy_a_person_may_choose() -> None:
    assert "llm" in registry.names("strategies")
    strategy = registry.create("strategies", "llm")
    assert isinstance(strategy, LLMSelection) and strategy.needs_model and strategy.k == 3
    assert Steering.check({"strategy": "llm"}, TASK.labels,
                          registry.names("strategies")) == {"strategy": "llm"}
