"""Configuration: the loop's knobs (:class:`RunConfig`) and the environment (:class:`Settings`).

``RunConfig`` is recorded in ``run.json``, so a reopened run has exactly the knobs it was
started with. ``Settings`` is the one place that reads ``LABELGRAPH_*`` environment variables.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from labelgraph.errors import InputError

__all__ = ["DEFAULT_STOPPING", "MCPServer", "RunConfig", "Settings", "make_config", "settings"]

#: The optional stopping criteria a run uses unless told otherwise (``stopping=()`` turns them
#: off). The guardrail criteria (budgets, idle-round patience, an exhausted pool) always apply.
DEFAULT_STOPPING = ("consensus", "agent_proposals")


class MCPServer(BaseModel):
    """An MCP server whose tools join the run: started over stdio, or reached over HTTP.

    Values of ``env`` and ``headers`` written ``$NAME`` are read from the environment when
    the server is contacted, so a secret never lands in ``run.json``. A stdio server
    inherits the caller's environment with ``env`` on top, unless ``inherit_env`` is off.
    One server process (or HTTP session) serves the whole run (``labelgraph.tools.mcp``).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    transport: Literal["stdio", "streamable_http", "sse"] = "stdio"
    command: str | None = Field(None, description="stdio: the program that serves")
    args: tuple[str, ...] = Field((), description="stdio: its arguments")
    env: dict[str, str] | None = Field(None, description="stdio: variables set on top of "
                                                         "the inherited environment")
    inherit_env: bool = Field(True, description="stdio: start from the caller's environment "
                                                "(off: only PATH, HOME and the like)")
    cwd: str | None = Field(None, description="stdio: its working directory")
    url: str | None = Field(None, description="HTTP: the server's address")
    headers: dict[str, str] | None = Field(None, description="HTTP: request headers")
    agents: tuple[str, ...] = Field(("all",), description="agents that may call its tools")

    @model_validator(mode="after")
    def _reachable(self) -> MCPServer:
        if self.transport == "stdio" and not self.command:
            raise ValueError("a stdio MCP server needs a command")
        if self.transport != "stdio" and not self.url:
            raise ValueError(f"an {self.transport} MCP server needs a url")
        return self


