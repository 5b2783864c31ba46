"""What every command shares: the Typer app, the rich console it prints on, and how a user's
mistake is shown (one ``error:`` line and an exit code; ``--debug`` shows the traceback)."""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Callable
from typing import Annotated, Any

import typer
from rich.console import Console

from labelgraph.errors import LabelGraphError, ModelNotInstalledError

__all__ = ["PIPE_WIDTH", "USER_ERRORS", "app", "command", "console"]

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
