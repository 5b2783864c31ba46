"""The selector node: picks the batch from the pool with the decided strategy.

Strategies are pure pieces (``labelgraph.strategies``); this node finds their inputs (the
student's pool probabilities, the embeddings, the labeled mask), records nothing but the
batch, and proposes synthesis when nothing informative is left in the pool.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from langgraph.runtime import Runtime

from labelgraph.events import Selected
from labelgraph.graph.state import decision_of, round_of
from labelgraph.types import Candidate, Proposal

if TYPE_CHECKING:
    from labelgraph.graph.context import Context
    from labelgraph.graph.state import State

COLD_START = "cold_start"


def _rows(state: State, ctx: Context, name: str, n: int, labeled: np.ndarray,
          probs: np.ndarray | None, round_: int) -> np.ndarray:
    """Pool rows for this round. The cold start takes the bootstrap's seed first, then new
    diverse items (for a batch larger than the seed, or a seed that showed one label)."""
    pool = ctx.store.pool()
    if name == COLD_START:
        seed = [r for r in pool.rows(state.get("seed") or []) if not labeled[r]][:n]
        if seed and len(seed) < n:  # a batch larger than the seed: more diverse items
            taken = labeled.copy()
            taken[seed] = True
            more = ctx.strategy(COLD_START).select(None, pool.embeddings, taken, n - len(seed),
                                                   ctx.rng(round_, 1))
            return np.concatenate([np.asarray(seed, dtype=np.int64), more])
        if seed:
            return np.asarray(seed, dtype=np.int64)
    strategy = ctx.strategy(name)
    if strategy.needs_model and probs is None:
        strategy = ctx.strategy(COLD_START)
    return strategy.select(probs, pool.embeddings, labeled, n, ctx.rng(round_, 1))


def selector_node(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """Pick the batch from the pool (the seed on a cold start)."""
    ctx = runtime.context
    decision = decision_of(state)
    round_ = round_of(state)
    pool = ctx.store.pool()
    labeled = ctx.labeled_mask()
    n = (decision.batch_size if decision else None) or ctx.config.batch_size
    name = (decision.strategy if decision else None) or ctx.config.strategy
    probs = ctx.store.pool_proba()
    chosen = _rows(state, ctx, name, n, labeled, probs, round_)
    batch = [Candidate(id=pool.ids[r], text=pool.texts[r], origin="pool", intended=None)
             for r in chosen]
    proposals: dict[str, Any] = {}
    if int((~labeled).sum()) - len(batch) <= 0:
        proposals["selector"] = Proposal(
            agent="selector", action="synthesize",
            reason="nothing informative left in the pool: synthesize").model_dump()
    elif probs is not None and name != "random":
        unl = probs[~labeled]
        if unl.size and float(unl.max(axis=1).min()) > 0.99:
            proposals["selector"] = Proposal(
                agent="selector", action="synthesize",
                reason="the student is confident on every pool item: synthesize near the "
                       "boundary").model_dump()
    runtime.stream_writer(Selected(round=round_, n=len(batch), strategy=name))
    return {"batch": batch, "proposals": proposals}
