"""The run's checkpoint database (``checkpoints.sqlite``, LangGraph's ``SqliteSaver``): opened
for the one process that drives the run, or read-only for a watcher."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from labelgraph.errors import RunStateError

__all__ = ["open_checkpoints"]


def open_checkpoints(path: Path, *, read_only: bool = False) -> sqlite3.Connection:
    """A connection to the checkpoints at ``path`` (created for a driver; a watcher of a run
    that has none yet gets an empty in-memory one). A damaged file is named, with the fix."""
    if read_only:
        return sqlite3.connect(f"file:{path.resolve()}?mode=ro" if path.exists() else ":memory:",
                               uri=True, check_same_thread=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, check_same_thread=False)
    try:
        conn.execute("PRAGMA schema_version").fetchone()
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise RunStateError(f"{path} is damaged ({exc}); move it aside to restart the graph "
                            "from the ledger's records") from None
    # WAL without an fsync per commit: a killed process loses no checkpoint, and what a power
    # cut could roll back the ledger (fsynced) replays unbought.
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    return conn
