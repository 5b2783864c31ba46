"""``labelgraph bench``: pool-based simulation with the oracle annotator on any labeled file.

Each strategy runs through the public API (``LabelGraph(..., annotator="oracle")``) on the
same pool, test split, seeds and schedule, with every optional stopping criterion watched
but none allowed to stop the run, so the whole budget is spent and each criterion's stop
point can be read off afterwards. With ``compare=True`` small-text's and modAL's own query
strategies run in a plain loop on the same features, student, seed items and schedule.

The area under the learning curve (AULC) is the mean held-out accuracy over the schedule's
points (after the seed, then after every round): the label axis is evenly spaced, so this
is the area under the curve divided by its width, and a perfect learner scores 1.0.

The rooms: :mod:`~labelgraph.bench.runner` (the bench and labelgraph's own runs),
:mod:`~labelgraph.bench.peers` (small-text and modAL on the same features) and
:mod:`~labelgraph.bench.result` (the numbers, and the report written from them).
"""

from __future__ import annotations

from labelgraph.bench.peers import COMPARE_STRATEGIES as COMPARE_STRATEGIES
from labelgraph.bench.peers import MODAL as MODAL
from labelgraph.bench.peers import SMALL_TEXT as SMALL_TEXT
from labelgraph.bench.peers import available_libraries as available_libraries
from labelgraph.bench.result import AULC_DEFINITION, BenchResult, Curve, Schedule
from labelgraph.bench.result import SEED_ITEMS as SEED_ITEMS
from labelgraph.bench.runner import BENCH_SETTINGS as BENCH_SETTINGS
from labelgraph.bench.runner import DEFAULT_STRATEGIES as DEFAULT_STRATEGIES
from labelgraph.bench.runner import ROUND_FIGURES as ROUND_FIGURES
from labelgraph.bench.runner import SharedMiniLM as SharedMiniLM
from labelgraph.bench.runner import _stops as _stops
from labelgraph.bench.runner import run_bench, watched_criteria

__all__ = ["AULC_DEFINITION", "BenchResult", "Curve", "Schedule", "run_bench",
           "watched_criteria"]
