"""The one seam between a run and the pieces that work for it: :class:`RunContext`.

An annotator (``Annotator.annotate(items, ctx, round_, write)``) and the built-in tools are
handed the run they work for. They see it through this Protocol, not through the graph's
:class:`~labelgraph.graph.context.Context`: what they read of a run (its task and settings,
the ledger and the budget meter, memory and the run's artefacts, the embedding function, the
chat model, the tools, the pause flag, and three reads derived from those) and nothing of
how the graph is composed (its annotator, policy, student or stopping criteria). So a
plug-in implements an annotator, and a test hands one a run, without importing the graph;
and no piece reaches another piece through the run. The graph's ``Context`` satisfies it
structurally.

The members are read-only properties because a run's dependencies are frozen. Their types
live in higher layers and are named for type checkers only: this module imports nothing at
run time, so it sits at the bottom of the layer rule.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    import threading

    import numpy as np

    from labelgraph.budget import BudgetMeter
    from labelgraph.config import RunConfig
    from labelgraph.llm import MeteredLLM
    from labelgraph.memory.examples import ExampleMemory
    from labelgraph.memory.ledger import Ledger
    from labelgraph.memory.store import RunStore
    from labelgraph.tools.registry import ToolRegistry
    from labelgraph.types import Task

__all__ = ["RunContext"]


@runtime_checkable
class RunContext(Protocol):
    """What a piece may use of the run it works for (the graph's ``Context`` is one)."""

    @property
    def task(self) -> Task:
        """The label schema."""
        ...

    @property
    def config(self) -> RunConfig:
        """The loop's settings (knn, n_shots, label prices, tool limits, ...)."""
        ...

    @property
    def ledger(self) -> Ledger:
        """The append-only truth: what was bought, decided and recorded."""
        ...

    @property
    def meter(self) -> BudgetMeter:
        """Checks every spend before it happens (reserve, then settle)."""
        ...

    @property
    def memory(self) -> ExampleMemory:
        """Labeled examples, searchable by similarity."""
        ...

    @property
    def store(self) -> RunStore:
        """The run directory's lazy artefacts: the pool, its features, the fitted student."""
        ...

    @property
    def embedding(self) -> Any:
        """The run's embedding function (``embed(texts) -> array``, also Chroma's)."""
        ...

    @property
    def llm(self) -> MeteredLLM | None:
        """The run's metered chat model, if it has one."""
        ...

    @property
    def tools(self) -> ToolRegistry:
        """The tools each agent may call (``for_agent(name)``)."""
        ...

    @property
    def pause(self) -> threading.Event:
        """Set by a front-end to pause between the items of a long step; pieces only read
        it (and raise :class:`~labelgraph.errors.PauseRequested`)."""
        ...

    def rng(self, round_: int, salt: int = 0) -> np.random.Generator:
        """A generator seeded by the run's seed and the round: a re-run makes the same
        choices."""
        ...

    def labeled_mask(self) -> np.ndarray:
        """Which pool rows are done with (a label bought, or skipped by a person)."""
        ...

    def embed_items(self, items: Sequence[Any]) -> np.ndarray:
        """Embeddings of batch items: the pool's cached rows, computed only for the rest."""
        ...
