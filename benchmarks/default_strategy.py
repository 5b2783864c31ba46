"""diverse_margin against margin, paired by seed, on the three sets of `labelgraph bench`.

    python benchmarks/bench_data.py                      # /tmp/bench_data/{rt,r8,ng}.csv
    for d in rt r8 ng; do labelgraph bench /tmp/bench_data/$d.csv \\
        --strategies margin,diverse_margin --seeds 10 --max-pool 3000 \\
        --out benchmarks/results/default_strategy/$d; done
    python benchmarks/default_strategy.py benchmarks/results/default_strategy/{rt,r8,ng}.json

Both strategies start each seed from the same seed items, pool and test split, so the
difference of their areas under the learning curve (AULC) is paired by seed. Reported per
data set: each strategy's mean AULC and final accuracy, and the mean paired difference
(diverse_margin − margin) with its standard error. Writes
benchmarks/results/default_strategy/summary.{json,md} with the command and the commit.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np
from provenance import markdown_note, stamp

OUT = Path(__file__).resolve().parent / "results" / "default_strategy" / "summary"


def paired(a: dict[int, float], b: dict[int, float]) -> tuple[float, float, int]:
    """Mean and standard error of b − a over the seeds both have."""
    seeds = sorted(set(a) & set(b))
    diff = np.array([b[s] - a[s] for s in seeds])
    se = float(diff.std(ddof=1) / np.sqrt(diff.size)) if diff.size > 1 else float("nan")
    return float(diff.mean()), se, diff.size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("benches", nargs="+", type=Path)
    parser.add_argument("--base", default="margin")
    parser.add_argument("--other", default="diverse_margin")
    args = parser.parse_args()
    rows: list[dict[str, Any]] = []
    for path in args.benches:
        runs = json.loads(path.read_text())["runs"]
        by = {(r["strategy"], r["seed"]): r for r in runs if r["library"] == "labelgraph"}
        row: dict[str, Any] = {"data": path.stem}
        for metric in ("aulc", "final_accuracy"):
            base = {s: r[metric] for (k, s), r in by.items() if k == args.base}
            other = {s: r[metric] for (k, s), r in by.items() if k == args.other}
            mean, se, n = paired(base, other)
            row.update({f"{metric}_{args.base}": float(np.mean(list(base.values()))),
                        f"{metric}_{args.other}": float(np.mean(list(other.values()))),
                        f"{metric}_diff": mean, f"{metric}_se": se, "seeds": n})
        rows.append(row)
    lines = [f"{args.other} − {args.base}, paired by seed (mean ± standard error, points of "
             "accuracy ×100):", "",
             f"| data | seeds | AULC {args.base} | AULC {args.other} | AULC difference | "
             f"final {args.base} | final {args.other} | final difference |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(
            f"| {r['data']} | {r['seeds']} | {r[f'aulc_{args.base}']:.4f} | "
            f"{r[f'aulc_{args.other}']:.4f} | {100 * r['aulc_diff']:+.2f} ± "
            f"{100 * r['aulc_se']:.2f} | {r[f'final_accuracy_{args.base}']:.4f} | "
            f"{r[f'final_accuracy_{args.other}']:.4f} | {100 * r['final_accuracy_diff']:+.2f} ± "
            f"{100 * r['final_accuracy_se']:.2f} |")
    text = "\n".join(lines)
    print(text)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.with_suffix(".md").write_text(text + "\n\n" + markdown_note() + "\n")
    OUT.with_suffix(".json").write_text(json.dumps({**stamp(), "rows": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
