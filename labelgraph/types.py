"""Public value types: the task schema, the budget, and the records agents exchange.

The item shapes say what each stage hands on: the selector and generator hand on a
:class:`Candidate`, the annotator a :class:`LabeledItem`, the verifier a :class:`VerifiedItem`.
"""

from __future__ import annotations

import hashlib
from typing import Literal, TypedDict

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from labelgraph.errors import InputError

__all__ = ["Action", "Budget", "Candidate", "Decision", "LabeledItem", "Proposal", "Task",
           "VerifiedItem", "content_id"]

Action = Literal["query", "synthesize", "stop"]
Origin = Literal["pool", "synthetic"]
Source = Literal["human", "llm", "oracle"]
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


class Candidate(TypedDict):
    """An item the selector or generator hands to the annotator."""

    id: str  # content hash of the text
    text: str
    origin: Origin
    intended: str | None  # the label a synthetic item was written for (never shown to labelers)


class LabeledItem(Candidate, total=False):
    """A candidate after the annotator: its label (None = abstained) and provenance."""

    label: str | None
    source: Source | None
    confidence: float | None
    reason: str | None  # why there is no label


class VerifiedItem(LabeledItem, total=False):
    """A labeled item after the verifier: its verdict and the reason for it."""

    verdict: Verdict
