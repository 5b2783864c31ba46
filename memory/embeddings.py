"""Offline embedding functions, usable directly (``embed``) and as Chroma embedding functions.

Chroma's default embedding function downloads a model on first use and so fails offline;
labelgraph always passes one of these instead. Both are registered with Chroma under
their ``name()``, so a persistent collection created with one re-opens in a new process
once this module is imported. The base is in :mod:`labelgraph.memory.text_embedding`, the
MiniLM model in :mod:`labelgraph.memory.minilm`; this module holds the hashing embedding
and the factory, and re-exports the others.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from chromadb.utils.embedding_functions import register_embedding_function

from labelgraph.errors import InputError
from labelgraph.memory.minilm import MiniLMEmbedding
from labelgraph.memory.text_embedding import TextEmbedding, normalise_rows

__all__ = ["HashingEmbedding", "MiniLMEmbedding", "TextEmbedding", "make_embedding"]


@register_embedding_function
class HashingEmbedding(TextEmbedding):
    """Word 1-2 gram and character 3-5 gram hashing: deterministic, fast, no model file.

    Half of the features hash words, half hash characters; each half is normalised and
    weighted equally, so both spelling and word overlap count.
    """

    def __init__(self, n_features: int = 512) -> None:
        if not isinstance(n_features, int) or n_features < 2:
            raise InputError(f"n_features must be an integer of at least 2, got {n_features!r}.")
        self.n_features = n_features
        self._vectorizers: tuple[Any, Any] | None = None

    @staticmethod
    def name() -> str:
        return "labelgraph-hashing"

    @property
    def dim(self) -> int:
        return self.n_features

    def fingerprint(self) -> str:
        """What decides the vectors: the number of hashed features."""
        return f"{self.name()}:{self.n_features}"

    def get_config(self) -> dict[str, Any]:
        return {"n_features": self.n_features}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> HashingEmbedding:
        return HashingEmbedding(n_features=int(config.get("n_features", 512)))

    def validate_config_update(
        self, old_config: dict[str, Any], new_config: dict[str, Any]
    ) -> None:
        if "n_features" in new_config and new_config["n_features"] != old_config.get(
            "n_features"
        ):
            raise ValueError("n_features cannot change: stored vectors would not match.")

    def _get_vectorizers(self) -> tuple[Any, Any]:
        if self._vectorizers is None:
            from sklearn.feature_extraction.text import HashingVectorizer

            n_word = self.n_features // 2
            common = {"alternate_sign": False, "norm": "l2", "dtype": np.float32}
            words = HashingVectorizer(
                analyzer="word", ngram_range=(1, 2), n_features=n_word,
                token_pattern=r"(?u)\b\w+\b", **common,
            )
            chars = HashingVectorizer(
                analyzer="char_wb", ngram_range=(3, 5), n_features=self.n_features - n_word,
                **common,
            )
            self._vectorizers = (words, chars)
        return self._vectorizers

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        words, chars = self._get_vectorizers()
        out = np.hstack([words.transform(texts).toarray(), chars.transform(texts).toarray()])
        return normalise_rows(out.astype(np.float32, copy=False))


def make_embedding(kind: str = "minilm", **options: Any) -> TextEmbedding:
    """An embedding function by registry name: ``"minilm"`` (default), ``"hashing"``, or a
    plug-in's (entry-point group ``labelgraph.embeddings``)."""
    from labelgraph.registry import registry

    key = kind.strip().lower() if isinstance(kind, str) else kind
    return registry.create("embeddings", key, **options)
