"""labelgraph: LLM-driven active learning as a LangGraph state machine.

The public names below load on first use, so ``import labelgraph`` (and ``labelgraph
--help``) stay fast: LangGraph, Chroma and scikit-learn are imported only when a run needs
them. The extension Protocols — what a plug-in implements — are listed here too:
:class:`Strategy`, :class:`StoppingCriterion`, :class:`Policy`, :class:`Annotator`; and
:class:`RunContext`, the run as an annotator or a tool sees it (never the graph).
"""

from __future__ import annotations

import importlib
import warnings
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_PUBLIC: dict[str, str] = {
    # the entry point and its values
    "LabelGraph": "labelgraph.api",
    "RunResult": "labelgraph.results",
    "Task": "labelgraph.types",
    "Budget": "labelgraph.types",
    "Decision": "labelgraph.types",
    "Proposal": "labelgraph.types",
    "RunConfig": "labelgraph.config",
    # errors
    "LabelGraphError": "labelgraph.errors",
    "InputError": "labelgraph.errors",
    "BudgetExhausted": "labelgraph.errors",
    "ModelNotInstalledError": "labelgraph.errors",
    "RunStateError": "labelgraph.errors",
    # extension points: the Protocols plug-ins implement, and how to register them
    "Strategy": "labelgraph.strategies",
    "StoppingCriterion": "labelgraph.stopping",
    "Policy": "labelgraph.policies",
    "RoundSignals": "labelgraph.policies",
    "Annotator": "labelgraph.annotators",
    "RunContext": "labelgraph.runtime",
    "register": "labelgraph.registry",
    "tool": "labelgraph.tools.registry",
}

__all__ = ["Annotator", "Budget", "BudgetExhausted", "Decision", "InputError", "LabelGraph",
           "LabelGraphError", "ModelNotInstalledError", "Policy", "Proposal", "RunConfig",
           "RoundSignals", "RunContext", "RunResult", "RunStateError", "StoppingCriterion",
           "Strategy", "Task", "register", "tool"]

if TYPE_CHECKING:
    from labelgraph.annotators import Annotator
    from labelgraph.api import LabelGraph
    from labelgraph.config import RunConfig
    from labelgraph.errors import (
        BudgetExhausted,
        InputError,
        LabelGraphError,
        ModelNotInstalledError,
        RunStateError,
    )
    from labelgraph.policies import Policy, RoundSignals
    from labelgraph.registry import register
    from labelgraph.results import RunResult
    from labelgraph.runtime import RunContext
    from labelgraph.stopping import StoppingCriterion
    from labelgraph.strategies import Strategy
    from labelgraph.tools.registry import tool
    from labelgraph.types import Budget, Decision, Proposal, Task


#: old public name -> (its module, its new name): still importable, with a DeprecationWarning
_RENAMED: dict[str, tuple[str, str]] = {"Signals": ("labelgraph.policies", "RoundSignals")}


def __getattr__(name: str) -> Any:
    if name in _RENAMED:
        module, new = _RENAMED[name]
        warnings.warn(f"labelgraph.{name} is renamed {new}; the old name will be removed",
                      DeprecationWarning, stacklevel=2)
        return getattr(importlib.import_module(module), new)
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'labelgraph' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_PUBLIC])
