"""Durability under ``kill -9``: kill real labelgraph runs at random moments, resume, compare.

Run it with:

    python benchmarks/crash.py --kills 50 --seed 0 [--out results.json]

Every trial drives one run (``benchmarks/crash_worker.py``: the LLM annotator is the scripted
chat model of ``tests/support/fakes.py`` answering by keyword after a random 5-40 ms sleep, rule
policy, ``Budget(labels=40)``, hashing embeddings, a no-op verifier check, seed 8, batches
of 6, no synthesis, no stopping criterion, on ``make_pool()`` of ``tests/conftest.py``) in
its own temporary directory. A fresh process is started, killed with SIGKILL after a random
delay, reaped, and replaced by a fresh process on the same run directory, until a process
exits by itself (at most ``--max-kills`` kills a trial; then the last one runs to the end).

Delays are counted from the moment the worker logs that its imports are done, and drawn
uniformly in [0.05, 1.0] x the run time of an uninterrupted reference run of the same
configuration (measured first); a share ``--early`` (default 0.25) of them is drawn instead
in [0, bootstrap time], so kills also land while the run is being set up and restored. Only
kills that hit a live process before its run finished count; a kill that lands after the run
finished (while the process shuts down) is reported as late, and ends the trial's kills.
Trials run until ``--kills`` kills are reached.

Each trial is compared with the reference run, from the ledger (``ledger.sqlite``, read
read-only), the workers' own JSONL logs of every provider invocation, and the run reopened
with ``LabelGraph.open(run_dir, read_only=True)``:

- restarts: the ``metrics`` and ``decisions`` rounds must be 1..n; gaps and repeated rows
  are counted apart, and so are rounds re-run (a resumed process writing an event for a
  round before the last one the ledger had already recorded when it started);
- labels lost / unverified: labels without a verdict at the end, and memory size (the
  ``result().dataset`` length) against the reference's;
- labels bought twice: item texts the provider was asked about more than once across
  processes;
- calls paid twice vs calls in flight: provider invocations across all processes minus rows
  of ``calls``, against the calls left in ``pending_calls`` at the kills (which the next driver
  moves to ``orphan_calls``); the promise is paid twice <= in flight;
- budget overruns: ledger totals against the ``Budget``;
- stop reason: it must be the reference's (``budget exhausted: labels``).

It prints a Markdown table and every problem found (with the trial's kills: delay, the last
node and event the process logged, calls open at the kill, ledger rows); ``--out`` writes it
all, per trial and per kill, as JSON. Stderr of a process that exits non-zero without being
killed is kept. Trial directories are deleted unless ``--keep`` is given or the trial failed.
This is a measurement, not a test: the exit code is 0 unless the reference run fails.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from provenance import command, commit

WORKER = Path(__file__).resolve().parent / "crash_worker.py"
BUDGET_LABELS = 40
EXPECTED_STOP = "budget exhausted: labels"
PROCESS_TIMEOUT_S = 300.0
POLL_S = 0.002
MAX_FAILURES = 2  # processes exiting non-zero without a kill before a trial is abandoned


# -- one process ------------------------------------------------------------------------
@dataclass
class Process:
    """One worker process of a trial and how it ended."""

    pid: int
    returncode: int | None
    killed: bool  # our SIGKILL ended it while its run was still going
    late_kill: bool  # our SIGKILL ended it after its run had finished (not counted)
    planned_delay: float | None  # seconds after its start line; None: let it finish
    early: bool  # the delay was drawn from the bootstrap window
    seconds: float  # from spawn to reaped
    stderr_tail: str = ""  # kept when it exited non-zero without being killed
    stdout: str = ""
    at_kill: dict[str, Any] = field(default_factory=dict)  # what the logs and ledger showed


def read_log(path: Path) -> list[dict[str, Any]]:
    """The lines of a worker's JSONL log; a torn last line (there should be none) is kept
    as ``{"kind": "torn"}``."""
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            out.append({"kind": "torn", "raw": line[:200]})
    return out


def spawn(run_dir: Path, seed: int, delay: float | None, early: bool) -> Process:
    """Start a worker on ``run_dir``; SIGKILL it ``delay`` s after its start line (if it is
    still running); reap it and say how it ended."""
    run_dir.mkdir(parents=True, exist_ok=True)
    out_path, err_path = run_dir / f"out.{seed}.txt", run_dir / f"err.{seed}.txt"
    began = time.monotonic()
    with out_path.open("w") as out, err_path.open("w") as err:
        proc = subprocess.Popen([sys.executable, str(WORKER), "run", str(run_dir), str(seed)],
                                stdout=out, stderr=err)
        log = run_dir / f"log.{proc.pid}.jsonl"
        started = None
        while proc.poll() is None and time.monotonic() - began < PROCESS_TIMEOUT_S:
            if log.exists() and log.stat().st_size > 0:
                started = time.monotonic()
                break
            time.sleep(POLL_S)
        sent_kill = False
        if delay is not None and started is not None:
            deadline = started + delay
            while proc.poll() is None and time.monotonic() < deadline:
                time.sleep(min(POLL_S, max(0.0, deadline - time.monotonic())))
            if proc.poll() is None:  # not reaped yet: the pid is still ours
                os.kill(proc.pid, signal.SIGKILL)
                sent_kill = True
        try:
            proc.wait(timeout=max(1.0, PROCESS_TIMEOUT_S - (time.monotonic() - began)))
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
    seconds = time.monotonic() - began
    lines = read_log(log)
    finished = any(x["kind"] == "done" for x in lines)
    by_us = sent_kill and proc.returncode == -signal.SIGKILL
    p = Process(pid=proc.pid, returncode=proc.returncode, killed=by_us and not finished,
                late_kill=by_us and finished, planned_delay=delay, early=early,
                seconds=round(seconds, 3), stdout=out_path.read_text()[-2000:])
    if proc.returncode != 0 and not by_us:
        p.stderr_tail = err_path.read_text()[-6000:]
    if p.killed:
        p.at_kill = {"logs": summarize_log(lines), "ledger": ledger_snapshot(run_dir)}
    return p


def summarize_log(lines: list[dict[str, Any]]) -> dict[str, Any]:
    """Where a killed process was: its last node, last event, calls without a reply."""
    t0 = lines[0]["t"] if lines else 0.0
    updates = [x for x in lines if x["kind"] == "update"]
    events = [x for x in lines if x["kind"] == "event"]
    open_calls = Counter(x["text"] for x in lines if x["kind"] == "call")
    open_calls.subtract(Counter(x["text"] for x in lines if x["kind"] == "reply"))
    return {"last_node": updates[-1]["nodes"] if updates else None,
            "last_event": [events[-1]["type"], events[-1]["round"]] if events else None,
            "seconds_logged": round(lines[-1]["t"] - t0, 3) if lines else 0.0,
            "calls": sum(x["kind"] == "call" for x in lines),
            "calls_open": sorted(t for t, n in open_calls.items() if n > 0),
            "torn_lines": sum(x["kind"] == "torn" for x in lines),
            "tail": [{k: v for k, v in x.items() if k != "t"} for x in lines[-4:]]}


# -- the ledger, read-only ---------------------------------------------------------------
def connect(run_dir: Path) -> sqlite3.Connection | None:
    """A read-only connection to the run's ledger (None when there is none yet)."""
    path = run_dir / "ledger.sqlite"
    if not path.exists():
        return None
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchall()
        return conn
    except sqlite3.Error:  # a WAL database without its -shm file: open it normally
        return sqlite3.connect(path)


