"""Labels out (labelgraph.export) in every format, read back with each format's own
reader; formula-like cells neutralized. Real Chroma, SQLite ledger, hashing embeddings and
the oracle. No network."""

from __future__ import annotations

import json
import shutil
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from typer.testing import CliRunner

from conftest import make_pool
from labelgraph import Budget, InputError, LabelGraph, Task
from labelgraph.cli import app
from labelgraph.export import FORMATS, resolve_format
from support.builders import labeled_truth

TASK = Task(labels=["positive", "negative"], description="movie review sentiment")
runner = CliRunner()


@pytest.fixture
def run_dir(corrected: Path, tmp_path: Path) -> Path:
    """A copy of the corrected run a test may change."""
    return Path(shutil.copytree(corrected, tmp_path / "run"))


def _check(truth: pd.DataFrame, got: dict[str, dict[str, Any]]) -> None:
    """Every label with its source, confidence and verdict survived, and nothing else came."""
    assert set(got) == set(truth.index)
    for item_id, row in got.items():
        want = truth.loc[item_id]
        assert row["text"] == want["text"], item_id
        assert row["label"] == want["label"], item_id
        assert row["source"] == want["source"], item_id
        assert row["confidence"] == pytest.approx(want["confidence"]), item_id
        assert row["verdict"] == want["verdict"], item_id


def _read_table(frame: pd.DataFrame) -> dict[str, dict[str, Any]]:
    return {r["id"]: r for r in frame.to_dict(orient="records")}


def _read_hf(path: Path) -> dict[str, dict[str, Any]]:
    import datasets

    ds = datasets.load_from_disk(str(path))
    names = ds.features["label"]
    rows = ds.to_pandas().to_dict(orient="records")
    return {r["id"]: {**r, "label": names.int2str(int(r["label"]))} for r in rows}


def _read_label_studio(path: Path) -> dict[str, dict[str, Any]]:
    out = {}
    for task in json.loads(path.read_text()):
        prediction = task["predictions"][0]
        out[task["data"]["item_id"]] = {
            "text": task["data"]["text"], "verdict": task["data"]["verdict"],
            "label": prediction["result"][0]["value"]["choices"][0],
            "source": prediction["model_version"].removeprefix("labelgraph-"),
            "confidence": prediction["score"]}
    return out


def _read_argilla(path: Path) -> dict[str, dict[str, Any]]:
    out = {}
    for line in path.read_text().splitlines():
        record = json.loads(line)
        suggestion = record["suggestions"]["label"]
        assert suggestion["agent"] == f"labelgraph-{record['metadata']['source']}"
        out[record["id"]] = {"text": record["fields"]["text"], "label": suggestion["value"],
                             "confidence": suggestion["score"], **record["metadata"]}
    return out


READERS = {
    "csv": lambda p: _read_table(pd.read_csv(p, dtype={"id": str})),
    "jsonl": lambda p: _read_table(pd.read_json(p, lines=True, dtype={"id": str})),
    "parquet": lambda p: _read_table(pd.read_parquet(p)),
    "hf": _read_hf,
    "label-studio": _read_label_studio,
    "argilla": _read_argilla,
}


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_every_format_round_trips_every_label(fmt: str, run_dir: Path, tmp_path: Path) -> None:
    if fmt == "hf":
        pytest.importorskip("datasets")
    truth = labeled_truth(run_dir)
    assert len(truth) == 12 and set(truth["source"]) == {"oracle", "human"}
    assert set(truth["verdict"]) == {"accept"}
    lg = LabelGraph.open(run_dir, read_only=True)
    written = lg.export(format=fmt)  # the method, to the format's default place
    lg.close()
    assert written == run_dir / FORMATS[fmt].default and written.exists()
    _check(truth, READERS[fmt](written))


def test_export_command_writes_each_format_where_it_is_told(run_dir: Path,
                                                            tmp_path: Path) -> None:
    pytest.importorskip("datasets")
    truth = labeled_truth(run_dir)
    for fmt, name in (("hf", "labels_hf"), ("label-studio", "tasks.json"),
                      ("argilla", "records.jsonl"), ("jsonl", "rows.jsonl")):
        out = runner.invoke(app, ["export", str(run_dir), "--format", fmt, "--out",
                                  str(tmp_path / name)])
        assert out.exit_code == 0, out.output
        assert f"wrote {tmp_path / name} ({fmt})" in out.output
        _check(truth, READERS[fmt](tmp_path / name))
    assert (tmp_path / "tasks.config.xml").exists()
    again = runner.invoke(app, ["export", str(run_dir), "--format", "hf", "--out",
                                str(tmp_path / "labels_hf")])  # a saved dataset is replaced
    assert again.exit_code == 0, again.output
    _check(truth, _read_hf(tmp_path / "labels_hf"))


