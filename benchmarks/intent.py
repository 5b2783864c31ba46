"""How well the console understands plain language, and whether it ever acts unasked.

    python benchmarks/intent.py [--set people|dev|dev2|old] [--half tune|holdout|all] [--errors]

``--set people`` (the default): ``benchmarks/data/console_people.jsonl``, 340 lines written
blind by four helpers, each from one description of a user (a labeling lead, an ML
researcher, a non-native speaker, someone in a hurry) and a prose account of what the
console can do — never from its command list or its code. Each line carries the command and
arguments it should get (``alt``: a second fair reading). The lines are split in halves by a
hash of their text: the parser was tuned on the ``tune`` half only; the ``holdout`` half was
never read (``--errors`` refuses to print it). ``--set dev`` and ``--set dev2``: two more sets
written blind the same way (316 lines each: a data annotator, a product manager, someone on a
phone, a teacher; someone dictating by voice, a newcomer, an ops engineer, a linguist writing
formal English), all tuned on — each measured once before it was read (dev2: 81.0 %).
``--set old``: the 173 phrasings of the first console (even lines tuned on, odd ones not).

Every line is read two ways. By the parser alone: command right, command and arguments
right, non-commands refused, questions answered by a reading command. And end to end: typed
into a real console over a small paused run (real Chroma and ledger), after which nothing
may have changed — no queued change, no pause or go, no ledger entry — unless the person
said yes: "taken without confirmation" counts every line that changed anything at once.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import tempfile
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import pandas as pd

from labelgraph import Budget, LabelGraph, Task
from labelgraph.console.changes import optional_criteria
from labelgraph.console.commands import by_name
from labelgraph.console.controller import Controller
from labelgraph.console.intent import IntentParser
from labelgraph.console.interpret import IntentInterpreter
from labelgraph.console.reads import READS
from labelgraph.registry import registry

DATA = Path(__file__).parent / "data"
#: the run the people set was written for (its brief's ids and labels)
PEOPLE_IDS = ["77b1e40c9a2f5d3e8b6a1c20", "8082aa13f0c94d7e51b2e6a9", "c3f09d71e2ab4c58d6e0f113",
              "a41d2290be7c83f6a51e0d47"]
OLD_IDS = ["3f9a2c41b7d0", "a1b2c3d4e5f6", "7c0e19d2aa84", "0b5e7f3c9d12", "9e8d7c6b5a43",
           "5d4c3b2a1f0e"]


def half_of(text: str) -> str:
    return "holdout" if int(hashlib.sha256(text.encode()).hexdigest(), 16) % 2 else "tune"


def load(which: str, half: str) -> tuple[list[dict[str, Any]], list[str], list[str]]:
    """The lines of a set and half, the run's labels and known ids."""
    if which == "old":
        rows = [json.loads(line) for line in (DATA / "console_phrasings.jsonl").read_text()
                .splitlines() if line.strip()]
        for n, row in enumerate(rows):
            row["half"] = "tune" if n % 2 == 0 else "holdout"
            row.setdefault("kind", "non-command" if row["command"] is None else "request")
        labels, ids = ["positive", "negative"], OLD_IDS
    else:
        seen: set[str] = set()
        rows = []
        name = {"dev": "console_people_dev.jsonl", "dev2": "console_people_dev2.jsonl"}.get(
            which, "console_people.jsonl")
        for line in (DATA / name).read_text().splitlines():
            row = json.loads(line) if line.strip() else None
            if row and row["text"] not in seen:  # a few short lines were written twice
                seen.add(row["text"])
                rows.append({**row, "half": "tune" if which.startswith("dev") else
                             half_of(row["text"])})
        labels, ids = ["positive", "negative", "neutral"], PEOPLE_IDS
    return [r for r in rows if half in {"all", r["half"]}], labels, ids


def _clean(args: list[str], command: str | None) -> list[str]:
    if command == "search":  # free text: compared without case, quotes and punctuation
        return [re.sub(r"[^\w ]", "", " ".join(args).lower()).strip()]
    if command == "strategy":  # an unknown name, however joined ("query-by-committee")
        return [str(a).lower().replace("-", "_") for a in args]
    return [str(a).lower() for a in args]


def readings(row: dict[str, Any]) -> list[tuple[str | None, list[str]]]:
    out = [(row["command"], _clean(row["args"], row["command"]))]
    out += [(a["command"], _clean(a.get("args", []), a["command"])) for a in row.get("alt")
            or []]
    return out


