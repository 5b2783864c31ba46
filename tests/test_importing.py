"""Labels back in (labelgraph.importing): a person's labels from a Label Studio or
Argilla export or a CSV, recorded as the person's: corrections, new labels within the budget,
nothing bought twice, every unknown label, item and disagreement reported. Real Chroma,
SQLite ledger, hashing embeddings and the oracle. No network."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from typer.testing import CliRunner

from conftest import make_pool, sentiment_of
from labelgraph import Budget, LabelGraph, Task
from labelgraph.cli import app
from labelgraph.export import read_labels
from labelgraph.importing import import_labels
from labelgraph.types import content_id
from support.builders import FLIP, labeled_truth

TASK = Task(labels=["positive", "negative"], description="movie review sentiment")
runner = CliRunner()


@pytest.fixture
def run_dir(corrected: Path, tmp_path: Path) -> Path:
    """A copy of the corrected run a test may change."""
    return Path(shutil.copytree(corrected, tmp_path / "run"))


# -- labels back in ---------------------------------------------------------------------
def _annotation(*labels: str, cancelled: bool = False) -> dict[str, Any]:
    """A Label Studio annotation as its JSON export has it (guide/task_format)."""
    return {"id": 1, "was_cancelled": cancelled, "ground_truth": False, "completed_by": 1,
            "result": [{"id": "r1", "from_name": "label", "to_name": "text",
                        "type": "choices", "value": {"choices": list(labels)}}]}


def _state(run_dir: Path) -> tuple[Any, ...]:
    """What an import may change: spend, a person's actions, verdicts and memory."""
    lg = LabelGraph.open(run_dir, read_only=True)
    ledger = lg.context.ledger
    memory = sorted((e.id, e.label, e.source, e.status)
                    for e in lg.context.memory.all(status=None)[0])
    state = (ledger.totals(), len(ledger.human_actions()), ledger.verdicts(), memory)
    lg.close()
    return state


def test_label_studio_round_trip_corrects_the_ledger_and_memory_once(run_dir: Path,
                                                                     tmp_path: Path) -> None:
    lg = LabelGraph.open(run_dir)
    tasks = json.loads(lg.export(format="label-studio").read_text())
    lg.close()
    oracle = [t for t in tasks if t["data"]["source"] == "oracle"]
    edited, kept, odd, skipped = oracle[:4]
    label = edited["predictions"][0]["result"][0]["value"]["choices"][0]
    edited["annotations"] = [_annotation(FLIP[label])]  # a person changed one label
    kept["annotations"] = [_annotation(kept["predictions"][0]["result"][0]["value"]
                                       ["choices"][0])]  # and confirmed one
    odd["annotations"] = [_annotation("neutral")]
    skipped["annotations"] = [_annotation("positive", cancelled=True)]
    tasks.append({"id": 99, "data": {"text": "a film nobody showed this run"},
                  "annotations": [_annotation("positive")]})
    export = tmp_path / "project-1-at-2025.json"
    export.write_text(json.dumps(tasks))
    assert read_labels(export)[0] == "label-studio"

    out = runner.invoke(app, ["import-labels", str(run_dir), str(export)])
    assert out.exit_code == 0, out.output
    said = " ".join(out.output.split())
    assert "corrected: 1, confirmed: 1" in said and "new labels: 0" in said
    assert "unknown labels: 1 ('neutral' x1; the run's labels are positive, negative)" in said
    assert "items not in this run: 1 (task 99: a film nobody showed this run)" in said
    lg = LabelGraph.open(run_dir, read_only=True)
    item = edited["data"]["item_id"]
    assert lg.context.ledger.corrections()[item] == FLIP[label]
    (example,) = lg.context.memory.get([item])  # rebuilt from the ledger: the truth
    assert (example.label, example.source, example.confidence) == (FLIP[label], "human", 1.0)
    assert lg.context.memory.get([kept["data"]["item_id"]])[0].source == "human"
    assert lg.context.ledger.totals()["labels"] == 12  # corrections buy nothing
    lg.close()

    before = _state(run_dir)
    again = runner.invoke(app, ["import-labels", str(run_dir), str(export)])
    assert again.exit_code == 0, again.output
    assert "corrected: 0, confirmed: 0" in again.output and "unchanged: 2" in again.output
    assert _state(run_dir) == before


def test_new_labels_count_in_the_budget_and_nothing_is_bought_twice(run_dir: Path,
                                                                    tmp_path: Path) -> None:
    truth = labeled_truth(run_dir)
    fresh = [t for t in make_pool()["text"] if content_id(t) not in truth.index][:3]
    rows = pd.DataFrame({"text": fresh, "label": [sentiment_of(t) for t in fresh]})
    rows.to_csv(tmp_path / "people.csv", index=False)

    full = runner.invoke(app, ["import-labels", str(run_dir), str(tmp_path / "people.csv")])
    assert full.exit_code == 0, full.output
    assert "over the label budget: 3" in full.output and "--budget-labels N" in full.output
    assert _state(run_dir)[0]["labels"] == 12  # the spent budget is never passed silently

    out = runner.invoke(app, ["import-labels", str(run_dir), str(tmp_path / "people.csv"),
                              "--budget-labels", "15"])
    assert out.exit_code == 0, out.output
    assert "new labels: 3" in out.output and "now 15 of 15 used" in out.output
    lg = LabelGraph.open(run_dir, read_only=True)
    ids = [content_id(t) for t in fresh]
    bought = lg.context.ledger.labels_for(ids)
    assert {(i, "human") for i in ids} == set(bought)
    assert all(lg.context.ledger.verdicts()[i][0] == "accept" for i in ids)
    assert {e.id: e.label for e in lg.context.memory.get(ids)} == \
        dict(zip(ids, rows["label"], strict=True))
    assert lg.context.ledger.human_actions()[-1]["kind"] == "steer"  # the budget, as a steer
    lg.close()
    before = _state(run_dir)
    again = runner.invoke(app, ["import-labels", str(run_dir), str(tmp_path / "people.csv")])
    assert "new labels: 0" in again.output and "unchanged: 3" in again.output
    assert _state(run_dir) == before


