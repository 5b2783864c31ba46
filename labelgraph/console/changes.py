"""Changes a console command would make, checked and put in words before anything happens.

:func:`plan` turns a changing command and its arguments into a :class:`Change` — or a
:class:`CommandError` whose message is a sentence saying what is wrong and how to say it —
while the command is typed, so a bad name or number is refused at once and plain language
can show the exact change ("label budget 200 → 250 (+50)") before asking for a yes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from labelgraph.api import LabelGraph
from labelgraph.errors import LabelGraphError
from labelgraph.registry import registry
from labelgraph.stopping import GUARDRAIL_CRITERIA

__all__ = ["Change", "CommandError", "find_item", "number", "optional_criteria", "plan"]

#: controller-level changes (the controller carries them out itself)
CONTROL = ("pause", "step", "continue", "quit")
_UNITS = {"labels": "labels", "label": "labels", "usd": "usd", "$": "usd", "dollars": "usd",
          "money": "usd", "tokens": "tokens", "rounds": "rounds"}


class CommandError(LabelGraphError):
    """A command that cannot be done as typed; the message is a sentence for the person."""


@dataclass(frozen=True)
class Change:
    """What a changing command will do: ``kind`` "steer" (``LabelGraph.steer(**payload)``),
    "correct" (``LabelGraph.correct``), "control" (pause, step, continue, quit) or "read" (a
    reading command with a side effect, such as a file written), and ``note``, the change in
    words."""

    name: str
    args: tuple[str, ...]
    kind: str
    note: str
    payload: dict[str, Any] = field(default_factory=dict)


def number(text: str, what: str, *, whole: bool = True, low: float | None = 1,
           example: str = "") -> float:
    """``text`` as a number for ``what``, or a CommandError that says what was expected."""
    clean = text.strip().rstrip("%").lstrip("$")
    try:
        value = float(clean)
    except ValueError:
        raise CommandError(f"{what} needs a number{example}, not {text!r}") from None
    if whole and not value.is_integer():
        raise CommandError(f"{what} needs a whole number{example}, not {text!r}")
    if low is not None and value < low:
        raise CommandError(f"{what} must be at least {low:g}{example}, not {text!r}")
    return int(value) if whole else value


def optional_criteria() -> list[str]:
    """The stopping criteria a person may turn on or off (the guardrails always apply)."""
    return [n for n in registry.names("stopping") if n not in GUARDRAIL_CRITERIA]


def _show(unit: str, value: float | None) -> str:
    if value is None:
        return "none"
    return f"${value:g}" if unit == "usd" else f"{value:g}"


def _budget(lg: LabelGraph, args: tuple[str, ...]) -> Change:
    """``N``, ``+N``, ``-N``, and ``usd|tokens|rounds`` before any of them."""
    usage = " (say /budget 250, /budget +50, /budget usd 5 or /budget usd +2)"
    words = [a.lower() for a in args]
    unit = "labels"
    if words and words[0] in _UNITS:
        unit = _UNITS[words.pop(0)]
    if len(words) != 1:
        raise CommandError("the budget needs one amount" + usage)
    amount = words[0]
    sign = amount[0] if amount[0] in "+-" else ""
    whole = unit != "usd"
    value = number(amount.lstrip("+-"), f"the {unit} budget", whole=whole,
                   low=0 if sign or unit == "usd" else 1, example=usage)
    ctx = lg.context
    budget = ctx.meter.budget.model_dump()
    old = budget[unit]
    if sign and old is None:
        raise CommandError(f"the {unit} budget has no limit to add to; set one first: "
                           f"/budget {unit} N")
    new = (old or 0) + value if sign == "+" else (old or 0) - value if sign == "-" else value
    if new < (0 if unit in {"usd", "tokens"} else 1):
        raise CommandError(f"that leaves a {unit} budget of {_show(unit, new)}; it must stay "
                           f"above {'0' if unit in {'usd', 'tokens'} else '0 labels'}")
    budget[unit] = int(new) if whole else round(float(new), 6)
    name = {"labels": "label budget", "usd": "money budget", "tokens": "token budget",
            "rounds": "round budget"}[unit]
    delta = (budget[unit] - old) if old is not None else None
    note = f"{name} {_show(unit, old)} → {_show(unit, budget[unit])}"
    if delta is not None and delta:
        shown = f"${abs(delta):g}" if unit == "usd" else f"{abs(delta):g}"
        note += f" ({'+' if delta > 0 else '-'}{shown}{', a cut' if delta < 0 else ''})"
    ctx.meter.refresh()
    spent = ctx.ledger.last_round() if unit == "rounds" else ctx.meter.snapshot()[unit]
    if budget[unit] <= spent:
        note += f"; {_show(unit, spent)} already {'spent' if unit != 'rounds' else 'run'}," \
                " so the run stops"
    return Change("budget", args, "steer", note, {"budget": budget})


def _label(lg: LabelGraph, text: str) -> str:
    labels = list(lg.task.labels)
    found = [label for label in labels if label.lower() == text.lower()]
    if not found:
        raise CommandError(f"{text!r} is not a label of this run; its labels are "
                           f"{', '.join(labels)}")
    return found[0]


def _strategy(lg: LabelGraph, text: str) -> str:
    names = registry.names("strategies")
    if text not in names:
        raise CommandError(f"unknown strategy {text!r}; choose one of {', '.join(sorted(names))} "
                           "(/help strategies says what each does)")
    return text


def find_item(lg: LabelGraph, prefix: str) -> str:
    """The one labeled item whose id starts with ``prefix`` (4 characters or more)."""
    prefix = prefix.lower().strip()
    if len(prefix) < 4:
        raise CommandError(f"an item id needs at least 4 characters, got {prefix!r}")
    ids = {r.item_id for r in lg.context.ledger.all_labels() if r.item_id.startswith(prefix)}
    if not ids:
        raise CommandError(f"no labeled item starts with {prefix!r}")
    if len(ids) > 1:
        raise CommandError(f"{prefix!r} starts {len(ids)} labeled items "
                           f"({', '.join(sorted(i[:10] for i in ids)[:4])}…); type more of it")
    return ids.pop()


def plan(lg: LabelGraph, name: str, args: list[str] | tuple[str, ...]) -> Change:
    """The change command ``name`` makes with ``args``, checked against the run; a
    CommandError (a sentence) when it cannot be done."""
    args = tuple(args)
    config = lg.context.config
    if name in CONTROL:
        if args:
            raise CommandError(f"/{name} takes no arguments")
        note = {"pause": "pause the run after the current step",
                "step": "run one round, then pause", "continue": "let the run go on",
                "quit": "leave the console (the run is kept)"}[name]
        return Change(name, args, "control", note)
    if name == "stop":
        return Change(name, args, "steer", "stop the run (its next decision is stop)",
                      {"force": {"action": "stop"}})
    if name == "budget":
        return _budget(lg, args)
    if name == "strategy":
        if len(args) != 1:
            raise CommandError("say which strategy: /strategy NAME (/help strategies lists "
                               "them)")
        new = _strategy(lg, args[0])
        return Change(name, args, "steer", f"strategy {config.strategy} → {new}",
                      {"strategy": new})
    if name == "batch":
        if len(args) != 1:
            raise CommandError("say the batch size: /batch N")
        n = int(number(args[0], "the batch size", example=" (/batch 30)"))
        return Change(name, args, "steer", f"batch size {config.batch_size} → {n}",
                      {"batch_size": n})
    if name == "synth":
        word = args[0].lower() if len(args) == 1 else ""
        if word not in {"on", "off"}:
            raise CommandError("say /synth on or /synth off")
        now = "on" if config.synthesize else "off"
        return Change(name, args, "steer", f"synthesis {now} → {word}",
                      {"synthesize": word == "on"})
    if name == "threshold":
        if len(args) != 1:
            raise CommandError("say the confidence threshold: /threshold 0.7")
        value = number(args[0], "the confidence threshold", whole=False, low=0,
                       example=" between 0 and 1 (/threshold 0.7)")
        if args[0].strip().endswith("%") or (value > 1 and float(value).is_integer()):
            value = value / 100  # "60%" or "60": a percentage
        if not 0 <= value <= 1:
            raise CommandError(f"the confidence threshold is between 0 and 1, not {args[0]!r}")
        old = "derived from the budget" if config.confidence_threshold is None \
            else f"{config.confidence_threshold:g}"
        return Change(name, args, "steer", f"confidence threshold {old} → {value:g}",
                      {"confidence_threshold": value})
    if name == "stopping":
        if len(args) != 2 or args[0].lower() not in {"on", "off"}:
            raise CommandError("say /stopping off NAME or /stopping on NAME (/help stopping "
                               "lists them)")
        which = args[1]
        if which not in optional_criteria():
            raise CommandError(f"unknown stopping criterion {which!r}; choose one of "
                               f"{', '.join(optional_criteria())}")
        now = list(config.stopping)
        new = [n for n in now if n != which] if args[0].lower() == "off" else \
            list(dict.fromkeys([*now, which]))
        if new == now:
            raise CommandError(f"{which} is already {args[0].lower()}")
        return Change(name, args, "steer", f"stopping criteria {', '.join(now) or 'none'} → "
                      f"{', '.join(new) or 'none'}", {"stopping": new})
    if name in {"query", "synthesize"}:
        rest = list(args)
        n = None
        if rest and re.fullmatch(r"[+-]?\d+(\.\d+)?", rest[0]):
            n = int(number(rest.pop(0), f"/{name}", example=f" of items (/{name} 20)"))
        if len(rest) > 1:
            raise CommandError(f"usage: /{name} [N] [{'STRATEGY' if name == 'query' else 'LABEL'}]")
        force: dict[str, Any] = {"action": name, "n": n}
        what = f"{n} items" if n else "a batch"
        if name == "query":
            force["strategy"] = _strategy(lg, rest[0]) if rest else None
            note = f"next round: query {what}" + (f" by {rest[0]}" if rest else "")
        else:
            force["label"] = _label(lg, rest[0]) if rest else None
            if not lg.context.config.synthesize or lg.context.llm is None:
                raise CommandError("this run cannot synthesize: "
                                   + ("it has no LLM" if lg.context.llm is None
                                      else "synthesis is off (/synth on)"))
            note = f"next round: synthesize {what}" + (f" for {force['label']}" if rest
                                                         else "")
        return Change(name, args, "steer", note, {"force": force})
    if name == "correct":
        if len(args) != 2:
            raise CommandError("say /correct ID LABEL")
        full, label = find_item(lg, args[0]), _label(lg, args[1])
        old = lg.context.memory.get([full])
        was = f" (was {old[0].label!r})" if old else ""
        return Change(name, args, "correct", f"{full[:10]} → {label!r}{was}",
                      {"item_id": full, "label": label})
    if name == "reject":
        if len(args) != 1:
            raise CommandError("say /reject ID")
        full = find_item(lg, args[0])
        return Change(name, args, "correct", f"reject the label of {full[:10]}",
                      {"item_id": full, "label": None})
    raise CommandError(f"/{name} does not change the run")
