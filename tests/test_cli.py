"""The command line (labelgraph.cli): graph, run on a CSV with an oracle, resume,
rebuild, export, plugins, console; every run setting from ``labelgraph run``; every user
mistake is one line and exit code 1, never a traceback (``--debug`` shows it); missing
extras named whole; tables whole in a pipe."""

from __future__ import annotations

import builtins
import json
import shutil
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from typer.testing import CliRunner

from conftest import make_pool, sentiment_of
from labelgraph import Budget, LabelGraph, Task
from labelgraph.cli import app
from labelgraph.registry import registry
from support.builders import LONG, copy_run, with_a_long_text

runner = CliRunner()


TASK = Task(labels=["positive", "negative"], description="movie review sentiment")


# -- graph, run, resume, export ------------------------------------------------------------
def test_graph_prints_mermaid_with_the_seven_nodes():
    out = runner.invoke(app, ["graph"])
    assert out.exit_code == 0
    for node in ("bootstrap", "supervisor", "selector", "generator", "annotator", "verifier",
                 "learner"):
        assert node in out.output


def test_run_resume_and_export_on_a_csv(tmp_path):
    pool = make_pool()
    pool.to_csv(tmp_path / "pool.csv", index=False)
    run_dir = tmp_path / "run"
    out = runner.invoke(app, ["run", "--pool", str(tmp_path / "pool.csv"), "--labels",
                              "positive,negative", "--label-column", "label", "--llm", "none",
                              "--annotator", "oracle", "--budget-labels", "30", "--embedding",
                              "hashing", "--run-dir", str(run_dir)])
    assert out.exit_code == 0, out.output
    assert "budget exhausted: labels" in out.output
    assert (run_dir / "report.json").exists()
    again = runner.invoke(app, ["resume", str(run_dir)])  # stopped, and nothing changed
    assert again.exit_code == 1 and "raise the label budget" in again.output, again.output
    more = runner.invoke(app, ["resume", str(run_dir), "--budget-labels", "34"])
    assert more.exit_code == 0 and "going on after the stop" in more.output, more.output
    exported = runner.invoke(app, ["export", str(run_dir)])
    assert exported.exit_code == 0 and (run_dir / "dataset.csv").read_text().count("\n") == 35


def test_run_with_a_missing_file_is_a_clear_error(tmp_path):
    out = runner.invoke(app, ["run", "--pool", str(tmp_path / "nope.csv"), "--labels", "a,b",
                              "--llm", "none", "--annotator", "oracle", "--embedding", "hashing",
                              "--run-dir", str(tmp_path / "run")])
    assert out.exit_code == 1 and "nope.csv" in out.output


# -- every mistake is one line and exit code 1; --debug shows the traceback ----------------
def _new_run_args(tmp_path: Path, *extra: str) -> list[str]:
    pool = tmp_path / "pool.csv"
    make_pool().to_csv(pool, index=False)
    return ["run", "--pool", str(pool), "--labels", "positive,negative", "--label-column",
            "label", "--llm", "none", "--annotator", "oracle", "--embedding", "hashing",
            "--run-dir", str(tmp_path / "new"), *extra]


def _damage(name: str, data: bytes):  # noqa: ANN202
    def damage(run_dir: Path) -> None:
        (run_dir / name).write_bytes(data)
        for suffix in ("-wal", "-shm"):
            (run_dir / (name + suffix)).unlink(missing_ok=True)
    return damage


CASES = {
    "negative label budget": (lambda d, t: _new_run_args(t, "--budget-labels", "-1"),
                              "labels: Input should be greater than or equal to 1"),
    "zero label budget": (lambda d, t: _new_run_args(t, "--budget-labels", "0"),
                          "labels: Input should be greater than or equal to 1"),
    "negative money budget": (lambda d, t: _new_run_args(t, "--budget-usd", "-2"),
                              "usd: Input should be greater than or equal to 0"),
    "negative token budget": (lambda d, t: _new_run_args(t, "--budget-tokens", "-5"),
                              "tokens: Input should be greater than or equal to 0"),
    "unknown strategy": (lambda d, t: _new_run_args(t, "--strategy", "nope"),
                         "unknown strategy 'nope'; choose one of"),
    "run dir is a file": (lambda d, t: _new_run_args(t, "--run-dir", str(d / "run.json")),
                          "is a file; pass a directory"),
    "export of a missing directory": (lambda d, t: ["export", str(t / "missing")],
                                      "is not a labelgraph run (no run.json)"),
    "resume of a missing directory": (lambda d, t: ["resume", str(t / "missing")],
                                      "is not a labelgraph run (no run.json)"),
}
DAMAGED = {
    "damaged run.json": (_damage("run.json", b'{"task": '), "run.json is damaged"),
    "corrupt ledger": (_damage("ledger.sqlite", b"not a database" * 100),
                       "ledger.sqlite is damaged or not a labelgraph ledger"),
    "truncated ledger": (_damage("ledger.sqlite", b"SQLite format 3\x00" + b"\x00" * 80),
                         "ledger.sqlite is damaged or not a labelgraph ledger"),
    "corrupt checkpoints": (_damage("checkpoints.sqlite", b"garbage" * 200),
                            "checkpoints.sqlite is damaged"),
    "truncated checkpoints": (_damage("checkpoints.sqlite", b"SQLite format 3\x00" + b"\x00" * 80),
                              "checkpoints.sqlite is damaged"),
    "truncated pool": (_damage("pool.parquet", b"PAR1\x00\x00"), "pool.parquet is damaged"),
}


