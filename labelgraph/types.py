"""Public value types: the task schema, the budget, and the records agents exchange.

The item shapes say what each stage hands on: the selector and generator hand on a
:class:`Candidate`, the annotator a :class:`LabeledItem`, the verifier a :class:`VerifiedItem`.
"""

from __future__ import annotations

import hashlib
from typing import Any, Literal, NotRequired, TypedDict

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from labelgraph.errors import InputError

__all__ = ["STEERABLE", "Action", "Budget", "Candidate", "Decision", "LabeledItem", "Proposal",
           "Steering", "Task", "VerifiedItem", "content_id"]

Action = Literal["query", "synthesize", "stop"]
Origin = Literal["pool", "synthetic"]
Source = Literal["human", "llm", "oracle", "strong"]
Verdict = Literal["accept", "flag", "reject"]


def content_id(text: str, namespace: str = "") -> str:
    """A stable id for a text: the same text always gets the same id, so writes are idempotent."""
    digest = hashlib.sha256((namespace + "\x1f" + text.strip()).encode("utf-8")).hexdigest()
    return digest[:24]


class Task(BaseModel):
    """What to label: the label set and, for the LLM's prompt, what the texts are."""

    model_config = ConfigDict(frozen=True)

    labels: tuple[str, ...]
    description: str = "text classification"
    instructions: str = ""
    # How few-shot prompts name a text and its label. Domain words help small local models:
    # measured with Gemma 270M on Rotten Tomatoes, "Review:/Sentiment:" beat "Text:/Label:".
    text_name: str = "Text"
    label_name: str = "Label"

    @field_validator("labels", mode="before")
    @classmethod
    def _check_labels(cls, value: object) -> tuple[str, ...]:
        if isinstance(value, str):
            value = [part for part in value.split(",")]
        labels = tuple(str(v).strip() for v in value)  # type: ignore[union-attr]
        if any(not label for label in labels):
            raise InputError(f"Task labels must be non-empty strings, got {list(labels)!r}")
        if len(set(labels)) != len(labels):
            raise InputError(f"Task labels must be distinct, got {list(labels)!r}")
        if len(labels) < 2:
            raise InputError(
                f"A task needs at least two labels to learn anything, got {list(labels)!r}"
            )
        return labels


class Budget(BaseModel):
    """Limits the run may never exceed; ``None`` means unlimited for that unit."""

    model_config = ConfigDict(frozen=True)

    labels: int | None = Field(default=200, ge=1)
    tokens: int | None = Field(default=None, ge=0)
    usd: float | None = Field(default=None, ge=0)
    rounds: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _bounded(self) -> Budget:
        if self.labels is None and self.rounds is None:
            raise InputError("Budget needs a limit on labels or on rounds, or the run never ends")
        return self


class Decision(BaseModel):
    """The supervisor's choice for the next round; the reason is kept in the ledger."""

    action: Action = Field(description="query the pool, synthesize new examples, or stop")
    batch_size: int | None = Field(
        default=None, ge=0, le=10_000,
        description="how many items to add; empty means the run's configured batch size")
    strategy: str | None = Field(
        default=None, description="selection strategy for query; empty means the run's own")
    target_labels: list[str] = Field(
        default_factory=list, description="labels to synthesize for (synthesize only)"
    )
    reason: str = Field(default="", description="one sentence: why this action now")
    followed: list[str] = Field(
        default_factory=list, description="which agents' proposals this decision follows"
    )
    criteria: list[str] = Field(
        default_factory=list, description="stop only: every stopping criterion that voted"
    )


class Proposal(BaseModel):
    """An agent's suggestion for the next action, with its reason in words."""

    agent: str = Field(description="the agent that proposes")
    action: Action = Field(description="the action it proposes for the next round")
    reason: str = Field(description="why, in one sentence")
    target_label: str | None = Field(
        default=None, description="synthesize only: the label to write examples of")


#: the run settings a person may change while the run goes on (RunConfig fields)
STEERABLE = ("strategy", "batch_size", "synthesize", "confidence_threshold", "stopping")


