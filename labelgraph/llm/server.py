"""A model on any OpenAI-compatible server (llama.cpp, vLLM, Ollama's ``/v1``, LM Studio),
through langchain-openai with the output cap those servers read."""

from __future__ import annotations

from typing import Any

from langchain_core.language_models import BaseChatModel

from labelgraph.budget import is_local_server
from labelgraph.errors import InputError, ModelNotInstalledError

__all__ = ["server_llm"]


def _server_model_class() -> type[BaseChatModel]:
    """ChatOpenAI that also sends ``max_tokens``: langchain-openai sends the cap as
    ``max_completion_tokens``, which OpenAI reads and most OpenAI-compatible servers
    (llama.cpp, vLLM, Ollama) ignore — so a cap would bound neither the answer nor its cost."""
    from langchain_openai import ChatOpenAI

    class ServerChatModel(ChatOpenAI):
        def _get_request_payload(self, input_: Any, *, stop: list[str] | None = None,
                                 **kwargs: Any) -> dict[str, Any]:
            payload = super()._get_request_payload(input_, stop=stop, **kwargs)
            if payload.get("max_completion_tokens") is not None:
                payload.setdefault("max_tokens", payload["max_completion_tokens"])
            return payload

    return ServerChatModel


def server_llm(model: str, base_url: str) -> BaseChatModel:
    """A model on any OpenAI-compatible server (``"openai:<model>@<base URL>"``): llama.cpp's
    ``llama_cpp.server``, vLLM, Ollama's ``/v1``. The key is ``LABELGRAPH_LLM_API_KEY`` (or
    ``OPENAI_API_KEY``), optional for a server on this machine; each call times out after
    ``LABELGRAPH_LLM_TIMEOUT`` seconds and is retried by labelgraph, not by the client."""
    import os

    from labelgraph.config import settings

    try:
        cls = _server_model_class()
    except ImportError as exc:
        raise ModelNotInstalledError(
            f"llm 'openai:{model}@{base_url}' needs langchain-openai: pip install "
            "'labelgraph[openai]'") from exc
    config = settings()
    key = config.llm_api_key or os.environ.get("OPENAI_API_KEY")
    if not key and not is_local_server(base_url):
        raise InputError(f"the model server {base_url} is not on this machine and no key is "
                         "set: set LABELGRAPH_LLM_API_KEY (or OPENAI_API_KEY)")
    return cls(model=model, base_url=base_url, api_key=key or "not-needed",
               timeout=config.llm_timeout, max_retries=0)
