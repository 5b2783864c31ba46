"""``labelgraph bench``: pool-based simulation with the oracle annotator on any labeled file.

Each strategy runs through the public API (``LabelGraph(..., annotator="oracle")``) on the
same pool, test split, seeds and schedule, with every optional stopping criterion watched
but none allowed to stop the run, so the whole budget is spent and each criterion's stop
point can be read off afterwards. With ``compare=True`` small-text's and modAL's own query
strategies run in a plain loop on the same features, student, seed items and schedule.

The area under the learning curve (AULC) is the mean held-out accuracy over the schedule's
points (after the seed, then after every round): the label axis is evenly spaced, so this
is the area under the curve divided by its width, and a perfect learner scores 1.0.
"""

from __future__ import annotations

import contextlib
import json
import math
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from labelgraph.api import LabelGraph
from labelgraph.config import make_config
from labelgraph.data import PoolData, load_pool
from labelgraph.errors import InputError, LabelGraphError
from labelgraph.memory.embeddings import MiniLMEmbedding
from labelgraph.memory.pool import PoolStore
from labelgraph.policies import HISTORY_FIELDS
from labelgraph.registry import registry
from labelgraph.stopping import GUARDRAIL_CRITERIA
from labelgraph.student import Featurizer, default_student
from labelgraph.types import Budget, Task

__all__ = ["AULC_DEFINITION", "BenchResult", "Curve", "Schedule", "run_bench",
           "watched_criteria"]

#: A labelgraph round's figures kept in the bench's JSON (what the stopping criteria read).
ROUND_FIGURES = (*HISTORY_FIELDS, "accuracy")
DEFAULT_STRATEGIES = ("random", "margin", "diverse_margin", "badge", "bandit")
AULC_DEFINITION = ("mean held-out accuracy over the schedule's points (after the seed, then "
                   "after each round); the label axis is evenly spaced, so this is the area "
                   "under the learning curve divided by its width (1.0 = perfect)")
SEED_ITEMS = ("every library starts each seed from labelgraph's own cold-start seed items for "
              "that seed (the items its runs label in round 1)")
# The other libraries' strategies, by the name the bench shows: (library, class or function).
SMALL_TEXT = {"small-text:breaking_ties": "BreakingTies",
              "small-text:prediction_entropy": "PredictionEntropy",
              "small-text:greedy_coreset": "GreedyCoreset",
              "small-text:embedding_kmeans": "EmbeddingKMeans"}
MODAL = {"modAL:uncertainty_sampling": "uncertainty_sampling",
         "modAL:margin_sampling": "margin_sampling",
         "modAL:entropy_sampling": "entropy_sampling"}
COMPARE_STRATEGIES = (*SMALL_TEXT, *MODAL)


@dataclass(frozen=True)
class Schedule:
    """Seed labels, then ``rounds`` rounds of ``batch`` labels each."""

    seed_size: int = 25
    rounds: int = 20
    batch: int = 25

    @property
    def budget(self) -> int:
        return self.seed_size + self.rounds * self.batch

    @property
    def points(self) -> list[int]:
        """Label counts at which the student is evaluated."""
        return [self.seed_size + r * self.batch for r in range(self.rounds + 1)]


@dataclass
class Curve:
    """One run: a strategy of one library on one seed, evaluated after every round."""

    library: str
    strategy: str
    seed: int
    labels: list[int] = field(default_factory=list)
    accuracy: list[float | None] = field(default_factory=list)
    macro_f1: list[float | None] = field(default_factory=list)
    query_seconds: list[float] = field(default_factory=list)
    strategies_used: list[str | None] = field(default_factory=list)
    seconds: float = 0.0
    seed_seconds: float | None = None  #: choosing the cold-start seed (labelgraph only)
    #: criterion -> {"round", "labels", "accuracy", "reason"} of its first vote (labelgraph)
    stops: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: labelgraph: each round's learner figures (the stopping criteria's inputs), so stop
    #: points at other thresholds can be replayed (benchmarks/stopping_defaults.py)
    rounds: list[dict[str, Any]] = field(default_factory=list)
    watched: bool = False  #: its decisions recorded would_stop (stop points are known)
    error: str | None = None

    @property
    def aulc(self) -> float | None:
        values = [a for a in self.accuracy if a is not None]
        return float(np.mean(values)) if values else None

    @property
    def final_accuracy(self) -> float | None:
        return self.accuracy[-1] if self.accuracy else None

    @property
    def final_macro_f1(self) -> float | None:
        return self.macro_f1[-1] if self.macro_f1 else None

    @property
    def query_per_round(self) -> float | None:
        return float(np.mean(self.query_seconds)) if self.query_seconds else None

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "aulc": self.aulc, "final_accuracy": self.final_accuracy,
                "final_macro_f1": self.final_macro_f1,
                "query_seconds_per_round": self.query_per_round}


