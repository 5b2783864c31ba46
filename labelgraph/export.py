"""Labels out of a run, in the formats people use: one row per labeled item with its
source, confidence, verdict and provenance. The format is always said, never guessed from a
file name silently: a path whose suffix names another format is refused."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from labelgraph.api import LabelGraph
from labelgraph.assets import atomic_write, csv_safe
from labelgraph.errors import InputError

__all__ = ["FORMATS", "export", "resolve_format"]


def _csv(data: pd.DataFrame, path: Path) -> None:
    atomic_write(path, lambda tmp: data.map(csv_safe).to_csv(tmp, index=False))


def _jsonl(data: pd.DataFrame, path: Path) -> None:
    atomic_write(path, lambda tmp: data.to_json(tmp, orient="records", lines=True,
                                                force_ascii=False))


def _parquet(data: pd.DataFrame, path: Path) -> None:
    atomic_write(path, lambda tmp: data.to_parquet(tmp, index=False))


#: format name -> (file suffix, writer)
FORMATS: dict[str, tuple[str, Callable[[pd.DataFrame, Path], None]]] = {
    "csv": (".csv", _csv), "jsonl": (".jsonl", _jsonl), "parquet": (".parquet", _parquet),
}


def resolve_format(fmt: str | None, path: str | Path | None) -> str:
    """The format to write: the one named, else the one the path's suffix names; a clear
    error when neither says, when the name is unknown, or when the two disagree."""
    by_suffix = {suffix: name for name, (suffix, _) in FORMATS.items()}
    suffix = Path(path).suffix.lower() if path is not None else ""
    if fmt is not None:
        fmt = fmt.lower().lstrip(".")
        if fmt not in FORMATS:
            raise InputError(f"unknown export format {fmt!r}; choose one of {list(FORMATS)}")
        if suffix in by_suffix and by_suffix[suffix] != fmt:
            raise InputError(f"{path} names a {by_suffix[suffix]} file but the format is "
                             f"{fmt}; change the file name or the format")
        return fmt
    if suffix in by_suffix:
        return by_suffix[suffix]
    if path is None:
        return "csv"
    raise InputError(f"say which format to write {path} in: one of {list(FORMATS)}")


def labeled_rows(lg: LabelGraph) -> pd.DataFrame:
    """Every labeled item in memory with its provenance and latest verdict."""
    data = lg.result().dataset
    verdicts = lg.context.ledger.verdicts()
    data["verdict"] = [verdicts.get(i, (None, None, ""))[0] for i in data.get("id", [])]
    return data


def export(lg: LabelGraph, path: str | Path | None = None, fmt: str | None = None) -> Path:
    """Write the run's labels to ``path`` (default ``RUN/dataset.<suffix>``) in ``fmt``."""
    name = resolve_format(fmt, path)
    suffix, write = FORMATS[name]
    out = Path(path).expanduser() if path is not None else lg.run_dir / f"dataset{suffix}"
    data: Any = labeled_rows(lg)
    write(data, out)
    return out
