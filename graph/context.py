"""The runtime context: the frozen set of dependencies a run's nodes use (``context=``).

Nodes reach models, memory, the pool, the ledger and the budget meter through this object;
none of it is checkpointed. Lazily built artefacts (the pool, its features, the fitted
student) live in the run's :class:`~labelgraph.memory.store.RunStore`, so a fresh process
resuming a run rebuilds them from the run directory on first use. Tests build a Context
with fakes where a real part cannot run here.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from labelgraph.annotators import Annotator
from labelgraph.budget import BudgetMeter
from labelgraph.capabilities import USES_TOOLS, capability
from labelgraph.config import RunConfig
from labelgraph.llm import MeteredLLM
from labelgraph.memory.examples import ExampleMemory
from labelgraph.memory.ledger import Ledger
from labelgraph.memory.store import RunStore
from labelgraph.policies import Policy
from labelgraph.registry import registry
from labelgraph.stopping import StoppingCriterion
from labelgraph.strategies import PLAYS_ARMS, SHORTLIST, Strategy
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

    def strategy(self, name: str) -> Strategy:
        """A query strategy by registry name."""
        return registry.create("strategies", name)

    @property
    def strategies(self) -> list[str]:
        return registry.names("strategies")

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

    def agent_modes(self) -> dict[str, str]:
        """How each agent works in this run: which are tool-calling LLM agents, which run
        their tools as deterministic hooks, and which follow rules."""
        from labelgraph.llm import calls_tools
        from labelgraph.tools.builtin import BUILTIN_TOOLS

        chat = self.llm.llm if self.llm is not None else None
        agentic = calls_tools(chat)

        def tools_of(agent: str, builtin: bool) -> str:
            names = [*(BUILTIN_TOOLS.get(agent, ()) if builtin else ()),
                     *(t.name for t in self.tools.for_agent(agent))]
            return f" (tools: {', '.join(names)})" if names else ""

        policy = type(self.policy).__name__
        if capability(self.policy, USES_TOOLS) and agentic:
            supervisor = "tool-calling LLM agent" + tools_of("supervisor", True)
        elif policy == "LLMPolicy":
            supervisor = "LLM policy (structured decision, no tools)"
        else:
            supervisor = f"rules ({policy})"
        annotator = type(self.annotator).__name__
        user = self.tools.for_agent("annotator")
        if capability(self.annotator, USES_TOOLS) and agentic and user:
            annotator += ": tool-calling LLM agent" + tools_of("annotator", True)
        elif user:
            annotator += ": tools as deterministic hooks (notes in the prompt)" + \
                tools_of("annotator", False)
        checks = self.tools.for_agent("verifier")
        verifier = "deterministic checks" + (tools_of("verifier", False) if checks else "")
        if self.config.judge:
            verifier += "; an LLM judge (llm_judge) for doubtful labels"
        generator = "off" if not self.config.synthesize or chat is None else \
            "local list continuation" if self.llm is not None and self.llm.local else \
            "tool-calling LLM agent" + tools_of("generator", True) if agentic else \
            "LLM (structured list)"
        strategy = self.config.strategy
        piece = self.strategy(strategy)
        selector = f"strategy {strategy!r} (pure)"
        if capability(piece, SHORTLIST) is not None:
            selector = "LLM picks from a shortlist" if chat is not None and \
                not self.llm.local else f"strategy {strategy!r}: margin (no chat model to pick)"  # type: ignore[union-attr]
        elif capability(piece, PLAYS_ARMS):
            selector = f"bandit over {', '.join(self.config.bandit_arms)} (pure)"
        return {"supervisor": supervisor, "annotator": annotator, "generator": generator,
                "verifier": verifier, "selector": selector, "learner": "student refit (pure)"}

    def annotator_sources(self) -> tuple[Annotator | None, Annotator | None]:
        """Who can be asked again about a doubtful label: a person (or the oracle standing in
        for one) and a stronger model, each None when the run's annotator has none."""
        from labelgraph.annotators import HumanAnnotator, OracleAnnotator

        if isinstance(self.annotator, HumanAnnotator | OracleAnnotator):
            return self.annotator, None
        return getattr(self.annotator, "person", None), getattr(self.annotator, "stronger", None)

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
