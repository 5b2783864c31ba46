"""The selector node: picks the batch from the pool with the decided strategy.

Strategies are pure pieces (``labelgraph.strategies``); this node finds their inputs (the
student's pool probabilities, the embeddings, the labeled mask), records nothing but the
batch, and proposes synthesis (or, when synthesis cannot run, a stop) when nothing
informative is left in the pool (``labelgraph.proposals.selector_proposal``). A strategy
with a shortlist (``labelgraph.strategies.SHORTLIST``: :class:`~labelgraph.strategies.
LLMSelection`, strategy ``"llm"``) needs the run's chat model, so its choice is made here:
the model picks the batch from a numbered shortlist and says why (ActiveLLM-style).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from langgraph.runtime import Runtime

from labelgraph.agents.accessors import decision_of, round_of
from labelgraph.capabilities import capability
from labelgraph.errors import BudgetExhausted, ProviderError
from labelgraph.events import Selected
from labelgraph.llm import capable_of_decisions
from labelgraph.prompts import SelectionAnswer, one_line, selection_messages
from labelgraph.proposals import selector_proposal
from labelgraph.registry import registry
from labelgraph.strategies import BASELINE, COLD_START, EXCERPT, SHORTLIST, Strategy
from labelgraph.types import Candidate

if TYPE_CHECKING:
    from labelgraph.graph.context import Context
    from labelgraph.graph.state import State


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
            more = registry.create("strategies", COLD_START).select(
                None, pool.embeddings, taken, n - len(seed), ctx.rng(round_, 1))
            return np.concatenate([np.asarray(seed, dtype=np.int64), more])
        if seed:
            return np.asarray(seed, dtype=np.int64)
    strategy = registry.create("strategies", name)
    if strategy.needs_model and probs is None:
        strategy = registry.create("strategies", COLD_START)
    return strategy.select(probs, pool.embeddings, labeled, n, ctx.rng(round_, 1))


def _no_chat_model(ctx: Context) -> str | None:
    """Why the run's model cannot choose from a list (None: it can)."""
    if ctx.llm is None:
        return "no chat model is configured"
    if ctx.llm.local or not capable_of_decisions(ctx.llm.llm):
        return "the embedded local model cannot choose from a list"
    return None


def _excerpt(text: str, limit: int) -> str:
    text = one_line(text)
    return text if len(text) <= limit else text[:limit].rstrip() + " ..."


def _repaired(answer: SelectionAnswer, size: int, n: int) -> tuple[dict[int, str], list[str]]:
    """The model's valid picks (0-based shortlist position -> reason), at most ``n``, in its
    order; and what was dropped (numbers out of range, repeated, or over ``n``)."""
    picks: dict[int, str] = {}
    dropped: list[str] = []
    for pick in answer.picks:
        i = pick.number - 1
        if not 0 <= i < size:
            dropped.append(f"{pick.number} (not in 1-{size})")
        elif i in picks:
            dropped.append(f"{pick.number} (repeated)")
        elif len(picks) >= n:
            dropped.append(f"{pick.number} (over {n})")
        else:
            picks[i] = one_line(pick.reason)[:200] or "chosen by the model"
    return picks, dropped


def llm_rows(ctx: Context, strategy: Strategy, probs: np.ndarray, labeled: np.ndarray,
             n: int, round_: int) -> tuple[np.ndarray, dict[int, str], str, str]:
    """The batch chosen by the run's chat model from the strategy's numbered shortlist
    (:data:`~labelgraph.strategies.SHORTLIST`): (pool rows, each chosen row's reason, the
    batch's reason, the strategy that chose). Falls back to the strategy's own ``select``
    (margin sampling, for ``"llm"``), and says why, without a capable chat model, on
    malformed output, a refused budget or a failed call."""
    pool = ctx.store.pool()
    rng = ctx.rng(round_, 1)

    def fallback(why: str) -> tuple[np.ndarray, dict[int, str], str, str]:
        rows = strategy.select(probs, pool.embeddings, labeled, n, ctx.rng(round_, 1))
        return rows, {}, f"margin sampling: LLM selection fell back ({why})", "margin"

    missing = _no_chat_model(ctx)
    if missing:
        return fallback(missing)
    short = capability(strategy, SHORTLIST)(probs, pool.embeddings, labeled, n, rng)
    if short.size <= n:  # nothing to choose: don't pay for a question
        return short, {}, f"took the whole shortlist of {short.size}: nothing to choose", \
            "llm"
    labels = ctx.task.labels
    guesses = [f"{labels[int(p.argmax())]} {float(p.max()):.2f}" for p in probs[short]]
    excerpt = int(capability(strategy, EXCERPT))
    messages = selection_messages(ctx.task, [_excerpt(pool.texts[r], excerpt)
                                             for r in short], guesses, n)
    assert ctx.llm is not None  # for type checkers: _no_chat_model said so
    try:
        answer, why = ctx.llm.structured("selector", SelectionAnswer, messages, round_)
    except BudgetExhausted as exc:
        return fallback(f"the call does not fit the budget: {exc}")
    except ProviderError as exc:
        return fallback(f"the provider failed: {exc}")
    if answer is None:
        return fallback(why)
    picks, dropped = _repaired(answer, short.size, n)
    if not picks:
        return fallback("no valid pick: " + ", ".join(dropped[:5]))
    order = list(picks)
    fill = [i for i in range(short.size) if i not in picks][:n - len(order)]
    reasons = {int(short[i]): picks[i] for i in order}
    reasons.update({int(short[i]): "filled from the shortlist (uncertain and diverse)"
                    for i in fill})
    note = f"LLM selection from a shortlist of {short.size}: " + \
        (one_line(answer.reason)[:300] or "the model gave no overall reason")
    if dropped:
        note += f" (ignored picks {', '.join(dropped[:5])})"
    if fill:
        note += f" ({len(fill)} filled from the shortlist)"
    return short[np.asarray(order + fill, dtype=np.int64)], reasons, note, "llm"


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
    why: dict[int, str] = {}
    note = ""
    used = name
    strategy = registry.create("strategies", name) if name != COLD_START else None
    if capability(strategy, SHORTLIST) is not None and probs is not None:
        chosen, why, note, used = llm_rows(ctx, strategy, probs, labeled, n, round_)
    else:
        chosen = _rows(state, ctx, name, n, labeled, probs, round_)
    batch = [Candidate(id=pool.ids[r], text=pool.texts[r], origin="pool", intended=None)
             for r in chosen]
    for item, r in zip(batch, chosen, strict=True):
        if int(r) in why:
            item["why_selected"] = why[int(r)]
    baseline = strategy is not None and capability(strategy, BASELINE)
    unl = probs[~labeled] if probs is not None and not baseline else None
    proposal = selector_proposal(
        int((~labeled).sum()) - len(batch),
        float(unl.max(axis=1).min()) if unl is not None and unl.size else None,
        ctx.can_synthesize, ctx.config)
    proposals = {"selector": proposal.model_dump()} if proposal else {}
    runtime.stream_writer(Selected(round=round_, n=len(batch), strategy=used, reason=note))
    out: dict[str, Any] = {"batch": batch, "proposals": proposals}
    if decision is not None and used != decision.strategy:
        # the round's row of the curve (and the report) names what actually chose the batch
        out["decision"] = decision.model_copy(update={"strategy": used}).model_dump()
    return out