def test_label_studio_tasks_fit_the_labeling_config_beside_them(run_dir: Path) -> None:
    lg = LabelGraph.open(run_dir, read_only=True)
    tasks_path = lg.export(format="label-studio")
    lg.close()
    config = ET.fromstring((run_dir / "label_studio.config.xml").read_text())
    text, choices = config.find("Text"), config.find("Choices")
    assert text is not None and choices is not None
    assert choices.get("toName") == text.get("name")
    assert [c.get("value") for c in choices.findall("Choice")] == list(TASK.labels)
    for task in json.loads(tasks_path.read_text()):
        assert str(text.get("value")).removeprefix("$") in task["data"]
        assert "label" not in task["data"]  # Label Studio's flat exports put answers there
        (prediction,) = task["predictions"]
        assert 0 <= prediction["score"] <= 1 and prediction["model_version"]
        (result,) = prediction["result"]
        assert result["from_name"] == choices.get("name") and result["type"] == "choices"
        assert result["to_name"] == text.get("name")
        assert result["value"]["choices"][0] in TASK.labels


def test_argilla_records_are_what_the_sdk_accepts(run_dir: Path) -> None:
    rg = pytest.importorskip("argilla")
    lg = LabelGraph.open(run_dir, read_only=True)
    path = lg.export(format="argilla")
    lg.close()
    truth = labeled_truth(run_dir)
    for line in path.read_text().splitlines():
        data = json.loads(line)
        record = rg.Record.from_dict(data)  # no server: the SDK's own parsing
        suggestion = record.suggestions["label"]
        want = truth.loc[data["id"]]
        assert str(record.id) == data["id"] and record.fields["text"] == want["text"]
        assert suggestion.value == want["label"] and suggestion.agent.endswith(want["source"])
        assert suggestion.type == ("human" if want["source"] == "human" else "model")
        assert record.metadata["verdict"] == "accept"
        assert record.to_dict()["suggestions"]["label"]["value"] == want["label"]


def test_hf_without_datasets_is_one_line_naming_the_extra(run_dir: Path, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "datasets", None)  # import datasets -> ImportError
    out = runner.invoke(app, ["export", str(run_dir), "--format", "hf"])
    assert out.exit_code == 2, out.output
    assert out.exception is None or isinstance(out.exception, SystemExit)
    assert "pip install 'labelgraph[hf]'" in out.output and "Traceback" not in out.output
    assert len(out.output.strip().splitlines()) == 1


def test_hf_never_replaces_a_directory_that_is_not_a_dataset(run_dir: Path,
                                                              tmp_path: Path) -> None:
    pytest.importorskip("datasets")
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    lg = LabelGraph.open(run_dir, read_only=True)
    with pytest.raises(InputError, match="not a saved dataset"):
        lg.export(mine, "hf")
    lg.close()
    assert (mine / "notes.txt").read_text() == "keep me"


@pytest.mark.parametrize(("fmt", "path", "expected"), [
    (None, "a.csv", "csv"), (None, "a.jsonl", "jsonl"), (None, "a.parquet", "parquet"),
    (None, None, "csv"), ("argilla", "a.jsonl", "argilla"), ("label_studio", "t.json",
                                                             "label-studio"),
    ("HF", "out_dir", "hf"), ("label-studio", "tasks", "label-studio")])
def test_the_format_is_the_one_named_else_the_one_the_suffix_names(
        fmt: str | None, path: str | None, expected: str) -> None:
    assert resolve_format(fmt, path) == expected


@pytest.mark.parametrize(("fmt", "path", "message"), [
    ("label-studio", "a.csv", "a.csv names a csv file but the format is label-studio"),
    ("hf", "a.parquet", "names a parquet file"), ("jsonl", "t.json", "names a label-studio"),
    (None, "t.json", "say which format to write t.json in"),
    ("xml", None, "unknown format 'xml'")])
def test_a_format_the_path_contradicts_or_nobody_names_is_refused(fmt: str | None, path: str,
                                                                  message: str) -> None:
    with pytest.raises(InputError, match=message):
        resolve_format(fmt, path)


def test_a_run_without_labels_exports_files_that_load_empty(tmp_path: Path) -> None:
    lg = LabelGraph(TASK, llm="none", annotator="human", budget=Budget(labels=8),
                    run_dir=tmp_path / "run", embedding="hashing",
                    config={"seed_size": 4, "batch_size": 4, "stopping": []})
    assert lg.run(make_pool()).pending is not None  # waiting for a person: nothing labeled
    for fmt in FORMATS:
        if fmt == "hf":
            pytest.importorskip("datasets")
        assert READERS[fmt](lg.export(format=fmt)) == {}
    lg.close()


# -- formula-like cells --------------------------------------------------------------------
def test_export_neutralizes_formula_like_cells(tmp_path):
    from typer.testing import CliRunner

    from labelgraph.cli import app

    pool = make_pool()
    pool.loc[0, "text"] = "=HYPERLINK(\"http://x\") a wonderful film, scene 0"
    pool.loc[1, "text"] = "+1+1 a dull film, scene 0, with boring acting"
    lg = LabelGraph(TASK, llm="none", annotator="oracle", budget=Budget(labels=60),
                    run_dir=tmp_path / "run", embedding="hashing",
                    config={"seed_size": 20, "batch_size": 20, "stopping": []})
    lg.run(pool, label_column="label")
    lg.close()
    out = CliRunner().invoke(app, ["export", str(tmp_path / "run")])
    assert out.exit_code == 0, out.output
    csv = (tmp_path / "run" / "dataset.csv").read_text()
    assert "'=HYPERLINK" in csv and "'+1+1" in csv
    assert "\n=" not in csv and ",=" not in csv and ",+" not in csv
