"""The base of labelgraph's offline embedding functions: ``embed`` for labelgraph, ``__call__``
for Chroma, rows of norm 1."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from chromadb.api.types import Documents, EmbeddingFunction, Embeddings, Space

__all__ = ["TextEmbedding", "normalise_rows"]


class TextEmbedding(EmbeddingFunction[Documents]):
    """Base: ``embed`` gives L2-normalised float32 rows; ``__call__`` serves Chroma."""

    @property
    def dim(self) -> int:
        """Length of each embedding vector."""
        raise NotImplementedError

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embed ``texts`` as a float32 array of shape (len(texts), dim), rows of norm 1."""
        raise NotImplementedError

    def __call__(self, input: Documents) -> Embeddings:  # Chroma names the argument "input"
        return list(self.embed(list(input)))

    def default_space(self) -> Space:
        # Rows are unit-normalised, so cosine is the natural distance.
        return "cosine"

    def supported_spaces(self) -> list[Space]:
        return ["cosine", "l2", "ip"]

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


def normalise_rows(matrix: np.ndarray) -> np.ndarray:
    """L2-normalise rows in place; all-zero rows (no features at all) stay zero."""
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    np.divide(matrix, norms, out=matrix, where=norms > 0)
    return matrix
