"""One registry for every extension point: strategies, stopping criteria, annotators, policies,
embeddings, LLM providers and tools.

Built-ins are listed here as ``"module:attribute"`` paths and imported only when used, so
this module sits at the bottom of the layer rule and importing it costs nothing. Installed
packages add pieces through Python entry points (group ``labelgraph.<kind>``); code adds them
with :func:`register`. Every lookup of an unknown name fails the same way: "unknown X; choose
one of ...".
"""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

from labelgraph.errors import InputError

__all__ = ["KINDS", "Entry", "Registry", "register", "registry"]

#: kind -> (what one of them is called in messages, entry-point group)
KINDS: dict[str, tuple[str, str]] = {
    "strategies": ("strategy", "labelgraph.strategies"),
    "stopping": ("stopping criterion", "labelgraph.stopping"),
    "annotators": ("annotator", "labelgraph.annotators"),
    "policies": ("policy", "labelgraph.policies"),
    "embeddings": ("embedding", "labelgraph.embeddings"),
    "llms": ("LLM provider", "labelgraph.llms"),
    "tools": ("tool", "labelgraph.tools"),
}

BUILTIN = "built-in"

_BUILTINS: dict[str, dict[str, str]] = {
    "strategies": {
        "random": "labelgraph.strategies:RandomStrategy",
        "least_confidence": "labelgraph.strategies:LeastConfidence",
        "margin": "labelgraph.strategies:Margin",
        "entropy": "labelgraph.strategies:Entropy",
        "diverse_margin": "labelgraph.strategies:diverse_margin",
        "kcenter": "labelgraph.strategies:KCenterGreedy",
        "badge": "labelgraph.strategies:Badge",
        "density_weighted": "labelgraph.strategies:DensityWeighted",
        "contrastive": "labelgraph.strategies:Contrastive",
        "cold_start": "labelgraph.strategies:ClusterSeed",
        "cold_start_typical": "labelgraph.strategies:TypicalitySeed",
        # The run's chat model picks from its shortlist (the selector asks); margin alone.
        "llm": "labelgraph.strategies:LLMSelection",
        # Resolved each round by the supervisor to one of RunConfig.bandit_arms.
        "bandit": "labelgraph.strategies:Bandit",
    },
    "stopping": {
        "label_budget": "labelgraph.stopping:LabelBudget",
        "token_budget": "labelgraph.stopping:TokenBudget",
        "usd_budget": "labelgraph.stopping:MoneyBudget",
        "round_budget": "labelgraph.stopping:RoundBudget",
        "patience": "labelgraph.stopping:IdlePatience",
        "pool_exhausted": "labelgraph.stopping:PoolExhausted",
        "stabilizing_predictions": "labelgraph.stopping:StabilizingPredictions",
        "uncertainty": "labelgraph.stopping:OverallUncertainty",
        "classification_change": "labelgraph.stopping:ClassificationChange",
        "accuracy_plateau": "labelgraph.stopping:AccuracyPlateau",
        "cost_aware": "labelgraph.stopping:CostAware",
        "agent_proposals": "labelgraph.stopping:AgentProposals",
        "consensus": "labelgraph.stopping:Consensus",
    },
    "annotators": {
        "oracle": "labelgraph.annotators:OracleAnnotator",
        "llm": "labelgraph.annotators:LLMAnnotator",
        "human": "labelgraph.annotators:HumanAnnotator",
        "hybrid": "labelgraph.annotators:HybridAnnotator",
        "simulated": "labelgraph.annotators:SimulatedAnnotator",
    },
    "policies": {
        "rule": "labelgraph.policies:RulePolicy",
        "llm": "labelgraph.policies:LLMPolicy",
    },
    "embeddings": {
        "minilm": "labelgraph.memory.embeddings:MiniLMEmbedding",
        "hashing": "labelgraph.memory.embeddings:HashingEmbedding",
    },
    "llms": {
        "none": "labelgraph.llm:no_llm",
        "local": "labelgraph.llm:local_llm",
        # Providers of LangChain's init_chat_model; each needs its own provider package.
        **{provider: "labelgraph.llm:provider_llm" for provider in (
            "openai", "anthropic", "ollama", "azure_openai", "google_genai", "google_vertexai",
            "bedrock_converse", "mistralai", "groq", "together", "fireworks", "deepseek",
            "xai", "huggingface", "cohere", "nvidia")},
    },
    "tools": {},
}


@dataclass
class Entry:
    """One registered piece: where it came from, and the object once loaded."""

    kind: str
    name: str
    origin: str  # "built-in", "entry point (dist)", "decorator", "register()"
    target: str  # "module:attribute", or a description of an object given directly
    _loader: Callable[[], Any] | None = field(default=None, repr=False)
    _obj: Any = field(default=None, repr=False)

    def load(self) -> Any:
        """The registered object (a class or factory), imported on first use."""
        if self._obj is None:
            try:
                self._obj = self._loader() if self._loader else _import(self.target)
            except Exception as exc:
                raise InputError(
                    f"{KINDS[self.kind][0]} {self.name!r} ({self.origin}, {self.target}) could "
                    f"not be loaded: {exc}") from exc
        return self._obj


