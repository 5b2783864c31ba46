"""MCP servers as a tool source: a real stdio server of our own (tests/mcp_server.py), its
tool listed with its origin and called by an agent in a whole run."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import ToolMessage

from conftest import make_pool, sentiment_of
from fakes import ToolCallingChatModel, last_text
from labelgraph import Budget, LabelGraph, Task
from labelgraph.errors import InputError

TASK = Task(labels=["positive", "negative"], description="movie review sentiment")
TRAP = "a wonderful trap of a film, scene 99, with moving acting"
SERVER = str(Path(__file__).parent / "mcp_server.py")


def _servers(log: Path, agents: list[str]) -> dict[str, Any]:
    return {"glossary": {"command": sys.executable, "args": [SERVER],
                         "env": {"GLOSSARY_LOG": str(log)}, "agents": agents}}


def consult_then_label(messages: list[Any], names: list[str]) -> Any:
    """Asks the glossary once about the text, then labels by keyword unless it said otherwise."""
    said = [str(m.content) for m in messages if isinstance(m, ToolMessage)]
    if "film_glossary" in names and not said:
        return {"tool": "film_glossary", "args": {"text": last_text(messages)}}
    label = sentiment_of(last_text(messages))
    if any("negative" in s for s in said):
        label = "negative"
    return {"tool": "LabelAnswer", "args": {"label": label, "confidence": 0.9}}


def _graph(run_dir: Path, log: Path, **kw: Any) -> LabelGraph:
    return LabelGraph(TASK, llm=ToolCallingChatModel(script=consult_then_label),
                      annotator="llm", policy="rule", budget=Budget(labels=21), run_dir=run_dir,
                      embedding="hashing",
                      config={"seed_size": 21, "synthesize": False, "stopping": [],
                              "mcp_servers": _servers(log, ["annotator"])}, **kw)


def test_an_mcp_servers_tool_is_listed_and_used_by_the_annotator(tmp_path):
    pool = make_pool(10)
    pool.loc[len(pool)] = {"text": TRAP, "label": "negative"}
    log = tmp_path / "calls.txt"
    lg = _graph(tmp_path / "run", log)
    assert [vars(s) for s in lg.context.tools.specs()] == [
        {"agent": "annotator", "name": "film_glossary", "origin": "MCP (glossary)"}]
    lg.run(pool, label_column="label")
    labels = {r.text: r.label for r in lg.context.ledger.all_labels()}
    assert labels[TRAP] == "negative"  # the server's answer changed the label
    assert sentiment_of(TRAP) == "positive"  # which the keyword labeler alone gets wrong
    calls = [c for c in lg.context.ledger.tool_calls() if c["tool"] == "film_glossary"]
    assert len(calls) == 21 and {c["agent"] for c in calls} == {"annotator"}
    assert any("boring film: negative" in c["result"] for c in calls)
    assert TRAP in log.read_text().splitlines()  # the server really ran the call
    settings = json.loads((tmp_path / "run" / "run.json").read_text())
    assert settings["config"]["mcp_servers"]["glossary"]["args"] == [SERVER]
    assert {"agent": "annotator", "name": "film_glossary",
            "origin": "MCP (glossary)"} in settings["tools"]
    from typer.testing import CliRunner

    from labelgraph.cli import app

    out = CliRunner().invoke(app, ["plugins", str(tmp_path / "run")], env={"COLUMNS": "250"})
    assert out.exit_code == 0, out.output
    assert "film_glossary" in out.output and "MCP (glossary)" in out.output
    assert "LLMAnnotator: tool-calling LLM agent (tools: memory_search, film_glossary)" \
        in out.output
    assert "rules (RulePolicy)" in out.output  # the supervisor is rule-driven in this run


def test_a_reopened_run_finds_its_mcp_tools_again(tmp_path):
    log = tmp_path / "calls.txt"
    lg = _graph(tmp_path / "run", log)
    lg.add_pool(make_pool(10), label_column="label")
    _ = lg.context
    lg.close()
    again = LabelGraph.open(tmp_path / "run", llm=ToolCallingChatModel(script=consult_then_label))
    assert [(s.agent, s.name, s.origin) for s in again.context.tools.specs()] == [
        ("annotator", "film_glossary", "MCP (glossary)")]
    again.close()


def test_an_unreachable_mcp_server_is_named_before_anything_is_written(tmp_path):
    config = {"mcp_servers": {"kb": {"command": sys.executable,
                                     "args": [str(tmp_path / "missing.py")]}}}
    lg = LabelGraph(TASK, annotator="oracle", run_dir=tmp_path / "run", embedding="hashing",
                    config=config)
    with pytest.raises(InputError, match="MCP server 'kb' did not list its tools"):
        _ = lg.context
    assert not (tmp_path / "run").exists()


def test_mcp_settings_are_checked_and_secrets_stay_in_the_environment(tmp_path, monkeypatch):
    with pytest.raises(InputError, match="needs a url"):
        LabelGraph(TASK, config={"mcp_servers": {"kb": {"transport": "streamable_http"}}})
    with pytest.raises(InputError, match="unknown agent 'critic'"):
        _ = LabelGraph(TASK, annotator="oracle", run_dir=tmp_path / "b", embedding="hashing",
                       config={"mcp_servers": _servers(tmp_path / "l", ["critic"])}).context
    servers = {"glossary": {"command": sys.executable, "args": [SERVER],
                            "env": {"GLOSSARY_LOG": "$LG_TEST_LOG"}}}
    lg = LabelGraph(TASK, annotator="oracle", run_dir=tmp_path / "c", embedding="hashing",
                    config={"mcp_servers": servers})
    with pytest.raises(InputError, match="'LG_TEST_LOG', which is not set"):
        _ = lg.context
    monkeypatch.setenv("LG_TEST_LOG", str(tmp_path / "secret-log"))
    lg = LabelGraph(TASK, annotator="oracle", run_dir=tmp_path / "d", embedding="hashing",
                    config={"mcp_servers": servers})
    tool = lg.context.tools.for_agent("verifier")[0]
    assert tool.invoke({"text": "a trap"}).endswith("negative")
    assert (tmp_path / "secret-log").read_text() == "a trap\n"
    assert "secret-log" not in (tmp_path / "d" / "run.json").read_text()
    lg.close()
