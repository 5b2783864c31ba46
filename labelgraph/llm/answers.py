"""A label read from a model's answer: from the first token's log-probabilities, or strictly
from a short plain-text answer."""

from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = ["LABEL_TOKENS", "LOGPROB_TOP", "label_mass", "strict_label"]

#: Top log-probabilities asked for a label's first token, and the tokens a bare label may
#: take (a label answer is a word or two).
LOGPROB_TOP, LABEL_TOKENS = 20, 8


def label_mass(top: Sequence[tuple[str, float]], labels: Sequence[str]) -> dict[str, float] | None:
    """Label probabilities from the first answer token's top log-probabilities: a token that
    begins labels (case and spaces ignored) gives its probability to them, split evenly.
    None when no listed token begins a label."""
    mass = dict.fromkeys(labels, 0.0)
    for token, logprob in top:
        word = token.strip().lower()
        starts = [lab for lab in labels if word and lab.lower().startswith(word)]
        for lab in starts:
            mass[lab] += math.exp(logprob) / len(starts)
    total = sum(mass.values())
    return {lab: m / total for lab, m in mass.items()} if total > 0 else None


def strict_label(answer: str, labels: Sequence[str]) -> str | None:
    """The one label a plain answer begins with ("Positive." -> "positive"), or None when it
    begins with none or with more than one (a label that is a prefix of another counts only
    when the answer has nothing more of a word after it)."""
    words = answer.strip().lower().lstrip("\"'*`([{ ")
    hits = [lab for lab in labels if words.startswith(lab.lower()) and
            not words[len(lab):len(lab) + 1].isalnum()]
    return hits[0] if len(hits) == 1 else None
