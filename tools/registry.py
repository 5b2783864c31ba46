"""The tool registry: which tools each agent may call.

Tools are LangChain tools; plain functions are wrapped with ``langchain_core.tools.tool``.
Agents call only what is registered for them (or for ``"all"``), so pool texts that look
like instructions can never reach an unregistered capability.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from langchain_core.tools import BaseTool, tool

from labelgraph.errors import InputError

AGENTS = ("supervisor", "selector", "generator", "annotator", "verifier", "learner")
ALL = "all"


def as_tool(obj: BaseTool | Callable[..., Any]) -> BaseTool:
    """A LangChain tool as it is, or a documented plain function wrapped as one."""
    if isinstance(obj, BaseTool):
        return obj
    if callable(obj):
        if not (obj.__doc__ or "").strip():
            raise InputError(f"tool {getattr(obj, '__name__', obj)!r} needs a docstring: "
                             "agents and LLMs read it to know what the tool does")
        return tool(obj)
    raise InputError(f"a tool must be a LangChain tool or a function, got {type(obj).__name__}")


class ToolRegistry:
    """Tools by agent name; ``"all"`` holds tools every agent may use."""

    def __init__(self, tools: Mapping[str, Sequence[BaseTool | Callable[..., Any]]]
                 | None = None) -> None:
        self._tools: dict[str, dict[str, BaseTool]] = {}
        self._builtin: set[str] = set()
        for agent, items in (tools or {}).items():
            for item in items:
                self.register(agent, item)

    def register(self, agent: str, obj: BaseTool | Callable[..., Any], *,
                 builtin: bool = False) -> BaseTool:
        if agent != ALL and agent not in AGENTS:
            raise InputError(f"unknown agent {agent!r} for a tool; use one of "
                             f"{[ALL, *AGENTS]}")
        t = as_tool(obj)
        self._tools.setdefault(agent, {})[t.name] = t
        if builtin:
            self._builtin.add(t.name)
        return t

    def for_agent(self, agent: str) -> list[BaseTool]:
        return [*self._tools.get(ALL, {}).values(), *self._tools.get(agent, {}).values()]

    def custom(self, agent: str) -> list[BaseTool]:
        """The user's own tools for an agent: the checks and notes agents run on every item."""
        return [t for t in self.for_agent(agent) if t.name not in self._builtin]

    def get(self, agent: str, name: str) -> BaseTool:
        for t in self.for_agent(agent):
            if t.name == name:
                return t
        raise InputError(f"agent {agent!r} has no tool {name!r}; it has "
                         f"{[t.name for t in self.for_agent(agent)]}")

    def describe(self) -> dict[str, list[str]]:
        return {agent: sorted(tools) for agent, tools in self._tools.items()}


def call_with(t: BaseTool, values: Mapping[str, Any]) -> Any:
    """Invoke a tool with the subset of ``values`` its argument schema names."""
    schema = t.args or {}
    return t.invoke({k: v for k, v in values.items() if k in schema})
