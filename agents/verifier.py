"""The verifier node: checks every new label before it reaches memory.

Rejects labels outside the schema, duplicates, abstentions, and synthetic examples whose
blind label differs from the label they were written for; flags a label that the student
and its nearest labeled neighbours speak against, each class measured against its own
usual support (``labelgraph.trust.new_label_scores``); runs the verifier's tools as
checks (``labelgraph.tools.hooks``); with ``RunConfig.judge``, asks an LLM judge about each
doubtful label (flagged, or an LLM label under ``judge_below`` confidence). Accepted labels
go into memory; flagged LLM labels are kept apart, out of training. Every ``audit_every``
rounds it audits the whole memory, unless no label there could change. When much of the
batch was rejected or flagged, or the audit found many suspects, it proposes to query rather
than synthesize (``labelgraph.proposals.verifier_proposal``). The item it hands on is a
:class:`~labelgraph.types.VerifiedItem`.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import TYPE_CHECKING, Any

import numpy as np
from langgraph.runtime import Runtime

from labelgraph.agents.accessors import batch_of, round_of
from labelgraph.annotators import gather_evidence
from labelgraph.audit import audit_memory, worth_auditing
from labelgraph.events import Verified
from labelgraph.memory.examples import Example, memory_status
from labelgraph.proposals import verifier_proposal
from labelgraph.student import proba_in_order
from labelgraph.tools.agent import ToolLimits, recorded_tools
from labelgraph.tools.builtin import judge_tool
from labelgraph.tools.hooks import run_checks
from labelgraph.trust import (
    AuditResult,
    changeable,
    new_label_scores,
)

if TYPE_CHECKING:

    from langchain_core.tools import BaseTool

    from labelgraph.graph.context import Context
    from labelgraph.graph.state import State
    from labelgraph.types import LabeledItem, VerifiedItem

Vote = tuple[str, float] | None

def new_label_suspects(ctx: Context, items: list[LabeledItem],
                       emb: np.ndarray) -> AuditResult | None:
    """Which new labels the student and the nearest labeled neighbours speak against, each
    class measured against its own usual support (so a rare class is not suspect for being
    rare). None before there is a student and a memory to compare with. Labels a doubt could
    not change (the oracle's; a person's with nobody to ask again) are never suspects, so an
    oracle run skips the work."""
    labels = list(ctx.task.labels)
    person = ctx.annotator_sources()[0] is not None
    known = [n for n, i in enumerate(items) if i.get("label") in labels
             and changeable(i.get("source") or "llm", person=person)]
    model = ctx.store.model()
    if model is None or not known:
        return None
    evidence = gather_evidence(ctx, [items[n] for n in known], emb[known])
    if evidence.student is None:
        return None
    memory, memory_emb = ctx.memory.all(with_embeddings=True)
    given_memory = np.asarray([labels.index(e.label) for e in memory if e.label in labels])
    if given_memory.size == 0:
        return None
    proba = proba_in_order(model, ctx.store.features([e.text for e in memory], memory_emb),
                           labels)
    k = len(labels)
    thresholds = np.array([proba[given_memory == c, c].mean() if np.any(given_memory == c)
                           else 1.0 / k for c in range(k)])
    prior = np.bincount(given_memory, minlength=k) / given_memory.size
    given = np.asarray([labels.index(items[n]["label"]) for n in known])
    # A new label is held out of training only on strong evidence (4 to 1 against it): a
    # young student is wrong often, and a flag costs a label.
    found = new_label_scores(given, evidence.student, evidence.neighbours, thresholds, prior,
                             min_score=0.8)
    score = np.zeros(len(items))
    suggested = np.zeros(len(items), dtype=int)
    suspect = np.zeros(len(items), dtype=bool)
    score[known], suggested[known], suspect[known] = found.score, found.suggested, found.suspect
    return AuditResult(score, suggested, suspect)


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
    suspects = new_label_suspects(ctx, labeled, emb)
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
            if suspects is not None and suspects.suspect[k]:
                other = ctx.task.labels[int(suspects.suggested[k])]
                verdict, reason = "flag", (
                    f"the student and the neighbours point to {other!r}, for its class's "
                    f"usual support (error score {suspects.score[k]:.2f})")
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
                                   origin=i.get("origin", "pool"),
                                   cost=float(i.get("cost") or 0.0)) for i in kept],
                          emb[[row_of[id(i)] for i in kept]])
    return items


def verifier_node(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """Verify the batch and write accepted (and flagged) labels to memory; every
    ``audit_every`` rounds, audit the whole memory."""
    ctx = runtime.context
    round_ = round_of(state)
    items = verify(ctx, batch_of(state), round_)
    count = Counter(i["verdict"] for i in items)
    runtime.stream_writer(Verified(round=round_, accepted=count["accept"],
                                   flagged=count["flag"], rejected=count["reject"]))
    audit = None
    if ctx.config.audit_every and round_ % ctx.config.audit_every == 0 \
            and worth_auditing(ctx):
        findings = [f for f in audit_memory(ctx, round_, write=runtime.stream_writer)
                    if f["action"] != "skip"]  # the labels it could not cross-check
        audit = (len(findings), sum(f["action"] != "keep" for f in findings))
    proposal = verifier_proposal(count, audit, ctx.config)
    return {"batch": items,
            "proposals": {"verifier": proposal.model_dump()} if proposal else {}}
