"""Labels out of a run, in the formats people use, and a person's labels read back in.

Out: one record per labeled item with its source, confidence, verdict and provenance, as
CSV, JSON Lines, Parquet, a Hugging Face ``datasets`` directory, Label Studio tasks (with
the labeling config beside them) or Argilla records. The format is always said, never
guessed from a file name silently: a path whose suffix names another format is refused.

In: :func:`read_labels` reads what people answered (a Label Studio export, Argilla records,
or a CSV/JSONL table of ids or texts and labels) as :class:`PersonLabel` rows; recording
them in a run is :mod:`labelgraph.importing`'s job. This module only reads and writes files,
so :class:`~labelgraph.api.LabelGraph` can offer ``export()`` without importing upwards.

docs/formats.md shows every shape with an example record.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from xml.sax.saxutils import quoteattr

import pandas as pd

from labelgraph.assets import atomic_write, atomic_write_text, csv_safe
from labelgraph.errors import InputError, ModelNotInstalledError

if TYPE_CHECKING:
    from labelgraph.api import LabelGraph

__all__ = ["COLUMNS", "FORMATS", "IMPORT_FORMATS", "Format", "PersonLabel", "export",
           "export_files", "label_studio_config", "labeled_rows", "read_labels",
           "resolve_format"]

#: every format carries these, one record per labeled item
COLUMNS = ("id", "text", "label", "source", "confidence", "origin", "status", "round", "cost",
           "verdict")
#: what Label Studio and Argilla call the text and the label question in our files
TEXT, LABEL = "text", "label"

Writer = Callable[[pd.DataFrame, Path, Sequence[str]], list[Path]]


def _plain(value: Any) -> Any:
    """A cell as JSON has it: NaN and missing become null, NumPy scalars Python ones."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return value.item() if hasattr(value, "item") else value


def _records(data: pd.DataFrame) -> list[dict[str, Any]]:
    return [{k: _plain(v) for k, v in row.items()} for row in data.to_dict(orient="records")]


# -- writers ----------------------------------------------------------------------------
def _csv(data: pd.DataFrame, path: Path, labels: Sequence[str]) -> list[Path]:
    return [atomic_write(path, lambda tmp: data.map(csv_safe).to_csv(tmp, index=False))]


def _jsonl(data: pd.DataFrame, path: Path, labels: Sequence[str]) -> list[Path]:
    return [atomic_write(path, lambda tmp: data.to_json(tmp, orient="records", lines=True,
                                                        force_ascii=False))]


def _parquet(data: pd.DataFrame, path: Path, labels: Sequence[str]) -> list[Path]:
    return [atomic_write(path, lambda tmp: data.to_parquet(tmp, index=False))]


def _replace_dir(path: Path, write: Callable[[Path], Any]) -> Path:
    """Fill a fresh directory and put it in place of ``path``, which must be missing, empty
    or a dataset saved earlier: a directory of anything else is never deleted."""
    if path.exists() and not (path.is_dir() and (not any(path.iterdir())
                                                 or (path / "dataset_info.json").exists())):
        raise InputError(f"{path} exists and is not a saved dataset; the hf format writes a "
                         "directory: choose a new --out")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    old = path.with_name(f".{path.name}.old-{os.getpid()}")
    try:
        write(tmp)
        if path.exists():
            os.replace(path, old)
        os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    shutil.rmtree(old, ignore_errors=True)
    return path


def _hf(data: pd.DataFrame, path: Path, labels: Sequence[str]) -> list[Path]:
    """A ``datasets.Dataset`` saved with ``save_to_disk``; the label is a ``ClassLabel``
    whose names are the run's label set, so the directory trains as it is."""
    try:
        import datasets
    except ImportError:
        raise ModelNotInstalledError("the hf format needs the datasets package: "
                                     "pip install 'labelgraph[hf]'") from None
    string, number = datasets.Value("string"), datasets.Value("float64")
    label = datasets.ClassLabel(names=list(labels))
    features = datasets.Features({
        "id": string, "text": string, "label": label, "source": string, "confidence": number,
        "origin": string, "status": string, "round": datasets.Value("int64"), "cost": number,
        "verdict": string})
    columns = {c: [_plain(v) for v in data[c]] for c in COLUMNS}
    outside = sorted({v for v in columns["label"] if v not in labels})
    if outside:
        raise InputError(f"labels {outside} are not in the run's label set {list(labels)}")
    columns["label"] = label.str2int(columns["label"])
    dataset = datasets.Dataset.from_dict(columns, features=features)
    quiet = datasets.are_progress_bars_disabled()
    datasets.disable_progress_bars()  # a bar per save would clutter the command's output
    try:
        # one shard at least: datasets cannot load back an empty dataset saved with none
        shards = None if len(dataset) else 1
        return [_replace_dir(path, lambda tmp: dataset.save_to_disk(str(tmp),
                                                                    num_shards=shards))]
    finally:
        if not quiet:
            datasets.enable_progress_bars()


