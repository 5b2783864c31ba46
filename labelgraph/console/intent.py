"""The offline intent parser: plain sentences to console commands, without a chat model.

It reads a sentence the way a person means it rather than matching it to a list of phrasings:
the words are normalised first (typos, shorthand, numbers written as words; see
:mod:`labelgraph.console.lexicon`), then the sentence is sorted into leaving, small talk, a
question or a request. A question only ever reads (``/status``, ``/why``, ``/help``, ...):
"how much budget is left?" never touches the budget, and "can I change the threshold?" is
answered by ``/help threshold``. A request is scored against each command's cues (with
negation: "no more made-up examples" turns synthesis off), and its arguments are pulled out
by rules that tell adding from setting ("by 50", "another 50", "50 more" add; "to 50" sets),
dollars from labels, the run's labels and strategies from other words (an unknown one is
kept, so the console can name it), and ids by their first characters. When no command is
clearly meant, it says so.

``benchmarks/intent.py`` measures it on phrasing sets written blind, with a held-out half.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from labelgraph.console.lexicon import (
    CRITERION_WORDS,
    CUES,
    EXPORT_FORMATS,
    LEAVE_WORDS,
    MONEY,
    STRATEGY_WORDS,
    SYNTH,
    normalise,
)

__all__ = ["LEAVE_WORDS", "Intent", "IntentParser", "normalise", "number_in"]

#: leaving the console: a verb of leaving aimed at the console (or nothing), or an idiom
_LEAVE = re.compile(
    r"\b((exit|quit|leave|close|closing|leaving|detach\w*|disconnect\w*|hop out of|get out of|"
    r"get me out of|log me out of|step out of)( (the|this|my))? (console|chat|window|screen|"
    r"term|terminal|session|prompt|ui|app|thing|chat thing|here)|"
    r"(exit|quit|close|closing|detach\w*|disconnect\w*)( (it|this|now|please|me)){0,2}\s*"
    r"($|[,.;!-])|"
    r"\bdetach(ing|ed)?\b|enough from me|"
    r"^(exit|quit|leave|close|detach|disconnect)\b|"
    r"log(ging)? (off|out)|log me out|sign(ing)? off|(good)?bye|see (you|ya)|cya|ciao|"
    r"peace( out)?|gotta (go|run|jump|dash)|(have|need|got) to (go|run|dash)|check back|"
    r"back (tomorrow|later|next week|in a bit|after)|come back (later|tomorrow|next)|"
    r"i'?m (out|off|leaving|heading (out|off)|done here|done for (now|today|the day))|"
    r"(that'?s|that is) (all|it|us done)( from me)?( for (now|today))?|"
    r"done for (now|today|the day|tonight)|heading (out|off|into)|step(ping)? away|talk later|"
    r"leave you to it|catch you later|(^|\s):q\b)")
#: remarks that the run goes on without the person, or that nothing else should change
_RUN_GOES_ON = re.compile(
    r"\(?\b(and |but |so )?((keep|let|leave|leaving) (it|the run|the job|the labell?ing|everything|"
    r"things)?( \w+){0,3} (going|running|on|up|along|ticking\w*|chugging\w*|be|to it|"
    r"do its thing|working)|(carry|go|keep) on without (me|us)|"
    r"(the )?(run|job|labell?ing)( itself)? (keeps|stays|can|should|"
    r"carries|will|continues|is)\b[^.,;]*|(don'?t|do not|dont|not|never|pls don'?t)( \w+)? "
    r"(stop|kill|end)( \w+){0,2}|not (the run|the job|stop|stopping)[^)]*|without (me|us)"
    r"( \w+)?|(run|job) (keeps|stays) (going|up|on))\)?")
_SMALLTALK = re.compile(
    r"^(hi|hello|hey|hey there|yo|good (morning|afternoon|evening)|thanks?|thank you|"
    r"cheers|nice|cool|great|awesome|good job|well done|lol|haha|hmm+|ok(ay)?|alright|sure|"
    r"fine|wow|oops|sorry|nevermind|never ?mind|perfect|good|excellent|yay)"
    r"( (you|a lot|so much|very much|there|again|work|thing|buddy|one|stuff))*[ .!?]*$")
_THINKING = re.compile(r"^((hmm+|um+|uh+|ok(ay)?|so|well),? )*(let me|i need to|i'?ll) (think|see|"
                       r"check|consider|look)\b[^,;]*$")
#: a word before a question that is not part of it ("wait, can I ...", "so what is ...")
_LEAD_IN = re.compile(r"^(wait|um+|uh+|well|oh|hmm+|quick question)[,.!:]?\s+"
                      r"(?=(can|could|how|what|what's|which|why|is|are|do|does|should|would|"
                      r"will|did)\b)")
#: "have it write ...", "get the next round to ...": a request through the run
_CAUSATIVE = re.compile(r"^(please |now |then |and )*(have|get|make|let) (it|the (next )?\w+|"
                        r"them|the run)( \w+)? (write|draw|generate|make|pull|use|query|label|"
                        r"stop|pause|run|take|synthesi[sz]e|create|produce|switch|ask|send|"
                        r"try|pick|fetch|grab|do)\b")
#: context before the request ("now that the budget has been raised, ..."): not scored
_CONTEXT_CLAUSE = re.compile(r"^(now that|since|given that|as|because|seeing that) [^,;]+[,;]\s*")
_INTERJECTION = re.compile(r"^(nice|cool|great|wow|yay|finally|ok(ay)?|hmm+|oh|ah|lol|"
                           r"awesome|good|damn|ugh|meh|interesting)\b[ ,.!]")
_SUBJECT = (r"(you|we|i|it|the|this|that|there|they|he|she|any|my|our|your|its|those|"
            r"these|anything|everything|someone|anyone|somebody|anybody|people|pausing|"
            r"stopping|turning|adding|switching|raising|changing|exporting)")
_QUESTION_START = re.compile(
    r"^(how|what|what's|which|why|when|where|who|whose|is|are|was|were|isn't|aren't|"
    r"didn't|doesn't|haven't|hasn't|any|anything)\b|"
    r"^(do|does|did|has|have|had|am|will|would|should|shall|could|can|may|might) "
    + _SUBJECT + r"\b")
_REQUEST_START = re.compile(
    r"^(please |kindly |now |ok(ay)?,? |and |also |then |so |just )*"
    r"(can|could|would|will|won't) (you|we)( please)? (\w+ )?"
    r"(switch|change|set|raise|increase|lower|reduce|add|give|make|turn|stop|pause|run|"
    r"export|save|show|list|tell|explain|use|try|generate|synthesize|write|continue|resume|"
    r"go|query|pick|bump|cut|drop|remove|correct|reject|mark|relabel|search|find|plot|draw|"
    r"skip|halt|let|do|put|open|enable|disable|allow|start|send|label|take|get|fetch|"
    r"finish|end|kill|move|hold|wait|quit|close|leave|print|dump|display)\b|"
    r"(?<!if )\b(i want|i'd like|i would like|i need|let's|lets|let me|we need|we should|"
    r"you should|make sure|go ahead and)\b")
_ABILITY = re.compile(r"^(can|could|may) (i|we)\b|\b(is it|it is|would it be|will it be) "
                      r"possible\b|"
                      r"\bhow (do|can|should) (i|we)\b|\bhow to\b|^how (use|change|set)\b")
_ADVICE = re.compile(r"^(would|should|will|do you think|is it (worth|better|wise)|"
                     r"does it make sense)\b.*\b(help|better|worth|improve|make sense|"
                     r"a good idea|wise|recommend\w*|matter|save|faster|slower|quicker|sooner)\b|"
                     r"^should (i|we)\b.*\bor\b|"
                     r"\bwhat would happen\b|^if (i|we|you)\b.*\b(would|how|what|will)\b")
#: a question about how a command behaves, not about the run's state ("does pausing lose
#: the batch?", "what happens if the threshold is 0.9?"): answered by /help COMMAND
_BEHAVIOUR = re.compile(r"^(does|do|will|can|could|is it safe|what happens (if|when)|"
                        r"what does)\b")
_CANNOT = re.compile(r"^(please |can you |could you |would you |will you |now |just )*"
                     r"(e ?mail|mail|slack|message|text|tweet|notify|ping|remind(?! me)|schedule|"
                     r"print out|upload|post|share|fax|compute|calculate|make me a|order)\b|"
                     r"\bsend (it|this|that|them|the \w+)( \w+)? to (the |my |our )?(?!me\b)\w+|"
                     r"(^|\s)@\w+|^page\b|\b(restart|reboot|redeploy|deploy|scale|spin up|"
                     r"provision)\b.*\b(pod|k8s|kubernetes|docker|container|cluster|vm|gpu|"
                     r"server|node|machine|service)s?\b")
_REQUEST_VERB = re.compile(r"^(please |pls |kindly |now |ok(ay)?,? |just |and |also |then )*"
                           r"(show|list|give|tell|display|print|open|get|let me see|explain)\b")
_NEGATION = re.compile(r"\b(no more|not|don't|do not|stop|disable|turn off|switch off|"
                       r"off|without|no|forbid|quit|cease|halt|avoid|never|kill|enough|"
                       r"pause|skip|ban|block|remove|drop|less)\b")
_ENABLE = re.compile(r"\b(turn on|switch on|enable|allow|start|resume|re ?enable|back on|"
                     r"on again|on|permit|bring back|let it|go ahead|keep|more)\b")
#: "does pausing lose the batch?": the command a question's gerund names
_GERUNDS = {"pausing": "pause", "stopping": "stop", "continuing": "continue",
            "resuming": "continue", "exporting": "export", "switching": "strategy",
            "synthesising": "synth", "synthesizing": "synth", "generating": "synth"}
#: commands a question may ask for (a question never changes the run)
READS = ("status", "why", "spend", "labels", "search", "item", "flagged", "history", "curve",
         "pending", "tools", "help")
#: what a question about the state of a setting is answered by
_ASKED_ABOUT = {"budget": "status", "strategy": "status", "batch": "status", "synth": "status",
                "synthesize": "status", "threshold": "status", "pause": "status",
                "continue": "status", "stop": "status", "step": "status", "query": "status",
                "stopping": "help", "export": "help", "correct": "item", "reject": "item"}
#: how people name the /help topics
_TOPICS = (("strategies", r"\bstrateg\w*|(sampling|picking|selection|query) (methods|options)|"
                           r"acquisition functions"),
           ("stopping", r"\bstop(ping)? (rules?|criteri\w*|conditions?)|\bcriteri\w*"),
           ("labels", r"\b(labels|classes|categories|label (options|names|set))\b"),
           ("formats", r"\b(formats?|file types)\b"))


def number_in(text: str) -> float | None:
    """The first number in a text, written with digits or words ("twenty five" is 25);
    a percentage as a fraction ("70%" is 0.7)."""
    match = re.search(r"(?<![\w.])(\d*\.?\d+)(\s*%| percent)?", normalise(text))
    if not match:
        return None
    value = float(match.group(1))
    return value / 100 if match.group(2) else value


def _digits(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def _has(pattern: str, text: str) -> bool:
    return re.search(pattern, text) is not None


@dataclass(frozen=True)
class Intent:
    """What the parser understood: a command and its arguments (None: not a command), whether
    the sentence was a question, and why (for the benchmark's error listing)."""

    command: str | None
    args: list[str] = field(default_factory=list)
    question: bool = False
    why: str = ""

    def as_slash(self) -> str:
        return "/" + " ".join([self.command or "?", *self.args])


class IntentParser:
    """Maps a sentence to a console command and its arguments, by rules. ``ids`` gives the
    run's labeled item ids (for ids typed by their first characters); ``current`` the run's
    settings now (``batch_size``, ``labels``, ``usd``), for "halve the batch size"."""

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
            if name not in STRATEGY_WORDS.values() and _has(rf"\b{spoken}\b", text):
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
                if _has(r"\b(not|no longer|stop|stop using|away from|instead of|replace|drop|"
                        r"from|ditch|off)( \w+)?( the)?\s*$", low[:m.start()]) or _has(
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
                negated = _has(r"\b(not|isn'?t|n't|no longer|instead of|from)\s+(\w+\s+)?$",
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
            if _has(r"\b(round|iteration|step)\s*#?\s*$", low[:m.start()]):
                continue
            value = float(m.group(2))
            out.append((value / 100 if m.group(3) else value, m.group(0), m.start()))
        return out

    def _relative(self, low: str, key: str) -> float | None:
        """"halve", "double", "triple" a current setting."""
        now = self.current().get(key)
        factor = 0.5 if _has(r"\b(halve|half|halving)\b", low) else \
            2.0 if _has(r"\b(double|twice|2x)\b", low) else \
            3.0 if _has(r"\b(triple|3x)\b", low) else None
        return None if factor is None or not now else now * factor

    def _budget_args(self, low: str) -> list[str]:
        money = _has(r"\b" + MONEY + r"\b", low)
        unit = ["usd"] if money else ["tokens"] if "token" in low else \
            ["rounds"] if _has(r"\brounds?\b", low) and not _has(r"\blabels?\b", low) else []
        nums = self.numbers(low)
        if not nums:
            relative = self._relative(low, "usd" if money else "labels")
            return [*unit, _digits(relative)] if relative else []
        value, written, pos = nums[0]
        before, after = low[:pos], low[pos + len(written):]
        add = written.startswith("+") or \
            _has(r"\b(by|another|an extra|extra|additional|add|plus|top up( by)?|give (it|me|"
                 r"us|the run)|increase by|raise by|bump( it)? by|up by|grant)( (it|us|me|the "
                 r"run))?( (an )?(extra|another|additional))?\s*$", before) or \
            _has(r"^\s*(\w+ )?(more|extra|additional|on top|further)\b", after) or \
            _has(r"\bmore\b", before[-12:])
        cut = written.startswith("-") or \
            _has(r"\b(reduce|decrease|lower|cut|remove|take( away| off)?|subtract|drop|minus|"
                 r"shrink|trim|shave( off)?)\w*( the \w+( budget)?)?( by)?\s*$", before) or \
            _has(r"^\s*(\w+ )?(fewer|less)\b", after)
        if _has(r"\b(to|more than|up to|at most|no more than|max(imum)?|cap(ped)? at|under)\s*$",
                before) or (_has(r"\b(set|make it|make the|limit)\b", before)
                                          and not _has(r"\bby\s*$", before)) or \
                _has(r"^\s*(\w+ )?(total|in total|overall|altogether|max|maximum|tops)\b",
                     after):
            add = cut = False
        if cut and _has(r"\b(spend|afford|allow)\b", before[-20:]) and not _has(
                r"\b(reduce|cut|remove|lower|decrease)\b", before):
            cut = False
        sign = "+" if add and not cut else "-" if cut else ""
        return [*unit, sign + _digits(abs(value))]

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
                return [_digits(round(relative))] if relative else []
            return [_digits(first)]
        if command == "threshold":
            if first is None:
                return []
            return [f"{first / 100:g}" if first > 1 else f"{first:g}"]
        if command == "budget":
            return self._budget_args(low)
        if command == "query":
            out = [_digits(first)] if first is not None else []
            found = self._known_strategy(low)
            return out + ([found] if found else [])
        if command == "synthesize":
            out = [_digits(first)] if first is not None else []
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
            for topic, pattern in _TOPICS:
                if _has(pattern, low):
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
            on = _has(r"\b(turn on|switch on|enable|re ?enable|add|use|apply|back on|"
                      r"bring back|reactivate|activate|restore)\b", low) and not _has(
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
        neg = _NEGATION.search(low)
        if not neg:
            return False
        enable = _ENABLE.search(low)
        return not enable or neg.start() < enable.start() or \
            low[enable.start():enable.end()] in {"on", "start", "keep", "more"}

    # -- the sentence -------------------------------------------------------------------
    def is_question(self, low: str) -> bool:
        if _has(r"^(what|which|how|why|when|where|who)\b", low):
            return True
        if _CAUSATIVE.search(low):
            return False
        if _REQUEST_START.search(low) and not _ABILITY.search(low):
            return False
        if _REQUEST_VERB.search(low):
            return False
        return "?" in low or bool(_QUESTION_START.search(low))

    def scores(self, low: str) -> dict[str, float]:
        """Each command's cue weight in the sentence; a run control said in the negative
        ("no resume", "not just a pause") does not count for that control."""
        out = {}
        for command, cues in CUES.items():
            score = 0.0
            for pattern, weight in cues:
                hits = list(pattern.finditer(low))
                if command == "stop":  # "finish the current step and hold" ends a step
                    hits = [m for m in hits if not _has(
                        r"^ (the |this |that |its )?(current |ongoing )?(step|round|batch|item)",
                        low[m.end():])]
                if command in {"pause", "continue", "stop", "step"}:
                    hits = [m for m in hits if not _has(
                        r"\b(no|not|don'?t|dont|never|without|not just a|not a|instead of)"
                        r"( \w+)?\s*$", low[:m.start()])]
                score += weight if hits else 0.0
            if score:
                out[command] = score
        return out

    def _adjust(self, low: str, scores: dict[str, float], question: bool) -> dict[str, float]:
        """Evidence that only counts in combination (an id, a number, a label, a strategy)."""
        nums = self.numbers(low)
        has_id = self.id_in(low) is not None
        label = self.label_in(low) or self.unknown_label_in(low)
        if has_id and label and _has(r"[0-9a-f]{4,}\s*(->|=>|→|:|=|is|should be)\s*['\"]?"
                                     r"[a-z]", low):
            scores["correct"] = scores.get("correct", 0) + 1.0  # "c3f0 -> neutral"
        known = self.label_in(low)
        if has_id and known and _has(rf"\b(it'?s|it is|is|answer is|say|call it|goes as)\s+"
                                     rf"(a |an )?{re.escape(known)}\b", low):
            scores["correct"] = scores.get("correct", 0) + 1.0  # "8082, it's negative"
        if has_id:
            scores["item"] = scores.get("item", 0) + 1.5
            if label and scores.get("correct"):
                scores["correct"] += 2.5
            if scores.get("reject"):
                scores["reject"] += 2.5
            if scores.get("correct") and not label:
                scores["correct"] -= 1.5
        else:
            for name in ("item", "correct", "reject"):
                scores.pop(name, None)
        if _has(r"\b(make|write|create|generate|produce)\b( me)? \d+ (of (those|them|these)|"
                r"(\w+ )?(examples|reviews|texts|samples))", low) and not scores.get("synth"):
            scores["synth"] = 1.8
        if _has(SYNTH, low) or scores.get("synth"):
            negated = self._negated(low)
            request_now = nums or self.label_in(low) or _has(
                r"\b(now|next round|right away|this round|a few|some|a batch|\d+)\b", low)
            if not negated and request_now and not _has(
                    r"\b(keep|allow|enable|turn on|switch on|on|back|again)\b", low):
                scores["synthesize"] = scores.get("synth", 0) + 1.0
            if negated:
                scores["synth"] = scores.get("synth", 0) + 1.0
                scores.pop("stop", None)
                scores.pop("pause", None)
        if self._known_strategy(low) or scores.get("strategy"):
            if nums and scores.get("query"):
                scores["query"] += 1.5
            elif self.strategy_in(low):
                scores["strategy"] = scores.get("strategy", 0) + 1.5
                scores.pop("query", None)
        if scores.get("budget") and nums and not question:
            scores["budget"] += 0.5
        if nums and not question and (_has(r"\b" + MONEY + r"\b", low) or
                                      _has(r"\bspend\b", low)) and not scores.get("why"):
            scores["budget"] = scores.get("budget", 0) + 2.0
        if _has(r"\b(labels|annotations)\b", low) and nums and not scores.get("query") and \
                not scores.get("batch") and (_has(r"\b(more|another|extra|additional|add|"
                                                  r"increase|raise|bump|allow|give|fewer|"
                                                  r"less|cut|remove|drop|take away|take off|"
                                                  r"subtract|minus|reduce|lower)\b", low)
                                             or nums[0][1][:1] in "+-"):
            scores["budget"] = scores.get("budget", 0) + 1.5
        criterion = self.criterion_in(low)
        if criterion and (_has(r"\b(stopping|rule|criterion|turn (on|off)|switch (on|off)|"
                               r"enable|disable|re ?enable|on again|back on)\b", low)):
            scores["stopping"] = scores.get("stopping", 0) + 3.0
            scores.pop("spend", None)
        elif scores.get("stopping") and criterion is None:
            scores["stopping"] -= 1.0
        if scores.get("stop") and _has(r"\bstop(ping)? (when|if|once|on)\b", low):
            scores["stopping"] = scores.get("stopping", 0) + 1.5
        if scores.get("threshold") and (nums and nums[0][0] <= 1 or _has(r"\d\s*%", low)):
            scores["threshold"] += 0.5
        if scores.get("threshold") and _has(r"\b(least|lowest) confiden", low):
            scores["threshold"] -= 2.0  # the strategy's name, not the threshold
        if nums and _has(r"\b(per|each|every|a) (round|iteration|step)\b", low) and \
                not _has(r"\b(budget|dollars|money)\b", low):
            scores["batch"] = scores.get("batch", 0) + 1.5
        if scores.get("pause") and _has(r"\b(after|at the end of) (this|the current|the) "
                                        r"(step|round)\b", low):
            scores["pause"] += 1.0
        elif scores.get("pause") and scores.get("step"):
            scores["step"] += 0.5
        if scores.get("stop") and scores.get("pause") and _has(
                r"\b(for a (second|moment|minute|bit)|for now|briefly|temporar\w*)\b", low):
            scores["pause"] += 1.0
        return scores

    def _topic_list(self, low: str, question: bool) -> str | None:
        """"list the stopping criteria", "what strategies are there", "what are the labels
        again": a /help topic."""
        listing = _has(r"^(what|which)\b", low) and question
        if not _has(r"\b(list|show|what|which|all|available|options|exist|there|choices|"
                    r"names?)\b", low) or (_has(r"\b(switch|change|turn|use|set|enable|"
                                                r"disable|try|move)\b", low) and not listing):
            return None
        for topic, pattern in _TOPICS[:2]:
            if _has(pattern, low) and _has(r"\b(strategies|criteria|rules|conditions|"
                                           r"options|available|exist|list|other|methods|"
                                           r"choose from)\b", low):
                return topic
        if _has(r"\b(checker|verifier|flag\w*|wrong|suspicious|doubt\w*|happy|sus)\b", low):
            return None
        if _has(r"^(what|which)( are)?( the)? (labels|classes|categories)\b(?! (look|are "
                r"(wrong|flagged|suspicious|doubtful)|did|were))|\b(what|which) labels "
                r"(can|could|may|are we allowed|is it allowed|exist|are there|again)\b|"
                r"\b(list|show)( me)? (the|all)? ?(labels|classes) (of|in) (the|this) run\b|"
                r"\blabel (options|names)\b|\bwhich labels (this|the) run (uses|has)\b", low):
            return "labels"
        if _has(r"\bstop(s)? (on its own|by itself|automatically)|\bstops improving\b", low) \
                and question:
            return "stopping"
        return None

    def _asks_more(self, rest: str) -> bool:
        """Whether a leaving line also asks for something else ("pause it and log off"):
        then it is read as that request, and leaving waits for a plain word."""
        rest = _LEAVE.sub(" ", rest)
        return any(_has(r"^\s*(please |and |then |first |but )?(pause|stop|export|save|show|list|"
                        r"set|raise|add|switch|change|turn|give|run|make|write|generate|query|"
                        r"label|correct|reject|search|find|plot|draw|dump|bump|cut)\b", clause)
                   for clause in re.split(r"[,;.!+-]| and | then ", rest))

    def parse(self, text: str) -> Intent:
        """The command a sentence means, with its arguments (``command=None``: none)."""
        low = normalise(text)
        if not low:
            return Intent(None, why="empty")
        core = low.strip(" .!?")
        if core in LEAVE_WORDS or (_LEAVE.search(core) and not self._asks_more(
                _RUN_GOES_ON.sub(" ", core))):
            return Intent("quit", why="leaving")
        if _SMALLTALK.match(low) or _THINKING.match(low):
            return Intent(None, why="small talk")
        if _has(r"\b(but|and|so|or)[ .]*$", low) and len(low.split()) <= 6:
            return Intent(None, why="an unfinished sentence")
        low = _LEAD_IN.sub("", low)  # "wait, can I change the budget?" is the question
        question = self.is_question(low)
        if (question or _has(r"^(would|should|if)\b", low)) and _ADVICE.search(low):
            topic = "strategies" if self._known_strategy(low) else \
                "stopping" if self.criterion_in(low) else None
            if topic:  # what the choices are is what the console can say about it
                return Intent("help", [topic], True, "asks for advice on a choice")
            return Intent(None, question=True, why="asks for advice")
        if _CANNOT.search(low):
            return Intent(None, why="asks for something the console cannot do")
        topic = self._topic_list(low, question)
        if topic:
            return Intent("help", [topic], question, "asks for a list of options")
        scores = self._adjust(low, self.scores(_CONTEXT_CLAUSE.sub("", low)), question)
        if not scores:
            return Intent(None, question=question, why="no command's words")
        ranked = sorted(scores.items(), key=lambda kv: -kv[1])
        best = ranked[0][0]
        if _INTERJECTION.match(low) and ranked[0][1] < 1.5 and not question:
            return Intent(None, why="a remark")
        args = self.args_for(best, low, text.lower().strip())
        if not question and low.endswith("?") and best not in READS and not args and \
                best not in {"pause", "continue", "step", "stop", "quit"}:
            question = True  # "can you raise the budget?" with no amount: asked, not done
        if question:
            gerund = re.search(r"^(does|do|will|would|can|could) (pausing|stopping|continuing|"
                               r"resuming|exporting|switching|synthesi[sz]ing|generating)\b", low)
            changing = [c for c, v in ranked if c not in READS and v >= ranked[0][1]]
            if gerund:
                changing = [_GERUNDS[gerund.group(2)]]
            if (_ABILITY.search(low) or _BEHAVIOUR.search(low)) and changing:
                spec = {"synthesize": "synth", "strategy": "strategies"}.get(changing[0],
                                                                         changing[0])
                return Intent("help", [spec], True, "asks whether or how it can be done")
            if _has(r"\b(did|in|during|at|for) round \d+\b", low) and not _has(
                    r"\b(labels?|spend|spent|cost)\b", low):
                return Intent("why", self.args_for("why", low), True, "a question about a round")
            reads = [(c, s) for c, s in ranked if c in READS]
            asked = _ASKED_ABOUT.get(best)
            if reads and (asked is None or reads[0][1] >= ranked[0][1]):
                best = reads[0][0]
            elif asked is not None:
                best = asked
            else:
                return Intent(None, question=True, why=f"a question about /{best}")
            if best == "help" and ranked[0][0] == "stopping":
                return Intent("help", ["stopping"], True, "a question about stopping")
            args = self.args_for(best, low, text.lower().strip())
        return Intent(best, args, question, "question" if question else "request")
