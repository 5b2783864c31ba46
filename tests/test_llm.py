"""The model layer's small pieces: naming a model server, its price, reading a bare label
strictly, and refusing at construction what a model cannot do."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from conftest import make_pool
from labelgraph import Budget, LabelGraph, Task
from labelgraph.budget import UNKNOWN_PRICE, price_for
from labelgraph.cli import app
from labelgraph.errors import InputError
from labelgraph.llm import resolve_llm, split_server, strict_label
from labelgraph.settings import _paid

TASK = Task(labels=["positive", "negative"], description="movie review sentiment")


def test_a_server_is_named_by_its_base_url():
    assert split_server("gemma@http://127.0.0.1:8080/v1/") == ("gemma", "http://127.0.0.1:8080/v1")
    assert split_server("gpt-4o-mini") == ("gpt-4o-mini", None)
    assert split_server("name@not-a-url") == ("name@not-a-url", None)
    llm = resolve_llm("openai:gemma@http://127.0.0.1:8080/v1")
    assert (llm.model_name, str(llm.openai_api_base)) == ("gemma", "http://127.0.0.1:8080/v1")
    assert llm.max_retries == 0 and llm.request_timeout == 60.0  # labelgraph retries


def test_a_remote_server_needs_a_key_and_a_url_goes_with_openai(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("LABELGRAPH_LLM_API_KEY", raising=False)
    with pytest.raises(InputError, match="LABELGRAPH_LLM_API_KEY"):
        resolve_llm("openai:big@https://models.example.com/v1")
    monkeypatch.setenv("LABELGRAPH_LLM_API_KEY", "sk-test")
    assert resolve_llm("openai:big@https://models.example.com/v1").openai_api_key
    with pytest.raises(InputError, match="goes with 'openai:'"):
        resolve_llm("anthropic:m@http://127.0.0.1:1/v1")


def test_the_cap_is_sent_as_the_server_reads_it():
    llm = resolve_llm("openai:gemma@http://127.0.0.1:8080/v1").model_copy(
        update={"max_tokens": 8})
    payload = llm._get_request_payload([("user", "hi")])  # noqa: SLF001 (what is sent)
    assert payload["max_completion_tokens"] == 8 and payload["max_tokens"] == 8


def test_a_server_on_this_machine_is_free_and_a_price_can_be_set():
    local = "openai:gemma@http://127.0.0.1:8080/v1"
    remote = "openai:big@https://models.example.com/v1"
    assert price_for(local) == (0.0, 0.0) and not _paid(local)
    assert price_for(remote) == UNKNOWN_PRICE and _paid(remote)
    assert price_for(remote, {remote: (0.1, 0.2)}) == (0.1, 0.2)
    assert not _paid(remote, {remote: [0, 0]})  # priced free: reopening it spends nothing


def test_a_bare_answer_is_read_strictly():
    labels = ["positive", "negative", "neutral"]
    assert strict_label("Positive.", labels) == "positive"
    assert strict_label(" **negative** because", labels) == "negative"
    assert strict_label("positively not", labels) is None  # more of a word follows
    assert strict_label("Classify the sentiment", labels) is None  # an echo
    assert strict_label("", labels) is None
    assert strict_label("pos", ["pos", "positive"]) == "pos"


def test_the_llm_policy_needs_a_model_that_decides(tmp_path):
    lg = LabelGraph(TASK, llm="none", annotator="oracle", policy="llm", run_dir=tmp_path / "a",
                    embedding="hashing", budget=Budget(labels=6))
    with pytest.raises(InputError, match="policy='llm' needs a chat model"):
        lg.run(make_pool(), label_column="label")
    assert not (tmp_path / "a" / "run.json").exists()  # refused before anything was written


def test_policy_auto_says_in_its_first_decision_that_the_rules_decide(tmp_path):
    lg = LabelGraph(TASK, llm="none", annotator="oracle", run_dir=tmp_path / "a",
                    embedding="hashing", budget=Budget(labels=12),
                    config={"seed_size": 6, "batch_size": 6, "stopping": []})
    lg.run(make_pool(), label_column="label")
    first, *rest = lg.context.ledger.decisions()
    assert first["reason"].endswith("; policy 'auto' decides by the rules: the run has no LLM")
    assert rest and not any("policy 'auto'" in d["reason"] for d in rest)  # said once


def test_llm_price_on_the_command_line(tmp_path):
    make_pool().to_csv(tmp_path / "pool.csv", index=False)
    args = ["run", "--pool", str(tmp_path / "pool.csv"), "--labels", "positive,negative",
            "--label-column", "label", "--annotator", "oracle", "--llm", "none",
            "--embedding", "hashing", "--budget-labels", "6", "--run-dir",
            str(tmp_path / "run")]
    out = CliRunner().invoke(app, [*args, "--llm-price", "cheap"])
    assert out.exit_code == 1 and "--llm-price takes USD per million tokens" in out.output
    out = CliRunner().invoke(app, [*args, "--llm-price", "0.15,0.6"])
    assert out.exit_code == 0, out.output
    settings = json.loads((tmp_path / "run" / "run.json").read_text())
    assert settings["prices"] == {"none": [0.15, 0.6]}  # kept with the run
