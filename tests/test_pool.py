"""The pool store (labelgraph.memory.pool): a killed embedding resumes from its last
finished chunk, and runs share the cache by default."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from labelgraph.api import LabelGraph
from labelgraph.config import settings
from labelgraph.memory import pool as pool_module
from labelgraph.memory.embeddings import HashingEmbedding
from labelgraph.memory.pool import PoolStore, cache_key
from labelgraph.types import Budget, Task, content_id

TEXTS = [f"document {i} about {'markets' if i % 2 else 'football'} and item {i * 7}"
         for i in range(50)]


class Counting(HashingEmbedding):
    """A real hashing embedding that counts the texts it is asked to embed."""

    def __init__(self) -> None:
        super().__init__(n_features=64)
        self.calls: list[int] = []

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.calls.append(len(texts))
        return super().embed(texts)


class Interrupted(Exception):
    pass


def _stop_at(limit: int):  # noqa: ANN202 - a progress callback
    def progress(done: int, total: int) -> None:
        if done >= limit:
            raise Interrupted
    return progress


def test_interrupted_embedding_resumes_from_the_last_finished_chunk(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pool_module, "CHUNK", 10)
    PoolStore.write(tmp_path, "pool", TEXTS, None)
    first = Counting()
    with pytest.raises(Interrupted):  # the third chunk is embedded, then the "kill"
        PoolStore.open(tmp_path, "pool", first, progress=_stop_at(30), cache_dir=tmp_path / "c")
    assert sum(first.calls) == 30
    second = Counting()
    done: list[int] = []
    store = PoolStore.open(tmp_path, "pool", second, progress=lambda d, t: done.append(d),
                           cache_dir=tmp_path / "c")
    assert sum(second.calls) == 30  # chunks 3-5 only: the two saved chunks are read back
    assert done[0] == 20 and done[-1] == 50
    np.testing.assert_allclose(store.embeddings, Counting().embed(TEXTS), atol=1e-6)
    assert not list((tmp_path / "c").glob("*.parts"))  # partial chunks are cleaned up
    third = Counting()
    PoolStore.open(tmp_path, "pool", third, cache_dir=tmp_path / "c")
    assert third.calls == []


def test_resume_without_a_shared_cache_uses_the_run_directory(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pool_module, "CHUNK", 10)
    PoolStore.write(tmp_path, "pool", TEXTS, None)
    with pytest.raises(Interrupted):
        PoolStore.open(tmp_path, "pool", Counting(), progress=_stop_at(20))
    assert len(list((tmp_path / "pool.emb.parts").glob("*.npy"))) == 1
    again = Counting()
    PoolStore.open(tmp_path, "pool", again)
    assert sum(again.calls) == 40


WORKER = textwrap.dedent("""
    import os, signal, sys
    from pathlib import Path
    from labelgraph.memory import pool as pool_module
    from labelgraph.memory.embeddings import HashingEmbedding
    from labelgraph.memory.pool import PoolStore

    pool_module.CHUNK = 10
    run, cache = Path(sys.argv[1]), Path(sys.argv[2])

    def progress(done, total):
        if done >= 40:  # the fourth chunk is computed but not yet saved
            os.kill(os.getpid(), signal.SIGKILL)

    PoolStore.open(run, "pool", HashingEmbedding(n_features=64), progress=progress,
                   cache_dir=cache)
""")


def test_kill_9_mid_embedding_then_resume(tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    PoolStore.write(tmp_path, "pool", TEXTS, None)
    done = subprocess.run([sys.executable, "-c", WORKER, str(tmp_path), str(tmp_path / "c")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == -9, done.stderr[-2000:]
    monkeypatch.setattr(pool_module, "CHUNK", 10)
    again = Counting()
    store = PoolStore.open(tmp_path, "pool", again, cache_dir=tmp_path / "c")
    assert sum(again.calls) == 20  # 30 texts were saved before the kill
    np.testing.assert_allclose(store.embeddings, Counting().embed(TEXTS), atol=1e-6)


def test_a_damaged_chunk_is_recomputed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pool_module, "CHUNK", 10)
    PoolStore.write(tmp_path, "pool", TEXTS, None)
    with pytest.raises(Interrupted):
        PoolStore.open(tmp_path, "pool", Counting(), progress=_stop_at(30), cache_dir=tmp_path)
    parts = sorted(tmp_path.glob("*.parts/*.npy"))
    assert len(parts) == 2
    parts[0].write_bytes(b"not an array")
    again = Counting()
    store = PoolStore.open(tmp_path, "pool", again, cache_dir=tmp_path)
    assert sum(again.calls) == 40
    np.testing.assert_allclose(store.embeddings, Counting().embed(TEXTS), atol=1e-6)


def test_the_cache_key_names_the_embedding_settings() -> None:
    ids = [content_id(t) for t in TEXTS]
    assert cache_key(ids, HashingEmbedding(64)) == cache_key(ids, Counting())
    assert cache_key(ids, HashingEmbedding(64)) != cache_key(ids, HashingEmbedding(128))
    assert cache_key(ids, HashingEmbedding(64)) != cache_key(ids[:-1], HashingEmbedding(64))


TASK = Task(labels=["markets", "football"], description="topic")


def _pool() -> list[dict[str, str]]:
    return [{"text": t, "label": "markets" if "markets" in t else "football"} for t in TEXTS]


def test_runs_share_pool_embeddings_by_default(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LABELGRAPH_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("LABELGRAPH_EMBEDDING_CACHE_DIR")  # the tests' own (conftest)
    counts = []
    for run in ("a", "b"):
        emb = Counting()
        lg = LabelGraph(TASK, llm="none", annotator="oracle", budget=Budget(labels=6),
                        run_dir=tmp_path / run, embedding=emb,
                        config={"synthesize": False})
        assert lg.embedding_cache == settings().cache_dir / "embeddings"
        lg.run(pool=_pool(), label_column="label")
        counts.append(sum(emb.calls))
    assert counts[0] >= len(TEXTS)
    assert counts[1] < len(TEXTS)  # the second run read the pool's vectors from the cache
    assert list((tmp_path / "cache" / "embeddings").glob("*.npy"))


def test_the_shared_cache_can_have_a_directory_of_its_own(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LABELGRAPH_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("LABELGRAPH_EMBEDDING_CACHE_DIR", str(tmp_path / "big-disk"))
    lg = LabelGraph(TASK, llm="none", annotator="oracle", budget=Budget(labels=6),
                    run_dir=tmp_path / "run", embedding="hashing",
                    config={"synthesize": False})
    assert lg.embedding_cache == tmp_path / "big-disk"
    lg.run(pool=_pool(), label_column="label")
    assert list((tmp_path / "big-disk").glob("*.npy"))
    assert not (tmp_path / "cache" / "embeddings").exists()


def test_the_shared_cache_can_be_switched_off(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LABELGRAPH_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("LABELGRAPH_EMBEDDING_CACHE_DIR")
    lg = LabelGraph(TASK, llm="none", annotator="oracle", budget=Budget(labels=6),
                    run_dir=tmp_path / "off", embedding="hashing", embedding_cache=False,
                    config={"synthesize": False})
    assert lg.embedding_cache is None
    lg.run(pool=_pool(), label_column="label")
    assert not (tmp_path / "cache" / "embeddings").exists()
    assert json.loads((tmp_path / "off" / "run.json").read_text())["embedding_cache"] is False
    assert LabelGraph.open(tmp_path / "off", read_only=True).embedding_cache is None
