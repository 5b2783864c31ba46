"""A run's settings (labelgraph.settings): checked before anything is written, every one
recorded in run.json and restored by LabelGraph.open, an object that run.json cannot hold
asked for again, a paid provider never switched on by a run directory alone."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sklearn.linear_model import LogisticRegression
from typer.testing import CliRunner

from conftest import make_pool, sentiment_of
from labelgraph import Budget, InputError, LabelGraph, RunStateError, Task, tool
from labelgraph.cli import app
from support.fakes import ScriptedChatModel, last_text

TASK = Task(labels=["positive", "negative"], description="movie review sentiment")


# -- run.json: every setting recorded, unknown names refused -------------------------------
def _oracle(tmp_path: Path, **kw: Any) -> LabelGraph:
    options = {"llm": "none", "annotator": "oracle", "budget": Budget(labels=12),
               "run_dir": tmp_path / "run", "embedding": "hashing",
               "config": {"seed_size": 6, "batch_size": 6, "stopping": []}, **kw}
    return LabelGraph(TASK, **options)


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


# -- a paid provider is never switched on by a run directory -------------------------------
runner = CliRunner()


def _assert_one_line_error(out, expected: str) -> None:  # noqa: ANN001
    assert out.exit_code == 1, out.output
    assert out.exception is None or isinstance(out.exception, SystemExit), out.exception
    assert "Traceback" not in out.output
    assert "error:" in out.output and expected in " ".join(out.output.split())


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


# -- settings that need a chat model -------------------------------------------------------
def test_the_llm_policy_needs_a_model_that_decides(tmp_path):
    lg = LabelGraph(TASK, llm="none", annotator="oracle", policy="llm", run_dir=tmp_path / "a",
                    embedding="hashing", budget=Budget(labels=6))
    with pytest.raises(InputError, match="policy='llm' needs a chat model"):
        lg.run(make_pool(), label_column="label")
    assert not (tmp_path / "a" / "run.json").exists()  # refused before anything was written


def test_the_judge_needs_a_chat_model(tmp_path):
    from labelgraph.errors import InputError

    lg = LabelGraph(TASK, annotator="oracle", run_dir=tmp_path / "run", embedding="hashing",
                    config={"judge": True})
    with pytest.raises(InputError, match="judge=True needs a chat model"):
        _ = lg.context
    assert not (tmp_path / "run").exists()


def test_a_named_embedding_is_recorded_whole_and_older_runs_keep_their_window(tmp_path):
    """A later release's defaults never change a reopened run's vectors: run.json holds the
    embedding's whole config, and a run.json from before version 3 that names MiniLM without
    one reopens with the head window it was started with."""
    from labelgraph.memory.minilm import MiniLMEmbedding

    lg = _oracle(tmp_path, embedding="minilm")
    assert lg.context.embedding.window == "head_tail"  # built, not embedded: no model load
    lg.close()
    path = tmp_path / "run" / "run.json"
    saved = json.loads(path.read_text())
    assert saved["version"] == 3 and saved["embedding"]["name"] == "minilm"
    assert saved["embedding"]["config"]["window"] == "head_tail"
    assert saved["embedding"]["config"]["tail_tokens"] == 32
    again = LabelGraph.open(tmp_path / "run")
    assert again.embedding.get_config() == saved["embedding"]["config"]
    path.write_text(json.dumps({**saved, "version": 2,
                                "embedding": {"name": "minilm", "config": {}}}))
    older = LabelGraph.open(tmp_path / "run", read_only=True)
    assert older.embedding.window == "head"
    assert older.embedding.fingerprint() == MiniLMEmbedding(window="head").fingerprint()
