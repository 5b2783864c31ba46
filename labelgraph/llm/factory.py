"""One factory for every model spec: ``"none"``, ``"local[:<model>]"``,
``"<provider>:<model>"`` (LangChain's ``init_chat_model``, provider packages as extras) and
``"openai:<model>@<base URL>"`` (any OpenAI-compatible server). The provider part is looked up
in the registry, so a plug-in adds a provider by name.
"""

from __future__ import annotations

from langchain_core.language_models import BaseChatModel

from labelgraph.errors import InputError, ModelNotInstalledError
from labelgraph.llm.server import server_llm

__all__ = ["local_llm", "no_llm", "provider_llm", "resolve_llm", "split_server"]

_PROVIDER_EXTRAS = {"openai": "openai", "anthropic": "anthropic", "ollama": "ollama"}


def no_llm(provider: str = "none", model: str = "") -> None:
    """``"none"``: no LLM at all (oracle or human labels, the rule policy)."""
    return None


def local_llm(provider: str = "local", model: str = "") -> BaseChatModel:
    """``"local"`` / ``"local:<model or file.gguf>"``: the embedded llama.cpp model."""
    from labelgraph.local import load_local

    return load_local(f"local:{model}" if model else "local")


def split_server(model: str) -> tuple[str, str | None]:
    """``"gemma@http://127.0.0.1:8080/v1"`` -> ``("gemma", "http://127.0.0.1:8080/v1")``: a
    model served at a base URL; a name without one is the provider's own."""
    name, at, url = model.partition("@")
    return (name, url.rstrip("/")) if at and url.startswith(("http://", "https://")) \
        else (model, None)


def provider_llm(provider: str, model: str) -> BaseChatModel:
    """``"<provider>:<model>"`` through LangChain's ``init_chat_model`` (provider extras);
    ``"openai:<model>@<base URL>"`` for any OpenAI-compatible server."""
    spec = f"{provider}:{model}"
    name, base_url = split_server(model)
    if base_url is not None:
        if provider != "openai":
            raise InputError(f"llm {spec!r}: a server URL goes with 'openai:' (any "
                             "OpenAI-compatible server): 'openai:<model>@<base URL>'")
        if not name:
            raise InputError(f"llm {spec!r} needs a model name before the '@'")
        return server_llm(name, base_url)
    if not model:
        raise InputError(f"llm {provider!r} needs a model name: '{provider}:<model>', such as "
                         "'openai:gpt-4o-mini'")
    try:
        from langchain.chat_models import init_chat_model
    except ImportError as exc:
        extra = _PROVIDER_EXTRAS.get(provider, "openai")
        raise ModelNotInstalledError(
            f"llm {spec!r} needs LangChain's provider packages: pip install "
            f"'labelgraph[{extra}]'"
        ) from exc
    try:
        return init_chat_model(model, model_provider=provider)
    except ImportError as exc:
        raise ModelNotInstalledError(
            f"llm {spec!r}: {exc}. Install the provider extra: pip install "
            f"'labelgraph[{_PROVIDER_EXTRAS.get(provider, provider)}]'"
        ) from exc


def resolve_llm(spec: str | BaseChatModel | None) -> BaseChatModel | None:
    """Turn a spec into a chat model: ``"<provider>[:<model>]"`` with the provider looked up
    in the registry (``local``, ``none``, ``openai``, ... or a plug-in), or a chat model."""
    from labelgraph.registry import registry

    if spec is None or isinstance(spec, BaseChatModel):
        return spec
    if not isinstance(spec, str) or not spec.strip():
        raise InputError(f"llm must be a spec string or a BaseChatModel, got {spec!r}")
    provider, _, model = spec.strip().partition(":")
    return registry.get("llms", provider)(provider=provider, model=model)
