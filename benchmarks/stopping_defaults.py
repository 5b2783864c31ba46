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
Writes ``benchmarks/results/stopping_defaults/stopping_defaults.{json,md}`` (``--out`` another
prefix).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np
from provenance import markdown_note, stamp

from labelgraph.config import RunConfig
from labelgraph.policies import RoundSignals
from labelgraph.registry import registry
from labelgraph.types import Budget

OUT = Path(__file__).resolve().parent / "results" / "stopping_defaults" / "stopping_defaults"
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


def vote_rounds(rows: list[dict[str, Any]], name: str, config: RunConfig,
                budget: int) -> np.ndarray:
    """Per round index n: whether the criterion, asked before round n + 1, votes to stop
    (keeping round n's student); the last round never needs a vote."""
    criterion = registry.create("stopping", name)
    out = np.zeros(len(rows), dtype=bool)
    for n in range(1, len(rows)):
        out[n - 1] = bool(criterion.stop(_signals(rows[:n], budget), config))
    return out


def first_stop(votes: np.ndarray) -> int:
    """The round index a run keeps: the first that votes stop, else the last."""
    hits = np.flatnonzero(votes)
    return int(hits[0]) if hits.size else len(votes) - 1


def stop_point(rows: list[dict[str, Any]], name: str, config: RunConfig,
               budget: int) -> int:
    """Index of the round whose student a criterion would keep (the last one if never)."""
    return first_stop(vote_rounds(rows, name, config, budget))


Run = tuple[str, list[dict[str, Any]], int, int]


def runs_of(path: Path, strategy: str | None = None) -> list[Run]:
    """(data set, per-round rows, label budget, seed) of every labelgraph run in a bench
    JSON (of one strategy when given)."""
    data = json.loads(path.read_text())
    schedule = data["settings"]["schedule"]
    budget = int(schedule["seed_size"] + schedule["rounds"] * schedule["batch"])
    out = []
    for curve in data["runs"]:
        rows = curve.get("rounds") or []
        if curve.get("library") == "labelgraph" and rows and \
                all(r.get("accuracy") is not None for r in rows) and \
                strategy in (None, curve.get("strategy")):
            out.append((path.stem, rows, budget, int(curve.get("seed", 0))))
    return out


def summarise(runs: list[Run], stops: list[int], sets: list[str]) -> dict[str, Any]:
    """Labels saved and accuracy lost (against the whole budget) for one stop point per run:
    means over every run, the worst data set's mean loss, and per data set."""
    saved: dict[str, list[float]] = {s: [] for s in sets}
    lost: dict[str, list[float]] = {s: [] for s in sets}
    for (data, rows, budget, _), at in zip(runs, stops, strict=True):
        saved[data].append(1.0 - rows[at]["labels"] / budget)
        lost[data].append(rows[-1]["accuracy"] - rows[at]["accuracy"])
    return {"saved": float(np.mean([v for s in sets for v in saved[s]])),
            "lost": float(np.mean([v for s in sets for v in lost[s]])),
            "worst_set_lost": max(float(np.mean(lost[s])) for s in sets),
            "by_set": {s: {"saved": float(np.mean(saved[s])), "lost": float(np.mean(lost[s]))}
                       for s in sets}}


def pairs(runs: list[Run], sets: list[str], tune: set[int], max_loss: float,
          cheap: bool = False) -> dict[str, Any]:
    """Two criteria that must agree in the same round, each at any setting of the grid:
    chosen on the ``tune`` seeds (the most labels saved with every data set's mean loss at
    most ``max_loss``) and reported on the other seeds, which the choice never read. With
    ``cheap``, only criteria that read what the learner measures every round anyway (no
    cross-validation a round)."""
    settings = [(name, setting) for name, grid in GRID.items() for setting in grid
                if not (cheap and getattr(registry.get("stopping", name), "needs", ()))]
    votes = {(name, i): [vote_rounds(rows, name, RunConfig(**setting), budget)
                         for _, rows, budget, _ in runs]
             for i, (name, setting) in enumerate(settings)}
    tuned = [n for n, run in enumerate(runs) if run[3] in tune]
    held = [n for n, run in enumerate(runs) if run[3] not in tune]
    keys = list(votes)
    rows = []
    for a in range(len(keys)):
        for b in range(a + 1, len(keys)):
            if keys[a][0] == keys[b][0]:
                continue  # one criterion at two settings is not two opinions
            both = [votes[keys[a]][n] & votes[keys[b]][n] for n in range(len(runs))]
            stops = [first_stop(v) for v in both]
            rows.append({"pair": [_label(settings[keys[a][1]]), _label(settings[keys[b][1]])],
                         "settings": [settings[keys[a][1]], settings[keys[b][1]]],
                         "tune": summarise([runs[n] for n in tuned],
                                           [stops[n] for n in tuned], sets),
                         "held_out": summarise([runs[n] for n in held],
                                               [stops[n] for n in held], sets) if held else None,
                         "all": summarise(runs, stops, sets)})
    ok = [r for r in rows if r["tune"]["worst_set_lost"] <= max_loss]
    best = max(ok, key=lambda r: r["tune"]["saved"]) if ok else None
    return {"tune_seeds": sorted(tune), "best": best,
            "top": sorted(ok, key=lambda r: -r["tune"]["saved"])[:10]}


