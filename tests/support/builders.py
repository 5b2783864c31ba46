"""Builders several test modules share: small finished runs, a new run's files, ledger
rows, and the supervisor's signals. Real parts only (a real ledger, Chroma and graph); the
fixtures that hand them out are in ``tests/conftest.py``."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pandas as pd

from conftest import make_pool
from labelgraph import Budget, LabelGraph, Task
from labelgraph.annotators import HybridAnnotator, SimulatedAnnotator
from labelgraph.memory.ledger import CallRow, LabelRow, Ledger
from labelgraph.policies import RoundSignals
from labelgraph.types import Proposal

TASK = Task(labels=["positive", "negative"], description="movie review sentiment")
FLIP = {"positive": "negative", "negative": "positive"}


# -- runs -------------------------------------------------------------------------------------
def finished_run(run_dir: Path, *, batch: int = 6, correct: bool = False) -> Path:
    """An oracle run that spent its 12 labels in batches of ``batch``; with ``correct``, a
    person then corrected its first label (two sources, verdicts and rounds)."""
    lg = LabelGraph(TASK, llm="none", annotator="oracle", budget=Budget(labels=12),
                    run_dir=run_dir, embedding="hashing",
                    config={"seed_size": batch, "batch_size": batch, "stopping": []})
    result = lg.run(make_pool(), label_column="label")
    if correct:
        first = result.dataset.iloc[0]
        lg.correct(first["id"], FLIP[first["label"]])
    lg.close()
    return run_dir


def copy_run(run_dir: Path, tmp_path: Path) -> Path:
    """A copy of a run that a test may change."""
    return Path(shutil.copytree(run_dir, tmp_path / "copy"))


def labeled_truth(run_dir: Path) -> pd.DataFrame:
    """The run's labeled rows as export reads them, by id (opened read-only)."""
    from labelgraph.export import labeled_rows

    lg = LabelGraph.open(run_dir, read_only=True)
    try:
        return labeled_rows(lg).set_index("id")
    finally:
        lg.close()


def hybrid_run(tmp_path: Path, threshold: float | None, **config: Any) -> LabelGraph:
    """A finished run of a noisy paid first labeler with the oracle behind it, routed by
    ``threshold``; open, for the test to read."""
    first = SimulatedAnnotator(error_rate=0.2, informativeness=0.9, price=0.01, seed=1)
    lg = LabelGraph(TASK, llm="none", annotator=HybridAnnotator(human="oracle", first=first,
                                                                threshold=threshold),
                    budget=Budget(labels=70), run_dir=tmp_path / "run", embedding="hashing",
                    config={"label_prices": {"oracle": 0.1}, "batch_size": 10,
                            "seed_size": 10, "synthesize": False, "stopping": [],
                            "spot_check": 0.0, "audit_every": 0, **config})
    lg.run(make_pool(60), label_column="label")
    return lg


def new_run_files(where: Path, budget: int, **extra: Any) -> Path:
    """A pool CSV and a new run's config beside it (oracle labels, hashing embedding)."""
    make_pool(30).to_csv(where / "pool.csv", index=False)
    spec = {"task": TASK.model_dump(), "pool": "pool.csv", "label_column": "label",
            "llm": "none", "annotator": "oracle", "embedding": "hashing", "policy": "rule",
            "budget": {"labels": budget},
            "config": {"seed_size": 6, "batch_size": 5, "stopping": []}, **extra}
    (where / "new_run.json").write_text(json.dumps(spec))
    return where / "new_run.json"


def label_count(run_dir: Path) -> int:
    """How many labels the run's ledger holds (read-only)."""
    ledger = Ledger(run_dir / "ledger.sqlite", read_only=True)
    try:
        return len(ledger.all_labels())
    finally:
        ledger.close()


# -- ledger rows --------------------------------------------------------------------------
def label_row(item: str, label: str | None = "pos", *, source: str = "llm", round_: int = 0,
              usd: float = 0.0, tokens: int = 0) -> LabelRow:
    return LabelRow(item_id=item, source=source, text=f"text of {item}", label=label,
                    confidence=0.8, origin="pool", intended=None, round=round_, usd=usd,
                    tokens=tokens, note=None)


