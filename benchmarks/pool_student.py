"""Does a student that learns from the unlabeled pool pay? Paired runs, pool_learning on/off.

    python benchmarks/pool_student.py               # rt, r8, ng x oracle, simulated LLM x 10 seeds
    python benchmarks/pool_student.py --quick       # rt only, 2 seeds, a small pool (minutes)
    python benchmarks/pool_student.py --datasets ng --seeds 10 --tag ng   # one set per process
    python benchmarks/pool_student.py --graph-rows 10000 100000   # label spreading's graph

For each data set of ``labelgraph bench`` (rt, r8, ng: ``benchmarks/bench_data.py``), each
annotator (``oracle``; ``llm``, the simulated noisy paid LLM of ``benchmarks/routing.py`` as
``benchmarks/proposals.py`` builds it) and each seed, labelgraph runs twice on the same pool,
test split, schedule, strategy (``--strategy``, default diverse_margin; the first results
used margin) and seed: with the ``--mode`` of pool learning on and with ``"off"``.
``self_training`` (``labelgraph.student.self_train``) refits the student with its confident
predictions on the unlabeled pool weighted below real labels; ``label_spreading``
(``labelgraph.student.spread_labels``) takes those pseudo-labels from the real labels spread
over the pool's nearest-neighbour graph instead. No LLM, no synthesis, no
optional stopping criterion: the bench's schedule (25 seed labels, then 20 rounds of 25).

Reported per (data set, annotator): AULC (mean held-out accuracy over the schedule's points,
``proposals.aulc``) off and on, the mean paired difference on − off and its standard error,
and the learner's mean seconds per round off / on: its whole node body (``learn``: fit, test
evaluation, pool probabilities) and the student's fit alone. Writes
``benchmarks/results/pool_student/pool_student[_TAG][_quick].json`` after every run.
``--graph-rows`` instead times building label spreading's neighbour graph
(``geometry.knn_graph``, once a run) on synthetic MiniLM-like pools of those sizes
(``selection_scale.make_pool``), into ``knn_graph.json``.
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_data import SIZES  # noqa: E402
from proposals import aulc, bench_arguments, load, make_annotator, paired, quick  # noqa: E402
from provenance import stamp  # noqa: E402
from routing import markdown_table  # noqa: E402

import labelgraph.agents.learner as learner  # noqa: E402
from labelgraph import Budget, LabelGraph, Task  # noqa: E402
from labelgraph.assets import cache_root  # noqa: E402
from labelgraph.data import split_gold  # noqa: E402
from labelgraph.student import self_train  # noqa: E402

OUT = Path(__file__).resolve().parent / "results" / "pool_student"
SECONDS: dict[str, list[float]] = {"learn": [], "fit": []}


def timed(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn``, its wall seconds appended to ``SECONDS[name]`` at every call."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            SECONDS[name].append(time.perf_counter() - started)

    return wrapper


def one_run(data: str, kind: str, mode: str, pool: pd.DataFrame, test: pd.DataFrame,
            seed: int, args: argparse.Namespace) -> dict[str, Any]:
    """One labelgraph run; its AULC and the learner's seconds per round."""
    started = time.perf_counter()
    for v in SECONDS.values():
        v.clear()
    labels = sorted(set(pool.label))
    with tempfile.TemporaryDirectory() as tmp:
        lg = LabelGraph(Task(labels=labels, description="benchmark"), llm="none",
                        annotator=make_annotator(kind, args), policy="rule",
                        budget=Budget(labels=args.seed_size + args.rounds * args.batch),
                        run_dir=Path(tmp) / "run", embedding=args.embedding,
                        embedding_cache=cache_root() / "embeddings",
                        config={"seed_size": args.seed_size, "batch_size": args.batch,
                                "synthesize": False, "stopping": [], "seed": seed,
                                "strategy": args.strategy, "pool_learning": mode,
                                "label_prices": {"oracle": args.person_price}})
        result = lg.run(pool, test=test, label_column="label")
        row = {"data": data, "annotator": kind, "pool_learning": mode, "seed": seed,
               "strategy": args.strategy,
               "aulc": aulc(list(result.curve["accuracy"]), args.rounds + 1),
               "final": float(result.curve["accuracy"].dropna().iloc[-1])
               if result.curve["accuracy"].notna().any() else None,
               "labels": int(result.cost["labels"]), "rounds": len(result.curve),
               "learn_s": float(np.mean(SECONDS["learn"])) if SECONDS["learn"] else None,
               "fit_s": float(np.mean(SECONDS["fit"])) if SECONDS["fit"] else None,
               "seconds": round(time.perf_counter() - started, 1)}
        lg.close()
    print(json.dumps(row), flush=True)
    return row


