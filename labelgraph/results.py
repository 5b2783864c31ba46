"""What a run hands back, read from its records: the labeled dataset (memory), the learning
curve, the costs and the node timings (the ledger), gathered in a :class:`RunResult`.

These only read; :class:`~labelgraph.api.LabelGraph` calls them on its run's context.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from labelgraph.annotators import calibration_report
from labelgraph.graph.builder import NODES

if TYPE_CHECKING:
    from labelgraph.memory.examples import ExampleMemory
    from labelgraph.memory.ledger import Ledger

__all__ = ["RunResult", "labeled_dataset", "node_timings", "spending"]


@dataclass
class RunResult:
    """What a run hands back: the labeled dataset, the student, the curve and the cost."""

    dataset: pd.DataFrame
    model: Any
    curve: pd.DataFrame
    cost: dict[str, Any]
    stop_reason: str | None
    pending: dict[str, Any] | None
    run_dir: Path
    decisions: list[dict[str, Any]] = field(default_factory=list)
    timings: pd.DataFrame = field(default_factory=pd.DataFrame)  #: node x round, seconds

    @property
    def done(self) -> bool:
        return self.stop_reason is not None


def labeled_dataset(memory: ExampleMemory) -> pd.DataFrame:
    """Every labeled item in memory, with its provenance, one row each."""
    examples, _ = memory.all(status=None)
    return pd.DataFrame([{"id": e.id, "text": e.text, "label": e.label,
                          "source": e.source, "confidence": e.confidence,
                          "origin": e.origin, "status": e.status, "round": e.round,
                          "cost": e.cost}
                         for e in examples])


def node_timings(ledger: Ledger) -> pd.DataFrame:
    """Wall seconds each graph node took: one row per node (in graph order), one column
    per round."""
    rows = pd.DataFrame(ledger.timings(), columns=["round", "node", "seconds"])
    if rows.empty:
        return pd.DataFrame(dtype=float)
    table = rows.pivot_table(index="node", columns="round", values="seconds",
                             aggfunc="sum", fill_value=0.0)
    order = [n for n in NODES if n in table.index] + \
        [n for n in table.index if n not in NODES]
    return table.loc[order]


def spending(ledger: Ledger, memory: ExampleMemory) -> dict[str, Any]:
    """What the run spent (``LabelGraph.cost_report``): totals, labels and cost per source,
    money per accepted label, items bought twice, and the LLM's calibration."""
    rows = ledger.all_labels()
    totals = ledger.totals()
    by_source: dict[str, int] = {}
    for row in rows:
        key = row.source if row.origin == "pool" else f"{row.source} (synthetic)"
        by_source[key] = by_source.get(key, 0) + 1
    accepted = len(memory.all()[0])
    return {**totals, "labels_by_source": by_source, "by_source": ledger.cost_by_source(),
            "bought_twice": ledger.bought_twice(), "accepted": accepted,
            "usd_per_accepted_label": round(totals["usd"] / accepted, 6) if accepted
            else None, "calibration": calibration_report(rows)}
