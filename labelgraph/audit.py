"""The audit of the whole memory: which labels the evidence speaks against, and what to do.

A piece, not a node: the verifier runs it every ``audit_every`` rounds and
``LabelGraph.audit`` on demand. :func:`score_memory` is pure (labels, features and
embeddings in, scores out) so ``benchmarks/audit_unbalanced.py`` measures the very code a
run uses; :func:`audit_memory` reads memory, records the findings and acts on them.

Every class is audited that can be: a class with two labels or more is cross-validated with
the rest; a class with a single label cannot be (the fold holding it would train without
its class), so its label is scored from its neighbours and from a student of the other
classes, each measured against its class's usual support. Only when fewer than two classes
have two labels is there nothing to cross-check against, and then the audit says so.
"""

from __future__ import annotations

import json
import warnings
from collections import Counter
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from labelgraph.events import Audited
from labelgraph.student import fitting
from labelgraph.tools.hooks import run_checks
from labelgraph.trust import (
    AuditResult,
    _adjust_by_agreement,
    audit_actions,
    audit_scores,
    changeable,
    neighbour_distribution,
)
from labelgraph.types import Candidate

if TYPE_CHECKING:
    from collections.abc import Mapping

    from labelgraph.graph.context import Context
    from labelgraph.memory.examples import Example

#: Neighbours the memory audit reads (at least): 20 found more wrong labels than 5 or 10 on
#: both data sets of benchmarks/noise_audit.py.
AUDIT_NEIGHBOURS = 20

#: Labels a class needs in memory to be cross-validated. With two, the stratified folds put
#: them apart, so each is scored by a student that learned from the other and each can be the
#: other's neighbour. A class with one label is scored from its neighbours instead
#: (:func:`score_memory`).
AUDIT_MIN_LABELS = 2

#: A one-label class's label is suspect when it looks more like another class than this
#: share of that class's own labels do (set before measuring, not tuned). On R52 every wrong
#: lone label was found, and so were the right ones, which look like another class as much
#: (benchmarks/audit_unbalanced.py): so only a person acts on a lone label (lone_finding).
SINGLE_MIN_RANK = 0.2


def unauditable(counts: Mapping[str, int]) -> dict[str, str]:
    """The classes the audit cannot score, each with why (``counts``: labels per class in
    memory); empty when it can score them all. Cross-checking needs at least two classes
    with :data:`AUDIT_MIN_LABELS` labels or more; a one-label class is scored from its
    neighbours when they are there."""
    present = [label for label, n in counts.items() if n]
    cross = [label for label in present if counts[label] >= AUDIT_MIN_LABELS]
    if len(cross) >= 2:
        return {}
    if cross:
        why = (f"nothing to cross-check it against: {cross[0]!r} is the only class with "
               f"{AUDIT_MIN_LABELS} labels or more")
    else:
        why = f"nothing to cross-check against: no class has {AUDIT_MIN_LABELS} labels yet"
    return {label: why for label in present}


@dataclass(frozen=True)
class MemoryScores:
    """The audit's evidence for every label: ``result`` as :func:`trust.audit_scores` gives
    it, and ``single`` marking the labels of one-label classes (scored from neighbours)."""

    result: AuditResult
    single: np.ndarray


