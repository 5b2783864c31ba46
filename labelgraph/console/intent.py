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
clearly meant, it says so. The sentence shapes are :mod:`labelgraph.console.sentences`, the
argument rules :mod:`labelgraph.console.arguments`.

``benchmarks/intent.py`` measures it on phrasing sets written blind, with a held-out half.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from labelgraph.console.arguments import ArgumentReader, has, number_in
from labelgraph.console.lexicon import CUES, LEAVE_WORDS, MONEY, SYNTH, normalise
from labelgraph.console.sentences import (
    ABILITY,
    ADVICE,
    ASKED_ABOUT,
    BEHAVIOUR,
    CANNOT,
    CAUSATIVE,
    CONTEXT_CLAUSE,
    GERUNDS,
    INTERJECTION,
    LEAD_IN,
    LEAVE,
    QUESTION_START,
    READS,
    REQUEST_START,
    REQUEST_VERB,
    RUN_GOES_ON,
    SMALLTALK,
    THINKING,
    TOPICS,
)

__all__ = ["LEAVE_WORDS", "Intent", "IntentParser", "normalise", "number_in"]


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

class IntentParser(ArgumentReader):
    """Maps a sentence to a console command and its arguments, by rules (the arguments are
    read as :class:`~labelgraph.console.arguments.ArgumentReader` reads them). ``ids`` gives
    the run's labeled item ids (for ids typed by their first characters); ``current`` the
    run's settings now (``batch_size``, ``labels``, ``usd``), for "halve the batch size"."""

    # -- the sentence -------------------------------------------------------------------
    def is_question(self, low: str) -> bool:
        if has(r"^(what|which|how|why|when|where|who)\b", low):
            return True
        if CAUSATIVE.search(low):
            return False
        if REQUEST_START.search(low) and not ABILITY.search(low):
            return False
        if REQUEST_VERB.search(low):
            return False
        return "?" in low or bool(QUESTION_START.search(low))

    def scores(self, low: str) -> dict[str, float]:
        """Each command's cue weight in the sentence; a run control said in the negative
        ("no resume", "not just a pause") does not count for that control."""
        out = {}
        for command, cues in CUES.items():
            score = 0.0
            for pattern, weight in cues:
                hits = list(pattern.finditer(low))
                if command == "stop":  # "finish the current step and hold" ends a step
                    hits = [m for m in hits if not has(
                        r"^ (the |this |that |its )?(current |ongoing )?(step|round|batch|item)",
                        low[m.end():])]
                if command in {"pause", "continue", "stop", "step"}:
                    hits = [m for m in hits if not has(
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
        if has_id and label and has(r"[0-9a-f]{4,}\s*(->|=>|→|:|=|is|should be)\s*['\"]?"
                                    r"[a-z]", low):
            scores["correct"] = scores.get("correct", 0) + 1.0  # "c3f0 -> neutral"
        known = self.label_in(low)
        if has_id and known and has(rf"\b(it'?s|it is|is|answer is|say|call it|goes as)\s+"
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
        if has(r"\b(make|write|create|generate|produce)\b( me)? \d+ (of (those|them|these)|"
               r"(\w+ )?(examples|reviews|texts|samples))", low) and not scores.get("synth"):
            scores["synth"] = 1.8
        if has(SYNTH, low) or scores.get("synth"):
            negated = self._negated(low)
            request_now = nums or self.label_in(low) or has(
                r"\b(now|next round|right away|this round|a few|some|a batch|\d+)\b", low)
            if not negated and request_now and not has(
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
        if nums and not question and (has(r"\b" + MONEY + r"\b", low) or
                                      has(r"\bspend\b", low)) and not scores.get("why"):
            scores["budget"] = scores.get("budget", 0) + 2.0
        if has(r"\b(labels|annotations)\b", low) and nums and not scores.get("query") and \
                not scores.get("batch") and (has(r"\b(more|another|extra|additional|add|"
                                                 r"increase|raise|bump|allow|give|fewer|"
                                                 r"less|cut|remove|drop|take away|take off|"
                                                 r"subtract|minus|reduce|lower)\b", low)
                                             or nums[0][1][:1] in "+-"):
            scores["budget"] = scores.get("budget", 0) + 1.5
        criterion = self.criterion_in(low)
        if criterion and (has(r"\b(stopping|rule|criterion|turn (on|off)|switch (on|off)|"
                              r"enable|disable|re ?enable|on again|back on)\b", low)):
            scores["stopping"] = scores.get("stopping", 0) + 3.0
            scores.pop("spend", None)
        elif scores.get("stopping") and criterion is None:
            scores["stopping"] -= 1.0
        if scores.get("stop") and has(r"\bstop(ping)? (when|if|once|on)\b", low):
            scores["stopping"] = scores.get("stopping", 0) + 1.5
        if scores.get("threshold") and (nums and nums[0][0] <= 1 or has(r"\d\s*%", low)):
            scores["threshold"] += 0.5
        if scores.get("threshold") and has(r"\b(least|lowest) confiden", low):
            scores["threshold"] -= 2.0  # the strategy's name, not the threshold
        if nums and has(r"\b(per|each|every|a) (round|iteration|step)\b", low) and \
                not has(r"\b(budget|dollars|money)\b", low):
            scores["batch"] = scores.get("batch", 0) + 1.5
        if scores.get("pause") and has(r"\b(after|at the end of) (this|the current|the) "
                                       r"(step|round)\b", low):
            scores["pause"] += 1.0
        elif scores.get("pause") and scores.get("step"):
            scores["step"] += 0.5
        if scores.get("stop") and scores.get("pause") and has(
                r"\b(for a (second|moment|minute|bit)|for now|briefly|temporar\w*)\b", low):
            scores["pause"] += 1.0
        return scores

    def _topic_list(self, low: str, question: bool) -> str | None:
        """"list the stopping criteria", "what strategies are there", "what are the labels
        again": a /help topic."""
        listing = has(r"^(what|which)\b", low) and question
        if not has(r"\b(list|show|what|which|all|available|options|exist|there|choices|"
                   r"names?)\b", low) or (has(r"\b(switch|change|turn|use|set|enable|"
                                              r"disable|try|move)\b", low) and not listing):
            return None
        for topic, pattern in TOPICS[:2]:
            if has(pattern, low) and has(r"\b(strategies|criteria|rules|conditions|"
                                         r"options|available|exist|list|other|methods|"
                                         r"choose from)\b", low):
                return topic
        if has(r"\b(checker|verifier|flag\w*|wrong|suspicious|doubt\w*|happy|sus)\b", low):
            return None
        if has(r"^(what|which)( are)?( the)? (labels|classes|categories)\b(?! (look|are "
               r"(wrong|flagged|suspicious|doubtful)|did|were))|\b(what|which) labels "
               r"(can|could|may|are we allowed|is it allowed|exist|are there|again)\b|"
               r"\b(list|show)( me)? (the|all)? ?(labels|classes) (of|in) (the|this) run\b|"
               r"\blabel (options|names)\b|\bwhich labels (this|the) run (uses|has)\b", low):
            return "labels"
        if has(r"\bstop(s)? (on its own|by itself|automatically)|\bstops improving\b", low) \
                and question:
            return "stopping"
        return None

    def _asks_more(self, rest: str) -> bool:
        """Whether a leaving line also asks for something else ("pause it and log off"):
        then it is read as that request, and leaving waits for a plain word."""
        rest = LEAVE.sub(" ", rest)
        return any(has(r"^\s*(please |and |then |first |but )?(pause|stop|export|save|show|list|"
                       r"set|raise|add|switch|change|turn|give|run|make|write|generate|query|"
                       r"label|correct|reject|search|find|plot|draw|dump|bump|cut)\b", clause)
                   for clause in re.split(r"[,;.!+-]| and | then ", rest))

    def parse(self, text: str) -> Intent:
        """The command a sentence means, with its arguments (``command=None``: none)."""
        low = normalise(text)
        if not low:
            return Intent(None, why="empty")
        core = low.strip(" .!?")
        if core in LEAVE_WORDS or (LEAVE.search(core) and not self._asks_more(
                RUN_GOES_ON.sub(" ", core))):
            return Intent("quit", why="leaving")
        if SMALLTALK.match(low) or THINKING.match(low):
            return Intent(None, why="small talk")
        if has(r"\b(but|and|so|or)[ .]*$", low) and len(low.split()) <= 6:
            return Intent(None, why="an unfinished sentence")
        low = LEAD_IN.sub("", low)  # "wait, can I change the budget?" is the question
        question = self.is_question(low)
        if (question or has(r"^(would|should|if)\b", low)) and ADVICE.search(low):
            topic = "strategies" if self._known_strategy(low) else \
                "stopping" if self.criterion_in(low) else None
            if topic:  # what the choices are is what the console can say about it
                return Intent("help", [topic], True, "asks for advice on a choice")
            return Intent(None, question=True, why="asks for advice")
        if CANNOT.search(low):
            return Intent(None, why="asks for something the console cannot do")
        topic = self._topic_list(low, question)
        if topic:
            return Intent("help", [topic], question, "asks for a list of options")
        scores = self._adjust(low, self.scores(CONTEXT_CLAUSE.sub("", low)), question)
        if not scores:
            return Intent(None, question=question, why="no command's words")
        ranked = sorted(scores.items(), key=lambda kv: -kv[1])
        best = ranked[0][0]
        if INTERJECTION.match(low) and ranked[0][1] < 1.5 and not question:
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
                changing = [GERUNDS[gerund.group(2)]]
            if (ABILITY.search(low) or BEHAVIOUR.search(low)) and changing:
                spec = {"synthesize": "synth", "strategy": "strategies"}.get(changing[0],
                                                                         changing[0])
                return Intent("help", [spec], True, "asks whether or how it can be done")
            if has(r"\b(did|in|during|at|for) round \d+\b", low) and not has(
                    r"\b(labels?|spend|spent|cost)\b", low):
                return Intent("why", self.args_for("why", low), True, "a question about a round")
            reads = [(c, s) for c, s in ranked if c in READS]
            asked = ASKED_ABOUT.get(best)
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
