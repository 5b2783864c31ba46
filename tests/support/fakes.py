"""Test doubles for what cannot run here: remote chat models.

``ScriptedChatModel`` implements ``bind_tools``, so ``with_structured_output`` works on it
(langchain-core's own fake chat models lack it). A responder function sees the messages and
the name of the tool the caller asked for, and returns that tool's arguments — or a string,
sent back as plain text (to test malformed output), or a whole ``AIMessage`` (to test what a
provider may report), or raises (to test provider errors).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.utils.function_calling import convert_to_openai_tool

Responder = Callable[[list[BaseMessage], str], dict[str, Any] | str | AIMessage]
#: The fakes' price table (both report the model name "scripted"): pass it as ``prices=``
#: where a test needs their calls to cost nothing; unpriced, they cost what an unknown
#: remote model does, as the pricing code knows no test fake.
FREE: dict[str, tuple[float, float]] = {"scripted": (0.0, 0.0)}


class ScriptedChatModel(BaseChatModel):
    """A chat model whose answers come from a Python function; counts its calls. It answers
    structured-output requests only (``tool_calling = False``): no agent loop runs on it."""

    responder: Responder
    tool_calling: bool = False
    calls: list[str] = []
    tool_name: str | None = None
    counter: Any = None

    def model_post_init(self, __context: Any) -> None:
        self.counter = itertools.count()

    @property
    def _llm_type(self) -> str:
        return "scripted"

    def bind_tools(self, tools: Sequence[Any], *, tool_choice: Any = None, **kwargs: Any) -> Any:
        name = convert_to_openai_tool(tools[0])["function"]["name"]
        return self.model_copy(update={"tool_name": name})

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                  run_manager: CallbackManagerForLLMRun | None = None,
                  **kwargs: Any) -> ChatResult:
        name = self.tool_name or "text"
        self.calls.append(name)
        answer = self.responder(messages, name)
        usage = {"input_tokens": sum(len(str(m.content)) // 4 for m in messages),
                 "output_tokens": 20, "total_tokens": 0}
        usage["total_tokens"] = usage["input_tokens"] + usage["output_tokens"]
        if isinstance(answer, AIMessage):
            msg = answer
        elif isinstance(answer, str):
            msg = AIMessage(content=answer, usage_metadata=usage)
        else:
            msg = AIMessage(content="", usage_metadata=usage, tool_calls=[
                {"name": name, "args": answer, "id": f"call_{next(self.counter)}"}])
        return ChatResult(generations=[ChatGeneration(message=msg)])


def last_text(messages: list[BaseMessage]) -> str:
    """The text between the last <text> tags of the last message."""
    content = str(messages[-1].content)
    start = content.rfind("<text>")
    end = content.rfind("</text>")
    return content[start + 6:end] if start >= 0 and end > start else content


Script = Callable[[list[BaseMessage], list[str]], Any]


class ToolCallingChatModel(BaseChatModel):
    """A scripted chat model that really goes through tool calls and tool messages.

    ``script(messages, tool_names)`` sees the conversation so far and the names of the tools
    bound for this call, and returns ``{"tool": name, "args": {...}}`` (one tool call), a
    list of them (parallel calls), or a string (a plain answer). Every call is logged in
    ``calls`` as the tool names it asked for.
    """

    script: Script
    calls: list[list[str]] = []
    tool_names: list[str] = []
    counter: Any = None

    def model_post_init(self, __context: Any) -> None:
        self.counter = itertools.count()
        self.calls = []

    @property
    def _llm_type(self) -> str:
        return "scripted"

    def bind_tools(self, tools: Sequence[Any], *, tool_choice: Any = None, **kwargs: Any) -> Any:
        names = [convert_to_openai_tool(t)["function"]["name"] for t in tools]
        return self.model_copy(update={"tool_names": names})

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                  run_manager: CallbackManagerForLLMRun | None = None,
                  **kwargs: Any) -> ChatResult:
        return self.answer(messages, self.tool_names)

    def answer(self, messages: list[BaseMessage], names: list[str]) -> ChatResult:
        out = self.script(messages, names)
        usage = {"input_tokens": sum(len(str(m.content)) // 4 for m in messages) + 1,
                 "output_tokens": 20, "total_tokens": 0}
        usage["total_tokens"] = usage["input_tokens"] + usage["output_tokens"]
        if isinstance(out, str):
            self.calls.append([])
            return ChatResult(generations=[ChatGeneration(message=AIMessage(
                content=out, usage_metadata=usage))])
        calls = out if isinstance(out, list) else [out]
        self.calls.append([c["tool"] for c in calls])
        msg = AIMessage(content="", usage_metadata=usage, tool_calls=[
            {"name": c["tool"], "args": c.get("args", {}), "id": f"call_{next(self.counter)}"}
            for c in calls])
        return ChatResult(generations=[ChatGeneration(message=msg)])



class HTTPStatusError(Exception):
    """Shaped like a provider SDK's HTTP error: a ``status_code`` and the server's words."""

    def __init__(self, status_code: int, message: str = "") -> None:
        super().__init__(f"Error code: {status_code} - {message or 'request failed'}")
        self.status_code = status_code