class Steering(BaseModel):
    """What a person has said about a run: standing setting changes, a one-shot forced
    action for the next decision, and the changes the supervisor has not acknowledged yet.
    It lives in the graph's state; every change is also a row in the ledger."""

    settings: dict[str, Any] = Field(default_factory=dict)  #: RunConfig overrides
    budget: dict[str, Any] | None = None  #: a Budget that replaces the run's
    force: dict[str, Any] | None = None  #: {"action", "n", "strategy", "label"} for next round
    news: list[str] = Field(default_factory=list)  #: changes not yet in a decision's reason

    def changed(self, change: dict[str, Any], note: str) -> Steering:
        """This steering with one more change (keys: settings names, budget, force)."""
        settings = {**self.settings, **{k: v for k, v in change.items() if k in STEERABLE}}
        return Steering(settings=settings, budget=change.get("budget", self.budget),
                        force=change.get("force", self.force), news=[*self.news, note])

    @staticmethod
    def check(change: dict[str, Any], labels: tuple[str, ...], strategies: list[str],
              criteria: list[str] | None = None) -> dict[str, Any]:
        """A change as plain JSON values, or an InputError that says what is wrong with it
        (``criteria``: the stopping criteria a ``stopping`` change may name)."""
        unknown = set(change) - {*STEERABLE, "budget", "force"}
        if unknown:
            raise InputError(f"cannot change {sorted(unknown)}; a person may change "
                             f"{[*STEERABLE, 'budget', 'force']}")
        out = dict(change)
        if change.get("strategy") is not None and change["strategy"] not in strategies:
            raise InputError(f"unknown strategy {change['strategy']!r}; choose one of "
                             f"{sorted(strategies)}")
        if change.get("stopping") is not None:
            names = change["stopping"]
            names = [n.strip() for n in names.split(",") if n.strip()] \
                if isinstance(names, str) else [str(n) for n in names]
            unknown_criteria = [n for n in names if criteria is not None and n not in criteria]
            if unknown_criteria:
                raise InputError(f"unknown stopping criterion {unknown_criteria[0]!r}; choose "
                                 f"from {sorted(criteria or [])}")
            out["stopping"] = names
        if "budget" in change:
            budget = change["budget"]
            try:
                out["budget"] = (budget if isinstance(budget, Budget)
                                 else Budget(**budget)).model_dump()
            except ValidationError as exc:
                raise InputError(f"bad budget: {exc.errors()[0]['msg']}") from None
        force = change.get("force")
        if force is not None:
            if force.get("action") not in {"query", "synthesize", "stop"}:
                raise InputError("a forced action is query, synthesize or stop, got "
                                 f"{force.get('action')!r}")
            n = force.get("n")
            if n is not None and (not isinstance(n, int) or n < 1):
                raise InputError(f"a forced batch needs a positive number of items, got {n!r}")
            if force.get("strategy") is not None and force["strategy"] not in strategies:
                raise InputError(f"unknown strategy {force['strategy']!r}; choose one of "
                                 f"{sorted(strategies)}")
            if force.get("label") is not None and force["label"] not in labels:
                raise InputError(f"unknown label {force['label']!r}; choose one of "
                                 f"{list(labels)}")
            out["force"] = {k: force.get(k) for k in ("action", "n", "strategy", "label")}
        return out

    @classmethod
    def fold(cls, actions: list[dict[str, Any]]) -> Steering:
        """The standing changes of a ledger's human actions (forced actions were one-shot)."""
        out = cls()
        for action in actions:
            if action["kind"] == "steer":
                out = out.changed({k: v for k, v in action["payload"].items() if k != "force"},
                                  "")
        return out.model_copy(update={"news": []})


class Candidate(TypedDict):
    """An item the selector or generator hands to the annotator."""

    id: str  # content hash of the text
    text: str
    origin: Origin
    intended: str | None  # the label a synthetic item was written for (never shown to labelers)
    why_selected: NotRequired[str]  # the LLM selector's reason for picking it (strategy "llm")


class LabeledItem(Candidate, total=False):
    """A candidate after the annotator: its label (None = abstained) and provenance."""

    label: str | None
    source: Source | None
    confidence: float | None
    cost: float  # dollars: the label's price and its LLM calls
    reason: str | None  # why there is no label


class VerifiedItem(LabeledItem, total=False):
    """A labeled item after the verifier: its verdict and the reason for it."""

    verdict: Verdict
