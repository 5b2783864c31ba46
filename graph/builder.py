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
from labelgraph.errors import RunStateError
from labelgraph.graph.context import Context
from labelgraph.graph.state import State

__all__ = ["NO_CONTEXT", "NODES", "after_bootstrap", "build_graph", "recursion_limit", "route",
           "timed"]

NODES = ("bootstrap", "supervisor", "selector", "generator", "annotator", "verifier", "learner")
STEPS_PER_ROUND = 5
Node = Callable[[State, "Runtime[Context]"], dict[str, Any]]
#: a run's context, or what returns it when a node first needs it
ContextSource = Context | Callable[[], Context]
NO_CONTEXT = (
    "this labelgraph graph has no run to work on: its nodes need the run's context (models, "
    "memory, pool, ledger, budget). Use LabelGraph(...).graph, which carries its run's; or "
    "pass context=lg.context to invoke/stream; or build a served graph with "
    "labelgraph.studio.make_graph (LABELGRAPH_RUN_DIR=<run directory>)")


def after_bootstrap(state: State) -> str:
    """A recovered batch (labels bought but not verified before a crash) goes to the
    verifier; otherwise the supervisor decides."""
    return "verifier" if state.get("batch") else "supervisor"


def route(state: State) -> str:
    """Where the supervisor's decision leads: the selector, the generator, or the end."""
    decision = decision_of(state)
    action = decision.action if decision else "stop"
    return {"query": "selector", "synthesize": "generator"}.get(action, END)


def weak_context(owner: Any) -> ContextSource:
    """A context source that reads ``owner.context`` when a node first needs it, holding
    the owner (a LabelGraph) weakly: the graph must not keep its run alive."""
    import weakref

    ref = weakref.ref(owner)

    def context() -> Context:
        lg = ref()
        if lg is None:
            raise RunStateError("the LabelGraph this graph belongs to is gone; keep it "
                                "(lg = LabelGraph(...)) while you use lg.graph")
        return lg.context

    return context


def with_context(runtime: Runtime[Any], bound: ContextSource | None) -> Runtime[Context]:
    """The runtime a node gets: the caller's ``context=`` when it is a :class:`Context`,
    else the graph's bound one; with neither, one RunStateError that says what to do (not
    an AttributeError on None deep inside a node)."""
    if isinstance(runtime.context, Context):
        return runtime
    if bound is None:
        raise RunStateError(NO_CONTEXT)
    return runtime.override(context=bound if isinstance(bound, Context) else bound())


def timed(name: str, node: Node, context: ContextSource | None = None) -> Node:
    """The node, timed: its wall time is recorded in the ledger for the round it worked on
    (the supervisor's for the round it opens). A node that pauses for a person records
    nothing then; it is timed when it completes. ``context`` stands in when the caller
    passes none (see :func:`with_context`)."""

    def run(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
        runtime = with_context(runtime, context)
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


def build_graph(checkpointer: BaseCheckpointSaver | None = None, *,
                context: ContextSource | None = None) -> Any:
    """The compiled LangGraph. Every node is timed (``LabelGraph.timings()``).

    Without ``context``, pass ``context=`` (a :class:`Context`) to invoke or stream. With
    it (a Context, or a function returning one when a node first runs) the graph is bound
    to that run: invoked without ``context=``, on any thread, it works on that run. A
    bound graph declares no context schema, so a server that passes its own configurable
    values as the context (LangGraph's API server does) cannot displace the run's.
    """
    g = StateGraph(State, context_schema=None if context is not None else Context)
    for name, node in (("bootstrap", bootstrap_node), ("supervisor", supervisor_node),
                       ("selector", selector_node), ("generator", generator_node),
                       ("annotator", annotator_node), ("verifier", verifier_node),
                       ("learner", learner_node)):
        g.add_node(name, timed(name, node, context))
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