def rows(conn: sqlite3.Connection, sql: str) -> list[tuple[Any, ...]]:
    """Rows of a query; an empty list when the table does not exist yet."""
    try:
        return conn.execute(sql).fetchall()
    except sqlite3.OperationalError:
        return []


def ledger_snapshot(run_dir: Path) -> dict[str, Any]:
    """The ledger right after a kill: counts, last rounds and the calls left pending."""
    conn = connect(run_dir)
    if conn is None:
        return {"exists": False}
    try:
        labels = rows(conn, "SELECT item_id FROM labels")
        verified = {i for (i,) in rows(conn, "SELECT item_id FROM verdicts")}
        return {
            "exists": True, "labels": len(labels),
            "unverified": sum(i not in verified for (i,) in labels),
            "calls": rows(conn, "SELECT COUNT(*) FROM calls")[0][0],
            "metrics_rounds": [r for (r,) in rows(conn, "SELECT round FROM metrics "
                                                        "ORDER BY round")],
            "decision_rounds": [r for (r,) in rows(conn, "SELECT round FROM decisions "
                                                         "ORDER BY round")],
            "pending": [[c, a, r, t] for c, a, r, t in rows(
                conn, "SELECT call_id, agent, round, created FROM pending_calls")],
            "orphans": len(rows(conn, "SELECT call_id FROM orphan_calls")),
        }
    finally:
        conn.close()