def label_studio_config(labels: Sequence[str]) -> str:
    """The labeling config our Label Studio tasks import into: a ``Text`` object named
    ``text`` and a single-choice ``Choices`` control named ``label`` with the run's labels."""
    choices = "".join(f"\n    <Choice value={quoteattr(label)}/>" for label in labels)
    return (f'<View>\n  <Text name="{TEXT}" value="${TEXT}"/>\n'
            f'  <Choices name="{LABEL}" toName="{TEXT}" choice="single">{choices}\n'
            "  </Choices>\n</View>\n")


def _label_studio_task(row: dict[str, Any]) -> dict[str, Any]:
    """One task: the text and our provenance in ``data``, our label as a prediction.

    Shapes from Label Studio's docs: the task (``data`` may carry fields beyond the ones
    the config reads) in guide/tasks.md "Basic Label Studio JSON format"; predictions
    (``model_version``, ``score``, ``result`` with ``from_name``/``to_name``/``type``/
    ``value.choices``) in guide/predictions.md "JSON format for pre-annotations". The label
    is never put in ``data``: Label Studio's JSON_MIN and CSV exports put the annotation
    under the control's name (``label``) beside the data fields."""
    data = {TEXT: row["text"], "item_id": row["id"],
            **{k: row[k] for k in COLUMNS if k not in {"id", "text", "label"}}}
    result = {"id": str(row["id"])[:12], "from_name": LABEL, "to_name": TEXT,
              "type": "choices", "value": {"choices": [row["label"]]}}
    return {"data": data, "predictions": [{"model_version": f"labelgraph-{row['source']}",
                                           "score": row["confidence"], "result": [result]}]}


def _label_studio(data: pd.DataFrame, path: Path, labels: Sequence[str]) -> list[Path]:
    tasks = [_label_studio_task(row) for row in _records(data)]
    config = path.with_name(f"{path.stem}.config.xml")
    return [atomic_write_text(path, json.dumps(tasks, ensure_ascii=False, allow_nan=False,
                                               indent=1)),
            atomic_write_text(config, label_studio_config(labels))]


def _argilla_record(row: dict[str, Any]) -> dict[str, Any]:
    """One record in the dict shape of Argilla's SDK v2 (``rg.Record.from_dict`` /
    ``Record.to_dict``; docs.argilla.io reference/argilla/records/records and
    .../records/suggestions): ``id``, ``fields`` (the text), ``suggestions`` keyed by the
    question name (value, score, agent, type) and ``metadata`` (our provenance; nulls left
    out, as a metadata property takes values of one type)."""
    meta = {k: row[k] for k in ("source", "confidence", "verdict", "origin", "status", "round",
                                "cost") if row[k] is not None}
    suggestion = {"value": row["label"], "score": row["confidence"],
                  "agent": f"labelgraph-{row['source']}",
                  "type": "human" if row["source"] == "human" else "model"}
    return {"id": row["id"], "fields": {TEXT: row["text"]},
            "suggestions": {LABEL: suggestion}, "metadata": meta}


def _argilla(data: pd.DataFrame, path: Path, labels: Sequence[str]) -> list[Path]:
    lines = (json.dumps(_argilla_record(row), ensure_ascii=False, allow_nan=False)
             for row in _records(data))
    return [atomic_write_text(path, "".join(f"{line}\n" for line in lines))]


@dataclass(frozen=True)
class Format:
    """One way to write labels: its default name in the run directory, the suffixes its
    files may carry (a path with another format's suffix is refused), and its writer."""

    default: str
    suffixes: tuple[str, ...]
    write: Writer
    #: a path ending in the first suffix means this format when none is named
    named_by_suffix: bool = False