def watched_criteria() -> list[str]:
    """Every optional stopping criterion in the registry (the guardrails always apply)."""
    return [n for n in registry.names("stopping") if n not in GUARDRAIL_CRITERIA]


def _mean_sd(values: Sequence[float | None]) -> tuple[float | None, float | None]:
    vals = [v for v in values if v is not None and not math.isnan(v)]
    if not vals:
        return None, None
    return float(np.mean(vals)), float(np.std(vals))


@dataclass
class BenchResult:
    """Every run's raw numbers and the settings; JSON, Markdown and a PNG learning curve."""

    settings: dict[str, Any]
    data: dict[str, Any]
    criteria: list[str]
    curves: list[Curve] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def groups(self) -> dict[tuple[str, str], list[Curve]]:
        out: dict[tuple[str, str], list[Curve]] = {}
        for curve in self.curves:
            if curve.error is None:
                out.setdefault((curve.library, curve.strategy), []).append(curve)
        return out

    def summary(self) -> list[dict[str, Any]]:
        """One row per (library, strategy): means (and sd) over seeds."""
        budget = Schedule(**self.settings["schedule"]).budget
        rows = []
        for (library, strategy), curves in self.groups().items():
            aulc, aulc_sd = _mean_sd([c.aulc for c in curves])
            acc, acc_sd = _mean_sd([c.final_accuracy for c in curves])
            row: dict[str, Any] = {
                "library": library, "strategy": strategy, "seeds": len(curves),
                "aulc": aulc, "aulc_sd": aulc_sd, "final_accuracy": acc,
                "final_accuracy_sd": acc_sd,
                "final_macro_f1": _mean_sd([c.final_macro_f1 for c in curves])[0],
                "query_seconds_per_round": _mean_sd([c.query_per_round for c in curves])[0],
                "run_seconds": _mean_sd([c.seconds for c in curves])[0], "stops": {}}
            row["stops_recorded"] = library == "labelgraph" and all(c.watched for c in curves)
            if row["stops_recorded"]:
                for name in self.criteria:
                    fired = [c.stops[name] for c in curves if name in c.stops]
                    # A criterion that never voted stops at the full budget.
                    at = [c.stops[name]["labels"] if name in c.stops else budget
                          for c in curves]
                    lost = [(c.final_accuracy or 0.0) - (c.stops[name]["accuracy"] or 0.0)
                            if name in c.stops else 0.0 for c in curves]
                    row["stops"][name] = {
                        "fired": len(fired), "of": len(curves),
                        "rounds": [s["round"] for s in fired],
                        "labels": float(np.mean(at)), "labels_saved": budget - float(np.mean(at)),
                        "accuracy_lost": float(np.mean(lost))}
            rows.append(row)
        return rows

    def to_json(self) -> str:
        return json.dumps({"settings": self.settings, "data": self.data,
                           "aulc_definition": AULC_DEFINITION, "seed_items": SEED_ITEMS,
                           "watched_criteria": self.criteria, "notes": self.notes,
                           "summary": self.summary(),
                           "runs": [c.as_dict() for c in self.curves]}, indent=2)

    def to_markdown(self) -> str:
        s = self.settings
        sched = Schedule(**s["schedule"])
        fmt = _fmt
        lines = [f"### labelgraph bench: {self.data['name']}", "",
                 f"Pool {self.data['pool']}, held-out test {self.data['test']}, labels "
                 f"{', '.join(self.data['labels'])}; {sched.seed_size} seed labels, then "
                 f"{sched.rounds} rounds of {sched.batch} (budget {sched.budget}); seeds "
                 f"{', '.join(map(str, s['seeds']))}; oracle annotator; student "
                 f"{s['student']} on {s['features']}."
                 + (f" Run settings: {', '.join(f'{k}={v}' for k, v in s['config'].items())}."
                    if s.get("config") else ""), "",
                 "| library | strategy | AULC (mean ± sd) | final accuracy | final macro-F1 "
                 "| query s/round | run s |", "|---|---|---:|---:|---:|---:|---:|"]
        summary = self.summary()
        for r in summary:
            lines.append(f"| {r['library']} | {r['strategy']} | {fmt(r['aulc'])} ± "
                         f"{fmt(r['aulc_sd'])} | {fmt(r['final_accuracy'])} | "
                         f"{fmt(r['final_macro_f1'])} | {fmt(r['query_seconds_per_round'], 3)}"
                         f" | {fmt(r['run_seconds'], 1)} |")
        own = [r for r in summary if r["library"] == "labelgraph"]
        if own and not all(r["stops_recorded"] for r in own):
            lines += ["", "Stop points: not available, this labelgraph's decisions record no "
                      "would_stop for the watched criteria."]
        own = [r for r in own if r["stops_recorded"]]
        if own and self.criteria:
            lines += ["", "Where each stopping criterion would have stopped (labelgraph runs, "
                      "mean over seeds; a criterion that never voted counts as the full "
                      "budget): labels at the stop, labels saved, and accuracy lost against "
                      "the accuracy at the full budget.", "",
                      "| strategy | " + " | ".join(self.criteria) + " |",
                      "|---|" + "---:|" * len(self.criteria)]
            for r in own:
                cells = []
                for name in self.criteria:
                    st = r["stops"][name]
                    if not st["fired"]:
                        cells.append(f"never (0/{st['of']})")
                    else:
                        cells.append(f"{st['labels']:.0f} ({st['fired']}/{st['of']}): saved "
                                     f"{st['labels_saved']:.0f}, lost "
                                     f"{st['accuracy_lost']:+.3f}".replace("lost +", "lost "))
                lines.append(f"| {r['strategy']} | " + " | ".join(cells) + " |")
        lines += ["", f"AULC: {AULC_DEFINITION}. Query time: labelgraph's selector node "
                  "(scoring the pool and choosing the batch), or the other library's query "
                  "call, per query round (the cold-start seed excluded). Seed items: "
                  f"{SEED_ITEMS}."]
        lines += [f"Note: {n}" for n in self.notes]
        return "\n".join(lines) + "\n"

    def plot(self, path: str | Path) -> Path:
        """Mean test accuracy against labels per (library, strategy), ±1 sd shaded."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        path = Path(path)
        fig, ax = plt.subplots(figsize=(8, 5))
        colors = plt.get_cmap("tab20").colors  # distinct colours for up to 20 curves
        for i, ((library, strategy), curves) in enumerate(self.groups().items()):
            n = min(len(c.accuracy) for c in curves)
            if n == 0:
                continue
            acc = np.array([[np.nan if a is None else a for a in c.accuracy[:n]]
                            for c in curves], dtype=float)
            x = np.asarray(curves[0].labels[:n])
            mean, sd = np.nanmean(acc, axis=0), np.nanstd(acc, axis=0)
            own = library == "labelgraph"
            label = strategy if own else f"{library}: {strategy}"
            color = colors[(2 * i) % 20 + (2 * i) // 20 % 2]
            ax.plot(x, mean, "-" if own else "--", lw=2 if own else 1.2, label=label,
                    color=color)
            ax.fill_between(x, mean - sd, mean + sd, color=color, alpha=0.1)
        ax.set_xlabel("labels")
        ax.set_ylabel("held-out accuracy")
        ax.set_title(f"labelgraph bench: {self.data['name']} "
                     f"({len(self.settings['seeds'])} seeds, mean ± sd)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, ncol=2)
        fig.tight_layout()
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=120)
        plt.close(fig)
        return path

    def write(self, prefix: str | Path) -> list[Path]:
        """``prefix``.json, .md and .png, written atomically."""
        from labelgraph.assets import atomic_write, atomic_write_text

        prefix = Path(prefix)
        prefix.parent.mkdir(parents=True, exist_ok=True)
        out = [atomic_write_text(prefix.with_suffix(".json"), self.to_json()),
               atomic_write_text(prefix.with_suffix(".md"), self.to_markdown())]
        out.append(atomic_write(prefix.with_suffix(".png"), lambda tmp: self.plot(tmp)))
        return out


def _fmt(value: float | None, digits: int = 4) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


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


# -- the other libraries, in a plain loop on the same features -------------------------------
@dataclass
class _Features:
    """One seed's pool and test as the run sees them: the same rows, embeddings (through
    the cache) and featurizer, with labels coded as integers in the task's order."""

    x: Any
    y: np.ndarray
    emb: np.ndarray
    ids: list[str]
    x_test: Any
    y_test: np.ndarray

    @classmethod
    def build(cls, task: Task, pool: PoolData, test: PoolData, embedding: Any,
              cache: Path | None, tfidf: bool) -> _Features:
        code = {label: i for i, label in enumerate(task.labels)}
        with tempfile.TemporaryDirectory(prefix="bench-features-") as tmp:
            stores = []
            for name, data in (("pool", pool), ("test", test)):
                PoolStore.write(Path(tmp), name, data.texts, data.gold)
                stores.append(PoolStore.open(Path(tmp), name, embedding, cache_dir=cache,
                                             write=cache is not None))
        p, t = stores
        featurizer = Featurizer(tfidf=tfidf)
        return cls(x=featurizer.fit_transform(p.texts, p.embeddings),
                   y=np.array([code[g] for g in p.gold or []]), emb=p.embeddings, ids=p.ids,
                   x_test=featurizer.transform(t.texts, t.embeddings),
                   y_test=np.array([code[g] for g in t.gold or []]))


