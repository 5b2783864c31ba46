"""Shared fixtures: a small, clearly separable sentiment pool, finished runs and ledgers
(built by support.builders)."""

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


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An oracle run that spent its 12 labels (built once per test module)."""
    from support.builders import finished_run

    return finished_run(tmp_path_factory.mktemp("runs") / "run")


@pytest.fixture(scope="module")
def corrected(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An oracle run of 12 labels in batches of 4 whose first label a person then corrected:
    two sources, verdicts, rounds, in a real ledger and Chroma (once per test module)."""
    from support.builders import finished_run

    return finished_run(tmp_path_factory.mktemp("runs") / "run", batch=4, correct=True)


@pytest.fixture(params=["memory", "sqlite"])
def ledger(request: pytest.FixtureRequest, tmp_path: Path):  # noqa: ANN201
    """A ledger in memory, then on disk."""
    from labelgraph.memory.ledger import Ledger

    led = Ledger(":memory:" if request.param == "memory" else tmp_path / "ledger.sqlite")
    yield led
    led.close()
