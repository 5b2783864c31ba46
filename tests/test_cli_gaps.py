"""The command line's gaps of issue 23, on real parts (Chroma, SQLite, hashing embeddings,
the oracle): every run setting from ``labelgraph run``, ``labelgraph rebuild``, missing
extras named whole, tables whole in a pipe, ``bench --compare`` with a named embedding,
a money budget too small for one call said in the stop, and no test fake in pricing code."""

from __future__ import annotations

import builtins
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from conftest import make_pool, sentiment_of
from labelgraph import Budget, LabelGraph, Task
from labelgraph.budget import UNKNOWN_PRICE, price_for
from labelgraph.cli import app
from labelgraph.stopping import idle_why
from support.fakes import FREE, ScriptedChatModel, last_text

runner = CliRunner()
TASK = Task(labels=["positive", "negative"], description="movie review sentiment")


def _pool_csv(tmp_path: Path) -> Path:
    path = tmp_path / "pool.csv"
    make_pool().to_csv(path, index=False)
    return path


def _run_args(tmp_path: Path, *extra: str) -> list[str]:
    return ["run", "--pool", str(_pool_csv(tmp_path)), "--labels", "positive,negative",
            "--label-column", "label", "--llm", "none", "--annotator", "oracle",
            "--embedding", "hashing", "--run-dir", str(tmp_path / "run"), *extra]


def _one_error_line(out: Any, code: int, expected: str) -> None:
    assert out.exit_code == code, out.output
    assert out.exception is None or isinstance(out.exception, SystemExit), out.exception
    assert "Traceback" not in out.output
    first = out.output.strip().splitlines()[0]
    assert first.startswith("error: "), out.output
    assert expected in " ".join(out.output.split()), out.output


# -- 1. run takes every run setting -------------------------------------------------------
def test_run_sets_batch_seed_policy_stopping_and_any_setting(tmp_path: Path) -> None:
    out = runner.invoke(app, _run_args(
        tmp_path, "--budget-labels", "14", "--batch-size", "5", "--seed-size", "4",
        "--policy", "rule", "--stopping", "none", "--set", "patience=2",
        "--set", "synthesize=false", "--set", "bandit_arms=margin,badge"))
    assert out.exit_code == 0, out.output
    saved = json.loads((tmp_path / "run" / "run.json").read_text())
    config = saved["config"]
    assert (config["batch_size"], config["seed_size"], config["patience"]) == (5, 4, 2)
    assert config["stopping"] == [] and config["synthesize"] is False
    assert config["bandit_arms"] == ["margin", "badge"]
    assert saved["policy"]["name"] == "rule"
    lg = LabelGraph.open(tmp_path / "run", read_only=True)
    assert lg.result().curve["batch"].tolist() == [4, 5, 5]  # the seed, then two batches
    lg.close()


def test_run_stopping_takes_a_comma_list(tmp_path: Path) -> None:
    out = runner.invoke(app, _run_args(tmp_path, "--budget-labels", "8", "--seed-size", "4",
                                       "--batch-size", "4", "--stopping",
                                       "uncertainty,classification_change"))
    assert out.exit_code == 0, out.output
    config = json.loads((tmp_path / "run" / "run.json").read_text())["config"]
    assert config["stopping"] == ["uncertainty", "classification_change"]


@pytest.mark.parametrize(("extra", "expected"), [
    (["--set", "no_such_knob=1"], "unknown config keys ['no_such_knob']"),
    (["--set", "batch_size=many"], "batch_size: Input should be a valid integer"),
    (["--set", "justtext"], "--set takes KEY=VALUE"),
    (["--batch-size", "5", "--set", "batch_size=6"], "batch_size given twice"),
    (["--policy", "nope"], "unknown policy 'nope'"),
    (["--stopping", "nope"], "'nope'")])
def test_run_refuses_a_bad_setting_in_one_line(tmp_path: Path, extra: list[str],
                                               expected: str) -> None:
    _one_error_line(runner.invoke(app, _run_args(tmp_path, *extra)), 1, expected)
    assert not (tmp_path / "run" / "ledger.sqlite").exists()  # nothing was bought


