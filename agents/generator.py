"""The generator node: writes new examples aimed at a gap, by continuing a list of real ones.

A local model continues a list of real examples of the target label (measured to give
usable new examples); a chat model answers with a structured list (prompts in
``labelgraph.prompts``); a chat model that calls tools first searches memory and the pool
with its tools (``labelgraph.tools.builtin``, plus the run's generator tools) to find what is
missing. Candidates that are near-duplicates of memory or of the pool are
dropped before anyone pays to label them. It hands on :class:`~labelgraph.types.Candidate`
items whose ``intended`` label the annotator never sees.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from langgraph.runtime import Runtime

from labelgraph.agents.accessors import decision_of, round_of
from labelgraph.errors import BudgetExhausted, ProviderError
from labelgraph.events import Generated
from labelgraph.llm import calls_tools
from labelgraph.prompts import GeneratedExamples, generator_messages, list_prompt
from labelgraph.proposals import generator_proposal
from labelgraph.tools.agent import ToolLimits, run_tool_agent
from labelgraph.tools.builtin import builtin_tools
from labelgraph.types import Candidate, content_id

if TYPE_CHECKING:
    from labelgraph.graph.context import Context
    from labelgraph.graph.state import State

MIN_CHARS = 12


def _clean(text: str) -> str:
    return " ".join(text.split()).strip().lstrip("-*•").strip().strip('"').strip()


def generate(ctx: Context, label: str, n: int, round_: int) -> tuple[list[str], int]:
    """Up to n new candidate texts for ``label`` and the number of LLM attempts spent."""
    llm = ctx.llm
    if llm is None:
        return [], 0
    examples, _ = ctx.memory.all(label=label)
    rng = ctx.rng(round_, 2)
    k = min(len(examples), max(1, ctx.config.n_shots))
    if not examples:
        return [], 0
    out: list[str] = []
    attempts = 0
    if llm.local:
        while len(out) < n and attempts < 3 * n:
            shots = [examples[i].text for i in rng.choice(len(examples), k, replace=False)]
            try:
                text = llm.complete("generator", list_prompt(ctx.task, label, shots), round_,
                                    seed=int(rng.integers(1 << 30)), max_tokens=60)
            except (BudgetExhausted, ProviderError):
                break
            attempts += 1
            text = _clean(text)
            if len(text) >= MIN_CHARS and text not in out:
                out.append(text)
        return out, attempts
    shots = [examples[i].text for i in rng.choice(len(examples), k, replace=False)]
    if calls_tools(llm.llm):  # it looks at memory and the pool before it writes
        system, human = generator_messages(ctx.task, label, shots, n, with_tools=True)
        result, _, _ = run_tool_agent(
            llm, "generator", round_, f"generate:{label}",
            [*builtin_tools(ctx, "generator"), *ctx.tools.for_agent("generator")],
            str(system.content), str(human.content), GeneratedExamples,
            ToolLimits.from_config(ctx.config))
    else:
        try:
            result, _ = llm.structured("generator", GeneratedExamples,
                                       generator_messages(ctx.task, label, shots, n), round_)
        except (BudgetExhausted, ProviderError):
            return [], 0
    texts = [] if result is None else [_clean(t) for t in result.examples]
    return [t for t in dict.fromkeys(texts) if len(t) >= MIN_CHARS][:n], 1


def drop_near_duplicates(ctx: Context, texts: list[str]) -> tuple[list[str], np.ndarray, int]:
    """Keep texts whose embedding is not too close to memory, the pool or each other."""
    if not texts:
        return [], np.zeros((0, 0), dtype=np.float32), 0
    emb = np.asarray(ctx.embedding.embed(texts), dtype=np.float32)
    limit = ctx.config.dedupe_threshold
    pool = ctx.store.pool()
    near_pool = (pool.embeddings @ emb.T).max(axis=0) >= limit if len(pool) else \
        np.zeros(len(texts), dtype=bool)
    near_mem = [bool(row) and row[0][1] >= limit
                for row in ctx.memory.similar(emb, 1, status=None)]
    keep: list[int] = []
    for i in range(len(texts)):
        if near_pool[i] or near_mem[i]:
            continue
        if any(float(emb[i] @ emb[j]) >= limit for j in keep):
            continue
        keep.append(i)
    return [texts[i] for i in keep], emb[keep], len(texts) - len(keep)


def generator_node(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """Synthesize a batch for the decided target labels; propose querying if it goes badly."""
    ctx = runtime.context
    decision = decision_of(state)
    round_ = round_of(state)
    targets = (decision.target_labels if decision else []) or [ctx.task.labels[0]]
    n = (decision.batch_size if decision else None) or ctx.config.synth_batch
    per = [n // len(targets) + (1 if i < n % len(targets) else 0) for i in range(len(targets))]
    batch: list[Candidate] = []
    dropped = attempts = 0
    for label, want in zip(targets, per, strict=True):
        texts, tries = generate(ctx, label, want, round_)
        attempts += tries
        kept, _, n_dropped = drop_near_duplicates(ctx, texts)
        dropped += n_dropped
        batch += [Candidate(id=content_id(t, "synthetic"), text=t, origin="synthetic",
                            intended=label) for t in kept]
    last = [m for m in ctx.ledger.metrics() if m.get("action") == "synthesize"] \
        if batch else []
    proposal = generator_proposal(
        len(batch), attempts, dropped,
        last[-1]["accepted"] / last[-1]["batch"] if last and last[-1].get("batch") else None,
        ctx.config)
    proposals = {"generator": proposal.model_dump()} if proposal else {}
    runtime.stream_writer(Generated(round=round_, n=len(batch), dropped=dropped,
                                    targets=tuple(targets)))
    return {"batch": batch, "proposals": proposals,
            "log": [f"round {round_}: generated {len(batch)} examples for {targets}, dropped "
                    f"{dropped} near-duplicates"]}
