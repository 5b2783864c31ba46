"""Label efficiency of the query strategies on Rotten Tomatoes: area under the learning curve.

    python benchmarks/strategies_aulc.py [--seeds 0 1 2] [--rounds 20] [--batch 25]

Features are MiniLM embeddings of the ~12.7 k review snippets (computed once and cached, by
default in /tmp/rt_emb.npy); the student is ``labelgraph.student.default_student()``; 20 %
of the data is held out for testing (stratified, per seed). Every model strategy starts
from the same 25 random labels, then buys ``rounds`` batches of ``batch``; the area under
the learning curve (AULC) is the mean test accuracy over the seed and every round. The
cold starts are compared by the accuracy right after their seed of 25, and by the AULC of
margin sampling continued from that seed.
"""

from __future__ import annotations

import argparse
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
from sklearn.model_selection import train_test_split

from labelgraph.data import load_rotten_tomatoes
from labelgraph.registry import registry
from labelgraph.strategies import Diverse, Margin, Strategy
from labelgraph.student import default_student

STRATEGIES = ["random", "margin", "entropy", "diverse_margin", "kcenter", "badge",
              "density_weighted", "contrastive"]
COLD_STARTS = ["random", "cold_start", "cold_start_typical"]
#: Variants tried while tuning; pass their names to --strategies to run them.
VARIANTS: dict[str, Callable[[], Strategy]] = {
    "diverse_margin_f3": lambda: Diverse(Margin(), factor=3),
    "diverse_margin_f5": lambda: Diverse(Margin(), factor=5),
    "diverse_margin_f10": lambda: Diverse(Margin(), factor=10),
}


def make(name: str) -> Strategy:
    """A strategy by registry name, or one of the tuning variants."""
    return VARIANTS[name]() if name in VARIANTS else registry.create("strategies", name)


def load(cache: Path) -> tuple[np.ndarray, np.ndarray]:
    """(embeddings, 0/1 labels) of Rotten Tomatoes, embedding once into ``cache``."""
    frame = load_rotten_tomatoes()
    if cache.is_file():
        emb = np.load(cache)
    else:
        from labelgraph.memory.embeddings import MiniLMEmbedding

        emb = MiniLMEmbedding().embed(frame["text"].tolist()).astype(np.float32)
        np.save(cache, emb)
    if emb.shape[0] != len(frame):
        raise SystemExit(f"{cache} has {emb.shape[0]} rows, the data {len(frame)}: delete it")
    return emb, (frame["label"].to_numpy() == "positive").astype(np.int64)


class Run:
    """One train/test split: fits the student on a labeled mask and scores it."""

    def __init__(self, emb: np.ndarray, y: np.ndarray, seed: int) -> None:
        train, test = train_test_split(np.arange(len(y)), test_size=0.2, stratify=y,
                                       random_state=seed)
        self.x, self.y = emb[train], y[train]
        self.x_test, self.y_test = emb[test], y[test]

    def fit(self, labeled: np.ndarray) -> tuple[np.ndarray, float]:
        """(pool probabilities, test accuracy) of the student trained on ``labeled``."""
        ys = self.y[labeled]
        if np.unique(ys).size < 2:  # a one-class seed: the student can only say that class
            probs = np.zeros((len(self.y), 2))
            probs[:, ys[0]] = 1.0
            return probs, float(np.mean(self.y_test == ys[0]))
        model = default_student().fit(self.x[labeled], ys)
        return model.predict_proba(self.x), float(model.score(self.x_test, self.y_test))

    def curve(self, strategy: Strategy, seed_rows: np.ndarray, rounds: int, batch: int,
              rng: np.random.Generator) -> tuple[list[float], float]:
        """Test accuracy after the seed and after each round; seconds spent selecting."""
        labeled = np.zeros(len(self.y), dtype=bool)
        labeled[seed_rows] = True
        probs, acc = self.fit(labeled)
        accs, spent = [acc], 0.0
        for _ in range(rounds):
            start = time.perf_counter()
            rows = strategy.select(probs, self.x, labeled, batch, rng)
            spent += time.perf_counter() - start
            labeled[rows] = True
            probs, acc = self.fit(labeled)
            accs.append(acc)
        return accs, spent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--batch", type=int, default=25)
    parser.add_argument("--seed-size", type=int, default=25)
    parser.add_argument("--strategies", nargs="*", default=STRATEGIES)
    parser.add_argument("--cold-starts", nargs="*", default=COLD_STARTS)
    parser.add_argument("--cache", type=Path, default=Path("/tmp/rt_emb.npy"))
    args = parser.parse_args()
    warnings.filterwarnings("ignore", category=UserWarning)  # KMeans on tiny shortlists

    emb, y = load(args.cache)
    runs = {seed: Run(emb, y, seed) for seed in args.seeds}
    print(f"Rotten Tomatoes, {len(y):,} snippets, MiniLM features, seeds {args.seeds}, "
          f"{args.seed_size} seed labels + {args.rounds} x {args.batch}\n")

    print("| strategy | AULC | ± sd | final accuracy | selection s/round |")
    print("|---|---:|---:|---:|---:|")
    for name in args.strategies:
        aulc, final, spent = [], [], 0.0
        for seed, run in runs.items():
            rng = np.random.default_rng(seed)
            seed_rows = rng.choice(len(run.y), args.seed_size, replace=False)
            accs, s = run.curve(make(name), seed_rows, args.rounds, args.batch, rng)
            aulc.append(np.mean(accs))
            final.append(accs[-1])
            spent += s
        print(f"| {name} | {np.mean(aulc):.4f} | {np.std(aulc):.4f} | {np.mean(final):.4f} | "
              f"{spent / (len(runs) * max(args.rounds, 1)):.3f} |", flush=True)

    if not args.cold_starts:
        return
    print("\n| cold start | accuracy after seed | ± sd | AULC of margin from it |")
    print("|---|---:|---:|---:|")
    for name in args.cold_starts:
        seed_acc, aulc = [], []
        for seed, run in runs.items():
            rng = np.random.default_rng(seed)
            nothing = np.zeros(len(run.y), dtype=bool)
            seed_rows = make(name).select(None, run.x, nothing, args.seed_size, rng)
            accs, _ = run.curve(Margin(), seed_rows, args.rounds, args.batch, rng)
            seed_acc.append(accs[0])
            aulc.append(np.mean(accs))
        print(f"| {name} | {np.mean(seed_acc):.4f} | {np.std(seed_acc):.4f} | "
              f"{np.mean(aulc):.4f} |", flush=True)


if __name__ == "__main__":
    main()
