"""The budget meter (labelgraph.budget): prices, reservations checked before every
spend, totals read from the ledger, buying at most once."""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import pytest

from labelgraph.budget import PRICES, UNKNOWN_PRICE, BudgetMeter, Spend, buy_once, price_for
from labelgraph.errors import BudgetExhausted
from labelgraph.memory.ledger import Ledger
from labelgraph.settings import _paid
from labelgraph.types import Budget
from support.builders import call_row, exhausted, label_row
from support.fakes import FREE


# -- prices and the meter ------------------------------------------------------------------
def test_price_for() -> None:
    assert price_for("openai:gpt-4o-mini") == PRICES["openai:gpt-4o-mini"]
    for free in ("local", "local:gemma", "none", "ollama:llama3"):
        assert price_for(free) == (0.0, 0.0)
    assert price_for("scripted") == UNKNOWN_PRICE  # pricing knows no test fake
    assert price_for("scripted", FREE) == (0.0, 0.0)
    assert price_for("someone:new-model") == UNKNOWN_PRICE
    assert price_for("someone:new-model", {"someone:new-model": (1.0, 2.0)}) == (1.0, 2.0)


def test_reserve_and_settle(ledger: Ledger) -> None:
    meter = BudgetMeter(Budget(labels=10, tokens=1000, usd=1.0), ledger)
    held = meter.reserve(labels=3, tokens=400, usd=0.4, what="annotate")
    assert (held.labels, held.tokens, held.usd) == (3, 400, 0.4)
    assert (meter.pending.labels, meter.pending.tokens) == (3, 400)
    assert meter.can_afford(labels=7, tokens=600, usd=0.6)
    assert not meter.can_afford(labels=8)
    assert not meter.can_afford(tokens=601)
    assert not meter.can_afford(usd=0.61)
    meter.settle(held, labels=2, tokens=150, usd=0.1)  # actual spend is less than held
    assert (meter.pending.labels, meter.pending.tokens) == (0, 0)
    assert meter.pending.usd == pytest.approx(0.0)
    assert meter.snapshot() == {"labels": 2, "tokens": 150, "usd": 0.1}
    assert meter.remaining_labels() == 8
    meter.settle(Spend(), labels=1, tokens=10, usd=0.05)
    assert meter.snapshot() == {"labels": 3, "tokens": 160, "usd": 0.15}
    released = meter.reserve(tokens=100)
    meter.settle(released)  # a failed call releases its hold and counts nothing
    assert meter.snapshot()["tokens"] == 160 and meter.pending.tokens == 0


def test_reserve_refuses_over_budget(ledger: Ledger) -> None:
    meter = BudgetMeter(Budget(labels=5), ledger)
    meter.reserve(labels=4)
    with pytest.raises(BudgetExhausted, match="annotate batch"):
        meter.reserve(labels=2, what="annotate batch")
    assert meter.pending.labels == 4  # the refused reservation holds nothing
    meter.reserve(labels=1)
    assert not meter.can_afford(labels=1)
    assert meter.can_afford(labels=0)


def test_budget_unit_none_is_unlimited(ledger: Ledger) -> None:
    meter = BudgetMeter(Budget(labels=None, rounds=2), ledger)
    assert meter.remaining_labels() is None
    meter.reserve(labels=10**6, tokens=10**9, usd=10**6)
    assert meter.can_afford(labels=10**6, tokens=10**9, usd=10**6)


