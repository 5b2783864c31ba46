"""LLMs: one factory for every model spec, and a metered caller that never pays for a call twice.

Every LLM call goes through :class:`MeteredLLM`: the budget is checked before the call with
a conservative estimate, the call's tokens and price are recorded in the ledger right after
it, and the call is keyed by a hash of its inputs, so re-running a node after a crash
replays recorded outputs instead of buying them again.

The rooms: :mod:`~labelgraph.llm.factory` (a spec string to a chat model),
:mod:`~labelgraph.llm.server` (any OpenAI-compatible server), :mod:`~labelgraph.llm.capabilities`
(what a model can do), :mod:`~labelgraph.llm.answers` (a label read from an answer),
:mod:`~labelgraph.llm.provider_errors` (which errors a retry mends),
:mod:`~labelgraph.llm.metered` (the metered caller) and :mod:`~labelgraph.llm.tool_calling`
(tool-calling agents on it). Everything is importable from ``labelgraph.llm`` as before.
"""

from __future__ import annotations

from labelgraph.llm.answers import LABEL_TOKENS, LOGPROB_TOP, label_mass, strict_label
from labelgraph.llm.capabilities import (
    capable_of_decisions,
    is_local,
    model_name,
    returns_logprobs,
)
from labelgraph.llm.factory import local_llm, no_llm, provider_llm, resolve_llm, split_server
from labelgraph.llm.metered import M, MeteredLLM
from labelgraph.llm.provider_errors import is_transient
from labelgraph.llm.server import server_llm
from labelgraph.llm.tool_calling import MeteredChatModel, calls_tools

__all__ = ["LABEL_TOKENS", "LOGPROB_TOP", "M", "MeteredChatModel", "MeteredLLM", "calls_tools",
           "capable_of_decisions", "is_local", "is_transient", "label_mass", "local_llm",
           "model_name", "no_llm", "provider_llm", "resolve_llm", "returns_logprobs",
           "server_llm", "split_server", "strict_label"]
