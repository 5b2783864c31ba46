"""Bad input through the public API: a clear error naming what, or a counted skip."""

from __future__ import annotations

import pandas as pd
import pytest

from labelgraph import Budget, InputError, LabelGraph, Task

TASK = Task(labels=["positive", "negative"], description="movie review sentiment")


def graph(tmp_path, **kw) -> LabelGraph:  # noqa: ANN001
    return LabelGraph(TASK, llm="none", annotator="oracle", budget=Budget(labels=5),
                      run_dir=tmp_path / "run", embedding="hashing", **kw)


def test_empty_pool_is_a_clear_error_and_writes_nothing(tmp_path):
    with pytest.raises(InputError, match="empty"):
        graph(tmp_path).run([])
    assert not (tmp_path / "run" / "pool.parquet").exists()


def test_no_pool_at_all_is_a_clear_error(tmp_path):
    with pytest.raises(InputError, match="no pool"):
        graph(tmp_path).run()


def test_one_label_is_a_clear_error():
    with pytest.raises(InputError, match="at least two labels"):
        Task(labels=["only"])


def test_duplicates_non_text_and_unknown_labels_are_counted_skips(tmp_path):
    lg = graph(tmp_path)
    frame = pd.DataFrame({
        "text": ["a fine film", "a fine film", 42, None, "  ", "a poor film", "so-so film"],
        "label": ["positive", "positive", "negative", "negative", "negative", "negative",
                  "meh"]})
    data = lg.add_pool(frame, label_column="label")
    assert data.texts == ["a fine film", "a poor film"]
    assert data.skipped["duplicate"] == 1
    assert data.skipped["non-text"] == 2
    assert data.skipped["empty"] == 1
    assert data.skipped["unknown label"] == 1
    assert lg.skipped["pool"] == data.skipped


def test_missing_text_column_names_the_columns(tmp_path):
    with pytest.raises(InputError, match="review"):
        graph(tmp_path).run(pd.DataFrame({"review": ["good"]}))


def test_unknown_strategy_annotator_and_config_key(tmp_path):
    with pytest.raises(InputError, match="unknown annotator"):
        _ = LabelGraph(TASK, llm="none", annotator="crowd", run_dir=tmp_path / "a",
                       embedding="hashing").context
    with pytest.raises(InputError, match="unknown config keys"):
        LabelGraph(TASK, llm="none", config={"batchsize": 3}, run_dir=tmp_path / "b")
    with pytest.raises(InputError, match="needs an LLM"):
        _ = LabelGraph(TASK, llm="none", annotator="llm", run_dir=tmp_path / "c",
                       embedding="hashing").context


def test_reopening_a_run_with_other_embeddings_is_a_clear_error(tmp_path):
    from labelgraph.errors import RunStateError

    graph(tmp_path).context.ledger.close()
    with pytest.raises(RunStateError, match="other embeddings"):
        _ = LabelGraph(TASK, llm="none", annotator="oracle", run_dir=tmp_path / "run",
                       embedding="minilm").context


def test_a_different_pool_for_an_existing_run_is_refused(tmp_path):
    from labelgraph.errors import RunStateError

    lg = graph(tmp_path)
    lg.add_pool(["a fine film", "a poor film"])
    with pytest.raises(RunStateError, match="different pool"):
        lg.add_pool(["another film entirely", "a poor film"])