FORMATS: dict[str, Format] = {
    "csv": Format("dataset.csv", (".csv",), _csv, True),
    "jsonl": Format("dataset.jsonl", (".jsonl",), _jsonl, True),
    "parquet": Format("dataset.parquet", (".parquet",), _parquet, True),
    "hf": Format("dataset_hf", (), _hf),
    "label-studio": Format("label_studio.json", (".json",), _label_studio),
    "argilla": Format("argilla.jsonl", (".jsonl",), _argilla),
}


def _format_name(fmt: str, known: Sequence[str]) -> str:
    name = fmt.strip().lower().lstrip(".").replace("_", "-")
    if name not in known:
        raise InputError(f"unknown format {fmt!r}; choose one of {list(known)}")
    return name


def resolve_format(fmt: str | None, path: str | Path | None) -> str:
    """The format to write: the one named, else the one the path's suffix names; a clear
    error when neither says, when the name is unknown, or when the two disagree."""
    suffix = Path(path).suffix.lower() if path is not None else ""
    claims = [name for name, f in FORMATS.items() if suffix and suffix in f.suffixes]
    if fmt is not None:
        name = _format_name(fmt, list(FORMATS))
        if claims and name not in claims:
            raise InputError(f"{path} names a {claims[0]} file but the format is {name}; "
                             "change the file name or the format")
        return name
    named = [name for name in claims if FORMATS[name].named_by_suffix]
    if named:
        return named[0]
    if path is None:
        return "csv"
    raise InputError(f"say which format to write {path} in: one of {list(FORMATS)}")


def labeled_rows(lg: LabelGraph) -> pd.DataFrame:
    """Every labeled item in memory with its provenance and latest verdict, in
    :data:`COLUMNS` order (an empty table still has them all)."""
    data = lg.dataset()
    verdicts = lg.context.ledger.verdicts()
    data = data.reindex(columns=[c for c in COLUMNS if c != "verdict"])
    data["verdict"] = [verdicts.get(i, (None, None, ""))[0] for i in data["id"]]
    return data


def export_files(lg: LabelGraph, path: str | Path | None = None,
                 fmt: str | None = None) -> list[Path]:
    """Write the run's labels to ``path`` (default ``RUN/<the format's default name>``) in
    ``fmt``; returns what was written, the labels first (Label Studio's config follows)."""
    name = resolve_format(fmt, path)
    spec = FORMATS[name]
    out = Path(path).expanduser() if path is not None else lg.run_dir / spec.default
    return spec.write(labeled_rows(lg), out, list(lg.task.labels))


def export(lg: LabelGraph, path: str | Path | None = None, fmt: str | None = None) -> Path:
    """:func:`export_files`, returning the file (or directory) that holds the labels."""
    return export_files(lg, path, fmt)[0]


# -- reading a person's labels back -----------------------------------------------------
#: what ``read_labels`` reads; "auto" tells them apart by suffix and content
IMPORT_FORMATS = ("auto", "label-studio", "argilla", "csv", "jsonl")


@dataclass(frozen=True)
class PersonLabel:
    """What people answered for one item of a file: the item by id and/or text, the
    distinct answers given (none: unanswered; several: they disagree), and where it was."""

    item_id: str | None
    text: str | None
    answers: tuple[str, ...]
    where: str


def _text(value: Any) -> str | None:
    value = _plain(value)
    return None if value is None or str(value).strip() == "" else str(value)


def _distinct(values: Sequence[Any]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(v.strip() for v in map(_text, values) if v is not None))


def _json_lines(path: Path) -> list[Any]:
    out = []
    for lineno, line in enumerate(path.read_text(encoding="utf-8-sig").splitlines(), 1):
        if line.strip():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise InputError(f"invalid JSON in {path}, line {lineno}: {exc.msg}") from None
    return out


def _json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8-sig"))
    except json.JSONDecodeError as exc:
        raise InputError(f"invalid JSON in {path}, line {exc.lineno} column {exc.colno}: "
                         f"{exc.msg}") from None


def _objects(items: Any, path: Path) -> list[dict[str, Any]]:
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise InputError(f"{path} is not a list of JSON objects (one per item)")
    return items


def _from_table(rows: list[dict[str, Any]], path: Path, what: str) -> list[PersonLabel]:
    """Rows with ``label`` and ``item_id``, ``id`` or ``text`` (our CSV/JSONL, and Label
    Studio's CSV and JSON_MIN exports, which name the task ``id`` and keep our
    ``item_id``)."""
    columns = {k for row in rows for k in row}
    if LABEL not in columns or not columns & {"item_id", "id", TEXT}:
        raise InputError(f"{path} needs a 'label' column and an 'id' (or 'item_id') or 'text' "
                         f"column; its columns are {sorted(columns)}")
    key = "item_id" if "item_id" in columns else "id"
    return [PersonLabel(_text(row.get(key)), _text(row.get(TEXT)),
                        _distinct([row.get(LABEL)]), f"{what} {n}")
            for n, row in enumerate(rows, 1)]


