"""The console's reading commands: each a function of the run and its arguments that returns
the text to show, and changes nothing (``/export`` writes a file, not the run)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from labelgraph.api import LabelGraph
from labelgraph.console.changes import CommandError, find_item, number, optional_criteria
from labelgraph.console.commands import COMMANDS, HELP_TOPICS, by_name
from labelgraph.registry import registry

__all__ = ["READS"]


def _short(value: Any) -> Any:
    """A value with its floats at three decimals, for display."""
    if isinstance(value, float):
        return round(value, 3)
    if isinstance(value, list):
        return [_short(v) for v in value]
    return value


def why(lg: LabelGraph, round_: str | None = None) -> str:
    decisions = lg.context.ledger.decisions()
    if not decisions:
        return "no decision yet"
    d = decisions[-1]
    if round_ is not None:
        n = int(number(round_, "/why", example=" of a round (/why 4)"))
        found = [x for x in decisions if x["round"] == n]
        if not found:
            raise CommandError(f"no decision for round {n}; rounds "
                               f"{decisions[0]['round']}-{decisions[-1]['round']} have one")
        d = found[0]
    s = d.get("signals") or {}
    lines = [f"round {d['round']}: {d['action']}"
             + (f" {d['strategy']}" if d.get("strategy") else "") + f" — {d['reason']}"]
    if d.get("followed"):
        lines.append(f"  followed: {', '.join(d['followed'])}")
    if d.get("criteria"):
        lines.append(f"  stopping criteria that voted: {', '.join(d['criteria'])}")
    if s:
        keys = ("labeled", "label_counts", "unlabeled", "accuracy", "curve_slope",
                "rejection_rate", "synth_acceptance", "idle_rounds", "labels_left", "kappas")
        lines.append("  signals: " + ", ".join(f"{k}={_short(s.get(k))}" for k in keys
                                               if s.get(k) is not None))
        for agent, p in (s.get("proposals") or {}).items():
            lines.append(f"  {agent} proposed {p['action']}: {p['reason']}")
    return "\n".join(lines)


def spend(lg: LabelGraph) -> str:
    from labelgraph.report import cost_rows

    cost = lg.cost_report()
    by_source = cost["labels_by_source"]
    lines = [f"labels bought: {cost['labels']} ("
             + ", ".join(f"{s} {n}" for s, n in sorted(by_source.items())) + ")",
             f"LLM: {cost['calls']} calls, {cost['tokens']} tokens"]
    lines += [f"  {agent}: {c['calls']} calls, {c['tokens']} tokens, ${c['usd']:.4f}"
              for agent, c in lg.context.ledger.calls_by_agent().items()]
    lines += [f"{name.strip()}: {value}" for name, value in cost_rows(cost)]
    return "\n".join(lines)


def labels(lg: LabelGraph) -> str:
    ctx = lg.context
    counts = ctx.memory.label_counts()
    flagged = ctx.memory.label_counts(status="flagged")
    total = sum(counts.values()) or 1
    return "\n".join(f"  {label:<16} {counts.get(label, 0):>5}  "
                     f"{'█' * round(30 * counts.get(label, 0) / total)}"
                     + (f"  (+{flagged[label]} flagged)" if flagged.get(label) else "")
                     for label in ctx.task.labels)


def search(lg: LabelGraph, *words: str) -> str:
    if not words:
        raise CommandError("say what to search for: /search TEXT")
    ctx = lg.context
    hits = ctx.memory.similar(ctx.embedding.embed([" ".join(words)]), 5, status=None)[0]
    if not hits:
        return "memory is empty"
    return "\n".join(f"  {e.id[:10]}  {e.label:<10} {sim:.2f}  [{e.source}, {e.status}]  "
                     f"{e.text[:90]}" for e, sim in hits)


def item(lg: LabelGraph, prefix: str | None = None) -> str:
    if prefix is None:
        raise CommandError("say which item: /item ID (its first 4 or more characters)")
    ctx = lg.context
    full = find_item(lg, prefix)
    rows = [r for r in ctx.ledger.all_labels() if r.item_id == full]
    lines = [f"{full}: {rows[0].text}"]
    lines += [f"  round {r.round}: {r.source} said {r.label!r}"
              + (f" ({r.confidence:.2f})" if r.confidence is not None else "") for r in rows]
    lines += [f"  verdict: {v} — {reason}" for i, (v, _, reason)
              in ctx.ledger.verdicts().items() if i == full]
    lines += [f"  you: {a['kind']} -> {a['payload'].get('label')}"
              for a in ctx.ledger.human_actions() if a["payload"].get("item_id") == full]
    found = ctx.memory.get([full])
    if found:
        lines.append(f"  in memory: {found[0].label!r} [{found[0].source}, {found[0].status}]")
    return "\n".join(lines)


def flagged(lg: LabelGraph) -> str:
    found, _ = lg.context.memory.all(status="flagged")
    if not found:
        return "no flagged labels"
    return "\n".join(f"  {e.id[:10]}  {e.label:<10} [{e.source}, round {e.round}]  "
                     f"{e.text[:90]}" for e in found[:20])


def history(lg: LabelGraph) -> str:
    decisions = lg.context.ledger.decisions()
    return "\n".join(f"  {d['round']:>3}  {d['action']:<10} {d.get('strategy') or '':<16}"
                     f" {d['reason']}" for d in decisions) or "no decisions yet"


def curve(lg: LabelGraph) -> str:
    from labelgraph.report import plot_curve

    metrics = [m for m in lg.context.ledger.metrics() if m.get("accuracy") is not None]
    if not metrics:
        return "no accuracy measured yet (the run needs a test split)"
    png = plot_curve(pd.DataFrame(metrics), lg.run_dir / "curve.png")
    lo, hi = min(m["accuracy"] for m in metrics), max(m["accuracy"] for m in metrics)
    rows = [f"  {m['labels']:>6} labels  {m['accuracy']:.3f}  "
            f"{'▇' * max(1, round(40 * (m['accuracy'] - lo + 0.01) / (hi - lo + 0.01)))}"
            for m in metrics]
    return "\n".join(rows + [f"  (written to {png})"])


def tools(lg: LabelGraph) -> str:
    from labelgraph.tools.builtin import BUILTIN_TOOLS

    ctx = lg.context
    lines = ["how each agent works in this run:"]
    modes = lg.agent_modes()
    lines += [f"  {agent:<10} {mode}" for agent, mode in modes.items()]
    rows = [(spec.agent, spec.name, spec.origin) for spec in ctx.tools.specs()]
    rows += [(agent, name, "built-in") for agent, mode in modes.items()
             if "tool-calling" in mode for name in BUILTIN_TOOLS.get(agent, ())]
    lines.append("tools:" if rows else "tools: none beyond the agents' own work")
    lines += [f"  {agent if agent != 'all' else 'every agent':<10} {name:<24} {origin}"
              for agent, name, origin in sorted(rows)]
    return "\n".join(lines)


def _first_line(obj: Any) -> str:
    doc = (getattr(obj, "__doc__", None) or "").strip().splitlines()
    return doc[0] if doc else ""


def help_(lg: LabelGraph, topic: str | None = None) -> str:
    if topic is None:
        width = max(len(f"/{s.name} {s.usage}") for s in COMMANDS)
        lines = [f"  {f'/{s.name} {s.usage}'.ljust(width)}  {s.help}" for s in COMMANDS]
        return ("commands (plain sentences work too; a change from a sentence is shown and "
                "asked first):\n" + "\n".join(lines)
                + f"\n/help TOPIC for {', '.join(HELP_TOPICS)} or a command")
    word = topic.lower().strip("/")
    if word.startswith("strateg"):
        names = registry.names("strategies")
        now = lg.context.config.strategy
        return "strategies (/strategy NAME):\n" + "\n".join(
            f"  {name:<20}{' (now)' if name == now else '      '} "
            f"{_first_line(registry.get('strategies', name))}" for name in sorted(names))
    if word.startswith("stop"):
        now = set(lg.context.config.stopping)
        return ("optional stopping criteria (/stopping off NAME, /stopping on NAME); the "
                "budgets, idle rounds and an exhausted pool always apply:\n" + "\n".join(
                    f"  {name:<26}{'on ' if name in now else 'off'}  "
                    f"{_first_line(registry.get('stopping', name))}"
                    for name in optional_criteria()))
    if word.startswith("label"):
        return "labels of this run: " + ", ".join(lg.task.labels)
    if word.startswith("format") or word == "export":
        from labelgraph.export import FORMATS

        return "export formats (/export FORMAT [PATH]): " + ", ".join(FORMATS)
    spec = by_name(word)
    if spec is not None:
        return f"/{spec.name} {spec.usage}".rstrip() + f" — {spec.help}"
    raise CommandError(f"no help on {topic!r}; topics: {', '.join(HELP_TOPICS)} or a command")


def export(lg: LabelGraph, *args: str) -> str:
    from labelgraph.export import FORMATS, export

    fmt = path = None
    for arg in args:
        if arg.lower() in FORMATS and fmt is None:
            fmt = arg.lower()
        elif path is None:
            path = arg
        else:
            raise CommandError("say /export [FORMAT] [PATH]")
    out = export(lg, path, fmt)
    return f"wrote {out} ({len(lg.context.memory.all(status=None)[0])} labeled items)"


#: reading command name -> function(lg, *args)
READS = {"why": why, "spend": spend, "labels": labels, "search": search, "item": item,
         "flagged": flagged, "history": history, "curve": curve, "tools": tools,
         "help": help_, "export": export}
