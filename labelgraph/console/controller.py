"""The console's controller: a UI-free object that drives (or watches) a run and takes commands.

The run itself is driven by :class:`~labelgraph.console.driver.RunDriver` in a background
thread, one graph step at a time, so between any two steps the controller can pause, apply a
person's changes or stop; a human label request becomes questions asked one at a time.

Slash commands act at once; plain sentences go through an interpreter, and whatever would
change the run is shown as the exact change and waits for a yes (a bare Enter). Every line
the console shows goes to ``sink`` and to the run's ``console.log`` transcript. The terminal
front-end (``labelgraph.console.terminal``) and the tests are its users.
"""

from __future__ import annotations

import json
from typing import Any

from labelgraph.api import LabelGraph
from labelgraph.console.changes import Change, CommandError, plan
from labelgraph.console.commands import by_name, parse_slash
from labelgraph.console.driver import MAX_LINES as MAX_LINES
from labelgraph.console.driver import PAUSED as PAUSED
from labelgraph.console.driver import RUNNING as RUNNING
from labelgraph.console.driver import STOPPED, WAITING, RunDriver, Sink
from labelgraph.console.driver import WATCHING as WATCHING
from labelgraph.console.driver import go_on_hint as go_on_hint
from labelgraph.console.reads import READS
from labelgraph.errors import LabelGraphError

__all__ = ["Controller"]

YES = {"", "y", "yes", "ok", "okay", "sure", "yep", "yeah", "go ahead", "do it", "please do",
       "confirm"}
NO = {"n", "no", "nope", "cancel", "don't", "dont", "never mind", "nevermind", "abort"}


