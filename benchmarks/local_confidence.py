"""How accurate and how well calibrated are the embedded local model's labels?

Measures Gemma 3 270M (llama-cpp, ``LocalChatModel.score_labels``) as a labeler of Rotten
Tomatoes review snippets (positive/negative) with the shipped few-shot prompt
(``few_shot_prompt``, "Review:/Sentiment:" wording as in ``labelgraph demo``):

* label accuracy, expected calibration error (10 bins), mean confidence and the AUROC of the
  confidence for separating right from wrong labels (confidence = probability of the
  predicted label);
* with 0, 4 and 8 demonstrations, chosen as the nearest neighbours (MiniLM, balanced per
  label, most similar last) or at random (balanced per label, shuffled);
* each with and without contextual calibration, exactly as the product does it:
  ``prior = score_labels(few_shot_prompt(task, shots, "", notes))`` then
  ``contextual_calibration(probs, prior)`` (for 0 shots the prior is the empty-text prompt
  without demonstrations);
* for 8 nearest shots, voting over 3 demonstration sets (the set and its rotations by one
  and two places, as ``votes=3`` in the annotator: mean probabilities, ``vote_agreement``
  of the per-set labels) - dropped if the run would take longer than ``--budget`` minutes.

Demonstration candidates: 300 labeled snippets; test: ``--n`` other snippets (default 300).
Every item's raw label probabilities and empty-text priors are scored once per configuration
and checkpointed under /tmp, so an interrupted run resumes. Results go to
``benchmarks/results/local_confidence/local_confidence.json``.

Needs the `local` extra. Run: ``python benchmarks/local_confidence.py --n 300``
(14 scoring calls per item, 4200 in all: measured 24.1 minutes, 0.34 s per call, on 2 cores
shared with other jobs; without voting 10 calls per item).
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from provenance import stamp
from scipy.stats import rankdata

from labelgraph.data import load_rotten_tomatoes
from labelgraph.local import LocalChatModel, load_local
from labelgraph.memory.embeddings import make_embedding
from labelgraph.prompts import few_shot_prompt
from labelgraph.trust import contextual_calibration, expected_calibration_error, vote_agreement
from labelgraph.types import Task

LABELS = ["positive", "negative"]
TASK = Task(labels=LABELS, description="movie review sentiment", text_name="Review",
            label_name="Sentiment")
#: name -> (number of demonstrations, nearest neighbours instead of random)
CONFIGS: dict[str, tuple[int, bool]] = {
    "0 shots": (0, True),
    "4 nearest": (4, True),
    "4 random": (4, False),
    "8 nearest": (8, True),
    "8 random": (8, False),
}
VOTE_CONFIG = "8 nearest"
VOTES = 3
N_DEMOS = 300
TIMING_ITEMS = 20
VERSION = 1  # bump when what a checkpointed record means changes
RESULTS = Path(__file__).resolve().parent / "results" / "local_confidence" / "local_confidence.json"

Probs = dict[str, float]


def shots_for(i: int, sims: np.ndarray, demo_labels: np.ndarray, texts: list[str], k: int,
              nearest: bool) -> list[tuple[str, str]]:
    """``k`` demonstrations balanced over the labels: the nearest (most similar last, as the
    annotator orders them) or random ones (shuffled, seeded by item and ``k``)."""
    picked: list[tuple[str, str, float]] = []
    rng = np.random.default_rng([i, k])
    for label in LABELS:
        rows = np.flatnonzero(demo_labels == label)
        rows = (rows[np.argsort(-sims[rows])][: k // len(LABELS)] if nearest
                else rng.choice(rows, k // len(LABELS), replace=False))
        picked += [(texts[r], label, float(sims[r])) for r in rows]
    if nearest:
        picked.sort(key=lambda s: s[2])
    else:
        rng.shuffle(picked)  # type: ignore[arg-type]
    return [(t, label) for t, label, _ in picked]


def rotations(shots: list[tuple[str, str]], n: int) -> list[list[tuple[str, str]]]:
    """The annotator's demonstration sets for ``votes=n``: the set, then rotated."""
    return [shots[v:] + shots[:v] for v in range(min(n, max(len(shots), 1)))]


