"""What every annotator is: the :class:`Annotator` Protocol and the :class:`Answer` it
gives for each item."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from labelgraph.trust import Signals

if TYPE_CHECKING:
    from labelgraph.runtime import RunContext
    from labelgraph.types import Candidate

__all__ = ["Annotator", "Answer", "Finish", "Writer"]


Writer = Callable[[Any], None]


@dataclass(frozen=True)
class Answer:
    """A label (or an abstention, ``label=None``) with where it came from; ``confidence`` is
    calibrated where the run's calibrator could, ``signals`` what it was judged by."""

    label: str | None
    source: str
    confidence: float | None = None
    note: str | None = None
    signals: Signals | None = None


@runtime_checkable
class Annotator(Protocol):
    """Labels a batch of candidates; one :class:`Answer` per item, in order. ``ctx`` is the
    run it works for, as the narrow :class:`~labelgraph.runtime.RunContext` (an annotator
    never needs the graph)."""

    def annotate(self, items: list[Candidate], ctx: RunContext, round_: int,
                 write: Writer | None = None) -> list[Answer]:
        """Label ``items``; ``write`` (the graph's stream writer) receives progress events."""
        ...


#: What completes answer ``n`` of a batch before it is recorded (evidence, calibration).
Finish = Callable[[int, Answer], Answer]
