"""Oracle simulation: how much does margin sampling beat random on Rotten Tomatoes?

No LLM is needed: the oracle annotator reads the gold labels. Run with
``python examples/simulate.py`` (about a minute with MiniLM embeddings; ``--fast`` uses
hashing embeddings).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np

from labelgraph import Budget, LabelGraph, Task
from labelgraph.assets import cache_root
from labelgraph.data import load_rotten_tomatoes, split_gold


def curve_area(accuracies: list[float]) -> float:
    """Mean accuracy over the rounds: the normalized area under the learning curve."""
    return float(np.mean(accuracies))


def main(fast: bool = False) -> None:
    data = load_rotten_tomatoes()
    pool, test = split_gold(data, test_size=0.1, seed=0)
    pool = pool.sample(n=3000, random_state=0)
    task = Task(labels=["positive", "negative"], description="movie review sentiment")
    with tempfile.TemporaryDirectory() as tmp:
        for strategy in ("random", "margin"):
            lg = LabelGraph(task, llm="none", annotator="oracle", budget=Budget(labels=220),
                            run_dir=Path(tmp) / strategy,
                            embedding="hashing" if fast else "minilm",
                            embedding_cache=cache_root() / "embeddings",
                            config={"strategy": strategy, "stopping": []})
            result = lg.run(pool, test=test, label_column="label")
            acc = result.curve["accuracy"].dropna().tolist()
            print(f"{strategy:>7}: final accuracy {acc[-1]:.3f}, curve area "
                  f"{curve_area(acc):.3f} over {len(acc)} rounds")
            lg.close()


if __name__ == "__main__":
    main(fast="--fast" in sys.argv)
