"""Query strategies: pure functions of (probabilities, embeddings, labeled mask, n, rng)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from labelgraph.errors import InputError
from labelgraph.registry import registry
from labelgraph.strategies import Diverse, Entropy, LeastConfidence, Margin, Strategy, top_unlabeled

ALL = registry.names("strategies")
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
    assert strategy.needs_model == (name not in ("random", "cold_start"))


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


@pytest.mark.parametrize("k", [3, 5])
def test_cold_start_one_per_cluster(k: int) -> None:
    emb, blob = _blobs(k=k, per=30, dim=6, seed=k)
    labeled = np.zeros(len(emb), dtype=bool)
    out = _select("cold_start", None, emb, labeled, k)
    assert sorted(blob[out].tolist()) == list(range(k))
    # each pick is the blob member nearest its cluster's centre (the blob mean)
    for row in out:
        members = np.flatnonzero(blob == blob[row])
        centre = emb[members].mean(axis=0)
        nearest = members[np.argmin(((emb[members] - centre) ** 2).sum(axis=1))]
        assert row == nearest


def test_cold_start_ignores_labeled_rows() -> None:
    emb, blob = _blobs(k=3, per=20, seed=7)
    labeled = blob == 0  # blob 0 is already labeled
    out = _select("cold_start", None, emb, labeled, 2)
    assert not labeled[out].any()
    assert sorted(blob[out].tolist()) == [1, 2]


def test_cold_start_distinct_even_with_duplicate_embeddings() -> None:
    emb = np.repeat(np.eye(3, dtype=np.float32), 20, axis=0)
    labeled = np.zeros(len(emb), dtype=bool)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = _select("cold_start", None, emb, labeled, 5)
    assert len(set(out.tolist())) == 5
