"""Shared fixtures: a small, clearly separable sentiment pool and a run factory."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).parent))

POS = ["wonderful", "moving", "brilliant", "delightful", "superb", "charming"]
NEG = ["dull", "boring", "awful", "tedious", "clumsy", "lifeless"]


def make_pool(n_per_class: int = 30) -> pd.DataFrame:
    rows = []
    for i in range(n_per_class):
        rows.append({"text": f"a {POS[i % 6]} film, scene {i}, with {POS[(i + 1) % 6]} acting",
                     "label": "positive"})
        rows.append({"text": f"a {NEG[i % 6]} film, scene {i}, with {NEG[(i + 1) % 6]} acting",
                     "label": "negative"})
    return pd.DataFrame(rows)


def sentiment_of(text: str) -> str:
    """What a competent labeler says about our synthetic reviews."""
    return "positive" if any(w in text for w in POS) else "negative"


@pytest.fixture(autouse=True, scope="session")
def _embedding_cache(tmp_path_factory: pytest.TempPathFactory):
    """Runs share pool embeddings in a temporary directory, never in the user's cache (a
    vector cached by an earlier session must not hide what a change does to embedding)."""
    patch = pytest.MonkeyPatch()
    patch.setenv("LABELGRAPH_EMBEDDING_CACHE_DIR", str(tmp_path_factory.mktemp("shared-emb")))
    yield
    patch.undo()


@pytest.fixture
def pool() -> pd.DataFrame:
    return make_pool()
