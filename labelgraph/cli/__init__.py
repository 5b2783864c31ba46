"""The ``labelgraph`` command line: demo, run, resume, rebuild, console, serve, export,
import-labels, bench, graph, plugins.

Heavy modules (LangGraph, Chroma, scikit-learn) are imported inside the commands, so
``labelgraph --help`` starts fast. Progress is one consumer of ``LabelGraph.stream()``.

The rooms: :mod:`~labelgraph.cli.base` (the app, the console, errors as one line),
:mod:`~labelgraph.cli.options` (options several commands share),
:mod:`~labelgraph.cli.progress` (a run at the terminal), and one module per command group:
:mod:`~labelgraph.cli.runs` (demo, run, resume, rebuild), :mod:`~labelgraph.cli.interactive`
(console, serve), :mod:`~labelgraph.cli.label_files` (export, import-labels),
:mod:`~labelgraph.cli.benchmark` (bench), :mod:`~labelgraph.cli.listings` (graph, plugins).
Importing the package registers every command, in the order ``--help`` lists them.
"""

from __future__ import annotations

from labelgraph.cli.base import PIPE_WIDTH, USER_ERRORS, app, command, console
from labelgraph.cli.options import (
    LLM_HELP,
    PRICE_HELP,
    ConsoleLLMOpt,
    GoldOpt,
    LabelsOpt,
    PausedOpt,
    PoolOpt,
    PriceOpt,
    RunDirArg,
    TestOpt,
)
from labelgraph.cli.progress import Live

# Each module registers its commands on import: this order is the order of --help.
# isort: off
from labelgraph.cli.runs import demo, rebuild, resume, run
from labelgraph.cli.interactive import _console_controller as _console_controller
from labelgraph.cli.interactive import console_command, serve
from labelgraph.cli.label_files import export, import_labels
from labelgraph.cli.benchmark import bench
from labelgraph.cli.listings import graph, plugins
# isort: on

__all__ = ["LLM_HELP", "PIPE_WIDTH", "PRICE_HELP", "USER_ERRORS", "ConsoleLLMOpt", "GoldOpt",
           "LabelsOpt", "Live", "PausedOpt", "PoolOpt", "PriceOpt", "RunDirArg", "TestOpt", "app",
           "bench", "command", "console", "console_command", "demo", "export", "graph",
           "import_labels", "plugins", "rebuild", "resume", "run", "serve"]
