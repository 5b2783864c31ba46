"""How far to trust a label: confidence signals, a per-run calibrator, routing, the audit.

Pure pieces over numbers and arrays, unit-testable without a model. The annotators gather
the signals (:class:`ConfidenceSignals`), the run's :class:`Calibrator` turns them into the
probability that a label is right, fitted on the labels a person or the oracle confirmed;
:func:`buy_first` and :func:`default_threshold` route an item before and after an LLM label
is bought; :func:`audit_scores` scores every label in memory for being wrong.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np

__all__ = ["SEND_ON_CAP", "AuditResult", "Calibrator", "ConfidenceSignals", "audit_actions",
           "audit_scores", "buy_first", "contextual_calibration", "default_threshold",
           "estimated_errors", "expected_calibration_error", "neighbour_distribution",
           "new_label_scores", "vote_agreement"]

_EPS = 1e-3


def _logit(p: float) -> float:
    p = min(max(float(p), _EPS), 1.0 - _EPS)
    return math.log(p / (1.0 - p))


def contextual_calibration(probs: Mapping[str, float],
                           prior: Mapping[str, float]) -> dict[str, float]:
    """Divide label probabilities by the model's label prior (its scores for the same prompt
    with an empty text) and renormalise: removes the bias a prompt puts on one label."""
    adj = {k: float(p) / max(float(prior.get(k, 0.0)), 1e-6) for k, p in probs.items()}
    total = sum(adj.values()) or 1.0
    return {k: v / total for k, v in adj.items()}


def vote_agreement(votes: Sequence[str | None]) -> float | None:
    """One minus the normalised entropy of the votes (1: unanimous); None under two votes."""
    cast = [v for v in votes if v is not None]
    if len(cast) < 2:
        return None
    _, counts = np.unique(np.asarray(cast, dtype=object).astype(str), return_counts=True)
    if counts.size == 1:
        return 1.0
    p = counts / counts.sum()
    return float(1.0 + (p * np.log(p)).sum() / math.log(len(cast)))


def expected_calibration_error(confidence: Sequence[float], correct: Sequence[bool],
                               bins: int = 10) -> float | None:
    """Mean |accuracy - confidence| over equal-width confidence bins, weighted by count."""
    conf = np.asarray(confidence, dtype=float)
    hit = np.asarray(correct, dtype=float)
    if conf.size == 0:
        return None
    which = np.minimum((conf * bins).astype(int), bins - 1)
    total = 0.0
    for b in np.unique(which):
        sel = which == b
        total += sel.sum() * abs(hit[sel].mean() - conf[sel].mean())
    return float(total / conf.size)


@dataclass(frozen=True)
class ConfidenceSignals:
    """What speaks for a label, each in [0, 1] or None when the backend cannot tell.

    ``llm``: the label word's probability (after contextual calibration where used);
    ``agreement``: agreement of votes over prompt variants; ``student``: the student's
    probability of the label; ``neighbours``: share of the nearest labeled examples with
    the label; ``verbal``: a confidence the model stated, the last resort.
    """

    llm: float | None = None
    agreement: float | None = None
    student: float | None = None
    neighbours: float | None = None
    verbal: float | None = None
    #: the student's and the neighbours' support for their own top label, known before a
    #: label is bought (what the router decides on); not used to judge the label itself
    student_top: float | None = None
    neighbours_top: float | None = None

    # Weights of the uncalibrated combination (log-odds space): the label-word probability
    # is the best single signal; a stated confidence is worth less than a measured one.
    _WEIGHTS = {"llm": 1.0, "verbal": 0.5, "agreement": 0.5, "student": 0.5, "neighbours": 0.5}

    def as_dict(self) -> dict[str, float]:
        return {k: round(float(v), 4) for k, v in asdict(self).items() if v is not None}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> ConfidenceSignals:
        data = data or {}
        names = {f.name for f in fields(cls)}
        return cls(**{k: float(v) for k, v in data.items() if k in names and v is not None})

    def before_buying(self) -> ConfidenceSignals:
        """Only what was known before the label was bought, as judging signals."""
        return ConfidenceSignals(student=self.student_top, neighbours=self.neighbours_top)

    def raw(self) -> float:
        """A combined score before any calibration: a weighted mean of the signals' log-odds
        (a stated confidence counts only when no probability is measured)."""
        parts = {k: v for k, v in self.as_dict().items() if k in self._WEIGHTS}
        if "llm" in parts:
            parts.pop("verbal", None)
        if not parts:
            return 0.5
        w = sum(self._WEIGHTS[k] for k in parts)
        z = sum(self._WEIGHTS[k] * _logit(v) for k, v in parts.items()) / w
        return 1.0 / (1.0 + math.exp(-z))

    def vector(self) -> np.ndarray:
        """Features for the calibrator: each signal's log-odds and whether it is present."""
        out = []
        for key in ("llm", "verbal", "agreement", "student", "neighbours"):
            value = getattr(self, key)
            out += [0.0, 0.0] if value is None else [_logit(value), 1.0]
        return np.asarray(out, dtype=float)