def test_concurrent_reservations_for_the_last_label(ledger: Ledger) -> None:
    ledger.record_labels([label_row(f"x{i}") for i in range(4)])
    meter = BudgetMeter(Budget(labels=5), ledger)
    assert meter.remaining_labels() == 1
    barrier = threading.Barrier(8)
    won: list[int] = []
    refused: list[int] = []

    def grab(worker: int) -> None:
        barrier.wait()
        try:
            meter.reserve(labels=1)
        except BudgetExhausted:
            refused.append(worker)
        else:
            won.append(worker)

    threads = [threading.Thread(target=grab, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(won) == 1 and len(refused) == 7
    assert meter.pending.labels == 1


def test_meter_reads_totals_from_the_ledger(ledger: Ledger) -> None:
    ledger.record_labels([label_row("a"), label_row("b")])
    ledger.record_call(call_row("c1", tin=50, tout=10, usd=0.2))
    meter = BudgetMeter(Budget(labels=10, tokens=1000, usd=1.0), ledger)  # a resumed run
    assert meter.snapshot() == {"labels": 2, "tokens": 60, "usd": 0.2}
    ledger.record_labels([label_row("c")])  # another writer
    ledger.record_call(call_row("c2", tin=5, tout=5, usd=0.1))
    assert meter.spent.labels == 2
    meter.refresh()
    assert meter.snapshot() == {"labels": 3, "tokens": 70, "usd": 0.3}
    assert meter.remaining_labels() == 7


@pytest.mark.parametrize("budget, spend, unit", [
    (Budget(labels=2), {"labels": 2}, "labels"),
    (Budget(labels=10, tokens=100), {"tokens": 100}, "tokens"),
    (Budget(labels=10, usd=0.5), {"usd": 0.5}, "usd"),
    (Budget(labels=10, tokens=100, usd=0.5), {"tokens": 99, "usd": 0.49}, None),
])
def test_exhausted_names_the_unit(ledger: Ledger, budget: Budget, spend: dict[str, Any],
                                  unit: str | None) -> None:
    meter = BudgetMeter(budget, ledger)
    assert exhausted(meter) is None
    meter.settle(Spend(), **spend)
    assert exhausted(meter) == unit


def test_zero_dollar_budget_allows_free_work(ledger: Ledger) -> None:
    meter = BudgetMeter(Budget(labels=10, usd=0.0), ledger)
    assert exhausted(meter) is None
    held = meter.reserve(labels=1, tokens=5000, usd=0.0, what="local model")
    meter.settle(held, labels=1, tokens=4000)
    assert exhausted(meter) is None
    with pytest.raises(BudgetExhausted):
        meter.reserve(usd=0.001, what="paid call")


# -- prices: a server on this machine; no test fake ----------------------------------------
def test_a_server_on_this_machine_is_free_and_a_price_can_be_set():
    local = "openai:gemma@http://127.0.0.1:8080/v1"
    remote = "openai:big@https://models.example.com/v1"
    assert price_for(local) == (0.0, 0.0) and not _paid(local)
    assert price_for(remote) == UNKNOWN_PRICE and _paid(remote)
    assert price_for(remote, {remote: (0.1, 0.2)}) == (0.1, 0.2)
    assert not _paid(remote, {remote: [0, 0]})  # priced free: reopening it spends nothing


def test_pricing_knows_no_test_fake() -> None:
    assert price_for("scripted") == UNKNOWN_PRICE
    assert price_for("scripted", FREE) == (0.0, 0.0)


# -- buying once ---------------------------------------------------------------------------
def test_buy_once_replays_or_reserves_acts_records_and_settles():
    ledger = Ledger()
    meter = BudgetMeter(Budget(labels=3), ledger)
    bought: list[str] = []

    def buy(replayed: str | None, fail: bool = False) -> str:
        def act() -> str:
            if fail:
                raise RuntimeError("provider down")
            bought.append("x")
            return "label"
        return buy_once(meter, replay=lambda: replayed, hold=Spend(labels=1), act=act,
                        record=lambda _: Spend(labels=1))

    assert buy("known") == "known" and bought == []
    assert buy(None) == "label" and meter.spent.labels == 1
    with pytest.raises(RuntimeError):
        buy(None, fail=True)
    assert meter.pending.labels == 0 and meter.spent.labels == 1
    assert np.isclose(meter.snapshot()["usd"], 0.0)
