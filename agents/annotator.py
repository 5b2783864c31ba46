"""The annotator node: labels the batch with the run's annotator (``labelgraph.annotators``).

Every label is in the ledger before this node returns; the item it hands on is a
:class:`~labelgraph.types.LabeledItem`. From the ledger it also reads how often its model
labels of the last rounds were overruled (by a more trusted source, the verifier or a
person's correction) and, when mostly, proposes to query rather than synthesize
(``labelgraph.proposals.annotator_proposal``).
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

from langgraph.runtime import Runtime

from labelgraph.agents.accessors import batch_of, round_of
from labelgraph.events import Labeled
from labelgraph.memory.ledger import item_costs
from labelgraph.proposals import MODEL_SOURCES, annotator_proposal, overrulings

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
    found = overrulings(ctx.ledger.label_outcomes(MODEL_SOURCES,
                                                  round_ - ctx.config.proposal_window),
                        ctx.ledger.corrections())
    proposal = annotator_proposal(found, ctx.config)
    return {"batch": batch, "spend": ctx.meter.snapshot(),
            "proposals": {"annotator": proposal.model_dump()} if proposal else {}}
