"""The labeled-example memory: a Chroma collection every agent searches by similarity.

Chroma is an index, not the truth: everything here can be rebuilt from the ledger. Writes
are upserts in chunks (Chroma ignores ``add`` of an existing id and caps batch sizes), and
metadata holds only scalars (Chroma rejects ``None`` and nested values). Reads (every
example, by id, counts, and similarity search up to ``EXACT_LIMIT`` examples) come from an
in-process copy updated with every upsert: the one process driving a run is memory's only
writer, and the loop reads all of memory several times a round. With ``write_behind`` the
writes reach Chroma in bulk (with the first write made that many seconds after the last
flush, and at :meth:`flush`); what a crash keeps from Chroma, the driver that reopens the
run rewrites from the ledger (``labelgraph.memory.repair.repair_memory``).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from labelgraph.errors import RunStateError

CHUNK = 4000
#: Up to this many examples, similarity search is exact over the in-process copy; beyond,
#: Chroma's approximate index answers (a brute-force round of queries grows with memory).
EXACT_LIMIT = 20_000
__all__ = ["Example", "ExampleMemory", "collection_name", "make_client", "memory_status"]


def _unit(matrix: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero), for cosine similarity."""
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.where(norms > 0, norms, 1.0)


def memory_status(verdict: str, source: str | None) -> str:
    """Where a verified label lives in memory. A person's label is the authority: a flag on
    it is noted and the label kept; a flagged LLM label is held out of training."""
    return "accepted" if verdict == "accept" or source in {"human", "oracle"} else "flagged"


def collection_name(run_id: str | None) -> str:
    """Each run owns its collection, so runs sharing a Chroma server never see each other's
    labels. Runs made before run ids existed keep the old shared name."""
    return f"labelgraph-{run_id}" if run_id else "examples"


@dataclass(frozen=True)
class Example:
    """A labeled example as stored in memory."""

    id: str
    text: str
    label: str
    source: str
    confidence: float
    round: int
    status: str = "accepted"  # accepted | flagged | rejected (by a person's correction)
    origin: str = "pool"  # pool | synthetic
    cost: float = 0.0

    def corrected(self, label: str | None) -> Example:
        """This example as a person corrected it: a new label they vouch for, or (None)
        rejected and kept out of training and of the dataset."""
        return replace(self, label=label or self.label, source="human", confidence=1.0,
                       status="accepted" if label else "rejected")

    def metadata(self) -> dict[str, Any]:
        return {"label": self.label, "source": self.source, "confidence": float(self.confidence),
                "round": int(self.round), "status": self.status, "origin": self.origin,
                "cost": float(self.cost)}


def make_client(path: str | Path | None = None, *, host: str | None = None,
                port: int | None = None) -> Any:
    """A Chroma client: persistent in ``path``, a server at ``host``, or ephemeral."""
    import chromadb
    from chromadb.config import Settings

    settings = Settings(anonymized_telemetry=False, allow_reset=True)
    if host:
        return chromadb.HttpClient(host=host, port=port or 8000, settings=settings)
    if path is not None:
        return chromadb.PersistentClient(path=str(path), settings=settings)
    return chromadb.EphemeralClient(settings=settings)


