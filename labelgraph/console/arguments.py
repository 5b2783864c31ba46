"""A command's arguments read from a sentence: amounts that add or set ("by 50", "another 50"
add; "to 50" sets), dollars and labels, the run's labels and strategies (an unknown one is
kept, so the console can name it), item ids by their first characters, stopping criteria,
export formats and paths, the text to search for, and whether a switch is turned off.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from labelgraph.console.lexicon import (
    CRITERION_WORDS,
    EXPORT_FORMATS,
    MONEY,
    STRATEGY_WORDS,
    normalise,
)
from labelgraph.console.sentences import TOPICS

__all__ = ["ArgumentReader", "digits", "has", "number_in"]

#: words that turn a switch off ("no more made-up examples"), and words that turn it on
NEGATION = re.compile(r"\b(no more|not|don't|do not|stop|disable|turn off|switch off|"
                      r"off|without|no|forbid|quit|cease|halt|avoid|never|kill|enough|"
                      r"pause|skip|ban|block|remove|drop|less)\b")
ENABLE = re.compile(r"\b(turn on|switch on|enable|allow|start|resume|re ?enable|back on|"
                    r"on again|on|permit|bring back|let it|go ahead|keep|more)\b")


def number_in(text: str) -> float | None:
    """The first number in a text, written with digits or words ("twenty five" is 25);
    a percentage as a fraction ("70%" is 0.7)."""
    match = re.search(r"(?<![\w.])(\d*\.?\d+)(\s*%| percent)?", normalise(text))
    if not match:
        return None
    value = float(match.group(1))
    return value / 100 if match.group(2) else value


def digits(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def has(pattern: str, text: str) -> bool:
    return re.search(pattern, text) is not None


class ArgumentReader:
    """Reads the arguments of console commands in sentences. ``ids`` gives the run's labeled
    item ids (for ids typed by their first characters); ``current`` the run's settings now
    (``batch_size``, ``labels``, ``usd``), for "halve the batch size"."""

    def __init__(self, labels: Sequence[str], strategies: Sequence[str],
                 ids: Callable[[], Iterable[str]] | None = None,
                 criteria: Sequence[str] = (),
                 current: Callable[[], Mapping[str, Any]] | None = None) -> None:
        self.labels = list(labels)
        self.strategies = list(strategies)
        self.ids = ids or (lambda: ())
        self.criteria = list(criteria) or sorted(set(CRITERION_WORDS.values()))
        self.current = current or (lambda: {})

    # -- arguments ----------------------------------------------------------------------
    def _known_strategy(self, text: str) -> str | None:
        for name in self.strategies:  # plug-in strategies by their own names
            spoken = re.escape(name.replace("_", " "))
            if name not in STRATEGY_WORDS.values() and has(rf"\b{spoken}\b", text):
                return name
        hits = [(m.start(), -len(words), STRATEGY_WORDS[words])
                for words in STRATEGY_WORDS
                for m in re.finditer(rf"(?<![\w]){re.escape(words)}(?![\w])", text)]
        return min(hits)[2] if hits else None

    def _negated_strategy(self, name: str, low: str) -> bool:
        """Whether the sentence turns away from ``name`` ("not margin any longer", "instead
        of margin", "away from margin")."""
        words = [w for w, n in STRATEGY_WORDS.items() if n == name] + [name]
        for w in words:
            for m in re.finditer(rf"(?<![\w]){re.escape(w)}(?![\w])", low):
                if has(r"\b(not|no longer|stop|stop using|away from|instead of|replace|drop|"
                       r"from|ditch|off)( \w+)?( the)?\s*$", low[:m.start()]) or has(
                        r"^ (\w+ )?(any ?longer|any more|anymore|no more)\b", low[m.end():]):
                    return True
        return False

    def strategy_in(self, low: str) -> str | None:
        """The strategy a sentence asks for, not one it turns away from."""
        found = self._strategy_in(low)
        if found and self._negated_strategy(found, low):
            others = sorted((m.start(), n) for w, n in STRATEGY_WORDS.items() if n != found
                            for m in re.finditer(rf"(?<![\w]){re.escape(w)}(?![\w])", low)
                            if not self._negated_strategy(n, low))
            found = others[-1][1] if others else found
        return found

    def _strategy_in(self, low: str) -> str | None:
        """The strategy a sentence asks for: the one right after "switch to", "use", "back
        to", "with" ...; an unknown name there is kept ("query_by_committee"); otherwise any
        strategy named."""
        trigger = re.search(r"\b(?:switch(?: over| back)? to|change (?:the )?(?:strategy|"
                            r"sampling|selection)(?: to)?|(?:go )?back to|replace \w+ with|"
                            r"instead of \w+,? use|use|try|using|via|by|with|"
                            r"strategy(?: to| =| :)?|"
                            r"sampling to|move to)\s+(?:the |a |plain |pure |good old |simple "
                            r"|classic )?(.+)$", low)
        if trigger:
            rest = trigger.group(1).replace("'", "").replace('"', "").lstrip("= :")
            found = self._known_strategy(rest)
            if found and re.match(rf"(\w+ ){{0,1}}{re.escape(found.split('_')[0][:4])}",
                                  rest):
                return found
            if found is None or not self._known_strategy(rest[:24]):
                words = re.split(r"[,.;!?()]| (?:as|for|instead|please|now|from|so|because|"
                                 r"since|and|then|with|over|on|the)\b", rest)[0].split()
                words = [w for w in words if w not in {"sampling", "strategy", "selection",
                                                        "acquisition", "method", "approach"}]
                if words and 1 <= len(words) <= 4 and words[0] not in {
                        "it", "that", "this", "another", "more", "some", "different", "me",
                        "a", "the", "them", "something"} and not any(
                        w.isdigit() for w in words):
                    known = self._known_strategy(" ".join(words))
                    return known or "_".join(words)
        return self._known_strategy(low)

    def labels_in(self, low: str) -> list[str]:
        """The run's labels named, in order, without those negated ("not positive")."""
        hits = []
        for label in self.labels:
            for m in re.finditer(rf"\b{re.escape(label.lower())}(s|es)?\b", low):
                negated = has(r"\b(not|isn'?t|n't|no longer|instead of|from)\s+(\w+\s+)?$",
                              low[:m.start()])
                hits.append((m.start(), label, negated))
        return [label for _, label, negated in sorted(hits) if not negated] or \
            [label for _, label, _ in sorted(hits)]

    def label_in(self, low: str) -> str | None:
        found = self.labels_in(low)
        return found[-1] if found else None

    def unknown_label_in(self, low: str) -> str | None:
        """A label-like word in a label's place that is not one of the run's ("for spam")."""
        skip = {"the", "a", "an", "me", "each", "every", "all", "it", "this", "that", "now",
                "class", "label", "labels", "examples", "reviews", "texts", "items", "more",
                "some", "new", "round", "later", "testing", "training", "free", "real", "us",
                "you", "them", "rare", "minority", "missing", "underrepresented", "well",
                "soon", "possible", "wrong", "bad", "good", "correct", "done", "such", "is",
                "usual", "before", "reference", "review", "followed", "follows", "needed",
                "those", "these", "fake", "synthetic", "extra", "made", "generated", "few",
                "example", "show", "what", "happens", "go", "see", "off", "on", "up", "down",
                "zero", "one", "other", "same", "different", "artificial", "additional",
                "neither", "either", "both", "since", "because"}
        candidates = re.findall(r"(?:\b(?:for|of|class|category|is)|->|"
                                r"=>|=|→)\s+(?:the\s+|a\s+)?['\"]?([a-z][a-z_]+)\b", low)
        candidates += re.findall(r"\b\d+ (?:more |new |extra |fake |synthetic )?([a-z][a-z_]+) "
                                 r"(?:reviews|examples|texts|items|samples|ones)\b", low)
        candidates += re.findall(r"\b(?:need|want|some|more) ([a-z][a-z_]+) (?:reviews|"
                                 r"examples|texts|samples)\b", low)
        # a label after "as", "to", "be" says it more surely than one after "is" or "for"
        candidates += re.findall(r"(?:\b(?:as|labell?ed|to|be|into)|->|=>|=|→)\s+(?:the\s+|a\s+)?"
                                 r"['\"]?([a-z][a-z_]+)\b", low)
        for word in reversed(candidates):
            if word not in skip and word.rstrip("s") not in skip:
                return word
        return None

    def id_in(self, low: str) -> str | None:
        """An item id typed whole or by its first 4+ characters: a hex word with a digit,
        or a prefix of a known id."""
        known = [i.lower() for i in self.ids()]
        for token in re.findall(r"(?<![\w.])#?([0-9a-f]{4,24})(?![\w])", low):
            digit = any(c.isdigit() for c in token)
            if digit and not token.isdigit():
                return token
            if any(i.startswith(token) for i in known):
                return token
        for token in re.findall(r"(?:#|\bid\s*:?\s*|\bitem\s+)([0-9a-f]{4,24})\b", low):
            return token
        return None

    def criterion_in(self, low: str) -> str | None:
        hits = [(m.start(), -len(w), CRITERION_WORDS[w]) for w in CRITERION_WORDS
                for m in re.finditer(rf"\b{re.escape(w)}\b", low)]
        return min(hits)[2] if hits else None

    def numbers(self, low: str) -> list[tuple[float, str, int]]:
        """(value, how it was written, position) of each number: "+50", "0.6", "60%";
        item ids and round numbers are not amounts."""
        out = []
        ident = self.id_in(low)
        for m in re.finditer(r"(?<![\w.])([+-]?)(\d*\.?\d+)(\s*%| percent)?(?![\w])", low):
            if ident and m.group(2) == ident:
                continue
            if has(r"\b(round|iteration|step)\s*#?\s*$", low[:m.start()]):
                continue
            value = float(m.group(2))
            out.append((value / 100 if m.group(3) else value, m.group(0), m.start()))
        return out

    def _relative(self, low: str, key: str) -> float | None:
        """"halve", "double", "triple" a current setting."""
        now = self.current().get(key)
        factor = 0.5 if has(r"\b(halve|half|halving)\b", low) else \
            2.0 if has(r"\b(double|twice|2x)\b", low) else \
            3.0 if has(r"\b(triple|3x)\b", low) else None
        return None if factor is None or not now else now * factor

    def _budget_args(self, low: str) -> list[str]:
        money = has(r"\b" + MONEY + r"\b", low)
        unit = ["usd"] if money else ["tokens"] if "token" in low else \
            ["rounds"] if has(r"\brounds?\b", low) and not has(r"\blabels?\b", low) else []
        nums = self.numbers(low)
        if not nums:
            relative = self._relative(low, "usd" if money else "labels")
            return [*unit, digits(relative)] if relative else []
        value, written, pos = nums[0]
        before, after = low[:pos], low[pos + len(written):]
        add = written.startswith("+") or \
            has(r"\b(by|another|an extra|extra|additional|add|plus|top up( by)?|give (it|me|"
                r"us|the run)|increase by|raise by|bump( it)? by|up by|grant)( (it|us|me|the "
                r"run))?( (an )?(extra|another|additional))?\s*$", before) or \
            has(r"^\s*(\w+ )?(more|extra|additional|on top|further)\b", after) or \
            has(r"\bmore\b", before[-12:])
        cut = written.startswith("-") or \
            has(r"\b(reduce|decrease|lower|cut|remove|take( away| off)?|subtract|drop|minus|"
                r"shrink|trim|shave( off)?)\w*( the \w+( budget)?)?( by)?\s*$", before) or \
            has(r"^\s*(\w+ )?(fewer|less)\b", after)
        if has(r"\b(to|more than|up to|at most|no more than|max(imum)?|cap(ped)? at|under)\s*$",
               before) or (has(r"\b(set|make it|make the|limit)\b", before)
                                          and not has(r"\bby\s*$", before)) or \
                has(r"^\s*(\w+ )?(total|in total|overall|altogether|max|maximum|tops)\b",
                    after):
            add = cut = False
        if cut and has(r"\b(spend|afford|allow)\b", before[-20:]) and not has(
                r"\b(reduce|cut|remove|lower|decrease)\b", before):
            cut = False
        sign = "+" if add and not cut else "-" if cut else ""
        return [*unit, sign + digits(abs(value))]

    def args_for(self, command: str, low: str, raw: str | None = None) -> list[str]:
        """The arguments of ``command`` found in the (normalised) sentence; free text (what to
        search for) is taken from ``raw``, the sentence as typed, in lower case."""
        nums = self.numbers(low)
        first = nums[0][0] if nums else None
        if command == "strategy":
            found = self.strategy_in(low)
            return [found] if found else []
        if command == "batch":
            if first is None:
                relative = self._relative(low, "batch_size")
                return [digits(round(relative))] if relative else []
            return [digits(first)]
        if command == "threshold":
            if first is None:
                return []
            return [f"{first / 100:g}" if first > 1 else f"{first:g}"]
        if command == "budget":
            return self._budget_args(low)
        if command == "query":
            out = [digits(first)] if first is not None else []
            found = self._known_strategy(low)
            return out + ([found] if found else [])
        if command == "synthesize":
            out = [digits(first)] if first is not None else []
            label = self.label_in(low) or self.unknown_label_in(low)
            return out + ([label] if label else [])
        if command == "synth":
            return ["off" if self._negated(low) else "on"]
        if command in {"item", "reject"}:
            found = self.id_in(low)
            return [found] if found else []
        if command == "correct":
            found = self.id_in(low)
            label = self.label_in(low) or self.unknown_label_in(low)
            return [found, label] if found and label else [found] if found else []
        if command == "why":
            match = re.search(r"\b(?:round|iteration|step)\s*#?\s*(\d+)", low) or \
                re.search(r"#(\d+)\b", low)
            return [match.group(1)] if match else []
        if command == "help":
            for topic, pattern in TOPICS:
                if has(pattern, low):
                    return [topic]
            named = re.search(r"\b(?:the |a )?/?(\w+) (?:command|option)\b", low) or \
                re.search(r"\bhow (?:do i |can i |to |should i )?(?:use|change|set|run) "
                          r"(?:the )?(\w+)", low)
            if named:
                from labelgraph.console.commands import by_name

                spec = by_name(named.group(1)) or by_name({"threshold": "threshold",
                                                          "budget": "budget"}.get(
                                                             named.group(1), ""))
                if spec is not None:
                    return [spec.name]
            return []
        if command == "stopping":
            found = self.criterion_in(low)
            if not found:
                return []
            on = has(r"\b(turn on|switch on|enable|re ?enable|add|use|apply|back on|"
                     r"bring back|reactivate|activate|restore)\b", low) and not has(
                r"\b(don'?t|not|off|disable|ignore|deactivate)\b", low)
            return ["on" if on else "off", found]
        if command == "export":
            out: list[str] = []
            hits = [(m.start(), fmt, words) for words, fmt in EXPORT_FORMATS.items()
                    for m in re.finditer(rf"(?<![\w.]){re.escape(words)}\b", low)]
            typed = raw if raw is not None else low  # a path as typed, not normalised
            path = re.search(r"(?:^|\s)((?:[~./\w-]+/)*[\w-]+\.(?:csv|jsonl|json|parquet|"
                             r"tsv|txt))\b|(?:^|\s)((?:~|\.{0,2})/[\w./-]+)", typed)
            in_path = path.group(0).lower() if path else ""
            named = [(at, fmt) for at, fmt, words in hits  # said, not only the file's name
                     if low.count(words) > in_path.count(words)]
            if named:
                out.append(min(named)[1])
            if path:
                out.append(path.group(1) or path.group(2))
            return out
        if command == "search":
            return self._search_text(raw if raw is not None else low)
        return []

    @staticmethod
    def _search_text(low: str) -> list[str]:
        quoted = re.findall(r"[\"'](.+?)[\"']", low)
        if quoted:
            return [quoted[0].strip()]
        match = re.search(r"\b(?:search(?: memory| the memory| labell?ed examples| labels)? "
                          r"for|look(?:ing)? (?:up|for)|find(?: me)?(?: \w+)? (?:examples?|"
                          r"reviews?|texts?|items?|labels?)?\s*(?:kinda |kind of |sort of )?"
                          r"(?:like|about|with|"
                          r"mentioning|containing|that (?:mention|say|contain)|on|similar to)"
                          r"|similar to|mentioning|containing|about|with the words?|search)"
                          r"\s+(.+)$", low)
        if not match:  # "stuff like ...", "reviews that resemble ..."
            match = re.search(r"\b(?:like|resembl\w*|similar to)\s+(.+)$", low)
        if not match:
            return []
        text = re.sub(r"^(the )?(labell?ed )?(examples?|reviews?|texts?|items?|labels?|memory)"
                      r"\s+for\s+", "", match.group(1))
        text = re.sub(r"^(examples?|reviews?|texts?|items?|labels?|anything|something|stuff|"
                      r"ones)?\s*(kinda |kind of |sort of |a bit )?(like|about|with|mentioning|"
                      r"containing|on|similar to|that (mention|say|contain))\s+", "", text)
        text = re.sub(r"\s+(please|in (the )?memory|in labell?ed (data|examples))$", "",
                      text).strip(" ?.!\"'")
        return [text] if text else []

    @staticmethod
    def _negated(low: str) -> bool:
        low = re.sub(r"\b(no harm|not a bad idea|no problem|no reason not to|not opposed to|"
                     r"don'?t mind|wouldn'?t hurt|not against)\b", " ", low)
        neg = NEGATION.search(low)
        if not neg:
            return False
        enable = ENABLE.search(low)
        return not enable or neg.start() < enable.start() or \
            low[enable.start():enable.end()] in {"on", "start", "keep", "more"}
