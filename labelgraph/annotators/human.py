"""The human annotator: asks a person through LangGraph's ``interrupt()``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from langgraph.types import interrupt

from labelgraph.annotators.base import Annotator, Answer, Writer
from labelgraph.annotators.buying import buy_label
from labelgraph.events import LabelRequest

if TYPE_CHECKING:
    from labelgraph.runtime import RunContext
    from labelgraph.types import Candidate

__all__ = ["HumanAnnotator"]


class HumanAnnotator:
    """Asks a person through LangGraph's ``interrupt()``; the run pauses until resumed.

    Resume with ``Command(resume={item_id: label, ...})``; a missing or ``None`` answer
    skips the item, an answer outside the label set is rejected by the verifier.
    """

    @property
    def person(self) -> Annotator:
        """A doubtful label goes back to a person: this annotator itself."""
        return self

    def get_config(self) -> dict[str, Any]:
        return {}

    def annotate(self, items: list[Candidate], ctx: RunContext, round_: int,
                 write: Writer | None = None,
                 suggestions: list[Answer] | None = None) -> list[Answer]:
        known = ctx.ledger.labels_for([i["id"] for i in items])
        missing = [n for n, i in enumerate(items) if (i["id"], "human") not in known]
        answers: dict[str, Any] = {}
        remaining = ctx.meter.remaining_labels()
        ask = missing if remaining is None else missing[:remaining]
        if ask:
            questions = []
            for n in ask:
                q = {"id": items[n]["id"], "text": items[n]["text"],
                     "labels": list(ctx.task.labels)}
                if suggestions and suggestions[n].label is not None:
                    q["suggestion"] = suggestions[n].label
                    q["confidence"] = suggestions[n].confidence
                questions.append(q)
            if write is not None:
                write(LabelRequest(round=round_, questions=tuple(questions)))
            reply = interrupt({"type": "label_request", "round": round_,
                               "questions": questions})
            answers = dict(reply or {})
        out = []
        asked = {items[n]["id"] for n in ask}
        skipped = []
        for item in items:
            given = answers.get(item["id"])
            if (item["id"], "human") in known or given is not None:
                label = None if given is None else str(given).strip()
                out.append(buy_label(ctx, item, "human", round_,
                                     lambda label=label: Answer(label, "human", 1.0)))
            else:
                out.append(Answer(None, "human", None, "skipped by the human"))
                if item["id"] in asked:
                    skipped.append(item["id"])
        ctx.ledger.record_skips(skipped, round_, "skipped by the human")  # not asked again
        return out