def call_row(call_id: str, *, tin: int = 10, tout: int = 5, usd: float = 0.0,
             output: str = '{"label": "pos"}') -> CallRow:
    return CallRow(call_id=call_id, agent="annotator", model="scripted", output=output,
                   input_tokens=tin, output_tokens=tout, usd=usd, round=1)


# -- the supervisor's view ------------------------------------------------------------------
def proposal_signals(**kw: Any) -> RoundSignals:
    """A mid-run round's signals (round 6, 40 of 100 labels, a student at 0.8), changed by
    ``kw``."""
    base: dict[str, Any] = dict(
        round=6, labeled=40, label_counts={"positive": 20, "negative": 20},
        spent={"labels": 40, "tokens": 0, "usd": 0.0}, budget=Budget(labels=100),
        unlabeled=100, has_model=True, accuracy=0.8, curve_slope=0.01, rejection_rate=0.0,
        synth_acceptance=None, rounds_since_synth=1, idle_rounds=0, can_synthesize=True,
        proposals={})
    return RoundSignals(**{**base, **kw})


def typical_signals(**kw: Any) -> RoundSignals:
    """Round 5 of the same run, with a dollar budget beside the labels, changed by ``kw``."""
    return proposal_signals(**{"round": 5, "budget": Budget(labels=100, usd=1.0), **kw})


def proposal(agent: str, action: str, target: str | None = None) -> dict[str, Proposal]:
    """One agent's proposal, as the state holds it."""
    return {agent: Proposal(agent=agent, action=action, reason=f"{agent} says {action}",
                            target_label=target)}


def exhausted(meter: Any) -> str | None:
    """The unit the budget stopping criteria say is used up, as the supervisor sees it."""
    from labelgraph.config import RunConfig
    from labelgraph.stopping import LabelBudget, MoneyBudget, TokenBudget

    signals = RoundSignals(round=1, labeled=0, label_counts={}, spent=meter.snapshot(),
                           budget=meter.budget, unlabeled=1, has_model=False, accuracy=None,
                           curve_slope=None, rejection_rate=None, synth_acceptance=None,
                           rounds_since_synth=0, idle_rounds=0, can_synthesize=False)
    for criterion in (LabelBudget(), TokenBudget(), MoneyBudget()):
        reason = criterion.stop(signals, RunConfig())
        if reason:
            return reason.rsplit(": ", 1)[1]
    return None


def history_round(n: int, **kw: Any) -> dict[str, Any]:
    """Round ``n`` of a run's history as the supervisor reads it: a margin query of 25
    labels a round, no stopping figures unless ``kw`` gives them."""
    return {"round": n, "action": "query", "strategy": "margin", "labels": 25 * n,
            "kappa": None, "stop_changed": None, "stop_uncertainty": None,
            "cv_accuracy": None, **kw}


def history_signals(history: list[dict[str, Any]], usd: float = 0.0) -> RoundSignals:
    """The signals of the round after ``history`` (a 1 000-label budget, 500 unlabeled)."""
    labels = history[-1]["labels"] if history else 0
    return RoundSignals(round=len(history) + 1, labeled=labels,
                        label_counts={"positive": labels // 2,
                                      "negative": labels - labels // 2},
                        spent={"labels": labels, "tokens": 0, "usd": usd},
                        budget=Budget(labels=1000), unlabeled=500, has_model=True,
                        accuracy=None, curve_slope=None, rejection_rate=None,
                        synth_acceptance=None, rounds_since_synth=1, idle_rounds=0,
                        can_synthesize=False, history=history)


# -- long texts -------------------------------------------------------------------------------
#: One text of over 50 000 characters (1 200 short sentences).
LONG = " ".join(f"word{i % 97} about markets, rates; and football." for i in range(1200))
assert len(LONG) > 50_000


def with_a_long_text() -> pd.DataFrame:
    """Twelve short notes on two topics and one very long text."""
    rows = [{"text": f"note {i} on {lab}", "label": lab}
            for i in range(6) for lab in ("markets", "football")]
    return pd.DataFrame([*rows, {"text": LONG, "label": "markets"}])
