"""Annotators: who labels a batch — the oracle, the LLM, a person, or a hybrid of them.

Every label is bought at most once (:func:`labelgraph.budget.buy_once`): before asking
anyone the ledger is consulted, and an answer is written to it at once, so a node that
re-runs after a crash or a human interrupt replays the same labels and pays nothing twice.
Synthetic items are labeled blind: no prompt ever carries the label they were written for.
Every label carries its source, its cost and a confidence calibrated on the labels a person
or the oracle confirmed (``labelgraph.trust``).
Register your own with the ``labelgraph.annotators`` entry-point group.

One room per idea: :mod:`~labelgraph.annotators.base` (the Protocol and its answer),
:mod:`~labelgraph.annotators.buying` (a label bought at most once),
:mod:`~labelgraph.annotators.evidence` (what is known before buying),
:mod:`~labelgraph.annotators.calibration` (calibrated confidence), and one module per kind
of annotator: :mod:`~labelgraph.annotators.gold`, :mod:`~labelgraph.annotators.llm`,
:mod:`~labelgraph.annotators.human`, :mod:`~labelgraph.annotators.hybrid`.
"""

from __future__ import annotations

from labelgraph.annotators.base import (
    FEW_SHOT,
    NEEDS_RUN_LLM,
    PERSON,
    RAW,
    SOURCE,
    STRONGER,
    Annotator,
    Answer,
    Finish,
    Writer,
    annotator_sources,
)
from labelgraph.annotators.buying import buy_known_labels, buy_label, label_price
from labelgraph.annotators.calibration import (
    calibrating,
    calibration_report,
    confirmed,
    fit_calibrator,
    self_calibrating,
)
from labelgraph.annotators.evidence import Evidence, gather_evidence
from labelgraph.annotators.gold import OracleAnnotator, SimulatedAnnotator
from labelgraph.annotators.human import HumanAnnotator
from labelgraph.annotators.hybrid import HybridAnnotator
from labelgraph.annotators.llm import LLMAnnotator, tell_missing

__all__ = ["FEW_SHOT", "NEEDS_RUN_LLM", "PERSON", "RAW", "SOURCE", "STRONGER", "Annotator",
           "Answer", "Evidence", "Finish", "HumanAnnotator", "HybridAnnotator", "LLMAnnotator",
           "OracleAnnotator", "SimulatedAnnotator", "Writer", "annotator_sources",
           "buy_known_labels", "buy_label", "calibrating", "calibration_report", "confirmed",
           "fit_calibrator", "gather_evidence", "label_price", "self_calibrating", "tell_missing"]
