"""Graph construction: the seven nodes of DESIGN.md §3 and the supervisor's routing."""

from __future__ import annotations

from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime

from labelgraph.agents.annotator import annotator_node
from labelgraph.agents.generator import generator_node
from labelgraph.agents.learner import learner_node
from labelgraph.agents.selector import get_strategy, selector_node
from labelgraph.agents.supervisor import supervisor_node
from labelgraph.agents.verifier import memory_status, verifier_node
from labelgraph.graph.context import Context
from labelgraph.graph.state import State
from labelgraph.memory.examples import Example

NODES = ("bootstrap", "supervisor", "selector", "generator", "annotator", "verifier", "learner")
STEPS_PER_ROUND = 5


def rebuild_memory(ctx: Context) -> int:
    """Re-index every verified label from the ledger into Chroma; returns how many."""
    verdicts = ctx.ledger.verdicts()
    rows = [r for r in ctx.ledger.all_labels() if verdicts.get(r.item_id, ("",))[0] in
            {"accept", "flag"}]
    best: dict[str, Any] = {}
    rank = {"human": 3, "oracle": 2, "llm": 1}
    for r in rows:
        if r.label and (r.item_id not in best or rank[r.source] > rank[best[r.item_id].source]):
            best[r.item_id] = r
    examples = []
    for item_id, r in best.items():
        examples.append(Example(
            id=item_id, text=r.text, label=r.label, source=r.source,
            confidence=float(r.confidence or 0.0), round=r.round,
            status=memory_status(verdicts[item_id][0], r.source), origin=r.origin))
    ctx.memory.upsert(examples)
    return len(examples)


def bootstrap_node(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """Embed the pool (cached), restore memory from the ledger, pick the cold-start seed."""
    ctx = runtime.context
    pool = ctx.pool()
    ctx.test()
    log = [f"pool: {len(pool)} items"]
    expected = sum(1 for v, _, _ in ctx.ledger.verdicts().values() if v in {"accept", "flag"})
    if len(ctx.memory) < expected:
        log.append(f"memory restored from the ledger: {rebuild_memory(ctx)} examples")
    seed: list[str] = []
    if ctx.model() is None:
        rows = get_strategy("cold_start").select(None, pool.embeddings, ctx.labeled_mask(),
                                                  ctx.config.seed_size, ctx.rng(0, 0))
        seed = [pool.ids[r] for r in rows]
    ctx.emit("bootstrap", pool=len(pool), seed=len(seed))
    return {"round": int(state.get("round") or 0), "seed": seed, "batch": [], "log": log,
            "spend": ctx.meter.snapshot()}


def route(state: State) -> str:
    action = (state.get("decision") or {}).get("action")
    return {"query": "selector", "synthesize": "generator"}.get(action or "", END)


def build_graph(checkpointer: BaseCheckpointSaver | None = None) -> Any:
    """The compiled LangGraph; pass ``context=`` (a :class:`Context`) to invoke or stream."""
    g = StateGraph(State, context_schema=Context)
    g.add_node("bootstrap", bootstrap_node)
    g.add_node("supervisor", supervisor_node)
    g.add_node("selector", selector_node)
    g.add_node("generator", generator_node)
    g.add_node("annotator", annotator_node)
    g.add_node("verifier", verifier_node)
    g.add_node("learner", learner_node)
    g.add_edge(START, "bootstrap")
    g.add_edge("bootstrap", "supervisor")
    g.add_conditional_edges("supervisor", route, ["selector", "generator", END])
    g.add_edge("selector", "annotator")
    g.add_edge("generator", "annotator")
    g.add_edge("annotator", "verifier")
    g.add_edge("verifier", "learner")
    g.add_edge("learner", "supervisor")
    return g.compile(checkpointer=checkpointer)


def recursion_limit(labels: int | None, rounds: int | None, patience: int) -> int:
    """Enough supersteps for the budget. A round either adds a label to memory or counts
    toward the idle-round patience, and every label costs budget, so
    rounds <= (labels + 1) * (patience + 1)."""
    bounds = [b for b in (rounds, (labels + 1) * (patience + 1) if labels else None) if b]
    return STEPS_PER_ROUND * (min(bounds) + 2) + 10
