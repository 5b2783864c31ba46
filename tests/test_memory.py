"""ExampleMemory: the Chroma index of labeled examples, over ephemeral and persistent clients."""

from __future__ import annotations

import uuid
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from chromadb.api.client import SharedSystemClient

from labelgraph.memory import examples as examples_mod
from labelgraph.memory.embeddings import HashingEmbedding
from labelgraph.memory.examples import CHUNK, Example, ExampleMemory, make_client

TEXTS = {
    "cat": ("the cat sat on the warm mat", "animal"),
    "dog": ("a dog barked at the postman", "animal"),
    "tax": ("file your tax return before april", "money"),
    "loan": ("the bank approved the mortgage loan", "money"),
    "rain": ("heavy rain and thunder all afternoon", "weather"),
    "sun": ("sunny skies and a light breeze today", "weather"),
}


def _ex(key: str, *, status: str = "accepted", label: str | None = None, **kw: object) -> Example:
    text, default_label = TEXTS[key]
    return Example(id=key, text=text, label=label or default_label, source="llm",
                   confidence=0.9, round=1, status=status, **kw)  # type: ignore[arg-type]


def _close(path: Path) -> None:
    """Forget Chroma's in-process system for ``path`` so the next client reads from disk."""
    system = SharedSystemClient._identifier_to_system.pop(str(path), None)
    SharedSystemClient._identifier_to_refcount.pop(str(path), None)
    if system is not None:
        system.stop()


@pytest.fixture(params=["ephemeral", "persistent"])
def client(request: pytest.FixtureRequest, tmp_path: Path):  # noqa: ANN201
    if request.param == "ephemeral":
        yield make_client()  # ephemeral clients share state: collections get unique names
    else:
        path = tmp_path / "chroma"
        yield make_client(path)
        _close(path)


@pytest.fixture
def embedding() -> HashingEmbedding:
    return HashingEmbedding()


@pytest.fixture
def memory(client, embedding: HashingEmbedding) -> ExampleMemory:  # noqa: ANN001
    return ExampleMemory(client, embedding, name=f"ex-{uuid.uuid4().hex[:10]}")


@pytest.fixture
def filled(memory: ExampleMemory) -> ExampleMemory:
    memory.upsert([_ex("cat"), _ex("dog"), _ex("tax"), _ex("loan"),
                   _ex("rain", status="flagged"), _ex("sun")])
    return memory


# --- similarity search -------------------------------------------------------------------

def test_upsert_and_nearest_is_itself(filled: ExampleMemory,
                                      embedding: HashingEmbedding) -> None:
    assert len(filled) == 6
    keys = ["cat", "tax", "loan", "sun"]
    results = filled.similar(embedding.embed([TEXTS[k][0] for k in keys]), k=3)
    assert len(results) == len(keys)
    for key, row in zip(keys, results, strict=True):
        top, sim = row[0]
        assert top.id == key
        assert top.text == TEXTS[key][0] and top.label == TEXTS[key][1]
        assert sim == pytest.approx(1.0, abs=1e-4)
        sims = [s for _, s in row]
        assert sims == sorted(sims, reverse=True)
        assert len(row) == 3


def test_similar_neighbour_is_the_related_text(filled: ExampleMemory,
                                               embedding: HashingEmbedding) -> None:
    query = embedding.embed(["the cat sat on the mat"])
    (row,) = filled.similar(query, k=1)
    assert row[0][0].id == "cat"
    assert 0.5 < row[0][1] < 1.0


def test_similar_exclude(filled: ExampleMemory, embedding: HashingEmbedding) -> None:
    query = embedding.embed([TEXTS["cat"][0]])
    (row,) = filled.similar(query, k=2, exclude=["cat"])
    ids = [e.id for e, _ in row]
    assert "cat" not in ids
    assert len(ids) == 2  # excluding does not shrink the answer
    (row,) = filled.similar(query, k=10, exclude=["cat", "dog"])
    assert {e.id for e, _ in row} == {"tax", "loan", "sun"}


