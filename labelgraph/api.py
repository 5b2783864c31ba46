"""The one entry point: :class:`LabelGraph` builds the context and graph for a run directory."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import pandas as pd
from langchain_core.language_models import BaseChatModel
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.types import Command

from labelgraph.agents.annotator import Annotator, make_annotator
from labelgraph.agents.supervisor import LLMPolicy, RulePolicy
from labelgraph.budget import BudgetMeter
from labelgraph.data import PoolData, load_pool
from labelgraph.errors import InputError, RunStateError
from labelgraph.graph.builder import build_graph, recursion_limit
from labelgraph.graph.context import Context, RunConfig
from labelgraph.llm import MeteredLLM, capable_of_decisions, model_name, resolve_llm
from labelgraph.memory.embeddings import make_embedding
from labelgraph.memory.examples import ExampleMemory, make_client
from labelgraph.memory.ledger import Ledger
from labelgraph.memory.pool import PoolStore
from labelgraph.student import check_student, default_student
from labelgraph.tools.builtin import builtin_tools
from labelgraph.tools.registry import ToolRegistry
from labelgraph.types import Budget, Task

THREAD = "main"
PoolLike = Any  # path, DataFrame, list of str/dict, HF dataset, or PoolData


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

    @property
    def done(self) -> bool:
        return self.stop_reason is not None


class LabelGraph:
    """An active-learning run: ``run(pool=...)``, ``stream``, ``resume``; ``graph`` for LangGraph.

    Arguments are stored, nothing heavy happens until the first run. ``llm`` is a spec string
    (``"local"``, ``"none"``, ``"openai:gpt-4o-mini"``, ...) or a ``BaseChatModel``;
    ``annotator`` is ``"oracle"``, ``"llm"``, ``"human"``, ``"hybrid"`` or an object.
    """

    def __init__(self, task: Task, *, llm: str | BaseChatModel | None = "local",
                 annotator: str | Annotator = "hybrid", budget: Budget | None = None,
                 run_dir: str | Path = "runs/default", embedding: str | Any = "minilm",
                 student: Any = None, policy: str | Any = "auto", human: str = "interrupt",
                 tools: Mapping[str, Sequence[Any]] | None = None,
                 config: RunConfig | Mapping[str, Any] | None = None,
                 chroma_host: str | None = None, prices: dict[str, tuple[float, float]]
                 | None = None, on_event: Callable[[str, dict[str, Any]], None] | None = None,
                 embedding_cache: str | Path | None = None) -> None:
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
        if isinstance(config, Mapping):
            known = {f.name for f in fields(RunConfig)}
            unknown = set(config) - known
            if unknown:
                raise InputError(f"unknown config keys {sorted(unknown)}; known: {sorted(known)}")
            config = RunConfig(**config)
        self.config = config or RunConfig()
        self.chroma_host = chroma_host
        self.prices = prices
        self.on_event = on_event
        self.embedding_cache = Path(embedding_cache) if embedding_cache else None
        self._context: Context | None = None
        self._graph: Any = None
        self._conn: sqlite3.Connection | None = None
        self._started = time.time()
        self.skipped: dict[str, dict[str, int]] = {}

    # -- persistence of the run's settings ---------------------------------------------
    def _settings(self) -> dict[str, Any]:
        return {"task": self.task.model_dump(), "budget": self.budget.model_dump(),
                "llm": self.llm if isinstance(self.llm, str | None) else None,
                "annotator": self.annotator if isinstance(self.annotator, str) else None,
                "embedding": self.embedding if isinstance(self.embedding, str) else None,
                "policy": self.policy if isinstance(self.policy, str) else None,
                "human": self.human, "config": asdict(self.config)}

    @classmethod
    def open(cls, run_dir: str | Path, **overrides: Any) -> LabelGraph:
        """Reopen a run directory with the settings it was started with (for resume)."""
        path = Path(run_dir) / "run.json"
        if not path.exists():
            raise RunStateError(f"{run_dir} is not a labelgraph run (no run.json)")
        saved = json.loads(path.read_text())
        kwargs: dict[str, Any] = {
            "budget": Budget(**saved["budget"]), "config": RunConfig(**saved["config"]),
            "human": saved.get("human", "interrupt")}
        for key in ("llm", "annotator", "embedding", "policy"):
            if saved.get(key) is not None or key == "llm":
                kwargs[key] = saved.get(key)
        kwargs.update(overrides)
        return cls(Task(**saved["task"]), run_dir=run_dir, **kwargs)

    # -- the heavy parts, built on first use --------------------------------------------
    @property
    def context(self) -> Context:
        if self._context is None:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            settings = self.run_dir / "run.json"
            if not settings.exists():
                settings.write_text(json.dumps(self._settings(), indent=2))
            ledger = Ledger(self.run_dir / "ledger.sqlite")
            meter = BudgetMeter(self.budget, ledger)
            embedding = make_embedding(self.embedding) if isinstance(self.embedding, str) \
                else self.embedding
            client = make_client(None if self.chroma_host else self.run_dir / "chroma",
                                 host=self.chroma_host)
            memory = ExampleMemory(client, embedding)
            chat = resolve_llm(self.llm)
            metered = None if chat is None else MeteredLLM(
                chat, ledger=ledger, meter=meter, prices=self.prices,
                name=model_name(chat, self.llm if isinstance(self.llm, str) else None))
            annotator = make_annotator(self.annotator, human=self.human)
            if metered is None and getattr(annotator, "name", "") in {"llm", "hybrid"}:
                raise InputError(f"the {annotator.name!r} annotator needs an LLM; pass llm= "
                                 "or use annotator='oracle' or 'human'")
            ctx = Context(task=self.task, config=self.config, run_dir=self.run_dir,
                          ledger=ledger, meter=meter, memory=memory, embedding=embedding,
                          annotator=annotator, policy=self._make_policy(metered),
                          student=self.student, tools=ToolRegistry(self.tools), llm=metered,
                          on_event=self.on_event)
            for t in builtin_tools(ctx):
                ctx.tools.register("all", t, builtin=True)
            ctx.cache["embedding_cache_dir"] = self.embedding_cache
            self._context = ctx
        return self._context

    def _make_policy(self, metered: MeteredLLM | None) -> Any:
        if not isinstance(self.policy, str):
            return self.policy
        if self.policy == "rule" or (self.policy == "auto" and not (
                metered is not None and capable_of_decisions(metered.llm))):
            return RulePolicy()
        if self.policy in {"llm", "auto"}:
            if metered is None:
                raise InputError("policy='llm' needs an llm")
            return LLMPolicy(metered)
        raise InputError(f"unknown policy {self.policy!r}; use 'auto', 'rule' or 'llm'")

    @property
    def graph(self) -> Any:
        """The compiled LangGraph with its SQLite checkpointer."""
        if self._graph is None:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(self.run_dir / "checkpoints.sqlite",
                                         check_same_thread=False)
            self._graph = build_graph(SqliteSaver(self._conn))
        return self._graph

    @property
    def config_dict(self) -> dict[str, Any]:
        limit = recursion_limit(self.budget.labels, self.budget.rounds, self.config.patience)
        return {"configurable": {"thread_id": THREAD}, "recursion_limit": limit}

    # -- running ----------------------------------------------------------------------
    def add_pool(self, pool: PoolLike, *, text_column: str = "text",
                 label_column: str | None = None, name: str = "pool") -> PoolData:
        """Validate a pool (or a gold test split, ``name="test"``) and save it into the run."""
        data = pool if isinstance(pool, PoolData) else load_pool(
            pool, text_column=text_column, label_column=label_column, labels=self.task.labels)
        PoolStore.write(self.run_dir, name, data.texts, data.gold)
        self.skipped[name] = dict(data.skipped)
        if self.on_event is not None:
            self.on_event("pool", {"name": name, "size": len(data), "skipped": data.skipped})
        return data

    def _input(self, pool: PoolLike | None, test: PoolLike | None, **kw: Any) -> Any:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        if test is not None:
            self.add_pool(test, name="test", **{"label_column": "label", **kw})
        if pool is not None:
            self.add_pool(pool, **kw)
        state = self.graph.get_state(self.config_dict)
        if state.next:
            if state.interrupts:
                raise RunStateError("the run is waiting for a human answer: call resume(answers)")
            return None  # continue after a crash or a pause
        if state.values.get("stop_reason"):
            return None
        if not (self.run_dir / "pool.parquet").exists():
            raise InputError("no pool: pass pool= (a file, DataFrame or list of texts)")
        return {"round": 0}

    def stream(self, pool: PoolLike | None = None, *, test: PoolLike | None = None,
               resume: Any = None, **kw: Any) -> Iterator[dict[str, Any]]:
        """Run (or continue) the loop, yielding each node's update as it happens."""
        graph_input = Command(resume=resume) if resume is not None else self._input(
            pool, test, **kw)
        yield from self.graph.stream(graph_input, self.config_dict, context=self.context,
                                     stream_mode="updates", durability="sync")

    def run(self, pool: PoolLike | None = None, *, test: PoolLike | None = None,
            **kw: Any) -> RunResult:
        """Run until the loop stops or pauses for a human; returns the result so far."""
        for _ in self.stream(pool, test=test, **kw):
            pass
        return self.result()

    def resume(self, answers: Mapping[str, str] | None = None) -> RunResult:
        """Continue a paused or crashed run; ``answers`` answers a pending label request."""
        for _ in self.stream(resume=dict(answers) if answers is not None else None):
            pass
        return self.result()

    def pending(self) -> dict[str, Any] | None:
        """The human label request the run is waiting on, if any."""
        state = self.graph.get_state(self.config_dict)
        return state.interrupts[0].value if state.interrupts else None

    def result(self) -> RunResult:
        ctx = self.context
        values = self.graph.get_state(self.config_dict).values
        examples, _ = ctx.memory.all(status=None)
        dataset = pd.DataFrame([{"id": e.id, "text": e.text, "label": e.label,
                                 "source": e.source, "confidence": e.confidence,
                                 "origin": e.origin, "status": e.status, "round": e.round}
                                for e in examples])
        curve = pd.DataFrame(ctx.ledger.metrics())
        by_source: dict[str, int] = {}
        for row in ctx.ledger.all_labels():
            key = row.source if row.origin == "pool" else f"{row.source} (synthetic)"
            by_source[key] = by_source.get(key, 0) + 1
        totals = ctx.ledger.totals()
        cost = {**totals, "labels_by_source": by_source,
                "seconds": round(time.time() - self._started, 1)}
        return RunResult(dataset=dataset, model=ctx.model(), curve=curve, cost=cost,
                         stop_reason=values.get("stop_reason"), pending=self.pending(),
                         run_dir=self.run_dir, decisions=ctx.ledger.decisions())

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn, self._graph = None, None
        if self._context is not None:
            self._context.ledger.close()
            self._context = None
