"""What one bulk upsert into a local Chroma collection costs, and which part of it.

    python benchmarks/chroma_upsert.py [--rows 525] [--repeats 5]

``--rows`` review snippets with random 384-d vectors, upserted at once into a fresh
persistent collection (as memory's write-behind does at the end of a run): with documents
and the seven metadata fields memory writes; without documents; with documents and no
metadata; vectors only; and with documents in a collection whose ``Schema`` deletes the
documents' full-text index. Medians over the repeats; results go to
benchmarks/results/chroma_upsert/chroma_upsert.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from chromadb import Schema
from chromadb.api.types import FtsIndexConfig, VectorIndexConfig
from provenance import stamp

from labelgraph.assets import atomic_write_text
from labelgraph.data import load_rotten_tomatoes
from labelgraph.memory.embeddings import HashingEmbedding
from labelgraph.memory.examples import make_client

RESULTS = Path(__file__).resolve().parent / "results" / "chroma_upsert" / "chroma_upsert.json"
META = {"label": "positive", "source": "oracle", "confidence": 1.0, "round": 1,
        "status": "accepted", "origin": "pool", "cost": 0.0}
MODES = ("documents + metadata", "metadata only", "documents only", "vectors only",
         "documents + metadata, Schema without full-text index")


def upsert_seconds(mode: str, texts: list[str], vectors: np.ndarray, n: int) -> float:
    """One upsert of every row into a fresh collection, in seconds."""
    client = make_client(tempfile.mkdtemp(prefix="chroma_upsert-"))
    embedder = HashingEmbedding(vectors.shape[1])
    if "Schema" in mode:
        schema = Schema()
        schema.delete_index(config=FtsIndexConfig(), key="#document")
        schema.create_index(config=VectorIndexConfig(space="cosine",
                                                     embedding_function=embedder))
        collection = client.get_or_create_collection(f"bench{n}", schema=schema)
    else:
        collection = client.get_or_create_collection(
            f"bench{n}", embedding_function=embedder, metadata={"hnsw:space": "cosine"})
    kwargs: dict[str, Any] = {"ids": [f"item{i}" for i in range(len(texts))],
                              "embeddings": vectors}
    if "documents" in mode:
        kwargs["documents"] = texts
    if "metadata" in mode:
        kwargs["metadatas"] = [dict(META) for _ in texts]
    start = time.perf_counter()
    collection.upsert(**kwargs)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=525)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    texts = load_rotten_tomatoes()["text"].tolist()[:args.rows]
    vectors = np.random.default_rng(0).normal(size=(len(texts), 384)).astype(np.float32)
    upsert_seconds(MODES[0], texts, vectors, -1)  # warm: the first client starts Chroma
    seconds: dict[str, list[float]] = {mode: [] for mode in MODES}
    for rep in range(args.repeats):  # interleaved, so drift affects every mode alike
        for n, mode in enumerate(MODES):
            seconds[mode].append(upsert_seconds(mode, texts, vectors, rep * len(MODES) + n))
    medians = {mode: round(statistics.median(v), 3) for mode, v in seconds.items()}
    atomic_write_text(RESULTS, json.dumps({**stamp(), "rows": len(texts),
                                           "repeats": args.repeats,
                                           "median_seconds": medians}, indent=1))
    for mode, value in medians.items():
        print(f"| {mode} | {value:.3f} |")


if __name__ == "__main__":
    main()
