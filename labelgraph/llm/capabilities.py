"""What a model can do, read from the model itself: its name for prices and call keys,
whether it is the embedded model (scores label words, continues lists), whether it can make
the supervisor's decisions, whether it returns token log-probabilities."""

from __future__ import annotations

from typing import Any

from langchain_core.language_models import BaseChatModel

__all__ = ["capable_of_decisions", "is_local", "model_name", "returns_logprobs"]


def model_name(llm: BaseChatModel | None, spec: str | None = None) -> str:
    """The name used for pricing and for call keys."""
    if llm is None:
        return "none"
    if spec and isinstance(spec, str):
        return spec
    if hasattr(llm, "score_labels"):
        return "local"
    name = getattr(llm, "model_name", None) or getattr(llm, "model", None) or llm._llm_type
    return str(name)


def is_local(llm: Any) -> bool:
    """Local models score label words and continue lists instead of chatting."""
    return hasattr(llm, "score_labels") and hasattr(llm, "complete")


def capable_of_decisions(llm: Any) -> bool:
    return llm is not None and bool(getattr(llm, "capable_of_decisions", not is_local(llm)))


def returns_logprobs(llm: Any) -> bool:
    """True for a remote chat model that can return token log-probabilities (it has the
    ``logprobs`` and ``top_logprobs`` fields, as OpenAI-compatible LangChain models do)."""
    fields = getattr(type(llm), "model_fields", {})
    return not is_local(llm) and "logprobs" in fields and "top_logprobs" in fields
