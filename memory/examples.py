"""The labeled-example memory: a Chroma collection every agent searches by similarity.

Chroma is an index, not the truth: everything here can be rebuilt from the ledger. Writes
are upserts in chunks (Chroma ignores ``add`` of an existing id and caps batch sizes), and
metadata holds only scalars (Chroma rejects ``None`` and nested values).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from labelgraph.errors import RunStateError

CHUNK = 4000
__all__ = ["Example", "ExampleMemory", "collection_name", "make_client", "memory_status"]


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

    def __init__(self, client: Any, embedding: Any, name: str = "examples") -> None:
        self.embedding = embedding
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
        return int(self.collection.count())

    def upsert(self, examples: Sequence[Example], embeddings: np.ndarray | None = None) -> None:
        """Insert or replace examples; embeddings are computed when not given."""
        if not examples:
            return
        if embeddings is None:
            embeddings = self.embedding.embed([e.text for e in examples])
        for start in range(0, len(examples), CHUNK):
            part = examples[start:start + CHUNK]
            self.collection.upsert(
                ids=[e.id for e in part], documents=[e.text for e in part],
                embeddings=np.asarray(embeddings[start:start + CHUNK], dtype=np.float32),
                metadatas=[e.metadata() for e in part])

    def get(self, ids: Sequence[str]) -> list[Example]:
        """The stored examples with these ids (any status), in no particular order."""
        if not ids:
            return []
        res = self.collection.get(ids=list(ids), include=["documents", "metadatas"])
        return [self._example(i, d, m) for i, d, m in
                zip(res["ids"], res["documents"], res["metadatas"], strict=True)]

    def has(self, ids: Sequence[str]) -> set[str]:
        if not ids:
            return set()
        return set(self.collection.get(ids=list(ids), include=[])["ids"])

    def similar(self, embeddings: np.ndarray, k: int, *, status: str | None = "accepted",
                exclude: Sequence[str] = (), label: str | None = None,
                ) -> list[list[tuple[Example, float]]]:
        """The k nearest stored examples for each query row, as (example, cosine similarity)."""
        n = len(self)
        if n == 0 or k <= 0 or len(embeddings) == 0:
            return [[] for _ in range(len(embeddings))]
        clauses = ([{"status": status}] if status else []) + (
            [{"label": label}] if label is not None else [])
        where = None if not clauses else clauses[0] if len(clauses) == 1 else {"$and": clauses}
        res = self.collection.query(
            query_embeddings=np.asarray(embeddings, dtype=np.float32),
            n_results=min(n, k + len(exclude)),
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
        clauses = [{"status": status}] if status else []
        if label is not None:
            clauses.append({"label": label})
        where: dict[str, Any] | None = (
            None if not clauses else clauses[0] if len(clauses) == 1 else {"$and": clauses})
        include = ["documents", "metadatas"] + (["embeddings"] if with_embeddings else [])
        res = self.collection.get(where=where, include=include)
        order = np.argsort(np.asarray(res["ids"], dtype=object)) if res["ids"] else []
        examples = [self._example(res["ids"][i], res["documents"][i], res["metadatas"][i])
                    for i in order]
        emb = None
        if with_embeddings:
            raw = res["embeddings"]
            emb = (np.asarray(raw, dtype=np.float32)[order] if len(examples)
                   else np.zeros((0, self.embedding.dim), dtype=np.float32))
        return examples, emb

    def label_counts(self, status: str | None = "accepted") -> Counter[str]:
        examples, _ = self.all(status=status)
        return Counter(e.label for e in examples)

    @staticmethod
    def _example(id_: str, doc: str, meta: dict[str, Any]) -> Example:
        return Example(id=id_, text=doc, label=str(meta["label"]), source=str(meta["source"]),
                       confidence=float(meta["confidence"]), round=int(meta["round"]),
                       status=str(meta["status"]), origin=str(meta["origin"]),
                       cost=float(meta.get("cost", 0.0)))
