"""A web console on a real run, served on 127.0.0.1 in this process (tests and benchmarks).

The run is real (Chroma, SQLite checkpoints, hashing embeddings); its LLM is the scripted
fake (the only fake: no remote model can run here), answering every label with confidence
0.6 so that the hybrid annotator, told to trust nothing under 0.99, asks the person about
every item — with the model's suggestion beside it. Both labels of an item count in the
label budget: 20 labels are the seed's 4, then two rounds of 4 items (the model's and the
person's label of each).
"""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path
from typing import Any

import pandas as pd
import uvicorn

from conftest import make_pool, sentiment_of
from labelgraph import Budget, LabelGraph, Task
from labelgraph.console.controller import Controller
from labelgraph.console.web import make_app
from support.fakes import FREE, ScriptedChatModel, last_text
from support.model_server import free_port

TASK = Task(labels=["positive", "negative"], description="movie review sentiment")
TOKEN = "test-token-4f9a"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _suggest(messages: list[Any], tool: str) -> dict[str, Any]:
    return {"label": sentiment_of(last_text(messages)), "confidence": 0.6}


def gold_test() -> pd.DataFrame:
    """Held-out gold items, none of them in the pool (scenes 30-39)."""
    return make_pool(40).iloc[60:].reset_index(drop=True)


class Served:
    """A controller on a new run and its web app, listening on a free port."""

    def __init__(self, run_dir: Path, labels: int = 20, batch: int = 4,
                 pool: pd.DataFrame | None = None) -> None:
        self.lg = LabelGraph(TASK, llm=ScriptedChatModel(responder=_suggest),
                             annotator="hybrid", policy="rule", prices=FREE,
                             budget=Budget(labels=labels),
                             run_dir=run_dir, embedding="hashing",
                             config={"seed_size": batch, "batch_size": batch, "stopping": [],
                                     "synthesize": False, "confidence_threshold": 0.99})
        self.lg.add_pool(make_pool() if pool is None else pool, label_column="label")
        self.lg.add_pool(gold_test(), label_column="label", name="test")
        _ = self.lg.context  # built (and the run's lock taken) before any thread reads it
        self.ctl = Controller(self.lg)
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.url = f"{self.base}/?token={TOKEN}"
        self.server = uvicorn.Server(uvicorn.Config(make_app(self.ctl, TOKEN), host="127.0.0.1",
                                                    port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self, paused: bool = False) -> Served:
        self.thread.start()
        end = time.time() + 30
        while not self.server.started:
            if time.time() > end:
                raise RuntimeError("the web console did not start in 30 s")
            time.sleep(0.05)
        self.ctl.start(paused=paused)
        return self

    def close(self) -> None:
        self.server.should_exit = True
        self.ctl.close()
        self.thread.join(timeout=30)
        self.lg.close()
