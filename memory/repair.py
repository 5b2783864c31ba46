"""Memory rebuilt from the ledger: the ledger is the truth, Chroma an index of it.

:func:`ledger_memory` says what memory should hold by the ledger's account;
:func:`rebuild_memory` re-indexes all of it (``labelgraph rebuild RUN``) and
:func:`repair_memory` only what a crash kept from Chroma (every driver's start).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np

from labelgraph.memory.examples import Example, ExampleMemory, memory_status
from labelgraph.memory.ledger import Ledger, item_costs, most_authoritative

__all__ = ["ledger_memory", "rebuild_memory", "repair_memory", "same_example"]


def ledger_memory(ledger: Ledger) -> dict[str, Example]:
    """What memory holds by the ledger's account: every verified label, by item id.

    The ledger is the truth and Chroma an index: where an item has labels from several
    sources, the most authoritative one (human, oracle, a stronger model, the LLM) is
    kept, an audit's drop keeps it out, and a person's later correction overrides them all.
    """
    verdicts = ledger.verdicts()
    rows = ledger.all_labels()
    best = most_authoritative(r for r in rows if r.label and verdicts.get(
        r.item_id, ("",))[0] in {"accept", "flag"})
    cost = item_costs(rows)
    examples = {item_id: Example(id=item_id, text=r.text, label=r.label, source=r.source,
                                 confidence=float(r.confidence or 0.0), round=r.round,
                                 status=memory_status(verdicts[item_id][0], r.source),
                                 origin=r.origin, cost=cost[item_id])
                for item_id, r in best.items() if r.label}
    for finding in ledger.audits():  # labels an audit dropped stay out
        if finding["action"] == "drop" and finding["item_id"] in examples:
            examples[finding["item_id"]] = replace(examples[finding["item_id"]],
                                                   status="rejected")
    any_row = {r.item_id: r for r in rows if r.label}
    for item_id, label in ledger.corrections().items():  # a person's word is final
        if item_id in examples:
            examples[item_id] = examples[item_id].corrected(label)
        elif item_id in any_row:
            r = any_row[item_id]
            examples[item_id] = Example(id=item_id, text=r.text, label=str(r.label),
                                        source=r.source, confidence=0.0, round=r.round,
                                        origin=r.origin).corrected(label)
    return examples


def rebuild_memory(ledger: Ledger, memory: ExampleMemory,
                   embed: Callable[[list[Example]], np.ndarray] | None = None) -> int:
    """Re-index every verified label from the ledger into Chroma; returns how many. ``embed``
    gives their vectors (default: the memory's embedding function)."""
    examples = list(ledger_memory(ledger).values())
    memory.upsert(examples, embed(examples) if embed is not None and examples else None)
    return len(examples)


def same_example(a: Example, b: Example) -> bool:
    """Equal but for float noise in the confidence and cost (a value that went through the
    graph's state and the same value read from the ledger may differ in the last bit)."""
    return replace(a, confidence=0.0, cost=0.0) == replace(b, confidence=0.0, cost=0.0) \
        and abs(a.confidence - b.confidence) < 1e-9 and abs(a.cost - b.cost) < 1e-9


def repair_memory(ledger: Ledger, memory: ExampleMemory,
                  embed: Callable[[list[Example]], np.ndarray] | None = None) -> int:
    """Re-index only the examples memory lacks or holds otherwise than the ledger says
    (writes a crash kept from Chroma); returns how many. ``embed`` gives their vectors
    (default: the memory's embedding function)."""
    want = ledger_memory(ledger)
    have = {e.id: e for e in memory.get(list(want))}
    stale = [e for i, e in want.items() if i not in have or not same_example(have[i], e)]
    if stale:
        memory.upsert(stale, embed(stale) if embed is not None else None)
    return len(stale)
