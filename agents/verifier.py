"""The verifier: checks every new label before it reaches memory.

Rejects labels outside the schema, duplicates, abstentions, and synthetic examples whose
blind label differs from the label they were written for; flags a label that disagrees
with both its nearest labeled neighbours and the student; runs any custom check tools.
Accepted labels go into memory; flagged LLM labels are kept apart, out of training.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

import numpy as np
from langgraph.runtime import Runtime

from labelgraph.memory.examples import Example
from labelgraph.tools.registry import call_with
from labelgraph.types import Proposal

if TYPE_CHECKING:
    from labelgraph.graph.context import Context
    from labelgraph.graph.state import Item, State


def memory_status(verdict: str, source: str | None) -> str:
    """Where a verified label lives in memory. A person's label is the authority: a flag on
    it is noted and the label kept; a flagged LLM label is held out of training."""
    return "accepted" if verdict == "accept" or source in {"human", "oracle"} else "flagged"


def tool_verdict(result: Any) -> tuple[str, str] | None:
    """Read a custom check's result: None/True/"" pass; False or a string flag; a dict may
    say {"verdict": "reject"|"flag"|"accept", "reason": ...}."""
    if result is None or result is True or result == "":
        return None
    if result is False:
        return ("flag", "a custom check failed")
    if isinstance(result, dict):
        verdict = str(result.get("verdict", "flag"))
        if verdict == "accept":
            return None
        return (verdict if verdict in {"flag", "reject"} else "flag",
                str(result.get("reason", "a custom check failed")))
    return ("flag", str(result))


def neighbour_vote(ctx: Context, emb: np.ndarray, exclude: list[str]) -> list[tuple[str, float]
                                                                              | None]:
    """Majority label among each row's k nearest accepted neighbours, with its share."""
    out: list[tuple[str, float] | None] = []
    for row in ctx.memory.similar(emb, ctx.config.knn, exclude=exclude):
        if len(row) < ctx.config.knn:
            out.append(None)
            continue
        label, votes = Counter(ex.label for ex, _ in row).most_common(1)[0]
        out.append((label, votes / len(row)))
    return out


def verify(ctx: Context, batch: list[Item], round_: int) -> list[Item]:
    """Give every item of the batch a verdict and a reason."""
    labels = set(ctx.task.labels)
    items = [dict(i) for i in batch]
    labeled = [i for i in items if i.get("label") is not None]
    emb = ctx.embed_items(labeled)
    votes = neighbour_vote(ctx, emb, [i["id"] for i in labeled]) if labeled else []
    model = ctx.model()
    student = [None] * len(labeled)
    if model is not None and labeled:
        from labelgraph.student import proba_in_order

        proba = proba_in_order(model, ctx.features([i["text"] for i in labeled], emb),
                               ctx.task.labels)
        student = [(ctx.task.labels[int(p.argmax())], float(p.max())) for p in proba]
    # A re-run of this node (after a crash) replays its own verdicts instead of calling
    # its earlier writes duplicates.
    prior = ctx.ledger.verdicts_for([i["id"] for i in items], round_)
    in_memory = ctx.memory.has([i["id"] for i in labeled if i["id"] not in prior])
    seen: set[str] = set()
    checks = ctx.tools.custom("verifier")
    n = 0
    for item in items:
        if item.get("label") is None:
            item.update(verdict="reject", reason=item.get("reason") or "no label")
            continue
        k = n
        n += 1
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
            for check in checks:
                found = tool_verdict(call_with(check, {
                    "text": item["text"], "label": label, "source": item.get("source"),
                    "confidence": item.get("confidence"), "origin": item.get("origin")}))
                if found and (found[0] == "reject" or verdict == "accept"):
                    verdict, reason = found[0], f"{check.name}: {found[1]}"
        seen.add(item["id"])
        item.update(verdict=verdict, reason=reason)
        item["_row"] = k  # index into emb, dropped before returning
    accepted = [i for i in items if i.get("verdict") in {"accept", "flag"}]
    examples, rows = [], []
    for i in accepted:
        status = memory_status(i["verdict"], i.get("source"))
        examples.append(Example(id=i["id"], text=i["text"], label=i["label"],
                                source=i.get("source") or "llm",
                                confidence=float(i.get("confidence") or 0.0), round=round_,
                                status=status, origin=i.get("origin", "pool")))
        rows.append(i["_row"])
    ctx.ledger.record_verdicts([(i["id"], round_, i["verdict"], i.get("label"), i["reason"])
                                for i in items])
    if examples:
        ctx.memory.upsert(examples, emb[rows])
    for i in items:
        i.pop("_row", None)
    return items  # type: ignore[return-value]


def verifier_node(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """Verify the batch, write accepted labels to memory, propose a human when unsure."""
    ctx = runtime.context
    round_ = int(state.get("round", 0))
    items = verify(ctx, list(state.get("batch") or []), round_)
    flagged = sum(1 for i in items if i["verdict"] == "flag")
    proposals: dict[str, Any] = {}
    if items and flagged / len(items) > 0.3:
        proposals["verifier"] = Proposal(
            agent="verifier", action="ask_human",
            reason=f"{flagged} of {len(items)} labels disagree with neighbours and student: "
                   "ask a human").model_dump()
    ctx.emit("verified", round=round_, accepted=sum(1 for i in items if i["verdict"] == "accept"),
             flagged=flagged, rejected=sum(1 for i in items if i["verdict"] == "reject"))
    return {"batch": items, "proposals": proposals}
