"""The composition root and the run's lifecycle: :class:`LabelGraph` resolves every setting
through the registry, builds the run's context and graph, and runs, steers and closes it.

Its neighbours, one purpose each: the settings, checked and kept in run.json so ``open()``
restores them (:mod:`labelgraph.settings`); what a run hands back
(:mod:`labelgraph.results`); whether a stopped run goes on (:mod:`labelgraph.continuation`);
the checkpoint database (:mod:`labelgraph.graph.checkpoints`)."""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
import weakref
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd
from langchain_core.language_models import BaseChatModel
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.types import Command

from labelgraph.assets import atomic_write_text, embedding_cache_root
from labelgraph.budget import BudgetMeter
from labelgraph.config import RunConfig, make_config
from labelgraph.continuation import blockers, correct, go_on, worded
from labelgraph.data import PoolData, load_pool
from labelgraph.errors import InputError, PauseRequested, RunStateError
from labelgraph.events import MemoryRepaired, NotContinued, Paused, PoolChecked
from labelgraph.graph.builder import build_graph, recursion_limit, weak_context
from labelgraph.graph.checkpoints import open_checkpoints
from labelgraph.graph.context import Context
from labelgraph.graph.modes import agent_modes
from labelgraph.llm import MeteredLLM, capable_of_decisions, model_name, resolve_llm
from labelgraph.memory.examples import Example, ExampleMemory, collection_name, make_client
from labelgraph.memory.ledger import Ledger
from labelgraph.memory.pool import PoolStore
from labelgraph.memory.store import RunLock, RunPaths, RunStore, rebuild_memory, repair_memory
from labelgraph.registry import registry
from labelgraph.results import RunResult, labeled_dataset, node_timings, spending
from labelgraph.settings import (
    check_gold,
    check_models,
    check_names,
    read_run_id,
    read_settings,
    write_settings,
)
from labelgraph.stopping import GUARDRAIL_CRITERIA
from labelgraph.student import check_student, default_student
from labelgraph.tools.agent import ToolLimits
from labelgraph.tools.registry import ToolRegistry
from labelgraph.types import STEERABLE, Budget, Steering, Task

__all__ = ["LabelGraph", "RunResult"]

THREAD = "main"
PoolLike = Any  # path, DataFrame, list of str/dict, HF dataset, or PoolData


