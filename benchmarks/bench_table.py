"""One AULC table (strategy x data set) from several `labelgraph bench` JSON files.

    python benchmarks/bench_table.py reviews=rt.json R8=r8.json 20NG=ng_a.json,ng_b.json \
        [--out benchmarks/results/strategies_3data.md]

A data set may come in several files (a bench split by strategies across processes); the
best fixed strategy of each data set (the bandit excluded) is in bold.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

SWITCHING = {"bandit"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sets", nargs="+", help="NAME=FILE[,FILE...]")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    table: dict[str, dict[str, dict]] = {}
    names: list[str] = []
    for spec in args.sets:
        name, _, paths = spec.partition("=")
        names.append(name)
        for path in paths.split(","):
            for row in json.loads(Path(path).read_text())["summary"]:
                if row["library"] == "labelgraph":
                    table.setdefault(row["strategy"], {})[name] = row
    fixed = [s for s in table if s not in SWITCHING]
    best = {n: max((s for s in fixed if n in table[s]), key=lambda s: table[s][n]["aulc"])
            for n in names}
    lines = ["| strategy | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]
    for strategy, by_set in table.items():
        cells = []
        for n in names:
            row = by_set.get(n)
            if row is None:
                cells.append("—")
                continue
            cell = f"{row['aulc']:.4f} ± {row['aulc_sd']:.4f}"
            cells.append(f"**{cell}**" if best[n] == strategy else cell)
        lines.append(f"| {strategy} | " + " | ".join(cells) + " |")
    text = "\n".join(lines) + "\n"
    print(text, end="")
    if args.out:
        args.out.write_text(text)


if __name__ == "__main__":
    main()
