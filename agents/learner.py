"""The learner node: retrains the student on accepted labels, evaluates it, records the round.

The student is fitted on the embeddings memory already holds (plus TF-IDF), evaluated on
the held-out gold split when one was given, and compared with its predecessor on a fixed
"stop set" of pool items: the kappa between them, the share of changed predictions and the
mean uncertainty there (and, only when the accuracy plateau is used, cross-validated
accuracy on the labeled set) are the inputs of the stopping criteria
(``labelgraph.stopping``) the supervisor's guardrails consult. From them the learner
proposes: stop when its curve is flat, synthesis for a label the student never predicts or
has too few examples of (``labelgraph.proposals.learner_proposal``). Features come from the run
store, built once per run; the pool's probabilities are computed once per student, here,
and the selector reuses them.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

import numpy as np
from langgraph.runtime import Runtime
from sklearn.base import clone
from sklearn.model_selection import StratifiedKFold, cross_val_score

from labelgraph.agents.accessors import batch_of, decision_of, idle_rounds_of, round_of
from labelgraph.budget import least_refused
from labelgraph.events import Learned
from labelgraph.proposals import learner_proposal
from labelgraph.stopping import CV_ACCURACY, needed
from labelgraph.student import fitting, proba_in_order, self_train, spread_labels

if TYPE_CHECKING:
    from labelgraph.graph.context import Context
    from labelgraph.graph.state import State


def stop_set_rows(n: int, size: int, seed: int) -> np.ndarray:
    """A fixed random subset of pool rows the successive students are compared on."""
    return np.sort(np.random.default_rng([seed, 7]).choice(n, min(n, size), replace=False))


def confusion(a: np.ndarray, b: np.ndarray, k: int) -> np.ndarray:
    """The k x k count matrix of (a, b) class-index pairs."""
    return np.bincount(a * k + b, minlength=k * k).reshape(k, k)


def macro_f1(gold: np.ndarray, pred: np.ndarray, k: int) -> float:
    """Macro-averaged F1 over all k classes (0 for a class never given nor predicted), as
    scikit-learn's ``f1_score(labels=..., average="macro", zero_division=0)`` computes it,
    without its per-call checks (milliseconds every round). A gold index of -1 (a label
    outside the schema) is never right: its prediction is a false positive."""
    known = gold >= 0
    counts = confusion(gold[known], pred[known], k)
    tp = np.diag(counts).astype(float)
    false_pos = np.bincount(pred[~known], minlength=k)
    denominator = counts.sum(axis=0) + counts.sum(axis=1) + false_pos  # 2tp + fp + fn
    return float(np.mean(np.divide(2 * tp, denominator, out=np.zeros(k),
                                   where=denominator > 0)))


def kappa(a: np.ndarray, b: np.ndarray, k: int) -> float:
    """Cohen's kappa between two predictions of the same items (1.0 when identical)."""
    if np.array_equal(a, b):
        return 1.0
    p = confusion(a, b, k) / len(a)
    expected = float(p.sum(axis=1) @ p.sum(axis=0))
    return (float(np.trace(p)) - expected) / (1.0 - expected)


def cv_accuracy(student: Any, features: Any, labels: list[str], seed: int) -> float | None:
    """Stratified k-fold cross-validated accuracy of a clone of the student on the labeled
    set (k = min(5, smallest class count)); None when a class has fewer than two examples."""
    if not labels:
        return None
    y = np.asarray(labels)
    k = min(5, min(Counter(labels).values()))
    if k < 2 or len(set(labels)) < 2:
        return None
    folds = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
    with fitting(student):
        return float(np.mean(cross_val_score(clone(student), features, y, cv=folds,
                                             scoring="accuracy")))


def needs(ctx: Context, what: str) -> bool:
    """Does a stopping criterion this run uses or watches read ``what`` (computed only
    then: cross-validated accuracy costs k extra fits a round)?"""
    return what in needed([*ctx.config.stopping, *ctx.config.stopping_watch], ctx.config)


def batch_gain(ctx: Context, examples: list[Any], round_: int) -> float | None:
    """How much the last round's labels improved the student, measured on this round's new
    pool labels, which neither the latest student nor its predecessor was fitted on: the
    mean gain in log-probability of the gold label. It credits the last round's strategy
    (the bandit's ``gain`` reward); None without both students or new pool labels."""
    before = ctx.store.previous_pool_proba()
    if before is None:  # checked first: a reopened run would refit its student for nothing
        return None
    now = ctx.store.pool_proba()
    if now is None or now.shape != before.shape:
        return None
    pool, labels = ctx.store.pool(), list(ctx.task.labels)
    new = [(pool.index[e.id], labels.index(e.label)) for e in examples
           if e.round == round_ and e.origin == "pool" and e.id in pool.index
           and e.label in labels]
    if not new:
        return None
    rows, gold = np.asarray(new).T
    eps = 1e-6
    return float(np.mean(np.log(now[rows, gold] + eps) - np.log(before[rows, gold] + eps)))


