"""MCP servers as a tool source (``labelgraph[mcp]``): one live session per server per run.

The servers a run's configuration names are started (stdio) or connected to (HTTP) when the
run is built, asked for their tools, and kept: every later call of a server's tools goes
through that one session, from whichever thread calls it, until the run is closed
(``LabelGraph.close``) or the process exits. Starting a stdio server costs about a second;
a call on a live session costs about a millisecond.

A server that dies (killed, crashed, its connection lost) is started again once, on the
next call, and the call is tried once more; if that fails too, or the server does not
answer within ``CALL_SECONDS``, the call's result is an error message (a LangChain
``ToolException``, which the tool returns as its answer), never a crashed run.

A stdio server inherits the caller's environment, with the server's ``env`` on top (values
written ``$NAME`` are read from the environment, so secrets stay out of run.json);
``inherit_env: false`` gives it only the MCP SDK's minimal environment (PATH, HOME, ...)
plus its ``env``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import threading
import weakref
from collections.abc import AsyncIterator, Coroutine, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from langchain_core.tools import BaseTool, StructuredTool, ToolException

from labelgraph.config import MCPServer
from labelgraph.errors import InputError

__all__ = ["CALL_SECONDS", "START_SECONDS", "MCPSessions", "load_mcp_tools", "mcp_origin"]

T = TypeVar("T")

#: how long one tool call may take before it is answered with an error
CALL_SECONDS = 60.0
#: how long a server may take to start and answer the MCP handshake
START_SECONDS = 30.0
#: how long closing waits for a server to end after its stdin is closed
STOP_SECONDS = 5.0


def mcp_origin(server: str) -> str:
    """The origin a server's tools are listed with."""
    return f"MCP ({server})"


def _expand(values: Mapping[str, str] | None) -> dict[str, str]:
    """``$NAME`` values read from the environment (a missing one is an error, named)."""
    out = {}
    for key, value in (values or {}).items():
        if value.startswith("$"):
            if value[1:] not in os.environ:
                raise InputError(f"MCP setting {key!r} names the environment variable "
                                 f"{value[1:]!r}, which is not set")
            value = os.environ[value[1:]]
        out[key] = value
    return out


def server_environment(server: MCPServer) -> dict[str, str]:
    """The environment a stdio server starts with: the caller's (or, with
    ``inherit_env=False``, the MCP SDK's minimal one), with the server's ``env`` on top."""
    from mcp.client.stdio import get_default_environment

    base = dict(os.environ) if server.inherit_env else get_default_environment()
    return {**base, **_expand(server.env)}


@asynccontextmanager
async def _open_session(server: MCPServer) -> AsyncIterator[Any]:
    """An initialized MCP ``ClientSession`` to ``server``, open until the block ends.

    stdio goes through the MCP SDK directly, so the environment is exactly
    :func:`server_environment`; the HTTP transports through LangChain's MCP adapters.
    """
    from mcp import ClientSession, StdioServerParameters
    from mcp.client.stdio import stdio_client

    if server.transport == "stdio":
        params = StdioServerParameters(command=server.command or "", args=list(server.args),
                                       env=server_environment(server), cwd=server.cwd)
        async with stdio_client(params) as (read, write), \
                ClientSession(read, write) as session:
            await session.initialize()
            yield session
        return
    from langchain_mcp_adapters.sessions import create_session

    connection: dict[str, Any] = {"transport": server.transport, "url": server.url}
    headers = _expand(server.headers)
    if headers:
        connection["headers"] = headers
    async with create_session(connection) as session:  # type: ignore[arg-type]
        await session.initialize()
        yield session


async def _hold(server: MCPServer, ready: concurrent.futures.Future[Any],
                stop: asyncio.Event, ended: asyncio.Event) -> None:
    """Open a session, hand it over through ``ready``, and keep it open until ``stop``;
    ``ended`` is set however it ends.

    The session is opened and closed in this one task, as the SDK's task groups require;
    calls from other tasks share it meanwhile.
    """
    try:
        async with _open_session(server) as session:
            ready.set_result(session)
            await stop.wait()
    except BaseException as exc:  # a failed start is the caller's error; a dead server's
        if not ready.done():      # session ends here, and the next call starts a new one
            ready.set_exception(exc)
        if isinstance(exc, asyncio.CancelledError):
            raise
    finally:
        ended.set()