class Controller(RunDriver):
    """Drive or watch one run; ``execute(line)`` takes a slash command or a plain sentence."""

    def __init__(self, lg: LabelGraph, *, pool: Any = None, test: Any = None,
                 label_column: str | None = None, sink: Sink | None = None,
                 interpreter: Any = None) -> None:
        super().__init__(lg, pool=pool, test=test, label_column=label_column, sink=sink)
        self.interpreter = interpreter  # plain language: an IntentInterpreter or an agent
        self.confirming: list[Change] = []  #: changes shown, waiting for the person's yes

    # -- answers ------------------------------------------------------------------------
    def current_question(self) -> tuple[int, dict[str, Any]] | None:
        """The question waiting for an answer, with its 0-based place in the batch."""
        with self._cv:
            at = len(self._answers)
            return (at, self.questions[at]) if at < len(self.questions) else None

    def undo(self) -> str:
        """Take back the last answer of the batch being answered (the batch goes to the run
        only when every question has an answer, so nothing recorded is undone)."""
        with self._cv:
            if not self._answers:
                return self.say("no answer to take back" if self.questions else
                                "nothing to undo: answers already sent are corrected in the "
                                "labels (/correct ID LABEL)")
            last = list(self._answers)[-1]
            label = self._answers.pop(last)
            self._cv.notify_all()
        self.say(f"  <- took back {label or 'skip'}")
        return self.say(self.question_text())

    def _is_answer(self, line: str) -> bool:
        """Whether a typed line answers the waiting question (else it is a command or a
        sentence: "status", "bye" and "pause" are not answers)."""
        from labelgraph.console.intent import LEAVE_WORDS

        word = line.strip().lower()
        labels = {str(label).lower() for label in self.questions[0]["labels"]}
        if word.isdigit() or word in labels | {"skip", "s", "llm"}:
            return True
        return len(word.split()) == 1 and by_name(word) is None and \
            word.strip("!.") not in LEAVE_WORDS | YES | NO

    def answer(self, text: str) -> str:
        """Answer the current question: a number, a label name, 'skip', or 'llm'."""
        with self._cv:
            if not self.questions or len(self._answers) >= len(self.questions):
                return self.say("no question is waiting")
            q = self.questions[len(self._answers)]
            word = text.strip()
            if word.lower() == "llm":
                for rest in self.questions[len(self._answers):]:
                    self._answers[rest["id"]] = None
                self._cv.notify_all()
                return self.say("the rest go back to the LLM" if self.lg.context.llm
                                else "the rest are skipped (this run has no LLM) and will not "
                                     "be asked again")
            if word.lower() in {"skip", "s", ""}:
                label = None
            elif word.isdigit() and 1 <= int(word) <= len(q["labels"]):
                label = q["labels"][int(word) - 1]
            else:
                matches = [lab for lab in q["labels"] if lab.lower() == word.lower()]
                if not matches:
                    return self.say(f"answer with a number 1-{len(q['labels'])}, a label "
                                    f"({', '.join(q['labels'])}), 'skip' or 'llm'")
                label = matches[0]
            self._answers[q["id"]] = label
            self._cv.notify_all()
            done = len(self._answers) >= len(self.questions)
            pausing = self._pause
        self.say(f"  -> {label or 'skipped'}")
        if done and pausing:
            return self.say("answers recorded; the run pauses after this step, as you asked "
                            "(/continue goes on)")
        return self.say("thanks, the run goes on" if done else self.question_text())

    # -- commands -----------------------------------------------------------------------
    def execute(self, line: str) -> str:
        """Run one typed line: a yes/no to a change shown, an answer to a waiting question,
        a slash command, or a plain sentence (through the interpreter)."""
        line = line.strip()
        self.say(f"> {line}", show=False)  # the person's line, for the transcript
        if self.confirming:
            reply = self._confirm(line)
            if reply is not None:
                return reply
        if not line:
            return ""
        if not line.startswith("/") and self.status == WAITING and self.questions \
                and self._is_answer(line):
            return self.answer(line)
        if line.startswith("/"):
            parsed = parse_slash(line)
            if parsed is None:
                return self.say(f"unknown command {line.split()[0]!r}; /help lists them")
            return self.run_command(*parsed)
        if self.interpreter is None:
            from labelgraph.console.interpret import make_interpreter

            self.interpreter = make_interpreter(self)
        return self.interpreter.handle(self, line)

    def _confirm(self, line: str) -> str | None:
        """A yes (or a bare Enter) applies the changes shown; anything else cancels them,
        and a line that is not a plain no is then handled as usual (None)."""
        word = line.strip().lower().rstrip("!.")
        changes, self.confirming = self.confirming, []
        if word in YES:
            return "\n".join(self.apply(change) for change in changes)
        reply = self.say("cancelled: nothing changed")
        return reply if word in NO else None

    def propose(self, changes: list[Change]) -> str:
        """Show changes and wait for the person's yes before making them."""
        self.confirming = list(changes)
        shown = "; ".join(change.note for change in changes)
        return self.say(f"{shown}. go ahead? [Y/n]")

    def plan(self, name: str, args: list[str] | tuple[str, ...]) -> Change:
        """The change a command would make (a CommandError says why it cannot)."""
        return plan(self.lg, name, args)

    def run_command(self, name: str, args: list[str] | tuple[str, ...]) -> str:
        """Run a command by name at once; errors are sentences, never crashes."""
        spec = by_name(name)
        if spec is None:
            return self.say(f"unknown command {name!r}")
        if spec.changes and self.lg.read_only:
            return self.say("read-only: another process drives this run, so it cannot be "
                            "changed from here")
        try:
            if spec.changes:
                return self.apply(self.plan(spec.name, args))
            if spec.name in {"status", "pending", "quit", "undo"}:
                if args:
                    raise CommandError(f"/{spec.name} takes no arguments")
                if spec.name == "undo":
                    return self.undo()  # it shows its own lines
                return self.say(getattr(self, f"cmd_{spec.name}")())
            return self.say(READS[spec.name](self.lg, *args))
        except TypeError:
            return self.say(f"usage: /{spec.name} {spec.usage}".rstrip())
        except LabelGraphError as exc:
            return self.say(f"cannot: {exc}")

    def apply(self, change: Change) -> str:
        """Make a planned change: controls at once, run changes at the next step boundary."""
        if change.kind == "read":  # asked first for its side effect (a file written)
            return self.run_command(change.name, change.args)
        if change.kind == "control":
            with self._cv:  # the reply shows before the driver acts on it
                return self.say(getattr(self, f"cmd_{change.name}")())
        with self._cv:  # the driver applies a queued change only after its reply shows
            if change.name == "stop" and self.status == STOPPED:
                return self.say("the run is already stopped")
            self._changes.append(change)
            if change.name == "stop":
                self._pause = False  # the stop is a decision: the run must reach it
            reply = f"ok: {change.note} (applied at the next step boundary)"
            if self.status == STOPPED and change.name != "stop":
                reply = f"ok: {change.note} — the run is stopped: /continue goes on"
            self.say(reply)
            self._cv.notify_all()
            return reply

    def cmd_status(self) -> str:
        config = self.lg.context.config
        threshold = "from the budget" if config.confidence_threshold is None \
            else f"{config.confidence_threshold:g}"
        return (f"{self.status_line()}\n  strategy {config.strategy} · batch "
                f"{config.batch_size} · synthesis {'on' if config.synthesize else 'off'} · "
                f"confidence threshold {threshold} · stopping criteria "
                f"{', '.join(config.stopping) or 'none'}")

    def cmd_pending(self) -> str:
        if not self.questions:
            return "no label question is waiting"
        at = len(self._answers)
        lines = [f"{len(self.questions) - at} of {len(self.questions)} questions wait; "
                 "answer the current one by number or label ('skip', 'llm'):"]
        lines += [f"  {'→' if n == at else ' '} Q{n + 1}: {q['text'][:100]}"
                  for n, q in enumerate(self.questions) if n >= at]
        return "\n".join(lines + [self.question_text()])

    def cmd_pause(self) -> str:
        with self._cv:
            self._pause = True
            answering = self._answering or self.status == WAITING
            self._cv.notify_all()
        self._mark("pause")
        if not answering:
            self.lg.request_pause()
            return "pausing after the current step (between items on a local model)"
        return "pausing once your answers are in"

    def cmd_step(self) -> str:
        with self._cv:
            stopped = self.status == STOPPED
            self._pause, self._step, self._go = False, True, stopped
            self._step_from = self.lg.context.ledger.last_round()
            self._cv.notify_all()
        self._mark("go")
        return "running one round, then pausing" + (", if nothing stops it" if stopped else "")

    def cmd_continue(self) -> str:
        with self._cv:
            stopped = self.status == STOPPED
            self._pause = self._step = False
            self._go = stopped  # a stopped run tries to go on once; a running one just runs
            self._cv.notify_all()
        self._mark("go")
        return "going on, if nothing stops it" if stopped else "continuing"

    def cmd_quit(self) -> str:
        with self._cv:
            self._quit = True
            self._cv.notify_all()
        return (f"leaving; the run is kept: labelgraph console {self.lg.run_dir} continues "
                "it")

    @property
    def leaving(self) -> bool:
        """The person asked to leave (``/quit``)."""
        return self._quit

    def snapshot(self) -> dict[str, Any]:
        """The controller's state as plain data (for tests and front-ends)."""
        return {"status": self.status, "questions": len(self.questions),
                "answered": len(self._answers), "pending_changes": len(self._changes),
                "confirming": [c.note for c in self.confirming], "error": self.error}

    def __repr__(self) -> str:
        return f"Controller({json.dumps(self.snapshot())})"