def test_unknown_labels_items_and_disagreements_are_reported_never_dropped(
        run_dir: Path, tmp_path: Path) -> None:
    truth = labeled_truth(run_dir)
    a, b, c = [i for i in truth.index if truth.loc[i, "source"] == "oracle"][:3]
    rows = [{"id": a, "label": FLIP[truth.loc[a, "label"]].upper()},  # case-insensitive
            {"id": a, "label": FLIP[truth.loc[a, "label"]]},  # the same again: once
            {"id": b, "label": "positive"}, {"id": b, "label": "negative"},  # disagree
            {"id": "f" * 24, "label": "positive"},  # not in this run
            {"id": c, "label": "meh"}, {"id": c, "label": ""},
            {"text": truth.loc[c, "text"], "label": truth.loc[c, "label"]}]  # by its text
    path = tmp_path / "rows.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    lg = LabelGraph.open(run_dir)
    report = import_labels(lg, path)
    lg.close()
    assert report.format == "jsonl" and report.rows == 8
    assert report.corrected == [a] and report.confirmed == [c] and not report.new
    assert report.unknown_labels == {"meh": 1} and report.unanswered == 1
    assert report.unknown_items == [f"line 5: {'f' * 24}"]
    assert len(report.disagreeing) == 1 and b[:10] in report.disagreeing[0]
    assert report.skipped == 4
    text = "\n".join(report.lines())
    assert "people gave different labels: 1" in text and "'meh' x1" in text


def test_argilla_responses_come_back_as_the_persons_labels(run_dir: Path,
                                                           tmp_path: Path) -> None:
    lg = LabelGraph.open(run_dir)
    records = [json.loads(line) for line in
               lg.export(format="argilla").read_text().splitlines()]
    lg.close()
    record = next(r for r in records if r["metadata"]["source"] == "oracle")
    label = record["suggestions"]["label"]["value"]
    record["responses"] = {"label": [{"value": FLIP[label], "user_id": "u1",
                                      "status": "submitted"}]}
    other = next(r for r in records if r is not record)
    other["responses"] = {"label": [{"value": "positive", "user_id": "u2",
                                     "status": "discarded"}]}
    path = tmp_path / "argilla_export.json"  # a JSON list, as the SDK's records.to_json
    path.write_text(json.dumps(records))
    lg = LabelGraph.open(run_dir)
    report = import_labels(lg, path)
    assert report.format == "argilla" and report.corrected == [record["id"]]
    assert report.unanswered == len(records) - 1  # suggestions are never imported
    assert lg.context.memory.get([record["id"]])[0].label == FLIP[label]
    lg.close()


@pytest.mark.parametrize(("args", "message"), [
    (lambda d, t: ["import-labels", str(d), str(t / "missing.csv")], "no file"),
    (lambda d, t: ["import-labels", str(t / "nope"), str(t / "x.csv")],
     "is not a labelgraph run (no run.json)"),
    (lambda d, t: ["import-labels", str(d), str(t / "x.csv"), "--format", "xml"],
     "unknown format 'xml'"),
    (lambda d, t: ["import-labels", str(d), str(t / "bad.csv")],
     "needs a 'label' column and an 'id'"),
    (lambda d, t: ["import-labels", str(d), str(t / "x.txt")], "say which format"),
])
def test_import_mistakes_are_one_line(args: Any, message: str, run_dir: Path,
                                      tmp_path: Path) -> None:
    (tmp_path / "x.csv").write_text("id,label\n")
    (tmp_path / "x.txt").write_text("id,label\n")
    (tmp_path / "bad.csv").write_text("text,answer\nhello,positive\n")
    out = runner.invoke(app, args(run_dir, tmp_path))
    assert out.exit_code == 1, out.output
    assert "error:" in out.output and message in " ".join(out.output.split())
    assert "Traceback" not in out.output


def test_imported_answers_to_a_waiting_run_are_verified_when_it_resumes(
        tmp_path: Path) -> None:
    lg = LabelGraph(TASK, llm="none", annotator="human", budget=Budget(labels=8),
                    run_dir=tmp_path / "run", embedding="hashing",
                    config={"seed_size": 4, "batch_size": 4, "stopping": []})
    questions = lg.run(make_pool()).pending["questions"]
    answered = questions[:3]
    pd.DataFrame({"text": [q["text"] for q in answered],
                  "label": [sentiment_of(q["text"]) for q in answered]}).to_csv(
        tmp_path / "answers.csv", index=False)
    report = import_labels(lg, tmp_path / "answers.csv")
    assert sorted(report.new) == sorted(q["id"] for q in answered)
    result = lg.resume({})  # the fourth question stays unanswered
    assert [q["id"] for q in result.pending["questions"]] == [questions[3]["id"]]
    verdicts = lg.context.ledger.verdicts()
    assert {q["id"]: verdicts[q["id"]][0] for q in answered} == \
        {q["id"]: "accept" for q in answered}
    assert set(result.dataset["id"]) == {q["id"] for q in answered}
    assert lg.context.ledger.totals()["labels"] == 3 and result.cost["bought_twice"] == 0
    lg.close()
