"""How many tokens of a long text does the student need? Accuracy against MiniLM truncation.

    python benchmarks/truncation.py [--datasets 20ng r8 bbc] [--lengths 32 64 128 256]
        [--n 2000] [--labels 500] [--seeds 3]

For each data set, ``--n`` documents are drawn (stratified, seed 0) and embedded once per
truncation length with labelgraph's MiniLM embedder. For each seed, ``--labels`` of them
(stratified draw) train the project's student (``labelgraph.student.default_student``:
logistic regression) and the rest are the test split. Two feature sets are scored: the
embeddings alone, and the default features (embeddings beside TF-IDF, the vocabulary fitted
on all ``--n`` texts as a run fits it on its pool; TF-IDF always reads the whole text).
Embedding time per length is recorded too. Writes
benchmarks/results/truncation/truncation.{json,md}.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from longtext_data import load  # noqa: E402
from provenance import markdown_note, stamp  # noqa: E402
from sklearn.metrics import accuracy_score, f1_score  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

from labelgraph.memory.embeddings import MiniLMEmbedding  # noqa: E402
from labelgraph.student import Featurizer, default_student, fit_student  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "truncation"
CACHE = Path("/tmp/labelgraph_truncation")


def sample(df: pd.DataFrame, n: int) -> pd.DataFrame:
    """A stratified sample of ``n`` rows (all rows when fewer); classes under 2 rows dropped."""
    counts = df["label"].value_counts()
    df = df[df["label"].isin(counts[counts >= 2].index)]
    if n < len(df):
        df, _ = train_test_split(df, train_size=n, stratify=df["label"], random_state=0)
    return df.reset_index(drop=True)


def embed(name: str, texts: list[str], length: int) -> tuple[np.ndarray, float, float]:
    """(embeddings, wall s, CPU s) at one truncation length; cached in /tmp by content."""
    digest = hashlib.sha1("\x00".join(texts).encode()).hexdigest()[:10]
    path = CACHE / f"{name}_{len(texts)}_{digest}_{length}.npz"
    if path.is_file():
        data = np.load(path)
        return data["emb"], float(data["wall"]), float(data["cpu"])
    emb = MiniLMEmbedding(max_length=length, window="head")
    emb.embed(texts[:8])  # load the model outside the timing
    wall, cpu = time.perf_counter(), time.process_time()
    out = emb.embed(texts)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, emb=out, wall=wall, cpu=cpu)
    return out, wall, cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", nargs="+", default=["20ng", "r8", "bbc"])
    ap.add_argument("--lengths", type=int, nargs="+", default=[32, 64, 128, 256])
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--labels", type=int, default=500)
    ap.add_argument("--seeds", type=int, default=3)
    args = ap.parse_args()

    rows = []
    for name in args.datasets:
        df = sample(load(name), args.n)
        texts, y = df["text"].tolist(), df["label"].to_numpy()
        probe = MiniLMEmbedding(max_length=512, window="head")
        tokens = np.array([len(t) for t in probe.token_ids(texts)])
        print(f"{name}: {len(df)} docs, {df['label'].nunique()} classes, tokens median "
              f"{np.median(tokens):.0f}, share over 128: {(tokens > 128).mean():.2f}, "
              f"over 256: {(tokens > 256).mean():.2f}", flush=True)
        tfidf = Featurizer(tfidf=True).fit(texts)
        for length in args.lengths:
            emb, wall, cpu = embed(name, texts, length)
            for features in ("embeddings only", "default (embeddings + TF-IDF)"):
                feat = Featurizer(tfidf=False).transform(texts, emb) \
                    if features == "embeddings only" else tfidf.transform(texts, emb)
                for seed in range(args.seeds):
                    train, test = train_test_split(np.arange(len(y)), train_size=args.labels,
                                                   stratify=y, random_state=seed)
                    model = fit_student(default_student(), feat[train], y[train])
                    pred = model.predict(feat[test])
                    rows.append({"dataset": name, "max_length": length, "features": features,
                                 "seed": seed, "accuracy": accuracy_score(y[test], pred),
                                 "macro_f1": f1_score(y[test], pred, average="macro"),
                                 "embed_wall_s": wall, "embed_cpu_s": cpu, "n": len(y),
                                 "median_tokens": float(np.median(tokens)),
                                 "share_over_128": float((tokens > 128).mean())})
            done = [r for r in rows if r["dataset"] == name and r["max_length"] == length]
            print(f"  {length:>3} tokens: embed {wall:6.1f} s wall, {cpu:6.1f} s CPU; " + "; ".join(
                f"{f}: acc {np.mean([r['accuracy'] for r in done if r['features'] == f]):.3f}"
                for f in ("embeddings only", "default (embeddings + TF-IDF)")), flush=True)

    this_run = stamp()  # rows of other data sets are kept from earlier runs, with their own
    rows = [{**r, **this_run} for r in rows]
    out = RESULTS / "truncation.json"
    if out.exists():  # keep the rows of data sets not run this time
        rows = [r for r in json.loads(out.read_text())["rows"]
                if r["dataset"] not in args.datasets] + rows
    table = pd.DataFrame(rows)
    summary = table.groupby(["dataset", "features", "max_length"]).agg(
        accuracy=("accuracy", "mean"), accuracy_sd=("accuracy", "std"),
        macro_f1=("macro_f1", "mean"), embed_docs_per_s=("embed_wall_s", "first"),
        n=("n", "first")).reset_index()
    summary["embed_docs_per_s"] = summary["n"] / summary["embed_docs_per_s"]
    RESULTS.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(
        {"args": vars(args), "load_after": os.getloadavg(), "rows": rows}, indent=1) + "\n")
    lines = ["| data set | features | " + " | ".join(f"{n} tokens" for n in args.lengths) + " |",
             "|---|---|" + "---|" * len(args.lengths)]
    for (name, features), part in summary.groupby(["dataset", "features"], sort=False):
        cells = [f"{r.accuracy:.3f} ± {r.accuracy_sd:.3f}"
                 for r in part.sort_values("max_length").itertuples()
                 if r.max_length in args.lengths]
        lines.append(f"| {name} | {features} | " + " | ".join(cells) + " |")
    made = {(r["command"], r["commit"]): None for r in rows if "command" in r}
    notes = "\n".join(markdown_note({"command": c, "commit": k}) for c, k in made)
    md = ("Student accuracy (mean ± sd over seeds) against MiniLM truncation length, "
          f"{args.labels} labels, {args.seeds} seeds, {args.n} documents a data set\n\n"
          + "\n".join(lines) + "\n\n" + notes + "\n")
    (RESULTS / "truncation.md").write_text(md)
    print(md)


if __name__ == "__main__":
    main()
