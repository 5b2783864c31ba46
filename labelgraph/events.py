"""Typed events: what nodes tell front-ends, through LangGraph's own stream.

Nodes write these frozen objects with the runtime's stream writer; ``LabelGraph.stream()``
(``stream_mode=["updates", "custom"]``) yields them as ``("custom", event)`` beside each
node's ``("updates", {...})``. Front-ends (the CLI's progress display, a notebook, the
console) are consumers of that stream; nothing is captured at construction time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Audited", "Continued", "Decided", "Event", "Generated", "LabelRequest", "Labeled",
           "Learned", "MemoryRepaired", "ModelCannot", "NotContinued", "Paused", "PoolChecked",
           "PoolLoaded", "Progress", "Selected", "Verified", "progress_writer"]


@dataclass(frozen=True)
class Event:
    """Base of every event: the round it belongs to."""

    round: int


@dataclass(frozen=True)
class PoolChecked(Event):
    """A pool or test split was validated and saved into the run; ``skipped`` counts the rows
    left out, by reason."""

    name: str
    size: int
    skipped: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class MemoryRepaired(Event):
    """Memory held ``examples`` rows otherwise than the ledger says (writes a crash kept from
    Chroma) and they were written again from the ledger, before the run went on."""

    examples: int


@dataclass(frozen=True)
class Continued(Event):
    """A stopped run goes on because a person changed it (``changes``, in words); it had
    stopped because of ``after``."""

    after: str
    changes: tuple[str, ...] = ()


@dataclass(frozen=True)
class NotContinued(Event):
    """A stopped run stays stopped: ``reason`` says why it stopped (or still would), ``hint``
    what would let it go on."""

    reason: str
    hint: str
    criteria: tuple[str, ...] = ()  #: the criteria that keep it stopped, by name


@dataclass(frozen=True)
class Paused(Event):
    """The run paused between items because a front-end asked it to; the step resumes
    where it was (what it bought is replayed from the ledger, never bought again)."""

    node: str


@dataclass(frozen=True)
class PoolLoaded(Event):
    """Bootstrap loaded the pool (and embedded what was not cached)."""

    pool: int
    seed: int


@dataclass(frozen=True)
class Decided(Event):
    """The supervisor's decision for this round (a ``Decision`` as a dict)."""

    action: str
    reason: str
    batch_size: int | None = None
    strategy: str | None = None
    target_labels: tuple[str, ...] = ()
    followed: tuple[str, ...] = ()
    criteria: tuple[str, ...] = ()


@dataclass(frozen=True)
class Selected(Event):
    """The selector picked ``n`` pool items with ``strategy`` (``reason``: why, when the
    strategy gives one, e.g. the LLM selector's reason or its fallback)."""

    n: int
    strategy: str
    reason: str = ""


@dataclass(frozen=True)
class Generated(Event):
    """The generator wrote ``n`` usable examples and dropped ``dropped`` near-duplicates."""

    n: int
    dropped: int
    targets: tuple[str, ...] = ()


@dataclass(frozen=True)
class Labeled(Event):
    """The annotator labeled ``n`` of ``batch`` items, by source."""

    n: int
    batch: int
    by_source: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Verified(Event):
    """The verifier's verdicts for the batch."""

    accepted: int
    flagged: int
    rejected: int


@dataclass(frozen=True)
class Audited(Event):
    """An audit of the whole memory: labels checked, suspects found, and what was done;
    ``not_audited`` names each class whose labels it could not cross-check, with why (``"too
    few labels to cross-check: 'x' has 1"``)."""

    checked: int
    suspect: int
    actions: dict[str, int]
    not_audited: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Learned(Event):
    """The learner refitted the student; ``metrics`` is the round's row of the curve."""

    metrics: dict[str, Any]


@dataclass(frozen=True)
class Progress(Event):
    """Progress of a long step: ``what`` ("embed", "annotate") is ``done`` of ``total``."""

    what: str
    done: int
    total: int


@dataclass(frozen=True)
class ModelCannot(Event):
    """The run's model showed it cannot do ``capability`` (``structured`` output,
    ``logprobs``, ``tools``): said once per run, with the server's words, and what is used
    instead from now on."""

    model: str
    capability: str
    detail: str
    instead: str


@dataclass(frozen=True)
class LabelRequest(Event):
    """The run waits for a person to label ``questions`` (also the interrupt's value)."""

    questions: tuple[dict[str, Any], ...]


def progress_writer(write: Callable[[Any], None] | None, what: str,
                    round_: int) -> Callable[[int, int], None]:
    """A ``(done, total)`` callback that writes :class:`Progress` events (or does nothing)."""
    def report(done: int, total: int) -> None:
        if write is not None:
            write(Progress(round=round_, what=what, done=done, total=total))
    return report
