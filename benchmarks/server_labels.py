"""Labels from a real OpenAI-compatible model server: how many, how right, at what cost.

    python benchmarks/server_labels.py [--items 40] [--seed-labels 20] [--kill-after 10]
                                       [--url http://host:port/v1 --model NAME]
    python benchmarks/server_labels.py --in-process [--items 40]   # the same, no server

Without ``--url`` it starts llama-cpp-python's server (``python -m llama_cpp.server``, the
``server`` extra) on 127.0.0.1 with the embedded Gemma 3 270M model. Between labelgraph and
the server sits a small counting proxy, so the server's own figures are read independently of
the ledger: every request, its HTTP status, and the usage the server reported.

The run: Rotten Tomatoes snippets; ``--seed-labels`` gold labels first (the oracle), then the
run is given ``--items`` more labels and goes on with ``annotator="llm"`` and
``llm="openai:gemma@<proxy URL>"``. Printed: LLM labels obtained of asked, their accuracy
against gold, requests per label, tokens in the ledger against the tokens the server
reported, money charged (0 for a server on this machine), seconds per label, and what the
ledger's anomalies and the run's ``ModelCannot`` events said. ``--kill-after N`` kills the
server after N labels and starts it again 10 s later: the run must finish with no label lost
or bought twice. ``--in-process`` labels the same items with the same model loaded in the
process (``llm="local"``, its full-label log-probability path): the baseline the server's
figures are read against.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import tempfile
import threading
import time
from pathlib import Path

TESTS = Path(__file__).resolve().parent.parent / "tests"
sys.path.insert(0, str(TESTS))

from labelgraph import Budget, LabelGraph, Task  # noqa: E402
from labelgraph.data import load_rotten_tomatoes  # noqa: E402
from labelgraph.events import Labeled, ModelCannot, Progress  # noqa: E402
from support.model_server import CountingProxy, LlamaServer, free_port  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=40, help="LLM labels to ask for")
    parser.add_argument("--seed-labels", type=int, default=20)
    parser.add_argument("--pool", type=int, default=400)
    parser.add_argument("--kill-after", type=int, default=0,
                        help="kill the server after this many LLM labels, restart in 10 s")
    parser.add_argument("--url", help="a running server's base URL (else one is started)")
    parser.add_argument("--model", default="gemma", help="the model's name on that server")
    parser.add_argument("--in-process", action="store_true",
                        help="no server: the embedded model in this process (the baseline)")
    args = parser.parse_args()

    data = load_rotten_tomatoes().sample(n=args.pool, random_state=0)
    gold = dict(zip(data["text"], data["label"], strict=True))
    task = Task(labels=["positive", "negative"], description="movie review sentiment",
                text_name="Review", label_name="Sentiment")
    server = None if args.url or args.in_process else LlamaServer(free_port()).start()
    proxy = None if args.in_process else CountingProxy(args.url or server.url)  # type: ignore[union-attr]
    spec = "local" if proxy is None else f"openai:{args.model}@{proxy.url}"
    restarts: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(tmp) / "run"
        config = {"stopping": [], "batch_size": 10, "seed_size": args.seed_labels,
                  "synthesize": False}
        seed = LabelGraph(task, annotator="oracle", llm="none", policy="rule",
                          run_dir=run_dir, embedding="hashing",
                          budget=Budget(labels=args.seed_labels), config=config)
        seed.run(data, label_column="label")
        seed.close()
        lg = LabelGraph.open(run_dir, annotator="llm", llm=spec)
        lg.steer(budget={"labels": args.seed_labels + args.items})
        said: list[str] = []
        done = 0
        start = time.perf_counter()
        for mode, event in lg.stream():
            if mode != "custom":
                continue
            if isinstance(event, ModelCannot):
                said.append(f"{event.capability}: {event.detail[:120]} -> {event.instead}")
            if isinstance(event, Progress) and event.what == "annotate":
                done += 1
                if args.kill_after and done == args.kill_after and server is not None:
                    server.stop()
                    restarts.append(f"killed after {done} labels")
                    threading.Timer(10.0, lambda: (server.start(), restarts.append(
                        "started again 10 s later"))).start()
            if isinstance(event, Labeled):
                print(f"round {event.round}: {event.by_source}")
        seconds = time.perf_counter() - start
        result = lg.result()
        lg.close()
        with sqlite3.connect(run_dir / "ledger.sqlite") as conn:
            rows = conn.execute("SELECT text, label, source FROM labels WHERE source = 'llm'"
                                ).fetchall()
            asked = conn.execute("SELECT COUNT(*) FROM labels WHERE source = 'llm'"
                                 ).fetchone()[0]
            calls = conn.execute("SELECT COUNT(*), SUM(input_tokens), SUM(output_tokens), "
                                 "SUM(usd) FROM calls WHERE agent = 'annotator'").fetchone()
            anomalies = conn.execute("SELECT kind, detail FROM anomalies").fetchall()
            skipped = conn.execute("SELECT COUNT(*) FROM skips").fetchone()[0]
            dupes = conn.execute("SELECT COUNT(*) - COUNT(DISTINCT item_id || source) FROM "
                                 "labels").fetchone()[0]
    if server is not None:
        server.stop()
    labeled = [(text, label) for text, label, _ in rows if label is not None]
    right = sum(gold.get(text) == label for text, label in labeled)
    requests = sum(proxy.statuses.values()) if proxy else 0
    where = "in process (llm='local')" if proxy is None else \
        f"{args.url or 'llama_cpp.server, Gemma 3 270M (embedded), 127.0.0.1'}; " \
        f"spec {spec.split('@')[0]}@<proxy>"
    print(f"\nserver: {where}")
    print(f"  LLM labels obtained / asked   {len(labeled)} / {args.items} "
          f"(abstained or skipped: {args.items - len(labeled)}; ledger rows {asked}, "
          f"skips {skipped})")
    if labeled:
        print(f"  accuracy against gold         {right}/{len(labeled)} = "
              f"{right / len(labeled):.3f}")
        if proxy is not None:
            print(f"  requests per label            {requests / len(labeled):.2f} "
                  f"(statuses {dict(proxy.statuses)})")
        print(f"  seconds per label             {seconds / len(labeled):.2f}")
    print(f"  tokens in the ledger          in {calls[1] or 0}, out {calls[2] or 0} "
          f"({calls[0]} calls)")
    if proxy is not None:
        print(f"  tokens the server reported    in {proxy.usage['prompt_tokens']}, out "
              f"{proxy.usage['completion_tokens']}")
    print(f"  money charged                 ${calls[3] or 0:.4f}")
    print(f"  stop reason                   {result.stop_reason}")
    print(f"  labels recorded twice         {dupes}")
    for line in said:
        print(f"  model cannot: {line}")
    for kind, detail in anomalies[:5]:
        print(f"  anomaly {kind}: {detail[:150]}")
    for line in restarts:
        print(f"  server {line}")


if __name__ == "__main__":
    main()
