"""A run's graph for LangGraph's own server: ``langgraph dev`` (with LangGraph Studio) and
anything else that reads ``langgraph.json``, which names :func:`make_graph`.

LangGraph's server builds graphs from a module path and sends only JSON, so it cannot hand
the graph a run's context (models, memory, pool, ledger). The factory builds that context
itself, from the environment, and returns the compiled graph bound to it:

``LABELGRAPH_RUN_DIR``
    The run directory (required). One that holds ``run.json`` is opened with the settings
    it was started with (:meth:`LabelGraph.open`).
``LABELGRAPH_RUN_CONFIG``
    For a directory that is not a run yet: a JSON or TOML file describing the new run,
    ``task`` (``labels``, ``description``) and ``pool`` (a file, relative to the config
    file; ``text_column``, ``label_column``) required, ``test`` (a gold split) optional,
    and any other :class:`LabelGraph` keyword: ``llm``, ``annotator``, ``budget``,
    ``embedding``, ``policy``, ``human``, ``config``.
``LABELGRAPH_LLM``
    The chat model, as a spec string, when run.json's model is a paid provider (which
    ``LabelGraph.open`` never uses unasked) or to use another.

One process drives a run (the run's lock), so the run is opened once per server process,
on the first request, and closed when the process exits; every request gets the same
graph. Threads of the server are LangGraph threads of that one run: they share its ledger,
memory and budget, and a new thread goes on from what the ledger holds. The server keeps
its own checkpoints (not the run's ``checkpoints.sqlite``); the ledger stays the record.
"""

from __future__ import annotations

import asyncio
import atexit
import inspect
import json
import threading
import tomllib
from pathlib import Path
from typing import Any

from pydantic_settings import BaseSettings, SettingsConfigDict

from labelgraph.api import LabelGraph
from labelgraph.errors import InputError, RunStateError
from labelgraph.graph.builder import build_graph
from labelgraph.types import Budget, Task

__all__ = ["StudioSettings", "graph_for", "make_graph", "open_run"]

_POOL_KEYS = ("pool", "test", "text_column", "label_column", "max_chars")


class StudioSettings(BaseSettings):
    """Which run a served graph works on, from ``LABELGRAPH_*`` environment variables."""

    model_config = SettingsConfigDict(env_prefix="LABELGRAPH_", extra="ignore",
                                      env_ignore_empty=True)

    run_dir: Path | None = None  #: the run directory
    run_config: Path | None = None  #: a new run's description (JSON or TOML)
    llm: str | None = None  #: the chat model to use instead of run.json's


def _read_spec(path: Path) -> dict[str, Any]:
    """A new run's description from a JSON or TOML file; errors name the file."""
    try:
        text = path.read_text()
        spec = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
    except OSError as exc:
        raise InputError(f"cannot read the run config {path}: {exc.strerror}") from None
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        raise InputError(f"{path} is not valid {path.suffix.lstrip('.') or 'JSON'}: "
                         f"{exc}") from None
    if not isinstance(spec, dict) or "task" not in spec or "pool" not in spec:
        raise InputError(f"{path} must describe the run with at least 'task' (labels, "
                         "description) and 'pool' (a file of texts)")
    return spec


def _new_run(run_dir: Path, config_file: Path, llm: str | None) -> LabelGraph:
    """A new run in ``run_dir`` as ``config_file`` describes it, its pool saved in it."""
    spec = _read_spec(config_file)
    pools = {k: spec.pop(k) for k in _POOL_KEYS if k in spec}
    known = set(inspect.signature(LabelGraph).parameters) - {"task", "run_dir", "tools", "student"}
    unknown = sorted(set(spec) - known - {"task"})
    if unknown:
        raise InputError(f"{config_file}: unknown keys {unknown}; a run config takes 'task', "
                         f"{list(_POOL_KEYS)} and LabelGraph's {sorted(known)}")
    if not isinstance(spec["task"], dict):
        raise InputError(f"{config_file}: 'task' must be a table of labels and description")
    task = Task(**spec.pop("task"))
    if "budget" in spec:
        spec["budget"] = Budget(**spec["budget"])
    if llm:
        spec["llm"] = llm
    lg = LabelGraph(task, run_dir=run_dir, **spec)
    columns = {k: pools[k] for k in ("text_column", "label_column") if k in pools}
    for split in ("pool", "test"):
        if split in pools:
            source = Path(pools[split]).expanduser()
            if not source.is_absolute():
                source = config_file.parent / source
            lg.add_pool(str(source), name=split, max_chars=pools.get("max_chars"),
                        **{"label_column": "label", **columns} if split == "test"
                        else columns)
    return lg


def open_run(run_dir: str | Path, config_file: str | Path | None = None,
             llm: str | None = None) -> LabelGraph:
    """The run a served graph works on: ``run_dir`` opened if it is a run, else created
    from ``config_file``; its context is built here, so a bad setting fails at once."""
    run_dir = Path(run_dir).expanduser()
    if (run_dir / "run.json").exists():
        lg = LabelGraph.open(run_dir, **({"llm": llm} if llm else {}))
    elif config_file is not None:
        lg = _new_run(run_dir, Path(config_file).expanduser(), llm)
    else:
        raise RunStateError(
            f"{run_dir} is not a labelgraph run yet (no run.json): set LABELGRAPH_RUN_CONFIG "
            "to a JSON or TOML file describing a new run (task, pool, ...), or point "
            "LABELGRAPH_RUN_DIR at a run started with `labelgraph run`")
    if not lg.paths.split("pool").exists():
        raise InputError(f"{run_dir} has no pool; name one in the run config ('pool') or add "
                         "it with `labelgraph run --pool FILE`")
    lg.check_memory()  # builds the context; memory caught up with the ledger
    return lg


def graph_for(lg: LabelGraph) -> Any:
    """``lg``'s graph for a server: bound to its context, without a checkpointer (the
    server brings its own)."""
    return build_graph(None, context=lambda: lg.context)


_lock = threading.Lock()
_served: dict[tuple[Path, Path | None, str | None], tuple[LabelGraph, Any]] = {}


def _served_graph() -> Any:
    """The graph of the run the environment names, opened once per process."""
    s = StudioSettings()
    if s.run_dir is None:
        raise RunStateError("set LABELGRAPH_RUN_DIR to the run directory to serve (a run "
                            "started with `labelgraph run`, or a new directory with "
                            "LABELGRAPH_RUN_CONFIG describing the run)")
    key = (s.run_dir.expanduser().resolve(), s.run_config, s.llm)
    with _lock:
        if key not in _served:
            lg = open_run(s.run_dir, s.run_config, s.llm)
            _served[key] = (lg, graph_for(lg))
        return _served[key][1]


async def make_graph() -> Any:
    """The graph factory ``langgraph.json`` names: the run of ``LABELGRAPH_RUN_DIR`` (see
    the module's documentation), built off the server's event loop (it reads and writes
    files) on the first request and reused after."""
    return await asyncio.to_thread(_served_graph)


@atexit.register
def _close_served() -> None:
    """At exit: the student written to the run directory, memory flushed, MCP servers
    ended and the run's lock released."""
    with _lock:
        for lg, _ in _served.values():
            try:
                lg.context.store.write_model()
            finally:
                lg.close()
        _served.clear()
