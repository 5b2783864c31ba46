"""The console's commands: one table that the slash parser, ``/help``, the offline intent
matcher and the console agent's tools are all built from."""

from __future__ import annotations

import shlex
from dataclasses import dataclass

__all__ = ["COMMANDS", "Spec", "by_name", "parse_slash"]


@dataclass(frozen=True)
class Spec:
    """One console command."""

    name: str
    usage: str  #: its arguments, as /help shows them
    help: str  #: what it does, in one line (also the matcher's and the agent's description)
    examples: tuple[str, ...] = ()  #: how people say it (the offline matcher's references)
    changes: bool = False  #: it changes the run: the console agent must ask first


COMMANDS: tuple[Spec, ...] = (
    # -- watch and ask
    Spec("status", "", "the run's state, budget used and left, accuracy and round",
         ("status", "where are we", "how is the run going", "what is the state of the run",
          "show progress", "how far along are we", "what round is it", "what is the accuracy")),
    Spec("why", "", "why the last decision: its signals, the agents' proposals, what it followed",
         ("why", "why did you do that", "explain the last decision", "what was the reasoning",
          "why did you synthesize", "why that strategy",
          "what made you decide that")),
    Spec("spend", "", "spend by source and money per accepted label",
         ("spend", "how much did we spend", "what did it cost", "show the costs",
          "how much money is left", "cost per label", "what is the bill so far",
          "how many tokens have we used")),
    Spec("labels", "", "the label distribution in memory",
         ("labels", "label distribution", "how many of each label", "class balance",
          "show me the counts per class", "how many positives and negatives")),
    Spec("search", "TEXT", "search labeled memory for texts similar to TEXT",
         ("search for", "find examples like", "look up texts about", "search memory for",
          "show me labeled examples similar to")),
    Spec("item", "ID", "show one item with its history: who labeled it, confidence, verdicts",
         ("item", "show item", "history of item", "who labeled item", "tell me about item")),
    Spec("flagged", "", "the labels the verifier flagged",
         ("flagged", "show flagged labels", "which labels look wrong", "suspicious labels",
          "what did the verifier flag", "list the flags")),
    Spec("history", "", "the decision history, one line per round",
         ("history", "decision history", "what happened so far", "list the decisions",
          "show all rounds", "what have you done each round")),
    Spec("curve", "", "draw the learning curve here and write it as a PNG",
         ("curve", "learning curve", "plot the accuracy", "draw the curve",
          "show me the learning curve", "graph the progress")),
    # -- steer
    Spec("pause", "", "pause after the current step",
         ("pause", "hold on", "wait", "pause the run", "stop for a moment", "freeze",
          "hang on a second", "pause after this step"), changes=True),
    Spec("step", "", "run one round, then pause",
         ("step", "one more round", "do a single round", "advance one step", "run one round "
          "then pause", "next round only"), changes=True),
    Spec("continue", "", "continue running",
         ("continue", "go on", "resume", "carry on", "unpause", "run again",
          "proceed"), changes=True),
    Spec("stop", "", "stop the run: the supervisor's next decision is stop",
         ("stop", "stop the run", "end it", "we are done", "finish now",
          "terminate the run"), changes=True),
    Spec("strategy", "NAME", "change the query strategy",
         ("strategy", "switch to", "use the strategy", "change the strategy to",
          "sample by", "query by"), changes=True),
    Spec("batch", "N", "change the batch size",
         ("batch", "batch size", "set the batch size to", "label per round",
          "bigger batches", "smaller batches"), changes=True),
    Spec("synth", "on|off", "allow or forbid synthesizing new examples",
         ("synth", "turn synthesis off", "stop generating examples", "no more synthetic data",
          "enable synthesis", "allow generated examples", "turn on generation"), changes=True),
    Spec("threshold", "X", "the hybrid annotator's confidence threshold (0 to 1)",
         ("threshold", "confidence threshold", "set the threshold to",
          "ask me when the llm is less than sure", "route more to the human"), changes=True),
    Spec("budget", "N | +N | usd X", "set the label budget to N, add N labels, or set dollars",
         ("budget", "raise the budget", "give me more labels", "set the budget to",
          "increase the label budget", "allow more spending", "more money", "add labels"),
         changes=True),
    Spec("query", "N [STRATEGY]", "force the next round: query N items, by a strategy",
         ("query", "label more items now", "query items by", "pick items for labeling",
          "get items from the pool", "annotate more examples from the pool"), changes=True),
    Spec("synthesize", "N [LABEL]", "force the next round: generate N examples for a label",
         ("synthesize", "generate examples", "write new examples for", "make synthetic texts",
          "create examples of", "generate some"), changes=True),
    Spec("correct", "ID LABEL", "change a label in memory (recorded as yours)",
         ("correct", "relabel item", "that item should be", "fix the label of",
          "change the label of item"), changes=True),
    Spec("reject", "ID", "reject a label in memory (kept out of training)",
         ("reject", "reject item", "drop the label of", "that label is wrong, remove it",
          "throw out item"), changes=True),
    # -- the console itself
    Spec("help", "", "list the commands",
         ("help", "what can you do", "commands", "what can I type", "how does this work")),
    Spec("quit", "", "leave the console (the run is kept; reopen it to continue)",
         ("quit", "exit", "bye", "leave", "close the console", "I'm done here")),
)

_BY_NAME = {spec.name: spec for spec in COMMANDS}
_ALIASES = {"run": "continue", "resume": "continue", "go": "continue", "exit": "quit",
            "generate": "synthesize", "cost": "spend", "costs": "spend", "?": "help"}


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
