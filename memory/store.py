"""The run's driver lock and the artefacts built lazily from the run directory.

Nodes ask the store for the pool, its student features, the fitted student and its pool
probabilities; each is built once per process (or per student) and kept in a named slot,
never in a string-keyed cache. Every file is written atomically. Where each file lives is
:mod:`labelgraph.memory.paths`; memory rebuilt from the ledger is
:mod:`labelgraph.memory.repair` (both re-exported here, where they used to live).
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy import sparse

from labelgraph.assets import atomic_write, save_npy
from labelgraph.errors import RunStateError
from labelgraph.geometry import knn_graph
from labelgraph.memory.examples import Example, ExampleMemory
from labelgraph.memory.paths import RunPaths
from labelgraph.memory.pool import PoolStore, Progress, read_split
from labelgraph.memory.repair import ledger_memory, rebuild_memory, repair_memory
from labelgraph.memory.repair import same_example as same_example
from labelgraph.student import Featurizer, fit_student, proba_in_order
from labelgraph.types import content_id

__all__ = ["RunLock", "RunPaths", "RunStore", "ledger_memory", "rebuild_memory", "repair_memory"]


class RunLock:
    """One driver per run: an exclusive ``flock`` on the run's lock file.

    The operating system drops the lock when its process dies, however it dies, so a lock
    left by a crash (even ``kill -9``) is simply taken over. The file names the holder, for
    the refusal message. Watchers (export, read-only opens) never take it.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self) -> RunLock:
        if self._fd is not None:
            return self
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 4096, 0).decode("utf-8", "replace")
            os.close(fd)
            try:
                who = json.loads(holder)
                desc = f"process {who['pid']} on {who['host']} since {who['since']}"
            except (ValueError, KeyError, TypeError):
                desc = "another process"
            raise RunStateError(
                f"{self.path.parent} is being driven by {desc}; only one process may drive a "
                "run (open it with read_only=True to watch)") from None
        holder = json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                             "since": time.strftime("%Y-%m-%d %H:%M:%S")}).encode()
        os.ftruncate(fd, 0)
        os.pwrite(fd, holder, 0)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


