"""The runtime context: everything heavy or injected, passed to the graph as ``context=``.

Nodes reach models, memory, the pool, the ledger and the budget meter through this object;
none of it is checkpointed. Heavy things load lazily, so a fresh process resuming a run
rebuilds them from the run directory on first use.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import joblib
import numpy as np

from labelgraph.budget import BudgetMeter
from labelgraph.llm import MeteredLLM
from labelgraph.memory.examples import ExampleMemory
from labelgraph.memory.ledger import Ledger
from labelgraph.memory.pool import PoolStore
from labelgraph.student import Featurizer
from labelgraph.tools.registry import ToolRegistry
from labelgraph.types import Task


@dataclass
class RunConfig:
    """Knobs of the loop; every one has a default that works for the demo."""

    batch_size: int = 20
    seed_size: int = 20
    strategy: str = "margin"
    synthesize: bool = True
    synthesize_every: int = 4
    synth_batch: int = 10
    n_shots: int = 8
    knn: int = 5
    confidence_threshold: float = 0.8
    dedupe_threshold: float = 0.95
    min_rounds: int = 3
    kappa_threshold: float = 0.99
    kappa_window: int = 3
    stop_set_size: int = 1000
    patience: int = 3
    max_concurrency: int = 4
    tfidf: bool = True
    seed: int = 0


@dataclass
class Context:
    """What every node may use. Build it with :class:`labelgraph.LabelGraph` or by hand."""

    task: Task
    config: RunConfig
    run_dir: Path
    ledger: Ledger
    meter: BudgetMeter
    memory: ExampleMemory
    embedding: Any
    annotator: Any
    policy: Any
    student: Any
    tools: ToolRegistry
    llm: MeteredLLM | None = None
    on_event: Callable[[str, dict[str, Any]], None] | None = None
    cache: dict[str, Any] = field(default_factory=dict)

    def emit(self, kind: str, **data: Any) -> None:
        """Tell a front-end (progress bar, console) what just happened."""
        if self.on_event is not None:
            self.on_event(kind, data)

    def rng(self, round_: int, salt: int = 0) -> np.random.Generator:
        """A generator seeded by run seed and round, so a re-run node makes the same choices."""
        return np.random.default_rng([self.config.seed, round_, salt])

    def pool(self) -> PoolStore:
        if "pool" not in self.cache:
            cache_dir = self.cache.get("embedding_cache_dir")
            self.cache["pool"] = PoolStore.open(
                self.run_dir, "pool", self.embedding, cache_dir=cache_dir,
                progress=lambda done, total: self.emit("embed", done=done, total=total))
        return self.cache["pool"]

    def test(self) -> PoolStore | None:
        if "test" not in self.cache:
            exists = (self.run_dir / "test.parquet").exists()
            self.cache["test"] = PoolStore.open(
                self.run_dir, "test", self.embedding,
                cache_dir=self.cache.get("embedding_cache_dir")) if exists else None
        return self.cache["test"]

    def labeled_mask(self) -> np.ndarray:
        """Which pool rows already have a label bought (from the ledger, the truth)."""
        pool = self.pool()
        mask = np.zeros(len(pool), dtype=bool)
        rows = [pool.index[i] for i in self.ledger.labeled_ids() if i in pool.index]
        mask[rows] = True
        return mask

    def embed_items(self, items: list[dict[str, Any]]) -> np.ndarray:
        """Embeddings of batch items: the pool's cached rows, computed only for the rest."""
        pool = self.pool()
        out = np.zeros((len(items), pool.embeddings.shape[1]), dtype=np.float32)
        fresh = [n for n, i in enumerate(items) if i["id"] not in pool.index]
        for n, item in enumerate(items):
            if item["id"] in pool.index:
                out[n] = pool.embeddings[pool.index[item["id"]]]
        if fresh:
            out[fresh] = self.embedding.embed([items[n]["text"] for n in fresh])
        return out

    def featurizer(self) -> Featurizer:
        if "featurizer" not in self.cache:
            self.cache["featurizer"] = Featurizer(tfidf=self.config.tfidf).fit(self.pool().texts)
        return self.cache["featurizer"]

    def features(self, texts: list[str], embeddings: np.ndarray) -> Any:
        return self.featurizer().transform(texts, embeddings)

    def pool_features(self) -> Any:
        """Student features of the whole pool, computed once: the featurizer is fixed."""
        if "pool_features" not in self.cache:
            pool = self.pool()
            self.cache["pool_features"] = self.features(pool.texts, pool.embeddings)
        return self.cache["pool_features"]

    @property
    def model_path(self) -> Path:
        return self.run_dir / "model.joblib"

    def model(self) -> Any | None:
        """The latest fitted student, or None before the first fit."""
        if "model" not in self.cache:
            self.cache["model"] = joblib.load(self.model_path) if self.model_path.exists() \
                else None
        return self.cache["model"]

    def save_model(self, model: Any) -> None:
        tmp = self.model_path.with_suffix(".tmp")
        joblib.dump(model, tmp)
        tmp.replace(self.model_path)
        self.cache["model"] = model

    def pool_proba(self) -> np.ndarray | None:
        """The latest student's probabilities over the whole pool (cached per model)."""
        model = self.model()
        if model is None:
            return None
        if self.cache.get("proba_for") is not model:
            from labelgraph.student import proba_in_order

            self.cache["proba"] = proba_in_order(model, self.pool_features(), self.task.labels)
            self.cache["proba_for"] = model
        return self.cache["proba"]
