"""What a tool call through MCP costs: a plain function, the run's live MCP session, and (for
comparison) a fresh MCP session per call, which is how labelgraph called MCP tools before.

Run it with:

    python benchmarks/mcp_calls.py [--calls N] [--fresh-calls M] [--out PATH]

The server is the tests' glossary (tests/support/mcp_server.py, a FastMCP server over stdio, run by
this interpreter); every call asks it about the same short text. Each way makes N calls
(M for the fresh sessions, which are slow) through ``tool.invoke``, timed one by one with
``time.perf_counter``, after one warm-up call. The live session's start (spawning the
server and listing its tools) is timed on its own. Writes a JSON file (default
benchmarks/results/mcp_calls/mcp_calls.json) with the command and the commit (``provenance.stamp``)
and the figures, and prints a short table. A measurement, not a test: it exits 0.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from langchain_core.tools import BaseTool, tool
from provenance import stamp

ROOT = Path(__file__).resolve().parents[1]
SERVER = ROOT / "tests" / "support" / "mcp_server.py"
TEXT = "a trap of a film, scene 3, with tedious acting"


def timed_calls(call: Callable[[], Any], n: int) -> dict[str, float]:
    """Seconds for ``n`` calls of ``call`` after one warm-up: total, median and max (ms)."""
    call()
    times = []
    for _ in range(n):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return {"calls": n, "total_s": round(sum(times), 4),
            "median_ms": round(1000 * statistics.median(times), 3),
            "max_ms": round(1000 * max(times), 3)}


@tool
def film_glossary(text: str) -> str:
    """The same answer as the glossary server, from a plain function."""
    return "in these reviews 'a trap of a film' means a dull, boring film: negative" \
        if "trap" in text.lower() else ""


def live_session_tool() -> tuple[Any, BaseTool, float]:
    """The run's way: one MCP session for every call (and the seconds it took to start)."""
    from labelgraph.config import MCPServer
    from labelgraph.tools.mcp import load_mcp_tools

    start = time.perf_counter()
    sessions, tools = load_mcp_tools({"glossary": MCPServer(command=sys.executable,
                                                            args=(str(SERVER),))})
    seconds = time.perf_counter() - start
    return sessions, dict((t.name, t) for _, t in tools)["film_glossary"], seconds


def fresh_session_tool() -> BaseTool:
    """The adapters' default, labelgraph's way before: a new server process per call."""
    import asyncio

    from langchain_mcp_adapters.client import MultiServerMCPClient

    client = MultiServerMCPClient({"glossary": {"transport": "stdio", "command": sys.executable,
                                                "args": [str(SERVER)]}})
    found = {t.name: t for t in asyncio.run(client.get_tools(server_name="glossary"))}
    async_tool = found["film_glossary"]

    @tool
    def fresh_glossary(text: str) -> str:
        """The glossary through a fresh MCP session."""
        return str(asyncio.run(async_tool.ainvoke({"text": text})))

    return fresh_glossary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200, help="calls per way (default 200)")
    parser.add_argument("--fresh-calls", type=int, default=24,
                        help="calls through a fresh session each (default 24)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" /
                        "mcp_calls" / "mcp_calls.json")
    args = parser.parse_args()

    results: dict[str, Any] = {}
    results["plain_function"] = timed_calls(lambda: film_glossary.invoke({"text": TEXT}),
                                            args.calls)
    sessions, live, start_s = live_session_tool()
    try:
        results["mcp_live_session"] = {
            **timed_calls(lambda: live.invoke({"text": TEXT}), args.calls),
            "start_s": round(start_s, 4)}
    finally:
        sessions.close()
    if args.fresh_calls:
        fresh = fresh_session_tool()
        results["mcp_fresh_session_per_call"] = timed_calls(
            lambda: fresh.invoke({"text": TEXT}), args.fresh_calls)
    report = {
        **stamp(),
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                    "platform": platform.platform()},
        "server": "tests/support/mcp_server.py (FastMCP over stdio)",
        "results": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"{'way':<28} {'calls':>6} {'total s':>9} {'median ms':>10} {'max ms':>9}")
    for name, row in results.items():
        print(f"{name:<28} {row['calls']:>6} {row['total_s']:>9.3f} {row['median_ms']:>10.3f} "
              f"{row['max_ms']:>9.1f}")
    print(f"live session start (spawn + handshake + list): {start_s:.3f} s; "
          f"written to {args.out}")


if __name__ == "__main__":
    main()
