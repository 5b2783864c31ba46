"""A run at the terminal: progress bars and one line per round (a consumer of
``LabelGraph.stream()``), label questions asked at the prompt, and the report at the end."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from labelgraph.cli.base import console
from labelgraph.events import (
    Continued,
    Decided,
    Generated,
    Learned,
    NotContinued,
    PoolChecked,
    Progress,
)

if TYPE_CHECKING:
    from labelgraph.api import LabelGraph, RunResult

__all__ = ["Live", "ask_human", "drive", "finish", "interactive", "run_to_end"]


class Live:
    """Progress bars and one line per round: a consumer of the run's event stream."""

    def __init__(self) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        self.progress = Progress(TextColumn("{task.description}"), BarColumn(),
                                 MofNCompleteColumn(), TimeElapsedColumn(), console=console,
                                 transient=True)
        self.tasks: dict[str, Any] = {}

    def __enter__(self) -> Live:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def _bar(self, key: str, text: str, done: int, total: int) -> None:
        if key not in self.tasks:
            self.tasks[key] = self.progress.add_task(text, total=total)
        self.progress.update(self.tasks[key], completed=done, total=total)
        if done >= total:
            self.progress.remove_task(self.tasks.pop(key))

    def show(self, mode: str, chunk: Any) -> None:
        """Display one item of ``LabelGraph.stream()``; node updates are not shown."""
        if mode != "custom":
            return
        if isinstance(chunk, PoolChecked) and chunk.skipped:
            skipped = ", ".join(f"{n} {why}" for why, n in chunk.skipped.items())
            console.print(f"[yellow]{chunk.name}: kept {chunk.size} rows, skipped "
                          f"{skipped}[/yellow]")
        elif isinstance(chunk, Progress):
            text = "embedding the pool" if chunk.what == "embed" else \
                f"round {chunk.round}: LLM labeling"
            self._bar(chunk.what, text, chunk.done, chunk.total)
        elif isinstance(chunk, Decided):
            extra = f" {chunk.strategy}" if chunk.action == "query" else \
                f" for {list(chunk.target_labels)}" if chunk.action == "synthesize" else ""
            console.print(f"[bold]round {chunk.round}[/bold]: {chunk.action}{extra} "
                          f"[dim]({chunk.reason})[/dim]")
        elif isinstance(chunk, Generated):
            console.print(f"  generated {chunk.n} new examples "
                          f"({chunk.dropped} near-duplicates dropped)")
        elif isinstance(chunk, Continued):
            console.print(f"going on after the stop ({chunk.after}): "
                          + "; ".join(chunk.changes), markup=False)
        elif isinstance(chunk, Learned):
            m = chunk.metrics
            acc = "-" if m.get("accuracy") is None else f"{m['accuracy']:.3f}"
            console.print(f"  accepted {m['accepted']}, flagged {m['flagged']}, "
                          f"rejected {m['rejected']} → {m['labels']} labels, "
                          f"test accuracy {acc}")


def drive(lg: LabelGraph, stream: Iterable[tuple[str, Any]],
          refused: list[NotContinued] | None = None) -> RunResult:
    """Consume a run's stream with the progress display; return the result (``refused``
    collects the reason a stopped run did not go on)."""
    with Live() as live:
        for mode, chunk in stream:
            live.show(mode, chunk)
            if refused is not None and isinstance(chunk, NotContinued):
                refused.append(chunk)
    return lg.result()


def interactive() -> bool:
    return sys.stdin.isatty()


def ask_human(lg: LabelGraph, result: RunResult) -> RunResult:
    """Answer label requests at the terminal until the run stops or stdin runs out."""
    from rich.prompt import Prompt

    while result.pending is not None:
        if not interactive():
            console.print(f"[yellow]The run is waiting for {len(result.pending['questions'])} "
                          f"human labels.[/yellow] Resume it at a terminal: labelgraph resume "
                          f"{lg.run_dir}")
            return result
        answers: dict[str, str | None] = {}
        for q in result.pending["questions"]:
            console.print(f"\n[bold]Text:[/bold] {q['text']}")
            hint = f" (LLM suggests {q['suggestion']})" if q.get("suggestion") else ""
            answer = Prompt.ask(f"label{hint}", choices=[*q["labels"], "skip"],
                                default=q.get("suggestion") or "skip", console=console)
            answers[q["id"]] = None if answer == "skip" else answer
        result = drive(lg, lg.stream(resume=answers))
    return result


def finish(lg: LabelGraph, result: RunResult) -> None:
    from labelgraph.assets import atomic_write_text
    from labelgraph.report import plot_curve, print_report

    result = ask_human(lg, result)
    figures = print_report(lg, result, console)
    png = plot_curve(result.curve, lg.run_dir / "learning_curve.png")
    atomic_write_text(lg.run_dir / "report.json", json.dumps(figures, indent=2, default=str))
    if png:
        console.print(f"learning curve: {png}")
    console.print(f"run directory: {lg.run_dir}  (labelgraph export {lg.run_dir})")


def run_to_end(lg: LabelGraph, **kw: Any) -> None:
    finish(lg, drive(lg, lg.stream(**kw)))
