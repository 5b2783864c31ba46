"""Accuracy of the console's offline intent matcher on a phrasing set written before tuning.

    python benchmarks/intent.py [--embedding minilm|hashing] [--errors]

The set (``benchmarks/data/console_phrasings.jsonl``, 173 sentences, 10 of them not commands)
was written blind by a separate author from the command list alone. A line counts as right
when the command and every argument match exactly; a non-command counts as right when the
matcher refuses it. "Asks" counts the lines where the matcher was unsure and would ask.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

from labelgraph.console.intent import IntentMatcher
from labelgraph.memory.embeddings import make_embedding
from labelgraph.registry import registry

DATA = Path(__file__).parent / "data" / "console_phrasings.jsonl"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--embedding", default="minilm")
    parser.add_argument("--errors", action="store_true", help="print every miss")
    parser.add_argument("--half", choices=["all", "tune", "holdout"], default="all",
                        help="the even lines were used for tuning; the odd ones were not")
    args = parser.parse_args()
    rows = [json.loads(line) for line in DATA.read_text().splitlines() if line.strip()]
    if args.half != "all":
        rows = rows[0 if args.half == "tune" else 1::2]
    embedding = make_embedding(args.embedding)
    matcher = IntentMatcher(embedding.embed, ["positive", "negative"],
                            registry.names("strategies"))
    right = command_right = asks = 0
    misses: Counter[str] = Counter()
    for row in rows:
        got = matcher.match(row["text"])
        ok_command = got.command == row["command"]
        ok = ok_command and (row["command"] is None or got.args == row["args"])
        right += ok
        command_right += ok_command
        asks += (got.command is not None and not got.sure)
        if not ok:
            misses[str(row["command"])] += 1
            if args.errors:
                print(f"MISS {row['text']!r}: want /{row['command']} {row['args']}, got "
                      f"{got.as_slash()} (score {got.score:.2f}, sure={got.sure})")
    n = len(rows)
    print(f"{args.embedding} ({args.half}): {n} phrasings; command and arguments right "
          f"{right}/{n} = {right / n:.1%}; command right {command_right}/{n} = "
          f"{command_right / n:.1%}; "
          f"unsure (would ask) {asks}")
    print("misses by command:", dict(misses.most_common()))


if __name__ == "__main__":
    main()
