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


@pytest.fixture
def pool() -> pd.DataFrame:
    return make_pool()
