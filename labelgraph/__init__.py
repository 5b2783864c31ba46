"""labelgraph: LLM-driven active learning as a LangGraph state machine."""

from labelgraph.api import LabelGraph, RunResult
from labelgraph.errors import (
    BudgetExhausted,
    InputError,
    LabelGraphError,
    ModelNotInstalledError,
    RunStateError,
)
from labelgraph.graph.context import RunConfig
from labelgraph.types import Budget, Decision, Task

__all__ = ["Budget", "BudgetExhausted", "Decision", "InputError", "LabelGraph",
           "LabelGraphError", "ModelNotInstalledError", "RunConfig", "RunResult",
           "RunStateError", "Task"]
__version__ = "0.1.0"