def _choices(annotation: dict[str, Any]) -> list[Any]:
    """The choices a Label Studio annotation made: its ``choices`` results, the ones of our
    ``label`` control if it has them (guide/task_format: ``annotations[].result[]``)."""
    results = [r for r in annotation.get("result") or [] if isinstance(r, dict)
               and r.get("type") == "choices"]
    ours = [r for r in results if r.get("from_name") == LABEL] or results
    return [c for r in ours for c in (r.get("value") or {}).get("choices") or []]


def _from_label_studio(tasks: list[dict[str, Any]], path: Path) -> list[PersonLabel]:
    """Label Studio's JSON export: the people's ``annotations`` (cancelled ones skipped;
    ``completions`` in exports of Label Studio before 1.0), never the ``predictions``."""
    if tasks and "data" not in tasks[0]:
        return _from_table(tasks, path, "item")  # the JSON_MIN export: flat rows
    out = []
    for n, task in enumerate(tasks, 1):
        data = task.get("data") or {}
        given = [c for a in (task.get("annotations") or task.get("completions") or [])
                 if isinstance(a, dict) and not a.get("was_cancelled") for c in _choices(a)]
        out.append(PersonLabel(_text(data.get("item_id")), _text(data.get(TEXT)),
                               _distinct(given), f"task {task.get('id', n)}"))
    return out


def _from_argilla(records: list[dict[str, Any]], path: Path) -> list[PersonLabel]:
    """Argilla records in the SDK's dict shape (``dataset.records.to_json`` or our JSONL
    with people's ``responses`` added): submitted responses to the ``label`` question,
    never the suggestions."""
    out = []
    for n, record in enumerate(records, 1):
        responses = (record.get("responses") or {}).get(LABEL) or []
        given = [r.get("value") for r in responses if isinstance(r, dict)
                 and r.get("status", "submitted") == "submitted"]
        out.append(PersonLabel(_text(record.get("id")),
                               _text((record.get("fields") or {}).get(TEXT)),
                               _distinct(given), f"record {n}"))
    return out


def _kind(items: list[dict[str, Any]]) -> str:
    first = items[0] if items else {}
    return "label-studio" if "data" in first or "annotations" in first else \
        "argilla" if "fields" in first else "rows"


def read_labels(path: str | Path, fmt: str = "auto") -> tuple[str, list[PersonLabel]]:
    """What people answered in ``path``, one :class:`PersonLabel` per item (or row), and
    the format it was read as. ``auto`` goes by the suffix (.csv/.tsv, .jsonl, .json) and,
    for JSON, by the shape: Label Studio tasks, Argilla records or flat rows."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise InputError(f"no file {path} to import labels from")
    name = _format_name(fmt, IMPORT_FORMATS)
    suffix = path.suffix.lower()
    if name == "csv" or (name == "auto" and suffix in {".csv", ".tsv"}):
        try:
            table = pd.read_csv(path, sep="\t" if suffix == ".tsv" else ",", dtype=str,
                                keep_default_na=False, encoding="utf-8-sig")
        except (ValueError, UnicodeDecodeError) as exc:
            raise InputError(f"cannot read {path} as CSV: {exc}") from None
        return "csv", _from_table(table.to_dict(orient="records"), path, "row")
    if name == "auto" and suffix not in {".json", ".jsonl", ".ndjson"}:
        raise InputError(f"say which format {path} is in (--format): one of "
                         f"{list(IMPORT_FORMATS[1:])}")
    # Label Studio exports a JSON list; Argilla's SDK writes one too (records.to_json), our
    # argilla export JSON Lines: the suffix says which, whatever the format.
    lines = suffix != ".json" if name in {"auto", "jsonl", "argilla"} else False
    items = _objects(_json_lines(path) if lines else _json(path), path)
    kind = _kind(items) if name in {"auto", "jsonl"} else name
    if kind == "label-studio":
        return kind, _from_label_studio(items, path)
    if kind == "argilla":
        return kind, _from_argilla(items, path)
    return ("jsonl", _from_table(items, path, "line")) if lines else \
        ("json", _from_table(items, path, "item"))
