"""Budget metering: what the run has spent, checked *before* every spend.

The meter's totals come from the ledger, so after a crash or a resume the spend is exactly
what was recorded; nothing is re-counted and nothing is forgotten. :func:`buy_once` is the
one way anything is bought: replay it from the ledger, or reserve, act, record, settle.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from labelgraph.errors import BudgetExhausted
from labelgraph.memory.ledger import Ledger
from labelgraph.types import Budget

# USD per million (input, output) tokens. Local models and "none" cost nothing; unknown
# remote models are priced conservatively high so a budget in dollars still binds.
PRICES: dict[str, tuple[float, float]] = {
    "local": (0.0, 0.0),
    "none": (0.0, 0.0),
    "openai:gpt-4o-mini": (0.15, 0.60),
    "openai:gpt-4o": (2.50, 10.0),
    "openai:gpt-4.1-mini": (0.40, 1.60),
    "openai:gpt-4.1-nano": (0.10, 0.40),
    "anthropic:claude-3-5-haiku-latest": (0.80, 4.0),
    "anthropic:claude-haiku-4-5": (1.0, 5.0),
    "anthropic:claude-sonnet-4-5": (3.0, 15.0),
}
UNKNOWN_PRICE = (5.0, 25.0)


def is_local_server(url: str | None) -> bool:
    """A model server on this machine (its calls cost nothing unless a price says so)."""
    from urllib.parse import urlparse

    return bool(url) and urlparse(url).hostname in {"127.0.0.1", "localhost", "::1",
                                                    "0.0.0.0"}


def price_for(model: str, overrides: dict[str, tuple[float, float]] | None = None) -> tuple[
        float, float]:
    """(input, output) USD per million tokens for a model spec: a price given for it, the
    table's, free for local models and servers on this machine ("openai:m@http://127.0.0.1
    ..."), else the conservative unknown price."""
    table = {**PRICES, **(overrides or {})}
    if model in table:
        return table[model]
    if model.startswith("local") or model.startswith("ollama:"):
        return (0.0, 0.0)
    _, at, url = model.partition("@")
    if at and is_local_server(url):
        return (0.0, 0.0)
    return UNKNOWN_PRICE


T = TypeVar("T")


@dataclass
class Spend:
    """An amount of labels, tokens and dollars (a reservation, or what was spent)."""

    labels: int = 0
    tokens: int = 0
    usd: float = 0.0


@dataclass(frozen=True)
class Refusal:
    """A reservation the meter refused: the budget it would have passed (``labels``,
    ``tokens`` or ``usd``), what it asked of that budget and what was left of it."""

    unit: str
    need: float
    left: float

    def as_dict(self) -> dict[str, float | str]:
        return {"unit": self.unit, "need": self.need, "left": self.left}


def least_refused(refused: Sequence[Refusal]) -> Refusal | None:
    """The smallest refusal of the budget that refused most often: what even the cheapest
    refused spend needed (None when nothing was refused)."""
    if not refused:
        return None
    unit = Counter(r.unit for r in refused).most_common(1)[0][0]
    return min((r for r in refused if r.unit == unit), key=lambda r: r.need)


