"""What produced a result file: the command and the commit, stamped on everything a benchmark
writes (``stamp()`` as JSON keys, ``markdown_note()`` as the last line of a Markdown table).

The command is ``sys.argv`` as it would be typed from the repository root (``python
benchmarks/NAME.py ARGS``, quoted for a POSIX shell); the commit is the checkout's ``git
rev-parse --short HEAD``, or None outside a git checkout (or without git). The commit says
which code ran only if the tree was clean: ``git status`` before a run that will be kept.
"""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def command(argv: list[str] | None = None) -> str:
    """The command line of this process, with the script's path relative to the repository
    root when it lies inside it."""
    argv = list(sys.argv if argv is None else argv)
    script = Path(argv[0]).resolve() if argv and argv[0] else None
    if script is not None and script.is_relative_to(ROOT):
        argv[0] = str(script.relative_to(ROOT))
    return shlex.join(["python", *argv])


def commit() -> str | None:
    """The short hash of the checkout's HEAD, or None when there is none to read."""
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, text=True,
                             capture_output=True, check=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def stamp() -> dict[str, str | None]:
    """``{"command": ..., "commit": ...}`` for a result file's top level (or an entry's)."""
    return {"command": command(), "commit": commit()}


def markdown_note(made: dict[str, str | None] | None = None) -> str:
    """One line naming the command and the commit (this process's, or those of ``made``, a
    ``stamp()`` read back from a result), for a Markdown result."""
    made = stamp() if made is None else made
    return f"Made by `{made['command']}` at commit {made['commit'] or 'unknown (no git checkout)'}."
