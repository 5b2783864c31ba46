"""The three public data sets `labelgraph bench` is measured on, written as labeled CSVs.

    python benchmarks/bench_data.py [--out /tmp/bench_data]
    labelgraph bench /tmp/bench_data/rt.csv --seeds 2 --max-pool 3000 --out ...   (and r8, ng)

rt: 4 000 Rotten Tomatoes review snippets (2 classes, short); r8: 4 000 Reuters R8 newswire
documents (8 classes, skewed); ng: 3 000 20 Newsgroups posts (20 classes, long). The samples
are the ones benchmarks/noise_audit.py uses (seed 0), so cached embeddings are shared.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from noise_audit import LOADERS  # noqa: E402

from labelgraph.data import load_rotten_tomatoes  # noqa: E402

SIZES = {"rt": 4000, "r8": 4000, "ng": 3000}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("/tmp/bench_data"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for name, n in SIZES.items():
        frame = load_rotten_tomatoes().sample(n=n, random_state=0) if name == "rt" \
            else LOADERS[name](n)
        frame[["text", "label"]].to_csv(args.out / f"{name}.csv", index=False)
        print(f"{args.out / name}.csv: {len(frame)} rows, {frame['label'].nunique()} labels")


if __name__ == "__main__":
    main()