class RunConfig(BaseModel):
    """Knobs of the loop. Every one has a default that works for the demo, and bounds."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    batch_size: int = Field(20, ge=1, le=10_000,
                            description="items labeled per query round (the supervisor's "
                                        "default batch; the LLM policy is told this number)")
    seed_size: int = Field(20, ge=1, le=10_000,
                           description="items in the cold-start seed, chosen by diversity")
    strategy: str = Field(
        "diverse_margin", description="query strategy by registry name (benchmarks/"
        "results/default_strategy: the only one within a standard error of the best on all "
        "three bench sets over ten seeds)")
    synthesize: bool = Field(True, description="allow rounds that generate new examples")
    synthesize_every: int = Field(4, ge=0, le=1000,
                                  description="synthesize after this many query rounds "
                                              "(0: only for rare labels)")
    synth_batch: int = Field(10, ge=1, le=1000, description="examples asked of the generator")
    n_shots: int = Field(8, ge=0, le=64,
                         description="few-shot demonstrations per LLM label (balanced)")
    knn: int = Field(5, ge=1, le=100, description="neighbours the verifier consults")
    confidence_threshold: float | None = Field(
        None, ge=0.0, le=1.0,
        description="hybrid annotator: labels whose calibrated confidence is under this go "
                    "on to a stronger model or the person (None: derived each round from the "
                    "budget, so at most a quarter of the items go on)")
    contextual_calibration: bool | None = Field(
        None, description="local model: divide label probabilities by the model's label "
                          "prior (the same prompt with an empty text); None: only when "
                          "there are no demonstrations (benchmarks/local_confidence.py: it "
                          "helps at 0 shots, costs 3-6 points with 4-8)")
    votes: int = Field(1, ge=1, le=9,
                       description="LLM labels: demonstration sets each label is voted over "
                                   "(over 1: vote agreement becomes a confidence signal)")
    calibration_min: int = Field(20, ge=2, le=100_000,
                                 description="confirmed labels before the confidence "
                                             "calibrator replaces the raw combined score")
    spot_check: float = Field(0.05, ge=0.0, le=1.0,
                              description="hybrid: share of confident LLM labels also asked "
                                          "of the person, so calibration sees both kinds")
    label_prices: dict[str, float] = Field(
        default_factory=dict,
        description="USD per label by source (human, oracle, strong, llm), beside token "
                    "costs; counted in the budget and used for routing")
    audit_every: int = Field(5, ge=0, le=1000,
                             description="audit the whole memory every this many rounds "
                                         "(0: only on demand)")
    dedupe_threshold: float = Field(
        0.95, gt=0.0, le=1.0,
        description="cosine similarity at which a generated text counts as a duplicate")
    stopping: tuple[str, ...] = Field(
        DEFAULT_STOPPING,
        description="optional stopping criteria by registry name (empty: none); the "
                    "budgets, patience and an exhausted pool always apply as well")
    stopping_watch: tuple[str, ...] = Field(
        (), description="stopping criteria evaluated and recorded every round (the decision's "
                        "would_stop) without ending the run; labelgraph bench watches them all")
    min_rounds: int = Field(3, ge=0, description="stabilizing predictions waits this long")
    kappa_threshold: float = Field(
        0.97, ge=0.0, le=1.0,
        description="stabilizing predictions: Cohen's kappa between successive students "
                    "(benchmarks/stopping_defaults.py: the lowest that lost at most half a "
                    "point on each of three public data sets)")
    kappa_window: int = Field(3, ge=1, description="rounds the kappa must hold")
    stop_set_size: int = Field(1000, ge=10, description="pool items the kappa is measured on")
    stop_window: int = Field(3, ge=1, description="rounds the uncertainty, classification-change, "
                                                 "plateau and cost-aware criteria look back")
    uncertainty_threshold: float = Field(
        0.25, ge=0.0, le=1.0, description="uncertainty criterion: mean (1 - top probability) "
                                          "on the stop set under this")
    change_threshold: float = Field(
        0.01, ge=0.0, le=1.0, description="classification-change criterion: share of the stop "
                                          "set whose predicted label changed, at most this")
    plateau_window: int = Field(
        9, ge=2, description="accuracy-plateau and cost-aware criteria: rounds of "
                             "cross-validated accuracy the learning curve's slope is fitted on")
    plateau_delta: float = Field(
        0.005, ge=0.0, le=1.0, description="accuracy-plateau criterion: cross-validated "
                                           "accuracy gained per batch under this")
    consensus_of: tuple[str, ...] = Field(
        ("stabilizing_predictions", "classification_change"),
        description="consensus criterion: the criteria that must agree (registry names)")
    consensus_min: int = Field(2, ge=1, description="consensus criterion: how many of "
                                                    "consensus_of must vote stop in one round")
    consensus_settings: dict[str, float] = Field(
        default_factory=lambda: {"kappa_threshold": 0.8, "change_threshold": 0.01},
        description="consensus criterion: settings its criteria read instead of the run's "
                    "(benchmarks/stopping_defaults.py --pairs --cheap: chosen on five seeds "
                    "of three data sets, checked on five others)")
    min_gain_per_usd: float = Field(
        0.002, ge=0.0, description="cost-aware criterion: expected accuracy gained per USD "
                                   "under this (0.002: a fifth of a point per dollar)")
    bandit_arms: tuple[str, ...] = Field(
        ("margin", "diverse_margin", "badge", "density_weighted"),
        description="strategy 'bandit': the strategies it chooses among by measured gain")
    bandit_reward: Literal["change", "gain"] = Field(
        "change", description="strategy 'bandit': what rewards an arm: 'change' (how much its "
                              "labels changed the student's stop-set predictions) or 'gain' "
                              "(how much they raised its log-probability of the next round's "
                              "new labels, which no student compared was fitted on)")
    patience: int = Field(3, ge=1, description="stop after this many rounds with no new label")
    use_proposals: bool = Field(
        True, description="the rule policy weighs the agents' proposals (docs/agents.md); "
                          "False: it decides as if there were none (they are still recorded, "
                          "to measure whether they pay: benchmarks/proposals.py)")
    proposal_evidence: int = Field(
        5, ge=1, description="labels an agent must have seen before it proposes from a share "
                             "of them (fewer: it says nothing)")
    proposal_window: int = Field(
        3, ge=1, description="rounds an agent's evidence counts: the annotator reads this "
                             "many rounds of overruled labels; a failed synthetic batch "
                             "rules synthesis out for this many rounds")
    overruled_share: float = Field(
        0.5, ge=0.0, le=1.0,
        description="annotator: proposes query (route to the person, no synthesis) when at "
                    "least this share of its recent model labels was overruled")
    doubt_share: float = Field(
        0.3, ge=0.0, le=1.0,
        description="verifier: proposes query (not synthesis) when at least this share of "
                    "the batch was rejected or flagged")
    audit_suspect_share: float = Field(
        0.1, ge=0.0, le=1.0,
        description="verifier: proposes query when its audit finds at least this share of "
                    "memory suspect")
    synth_rejected_share: float = Field(
        0.7, ge=0.0, le=1.0,
        description="generator: proposes query when at least this share of its last "
                    "synthetic batch was rejected")
    confident_pool: float = Field(
        0.99, ge=0.5, le=1.0,
        description="selector: nothing informative is left when the student's top "
                    "probability is above this on every pool item")
    flat_change: float = Field(
        0.02, ge=0.0, le=1.0,
        description="learner: the curve is flat (it proposes stop) when at most this share "
                    "of the stop set's predictions changed in each of the last stop_window "
                    "rounds")
    min_class_labels: int = Field(
        3, ge=0, description="learner: a label with fewer accepted examples (or one the "
                             "student never predicts) gets a proposal to synthesize for it")
    flat_stop_share: float = Field(
        0.5, ge=0.0, le=1.0,
        description="agent_proposals criterion: the learner's flat curve alone stops the run "
                    "once this share of the tightest budget is spent (otherwise a second "
                    "agent must propose stop too)")
    max_concurrency: int = Field(4, ge=1, le=64, description="parallel remote LLM calls")
    provider_retries: int = Field(4, ge=0, le=20,
                                  description="retries of a call that hit a timeout, a rate "
                                              "limit or a lost connection")
    retry_backoff: float = Field(1.0, ge=0.0, le=60.0,
                                 description="seconds before the first retry; doubles each time")
    tool_calls: int = Field(8, ge=0, le=100,
                            description="tool calls an agent may make in one step")
    tool_seconds: float = Field(20.0, gt=0.0, le=600.0,
                                description="wall time a tool call may take")
    tool_max_chars: int = Field(4000, ge=100, le=1_000_000,
                                description="a longer tool result is cut (the model is told)")
    mcp_servers: dict[str, MCPServer] = Field(
        default_factory=dict,
        description="MCP servers by name whose tools join the run (needs labelgraph[mcp])")
    judge: bool = Field(False, description="the verifier asks the run's chat model to judge "
                                           "doubtful labels (flagged or low-confidence)")
    judge_below: float = Field(0.6, ge=0.0, le=1.0,
                               description="judge: an LLM label under this confidence is "
                                           "doubtful")
    tfidf: bool = Field(True, description="student features: TF-IDF beside the embeddings")
    pool_learning: Literal["off", "self_training", "label_spreading"] = Field(
        "off", description="the student learns from the unlabeled pool too: 'self_training' "
                           "refits it with its confident pool predictions weighted below real "
                           "labels, 'label_spreading' with pseudo-labels spread from the real "
                           "ones over the pool's nearest-neighbour graph (built once a run: "
                           "its time grows with the pool's square); pseudo-labels are never "
                           "written to memory or the ledger. Off by default: neither paid "
                           "+0.02 AULC on every bench set (benchmarks/pool_student.py)")
    memory_write_behind: float = Field(
        5.0, ge=0.0, le=3600.0,
        description="seconds a memory write may wait to reach Chroma with later ones (0: at "
                    "once); every write is in the ledger first, and a resumed run repairs "
                    "what a crash kept from Chroma")
    seed: int = Field(0, description="random seed of every choice the run makes")

    @field_validator("label_prices")
    @classmethod
    def _prices(cls, value: dict[str, float]) -> dict[str, float]:
        unknown = set(value) - {"human", "oracle", "strong", "llm"}
        if unknown:
            raise ValueError(f"label_prices names unknown sources {sorted(unknown)}; use "
                             f"human, oracle, strong or llm")
        negative = {k: v for k, v in value.items() if v < 0}
        if negative:
            raise ValueError(f"label_prices must be >= 0, got {negative}")
        return value

    @field_validator("consensus_settings")
    @classmethod
    def _known_settings(cls, value: dict[str, float]) -> dict[str, float]:
        unknown = sorted(set(value) - set(cls.model_fields))
        if unknown:
            raise ValueError(f"consensus_settings: unknown setting(s) {', '.join(unknown)}")
        return value

    @field_validator("stopping", "stopping_watch", "bandit_arms", "consensus_of", mode="before")
    @classmethod
    def _names(cls, value: object) -> tuple[str, ...]:
        if isinstance(value, str):
            value = [v for v in value.split(",") if v.strip()]
        return tuple(str(v).strip() for v in value)  # type: ignore[union-attr]


def make_config(config: RunConfig | dict | None) -> RunConfig:
    """A RunConfig from a RunConfig, a dict or None; bad keys or values are an InputError."""
    if config is None:
        return RunConfig()
    if isinstance(config, RunConfig):
        return config
    unknown = set(config) - set(RunConfig.model_fields)
    if unknown:
        raise InputError(f"unknown config keys {sorted(unknown)}; known: "
                         f"{sorted(RunConfig.model_fields)}")
    try:
        return RunConfig(**dict(config))
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'config'}: {e['msg']}"
                             for e in exc.errors())
        raise InputError(f"bad run config: {problems}") from None


class Settings(BaseSettings):
    """Machine-level settings, from ``LABELGRAPH_*`` environment variables."""

    model_config = SettingsConfigDict(env_prefix="LABELGRAPH_", extra="ignore",
                                      env_ignore_empty=True)

    cache_dir: Path = Field(Path.home() / ".cache" / "labelgraph",
                            description="demo data, tokenizer and embedding caches")
    embedding_cache_dir: Path | None = Field(
        None, description="pool embeddings shared across runs (default: <cache_dir>/embeddings)")
    tokenizer_path: Path | None = Field(None, description="a MiniLM tokenizer.json to use")
    model_dir: Path | None = Field(None, description="where the local GGUF model is assembled")
    llm_timeout: float = Field(60.0, gt=0, description="seconds a model server may take to "
                               "answer one call before it counts as a timeout (retried)")
    llm_api_key: str | None = Field(None, description="the key sent to a model server named "
                                    "by URL (openai:<model>@<url>); none needed for a local one")

    @field_validator("cache_dir", "embedding_cache_dir", "tokenizer_path", "model_dir",
                     mode="after")
    @classmethod
    def _expand(cls, value: Path | None) -> Path | None:
        return value.expanduser() if value is not None else None


def settings() -> Settings:
    """The environment's settings, read now (cheap; tests change the environment)."""
    return Settings()