def _import(path: str) -> Any:
    module, _, attr = path.partition(":")
    obj: Any = importlib.import_module(module)
    for part in attr.split(".") if attr else []:
        obj = getattr(obj, part)
    return obj


def _describe(obj: Any) -> str:
    """``"module:qualname"`` of an object (a LangChain tool: of the function it wraps)."""
    obj = getattr(obj, "func", None) or obj
    module = getattr(obj, "__module__", None) or type(obj).__module__
    name = getattr(obj, "__qualname__", None) or getattr(obj, "name", None) or \
        type(obj).__qualname__
    return f"{module}:{name}"


class Registry:
    """Named pieces per kind; entry points of installed packages are read on first lookup."""

    def __init__(self, builtins: dict[str, dict[str, str]] | None = None) -> None:
        self._entries: dict[str, dict[str, Entry]] = {kind: {} for kind in KINDS}
        self._scanned: set[str] = set()
        for kind, table in (builtins or {}).items():
            for name, target in table.items():
                self._entries[kind][name] = Entry(kind, name, BUILTIN, target)

    @staticmethod
    def _check_kind(kind: str) -> None:
        if kind not in KINDS:
            raise InputError(f"unknown kind of plug-in {kind!r}; choose one of {sorted(KINDS)}")

    def _scan(self, kind: str) -> None:
        """Add the entry points of installed packages (once per kind)."""
        if kind in self._scanned:
            return
        self._scanned.add(kind)
        for ep in metadata.entry_points(group=KINDS[kind][1]):
            dist = getattr(getattr(ep, "dist", None), "name", None) or "unknown package"
            if ep.name in self._entries[kind]:
                warnings.warn(f"{KINDS[kind][0]} {ep.name!r} from {dist} is ignored: the name "
                              f"is taken ({self._entries[kind][ep.name].origin})", stacklevel=3)
                continue
            self._entries[kind][ep.name] = Entry(kind, ep.name, f"entry point ({dist})",
                                                 ep.value, _loader=ep.load)

    def add(self, kind: str, name: str, obj: Any, *, origin: str = "register()",
            replace: bool = False) -> Entry:
        """Register ``obj`` (or a ``"module:attribute"`` path) under ``name``."""
        self._check_kind(kind)
        self._scan(kind)
        if not isinstance(name, str) or not name.strip():
            raise InputError(f"a {KINDS[kind][0]} needs a non-empty name, got {name!r}")
        old = self._entries[kind].get(name)
        if old is not None and old.origin.startswith("entry point") and \
                not isinstance(obj, str) and old.target == _describe(obj):
            old._obj = obj  # an entry point's own module registering it: keep its origin
            return old
        if old is not None and not replace and old._obj is not obj:
            raise InputError(f"{KINDS[kind][0]} {name!r} is already registered ({old.origin}, "
                             f"{old.target}); pick another name or pass replace=True")
        if isinstance(obj, str):
            entry = Entry(kind, name, origin, obj)
        else:
            entry = Entry(kind, name, origin, _describe(obj), _obj=obj)
        self._entries[kind][name] = entry
        return entry

    def entry(self, kind: str, name: str) -> Entry:
        """The entry for ``name``, or an InputError listing every valid name."""
        self._check_kind(kind)
        self._scan(kind)
        if not isinstance(name, str) or name not in self._entries[kind]:
            raise InputError(f"unknown {KINDS[kind][0]} {name!r}; choose one of "
                             f"{self.names(kind)}")
        return self._entries[kind][name]

    def get(self, kind: str, name: str) -> Any:
        """The registered object (class or factory) for ``name``."""
        return self.entry(kind, name).load()

    def create(self, kind: str, name: str, /, **config: Any) -> Any:
        """Call the registered class or factory with ``config``."""
        factory = self.get(kind, name)
        try:
            return factory(**config)
        except TypeError as exc:
            raise InputError(f"{KINDS[kind][0]} {name!r} does not take {sorted(config)}: "
                             f"{exc}") from exc

    def names(self, kind: str) -> list[str]:
        self._check_kind(kind)
        self._scan(kind)
        return sorted(self._entries[kind])

    def entries(self, kind: str | None = None) -> list[Entry]:
        """Every entry (of one kind, or all), in kind then name order."""
        kinds = [kind] if kind else list(KINDS)
        out = []
        for k in kinds:
            self._check_kind(k)
            self._scan(k)
            out += [self._entries[k][n] for n in sorted(self._entries[k])]
        return out

    def name_of(self, kind: str, obj: Any) -> str | None:
        """The name under which ``obj``'s class (or ``obj`` itself) is registered, if any."""
        for entry in self.entries(kind):
            try:
                target = entry.load()
            except InputError:
                continue
            if target is obj or (isinstance(target, type) and type(obj) is target):
                return entry.name
        return None


#: The process-wide registry every run resolves names through.
registry = Registry(_BUILTINS)


def register(kind: str, name: str | None = None, *, replace: bool = False) -> Callable[[Any], Any]:
    """Decorator: ``@register("strategies", "mine")`` adds a class or factory by name."""
    def wrap(obj: Any) -> Any:
        registry.add(kind, name or getattr(obj, "name", None) or obj.__name__, obj,
                     origin="decorator", replace=replace)
        return obj
    return wrap
