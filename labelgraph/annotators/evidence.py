"""What the run knows about items before anyone labels them: the student's probabilities and
the labels of their nearest neighbours in memory."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from labelgraph.student import proba_in_order
from labelgraph.trust import ConfidenceSignals

if TYPE_CHECKING:
    from labelgraph.runtime import RunContext

__all__ = ["Evidence", "gather_evidence"]


@dataclass(frozen=True)
class Evidence:
    """What the run knows about items before anyone labels them: the student's class
    probabilities and the labels of their nearest neighbours in memory (None: not yet)."""

    student: np.ndarray | None
    neighbours: np.ndarray | None

    def signals(self, n: int, label: str | None, labels: Sequence[str],
                base: ConfidenceSignals | None = None) -> ConfidenceSignals:
        """``base`` completed with the student's and the neighbours' support for ``label``."""
        base = replace(base or ConfidenceSignals(), **self._top(n))
        if label not in labels:
            return base
        k = list(labels).index(label)
        return replace(
            base,
            student=None if self.student is None else float(self.student[n, k]),
            neighbours=None if self.neighbours is None else float(self.neighbours[n, k]))

    def subset(self, rows: Sequence[int]) -> Evidence:
        """The evidence of some items, in the order given."""
        return Evidence(*(None if a is None else a[list(rows)]
                          for a in (self.student, self.neighbours)))

    def _top(self, n: int) -> dict[str, float | None]:
        return {"student_top": None if self.student is None else float(self.student[n].max()),
                "neighbours_top": None if self.neighbours is None
                else float(self.neighbours[n].max())}

    def before_buying(self, n: int) -> ConfidenceSignals:
        """The evidence for item ``n``'s most likely label, whatever it is."""
        top = self._top(n)
        return ConfidenceSignals(student=top["student_top"], neighbours=top["neighbours_top"])


def gather_evidence(ctx: RunContext, items: Sequence[Any],
                    emb: np.ndarray | None = None) -> Evidence:
    """The student's probabilities and neighbour label shares (``knn`` nearest accepted
    labels) for ``items``."""
    if not items:
        return Evidence(None, None)
    emb = ctx.embed_items(list(items)) if emb is None else emb
    labels = list(ctx.task.labels)
    model = ctx.store.model()
    student = None if model is None else proba_in_order(
        model, ctx.store.features([i["text"] for i in items], emb), labels)
    rows = ctx.memory.similar(emb, ctx.config.knn, exclude=[i["id"] for i in items])
    neighbours = None
    if rows and all(len(r) >= ctx.config.knn for r in rows):
        neighbours = np.zeros((len(items), len(labels)))
        for n, row in enumerate(rows):
            for ex, _ in row:
                if ex.label in labels:
                    neighbours[n, labels.index(ex.label)] += 1.0 / len(row)
    return Evidence(student, neighbours)
