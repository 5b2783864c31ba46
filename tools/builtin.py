"""Built-in tools: what a tool-calling agent may inspect about its run.

Each tool is bound to one run (its :class:`~labelgraph.runtime.RunContext`, never the graph's
context) and, for the supervisor, the round's metrics, when an agent step starts. They only
read: searching memory, counting labels, describing the pool, the learning curve, each
strategy's measured gain, spend and budget, the most uncertain items, the flagged labels.
:func:`judge_tool` is the verifier's LLM judge: it asks the run's chat model (metered like
any call) about one doubtful label.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from langchain_core.tools import BaseTool, tool

if TYPE_CHECKING:
    from labelgraph.runtime import RunContext

__all__ = ["BUILTIN_TOOLS", "builtin_tools", "judge_tool"]

#: agent -> the built-in tools it gets when it runs as a tool-calling agent
BUILTIN_TOOLS: dict[str, tuple[str, ...]] = {
    "supervisor": ("memory_search", "label_distribution", "pool_stats", "learning_curve",
                   "strategy_gains", "spend_and_budget", "uncertain_items", "flagged_labels"),
    "annotator": ("memory_search",),
    "generator": ("memory_search", "label_distribution", "pool_search"),
}


def _clip(text: str, n: int = 240) -> str:
    return text if len(text) <= n else text[:n] + "…"


def builtin_tools(ctx: RunContext, agent: str,
                  metrics: Sequence[dict[str, Any]] = ()) -> list[BaseTool]:
    """The built-in tools of ``agent``, bound to this run (and the round's metrics)."""

    @tool
    def memory_search(query: str, k: int = 5) -> list[dict[str, Any]]:
        """The k labeled examples in memory most similar to the query text, with labels."""
        hits = ctx.memory.similar(ctx.embedding.embed([query]), max(1, min(int(k), 20)))[0]
        return [{"text": _clip(e.text), "label": e.label, "source": e.source,
                 "similarity": round(sim, 3)} for e, sim in hits]

    @tool
    def pool_search(query: str, k: int = 5) -> list[dict[str, Any]]:
        """The k unlabeled pool texts most similar to the query text."""
        pool = ctx.store.pool()
        sims = pool.embeddings @ ctx.embedding.embed([query])[0]
        sims[ctx.labeled_mask()] = -np.inf
        rows = np.argsort(-sims)[:max(1, min(int(k), 20))]
        return [{"text": _clip(pool.texts[r]), "similarity": round(float(sims[r]), 3)}
                for r in rows if np.isfinite(sims[r])]

    @tool
    def label_distribution() -> dict[str, int]:
        """How many accepted labeled examples memory holds per label."""
        counts = ctx.memory.label_counts()
        return {label: int(counts.get(label, 0)) for label in ctx.task.labels}

    @tool
    def pool_stats() -> dict[str, Any]:
        """Pool size, how many items are labeled, and the student's mean uncertainty."""
        mask = ctx.labeled_mask()
        proba = ctx.store.pool_proba()
        uncertainty = None if proba is None else round(float(1 - proba.max(axis=1).mean()), 4)
        return {"pool_size": int(mask.size), "labeled": int(mask.sum()),
                "unlabeled": int((~mask).sum()), "mean_uncertainty": uncertainty}

    @tool
    def learning_curve() -> list[dict[str, Any]]:
        """Each finished round: action, strategy, labels in memory, accuracy, kappa."""
        return [{k: m.get(k) for k in ("round", "action", "strategy", "labels", "accuracy",
                                       "kappa", "accepted", "rejected")} for m in metrics]

    @tool
    def strategy_gains() -> dict[str, dict[str, Any]]:
        """Each query strategy used so far: rounds, and how much each label it bought changed
        the student's predictions (1 - kappa between successive students, per label)."""
        gains: dict[str, list[float]] = {}
        for before, after in zip(metrics, metrics[1:], strict=False):
            added = (after.get("labels") or 0) - (before.get("labels") or 0)
            if after.get("action") == "query" and added > 0 and after.get("kappa") is not None:
                gains.setdefault(str(after.get("strategy")), []).append(
                    (1.0 - after["kappa"]) / added)
        return {s: {"rounds": len(g), "change_per_label": round(float(np.mean(g)), 5)}
                for s, g in gains.items()}

    @tool
    def spend_and_budget() -> dict[str, Any]:
        """What the run has spent so far, its budget, and the labels left."""
        ctx.meter.refresh()
        return {"spent": ctx.meter.snapshot(), "budget": ctx.meter.budget.model_dump(),
                "labels_left": ctx.meter.remaining_labels()}

    @tool
    def uncertain_items(n: int = 5) -> list[dict[str, Any]]:
        """The n unlabeled pool items the student is least sure about, with its margin."""
        proba = ctx.store.pool_proba()
        if proba is None:
            return []
        pool, mask = ctx.store.pool(), ctx.labeled_mask()
        top2 = np.sort(proba, axis=1)[:, -2:]
        margin = top2[:, 1] - top2[:, 0]
        margin[mask] = np.inf
        rows = np.argsort(margin)[:max(1, min(int(n), 20))]
        return [{"text": _clip(pool.texts[r]), "margin": round(float(margin[r]), 4)}
                for r in rows if np.isfinite(margin[r])]

    @tool
    def flagged_labels(n: int = 10) -> list[dict[str, Any]]:
        """Labels the verifier flagged (kept out of training), most recent first."""
        flagged, _ = ctx.memory.all(status="flagged")
        flagged.sort(key=lambda e: -e.round)
        return [{"text": _clip(e.text), "label": e.label, "source": e.source,
                 "round": e.round} for e in flagged[:max(1, min(int(n), 50))]]

    every = {t.name: t for t in (memory_search, pool_search, label_distribution, pool_stats,
                                 learning_curve, strategy_gains, spend_and_budget,
                                 uncertain_items, flagged_labels)}
    return [every[name] for name in BUILTIN_TOOLS.get(agent, ())]


def judge_tool(ctx: RunContext, round_: int) -> BaseTool:
    """The LLM judge the verifier consults about a doubtful label (``RunConfig.judge``)."""
    from labelgraph.prompts import JudgeVerdict, judge_messages

    @tool
    def llm_judge(text: str, label: str, doubt: str) -> dict[str, str]:
        """Ask the run's chat model whether ``label`` is right for ``text``, and why."""
        hits = ctx.memory.similar(ctx.embedding.embed([text]), ctx.config.knn)[0]
        answer, reason = ctx.llm.structured(  # type: ignore[union-attr]
            "verifier", JudgeVerdict,
            judge_messages(ctx.task, text, label, doubt, [(e.text, e.label) for e, _ in hits]),
            round_)
        if answer is None:
            return {"verdict": "abstain", "reason": reason}
        return {"verdict": answer.verdict.strip().lower(), "reason": answer.reason}

    return llm_judge
