"""The words the console's intent parser reads by: shorthand, numbers written as words, what
people call strategies and stopping criteria, and each command's cues.

Cues are the words that carry an intent ("pause", "hold on", "freeze"), not whole phrasings:
a sentence is scored by the cues it contains, so a new wording of a known intent still lands.
"""

from __future__ import annotations

import difflib
import re

__all__ = ["CRITERION_WORDS", "CUES", "EXPORT_FORMATS", "LEAVE_WORDS", "STRATEGY_WORDS",
           "normalise"]

_UNITS = {w: n for n, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen".split())}
_UNITS.update({"couple": 2, "dozen": 12, "fourty": 40})
_TENS = {w: 10 * n for n, w in enumerate(
    "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()) if w != "_"}
_TENS["fourty"] = 40

#: single words that mean leaving the console (the run is kept)
LEAVE_WORDS = frozenset({"exit", "quit", "bye", "goodbye", "byebye", "bye-bye", "cya", "ciao",
                         "close", "leave", "logout", "q", ":q", "adios", "later", "exit()",
                         "detach", "disconnect", "^d", "ctrl d", "ctrl+d", "^c"})

#: what people call each built-in strategy (longest first when matched)
STRATEGY_WORDS = {
    "entropy": "entropy", "max entropy": "entropy", "maximum entropy": "entropy",
    "prediction entropy": "entropy", "margin": "margin", "margins": "margin",
    "smallest margin": "margin", "breaking ties": "margin", "best versus second best": "margin",
    "least confidence": "least_confidence", "least confident": "least_confidence",
    "least_confidence": "least_confidence", "lowest confidence": "least_confidence",
    "uncertainty": "least_confidence", "uncertainty sampling": "least_confidence",
    "random": "random", "randomly": "random", "at random": "random", "passive": "random",
    "diverse": "diverse_margin", "diversity": "diverse_margin", "diverse margin":
    "diverse_margin", "diverse_margin": "diverse_margin",
    "badge": "badge", "k center": "kcenter", "kcenter": "kcenter", "k centre": "kcenter",
    "coreset": "kcenter", "kcentre": "kcenter", "core set": "kcenter",
    "density": "density_weighted",
    "density weighted": "density_weighted", "density_weighted": "density_weighted",
    "information density": "density_weighted", "contrastive": "contrastive",
    "bandit": "bandit", "multi armed bandit": "bandit", "llm": "llm", "cold start":
    "cold_start", "cold_start": "cold_start",
}
#: what people call the optional stopping criteria
CRITERION_WORDS = {
    "stabilizing predictions": "stabilizing_predictions", "stabilising predictions":
    "stabilizing_predictions", "stabilizing_predictions": "stabilizing_predictions",
    "stable predictions": "stabilizing_predictions", "prediction stability":
    "stabilizing_predictions", "stabilizing": "stabilizing_predictions", "stabilising":
    "stabilizing_predictions", "kappa": "stabilizing_predictions",
    "classification change": "classification_change", "classification_change":
    "classification_change", "accuracy plateau": "accuracy_plateau", "accuracy_plateau":
    "accuracy_plateau", "plateau": "accuracy_plateau", "cost aware": "cost_aware",
    "cost_aware": "cost_aware", "uncertainty": "uncertainty", "flattens out":
    "accuracy_plateau", "flatten": "accuracy_plateau", "flattens": "accuracy_plateau",
    "stops improving": "accuracy_plateau", "plateaus": "accuracy_plateau",
}
EXPORT_FORMATS = {"csv": "csv", "jsonl": "jsonl", "json lines": "jsonl", "parquet": "parquet",
                  "hf": "hf", "hugging face": "hf", "huggingface": "hf",
                  "label studio": "label-studio", "label-studio": "label-studio",
                  "labelstudio": "label-studio", "argilla": "argilla"}
#: shorthand people type, spelled out before anything else is read
_SHORTHAND = {
    "pls": "please", "plz": "please", "thx": "thanks", "u": "you", "ur": "your", "r": "are",
    "bs": "batch size", "acc": "accuracy", "lbls": "labels", "lbl": "label",
    "w/": "with", "w/o": "without", "btw": "", "asap": "now", "rn": "now", "ya": "you",
    "wanna": "want to", "gonna": "going to", "gimme": "give me", "lemme": "let me",
    "dont": "don't", "cant": "can't", "wont": "won't", "im": "i'm", "whats": "what's",
    "hows": "how's", "thats": "that's", "isnt": "isn't", "its": "it's", "stats": "status",
    "info": "information", "annots": "annotations", "ex": "examples", "exs": "examples",
    "egs": "examples", "approx": "about", "thr": "threshold", "thresh": "threshold",
    "usd": "dollars", "bucks": "dollars", "cfg": "settings", "q's": "questions",
    "qs": "questions", "neg": "negative", "pos": "positive", "negs": "negatives",
    "hist": "history", "strats": "strategies", "strat": "strategy", "gen": "generate",
    "pct": "percent", "synth": "synthesis", "iter": "round", "iters": "rounds",
    "sec": "second", "rd": "round", "rds": "rounds", "k": "ok", "kk": "ok",
    "ppl": "people", "b4": "before", "abt": "about", "tho": "though", "bc": "because",
    "cuz": "because", "ty": "thanks",
}
#: words a typo is corrected toward (the words that carry intent)
_VOCAB = ("search", "continue", "synthesize", "synthesis", "synthetic", "generate", "status",
          "strategy", "strategies", "threshold", "budget", "history", "flagged", "learning",
          "curve", "pause", "resume", "entropy", "margin", "random", "diverse", "confidence",
          "examples", "labels", "correct", "reject", "query", "batch", "spend", "spent",
          "explain", "forty", "export", "pending", "questions", "increase", "decrease",
          "dollars", "progress", "accuracy", "decision", "decisions", "reasoning", "another",
          "remove", "generating", "generation", "sampling", "uncertainty", "stopping",
          "criterion", "criteria", "distribution", "balance", "suspicious", "similar",
          "change", "switch", "please", "labeled", "labelled", "annotations", "annotation",
          "samples", "round", "rounds", "tokens", "money", "costs", "thousand", "hundred",
          "twenty", "thirty", "fifty", "percent", "negative", "positive", "neutral",
          "running", "stabilizing", "plateau", "enable", "disable", "budgets", "settings",
          # words kept as they are (close to a word above, but meant as themselves)
          "label", "example", "sample", "question", "annotation", "review", "reviews",
          "model", "studio", "items", "stable", "status", "change", "changes", "labeling",
          "labelling", "strategic", "spending", "generated", "samples", "exports", "unpause",
          "unfreeze", "restart", "paused", "pausing", "searching", "labelled", "leaving",
          "closing", "console", "window", "thinking", "picking", "method", "methods",
          "quota", "queue", "drain", "single", "further", "halting", "learning", "costing",
          "posting", "hosting")
#: what speech-to-text makes of the console's words, put back before anything else is read
_SPOKEN = [(re.compile(a), b) for a, b in (
    (r"\bun ?(paws|pause)\b", "unpause"), (r"\b(and|an|en) tropy\b", "entropy"),
    (r"\bsin(th)? the size\b", "synthesize"),
    (r"\bsins\b", "synthesis"), (r"\bpaws\b", "pause"), (r"\bc s v\b", "csv"),
    (r"\bx port\b", "export"), (r"\bjason l\b", "jsonl"), (r"\bjason\b", "json"),
    (r"\bk (center|centre)\b", "kcenter"),
    (r"\b(two|too) (?=(kcenter|entropy|margin|random|badge|diverse|least|density))", "to "))]


def _words_to_numbers(text: str) -> str:
    """Numbers written as words, as digits ("twenty five more" -> "25 more")."""
    out: list[str] = []
    total: float | None = None
    held: list[str] = []  # an "and" inside a number ("a hundred and five")
    for token in text.split(" "):
        core = token.strip(",.!?;:")
        pronoun = core == "one" and total is None and (
            out[-1:] and out[-1] in {"the", "this", "that", "which", "any", "each", "every",
                                     "another", "no", "some", "other"} or
            any(w in {"a", "an"} for w in out[-3:-1]) and not out[-1].isdigit() or
            len(out) >= 2 and out[-2] in {"the", "this", "that"} and out[-1].isalpha())
        if (core in _UNITS or core in _TENS) and not pronoun:
            total = (total or 0) + _UNITS.get(core, _TENS.get(core, 0))
            held = []
        elif core in {"hundred", "thousand"}:
            if out and out[-1] in {"a", "one"} and total is None:
                out.pop()
            total = (total or 1) * (100 if core == "hundred" else 1000)
        elif core == "and" and total is not None:
            held.append(token)
        elif core == "a" and held == ["and"] and total is not None:
            held.append(token)
        elif core == "half" and held == ["and", "a"] and total is not None:
            total, held = total + 0.5, []  # type: ignore[assignment]  # "two and a half"
        else:
            if total is not None:
                out += [f"{total:g}", *held]
                total, held = None, []
            out.append(token)
    if total is not None:
        out += [f"{total:g}", *held]
    return " ".join(out)


def normalise(text: str) -> str:
    """Lower case, straight quotes, shorthand spelled out, typos put right, numbers as digits
    ("gimme twnety more lbls pls" -> "give me 20 more labels please")."""
    low = text.strip().lower()
    for a, b in (("’", "'"), ("‘", "'"), ("“", '"'), ("”", '"'), ("=", " = "), ("…", " ")):
        low = low.replace(a, b)
    low = re.sub(r"(?<=[a-z])[-_](?=[a-z])", " ", low)  # made-up, k-center, batch_size
    for spoken, written in _SPOKEN:
        low = spoken.sub(written, low)
    low = re.sub(r"(\d),(\d{3})\b", r"\1\2", low)  # 1,000 -> 1000
    low = re.sub(r"\$\s*(\d+(?:\.\d+)?)", r"\1 dollars ", low)  # $5 -> 5 dollars
    low = re.sub(r"\b(\d+)\s*k\b", r"\g<1>000", low)  # 2k -> 2000
    low = re.sub(r"\s+", " ", low)
    words = []
    for word in low.split(" "):
        core = word.strip(",.!?;:()")
        lead = word[:len(word) - len(word.lstrip(",.!?;:()"))]
        tail = word[len(word.rstrip(",.!?;:()")):]
        if core in _SHORTHAND:
            word = lead + _SHORTHAND[core] + tail
        elif len(core) >= 5 and core.isalpha() and core not in _VOCAB:
            cutoff = 0.8 if len(core) >= 6 else 0.9  # a short word is more often a word
            close = [w for w in difflib.get_close_matches(core, _VOCAB, n=3, cutoff=cutoff)
                     if abs(len(w) - len(core)) <= 2]  # a slip of the keys, not a new word
            if close:
                word = lead + close[0] + tail
        words.append(word)
    low = " ".join(w for w in words if w)
    low = re.sub(r"\ba (couple|dozen)( of)?\b", r"\1", low)
    low = re.sub(r"\bhalf a dozen\b", "6", low)
    low = _words_to_numbers(low)
    low = re.sub(r"\b(\d+) point (\d+)\b", r"\1.\2", low)  # "two point five"
    low = re.sub(r"(?<![\w.])point (\d+)\b", r"0.\1", low)  # "point seven"
    low = re.sub(r"\b(\d+) dollars (?:and )?(\d{2})\b(?! (dollars|labels|items|rounds))",
                 r"\1.\2 dollars", low)  # "two dollars fifty"
    return low.strip()


_C = re.compile
MONEY = r"(dollars?|money|cents?|euros?|cash)"
SYNTH = (r"(synth\w*|generat\w*|fake|made up|artificial|invent\w*|fabricat\w*|"
         r"mak\w* (up|new)|write (some |new |more |a few )?(\w+ )?(examples|reviews|texts|"
         r"samples)|creat\w* (\w+ ){0,2}(examples|reviews|texts|samples)|augment\w*)")
#: cues per command: (pattern, weight); a request's best-scoring command wins
CUES: dict[str, list[tuple[re.Pattern[str], float]]] = {
    "status": [(_C(r"\b(status|progress|how('s| is| are) (it|things|we|the run|everything|"
                   r"the job|the model|it all)( (going|doing|looking))?|where are we|"
                   r"where do we stand|how far|update me|what round|which round|"
                   r"current (round|state|accuracy|settings|strategy|batch|threshold)|"
                   r"overview|summary|sitrep|going on|settings|state of|how many labels|"
                   r"used so far|labels (used|bought|spent)|(budget|labels) (left|"
                   r"remaining)|on track|quick update|(an |the )?update)\b"), 2.0),
               (_C(r"\b(accuracy|f1|score|performance|left|remaining)\b"), 1.0)],
    "why": [(_C(r"\b(why|reason\w*|rationale|explain\w*|justif\w*|how come|motivat\w*|"
                r"what made (you|it)|logic behind|thinking behind|what was (it|the \w+|"
                r"he|she|you) thinking)\b"), 2.0)],
    "spend": [(_C(r"\b(spen[dt]|spending|costs?|costing|bill|expens\w*|paid|pay|price|"
                  r"tokens? (used|so far|consumed)|how much money|burn(ed|t)?)\b"), 2.0),
              (_C(r"\b(by source|per source|came from|per label|vs the (model|llm|ai)|"
                  r"how much of|(dollars|money|budget) (is|are|has been) (gone|used))\b"), 1.5)],
    "labels": [(_C(r"\b(distribution|balance[d]?|imbalance\w*|breakdown|class(es)? counts?|"
                   r"counts? (per|by|of each) (class|label)|how many (of each|per class|"
                   r"positives?|negatives?|neutrals?|in each)|per class|label counts?|"
                   r"skew\w*|distributed|enough (positives|negatives|neutrals|of each|"
                   r"examples of))\b"),
                2.0)],
    "search": [(_C(r"\b(search\w*|find|look (up|for)|lookup|grep|similar to|resembl\w*|"
                   r"like the one|"
                   r"examples (like|about|mentioning|with|containing)|mentioning|"
                   r"containing)\b"), 2.0)],
    "item": [(_C(r"\b(history of|details? (of|on|for|about)|who labell?ed|what happened to|"
                 r"information (on|about)|show( me)? (item|the item)|look at|tell me about|"
                 r"item|sample|example|history (for|of|on))\b"), 1.0)],
    "flagged": [(_C(r"\b(flag\w*|suspicious|suspect\w*|doubt\w*|questionable|dubious|"
                    r"problematic|look(s)? wrong|might be wrong|wrong labels|shaky|iffy|fishy|"
                    r"unsure labels|low quality labels|label (errors|issues|noise)|"
                    r"bad labels|disagree\w*|conflict\w*|complain\w*|objected|(verifier|checker)"
                    r" (flag\w*|reject\w*|complain\w*|caught|found|think\w*|is not happy|"
                    r"isn't happy|doubt\w*)|sus|not happy with|unhappy)\b"), 2.0)],
    "history": [(_C(r"\b(history|log|timeline|all (the )?decisions|every (round|decision)|"
                    r"decisions (so far|made)|past (rounds|decisions)|"
                    r"what (has )?happened|list (of )?(the )?decisions|rounds so far|"
                    r"decided so far|what have you (done|decided)|(earlier|previous|past|"
                    r"prior) rounds?|"
                    r"did (we|it|you) ever)\b"),
                 2.0)],
    "curve": [(_C(r"\b(curve|plot\w*|graph\w*|chart|visuali[sz]\w*|draw)\b"), 2.0)],
    "pending": [(_C(r"\b(pending|waiting (for me|on me|questions)|questions (for me|waiting|"
                    r"pending|to answer|i have)|my (queue|questions|turn)|need(s)? my "
                    r"(input|answer|help|labels?)|anything for me|to answer|(open|outstanding"
                    r"|unanswered) (questions|items)|label queue|(answer|do) (the |my )?"
                    r"(questions|labels)|what do you need from me|(human|review|my|label|"
                    r"labell?ing) "
                    r"queue|queue for (me|humans?|people))\b"), 2.0)],
    "tools": [(_C(r"\b(tools?|plug ?ins?|capabilit\w*)\b"), 1.6)],
    "export": [(_C(r"\b(export\w*|download\w*|dump|save (the |my |all )?(labels|dataset|data|"
                   r"annotations|results|labell?ed)|write (the |all )?(labels|dataset|data|"
                   r"annotations) (to|out|into)|to (a )?(csv|jsonl|parquet|file)|as (a )?(csv"
                   r"|jsonl|parquet)|label ?studio|argilla|hugging ?face|push to)\b"), 2.0)],
    "pause": [(_C(r"\b(pause\w*|hold (on|it|up|off)|hang on|freeze|suspend|take a break|"
                  r"halt for|wait( (a|1) (second|moment|minute|bit))?|(1|a) (second|moment|minute)|"
                  r"stop for (a|now)|on hold|not so fast|drain|hold (the run|the job|things|"
                  r"everything|there)|(and|then) hold$|for the time being)\b"), 2.0)],
    "step": [(_C(r"((?<!this )(?<!current )(?<!the )\bstep\b(?! (away|out|back|aside|down))|"
                 r"\b(one|single|1) "
                 r"(more |further |extra |additional )?"
                 r"(round|iteration|cycle)|\bround more\b|\bnext round (only|and (then )?"
                 r"(pause|stop))|\badvance (one|1)\b|\bjust (one|1) round\b|\banother round and "
                 r"(then )?(pause|stop))"), 2.2)],
    "continue": [(_C(r"\b(continue|resume|go on|carry on|keep (going|running|on)|unpause|"
                     r"un pause|proceed|restart|start (again|back up|it again)|run again|"
                     r"go again|get going|move on|let it run|let('s| us) go|go go|"
                     r"back to work|keep it going|unfreeze|pick (it )?up (again|where))\b"), 2.0)],
    "stop": [(_C(r"\b(stop|end|kill|terminate|finish|abort|wrap|shut)\w*( \w+){0,2} "
                 r"((the|this) (whole )?(run|job)|it for (good|real)|(this|it) up for good|"
                 r"for (good|real)|permanently|once and for all)\b"), 1.6),
             (_C(r"\b(stop|end|terminate|finish|kill|abort|shut (it )?down|wrap (it )?up|"
                 r"call it( (a day|quits))?(?=$|[,.!])|we('re| are) done|"
                 r"i('m| am) done with (the|this) run|"
                 r"enough( labell?ing)?|cancel the run|no more rounds|done labell?ing|"
                 r"that's enough)\b"), 1.6)],
    "strategy": [(_C(r"\b(strateg\w*|sampling|sample (by|with|using)|select(ion)? (by|with|"
                     r"using)|query(ing)? (by|with|using)|acquisition( function)?|"
                     r"switch (to|over to|back to)|back to|replace \w+ with|"
                     r"use (the )?\w+ (sampling|strategy|selection)|(picking|selection|sampling|"
                     r"query|"
                     r"querying|acquisition) methods?)\b"), 1.6)],
    "batch": [(_C(r"\b(batch(es)?( size)?|per round|each round|every round|a round|at a time|"
                  r"per (iteration|step)|chunk size|rounds? (bigger|smaller|larger|shorter|"
                  r"longer))\b"),
               2.0)],
    "synth": [(_C(r"\b" + SYNTH + r"\b"), 1.8)],
    "threshold": [(_C(r"\b(threshold|confidence|cut ?off|the bar|bar (to|at)|send (more|less|"
                      r"fewer) (items |stuff |labels |things )?(to|my way)|ask me (more|less)|"
                      r"route (more|less|fewer)|(less|under|below) (than )?\d+(\.\d+)?"
                      r"( ?%| percent)? (sure|confident|certain)|trust (the model|the llm|the "
                      r"ai|it|its labels) (only )?(above|over|below|under|at)|(at least|"
                      r"more than|over|"
                      r"above) \d+(\.\d+)?( ?%| percent)? (sure|confident|certain)|how (sure|"
                      r"confident|certain) (does|must|should|has)|(above|over|"
                      r"below|under) \d+(\.\d+)?( ?%| percent))\b"), 2.0)],
    "budget": [(_C(r"\b(budget|more labels|labels more|additional labels|extra labels|"
                   r"label (limit|cap|allowance|quota)|quota|allowance|allow (\d+|more|another|"
                   r"an extra|extra)|top up|spending (limit|cap)|"
                   r"max(imum)? (labels|spend))\b"), 2.0),
               (_C(r"\b" + MONEY + r"\b"), 0.8)],
    "query": [(_C(r"\b(query|queries|pull|fetch|grab|get|pick|select|draw|sample|take|label|"
                  r"annotate|send|acquire|request|bring|queue)( me| up)? (\d+|another batch|"
                  r"(more|some|a few|a batch of|the next) (pool )?(items|examples|samples|"
                  r"reviews|texts|points|ones|data))\b"), 1.6),
              (_C(r"\b\d+ (more )?pool (items|examples|samples|reviews|texts)\b"), 1.6),
              (_C(r"\b(query|pull|fetch|grab|get|pick|select|take|draw|sample|acquire|bring)"
                  r"\b.*\bfrom the pool\b"), 1.6),
              (_C(r"\bquery\b"), 1.2)],
    "synthesize": [],  # a synthesis request with a number, a label or "now"
    "correct": [(_C(r"\b(correct|relabel|re label|should be|is actually|is really|"
                    r"change (the )?label|fix|mark (it |this |\w+ )?as|label (it |this |\w+ )?"
                    r"as|set (it|the label|\w+) to|actually|wrong,? it'?s|not \w+,? (it'?s |is )?"
                    r"\w+|(my )?answer (is|for|would be)|answer:)\b"), 1.0)],
    "reject": [(_C(r"\b(reject|drop|remove|discard|throw (out|away)|delete|exclude|toss|"
                   r"ignore|kick out|get rid of|bin|trash)\b"), 1.0)],
    "help": [(_C(r"\b(help|what can (you|i) (even )?(do|type|say|ask)|commands?|how does (this|it) "
                 r"work|what are (my|the) options|options|usage|manual|instructions|guide|"
                 r"how do i use|what do i type)\b"), 2.0)],
    "stopping": [(_C(r"\b(stopping (rule|criteri\w*|condition)s?|stop(ping)? (rule|criteri\w*|"
                     r"condition)|early stopping|don'?t stop (when|if|because|on)|"
                     r"(ignore|disable|turn off|switch off|drop|remove|enable|turn on) "
                     r"(the )?(\w+ ){0,2}(rule|criterion|stopping)|don'?t let it (quit|stop|"
                     r"end)( just)? (because|when|if|once))\b"), 2.4)],
}
