"""Built-in tools over the run's memory, pool and ledger, registered for every agent."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from langchain_core.tools import BaseTool, tool

if TYPE_CHECKING:
    from labelgraph.graph.context import Context


def builtin_tools(ctx: Context) -> list[BaseTool]:
    """Tools bound to one run's context: memory search, label counts, pool and spend stats."""

    @tool
    def memory_search(query: str, k: int = 5) -> list[dict[str, Any]]:
        """Find the k labeled examples most similar to the query text."""
        emb = ctx.embedding.embed([query])
        hits = ctx.memory.similar(emb, k)[0]
        return [{"text": e.text, "label": e.label, "source": e.source,
                 "similarity": round(sim, 3)} for e, sim in hits]

    @tool
    def label_distribution() -> dict[str, int]:
        """How many accepted labeled examples memory holds per label."""
        counts = ctx.memory.label_counts()
        return {label: int(counts.get(label, 0)) for label in ctx.task.labels}

    @tool
    def pool_stats() -> dict[str, Any]:
        """Pool size, how many items are labeled, and the student's mean uncertainty."""
        mask = ctx.labeled_mask()
        proba = ctx.pool_proba()
        uncertainty = None if proba is None else float(1.0 - proba.max(axis=1).mean())
        return {"pool_size": int(mask.size), "labeled": int(mask.sum()),
                "unlabeled": int((~mask).sum()), "mean_uncertainty": uncertainty}

    @tool
    def spend() -> dict[str, Any]:
        """What the run has spent so far and its budget."""
        return {"spent": ctx.meter.snapshot(), "budget": ctx.meter.budget.model_dump()}

    return [memory_search, label_distribution, pool_stats, spend]
