"""Where each stopping criterion would stop, at several thresholds, on `labelgraph bench` runs.

    labelgraph bench DATA.csv --out PREFIX ...        # one or more data sets, several seeds
    python benchmarks/stopping_defaults.py PREFIX1.json PREFIX2.json ... [--max-loss 0.005]

Every labelgraph run of a bench spends its whole budget with every optional criterion
watched, and records each round's learner figures (kappa, changed predictions, stop-set
uncertainty, cross-validated accuracy). This script replays those rounds through the real
criteria (``labelgraph.stopping``) at a grid of thresholds and reports, per criterion and
threshold: the share of the budget's labels saved and the held-out accuracy lost against
spending the whole budget, averaged over every run of every data set (and the worst data
set's loss). The default it suggests for each criterion is the threshold that saves the most
labels while losing at most ``--max-loss`` accuracy on average on every data set.
Writes ``benchmarks/results/stopping_defaults.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np

from labelgraph.config import RunConfig
from labelgraph.policies import RoundSignals
from labelgraph.registry import registry
from labelgraph.types import Budget

OUT = Path(__file__).resolve().parent / "results" / "stopping_defaults"
#: criterion -> the settings tried (RunConfig fields)
GRID: dict[str, list[dict[str, float]]] = {
    "stabilizing_predictions": [{"kappa_threshold": v}
                                for v in (0.8, 0.85, 0.9, 0.925, 0.95, 0.97, 0.99)],
    "classification_change": [{"change_threshold": v}
                              for v in (0.005, 0.01, 0.02, 0.03, 0.05, 0.08)],
    "uncertainty": [{"uncertainty_threshold": v} for v in (0.05, 0.1, 0.15, 0.2, 0.25)],
    "accuracy_plateau": [{"plateau_delta": d, "plateau_window": w}
                         for w in (3, 6, 9) for d in (0.0, 0.002, 0.005, 0.01)],
}


def _signals(rows: list[dict[str, Any]], budget: int) -> RoundSignals:
    """What the supervisor knows before the round after ``rows``."""
    labels = int(rows[-1]["labels"])
    return RoundSignals(round=len(rows) + 1, labeled=labels, label_counts={}, budget=Budget(
        labels=budget), spent={"labels": labels, "tokens": 0, "usd": 0.0}, unlabeled=1,
        has_model=True, accuracy=rows[-1].get("accuracy"), curve_slope=None,
        rejection_rate=None, synth_acceptance=None, rounds_since_synth=0, idle_rounds=0,
        can_synthesize=False, kappas=[r.get("kappa") for r in rows], history=rows)


def stop_point(rows: list[dict[str, Any]], name: str, config: RunConfig,
               budget: int) -> int:
    """Index of the round whose student a criterion would keep (the last one if never)."""
    criterion = registry.create("stopping", name)
    for n in range(1, len(rows)):
        if criterion.stop(_signals(rows[:n], budget), config):
            return n - 1
    return len(rows) - 1


def runs_of(path: Path) -> list[tuple[str, list[dict[str, Any]], int]]:
    """(data set, per-round rows, label budget) of every labelgraph run in a bench JSON."""
    data = json.loads(path.read_text())
    schedule = data["settings"]["schedule"]
    budget = int(schedule["seed_size"] + schedule["rounds"] * schedule["batch"])
    out = []
    for curve in data["runs"]:
        rows = curve.get("rounds") or []
        if curve.get("library") == "labelgraph" and rows and \
                all(r.get("accuracy") is not None for r in rows):
            out.append((path.stem, rows, budget))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("benches", nargs="+", type=Path, help="labelgraph bench JSON files")
    parser.add_argument("--max-loss", type=float, default=0.005,
                        help="accuracy a default may lose on average on any data set")
    args = parser.parse_args()
    runs = [run for path in args.benches for run in runs_of(path)]
    if not runs:
        parser.error("no labelgraph runs with per-round figures in these files")
    sets = sorted({name for name, _, _ in runs})
    table: list[dict[str, Any]] = []
    for name, grid in GRID.items():
        for setting in grid:
            config = RunConfig(**setting)
            saved: dict[str, list[float]] = {s: [] for s in sets}
            lost: dict[str, list[float]] = {s: [] for s in sets}
            for data, rows, budget in runs:
                at = stop_point(rows, name, config, budget)
                saved[data].append(1.0 - rows[at]["labels"] / budget)
                lost[data].append(rows[-1]["accuracy"] - rows[at]["accuracy"])
            table.append({
                "criterion": name,
                "setting": ", ".join(f"{k}={v}" for k, v in setting.items()),
                "saved": float(np.mean([v for s in sets for v in saved[s]])),
                "lost": float(np.mean([v for s in sets for v in lost[s]])),
                "worst_set_lost": max(float(np.mean(lost[s])) for s in sets),
                "by_set": {s: {"saved": float(np.mean(saved[s])),
                               "lost": float(np.mean(lost[s]))} for s in sets}})
    best = {}
    for name in GRID:
        ok = [r for r in table if r["criterion"] == name and
              r["worst_set_lost"] <= args.max_loss]
        best[name] = max(ok, key=lambda r: r["saved"])["setting"] if ok else None
    counts = ", ".join(f"{s} {sum(d == s for d, _, _ in runs)}" for s in sets)
    lines = [f"Runs: {len(runs)} ({counts}); labels saved and accuracy lost against the "
             f"whole budget.", "",
             "| criterion | setting | labels saved | accuracy lost | worst set's loss | "
             + " | ".join(f"{s} saved / lost" for s in sets) + " |",
             "|---|---|---|---|---|" + "---|" * len(sets)]
    for r in table:
        mark = " **(default)**" if best.get(r["criterion"]) == r["setting"] else ""
        lines.append(f"| {r['criterion']} | {r['setting']}{mark} | {r['saved']:.1%} | "
                     f"{r['lost']:+.4f} | {r['worst_set_lost']:+.4f} | " + " | ".join(
                         f"{r['by_set'][s]['saved']:.0%} / {r['by_set'][s]['lost']:+.3f}"
                         for s in sets) + " |")
    text = "\n".join(lines)
    print(text)
    OUT.parent.mkdir(exist_ok=True)
    OUT.with_suffix(".md").write_text(text + "\n")
    OUT.with_suffix(".json").write_text(json.dumps({"max_loss": args.max_loss,
                                                    "suggested": best, "table": table},
                                                   indent=1) + "\n")
    print(f"\nsuggested (worst data set loses at most {args.max_loss}): {best}")


if __name__ == "__main__":
    main()
