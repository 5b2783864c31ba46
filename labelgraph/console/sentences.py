"""The shapes of sentences the console's intent parser tells apart: leaving, small talk, a
question (of state, of ability, asking for advice), a request, something the console cannot
do; and what a question is answered by. The words themselves (shorthand, cues per command)
are :mod:`labelgraph.console.lexicon`; the parser is :mod:`labelgraph.console.intent`.
"""

from __future__ import annotations

import re

__all__ = ["ABILITY", "ADVICE", "ASKED_ABOUT", "BEHAVIOUR", "CANNOT", "CAUSATIVE",
           "CONTEXT_CLAUSE", "GERUNDS", "INTERJECTION", "LEAD_IN", "LEAVE", "QUESTION_START",
           "READS", "REQUEST_START", "REQUEST_VERB", "RUN_GOES_ON", "SMALLTALK", "THINKING",
           "TOPICS"]

#: leaving the console: a verb of leaving aimed at the console (or nothing), or an idiom
LEAVE = re.compile(
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
RUN_GOES_ON = re.compile(
    r"\(?\b(and |but |so )?((keep|let|leave|leaving) (it|the run|the job|the labell?ing|everything|"
    r"things)?( \w+){0,3} (going|running|on|up|along|ticking\w*|chugging\w*|be|to it|"
    r"do its thing|working)|(carry|go|keep) on without (me|us)|"
    r"(the )?(run|job|labell?ing)( itself)? (keeps|stays|can|should|"
    r"carries|will|continues|is)\b[^.,;]*|(don'?t|do not|dont|not|never|pls don'?t)( \w+)? "
    r"(stop|kill|end)( \w+){0,2}|not (the run|the job|stop|stopping)[^)]*|without (me|us)"
    r"( \w+)?|(run|job) (keeps|stays) (going|up|on))\)?")
SMALLTALK = re.compile(
    r"^(hi|hello|hey|hey there|yo|good (morning|afternoon|evening)|thanks?|thank you|"
    r"cheers|nice|cool|great|awesome|good job|well done|lol|haha|hmm+|ok(ay)?|alright|sure|"
    r"fine|wow|oops|sorry|nevermind|never ?mind|perfect|good|excellent|yay)"
    r"( (you|a lot|so much|very much|there|again|work|thing|buddy|one|stuff))*[ .!?]*$")
THINKING = re.compile(r"^((hmm+|um+|uh+|ok(ay)?|so|well),? )*(let me|i need to|i'?ll) (think|see|"
                      r"check|consider|look)\b[^,;]*$")
#: a word before a question that is not part of it ("wait, can I ...", "so what is ...")
LEAD_IN = re.compile(r"^(wait|um+|uh+|well|oh|hmm+|quick question)[,.!:]?\s+"
                     r"(?=(can|could|how|what|what's|which|why|is|are|do|does|should|would|"
                     r"will|did)\b)")
#: "have it write ...", "get the next round to ...": a request through the run
CAUSATIVE = re.compile(r"^(please |now |then |and )*(have|get|make|let) (it|the (next )?\w+|"
                       r"them|the run)( \w+)? (write|draw|generate|make|pull|use|query|label|"
                       r"stop|pause|run|take|synthesi[sz]e|create|produce|switch|ask|send|"
                       r"try|pick|fetch|grab|do)\b")
#: context before the request ("now that the budget has been raised, ..."): not scored
CONTEXT_CLAUSE = re.compile(r"^(now that|since|given that|as|because|seeing that) [^,;]+[,;]\s*")
INTERJECTION = re.compile(r"^(nice|cool|great|wow|yay|finally|ok(ay)?|hmm+|oh|ah|lol|"
                          r"awesome|good|damn|ugh|meh|interesting)\b[ ,.!]")
SUBJECT = (r"(you|we|i|it|the|this|that|there|they|he|she|any|my|our|your|its|those|"
           r"these|anything|everything|someone|anyone|somebody|anybody|people|pausing|"
           r"stopping|turning|adding|switching|raising|changing|exporting)")
QUESTION_START = re.compile(
    r"^(how|what|what's|which|why|when|where|who|whose|is|are|was|were|isn't|aren't|"
    r"didn't|doesn't|haven't|hasn't|any|anything)\b|"
    r"^(do|does|did|has|have|had|am|will|would|should|shall|could|can|may|might) "
    + SUBJECT + r"\b")
REQUEST_START = re.compile(
    r"^(please |kindly |now |ok(ay)?,? |and |also |then |so |just )*"
    r"(can|could|would|will|won't) (you|we)( please)? (\w+ )?"
    r"(switch|change|set|raise|increase|lower|reduce|add|give|make|turn|stop|pause|run|"
    r"export|save|show|list|tell|explain|use|try|generate|synthesize|write|continue|resume|"
    r"go|query|pick|bump|cut|drop|remove|correct|reject|mark|relabel|search|find|plot|draw|"
    r"skip|halt|let|do|put|open|enable|disable|allow|start|send|label|take|get|fetch|"
    r"finish|end|kill|move|hold|wait|quit|close|leave|print|dump|display)\b|"
    r"(?<!if )\b(i want|i'd like|i would like|i need|let's|lets|let me|we need|we should|"
    r"you should|make sure|go ahead and)\b")
ABILITY = re.compile(r"^(can|could|may) (i|we)\b|\b(is it|it is|would it be|will it be) "
                     r"possible\b|"
                     r"\bhow (do|can|should) (i|we)\b|\bhow to\b|^how (use|change|set)\b")
ADVICE = re.compile(r"^(would|should|will|do you think|is it (worth|better|wise)|"
                    r"does it make sense)\b.*\b(help|better|worth|improve|make sense|"
                    r"a good idea|wise|recommend\w*|matter|save|faster|slower|quicker|sooner)\b|"
                    r"^should (i|we)\b.*\bor\b|"
                    r"\bwhat would happen\b|^if (i|we|you)\b.*\b(would|how|what|will)\b")
#: a question about how a command behaves, not about the run's state ("does pausing lose
#: the batch?", "what happens if the threshold is 0.9?"): answered by /help COMMAND
BEHAVIOUR = re.compile(r"^(does|do|will|can|could|is it safe|what happens (if|when)|"
                       r"what does)\b")
CANNOT = re.compile(r"^(please |can you |could you |would you |will you |now |just )*"
                    r"(e ?mail|mail|slack|message|text|tweet|notify|ping|remind(?! me)|schedule|"
                    r"print out|upload|post|share|fax|compute|calculate|make me a|order)\b|"
                    r"\bsend (it|this|that|them|the \w+)( \w+)? to (the |my |our )?(?!me\b)\w+|"
                    r"(^|\s)@\w+|^page\b|\b(restart|reboot|redeploy|deploy|scale|spin up|"
                    r"provision)\b.*\b(pod|k8s|kubernetes|docker|container|cluster|vm|gpu|"
                    r"server|node|machine|service)s?\b")
REQUEST_VERB = re.compile(r"^(please |pls |kindly |now |ok(ay)?,? |just |and |also |then )*"
                          r"(show|list|give|tell|display|print|open|get|let me see|explain)\b")
#: "does pausing lose the batch?": the command a question's gerund names
GERUNDS = {"pausing": "pause", "stopping": "stop", "continuing": "continue",
           "resuming": "continue", "exporting": "export", "switching": "strategy",
           "synthesising": "synth", "synthesizing": "synth", "generating": "synth"}
#: commands a question may ask for (a question never changes the run)
READS = ("status", "why", "spend", "labels", "search", "item", "flagged", "history", "curve",
         "pending", "tools", "help")
#: what a question about the state of a setting is answered by
ASKED_ABOUT = {"budget": "status", "strategy": "status", "batch": "status", "synth": "status",
               "synthesize": "status", "threshold": "status", "pause": "status",
               "continue": "status", "stop": "status", "step": "status", "query": "status",
               "stopping": "help", "export": "help", "correct": "item", "reject": "item"}
#: how people name the /help topics
TOPICS = (("strategies", r"\bstrateg\w*|(sampling|picking|selection|query) (methods|options)|"
                           r"acquisition functions"),
          ("stopping", r"\bstop(ping)? (rules?|criteri\w*|conditions?)|\bcriteri\w*"),
          ("labels", r"\b(labels|classes|categories|label (options|names|set))\b"),
          ("formats", r"\b(formats?|file types)\b"))
