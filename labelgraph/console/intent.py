"""The offline intent matcher: plain sentences to console commands, without a chat model.

Each command's name, description and example phrasings are embedded once with the run's own
embedding (MiniLM by default); a sentence goes to the command whose references it is nearest,
then its arguments are pulled out by small rules (numbers, also written as words; strategy and
label names; on/off; item ids; the text to search). When the best command is not clearly ahead,
the matcher says so and the console asks. ``benchmarks/intent.py`` measures it on a phrasing
set written before it was tuned.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from labelgraph.console.commands import COMMANDS, Spec

__all__ = ["Intent", "IntentMatcher", "number_in"]

_UNITS = {w: n for n, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen".split())}
_TENS = {w: 10 * n for n, w in enumerate(
    "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()) if w != "_"}
_TENS["fourty"] = 40
_NUMBER = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)(%?)")

#: what people call each built-in strategy
STRATEGY_WORDS = {
    "entropy": "entropy", "margin": "margin", "margins": "margin", "smallest margin": "margin",
    "least confidence": "least_confidence", "least confident": "least_confidence",
    "least_confidence": "least_confidence", "lowest confidence": "least_confidence",
    "random": "random", "randomly": "random", "at random": "random",
    "diverse": "diverse_margin", "diversity": "diverse_margin",
    "diverse_margin": "diverse_margin", "diverse margin": "diverse_margin",
}
_OFF = ("off", "disable", "no more", "stop", "don't", "do not", "forbid", "without", "no synth",
        "no generat", "halt", "quit")
_MORE = ("more", "add", "another", "extra", "additional", "increase by", "raise by", "+")
_MONEY = ("usd", "$", "dollar", "money", "cents", "bucks")
#: words a typo is corrected toward (command names and the words that carry intent)
_VOCAB = ("search", "continue", "synthesize", "synthesis", "generate", "status", "strategy",
          "threshold", "budget", "history", "flagged", "learning", "curve", "pause", "resume",
          "entropy", "margin", "random", "diverse", "confidence", "examples", "labels",
          "correct", "reject", "query", "batch", "spend", "spent", "explain", "forty")


@dataclass(frozen=True)
class Intent:
    """What the matcher understood: a command and its arguments, how sure it is, and the
    runner-up it would ask about."""

    command: str | None
    args: list[str] = field(default_factory=list)
    score: float = 0.0
    sure: bool = False
    alternative: str | None = None

    def as_slash(self) -> str:
        return "/" + " ".join([self.command or "?", *self.args])


def number_in(text: str) -> float | None:
    """The first number in a text, written with digits or words ("twenty five" is 25)."""
    words = re.findall(r"[a-z]+|\d*\.?\d+%?", text.lower().replace("-", " "))
    total, seen = 0, False
    for word in words:
        if word[0].isdigit() or word[0] == ".":
            if seen:
                break
            value = float(word.rstrip("%"))
            return value / 100 if word.endswith("%") else value
        if word in _UNITS:
            total += _UNITS[word]
            seen = True
        elif word in _TENS:
            total += _TENS[word]
            seen = True
        elif word == "hundred" and seen:
            total *= 100
        elif word == "hundred":
            total, seen = 100, True
        elif word in {"a", "and"} and not seen:
            continue
        elif seen:
            break
    return float(total) if seen else None


def _digits(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def _fix_typos(text: str) -> str:
    """Words a letter or two away from a command word, put right ("serach" -> "search")."""
    import difflib

    out = []
    for word in text.split():
        core = word.strip("?.!,").lower()
        if len(core) >= 5 and core not in _VOCAB and core.isalpha():
            close = difflib.get_close_matches(core, _VOCAB, n=1, cutoff=0.8)
            if close:
                word = word.lower().replace(core, close[0])
        out.append(word)
    return " ".join(out)


class IntentMatcher:
    """Maps a sentence to a console command with the run's embedding function."""

    def __init__(self, embed: Callable[[list[str]], np.ndarray], labels: Sequence[str],
                 strategies: Sequence[str], commands: Sequence[Spec] = COMMANDS,
                 floor: float = 0.35, lead: float = 0.02) -> None:
        self.embed = embed
        self.labels = list(labels)
        self.strategies = list(strategies)
        self.floor, self.lead = floor, lead
        refs: list[str] = []
        self._owner: list[str] = []
        for spec in commands:
            for text in (spec.name, spec.help, *spec.examples):
                refs.append(text.lower())
                self._owner.append(spec.name)
        self._refs = self._unit(embed(refs))
        self._names = [s.name for s in commands]

    @staticmethod
    def _unit(matrix: np.ndarray) -> np.ndarray:
        matrix = np.asarray(matrix, dtype=np.float32)
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        return matrix / np.where(norms == 0, 1, norms)

    def scores(self, text: str) -> dict[str, float]:
        """Each command's best similarity to the sentence."""
        sims = self._refs @ self._unit(self.embed([text.lower()]))[0]
        out: dict[str, float] = {}
        for owner, sim in zip(self._owner, sims, strict=True):
            out[owner] = max(out.get(owner, -1.0), float(sim))
        return out

    def strategy_in(self, text: str) -> str | None:
        low = text.lower()
        for name in self.strategies:  # plug-in strategies by their own names
            if name in low and name not in STRATEGY_WORDS:
                return name
        for words in sorted(STRATEGY_WORDS, key=len, reverse=True):
            if re.search(rf"\b{re.escape(words)}\b", low):
                return STRATEGY_WORDS[words]
        return None

    def label_in(self, text: str) -> str | None:
        low = text.lower()
        for label in self.labels:
            if re.search(rf"\b{re.escape(label.lower())}\b", low):
                return label
        return None

    @staticmethod
    def id_in(text: str) -> str | None:
        for token in re.findall(r"\b[0-9a-f]{6,}\b", text.lower()):
            if any(c.isdigit() for c in token):
                return token
        return None

    def _prior(self, text: str) -> dict[str, float]:
        """Nudges from words that name a command's subject outright."""
        low = text.lower()
        number = number_in(low)
        nudge: dict[str, float] = {}
        strategy = self.strategy_in(low)
        if strategy and number is None:
            nudge["strategy"] = 0.3
        if strategy and number is not None:
            nudge["query"] = 0.15
        if any(w in low for w in ("synthes", "generat", "synthetic", "making up", "make up")):
            nudge["synthesize" if number is not None else "synth"] = 0.15
        if self.id_in(low):
            label = self.label_in(low)
            nudge["correct" if label else "item"] = 0.3
            if any(w in low for w in ("reject", "drop", "remove", "wrong", "throw")):
                nudge["reject"] = 0.25
        if re.search(r"\b(why|explain|how come)\b", low):
            nudge["why"] = 0.15
        if re.search(r"\b(done|finish|finished|enough)\b", low):
            nudge["stop"] = 0.1
        if any(w in low for w in _MONEY) or "spent" in low or "cost" in low or "spend" in low:
            nudge["budget" if number is not None else "spend"] = 0.1
        return nudge

    def args_for(self, command: str, text: str) -> list[str]:
        """The arguments of ``command`` found in the sentence (empty where none are)."""
        low = text.lower()
        number = number_in(low)
        if command == "strategy":
            found = self.strategy_in(low)
            return [found] if found else []
        if command in {"batch"}:
            return [_digits(number)] if number is not None else []
        if command == "threshold":
            if number is None:
                return []
            return [f"{number / 100:g}" if number > 1 else f"{number:g}"]
        if command == "budget":
            if number is None:
                return []
            if any(w in low for w in _MONEY):
                return ["usd", f"{number:g}"]
            return [("+" if any(w in low for w in _MORE) else "") + _digits(number)]
        if command == "query":
            out = [_digits(number)] if number is not None else []
            found = self.strategy_in(low)
            return out + ([found] if found and out else [])
        if command == "synthesize":
            out = [_digits(number)] if number is not None else []
            label = self.label_in(low)
            return out + ([label] if label and out else [])
        if command == "synth":
            return ["off" if any(w in low for w in _OFF) else "on"]
        if command in {"item", "reject"}:
            found = self.id_in(low)
            return [found] if found else []
        if command == "correct":
            found, label = self.id_in(low), self.label_in(low)
            return [found, label] if found and label else []
        if command == "search":
            quoted = re.findall(r"[\"“'](.+?)[\"”']", text)
            if quoted:
                return [quoted[0]]
            match = re.search(r"\b(?:for|like|about|similar to|mentioning|containing)\s+(.+)$",
                              text, flags=re.IGNORECASE)
            return [match.group(1).strip(" ?.!")] if match else []
        return []

    def match(self, text: str) -> Intent:
        """The command a sentence most likely means, with its arguments."""
        text = _fix_typos(text.strip())
        if not text:
            return Intent(None)
        words = re.findall(r"[a-z]+", text.lower())
        if len(words) <= 1 and not (words and words[0] in self._names):
            return Intent(None)  # one word that names no command: refuse, do not guess
        scores = self.scores(text)
        for name, bonus in self._prior(text).items():
            if name in scores:
                scores[name] += bonus
        ranked = sorted(scores.items(), key=lambda kv: -kv[1])
        (best, top), (second, runner) = ranked[0], ranked[1]
        if top < self.floor:
            return Intent(None, score=top, alternative=best)
        args = self.args_for(best, text)
        sure = top - runner >= self.lead
        return Intent(best, args, top, sure, None if sure else second)