def auroc(score: Sequence[float], positive: Sequence[bool]) -> float | None:
    """Area under the ROC curve (Mann-Whitney, ties counted half); None for one class."""
    s = np.asarray(score, dtype=float)
    y = np.asarray(positive, dtype=bool)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        return None
    ranks = rankdata(s)
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def calibrated(pair: dict[str, Probs], cc: bool) -> Probs:
    """The raw label probabilities, or divided by the empty-text prior."""
    return contextual_calibration(pair["raw"], pair["prior"]) if cc else pair["raw"]


def top(probs: Probs) -> str:
    return max(probs, key=lambda k: probs[k])


class Scorer:
    """``score_labels`` with a clock: scores a prompt and then its empty-text prior."""

    def __init__(self, model: LocalChatModel) -> None:
        self.model = model
        self.calls = 0
        self.seconds = 0.0

    def pair(self, shots: list[tuple[str, str]], text: str) -> dict[str, Probs]:
        start = time.perf_counter()
        raw = self.model.score_labels(few_shot_prompt(TASK, shots, text), LABELS)
        prior = self.model.score_labels(few_shot_prompt(TASK, shots, ""), LABELS)
        self.seconds += time.perf_counter() - start
        self.calls += 2
        return {"raw": raw, "prior": prior}


def score_item(scorer: Scorer, i: int, text: str, sims: np.ndarray, demo_labels: np.ndarray,
               demo_texts: list[str], vote: bool) -> dict[str, Any]:
    """Raw probabilities and priors of one test item under every configuration."""
    out: dict[str, Any] = {"configs": {}}
    for name, (k, nearest) in CONFIGS.items():
        shots = shots_for(i, sims, demo_labels, demo_texts, k, nearest)
        out["configs"][name] = scorer.pair(shots, text)
        if vote and name == VOTE_CONFIG:
            out["votes"] = [out["configs"][name]] + [
                scorer.pair(variant, text) for variant in rotations(shots, VOTES)[1:]]
    return out


def bootstrap(values: list[np.ndarray], stat: Any, reps: int = 2000,
              seed: int = 0) -> tuple[float | None, float | None]:
    """95% percentile interval of ``stat(*values)`` over items resampled together."""
    rng = np.random.default_rng(seed)
    n = len(values[0])
    got = []
    for _ in range(reps):
        idx = rng.integers(0, n, n)
        value = stat(*(v[idx] for v in values))
        if value is not None:
            got.append(value)
    if not got:
        return None, None
    lo, hi = np.percentile(got, [2.5, 97.5])
    return float(lo), float(hi)


def metrics(pred: list[str], conf: list[float], gold: list[str],
            agreement: list[float] | None = None) -> dict[str, Any]:
    correct = np.asarray([p == g for p, g in zip(pred, gold, strict=True)])
    c = np.asarray(conf, dtype=float)
    out: dict[str, Any] = {
        "accuracy": float(correct.mean()),
        "accuracy_ci": bootstrap([correct], lambda h: float(h.mean())),
        "ece": expected_calibration_error(c, correct),
        "mean_confidence": float(c.mean()),
        "auroc": auroc(c, correct),
        "auroc_ci": bootstrap([c, correct], auroc),
        "predicted_positive": float(np.mean([p == "positive" for p in pred])),
        "correct": correct.astype(int).tolist(),
        "confidence": [round(float(x), 5) for x in c],
    }
    if agreement is not None:
        a = np.asarray(agreement, dtype=float)
        unanimous = a >= 1.0 - 1e-9
        out.update(
            auroc_agreement=auroc(a, correct),
            auroc_agreement_ci=bootstrap([a, correct], auroc),
            unanimous_share=float(unanimous.mean()),
            accuracy_unanimous=float(correct[unanimous].mean()) if unanimous.any() else None,
            accuracy_split=float(correct[~unanimous].mean()) if (~unanimous).any() else None,
            agreement=[round(float(x), 4) for x in a],
        )
    return out


