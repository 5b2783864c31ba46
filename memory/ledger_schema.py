"""The ledger's tables: their SQL, the columns added since the first release, and opening a
ledger file, for writing (tables created, older ledgers migrated) or for watching (read-only;
what an older ledger lacks is stood in for by empty temporary tables and views).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from labelgraph.errors import RunStateError

__all__ = ["ADDED_COLUMNS", "LABEL_COLUMNS", "SCHEMA", "connect"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS labels (
    item_id TEXT NOT NULL, source TEXT NOT NULL, text TEXT NOT NULL, label TEXT,
    confidence REAL, origin TEXT NOT NULL, intended TEXT, round INTEGER NOT NULL,
    usd REAL NOT NULL DEFAULT 0, tokens INTEGER NOT NULL DEFAULT 0, note TEXT,
    created REAL NOT NULL, call_usd REAL NOT NULL DEFAULT 0, signals TEXT,
    PRIMARY KEY (item_id, source));
CREATE TABLE IF NOT EXISTS calls (
    call_id TEXT PRIMARY KEY, agent TEXT NOT NULL, model TEXT NOT NULL, output TEXT NOT NULL,
    input_tokens INTEGER NOT NULL, output_tokens INTEGER NOT NULL, usd REAL NOT NULL,
    round INTEGER NOT NULL, created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS verdicts (
    item_id TEXT NOT NULL, round INTEGER NOT NULL, verdict TEXT NOT NULL, label TEXT,
    reason TEXT NOT NULL, created REAL NOT NULL, PRIMARY KEY (item_id, round));
CREATE TABLE IF NOT EXISTS decisions (
    round INTEGER PRIMARY KEY, decision TEXT NOT NULL, created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS metrics (
    round INTEGER PRIMARY KEY, metrics TEXT NOT NULL, created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS pending_calls (
    call_id TEXT PRIMARY KEY, agent TEXT NOT NULL, model TEXT NOT NULL, tokens INTEGER NOT NULL,
    usd REAL NOT NULL, round INTEGER NOT NULL, created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS orphan_calls (
    call_id TEXT NOT NULL, agent TEXT NOT NULL, model TEXT NOT NULL, tokens INTEGER NOT NULL,
    usd REAL NOT NULL, round INTEGER NOT NULL, created REAL NOT NULL,
    PRIMARY KEY (call_id, created));
CREATE TABLE IF NOT EXISTS tool_calls (
    call_id TEXT PRIMARY KEY, agent TEXT NOT NULL, tool TEXT NOT NULL, arguments TEXT NOT NULL,
    result TEXT NOT NULL, round INTEGER NOT NULL, created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS human_actions (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, round INTEGER NOT NULL, kind TEXT NOT NULL,
    payload TEXT NOT NULL, created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS audits (
    round INTEGER NOT NULL, item_id TEXT NOT NULL, label TEXT, source TEXT, score REAL NOT NULL,
    action TEXT NOT NULL, suggested TEXT, reason TEXT NOT NULL, created REAL NOT NULL,
    PRIMARY KEY (round, item_id));
CREATE TABLE IF NOT EXISTS timings (
    round INTEGER NOT NULL, node TEXT NOT NULL, seconds REAL NOT NULL, created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS skips (
    item_id TEXT PRIMARY KEY, round INTEGER NOT NULL, reason TEXT NOT NULL,
    created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS anomalies (
    call_id TEXT NOT NULL, kind TEXT NOT NULL, detail TEXT NOT NULL, round INTEGER NOT NULL,
    created REAL NOT NULL, PRIMARY KEY (call_id, kind));
"""

#: the labels table's columns, in :class:`~labelgraph.memory.ledger.LabelRow`'s field order
LABEL_COLUMNS = ("item_id, source, text, label, confidence, origin, intended, round, usd, "
                 "tokens, note, call_usd, signals")
# Columns added after the first release: an older ledger gains them on open.
ADDED_COLUMNS = {"labels": (("call_usd", "REAL NOT NULL DEFAULT 0"), ("signals", "TEXT"))}


def connect(path: str, *, read_only: bool = False) -> sqlite3.Connection:
    """A connection to the ledger at ``path`` (``":memory:"`` for a throw-away one) with every
    table in place; a damaged file or one that is no ledger is a :class:`RunStateError`."""
    if read_only and not Path(path).is_file():
        raise RunStateError(f"{path} does not exist: this run has no ledger yet")
    target = f"file:{Path(path).resolve()}?mode=ro" if read_only else path
    conn = sqlite3.connect(target, check_same_thread=False, isolation_level=None,
                           uri=read_only)
    try:
        if read_only:
            _stand_in(conn)
        else:
            if path != ":memory:":
                conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            conn.executescript(SCHEMA)
            add_columns(conn)
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise RunStateError(f"{path} is damaged or not a labelgraph ledger ({exc}); "
                            "it is the run's record of what was bought: restore it from a "
                            "backup") from None
    return conn


def _stand_in(conn: sqlite3.Connection) -> None:
    """Read-only: empty temporary tables for the tables an older ledger lacks, and views
    that show its tables with the columns added since (an older ledger, read as is)."""
    have = {n for (n,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    for statement in SCHEMA.split(";"):
        name = statement.split("EXISTS", 1)[-1].split("(", 1)[0].strip()
        if statement.strip() and name not in have:
            conn.execute(statement.replace("CREATE TABLE", "CREATE TEMP TABLE"))
    for table, columns in ADDED_COLUMNS.items():
        cols = {r[1] for r in conn.execute(f"PRAGMA table_info({table})")}
        missing = [f"NULL AS {n}" if "NOT NULL" not in kind else f"0 AS {n}"
                   for n, kind in columns if n not in cols]
        if missing:  # a temp view shadows the table for unqualified names
            conn.execute(f"CREATE TEMP VIEW {table} AS SELECT *, "
                         f"{', '.join(missing)} FROM main.{table}")


def add_columns(conn: sqlite3.Connection) -> None:
    """Give an older ledger the columns added since the first release."""
    for table, columns in ADDED_COLUMNS.items():
        have = {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}
        for name, kind in columns:
            if name not in have:
                conn.execute(f"ALTER TABLE {table} ADD COLUMN {name} {kind}")
