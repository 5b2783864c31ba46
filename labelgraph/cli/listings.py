"""What labelgraph is made of: ``graph`` (the graph as Mermaid text) and ``plugins`` (every
registered strategy, criterion, annotator, policy, embedding, LLM and tool, or one run's tools
and how each agent works in it)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from labelgraph.cli.base import command, console
from labelgraph.errors import InputError

__all__ = ["graph", "plugins"]


@command
def graph() -> None:
    """Print the graph as Mermaid text."""
    from labelgraph.graph.builder import build_graph

    print(build_graph().get_graph().draw_mermaid())


@command
def plugins(run_dir: Annotated[Path | None, typer.Argument(
        help="a run directory: list that run's tools and how each agent works in it")] = None,
            ) -> None:
    """List every strategy, criterion, annotator, policy, embedding, LLM, tool and its origin."""
    if run_dir is not None:
        _run_plugins(run_dir)
        return
    from rich.table import Table

    from labelgraph.registry import KINDS, registry
    from labelgraph.tools.builtin import BUILTIN_TOOLS
    from labelgraph.tools.registry import AGENTS, ALL, agents_of

    table = Table(title="labelgraph plug-ins")
    for column in ("kind", "name", "origin", "what"):
        table.add_column(column)
    for kind in KINDS:
        for entry in registry.entries(kind):
            table.add_row(kind, entry.name, entry.origin, entry.target)
    console.print(table)
    tools = _tools_table("tools by agent (built-ins run when the agent calls tools)")
    for agent in AGENTS:
        for name in BUILTIN_TOOLS.get(agent, ()):
            tools.add_row(agent, name, "built-in")
    for entry in registry.entries("tools"):
        for agent in agents_of(entry.load()):
            tools.add_row(agent if agent != ALL else "every agent", entry.name, entry.origin)
    console.print(tools)
    console.print("Per run, tools passed to LabelGraph(tools=...) (origin 'argument') and the "
                  "tools of the MCP servers its config names (origin 'MCP (server)') join "
                  "these: labelgraph plugins RUN_DIR lists them and how each agent works.")


def _tools_table(title: str) -> Any:
    from rich.table import Table

    table = Table(title=title)
    for column in ("agent", "tool", "origin"):
        table.add_column(column)
    return table


def _run_plugins(run_dir: Path) -> None:
    """One run's tools by agent, with origins (run.json), and each agent's mode (agents.json,
    written by the run's last driver)."""
    from rich.table import Table

    from labelgraph.memory.paths import RunPaths
    from labelgraph.tools.builtin import BUILTIN_TOOLS

    paths = RunPaths(run_dir)
    if not paths.settings.exists():
        raise InputError(f"{run_dir} is not a labelgraph run (no run.json)")
    settings = json.loads(paths.settings.read_text())
    modes = json.loads(paths.agents.read_text()) if paths.agents.exists() else {}
    table = Table(title=f"agents of {run_dir}")
    for column in ("agent", "how it works in this run"):
        table.add_column(column)
    for agent, mode in modes.items():
        table.add_row(agent, mode)
    if modes:
        console.print(table)
    else:
        console.print("no driver has built this run yet: agents.json is missing")
    tools = _tools_table(f"tools of {run_dir} by agent")
    for agent, mode in modes.items():
        if "tool-calling" in mode:
            for name in BUILTIN_TOOLS.get(agent, ()):
                tools.add_row(agent, name, "built-in")
    if "llm_judge" in modes.get("verifier", ""):
        tools.add_row("verifier", "llm_judge", "built-in")
    for spec in settings.get("tools") or []:
        tools.add_row(spec["agent"] if spec["agent"] != "all" else "every agent",
                      spec["name"], spec["origin"])
    console.print(tools)
