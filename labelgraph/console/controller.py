"""The console's controller: a UI-free object that drives (or watches) a run and takes commands.

The run goes on in a background thread, one graph step at a time
(``LabelGraph.stream(pause_before="*")``), so between any two steps the controller can pause,
apply a person's changes (``LabelGraph.steer`` / ``correct``: recorded in the ledger and the
graph's state) or stop; a local model labeling a batch pauses between items. A human label
request becomes questions asked one at a time. A stopped run goes on when the person gives
it a reason (more budget, a lifted criterion, a forced round) and says ``/continue``.

Slash commands act at once; plain sentences go through an interpreter, and whatever would
change the run is shown as the exact change and waits for a yes (a bare Enter). Every line
the console shows goes to ``sink`` and to the run's ``console.log`` transcript. The terminal
front-end (``labelgraph.console.terminal``) and the tests are its users.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any

from labelgraph.api import LabelGraph
from labelgraph.console.changes import Change, CommandError, plan
from labelgraph.console.commands import by_name, parse_slash
from labelgraph.console.reads import READS
from labelgraph.errors import LabelGraphError
from labelgraph.events import (
    Continued,
    Decided,
    LabelRequest,
    Learned,
    NotContinued,
    Paused,
)

__all__ = ["Controller"]

Sink = Callable[[str], None]
RUNNING, PAUSED, WAITING, STOPPED, WATCHING = ("running", "paused", "waiting for you",
                                               "stopped", "watching (read-only)")
MAX_LINES = 200  #: lines kept for a front-end that opens late
YES = {"", "y", "yes", "ok", "okay", "sure", "yep", "yeah", "go ahead", "do it", "please do",
       "confirm"}
NO = {"n", "no", "nope", "cancel", "don't", "dont", "never mind", "nevermind", "abort"}
#: what lets a stopped run go on, per criterion, in console commands
_GO_ON = {"label_budget": "/budget +N adds labels", "usd_budget": "/budget usd +X adds dollars",
          "token_budget": "/budget tokens N raises the token budget",
          "round_budget": "/budget rounds N raises the round budget",
          "pool_exhausted": "/synth on lets it write new examples (it needs an LLM)",
          "patience": "/continue tries again", "human": "/continue goes on",
          "policy": "/continue goes on"}


def go_on_hint(criteria: tuple[str, ...] | list[str]) -> str:
    """What the person can type to let a run stopped by ``criteria`` go on."""
    hints = [_GO_ON.get(name, f"/stopping off {name} lifts that criterion") for name in criteria]
    needs_continue = any(name not in {"patience", "human", "policy"} for name in criteria)
    return "; ".join(dict.fromkeys(hints)) + (", then /continue" if needs_continue else "")


class Controller:
    """Drive or watch one run; ``execute(line)`` takes a slash command or a plain sentence."""

    def __init__(self, lg: LabelGraph, *, pool: Any = None, test: Any = None,
                 label_column: str | None = None, sink: Sink | None = None,
                 interpreter: Any = None) -> None:
        self.lg = lg
        self.sink = sink or (lambda line: None)
        self.interpreter = interpreter  # plain language: an IntentInterpreter or an agent
        self._input: dict[str, Any] | None = (
            {"pool": pool, "test": test, "label_column": label_column}
            if pool is not None else None)
        self._cv = threading.Condition()
        self._changes: list[Change] = []
        self._answers: dict[str, Any] = {}
        self._pause = self._step = self._quit = self._go = self._answering = False
        self._step_from = 0
        self._thread: threading.Thread | None = None
        self.status = WATCHING if lg.read_only else PAUSED
        self.questions: list[dict[str, Any]] = []
        self.confirming: list[Change] = []  #: changes shown, waiting for the person's yes
        self.error: str | None = None
        self._round: dict[str, Any] = {}
        self._seen_rounds = 0
        self.transcript = lg.run_dir / "console.log"
        self.lines: list[str] = []  #: the latest lines shown (a front-end opened late reads them)

    # -- output -------------------------------------------------------------------------
    def say(self, text: str, show: bool = True) -> str:
        """Show a line (and keep it in the transcript)."""
        with self.transcript.open("a", encoding="utf-8") as fh:
            fh.write(text + "\n")
        if show:
            self.lines = [*self.lines[-(MAX_LINES - 1):], text]
            self.sink(text)
        return text

    def status_line(self) -> str:
        """One line: state, round, budget used and left, accuracy."""
        ctx = self.lg.context
        ctx.meter.refresh()
        spent, budget = ctx.meter.snapshot(), ctx.meter.budget
        metrics = ctx.ledger.metrics()
        accs = [m["accuracy"] for m in metrics if m.get("accuracy") is not None]
        left = ctx.meter.remaining_labels()
        parts = [f"[{self.status}]", f"round {ctx.ledger.last_round()}",
                 f"labels {int(spent['labels'])}/{budget.labels or '∞'}"
                 + (f" ({left} left)" if left is not None else "")]
        if budget.usd is not None or spent["usd"]:
            parts.append(f"${spent['usd']:.4f}" + (f"/{budget.usd:g}" if budget.usd else ""))
        parts.append(f"acc {accs[-1]:.3f}" if accs else "acc –")
        return " · ".join(parts)

    # -- the driver ---------------------------------------------------------------------
    def left_paused(self) -> bool:
        """Whether the person's last word on pausing, in the ledger, was to pause."""
        marks = [a["kind"] for a in self.lg.context.ledger.human_actions()
                 if a["kind"] in {"pause", "go"}]
        return bool(marks) and marks[-1] == "pause"

    def start(self, paused: bool | None = None) -> Controller:
        """Start driving in the background (or, read-only, start following the ledger).
        ``paused=None`` opens the run as it was left: paused if the person paused it."""
        if self.lg.read_only:
            self._thread = threading.Thread(target=self._follow, daemon=True,
                                            name="labelgraph-console")
            self._thread.start()
            self.say(f"watching {self.lg.run_dir} read-only: another process drives this run")
            return self
        left = self.left_paused()
        self._pause = left if paused is None else paused
        if left and not self._pause:
            self._mark("go")
        elif self._pause and not left:
            self._mark("pause")
        if self._pause and self._input is None:
            self.say("the run is paused (as it was left); /continue goes on")
        stop = self.lg.graph.get_state(self.lg.config_dict).values.get("stop_reason")
        if stop:
            last = next((d for d in reversed(self.lg.context.ledger.decisions())
                         if d["action"] == "stop"), {})
            self.say(f"this run stopped: {stop}. To go on: "
                     f"{go_on_hint(last.get('criteria') or ['human'])}")
        self._thread = threading.Thread(target=self._drive, daemon=True,
                                        name="labelgraph-console")
        self._thread.start()
        return self

    def close(self) -> None:
        """Leave at the next step boundary (between items on a local model); the run stays
        resumable exactly there."""
        with self._cv:
            self._quit = True
            self._cv.notify_all()
        if not self.lg.read_only and not self._answering:
            self.lg.request_pause()
        if self._thread is not None:
            self._thread.join(timeout=600)

    def wait(self, predicate: Callable[[Controller], bool], timeout: float = 120.0) -> bool:
        """Block until ``predicate(self)`` holds (for tests and scripts)."""
        end = time.time() + timeout
        with self._cv:
            while not predicate(self):
                left = end - time.time()
                if left <= 0:
                    return False
                self._cv.wait(min(left, 0.2))
        return True

    def await_change(self, timeout: float) -> None:
        """Block until the controller's state may have changed (a status, an answer, a
        change queued) or ``timeout`` seconds pass: a front-end's watcher waits here."""
        with self._cv:
            self._cv.wait(timeout)

    def _set(self, status: str) -> None:
        with self._cv:
            self.status = status
            self._cv.notify_all()

    def _mark(self, kind: str) -> None:
        """Record a pause or a go in the ledger (a reopened run starts as it was left)."""
        self.lg.context.ledger.record_human(self.lg.context.ledger.last_round(), kind, {})

    def _apply_changes(self) -> None:
        """Apply queued changes; the graph is between steps (only the driver calls this)."""
        with self._cv:
            changes, self._changes = self._changes, []
        for change in changes:
            try:
                if change.kind == "steer":
                    self.lg.steer(note=change.note, **change.payload)
                    self.say(f"applied: {change.note}")
                else:
                    fixed = self.lg.correct(change.payload["item_id"], change.payload["label"])
                    self.say(f"applied: {fixed.id[:10]} is now "
                             + (f"{fixed.label!r} (yours)" if fixed.status != "rejected"
                                else "rejected"))
            except LabelGraphError as exc:
                self.say(f"not applied: {exc}")

    def _stopped(self, state: Any) -> bool:
        return bool(state.values.get("stop_reason")) and not state.next

    def _drive(self) -> None:
        lg = self.lg
        try:
            while True:
                self._apply_changes()
                state = lg.graph.get_state(lg.config_dict)
                resume = None
                going_on = False
                with self._cv:
                    if self._quit:
                        break
                    if state.interrupts:
                        self._ask(state.interrupts[0].value)
                        while not self._quit and len(self._answers) < len(self.questions):
                            self._cv.wait()  # changes wait for the answers: the graph is
                        if self._quit:       # inside a step until then
                            continue
                        resume, self._answers, self.questions = self._answers, {}, []
                    elif self._changes:
                        continue  # a change came in meanwhile: apply it first
                    elif self._stopped(state):
                        if not self._go:
                            self.status = STOPPED
                            self._cv.notify_all()
                            self._cv.wait()
                            continue
                        self._go, going_on = False, True
                    elif self._pause:
                        self.status = PAUSED
                        self._cv.notify_all()
                        self._cv.wait()
                        continue
                    self.status = RUNNING
                    self._answering = resume is not None
                    self._cv.notify_all()
                if going_on and not self._ready_to_go_on(state):
                    continue
                self._run_step(resume)
                with self._cv:
                    self._answering = False
        except Exception as exc:  # the run's own error: shown, and the run stays resumable
            self.error = f"{type(exc).__name__}: {exc}"
            self.say(f"the run stopped on an error: {self.error} (nothing is lost; "
                     f"labelgraph console {lg.run_dir} continues it)")
        self._set(STOPPED if not self._quit else self.status)

    def _ready_to_go_on(self, state: Any) -> bool:
        """Before a stopped run goes on: if the person changed nothing since the stop, their
        /continue is the change (recorded as one) — unless a criterion would stop it again,
        which is said with what would lift it."""
        news = (state.values.get("steering") or {}).get("news")
        if news:
            return True
        blockers = self.lg.blockers(state.values)
        if blockers:
            self.say(f"still stopped: {'; '.join(r for _, r in blockers)}. To go on: "
                     f"{go_on_hint([n for n, _ in blockers])}")
            self._set(STOPPED)
            return False
        self.lg.steer(note="the person asked to go on")
        return True

    def _run_step(self, resume: Any) -> None:
        """One graph step (or the first of a new run), its events shown as they come."""
        lg = self.lg
        kwargs = self._input or {}
        self._input = None
        for mode, chunk in lg.stream(kwargs.get("pool"), test=kwargs.get("test"),
                                     resume=resume, pause_before="*",
                                     **({"label_column": kwargs["label_column"]}
                                        if kwargs.get("label_column") else {})):
            if mode == "custom":
                self._on_event(chunk)
            elif mode == "updates" and "learner" in chunk and self._step and \
                    lg.context.ledger.last_round() > self._step_from:
                with self._cv:  # a whole new round is done: pause again
                    self._step, self._pause = False, True

    def _follow(self) -> None:
        """Read-only: show each new round from the ledger as the driving process writes it."""
        while not self._quit:
            ctx = self.lg.context
            metrics = ctx.ledger.metrics()
            decisions = {d["round"]: d for d in ctx.ledger.decisions()}
            for m in metrics[self._seen_rounds:]:
                d = decisions.get(m["round"], {})
                self.say(self._round_line(m["round"], d.get("action", "?"),
                                          d.get("strategy"), d.get("reason", ""),
                                          self._sources(m["round"]), m.get("accuracy")))
            self._seen_rounds = len(metrics)
            with self._cv:
                self._cv.wait(0.5)

    # -- events -------------------------------------------------------------------------
    def _sources(self, round_: int) -> dict[str, int]:
        return self.lg.context.ledger.sources_in_round(round_)

    def _round_line(self, round_: int, action: str, strategy: str | None, reason: str,
                    sources: dict[str, int], accuracy: float | None) -> str:
        ctx = self.lg.context
        ctx.meter.refresh()
        spent = ctx.meter.snapshot()
        how = f"{action} {strategy}" if action == "query" and strategy else action
        bought = ", ".join(f"{s} {n}" for s, n in sorted(sources.items())) or "none"
        acc = f"acc {accuracy:.3f}" if accuracy is not None else "acc –"
        return (f"round {round_} · {how} · +{sum(sources.values())} labels ({bought}) · {acc}"
                f" · ${spent['usd']:.4f} · {reason}")

    def _on_event(self, event: Any) -> None:
        if isinstance(event, Decided):
            self._round = {"round": event.round, "action": event.action,
                           "strategy": event.strategy, "reason": event.reason}
            if event.action == "stop":
                self.say(f"stopped: {event.reason}. To go on: "
                         f"{go_on_hint(list(event.criteria) or ['policy'])}")
        elif isinstance(event, Learned):
            r = self._round
            if r.get("round") != event.round:  # decided before a reopen: from the ledger
                d = {d["round"]: d for d in self.lg.context.ledger.decisions()}.get(
                    event.round, {})
                r = {"round": event.round, "action": d.get("action", "?"),
                     "strategy": d.get("strategy"), "reason": d.get("reason", "")}
            self.say(self._round_line(r["round"], r["action"], r["strategy"], r["reason"],
                                      self._sources(r["round"]),
                                      event.metrics.get("accuracy")))
        elif isinstance(event, Continued):
            self.say(f"going on after the stop ({event.after}): "
                     + ("; ".join(event.changes) or "as you asked"))
        elif isinstance(event, NotContinued):
            self.say(f"still stopped: {event.reason}. To go on: "
                     f"{go_on_hint(list(event.criteria) or ['human'])}")
        elif isinstance(event, Paused):
            self.say(f"paused between items of the {event.node} step (what it bought is kept); "
                     "/continue goes on")
        elif isinstance(event, LabelRequest):
            pass  # asked from the interrupt's value, once the graph has paused

    # -- questions ----------------------------------------------------------------------
    def _ask(self, request: dict[str, Any]) -> None:
        """A human label request: its questions, asked one at a time (called locked)."""
        if self.questions:
            return
        self.questions = list(request.get("questions") or [])
        self.status = WAITING
        self._cv.notify_all()
        self.say(f"{len(self.questions)} labels need you (answer by number or label name; "
                 "'skip', or 'llm' to hand the rest back)")
        self.say(self.question_text())

    def question_text(self) -> str:
        """The current question, with the LLM's suggestion and confidence."""
        if not self.questions or len(self._answers) >= len(self.questions):
            return "no question is waiting"
        q = self.questions[len(self._answers)]
        options = "  ".join(f"[{n}] {label}" for n, label in enumerate(q["labels"], 1))
        hint = ""
        if q.get("suggestion"):
            conf = q.get("confidence")
            hint = f"  (LLM: {q['suggestion']}" + (f", {conf:.2f})" if conf is not None
                                                      else ")")
        return (f"Q{len(self._answers) + 1}/{len(self.questions)}: {q['text']}\n"
                f"    {options}{hint}")

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
