"""Hostile replies and flaky providers over whole runs: crashes and budget overruns.

Runs the fuzz of ``tests/scenarios/test_hostile.py`` (a scripted provider that times out,
rate-limits, drops connections, answers garbage or wrong types, puts lone surrogates in
labels and reports absurd or negative token usage) over many seeds, each a whole run with
an LLM policy, an LLM annotator and a generator, and counts the replies by kind, the
crashes, the budget overruns and the usage reports recorded as anomalies.
Run: ``python benchmarks/hostile.py --seeds 16`` (about a minute on 2 cores).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections import Counter
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1] / "tests"
sys.path.insert(0, str(TESTS))
sys.path.insert(0, str(TESTS / "scenarios"))  # test_hostile.py

from test_hostile import PRICES, TASK, hostile  # noqa: E402

from conftest import make_pool  # noqa: E402
from labelgraph import Budget, LabelGraph  # noqa: E402
from support.fakes import ScriptedChatModel  # noqa: E402

BUDGET = Budget(labels=30, tokens=40_000, usd=0.3)


def trial(seed: int, replies: Counter[str]) -> tuple[bool, bool, int]:
    """One run: (crashed, over budget, anomalies recorded)."""
    counts: dict[str, int] = {}
    with tempfile.TemporaryDirectory() as tmp:
        lg = LabelGraph(TASK, llm=ScriptedChatModel(responder=hostile(seed, counts)),
                        annotator="llm", policy="llm", budget=BUDGET,
                        run_dir=Path(tmp) / "run", embedding="hashing", prices=PRICES,
                        config={"seed_size": 6, "batch_size": 6, "synth_batch": 2,
                                "synthesize_every": 2, "retry_backoff": 0.0,
                                "provider_retries": 1, "max_concurrency": 2})
        try:
            crashed = not lg.run(make_pool(), label_column="label").done
        except Exception as exc:  # a crash is what this counts
            print(f"seed {seed}: {type(exc).__name__}: {exc}", file=sys.stderr)
            crashed = True
        totals = lg.context.ledger.totals()
        over = (totals["labels"] > BUDGET.labels or totals["tokens"] > BUDGET.tokens
                or totals["usd"] > BUDGET.usd + 1e-9 or totals["tokens"] < 0)
        anomalies = len(lg.context.ledger.anomalies())
        lg.close()
    replies.update(counts)
    return crashed, over, anomalies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=16)
    args = parser.parse_args()
    replies: Counter[str] = Counter()
    results = [trial(seed, replies) for seed in range(args.seeds)]
    print("| runs | replies | hostile | crashes | overruns | usage anomalies recorded |")
    print("|---:|---:|---:|---:|---:|---:|")
    print(f"| {len(results)} | {sum(replies.values())} | "
          f"{sum(replies.values()) - replies['good']} | {sum(r[0] for r in results)} | "
          f"{sum(r[1] for r in results)} | {sum(r[2] for r in results)} |")
    print("replies by kind: " + ", ".join(f"{k} {v}" for k, v in sorted(replies.items())))


if __name__ == "__main__":
    main()
