"""The seams: typed events on every path, honest run settings, the registry, the lazy public
face, and the defects the seams work fixed (each test here failed on the code before it)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from typer.testing import CliRunner

import labelgraph
from conftest import make_pool, sentiment_of
from labelgraph import Budget, InputError, LabelGraph, RunStateError, Task, tool
from labelgraph.assets import atomic_write, atomic_write_text
from labelgraph.budget import BudgetMeter, Spend, buy_once
from labelgraph.cli import app
from labelgraph.events import Decided, Learned, PoolChecked
from labelgraph.memory.ledger import Ledger
from labelgraph.registry import Registry, registry
from support.fakes import ScriptedChatModel, last_text

TASK = Task(labels=["positive", "negative"], description="movie review sentiment")
runner = CliRunner()


def _oracle(tmp_path: Path, **kw: Any) -> LabelGraph:
    options = {"llm": "none", "annotator": "oracle", "budget": Budget(labels=12),
               "run_dir": tmp_path / "run", "embedding": "hashing",
               "config": {"seed_size": 6, "batch_size": 6, "stopping": []}, **kw}
    return LabelGraph(TASK, **options)


# -- events ------------------------------------------------------------------------------
def test_stream_yields_typed_events_beside_node_updates(tmp_path):
    lg = _oracle(tmp_path)
    pool = make_pool()
    pool.loc[len(pool)] = {"text": pool.text[0], "label": "positive"}  # a duplicate row
    items = list(lg.stream(pool, label_column="label"))
    modes = {mode for mode, _ in items}
    assert modes == {"updates", "custom"}
    events = [chunk for mode, chunk in items if mode == "custom"]
    assert events[0] == PoolChecked(round=0, name="pool", size=60, skipped={"duplicate": 1})
    assert [e.action for e in events if isinstance(e, Decided)] == ["query", "query", "stop"]
    assert [e.metrics["labels"] for e in events if isinstance(e, Learned)] == [6, 12]


def test_cli_resume_of_a_paused_run_prints_the_rounds_after_the_answers(tmp_path, monkeypatch):
    """Before: the CLI swapped its event sink after the context had captured the old one,
    so `labelgraph resume RUN` with a pending question printed no rounds."""
    lg = LabelGraph(TASK, llm="none", annotator="human", policy="rule",
                    budget=Budget(labels=12), run_dir=tmp_path / "run", embedding="hashing",
                    config={"seed_size": 6, "batch_size": 6, "synthesize": False})
    questions = lg.run(make_pool(), label_column="label").pending["questions"]
    lg.close()
    monkeypatch.setattr("labelgraph.cli.progress.interactive", lambda: True)
    answers = "".join(sentiment_of(q["text"]) + "\n" for q in questions)
    out = runner.invoke(app, ["resume", str(tmp_path / "run")], input=answers + "positive\n" * 6)
    assert out.exit_code == 0, out.output
    assert "round 2" in out.output and "→ 6 labels" in out.output
    assert "budget exhausted: labels" in out.output


# -- honest run settings -----------------------------------------------------------------
@tool(agents=["verifier"])
def no_twenty(text: str) -> dict[str, str] | None:
    """Reject texts about scene 20 (a check registered by name)."""
    return {"verdict": "reject", "reason": "scene 20"} if "scene 20," in text else None


def test_open_restores_every_recorded_setting(tmp_path):
    student = LogisticRegression(C=0.5, max_iter=321)
    lg = _oracle(tmp_path, student=student, prices={"openai:gpt-x": (1.0, 2.0)},
                 tools=["no_twenty"], config={"seed_size": 6, "batch_size": 6,
                                               "stopping": [], "n_shots": 4})
    lg.run(make_pool(), label_column="label")
    lg.close()
    saved = json.loads((tmp_path / "run" / "run.json").read_text())
    assert {"run_id", "task", "budget", "config", "llm", "annotator", "human", "embedding",
            "policy", "student", "tools", "prices", "chroma_host", "chroma_port",
            "embedding_cache"} <= set(saved)
    again = LabelGraph.open(tmp_path / "run")
    assert again.student.get_params()["C"] == 0.5 and again.student.max_iter == 321
    assert again.prices == {"openai:gpt-x": (1.0, 2.0)}
    assert again.config.n_shots == 4 and again.config.stopping == ()
    assert [t.name for t in again.context.tools.for_agent("verifier")] == ["no_twenty"]
    assert again.context.memory.collection.name == lg_collection(saved["run_id"])


def lg_collection(run_id: str) -> str:
    from labelgraph.memory.examples import collection_name

    return collection_name(run_id)


def test_open_refuses_when_an_object_must_be_passed_again(tmp_path):
    """Before: open() silently dropped a custom chat model and tools passed as functions."""
    def quiet(text: str) -> None:
        """A check passed as a plain function: run.json cannot hold it."""

    model = ScriptedChatModel(responder=lambda m, t: {"label": sentiment_of(last_text(m)),
                                                      "confidence": 0.9})
    lg = _oracle(tmp_path, llm=model, annotator="llm", tools={"verifier": [quiet]})
    lg.run(make_pool(), label_column="label")
    lg.close()
    with pytest.raises(RunStateError) as err:
        LabelGraph.open(tmp_path / "run")
    assert "llm= (a ScriptedChatModel)" in str(err.value)
    assert "tools= (verifier: quiet)" in str(err.value)
    again = LabelGraph.open(tmp_path / "run", llm=model, tools={"verifier": [quiet]})
    assert again.result().done
    reader = LabelGraph.open(tmp_path / "run", read_only=True)
    assert len(reader.result().dataset) == 12
    with pytest.raises(RunStateError, match="read-only"):
        reader.run()


def test_unknown_names_fail_before_anything_is_bought(tmp_path):
    with pytest.raises(InputError, match="unknown strategy 'nope'; choose one of"):
        _ = _oracle(tmp_path, config={"strategy": "nope"}).context
    with pytest.raises(InputError, match="unknown stopping criterion 'never'; choose one of"):
        _ = _oracle(tmp_path, config={"stopping": ["never"]}).context
    with pytest.raises(InputError, match="unknown LLM provider 'acme'; choose one of"):
        _ = _oracle(tmp_path, llm="acme:big").context
    with pytest.raises(InputError, match="unknown policy 'vote'; choose one of"):
        _ = _oracle(tmp_path, policy="vote").context
    assert not (tmp_path / "run" / "ledger.sqlite").exists()


# -- defects -----------------------------------------------------------------------------
def test_llm_policy_that_does_not_fit_the_budget_degrades_to_rules(tmp_path):
    """Before: a supervisor call over the token budget raised BudgetExhausted out of the
    graph, and resume() raised it again."""
    model = ScriptedChatModel(responder=lambda m, t: {"action": "query", "reason": "go"})
    lg = _oracle(tmp_path, llm=model, policy="llm",
                 budget=Budget(labels=12, tokens=60, usd=1.0))
    result = lg.run(make_pool(), label_column="label")
    assert result.stop_reason == "budget exhausted: labels"
    assert all("does not fit the budget" in d["reason"] for d in result.decisions[:-1])
    assert model.calls == []  # nothing was bought over budget
    assert lg.resume().stop_reason == "budget exhausted: labels"


def test_a_one_class_seed_goes_on_until_every_label_is_seen(tmp_path):
    """Before: a seed with a single label ended the run ("no new labels in 3 rounds")."""
    lg = _oracle(tmp_path, budget=Budget(labels=10),
                 config={"seed_size": 1, "batch_size": 3, "stopping": []})
    result = lg.run(make_pool(), label_column="label")
    assert result.stop_reason == "budget exhausted: labels"
    assert set(result.dataset["label"]) == {"positive", "negative"}
    assert result.model is not None  # a student was fitted once both labels were seen
    assert [d["strategy"] for d in result.decisions[:2]] == ["cold_start", "cold_start"]


def test_two_batch_size_defaults_are_one(tmp_path):
    """Before: an LLM decision without a batch size got Decision's default of 10, while
    RunConfig.batch_size and the LLM policy's prompt said 20."""
    prompts: list[str] = []

    def respond(messages: list[Any], tool: str) -> dict[str, Any]:
        prompts.append(str(messages[0].content))
        return {"action": "query", "reason": "more"}

    lg = _oracle(tmp_path, llm=ScriptedChatModel(responder=respond), policy="llm",
                 budget=Budget(labels=50), config={"seed_size": 6, "stopping": []})
    result = lg.run(make_pool(), label_column="label")
    assert result.curve["labels"].tolist()[:3] == [6, 26, 46]
    assert prompts and all("batch size (20)" in p for p in prompts)