class LabelGraph:
    """An active-learning run: ``run(pool=...)``, ``stream``, ``resume``; ``graph`` for LangGraph.

    Arguments are checked and stored; nothing heavy happens until the first run. ``llm`` is a
    spec string (``"local"``, ``"none"``, ``"openai:gpt-4o-mini"``, ...) or a
    ``BaseChatModel``; ``annotator``, ``embedding`` and ``policy`` are registry names
    (``labelgraph plugins`` lists them) or objects. Pool embeddings are shared by every run
    through ``embedding_cache``: by default ``<cache_dir>/embeddings``
    (``LABELGRAPH_CACHE_DIR``, or ``LABELGRAPH_EMBEDDING_CACHE_DIR`` for this cache alone),
    a directory of your own, or ``False`` to keep them in the run directory only.
    """

    def __init__(self, task: Task, *, llm: str | BaseChatModel | None = "local",
                 annotator: str | Any = "hybrid", budget: Budget | None = None,
                 run_dir: str | Path = "runs/default", embedding: str | Any = "minilm",
                 student: Any = None, policy: str | Any = "auto", human: str = "interrupt",
                 tools: Mapping[str, Sequence[Any]] | Sequence[Any] | None = None,
                 config: RunConfig | Mapping[str, Any] | None = None,
                 chroma_host: str | None = None, chroma_port: int | None = None,
                 prices: dict[str, tuple[float, float]] | None = None,
                 embedding_cache: str | Path | bool | None = None) -> None:
        if Path(run_dir).exists() and not Path(run_dir).is_dir():
            raise InputError(f"run_dir {run_dir} is a file; pass a directory (new or a run's)")
        if human not in {"interrupt", "oracle"}:
            raise InputError(f"human must be 'interrupt' (ask a person) or 'oracle' (gold labels "
                             f"stand in for one), got {human!r}")
        self.task = task
        self.llm = llm
        self.annotator = annotator
        self.budget = budget or Budget()
        self.run_dir = Path(run_dir)
        self.embedding = embedding
        self.student = check_student(student) if student is not None else default_student()
        self.policy = policy
        self.human = human
        self.tools = tools
        self.config = make_config(config)  # type: ignore[arg-type]
        self.chroma_host = chroma_host
        self.chroma_port = chroma_port
        self.prices = {k: tuple(v) for k, v in prices.items()} if prices else None
        self.embedding_cache: Path | None = (
            None if embedding_cache is False
            else embedding_cache_root() if embedding_cache in (None, True)
            else Path(embedding_cache))  # type: ignore[arg-type]
        self.paths = RunPaths(self.run_dir)
        self.skipped: dict[str, dict[str, int]] = {}
        self.read_only = False
        self._context: Context | None = None
        self._graph: Any = None
        self._conn: sqlite3.Connection | None = None
        self._lock: RunLock | None = None
        self._memory_checked = False  # against the ledger, by the first stream()
        self._started = time.time()
        self._steering: Steering | None = None  # changes made before the graph started

    @classmethod
    def open(cls, run_dir: str | Path, *, read_only: bool = False,
             **overrides: Any) -> LabelGraph:
        """Reopen a run directory with every setting it was started with.

        A setting that was an object run.json cannot hold (a chat model, a tool passed as a
        function, a custom student) must be passed again as a keyword; ``open`` names each
        one rather than run without it. ``read_only=True`` opens a run to read its results
        (export, report) with inert stand-ins for such objects; it cannot run.
        """
        task, kwargs = read_settings(run_dir, read_only=read_only, overrides=overrides)
        lg = cls(task, run_dir=run_dir, **kwargs)
        lg.read_only = read_only
        return lg

    # -- the heavy parts, built on first use --------------------------------------------
    def _make_annotator(self) -> Any:
        if not isinstance(self.annotator, str):
            return self.annotator
        config = {"human": "oracle" if self.human == "oracle" else "human"} \
            if self.annotator == "hybrid" else {}
        return registry.create("annotators", self.annotator, **config)

    def _make_policy(self, metered: MeteredLLM | None) -> Any:
        if not isinstance(self.policy, str):
            return self.policy
        name = self.policy
        if name == "auto":
            if metered is not None and capable_of_decisions(metered.llm):
                name = "llm"
            else:  # documented (README, docs/agents.md) and said in the first decision
                return registry.create("policies", "rule", because=(
                    "policy 'auto' decides by the rules: " + (
                        "the run has no LLM" if metered is None else
                        ("the embedded local model" if metered.local else repr(metered.name))
                        + " cannot answer with structured decisions")))
        if name == "llm" and metered is not None:
            return registry.create("policies", "llm", llm=metered,
                                   strategies=registry.names("strategies"),
                                   limits=ToolLimits.from_config(self.config))
        return registry.create("policies", name)

    @staticmethod
    def _criteria(config: RunConfig) -> tuple[tuple[str, Any], ...]:
        names = list(dict.fromkeys([*GUARDRAIL_CRITERIA, *config.stopping]))
        return tuple((name, registry.create("stopping", name)) for name in names)

    @property
    def context(self) -> Context:
        """The run's dependencies, built once (and run.json written on first build)."""
        if self._context is None:
            check_names(self.config, self.policy)  # before anything is written or bought
            tools = ToolRegistry(self.tools, mcp=None if self.read_only
                                 else self.config.mcp_servers)
            criteria = self._criteria(self.config)
            embedding = registry.create("embeddings", self.embedding) \
                if isinstance(self.embedding, str) else self.embedding
            annotator = self._make_annotator()
            chat = resolve_llm(self.llm)
            if self.read_only:
                self._context = self._watcher_context(embedding, annotator, tools, criteria)
                return self._context
            check_models(self, annotator, chat)
            self.run_dir.mkdir(parents=True, exist_ok=True)
            self._lock = RunLock(self.paths.lock)  # one driver per run; watchers take none
            self._lock.acquire()
            weakref.finalize(self, self._lock.release)
            run_id = read_run_id(self.paths)
            write_settings(self, run_id, tools, embedding)  # once: the run as started
            ledger = Ledger(self.paths.ledger)
            ledger.orphan_pending()  # the one driver charges calls a dead one left in flight
            meter = BudgetMeter(self.budget, ledger)
            metered = None if chat is None else MeteredLLM(
                chat, ledger=ledger, meter=meter, prices=self.prices,
                name=model_name(chat, self.llm if isinstance(self.llm, str) else None),
                provider_retries=self.config.provider_retries,
                backoff=self.config.retry_backoff)
            client = make_client(None if self.chroma_host else self.paths.chroma,
                                 host=self.chroma_host, port=self.chroma_port)
            memory = ExampleMemory(client, embedding, name=collection_name(run_id),
                                   write_behind=self.config.memory_write_behind)
            self._context = self._assemble(ledger, meter, memory, embedding, annotator,
                                           self._make_policy(metered), tools, criteria,
                                           metered)
            atomic_write_text(self.paths.agents,
                              json.dumps(agent_modes(self._context), indent=2))
        return self._context

    def _watcher_context(self, embedding: Any, annotator: Any, tools: ToolRegistry,
                         criteria: tuple[tuple[str, Any], ...]) -> Context:
        """A context that writes nothing: the ledger read-only, and memory rebuilt from it
        (the ledger is the truth) in an in-process Chroma, so the run's files stay as
        they are while another process may be driving it."""
        ledger = Ledger(self.paths.ledger, read_only=True)
        memory = ExampleMemory(make_client(None), embedding,
                               name=f"{collection_name(read_run_id(self.paths))}-{uuid.uuid4().hex[:8]}")
        rebuild_memory(ledger, memory)
        return self._assemble(ledger, BudgetMeter(self.budget, ledger), memory, embedding,
                              annotator, registry.create("policies", "rule"), tools, criteria,
                              None)

    def _assemble(self, ledger: Ledger, meter: BudgetMeter, memory: ExampleMemory,
                  embedding: Any, annotator: Any, policy: Any, tools: ToolRegistry,
                  criteria: tuple[tuple[str, Any], ...], llm: MeteredLLM | None) -> Context:
        """The run store (checked before any node runs) and the frozen context around it."""
        steering = Steering.fold(ledger.human_actions())  # a person's standing changes
        config = make_config({**self.config.model_dump(), **steering.settings}) \
            if steering.settings else self.config
        if config.stopping != self.config.stopping:
            criteria = self._criteria(config)
        if steering.budget:
            meter.budget = Budget(**steering.budget)
        store = RunStore(self.paths, embedding, self.task.labels, memory=memory,
                         student=self.student, tfidf=self.config.tfidf,
                         embedding_cache=self.embedding_cache, read_only=self.read_only)
        store.check()
        return Context(task=self.task, config=config, ledger=ledger, meter=meter,
                       memory=memory, store=store, embedding=embedding, annotator=annotator,
                       policy=policy, student=self.student, tools=tools, criteria=criteria,
                       llm=llm)

    @property
    def graph(self) -> Any:
        """The compiled LangGraph with its SQLite checkpointer (read-only for a watcher).

        It is bound to this run: ``lg.graph.invoke({}, {"configurable": {"thread_id":
        "t"}})`` works on this run's context without ``context=`` (``run``/``stream`` add
        what a bare invoke skips: checking the pool and memory, durable checkpoints, the
        model file written at the end)."""
        if self._graph is None:
            self._conn = open_checkpoints(self.paths.checkpoints, read_only=self.read_only)
            self._graph = build_graph(SqliteSaver(self._conn), context=None if self.read_only
                                      else weak_context(self))
        return self._graph

    @property
    def config_dict(self) -> dict[str, Any]:
        limit = recursion_limit(self.budget.labels, self.budget.rounds, self.config.patience)
        return {"configurable": {"thread_id": THREAD}, "recursion_limit": limit}

    # -- running ----------------------------------------------------------------------
    def add_pool(self, pool: PoolLike, *, text_column: str = "text",
                 label_column: str | None = None, name: str = "pool",
                 max_chars: int | None = None) -> PoolData:
        """Validate a pool (or a gold test split, ``name="test"``) and save it into the run.
        Long texts are kept (embedded from their first tokens) unless ``max_chars`` skips
        texts longer than that; see :func:`labelgraph.data.load_pool`."""
        data = pool if isinstance(pool, PoolData) else load_pool(
            pool, text_column=text_column, label_column=label_column, labels=self.task.labels,
            max_chars=max_chars)
        PoolStore.write(self.run_dir, name, data.texts, data.gold)
        self.skipped[name] = dict(data.skipped)
        return data

    def _input(self, pool: PoolLike | None, test: PoolLike | None,
               **kw: Any) -> tuple[Any, list[Any]]:
        """The graph input for this call (None: continue, or nothing to do) and the events
        to show first: the pools it validated, and whether a stopped run goes on."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        checked = []
        for split, data, extra in (("test", test, {"label_column": "label"}),
                                   ("pool", pool, {})):
            if data is not None:
                saved = self.add_pool(data, name=split, **{**extra, **kw})
                checked.append(PoolChecked(round=0, name=split, size=len(saved),
                                           skipped=dict(saved.skipped)))
        state = self.graph.get_state(self.config_dict)
        if state.next:
            if state.interrupts:
                raise RunStateError("the run is waiting for a human answer: call resume(answers)")
            return None, checked  # continue after a crash or a pause
        # Whether the run is new is decided by its own records, never by an empty `next`: a
        # kill between a node's writes and its checkpoint (or lost checkpoints) leaves one.
        last = max(int(state.values.get("round") or 0), self.context.ledger.last_round())
        if state.values.get("stop_reason"):
            graph_input, event = go_on(self.context, state.values, last)
            return graph_input, [*checked, event]
        start: dict[str, Any] = {"steering": self._steering.model_dump()} \
            if self._steering else {}
        if last or self.context.ledger.totals()["labels"]:
            return {"round": last, **start}, checked  # bootstrap again, continuing the count
        if not self.paths.split("pool").exists():
            raise InputError("no pool: pass pool= (a file, DataFrame or list of texts)")
        check_gold(self, self.paths.split("pool"))
        return {"round": 0, **start}, checked

    def blockers(self, values: dict[str, Any] | None = None,
                 round_: int | None = None) -> list[tuple[str, str]]:
        """The stopping criteria that would stop the run at its next decision, as (name,
        reason): what keeps a stopped run from going on
        (:func:`labelgraph.continuation.blockers`)."""
        values = values if values is not None else \
            self.graph.get_state(self.config_dict).values
        return blockers(self.context, values, round_)

    def check_memory(self) -> int:
        """Bring Chroma up to the ledger (the truth) once per driver, before the graph first
        runs: examples a killed driver recorded but never indexed are indexed now. Returns
        how many were repaired (0 on later calls: after the first, the copy is current)."""
        if self._memory_checked:
            return 0
        context = self.context
        repaired = repair_memory(context.ledger, context.memory, embed=lambda rows:
                                 context.embed_items([{"id": e.id, "text": e.text}
                                                      for e in rows]))
        self._memory_checked = True
        return repaired

    def request_pause(self, pause: bool = True) -> None:
        """Ask the run to pause between the items of a long step (a local model labeling a
        batch); ``pause=False`` withdraws the request. A front-end calls this from another
        thread; the step ends with a :class:`~labelgraph.events.Paused` event and the next
        ``stream`` resumes it."""
        event = self.context.pause
        event.set() if pause else event.clear()

    def stream(self, pool: PoolLike | None = None, *, test: PoolLike | None = None,
               resume: Any = None, pause_before: Sequence[str] | str | None = None,
               **kw: Any) -> Iterator[tuple[str, Any]]:
        """Run (or continue) the loop, yielding LangGraph's ``(mode, chunk)`` pairs:
        ``("updates", {node: update})`` after each node and ``("custom", event)`` for the
        typed events of :mod:`labelgraph.events` as they happen. ``pause_before`` names
        nodes (or ``"*"``) to return before, so a caller can steer between steps."""
        if self.read_only:
            raise RunStateError(f"{self.run_dir} was opened read-only; open it without "
                                "read_only=True to run it")
        checked: list[Any] = []
        if resume is not None:
            graph_input: Any = Command(resume=resume)
        else:
            graph_input, checked = self._input(pool, test, **kw)
        for event in checked:
            yield ("custom", event)
        if any(isinstance(event, NotContinued) for event in checked):
            return
        context = self.context
        context.pause.clear()  # a pause asked before this call was for the last one
        repaired = self.check_memory()
        if repaired:
            yield ("custom", MemoryRepaired(round=context.ledger.last_round(),
                                            examples=repaired))
        try:
            yield from self.graph.stream(graph_input, self.config_dict, context=context,
                                         stream_mode=["updates", "custom"], durability="sync",
                                         interrupt_before=pause_before)
        except PauseRequested:  # between items of a step: it runs again on resume
            state = self.graph.get_state(self.config_dict)
            yield ("custom", Paused(round=int(state.values.get("round") or 0),
                                    node=state.next[0] if state.next else ""))
        finally:  # stopped, paused or failed: Chroma catches up with memory, and the
            context.memory.flush()  # user's copy of the student with the latest one
            context.store.write_model()

    def run(self, pool: PoolLike | None = None, *, test: PoolLike | None = None,
            **kw: Any) -> RunResult:
        """Run until the loop stops or pauses for a human; returns the result so far.
        ``kw`` reach :meth:`add_pool`: ``text_column``, ``label_column``, ``max_chars``."""
        for _ in self.stream(pool, test=test, **kw):
            pass
        return self.result()

    def resume(self, answers: Mapping[str, str | None] | None = None) -> RunResult:
        """Continue a paused or crashed run; ``answers`` answers a pending label request."""
        for _ in self.stream(resume=dict(answers) if answers is not None else None):
            pass
        return self.result()

    def steer(self, note: str = "", **change: Any) -> Steering:
        """A person's change to the run, between steps: ``strategy``, ``batch_size``,
        ``synthesize``, ``confidence_threshold``, ``budget`` (a Budget or dict), or
        ``force={"action": "query", "n": 20, "strategy": "entropy"}`` for the next round.
        It is recorded in the ledger and the graph's state (so it survives a crash), and the
        supervisor's next decision says it followed the human."""
        if self.read_only:
            raise RunStateError("a read-only run cannot be steered")
        ctx = self.context
        optional = [n for n in registry.names("stopping") if n not in GUARDRAIL_CRITERIA]
        change = Steering.check(change, self.task.labels, registry.names("strategies"),
                                optional)
        settings = {k: v for k, v in change.items() if k in STEERABLE}
        config = make_config({**ctx.config.model_dump(), **settings})  # checks the values
        state = self.graph.get_state(self.config_dict)
        round_ = max(int(state.values.get("round") or 0), ctx.ledger.last_round())
        steering = Steering.model_validate(state.values.get("steering") or {}).changed(
            change, note or worded(change, ctx.config, ctx.meter.budget) or "go on")
        ctx.ledger.record_human(round_, "steer", change)
        if state.values:
            self.graph.update_state(self.config_dict, {"steering": steering.model_dump()})
        else:  # the graph has not started: the change goes in with its first input
            self._steering = steering
        if "budget" in change:
            ctx.meter.budget = Budget(**change["budget"])
        criteria = self._criteria(config) if config.stopping != ctx.config.stopping \
            else ctx.criteria
        self._context = replace(ctx, config=config, criteria=criteria)
        return steering

    def correct(self, item_id: str, label: str | None) -> Example:
        """A person's correction of a label in memory (``label=None`` rejects it): recorded
        in the ledger with its provenance; the student is refitted next round."""
        if self.read_only:
            raise RunStateError("a read-only run cannot be corrected")
        return correct(self.context, item_id, label)

    def export(self, path: str | Path | None = None, format: str | None = None) -> Path:
        """Write every labeled item with its source, confidence, verdict and provenance to
        ``path`` (default: in the run directory) as csv, jsonl, parquet, hf, label-studio or
        argilla (``format``, else the path's suffix; docs/formats.md shows each)."""
        from labelgraph.export import export

        return export(self, path, format)

    def pending(self) -> dict[str, Any] | None:
        """The human label request the run is waiting on, if any."""
        state = self.graph.get_state(self.config_dict)
        return state.interrupts[0].value if state.interrupts else None

    def dataset(self) -> pd.DataFrame:
        """Every labeled item in memory (``result().dataset``), without loading the model or
        the costs: what an export or a front-end's table reads."""
        return labeled_dataset(self.context.memory)

    def result(self) -> RunResult:
        ctx = self.context
        values = self.graph.get_state(self.config_dict).values
        curve = pd.DataFrame(ctx.ledger.metrics())
        cost = {**self.cost_report(), "seconds": round(time.time() - self._started, 1)}
        return RunResult(dataset=self.dataset(), model=ctx.store.model(), curve=curve,
                         cost=cost,
                         stop_reason=values.get("stop_reason"), pending=self.pending(),
                         run_dir=self.run_dir, decisions=ctx.ledger.decisions(),
                         timings=self.timings())

    def agent_modes(self) -> dict[str, str]:
        """How each agent works in this run, in words (also written to ``agents.json``)."""
        return agent_modes(self.context)

    def timings(self) -> pd.DataFrame:
        """Wall seconds each graph node took, one row per node (in graph order) and one
        column per round; a node that ran twice in a round (a resume) counts both."""
        return node_timings(self.context.ledger)

    def cost_report(self) -> dict[str, Any]:
        """What the run spent: totals; labels, price and LLM cost per source; money per
        accepted label; items bought twice; and how well the LLM's confidence is calibrated
        on the labels a person or the oracle confirmed."""
        return spending(self.context.ledger, self.context.memory)

    def audit(self, *, apply: bool = True) -> pd.DataFrame:
        """Audit every label in memory now (as the verifier does every ``audit_every``
        rounds): one row per label with its error score, the action taken and why."""
        from labelgraph.audit import audit_memory

        if self.read_only:
            raise RunStateError("a read-only run cannot be audited; open it to drive it")
        round_ = self.context.ledger.last_round()
        findings = audit_memory(self.context, round_, apply=apply)
        return pd.DataFrame(findings, columns=["item_id", "label", "source", "score", "action",
                                               "suggested", "reason"])

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn, self._graph = None, None
        if self._context is not None:
            self._context.memory.flush()
            self._context.ledger.close()
            self._context.tools.close()  # the run's MCP servers end with it
            self._context, self._memory_checked = None, False
        if self._lock is not None:
            self._lock.release()
            self._lock = None