@contextlib.contextmanager
def _modal_shim() -> Iterator[None]:
    """modAL 0.4.2 passes ``force_all_finite`` to scikit-learn's check_X_y, which recent
    scikit-learn renamed ``ensure_all_finite``: translate it, only while the comparison runs."""
    import modAL.models.learners as learners
    from sklearn.utils import check_X_y

    def translated(*args: Any, **kwargs: Any) -> Any:
        if "force_all_finite" in kwargs:
            value = kwargs.pop("force_all_finite")
            try:
                return check_X_y(*args, force_all_finite=value, **kwargs)
            except TypeError:
                return check_X_y(*args, ensure_all_finite=value, **kwargs)
        return check_X_y(*args, **kwargs)

    original = learners.check_X_y
    learners.check_X_y = translated
    try:
        yield
    finally:
        learners.check_X_y = original


def _evaluate(predict: Callable[[Any], np.ndarray], f: _Features,
              k: int) -> tuple[float, float]:
    from sklearn.metrics import accuracy_score, f1_score

    pred = predict(f.x_test)
    return (float(accuracy_score(f.y_test, pred)),
            float(f1_score(f.y_test, pred, average="macro", labels=list(range(k)),
                           zero_division=0)))


def _run_other(name: str, f: _Features, seed_rows: np.ndarray, seed: int, schedule: Schedule,
               k: int) -> Curve:
    """A small-text or modAL strategy in a hand-written loop: the library's learner fits the
    student on the labeled rows, we evaluate it, its strategy picks the next batch."""
    library = name.split(":")[0]
    curve = Curve(library, name.split(":", 1)[1], seed)
    rng = np.random.default_rng(seed)
    labeled = np.zeros(len(f.y), dtype=bool)
    labeled[seed_rows] = True
    adapter = _SmallText(name, f, k) if library == "small-text" else _ModAL(name, f)
    start = time.perf_counter()
    for round_ in range(schedule.rounds + 1):
        classes = np.unique(f.y[labeled])
        fitted = classes.size >= 2
        if fitted:
            acc, f1 = _evaluate(adapter.fit(labeled), f, k)
        else:  # one class seen: the student can only say that class
            acc, f1 = _evaluate(lambda x, c=classes[0]: np.full(x.shape[0], c), f, k)
        curve.labels.append(int(labeled.sum()))
        curve.accuracy.append(acc)
        curve.macro_f1.append(f1)
        unlabeled = np.flatnonzero(~labeled)
        n = min(schedule.batch, unlabeled.size)
        if round_ == schedule.rounds or n == 0:
            break
        t0 = time.perf_counter()
        chosen = adapter.query(labeled, n) if fitted else rng.choice(unlabeled, n, replace=False)
        curve.query_seconds.append(time.perf_counter() - t0)
        labeled[np.asarray(chosen, dtype=np.int64)] = True
    curve.seconds = time.perf_counter() - start
    return curve