# -- pieces of the house -----------------------------------------------------------------
def test_registry_errors_and_origins():
    reg = Registry({"strategies": {"margin": "labelgraph.strategies:Margin"}})
    with pytest.raises(InputError, match="unknown kind of plug-in 'widgets'"):
        reg.names("widgets")
    reg.add("strategies", "mine", "labelgraph.strategies:Entropy")
    with pytest.raises(InputError, match="already registered"):
        reg.add("strategies", "mine", "labelgraph.strategies:Margin")
    origins = {e.name: e.origin for e in reg.entries("strategies")}
    assert origins == {"margin": "built-in", "mine": "register()"}
    assert type(reg.create("strategies", "mine")).__name__ == "Entropy"
    assert registry.name_of("strategies", registry.create("strategies", "entropy")) == "entropy"


def test_cli_plugins_lists_every_kind_of_built_in():
    out = runner.invoke(app, ["plugins"], env={"COLUMNS": "200"})
    assert out.exit_code == 0
    for name in ("margin", "cold_start", "stabilizing_predictions", "label_budget", "hybrid",
                 "rule", "minilm", "local", "openai"):
        assert name in out.output
    assert "built-in" in out.output


def test_import_labelgraph_defers_the_heavy_libraries():
    code = ("import sys, labelgraph; heavy = [m for m in ('langgraph', 'chromadb', 'sklearn', "
            "'pandas', 'langchain_core') if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=Path(__file__).parent)
    assert out.stdout.strip() == "[]"
    assert sorted(labelgraph.__all__) == sorted(labelgraph._PUBLIC)
    assert labelgraph.LabelGraph is LabelGraph


def test_atomic_write_keeps_the_old_file_when_writing_fails(tmp_path):
    target = atomic_write_text(tmp_path / "a.json", "old")

    def broken(tmp: Path) -> None:
        tmp.write_text("half")
        raise OSError("disk full")

    with pytest.raises(OSError):
        atomic_write(target, broken)
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]


def test_buy_once_replays_or_reserves_acts_records_and_settles():
    ledger = Ledger()
    meter = BudgetMeter(Budget(labels=3), ledger)
    bought: list[str] = []

    def buy(replayed: str | None, fail: bool = False) -> str:
        def act() -> str:
            if fail:
                raise RuntimeError("provider down")
            bought.append("x")
            return "label"
        return buy_once(meter, replay=lambda: replayed, hold=Spend(labels=1), act=act,
                        record=lambda _: Spend(labels=1))

    assert buy("known") == "known" and bought == []
    assert buy(None) == "label" and meter.spent.labels == 1
    with pytest.raises(RuntimeError):
        buy(None, fail=True)
    assert meter.pending.labels == 0 and meter.spent.labels == 1
    assert np.isclose(meter.snapshot()["usd"], 0.0)
