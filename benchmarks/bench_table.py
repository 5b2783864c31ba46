"""One AULC table (strategy x data set) from several `labelgraph bench` JSON files.

    python benchmarks/bench_table.py reviews=rt.json R8=r8.json 20NG=ng_a.json,ng_b.json \
        [--out benchmarks/results/bench/strategies/strategies_3data.md] [--min-seeds 10] \
        [--hindsight margin,diverse_margin,badge]

A data set may come in several files: a bench split by strategies across processes, or
seeds added later (``labelgraph bench --first-seed``); runs are pooled by strategy and seed.
A bench run with ``--set`` settings is a strategy of its own (``bandit (bandit_reward=gain)``).
The best fixed strategy of each data set (switching ones excluded; with ``--min-seeds``,
only those measured on that many seeds) is in bold, and each switching strategy is
compared with it seed by seed (paired difference, mean and standard error over the seeds
both have). ``--hindsight`` adds the ceiling of choosing among some fixed strategies: the
best of them per seed, known only after the fact, against the best fixed strategy.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

from provenance import markdown_note

SWITCHING = "bandit"


def label(strategy: str, config: dict) -> str:
    """A strategy's row name: its registry name, with the bench's --set settings if any."""
    if not config:
        return strategy
    return f"{strategy} ({', '.join(f'{k}={v}' for k, v in config.items())})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sets", nargs="+", help="NAME=FILE[,FILE...]")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--min-seeds", type=int, default=0,
                        help="only a fixed strategy with at least this many seeds on a data "
                             "set can be its best (fewer seeds: listed, not compared)")
    parser.add_argument("--hindsight", default="",
                        help="comma-separated fixed strategies: how much better than the best "
                             "fixed one is the best of them picked per seed in hindsight (the "
                             "most any choice among them made once per run could gain)")
    args = parser.parse_args()
    aulc: dict[str, dict[str, dict[int, float]]] = {}  # strategy -> data set -> seed -> AULC
    names: list[str] = []
    for spec in args.sets:
        name, _, paths = spec.partition("=")
        names.append(name)
        for path in paths.split(","):
            bench = json.loads(Path(path).read_text())
            config = bench["settings"].get("config") or {}
            for run in bench["runs"]:
                if run.get("library", "labelgraph") == "labelgraph" and run["aulc"] is not None:
                    row = label(run["strategy"], config)
                    aulc.setdefault(row, {}).setdefault(name, {})[run["seed"]] = run["aulc"]
    fixed = [s for s in aulc if not s.startswith(SWITCHING)]
    best = {n: max((s for s in fixed if len(aulc[s].get(n, {})) >= max(args.min_seeds, 1)),
                   key=lambda s: statistics.mean(aulc[s][n].values()), default=None)
            for n in names}
    lines = ["| strategy | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]
    for strategy, by_set in aulc.items():
        cells = []
        for n in names:
            seeds = by_set.get(n)
            if not seeds:
                cells.append("—")
                continue
            values = list(seeds.values())
            sd = statistics.pstdev(values)  # as the bench reports it (numpy.std)
            cell = f"{statistics.mean(values):.4f} ± {sd:.4f}"
            if len(values) != max(len(aulc[s].get(n, {})) for s in aulc):
                cell += f" ({len(values)} seeds)"
            cells.append(f"**{cell}**" if best[n] == strategy else cell)
        lines.append(f"| {strategy} | " + " | ".join(cells) + " |")
    lines += ["", "Switching against the best fixed strategy, seed by seed (points of AULC, "
              "mean ± standard error of the paired differences):", ""]
    for strategy in (s for s in aulc if s.startswith(SWITCHING)):
        parts = []
        for n in names:
            if best[n] is None:  # no fixed strategy to compare with
                continue
            mine, theirs = aulc[strategy].get(n, {}), aulc[best[n]][n]
            common = sorted(set(mine) & set(theirs))
            if len(common) < 2:
                continue
            diffs = [100 * (mine[k] - theirs[k]) for k in common]
            se = statistics.stdev(diffs) / len(diffs) ** 0.5
            parts.append(f"{n} {statistics.mean(diffs):+.2f} ± {se:.2f} against {best[n]} "
                         f"({len(common)} seeds)")
        lines.append(f"- {strategy}: " + "; ".join(parts))
    pick = [s for s in args.hindsight.split(",") if s]
    if pick:
        parts = []
        for n in names:
            common = sorted(set.intersection(*(set(aulc.get(s, {}).get(n, {})) for s in pick))
                            & set(aulc[best[n]][n]) if best[n] else set())
            if common:
                gain = [100 * (max(aulc[s][n][k] for s in pick) - aulc[best[n]][n][k])
                        for k in common]
                parts.append(f"{n} {statistics.mean(gain):+.2f} over {best[n]} "
                             f"({len(common)} seeds)")
        lines.append(f"- hindsight, the best of {', '.join(pick)} picked per seed: "
                     + "; ".join(parts))
    text = "\n".join(lines) + "\n"
    print(text, end="")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n" + markdown_note() + "\n")


if __name__ == "__main__":
    main()
