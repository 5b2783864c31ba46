"""Tool-calling agents on the metered model: whether a model can drive one, and a LangChain
chat model whose every turn is metered, recorded and replayed."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult

from labelgraph.llm.capabilities import capable_of_decisions, is_local
from labelgraph.llm.metered import MeteredLLM

__all__ = ["MeteredChatModel", "calls_tools"]


class MeteredChatModel(BaseChatModel):
    """A LangChain chat model whose every turn goes through :meth:`MeteredLLM.chat`, so a
    LangChain agent loop (``create_agent``) is budgeted, recorded and replayed like the rest
    of the run."""

    metered: Any  #: the MeteredLLM
    agent: str  #: which labelgraph agent is talking (for the ledger)
    round: int  #: the round (for the ledger)
    bound: Any = None  #: the inner model with tools bound
    tool_names: list[str] = []

    @property
    def _llm_type(self) -> str:
        return "labelgraph-metered"

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> Any:
        from langchain_core.utils.function_calling import convert_to_openai_tool

        names = [convert_to_openai_tool(t)["function"]["name"] for t in tools]
        return self.model_copy(update={"bound": self.metered.llm.bind_tools(tools, **kwargs),
                                       "tool_names": names})

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                  run_manager: CallbackManagerForLLMRun | None = None,
                  **kwargs: Any) -> ChatResult:
        message = self.metered.chat(self.agent, self.bound or self.metered.llm, messages,
                                    self.round, self.tool_names)
        return ChatResult(generations=[ChatGeneration(message=message)])


def calls_tools(llm: Any) -> bool:
    """Can this model drive a tool-calling agent? The embedded model cannot; a model may say
    so itself with a ``tool_calling`` attribute (e.g. one good only at structured output);
    given the run's :class:`MeteredLLM`, not once its server has said it cannot."""
    if isinstance(llm, MeteredLLM):
        if "tools" in llm.missing:
            return False
        llm = llm.llm
    if llm is None or is_local(llm) or not capable_of_decisions(llm):
        return False
    if getattr(llm, "tool_calling", None) is not None:
        return bool(llm.tool_calling)
    try:
        return type(llm).bind_tools is not BaseChatModel.bind_tools
    except AttributeError:
        return False
