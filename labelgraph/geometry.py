"""Embedding geometry for the strategies: distances, norms and k-means centres, a block of
rows at a time, so no temporary grows with the pool (a million rows stay fast and small)."""

from __future__ import annotations

import numpy as np
from scipy import sparse

__all__ = ["CHUNK_ROWS", "fit_centres", "knn_graph", "nearest_centre", "no_rows", "sq_dist",
           "sq_norms", "subsample", "unit_rows"]

#: Rows per block in chunked distance computations: a block of 8 192 rows x 384 float32 is
#: 12 MiB, so no temporary grows with the pool.
CHUNK_ROWS = 8192


def no_rows() -> np.ndarray:
    """An empty selection (no row indices)."""
    return np.zeros(0, dtype=np.int64)


def sq_norms(x: np.ndarray) -> np.ndarray:
    """Squared row norms (float64), a block at a time: no squared copy of the table."""
    out = np.empty(x.shape[0], dtype=np.float64)
    for start in range(0, x.shape[0], CHUNK_ROWS):
        block = x[start:start + CHUNK_ROWS]
        out[start:start + block.shape[0]] = np.einsum("ij,ij->i", block, block)
    return out


def sq_dist(x: np.ndarray, y: np.ndarray, y_sq: np.ndarray) -> np.ndarray:
    """Squared Euclidean distances between the rows of a block ``x`` and a few rows ``y``."""
    x_sq = np.einsum("ij,ij->i", x, x)
    d = x_sq[:, None] + y_sq[None, :] - 2.0 * (x @ y.T)
    return np.maximum(d, 0.0, out=d)


def unit_rows(x: np.ndarray) -> np.ndarray:
    """A float64 copy of a (small) block with rows scaled to norm 1; zero rows stay zero."""
    x = np.asarray(x, dtype=np.float64)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return np.divide(x, norms, out=np.zeros_like(x), where=norms > 0)


def subsample(rows: np.ndarray, limit: int, rng: np.random.Generator) -> np.ndarray:
    """At most ``limit`` of ``rows`` chosen uniformly, in their original order."""
    if rows.size <= limit:
        return rows
    return np.sort(rng.choice(rows, size=limit, replace=False))


def fit_centres(embeddings: np.ndarray, rows: np.ndarray, n: int, max_fit: int,
                 rng: np.random.Generator) -> np.ndarray:
    """k-means centroids of ``rows``, fitted on a random sample of at most ``max_fit`` of them:
    centroids of 20 000 rows are as good as of a million, at a fiftieth of the cost."""
    import warnings

    from sklearn.cluster import KMeans, MiniBatchKMeans
    from sklearn.exceptions import ConvergenceWarning

    seed = int(rng.integers(1 << 31))
    x = embeddings[subsample(rows, max_fit, rng)]
    km = (MiniBatchKMeans(n_clusters=n, random_state=seed, n_init=3, batch_size=2048)
          if x.shape[0] > 5000 else KMeans(n_clusters=n, random_state=seed, n_init=3))
    with warnings.catch_warnings():
        # Duplicate rows give fewer distinct points than clusters: empty clusters are handled.
        warnings.simplefilter("ignore", ConvergenceWarning)
        km.fit(x)
    return np.asarray(km.cluster_centers_, dtype=x.dtype)


def nearest_centre(embeddings: np.ndarray, rows: np.ndarray,
                    centres: np.ndarray) -> np.ndarray:
    """For each of ``rows``, the index of its nearest centre, a block of rows at a time."""
    c_sq = np.einsum("ij,ij->i", centres, centres)
    out = np.empty(rows.size, dtype=np.int64)
    for start in range(0, rows.size, CHUNK_ROWS):
        block = embeddings[rows[start:start + CHUNK_ROWS]]
        out[start:start + block.shape[0]] = sq_dist(block, centres, c_sq).argmin(axis=1)
    return out


def knn_graph(embeddings: np.ndarray, k: int = 10) -> sparse.csr_matrix:
    """The rows' symmetric k-nearest-neighbour graph by cosine similarity (weights the
    similarity, clipped at 0; no self loops), a block of rows at a time: the pool's
    neighbourhoods, which do not change while a run labels it. Every pair is compared once,
    so the time grows with the square of the rows (2 s for 10 000, 3 min for 100 000 on 2
    cores: benchmarks/pool_student.py --graph-rows)."""
    n = embeddings.shape[0]
    k = max(0, min(k, n - 1))
    if not k:
        return sparse.csr_matrix((n, n), dtype=np.float64)
    unit = np.asarray(embeddings, dtype=np.float32)
    norms = np.linalg.norm(unit, axis=1, keepdims=True)
    unit = np.divide(unit, norms, out=np.zeros_like(unit), where=norms > 0)
    cols = np.empty((n, k), dtype=np.int64)
    sims = np.empty((n, k), dtype=np.float64)
    rows = max(16, min(CHUNK_ROWS // 4, (1 << 24) // n))  # a block's similarities: 64 MiB
    for start in range(0, n, rows):
        block = unit[start:start + rows]
        s = block @ unit.T
        s[np.arange(block.shape[0]), np.arange(start, start + block.shape[0])] = -np.inf
        top = np.argpartition(-s, k - 1, axis=1)[:, :k]
        cols[start:start + block.shape[0]] = top
        sims[start:start + block.shape[0]] = np.take_along_axis(s, top, axis=1)
    graph = sparse.csr_matrix((np.maximum(sims.ravel(), 0.0), cols.ravel(),
                               np.arange(0, n * k + 1, k)), shape=(n, n))
    return graph.maximum(graph.T).tocsr()
