"""Every user mistake at the command line is one line and exit code 1, never a traceback;
``--debug`` shows the traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import make_pool
from labelgraph import Budget, InputError, LabelGraph, Task
from labelgraph.cli import app

runner = CliRunner()
TASK = Task(labels=["positive", "negative"], description="movie review sentiment")


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run_dir = tmp_path_factory.mktemp("runs") / "run"
    lg = LabelGraph(TASK, llm="none", annotator="oracle", budget=Budget(labels=12),
                    run_dir=run_dir, embedding="hashing",
                    config={"seed_size": 6, "batch_size": 6, "stopping": []})
    lg.run(make_pool(), label_column="label")
    lg.close()
    return run_dir


def _copy(run_dir: Path, tmp_path: Path) -> Path:
    import shutil

    return Path(shutil.copytree(run_dir, tmp_path / "copy"))


def _run_args(tmp_path: Path, *extra: str) -> list[str]:
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
    "negative label budget": (lambda d, t: _run_args(t, "--budget-labels", "-1"),
                              "labels: Input should be greater than or equal to 1"),
    "zero label budget": (lambda d, t: _run_args(t, "--budget-labels", "0"),
                          "labels: Input should be greater than or equal to 1"),
    "negative money budget": (lambda d, t: _run_args(t, "--budget-usd", "-2"),
                              "usd: Input should be greater than or equal to 0"),
    "negative token budget": (lambda d, t: _run_args(t, "--budget-tokens", "-5"),
                              "tokens: Input should be greater than or equal to 0"),
    "unknown strategy": (lambda d, t: _run_args(t, "--strategy", "nope"),
                         "unknown strategy 'nope'; choose one of"),
    "run dir is a file": (lambda d, t: _run_args(t, "--run-dir", str(d / "run.json")),
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


@pytest.mark.parametrize("name", ["pool.emb.npy", "model.joblib", "pool.emb.json"])
def test_damaged_caches_are_rebuilt_not_trusted(name: str, finished: Path,
                                                tmp_path: Path) -> None:
    run_dir = _copy(finished, tmp_path)
    (run_dir / name).write_bytes(b"\x93NUMPY truncated")
    lg = LabelGraph.open(run_dir)
    result = lg.resume()
    assert result.stop_reason == "budget exhausted: labels" and len(result.dataset) == 12
    assert result.model is not None
    lg.close()


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
    run_dir = _copy(finished, tmp_path)
    damage(run_dir)
    _assert_one_line_error(runner.invoke(app, ["resume", str(run_dir)]), expected)


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    out = runner.invoke(app, ["--debug", *_run_args(tmp_path, "--budget-labels", "-1")])
    assert out.exit_code == 1 and out.exception is not None
    assert not isinstance(out.exception, SystemExit)


@pytest.mark.parametrize("config", [{"batch_size": 0}, {"seed_size": 0},
                                    {"confidence_threshold": 5}, {"n_shots": -1},
                                    {"patience": 0}])
def test_bad_knobs_are_refused_at_construction(config: dict, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="bad run config"):
        LabelGraph(TASK, llm="none", annotator="oracle", run_dir=tmp_path, config=config)


def test_an_oracle_without_gold_labels_is_refused_before_a_round(tmp_path: Path) -> None:
    lg = LabelGraph(TASK, llm="none", annotator="oracle", run_dir=tmp_path / "run",
                    embedding="hashing")
    with pytest.raises(InputError, match="label_column="):
        lg.run(make_pool())  # the label column is not named
    assert not (tmp_path / "run" / "checkpoints.sqlite").exists() or \
        lg.graph.get_state(lg.config_dict).values == {}


def test_a_run_directory_alone_cannot_switch_a_resume_to_a_paid_provider(
        finished: Path, tmp_path: Path) -> None:
    import json
    import shutil

    run_dir = Path(shutil.copytree(finished, tmp_path / "copy"))
    settings = json.loads((run_dir / "run.json").read_text())
    settings["llm"] = "openai:gpt-4o"
    (run_dir / "run.json").write_text(json.dumps(settings))
    out = runner.invoke(app, ["resume", str(run_dir)])
    _assert_one_line_error(out, "calls the paid provider 'openai:gpt-4o'")
    assert "--llm openai:gpt-4o" in " ".join(out.output.split())
    assert LabelGraph.open(run_dir, llm="none").llm == "none"  # the user's word wins
    assert len(LabelGraph.open(run_dir, read_only=True).result().dataset) == 12
    out = runner.invoke(app, ["resume", str(finished)])  # a stopped run says why it stays so
    _assert_one_line_error(out, "stopped (budget exhausted: labels) and nothing lets it go on")
