"""The verifier node: checks every new label before it reaches memory.

Rejects labels outside the schema, duplicates, abstentions, and synthetic examples whose
blind label differs from the label they were written for; flags a label that disagrees
with both its nearest labeled neighbours and the student; runs the verifier's tools as
checks (``labelgraph.tools.hooks``); with ``RunConfig.judge``, asks an LLM judge about each
doubtful label (flagged, or an LLM label under ``judge_below`` confidence). Accepted labels
go into memory; flagged LLM labels are kept apart, out of training. The item it hands on
is a :class:`~labelgraph.types.VerifiedItem`.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import TYPE_CHECKING, Any

import numpy as np
from langgraph.runtime import Runtime

from labelgraph.events import Verified
from labelgraph.graph.state import batch_of, round_of
from labelgraph.memory.examples import Example, memory_status
from labelgraph.student import proba_in_order
from labelgraph.tools.agent import ToolLimits, recorded_tools
from labelgraph.tools.builtin import judge_tool
from labelgraph.tools.hooks import run_checks

if TYPE_CHECKING:
    from langchain_core.tools import BaseTool

    from labelgraph.graph.context import Context
    from labelgraph.graph.state import State
    from labelgraph.types import LabeledItem, VerifiedItem

Vote = tuple[str, float] | None


def neighbour_vote(ctx: Context, emb: np.ndarray, exclude: list[str]) -> list[Vote]:
    """Majority label among each row's k nearest accepted neighbours, with its share."""
    out: list[Vote] = []
    for row in ctx.memory.similar(emb, ctx.config.knn, exclude=exclude):
        if len(row) < ctx.config.knn:
            out.append(None)
            continue
        label, votes = Counter(ex.label for ex, _ in row).most_common(1)[0]
        out.append((label, votes / len(row)))
    return out


def student_vote(ctx: Context, items: list[LabeledItem], emb: np.ndarray) -> list[Vote]:
    """The current student's label and probability for each item (None before a student)."""
    model = ctx.store.model()
    if model is None or not items:
        return [None] * len(items)
    proba = proba_in_order(model, ctx.store.features([i["text"] for i in items], emb),
                           ctx.task.labels)
    return [(ctx.task.labels[int(p.argmax())], float(p.max())) for p in proba]


def doubtful(item: dict[str, Any], verdict: str, threshold: float) -> str | None:
    """Why a label deserves the judge's look (None if it does not): a flag, or an LLM label
    given with low confidence."""
    if verdict == "flag":
        return item.get("reason") or "flagged"
    confidence = item.get("confidence")
    if verdict == "accept" and item.get("source") == "llm" and confidence is not None \
            and float(confidence) < threshold:
        return f"the labeler's confidence is only {float(confidence):.2f}"
    return None


def judged(judge: BaseTool, item: dict[str, Any], verdict: str, reason: str,
           doubt: str) -> tuple[str, str]:
    """The judge's verdict on one label; if it fails or abstains the verdict stands."""
    said = judge.invoke({"text": item["text"], "label": item["label"], "doubt": doubt})
    try:
        answer = json.loads(said)
    except (TypeError, ValueError):
        answer = {"verdict": "error", "reason": str(said)}
    if answer.get("verdict") in {"accept", "flag", "reject"}:
        return answer["verdict"], f"llm_judge: {answer.get('reason', '')}"
    return verdict, f"{reason} (the judge could not tell: {str(answer.get('reason'))[:200]})"


def verify(ctx: Context, batch: list[LabeledItem], round_: int) -> list[VerifiedItem]:
    """Give every item of the batch a verdict and a reason; record them; fill memory."""
    labels = set(ctx.task.labels)
    items: list[Any] = [dict(i) for i in batch]
    labeled = [i for i in items if i.get("label") is not None]
    emb = ctx.embed_items(labeled)
    votes = neighbour_vote(ctx, emb, [i["id"] for i in labeled]) if labeled else []
    student = student_vote(ctx, labeled, emb)
    # A re-run of this node (after a crash) replays its own verdicts instead of calling
    # its earlier writes duplicates.
    prior = ctx.ledger.verdicts_for([i["id"] for i in items], round_)
    in_memory = ctx.memory.has([i["id"] for i in labeled if i["id"] not in prior])
    seen: set[str] = set()
    checks = ctx.tools.for_agent("verifier")
    judge = recorded_tools([judge_tool(ctx, round_)], ctx.ledger, "verifier", round_, "judge",
                           ToolLimits.from_config(ctx.config))[0] \
        if ctx.config.judge and ctx.llm is not None else None
    row_of: dict[int, int] = {id(item): k for k, item in enumerate(labeled)}  # rows of emb
    for item in items:
        if item.get("label") is None:
            item.update(verdict="reject", reason=item.get("reason") or "no label")
            continue
        k = row_of[id(item)]
        label = item["label"]
        verdict, reason = "accept", "ok"
        if item["id"] in prior:
            verdict, reason = prior[item["id"]]
        elif label not in labels:
            verdict, reason = "reject", f"label {label!r} is outside the schema"
        elif item["id"] in in_memory or item["id"] in seen:
            verdict, reason = "reject", "duplicate of an example already labeled"
        elif item.get("origin") == "synthetic" and label != item.get("intended"):
            verdict, reason = "reject", (f"blind label {label!r} differs from the intended "
                                         f"{item.get('intended')!r}")
        else:
            vote, guess = votes[k], student[k]
            if vote and guess and vote[0] != label and guess[0] != label \
                    and vote[1] >= 0.6 and guess[1] >= 0.6:
                verdict, reason = "flag", (f"neighbours say {vote[0]!r} ({vote[1]:.0%}) and the "
                                           f"student says {guess[0]!r} ({guess[1]:.0%})")
            found = run_checks(checks, {
                "text": item["text"], "label": label, "source": item.get("source"),
                "confidence": item.get("confidence"), "origin": item.get("origin")}, verdict)
            if found:
                verdict, reason = found
            doubt = doubtful({**item, "reason": reason}, verdict, ctx.config.judge_below)
            if judge is not None and doubt:
                verdict, reason = judged(judge, item, verdict, reason, doubt)
        seen.add(item["id"])
        item.update(verdict=verdict, reason=reason)
    kept = [i for i in items if i.get("verdict") in {"accept", "flag"}]
    ctx.ledger.record_verdicts([(i["id"], round_, i["verdict"], i.get("label"), i["reason"])
                                for i in items])
    if kept:
        ctx.memory.upsert([Example(id=i["id"], text=i["text"], label=i["label"],
                                   source=i.get("source") or "llm",
                                   confidence=float(i.get("confidence") or 0.0), round=round_,
                                   status=memory_status(i["verdict"], i.get("source")),
                                   origin=i.get("origin", "pool")) for i in kept],
                          emb[[row_of[id(i)] for i in kept]])
    return items


def verifier_node(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """Verify the batch and write accepted (and flagged) labels to memory."""
    ctx = runtime.context
    round_ = round_of(state)
    items = verify(ctx, batch_of(state), round_)
    count = Counter(i["verdict"] for i in items)
    runtime.stream_writer(Verified(round=round_, accepted=count["accept"],
                                   flagged=count["flag"], rejected=count["reject"]))
    return {"batch": items}