class _SmallText:
    """small-text's SklearnClassifier around a fresh student each round, and its strategy
    (embedding-based ones get the same MiniLM embeddings labelgraph uses)."""

    EMBEDDED = ("small-text:greedy_coreset", "small-text:embedding_kmeans")

    def __init__(self, name: str, f: _Features, k: int) -> None:
        import small_text

        self.st, self.f, self.k = small_text, f, k
        self.strategy = getattr(small_text, SMALL_TEXT[name])()
        self.dataset = small_text.SklearnDataset(f.x, f.y)
        self.embedded = name in self.EMBEDDED
        self.clf: Any = None

    def fit(self, labeled: np.ndarray) -> Callable[[Any], np.ndarray]:
        from sklearn.base import clone

        self.clf = self.st.SklearnClassifier(clone(default_student()), self.k)
        self.clf.fit(self.dataset[np.flatnonzero(labeled)])
        return self.clf.model.predict

    def query(self, labeled: np.ndarray, n: int) -> np.ndarray:
        lab, unl = np.flatnonzero(labeled), np.flatnonzero(~labeled)
        kwargs = {"embeddings": self.f.emb[np.concatenate([unl, lab])]} if self.embedded else {}
        return self.strategy.query(self.clf, self.dataset, unl, lab, self.f.y[lab], n=n,
                                   **kwargs)


