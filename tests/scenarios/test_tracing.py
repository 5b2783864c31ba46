"""What a tracer such as LangSmith's sees of a run: one trace per graph run, the nodes as
chain runs, and every LLM call nested under the node that made it, also when a batch is
labeled in parallel. LangSmith's tracer is a LangChain callback handler like the one here;
it is switched on by LANGSMITH_TRACING, which no test sets (there is no network)."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.tracers.base import BaseTracer
from langchain_core.tracers.schemas import Run

from conftest import make_pool, sentiment_of
from labelgraph import Budget, LabelGraph, Task
from support.fakes import ScriptedChatModel, ToolCallingChatModel, last_text


class RecordingTracer(BaseTracer):
    """Every run's name, type, parent and trace, in the order they start."""

    def __init__(self) -> None:
        super().__init__()
        self.started: list[Run] = []

    def _start_trace(self, run: Run) -> None:
        super()._start_trace(run)
        self.started.append(run)

    def _persist_run(self, run: Run) -> None:
        pass


def respond(messages: list[Any], tool: str) -> dict[str, Any]:
    assert tool == "LabelAnswer", tool
    return {"label": sentiment_of(last_text(messages)), "confidence": 0.95}


@pytest.mark.parametrize("concurrency", [1, 4])
def test_llm_calls_are_traced_inside_the_node_that_made_them(tmp_path, concurrency):
    lg = LabelGraph(Task(labels=["positive", "negative"], description="movie reviews"),
                    llm=ScriptedChatModel(responder=respond), annotator="llm", policy="rule",
                    budget=Budget(labels=10), run_dir=tmp_path / "run", embedding="hashing",
                    config={"seed_size": 6, "batch_size": 4, "stopping": [],
                            "synthesize": False, "max_concurrency": concurrency})
    lg.add_pool(make_pool(10), label_column="label")
    tracer = RecordingTracer()
    lg.graph.invoke({}, {"configurable": {"thread_id": "traced"}, "callbacks": [tracer],
                         "recursion_limit": 60})
    runs = {run.id: run for run in tracer.started}
    roots = [run for run in runs.values() if run.parent_run_id is None]
    assert [run.name for run in roots] == ["LangGraph"]  # one trace for the graph run
    nodes = {run.name for run in runs.values() if run.parent_run_id == roots[0].id}
    assert {"bootstrap", "supervisor", "selector", "annotator", "verifier",
            "learner"} <= nodes
    llm_calls = [run for run in runs.values() if run.run_type == "llm"]
    assert len(llm_calls) == 10  # one per label bought

    def node_of(run: Run) -> str:
        while runs[run.parent_run_id].parent_run_id != roots[0].id:
            run = runs[run.parent_run_id]
        return runs[run.parent_run_id].name

    assert {node_of(run) for run in llm_calls} == {"annotator"}
    lg.close()


def film_notes(text: str) -> str:
    """What a film-review glossary says about the text (nothing here)."""
    return ""


def consult_then_label(messages: list[Any], names: list[str]) -> dict[str, Any]:
    if "film_notes" in names and not any(getattr(m, "type", "") == "tool" for m in messages):
        return {"tool": "film_notes", "args": {"text": last_text(messages)}}
    return {"tool": "LabelAnswer", "args": {"label": sentiment_of(last_text(messages)),
                                            "confidence": 0.9}}


def test_an_agents_tool_calls_are_traced_inside_its_node(tmp_path):
    lg = LabelGraph(Task(labels=["positive", "negative"], description="movie reviews"),
                    llm=ToolCallingChatModel(script=consult_then_label), annotator="llm",
                    policy="rule", budget=Budget(labels=6), run_dir=tmp_path / "run",
                    embedding="hashing", tools={"annotator": [film_notes]},
                    config={"seed_size": 6, "stopping": [], "synthesize": False})
    lg.add_pool(make_pool(10), label_column="label")
    tracer = RecordingTracer()
    lg.graph.invoke({}, {"configurable": {"thread_id": "tools"}, "callbacks": [tracer],
                         "recursion_limit": 60})
    runs = {run.id: run for run in tracer.started}
    root = next(run for run in runs.values() if run.parent_run_id is None)

    def path(run: Run) -> list[str]:
        names = [run.name]
        while run.parent_run_id is not None:
            run = runs[run.parent_run_id]
            names.append(run.name)
        return names[::-1]

    calls = [run for run in runs.values() if run.run_type == "tool"
             and run.name == "film_notes"]
    assert len(calls) >= 6 * 2  # the agent's recorded wrapper, and the tool it runs
    assert all(path(run)[:2] == [root.name, "annotator"] for run in calls)
    lg.close()
