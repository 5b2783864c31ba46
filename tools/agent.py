"""Tool-calling agents: LangChain's own agent loop (``create_agent``), bounded and recorded.

An agent that has tools and a chat model that can call them runs as a LangChain agent whose
model is the run's metered LLM (every turn budgeted, recorded and replayed) and whose tools
are wrapped so that each call is bounded in time and size, recorded in the ledger (agent,
tool, arguments, result) the moment it returns, and replayed on resume — a tool with side
effects never runs twice for the same step. A tool that raises or hangs answers the model
with an error message; the run never crashes. The loop ends with a structured answer.
"""

from __future__ import annotations

import contextvars
import json
import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from langchain_core.messages import HumanMessage
from langchain_core.tools import BaseTool, StructuredTool
from langgraph.errors import GraphBubbleUp
from pydantic import BaseModel

from labelgraph.errors import PauseRequested
from labelgraph.memory.ledger import Ledger
from labelgraph.types import content_id

__all__ = ["ToolLimits", "recorded_tools", "run_tool_agent"]

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class ToolLimits:
    """Bounds of one agent's tool use in one step."""

    calls: int = 8  #: tool calls per agent per step
    model_calls: int = 12  #: model turns per agent per step
    seconds: float = 20.0  #: wall time per tool call
    max_chars: int = 4000  #: a longer result is cut, and the model is told so

    @classmethod
    def from_config(cls, config: Any) -> ToolLimits:
        """The limits a run's RunConfig sets."""
        return cls(calls=config.tool_calls, model_calls=config.tool_calls + 4,
                   seconds=config.tool_seconds, max_chars=config.tool_max_chars)


def _as_text(result: Any) -> str:
    if isinstance(result, str):
        return result
    try:
        return json.dumps(result, default=str, ensure_ascii=False)
    except (TypeError, ValueError):
        return str(result)


def _bounded(tool: BaseTool, args: dict[str, Any], seconds: float) -> str:
    """Run a tool in a worker thread; an error or a timeout becomes an error message."""
    box: dict[str, Any] = {}

    def work() -> None:
        try:
            box["result"] = tool.invoke(args)
        except Exception as exc:  # a failing tool answers with its error
            box["error"] = f"{type(exc).__name__}: {exc}"

    # the caller's context goes along, so the call stays a child of the agent's run for
    # callbacks and tracing (LangSmith) instead of a trace of its own
    worker = threading.Thread(target=contextvars.copy_context().run, args=(work,),
                              daemon=True, name=f"tool:{tool.name}")
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        return f"error: the tool {tool.name!r} did not answer within {seconds:g} s"
    if "error" in box:
        return f"error: {box['error']}"
    return _as_text(box.get("result"))


def recorded_tools(tools: Sequence[BaseTool], ledger: Ledger, agent: str, round_: int,
                   step: str, limits: ToolLimits) -> list[BaseTool]:
    """Each tool wrapped: arguments validated by its own schema, run bounded, its result
    recorded in the ledger at once and replayed on a re-run of the same step."""
    seen: Counter[str] = Counter()

    def wrap(tool: BaseTool) -> BaseTool:
        def run(**kwargs: Any) -> str:
            arguments = json.dumps(kwargs, sort_keys=True, default=str)
            key = json.dumps([agent, round_, step, tool.name, arguments])
            seen[key] += 1
            call_id = content_id(f"{key}#{seen[key]}", "tool")
            known = ledger.tool_result(call_id)
            if known is not None:
                return known
            text = _bounded(tool, kwargs, limits.seconds)
            if len(text) > limits.max_chars:
                text = text[:limits.max_chars] + f" [cut: {len(text)} characters in all]"
            ledger.record_tool_call(call_id, agent, tool.name, arguments, text, round_)
            return text

        return StructuredTool.from_function(func=run, name=tool.name,
                                            description=tool.description or tool.name,
                                            args_schema=tool.args_schema)

    return [wrap(t) for t in tools]


def run_tool_agent(llm: Any, agent: str, round_: int, step: str, tools: Sequence[BaseTool],
                   system: str, prompt: str, schema: type[M],
                   limits: ToolLimits | None = None) -> tuple[M | None, str, list[str]]:
    """Run one bounded tool-calling agent to a structured answer.

    Returns ``(answer or None, reason if None, names of the tools it called)``. Anything
    that goes wrong in the turn — a budget that does not fit, a provider that fails or sends
    an unparseable body, a loop that ends without an answer — is an abstention with its
    reason, never an exception; only an interrupt or a pause passes through.
    """
    from langchain.agents import create_agent
    from langchain.agents.middleware import ModelCallLimitMiddleware, ToolCallLimitMiddleware
    from langchain.agents.structured_output import ToolStrategy

    from labelgraph.llm import MeteredChatModel

    limits = limits or ToolLimits()
    model = MeteredChatModel(metered=llm, agent=agent, round=round_)
    graph = create_agent(
        model, tools=recorded_tools(tools, llm.ledger, agent, round_, step, limits),
        system_prompt=system, response_format=ToolStrategy(schema),
        middleware=[ToolCallLimitMiddleware(run_limit=limits.calls),
                    ModelCallLimitMiddleware(run_limit=limits.model_calls)])
    try:
        out = graph.invoke({"messages": [HumanMessage(content=prompt)]},
                           {"recursion_limit": 4 * limits.model_calls + 8})
    except (GraphBubbleUp, PauseRequested):  # an interrupt or a pause is not a failure
        raise
    except Exception as exc:  # a failing provider, a malformed answer, an exhausted budget
        return None, f"{type(exc).__name__}: {exc}", []
    called = [c["name"] for m in out.get("messages", []) for c in getattr(m, "tool_calls", [])
              if c["name"] != schema.__name__]
    answer = out.get("structured_response")
    if isinstance(answer, schema):
        return answer, "", called
    return None, "the agent ended without an answer", called
