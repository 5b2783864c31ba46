"""Tools: which tools each agent of a run may call, and where each came from.

A tool is a LangChain tool; a documented plain function is wrapped as one. Tools reach a run
three ways: passed to ``LabelGraph(tools=...)`` (origin "argument"), named there after being
registered with the :func:`tool` decorator (origin "decorator"), or installed by a package
through the ``labelgraph.tools`` entry-point group (origin "entry point", active in every
run), or served by an MCP server the run's configuration names (origin "MCP (server)",
``labelgraph.tools.mcp``). Agents call only what is registered for them, so a pool text
that looks like an instruction can never reach an unregistered capability.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from langchain_core.tools import BaseTool
from langchain_core.tools import tool as lc_tool

from labelgraph.errors import InputError
from labelgraph.registry import registry

__all__ = ["AGENTS", "ALL", "ToolRegistry", "ToolSpec", "as_tool", "tool"]

#: the agents that call tools; the selector and the learner are pure pieces and call none
AGENTS = ("supervisor", "generator", "annotator", "verifier")
PURE = ("selector", "learner")
ALL = "all"
_AGENTS_KEY = "labelgraph_agents"

ToolLike = BaseTool | Callable[..., Any] | str


def as_tool(obj: BaseTool | Callable[..., Any]) -> BaseTool:
    """A LangChain tool as it is, or a documented plain function wrapped as one."""
    if isinstance(obj, BaseTool):
        return obj
    if callable(obj):
        if not (obj.__doc__ or "").strip():
            raise InputError(f"tool {getattr(obj, '__name__', obj)!r} needs a docstring: "
                             "agents and LLMs read it to know what the tool does")
        return lc_tool(obj)
    raise InputError(f"a tool must be a LangChain tool, a function or a registered tool's "
                     f"name, got {type(obj).__name__}")


def _check_agents(agents: Sequence[str]) -> list[str]:
    bad = [a for a in agents if a != ALL and a not in AGENTS]
    if bad and bad[0] in PURE:
        raise InputError(f"the {bad[0]} is a pure piece and calls no tools; give the tool to "
                         f"one of {list(AGENTS)} (the supervisor decides the strategy)")
    if bad:
        raise InputError(f"unknown agent {bad[0]!r} for a tool; use one of {[ALL, *AGENTS]}")
    return list(agents)


def tool(fn: Callable[..., Any] | None = None, *, agents: str | Sequence[str] = ALL,
         name: str | None = None) -> Any:
    """Decorator: make a function a labelgraph tool for ``agents`` and register it by name,
    so runs can name it (``tools=["my_check"]``) and reopened runs find it again.

    ``@tool`` alone is for every agent; ``@tool(agents=["verifier"])`` for some.
    """
    wanted = _check_agents([agents] if isinstance(agents, str) else list(agents))

    def wrap(f: Callable[..., Any]) -> BaseTool:
        t = as_tool(f)
        if name:
            t.name = name
        t.metadata = {**(t.metadata or {}), _AGENTS_KEY: wanted}
        registry.add("tools", t.name, t, origin="decorator", replace=True)
        return t

    return wrap(fn) if fn is not None else wrap


def agents_of(t: BaseTool) -> list[str]:
    """The agents a tool declares itself for (``["all"]`` unless it says otherwise)."""
    return list((t.metadata or {}).get(_AGENTS_KEY) or [ALL])


def _registered_origin(t: BaseTool) -> str | None:
    """Where ``t`` came from if it is the very tool registered under its name."""
    if t.name not in registry.names("tools"):
        return None
    entry = registry.entry("tools", t.name)
    return entry.origin if entry.load() is t else None


@dataclass(frozen=True)
class ToolSpec:
    """One tool of a run: for which agent, and where it came from."""

    agent: str
    name: str
    origin: str  # "argument" (run.json cannot hold it), "decorator", "entry point (dist)",
    # "MCP (server)"


class ToolRegistry:
    """The tools of one run, by agent; ``"all"`` holds tools every agent may use."""

    def __init__(self, tools: Mapping[str, Sequence[ToolLike]] | Sequence[ToolLike] | None = None,
                 *, plugins: bool = True, mcp: Mapping[str, Any] | None = None) -> None:
        self._tools: dict[str, dict[str, tuple[BaseTool, str]]] = {}
        self._mcp: Any = None  # the run's live MCP sessions (labelgraph.tools.mcp)
        if mcp:  # the tools of the MCP servers the run's configuration names
            from labelgraph.tools.mcp import load_mcp_tools, mcp_origin

            for server in mcp:  # a bad agent name fails before any server starts
                _check_agents(mcp[server].agents)
            self._mcp, served = load_mcp_tools(mcp)
            for server, t in served:
                for agent in mcp[server].agents:
                    self._add(agent, t, mcp_origin(server))
        if plugins:  # installed packages add their tools by themselves
            for entry in registry.entries("tools"):
                if entry.origin.startswith("entry point"):
                    t = as_tool(entry.load())
                    for agent in agents_of(t):
                        self._add(agent, t, entry.origin)
        if isinstance(tools, Mapping):
            for agent, items in tools.items():
                _check_agents([agent])
                for item in items:
                    self.register(agent, item)
        else:
            for item in tools or ():
                self.register(None, item)

    def _add(self, agent: str, t: BaseTool, origin: str) -> None:
        self._tools.setdefault(agent, {})[t.name] = (t, origin)

    def register(self, agent: str | None, obj: ToolLike) -> BaseTool:
        """Add a tool (object, function, or a registered tool's name) for ``agent``; with
        ``agent=None`` the tool goes to the agents it declares itself for."""
        if isinstance(obj, str):
            entry = registry.entry("tools", obj)
            t, origin = as_tool(entry.load()), entry.origin
        else:
            t = as_tool(obj)
            origin = _registered_origin(t) or "argument"
        for a in ([agent] if agent else agents_of(t)):
            _check_agents([a])
            self._add(a, t, origin)
        return t

    def for_agent(self, agent: str) -> list[BaseTool]:
        """Every tool ``agent`` may call: its own and those for all agents."""
        return [t for t, _ in (*self._tools.get(ALL, {}).values(),
                               *self._tools.get(agent, {}).values())]

    def close(self) -> None:
        """End the run's MCP servers (they start again only with a new registry)."""
        if self._mcp is not None:
            self._mcp.close()

    def specs(self) -> list[ToolSpec]:
        """Every (agent, tool, origin) of the run."""
        return [ToolSpec(agent, name, origin) for agent, tools in sorted(self._tools.items())
                for name, (_, origin) in sorted(tools.items())]