def small_run(work: Path, labels: list[str]) -> LabelGraph:
    """A real run with a few labeled items, stopped, for lines to be typed into."""
    words = {"positive": "great", "negative": "awful", "neutral": "ordinary"}
    pool = pd.DataFrame([{"text": f"an {words.get(label, label)} product, review {n}",
                          "label": label} for n in range(10) for label in labels])
    lg = LabelGraph(Task(labels=labels, description="product review sentiment"),
                    annotator="oracle", llm="none", budget=Budget(labels=9, usd=5.0),
                    run_dir=work / "run", embedding="hashing",
                    config={"seed_size": 6, "batch_size": 3, "stopping": []})
    lg.run(pool, label_column="label")
    return lg


def acted_unasked(ctl: Controller, before: int) -> str | None:
    """What a typed line changed at once, if anything (a queued change, a pause or a go, a
    ledger entry); leaving the console is not a change to the run."""
    if ctl.snapshot()["pending_changes"]:
        return "queued a change"
    if ctl._pause or ctl._go or ctl._step:  # noqa: SLF001 (the benchmark reads its flags)
        return "paused or let the run go"
    if len(ctl.lg.context.ledger.human_actions()) != before:
        return "wrote a human action"
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--set", dest="which", choices=["people", "dev", "dev2", "old"],
                        default="people")
    parser.add_argument("--half", choices=["all", "tune", "holdout"], default="holdout")
    parser.add_argument("--errors", action="store_true", help="print every miss (tune only)")
    args = parser.parse_args()
    if args.errors and args.half != "tune":
        parser.error("--errors prints misses of the tune half only: the held-out half stays "
                     "unread")
    rows, labels, ids = load(args.which, args.half)
    strategies = registry.names("strategies")
    settings = {"batch_size": 20, "labels": 200, "usd": 5.0}  # the run the lines were
    intent_parser = IntentParser(labels, strategies, ids=lambda: ids,  # written for
                                 criteria=optional_criteria(), current=lambda: settings)
    tally: Counter[str] = Counter()
    by_group: dict[str, Counter[str]] = defaultdict(Counter)
    unasked: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        os.chdir(tmp)
        # an /export a line asks for is a read of the run: said, but no file is written
        # (the lines name paths anywhere on the disk)
        READS["export"] = lambda lg, *args: f"would export {' '.join(args)}"
        lg = small_run(Path(tmp), labels)
        interpreter = IntentInterpreter(intent_parser)
        for row in rows:
            got = intent_parser.parse(row["text"])
            want = readings(row)
            ok_command = got.command in {c for c, _ in want}
            ok = (got.command, _clean(got.args, got.command)) in want
            kind = row.get("kind", "request")
            for key in ("all", f"kind={kind}", f"who={row.get('persona', '-')}"):
                by_group[key]["n"] += 1
                by_group[key]["right"] += ok
                by_group[key]["command"] += ok_command
            tally["n"] += 1
            tally["right"] += ok
            tally["command"] += ok_command
            if kind == "non-command":
                tally["nonc"] += 1
                tally["nonc_refused"] += got.command is None
            if kind == "question":
                spec = by_name(got.command) if got.command else None
                tally["questions"] += 1
                tally["questions_read"] += spec is None or not spec.changes
            # end to end: typed into the console, nothing may change before a yes
            ctl = Controller(lg, interpreter=interpreter)
            before = len(lg.context.ledger.human_actions())
            reply = ctl.execute(row["text"])
            what = acted_unasked(ctl, before)
            asked = bool(ctl.confirming)
            tally["asked"] += asked
            if what:
                unasked.append(f"{row['text']!r}: {what}")
            if asked:
                ctl.execute("no")
            if not ok and args.errors:
                print(f"MISS [{kind}] {row['text']!r}: want {want[0][0]} {want[0][1]}, got "
                      f"{got.as_slash()} ({got.why}) -> {reply.splitlines()[0][:80]!r}")
        lg.close()
    n = tally["n"]
    print(f"{args.which} set, {args.half} half: {n} lines")
    print(f"  command right                 {tally['command']:>4}/{n} = "
          f"{tally['command'] / n:.1%}")
    print(f"  command and arguments right   {tally['right']:>4}/{n} = {tally['right'] / n:.1%}")
    if tally["nonc"]:
        print(f"  non-commands refused          {tally['nonc_refused']:>4}/{tally['nonc']}")
    if tally["questions"]:
        print(f"  questions answered by reading {tally['questions_read']:>4}/"
              f"{tally['questions']}")
    print(f"  changes shown and asked       {tally['asked']:>4}")
    print(f"  changes taken without a yes   {len(unasked):>4}")
    for line in unasked:
        print(f"    {line}" if args.half == "tune" or args.errors else "    (a held-out line)")
    for key, c in sorted(by_group.items()):
        if key != "all":
            print(f"  {key:<22} {c['right']:>3}/{c['n']:<3} = {c['right'] / c['n']:.0%} "
                  f"(command {c['command'] / c['n']:.0%})")


if __name__ == "__main__":
    main()
