"""The run's side of the console: a background thread that drives (or watches) one run.

The run goes on one graph step at a time (``LabelGraph.stream(pause_before="*")``), so
between any two steps the driver can pause, apply a person's queued changes
(``LabelGraph.steer`` / ``correct``: recorded in the ledger and the graph's state) or stop; a
local model labeling a batch pauses between items. A human label request becomes questions
asked one at a time. A stopped run goes on when the person gives it a reason (more budget, a
lifted criterion, a forced round) and says ``/continue``. Each round is shown as one line;
every line goes to ``sink`` and to the run's ``console.log`` transcript. The person's side
(answers, commands, sentences) is :class:`~labelgraph.console.controller.Controller`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, Self

from labelgraph.api import LabelGraph
from labelgraph.console.changes import Change
from labelgraph.errors import LabelGraphError
from labelgraph.events import (
    Continued,
    Decided,
    LabelRequest,
    Learned,
    NotContinued,
    Paused,
)

__all__ = ["MAX_LINES", "PAUSED", "RUNNING", "STOPPED", "WAITING", "WATCHING", "RunDriver",
           "Sink", "go_on_hint"]

Sink = Callable[[str], None]
RUNNING, PAUSED, WAITING, STOPPED, WATCHING = ("running", "paused", "waiting for you",
                                               "stopped", "watching (read-only)")
MAX_LINES = 200  #: lines kept for a front-end that opens late
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


class RunDriver:
    """Drive or watch one run in a background thread, one graph step at a time; show what
    happens, ask a human label request's questions, and apply queued changes between steps."""

    def __init__(self, lg: LabelGraph, *, pool: Any = None, test: Any = None,
                 label_column: str | None = None, sink: Sink | None = None) -> None:
        self.lg = lg
        self.sink = sink or (lambda line: None)
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

    def start(self, paused: bool | None = None) -> Self:
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

    def wait(self, predicate: Callable[[Self], bool], timeout: float = 120.0) -> bool:
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
