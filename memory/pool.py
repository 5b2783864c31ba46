"""The pool store: a fixed table of texts with content-hash ids and cached embeddings.

Agents refer to pool items by id or row index, never by copying them into graph state.
Embeddings are computed once per pool (per embedding function and truncation), kept in the
run directory and in a cache shared by every run (by default under the settings' cache
directory), so rounds, resumes and new runs on the same pool reuse them. They are computed
in chunks, each saved atomically as it finishes, so an embedding that is killed resumes
from its last finished chunk.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from labelgraph.assets import atomic_write, atomic_write_text, save_npy
from labelgraph.errors import RunStateError
from labelgraph.types import content_id

Progress = Callable[[int, int], None]

#: texts per saved chunk: a kill loses at most this much work (about a minute on 2 cores)
CHUNK = 2048


def embedding_name(embedding: Any) -> str:
    """What identifies an embedding's vectors: its ``fingerprint()`` (model and truncation)
    when it has one, else its registry name."""
    fingerprint = getattr(embedding, "fingerprint", None)
    if callable(fingerprint):
        return str(fingerprint())
    name = getattr(embedding, "name", None)
    return str(name() if callable(name) else name or type(embedding).__name__)


def cache_key(ids: Sequence[str], embedding: Any) -> str:
    """The cache key of a pool's embeddings: its ids (content hashes) and the embedding."""
    return hashlib.sha256(("\n".join(ids) + embedding_name(embedding)).encode()).hexdigest()


def embed_in_batches(embedding: Any, texts: Sequence[str], batch: int = 512,
                     progress: Progress | None = None, done: int = 0,
                     total: int | None = None) -> np.ndarray:
    """Embed texts in batches, reporting progress as (done + embedded so far, total)."""
    total = len(texts) if total is None else total
    parts = []
    for start in range(0, len(texts), batch):
        parts.append(np.asarray(embedding.embed(list(texts[start:start + batch])),
                                dtype=np.float32))
        if progress:
            progress(done + min(start + batch, len(texts)), total)
    if not parts:
        return np.zeros((0, int(getattr(embedding, "dim", 0))), dtype=np.float32)
    return np.vstack(parts)


def embed_resumable(embedding: Any, texts: Sequence[str], parts: Path,
                    progress: Progress | None = None, chunk: int | None = None) -> np.ndarray:
    """Embed texts chunk by chunk, saving each finished chunk atomically under ``parts``;
    chunks already there (from a killed call on the same texts) are read, not recomputed.
    ``parts`` must be named by the texts and the embedding (see :func:`cache_key`)."""
    chunk = chunk or CHUNK
    spans = [(start, min(start + chunk, len(texts))) for start in range(0, len(texts), chunk)]
    found: dict[int, np.ndarray] = {}
    for start, stop in spans:
        part = _load_cached(parts / f"{start:09d}-{stop:09d}.npy", stop - start)
        if part is not None:
            found[start] = part
    dims = {p.shape[1] for p in found.values()}
    if len(dims) > 1:  # chunks from incompatible embeddings: trust none of them
        found = {}
    done = sum(len(p) for p in found.values())
    if progress and done:
        progress(done, len(texts))
    out = []
    for start, stop in spans:
        if start not in found:
            part = embed_in_batches(embedding, texts[start:stop], progress=progress,
                                    done=done, total=len(texts))
            save_npy(parts / f"{start:09d}-{stop:09d}.npy", part)
            found[start] = part
            done += stop - start
        out.append(found[start])
    if not out:
        return np.zeros((0, int(getattr(embedding, "dim", 0))), dtype=np.float32)
    return np.vstack(out)


def read_split(path: Path) -> pd.DataFrame:
    """A saved pool or test split, or a RunStateError naming the damaged file and the fix."""
    try:
        frame = pd.read_parquet(path)
        missing = {"id", "text", "gold"} - set(frame.columns)
        if missing:
            raise ValueError(f"missing columns {sorted(missing)}")
    except Exception as exc:  # pyarrow raises several kinds for a damaged file
        raise RunStateError(
            f"{path} is damaged ({type(exc).__name__}: {exc}); it holds the run's "
            f"{path.stem}: move it aside and pass the same {path.stem} again (ids are content "
            "hashes, so the ledger still matches)") from None
    return frame


