"""How each agent of a composed run works, in words: for ``agents.json``, the report and the
console's ``/tools``.

It reads what the run's pieces declare (their capabilities, :mod:`labelgraph.capabilities`),
the tools registered for each agent and whether the chat model calls tools — never the
pieces' class or registry names — so a plug-in is described as truly as a built-in.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from labelgraph.capabilities import USES_TOOLS, capability
from labelgraph.llm import calls_tools
from labelgraph.registry import registry
from labelgraph.strategies import PLAYS_ARMS, SHORTLIST
from labelgraph.tools.builtin import BUILTIN_TOOLS

if TYPE_CHECKING:
    from labelgraph.graph.context import Context

__all__ = ["agent_modes"]


def agent_modes(ctx: Context) -> dict[str, str]:
    """How each agent works in this run: which are tool-calling LLM agents, which run their
    tools as deterministic hooks, and which follow rules."""
    chat = ctx.llm.llm if ctx.llm is not None else None
    local = ctx.llm is not None and ctx.llm.local
    agentic = calls_tools(chat)

    def tools_of(agent: str, builtin: bool) -> str:
        names = [*(BUILTIN_TOOLS.get(agent, ()) if builtin else ()),
                 *(t.name for t in ctx.tools.for_agent(agent))]
        return f" (tools: {', '.join(names)})" if names else ""

    if capability(ctx.policy, USES_TOOLS) and agentic:
        supervisor = "tool-calling LLM agent" + tools_of("supervisor", True)
    elif capability(ctx.policy, USES_TOOLS):  # an LLM policy whose model calls no tools
        supervisor = "LLM policy (structured decision, no tools)"
    else:
        supervisor = f"rules ({type(ctx.policy).__name__})"
    annotator = type(ctx.annotator).__name__
    user = ctx.tools.for_agent("annotator")
    if capability(ctx.annotator, USES_TOOLS) and agentic and user:
        annotator += ": tool-calling LLM agent" + tools_of("annotator", True)
    elif user:
        annotator += ": tools as deterministic hooks (notes in the prompt)" + \
            tools_of("annotator", False)
    checks = ctx.tools.for_agent("verifier")
    verifier = "deterministic checks" + (tools_of("verifier", False) if checks else "")
    if ctx.config.judge:
        verifier += "; an LLM judge (llm_judge) for doubtful labels"
    generator = "off" if not ctx.config.synthesize or chat is None else \
        "local list continuation" if local else \
        "tool-calling LLM agent" + tools_of("generator", True) if agentic else \
        "LLM (structured list)"
    name = ctx.config.strategy
    strategy = registry.create("strategies", name)
    selector = f"strategy {name!r} (pure)"
    if capability(strategy, SHORTLIST) is not None:
        selector = "LLM picks from a shortlist" if chat is not None and not local \
            else f"strategy {name!r}: margin (no chat model to pick)"
    elif capability(strategy, PLAYS_ARMS):
        selector = f"bandit over {', '.join(ctx.config.bandit_arms)} (pure)"
    return {"supervisor": supervisor, "annotator": annotator, "generator": generator,
            "verifier": verifier, "selector": selector, "learner": "student refit (pure)"}