class Calibrator:
    """P(label is right | signals), fitted on labels a person or the oracle confirmed.

    Below ``min_points`` confirmations, or before both right and wrong labels were seen,
    it returns the uncalibrated :meth:`ConfidenceSignals.raw` score. Then a logistic regression on
    the signals' log-odds (``C`` its L2 strength): it weighs the signals by how well each
    predicted the confirmed labels, and its output is a calibrated probability.
    """

    def __init__(self, min_points: int = 20, C: float = 1.0) -> None:  # noqa: N803 - sklearn
        self.min_points = min_points
        self.C = C

    def fit(self, signals: Sequence[ConfidenceSignals], correct: Sequence[bool]) -> Calibrator:
        y = np.asarray(correct, dtype=int)
        self.n_ = int(y.size)
        self.model_: Any = None
        if y.size >= self.min_points and 0 < y.sum() < y.size:
            from sklearn.linear_model import LogisticRegression

            x = np.vstack([s.vector() for s in signals])
            self.model_ = LogisticRegression(C=self.C, max_iter=1000).fit(x, y)
        return self

    @property
    def fitted(self) -> bool:
        return getattr(self, "model_", None) is not None

    def predict(self, signals: Sequence[ConfidenceSignals]) -> np.ndarray:
        """Calibrated probability that each label is right."""
        if not signals:
            return np.zeros(0)
        if not self.fitted:
            return np.asarray([s.raw() for s in signals])
        x = np.vstack([s.vector() for s in signals])
        return self.model_.predict_proba(x)[:, 1]


def default_threshold(confidences: Sequence[float], share: float,
                      fallback: float = 0.8) -> float:
    """The confidence under which the ``share`` of items the budget can afford to send on
    falls: the ``share``-quantile of recent calibrated confidences, within [0.5, 0.99]."""
    conf = np.asarray(confidences, dtype=float)
    if conf.size < 10 or share <= 0:
        return fallback if share > 0 else 0.0
    return float(np.clip(np.quantile(conf, min(share, 1.0)), 0.5, 0.99))


#: The default routing threshold sends at most this share of a run's items on to a person.
SEND_ON_CAP = 0.25


def affordable_share(usd_left: float | None, labels_left: int | None, price_next: float,
                     items_left: int, cap: float = SEND_ON_CAP, *, done: int = 0,
                     sent: int = 0) -> float:
    """Share of the remaining items the next source can take within the money and labels
    left, so that over the whole run at most ``cap`` of the items go on: ``done`` items
    are labeled already, ``sent`` of them went on (the cold-start seed, for one). A
    budget's rule of thumb for the default threshold."""
    if items_left <= 0:
        return 0.0
    share = min(cap, (cap * (done + items_left) - sent) / items_left)
    if usd_left is not None and price_next > 0:
        share = min(share, usd_left / (price_next * items_left))
    if labels_left is not None:
        share = min(share, labels_left / items_left)
    return max(0.0, share)


def buy_first(p_overruled: float | None, price_first: float, price_next: float) -> bool:
    """Buy the cheap label first only if it is not expected to be overruled: cheaper on
    average than going straight to the next source (price + P(overruled) * next price)
    and overruled less often than not."""
    if p_overruled is None:
        return True
    if p_overruled >= 0.5:
        return False
    return price_next <= 0 or price_first + p_overruled * price_next < price_next


