"""How fast the web console answers a person: from an answer key to the next card, and from a
round's end to the page showing it — with a second browser watching the same run.

    python benchmarks/web_latency.py [--rounds 4] [--batch 8]

A real run (Chroma, SQLite, hashing embeddings; the scripted model's suggestions, every item
asked of the person: ``tests/support/web_server.py``) served on 127.0.0.1; headless Chromium
(Debian's ``chromium``) opens it twice. Browser A answers every card by keyboard; browser B
only watches. Printed, over every answer: the time A's page took from the key to showing the
next card (measured in the page: ``window.lgTimings``), the time until B showed the same card
(measured here, from the key press to B's card changing), and, for every round that ended
while the pages were open, the time from the ledger's record of its end to each page showing
it. Writes ``benchmarks/results/web_latency/web_latency.json``.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

TESTS = Path(__file__).resolve().parent.parent / "tests"
sys.path.insert(0, str(TESTS))

from provenance import stamp  # noqa: E402

from support.web_server import CHROMIUM, Served  # noqa: E402


def summary(values: list[float]) -> dict[str, float]:
    """Median, 90th percentile and worst, in milliseconds."""
    ordered = sorted(values)
    return {"n": len(ordered), "median": round(statistics.median(ordered), 1),
            "p90": round(ordered[int(0.9 * (len(ordered) - 1))], 1),
            "max": round(ordered[-1], 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=4, help="rounds after the seed")
    parser.add_argument("--batch", type=int, default=8)
    args = parser.parse_args()
    if CHROMIUM is None:
        sys.exit("no chromium: apt-get install chromium")
    from playwright.sync_api import expect, sync_playwright

    # the seed's labels, then each round's items labeled by the model and by the person
    budget = args.batch + args.rounds * 2 * args.batch
    watcher_ms: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        web = Served(Path(tmp) / "run", labels=budget, batch=args.batch).start()
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM)
                a = browser.new_page()
                b = browser.new_page()
                a.goto(web.url)
                b.goto(web.url)
                status_a = a.locator("#status")
                while True:
                    expect(status_a).to_have_text(re.compile("waiting for you|stopped"),
                                                  timeout=120_000)
                    if status_a.inner_text() == "stopped":
                        break
                    before = b.locator("#question").inner_text()
                    start = time.perf_counter()
                    a.keyboard.press("1")
                    expect(b.locator("#question")).not_to_have_text(before, timeout=60_000)
                    watcher_ms.append((time.perf_counter() - start) * 1000)
                timings_a = a.evaluate("window.lgTimings")
                timings_b = b.evaluate("window.lgTimings")
                same = a.locator("#decisions li").count() == b.locator("#decisions li").count()
                browser.close()
        finally:
            web.close()
    out = {**stamp(), "rounds": args.rounds, "batch": args.batch, "labels": budget,
           "answer_to_next_card_ms": summary(timings_a["answer"]),
           "answer_to_watcher_card_ms": summary(watcher_ms),
           "round_end_to_page_ms": summary(timings_a["round"]),
           "round_end_to_watcher_ms": summary(timings_b["round"]),
           "watcher_saw_every_decision": same}
    print(json.dumps(out, indent=2))
    results = Path(__file__).resolve().parent / "results" / "web_latency" / "web_latency.json"
    results.parent.mkdir(parents=True, exist_ok=True)
    results.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
