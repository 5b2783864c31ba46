"""The pure trust pieces: confidence signals, calibration, routing rules, audit scores."""

from __future__ import annotations

import numpy as np
import pytest

from labelgraph.trust import (
    Calibrator,
    affordable_share,
    audit_actions,
    audit_scores,
    buy_first,
    contextual_calibration,
    default_threshold,
    estimated_errors,
    expected_calibration_error,
    neighbour_distribution,
    new_label_scores,
    vote_agreement,
)
from labelgraph.trust import ConfidenceSignals as Signals


def test_contextual_calibration_removes_the_prompt_bias() -> None:
    # The prompt alone already says "positive" 80 % of the time: a 0.8 for positive is no news.
    out = contextual_calibration({"positive": 0.8, "negative": 0.2},
                                 {"positive": 0.8, "negative": 0.2})
    assert out == pytest.approx({"positive": 0.5, "negative": 0.5})
    out = contextual_calibration({"positive": 0.6, "negative": 0.4},
                                 {"positive": 0.8, "negative": 0.2})
    assert out["negative"] > out["positive"] and sum(out.values()) == pytest.approx(1.0)


def test_vote_agreement() -> None:
    assert vote_agreement(["a"]) is None
    assert vote_agreement(["a", "a", "a"]) == 1.0
    assert vote_agreement(["a", "b"]) == pytest.approx(0.0)
    assert 0.0 < vote_agreement(["a", "a", "b"]) < 1.0


def test_expected_calibration_error() -> None:
    assert expected_calibration_error([], []) is None
    assert expected_calibration_error([0.9] * 10, [True] * 9 + [False]) == pytest.approx(0.0)
    assert expected_calibration_error([0.9] * 10, [True] * 5 + [False] * 5) == \
        pytest.approx(0.4)


def test_raw_score_prefers_a_measured_probability_to_a_stated_one() -> None:
    assert Signals(llm=0.9, verbal=0.1).raw() == pytest.approx(0.9)
    assert Signals(verbal=0.9).raw() == pytest.approx(0.9)
    assert Signals().raw() == 0.5
    # A student that disagrees pulls the combined score down.
    assert Signals(llm=0.9, student=0.1).raw() < 0.9
    sig = Signals(llm=0.9, student_top=0.7)
    assert Signals.from_dict(sig.as_dict()) == sig
    assert sig.before_buying() == Signals(student=0.7)


def _simulated(n: int, seed: int) -> tuple[list[Signals], np.ndarray]:
    """An over-confident labeler: says 0.95 on every label; right 70 % of the time, and
    right exactly when the student agrees."""
    rng = np.random.default_rng(seed)
    right = rng.random(n) < 0.7
    return [Signals(llm=0.95, student=0.9 if r else 0.2) for r in right], right


def test_calibrator_learns_what_the_confirmed_labels_say() -> None:
    train, right = _simulated(200, 0)
    calibrator = Calibrator(min_points=20).fit(train, right)
    assert calibrator.fitted
    test, truth = _simulated(400, 1)
    conf = calibrator.predict(test)
    raw = np.asarray([s.raw() for s in test])
    assert expected_calibration_error(conf, truth) < 0.05
    assert expected_calibration_error(conf, truth) < expected_calibration_error(raw, truth)
    assert conf[truth].mean() > 0.9 and conf[~truth].mean() < 0.1


def test_calibrator_waits_for_enough_confirmations_of_both_kinds() -> None:
    signals = [Signals(llm=0.7)] * 30
    assert not Calibrator(min_points=20).fit(signals[:10], [True, False] * 5).fitted
    assert not Calibrator(min_points=20).fit(signals, [True] * 30).fitted
    assert Calibrator().fit(signals, [True] * 30).predict(signals[:2]) == \
        pytest.approx([0.7, 0.7])


