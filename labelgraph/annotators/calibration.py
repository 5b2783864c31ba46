"""Calibrated confidence: each model label's signals, fitted against the labels a person or the
oracle confirmed (``labelgraph.trust.Calibrator``), and how well it is calibrated."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np

from labelgraph.annotators.base import Answer, Finish
from labelgraph.annotators.evidence import Evidence, gather_evidence
from labelgraph.memory.ledger import LabelRow
from labelgraph.trust import (
    Calibrator,
    ConfidenceSignals,
    expected_calibration_error,
)

if TYPE_CHECKING:
    from labelgraph.runtime import RunContext

__all__ = ["calibrating", "calibration_report", "confirmed", "fit_calibrator", "self_calibrating"]


def confirmed(rows: Sequence[LabelRow],
              source: str) -> list[tuple[LabelRow, ConfidenceSignals, bool]]:
    """Labels of ``source`` that a person or the oracle also labeled: each with its signals
    and whether it was right."""
    truth = {r.item_id: r.label for r in rows if r.source in {"human", "oracle"}
             and r.label is not None}
    return [(r, ConfidenceSignals.from_dict(json.loads(r.signals)), r.label == truth[r.item_id])
            for r in rows if r.source == source and r.label is not None
            and r.item_id in truth and r.signals]


def fit_calibrator(ctx: RunContext, source: str = "llm", *, top: bool = False,
                   rows: Sequence[LabelRow] | None = None) -> Calibrator:
    """The run's calibrator for ``source``, fitted on every label of it that a person or the
    oracle also labeled.

    ``top=True`` fits the pre-screen instead: P(a label is kept) from the evidence known
    before buying, on *every* label of ``source`` (kept unless a person overruled it).
    Fitting it on the confirmed labels alone would learn from the items that were sent on
    for low confidence — mostly wrong ones — and skip everything. ``rows``: the ledger's
    labels, if already read.
    """
    rows = ctx.ledger.all_labels() if rows is None else rows
    calibrator = Calibrator(min_points=ctx.config.calibration_min)
    if not top:
        pairs = confirmed(rows, source)
        return calibrator.fit([sig for _, sig, _ in pairs], [ok for *_, ok in pairs])
    truth = {r.item_id: r.label for r in rows if r.source in {"human", "oracle"}
             and r.label is not None}
    mine = [r for r in rows if r.source == source and r.label is not None and r.signals]
    return calibrator.fit(
        [ConfidenceSignals.from_dict(json.loads(r.signals)).before_buying() for r in mine],
        [truth.get(r.item_id, r.label) == r.label for r in mine])


def calibration_report(rows: Sequence[LabelRow]) -> dict[str, dict[str, float | int | None]]:
    """Per model source: confirmed labels, their accuracy, and the expected calibration
    error of the confidence they were given (calibrated) and of the raw combined score."""
    out: dict[str, dict[str, float | int | None]] = {}
    for source in ("llm", "strong"):
        pairs = confirmed(rows, source)
        if not pairs:
            continue
        right = [ok for *_, ok in pairs]
        out[source] = {
            "confirmed": len(pairs), "accuracy": round(float(np.mean(right)), 4),
            "ece": _rounded(expected_calibration_error(
                [float(r.confidence or 0.0) for r, _, _ in pairs], right)),
            "ece_raw": _rounded(expected_calibration_error([s.raw() for _, s, _ in pairs],
                                                           right))}
    return out


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def calibrating(ctx: RunContext, evidence: Evidence, calibrator: Calibrator) -> Finish:
    """What completes answer ``n`` of a batch before it is recorded: the run's evidence
    added to its signals, and its confidence calibrated."""
    labels = list(ctx.task.labels)

    def finish(n: int, answer: Answer) -> Answer:
        sig = evidence.signals(n, answer.label, labels, answer.signals)
        return replace(answer, confidence=float(calibrator.predict([sig])[0]), signals=sig)

    return finish


def self_calibrating(ctx: RunContext, items: Sequence[Any], source: str) -> Finish:
    """The finish of an annotator used alone: the evidence for ``items`` and the run's
    calibrator for ``source``."""
    return calibrating(ctx, gather_evidence(ctx, items), fit_calibrator(ctx, source))