def _assert_one_line_error(out, expected: str) -> None:  # noqa: ANN001
    assert out.exit_code == 1, out.output
    assert out.exception is None or isinstance(out.exception, SystemExit), out.exception
    assert "Traceback" not in out.output
    assert "error:" in out.output and expected in " ".join(out.output.split())


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_command_lines(case: str, finished: Path, tmp_path: Path) -> None:
    args, expected = CASES[case]
    _assert_one_line_error(runner.invoke(app, args(finished, tmp_path)), expected)
    assert not (tmp_path / "new" / "ledger.sqlite").exists()  # nothing was bought


@pytest.mark.parametrize("case", sorted(DAMAGED))
def test_damaged_run_files(case: str, finished: Path, tmp_path: Path) -> None:
    damage, expected = DAMAGED[case]
    run_dir = copy_run(finished, tmp_path)
    damage(run_dir)
    _assert_one_line_error(runner.invoke(app, ["resume", str(run_dir)]), expected)


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    out = runner.invoke(app, ["--debug", *_new_run_args(tmp_path, "--budget-labels", "-1")])
    assert out.exit_code == 1 and out.exception is not None
    assert not isinstance(out.exception, SystemExit)


# -- run takes every run setting; rebuild; missing extras; tables in a pipe ----------------
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
    monkeypatch.setitem(sys.modules, "mcp", None)  # the MCP extra is not installed
    servers = '--set=mcp_servers={"notes": {"command": "notes-server"}}'
    for args in (["bench", str(_pool_csv(tmp_path)), "--embedding", "hashing", "--seeds",
                  "1", "--strategies", "margin", servers],
                 _run_args(tmp_path, servers)):  # an InputError, not ModelNotInstalledError
        _one_error_line(runner.invoke(app, args), 1, "pip install 'labelgraph[mcp]'")


def test_tables_are_not_cut_when_the_output_is_not_a_terminal() -> None:
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


# -- resume of a paused run; plugins -------------------------------------------------------
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


def test_cli_plugins_lists_every_kind_of_built_in():
    out = runner.invoke(app, ["plugins"], env={"COLUMNS": "200"})
    assert out.exit_code == 0
    for name in ("margin", "cold_start", "stabilizing_predictions", "label_budget", "hybrid",
                 "rule", "minilm", "local", "openai"):
        assert name in out.output
    assert "built-in" in out.output


# -- --llm-price ---------------------------------------------------------------------------
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


# -- --max-chars ---------------------------------------------------------------------------
def test_cli_run_passes_max_chars(tmp_path: Path) -> None:
    path = tmp_path / "pool.csv"
    with_a_long_text().to_csv(path, index=False)
    args = ["run", "--pool", str(path), "--labels", "markets,football", "--llm", "none",
            "--annotator", "oracle", "--label-column", "label", "--budget-labels", "4",
            "--embedding", "hashing", "--no-embedding-cache"]
    result = CliRunner().invoke(app, [*args, "--run-dir", str(tmp_path / "a"),
                                      "--max-chars", "5000"])
    assert result.exit_code == 0, result.output
    assert LONG not in pd.read_parquet(tmp_path / "a" / "pool.parquet")["text"].tolist()
    result = CliRunner().invoke(app, [*args, "--run-dir", str(tmp_path / "b")])
    assert result.exit_code == 0, result.output
    assert LONG in pd.read_parquet(tmp_path / "b" / "pool.parquet")["text"].tolist()


# -- console -------------------------------------------------------------------------------
def test_a_bad_pool_for_a_new_console_run_leaves_nothing_to_undo(tmp_path):
    from typer.testing import CliRunner

    from labelgraph.cli import app

    args = ["console", str(tmp_path / "run"), "--labels", "positive,negative",
            "--llm", "none", "--annotator", "oracle", "--embedding", "hashing"]
    out = CliRunner().invoke(app, [*args, "--pool", str(tmp_path / "missing.csv")])
    assert out.exit_code == 1 and "missing.csv" in out.output
    assert not (tmp_path / "run" / "run.json").exists()  # the same command, fixed, starts it
