"""The graph factory for LangGraph's server (labelgraph.studio, langgraph.json), called
directly. Real Chroma, real SQLite ledger, no network. (``langgraph dev`` serving it:
scenarios/test_studio_server.py.)"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import pytest

from labelgraph import studio
from labelgraph.errors import InputError, RunStateError
from support.builders import label_count, new_run_files

BUDGET = 16


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Runs the factory opens are closed (lock released) after the test."""
    for name in ("LABELGRAPH_RUN_DIR", "LABELGRAPH_RUN_CONFIG", "LABELGRAPH_LLM"):
        monkeypatch.delenv(name, raising=False)
    yield
    studio._close_served()


def test_the_factory_creates_a_run_from_its_config_and_its_graph_needs_no_context(
        tmp_path, monkeypatch, served):
    monkeypatch.setenv("LABELGRAPH_RUN_DIR", str(tmp_path / "run"))
    monkeypatch.setenv("LABELGRAPH_RUN_CONFIG", str(new_run_files(tmp_path, BUDGET)))
    graph = asyncio.run(studio.make_graph())
    assert asyncio.run(studio.make_graph()) is graph  # one run per process
    # LangGraph's server passes its configurable values as the context: they are ignored
    out = graph.invoke({}, {"configurable": {"thread_id": "a"}, "recursion_limit": 80},
                       context={"graph_id": "labelgraph", "assistant_id": "x"})
    assert out["stop_reason"] == "budget exhausted: labels"
    assert label_count(tmp_path / "run") == BUDGET
    saved = json.loads((tmp_path / "run" / "run.json").read_text())
    assert saved["annotator"]["name"] == "oracle" and saved["budget"]["labels"] == BUDGET
    studio._close_served()
    assert (tmp_path / "run" / "model.joblib").exists()  # written when the server ends
    # the directory is a run now: it is opened, and the config file is not needed
    monkeypatch.delenv("LABELGRAPH_RUN_CONFIG")
    again = asyncio.run(studio.make_graph())
    out = again.invoke({}, {"recursion_limit": 80})
    assert out["round"] >= 3 and label_count(tmp_path / "run") == BUDGET


def test_the_factory_says_what_is_missing(tmp_path, monkeypatch, served):
    with pytest.raises(RunStateError, match="set LABELGRAPH_RUN_DIR"):
        asyncio.run(studio.make_graph())
    monkeypatch.setenv("LABELGRAPH_RUN_DIR", str(tmp_path / "run"))
    with pytest.raises(RunStateError, match="not a labelgraph run yet.*LABELGRAPH_RUN_CONFIG"):
        asyncio.run(studio.make_graph())
    monkeypatch.setenv("LABELGRAPH_RUN_CONFIG",
                       str(new_run_files(tmp_path, BUDGET, student="x")))
    with pytest.raises(InputError, match=r"new_run.json: unknown keys \['student'\]"):
        asyncio.run(studio.make_graph())
    (tmp_path / "bad.toml").write_text("task = [")
    monkeypatch.setenv("LABELGRAPH_RUN_CONFIG", str(tmp_path / "bad.toml"))
    with pytest.raises(InputError, match="bad.toml is not valid toml"):
        asyncio.run(studio.make_graph())
    assert not (tmp_path / "run").exists()  # nothing half-written
