"""The learner node: retrains the student on accepted labels, evaluates it, records the round.

The student is fitted on the embeddings memory already holds (plus TF-IDF), evaluated on
the held-out gold split when one was given, and compared with its predecessor on a fixed
"stop set" of pool items; the kappa between them is the input of the stabilizing-predictions
stopping criterion (``labelgraph.stopping``), which the supervisor's guardrails consult.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

import numpy as np
from langgraph.runtime import Runtime
from sklearn.metrics import accuracy_score, cohen_kappa_score, f1_score

from labelgraph.events import Learned
from labelgraph.graph.state import batch_of, decision_of, idle_rounds_of, round_of
from labelgraph.student import proba_in_order

if TYPE_CHECKING:
    from labelgraph.graph.context import Context
    from labelgraph.graph.state import State


def stop_set_rows(n: int, size: int, seed: int) -> np.ndarray:
    """A fixed random subset of pool rows the successive students are compared on."""
    return np.sort(np.random.default_rng([seed, 7]).choice(n, min(n, size), replace=False))


def learn(ctx: Context, round_: int) -> dict[str, Any]:
    """Fit, save and evaluate the student; return this round's model metrics."""
    examples, emb = ctx.memory.all(with_embeddings=True)
    by_source = Counter(e.source if e.origin == "pool" else "synthetic" for e in examples)
    out: dict[str, Any] = {"labels": len(examples), "by_source": dict(by_source),
                           "accuracy": None, "macro_f1": None, "kappa": None}
    store = ctx.store
    model = store.fit(examples, emb)
    if model is None:
        return out
    store.save_model(model)
    test = store.test()
    if test is not None and test.gold is not None:
        pred = np.asarray(ctx.task.labels)[proba_in_order(
            model, store.test_features(), ctx.task.labels).argmax(1)]
        out["accuracy"] = float(accuracy_score(test.gold, pred))
        out["macro_f1"] = float(f1_score(test.gold, pred, average="macro",
                                         labels=list(ctx.task.labels), zero_division=0))
    rows = stop_set_rows(len(store.pool()), ctx.config.stop_set_size, ctx.config.seed)
    preds = proba_in_order(model, store.pool_features()[rows],
                           ctx.task.labels).argmax(1).astype(np.int64)
    prev = store.previous_stop_predictions(round_)
    if prev is not None and prev.shape == preds.shape:
        same = np.array_equal(prev, preds)
        out["kappa"] = 1.0 if same else float(cohen_kappa_score(prev, preds))
    store.save_stop_predictions(round_, preds)
    return out


def learner_node(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """Retrain and evaluate; record the round's metrics in the ledger."""
    ctx = runtime.context
    round_ = round_of(state)
    batch = batch_of(state)
    decision = decision_of(state)
    verdicts = Counter(i.get("verdict") for i in batch)
    metrics = {"round": round_, "action": decision.action if decision else None,
               "strategy": decision.strategy if decision else None, "batch": len(batch),
               "accepted": verdicts["accept"], "flagged": verdicts["flag"],
               "rejected": verdicts["reject"], **learn(ctx, round_),
               "spend": ctx.meter.snapshot()}
    ctx.ledger.record_metrics(round_, metrics)
    runtime.stream_writer(Learned(round=round_, metrics=metrics))
    added = metrics["accepted"] + metrics["flagged"]
    return {"metrics": [metrics], "batch": [],
            "idle_rounds": 0 if added else idle_rounds_of(state) + 1,
            "spend": ctx.meter.snapshot()}
