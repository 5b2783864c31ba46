"""The console's terminal front-end (prompt_toolkit): a chat prompt with slash-command
completion and history, a status bar, and the run's lines printed above the prompt.

Ctrl-C once pauses at the next step boundary; twice in a row leaves. Leaving keeps the run
exactly where it is: ``labelgraph console RUN_DIR`` continues it.
"""

from __future__ import annotations

import signal

from prompt_toolkit import PromptSession, print_formatted_text
from prompt_toolkit.completion import WordCompleter
from prompt_toolkit.history import FileHistory
from prompt_toolkit.patch_stdout import patch_stdout

from labelgraph.console.commands import COMMANDS
from labelgraph.console.controller import Controller

__all__ = ["run_terminal"]


def run_terminal(ctl: Controller, paused: bool | None = None) -> None:
    """Chat with a run until the person leaves (``paused=None``: open it as it was left)."""
    session: PromptSession[str] = PromptSession(
        history=FileHistory(str(ctl.lg.run_dir / "console_history")),
        completer=WordCompleter([f"/{s.name}" for s in COMMANDS], sentence=True),
        bottom_toolbar=lambda: ctl.status_line(), refresh_interval=1.0)
    with patch_stdout(raw=True):
        ctl.sink = lambda line: print_formatted_text(line)
        ctl.say(f"labelgraph console · {ctl.lg.run_dir} · /help lists the commands; plain "
                "sentences work too (a change is shown first: Enter confirms); Ctrl-C "
                "pauses, twice leaves")
        ctl.start(paused=paused)
        # Ctrl-C at the prompt is a key (KeyboardInterrupt from prompt()); between prompts it
        # is SIGINT, caught here as a flag so it never lands inside the running graph.
        hits: list[int] = []

        def on_sigint(*_: object) -> None:
            hits.append(1)
            if session.app.is_running:  # it came while the prompt was starting up
                session.app.exit(exception=KeyboardInterrupt())

        previous = signal.signal(signal.SIGINT, on_sigint)
        interrupted = False
        try:
            while True:
                if not hits:
                    try:
                        line = session.prompt("you> ")
                    except KeyboardInterrupt:
                        hits[:] = [1]
                    except EOFError:
                        break
                    else:
                        interrupted = False
                        ctl.execute(line)
                        if ctl.leaving:
                            break
                if hits:
                    hits.clear()
                    if interrupted or ctl.status in {"paused", "stopped"}:
                        ctl.say("leaving (the run is kept)")
                        break
                    interrupted = True
                    ctl.say(ctl.cmd_pause() + " — Ctrl-C again to leave")
        finally:
            signal.signal(signal.SIGINT, previous)
    ctl.close()
    print(f"run kept in {ctl.lg.run_dir}; labelgraph console {ctl.lg.run_dir} continues it")
