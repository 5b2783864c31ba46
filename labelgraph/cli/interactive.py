"""The console front-ends: ``console`` (a chat in the terminal) and ``serve`` (the same
controller behind a local web page)."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

import typer

from labelgraph.cli.base import command, console
from labelgraph.cli.options import RunDirArg, RunOptions, price_table, with_run_options
from labelgraph.errors import InputError

__all__ = ["console_command", "serve"]


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
                            "seed_size": seed_size}, prices=price_table(llm, llm_price))
    # The pools first: a bad file fails before run.json exists, so the same command,
    # fixed, starts the run; then a bad setting fails, in one line, before the chat opens.
    lg.add_pool(pool, text_column=text_column, label_column=label_column)
    if test is not None:
        lg.add_pool(test, label_column="label", name="test")
    _ = lg.context
    return Controller(lg)


def _open(run_dir: Path, opts: RunOptions) -> Any:
    """The controller for ``run_dir`` as the shared options say (all but ``paused``, which
    is the front-end's to apply)."""
    settings = asdict(opts)
    del settings["paused"]
    return _console_controller(run_dir, **settings)


@with_run_options
def console_command(run_dir: RunDirArg = Path("runs/run"), *, opts: RunOptions) -> None:
    """Watch, ask, steer and label a run in a terminal chat (/help inside lists commands)."""
    from labelgraph.console.terminal import run_terminal

    run_terminal(_open(run_dir, opts), paused=opts.paused)


command(console_command, "console")


@with_run_options
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
    *,
    opts: RunOptions,
) -> None:
    """The console in a browser: watch the rounds, label cards by keyboard (1-9, s, u),
    correct labels in a table, talk and steer — on the same controller as `labelgraph
    console`, everything recorded in the ledger. Prints the page's URL with its token
    (required on every request); Ctrl-C stops serving and keeps the run."""
    import secrets
    import socket

    import uvicorn

    from labelgraph.console.web import make_app

    ctl = _open(run_dir, opts)
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
    ctl.start(paused=opts.paused)
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
