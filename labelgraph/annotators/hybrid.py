"""The hybrid annotator: each item goes to the cheapest source likely to be right."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from labelgraph.annotators.base import (
    FEW_SHOT,
    NEEDS_RUN_LLM,
    RAW,
    SOURCE,
    Annotator,
    Answer,
    Writer,
)
from labelgraph.annotators.buying import label_price
from labelgraph.annotators.calibration import calibrating, fit_calibrator
from labelgraph.annotators.evidence import gather_evidence
from labelgraph.annotators.gold import OracleAnnotator
from labelgraph.annotators.human import HumanAnnotator
from labelgraph.annotators.llm import LLMAnnotator
from labelgraph.capabilities import USES_TOOLS, capability
from labelgraph.errors import InputError
from labelgraph.memory.ledger import LabelRow
from labelgraph.trust import (
    SEND_ON_CAP,
    Calibrator,
    ConfidenceSignals,
    affordable_share,
    buy_first,
    default_threshold,
)

if TYPE_CHECKING:
    from labelgraph.runtime import RunContext
    from labelgraph.types import Candidate

__all__ = ["HybridAnnotator"]


class HybridAnnotator:
    """Each item goes to the cheapest source likely to be right: the LLM (or any ``first``
    annotator), then a ``strong`` model if configured, then the person (or the oracle
    standing in for one, ``human="oracle"``).

    Before buying, an LLM label that the evidence says will be overruled is not bought (the
    item goes straight on); after buying, a label whose calibrated confidence is under the
    threshold goes on. The threshold is ``RunConfig.confidence_threshold``, or derived from
    the budget: the confidence under which the share of items the budget can send on falls.
    A small ``spot_check`` share of confident labels also goes to the person, so the
    calibrator learns from both kinds. A few-shot first source is asked only once memory
    holds ``min_demos`` labels to show it; until then (the cold-start seed) items go on.
    """

    def __init__(self, human: str = "human", threshold: float | None = None,
                 min_demos: int = 4, n_shots: int | None = None, first: Any = None,
                 strong: Any = None) -> None:
        if human not in {"human", "oracle"}:
            raise InputError(f"the hybrid annotator's human must be 'human' or 'oracle', got "
                             f"{human!r}")
        self.human = human
        self.threshold = threshold
        self.min_demos = min_demos
        self.n_shots = n_shots
        if isinstance(first, dict):  # as saved in run.json: {"name": ..., "config": ...}
            from labelgraph.registry import registry

            first = registry.create("annotators", first["name"], **first.get("config", {}))
        self.first = first
        self.strong = strong
        self._person = HumanAnnotator() if human == "human" else OracleAnnotator()
        self._first = first if first is not None else LLMAnnotator(n_shots)
        self._strong = None if strong is None else LLMAnnotator(n_shots, strong, "strong")

    @property
    def needs_run_llm(self) -> bool:
        """True when its first source is the run's model."""
        return bool(capability(self._first, NEEDS_RUN_LLM))

    @property
    def uses_tools(self) -> bool:
        """True when its first source can run as a tool-calling agent."""
        return bool(capability(self._first, USES_TOOLS))

    def get_config(self) -> dict[str, Any]:
        config: dict[str, Any] = {"human": self.human, "threshold": self.threshold,
                                  "min_demos": self.min_demos, "n_shots": self.n_shots}
        if isinstance(self.strong, str):
            config["strong"] = self.strong
        if self.first is not None:
            from labelgraph.registry import registry

            name = registry.name_of("annotators", self.first)
            if name and hasattr(self.first, "get_config"):
                config["first"] = {"name": name, "config": self.first.get_config()}
        return config

    @property
    def person(self) -> Annotator:
        """Who answers when an item goes on: a person (interrupt) or the oracle."""
        return self._person

    @property
    def stronger(self) -> Annotator | None:
        """The stronger model's annotator, if one is configured."""
        return self._strong

    def _first_source(self) -> str:
        return str(capability(self._first, SOURCE))

    def threshold_for(self, ctx: RunContext, calibrator: Calibrator, items_left: int,
                      rows: Sequence[LabelRow]) -> float:
        """The routing threshold: set by hand, or the confidence under which the share of
        items the budget can send on falls (recent calibrated confidences in ``rows``)."""
        if self.threshold is not None:
            return self.threshold
        if ctx.config.confidence_threshold is not None:
            return ctx.config.confidence_threshold
        source = self._first_source()
        recent = [r for r in rows if r.source == source and r.signals][-300:]
        conf = calibrator.predict([ConfidenceSignals.from_dict(json.loads(r.signals))
                                   for r in recent])
        usd_left = None if ctx.meter.budget.usd is None else \
            ctx.meter.budget.usd - ctx.meter.spent.usd
        labels_left = ctx.meter.remaining_labels()
        if labels_left is not None:  # the items the labels left can still cover
            items_left = min(items_left, max(1, round(labels_left / (1 + SEND_ON_CAP))))
        pool = [r for r in rows if r.origin == "pool"]
        done = len({r.item_id for r in pool})
        sent = len({r.item_id for r in pool if r.source == self.human})
        share = affordable_share(usd_left, labels_left, label_price(ctx, self.human),
                                 items_left, done=done, sent=sent)
        # spot checks go to the person as well: the threshold sends on the rest of the share
        return default_threshold(conf, share - ctx.config.spot_check * (1 - share))

    def annotate(self, items: list[Candidate], ctx: RunContext, round_: int,
                 write: Writer | None = None) -> list[Answer]:
        if not items:
            return []
        source = self._first_source()
        evidence = gather_evidence(ctx, items)
        rows = ctx.ledger.all_labels()  # read once: calibrators and threshold share it
        calibrator = fit_calibrator(ctx, source, rows=rows)
        n = len(items)
        # One threshold for the batch, whichever source a label comes from.
        threshold = self.threshold_for(ctx, calibrator, int((~ctx.labeled_mask()).sum()) + n,
                                       rows)
        out: list[Answer] = [Answer(None, source, None, "too few demonstrations")] * n
        go_on = {k: "too few demonstrations" for k in range(n)}
        few_shot = capability(self._first, FEW_SHOT)
        if few_shot is None or not few_shot(ctx) or len(ctx.memory) >= self.min_demos:
            # Decide before buying: skip a label the evidence says will be overruled.
            pre = fit_calibrator(ctx, source, top=True, rows=rows)
            p_right = pre.predict([evidence.before_buying(k) for k in range(n)]) \
                if pre.fitted else [None] * n
            price_first = label_price(ctx, source)
            price_next = label_price(ctx, "strong" if self._strong else self.human)
            buy = [k for k in range(n) if buy_first(None if p_right[k] is None
                                                    else 1.0 - float(p_right[k]),
                                                    price_first, price_next)]
            go_on = {k: f"expected to be overruled (P(kept)={float(p_right[k]):.2f}): not "
                        f"bought" for k in range(n) if k not in set(buy)}
            sub = [items[k] for k in buy]
            raw = capability(self._first, RAW)
            answers = raw(sub, ctx, round_, write,
                          calibrating(ctx, evidence.subset(buy), calibrator)) \
                if raw is not None else self._first.annotate(sub, ctx, round_, write)
            spot = ctx.rng(round_, 11).random(n) < ctx.config.spot_check
            for k, answer in zip(buy, answers, strict=True):
                out[k] = answer
                if answer.label is None:
                    go_on[k] = answer.note or "abstained"
                elif (answer.confidence or 0.0) < threshold:
                    go_on[k] = f"confidence {answer.confidence:.2f} < {threshold:.2f}"
                elif spot[k] and calibrator.n_ < 10 * ctx.config.calibration_min:
                    go_on[k] = "spot check for calibration"
        if self._strong is not None and go_on:
            ask = sorted(k for k, why in go_on.items() if "spot check" not in why)
            strong = self._strong.annotate([items[k] for k in ask], ctx, round_, write)
            for k, answer in zip(ask, strong, strict=True):
                if answer.label is not None and (answer.confidence or 0.0) >= threshold:
                    out[k] = answer
                    del go_on[k]
        if not go_on:
            return out
        route = sorted(go_on)
        sub = [items[k] for k in route]
        if isinstance(self._person, HumanAnnotator):
            second = self._person.annotate(sub, ctx, round_, write, [out[k] for k in route])
        else:
            second = self._person.annotate(sub, ctx, round_, write)
        for k, answer in zip(route, second, strict=True):
            if answer.label is not None or out[k].label is None:
                out[k] = replace(answer, note=f"routed: {go_on[k]}")
        return out