def round_problems(rounds: list[int]) -> dict[str, list[int]]:
    """Gaps in 1..max(rounds), and rounds present more than once."""
    counts = Counter(rounds)
    top = max(rounds, default=0)
    return {"gaps": [r for r in range(1, top + 1) if r not in counts],
            "repeats": sorted(r for r, n in counts.items() if n > 1),
            "outside": sorted(r for r in counts if r < 1)}


# -- one trial --------------------------------------------------------------------------
@dataclass
class Reference:
    """The uninterrupted run: how long it takes and what it ends with."""

    run_seconds: float  # from the start line to the done line
    bootstrap_seconds: float  # from the start line to the bootstrap update
    process_seconds: float
    outcome: dict[str, Any]


def inspect(run_dir: Path) -> dict[str, Any]:
    """The run reopened read-only (in a fresh process): memory size, stop reason, cost."""
    done = subprocess.run([sys.executable, str(WORKER), "inspect", str(run_dir)],
                          capture_output=True, text=True, timeout=PROCESS_TIMEOUT_S)
    if done.returncode != 0:
        return {"error": done.stderr[-4000:]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def analyse(run_dir: Path, processes: list[Process], ref: Reference | None) -> dict[str, Any]:
    """Compare a finished (or abandoned) trial's ledger and logs with the reference."""
    logs = {p.pid: read_log(run_dir / f"log.{p.pid}.jsonl") for p in processes}
    invoked = Counter(x["text"] for lines in logs.values() for x in lines
                      if x["kind"] == "call")
    conn = connect(run_dir)
    if conn is None:
        return {"error": "no ledger"}
    try:
        labels = rows(conn, "SELECT item_id, source, text FROM labels")
        verified = {i for (i,) in rows(conn, "SELECT item_id FROM verdicts")}
        answered = rows(conn, "SELECT COUNT(*) FROM calls")[0][0]
        metrics = [r for (r,) in rows(conn, "SELECT round FROM metrics ORDER BY created")]
        decisions = [r for (r,) in rows(conn, "SELECT round FROM decisions ORDER BY created")]
        orphans = rows(conn, "SELECT call_id, created FROM orphan_calls")
        pending_left = rows(conn, "SELECT COUNT(*) FROM pending_calls")[0][0]
        tokens, usd = rows(conn, "SELECT COALESCE(SUM(input_tokens + output_tokens), 0), "
                                 "COALESCE(SUM(usd), 0) FROM calls")[0]
        orphan_tokens, orphan_usd = rows(conn, "SELECT COALESCE(SUM(tokens), 0), "
                                               "COALESCE(SUM(usd), 0) FROM orphan_calls")[0]
    finally:
        conn.close()
    # In flight at the kills: every pending row a kill left (a row survives a second kill
    # when the next driver died before orphaning it: count it once).
    in_flight: set[tuple[str, float]] = set()
    new_per_kill: list[int] = []
    for p in processes:
        if p.killed:
            left = {(c, t) for c, _a, _r, t in p.at_kill.get("ledger", {}).get("pending", [])}
            new_per_kill.append(len(left - in_flight))
            in_flight |= left
    # Rounds re-run: a resumed process logging an event for a round before the last one
    # the ledger had when it started (the round it was killed in may be finished again).
    rerun: list[dict[str, Any]] = []
    before: dict[str, Any] = {}
    for p in processes:
        last = max([*before.get("metrics_rounds", []), *before.get("decision_rounds", [])],
                   default=0)
        early = sorted({x["round"] for x in logs[p.pid] if x["kind"] == "event"
                        and x["type"] in ("Decided", "Learned", "Labeled", "Verified")
                        and x["round"] is not None and 0 < x["round"] < last})
        if early:
            rerun.append({"pid": p.pid, "ledger_last_round_at_start": last, "rounds": early})
        if p.killed:
            before = p.at_kill.get("ledger", {})
    reopened = inspect(run_dir)
    out: dict[str, Any] = {
        "labels": len(labels), "answered_calls": answered,
        "invocations": sum(invoked.values()),
        "paid_twice": sum(invoked.values()) - answered,
        "in_flight_at_kills": len(in_flight), "in_flight_per_kill": new_per_kill,
        "orphan_calls": len(orphans),
        "pending_left": pending_left,
        "items_asked_twice": sorted(t for t, n in invoked.items() if n > 1),
        "unverified": sorted(t for i, _s, t in labels if i not in verified),
        "metrics_rounds": round_problems(metrics), "decision_rounds": round_problems(decisions),
        "metrics_in_order": metrics == sorted(metrics),
        "decisions_in_order": decisions == sorted(decisions),
        "n_metrics_rounds": len(metrics), "n_decision_rounds": len(decisions),
        "rounds_rerun": rerun,
        "tokens": int(tokens + orphan_tokens), "usd": float(usd + orphan_usd),
        "memory": reopened.get("memory"), "stop_reason": reopened.get("stop_reason"),
        "chroma_matches_ledger": reopened.get("chroma_matches_ledger"),
        "reopen_error": reopened.get("error"),
    }
    out["overruns"] = [f"labels {len(labels)} > {BUDGET_LABELS}"] \
        if len(labels) > BUDGET_LABELS else []
    if ref is not None:
        out["memory_vs_reference"] = (reopened.get("memory") or 0) - ref.outcome["memory"]
        out["same_dataset_as_reference"] = reopened.get("dataset") == ref.outcome["dataset"]
        out["rounds_vs_reference"] = len(metrics) - ref.outcome["n_metrics_rounds"]
    return out


def problems(result: dict[str, Any], finished: bool) -> list[str]:
    """What in a trial's analysis breaks a durability promise."""
    found = []
    if not finished:
        found.append("run could not finish")
    if result.get("error") or result.get("reopen_error"):
        found.append(f"error: {result.get('error') or result.get('reopen_error')}")
        return found
    for table in ("metrics_rounds", "decision_rounds"):
        for kind, bad in result[table].items():
            if bad:
                found.append(f"{table}: {kind} {bad}")
    for table in ("metrics", "decisions"):
        if not result[f"{table}_in_order"]:
            found.append(f"{table} rounds recorded out of order")
    if result["rounds_rerun"]:
        found.append(f"rounds re-run: {result['rounds_rerun']}")
    if result["unverified"]:
        found.append(f"{len(result['unverified'])} labels never verified")
    if result.get("memory_vs_reference"):
        found.append(f"memory size {result['memory']} vs reference "
                     f"{result['memory'] - result['memory_vs_reference']}")
    if result.get("chroma_matches_ledger") is False:
        found.append("Chroma does not hold what the ledger says")
    if result["paid_twice"] > result["in_flight_at_kills"]:
        found.append(f"paid twice {result['paid_twice']} > in flight "
                     f"{result['in_flight_at_kills']}")
    if result["paid_twice"] < 0:
        found.append(f"fewer invocations ({result['invocations']}) than answered calls "
                     f"({result['answered_calls']})")
    if len(result["items_asked_twice"]) > result["in_flight_at_kills"]:
        found.append(f"{len(result['items_asked_twice'])} items asked twice > in flight "
                     f"{result['in_flight_at_kills']}")
    if result["orphan_calls"] != result["in_flight_at_kills"]:
        found.append(f"orphan_calls {result['orphan_calls']} != calls pending at kills "
                     f"{result['in_flight_at_kills']}")
    if result["pending_left"]:
        found.append(f"{result['pending_left']} calls still pending at the end")
    found += [f"budget overrun: {o}" for o in result["overruns"]]
    if result["stop_reason"] != EXPECTED_STOP:
        found.append(f"stop reason {result['stop_reason']!r}")
    return found


def run_trial(index: int, base: Path, rng: random.Random, ref: Reference, max_kills: int,
              early_share: float) -> dict[str, Any]:
    """One trial: kill, resume, ..., until a process exits by itself; then analyse it."""
    run_dir = base / f"trial{index:03d}" / "run"
    processes: list[Process] = []
    failures, finished, began = 0, False, time.monotonic()
    while not finished and failures <= MAX_FAILURES:
        kills = sum(p.killed for p in processes)
        delay, early = None, False
        run_over = any(p.late_kill for p in processes)  # a kill now would hit no run
        if kills < max_kills and failures == 0 and not run_over:
            early = rng.random() < early_share
            delay = rng.uniform(0.0, ref.bootstrap_seconds) if early \
                else rng.uniform(0.05, 1.0) * ref.run_seconds
        p = spawn(run_dir, rng.randrange(2**31), delay, early)
        processes.append(p)
        if p.returncode == 0:
            finished = True
        elif not (p.killed or p.late_kill):
            failures += 1
    result = analyse(run_dir, processes, ref)
    found = problems(result, finished)
    record = {"trial": index, "run_dir": str(run_dir), "finished": finished,
              "kills": sum(p.killed for p in processes),
              "early_kills": sum(p.killed and p.early for p in processes),
              "late_kills": sum(p.late_kill for p in processes),
              "seconds": round(time.monotonic() - began, 2), "problems": found,
              "worker_errors": [{"pid": p.pid, "returncode": p.returncode,
                                 "stderr": p.stderr_tail} for p in processes if p.stderr_tail],
              "result": result, "processes": [asdict(p) for p in processes]}
    if record["worker_errors"]:
        found.append(f"{len(record['worker_errors'])} worker(s) exited non-zero unkilled")
    return record


def measure_reference(base: Path) -> Reference:
    """Run the configuration once without kills: its timings and its outcome."""
    run_dir = base / "reference" / "run"
    p = spawn(run_dir, 0, None, False)
    if p.returncode != 0:
        raise SystemExit(f"the reference run failed:\n{p.stderr_tail}")
    lines = read_log(run_dir / f"log.{p.pid}.jsonl")
    t0 = lines[0]["t"]
    boot = next(x["t"] for x in lines if x["kind"] == "update" and "bootstrap" in x["nodes"])
    done = next(x["t"] for x in lines if x["kind"] == "done")
    outcome = inspect(run_dir)
    analysis = analyse(run_dir, [p], None)
    outcome.update(n_metrics_rounds=analysis["n_metrics_rounds"],
                   invocations=analysis["invocations"], tokens=analysis["tokens"],
                   problems=problems(analysis, True))
    return Reference(run_seconds=done - t0, bootstrap_seconds=boot - t0,
                     process_seconds=p.seconds, outcome=outcome)


# -- the report -------------------------------------------------------------------------
def summary(trials: list[dict[str, Any]], wall: float) -> dict[str, Any]:
    """Totals over the trials."""
    ok = [t for t in trials if "error" not in t["result"]]

    def total(key: str) -> int:
        return sum(int(t["result"].get(key, 0)) for t in ok)

    restarts = [t for t in ok if t["result"]["rounds_rerun"]
                or any(t["result"][k]["repeats"] or t["result"][k]["outside"]
                       for k in ("metrics_rounds", "decision_rounds"))]
    gaps = [t for t in ok if any(t["result"][k]["gaps"]
                                 for k in ("metrics_rounds", "decision_rounds"))]
    kills = sum(t["kills"] for t in trials)
    at_kill = [p["at_kill"] for t in trials for p in t["processes"] if p["killed"]]
    phases = Counter("after " + "+".join(a["logs"]["last_node"]) if a["logs"]["last_node"]
                     else "before bootstrap ended" for a in at_kill)
    return {
        "trials": len(trials), "kills": kills,
        "early_kills": sum(t["early_kills"] for t in trials),
        "late_kills_not_counted": sum(t["late_kills"] for t in trials),
        "kill_phases": dict(phases.most_common()),
        "kills_with_calls_pending": sum(1 for t in trials
                                        for n in t["result"].get("in_flight_per_kill", [])
                                        if n),
        "kills_with_provider_calls_open": sum(1 for a in at_kill if a["logs"]["calls_open"]),
        "kills_with_unverified_labels": sum(1 for a in at_kill
                                            if a["ledger"].get("unverified")),
        "restarts": len(restarts), "round_gaps": len(gaps),
        "labels_unverified": sum(len(t["result"]["unverified"]) for t in ok),
        "memory_short": sum(1 for t in ok if (t["result"].get("memory_vs_reference") or 0) < 0),
        "memory_differs": sum(1 for t in ok if t["result"].get("memory_vs_reference")),
        "dataset_differs": sum(1 for t in ok if not t["result"].get("same_dataset_as_reference")),
        "chroma_differs": sum(1 for t in ok if not t["result"].get("chroma_matches_ledger")),
        "items_asked_twice": sum(len(t["result"]["items_asked_twice"]) for t in ok),
        "calls_paid_twice": total("paid_twice"),
        "calls_in_flight_at_kills": total("in_flight_at_kills"),
        "trials_paid_twice_over_in_flight": sum(
            1 for t in ok if t["result"]["paid_twice"] > t["result"]["in_flight_at_kills"]),
        "budget_overruns": sum(1 for t in ok if t["result"]["overruns"]),
        "abnormal_stops": sum(1 for t in ok if t["result"]["stop_reason"] != EXPECTED_STOP),
        "unfinished": sum(1 for t in trials if not t["finished"]),
        "worker_errors": sum(len(t["worker_errors"]) for t in trials),
        "trials_with_problems": sum(1 for t in trials if t["problems"]),
        "mean_kills_per_trial": round(kills / len(trials), 2) if trials else 0.0,
        "wall_seconds": round(wall, 1),
    }


def markdown(s: dict[str, Any], ref: Reference) -> str:
    """The summary as a Markdown table, then the reference run."""
    head = ["trials", "kills", "restarts", "labels lost/unverified", "calls paid twice",
            "calls in flight at kills", "budget overruns", "mean kills per trial", "wall time"]
    lost = f"{s['labels_unverified']} unverified, {s['memory_short']} runs short in memory"
    row = [s["trials"], f"{s['kills']} ({s['early_kills']} in bootstrap)",
           f"{s['restarts']} (gaps: {s['round_gaps']})", lost,
           f"{s['calls_paid_twice']} ({s['items_asked_twice']} items asked twice)",
           s["calls_in_flight_at_kills"], s["budget_overruns"], s["mean_kills_per_trial"],
           f"{s['wall_seconds']} s"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head),
             "| " + " | ".join(str(x) for x in row) + " |", "",
             f"Reference (uninterrupted): run {ref.run_seconds:.2f} s after imports "
             f"(bootstrap {ref.bootstrap_seconds:.2f} s), memory {ref.outcome['memory']}, "
             f"{ref.outcome['invocations']} provider calls, {ref.outcome['tokens']} tokens, "
             f"stop: {ref.outcome['stop_reason']!r}.",
             f"Also: unfinished runs {s['unfinished']}, abnormal stops {s['abnormal_stops']}, "
             f"trials paid twice > in flight {s['trials_paid_twice_over_in_flight']}, "
             f"memory differs from reference {s['memory_differs']}, labeled dataset differs "
             f"{s['dataset_differs']}, Chroma differs from the ledger {s['chroma_differs']}, "
             f"worker errors {s['worker_errors']}, late kills not "
             f"counted {s['late_kills_not_counted']}.",
             f"Where the kills landed (last node the process finished): "
             f"{', '.join(f'{k}: {v}' for k, v in s['kill_phases'].items())}; "
             f"{s['kills_with_calls_pending']} left new calls pending in the ledger, "
             f"{s['kills_with_provider_calls_open']} with provider calls open, "
             f"{s['kills_with_unverified_labels']} left bought labels unverified."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Parse the command line, run the reference and the trials, print the report."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=50, help="kills to reach (default 50)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the kill schedule")
    parser.add_argument("--out", type=Path, help="write everything as JSON here")
    parser.add_argument("--max-kills", type=int, default=6, help="kills per trial at most")
    parser.add_argument("--early", type=float, default=0.25,
                        help="share of delays drawn from the bootstrap window")
    parser.add_argument("--keep", action="store_true", help="keep every trial's directory")
    args = parser.parse_args(argv)
    began = time.monotonic()
    base = Path(tempfile.mkdtemp(prefix="labelgraph-crash-"))
    ref = measure_reference(base)
    print(f"reference: {ref.run_seconds:.2f} s run, {ref.bootstrap_seconds:.2f} s bootstrap, "
          f"{ref.process_seconds:.2f} s process; problems: {ref.outcome['problems'] or 'none'}",
          file=sys.stderr)
    trials: list[dict[str, Any]] = []
    while sum(t["kills"] for t in trials) < args.kills:
        rng = random.Random(args.seed * 1_000_003 + len(trials))
        trial = run_trial(len(trials), base, rng, ref, args.max_kills, args.early)
        trials.append(trial)
        print(f"trial {trial['trial']}: {trial['kills']} kills, {trial['seconds']} s, "
              f"problems: {trial['problems'] or 'none'}", file=sys.stderr)
        if not trial["problems"] and not args.keep:
            shutil.rmtree(Path(trial["run_dir"]).parent, ignore_errors=True)
    s = summary(trials, time.monotonic() - began)
    print(markdown(s, ref))
    failed = [t for t in trials if t["problems"]]
    for t in failed:
        print(f"\n### trial {t['trial']} ({t['run_dir']})")
        for problem in t["problems"]:
            print(f"- {problem}")
        for p in t["processes"]:
            if p["killed"]:
                print(f"  - killed pid {p['pid']} at {p['planned_delay']:.3f} s: "
                      f"{json.dumps(p['at_kill']['logs'], default=str)[:600]}")
        for err in t["worker_errors"]:
            print(f"  - pid {err['pid']} exited {err['returncode']}:\n{err['stderr'][-1500:]}")
    if not failed and not args.keep:
        shutil.rmtree(base, ignore_errors=True)
    if args.out:
        made = {"command": command(sys.argv if argv is None else [__file__, *argv]),
                "commit": commit()}
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({**made, "summary": s,
                                        "reference": asdict(ref), "trials": trials},
                                       indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
