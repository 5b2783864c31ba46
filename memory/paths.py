"""Where each file of a run directory lives.

One frozen value names them all, so the API, the store, the lock and the command line agree
on the layout (``run.json``, ``ledger.sqlite``, ``chroma/``, ``pool.parquet``, ...) without
spelling a file name twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["RunPaths"]


@dataclass(frozen=True)
class RunPaths:
    """Every file and folder of one run directory."""

    root: Path

    @property
    def settings(self) -> Path:
        return self.root / "run.json"

    @property
    def agents(self) -> Path:
        """How each agent works, as the last driver of the run built it."""
        return self.root / "agents.json"

    @property
    def checkpoints(self) -> Path:
        return self.root / "checkpoints.sqlite"

    @property
    def ledger(self) -> Path:
        return self.root / "ledger.sqlite"

    @property
    def chroma(self) -> Path:
        return self.root / "chroma"

    @property
    def model(self) -> Path:
        return self.root / "model.joblib"

    @property
    def stopset(self) -> Path:
        return self.root / "stopset"

    @property
    def lock(self) -> Path:
        return self.root / "driver.lock"

    def split(self, name: str) -> Path:
        """The parquet file of a split: ``pool`` or ``test``."""
        return self.root / f"{name}.parquet"
