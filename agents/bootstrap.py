"""The bootstrap node: load and embed the pool, choose the cold-start seed, and pick up
labels a killed run bought but never verified (they go to the verifier). Memory is checked
against the ledger before any node runs (``LabelGraph.stream``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from langgraph.runtime import Runtime

from labelgraph.agents.accessors import round_of
from labelgraph.events import PoolLoaded, progress_writer
from labelgraph.registry import registry
from labelgraph.strategies import COLD_START
from labelgraph.types import LabeledItem

if TYPE_CHECKING:
    from labelgraph.graph.context import Context
    from labelgraph.graph.state import State


def bootstrap_node(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """Embed the pool (cached), pick the cold-start seed, send unverified labels on."""
    ctx = runtime.context
    # A graph invoked on a new thread of a run that has rounds already (a served graph, a
    # bare lg.graph.invoke) goes on counting from the ledger, as LabelGraph.stream does.
    round_ = max(round_of(state), ctx.ledger.last_round())
    pool = ctx.store.pool(progress=progress_writer(runtime.stream_writer, "embed", round_))
    ctx.store.test()
    log = [f"pool: {len(pool)} items"]
    seed: list[str] = []
    if ctx.store.model() is None:
        rows = registry.create("strategies", COLD_START).select(
            None, pool.embeddings, ctx.labeled_mask(), ctx.config.seed_size, ctx.rng(0, 0))
        seed = [pool.ids[r] for r in rows]
    # Labels bought before a kill and never verified: verify them now (no one is asked again).
    batch = [LabeledItem(id=r.item_id, text=r.text, origin=r.origin,  # type: ignore[typeddict-item]
                         intended=r.intended, label=r.label, source=r.source,
                         confidence=r.confidence) for r in ctx.ledger.unverified_labels()]
    if batch:
        log.append(f"{len(batch)} labels bought before a crash go to the verifier")
    runtime.stream_writer(PoolLoaded(round=round_, pool=len(pool), seed=len(seed)))
    return {"round": round_, "seed": seed, "batch": batch, "log": log,
            "spend": ctx.meter.snapshot()}