def test_default_threshold_sends_the_affordable_share_on() -> None:
    conf = np.linspace(0.5, 1.0, 101)
    threshold = default_threshold(conf, 0.25)
    assert (conf < threshold).mean() == pytest.approx(0.25, abs=0.02)
    assert default_threshold(conf[:5], 0.25) == 0.8  # too few to tell: the fallback
    assert default_threshold(conf, 0.0) == 0.0  # nothing affordable: nothing goes on
    assert affordable_share(None, None, 0.0, 100) == 0.25
    assert affordable_share(1.0, None, 0.1, 100) == pytest.approx(0.1)
    assert affordable_share(None, 5, 0.0, 100) == pytest.approx(0.05)
    assert affordable_share(None, None, 0.1, 0) == 0.0
    # 25 of 25 items done went on (a seed): the rest may take less, for a quarter overall
    assert affordable_share(None, None, 0.0, 300, done=25, sent=25) == \
        pytest.approx((0.25 * 325 - 25) / 300)
    assert affordable_share(None, None, 0.0, 10, done=100, sent=90) == 0.0


def test_buy_first_skips_labels_expected_to_be_overruled() -> None:
    assert buy_first(None, 0.01, 0.1)  # no evidence yet: try the cheap source
    assert buy_first(0.1, 0.01, 0.1)
    assert not buy_first(0.6, 0.0, 0.0)  # overruled more often than not
    # Cheap label at 0.06, a person at 0.1: worth it only if overruled under 40 % of the time.
    assert not buy_first(0.45, 0.06, 0.1)
    assert buy_first(0.35, 0.06, 0.1)


def test_neighbour_distribution_leaves_each_row_out() -> None:
    emb = np.array([[1, 0], [0.99, 0.1], [0.98, 0.12], [0, 1], [0.1, 0.99]], dtype=np.float32)
    given = np.array([0, 0, 1, 1, 1])
    dist = neighbour_distribution(emb, given, 2, k=2)
    assert dist.shape == (5, 2) and np.allclose(dist.sum(1), 1.0)
    assert dist[2].tolist() == [1.0, 0.0]  # its two nearest are the two class-0 rows
    assert dist[3].tolist() == [0.0, 1.0]


def _noisy_two_class(seed: int, minority: float) -> tuple[np.ndarray, ...]:
    """Out-of-fold-like probabilities of a decent student on imbalanced data, 10 % flipped."""
    rng = np.random.default_rng(seed)
    n = 1000
    truth = (rng.random(n) < minority).astype(int)
    # The student under-predicts the rare class (as students do): its probability for
    # class 1 on class-1 items is only around 0.45.
    p1 = np.where(truth == 1, rng.beta(4.5, 5.5, n), rng.beta(1, 9, n))
    oof = np.column_stack([1 - p1, p1])
    flip = rng.random(n) < 0.1
    given = np.where(flip, 1 - truth, truth)
    return truth, given, oof, flip


def test_audit_does_not_punish_the_rare_class_for_being_rare() -> None:
    truth, given, oof, flip = _noisy_two_class(0, minority=0.1)
    result = audit_scores(given, oof)
    rare_right = (truth == 1) & ~flip
    # A plain "argmax differs from the label" rule flags most correct rare labels ...
    assert (oof.argmax(1)[rare_right] != 1).mean() > 0.5
    # ... the audit, measuring each class against its own usual support, few of them.
    assert result.suspect[rare_right].mean() < 0.2
    precision = result.suspect[flip].sum() / result.suspect.sum()
    recall = result.suspect[flip].mean()
    assert precision > 0.5 and recall > 0.5


def test_audit_uses_neighbours_agreement_and_checks() -> None:
    given = np.array([0, 0, 1, 1])
    oof = np.full((4, 2), 0.5)
    neighbours = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 1.0], [0.0, 1.0]])
    result = audit_scores(given, oof, neighbours)
    assert result.suspect.tolist() == [False, True, False, False]
    assert result.suggested[1] == 1
    low = audit_scores(given, oof, neighbours, agreement=np.array([np.nan, np.nan, 0.0, 1.0]))
    assert low.score[2] > low.score[3]
    checked = audit_scores(given, oof, neighbours, checks=np.array([0, 0, 0, 1], bool))
    assert checked.suspect[3] and checked.score[3] >= 0.5


