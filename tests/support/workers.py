"""Running this folder's worker scripts in a process of their own."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

WORKER = Path(__file__).parent / "crash_worker.py"


def run_worker(run_dir: Path, crash_at: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(WORKER), str(run_dir), crash_at, *extra],
                          capture_output=True, text=True, timeout=300)