def test_similar_status_filter(filled: ExampleMemory, embedding: HashingEmbedding) -> None:
    query = embedding.embed([TEXTS["rain"][0]])
    (default,) = filled.similar(query, k=10)
    assert "rain" not in {e.id for e, _ in default}  # flagged is left out by default
    assert len(default) == 5
    (everything,) = filled.similar(query, k=10, status=None)
    assert everything[0][0].id == "rain" and len(everything) == 6
    (flagged,) = filled.similar(query, k=10, status="flagged")
    assert [e.id for e, _ in flagged] == ["rain"]
    assert flagged[0][0].status == "flagged"
    (none,) = filled.similar(query, k=3, status="nonexistent")
    assert none == []


def test_similar_on_empty_memory_and_degenerate_k(memory: ExampleMemory,
                                                  embedding: HashingEmbedding) -> None:
    query = embedding.embed(["anything", "at all"])
    assert memory.similar(query, k=5) == [[], []]
    memory.upsert([_ex("cat")])
    assert memory.similar(query, k=0) == [[], []]
    assert memory.similar(query[:0], k=3) == []


# --- listing and counting ----------------------------------------------------------------

def test_all_filters_and_order(filled: ExampleMemory) -> None:
    examples, emb = filled.all()
    assert emb is None
    assert [e.id for e in examples] == sorted(["cat", "dog", "tax", "loan", "sun"])
    money, _ = filled.all(label="money")
    assert [e.id for e in money] == ["loan", "tax"]
    weather, _ = filled.all(label="weather")
    assert [e.id for e in weather] == ["sun"]  # rain is flagged
    weather_all, _ = filled.all(label="weather", status=None)
    assert [e.id for e in weather_all] == ["rain", "sun"]
    flagged, _ = filled.all(status="flagged")
    assert [e.id for e in flagged] == ["rain"]
    nothing, emb = filled.all(label="no-such-label", with_embeddings=True)
    assert nothing == [] and emb is not None and emb.shape == (0, 512)


def test_all_with_embeddings_aligned(filled: ExampleMemory, embedding: HashingEmbedding) -> None:
    examples, emb = filled.all(with_embeddings=True, status=None)
    assert emb is not None
    assert emb.shape == (6, embedding.dim) and emb.dtype == np.float32
    expected = embedding.embed([e.text for e in examples])
    np.testing.assert_allclose(emb, expected, atol=1e-6)


def test_round_trip_of_every_field(memory: ExampleMemory) -> None:
    original = Example(id="s1", text="a synthetic example", label="animal", source="synthetic",
                       confidence=0.25, round=7, status="flagged", origin="synthetic",
                       cost=0.0031)
    memory.upsert([original])
    (stored,), _ = memory.all(status=None)
    assert stored == original


def test_label_counts(filled: ExampleMemory) -> None:
    assert filled.label_counts() == Counter({"animal": 2, "money": 2, "weather": 1})
    assert filled.label_counts(status=None) == Counter({"animal": 2, "money": 2, "weather": 2})
    assert filled.label_counts(status="flagged") == Counter({"weather": 1})


def test_has(filled: ExampleMemory) -> None:
    assert filled.has(["cat", "nope", "rain"]) == {"cat", "rain"}
    assert filled.has([]) == set()


# --- writes ------------------------------------------------------------------------------

def test_upsert_is_idempotent_and_replaces(memory: ExampleMemory) -> None:
    memory.upsert([_ex("cat")])
    memory.upsert([_ex("cat")])
    assert len(memory) == 1
    memory.upsert([_ex("cat", label="pet", status="flagged")])
    assert len(memory) == 1
    (stored,), _ = memory.all(status=None)
    assert stored.label == "pet" and stored.status == "flagged"
    memory.upsert([])  # nothing to write is fine
    assert len(memory) == 1


def test_upsert_with_given_embeddings(memory: ExampleMemory) -> None:
    vectors = np.zeros((2, 512), dtype=np.float64)
    vectors[0, 0] = 1.0
    vectors[1, 1] = 1.0
    memory.upsert([_ex("cat"), _ex("tax")], embeddings=vectors)
    examples, emb = memory.all(with_embeddings=True)
    assert [e.id for e in examples] == ["cat", "tax"]
    np.testing.assert_allclose(emb, vectors)
    (row,) = memory.similar(vectors[1:], k=1)
    assert row[0][0].id == "tax"


