"""What a bench measured: the schedule, one run's curve, and the whole result, summarised
over seeds and written as JSON (every number), Markdown (the table) and a PNG (the curves)."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["AULC_DEFINITION", "SEED_ITEMS", "BenchResult", "Curve", "Schedule", "fmt"]

AULC_DEFINITION = ("mean held-out accuracy over the schedule's points (after the seed, then "
                   "after each round); the label axis is evenly spaced, so this is the area "
                   "under the learning curve divided by its width (1.0 = perfect)")
SEED_ITEMS = ("every library starts each seed from labelgraph's own cold-start seed items for "
              "that seed (the items its runs label in round 1)")


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


def fmt(value: float | None, digits: int = 4) -> str:
    """A figure as the report shows it ("-" when there is none)."""
    return "-" if value is None else f"{value:.{digits}f}"
