"""The bench: every strategy on every seed through the public API (and, with ``compare``,
the other libraries' strategies on the same features), each optional stopping criterion
watched so its stop point can be read off afterwards."""

from __future__ import annotations

import contextlib
import tempfile
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from labelgraph.api import LabelGraph
from labelgraph.bench.peers import (
    COMPARE_STRATEGIES,
    MODAL,
    SMALL_TEXT,
    Features,
    available_libraries,
    modal_shim,
    run_other,
)
from labelgraph.bench.result import BenchResult, Curve, Schedule, fmt
from labelgraph.config import make_config
from labelgraph.data import PoolData, load_pool
from labelgraph.errors import InputError, LabelGraphError
from labelgraph.memory.embeddings import MiniLMEmbedding
from labelgraph.policies import HISTORY_FIELDS
from labelgraph.registry import registry
from labelgraph.stopping import GUARDRAIL_CRITERIA
from labelgraph.student import default_student
from labelgraph.types import Budget, Task

__all__ = ["BENCH_SETTINGS", "DEFAULT_STRATEGIES", "ROUND_FIGURES", "SharedMiniLM",
           "run_bench", "watched_criteria"]

#: A labelgraph round's figures kept in the bench's JSON (what the stopping criteria read).
ROUND_FIGURES = (*HISTORY_FIELDS, "accuracy")
DEFAULT_STRATEGIES = ("random", "margin", "diverse_margin", "badge", "bandit")


def watched_criteria() -> list[str]:
    """Every optional stopping criterion in the registry (the guardrails always apply)."""
    return [n for n in registry.names("stopping") if n not in GUARDRAIL_CRITERIA]


class SharedMiniLM(MiniLMEmbedding):
    """MiniLM that embeds each distinct text once per process: every seed's pool and test
    split are subsets of one file, so runs on other splits reuse the vectors (the on-disk
    ``embedding_cache`` then serves later processes). Same name, so same cache keys."""

    def __init__(self) -> None:
        super().__init__()
        self._seen: dict[str, np.ndarray] = {}

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        texts = list(texts)
        missing = list(dict.fromkeys(t for t in texts if t not in self._seen))
        if missing:
            for text, row in zip(missing, super().embed(missing), strict=True):
                self._seen[text] = row
        if not texts:
            return np.zeros((0, self.DIM), dtype=np.float32)
        return np.stack([self._seen[t] for t in texts])


# -- data --------------------------------------------------------------------------------
def _splits(data: PoolData, test: PoolData | None, test_size: float, seed: int,
            max_pool: int | None) -> tuple[PoolData, PoolData]:
    """(pool, test) for one seed: the given test file, or a stratified split per seed."""
    import pandas as pd

    from labelgraph.data import split_gold

    frame = pd.DataFrame({"text": data.texts, "label": data.gold})
    if test is None:
        pool_frame, test_frame = split_gold(frame, test_size=test_size, seed=seed)
        test = PoolData(test_frame["text"].tolist(), test_frame["label"].tolist())
    else:
        pool_frame = frame
    if max_pool and len(pool_frame) > max_pool:
        pool_frame = pool_frame.sample(n=max_pool, random_state=seed)
    return PoolData(pool_frame["text"].tolist(), pool_frame["label"].tolist()), test