def analyse(records: list[dict[str, Any]], gold: list[str]) -> dict[str, Any]:
    """Metrics per configuration and contextual calibration off/on, then voting."""
    rows: dict[str, Any] = {}
    for name in CONFIGS:
        for cc in (False, True):
            probs = [calibrated(r["configs"][name], cc) for r in records]
            pred = [top(p) for p in probs]
            rows[f"{name}, CC {'on' if cc else 'off'}"] = metrics(
                pred, [p[label] for p, label in zip(probs, pred, strict=True)], gold)
    if all("votes" in r for r in records):
        for cc in (False, True):
            pred, conf, agree = [], [], []
            for r in records:
                runs = [calibrated(pair, cc) for pair in r["votes"]]
                mean = {k: float(np.mean([run[k] for run in runs])) for k in LABELS}
                label = top(mean)
                pred.append(label)
                conf.append(mean[label])
                agreement = vote_agreement([top(run) for run in runs])
                agree.append(1.0 if agreement is None else agreement)
            rows[f"{VOTE_CONFIG} vote x{VOTES}, CC {'on' if cc else 'off'}"] = metrics(
                pred, conf, gold, agree)
    # Paired differences CC on - off (same items, same prompts).
    paired: dict[str, Any] = {}
    for base in {key.rsplit(", CC", 1)[0] for key in rows}:
        off, on = rows[f"{base}, CC off"], rows[f"{base}, CC on"]
        h_off, h_on = np.asarray(off["correct"]), np.asarray(on["correct"])
        c_off, c_on = np.asarray(off["confidence"]), np.asarray(on["confidence"])

        def d_auroc(c1: np.ndarray, h1: np.ndarray, c0: np.ndarray, h0: np.ndarray) -> Any:
            a1, a0 = auroc(c1, h1), auroc(c0, h0)
            return None if a1 is None or a0 is None else a1 - a0

        paired[base] = {
            "accuracy_diff": float(h_on.mean() - h_off.mean()),
            "accuracy_diff_ci": bootstrap([h_on, h_off],
                                          lambda a, b: float(a.mean() - b.mean())),
            "only_on_right": int(((h_on == 1) & (h_off == 0)).sum()),
            "only_off_right": int(((h_on == 0) & (h_off == 1)).sum()),
            "auroc_diff": d_auroc(c_on, h_on, c_off, h_off),
            "auroc_diff_ci": bootstrap([c_on, h_on, c_off, h_off], d_auroc),
        }
    return {"rows": rows, "cc_on_minus_off": dict(sorted(paired.items()))}


def fmt(x: float | None, digits: int = 3) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


def with_ci(x: float | None, ci: Sequence[float | None]) -> str:
    return fmt(x) if ci[0] is None or ci[1] is None else \
        f"{fmt(x)} ({fmt(ci[0], 2)}-{fmt(ci[1], 2)})"