class BudgetMeter:
    """Tracks spend against a :class:`Budget`; ``reserve`` refuses what would exceed it."""

    def __init__(self, budget: Budget, ledger: Ledger) -> None:
        self.budget = budget
        self.ledger = ledger
        self._lock = threading.Lock()
        self.pending = Spend()
        self._refused: list[Refusal] = []  # since the last take_refused()
        self.refresh()

    def refresh(self) -> None:
        """Reload the totals from the ledger (after a resume, or another writer)."""
        totals = self.ledger.totals()
        with self._lock:
            self.spent = Spend(int(totals["labels"]), int(totals["tokens"]), totals["usd"])

    def remaining_labels(self) -> int | None:
        if self.budget.labels is None:
            return None
        return max(0, self.budget.labels - self.spent.labels)

    def _fits(self, labels: int, tokens: int, usd: float) -> bool:
        b, s, p = self.budget, self.spent, self.pending
        return not (
            (b.labels is not None and s.labels + p.labels + labels > b.labels)
            or (b.tokens is not None and s.tokens + p.tokens + tokens > b.tokens)
            or (b.usd is not None and s.usd + p.usd + usd > b.usd + 1e-12)
        )

    def can_afford(self, *, labels: int = 0, tokens: int = 0, usd: float = 0.0) -> bool:
        with self._lock:
            return self._fits(labels, tokens, usd)

    def reserve(self, *, labels: int = 0, tokens: int = 0, usd: float = 0.0,
                what: str = "") -> Spend:
        """Hold an upper-bound estimate of a spend, or raise :class:`BudgetExhausted`.

        Concurrent calls each reserve before they run, so together they can never pass the
        budget; :meth:`settle` swaps the reservation for the actual spend afterwards.
        """
        with self._lock:
            if not self._fits(labels, tokens, usd):
                self._refused.append(self._refusal(labels, tokens, usd))
                raise BudgetExhausted(
                    f"{what or 'spend'} of {labels} labels / {tokens} tokens / ${usd:.4f} "
                    f"would exceed the budget (spent {self.spent.labels} labels, "
                    f"{self.spent.tokens} tokens, ${self.spent.usd:.4f} of {self.budget})")
            self.pending.labels += labels
            self.pending.tokens += tokens
            self.pending.usd += usd
            return Spend(labels, tokens, usd)

    def _refusal(self, labels: int, tokens: int, usd: float) -> Refusal:
        """Which budget a spend would pass, what it asks of it and what is left."""
        b, s, p = self.budget, self.spent, self.pending
        for unit, limit, used, need in (("labels", b.labels, s.labels + p.labels, labels),
                                        ("tokens", b.tokens, s.tokens + p.tokens, tokens),
                                        ("usd", b.usd, s.usd + p.usd, usd)):
            if limit is not None and used + need > limit + (1e-12 if unit == "usd" else 0):
                return Refusal(unit, float(need), max(0.0, float(limit - used)))
        return Refusal("usd", float(usd), 0.0)  # unreachable: the spend did not fit

    def take_refused(self) -> list[Refusal]:
        """The reservations refused since the last call (the learner's curve reports them,
        so a run the budget starves says so instead of stopping for no visible reason)."""
        with self._lock:
            refused, self._refused = self._refused, []
        return refused

    def settle(self, held: Spend, *, labels: int = 0, tokens: int = 0,
               usd: float = 0.0) -> None:
        """Release a reservation and count the actual spend (already in the ledger)."""
        with self._lock:
            self.pending.labels -= held.labels
            self.pending.tokens -= held.tokens
            self.pending.usd -= held.usd
            self.spent.labels += labels
            self.spent.tokens += tokens
            self.spent.usd += usd

    def snapshot(self) -> dict[str, float]:
        return {"labels": self.spent.labels, "tokens": self.spent.tokens,
                "usd": round(self.spent.usd, 6)}


def buy_once(meter: BudgetMeter, *, replay: Callable[[], T | None], hold: Spend,
             act: Callable[[], T], record: Callable[[T], Spend | None], what: str = "") -> T:
    """Buy something at most once, within budget.

    ``replay()`` returns what the ledger already holds (bought before a crash, a pause or by
    an earlier round), and then nothing is spent. Otherwise ``hold`` is reserved (or
    :class:`BudgetExhausted` raised), ``act()`` makes the purchase, ``record(result)`` writes
    it to the ledger at once and returns what it really cost (``None``: nothing bought),
    and the reservation is settled for that cost. If ``act`` or ``record`` fails, the
    reservation is released and the error propagates.
    """
    known = replay()
    if known is not None:
        return known
    held = meter.reserve(labels=hold.labels, tokens=hold.tokens, usd=hold.usd, what=what)
    try:
        result = act()
        spent = record(result) or Spend()
    except BaseException:
        meter.settle(held)
        raise
    meter.settle(held, labels=spent.labels, tokens=spent.tokens, usd=spent.usd)
    return result