def _label(setting: tuple[str, dict[str, float]]) -> str:
    return f"{setting[0]} ({', '.join(f'{k}={v}' for k, v in setting[1].items())})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("benches", nargs="+", type=Path, help="labelgraph bench JSON files")
    parser.add_argument("--max-loss", type=float, default=0.005,
                        help="accuracy a default may lose on average on any data set")
    parser.add_argument("--strategy", help="only the runs of this strategy")
    parser.add_argument("--pairs", action="store_true",
                        help="also two criteria that must agree in the same round")
    parser.add_argument("--tune-seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4],
                        help="--pairs: the seeds the pair is chosen on (the rest are held out)")
    parser.add_argument("--cheap", action="store_true",
                        help="--pairs: only criteria that need no cross-validation a round")
    parser.add_argument("--out", type=Path, default=OUT, help="output path prefix")
    args = parser.parse_args()
    runs = [run for path in args.benches for run in runs_of(path, args.strategy)]
    if not runs:
        parser.error("no labelgraph runs with per-round figures in these files")
    sets = sorted({name for name, _, _, _ in runs})
    table: list[dict[str, Any]] = []
    for name, grid in GRID.items():
        for setting in grid:
            config = RunConfig(**setting)
            stops = [stop_point(rows, name, config, budget) for _, rows, budget, _ in runs]
            table.append({"criterion": name,
                          "setting": ", ".join(f"{k}={v}" for k, v in setting.items()),
                          **summarise(runs, stops, sets)})
    best = {}
    for name in GRID:
        ok = [r for r in table if r["criterion"] == name and
              r["worst_set_lost"] <= args.max_loss]
        best[name] = max(ok, key=lambda r: r["saved"])["setting"] if ok else None
    counts = ", ".join(f"{s} {sum(d == s for d, _, _, _ in runs)}" for s in sets)
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
    agreed = pairs(runs, sets, set(args.tune_seeds), args.max_loss, args.cheap) \
        if args.pairs else None
    if agreed and agreed["best"]:
        lines += ["", f"Two criteria that must agree in the same round, chosen on seeds "
                  f"{agreed['tune_seeds']} (worst set's loss at most {args.max_loss}), "
                  "reported on the other seeds too:", "",
                  "| pair | seeds | labels saved | accuracy lost | worst set's loss | "
                  + " | ".join(f"{s} saved / lost" for s in sets) + " |",
                  "|---|---|---|---|---|" + "---|" * len(sets)]
        for r in agreed["top"][:5]:
            for part in ("tune", "held_out"):
                if r[part] is None:
                    continue
                f = r[part]
                lines.append(f"| {' + '.join(r['pair'])} | {part.replace('_', ' ')} | "
                             f"{f['saved']:.1%} | {f['lost']:+.4f} | "
                             f"{f['worst_set_lost']:+.4f} | " + " | ".join(
                                 f"{f['by_set'][s]['saved']:.0%} / {f['by_set'][s]['lost']:+.3f}"
                                 for s in sets) + " |")
    text = "\n".join(lines)
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".md").write_text(text + "\n\n" + markdown_note() + "\n")
    args.out.with_suffix(".json").write_text(json.dumps(
        {**stamp(), "max_loss": args.max_loss, "suggested": best, "table": table, "pairs": agreed},
        indent=1) + "\n")
    print(f"\nsuggested (worst data set loses at most {args.max_loss}): {best}")


if __name__ == "__main__":
    main()
