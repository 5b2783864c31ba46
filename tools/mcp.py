"""MCP servers as a tool source, through LangChain's MCP adapters (``labelgraph[mcp]``).

The servers a run's configuration names are asked for their tools when the run is built;
each tool becomes a LangChain tool that the run's agents call like any other (bounded,
recorded, replayed). Calls open a fresh session (the adapters' default), so nothing is held
open between rounds and a crashed server costs one call, not the run.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Coroutine, Mapping
from typing import Any, TypeVar

from langchain_core.tools import BaseTool, StructuredTool

from labelgraph.config import MCPServer
from labelgraph.errors import InputError

__all__ = ["load_mcp_tools", "mcp_origin"]

T = TypeVar("T")


def mcp_origin(server: str) -> str:
    """The origin a server's tools are listed with."""
    return f"MCP ({server})"


def _run(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion from sync code, even inside a running event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    box: dict[str, Any] = {}

    def work() -> None:
        try:
            box["value"] = asyncio.run(coro)
        except BaseException as exc:  # handed back to the caller's thread
            box["error"] = exc

    worker = threading.Thread(target=work, name="mcp")
    worker.start()
    worker.join()
    if "error" in box:
        raise box["error"]
    return box["value"]


def _expand(values: Mapping[str, str] | None) -> dict[str, str] | None:
    """``$NAME`` values read from the environment (a missing one is an error, named)."""
    if values is None:
        return None
    out = {}
    for key, value in values.items():
        if value.startswith("$"):
            if value[1:] not in os.environ:
                raise InputError(f"MCP setting {key!r} names the environment variable "
                                 f"{value[1:]!r}, which is not set")
            value = os.environ[value[1:]]
        out[key] = value
    return out


def _connection(server: MCPServer) -> dict[str, Any]:
    if server.transport == "stdio":
        conn: dict[str, Any] = {"transport": "stdio", "command": server.command,
                                "args": list(server.args)}
        env = _expand(server.env)
        if env is not None:
            conn["env"] = {**os.environ, **env}
        if server.cwd:
            conn["cwd"] = server.cwd
        return conn
    conn = {"transport": server.transport, "url": server.url}
    headers = _expand(server.headers)
    if headers:
        conn["headers"] = headers
    return conn


def _text(content: Any) -> str:
    """An MCP result's content as text (text blocks joined; anything else as it is)."""
    if isinstance(content, tuple):  # (content, artifact)
        content = content[0]
    if isinstance(content, list):
        return "\n".join(b.get("text", str(b)) if isinstance(b, dict) else str(b)
                         for b in content)
    return str(content)


def _sync(t: BaseTool) -> BaseTool:
    """The adapters' async-only tool, callable from the run's sync nodes as well."""

    def call(**kwargs: Any) -> str:
        return _text(_run(t.ainvoke(kwargs)))

    return StructuredTool.from_function(func=call, name=t.name,
                                        description=t.description or t.name,
                                        args_schema=t.args_schema, metadata=t.metadata)


def load_mcp_tools(servers: Mapping[str, MCPServer]) -> list[tuple[str, BaseTool]]:
    """``(server name, tool)`` for every tool of every server; an unreachable server or a
    missing extra is an InputError that names it."""
    if not servers:
        return []
    try:
        from langchain_mcp_adapters.client import MultiServerMCPClient
    except ImportError:
        raise InputError("the run names MCP servers; install the MCP adapters: "
                         "pip install 'labelgraph[mcp]'") from None
    client = MultiServerMCPClient({name: _connection(s) for name, s in servers.items()})
    out: list[tuple[str, BaseTool]] = []
    for name in servers:
        try:
            tools = _run(client.get_tools(server_name=name))
        except Exception as exc:
            raise InputError(f"MCP server {name!r} did not list its tools: "
                             f"{type(exc).__name__}: {exc}") from None
        out += [(name, _sync(t)) for t in tools]
    return out