def table(result: dict[str, Any]) -> str:
    lines = ["| configuration | accuracy (95% CI) | ECE | mean confidence | AUROC (95% CI) "
             "| AUROC agreement | predicted positive |",
             "|---|---|---|---|---|---|---|"]
    for name, m in result["rows"].items():
        acc = with_ci(m["accuracy"], m["accuracy_ci"])
        au = with_ci(m["auroc"], m["auroc_ci"])
        agree = (with_ci(m["auroc_agreement"], m["auroc_agreement_ci"])
                 if "auroc_agreement" in m else "-")
        lines.append(f"| {name} | {acc} | {fmt(m['ece'])} | {fmt(m['mean_confidence'])} "
                     f"| {au} | {agree} | {fmt(m['predicted_positive'], 2)} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=300, help="test items")
    parser.add_argument("--budget", type=float, default=30.0,
                        help="minutes: drop voting if the run is projected to take longer")
    parser.add_argument("--no-vote", action="store_true", help="skip the voting variant")
    parser.add_argument("--fresh", action="store_true", help="ignore the /tmp checkpoint")
    args = parser.parse_args()
    started = time.perf_counter()

    data = load_rotten_tomatoes().sample(N_DEMOS + args.n, random_state=1)
    demo, test = data.iloc[:N_DEMOS], data.iloc[N_DEMOS:]
    emb = make_embedding("minilm")
    demo_emb, test_emb = emb.embed(demo.text.tolist()), emb.embed(test.text.tolist())
    demo_labels, demo_texts = demo.label.to_numpy(), demo.text.tolist()
    texts, gold = test.text.tolist(), test.label.tolist()
    print(f"{len(demo)} demonstration candidates, {len(test)} test items "
          f"({np.mean([g == 'positive' for g in gold]):.2f} positive); setup "
          f"{time.perf_counter() - started:.0f}s", flush=True)

    checkpoint = Path(f"/tmp/labelgraph_local_confidence_v{VERSION}_n{args.n}.jsonl")
    records: list[dict[str, Any]] = []
    if checkpoint.is_file() and not args.fresh:
        records = [json.loads(line) for line in checkpoint.read_text().splitlines() if line]
        print(f"resuming from {checkpoint}: {len(records)} items done", flush=True)
    elif checkpoint.exists():
        checkpoint.unlink()
    vote = not args.no_vote and all("votes" in r for r in records)

    model = load_local("local")
    model.load()
    scorer = Scorer(model)
    loop_start, resumed = time.perf_counter(), len(records)
    with checkpoint.open("a") as out:
        for i in range(len(records), len(texts)):
            record = score_item(scorer, i, texts[i], demo_emb @ test_emb[i], demo_labels,
                                demo_texts, vote)
            records.append(record)
            out.write(json.dumps(record) + "\n")
            out.flush()
            if i + 1 - resumed == TIMING_ITEMS and vote:
                per_item = (time.perf_counter() - loop_start) / TIMING_ITEMS
                projected = time.perf_counter() - started + per_item * (len(texts) - i - 1)
                print(f"timing: {scorer.seconds / scorer.calls:.3f}s per scoring call, "
                      f"{per_item:.1f}s per item; projected total {projected / 60:.1f} min",
                      flush=True)
                if projected > args.budget * 60:
                    vote = False
                    print(f"over the {args.budget:.0f}-minute budget: voting dropped",
                          flush=True)
            if (i + 1) % 50 == 0:
                acc = np.mean([top(r["configs"]["8 nearest"]["raw"]) == g
                               for r, g in zip(records, gold, strict=False)])
                print(f"{i + 1}/{len(texts)} items, {time.perf_counter() - started:.0f}s, "
                      f"{scorer.seconds / max(scorer.calls, 1):.3f}s per call; "
                      f"8 nearest raw accuracy so far {acc:.3f}", flush=True)

    result = analyse(records, gold)
    runtime = time.perf_counter() - started
    result["meta"] = {
        "model": "gemma3-270m (q4_k_m) via llama-cpp, score_labels, reuse_prefix=True",
        "task": {"description": TASK.description, "text_name": TASK.text_name,
                 "label_name": TASK.label_name, "labels": LABELS},
        "data": "Rotten Tomatoes snippets, load_rotten_tomatoes().sample(random_state=1)",
        "demonstration_candidates": N_DEMOS,
        "test_items": len(records),
        "test_positive_share": float(np.mean([g == "positive" for g in gold])),
        "voting": all("votes" in r for r in records),
        "scoring_calls_this_run": scorer.calls,
        "seconds_per_call": scorer.seconds / max(scorer.calls, 1),
        "runtime_seconds_this_run": runtime,
        "items_from_checkpoint": resumed,
        "ece_bins": 10,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({**stamp(), **result}, indent=1) + "\n")
    print()
    print(table(result))
    print()
    for base, d in result["cc_on_minus_off"].items():
        lo, hi = d["accuracy_diff_ci"]
        alo, ahi = d["auroc_diff_ci"]
        print(f"CC on - off, {base}: accuracy {d['accuracy_diff']:+.3f} ({fmt(lo)}..{fmt(hi)}; "
              f"{d['only_on_right']} fixed, {d['only_off_right']} broken), AUROC "
              f"{fmt(d['auroc_diff'])} ({fmt(alo)}..{fmt(ahi)})")
    print(f"\nwrote {RESULTS}\ntotal runtime {runtime / 60:.1f} min "
          f"({scorer.calls} scoring calls, {scorer.seconds / max(scorer.calls, 1):.3f}s each)")


if __name__ == "__main__":
    main()
