"""The runtime context: the frozen set of dependencies a run's nodes use (``context=``).

Nodes reach models, memory, the pool, the ledger and the budget meter through this object;
none of it is checkpointed. Lazily built artefacts (the pool, its features, the fitted
student) live in the run's :class:`~labelgraph.memory.store.RunStore`, so a fresh process
resuming a run rebuilds them from the run directory on first use. Tests build a Context
with fakes where a real part cannot run here.

It is data: the run's pieces and dependencies, plus the three reads of
:class:`~labelgraph.runtime.RunContext` (the narrow view annotators and tools are handed,
which a Context satisfies) and whether synthesis can run. How the agents work, in words, is
:func:`labelgraph.graph.modes.agent_modes`; strategies are looked up in the registry.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from labelgraph.annotators import Annotator, annotator_sources
from labelgraph.budget import BudgetMeter
from labelgraph.config import RunConfig
from labelgraph.llm import MeteredLLM
from labelgraph.memory.examples import ExampleMemory
from labelgraph.memory.ledger import Ledger
from labelgraph.memory.store import RunStore
from labelgraph.policies import Policy
from labelgraph.stopping import StoppingCriterion
from labelgraph.tools.registry import ToolRegistry
from labelgraph.types import Task

__all__ = ["Context"]


@dataclass(frozen=True)
class Context:
    """What every node may use. :class:`labelgraph.LabelGraph` builds it from the run's
    settings; build one by hand to inject other parts."""

    task: Task  #: the label schema
    config: RunConfig  #: the loop's knobs
    ledger: Ledger  #: the append-only truth of what was bought and decided
    meter: BudgetMeter  #: checks every spend before it happens
    memory: ExampleMemory  #: labeled examples in Chroma, searchable by similarity
    store: RunStore  #: the run directory and its lazy artefacts (pool, features, student)
    embedding: Any  #: the embedding function (also Chroma's)
    annotator: Annotator  #: who labels
    policy: Policy  #: the supervisor's policy
    student: Any  #: an unfitted scikit-learn classifier with predict_proba
    tools: ToolRegistry  #: the tools each agent may call
    criteria: tuple[tuple[str, StoppingCriterion], ...]  #: every stopping rule, by name
    llm: MeteredLLM | None = None  #: the metered chat model, if any
    #: set by a front-end to pause the run between items of a long step (see
    #: :class:`~labelgraph.errors.PauseRequested`); nodes only read it
    pause: threading.Event = field(default_factory=threading.Event, compare=False)

    def rng(self, round_: int, salt: int = 0) -> np.random.Generator:
        """A generator seeded by run seed and round, so a re-run node makes the same choices."""
        return np.random.default_rng([self.config.seed, round_, salt])

    @property
    def can_synthesize(self) -> bool:
        """Synthesis is on and an LLM can write: the generator can run."""
        return self.config.synthesize and self.llm is not None

    def labeled_mask(self) -> np.ndarray:
        """Which pool rows are done with (from the ledger, the truth): a label is bought, or
        a person skipped the item, so it is not asked again."""
        pool = self.store.pool()
        mask = np.zeros(len(pool), dtype=bool)
        done = self.ledger.labeled_ids() | self.ledger.skipped_ids()
        rows = [pool.index[i] for i in done if i in pool.index]
        mask[rows] = True
        return mask

    def annotator_sources(self) -> tuple[Annotator | None, Annotator | None]:
        """Who can be asked again about a doubtful label (the run's annotator says:
        :func:`labelgraph.annotators.annotator_sources`); kept here for the memory audit."""
        return annotator_sources(self.annotator)

    def embed_items(self, items: Sequence[Any]) -> np.ndarray:
        """Embeddings of batch items: the pool's cached rows, computed only for the rest."""
        pool = self.store.pool()
        out = np.zeros((len(items), pool.embeddings.shape[1]), dtype=np.float32)
        fresh = [n for n, i in enumerate(items) if i["id"] not in pool.index]
        for n, item in enumerate(items):
            if item["id"] in pool.index:
                out[n] = pool.embeddings[pool.index[item["id"]]]
        if fresh:
            out[fresh] = self.embedding.embed([items[n]["text"] for n in fresh])
        return out
