"""What each agent proposes from its own evidence: one small pure function per agent.

A node gathers its evidence (the batch's verdicts, the ledger's record of overruled labels,
the learner's stop-set figures, the selector's pool scores) and asks its function here for
a :class:`~labelgraph.types.Proposal` — the next action it would take, with a one-sentence
reason — or ``None`` when its evidence says nothing. The thresholds are ``RunConfig``
fields with documented defaults; the rule policy weighs the proposals
(:class:`labelgraph.policies.RulePolicy`, docs/agents.md).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from labelgraph.types import Proposal

if TYPE_CHECKING:
    from labelgraph.config import RunConfig

__all__ = ["MODEL_SOURCES", "Overrulings", "annotator_proposal", "class_gap", "flat_curve",
           "generator_proposal", "learner_proposal", "overrulings", "selector_proposal",
           "share", "verifier_proposal"]


#: Label sources that are models (their labels can be overruled by a person or the oracle).
MODEL_SOURCES = ("llm", "strong")


def share(part: int, whole: int, evidence: int) -> float | None:
    """``part / whole``, or None when ``whole`` is under ``evidence`` (too little to say)."""
    return part / whole if whole >= max(1, evidence) else None


@dataclass(frozen=True)
class Overrulings:
    """How a model annotator's recent labels fared once someone else looked at them."""

    checked: int = 0  #: model labels with a verdict or a second source's label
    by_person: int = 0  #: a person, the oracle or a stronger model said otherwise
    by_verifier: int = 0  #: the verifier rejected or flagged them (no second source)
    corrected: int = 0  #: a person corrected them in memory afterwards
    synthetic: int = 0  #: of ``checked``, labels of synthetic items
    synthetic_overruled: int = 0  #: of those, overruled

    @property
    def overruled(self) -> int:
        return self.by_person + self.by_verifier + self.corrected


def overrulings(rows: Iterable[Mapping[str, Any]],
                corrections: Mapping[str, str | None]) -> Overrulings:
    """Count a model's labels overruled, from the ledger's rows (``item_id``, ``origin``,
    ``label``, ``other``: a more trusted source's label, ``verdict``, ``reason``) and the
    person's corrections (item id -> new label, None for a rejection). A second source
    speaks first (the verdict is then about its label); a duplicate is nobody's error."""
    checked = by_person = by_verifier = corrected = synthetic = synthetic_overruled = 0
    for row in rows:
        label, other, verdict = row["label"], row.get("other"), row.get("verdict")
        if other is None and verdict is None:
            continue  # nobody has looked at it yet
        checked += 1
        if other is not None:
            lost = other != label
            by_person += lost
        elif verdict in {"reject", "flag"} and \
                not str(row.get("reason") or "").startswith("duplicate"):
            lost = True
            by_verifier += 1
        elif row["item_id"] in corrections and corrections[row["item_id"]] != label:
            lost = True
            corrected += 1
        else:
            lost = False
        if row.get("origin") == "synthetic":
            synthetic += 1
            synthetic_overruled += lost
    return Overrulings(checked, by_person, by_verifier, corrected, synthetic,
                       synthetic_overruled)


def annotator_proposal(found: Overrulings, config: RunConfig) -> Proposal | None:
    """Query — more to the person, no synthesis — when most of the model's recent labels
    were overruled, overall or on synthetic items (labeled blind, the least trusted)."""
    overall = share(found.overruled, found.checked, config.proposal_evidence)
    synthetic = share(found.synthetic_overruled, found.synthetic, config.proposal_evidence)
    if overall is not None and overall >= config.overruled_share:
        who = ", ".join(f"{n} by {w}" for n, w in ((found.by_person, "a more trusted source"),
                                                  (found.by_verifier, "the verifier"),
                                                  (found.corrected, "a person's correction"))
                        if n)
        return Proposal(agent="annotator", action="query", reason=(
            f"{found.overruled} of my last {found.checked} model labels were overruled "
            f"({who}): query and route more to the person rather than synthesize"))
    if synthetic is not None and synthetic >= config.overruled_share:
        return Proposal(agent="annotator", action="query", reason=(
            f"{found.synthetic_overruled} of my last {found.synthetic} labels of synthetic "
            f"items were overruled: stop synthesizing, query the pool"))
    return None


