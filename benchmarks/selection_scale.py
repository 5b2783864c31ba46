"""Time and memory of each query strategy's ``select`` on large synthetic pools.

    python benchmarks/selection_scale.py [--rows 100000 1000000] [--n 25] [--seed-n 20 25]

Probabilities are Dirichlet(1, 1) over 2 classes; embeddings are 384-d float32 unit rows
drawn around 50 random directions (MiniLM-like). Model strategies run with 5 % of the pool
labeled; cold starts run on an unlabeled pool. Each call runs twice: once timed, once under
tracemalloc, whose peak ("numpy peak MiB") counts every numpy array the call allocates; the
rise of the process's peak resident set during the timed call ("RSS +MiB", Linux ``VmHWM``
reset through ``/proc/self/clear_refs``) is shown too, but memory that an earlier call freed
and the allocator kept can hide part of it. Every strategy runs once on a tiny pool first,
so imports and thread-pool start-up are not counted.
"""

from __future__ import annotations

import argparse
import platform
import time
import tracemalloc
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np

from labelgraph.registry import registry

MODEL_STRATEGIES = ["random", "least_confidence", "margin", "entropy", "diverse_margin",
                    "kcenter", "badge", "density_weighted", "contrastive"]
COLD_STARTS = ["cold_start", "cold_start_typical"]
_STATUS = Path("/proc/self/status")
_CLEAR = Path("/proc/self/clear_refs")


def make_pool(rows: int, dim: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Synthetic (probabilities, unit embeddings), built a block at a time."""
    g = np.random.default_rng(seed)
    probs = g.dirichlet(np.ones(2), size=rows)
    centres = g.standard_normal((50, dim), dtype=np.float32)
    emb = np.empty((rows, dim), dtype=np.float32)
    for start in range(0, rows, 65536):
        block = emb[start:start + 65536]
        block[:] = centres[g.integers(50, size=block.shape[0])]
        block += g.standard_normal(block.shape, dtype=np.float32) * 1.5
        block /= np.linalg.norm(block, axis=1, keepdims=True)
    return probs, emb


def _kib(field: str) -> int:
    for line in _STATUS.read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def rss_rise(call: Callable[[], np.ndarray]) -> tuple[float, float | None, np.ndarray]:
    """(seconds, rise of the peak resident set in MiB or None off Linux, result) of a call."""
    try:
        _CLEAR.write_text("5")  # resets VmHWM to the current resident size
        before: int | None = _kib("VmRSS")
    except OSError:
        before = None
    start = time.perf_counter()
    out = call()
    seconds = time.perf_counter() - start
    rise = None if before is None else (_kib("VmHWM") - before) / 1024
    return seconds, rise, out


def traced_peak(call: Callable[[], np.ndarray]) -> float:
    """Peak MiB of memory allocated (numpy arrays included) during a call."""
    tracemalloc.start()
    try:
        call()
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--n", type=int, default=25, help="batch size of model strategies")
    parser.add_argument("--seed-n", type=int, nargs="+", default=[20, 25],
                        help="seed sizes of the cold starts")
    parser.add_argument("--labeled", type=float, default=0.05)
    parser.add_argument("--strategies", nargs="+", default=MODEL_STRATEGIES + COLD_STARTS)
    args = parser.parse_args()

    print(f"{platform.processor() or platform.machine()}, numpy {np.__version__}, "
          f"dim {args.dim}, {args.labeled:.0%} labeled for model strategies\n")
    tiny_probs, tiny_emb = make_pool(500, args.dim, seed=0)
    for name in args.strategies:  # warm up: imports and thread pools are not what we measure
        registry.create("strategies", name).select(tiny_probs, tiny_emb, np.zeros(500, bool), 5,
                                                   np.random.default_rng(0))
    print("| strategy | rows | n | seconds | numpy peak MiB | RSS +MiB |")
    print("|---|---:|---:|---:|---:|---:|")
    for rows in args.rows:
        probs, emb = make_pool(rows, args.dim, seed=0)
        g = np.random.default_rng(1)
        some_labeled = g.random(rows) < args.labeled
        none_labeled = np.zeros(rows, dtype=bool)
        for name in args.strategies:
            strategy = registry.create("strategies", name)
            cold = name in COLD_STARTS
            for n in (args.seed_n if cold else [args.n]):
                p, labeled = (None, none_labeled) if cold else (probs, some_labeled)
                call = partial(strategy.select, p, emb, labeled, n, np.random.default_rng(2))
                seconds, rise, out = rss_rise(call)
                assert len(set(out.tolist())) == n and not labeled[out].any(), name
                peak = traced_peak(call)
                rss = "n/a" if rise is None else f"{rise:.0f}"
                print(f"| {name} | {rows:,} | {n} | {seconds:.2f} | {peak:.0f} | {rss} |",
                      flush=True)
        del probs, emb


if __name__ == "__main__":
    main()