class _ModAL:
    """modAL's ActiveLearner: created on the seed, taught each new batch (it refits the
    student on everything it was taught), queried on the unlabeled rows."""

    def __init__(self, name: str, f: _Features) -> None:
        import modAL.uncertainty

        self.function = getattr(modAL.uncertainty, MODAL[name])
        self.f = f
        self.learner: Any = None
        self.taught = np.zeros(len(f.y), dtype=bool)

    def fit(self, labeled: np.ndarray) -> Callable[[Any], np.ndarray]:
        from modAL.models import ActiveLearner
        from sklearn.base import clone

        new = np.flatnonzero(labeled & ~self.taught)
        if self.learner is None:
            self.learner = ActiveLearner(estimator=clone(default_student()),
                                         query_strategy=self.function,
                                         X_training=self.f.x[new], y_training=self.f.y[new])
        elif new.size:
            self.learner.teach(self.f.x[new], self.f.y[new])
        self.taught |= labeled
        return self.learner.predict

    def query(self, labeled: np.ndarray, n: int) -> np.ndarray:
        unl = np.flatnonzero(~labeled)
        idx, _ = self.learner.query(self.f.x[unl], n_instances=n)
        return unl[np.asarray(idx, dtype=np.int64)]


def available_libraries() -> dict[str, str | None]:
    """Which comparison libraries import here: name -> None, or why not."""
    out: dict[str, str | None] = {}
    for library, module in (("small-text", "small_text"), ("modAL", "modAL")):
        try:
            __import__(module)
            out[library] = None
        except Exception as exc:  # ImportError, or a broken dependency of theirs
            out[library] = f"{type(exc).__name__}: {exc}"
    return out


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
            say(f"labelgraph {strategy:<16} seed {seed}: AULC {_fmt(curve.aulc)}, final "
                f"{_fmt(curve.final_accuracy)}, {curve.seconds:.1f} s")
        if not compare or not compare_names:
            continue
        features = _Features.build(task, pool, test_split, embedding, cache, tfidf)
        index = {item_id: row for row, item_id in enumerate(features.ids)}
        seed_rows = np.array([index[i] for i in seed_ids if i in index], dtype=np.int64)
        if seed_rows.size == 0:
            seed_rows = np.random.default_rng(seed).choice(len(features.y), schedule.seed_size,
                                                           replace=False)
            notes.append(f"seed {seed}: no labelgraph run gave seed items; the comparison "
                         "started from random items")
        with _modal_shim() if any(n in MODAL for n in compare_names) else \
                contextlib.nullcontext(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for cname in compare_names:
                try:
                    curve = _run_other(cname, features, seed_rows, seed, schedule,
                                       len(label_set))
                except Exception as exc:  # another library's failure is reported, not fatal
                    curve = Curve(cname.split(":")[0], cname.split(":", 1)[1], seed,
                                  error=f"{type(exc).__name__}: {exc}")
                    notes.append(f"{cname} seed {seed} failed: {curve.error}")
                result.curves.append(curve)
                done(result)
                say(f"{cname:<30} seed {seed}: AULC {_fmt(curve.aulc)}, final "
                    f"{_fmt(curve.final_accuracy)}, {curve.seconds:.1f} s")
    return result
