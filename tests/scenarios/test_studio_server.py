"""A run's graph served by a real `langgraph dev` (in-memory server) driven with
langgraph-sdk, when the `studio` extra is installed: labels land in the run's ledger."""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from support.builders import label_count, new_run_files

ROOT = Path(__file__).resolve().parents[2]
BUDGET = 16


# -- LangGraph's own server ----------------------------------------------------------------
def _langgraph_cli() -> str | None:
    """The `langgraph` command of this interpreter's environment, if the extra is here."""
    if importlib.util.find_spec("langgraph_api") is None or \
            importlib.util.find_spec("langgraph_runtime_inmem") is None:
        return None
    beside = Path(sys.executable).parent / "langgraph"
    return str(beside) if beside.exists() else shutil.which("langgraph")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_until_up(url: str, server: subprocess.Popen[bytes], log: Path,
                   seconds: float = 120.0) -> None:
    import httpx

    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if server.poll() is not None:
            pytest.fail(f"langgraph dev exited ({server.returncode}):\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{url}/ok", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    pytest.fail(f"langgraph dev did not answer in {seconds:g} s:\n{log.read_text()[-3000:]}")


@pytest.mark.skipif(_langgraph_cli() is None,
                    reason="LangGraph's dev server is not installed: pip install "
                           "'labelgraph[studio]' (langgraph-cli[inmem])")
def test_langgraph_dev_serves_the_runs_graph_and_labels_land_in_its_ledger(tmp_path):
    from langgraph_sdk import get_sync_client

    new_run_files(tmp_path, BUDGET)
    shutil.copy(ROOT / "langgraph.json", tmp_path / "langgraph.json")  # the file we ship
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LANGSMITH_",
                                                                     "LANGCHAIN_"))}
    env.update(LABELGRAPH_RUN_DIR=str(tmp_path / "run"),
               LABELGRAPH_RUN_CONFIG=str(tmp_path / "new_run.json"),
               LANGGRAPH_CLI_NO_ANALYTICS="1",
               PYTHONPATH=os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]))
    log = tmp_path / "server.log"
    with open(log, "wb") as out:
        server = subprocess.Popen(
            [str(_langgraph_cli()), "dev", "--no-browser", "--no-reload", "--host",
             "127.0.0.1", "--port", str(port), "--config", "langgraph.json"],
            cwd=tmp_path, env=env, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(url, server, log)
        client = get_sync_client(url=url)
        thread = client.threads.create()
        values = client.runs.wait(thread["thread_id"], "labelgraph", input={})
        assert isinstance(values, dict), values
        assert values["stop_reason"] == "budget exhausted: labels", log.read_text()[-3000:]
        assert values["spend"]["labels"] == BUDGET
        state = client.threads.get_state(thread["thread_id"])
        assert state["next"] == [] and state["values"]["round"] == values["round"]
        assert label_count(tmp_path / "run") == BUDGET  # the labels are in the run's ledger
    finally:
        os.killpg(server.pid, signal.SIGINT)
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(10)
    # the server closed the run at exit: the student is written, and the run opens as any
    assert (tmp_path / "run" / "model.joblib").exists(), log.read_text()[-3000:]
    from labelgraph import LabelGraph

    lg = LabelGraph.open(tmp_path / "run")
    assert len(lg.dataset()) == BUDGET
    lg.close()