def _load_cached(path: Path | None, rows: int) -> np.ndarray | None:
    """Cached embeddings, or None when missing, damaged or of another size: a cache is
    recomputed, never trusted."""
    if path is None or not path.exists():
        return None
    try:
        emb = np.load(path, allow_pickle=False)
    except Exception:
        return None
    return emb if emb.ndim == 2 and emb.shape[0] == rows else None


class PoolStore:
    """Texts, ids, optional gold labels and embeddings of one fixed set of items."""

    def __init__(self, ids: list[str], texts: list[str], gold: list[str | None] | None,
                 embeddings: np.ndarray) -> None:
        self.ids = ids
        self.texts = texts
        self.gold = gold
        self.embeddings = embeddings
        self.index = {item_id: row for row, item_id in enumerate(ids)}

    def __len__(self) -> int:
        return len(self.ids)

    def rows(self, ids: Sequence[str]) -> np.ndarray:
        return np.fromiter((self.index[i] for i in ids), dtype=np.int64, count=len(ids))

    def gold_of(self, item_id: str) -> str | None:
        if self.gold is None or item_id not in self.index:
            return None
        return self.gold[self.index[item_id]]

    @staticmethod
    def write(directory: Path, name: str, texts: Sequence[str],
              gold: Sequence[str | None] | None) -> None:
        """Save a pool's texts (and gold labels) into a run directory; idempotent."""
        path = directory / f"{name}.parquet"
        ids = [content_id(t) for t in texts]
        frame = pd.DataFrame({"id": ids, "text": list(texts),
                              "gold": list(gold) if gold is not None else [None] * len(ids)})
        if path.exists():
            old = read_split(path)
            if old["id"].tolist() != ids:
                raise RunStateError(
                    f"{path} already holds a different {name}; use a new run directory or "
                    "resume this run without passing a pool")
            return
        atomic_write(path, lambda tmp: frame.to_parquet(tmp, index=False))

    @classmethod
    def open(cls, directory: Path, name: str, embedding: Any,
             progress: Progress | None = None, cache_dir: Path | None = None,
             write: bool = True) -> PoolStore:
        """Load a saved pool and its embeddings, computing (and, unless ``write=False``,
        caching) them when missing."""
        path = directory / f"{name}.parquet"
        if not path.exists():
            raise RunStateError(f"no {name} in {directory}: start the run with a pool")
        frame = read_split(path)
        ids = frame["id"].tolist()
        texts = frame["text"].tolist()
        gold = frame["gold"].tolist() if frame["gold"].notna().any() else None
        key = cache_key(ids, embedding)
        emb_path = directory / f"{name}.emb.npy"
        meta_path = directory / f"{name}.emb.json"
        shared = cache_dir / f"{key[:32]}.npy" if cache_dir else None
        try:
            own_key = json.loads(meta_path.read_text()).get("key")
        except (OSError, ValueError, AttributeError):
            own_key = None
        emb = _load_cached(emb_path, len(ids)) if own_key == key else None
        if emb is not None:
            return cls(ids, texts, gold, emb)
        emb = _load_cached(shared, len(ids))
        if not write:
            if emb is None:
                emb = embed_in_batches(embedding, texts, progress=progress)
            return cls(ids, texts, gold, emb)
        if emb is None:
            # Finished chunks live beside the cache (or, without one, in the run directory)
            # until the whole pool is embedded, so a killed embedding resumes.
            parts = (cache_dir / f"{key[:32]}.parts" if cache_dir is not None
                     else directory / f"{name}.emb.parts")
            emb = embed_resumable(embedding, texts, parts, progress=progress)
            if shared is not None:
                save_npy(shared, emb)
            save_npy(emb_path, emb)
            shutil.rmtree(parts, ignore_errors=True)
        else:
            save_npy(emb_path, emb)
        atomic_write_text(meta_path, json.dumps({"key": key,
                                                 "embedding": embedding_name(embedding),
                                                 "n": len(ids), "dim": int(emb.shape[1])}))
        return cls(ids, texts, gold, emb)
