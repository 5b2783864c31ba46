"""Pool loading from every source type, every counted skip and error; the demo data. Long
texts are kept unless ``max_chars`` says otherwise."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from labelgraph.assets import cache_root
from labelgraph.data import PoolData, load_pool, load_rotten_tomatoes, split_gold
from labelgraph.errors import InputError

ROWS = [
    {"text": "  a fine film  ", "label": "pos"},
    {"text": "a dull film", "label": "neg"},
    {"text": "a fine film", "label": "pos"},  # duplicate after strip
    {"text": "   ", "label": "neg"},  # empty
    {"text": "x" * 50, "label": "neg"},  # too long at max_chars=40
    {"text": "an odd film", "label": "meh"},  # unknown label
]
EXPECTED_TEXTS = ["a fine film", "a dull film", "an odd film"]


class FakeHFDataset:
    """Quacks like datasets.Dataset: column_names and to_pandas, nothing else."""

    def __init__(self, rows: list[dict]) -> None:
        self._frame = pd.DataFrame(rows)
        self.column_names = list(self._frame.columns)

    def to_pandas(self) -> pd.DataFrame:
        return self._frame.copy()


def _write(path, rows: list[dict]):
    frame = pd.DataFrame(rows)
    suffix = path.suffix
    if suffix == ".csv":
        frame.to_csv(path, index=False)
    elif suffix == ".tsv":
        frame.to_csv(path, index=False, sep="\t")
    elif suffix in (".jsonl", ".ndjson"):
        path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    elif suffix == ".json":
        path.write_text(json.dumps(rows), encoding="utf-8")
    elif suffix == ".parquet":
        frame.to_parquet(path, index=False)
    return path


# --- every source type ---------------------------------------------------------------------

@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".jsonl", ".ndjson", ".json", ".parquet"])
def test_files_of_every_type(tmp_path, suffix: str) -> None:
    path = _write(tmp_path / f"pool{suffix}", ROWS)
    pool = load_pool(path, label_column="label", labels=["pos", "neg"], max_chars=40)
    assert pool.texts == ["a fine film", "a dull film"]
    assert pool.gold == ["pos", "neg"]
    assert pool.skipped == {"duplicate": 1, "empty": 1, "too long": 1, "unknown label": 1}
    assert str(path) in pool.source
    # A str path works as well as a Path.
    assert load_pool(str(path), max_chars=40).texts == EXPECTED_TEXTS


def test_dataframe_is_not_modified() -> None:
    frame = pd.DataFrame(ROWS)
    before = frame.copy(deep=True)
    pool = load_pool(frame, label_column="label", max_chars=40)
    assert pool.texts == EXPECTED_TEXTS and pool.gold == ["pos", "neg", "meh"]
    pd.testing.assert_frame_equal(frame, before)


def test_label_column_is_used_only_when_given() -> None:
    pool = load_pool(pd.DataFrame(ROWS), max_chars=40, labels=["pos"])
    assert pool.gold is None
    assert "unknown label" not in pool.skipped


def test_list_of_strings() -> None:
    pool = load_pool(("b", " a ", "a", "", 3, None, float("nan"), ["a"], b"bytes"))
    assert pool.texts == ["b", "a"]
    assert pool.gold is None
    assert pool.skipped == {"duplicate": 1, "empty": 1, "non-text": 5}
    assert len(pool) == 2 and isinstance(pool, PoolData)


def test_series_and_array_of_strings() -> None:
    assert load_pool(pd.Series([" x ", "y", "x"])).texts == ["x", "y"]
    assert load_pool(np.array(["x", "y"])).skipped == {}


def test_list_of_dicts_and_custom_columns() -> None:
    rows = [{"review": "good", "y": 1}, {"review": "bad", "y": 0}, {"y": 1}]
    pool = load_pool(rows, text_column="review", label_column="y", labels=["0", "1"])
    assert pool.texts == ["good", "bad"] and pool.gold == ["1", "0"]
    assert pool.skipped == {"non-text": 1}  # the row without a text


def test_hugging_face_dataset_by_duck_typing() -> None:
    pool = load_pool(FakeHFDataset(ROWS), label_column="label", max_chars=40)
    assert pool.texts == EXPECTED_TEXTS
    assert pool.source.startswith("Hugging Face dataset")


# --- counted skips -------------------------------------------------------------------------

def test_non_text_values_in_a_table() -> None:
    frame = pd.DataFrame({"text": ["ok", 5, None, float("nan"), ["x"], 2.5, "fine"]})
    pool = load_pool(frame)
    assert pool.texts == ["ok", "fine"]
    assert pool.skipped == {"non-text": 5}


def test_numeric_gold_labels_match_string_label_set() -> None:
    frame = pd.DataFrame({"text": ["a", "b", "c", "d"], "label": [1, 0, 2, 1]})
    pool = load_pool(frame, label_column="label", labels=["0", "1"])
    assert pool.gold == ["1", "0", "1"]
    assert pool.skipped == {"unknown label": 1}
    # Floats from a column with a gap (1.0) and padded strings match too.
    frame = pd.DataFrame({"text": ["a", "b", "c"], "label": [1.0, None, " 0 "]})
    pool = load_pool(frame, label_column="label", labels=[" 1", "0"])
    assert pool.gold == ["1", "0"]
    assert pool.skipped == {"missing label": 1}


def test_duplicates_keep_the_first_row() -> None:
    frame = pd.DataFrame({"text": ["same", " same", "other"], "label": ["a", "b", "a"]})
    pool = load_pool(frame, label_column="label")
    assert pool.texts == ["same", "other"] and pool.gold == ["a", "a"]


def test_csv_cells_are_text(tmp_path) -> None:
    path = tmp_path / "p.csv"
    path.write_text("text,label\nNA,1\n42,0\n,1\n", encoding="utf-8")
    pool = load_pool(path, label_column="label")
    assert pool.texts == ["NA", "42"] and pool.gold == ["1", "0"]
    assert pool.skipped == {"empty": 1}


def test_csv_with_byte_order_mark(tmp_path) -> None:
    path = tmp_path / "bom.csv"
    path.write_bytes("text\nhello\n".encode("utf-8-sig"))
    assert load_pool(path).texts == ["hello"]


# --- errors --------------------------------------------------------------------------------

def test_missing_file(tmp_path) -> None:
    with pytest.raises(InputError, match="not found.*nope.csv"):
        load_pool(tmp_path / "nope.csv")


def test_unsupported_extension(tmp_path) -> None:
    path = tmp_path / "pool.xlsx"
    path.write_text("x")
    with pytest.raises(InputError, match=r"Unsupported.*\.xlsx.*\.csv"):
        load_pool(path)


def test_missing_text_column_lists_columns(tmp_path) -> None:
    path = _write(tmp_path / "p.csv", [{"review": "x", "stars": 3}])
    with pytest.raises(InputError, match=r"'text'.*p\.csv.*'review', 'stars'"):
        load_pool(path)
    with pytest.raises(InputError, match=r"label column 'gold'.*'review', 'stars'"):
        load_pool(path, text_column="review", label_column="gold")
    with pytest.raises(InputError, match="text key 'text'.*'review'"):
        load_pool([{"review": "x"}])


def test_unreadable_files(tmp_path) -> None:
    bad_jsonl = tmp_path / "bad.jsonl"
    bad_jsonl.write_text('{"text": "ok"}\n{"text": oops}\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"bad\.jsonl, line 2"):
        load_pool(bad_jsonl)
    not_objects = tmp_path / "list.jsonl"
    not_objects.write_text('{"text": "ok"}\n["a"]\n', encoding="utf-8")
    with pytest.raises(InputError, match="Line 2.*not an object"):
        load_pool(not_objects)
    wrong_json = tmp_path / "obj.json"
    wrong_json.write_text('{"text": ["a", "b"]}', encoding="utf-8")
    with pytest.raises(InputError, match="expected a list of objects"):
        load_pool(wrong_json)
    latin1 = tmp_path / "latin1.csv"
    latin1.write_bytes("text\ncaf\xe9\n".encode("latin-1"))
    with pytest.raises(InputError, match="latin1.csv.*UTF-8"):
        load_pool(latin1)
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    with pytest.raises(InputError, match="empty.csv.*empty"):
        load_pool(empty)
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"not parquet at all")
    with pytest.raises(InputError, match="Cannot read.*broken.parquet"):
        load_pool(broken)


def test_empty_pool_after_cleaning_says_why() -> None:
    with pytest.raises(InputError, match=r"3 row\(s\).*empty: 2.*non-text: 1"):
        load_pool(["", "  ", None])
    frame = pd.DataFrame({"text": ["a", "b"], "label": ["pos", "neg"]})
    with pytest.raises(InputError, match=r"unknown label: 2.*'pos'.*allowed: \['0', '1'\]"):
        load_pool(frame, label_column="label", labels=["0", "1"])
    with pytest.raises(InputError, match="0 row"):
        load_pool([])


def test_bad_source_and_arguments() -> None:
    with pytest.raises(InputError, match="Cannot load a pool from int"):
        load_pool(42)
    with pytest.raises(InputError, match="list of strings"):
        load_pool(["a"], label_column="label")
    with pytest.raises(InputError, match="not a dict"):
        load_pool([{"text": "a"}, "b"])
    with pytest.raises(InputError, match="max_chars"):
        load_pool(["a"], max_chars=0)


# --- demo data -----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def rotten_tomatoes() -> pd.DataFrame:
    return load_rotten_tomatoes()


def test_rotten_tomatoes(rotten_tomatoes: pd.DataFrame) -> None:
    df = rotten_tomatoes
    assert list(df.columns) == ["text", "label"]
    assert len(df) > 10_000
    assert set(df["label"]) == {"positive", "negative"}
    assert not df["text"].duplicated().any()
    assert (df["text"].str.strip() == df["text"]).all() and (df["text"] != "").all()
    # Review snippets are short; the dropped plot summaries were paragraphs.
    assert df["text"].str.len().max() < 400


def test_rotten_tomatoes_second_call_uses_cache(rotten_tomatoes: pd.DataFrame) -> None:
    assert (cache_root() / "data").is_dir()
    pd.testing.assert_frame_equal(load_rotten_tomatoes(), rotten_tomatoes)


def test_split_gold(rotten_tomatoes: pd.DataFrame) -> None:
    pool, test = split_gold(rotten_tomatoes, test_size=0.2, seed=0)
    assert len(pool) + len(test) == len(rotten_tomatoes)
    assert abs(len(test) - 0.2 * len(rotten_tomatoes)) <= 1
    share = rotten_tomatoes["label"].value_counts(normalize=True)
    test_share = test["label"].value_counts(normalize=True)
    assert (abs(share - test_share) < 0.01).all()
    assert not set(pool["text"]) & set(test["text"])
    again, _ = split_gold(rotten_tomatoes, test_size=0.2, seed=0)
    pd.testing.assert_frame_equal(pool, again)


def test_split_gold_errors() -> None:
    with pytest.raises(InputError, match="'label' column"):
        split_gold(pd.DataFrame({"text": ["a"]}), 0.5, 0)
    with pytest.raises(InputError, match="test_size"):
        split_gold(pd.DataFrame({"text": ["a", "b"], "label": ["x", "y"]}), 1.5, 0)
    with pytest.raises(InputError, match="stratified"):
        split_gold(pd.DataFrame({"text": list("abc"), "label": ["x", "x", "y"]}), 0.5, 0)


# --- long texts ---------------------------------------------------------------------------
LONG = " ".join(f"word{i % 97} about markets, rates; and football." for i in range(1200))
assert len(LONG) > 50_000


def test_a_long_text_is_kept_by_default() -> None:
    pool = load_pool([LONG, "short text"])
    assert pool.texts == [LONG, "short text"] and pool.skipped == {}


def test_max_chars_skips_longer_texts_and_counts_them() -> None:
    pool = load_pool([LONG, "short text"], max_chars=1000)
    assert pool.texts == ["short text"] and pool.skipped == {"too long": 1}
    with pytest.raises(InputError, match="max_chars"):
        load_pool(["a"], max_chars=True)  # type: ignore[arg-type]