def fit_model(ctx: Context, examples: list[Any], emb: np.ndarray) -> Any | None:
    """The round's student: fitted on the accepted labels (``pool_learning="off"``, the
    run store's own fit), or self-trained on them and the still unlabeled pool's features
    (never the test split), pseudo-labeled by the previous student's pool probabilities
    (``"self_training"``: one fit a round) or by the labels spread over the pool's neighbour
    graph (``"label_spreading"``); pseudo-labels stay inside the fit, out of memory and the
    ledger.
    None with fewer than two classes. (A reopened run's first student is the store's plain
    refit; the next round self-trains again.)"""
    store = ctx.store
    if ctx.config.pool_learning == "off":
        return store.fit(examples, emb)
    labels = [e.label for e in examples]
    if len(set(labels)) < 2:
        return None
    pool = store.pool()
    labeled = np.zeros(len(pool.texts), dtype=bool)
    labeled[[pool.index[e.id] for e in examples if e.id in pool.index]] = True
    rows = np.flatnonzero(~labeled)
    classes = list(ctx.task.labels)
    if ctx.config.pool_learning == "label_spreading":
        given = np.asarray([(pool.index[e.id], classes.index(e.label)) for e in examples
                            if e.id in pool.index and e.label in classes],
                           dtype=np.int64).reshape(-1, 2)
        before = spread_labels(store.pool_graph(), given[:, 0], given[:, 1], len(classes))
    else:
        before = store.pool_proba()  # the previous student's, computed for the selector
    return self_train(ctx.student, store.features([e.text for e in examples], emb), labels,
                      store.pool_features()[rows],
                      proba=before[rows] if before is not None else None, classes=classes)


def learn(ctx: Context, round_: int) -> dict[str, Any]:
    """Fit, save and evaluate the student; return this round's model metrics and the
    stopping criteria's inputs (kappa, changed predictions and uncertainty on the stop
    set, and cross-validated accuracy when the accuracy plateau is used)."""
    examples, emb = ctx.memory.all(with_embeddings=True)
    by_source = Counter(e.source if e.origin == "pool" else "synthetic" for e in examples)
    out: dict[str, Any] = {"labels": len(examples), "by_source": dict(by_source),
                           "accuracy": None, "macro_f1": None, "kappa": None,
                           "stop_changed": None, "stop_uncertainty": None,
                           "cv_accuracy": None, "batch_gain": batch_gain(ctx, examples, round_)}
    store = ctx.store
    model = fit_model(ctx, examples, emb)
    if model is None:
        return out
    store.keep_model(model)
    labels = list(ctx.task.labels)
    test = store.test()
    if test is not None and test.gold is not None:
        pred = proba_in_order(model, store.test_features(), labels).argmax(1)
        index = {label: n for n, label in enumerate(labels)}
        gold = np.fromiter((index.get(g, -1) for g in test.gold), dtype=np.int64,
                           count=len(test.gold))
        if len(gold):
            out["accuracy"] = float(np.mean(pred == gold))
            out["macro_f1"] = macro_f1(gold, pred, len(labels))
    # The pool's probabilities, computed once per student: the selector reuses them.
    proba = store.pool_proba()
    rows = stop_set_rows(len(proba), ctx.config.stop_set_size, ctx.config.seed)
    stop = proba[rows]
    preds = stop.argmax(1).astype(np.int64)
    out["stop_uncertainty"] = float(np.mean(1.0 - stop.max(axis=1))) if len(rows) else None
    prev = store.previous_stop_predictions(round_)
    if prev is not None and prev.shape == preds.shape:
        out["kappa"] = kappa(prev, preds, len(labels)) if len(preds) else 1.0
        out["stop_changed"] = float(np.mean(prev != preds)) if len(preds) else 0.0
    store.save_stop_predictions(round_, preds)
    if needs(ctx, CV_ACCURACY):
        ordered = sorted(range(len(examples)), key=lambda i: examples[i].id)  # order-free
        out["cv_accuracy"] = cv_accuracy(
            ctx.student, store.features([examples[i].text for i in ordered], emb[ordered]),
            [examples[i].label for i in ordered], ctx.config.seed)
    return out


def stop_set_predictions(ctx: Context) -> dict[str, int] | None:
    """How often the latest student predicts each label on the stop set (None without a
    student): a label it never predicts is one the learner asks synthesis for."""
    if ctx.store.model() is None:
        return None
    proba = ctx.store.pool_proba()  # computed once per student (learn), reused here
    if proba is None or not len(proba):
        return None
    rows = stop_set_rows(len(proba), ctx.config.stop_set_size, ctx.config.seed)
    counts = np.bincount(proba[rows].argmax(1), minlength=len(ctx.task.labels))
    return {label: int(n) for label, n in zip(ctx.task.labels, counts, strict=True)}


def learner_node(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """Retrain and evaluate; record the round's metrics in the ledger."""
    ctx = runtime.context
    round_ = round_of(state)
    batch = batch_of(state)
    decision = decision_of(state)
    verdicts = Counter(i.get("verdict") for i in batch)
    refusal = least_refused(ctx.meter.take_refused())
    metrics = {"round": round_, "action": decision.action if decision else None,
               "strategy": decision.strategy if decision else None, "batch": len(batch),
               "accepted": verdicts["accept"], "flagged": verdicts["flag"],
               "rejected": verdicts["reject"],
               "abstained": sum(i.get("label") is None for i in batch),
               # items the budget refused to label (the annotators' "budget: ..." reason),
               # and what the cheapest refused spend of the round needed
               "refused": sum(i.get("label") is None and str(i.get("reason") or "")
                              .startswith("budget:") for i in batch),
               "refusal": refusal.as_dict() if refusal else None, **learn(ctx, round_),
               "spend": ctx.meter.snapshot()}
    ctx.ledger.record_metrics(round_, metrics)
    runtime.stream_writer(Learned(round=round_, metrics=metrics))
    added = metrics["accepted"] + metrics["flagged"]
    counts = ctx.memory.label_counts()
    proposal = learner_proposal(ctx.ledger.metrics(),
                                {label: int(counts.get(label, 0)) for label in ctx.task.labels},
                                stop_set_predictions(ctx), ctx.can_synthesize, ctx.config)
    return {"metrics": [metrics], "batch": [],
            "idle_rounds": 0 if added else idle_rounds_of(state) + 1,
            "spend": ctx.meter.snapshot(),
            "proposals": {"learner": proposal.model_dump()} if proposal else {}}