def test_audit_actions() -> None:
    result = audit_scores(np.array([0, 0, 1, 1]), np.full((4, 2), 0.5),
                          np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 1.0], [1.0, 0.0]]))
    sources = ["llm", "llm", "llm", "human"]
    assert [a for a, _ in audit_actions(result, sources, person=True, stronger=False,
                                            act_above=0.5)] == \
        ["keep", "ask", "keep", "ask"]
    assert [a for a, _ in audit_actions(result, sources, person=False, stronger=True,
                                            act_above=0.5)] == \
        ["keep", "relabel", "keep", "keep"]
    weak = audit_actions(result, sources, person=True, stronger=False, act_above=0.99)
    assert [a for a, _ in weak] == ["keep"] * 4 and "weak" in weak[1][1]
    actions = audit_actions(result, sources, person=False, stronger=False, act_above=0.5,
                            drop_above=0.5)
    assert [a for a, _ in actions] == ["keep", "drop", "keep", "keep"]
    assert "a person's label" in actions[3][1]
    kept = audit_actions(result, sources, person=False, stronger=False, act_above=0.5,
                         drop_above=0.99)
    assert kept[1][0] == "keep" and "nobody to ask" in kept[1][1]


def _noisy_three_class(seed: int, n: int = 3000, rate: float = 0.2) -> tuple[np.ndarray, ...]:
    """Three classes of sizes 60/30/10 %, ``rate`` of the labels moved to another class,
    and an out-of-fold student that is right about 85 % of the time."""
    rng = np.random.default_rng(seed)
    truth = rng.choice(3, size=n, p=[0.6, 0.3, 0.1])
    logits = rng.normal(0.0, 1.0, (n, 3))
    logits[np.arange(n), truth] += 2.5
    oof = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    flip = rng.random(n) < rate
    given = np.where(flip, (truth + rng.integers(1, 3, n)) % 3, truth)
    return truth, given, oof, flip


def test_estimated_errors_counts_about_as_many_wrong_labels_as_there_are() -> None:
    _, given, oof, flip = _noisy_three_class(1)
    estimate = estimated_errors(given, oof)
    assert estimate.shape == (3,) and (estimate >= 0).all()
    assert abs(int(estimate.sum()) - int(flip.sum())) < 0.3 * flip.sum()
    clean = np.arange(300) % 3
    sure = np.eye(3)[clean] * 0.9 + 0.05  # a student sure of every (correct) label
    assert estimated_errors(clean, sure).sum() == 0


def test_audit_flags_about_the_estimated_number_and_is_more_precise_than_argmax() -> None:
    _, given, oof, flip = _noisy_three_class(2)
    result = audit_scores(given, oof)
    assert result.suspect.sum() <= estimated_errors(given, oof).sum()
    argmax = oof.argmax(1) != given

    def precision(flagged: np.ndarray) -> float:
        return (flagged & flip).sum() / flagged.sum()

    def f1(flagged: np.ndarray) -> float:
        return 2 * (flagged & flip).sum() / (flagged.sum() + flip.sum())

    assert precision(result.suspect) > precision(argmax) and f1(result.suspect) > 0.8
    # every suspect's evidence prefers its suggested class to its given one
    assert (result.score[result.suspect] > 0.5).all()
    assert (result.suggested != given).all()


def test_new_label_scores_need_strong_evidence_measured_per_class() -> None:
    thresholds = np.array([0.8, 0.3])  # the student rarely says class 1 with confidence
    prior = np.array([0.9, 0.1])
    proba = np.array([[0.7, 0.3], [0.7, 0.3], [0.97, 0.03]])
    result = new_label_scores(np.array([1, 0, 1]), proba, None, thresholds, prior)
    # 0.3 is this student's usual support for class 1: not evidence against it
    assert not result.suspect[0]
    assert not result.suspect[1]
    assert result.suspect[2] and result.suggested[2] == 0 and result.score[2] >= 0.8
    lenient = new_label_scores(np.array([1, 0, 1]), proba, None, thresholds, prior,
                               min_score=0.5)
    assert lenient.suspect.sum() >= result.suspect.sum()
