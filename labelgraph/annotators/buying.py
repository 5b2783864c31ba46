"""Buying a label at most once: the ledger is asked first, the budget reserved before anyone
is asked, and the answer recorded at once (:func:`labelgraph.budget.buy_once`), so a node that
re-runs after a crash or an interrupt replays its labels and pays nothing twice."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from labelgraph.annotators.base import Answer
from labelgraph.budget import Spend, buy_once
from labelgraph.errors import BudgetExhausted, ProviderError
from labelgraph.llm import MeteredLLM
from labelgraph.memory.ledger import LabelRow
from labelgraph.trust import ConfidenceSignals

if TYPE_CHECKING:
    from labelgraph.runtime import RunContext
    from labelgraph.types import Candidate

__all__ = ["buy_known_labels", "buy_label", "label_price"]


def label_price(ctx: RunContext, source: str) -> float:
    """The configured price of one label from ``source`` (USD, beside any token cost)."""
    return float(ctx.config.label_prices.get(source, 0.0))




def _replayed(row: LabelRow) -> Answer:
    """The answer a ledger row recorded."""
    signals = ConfidenceSignals.from_dict(json.loads(row.signals)) if row.signals else None
    return Answer(row.label, row.source, row.confidence, row.note, signals)


def _label_row(item: Candidate, answer: Answer, round_: int, price: float,
               spent: Spend | None = None) -> LabelRow:
    """The ledger row recording ``answer`` for ``item`` at ``price`` (and ``spent`` on calls)."""
    assert answer.label is not None
    return LabelRow(
        item["id"], answer.source, item["text"], answer.label, answer.confidence,
        item.get("origin", "pool"), item.get("intended"), round_, usd=price,
        tokens=spent.tokens if spent else 0,
        note="; ".join(n for n in (answer.note, item.get("why_selected") and
                                   f"selected: {item['why_selected']}") if n) or None,
        call_usd=spent.usd if spent else 0.0,
        signals=json.dumps(answer.signals.as_dict()) if answer.signals else None)


def buy_label(ctx: RunContext, item: Candidate, source: str, round_: int,
              get: Callable[[], Answer], llm: MeteredLLM | None = None,
              price: float | None = None,
              finish: Callable[[Answer], Answer] | None = None) -> Answer:
    """The ledger's label for (item, source), or one bought with ``get()`` and recorded with
    its price, the cost of ``llm``'s calls made for it, its confidence and signals (after
    ``finish``, which adds the run's evidence and calibrates, before anything is written)."""
    price = label_price(ctx, source) if price is None else price

    def replay() -> Answer | None:
        known = ctx.ledger.labels_for([item["id"]]).get((item["id"], source))
        return None if known is None else _replayed(known)

    spent = Spend()

    def act() -> Answer:
        if llm is None:
            answer = get()
        else:
            with llm.receipt() as receipt:
                answer = get()
            spent.tokens, spent.usd = receipt.tokens, receipt.usd
        return answer if finish is None or answer.label is None else finish(answer)

    def record(answer: Answer) -> Spend | None:
        if answer.label is None:  # an abstention costs no label
            return None
        ctx.ledger.record_labels([_label_row(item, answer, round_, price, spent)])
        return Spend(labels=1, usd=price)

    try:
        return buy_once(ctx.meter, replay=replay, hold=Spend(labels=1, usd=price), act=act,
                        record=record, what=f"{source} label")
    except BudgetExhausted as exc:
        return Answer(None, source, None, f"budget: {exc}")
    except ProviderError as exc:
        return Answer(None, source, None, f"provider: {exc}")


def buy_known_labels(ctx: RunContext, items: Sequence[Candidate], answers: Sequence[Answer],
                     source: str, round_: int) -> list[Answer]:
    """Labels known without asking anyone (the oracle's gold), bought for a whole batch at
    once with :func:`buy_label`'s guarantees: what the ledger holds is replayed, the rest is
    reserved label by label (an item past the budget abstains) and recorded in one write,
    so a crash leaves all of the batch bought or none of it. One ledger read and one write
    instead of one each per item."""
    price = label_price(ctx, source)
    known = ctx.ledger.labels_for([i["id"] for i in items])
    out: list[Answer] = []
    rows: list[LabelRow] = []
    held: list[Spend] = []
    bought: dict[str, Answer] = {}
    for item, answer in zip(items, answers, strict=True):
        row = known.get((item["id"], source))
        if row is not None or item["id"] in bought:
            out.append(_replayed(row) if row is not None else bought[item["id"]])
            continue
        if answer.label is not None:
            try:
                held.append(ctx.meter.reserve(labels=1, usd=price, what=f"{source} label"))
            except BudgetExhausted as exc:
                answer = Answer(None, source, None, f"budget: {exc}")
            else:
                rows.append(_label_row(item, answer, round_, price))
                bought[item["id"]] = answer
        out.append(answer)
    try:
        if rows:
            ctx.ledger.record_labels(rows)
    except BaseException:
        for hold in held:
            ctx.meter.settle(hold)
        raise
    for hold in held:
        ctx.meter.settle(hold, labels=1, usd=price)
    return out
