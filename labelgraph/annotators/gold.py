"""Annotators that read the pool's gold labels: the oracle, and a simulated LLM that errs at a
set rate (for simulations and benchmarks)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from labelgraph.annotators.base import Annotator, Answer, Finish, Writer
from labelgraph.annotators.buying import buy_known_labels, buy_label
from labelgraph.annotators.calibration import self_calibrating
from labelgraph.errors import InputError
from labelgraph.trust import ConfidenceSignals
from labelgraph.types import content_id

if TYPE_CHECKING:
    from labelgraph.runtime import RunContext
    from labelgraph.types import Candidate

__all__ = ["OracleAnnotator", "SimulatedAnnotator"]


class OracleAnnotator:
    """Gold labels from the pool, for simulations and benchmarks; abstains on synthetic items."""

    @property
    def person(self) -> Annotator:
        """A doubtful label goes back to the oracle: this annotator itself."""
        return self

    def get_config(self) -> dict[str, Any]:
        return {}

    def annotate(self, items: list[Candidate], ctx: RunContext, round_: int,
                 write: Writer | None = None) -> list[Answer]:
        pool = ctx.store.pool()
        answers = []
        for item in items:
            gold = pool.gold_of(item["id"])
            answers.append(Answer(None, "oracle", None, "no gold label for this item")
                           if gold is None else Answer(gold, "oracle", 1.0))
        return buy_known_labels(ctx, items, answers, "oracle", round_)


class SimulatedAnnotator:
    """A stand-in for an LLM in benchmarks: the pool's gold label, wrong at a set rate
    (overall, or per gold class), with a confidence whose ``informativeness`` (0: none, 1:
    it separates right from wrong perfectly) says how much it knows about its own errors,
    at ``price`` dollars a label. Deterministic per item and ``seed``."""

    def __init__(self, error_rate: float = 0.15, class_error_rates: dict[str, float] | None = None,
                 informativeness: float = 0.8, price: float = 0.0, seed: int = 0,
                 source: str = "llm") -> None:
        for name, rate in {"error_rate": error_rate, "informativeness": informativeness,
                           **{f"class_error_rates[{k!r}]": v
                              for k, v in (class_error_rates or {}).items()}}.items():
            if not 0.0 <= float(rate) <= 1.0:
                raise InputError(f"SimulatedAnnotator: {name} must be within [0, 1], got {rate}")
        if price < 0:
            raise InputError(f"SimulatedAnnotator: price must be >= 0, got {price}")
        self.error_rate = error_rate
        self.class_error_rates = class_error_rates
        self.informativeness = informativeness
        self.price = price
        self.seed = seed
        self.source = source

    def get_config(self) -> dict[str, Any]:
        return {"error_rate": self.error_rate, "class_error_rates": self.class_error_rates,
                "informativeness": self.informativeness, "price": self.price,
                "seed": self.seed, "source": self.source}

    def answer(self, item_id: str, gold: str, labels: Sequence[str]) -> Answer:
        """The simulated label of one item: right or wrong, and how sure it says it is."""
        rng = np.random.default_rng([self.seed, int(content_id(item_id, "sim")[-12:], 16)])
        rate = (self.class_error_rates or {}).get(gold, self.error_rate)
        wrong = rng.random() < rate
        others = [lab for lab in labels if lab != gold]
        label = str(rng.choice(others)) if wrong and others else gold
        s = self.informativeness
        score = s * 1.5 * (-1.0 if label != gold else 1.0) + math.sqrt(1 - s * s) * rng.normal()
        floor = 1.0 / max(len(labels), 1)
        confidence = floor + (1 - floor) * 0.5 * (1 + math.erf(score / math.sqrt(2)))
        return Answer(label, self.source, confidence, "simulated",
                      ConfidenceSignals(llm=confidence))

    def annotate(self, items: list[Candidate], ctx: RunContext, round_: int,
                 write: Writer | None = None) -> list[Answer]:
        return self.raw(items, ctx, round_, write, self_calibrating(ctx, items, self.source))

    def raw(self, items: list[Candidate], ctx: RunContext, round_: int,
            write: Writer | None = None, finish: Finish | None = None) -> list[Answer]:
        """Labels bought and recorded, each completed by ``finish(n, answer)`` first."""
        pool = ctx.store.pool()
        labels = list(ctx.task.labels)
        out = []
        for n, item in enumerate(items):
            gold = pool.gold_of(item["id"])
            if gold is None:
                out.append(Answer(None, self.source, None, "no gold label to simulate from"))
                continue
            out.append(buy_label(ctx, item, self.source, round_,
                                 lambda i=item, g=gold: self.answer(i["id"], g, labels),
                                 price=self.price,
                                 finish=None if finish is None
                                 else lambda a, n=n: finish(n, a)))
        return out
