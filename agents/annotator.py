"""The annotator node: labels the batch with the run's annotator (``labelgraph.annotators``).

Every label is in the ledger before this node returns; the item it hands on is a
:class:`~labelgraph.types.LabeledItem`.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

from langgraph.runtime import Runtime

from labelgraph.events import Labeled
from labelgraph.graph.state import batch_of, round_of
from labelgraph.memory.ledger import item_costs

if TYPE_CHECKING:
    from labelgraph.graph.context import Context
    from labelgraph.graph.state import State


def annotator_node(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """Label the batch; synthetic items are labeled blind (their intended label is not shown)."""
    ctx = runtime.context
    round_ = round_of(state)
    batch = batch_of(state)
    answers = ctx.annotator.annotate(batch, ctx, round_, runtime.stream_writer)
    # Everything an item cost: every source it was bought from (an LLM, then a person).
    cost = item_costs(ctx.ledger.labels_for([i["id"] for i in batch]).values())
    for item, answer in zip(batch, answers, strict=True):
        item.update(label=answer.label, source=answer.source, confidence=answer.confidence)
        item["cost"] = cost.get(item["id"], 0.0)
        if answer.label is None:
            item["reason"] = answer.note or "no label"
    by_source = Counter(i["source"] for i in batch if i.get("label") is not None)
    runtime.stream_writer(Labeled(round=round_, n=sum(by_source.values()), batch=len(batch),
                                  by_source=dict(by_source)))
    return {"batch": batch, "spend": ctx.meter.snapshot()}
