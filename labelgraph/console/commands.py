"""The console's commands: one table that the slash parser, ``/help``, the offline intent
parser and the console agent's tools are all built from."""

from __future__ import annotations

import shlex
from dataclasses import dataclass

__all__ = ["COMMANDS", "HELP_TOPICS", "Spec", "by_name", "parse_slash"]


@dataclass(frozen=True)
class Spec:
    """One console command."""

    name: str
    usage: str  #: its arguments, as /help shows them
    help: str  #: what it does, in one line (also the console agent's description)
    examples: tuple[str, ...] = ()  #: plain sentences that mean it (the fallback matcher's)
    changes: bool = False  #: it changes the run: plain language must ask first


COMMANDS: tuple[Spec, ...] = (
    # -- watch and ask
    Spec("status", "", "the run's state, round, budget used and left, accuracy",
         ("status", "how is the run going", "show progress", "how much budget is left")),
    Spec("why", "[ROUND]", "why the last decision (or round ROUND's): signals, the agents' "
         "proposals, what it followed",
         ("why", "explain the last decision", "what was the reasoning")),
    Spec("spend", "", "spend by source, tokens, and money per accepted label",
         ("spend", "how much did we spend", "show the costs")),
    Spec("labels", "", "the label distribution in memory",
         ("labels", "label distribution", "class balance")),
    Spec("search", "TEXT", "search labeled memory for texts similar to TEXT",
         ("search memory for", "find labeled examples like")),
    Spec("item", "ID", "one item with its history: who labeled it, confidence, verdicts "
         "(ID: 4 or more first characters)",
         ("show item", "history of item")),
    Spec("flagged", "", "the labels the verifier flagged",
         ("flagged labels", "which labels look wrong")),
    Spec("history", "", "the decision history, one line per round",
         ("decision history", "what happened each round")),
    Spec("curve", "", "the learning curve here, and as a PNG",
         ("learning curve", "plot the accuracy")),
    Spec("pending", "", "the label questions waiting for you (answer them here)",
         ("pending questions", "what needs my answer")),
    Spec("undo", "", "take back your last answer to the questions being asked"),
    Spec("tools", "", "each agent's tools and how each agent works in this run",
         ("which tools do the agents have",)),
    Spec("export", "[FORMAT] [PATH]", "write the labels to a file: csv, jsonl, parquet, hf, "
         "label-studio or argilla (docs/formats.md)",
         ("export the labels", "save the dataset to a file")),
    # -- steer
    Spec("pause", "", "pause after the current step (between items on a local model)",
         ("pause the run", "hold on"), changes=True),
    Spec("step", "", "run one round, then pause",
         ("run one round then pause", "one more round"), changes=True),
    Spec("continue", "", "go on: after a pause, or after a stop once it has a reason to",
         ("continue", "go on", "resume"), changes=True),
    Spec("stop", "", "stop the run: the supervisor's next decision is stop",
         ("stop the run", "end the run for good"), changes=True),
    Spec("strategy", "NAME", "change the query strategy (/help strategies lists them)",
         ("change the strategy to", "switch the sampling to"), changes=True),
    Spec("batch", "N", "change the batch size (items per round)",
         ("set the batch size to",), changes=True),
    Spec("synth", "on|off", "allow or forbid synthesizing new examples",
         ("turn synthesis off", "allow generated examples"), changes=True),
    Spec("threshold", "X", "the hybrid annotator's confidence threshold (0 to 1)",
         ("set the confidence threshold to",), changes=True),
    Spec("budget", "N | +N | -N | usd X | usd +X",
         "set the label budget to N, add or remove N labels, set or add dollars",
         ("raise the label budget", "add labels to the budget"), changes=True),
    Spec("stopping", "off|on NAME", "lift an optional stopping criterion, or apply it again "
         "(/help stopping lists them)",
         ("turn off the stopping criterion",), changes=True),
    Spec("query", "[N] [STRATEGY]", "force the next round: query N items, by a strategy",
         ("label more items from the pool now",), changes=True),
    Spec("synthesize", "[N] [LABEL]", "force the next round: generate N examples for a label",
         ("generate new examples now",), changes=True),
    Spec("correct", "ID LABEL", "change a label in memory (recorded as yours)",
         ("relabel item", "change the label of item"), changes=True),
    Spec("reject", "ID", "reject a label in memory (kept out of training)",
         ("reject the label of item",), changes=True),
    # -- the console itself
    Spec("help", "[TOPIC]", "the commands; /help strategies, stopping, labels or a command",
         ("help", "what can you do")),
    Spec("quit", "", "leave the console (the run is kept; reopen it to go on)",
         ("quit", "leave the console")),
)

#: /help TOPIC: what each topic lists (a command's name is a topic too)
HELP_TOPICS = ("strategies", "stopping", "labels", "formats")

_BY_NAME = {spec.name: spec for spec in COMMANDS}
_ALIASES = {"run": "continue", "resume": "continue", "go": "continue", "exit": "quit",
            "bye": "quit", "generate": "synthesize", "cost": "spend", "costs": "spend",
            "?": "help", "questions": "pending", "q": "quit"}


def by_name(name: str) -> Spec | None:
    """A command by name or alias."""
    return _BY_NAME.get(_ALIASES.get(name, name))


def parse_slash(line: str) -> tuple[str, list[str]] | None:
    """``/name args...`` as (command name, arguments); None if it is not a known command."""
    try:
        words = shlex.split(line.strip().lstrip("/"))
    except ValueError:
        words = line.strip().lstrip("/").split()
    if not words:
        return None
    spec = by_name(words[0].lower())
    return (spec.name, words[1:]) if spec else None
