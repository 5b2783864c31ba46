"""Two runs sharing one real Chroma server: each owns its collection and sees only its labels.

The server is chromadb's own ``chroma run`` (a Rust server shipped in the wheel), started as a
subprocess on 127.0.0.1 with a free port and a temporary persistence directory; it needs no
network and is always stopped at the end.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import chromadb
import pandas as pd
import pytest
from chromadb.config import Settings

from conftest import make_pool
from labelgraph import Budget, LabelGraph, Task
from labelgraph.types import content_id

TASK = Task(labels=["positive", "negative"], description="movie review sentiment")
HOST = "127.0.0.1"
START_DEADLINE = 60.0
# ``chroma run`` exactly as the console script runs it, without relying on PATH
SERVE = "import sys; from chromadb.cli.cli import app; sys.argv[0] = 'chroma'; app()"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def http_client(port: int) -> chromadb.ClientAPI:
    return chromadb.HttpClient(host=HOST, port=port,
                               settings=Settings(anonymized_telemetry=False))


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)


@pytest.fixture(scope="module")
def chroma_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """A Chroma server persisting into a temporary directory; yields its port."""
    root = tmp_path_factory.mktemp("chroma-server")
    port = free_port()
    env = {**os.environ, "ANONYMIZED_TELEMETRY": "False", "CHROMA_TELEMETRY": "False",
           "NO_COLOR": "1"}
    log_path = root / "server.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-c", SERVE, "run", "--path", str(root / "data"),
             "--host", HOST, "--port", str(port)],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        deadline = time.monotonic() + START_DEADLINE
        while True:
            try:
                http_client(port).heartbeat()
                break
            except Exception as exc:  # not listening yet
                if proc.poll() is not None or time.monotonic() > deadline:
                    why = (f"exited with {proc.returncode}" if proc.poll() is not None
                           else f"no heartbeat within {START_DEADLINE:.0f}s ({exc})")
                    pytest.fail(f"the Chroma server did not start: {why}\n"
                                f"{log_path.read_text(errors='replace')[-3000:]}")
                time.sleep(0.2)
        yield port
    finally:
        _stop(proc)


def _run(run_dir: Path, pool: pd.DataFrame, port: int) -> LabelGraph:
    lg = LabelGraph(TASK, llm="none", annotator="oracle", budget=Budget(labels=12),
                    run_dir=run_dir, embedding="hashing", chroma_host=HOST, chroma_port=port,
                    config={"seed_size": 6, "batch_size": 6, "stopping": []})
    lg.run(pool, label_column="label")
    return lg


def test_two_runs_on_one_server_keep_their_own_labels(tmp_path, chroma_port):
    pool_a = make_pool()
    pool_b = make_pool().assign(text=lambda df: "another " + df["text"])
    ids_a = {content_id(t) for t in pool_a["text"]}
    ids_b = {content_id(t) for t in pool_b["text"]}
    assert not ids_a & ids_b

    run_a, run_b = _run(tmp_path / "a", pool_a, chroma_port), _run(tmp_path / "b", pool_b,
                                                                  chroma_port)
    data_a, data_b = run_a.result().dataset, run_b.result().dataset
    for data, ids, texts in ((data_a, ids_a, pool_a["text"]), (data_b, ids_b, pool_b["text"])):
        assert len(data) == 12 and data["id"].is_unique
        assert set(data["id"]) <= ids
        assert set(data["text"]) <= set(texts)
    assert not set(data_a["id"]) & set(data_b["id"])

    # two collections on the server, one per run; nothing kept locally in the run directories
    names = {c.name for c in http_client(chroma_port).list_collections()}
    name_a = run_a.context.memory.collection.name
    name_b = run_b.context.memory.collection.name
    assert name_a != name_b and {name_a, name_b} <= names
    server = http_client(chroma_port)
    assert server.get_collection(name_a).count() == 12
    assert server.get_collection(name_b).count() == 12
    assert not (tmp_path / "a" / "chroma").exists() and not (tmp_path / "b" / "chroma").exists()

    saved = json.loads((tmp_path / "a" / "run.json").read_text())
    assert saved["chroma_host"] == HOST and saved["chroma_port"] == chroma_port
    assert saved["run_id"] and saved["run_id"] != json.loads(
        (tmp_path / "b" / "run.json").read_text())["run_id"]
    run_a.close()
    run_b.close()

    again = LabelGraph.open(tmp_path / "a")
    assert (again.chroma_host, again.chroma_port) == (HOST, chroma_port)
    assert again.context.memory.collection.name == name_a
    assert len(again.context.memory) == 12
    reopened = again.result().dataset
    assert sorted(reopened["id"]) == sorted(data_a["id"])
    assert dict(zip(reopened["id"], reopened["label"], strict=True)) == dict(
        zip(data_a["id"], data_a["label"], strict=True))
    again.close()
