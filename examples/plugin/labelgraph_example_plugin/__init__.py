"""An example labelgraph plug-in: one strategy, one stopping criterion and one verifier tool.

Each piece is published through an entry point in ``pyproject.toml`` (groups
``labelgraph.strategies``, ``labelgraph.stopping`` and ``labelgraph.tools``), so installing
the package is all it takes for labelgraph to find them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from labelgraph import tool
from labelgraph.strategies import top_unlabeled

if TYPE_CHECKING:
    from labelgraph.config import RunConfig
    from labelgraph.policies import RoundSignals

__all__ = ["AccuracyTarget", "TypicalFirst", "no_shouting"]


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
