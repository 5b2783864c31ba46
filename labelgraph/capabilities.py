"""Optional capabilities of the extension pieces: each declared once, with the value a run
assumes for a piece that lacks it, and read one way (:func:`capability`).

An extension Protocol (:class:`~labelgraph.strategies.Strategy`,
:class:`~labelgraph.policies.Policy`, :class:`~labelgraph.annotators.Annotator`) asks only
for what every piece must have. What only some pieces can do is a capability: a flag
(``uses_tools``) or a method (``raw``). A Protocol cannot hold optional members (a runtime
``isinstance`` check would demand them of every piece), so each Protocol's module declares
its capabilities as :class:`Capability` values beside it and lists them in its docstring,
and the run reads them only through :func:`capability` — never with a default of its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["USES_TOOLS", "Capability", "capability"]


@dataclass(frozen=True)
class Capability:
    """An optional member of an extension Protocol: its name, what a run assumes for a
    piece without it, and what it means."""

    name: str
    default: Any
    doc: str


def capability(piece: Any, declared: Capability) -> Any:
    """``piece``'s value of a declared capability (a flag, or a bound method), or the
    declared default when the piece lacks it."""
    return getattr(piece, declared.name, declared.default)


#: Policies and annotators: the piece can run as a tool-calling agent (LangChain's agent
#: loop over its agent's tools) when the run's chat model calls tools.
USES_TOOLS = Capability(
    "uses_tools", False,
    "it can run as a tool-calling agent over its agent's tools when the run's chat model "
    "calls tools; without it the tools run as deterministic hooks, if at all")
