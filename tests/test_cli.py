"""The command line: graph, run on a CSV with an oracle, resume, export."""

from __future__ import annotations

from typer.testing import CliRunner

from conftest import make_pool
from labelgraph.cli import app

runner = CliRunner()


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