@dataclass
class RunStore:
    """Lazy artefacts of one run: the pool and test split, features, the latest student."""

    paths: RunPaths
    embedding: Any
    labels: tuple[str, ...]
    memory: ExampleMemory
    student: Any  # the unfitted prototype, refitted from memory when a run is reopened
    tfidf: bool = True
    embedding_cache: Path | None = None
    read_only: bool = False  # a watcher's store writes no file
    _pool: PoolStore | None = field(default=None, init=False, repr=False)
    _test: PoolStore | None = field(default=None, init=False, repr=False)
    _test_loaded: bool = field(default=False, init=False, repr=False)
    _featurizer: Featurizer | None = field(default=None, init=False, repr=False)
    _pool_features: Any = field(default=None, init=False, repr=False)
    _test_features: Any = field(default=None, init=False, repr=False)
    _pool_graph: Any = field(default=None, init=False, repr=False)
    _model: Any = field(default=None, init=False, repr=False)
    _model_loaded: bool = field(default=False, init=False, repr=False)
    _model_unwritten: bool = field(default=False, init=False, repr=False)
    _proba: np.ndarray | None = field(default=None, init=False, repr=False)
    _previous_proba: np.ndarray | None = field(default=None, init=False, repr=False)

    # -- data -------------------------------------------------------------------------
    def check(self) -> None:
        """Fail now, before any node runs, if a saved split is damaged (embeddings are a
        cache: damaged ones are recomputed when needed)."""
        for name in ("pool", "test"):
            if self.paths.split(name).exists():
                read_split(self.paths.split(name))

    def pool(self, progress: Progress | None = None) -> PoolStore:
        """The pool with its embeddings (computed once, then read from the cache)."""
        if self._pool is None:
            self._pool = PoolStore.open(self.paths.root, "pool", self.embedding,
                                        progress=progress, cache_dir=self.embedding_cache,
                                        write=not self.read_only)
        return self._pool

    def test(self) -> PoolStore | None:
        """The held-out gold split, if the run has one."""
        if not self._test_loaded:
            if self.paths.split("test").exists():
                self._test = PoolStore.open(self.paths.root, "test", self.embedding,
                                            cache_dir=self.embedding_cache,
                                            write=not self.read_only)
            self._test_loaded = True
        return self._test

    # -- features ---------------------------------------------------------------------
    def featurizer(self) -> Featurizer:
        """Student features; the TF-IDF vocabulary is fitted once, on the whole pool."""
        if self._featurizer is None:
            self._featurizer = Featurizer(tfidf=self.tfidf).fit(self.pool().texts)
        return self._featurizer

    def features(self, texts: list[str], embeddings: np.ndarray) -> Any:
        """Student features of texts with their embeddings. Rows that are pool items with the
        pool's own embeddings are read from the pool's feature matrix (built once per run);
        only the rest (generated texts, say) are transformed: the result is the same matrix
        either way (to the last bit of a TF-IDF weight), without re-running TF-IDF over
        memory every round."""
        emb = np.asarray(embeddings)
        pool = self.pool()
        if emb.ndim != 2 or emb.shape[1:] != pool.embeddings.shape[1:] or not len(texts):
            return self.featurizer().transform(texts, emb)
        rows = np.fromiter((pool.index.get(content_id(t), -1) for t in texts), dtype=np.int64,
                           count=len(texts))
        found = rows >= 0
        if found.any():
            found[found] = [pool.texts[r] == t for r, t in zip(rows[found], np.asarray(
                texts, dtype=object)[found], strict=True)]
            found[found] = (pool.embeddings[rows[found]] == emb[found]).all(axis=1)
        if not found.any():
            return self.featurizer().transform(texts, emb)
        cached = self.pool_features()[rows[found]]
        if found.all():
            return cached
        rest = np.flatnonzero(~found)
        fresh = self.featurizer().transform([texts[i] for i in rest], emb[rest])
        order = np.argsort(np.concatenate([np.flatnonzero(found), rest]), kind="stable")
        return sparse.vstack([cached, fresh], format="csr")[order]

    def pool_features(self) -> Any:
        """The pool's feature matrix, built once per run and kept (in the same pass over
        the pool as the TF-IDF vocabulary, when that is not fitted yet)."""
        if self._pool_features is None:
            pool = self.pool()
            if self._featurizer is None:
                featurizer = Featurizer(tfidf=self.tfidf)
                self._pool_features = featurizer.fit_transform(pool.texts, pool.embeddings)
                self._featurizer = featurizer
            else:
                self._pool_features = self._featurizer.transform(pool.texts, pool.embeddings)
        return self._pool_features

    def pool_graph(self, k: int = 10) -> Any:
        """The pool's k-nearest-neighbour graph over its embeddings (label spreading's),
        built once per run and kept: the pool does not change while it is labeled."""
        if self._pool_graph is None or self._pool_graph[0] != k:
            self._pool_graph = (k, knn_graph(self.pool().embeddings, k))
        return self._pool_graph[1]

    def test_features(self) -> Any:
        """The test split's feature matrix, built once per run and kept."""
        test = self.test()
        if test is not None and self._test_features is None:
            self._test_features = self.featurizer().transform(test.texts, test.embeddings)
        return self._test_features

    # -- the student ------------------------------------------------------------------
    def model(self) -> Any | None:
        """The latest fitted student, or None before the first fit.

        A reopened run refits it from memory's accepted labels instead of unpickling
        ``model.joblib``: opening a run directory must execute no code from it. (The
        learner fits on exactly these labels, so the refit is the same student.)
        """
        if not self._model_loaded:
            self._model = self.fit()
            self._model_loaded = True
        return self._model

    def fit(self, examples: list[Example] | None = None,
            embeddings: np.ndarray | None = None) -> Any | None:
        """A student fitted on memory's accepted labels, or on the ``examples`` (and their
        embeddings) given; None with fewer than two labels."""
        if examples is None or embeddings is None:
            examples, embeddings = self.memory.all(with_embeddings=True)
        labels = [e.label for e in examples]
        if len(set(labels)) < 2:
            return None
        # A student built with warm_start=True starts from its predecessor's solution.
        return fit_student(self.student, self.features([e.text for e in examples], embeddings),
                           labels, previous=self._model if self._model_loaded else None)

    def keep_model(self, model: Any) -> None:
        """Make ``model`` the latest student; :meth:`write_model` writes it for the user."""
        if self.read_only:
            raise RunStateError("a read-only run store keeps and writes no student")
        self._previous_proba = self._proba  # the outgoing student's, if it was computed
        self._model, self._model_loaded, self._proba = model, True, None
        self._model_unwritten = True

    def write_model(self) -> None:
        """Write the latest student to ``model.joblib`` if it changed since the last write.

        Called when a run stops, pauses or fails, not every round: the file is for the user
        and never read back (a reopened run refits), so a kill costs nothing but its update.
        """
        import joblib

        if self._model_unwritten and self._model is not None and not self.read_only:
            model = self._model
            atomic_write(self.paths.model, lambda tmp: joblib.dump(model, tmp))
        self._model_unwritten = False

    def pool_proba(self) -> np.ndarray | None:
        """The latest student's probabilities over the whole pool (computed once per student)."""
        model = self.model()
        if model is None:
            return None
        if self._proba is None:
            self._proba = proba_in_order(model, self.pool_features(), self.labels)
        return self._proba

    def previous_pool_proba(self) -> np.ndarray | None:
        """The student before the latest one: its probabilities over the pool, when this
        process computed them (None after a reopen)."""
        return self._previous_proba

    # -- the stop set -----------------------------------------------------------------
    def save_stop_predictions(self, round_: int, predictions: np.ndarray) -> None:
        save_npy(self.paths.stopset / f"{round_}.npy", predictions)

    def previous_stop_predictions(self, round_: int) -> np.ndarray | None:
        """The stop-set predictions of the latest round before ``round_``."""
        folder = self.paths.stopset
        rounds = sorted(int(p.stem) for p in folder.glob("*.npy") if p.stem.isdigit()
                        and int(p.stem) < round_) if folder.exists() else []
        return np.load(folder / f"{rounds[-1]}.npy", allow_pickle=False) if rounds else None
