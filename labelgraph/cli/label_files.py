"""Labels out of a run and back in: ``export`` (CSV, JSONL, Parquet, a datasets directory,
Label Studio, Argilla) and ``import-labels`` (people's labels recorded as a person's)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from labelgraph.cli.base import command, console

__all__ = ["export", "import_labels"]


@command
def export(
    run_dir: Path,
    out: Annotated[Path | None, typer.Option(help="the file (a directory for hf) to write "
                                                  "(default: in RUN_DIR)")] = None,
    format_: Annotated[str | None, typer.Option(
        "--format", help="csv, jsonl, parquet, hf (a datasets directory), label-studio or "
                         "argilla (default: what --out's suffix names, else csv); a suffix "
                         "naming another format is refused")] = None,
) -> None:
    """Write every labeled item of a run with its source, confidence, verdict and provenance
    (CSV cells that look like formulas are neutralized; docs/formats.md shows each format)."""
    from labelgraph.api import LabelGraph
    from labelgraph.export import export_files, resolve_format

    fmt = resolve_format(format_, out)  # a bad format fails before the run is opened
    written = export_files(LabelGraph.open(run_dir, read_only=True), out, fmt)
    console.print(f"wrote {written[0]} ({fmt})" + "".join(
        f"\n  and {extra} (the labeling config to import it with)" for extra in written[1:]),
        markup=False, highlight=False, soft_wrap=True)


@command
def import_labels(
    run_dir: Path,
    file: Annotated[Path, typer.Argument(help="a Label Studio JSON export, Argilla records, "
                                              "or a CSV/JSONL with id (or text) and label")],
    format_: Annotated[str, typer.Option(
        "--format", help="auto (by the suffix and the content), label-studio, argilla, csv "
                         "or jsonl")] = "auto",
    budget_labels: Annotated[int | None, typer.Option(
        help="the label budget from now on (the total), set before importing: new labels "
             "count in it (recorded as your change, as resume --budget-labels is)")] = None,
    llm: Annotated[str | None, typer.Option(
        help="a run on a paid provider opens only when you name it (nothing is called)")
                   ] = None,
) -> None:
    """Record the labels people gave in FILE as a person's: corrections of labels the run
    has (free), new labels for items it has not (counted in its label budget). Unknown
    labels and items are reported, never dropped silently; importing twice changes nothing."""
    from labelgraph.api import LabelGraph
    from labelgraph.importing import import_labels as record_labels

    lg = LabelGraph.open(run_dir, **({"llm": llm} if llm else {}))
    try:
        report = record_labels(lg, file, format_, budget_labels=budget_labels)
    finally:
        lg.close()
    for line in report.lines():
        console.print(line, markup=False, highlight=False, soft_wrap=True,
                      style="yellow" if line.startswith("  not imported") else None)