def verifier_proposal(verdicts: Mapping[str, int], audit: tuple[int, int] | None,
                      config: RunConfig) -> Proposal | None:
    """Query (slow down, no synthesis) when much of the batch was rejected or flagged, or
    when the audit (``(checked, suspects)``, if it ran) found many suspect labels."""
    batch = sum(verdicts.values())
    doubted = verdicts.get("reject", 0) + verdicts.get("flag", 0)
    doubt = share(doubted, batch, config.proposal_evidence)
    if doubt is not None and doubt >= config.doubt_share:
        return Proposal(agent="verifier", action="query", reason=(
            f"{doubted} of the {batch} new labels were rejected or flagged: query the pool "
            f"rather than synthesize until labels hold"))
    if audit is not None:
        checked, suspects = audit
        found = share(suspects, checked, config.proposal_evidence)
        if found is not None and found >= config.audit_suspect_share:
            return Proposal(agent="verifier", action="query", reason=(
                f"the audit found {suspects} of {checked} labels in memory suspect: query "
                f"the pool rather than synthesize"))
    return None


def generator_proposal(kept: int, attempts: int, dropped: int,
                       last_acceptance: float | None, config: RunConfig) -> Proposal | None:
    """Query when this round gave no usable example, or when most of the last synthetic
    batch was rejected (``last_acceptance``: its accepted share)."""
    if kept == 0:
        return Proposal(agent="generator", action="query", reason=(
            f"no usable examples after {attempts} attempts ({dropped} near-duplicates): "
            f"query the pool instead"))
    if last_acceptance is not None and 1.0 - last_acceptance >= config.synth_rejected_share:
        return Proposal(agent="generator", action="query", reason=(
            f"{1.0 - last_acceptance:.0%} of my last examples were rejected: query instead"))
    return None


def selector_proposal(left_after: int, lowest_top: float | None, can_synthesize: bool,
                      config: RunConfig) -> Proposal | None:
    """Synthesize (or stop, when synthesis cannot run) when nothing informative is left:
    the pool is used up by this batch, or the student is sure of every pool item
    (``lowest_top``: its smallest top probability there; None without scores)."""
    action = "synthesize" if can_synthesize else "stop"
    if left_after <= 0:
        why = "nothing is left in the pool after this batch"
    elif lowest_top is not None and lowest_top > config.confident_pool:
        why = (f"the student is sure of every pool item (top probability ≥ {lowest_top:.3f}):"
               f" nothing informative left")
    else:
        return None
    return Proposal(agent="selector", action=action,
                    reason=f"{why}: {'synthesize near the boundary' if can_synthesize else 'stop'}")


def flat_curve(history: Sequence[Mapping[str, Any]], config: RunConfig) -> str | None:
    """Why the learning curve is flat by the learner's own stopping signals, or None: at
    most ``flat_change`` of the stop set's predictions changed in each of the last
    ``stop_window`` rounds, after ``min_rounds``."""
    recent = [m.get("stop_changed") for m in history[-config.stop_window:]]
    last = history[-1].get("round") if history else None
    if last is None or int(last) <= config.min_rounds or len(recent) < config.stop_window \
            or any(v is None or float(v) > config.flat_change for v in recent):
        return None
    return (f"the curve is flat: at most {max(float(v) for v in recent if v is not None):.1%} "
            f"of the stop set's predictions changed in each of the last "
            f"{config.stop_window} rounds")


def class_gap(label_counts: Mapping[str, int], predicted: Mapping[str, int] | None,
              config: RunConfig) -> tuple[str, str] | None:
    """(label, why) of the label the student most lacks: one it never predicts on the stop
    set (``predicted``: its predictions there per label), or one with fewer than
    ``min_class_labels`` accepted examples; None when every label is covered. A label with
    no example at all is left to the pool: the generator writes by continuing real
    examples of a label, so it has nothing to go on."""
    seen = {label for label, n in label_counts.items() if n > 0}
    never = {label for label in seen
             if predicted is not None and sum(predicted.values()) and not predicted.get(label)}
    few = {label for label in seen if label_counts[label] < config.min_class_labels}
    gaps = never | few
    if not gaps:
        return None
    label = min(gaps, key=lambda x: ((predicted or {}).get(x, 0), label_counts[x], x))
    n = label_counts[label]
    if label in never:
        return label, (f"the student never predicts {label!r} on the stop set ({n} labels of "
                       f"it)")
    return label, f"{label!r} has only {n} accepted labels (< {config.min_class_labels})"


def learner_proposal(history: Sequence[Mapping[str, Any]], label_counts: Mapping[str, int],
                     predicted: Mapping[str, int] | None, can_synthesize: bool,
                     config: RunConfig) -> Proposal | None:
    """Synthesize for a label the student lacks (when synthesis can run); else stop when
    the curve is flat. A missing label comes first: stopping would leave it missing."""
    gap = class_gap(label_counts, predicted, config) if can_synthesize else None
    if gap is not None:
        label, why = gap
        return Proposal(agent="learner", action="synthesize", target_label=label,
                        reason=f"{why}: synthesize examples of it")
    flat = flat_curve(history, config)
    if flat is not None:
        return Proposal(agent="learner", action="stop", reason=f"{flat}: stop")
    return None