async def _unless_ended(call: Coroutine[Any, Any, T], ended: asyncio.Event) -> T:
    """``call``'s answer, or ConnectionError if its session ends first: a request sent as
    a server dies can otherwise wait for an answer that no one will ever send."""
    answer = asyncio.ensure_future(call)
    gone = asyncio.ensure_future(ended.wait())
    try:
        await asyncio.wait({answer, gone}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        gone.cancel()
        if not answer.done():
            answer.cancel()
    if answer.done() and not answer.cancelled():
        return answer.result()
    raise ConnectionError("the MCP session ended before the server answered")


class _LoopThread:
    """An asyncio event loop on a daemon thread, where a run's MCP sessions live: a
    session opened for one call stays usable by the next, whichever thread makes it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        with self._lock:
            if self._loop is None:
                self._loop = asyncio.new_event_loop()
                self._thread = threading.Thread(target=self._loop.run_forever, daemon=True,
                                                name="mcp-sessions")
                self._thread.start()
            return asyncio.run_coroutine_threadsafe(coro, self._loop)

    def call_soon(self, fn: Any) -> None:
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(fn)

    def stop(self) -> None:
        with self._lock:
            loop, thread, self._loop, self._thread = self._loop, self._thread, None, None
        if loop is None or thread is None:
            return
        loop.call_soon_threadsafe(loop.stop)
        thread.join(STOP_SECONDS)
        if not thread.is_alive():
            loop.close()


@dataclass(eq=False)
class _Live:
    """One open session and what ends it."""

    session: Any  # mcp.ClientSession
    stop: asyncio.Event  #: set to close the session
    ended: asyncio.Event  #: set when the session has ended, closed or lost
    holder: concurrent.futures.Future[None]


def _shutdown(loop: _LoopThread, live: dict[str, _Live]) -> None:
    """Close every session (each stdio server sees its stdin close and ends), then the loop.
    Runs on ``close()``, or at exit for a run that was never closed."""
    for item in list(live.values()):
        loop.call_soon(item.stop.set)
    for item in list(live.values()):
        try:
            item.holder.result(STOP_SECONDS)
        except Exception:  # a session that will not close cleanly is left to the OS
            pass
    live.clear()
    loop.stop()


class _SessionLost(Exception):
    """A call failed because its session is gone: the server is started again."""


def _why(exc: BaseException) -> str:
    """An exception in a few words: its type and message (the type alone when empty)."""
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _lost(exc: BaseException) -> bool:
    """Did the call fail because the session is gone (rather than the server refusing the
    call, as with an unknown tool or bad arguments, which a restart would not mend)?"""
    try:
        from mcp.shared.exceptions import McpError
        from mcp.types import CONNECTION_CLOSED
    except ImportError:  # pragma: no cover - the extra is installed when sessions exist
        return True
    if isinstance(exc, McpError):
        return exc.error.code == CONNECTION_CLOSED
    return True


def _text(result: Any) -> str:
    """An MCP call result as text: text blocks joined, other blocks named by type; a result
    the server marked as an error raises ToolException. Structured content is not read: the
    protocol asks servers to send it as text too, and an empty answer must stay empty."""
    text = "\n".join(getattr(b, "text", "") if getattr(b, "type", "") == "text"
                     else f"[{getattr(b, 'type', 'content')}]" for b in result.content or [])
    if result.isError:
        raise ToolException(text or "the MCP tool reported an error")
    return text


class MCPSessions:
    """The live MCP sessions of one run, one per server, each started on first use.

    Thread-safe: calls from several threads share a server's session (MCP requests carry
    ids, so they may overlap); starting and restarting a server is serialized per server.
    ``close()`` ends every server; an unclosed instance ends them at process exit.
    """

    def __init__(self, servers: Mapping[str, MCPServer], *,
                 call_seconds: float = CALL_SECONDS,
                 start_seconds: float = START_SECONDS) -> None:
        self.servers = dict(servers)
        self.call_seconds = call_seconds
        self.start_seconds = start_seconds
        self._loop = _LoopThread()
        self._live: dict[str, _Live] = {}
        self._locks = {name: threading.Lock() for name in self.servers}
        self._closed = False
        self._finalizer = weakref.finalize(self, _shutdown, self._loop, self._live)

    # -- sessions -------------------------------------------------------------------------
    def _start(self, name: str) -> _Live:
        """Start ``name``'s server and wait for its handshake (lock held by the caller)."""
        if self._closed:
            raise ToolException(f"the run's MCP sessions are closed; MCP server {name!r} "
                                "is not started again")
        ready: concurrent.futures.Future[Any] = concurrent.futures.Future()
        stop, ended = asyncio.Event(), asyncio.Event()
        holder = self._loop.submit(_hold(self.servers[name], ready, stop, ended))
        try:
            session = ready.result(self.start_seconds)
        except concurrent.futures.TimeoutError:
            self._loop.call_soon(stop.set)
            raise TimeoutError(f"MCP server {name!r} did not answer within "
                               f"{self.start_seconds:g} s of starting") from None
        live = _Live(session, stop, ended, holder)
        self._live[name] = live
        return live

    def _end(self, name: str, live: _Live) -> None:
        """Close a session (lock held by the caller); a dead one ends at once."""
        self._live.pop(name, None)
        self._loop.call_soon(live.stop.set)
        try:
            live.holder.result(STOP_SECONDS)
        except Exception:  # closing a dead server's session may fail; it is gone anyway
            pass

    def session(self, name: str) -> _Live:
        """``name``'s live session, started if it is not running."""
        if name not in self.servers:
            raise InputError(f"no MCP server {name!r} in this run")
        with self._locks[name]:
            live = self._live.get(name)
            if live is None or live.holder.done():  # never started, or its session ended
                if live is not None:
                    self._end(name, live)
                live = self._start(name)
            return live

    def _restart(self, name: str, dead: _Live) -> _Live:
        """A new session in place of ``dead``, unless another thread already made one."""
        with self._locks[name]:
            live = self._live.get(name)
            if live is None or live is dead:
                if live is not None:
                    self._end(name, live)
                live = self._start(name)
            return live

    def _wait(self, coro: Coroutine[Any, Any, T], seconds: float) -> T:
        future = self._loop.submit(coro)
        try:
            return future.result(seconds)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise

    # -- what the run uses ----------------------------------------------------------------
    def list_tools(self, name: str) -> list[Any]:
        """Every tool ``name`` serves (``mcp.types.Tool``), across pages."""
        live = self.session(name)
        tools: list[Any] = []
        cursor: str | None = None
        while True:
            page = self._wait(_unless_ended(live.session.list_tools(cursor), live.ended),
                              self.call_seconds)
            tools += page.tools
            cursor = page.nextCursor
            if not cursor:
                return tools

    def _call_once(self, name: str, live: _Live, tool: str,
                   arguments: Mapping[str, Any]) -> str:
        """One call on one session; a lost session raises _SessionLost, anything else that
        fails raises ToolException."""
        try:
            return _text(self._wait(_unless_ended(live.session.call_tool(tool, dict(arguments)),
                                                  live.ended), self.call_seconds))
        except ToolException:
            raise
        except concurrent.futures.TimeoutError:
            raise ToolException(f"MCP server {name!r} did not answer {tool!r} within "
                                f"{self.call_seconds:g} s") from None
        except Exception as exc:
            if _lost(exc):
                raise _SessionLost(_why(exc)) from exc
            raise ToolException(f"MCP server {name!r} refused {tool!r}: {_why(exc)}") from None

    def call(self, name: str, tool: str, arguments: Mapping[str, Any]) -> str:
        """Call one tool and return its text. A lost session (a server that died) is
        started again once and the call tried once more; whatever still fails raises
        ToolException with the reason, which the tool returns as its answer."""
        try:
            live = self.session(name)
            return self._call_once(name, live, tool, arguments)
        except ToolException:
            raise
        except _SessionLost as lost:
            first = str(lost)
        except Exception as exc:
            raise ToolException(f"MCP server {name!r} could not be started: "
                                f"{_why(exc)}") from None
        try:
            return self._call_once(name, self._restart(name, live), tool, arguments)
        except ToolException:
            raise
        except Exception as exc:
            raise ToolException(f"MCP server {name!r} stopped ({first}) and failed again "
                                f"after a restart: {_why(exc)}") from None

    def tools(self) -> list[tuple[str, BaseTool]]:
        """``(server name, tool)`` for every tool of every server, each calling through this
        object. Starts every server; an unreachable one is an InputError that names it."""
        out: list[tuple[str, BaseTool]] = []
        for name in self.servers:
            try:
                listed = self.list_tools(name)
            except InputError:
                raise
            except Exception as exc:
                raise InputError(f"MCP server {name!r} did not list its tools: "
                                 f"{type(exc).__name__}: {exc}") from None
            out += [(name, self._tool(name, spec)) for spec in listed]
        return out

    def _tool(self, server: str, spec: Any) -> BaseTool:
        """A LangChain tool that calls ``spec`` on ``server``'s live session; its errors
        come back as the tool's answer (``handle_tool_error``)."""
        tool_name = spec.name

        def call(**kwargs: Any) -> str:
            return self.call(server, tool_name, kwargs)

        async def acall(**kwargs: Any) -> str:
            return await asyncio.to_thread(self.call, server, tool_name, kwargs)

        return StructuredTool.from_function(func=call, coroutine=acall, name=tool_name,
                                            description=spec.description or tool_name,
                                            args_schema=spec.inputSchema,
                                            handle_tool_error=True)

    def close(self) -> None:
        """End every server of the run (idempotent)."""
        self._closed = True
        self._finalizer()


def load_mcp_tools(servers: Mapping[str, MCPServer]) -> tuple[MCPSessions | None,
                                                               list[tuple[str, BaseTool]]]:
    """The run's MCP sessions and ``(server name, tool)`` for every tool of every server;
    an unreachable server or a missing extra is an InputError that names it (and every
    server already started is stopped again)."""
    if not servers:
        return None, []
    try:  # the SDK serves stdio; LangChain's adapters the HTTP transports
        import langchain_mcp_adapters.sessions  # noqa: F401
        import mcp  # noqa: F401
    except ImportError:
        raise InputError("the run names MCP servers; install the MCP adapters: "
                         "pip install 'labelgraph[mcp]'") from None
    sessions = MCPSessions(servers)
    try:
        return sessions, sessions.tools()
    except BaseException:
        sessions.close()
        raise
