"""An example labelgraph plug-in: one strategy, one stopping criterion, one verifier tool and
one annotator.

Each piece is published through an entry point in ``pyproject.toml`` (groups
``labelgraph.strategies``, ``labelgraph.stopping``, ``labelgraph.tools`` and
``labelgraph.annotators``), so installing the package is all it takes for labelgraph to find
them. None of them imports the graph: an annotator sees its run as a
:class:`labelgraph.runtime.RunContext`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from labelgraph import tool
from labelgraph.annotators import Answer, buy_known_labels
from labelgraph.strategies import top_unlabeled

if TYPE_CHECKING:
    from labelgraph.config import RunConfig
    from labelgraph.policies import RoundSignals
    from labelgraph.runtime import RunContext
    from labelgraph.types import Candidate

__all__ = ["AccuracyTarget", "KeywordVote", "TypicalFirst", "no_shouting"]


@dataclass
class TypicalFirst:
    """Query strategy: the unlabeled items most typical of the pool first, i.e. those whose
    embedding has the highest cosine similarity to the pool's mean embedding. It needs no
    student, so it can run from the first round."""

    needs_model: bool = False

    def select(self, probs: np.ndarray | None, embeddings: np.ndarray, labeled: np.ndarray,
               n: int, rng: np.random.Generator) -> np.ndarray:
        """Up to ``n`` unlabeled row indices, most typical first."""
        x = np.asarray(embeddings, dtype=np.float64)
        x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
        centre = x.mean(axis=0)
        centre /= max(float(np.linalg.norm(centre)), 1e-12)
        score = x @ centre
        # A tiny random jitter breaks ties (identical texts) without changing the order.
        return top_unlabeled(score + rng.random(score.size) * 1e-9, labeled, n)


@dataclass
class AccuracyTarget:
    """Stopping criterion: stop once the student's held-out accuracy reaches ``target``.

    Runs construct criteria with no arguments, so the default target is what a run uses;
    it never votes when the run has no held-out split (no accuracy is measured)."""

    target: float = 0.9

    def stop(self, signals: RoundSignals, config: RunConfig) -> str | None:
        """A reason to stop when the last round's accuracy is at least the target."""
        accuracy = signals.accuracy
        if accuracy is None or accuracy < self.target:
            return None
        return f"accuracy {accuracy:.2f} reached the target {self.target:.2f}"


@tool(agents=["verifier"])
def no_shouting(text: str) -> dict[str, str] | None:
    """Reject texts written mostly in capital letters: shouting is not a review."""
    letters = [c for c in text if c.isalpha()]
    if len(letters) >= 10:
        share = sum(c.isupper() for c in letters) / len(letters)
        if share > 0.6:
            return {"verdict": "reject", "reason": f"{share:.0%} of the letters are capitals"}
    return None


@dataclass
class KeywordVote:
    """Annotator: a labeling function, as in weak supervision. A text gets the label whose
    ``keywords`` it contains most (whole words, any case), with the share of the matches
    as its confidence; with no match, or a tie, it abstains.

    Its labels are bought through labelgraph's ledger (``buy_known_labels``), so they count
    against the label budget, are recorded with their source and are never bought twice. It
    declares the ``source`` capability, so a hybrid annotator can use it as its first, cheap
    source (``HybridAnnotator(first=KeywordVote(...))``) and send what it cannot tell on."""

    keywords: dict[str, list[str]] = field(default_factory=dict)
    source: ClassVar[str] = "keywords"  #: the ledger source of its labels

    def get_config(self) -> dict[str, Any]:
        """What run.json records, so a reopened run gets the same keywords back."""
        return {"keywords": self.keywords}

    def answer(self, text: str, labels: Sequence[str]) -> Answer:
        """The label of one text, or an abstention that says why."""
        words = set(re.findall(r"[\w']+", text.lower()))
        hits = {label: sum(k.lower() in words for k in self.keywords.get(label, ()))
                for label in labels}
        best = max(hits.values(), default=0)
        winners = [label for label, n in hits.items() if n == best]
        if best == 0:
            return Answer(None, self.source, None, "no keyword of any label")
        if len(winners) > 1:
            return Answer(None, self.source, None, f"keywords of {', '.join(winners)}")
        return Answer(winners[0], self.source, best / sum(hits.values()), "keywords")

    def annotate(self, items: list[Candidate], ctx: RunContext, round_: int,
                 write: Callable[[Any], None] | None = None) -> list[Answer]:
        """Label ``items`` from their keywords; abstentions cost nothing."""
        answers = [self.answer(item["text"], ctx.task.labels) for item in items]
        return buy_known_labels(ctx, items, answers, self.source, round_)