def neighbour_distribution(embeddings: np.ndarray, given: np.ndarray, n_classes: int,
                           k: int = 10, chunk: int = 2048) -> np.ndarray:
    """Leave-one-out share of each class among every row's k nearest rows (cosine)."""
    x = np.asarray(embeddings, dtype=np.float32)
    x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    n = x.shape[0]
    k = min(k, n - 1)
    out = np.zeros((n, n_classes))
    if k <= 0:
        return np.full((n, n_classes), 1.0 / n_classes)
    for start in range(0, n, chunk):
        sims = x[start:start + chunk] @ x.T
        rows = np.arange(start, min(start + chunk, n))
        sims[rows - start, rows] = -np.inf
        near = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        for c in range(n_classes):
            out[rows, c] = (given[near] == c).mean(axis=1)
    return out


@dataclass(frozen=True)
class AuditResult:
    """Per label: the error score (the share the best other class has against the given
    one, 0.5 a tie), that class, and whether the label is suspect."""

    score: np.ndarray
    suggested: np.ndarray
    suspect: np.ndarray


def _prefers_other(p: np.ndarray, given: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row: the best class other than the given one, and its two-way share against the
    given class (0.5: a tie; 0.9: nine to one against the given label)."""
    rows = np.arange(given.size)
    other = p.copy()
    other[rows, given] = -np.inf
    best = other.argmax(axis=1)
    mine, theirs = p[rows, given], p[rows, best]
    return best, theirs / np.maximum(mine + theirs, 1e-12)


def _adjust_by_agreement(score: np.ndarray, agreement: np.ndarray | None) -> np.ndarray:
    """A labeler that disagreed with itself makes its label more suspect (agreement 0
    halves the share the evidence leaves the given label; agreement 1 leaves it)."""
    if agreement is None:
        return score
    a = np.asarray(agreement, dtype=float)
    has = ~np.isnan(a)
    out = score.copy()
    out[has] = 1.0 - (1.0 - out[has]) * (0.5 + 0.5 * a[has])
    return out


def estimated_errors(given: np.ndarray, p: np.ndarray) -> np.ndarray:
    """How many labels of each class are wrong, estimated by confident counting.

    Each row counts toward the class it is *confidently* in: the likeliest class whose
    probability reaches that class's own threshold (its mean probability on the rows
    labeled with it), so a class the evidence under-predicts is measured against its own
    usual support. Each given class's counts are rescaled to its size; what falls off the
    diagonal is the estimate (Northcutt et al. 2021, "Confident learning").
    """
    n, k = p.shape
    thresholds = np.array([p[given == c, c].mean() if np.any(given == c) else 1.0
                           for c in range(k)])
    above = p >= thresholds
    confident = np.where(above, p, -1.0).argmax(axis=1)
    has = above.any(axis=1)
    joint = np.zeros((k, k))
    np.add.at(joint, (given[has], confident[has]), 1.0)
    sizes = np.bincount(given, minlength=k).astype(float)
    totals = joint.sum(axis=1)
    kept = np.divide(joint[np.arange(k), np.arange(k)], totals, out=np.ones(k),
                     where=totals > 0)
    return np.rint(sizes * (1.0 - kept)).astype(int)


def audit_scores(given: np.ndarray, oof: np.ndarray, neighbours: np.ndarray | None = None,
                 agreement: np.ndarray | None = None, checks: np.ndarray | None = None,
                 neighbour_weight: float = 0.5) -> AuditResult:
    """Score every label in memory for being wrong from out-of-fold student probabilities,
    its nearest labeled neighbours, the labeler's vote agreement and custom checks.

    The evidence is the student's out-of-fold probabilities mixed with the neighbours'
    label shares (``neighbour_weight`` of the latter). How many labels of each class are
    wrong is estimated by confident counting (:func:`estimated_errors`); in each class that
    many labels, those the evidence speaks most strongly against, are suspect, and only if
    the evidence prefers another class. Counting per class is what keeps a rare class from
    being punished for being rare. ``benchmarks/noise_audit.py`` measures it against
    cleanlab's ``find_label_issues``. A label a check rejects is always suspect.
    """
    given = np.asarray(given, dtype=int)
    p = np.clip(np.asarray(oof, dtype=float), 1e-6, 1.0)
    p = p / p.sum(axis=1, keepdims=True)
    if neighbours is not None:
        p = (1.0 - neighbour_weight) * p + neighbour_weight * np.asarray(neighbours, float)
    suggested, score = _prefers_other(p, given)
    margin = p[np.arange(given.size), suggested] - p[np.arange(given.size), given]
    suspect = np.zeros(given.size, dtype=bool)
    for c, wrong in enumerate(estimated_errors(given, p)):
        rows = np.flatnonzero(given == c)
        if wrong and rows.size:
            worst = rows[np.argsort(-margin[rows], kind="stable")[:wrong]]
            suspect[worst[margin[worst] > 0]] = True
    score = _adjust_by_agreement(score, agreement)
    if checks is not None:
        flagged = np.asarray(checks, dtype=bool)
        score[flagged] = np.maximum(score[flagged], 0.5)
        suspect = suspect | flagged
    return AuditResult(score=score, suggested=suggested, suspect=suspect)


def new_label_scores(given: np.ndarray, proba: np.ndarray, neighbours: np.ndarray | None,
                     thresholds: np.ndarray, prior: np.ndarray,
                     neighbour_weight: float = 0.5, min_score: float = 0.8) -> AuditResult:
    """Score a few new labels against a larger memory, before they join it.

    Too few to count errors among, so each class is measured against its usual support in
    memory instead: the student's probability divided by the class's threshold (its mean
    probability on memory's labels of that class) and the neighbours' share by its prior.
    A new label is suspect when that evidence prefers another class at least
    ``min_score`` to ``1 - min_score`` (a young student is often wrong; a flag costs a
    label).
    """
    given = np.asarray(given, dtype=int)
    p = np.clip(np.asarray(proba, dtype=float), 1e-6, 1.0)
    log_evidence = np.log(p / np.maximum(thresholds, 1e-6))
    if neighbours is not None:
        # A pseudo-count of the prior keeps a row with no neighbour of a class finite.
        lift = (np.asarray(neighbours, dtype=float) + prior) / (2.0 * np.maximum(prior, 1e-6))
        log_evidence = log_evidence + neighbour_weight * np.log(np.maximum(lift, 1e-12))
    post = np.exp(log_evidence - log_evidence.max(axis=1, keepdims=True))
    post /= post.sum(axis=1, keepdims=True)
    suggested, score = _prefers_other(post, given)
    return AuditResult(score=score, suggested=suggested, suspect=score >= min_score)


def changeable(source: str, *, person: bool) -> bool:
    """Could an audit change a label from ``source``? Not the oracle's (gold: asking again
    returns the same label at a price), nor a person's when no person can be asked again."""
    return source != "oracle" and (source != "human" or person)


