"""Graph construction, wiring only: the seven nodes of DESIGN.md §3 and the supervisor's routes."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime

from labelgraph.agents.accessors import decision_of, round_of
from labelgraph.agents.annotator import annotator_node
from labelgraph.agents.bootstrap import bootstrap_node
from labelgraph.agents.generator import generator_node
from labelgraph.agents.learner import learner_node
from labelgraph.agents.selector import selector_node
from labelgraph.agents.supervisor import supervisor_node
from labelgraph.agents.verifier import verifier_node
from labelgraph.graph.context import Context
from labelgraph.graph.state import State

__all__ = ["NODES", "after_bootstrap", "build_graph", "recursion_limit", "route", "timed"]

NODES = ("bootstrap", "supervisor", "selector", "generator", "annotator", "verifier", "learner")
STEPS_PER_ROUND = 5
Node = Callable[[State, "Runtime[Context]"], dict[str, Any]]


def after_bootstrap(state: State) -> str:
    """A recovered batch (labels bought but not verified before a crash) goes to the
    verifier; otherwise the supervisor decides."""
    return "verifier" if state.get("batch") else "supervisor"


def route(state: State) -> str:
    """Where the supervisor's decision leads: the selector, the generator, or the end."""
    decision = decision_of(state)
    action = decision.action if decision else "stop"
    return {"query": "selector", "synthesize": "generator"}.get(action, END)


def timed(name: str, node: Node) -> Node:
    """The node, timed: its wall time is recorded in the ledger for the round it worked on
    (the supervisor's for the round it opens). A node that pauses for a person records
    nothing then; it is timed when it completes."""

    def run(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
        start = time.perf_counter()
        update = node(state, runtime)
        seconds = time.perf_counter() - start
        round_ = update.get("round", round_of(state)) if isinstance(update, dict) \
            else round_of(state)
        runtime.context.ledger.record_timing(int(round_ or 0), name, seconds)
        return update

    run.__name__ = run.__qualname__ = name
    run.__doc__ = node.__doc__
    return run


def build_graph(checkpointer: BaseCheckpointSaver | None = None) -> Any:
    """The compiled LangGraph; pass ``context=`` (a :class:`Context`) to invoke or stream.
    Every node is timed (``LabelGraph.timings()``)."""
    g = StateGraph(State, context_schema=Context)
    for name, node in (("bootstrap", bootstrap_node), ("supervisor", supervisor_node),
                       ("selector", selector_node), ("generator", generator_node),
                       ("annotator", annotator_node), ("verifier", verifier_node),
                       ("learner", learner_node)):
        g.add_node(name, timed(name, node))
    g.add_edge(START, "bootstrap")
    g.add_conditional_edges("bootstrap", after_bootstrap, ["supervisor", "verifier"])
    g.add_conditional_edges("supervisor", route, ["selector", "generator", END])
    g.add_edge("selector", "annotator")
    g.add_edge("generator", "annotator")
    g.add_edge("annotator", "verifier")
    g.add_edge("verifier", "learner")
    g.add_edge("learner", "supervisor")
    return g.compile(checkpointer=checkpointer)


def recursion_limit(labels: int | None, rounds: int | None, patience: int) -> int:
    """Enough supersteps for the budget. A round either adds a label to memory or counts
    toward the idle-round patience, and every label costs budget, so
    rounds <= (labels + 1) * (patience + 1)."""
    bounds = [b for b in (rounds, (labels + 1) * (patience + 1) if labels else None) if b]
    return STEPS_PER_ROUND * (min(bounds) + 2) + 10
