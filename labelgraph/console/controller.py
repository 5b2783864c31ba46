"""The console's controller: a UI-free object that drives (or watches) a run and takes commands.

The run goes on in a background thread, one graph step at a time
(``LabelGraph.stream(pause_before="*")``), so between any two steps the controller can pause,
apply a person's changes (``LabelGraph.steer`` / ``correct``: recorded in the ledger and the
graph's state) or stop. A human label request becomes questions asked one at a time. Every
line the console shows goes to ``sink`` and to the run's ``console.log`` transcript. The
terminal front-end (``labelgraph.console.terminal``) and the tests are its two users.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any

import pandas as pd

from labelgraph.api import LabelGraph
from labelgraph.console.commands import COMMANDS, by_name, parse_slash
from labelgraph.errors import LabelGraphError
from labelgraph.events import Decided, Labeled, LabelRequest, Learned, Verified

__all__ = ["Controller"]

Sink = Callable[[str], None]
RUNNING, PAUSED, WAITING, STOPPED, WATCHING = ("running", "paused", "waiting for you",
                                               "stopped", "watching (read-only)")


def _short(value: Any) -> Any:
    """A value with its floats at three decimals, for display."""
    if isinstance(value, float):
        return round(value, 3)
    if isinstance(value, list):
        return [_short(v) for v in value]
    return value


class Controller:
    """Drive or watch one run; ``execute(line)`` takes a slash command or a plain sentence."""

    def __init__(self, lg: LabelGraph, *, pool: Any = None, test: Any = None,
                 label_column: str | None = None, sink: Sink | None = None,
                 interpreter: Any = None) -> None:
        self.lg = lg
        self.sink = sink or (lambda line: None)
        self.interpreter = interpreter  # plain language: an IntentMatcher or a ConsoleAgent
        self._input: dict[str, Any] | None = (
            {"pool": pool, "test": test, "label_column": label_column}
            if pool is not None else None)
        self._cv = threading.Condition()
        self._changes: list[tuple[str, dict[str, Any]]] = []
        self._answers: dict[str, Any] = {}
        self._pause = self._step = self._quit = False
        self._step_from = 0
        self._thread: threading.Thread | None = None
        self.status = WATCHING if lg.read_only else PAUSED
        self.questions: list[dict[str, Any]] = []
        self.error: str | None = None
        self._round: dict[str, Any] = {}
        self._seen_rounds = 0
        self.transcript = lg.run_dir / "console.log"

    # -- output -------------------------------------------------------------------------
    def say(self, text: str, show: bool = True) -> str:
        """Show a line (and keep it in the transcript)."""
        with self.transcript.open("a", encoding="utf-8") as fh:
            fh.write(text + "\n")
        if show:
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
    def start(self, paused: bool = False) -> Controller:
        """Start driving in the background (or, read-only, start following the ledger)."""
        self._pause = paused
        target = self._follow if self.lg.read_only else self._drive
        self._thread = threading.Thread(target=target, daemon=True, name="labelgraph-console")
        self._thread.start()
        if self.lg.read_only:
            self.say(f"watching {self.lg.run_dir} read-only: another process drives this run")
        return self

    def close(self) -> None:
        """Leave at the next step boundary; the run stays resumable exactly there."""
        with self._cv:
            self._quit = True
            self._cv.notify_all()
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

    def _set(self, status: str) -> None:
        with self._cv:
            self.status = status
            self._cv.notify_all()

    def _apply_changes(self) -> None:
        """Apply queued changes; the graph is between steps (only the driver calls this)."""
        with self._cv:
            changes, self._changes = self._changes, []
        for kind, payload in changes:
            try:
                if kind == "steer":
                    note = payload.pop("_note", "")
                    self.lg.steer(note=note, **payload)
                    self.say(f"applied: {note}")
                else:
                    fixed = self.lg.correct(payload["item_id"], payload["label"])
                    self.say(f"applied: {fixed.id} is now "
                             + (f"{fixed.label!r} (yours)" if fixed.status != "rejected"
                                else "rejected"))
            except LabelGraphError as exc:
                self.say(f"not applied: {exc}")

    def _drive(self) -> None:
        lg = self.lg
        try:
            while True:
                self._apply_changes()
                state = lg.graph.get_state(lg.config_dict)
                resume = None
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
                    elif state.values.get("stop_reason") and not state.next:
                        self.status = STOPPED
                        self._cv.notify_all()
                        self._cv.wait()
                        continue
                    elif self._pause:
                        self.status = PAUSED
                        self._cv.notify_all()
                        self._cv.wait()
                        continue
                    self.status = RUNNING
                    self._cv.notify_all()
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
        except Exception as exc:  # the run's own error: shown, and the run stays resumable
            self.error = f"{type(exc).__name__}: {exc}"
            self.say(f"the run stopped on an error: {self.error} (nothing is lost; "
                     f"labelgraph console {lg.run_dir} continues it)")
        self._set(STOPPED if not self._quit else self.status)

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
                self.say(f"stopped: {event.reason}")
        elif isinstance(event, Labeled | Verified):
            pass  # counted from the ledger when the round ends
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
        elif isinstance(event, LabelRequest):
            pass  # asked from the interrupt's value, once the graph has paused

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

    def _is_answer(self, line: str) -> bool:
        """Whether a typed line answers the waiting question (else it is a sentence)."""
        word = line.strip().lower()
        labels = {str(label).lower() for label in self.questions[0]["labels"]}
        return word.isdigit() or word in labels | {"skip", "s", "llm"} or \
            (len(word.split()) == 1 and by_name(word) is None)  # "status" is a command

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
                                else "the rest are skipped (this run has no LLM)")
            if word.lower() in {"skip", "s", ""}:
                label = None
            elif word.isdigit() and 1 <= int(word) <= len(q["labels"]):
                label = q["labels"][int(word) - 1]
            elif word in q["labels"]:
                label = word
            else:
                matches = [lab for lab in q["labels"] if lab.lower() == word.lower()]
                if not matches:
                    return self.say(f"answer with a number 1-{len(q['labels'])}, a label "
                                    f"({', '.join(q['labels'])}), 'skip' or 'llm'")
                label = matches[0]
            self._answers[q["id"]] = label
            self._cv.notify_all()
            done = len(self._answers) >= len(self.questions)
        self.say(f"  -> {label or 'skipped'}")
        return self.say("thanks, the run goes on" if done else self.question_text())

    # -- commands -----------------------------------------------------------------------
    def execute(self, line: str) -> str:
        """Run one typed line: a slash command, an answer to a waiting question, or a plain
        sentence (through the interpreter)."""
        line = line.strip()
        if not line:
            return ""
        self.say(f"> {line}", show=False)  # the person's line, for the transcript
        if not line.startswith("/") and self.status == WAITING and self.questions \
                and self._is_answer(line):
            return self.answer(line)
        if line.startswith("/"):
            if self.interpreter is not None:
                getattr(self.interpreter, "pending", []).clear()  # a command cancels a question
            parsed = parse_slash(line)
            if parsed is None:
                return self.say(f"unknown command {line.split()[0]!r}; /help lists them")
            return self.run_command(*parsed)
        if self.interpreter is None:
            from labelgraph.console.interpret import make_interpreter

            self.interpreter = make_interpreter(self)
        return self.interpreter.handle(self, line)

    def run_command(self, name: str, args: list[str]) -> str:
        """Run a command by name with its arguments; errors are answers, never crashes."""
        spec = by_name(name)
        if spec is None:
            return self.say(f"unknown command {name!r}")
        if spec.changes and self.lg.read_only and name not in {"quit"}:
            return self.say("read-only: another process drives this run, so it cannot be "
                            "changed from here")
        try:
            reply = self.say(getattr(self, f"cmd_{spec.name}")(*args))
            with self._cv:  # the driver applies queued changes only after the reply shows
                self._cv.notify_all()
            return reply
        except TypeError:
            return self.say(f"usage: /{spec.name} {spec.usage}".rstrip())
        except (LabelGraphError, ValueError) as exc:
            return self.say(f"cannot: {exc}")

    def _queue(self, kind: str, payload: dict[str, Any], note: str) -> str:
        with self._cv:
            self._changes.append((kind, {**payload, "_note": note} if kind == "steer"
                                  else payload))
        return f"ok: {note} (applied at the next step boundary)"

    def cmd_help(self) -> str:
        width = max(len(f"/{s.name} {s.usage}") for s in COMMANDS)
        lines = [f"  {f'/{s.name} {s.usage}'.ljust(width)}  {s.help}" for s in COMMANDS]
        return "commands (plain sentences work too):\n" + "\n".join(lines)

    def cmd_status(self) -> str:
        return self.status_line()

    def cmd_why(self) -> str:
        decisions = self.lg.context.ledger.decisions()
        if not decisions:
            return "no decision yet"
        d = decisions[-1]
        s = d.get("signals") or {}
        lines = [f"round {d['round']}: {d['action']} — {d['reason']}"]
        if d.get("followed"):
            lines.append(f"  followed: {', '.join(d['followed'])}")
        if d.get("criteria"):
            lines.append(f"  stopping criteria that voted: {', '.join(d['criteria'])}")
        if s:
            keys = ("labeled", "label_counts", "unlabeled", "accuracy", "curve_slope",
                    "rejection_rate", "synth_acceptance", "idle_rounds", "labels_left",
                    "kappas")
            lines.append("  signals: " + ", ".join(f"{k}={_short(s.get(k))}" for k in keys
                                                   if s.get(k) is not None))
            for agent, p in (s.get("proposals") or {}).items():
                lines.append(f"  {agent} proposed {p['action']}: {p['reason']}")
        return "\n".join(lines)

    def cmd_spend(self) -> str:
        from labelgraph.report import cost_rows

        cost = self.lg.cost_report()
        by_source = cost["labels_by_source"]
        lines = [f"labels bought: {cost['labels']} ("
                 + ", ".join(f"{s} {n}" for s, n in sorted(by_source.items())) + ")",
                 f"LLM: {cost['calls']} calls, {cost['tokens']} tokens"]
        lines += [f"  {agent}: {c['calls']} calls, {c['tokens']} tokens, ${c['usd']:.4f}"
                  for agent, c in self.lg.context.ledger.calls_by_agent().items()]
        lines += [f"{name.strip()}: {value}" for name, value in cost_rows(cost)]
        return "\n".join(lines)

    def cmd_labels(self) -> str:
        ctx = self.lg.context
        counts = ctx.memory.label_counts()
        flagged = ctx.memory.label_counts(status="flagged")
        total = sum(counts.values()) or 1
        return "\n".join(f"  {label:<16} {counts.get(label, 0):>5}  "
                         f"{'█' * round(30 * counts.get(label, 0) / total)}"
                         + (f"  (+{flagged[label]} flagged)" if flagged.get(label) else "")
                         for label in ctx.task.labels)

    def cmd_search(self, *words: str) -> str:
        if not words:
            raise TypeError
        ctx = self.lg.context
        hits = ctx.memory.similar(ctx.embedding.embed([" ".join(words)]), 5, status=None)[0]
        if not hits:
            return "memory is empty"
        return "\n".join(f"  {e.id}  {e.label:<10} {sim:.2f}  [{e.source}, {e.status}]  "
                         f"{e.text[:90]}" for e, sim in hits)

    def cmd_item(self, item_id: str) -> str:
        ctx = self.lg.context
        rows = [r for r in ctx.ledger.all_labels() if r.item_id.startswith(item_id)]
        if not rows:
            return f"no labeled item {item_id!r}"
        full = rows[0].item_id
        lines = [f"{full}: {rows[0].text}"]
        lines += [f"  round {r.round}: {r.source} said {r.label!r}"
                  + (f" ({r.confidence:.2f})" if r.confidence is not None else "")
                  for r in rows if r.item_id == full]
        lines += [f"  verdict: {v} — {reason}" for item, (v, _, reason)
                  in ctx.ledger.verdicts().items() if item == full]
        lines += [f"  you: {a['kind']} -> {a['payload'].get('label')}"
                  for a in ctx.ledger.human_actions()
                  if a["payload"].get("item_id") == full]
        found = ctx.memory.get([full])
        if found:
            lines.append(f"  in memory: {found[0].label!r} [{found[0].source}, "
                         f"{found[0].status}]")
        return "\n".join(lines)

    def cmd_flagged(self) -> str:
        flagged, _ = self.lg.context.memory.all(status="flagged")
        if not flagged:
            return "no flagged labels"
        return "\n".join(f"  {e.id}  {e.label:<10} [{e.source}, round {e.round}]  "
                         f"{e.text[:90]}" for e in flagged[:20])

    def cmd_history(self) -> str:
        decisions = self.lg.context.ledger.decisions()
        return "\n".join(f"  {d['round']:>3}  {d['action']:<10} {d.get('strategy') or '':<16}"
                         f" {d['reason']}" for d in decisions) or "no decisions yet"

    def cmd_curve(self) -> str:
        from labelgraph.report import plot_curve

        metrics = [m for m in self.lg.context.ledger.metrics() if m.get("accuracy") is not None]
        if not metrics:
            return "no accuracy measured yet (the run needs a test split)"
        png = plot_curve(pd.DataFrame(metrics), self.lg.run_dir / "curve.png")
        lo, hi = min(m["accuracy"] for m in metrics), max(m["accuracy"] for m in metrics)
        rows = [f"  {m['labels']:>6} labels  {m['accuracy']:.3f}  "
                f"{'▇' * max(1, round(40 * (m['accuracy'] - lo + 0.01) / (hi - lo + 0.01)))}"
                for m in metrics]
        return "\n".join(rows + [f"  (written to {png})"])

    def cmd_pause(self) -> str:
        with self._cv:
            self._pause = True
            self._cv.notify_all()
        return "pausing after the current step"

    def cmd_step(self) -> str:
        with self._cv:
            self._pause, self._step = False, True
            self._step_from = self.lg.context.ledger.last_round()
            self._cv.notify_all()
        return "running one round, then pausing"

    def cmd_continue(self) -> str:
        with self._cv:
            self._pause = self._step = False
            self._cv.notify_all()
        return "continuing"

    def cmd_stop(self) -> str:
        with self._cv:
            self._pause = False
            self._cv.notify_all()
        return self._queue("steer", {"force": {"action": "stop"}}, "stop the run")

    def cmd_strategy(self, name: str) -> str:
        return self._queue("steer", {"strategy": name}, f"strategy → {name}")

    def cmd_batch(self, n: str) -> str:
        return self._queue("steer", {"batch_size": int(n)}, f"batch size → {int(n)}")

    def cmd_synth(self, onoff: str) -> str:
        if onoff.lower() not in {"on", "off"}:
            raise ValueError("say /synth on or /synth off")
        return self._queue("steer", {"synthesize": onoff.lower() == "on"},
                           f"synthesis {onoff.lower()}")

    def cmd_threshold(self, x: str) -> str:
        value = float(x.rstrip("%")) / (100 if x.endswith("%") else 1)
        return self._queue("steer", {"confidence_threshold": value},
                           f"confidence threshold → {value:g}")

    def cmd_budget(self, *args: str) -> str:
        budget = self.lg.context.meter.budget.model_dump()
        if len(args) == 2 and args[0].lower() in {"usd", "$"}:
            budget["usd"] = float(args[1])
            note = f"money budget → ${float(args[1]):g}"
        elif len(args) == 1:
            n = int(args[0].lstrip("+"))
            budget["labels"] = (budget["labels"] or 0) + n if args[0].startswith("+") else n
            note = f"label budget → {budget['labels']}"
        else:
            raise TypeError
        return self._queue("steer", {"budget": budget}, note)

    def cmd_query(self, n: str, strategy: str | None = None) -> str:
        force = {"action": "query", "n": int(n), "strategy": strategy}
        return self._queue("steer", {"force": force}, f"next round: query {int(n)}"
                           + (f" by {strategy}" if strategy else ""))

    def cmd_synthesize(self, n: str, label: str | None = None) -> str:
        force = {"action": "synthesize", "n": int(n), "label": label}
        return self._queue("steer", {"force": force}, f"next round: synthesize {int(n)}"
                           + (f" for {label}" if label else ""))

    def _full_id(self, item_id: str) -> str:
        ids = {r.item_id for r in self.lg.context.ledger.all_labels()
               if r.item_id.startswith(item_id)}
        if len(ids) != 1:
            raise ValueError(f"{item_id!r} matches {len(ids)} labeled items")
        return ids.pop()

    def cmd_correct(self, item_id: str, label: str) -> str:
        full = self._full_id(item_id)
        return self._queue("correct", {"item_id": full, "label": label},
                           f"{full} → {label!r}")

    def cmd_reject(self, item_id: str) -> str:
        full = self._full_id(item_id)
        return self._queue("correct", {"item_id": full, "label": None}, f"reject {full}")

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
                "error": self.error}

    def __repr__(self) -> str:
        return f"Controller({json.dumps(self.snapshot())})"