# -- labelgraph's own runs ------------------------------------------------------------------
def _stops(metrics: list[dict[str, Any]], decisions: list[dict[str, Any]],
           criteria: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Each watched criterion's first vote. A vote in the decision of round r stops the run
    before round r, with the student (and labels) of the latest round before it."""
    by_round = {int(m["round"]): m for m in metrics}
    out: dict[str, dict[str, Any]] = {}
    for decision in decisions:
        r = int(decision["round"])
        voted = dict(decision.get("would_stop") or {})
        for name in decision.get("criteria") or []:  # a criterion that actually stopped it
            if name in criteria:
                voted.setdefault(name, decision.get("reason", ""))
        for name, reason in voted.items():
            if name in out or name not in criteria:
                continue
            before = [k for k in by_round if k < r]
            last = by_round[max(before)] if before else None
            out[name] = {"round": r,
                         "labels": int((last or {}).get("spend", {}).get("labels",
                                                                         (last or {}).get(
                                                                             "labels", 0))),
                         "accuracy": (last or {}).get("accuracy"), "reason": reason}
    return out


#: run settings the bench itself decides (the schedule, the strategy, the seed, stopping)
BENCH_SETTINGS = frozenset({"strategy", "batch_size", "seed_size", "synthesize", "stopping",
                            "stopping_watch", "seed"})


def _run_labelgraph(task: Task, pool: PoolData, test: PoolData, strategy: str, seed: int,
                    schedule: Schedule, criteria: Sequence[str], embedding: Any,
                    cache: Path | None, work: Path | None,
                    keep: bool, settings: Mapping[str, Any]) -> tuple[Curve, list[str]]:
    """One run through the public API; returns its curve and its cold-start seed ids."""
    curve = Curve("labelgraph", strategy, seed)
    config = {**settings, "strategy": strategy, "batch_size": schedule.batch,
              "seed_size": schedule.seed_size, "synthesize": False, "stopping": (),
              "stopping_watch": tuple(criteria), "seed": seed}
    run_dir = Path(tempfile.mkdtemp(prefix=f"bench-{strategy}-{seed}-", dir=work))
    lg = LabelGraph(task, llm=None, annotator="oracle", budget=Budget(labels=schedule.budget),
                    run_dir=run_dir, embedding=embedding, embedding_cache=cache,
                    config=config)
    start = last = time.perf_counter()
    selections = 0
    try:
        for mode, chunk in lg.stream(pool=pool, test=test):
            if mode != "updates":
                continue
            now = time.perf_counter()
            if "selector" in chunk:  # the first selection is the cold-start seed
                if selections:
                    curve.query_seconds.append(now - last)
                else:
                    curve.seed_seconds = now - last
                selections += 1
            last = now
        curve.seconds = time.perf_counter() - start
        ledger = lg.context.ledger
        metrics, decisions = ledger.metrics(), ledger.decisions()
        seed_ids = [row.item_id for row in ledger.all_labels() if row.round == 1]
    finally:
        lg.close()
        if not keep:
            import shutil

            shutil.rmtree(run_dir, ignore_errors=True)
    for m in metrics:
        curve.labels.append(int((m.get("spend") or {}).get("labels", m.get("labels", 0))))
        curve.accuracy.append(m.get("accuracy"))
        curve.macro_f1.append(m.get("macro_f1"))
        curve.strategies_used.append(m.get("strategy"))
        curve.rounds.append({k: m.get(k) for k in ROUND_FIGURES})
    curve.stops = _stops(metrics, decisions, criteria)
    curve.watched = any("would_stop" in d for d in decisions)
    return curve, seed_ids


# -- the bench -------------------------------------------------------------------------------
def run_bench(data: str | Path | PoolData | Any, *, text_column: str = "text",
              label_column: str = "label", labels: Sequence[str] | None = None,
              test: str | Path | PoolData | Any | None = None, test_size: float = 0.2,
              seeds: Sequence[int] = (0, 1, 2),
              strategies: Sequence[str] = DEFAULT_STRATEGIES,
              schedule: Schedule | None = None, compare: bool = False,
              compare_strategies: Sequence[str] = COMPARE_STRATEGIES,
              max_pool: int | None = None, embedding: str | Any = "minilm",
              embedding_cache: str | Path | None = None, work_dir: str | Path | None = None,
              keep_runs: bool = False, name: str | None = None,
              config: Mapping[str, Any] | None = None,
              log: Callable[[str], None] | None = None,
              on_curve: Callable[[BenchResult], None] | None = None) -> BenchResult:
    """Run every strategy on every seed (and, with ``compare``, small-text's and modAL's
    strategies on the same features, seeds and schedule); return all the numbers.
    ``config`` sets other run settings for labelgraph's runs (``bandit_arms``, say; not
    those the bench decides). ``on_curve`` sees the result after every run (the CLI
    writes the outputs so far, so an interrupted bench keeps what it measured)."""
    config = dict(config or {})
    taken = sorted(BENCH_SETTINGS & set(config))
    if taken:
        raise InputError(f"the bench decides {taken} itself (the schedule, strategies and "
                         "seeds are options of their own); set other run settings")
    make_config(config)  # unknown keys and bad values fail here, before any run
    say = log or (lambda _msg: None)
    done = on_curve or (lambda _result: None)
    schedule = schedule or Schedule()
    if not seeds:
        raise InputError("seeds is empty: give at least one seed")
    if not 0.0 < test_size < 1.0 and test is None:
        raise InputError(f"test_size must be a fraction between 0 and 1, got {test_size}")
    full = data if isinstance(data, PoolData) else load_pool(
        data, text_column=text_column, label_column=label_column, labels=labels)
    held = None if test is None else test if isinstance(test, PoolData) else load_pool(
        test, text_column=text_column, label_column=label_column, labels=labels)
    label_set = list(labels) if labels else sorted(set(full.gold or []))
    if len(label_set) < 2:
        raise InputError(f"the labeled data has {len(label_set)} distinct label(s) in "
                         f"{label_column!r}; the bench needs at least two")
    task = Task(labels=label_set, description="benchmark")
    cache = Path(embedding_cache) if embedding_cache else None
    work = Path(work_dir) if work_dir else None
    if work:
        work.mkdir(parents=True, exist_ok=True)
    if embedding == "minilm":
        embedding = SharedMiniLM()
    elif isinstance(embedding, str):  # one object for every run and the comparison's features
        embedding = registry.create("embeddings", embedding)
    criteria = watched_criteria()
    notes: list[str] = []
    if full.skipped:
        notes.append(f"rows skipped while loading: {full.skipped}")
    tfidf = True  # the run's default features (RunConfig.tfidf)
    compare_names = [n for n in compare_strategies if n in SMALL_TEXT or n in MODAL]
    unknown = sorted(set(compare_strategies) - set(compare_names))
    if compare and unknown:
        raise InputError(f"unknown comparison strategies {unknown}; choose from "
                         f"{list(COMPARE_STRATEGIES)}")
    if compare:
        missing = {lib: why for lib, why in available_libraries().items() if why}
        for lib, why in missing.items():
            notes.append(f"{lib} is not installed ({why}): its strategies were skipped "
                         "(pip install 'labelgraph[bench]')")
        compare_names = [n for n in compare_names if n.split(":")[0] not in missing]
    settings = {"schedule": asdict(schedule), "seeds": list(seeds), "config": config,
                "strategies": list(strategies), "compare": compare,
                "compare_strategies": compare_names if compare else [],
                "test_size": None if held is not None else test_size, "max_pool": max_pool,
                "embedding": getattr(embedding, "name", lambda: str(embedding))(),
                "student": type(default_student()).__name__ + str(
                    {k: v for k, v in default_student().get_params().items()
                     if k in {"C", "max_iter"}}),
                "features": ("MiniLM embeddings" if isinstance(embedding, MiniLMEmbedding)
                             else type(embedding).__name__) + " + TF-IDF (labelgraph's "
                            "Featurizer)"}
    result = BenchResult(settings=settings, data={}, criteria=criteria, notes=notes)
    rejected: set[str] = set()
    for seed in seeds:
        pool, test_split = _splits(full, held, test_size, seed, max_pool)
        result.data = {"name": name or str(getattr(full, "source", "") or "data"),
                       "rows": len(full), "pool": len(pool), "test": len(test_split),
                       "labels": label_set}
        seed_ids: list[str] = []
        for strategy in strategies:
            if strategy in rejected:
                continue
            try:
                curve, ids = _run_labelgraph(task, pool, test_split, strategy, seed, schedule,
                                             criteria, embedding, cache, work, keep_runs,
                                             config)
            except (InputError, KeyError) as exc:
                if "unknown" in str(exc).lower() or isinstance(exc, KeyError):
                    rejected.add(strategy)
                    msg = f"strategy {strategy!r} is not accepted by this labelgraph " \
                          f"({exc}): skipped"
                    notes.append(msg)
                    if log is None:
                        warnings.warn(msg, stacklevel=2)
                    say(msg)
                    continue
                raise
            except LabelGraphError as exc:
                curve, ids = Curve("labelgraph", strategy, seed, error=str(exc)), []
                notes.append(f"labelgraph {strategy} seed {seed} failed: {exc}")
            seed_ids = seed_ids or ids
            result.curves.append(curve)
            done(result)
            say(f"labelgraph {strategy:<16} seed {seed}: AULC {fmt(curve.aulc)}, final "
                f"{fmt(curve.final_accuracy)}, {curve.seconds:.1f} s")
        if not compare or not compare_names:
            continue
        features = Features.build(task, pool, test_split, embedding, cache, tfidf)
        index = {item_id: row for row, item_id in enumerate(features.ids)}
        seed_rows = np.array([index[i] for i in seed_ids if i in index], dtype=np.int64)
        if seed_rows.size == 0:
            seed_rows = np.random.default_rng(seed).choice(len(features.y), schedule.seed_size,
                                                           replace=False)
            notes.append(f"seed {seed}: no labelgraph run gave seed items; the comparison "
                         "started from random items")
        with modal_shim() if any(n in MODAL for n in compare_names) else \
                contextlib.nullcontext(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for cname in compare_names:
                try:
                    curve = run_other(cname, features, seed_rows, seed, schedule,
                                       len(label_set))
                except Exception as exc:  # another library's failure is reported, not fatal
                    curve = Curve(cname.split(":")[0], cname.split(":", 1)[1], seed,
                                  error=f"{type(exc).__name__}: {exc}")
                    notes.append(f"{cname} seed {seed} failed: {curve.error}")
                result.curves.append(curve)
                done(result)
                say(f"{cname:<30} seed {seed}: AULC {fmt(curve.aulc)}, final "
                    f"{fmt(curve.final_accuracy)}, {curve.seconds:.1f} s")
    return result
