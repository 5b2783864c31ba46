"""The composition root: :class:`LabelGraph` resolves every setting through the registry,
builds the run's context and graph, and records the settings so ``open()`` restores them."""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
import weakref
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pandas as pd
from langchain_core.language_models import BaseChatModel
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.types import Command

from labelgraph.annotators import NEEDS_RUN_LLM, calibration_report
from labelgraph.assets import atomic_write_text, embedding_cache_root
from labelgraph.budget import BudgetMeter, price_for
from labelgraph.capabilities import capability
from labelgraph.config import RunConfig, make_config
from labelgraph.data import PoolData, load_pool
from labelgraph.errors import InputError, PauseRequested, RunStateError
from labelgraph.events import Continued, MemoryRepaired, NotContinued, Paused, PoolChecked
from labelgraph.graph.builder import NODES, build_graph, recursion_limit
from labelgraph.graph.context import Context
from labelgraph.graph.modes import agent_modes
from labelgraph.llm import MeteredLLM, capable_of_decisions, is_local, model_name, resolve_llm
from labelgraph.memory.examples import Example, ExampleMemory, collection_name, make_client
from labelgraph.memory.ledger import Ledger
from labelgraph.memory.pool import PoolStore
from labelgraph.memory.store import RunLock, RunPaths, RunStore, rebuild_memory, repair_memory
from labelgraph.registry import registry
from labelgraph.stopping import GUARDRAIL_CRITERIA, how_to_go_on, votes
from labelgraph.student import check_student, default_student
from labelgraph.tools.agent import ToolLimits
from labelgraph.tools.registry import ToolRegistry
from labelgraph.types import STEERABLE, Budget, Steering, Task

__all__ = ["LabelGraph", "RunResult"]

THREAD = "main"
SETTINGS_VERSION = 2
PoolLike = Any  # path, DataFrame, list of str/dict, HF dataset, or PoolData
UNRECORDED = "unrecorded"  # marks an object run.json cannot hold: open() needs it again


@dataclass
class RunResult:
    """What a run hands back: the labeled dataset, the student, the curve and the cost."""

    dataset: pd.DataFrame
    model: Any
    curve: pd.DataFrame
    cost: dict[str, Any]
    stop_reason: str | None
    pending: dict[str, Any] | None
    run_dir: Path
    decisions: list[dict[str, Any]] = field(default_factory=list)
    timings: pd.DataFrame = field(default_factory=pd.DataFrame)  #: node x round, seconds

    @property
    def done(self) -> bool:
        return self.stop_reason is not None


# -- recording objects in run.json ------------------------------------------------------
def _named(kind: str, obj: Any) -> dict[str, Any]:
    """A registry piece as {"name", "config"}, or {"unrecorded": type} when it has no name."""
    if isinstance(obj, str):
        return {"name": obj, "config": {}}
    name = registry.name_of(kind, obj)
    config = obj.get_config() if hasattr(obj, "get_config") else {}
    try:
        json.dumps(config)
    except TypeError:
        name = None
    return {"name": name, "config": config} if name else {UNRECORDED: type(obj).__name__}


def _student_record(estimator: Any) -> dict[str, Any]:
    """A scikit-learn estimator by class path and parameters (restorable without pickles)."""
    cls = type(estimator)
    if cls.__module__.startswith("sklearn."):
        params = estimator.get_params(deep=False)
        try:
            json.dumps(params)
            return {"class": f"{cls.__module__}:{cls.__qualname__}", "params": params}
        except TypeError:
            pass
    return {UNRECORDED: cls.__name__}


def _paid(spec: Any, prices: Mapping[str, Any] | None = None) -> bool:
    """Would this LLM spec spend money? Local models, Ollama, "none", servers on this machine
    and models priced at zero are free."""
    if not isinstance(spec, str):
        return False
    return tuple(price_for(spec, {k: tuple(v) for k, v in (prices or {}).items()})) != (0, 0)


