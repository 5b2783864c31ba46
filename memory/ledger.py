"""The ledger: an append-only SQLite record of every label bought, LLM call paid and decision made.

It is the run's source of truth. Rows are keyed by content hashes and written with
``ON CONFLICT DO NOTHING`` (a bad row still fails the whole write), so a node that re-runs
after a crash writes the same rows and buys nothing twice; the Chroma memory and the
budget meter are rebuilt from it. Its tables, and how an older ledger is opened, are
:mod:`labelgraph.memory.ledger_schema`.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from labelgraph.memory.ledger_schema import LABEL_COLUMNS, connect


@dataclass(frozen=True)
class LabelRow:
    """One label bought for one item from one source.

    ``usd`` is the label's own price (a person's or a simulated source's, counted in the
    run's spend); ``tokens`` and ``call_usd`` are what the LLM calls behind it cost (counted
    with the calls); ``signals`` is the JSON of the confidence signals it was judged by.
    """

    item_id: str
    source: str
    text: str
    label: str | None
    confidence: float | None
    origin: str
    intended: str | None
    round: int
    usd: float = 0.0
    tokens: int = 0
    note: str | None = None
    call_usd: float = 0.0
    signals: str | None = None

    @property
    def cost(self) -> float:
        """Everything this label cost in dollars: its price and its LLM calls."""
        return float(self.usd) + float(self.call_usd)


@dataclass(frozen=True)
class CallRow:
    """One paid LLM call and its raw output, replayed instead of re-bought."""

    call_id: str
    agent: str
    model: str
    output: str
    input_tokens: int
    output_tokens: int
    usd: float
    round: int


SOURCE_RANK = {"human": 4, "oracle": 3, "strong": 2, "llm": 1}


def item_costs(rows: Iterable[LabelRow]) -> dict[str, float]:
    """Per item, everything it cost: the sum over every source it was bought from."""
    cost: dict[str, float] = {}
    for r in rows:
        cost[r.item_id] = cost.get(r.item_id, 0.0) + r.cost
    return {item_id: round(total, 8) for item_id, total in cost.items()}


def most_authoritative(rows: Iterable[LabelRow]) -> dict[str, LabelRow]:
    """Per item, the label of the most authoritative source: human, oracle, a stronger
    model, then the LLM."""
    best: dict[str, LabelRow] = {}
    for row in rows:
        old = best.get(row.item_id)
        if old is None or SOURCE_RANK.get(row.source, 0) > SOURCE_RANK.get(old.source, 0):
            best[row.item_id] = row
    return best


class Ledger:
    """Append-only SQLite ledger; ``path=":memory:"`` for a throw-away one.

    ``read_only=True`` opens it for a watcher: nothing can be written (SQLite refuses), and
    tables an older ledger lacks are stood in for by empty temporary ones.
    """

    def __init__(self, path: str | Path = ":memory:", *, read_only: bool = False) -> None:
        self.path = str(path)
        self._lock = threading.RLock()
        self._timings: list[tuple[int, str, float, float]] = []  # not yet written
        self._read_only = read_only
        self._conn = connect(self.path, read_only=read_only)

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
                if self._timings:  # node timings ride along with the next real write
                    self._conn.executemany("INSERT INTO timings VALUES (?,?,?,?)",
                                           self._timings)
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")
            self._timings = []

    def close(self) -> None:
        with self._lock:
            if self._timings and not self._read_only:
                with self._tx():
                    pass
        self._conn.close()

    # -- writes (idempotent) -------------------------------------------------------
    def record_labels(self, rows: Iterable[LabelRow]) -> int:
        """Store labels; a row for an (item, source) already present is kept as it was."""
        now = time.time()
        with self._tx() as conn:
            cur = conn.executemany(
                f"INSERT INTO labels ({LABEL_COLUMNS}, created) VALUES "
                f"(?,?,?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT(item_id, source) DO NOTHING",
                [(r.item_id, r.source, r.text, r.label, r.confidence, r.origin, r.intended,
                  r.round, r.usd, r.tokens, r.note, r.call_usd, r.signals, now)
                 for r in rows],
            )
            return cur.rowcount

    def record_pending(self, call_id: str, agent: str, model: str, tokens: int, usd: float,
                       round_: int) -> None:
        """Write a call ahead, with its reservation, before it goes out: if the process dies
        while it is in flight, what it may have cost still counts (see orphan_pending)."""
        with self._tx() as conn:
            conn.execute("INSERT INTO pending_calls VALUES (?,?,?,?,?,?,?) "
                         "ON CONFLICT(call_id) DO NOTHING",
                         (call_id, agent, model, tokens, usd, round_, time.time()))

    def drop_pending(self, call_id: str) -> None:
        """A call that failed without an answer: nothing to charge."""
        with self._tx() as conn:
            conn.execute("DELETE FROM pending_calls WHERE call_id = ?", (call_id,))

    def orphan_pending(self) -> int:
        """Calls left pending by a dead driver become orphans, charged at their reservation
        from now on; returns how many. Only the run's one driver calls this."""
        with self._tx() as conn:
            conn.execute("INSERT OR IGNORE INTO orphan_calls SELECT * FROM pending_calls")
            return conn.execute("DELETE FROM pending_calls").rowcount

    def orphans(self) -> list[dict[str, Any]]:
        """Calls that were in flight when a driver died (each may have been paid)."""
        return [{"call_id": c, "agent": a, "tokens": t, "usd": u, "round": r} for c, a, t, u, r
                in self._rows("SELECT call_id, agent, tokens, usd, round FROM orphan_calls "
                              "ORDER BY created")]

    def record_call(self, row: CallRow) -> None:
        """Record an answered call (the moment it arrives) and clear its pending row."""
        with self._tx() as conn:
            conn.execute(
                "INSERT INTO calls VALUES (?,?,?,?,?,?,?,?,?) ON CONFLICT(call_id) DO NOTHING",
                (row.call_id, row.agent, row.model, row.output, row.input_tokens,
                 row.output_tokens, row.usd, row.round, time.time()),
            )
            conn.execute("DELETE FROM pending_calls WHERE call_id = ?", (row.call_id,))

    def record_verdicts(self, rows: Iterable[tuple[str, int, str, str | None, str]]) -> None:
        """Rows of (item_id, round, verdict, label, reason)."""
        now = time.time()
        with self._tx() as conn:
            conn.executemany(
                "INSERT INTO verdicts VALUES (?,?,?,?,?,?) "
                "ON CONFLICT(item_id, round) DO NOTHING",
                [(*row, now) for row in rows],
            )

    def record_tool_call(self, call_id: str, agent: str, tool: str, arguments: str,
                         result: str, round_: int) -> None:
        """Record a tool's result the moment it returns: a resumed run replays it, so a tool
        with side effects never runs twice for the same step."""
        with self._tx() as conn:
            conn.execute("INSERT INTO tool_calls VALUES (?,?,?,?,?,?,?) "
                         "ON CONFLICT(call_id) DO NOTHING",
                         (call_id, agent, tool, arguments, result, round_, time.time()))

    def tool_result(self, call_id: str) -> str | None:
        rows = self._rows("SELECT result FROM tool_calls WHERE call_id = ?", (call_id,))
        return rows[0][0] if rows else None

    def tool_calls(self) -> list[dict[str, Any]]:
        return [{"agent": a, "tool": t, "arguments": json.loads(g), "result": r, "round": n}
                for a, t, g, r, n in self._rows(
                    "SELECT agent, tool, arguments, result, round FROM tool_calls "
                    "ORDER BY created")]

    def record_human(self, round_: int, kind: str, payload: dict[str, Any]) -> None:
        """Record what a person did to the run: "steer" (settings, budget, a forced action),
        "correct" or "reject" (a label in memory), "continue" (a stopped run goes on),
        "pause" or "go" (a front-end paused the run, or let it go on)."""
        with self._tx() as conn:
            conn.execute("INSERT INTO human_actions (round, kind, payload, created) "
                         "VALUES (?,?,?,?)", (round_, kind, json.dumps(payload), time.time()))

    def record_skips(self, item_ids: Iterable[str], round_: int, reason: str) -> None:
        """Items a person skipped (or handed back with nobody else to label them): they are
        not selected again. Idempotent, so a re-run step writes the same rows."""
        rows = [(i, round_, reason, time.time()) for i in item_ids]
        if rows:
            with self._tx() as conn:
                conn.executemany("INSERT OR IGNORE INTO skips VALUES (?,?,?,?)", rows)

    def skipped_ids(self) -> set[str]:
        return {row[0] for row in self._rows("SELECT item_id FROM skips")}

    def human_actions(self) -> list[dict[str, Any]]:
        return [{"round": r, "kind": k, "payload": json.loads(p), "created": c}
                for r, k, p, c in self._rows("SELECT round, kind, payload, created FROM "
                                             "human_actions ORDER BY seq")]

    def corrections(self) -> dict[str, str | None]:
        """The latest human correction per item: its new label, or None if rejected."""
        out: dict[str, str | None] = {}
        for action in self.human_actions():
            if action["kind"] in {"correct", "reject"}:
                out[action["payload"]["item_id"]] = action["payload"].get("label")
        return out

    def sources_in_round(self, round_: int) -> dict[str, int]:
        """Labels bought in one round, by source."""
        return {s: int(n) for s, n in self._rows(
            "SELECT source, COUNT(*) FROM labels WHERE round = ? GROUP BY source", (round_,))}

    def calls_by_agent(self) -> dict[str, dict[str, float]]:
        """LLM calls, tokens and dollars per agent."""
        return {a: {"calls": int(n), "tokens": int(t or 0), "usd": float(u or 0.0)}
                for a, n, t, u in self._rows(
                    "SELECT agent, COUNT(*), SUM(input_tokens + output_tokens), SUM(usd) "
                    "FROM calls GROUP BY agent")}

    def record_audit(self, round_: int, rows: Iterable[tuple[str, str | None, str | None,
                                                        float, str, str | None, str]]) -> None:
        """Record an audit's findings: (item_id, label, source, score, action, suggested
        label, reason) per label; an audit re-run in the same round keeps its first rows."""
        now = time.time()
        with self._tx() as conn:
            conn.executemany("INSERT INTO audits VALUES (?,?,?,?,?,?,?,?,?) ON CONFLICT DO "
                             "NOTHING", [(round_, *row, now) for row in rows])

    def audits(self, round_: int | None = None) -> list[dict[str, Any]]:
        """Audit findings, oldest first (one round's with ``round_``)."""
        where, args = ("WHERE round = ?", (round_,)) if round_ is not None else ("", ())
        keys = ("round", "item_id", "label", "source", "score", "action", "suggested",
                "reason")
        return [dict(zip(keys, row, strict=True)) for row in self._rows(
            f"SELECT {', '.join(keys)} FROM audits {where} ORDER BY round, score DESC",
            args)]

    def cost_by_source(self) -> dict[str, dict[str, float]]:
        """Per label source: labels, price paid, LLM tokens and LLM dollars."""
        return {s: {"labels": int(n), "usd": float(u), "tokens": int(t), "call_usd": float(c)}
                for s, n, u, t, c in self._rows(
                    "SELECT source, COUNT(*), COALESCE(SUM(usd), 0), COALESCE(SUM(tokens), 0), "
                    "COALESCE(SUM(call_usd), 0) FROM labels WHERE label IS NOT NULL "
                    "GROUP BY source")}

    def bought_twice(self) -> int:
        """Items with labels from more than one source (paid for twice or more)."""
        (n,) = self._rows("SELECT COUNT(*) FROM (SELECT item_id FROM labels WHERE label IS "
                          "NOT NULL GROUP BY item_id HAVING COUNT(*) > 1)")[0]
        return int(n)

    def record_anomaly(self, call_id: str, kind: str, detail: str, round_: int) -> None:
        """Note something suspicious about a call (e.g. reported usage that was clamped)."""
        with self._tx() as conn:
            conn.execute("INSERT INTO anomalies VALUES (?,?,?,?,?) "
                         "ON CONFLICT(call_id, kind) DO NOTHING",
                         (call_id, kind, detail, round_, time.time()))

    def anomalies(self) -> list[dict[str, Any]]:
        return [{"call_id": c, "kind": k, "detail": d, "round": r} for c, k, d, r in
                self._rows("SELECT call_id, kind, detail, round FROM anomalies ORDER BY created")]

    def record_decision(self, round_: int, decision: dict[str, Any]) -> None:
        with self._tx() as conn:
            conn.execute("INSERT INTO decisions VALUES (?,?,?) ON CONFLICT(round) DO NOTHING",
                         (round_, json.dumps(decision), time.time()))

    def record_timing(self, round_: int, node: str, seconds: float) -> None:
        """How long a graph node took in a round. Kept in memory and written with the
        ledger's next write (or at close), so timing costs no disk sync of its own; a crash
        loses at most the timings since the last write."""
        with self._lock:
            self._timings.append((int(round_), str(node), float(seconds), time.time()))

    def timings(self) -> list[dict[str, Any]]:
        """Every recorded node timing: round, node, seconds (written or not yet)."""
        with self._lock:
            rows = self._rows("SELECT round, node, seconds FROM timings ORDER BY created")
            rows += [(r, n, sec) for r, n, sec, _ in self._timings]
        return [{"round": r, "node": n, "seconds": sec} for r, n, sec in rows]

    def record_metrics(self, round_: int, metrics: dict[str, Any]) -> None:
        with self._tx() as conn:
            conn.execute("INSERT INTO metrics VALUES (?,?,?) ON CONFLICT(round) DO NOTHING",
                         (round_, json.dumps(metrics), time.time()))

    # -- reads ---------------------------------------------------------------------
    def _rows(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._conn.execute(sql, args).fetchall()

    def labels_for(self, item_ids: Iterable[str]) -> dict[tuple[str, str], LabelRow]:
        """Labels already bought for these items, keyed by (item_id, source)."""
        ids = list(item_ids)
        out: dict[tuple[str, str], LabelRow] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            marks = ",".join("?" * len(chunk))
            for row in self._rows(
                f"SELECT {LABEL_COLUMNS} FROM labels WHERE item_id IN ({marks})",
                tuple(chunk)
            ):
                out[(row[0], row[1])] = LabelRow(*row)
        return out

    def all_labels(self) -> list[LabelRow]:
        return [LabelRow(*row) for row in self._rows(
            f"SELECT {LABEL_COLUMNS} FROM labels ORDER BY created, item_id")]

    def labeled_ids(self) -> set[str]:
        return {row[0] for row in self._rows("SELECT DISTINCT item_id FROM labels")}

    def call(self, call_id: str) -> CallRow | None:
        rows = self._rows(
            "SELECT call_id, agent, model, output, input_tokens, output_tokens, usd, round "
            "FROM calls WHERE call_id = ?", (call_id,))
        return CallRow(*rows[0]) if rows else None

    def totals(self) -> dict[str, float]:
        """Spend so far: labels bought, LLM tokens, dollars (calls and label prices), LLM
        calls. Calls in flight
        at a driver's death (orphans, and pending rows not yet orphaned) count at their
        reservation: they may have been paid."""
        n_labels, label_usd = self._rows("SELECT COUNT(*), COALESCE(SUM(usd), 0) FROM labels")[0]
        calls, tokens, usd = self._rows(
            "SELECT COUNT(*), COALESCE(SUM(input_tokens + output_tokens), 0), "
            "COALESCE(SUM(usd), 0) FROM calls")[0]
        lost, lost_tokens, lost_usd = self._rows(
            "SELECT COUNT(*), COALESCE(SUM(tokens), 0), COALESCE(SUM(usd), 0) FROM "
            "(SELECT tokens, usd FROM orphan_calls UNION ALL "
            "SELECT tokens, usd FROM pending_calls)")[0]
        return {"labels": int(n_labels), "tokens": int(tokens + lost_tokens),
                "usd": float(usd + lost_usd + label_usd), "calls": int(calls),
                "calls_pending_at_kill": int(lost)}

    def verdicts(self) -> dict[str, tuple[str, str | None, str]]:
        """The latest verdict per item: item_id -> (verdict, label, reason)."""
        out: dict[str, tuple[str, str | None, str]] = {}
        for item_id, verdict, label, reason in self._rows(
            "SELECT item_id, verdict, label, reason FROM verdicts ORDER BY round, created"
        ):
            out[item_id] = (verdict, label, reason)
        return out

    def verdicts_for(self, item_ids: Iterable[str], round_: int) -> dict[str, tuple[str, str]]:
        """Verdicts already given in this round: item_id -> (verdict, reason)."""
        ids = list(item_ids)
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        return {i: (v, r) for i, v, r in self._rows(
            f"SELECT item_id, verdict, reason FROM verdicts WHERE round = ? AND item_id IN "
            f"({marks})", (round_, *ids))}

    def label_outcomes(self, sources: Iterable[str], since_round: int) -> list[dict[str, Any]]:
        """What became of the labels ``sources`` gave after ``since_round``: per label, the
        item's label from the most trusted source above it (``other``, None if none) and its
        latest verdict and reason — the evidence of a model annotator being overruled."""
        names = list(sources)
        if not names:
            return []
        marks = ",".join("?" * len(names))
        def rank(column: str) -> str:
            return f"CASE {column} " + " ".join(
                f"WHEN '{s}' THEN {r}" for s, r in SOURCE_RANK.items()) + " ELSE 0 END"

        keys = ("item_id", "origin", "label", "round", "other", "verdict", "reason")
        return [dict(zip(keys, row, strict=True)) for row in self._rows(
            "SELECT l.item_id, l.origin, l.label, l.round, "
            "(SELECT o.label FROM labels o WHERE o.item_id = l.item_id AND o.label IS NOT "
            f"NULL AND {rank('o.source')} > {rank('l.source')} ORDER BY {rank('o.source')} "
            "DESC LIMIT 1), "
            "(SELECT v.verdict FROM verdicts v WHERE v.item_id = l.item_id ORDER BY v.round "
            "DESC, v.created DESC LIMIT 1), "
            "(SELECT v.reason FROM verdicts v WHERE v.item_id = l.item_id ORDER BY v.round "
            "DESC, v.created DESC LIMIT 1) "
            f"FROM labels l WHERE l.source IN ({marks}) AND l.label IS NOT NULL AND "
            "l.round > ? ORDER BY l.round, l.item_id", (*names, since_round))]

    def unverified_labels(self) -> list[LabelRow]:
        """Labels bought for items the verifier never judged (a run killed between the
        annotator and the verifier): the most authoritative source per item."""
        return list(most_authoritative(LabelRow(*row) for row in self._rows(
            f"SELECT {LABEL_COLUMNS} FROM labels WHERE label IS NOT NULL AND item_id NOT IN "
            "(SELECT item_id FROM verdicts) ORDER BY created, item_id")).values())

    def last_round(self) -> int:
        """The latest round with a decision or metrics (0 for a new run)."""
        (n,) = self._rows("SELECT MAX(r) FROM (SELECT MAX(round) AS r FROM decisions UNION "
                          "ALL SELECT MAX(round) FROM metrics)")[0]
        return int(n or 0)

    def decisions(self) -> list[dict[str, Any]]:
        return [dict(json.loads(d), round=r) for r, d in
                self._rows("SELECT round, decision FROM decisions ORDER BY round")]

    def metrics(self) -> list[dict[str, Any]]:
        return [json.loads(m) for (m,) in
                self._rows("SELECT metrics FROM metrics ORDER BY round")]

    def round_ended(self) -> float | None:
        """When the last round's row of the curve was written (seconds since the epoch)."""
        return self._rows("SELECT MAX(created) FROM metrics")[0][0]
