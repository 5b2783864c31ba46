"""labelgraph against a real OpenAI-compatible model server: llama-cpp-python's server with
the embedded Gemma 3 270M model, started here on 127.0.0.1, reached through the real
langchain-openai client, with a counting proxy that reads what the server said.

Annotation through the log-probability path, the structured-output fallback (the server
refuses a JSON schema with an HTTP 500: marked missing once, never retried), a plain-text
label read strictly, the budget from the server's reported usage (free on this machine), and
retries across a server stopped and started again.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator

import pytest

from conftest import make_pool
from labelgraph import Budget, LabelGraph, Task
from labelgraph.budget import BudgetMeter
from labelgraph.llm import MeteredLLM, resolve_llm, strict_label
from labelgraph.memory.ledger import Ledger
from labelgraph.prompts import LabelAnswer, label_messages
from support.model_server import CountingProxy, LlamaServer, free_port

TASK = Task(labels=["positive", "negative"], description="movie review sentiment",
            text_name="Review", label_name="Sentiment")
SHOTS = [("a warm, funny and moving film", "positive"), ("dull, tedious and badly acted",
                                                          "negative")]


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[LlamaServer, CountingProxy]]:
    llama = LlamaServer(free_port()).start()
    proxy = CountingProxy(llama.url)
    yield llama, proxy
    llama.stop()
    proxy.server.shutdown()


def _metered(tmp_path, proxy: CountingProxy, **kw) -> MeteredLLM:
    ledger = Ledger(tmp_path / "ledger.sqlite")
    return MeteredLLM(resolve_llm(f"openai:gemma@{proxy.url}"), ledger=ledger,
                      meter=BudgetMeter(Budget(), ledger),
                      name=f"openai:gemma@{proxy.url}", **kw)


def test_a_run_labels_through_the_server_and_records_its_usage(tmp_path, server):
    _, proxy = server
    run_dir = tmp_path / "run"
    seed = LabelGraph(TASK, annotator="oracle", llm="none", policy="rule", run_dir=run_dir,
                      embedding="hashing", budget=Budget(labels=6),
                      config={"seed_size": 6, "batch_size": 4, "stopping": [],
                              "synthesize": False})
    seed.run(make_pool(), label_column="label")
    seed.close()
    before = sum(proxy.statuses.values()), dict(proxy.usage)
    lg = LabelGraph.open(run_dir, annotator="llm", llm=f"openai:gemma@{proxy.url}")
    lg.steer(budget={"labels": 10})
    result = lg.run()
    assert result.stop_reason == "budget exhausted: labels"
    with sqlite3.connect(run_dir / "ledger.sqlite") as conn:
        labels = conn.execute("SELECT label FROM labels WHERE source = 'llm'").fetchall()
        calls = conn.execute("SELECT COUNT(*), SUM(input_tokens), SUM(output_tokens), "
                             "SUM(usd), MIN(output) FROM calls").fetchone()
    assert len(labels) == 4 and all(label in TASK.labels for (label,) in labels)
    assert '"top"' in calls[4]  # the log-probability path: the first token's top choices
    requests = sum(proxy.statuses.values()) - before[0]
    assert requests == calls[0]  # one request per call, none retried
    assert calls[1] == proxy.usage["prompt_tokens"] - before[1].get("prompt_tokens", 0)
    assert calls[2] == proxy.usage["completion_tokens"] - before[1].get("completion_tokens", 0)
    assert calls[2] <= 8 * calls[0]  # the token cap reached the server (8 per label)
    assert calls[3] == 0.0  # a server on this machine is free
    lg.close()


def test_structured_output_the_server_refuses_is_marked_missing_once(tmp_path, server):
    _, proxy = server
    llm = _metered(tmp_path, proxy)
    before = sum(proxy.statuses.values())
    answer, why = llm.structured("annotator", LabelAnswer, label_messages(
        TASK, SHOTS, "an utterly charming comedy"), round_=1)
    assert answer is None and "cannot give structured output" in why
    assert sum(proxy.statuses.values()) - before == 1  # said once, not retried as transient
    assert proxy.statuses[500] >= 1 and "structured" in llm.missing
    assert [c for c, _ in llm.news()] == ["structured"] and llm.news() == []  # told once
    again, _ = llm.structured("annotator", LabelAnswer, label_messages(
        TASK, SHOTS, "a boring mess"), round_=1)
    assert again is None and sum(proxy.statuses.values()) - before == 1  # not asked again
    label, said = llm.label_text("annotator", label_messages(
        TASK, SHOTS, "an utterly charming comedy", label_only=True), TASK.labels, round_=1)
    assert label == strict_label(said, TASK.labels)  # read strictly from what it said
    assert label in TASK.labels, said


def test_a_server_stopped_and_started_again_is_retried(tmp_path, server):
    llama, proxy = server
    llm = _metered(tmp_path, proxy, provider_retries=5, backoff=1.0)
    llama.stop()
    restart = threading.Timer(3.0, llama.start)
    restart.start()
    started = time.time()
    probs = llm.label_logprobs("annotator", label_messages(
        TASK, SHOTS, "a delightful film", label_only=True), TASK.labels, round_=1)
    restart.join()
    assert probs is not None and set(probs) == set(TASK.labels)
    assert proxy.statuses[502] >= 1  # it was down, and the call waited for it
    assert time.time() - started >= 3.0
