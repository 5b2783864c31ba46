"""The learner: retrains the student on accepted labels, evaluates it, and votes on stopping.

The student is fitted on the embeddings memory already holds (plus TF-IDF), evaluated on
the held-out gold split when one was given, and compared with its predecessor on a fixed
"stop set" of pool items: when successive students agree almost perfectly for a few
rounds (stabilizing predictions, Bloodgood & Vijay-Shanker 2009), more labels are unlikely
to help and the learner proposes to stop.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from langgraph.runtime import Runtime
from sklearn.metrics import accuracy_score, cohen_kappa_score, f1_score

from labelgraph.student import fit_student, proba_in_order
from labelgraph.types import Proposal

if TYPE_CHECKING:
    from labelgraph.graph.context import Context
    from labelgraph.graph.state import State


@dataclass
class StabilizingPredictions:
    """Stop when Cohen's kappa between successive students' stop-set predictions has been
    at least ``threshold`` for ``window`` rounds in a row."""

    threshold: float = 0.99
    window: int = 3

    def stop(self, kappas: list[float | None]) -> str | None:
        recent = kappas[-self.window:]
        if len(recent) < self.window or any(k is None or k < self.threshold for k in recent):
            return None
        return (f"predictions have stabilized: kappa ≥ {self.threshold} for {self.window} "
                "rounds")


def _stop_set_rows(ctx: Context) -> np.ndarray:
    n = len(ctx.pool())
    size = min(n, ctx.config.stop_set_size)
    return np.sort(np.random.default_rng([ctx.config.seed, 7]).choice(n, size, replace=False))


def _previous_predictions(ctx: Context, round_: int) -> np.ndarray | None:
    folder = ctx.run_dir / "stopset"
    rounds = sorted(int(p.stem) for p in folder.glob("*.npy") if int(p.stem) < round_) \
        if folder.exists() else []
    return np.load(folder / f"{rounds[-1]}.npy", allow_pickle=False) if rounds else None


def learn(ctx: Context, round_: int) -> dict[str, Any]:
    """Fit, save and evaluate the student; return this round's model metrics."""
    examples, emb = ctx.memory.all(with_embeddings=True)
    labels = [e.label for e in examples]
    by_source = Counter(e.source if e.origin == "pool" else "synthetic" for e in examples)
    out: dict[str, Any] = {"labels": len(examples), "by_source": dict(by_source),
                           "accuracy": None, "macro_f1": None, "kappa": None}
    if len(set(labels)) < 2:
        return out
    model = fit_student(ctx.student, ctx.features([e.text for e in examples], emb), labels)
    ctx.save_model(model)
    test = ctx.test()
    if test is not None and test.gold is not None:
        if "test_features" not in ctx.cache:
            ctx.cache["test_features"] = ctx.features(test.texts, test.embeddings)
        pred = np.asarray(ctx.task.labels)[proba_in_order(
            model, ctx.cache["test_features"], ctx.task.labels).argmax(1)]
        out["accuracy"] = float(accuracy_score(test.gold, pred))
        out["macro_f1"] = float(f1_score(test.gold, pred, average="macro",
                                         labels=list(ctx.task.labels), zero_division=0))
    rows = _stop_set_rows(ctx)
    preds = proba_in_order(model, ctx.pool_features()[rows],
                           ctx.task.labels).argmax(1).astype(np.int64)
    prev = _previous_predictions(ctx, round_)
    if prev is not None and prev.shape == preds.shape:
        same = np.array_equal(prev, preds)
        out["kappa"] = 1.0 if same else float(cohen_kappa_score(prev, preds))
    folder = ctx.run_dir / "stopset"
    folder.mkdir(exist_ok=True)
    np.save(folder / f"{round_}.npy", preds)
    return out


def learner_node(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """Retrain and evaluate; record the round's metrics; propose a stop when stable."""
    ctx = runtime.context
    round_ = int(state.get("round", 0))
    batch = state.get("batch") or []
    decision = state.get("decision") or {}
    verdicts = [i.get("verdict") for i in batch]
    metrics = {"round": round_, "action": decision.get("action"),
               "strategy": decision.get("strategy"), "batch": len(batch),
               "accepted": verdicts.count("accept"), "flagged": verdicts.count("flag"),
               "rejected": verdicts.count("reject"), **learn(ctx, round_),
               "spend": ctx.meter.snapshot()}
    ctx.ledger.record_metrics(round_, metrics)
    kappas = [m.get("kappa") for m in state.get("metrics") or []] + [metrics["kappa"]]
    proposals: dict[str, Any] = {}
    reason = StabilizingPredictions(ctx.config.kappa_threshold, ctx.config.kappa_window).stop(
        kappas)
    if reason:
        proposals["learner"] = Proposal(agent="learner", action="stop",
                                        reason=reason).model_dump()
    added = metrics["accepted"] + metrics["flagged"]
    ctx.emit("learned", **metrics)
    return {"metrics": [metrics], "proposals": proposals, "batch": [],
            "idle_rounds": 0 if added else int(state.get("idle_rounds", 0)) + 1,
            "spend": ctx.meter.snapshot()}