def _restore_student(record: dict[str, Any]) -> Any:
    import importlib

    module, _, qualname = record["class"].partition(":")
    if not module.startswith("sklearn."):  # only scikit-learn classes are re-created by name
        raise RunStateError(f"run.json names a student outside scikit-learn ({module}); pass "
                            "student= to LabelGraph.open")
    return check_student(getattr(importlib.import_module(module), qualname)(**record["params"]))


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

    # -- persistence of the run's settings ---------------------------------------------
    def _run_id(self) -> str:
        if self.paths.settings.exists():
            return str(json.loads(self.paths.settings.read_text()).get("run_id") or "")
        return uuid.uuid4().hex[:16]

    def _settings(self, run_id: str, tools: ToolRegistry) -> dict[str, Any]:
        """Every setting of the run; objects by registry name and config, or marked
        unrecorded so that ``open()`` asks for them again instead of dropping them."""
        llm = self.llm if isinstance(self.llm, str) or self.llm is None else \
            {UNRECORDED: type(self.llm).__name__}
        return {"version": SETTINGS_VERSION, "run_id": run_id,
                "task": self.task.model_dump(), "budget": self.budget.model_dump(),
                "config": self.config.model_dump(mode="json"), "llm": llm,
                "annotator": _named("annotators", self.annotator), "human": self.human,
                "embedding": _named("embeddings", self.embedding),
                "policy": _named("policies", self.policy),
                "student": _student_record(self.student),
                "tools": [vars(spec) for spec in tools.specs()],
                "prices": self.prices, "chroma_host": self.chroma_host,
                "chroma_port": self.chroma_port,
                "embedding_cache": str(self.embedding_cache) if self.embedding_cache else False}

    @classmethod
    def open(cls, run_dir: str | Path, *, read_only: bool = False,
             **overrides: Any) -> LabelGraph:
        """Reopen a run directory with every setting it was started with.

        A setting that was an object run.json cannot hold (a chat model, a tool passed as a
        function, a custom student) must be passed again as a keyword; ``open`` names each
        one rather than run without it. ``read_only=True`` opens a run to read its results
        (export, report) with inert stand-ins for such objects; it cannot run.
        """
        path = Path(run_dir) / "run.json"
        if not path.exists():
            raise RunStateError(f"{run_dir} is not a labelgraph run (no run.json)")
        try:
            saved = json.loads(path.read_text())
            task, budget = Task(**saved["task"]), Budget(**saved["budget"])
        except (ValueError, KeyError, TypeError, InputError) as exc:
            raise RunStateError(f"{path} is damaged ({type(exc).__name__}: {exc}); restore it "
                                "from a backup, or start a new run directory") from None
        kwargs: dict[str, Any] = {
            "budget": budget, "config": saved["config"],
            "human": saved.get("human", "interrupt"), "llm": saved.get("llm"),
            "prices": saved.get("prices"), "chroma_host": saved.get("chroma_host"),
            "chroma_port": saved.get("chroma_port"),
            "embedding_cache": saved.get("embedding_cache")}
        missing: list[str] = []
        for key, kind in (("annotator", "annotators"), ("embedding", "embeddings"),
                          ("policy", "policies")):
            record = saved.get(key)
            if isinstance(record, str):  # runs from before settings version 2
                kwargs[key] = record
            elif isinstance(record, dict) and record.get("name"):
                kwargs[key] = record["name"] if not record.get("config") else \
                    registry.create(kind, record["name"], **record["config"])
            elif isinstance(record, dict) and UNRECORDED in record:
                missing.append(f"{key}= (a {record[UNRECORDED]})")
        if isinstance(kwargs["llm"], dict):
            missing.append(f"llm= (a {kwargs.pop('llm')[UNRECORDED]})")
        elif _paid(kwargs["llm"], kwargs["prices"]) and "llm" not in overrides and \
                not read_only:
            # A run directory alone never makes a resume spend on a paid API with your key.
            raise RunStateError(
                f"{run_dir} calls the paid provider {kwargs['llm']!r} (from its run.json); "
                f"to resume with it, say so: LabelGraph.open({str(run_dir)!r}, "
                f"llm={kwargs['llm']!r}) or labelgraph resume {run_dir} --llm {kwargs['llm']}")
        student = saved.get("student") or {}
        if "student" in overrides:
            pass
        elif "class" in student:
            kwargs["student"] = _restore_student(student)
        elif UNRECORDED in student:
            missing.append(f"student= (a {student[UNRECORDED]})")
        tools: dict[str, list[str]] = {}
        passed: list[str] = []
        for spec in saved.get("tools") or []:
            if spec["origin"] == "decorator":
                tools.setdefault(spec["agent"], []).append(spec["name"])
            elif spec["origin"] == "argument":
                passed.append(f"{spec['agent']}: {spec['name']}")
        if passed:
            missing.append(f"tools= ({', '.join(passed)})")
        kwargs["tools"] = tools
        missing = [m for m in missing if m.split("=")[0] not in overrides]
        if missing and not read_only:
            raise RunStateError(
                f"{run_dir} was started with objects run.json cannot hold; pass them again: "
                f"LabelGraph.open({str(run_dir)!r}, {', '.join(missing)}), or open it "
                "read_only=True to read its results")
        if read_only:
            kwargs.update(llm="none", annotator="oracle", policy="rule",
                          tools={} if passed else tools)
        kwargs.update(overrides)
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
            # Unknown names fail here, before anything is written or bought.
            registry.get("strategies", self.config.strategy)
            for name in self.config.bandit_arms:
                registry.get("strategies", name)
            for name in self.config.stopping_watch:
                registry.get("stopping", name)
            if isinstance(self.policy, str) and self.policy != "auto":
                registry.get("policies", self.policy)
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
            kind = _named("annotators", annotator).get("name")
            if chat is None and capability(annotator, NEEDS_RUN_LLM):
                raise InputError(f"the {kind!r} annotator needs an LLM; pass llm= or use "
                                 "annotator='oracle' or 'human'")
            if self.policy == "llm" and not capable_of_decisions(chat):
                spec = self.llm if isinstance(self.llm, str) else None
                why = "pass llm=" if chat is None else f"{model_name(chat, spec)!r} cannot"
                raise InputError(f"policy='llm' needs a chat model that answers with "
                                 f"structured decisions; {why} — use policy='rule', or "
                                 "policy='auto' (the LLM when it can, else the rules)")
            if self.config.judge and (chat is None or is_local(chat)):
                raise InputError("judge=True needs a chat model to judge doubtful labels (the "
                                 "embedded local model cannot); pass llm= or set judge=False")
            self.run_dir.mkdir(parents=True, exist_ok=True)
            self._lock = RunLock(self.paths.lock)  # one driver per run; watchers take none
            self._lock.acquire()
            weakref.finalize(self, self._lock.release)
            run_id = self._run_id()
            if not self.paths.settings.exists():
                atomic_write_text(self.paths.settings,
                                  json.dumps(self._settings(run_id, tools), indent=2))
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
                               name=f"{collection_name(self._run_id())}-{uuid.uuid4().hex[:8]}")
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
        """The compiled LangGraph with its SQLite checkpointer (read-only for a watcher)."""
        if self._graph is None and self.read_only:
            checkpoints = self.paths.checkpoints
            self._conn = sqlite3.connect(
                f"file:{checkpoints.resolve()}?mode=ro" if checkpoints.exists() else ":memory:",
                uri=True, check_same_thread=False)
            self._graph = build_graph(SqliteSaver(self._conn))
        if self._graph is None:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.paths.checkpoints, check_same_thread=False)
            try:
                conn.execute("PRAGMA schema_version").fetchone()
            except sqlite3.DatabaseError as exc:
                conn.close()
                raise RunStateError(
                    f"{self.paths.checkpoints} is damaged ({exc}); move it aside to restart "
                    "the graph from the ledger's records") from None
            # WAL without an fsync per commit: a killed process loses no checkpoint, and
            # what a power cut could roll back the ledger (fsynced) replays unbought.
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            self._conn = conn
            self._graph = build_graph(SqliteSaver(self._conn))
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
            graph_input, event = self._go_on(state.values, last)
            return graph_input, [*checked, event]
        start: dict[str, Any] = {"steering": self._steering.model_dump()} \
            if self._steering else {}
        if last or self.context.ledger.totals()["labels"]:
            return {"round": last, **start}, checked  # bootstrap again, continuing the count
        if not self.paths.split("pool").exists():
            raise InputError("no pool: pass pool= (a file, DataFrame or list of texts)")
        annotator = _named("annotators", self.annotator).get("name")
        if (annotator == "oracle" or (annotator == "hybrid" and self.human == "oracle")) \
                and pd.read_parquet(self.paths.split("pool"), columns=["gold"])["gold"] \
                .isna().all():
            raise InputError("the oracle reads gold labels and this pool has none: pass "
                             "label_column= (the column of gold labels), or use another "
                             "annotator")
        return {"round": 0, **start}, checked

    def _go_on(self, values: dict[str, Any],
               last: int) -> tuple[dict[str, Any] | None, Continued | NotContinued]:
        """The input that continues a stopped run, or why it stays stopped.

        A stopped run goes on only when a person has changed it since it stopped (a
        ``steer``: more budget, a forced action, a stopping setting, or just "go on") and no
        stopping criterion would stop it again at once: the same criteria the supervisor
        asks, on the same signals, with the idle rounds counted from zero."""
        reason = str(values["stop_reason"])
        steering = Steering.model_validate(values.get("steering") or {})
        stopped = next((d for d in reversed(self.context.ledger.decisions())
                        if d["action"] == "stop"), {})
        if not (steering.news or steering.force):
            criteria = tuple(stopped.get("criteria") or ["human"])
            hints = "; or ".join(how_to_go_on(c) for c in criteria)
            return None, NotContinued(round=last, reason=reason, criteria=criteria,
                                      hint=f"nothing has changed since it stopped: {hints}")
        blockers = self.blockers(values, last)
        if blockers:
            return None, NotContinued(round=last, reason="; ".join(r for _, r in blockers),
                                      hint="; or ".join(how_to_go_on(n) for n, _ in blockers),
                                      criteria=tuple(n for n, _ in blockers))
        self.context.ledger.record_human(last, "continue", {"after": reason,
                                                            "changes": steering.news})
        return ({"round": last, "stop_reason": None, "idle_rounds": 0},
                Continued(round=last, after=reason, changes=tuple(steering.news)))

    def blockers(self, values: dict[str, Any] | None = None,
                 round_: int | None = None) -> list[tuple[str, str]]:
        """The stopping criteria that would stop the run at its next decision, as (name,
        reason): what keeps a stopped run from going on. A forced action is held back only
        by the guardrails, as the supervisor does."""
        from labelgraph.agents.supervisor import compute_signals

        ctx = self.context
        values = values if values is not None else \
            self.graph.get_state(self.config_dict).values
        round_ = round_ if round_ is not None else \
            max(int(values.get("round") or 0), ctx.ledger.last_round())
        steering = Steering.model_validate(values.get("steering") or {})
        # idle rounds start again when a person gives a reason; the agents' proposals are
        # spent by the stop decision (they speak again after the next round)
        signals = compute_signals({**values, "round": round_, "idle_rounds": 0,  # type: ignore[typeddict-item]
                                   "proposals": {}}, ctx)
        criteria = [(n, c) for n, c in ctx.criteria
                    if not steering.force or n in GUARDRAIL_CRITERIA]
        return votes(criteria, signals, ctx.config)

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
        if not self._memory_checked:  # once per driver: after that the copy is current
            repaired = repair_memory(context.ledger, context.memory, embed=lambda rows:
                                     context.embed_items([{"id": e.id, "text": e.text}
                                                          for e in rows]))
            self._memory_checked = True
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
            change, note or _worded(change, ctx.config, ctx.meter.budget) or "go on")
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
        ctx = self.context
        if label is not None and label not in self.task.labels:
            raise InputError(f"unknown label {label!r}; choose one of {list(self.task.labels)}")
        found = ctx.memory.get([item_id])
        if not found:
            raise InputError(f"no labeled item {item_id!r} in memory")
        fixed = found[0].corrected(label)
        ctx.ledger.record_human(ctx.ledger.last_round(), "reject" if label is None
                                else "correct", {"item_id": item_id, "label": label,
                                                 "previous": found[0].label,
                                                 "previous_source": found[0].source})
        ctx.memory.upsert([fixed])
        return fixed

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
        examples, _ = self.context.memory.all(status=None)
        return pd.DataFrame([{"id": e.id, "text": e.text, "label": e.label,
                              "source": e.source, "confidence": e.confidence,
                              "origin": e.origin, "status": e.status, "round": e.round,
                              "cost": e.cost}
                             for e in examples])

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
        rows = pd.DataFrame(self.context.ledger.timings(), columns=["round", "node", "seconds"])
        if rows.empty:
            return pd.DataFrame(dtype=float)
        table = rows.pivot_table(index="node", columns="round", values="seconds",
                                 aggfunc="sum", fill_value=0.0)
        order = [n for n in NODES if n in table.index] + \
            [n for n in table.index if n not in NODES]
        return table.loc[order]

    def cost_report(self) -> dict[str, Any]:
        """What the run spent: totals; labels, price and LLM cost per source; money per
        accepted label; items bought twice; and how well the LLM's confidence is calibrated
        on the labels a person or the oracle confirmed."""
        ledger = self.context.ledger
        rows = ledger.all_labels()
        totals = ledger.totals()
        by_source: dict[str, int] = {}
        for row in rows:
            key = row.source if row.origin == "pool" else f"{row.source} (synthetic)"
            by_source[key] = by_source.get(key, 0) + 1
        accepted = len(self.context.memory.all()[0])
        return {**totals, "labels_by_source": by_source, "by_source": ledger.cost_by_source(),
                "bought_twice": ledger.bought_twice(), "accepted": accepted,
                "usd_per_accepted_label": round(totals["usd"] / accepted, 6) if accepted
                else None, "calibration": calibration_report(rows)}

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
            self._context, self._memory_checked = None, False
        if self._lock is not None:
            self._lock.release()
            self._lock = None


def _worded(change: Mapping[str, Any], config: Any, budget: Budget) -> str:
    """A change in words, old to new ("label budget 40 → 60, strategy margin → entropy"), for
    the decision that follows it and the ``Continued`` event."""
    parts = []
    for key, new in change.items():
        if key == "budget":
            old = budget.model_dump()
            parts += [f"{'label' if unit == 'labels' else unit} budget {old.get(unit)} → {value}"
                      for unit, value in dict(new).items() if old.get(unit) != value]
        elif hasattr(config, key):
            parts.append(f"{key.replace('_', ' ')} {getattr(config, key)} → {new}")
        else:
            parts.append(f"{key} {new}")
    return ", ".join(parts)