# -- 2. rebuild ---------------------------------------------------------------------------
def _memory(run_dir: Path) -> dict[str, tuple[str, str, str]]:
    """What the run's Chroma collection holds, read from its files as a new process would
    (not the ledger): id -> label, source, status."""
    from chromadb.api.client import SharedSystemClient

    SharedSystemClient.clear_system_cache()  # Chroma keeps a client per path per process
    lg = LabelGraph.open(run_dir)
    try:
        examples, _ = lg.context.memory.all(status=None)
        return {e.id: (e.label, e.source, e.status) for e in examples}
    finally:
        lg.close()
        SharedSystemClient.clear_system_cache()


def test_rebuild_brings_memory_back_from_the_ledger(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    lg = LabelGraph(TASK, llm="none", annotator="oracle", budget=Budget(labels=16),
                    run_dir=run_dir, embedding="hashing",
                    config={"seed_size": 8, "batch_size": 8, "stopping": []})
    result = lg.run(make_pool(), label_column="label")
    assert result.stop_reason == "budget exhausted: labels"
    corrected = result.dataset["id"].iloc[0]  # a person's word must survive a rebuild
    lg.correct(corrected, "negative" if result.dataset["label"].iloc[0] == "positive"
               else "positive")
    lg.close()
    before = _memory(run_dir)
    assert len(before) == 16 and before[corrected][1] == "human"

    shutil.rmtree(run_dir / "chroma")
    (run_dir / "model.joblib").unlink()
    assert _memory(run_dir) == {}  # the derived index is gone; the ledger is not

    out = runner.invoke(app, ["rebuild", str(run_dir)])
    assert out.exit_code == 0, out.output
    assert "16 labels" in out.output and "accepted 16" in out.output
    assert _memory(run_dir) == before
    assert (run_dir / "model.joblib").exists()
    again = LabelGraph.open(run_dir, read_only=True).result()
    assert len(again.dataset) == 16 and again.model is not None


def test_rebuild_of_a_missing_run_is_one_line(tmp_path: Path) -> None:
    _one_error_line(runner.invoke(app, ["rebuild", str(tmp_path / "nope")]), 1,
                    "is not a labelgraph run (no run.json)")


# -- 3. a missing extra keeps its name -------------------------------------------------------
def test_a_missing_provider_extra_is_an_error_line_naming_it(tmp_path: Path,
                                                            monkeypatch) -> None:
    real = builtins.__import__

    def without_langchain(name: str, *args: Any, **kw: Any) -> Any:
        if name.startswith("langchain.chat_models") or name == "langchain":
            raise ImportError("No module named 'langchain_openai'")
        return real(name, *args, **kw)

    monkeypatch.setattr(builtins, "__import__", without_langchain)
    args = [a if a != "none" else "openai:gpt-4o-mini" for a in _run_args(tmp_path)]
    out = runner.invoke(app, [*args, "--annotator", "llm"])
    _one_error_line(out, 2, """pip install 'labelgraph[openai]'""")


def test_an_install_hint_in_any_error_keeps_its_brackets(tmp_path: Path, monkeypatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "mcp", None)  # the MCP extra is not installed
    servers = '--set=mcp_servers={"notes": {"command": "notes-server"}}'
    for args in (["bench", str(_pool_csv(tmp_path)), "--embedding", "hashing", "--seeds",
                  "1", "--strategies", "margin", servers],
                 _run_args(tmp_path, servers)):  # an InputError, not ModelNotInstalledError
        _one_error_line(runner.invoke(app, args), 1, "pip install 'labelgraph[mcp]'")


# -- 4. tables are whole in a pipe -------------------------------------------------------
def test_tables_are_not_cut_when_the_output_is_not_a_terminal() -> None:
    from labelgraph.registry import registry

    out = runner.invoke(app, ["plugins"])
    assert out.exit_code == 0, out.output
    lines = out.output.splitlines()
    for entry in registry.entries():  # each row whole, on one line
        assert any(entry.name in line and entry.target in line for line in lines), entry


def test_the_end_of_run_report_is_whole_when_piped(tmp_path: Path) -> None:
    out = runner.invoke(app, _run_args(tmp_path, "--budget-labels", "30", "--strategy",
                                       "diverse_margin"))
    assert out.exit_code == 0, out.output
    lines = out.output.splitlines()
    header = ("round", "action", "strategy", "batch", "accepted", "flagged", "rejected",
              "labels", "accuracy", "kappa")
    assert any(all(f" {name} " in line for name in header) for line in lines), out.output
    assert any(" query " in line and " diverse_margin " in line for line in lines)
    modes = json.loads((tmp_path / "run" / "agents.json").read_text())
    for agent, mode in modes.items():
        assert any(agent in line and mode in line for line in lines), (agent, mode)


# -- 5. bench --compare with a named embedding ----------------------------------------------
def test_bench_compare_builds_the_named_embedding(tmp_path: Path, monkeypatch) -> None:
    import labelgraph.bench.runner

    # The comparison's features are built when a library is installed: say both are (the
    # libraries that are not then fail in their own curves, which the bench reports).
    monkeypatch.setattr(labelgraph.bench.runner, "available_libraries",
                        lambda: {"small-text": None, "modAL": None})
    out_prefix = tmp_path / "bench"
    out = runner.invoke(app, [
        "bench", str(_pool_csv(tmp_path)), "--compare", "--embedding", "hashing",
        "--seeds", "1", "--strategies", "margin", "--seed-size", "4", "--rounds", "1",
        "--batch-size", "4", "--compare-strategies", "small-text:breaking_ties",
        "--out", str(out_prefix), "--work-dir", str(tmp_path / "runs")])
    assert out.exit_code == 0, out.output
    data = json.loads(out_prefix.with_suffix(".json").read_text())
    assert data["settings"]["embedding"] == "labelgraph-hashing"
    assert [(r["library"], r["strategy"]) for r in data["runs"]] == [
        ("labelgraph", "margin"), ("small-text", "breaking_ties")]
    assert not any("embed" in str(n) for n in data["notes"]), data["notes"]


# -- 6. a budget too small for one call says so -----------------------------------------------
def test_a_money_budget_too_small_for_one_call_says_so_in_the_stop(tmp_path: Path) -> None:
    llm = ScriptedChatModel(responder=lambda messages, tool: {
        "label": sentiment_of(last_text(messages)), "confidence": 0.9})
    lg = LabelGraph(TASK, llm=llm, annotator="llm", policy="rule",
                    budget=Budget(labels=40, usd=0.0001), run_dir=tmp_path / "run",
                    embedding="hashing", prices={"scripted": (5.0, 25.0)},
                    config={"seed_size": 6, "batch_size": 6, "synthesize": False,
                            "stopping": []})
    result = lg.run(make_pool(), label_column="label")
    lg.close()
    assert llm.calls == []  # no call fitted the budget
    reason = result.stop_reason
    assert reason.startswith("no new labels in 3 rounds: of 18 items asked, the money budget "
                             "refused every call: one needs about $"), reason
    assert "$0.0001 is left" in reason and "raise the money budget" in reason
    assert result.curve["refused"].tolist() == [6, 6, 6]
    need = float(reason.split("one needs about $")[1].split(",")[0])
    assert need == pytest.approx(result.curve["refusal"].iloc[-1]["need"]) and need > 0.0001


def test_idle_why_names_the_budget_that_refused_and_keeps_other_abstentions() -> None:
    rows = [{"batch": 6, "abstained": 6, "rejected": 6, "refused": 2,
             "refusal": {"unit": "tokens", "need": 300, "left": 12}}] * 3
    assert idle_why(rows) == (
        ": of 18 items asked, 12 got no label (the annotator abstained or a person skipped; "
        "the ledger's anomalies and the run's ModelCannot events say why), the token budget "
        "refused the calls of 6: one needs about 300 tokens, 12 left (raise the token budget)")
    old = [{"batch": 6, "abstained": 6, "rejected": 6}] * 3  # rows from before refusals
    assert "got no label" in idle_why(old) and "budget" not in idle_why(old)


# -- 7. no test fake in pricing code ---------------------------------------------------------
def test_pricing_knows_no_test_fake() -> None:
    assert price_for("scripted") == UNKNOWN_PRICE
    assert price_for("scripted", FREE) == (0.0, 0.0)
