"""What every annotator is: the :class:`Annotator` Protocol and the :class:`Answer` it
gives for each item."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from labelgraph.capabilities import Capability, capability
from labelgraph.trust import ConfidenceSignals

if TYPE_CHECKING:
    from labelgraph.runtime import RunContext
    from labelgraph.types import Candidate

__all__ = ["FEW_SHOT", "NEEDS_RUN_LLM", "PERSON", "RAW", "SOURCE", "STRONGER", "Annotator",
           "Answer", "Finish", "Writer", "annotator_sources"]


Writer = Callable[[Any], None]


@dataclass(frozen=True)
class Answer:
    """A label (or an abstention, ``label=None``) with where it came from; ``confidence`` is
    calibrated where the run's calibrator could, ``signals`` what it was judged by."""

    label: str | None
    source: str
    confidence: float | None = None
    note: str | None = None
    signals: ConfidenceSignals | None = None


@runtime_checkable
class Annotator(Protocol):
    """Labels a batch of candidates; one :class:`Answer` per item, in order. ``ctx`` is the
    run it works for, as the narrow :class:`~labelgraph.runtime.RunContext` (an annotator
    never needs the graph).

    Optional capabilities (:mod:`labelgraph.capabilities`; the value assumed without each):

    - ``uses_tools`` (False): it runs as a tool-calling agent over the annotator's tools
      when the run's chat model calls tools (:data:`~labelgraph.capabilities.USES_TOOLS`);
    - ``needs_run_llm`` (False): it labels with the run's chat model, so a run without one
      is refused at the start (:data:`NEEDS_RUN_LLM`);
    - ``source`` ("llm"): the ledger source its labels are recorded under (:data:`SOURCE`);
    - ``few_shot(ctx) -> bool`` (absent: False): its labels lean on demonstrations from
      memory, so a hybrid waits for a few before asking it (:data:`FEW_SHOT`);
    - ``raw(items, ctx, round_, write, finish)`` (absent: ``annotate`` is used): labels
      bought and recorded, each completed by ``finish(n, answer)`` first, so a hybrid can
      add its evidence and calibrate before anything is written (:data:`RAW`);
    - ``person`` and ``stronger`` (None): who can be asked again about a doubtful label — a
      person (or the oracle standing in for one) and a stronger model
      (:data:`PERSON`, :data:`STRONGER`; read by :func:`annotator_sources`).
    """

    def annotate(self, items: list[Candidate], ctx: RunContext, round_: int,
                 write: Writer | None = None) -> list[Answer]:
        """Label ``items``; ``write`` (the graph's stream writer) receives progress events."""
        ...


NEEDS_RUN_LLM = Capability(
    "needs_run_llm", False,
    "it labels with the run's chat model: a run without one is refused at the start")
SOURCE = Capability("source", "llm", "the ledger source its labels are recorded under")
FEW_SHOT = Capability(
    "few_shot", None,
    "few_shot(ctx) -> bool: its labels lean on demonstrations from memory (a hybrid asks it "
    "only once memory holds min_demos labels); absent: it does not")
RAW = Capability(
    "raw", None,
    "raw(items, ctx, round_, write, finish) -> answers bought and recorded, each completed by "
    "finish(n, answer) first; absent: a hybrid calls annotate, which calibrates on its own")
PERSON = Capability(
    "person", None,
    "the annotator a doubtful label can go back to: a person, or the oracle standing in for "
    "one (a person's or the oracle's own annotator is its own person)")
STRONGER = Capability(
    "stronger", None, "the annotator of a stronger model a doubtful label can go to")


def annotator_sources(annotator: Any) -> tuple[Annotator | None, Annotator | None]:
    """Who can be asked again about a doubtful label: a person (or the oracle standing in
    for one) and a stronger model, each None when the run's annotator has none."""
    return capability(annotator, PERSON), capability(annotator, STRONGER)


#: What completes answer ``n`` of a batch before it is recorded (evidence, calibration).
Finish = Callable[[int, Answer], Answer]
