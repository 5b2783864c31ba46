"""Time from a typed console command to its visible effect, on a running demo.

    python benchmarks/console_latency.py [--fast] [--llm local|none] [--labels 200]

Starts the demo's run (Rotten Tomatoes snippets; the local model and the hybrid annotator,
or with ``--llm none`` the oracle) under the console's controller, and while it runs types:
``/status`` (a read: answered at once), "how is it going?" (a read in plain words),
``/pause`` (visible when the run reports "paused",
at the next step boundary), ``/strategy entropy`` typed while paused (visible when "applied"
shows), "switch to margin sampling" then Enter while paused (the plain-language change and
its yes), ``/continue`` (visible when it reports "running"), and ``/strategy margin`` typed
while running (visible when "applied" shows at the next step boundary). Each is repeated;
the median and the worst are printed.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from labelgraph import Budget, LabelGraph, Task
from labelgraph.assets import cache_root
from labelgraph.console.controller import Controller
from labelgraph.data import load_rotten_tomatoes, split_gold


def timed(ctl: Controller, lines: list[str], command: str, visible) -> float:
    """Seconds from typing ``command`` (lines joined by a newline: typed one after the
    other) to ``visible(lines, ctl)`` holding."""
    start = time.perf_counter()
    mark = len(lines)
    for line in command.split("\n"):
        lines.append(ctl.execute(line))
    ctl.wait(lambda c: visible(lines[mark:], c), timeout=600)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fast", action="store_true", help="hashing embeddings")
    parser.add_argument("--llm", default="local")
    parser.add_argument("--labels", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=4)
    args = parser.parse_args()
    pool, test = split_gold(load_rotten_tomatoes(), test_size=1000 / 10662, seed=0)
    pool = pool.sample(n=3000, random_state=0)
    task = Task(labels=["positive", "negative"], description="movie review sentiment",
                text_name="Review", label_name="Sentiment")
    times: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        lg = LabelGraph(task, llm=args.llm, annotator="hybrid" if args.llm != "none"
                        else "oracle", human="oracle", budget=Budget(labels=args.labels),
                        run_dir=Path(tmp) / "demo",
                        embedding="hashing" if args.fast else "minilm",
                        embedding_cache=cache_root() / "embeddings",
                        config={"stopping": [], "synthesize": args.llm != "none"})
        lines: list[str] = []
        ctl = Controller(lg, pool=pool, test=test, label_column="label",
                         sink=lines.append).start()
        ctl.wait(lambda c: any(line.startswith("round 1 ") for line in lines), timeout=900)
        for _ in range(args.repeats):
            if ctl.status == "stopped":
                break
            runs = {
                "/status": ("/status", lambda new, c: bool(new)),
                "plain read": ("how is it going?", lambda new, c: bool(new)),
                "/pause": ("/pause", lambda new, c: c.status == "paused"),
                "/strategy (paused)": ("/strategy entropy",
                                       lambda new, c: any(x.startswith("applied")
                                                          for x in new)),
                "plain + yes (paused)": ("switch to margin sampling\n",
                                         lambda new, c: any(x.startswith("applied")
                                                            for x in new)),
                "/continue": ("/continue", lambda new, c: c.status == "running"),
                "/strategy (running)": ("/strategy entropy",
                                        lambda new, c: any(x.startswith("applied")
                                                           for x in new)),
            }
            for name, (command, visible) in runs.items():
                times.setdefault(name, []).append(timed(ctl, lines, command, visible))
            time.sleep(3)  # let it run a little between probes
        ctl.close()
        lg.close()
    print(f"llm={args.llm} embedding={'hashing' if args.fast else 'minilm'}: seconds from "
          "typing to visible effect")
    for name, values in times.items():
        print(f"  {name:<20} median {statistics.median(values):7.3f}  worst "
              f"{max(values):7.3f}  (n={len(values)})")


if __name__ == "__main__":
    main()