def _f(value: float | None, digits: int = 4) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def summary(rows: list[dict[str, Any]]) -> str:
    """Markdown: one line per (data set, annotator)."""
    # proposals.paired pairs on its "use_proposals" key: on is True
    pairs = [{**r, "use_proposals": r["pool_learning"] != "off"} for r in rows]
    table = []
    for (data, kind), group in pd.DataFrame(pairs).groupby(["data", "annotator"], sort=False):
        runs = group.to_dict("records")
        on, off, diff, se = paired(runs, lambda r: r["aulc"])
        f_on, f_off, f_diff, f_se = paired(runs, lambda r: r["final"])
        learn_on, learn_off, _, _ = paired(runs, lambda r: r["learn_s"])
        fit_on, fit_off, _, _ = paired(runs, lambda r: r["fit_s"])
        wins = sum(1 for s in group.seed.unique()
                   if (g := group[group.seed == s]).use_proposals.nunique() == 2
                   and g[g.use_proposals].aulc.iloc[0] > g[~g.use_proposals].aulc.iloc[0])
        table.append({"set": data, "annotator": kind, "seeds": group.seed.nunique(),
                      "AULC off": _f(off), "AULC on": _f(on), "on − off": _f(diff),
                      "se": _f(se), "wins": wins, "final on − off": _f(f_diff),
                      "learn s off/on": f"{_f(learn_off, 3)} / {_f(learn_on, 3)}",
                      "learn ratio": _f(learn_on / learn_off if learn_on and learn_off
                                        else None, 2),
                      "fit s off/on": f"{_f(fit_off, 3)} / {_f(fit_on, 3)}"})
    return markdown_table(pd.DataFrame(table).set_index("set"))


def graph_seconds(sizes: list[int]) -> None:
    """Wall seconds of label spreading's neighbour graph over pools of ``sizes`` rows."""
    from selection_scale import make_pool

    from labelgraph.geometry import knn_graph

    rows = []
    for n in sizes:
        embeddings = make_pool(n, 384, seed=0)[1]
        started = time.perf_counter()
        knn_graph(embeddings, 10)
        rows.append({"rows": n, "seconds": round(time.perf_counter() - started, 1)})
        print(json.dumps(rows[-1]), flush=True)
        (OUT / "knn_graph.json").write_text(json.dumps({**stamp(), "runs": rows}, indent=1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    bench_arguments(parser, seeds=10)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--threshold", type=float, default=None,
                        help="self_train's confidence threshold (default: its own)")
    parser.add_argument("--weight", type=float, default=None,
                        help="self_train's pseudo-label weight (default: its own)")
    parser.add_argument("--mode", default="self_training",
                        choices=["self_training", "label_spreading"],
                        help="the pool learning compared with off")
    parser.add_argument("--strategy", default="diverse_margin")
    parser.add_argument("--graph-rows", type=int, nargs="+",
                        help="only time label spreading's graph on pools of these sizes")
    parser.add_argument("--tag", default="", help="a suffix of the result file's name")
    args = quick(parser.parse_args())
    if args.graph_rows:
        OUT.mkdir(parents=True, exist_ok=True)
        graph_seconds(args.graph_rows)
        return
    overrides = {k: v for k, v in (("threshold", args.threshold), ("weight", args.weight))
                 if v is not None}
    if overrides:
        learner.self_train = functools.partial(self_train, **overrides)  # type: ignore[assignment]
    learner.learn = timed("learn", learner.learn)  # type: ignore[assignment]
    learner.fit_model = timed("fit", learner.fit_model)  # type: ignore[assignment]
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / ("pool_student" + (f"_{args.tag}" if args.tag else "")
                  + ("_quick" if args.quick else "") + ".json")
    rows, made = [], stamp()
    for data in args.datasets:
        frame = load(data, SIZES[data])
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            pool, test = split_gold(frame, test_size=0.2, seed=seed)
            if len(pool) > args.max_pool:
                pool = pool.sample(n=args.max_pool, random_state=seed)
            for kind in args.annotators:
                for mode in ("off", args.mode):
                    rows.append(one_run(data, kind, mode, pool.reset_index(drop=True),
                                        test.reset_index(drop=True), seed, args))
                    path.write_text(json.dumps({**made, "args": vars(args), "runs": rows},
                                               indent=1))
    print()
    print(summary(rows))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