def score_memory(given: np.ndarray, features: Any, embeddings: np.ndarray, student: Any,
                 n_classes: int, *, seed: int = 0, k: int = AUDIT_NEIGHBOURS,
                 agreement: np.ndarray | None = None,
                 checks: np.ndarray | None = None) -> MemoryScores:
    """Score every label for being wrong (``given``: class indices, at least two classes with
    two labels or more — see :func:`unauditable`).

    Classes with two labels or more: out-of-fold probabilities of a stratified
    cross-validation (up to 5 folds; a small class sits in fewer folds than the others, each
    of its labels trained with the rest) mixed with the leave-one-out neighbours, errors
    counted per class (:func:`labelgraph.trust.audit_scores`). A one-label class: a student
    fitted on the other classes and the label's neighbours, compared with the other classes'
    own labels (:func:`single_label_scores`).
    """
    from sklearn.base import clone
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    given = np.asarray(given, dtype=int)
    counts = np.bincount(given, minlength=n_classes)
    single = counts[given] < AUDIT_MIN_LABELS
    cross = np.flatnonzero(~single)
    present = np.unique(given[cross])
    if present.size < 2:
        raise ValueError("score_memory needs two classes with two labels or more "
                         "(unauditable() says which)")
    neighbours = neighbour_distribution(embeddings, given, n_classes, k=k)
    x = features[cross]
    oof = np.full((cross.size, n_classes), 1e-6)
    with fitting(student), warnings.catch_warnings():
        # A class with fewer labels than folds sits in fewer folds: stratification still
        # keeps its labels apart, which is all the audit needs of it.
        warnings.filterwarnings("ignore", message=".*least populated class.*")
        oof[:, present] = cross_val_predict(
            clone(student), x, given[cross],
            cv=StratifiedKFold(int(min(5, counts.max())), shuffle=True, random_state=seed),
            method="predict_proba")
    found = audit_scores(given[cross], oof, neighbours[cross],
                         None if agreement is None else agreement[cross])
    score = np.full(given.size, np.nan)
    suggested = np.zeros(given.size, dtype=int)
    suspect = np.zeros(given.size, dtype=bool)
    score[cross], suggested[cross], suspect[cross] = found.score, found.suggested, found.suspect
    rows = np.flatnonzero(single)
    if rows.size:
        with fitting(student):
            model = clone(student).fit(x, given[cross])
        proba = np.full((rows.size, n_classes), 1e-6)
        proba[:, present] = model.predict_proba(features[rows])
        alone = single_label_scores(given[rows], proba, neighbours[rows], given[cross],
                                    oof, neighbours[cross])
        score[rows] = _adjust_by_agreement(alone.score,
                                           None if agreement is None else agreement[rows])
        suggested[rows], suspect[rows] = alone.suggested, alone.suspect
    if checks is not None:
        flagged = np.asarray(checks, dtype=bool)
        score[flagged] = np.maximum(score[flagged], 0.5)
        suspect = suspect | flagged
    return MemoryScores(AuditResult(score, suggested, suspect), single)


def single_label_scores(given: np.ndarray, proba: np.ndarray, neighbours: np.ndarray,
                        others: np.ndarray, others_oof: np.ndarray,
                        others_neighbours: np.ndarray,
                        neighbour_weight: float = 0.5) -> AuditResult:
    """Score labels that are alone in their class against the classes that can be
    cross-checked (``others``: their labels, out-of-fold probabilities and neighbour shares).

    Nothing can speak for a lone label's class: no student learned it and no neighbour
    shares it. What can be asked is whether the item is a plain member of another class:
    its evidence for each class k (the student of the other classes mixed with its
    neighbours, as :func:`~labelgraph.trust.audit_scores` mixes them) is ranked among the
    evidence for k of k's own labels. The rank for the likeliest such class is the share of
    k's labels that look less like k than the item does; the error score is
    ``0.5 + rank / 2`` (a typical member of k scores 0.75), and the label is suspect from a
    rank of :data:`SINGLE_MIN_RANK`.
    """
    mix = (1 - neighbour_weight) * np.asarray(proba, float) + neighbour_weight * neighbours
    own = (1 - neighbour_weight) * np.clip(others_oof, 1e-6, 1.0) \
        + neighbour_weight * others_neighbours
    rank = np.zeros(mix.shape)
    for c in np.unique(others):
        support = np.sort(own[others == c, c])
        rank[:, c] = np.searchsorted(support, mix[:, c], side="right") / support.size
    rank[np.arange(len(given)), given] = -1.0
    suggested = rank.argmax(axis=1)
    best = rank[np.arange(len(given)), suggested]
    return AuditResult(score=0.5 + best / 2, suggested=suggested, suspect=best >= SINGLE_MIN_RANK)


def lone_finding(finding: dict[str, Any]) -> dict[str, Any]:
    """A one-label class's finding: only a person may change it. Its evidence cannot tell a
    rare class from a slip (benchmarks/audit_unbalanced.py: on R52 the right lone labels
    scored as high as the wrong ones), so a model never relabels or drops it on that."""
    out = dict(finding)
    why = f"scored from its neighbours: {finding['label']!r} has 1 label"
    if out["action"] in ("relabel", "drop"):
        out["action"] = "keep"
        why += "; kept: a lone label is changed only by a person, and none can be asked"
    out["reason"] = f"{finding['reason']}; {why}"
    return out


def _agreement(ctx: Context, examples: list[Example]) -> np.ndarray:
    """The labelers' vote agreement for each example (NaN where unknown), from the ledger."""
    rows = ctx.ledger.labels_for([e.id for e in examples])
    out = np.full(len(examples), np.nan)
    for n, e in enumerate(examples):
        row = rows.get((e.id, e.source))
        said = json.loads(row.signals).get("agreement") if row and row.signals else None
        if said is not None:
            out[n] = float(said)
    return out


