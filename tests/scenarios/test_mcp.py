"""MCP servers as a tool source: a real stdio server of our own (tests/support/mcp_server.py), its
tool listed with its origin and called by an agent in a whole run; one server process per
run, restarted once when it dies, started with the caller's environment."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import ToolMessage

from conftest import make_pool, sentiment_of
from labelgraph import Budget, LabelGraph, Task
from labelgraph.errors import InputError
from support.fakes import ToolCallingChatModel, last_text

TASK = Task(labels=["positive", "negative"], description="movie review sentiment")
TRAP = "a wonderful trap of a film, scene 99, with moving acting"
SERVER = str(Path(__file__).parents[1] / "support" / "mcp_server.py")


def _servers(log: Path, agents: list[str]) -> dict[str, Any]:
    return {"glossary": {"command": sys.executable, "args": [SERVER],
                         "env": {"GLOSSARY_LOG": str(log),
                                 "GLOSSARY_PIDS": str(log.with_suffix(".pids"))},
                         "agents": agents}}


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
    pids = set(log.with_suffix(".pids").read_text().split())
    assert len(pids) == 1 and str(os.getpid()) not in pids  # one server served all 21
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


def _info_run(tmp_path: Path, server: str = SERVER, **settings: Any) -> LabelGraph:
    """A run whose glossary server also reports its pid and environment (server_info)."""
    env = {"GLOSSARY_INFO": "LG_TEST_INHERITED,LG_TEST_GIVEN", "LG_TEST_GIVEN": "given",
           **settings.pop("env", {})}
    servers = {"glossary": {"command": sys.executable, "args": [server], "env": env,
                            "agents": ["verifier"], **settings}}
    return LabelGraph(TASK, annotator="oracle", run_dir=tmp_path / "run", embedding="hashing",
                      config={"mcp_servers": servers})


def _info(lg: LabelGraph) -> dict[str, Any]:
    tool = {t.name: t for t in lg.context.tools.for_agent("verifier")}["server_info"]
    return json.loads(tool.invoke({}))


def _gone(pid: int, seconds: float = 10.0) -> bool:
    """Has process ``pid`` ended (and been reaped) within ``seconds``?"""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        try:  # a child of ours that has exited is a zombie until reaped
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                return True
        except ChildProcessError:
            pass
        time.sleep(0.05)
    return False


def test_every_call_of_a_run_goes_to_one_server_process_even_from_threads(tmp_path):
    lg = _info_run(tmp_path)
    first = _info(lg)["pid"]  # the server that listed the tools serves the calls
    with ThreadPoolExecutor(8) as pool:
        pids = set(pool.map(lambda _: _info(lg)["pid"], range(40)))
    assert pids == {first} and first != os.getpid()
    lg.close()  # closing the run ends its server
    assert _gone(first)


def test_a_server_inherits_the_callers_environment_with_its_env_on_top(tmp_path,
                                                                      monkeypatch):
    monkeypatch.setenv("LG_TEST_INHERITED", "from the caller")
    monkeypatch.setenv("LG_TEST_GIVEN", "overridden by the server's env")
    lg = _info_run(tmp_path)
    assert _info(lg)["env"] == {"LG_TEST_INHERITED": "from the caller",
                                "LG_TEST_GIVEN": "given"}
    lg.close()
    lg = _info_run(tmp_path / "bare", inherit_env=False)
    assert _info(lg)["env"] == {"LG_TEST_INHERITED": None, "LG_TEST_GIVEN": "given"}
    lg.close()
    settings = json.loads((tmp_path / "bare" / "run" / "run.json").read_text())
    assert settings["config"]["mcp_servers"]["glossary"]["inherit_env"] is False


def test_a_killed_server_is_started_again_once_and_a_lost_one_is_the_tools_error(tmp_path):
    server = tmp_path / "glossary_server.py"
    shutil.copy(SERVER, server)
    lg = _info_run(tmp_path, server=str(server))
    glossary = {t.name: t for t in lg.context.tools.for_agent("verifier")}["film_glossary"]
    first = _info(lg)["pid"]
    os.kill(first, signal.SIGKILL)
    assert _gone(first)
    second = _info(lg)["pid"]  # the call that found it dead started it again
    assert second != first
    assert glossary.invoke({"text": "a trap"}).endswith("negative")
    os.kill(second, signal.SIGKILL)
    assert _gone(second)
    server.unlink()  # now it cannot start again: the call answers with the reason
    answer = glossary.invoke({"text": "a trap"})
    assert answer.startswith("MCP server 'glossary' stopped") and "after a restart" in answer
    lg.close()


def test_an_mcp_servers_error_is_the_tools_answer_not_an_exception(tmp_path):
    lg = _info_run(tmp_path)
    tools = {t.name: t for t in lg.context.tools.for_agent("verifier")}
    answer = tools["film_glossary"].invoke({})  # the server refuses: no text
    assert answer.startswith("Error executing tool film_glossary") and "text" in answer
    assert tools["film_glossary"].invoke({"text": "plain words"}) == ""  # nothing to say
    lg.close()
    assert "closed" in tools["server_info"].invoke({})  # a closed run starts no server