def audit_actions(result: AuditResult, sources: Sequence[str], *, person: bool,
                  stronger: bool, act_above: float = 0.7,
                  drop_above: float = 0.9) -> list[tuple[str, str]]:
    """One (action, reason) per label: keep, ask a person, relabel by a stronger source, or
    drop. Only a suspect with an error score of at least ``act_above`` costs anything (a
    young student is often wrong); a label from a person is never dropped or relabeled by
    a model: it is asked again when a person is at hand, else kept; the oracle's (gold)
    labels are kept."""
    out: list[tuple[str, str]] = []
    for score, suspect, source in zip(result.score, result.suspect, sources, strict=True):
        if not suspect:
            out.append(("keep", f"evidence agrees (error score {score:.2f})"))
            continue
        if score < act_above:
            out.append(("keep", f"suspect, but the evidence is weak (error score {score:.2f} "
                                f"< {act_above})"))
            continue
        why = f"the evidence prefers another label (error score {score:.2f})"
        if not changeable(source, person=person):
            out.append(("keep", why + ("; kept: the oracle's label is the gold label"
                                       if source == "oracle" else
                                       "; kept: a person's label and no person to ask")))
        elif source == "human":
            out.append(("ask", why + "; a person's label is asked again"))
        elif person:
            out.append(("ask", why))
        elif stronger:
            out.append(("relabel", why))
        elif score >= drop_above:
            out.append(("drop", why + f" >= {drop_above}"))
        else:
            out.append(("keep", why + f"; kept: under {drop_above} and nobody to ask"))
    return out


def __getattr__(name: str) -> Any:
    """``Signals``, the old name of :class:`ConfidenceSignals`, still imports (with a
    DeprecationWarning): it is a documented public name."""
    if name == "Signals":
        warnings.warn("labelgraph.trust.Signals is renamed ConfidenceSignals; "
                      "the old name will be removed",
                      DeprecationWarning, stacklevel=2)
        return ConfidenceSignals
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