def audit_memory(ctx: Context, round_: int, *, apply: bool = True,
                 write: Any = None) -> list[dict[str, Any]]:
    """Audit every label in memory for being wrong; with ``apply``, act on the findings: ask
    the person (or the oracle) again, relabel by the stronger model, or drop. Returns one
    finding per label. When there is nothing to cross-check against (:func:`unauditable`)
    the labels are not scored: their finding's action is ``skip``, its score NaN and its
    reason says why. Every finding but a plain ``keep`` is recorded in the ledger's
    ``audits`` table with its reason, and the :class:`~labelgraph.events.Audited` event
    names the classes not audited."""
    examples, emb = ctx.memory.all(status=None, with_embeddings=True)
    keep = [n for n, e in enumerate(examples) if e.status != "rejected"
            and e.label in ctx.task.labels]
    examples = [examples[n] for n in keep]
    labels = list(ctx.task.labels)
    counts = Counter(e.label for e in examples)
    skipped = unauditable({label: counts[label] for label in labels})
    findings: list[dict[str, Any]] = [
        {"item_id": e.id, "label": e.label, "source": e.source, "score": float("nan"),
         "action": "skip", "suggested": None, "reason": skipped.get(e.label, "")}
        for e in examples]
    suspect = 0
    if examples and not skipped:
        emb = np.asarray(emb)[keep]
        checks = np.asarray([run_checks(ctx.tools.for_agent("verifier"), {
            "text": e.text, "label": e.label, "source": e.source, "confidence": e.confidence,
            "origin": e.origin}, "accept") is not None for e in examples])
        scores = score_memory(
            np.asarray([labels.index(e.label) for e in examples]),
            ctx.store.features([e.text for e in examples], emb), emb, ctx.student,
            len(labels), seed=ctx.config.seed, k=max(ctx.config.knn, AUDIT_NEIGHBOURS),
            agreement=_agreement(ctx, examples), checks=checks)
        result = scores.result
        suspect = int(result.suspect.sum())
        person, stronger = ctx.annotator_sources()
        actions = audit_actions(result, [e.source for e in examples],
                                person=person is not None, stronger=stronger is not None)
        findings = [{"item_id": e.id, "label": e.label, "source": e.source,
                     "score": float(result.score[n]), "action": actions[n][0],
                     "suggested": labels[int(result.suggested[n])], "reason": actions[n][1]}
                    for n, e in enumerate(examples)]
        for n in np.flatnonzero(scores.single):
            findings[n] = lone_finding(findings[n])
        if apply:
            _act(ctx, round_, examples, emb, findings, person, stronger, write)
    # A skipped label has no score; the ledger's column takes none, so it holds 0 there
    # (its action says it was not scored).
    ctx.ledger.record_audit(round_, [(f["item_id"], f["label"], f["source"],
                                      0.0 if f["action"] == "skip" else f["score"],
                                      f["action"], f["suggested"], f["reason"])
                                     for f in findings if f["action"] != "keep"])
    if write is not None:
        write(Audited(round=round_, checked=0 if skipped else len(examples), suspect=suspect,
                      actions=dict(Counter(f["action"] for f in findings
                                           if f["action"] != "skip")),
                      not_audited=skipped))
    return findings


def _act(ctx: Context, round_: int, examples: list[Example], emb: np.ndarray,
         findings: list[dict[str, Any]], person: Any, stronger: Any, write: Any) -> None:
    """Carry out an audit's actions on memory (labels bought go to the ledger first); the
    changed examples keep the embeddings memory holds (nothing is embedded again)."""
    by_id = {e.id: e for e in examples}
    row_of = {e.id: n for n, e in enumerate(examples)}
    changed: list[Example] = []
    for action, who in (("ask", person), ("relabel", stronger)):
        ids = [f["item_id"] for f in findings if f["action"] == action]
        if not ids or who is None:
            continue
        items = [Candidate(id=i, text=by_id[i].text, origin=by_id[i].origin, intended=None)
                 for i in ids]
        for item_id, answer in zip(ids, who.annotate(items, ctx, round_, write), strict=True):
            if answer.label in ctx.task.labels:
                changed.append(replace(by_id[item_id], label=answer.label,
                                       source=answer.source,
                                       confidence=float(answer.confidence or 1.0),
                                       status="accepted"))
    changed += [replace(by_id[f["item_id"]], status="rejected") for f in findings
                if f["action"] == "drop"]
    if changed:
        ctx.memory.upsert(changed, emb[[row_of[e.id] for e in changed]])


def worth_auditing(ctx: Context) -> bool:
    """Could the periodic audit change a label? Not while every label in memory is the
    oracle's, or a person's with nobody to ask again: then it is skipped (its
    cross-validation is the verifier's largest cost). ``LabelGraph.audit`` always runs."""
    person = ctx.annotator_sources()[0] is not None
    return any(changeable(e.source, person=person) for e in ctx.memory.all(status=None)[0]
               if e.status != "rejected")
