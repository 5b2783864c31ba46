"""Confidence from a remote provider's token log-probabilities (OpenAI's kind), with a fake
provider: the probabilities become the label's confidence signal; a provider that sends none
falls back to the structured answer and its stated confidence."""

from __future__ import annotations

import json
import math
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult

from conftest import sentiment_of
from labelgraph import Budget, LabelGraph, Task
from labelgraph.llm import label_mass, returns_logprobs
from support.fakes import ScriptedChatModel, last_text

TASK = Task(labels=["positive", "negative"], description="movie review sentiment")


class LogprobChatModel(ScriptedChatModel):
    """A fake provider with OpenAI's log-probability fields: asked for them, it answers the
    bare label and the first token's top log-probabilities (unless ``send`` is off)."""

    logprobs: bool | None = None
    top_logprobs: int | None = None
    max_tokens: int | None = None
    send: bool = True

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                  run_manager: CallbackManagerForLLMRun | None = None,
                  **kwargs: Any) -> ChatResult:
        if not self.logprobs:
            return super()._generate(messages, stop, run_manager, **kwargs)
        self.calls.append(f"logprobs top={self.top_logprobs} max_tokens={self.max_tokens}")
        label = sentiment_of(last_text(messages))
        other = "negative" if label == "positive" else "positive"
        top = [{"token": label[:3].capitalize(), "logprob": math.log(0.7)},
               {"token": " " + other[:3], "logprob": math.log(0.2)},
               {"token": "The", "logprob": math.log(0.1)}]
        meta = {"logprobs": {"content": [{"token": top[0]["token"], "logprob": top[0]["logprob"],
                                          "top_logprobs": top}]}} if self.send else {}
        msg = AIMessage(content=label, response_metadata=meta,
                        usage_metadata={"input_tokens": 50, "output_tokens": 2,
                                        "total_tokens": 52})
        return ChatResult(generations=[ChatGeneration(message=msg)])


def _stated(messages: list[Any], tool: str) -> dict[str, Any]:
    return {"label": sentiment_of(last_text(messages)), "confidence": 0.93}


def test_label_mass_reads_the_first_token() -> None:
    top = [("Pos", math.log(0.6)), (" negative", math.log(0.3)), ("The", math.log(0.1))]
    mass = label_mass(top, ["positive", "negative"])
    assert mass is not None
    assert abs(mass["positive"] - 0.6 / 0.9) < 1e-12 and abs(sum(mass.values()) - 1) < 1e-12
    assert label_mass([("The", -0.1), ("", -1.0)], ["positive", "negative"]) is None
    # a token that begins two labels gives each half its probability
    split = label_mass([("s", math.log(0.5)), ("sports", math.log(0.5))], ["sports", "science"])
    assert split == {"sports": 0.75, "science": 0.25}


def test_remote_logprobs_become_the_labels_confidence(tmp_path, pool) -> None:
    model = LogprobChatModel(responder=_stated, calls=[])
    assert returns_logprobs(model) and not returns_logprobs(ScriptedChatModel(responder=_stated))
    lg = LabelGraph(TASK, llm=model, annotator="llm", budget=Budget(labels=16),
                    run_dir=tmp_path / "run", embedding="hashing",
                    config={"seed_size": 8, "batch_size": 8, "synthesize": False})
    result = lg.run(pool, label_column="label")
    rows = [r for r in lg.context.ledger.all_labels() if r.source == "llm"]
    assert rows and result.cost["labels"] <= 16
    for row in rows:
        signals = json.loads(row.signals)
        assert abs(signals["llm"] - 0.7 / 0.9) < 1e-3 and signals.get("verbal") is None
    examples, _ = lg.context.memory.all()
    assert all(e.label == sentiment_of(e.text) for e in examples if e.source == "llm")
    asked = [c for c in model.calls if c.startswith("logprobs")]
    assert asked and all(c == "logprobs top=20 max_tokens=8" for c in asked)
    assert "LabelAnswer" not in model.calls


def test_a_provider_that_sends_no_logprobs_gets_a_structured_answer(tmp_path, pool) -> None:
    model = LogprobChatModel(responder=_stated, send=False, calls=[])
    lg = LabelGraph(TASK, llm=model, annotator="llm", budget=Budget(labels=8),
                    run_dir=tmp_path / "run", embedding="hashing",
                    config={"seed_size": 8, "batch_size": 8, "synthesize": False})
    lg.run(pool, label_column="label")
    rows = [r for r in lg.context.ledger.all_labels() if r.source == "llm"]
    assert rows
    assert all(json.loads(r.signals)["verbal"] == 0.93 for r in rows)
    assert "LabelAnswer" in model.calls