def test_metadata_is_scalar_and_never_none(memory: ExampleMemory) -> None:
    # numpy scalars (as agents produce them) are converted to plain Python values
    example = Example(id="np", text="numpy valued example", label="animal", source="oracle",
                      confidence=np.float32(0.5), round=np.int64(3))  # type: ignore[arg-type]
    meta = example.metadata()
    assert all(v is not None for v in meta.values())
    assert all(type(v) in (str, int, float, bool) for v in meta.values())
    memory.upsert([example, _ex("dog")])
    raw = memory.collection.get(include=["metadatas"])
    for stored in raw["metadatas"]:
        assert set(stored) >= {"label", "source", "confidence", "round", "status", "origin",
                               "cost"}
        assert all(v is not None for v in stored.values())
    stored = {e.id: e for e in memory.all()[0]}
    assert stored["np"].confidence == 0.5 and stored["np"].round == 3


def test_chunk_fits_chroma_batch_limit() -> None:
    assert CHUNK <= make_client().get_max_batch_size()


def test_chunked_upsert_over_chunk_size(monkeypatch: pytest.MonkeyPatch) -> None:
    client, name = make_client(), f"big-{uuid.uuid4().hex[:10]}"
    memory = ExampleMemory(client, HashingEmbedding(n_features=32), name=name)
    batches: list[int] = []
    real_upsert = type(memory.collection).upsert

    def spy(self, ids, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        batches.append(len(ids))
        return real_upsert(self, ids, *args, **kwargs)

    monkeypatch.setattr(type(memory.collection), "upsert", spy)
    n = CHUNK + 123
    rows = [Example(id=f"id{i:05d}", text=f"text {i}", label="ab"[i % 2], source="oracle",
                    confidence=1.0, round=0) for i in range(n)]
    memory.upsert(rows)
    assert batches == [CHUNK, 123]
    assert len(memory) == n
    assert memory.label_counts() == Counter({"a": (n + 1) // 2, "b": n // 2})
    odd, emb = memory.all(label="b", with_embeddings=True)
    assert emb is not None and emb.shape == (n // 2, 32)
    assert [e.id for e in odd] == [f"id{i:05d}" for i in range(1, n, 2)]
    client.delete_collection(name)  # ephemeral clients share one process-wide store


def test_chunking_keeps_embeddings_aligned(memory: ExampleMemory,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(examples_mod, "CHUNK", 2)
    keys = list(TEXTS)
    vectors = np.eye(len(keys), 512, dtype=np.float32)
    memory.upsert([_ex(k) for k in keys], embeddings=vectors)
    assert len(memory) == len(keys)
    for i, key in enumerate(keys):
        (row,) = memory.similar(vectors[i:i + 1], k=1)
        assert row[0][0].id == key
        assert row[0][1] == pytest.approx(1.0, abs=1e-4)


# --- persistence -------------------------------------------------------------------------

def test_persistent_reopen_keeps_rows(tmp_path: Path) -> None:
    path = tmp_path / "chroma"
    first = ExampleMemory(make_client(path), HashingEmbedding(), name="examples")
    first.upsert([_ex("cat"), _ex("tax"), _ex("rain", status="flagged")])
    before, before_emb = first.all(status=None, with_embeddings=True)
    _close(path)
    del first

    reopened = ExampleMemory(make_client(path), HashingEmbedding(), name="examples")
    try:
        assert len(reopened) == 3
        after, after_emb = reopened.all(status=None, with_embeddings=True)
        assert after == before
        np.testing.assert_allclose(after_emb, before_emb)
        (row,) = reopened.similar(HashingEmbedding().embed([TEXTS["tax"][0]]), k=1)
        assert row[0][0].id == "tax"
    finally:
        _close(path)


def test_reads_come_from_the_written_through_copy(filled: ExampleMemory,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """After the first read, reads cost no Chroma round trip; what they return is what Chroma
    holds, updates included (the copy is written through, chunk by chunk)."""
    calls: list[str] = []
    real_get = type(filled.collection).get

    def spy(self, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        calls.append("get")
        return real_get(self, *args, **kwargs)

    monkeypatch.setattr(type(filled.collection), "get", spy)
    filled.upsert([_ex("tax", label="weather", status="flagged")])
    examples, emb = filled.all(status=None, with_embeddings=True)
    assert calls == []
    assert filled.has(["tax", "nope"]) == {"tax"} and len(filled) == 6
    (tax,) = filled.get(["tax"])
    assert (tax.label, tax.status) == ("weather", "flagged")
    stored = real_get(filled.collection, include=["documents", "metadatas", "embeddings"])
    order = np.argsort(stored["ids"])
    assert [e.id for e in examples] == [stored["ids"][i] for i in order]
    assert [e.metadata() for e in examples] == [stored["metadatas"][i] for i in order]
    np.testing.assert_allclose(emb, np.asarray(stored["embeddings"])[order])
    emb[:] = 0  # a caller's changes never reach the copy
    assert np.abs(filled.all(status=None, with_embeddings=True)[1]).sum() > 0


def test_a_failed_write_stays_pending_and_the_next_flush_writes_it(
        memory: ExampleMemory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(examples_mod, "CHUNK", 2)
    real_upsert = type(memory.collection).upsert
    writes: list[int] = []

    def fail_second(self, ids, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        writes.append(len(ids))
        if len(writes) == 2:
            raise RuntimeError("disk full")
        return real_upsert(self, ids, *args, **kwargs)

    monkeypatch.setattr(type(memory.collection), "upsert", fail_second)
    with pytest.raises(RuntimeError, match="disk full"):
        memory.upsert([_ex("cat"), _ex("dog"), _ex("tax")])
    # reads see every write; Chroma holds the first chunk, the failed one waits
    assert memory.has(["cat", "dog", "tax"]) == {"cat", "dog", "tax"}
    assert set(memory.collection.get(include=[])["ids"]) == {"cat", "dog"}
    assert memory.pending == 1
    memory.flush()
    assert set(memory.collection.get(include=[])["ids"]) == {"cat", "dog", "tax"}
    assert memory.pending == 0


def test_write_behind_reaches_chroma_in_bulk_at_flush_or_when_due(
        client, embedding: HashingEmbedding, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    memory = ExampleMemory(client, embedding, name=f"wb-{uuid.uuid4().hex[:8]}",
                           write_behind=60.0)
    upserts: list[list[str]] = []
    real_upsert = type(memory.collection).upsert

    def spy(self, ids, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        upserts.append(list(ids))
        return real_upsert(self, ids, *args, **kwargs)

    monkeypatch.setattr(type(memory.collection), "upsert", spy)
    memory.upsert([_ex("cat"), _ex("dog")])
    memory.upsert([_ex("cat", label="weather", status="flagged"), _ex("tax")])
    assert upserts == [] and memory.pending == 3
    assert memory.get(["cat"])[0].label == "weather" and len(memory) == 3  # reads see them
    memory.flush()
    assert upserts == [["cat", "dog", "tax"]] and memory.pending == 0  # one write, latest rows
    stored = memory.collection.get(ids=["cat"], include=["metadatas"])["metadatas"][0]
    assert (stored["label"], stored["status"]) == ("weather", "flagged")
    clock = [1000.0]
    monkeypatch.setattr(examples_mod.time, "monotonic", lambda: clock[0])
    memory.flush()
    memory.upsert([_ex("sun")])
    assert memory.pending == 1  # not due yet
    clock[0] += 61
    memory.upsert([_ex("rain")])  # due: both go
    assert upserts[-1] == ["sun", "rain"] and memory.pending == 0


@pytest.mark.parametrize("status", ["accepted", None])
def test_exact_search_agrees_with_chromas_index(filled: ExampleMemory,
                                                embedding: HashingEmbedding,
                                                monkeypatch: pytest.MonkeyPatch,
                                                status: str | None) -> None:
    """Small memories are searched exactly over the copy, large ones through Chroma's index:
    on a memory this small both must give the same neighbours and similarities."""
    queries = embedding.embed([TEXTS[key][0] for key in ("cat", "tax", "rain")])
    exact = filled.similar(queries, 3, status=status, exclude=["dog"])
    monkeypatch.setattr(examples_mod, "EXACT_LIMIT", 0)
    indexed = filled.similar(queries, 3, status=status, exclude=["dog"])
    assert [[e.id for e, _ in row] for row in exact] == \
        [[e.id for e, _ in row] for row in indexed]
    for a, b in zip(exact, indexed, strict=True):
        assert [s for _, s in a] == pytest.approx([s for _, s in b], abs=1e-5)
    assert all("dog" not in {e.id for e, _ in row} for row in exact)