class ExampleMemory:
    """Labeled examples with provenance, searchable by embedding similarity."""

    def __init__(self, client: Any, embedding: Any, name: str = "examples", *,
                 write_behind: float = 0.0) -> None:
        self.embedding = embedding
        #: seconds a write may wait to reach Chroma with later ones (0: written at once)
        self.write_behind = write_behind
        self._copy: dict[str, tuple[Example, np.ndarray]] | None = None  # loaded on first read
        self._sorted: tuple[list[Example], np.ndarray] | None = None  # id order, kept
        self._pending: dict[str, tuple[str, dict[str, Any], np.ndarray]] = {}  # not in Chroma
        self._flushed = time.monotonic()
        try:
            self.collection = client.get_or_create_collection(
                name=name, embedding_function=embedding, metadata={"hnsw:space": "cosine"})
        except ValueError as exc:
            if "conflict" not in str(exc).lower():
                raise
            raise RunStateError(
                f"this run's memory was built with other embeddings ({exc}); reopen it with "
                "the embedding it was started with") from exc

    def __len__(self) -> int:
        return len(self._rows())

    def _rows(self) -> dict[str, tuple[Example, np.ndarray]]:
        """The in-process copy of the collection (id -> example and embedding), read from
        Chroma once (a reopened run's memory) and kept current by :meth:`upsert`."""
        if self._copy is None:
            res = self.collection.get(include=["documents", "metadatas", "embeddings"])
            vectors = np.asarray(res["embeddings"], dtype=np.float32) if res["ids"] \
                else np.zeros((0, 0), dtype=np.float32)
            self._copy = {i: (self._example(i, d, m), vectors[n]) for n, (i, d, m) in
                          enumerate(zip(res["ids"], res["documents"], res["metadatas"],
                                        strict=True))}
        return self._copy

    def upsert(self, examples: Sequence[Example], embeddings: np.ndarray | None = None) -> None:
        """Insert or replace examples; embeddings are computed when not given. Reads see them
        at once; Chroma does when :attr:`write_behind` seconds have passed since the last
        write reached it (at once by default), or at :meth:`flush`."""
        if not examples:
            return
        if embeddings is None:
            embeddings = self.embedding.embed([e.text for e in examples])
        rows = self._rows()
        for e, vector in zip(examples, np.asarray(embeddings, dtype=np.float32), strict=True):
            meta = e.metadata()
            # the copy holds what Chroma will hold, as Chroma gives it back
            rows[e.id] = (self._example(e.id, e.text, meta), vector.copy())
            self._pending[e.id] = (e.text, meta, rows[e.id][1])
        self._sorted = None
        if time.monotonic() - self._flushed >= self.write_behind:
            self.flush()

    def flush(self) -> None:
        """Write what Chroma does not hold yet, in chunks. If a chunk fails, it and the rest
        stay pending (the next flush retries them) and the error propagates."""
        while self._pending:
            ids = list(self._pending)[:CHUNK]
            rows = [self._pending[i] for i in ids]
            self.collection.upsert(ids=ids, documents=[text for text, _, _ in rows],
                                   embeddings=np.stack([v for _, _, v in rows]),
                                   metadatas=[meta for _, meta, _ in rows])
            for i in ids:
                del self._pending[i]
        self._flushed = time.monotonic()

    @property
    def pending(self) -> int:
        """How many written examples have not reached Chroma yet."""
        return len(self._pending)

    def get(self, ids: Sequence[str]) -> list[Example]:
        """The stored examples with these ids (any status), in no particular order."""
        rows = self._rows()
        return [rows[i][0] for i in dict.fromkeys(ids) if i in rows]

    def has(self, ids: Sequence[str]) -> set[str]:
        """Which of these ids memory holds (any status)."""
        rows = self._rows()
        return {i for i in ids if i in rows}

    def similar(self, embeddings: np.ndarray, k: int, *, status: str | None = "accepted",
                exclude: Sequence[str] = (), label: str | None = None,
                ) -> list[list[tuple[Example, float]]]:
        """The k nearest stored examples for each query row, as (example, cosine similarity).

        Up to ``EXACT_LIMIT`` examples the search is exact, over the in-process copy (a
        round's queries cost about a millisecond there, against 15-20 ms through Chroma's
        index); beyond that Chroma's HNSW index answers."""
        n = len(self)
        if n == 0 or k <= 0 or len(embeddings) == 0:
            return [[] for _ in range(len(embeddings))]
        if n > EXACT_LIMIT:
            return self._similar_indexed(embeddings, k, status=status, exclude=exclude,
                                         label=label)
        skip = set(exclude)
        examples, vectors = self.all(status=status, label=label, with_embeddings=True)
        keep = [j for j, e in enumerate(examples) if e.id not in skip]
        if not keep:
            return [[] for _ in range(len(embeddings))]
        examples = [examples[j] for j in keep]
        sims = _unit(np.asarray(embeddings, dtype=np.float32)) @ _unit(vectors[keep]).T
        top = min(k, len(examples))
        out: list[list[tuple[Example, float]]] = []
        for row in sims:
            best = np.argpartition(-row, top - 1)[:top] if top < len(row) else np.arange(len(row))
            best = best[np.argsort(-row[best], kind="stable")]
            out.append([(examples[j], float(row[j])) for j in best])
        return out

    def _similar_indexed(self, embeddings: np.ndarray, k: int, *, status: str | None,
                         exclude: Sequence[str], label: str | None,
                         ) -> list[list[tuple[Example, float]]]:
        """:meth:`similar` through Chroma's index (large memories)."""
        self.flush()
        clauses = ([{"status": status}] if status else []) + (
            [{"label": label}] if label is not None else [])
        where = None if not clauses else clauses[0] if len(clauses) == 1 else {"$and": clauses}
        res = self.collection.query(
            query_embeddings=np.asarray(embeddings, dtype=np.float32),
            n_results=min(len(self), k + len(exclude)),
            where=where,
            include=["documents", "metadatas", "distances"])
        skip = set(exclude)
        out: list[list[tuple[Example, float]]] = []
        for ids, docs, metas, dists in zip(res["ids"], res["documents"], res["metadatas"],
                                           res["distances"], strict=True):
            row = [(self._example(i, d, m), 1.0 - float(dist))
                   for i, d, m, dist in zip(ids, docs, metas, dists, strict=True) if i not in skip]
            out.append(row[:k])
        return out

    def all(self, *, status: str | None = "accepted", label: str | None = None,
            with_embeddings: bool = False) -> tuple[list[Example], np.ndarray | None]:
        """Every stored example matching the filters, in a stable (id) order."""
        if self._sorted is None:
            rows = self._rows()
            ids = sorted(rows)
            self._sorted = ([rows[i][0] for i in ids],
                            np.stack([rows[i][1] for i in ids]).astype(np.float32, copy=False)
                            if ids else np.zeros((0, self.embedding.dim), dtype=np.float32))
        examples, vectors = self._sorted
        keep = [n for n, e in enumerate(examples) if (status is None or e.status == status)
                and (label is None or e.label == label)]
        if len(keep) == len(examples):
            return list(examples), (vectors.copy() if with_embeddings else None)
        return [examples[n] for n in keep], (vectors[keep] if with_embeddings else None)

    def label_counts(self, status: str | None = "accepted") -> Counter[str]:
        examples, _ = self.all(status=status)
        return Counter(e.label for e in examples)

    @staticmethod
    def _example(id_: str, doc: str, meta: dict[str, Any]) -> Example:
        return Example(id=id_, text=doc, label=str(meta["label"]), source=str(meta["source"]),
                       confidence=float(meta["confidence"]), round=int(meta["round"]),
                       status=str(meta["status"]), origin=str(meta["origin"]),
                       cost=float(meta.get("cost", 0.0)))
