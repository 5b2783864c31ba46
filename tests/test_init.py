"""The lazy public face (labelgraph/__init__.py): ``import labelgraph`` defers the heavy
libraries, and the renamed Signals classes still import under their old, documented
names."""

from __future__ import annotations

import subprocess
import sys
import warnings
from pathlib import Path

import pytest

import labelgraph
from labelgraph import LabelGraph
from labelgraph.policies import RoundSignals
from labelgraph.trust import ConfidenceSignals


# -- import labelgraph is cheap ------------------------------------------------------------
def test_import_labelgraph_defers_the_heavy_libraries():
    code = ("import sys, labelgraph; heavy = [m for m in ('langgraph', 'chromadb', 'sklearn', "
            "'pandas', 'langchain_core') if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=Path(__file__).parent)
    assert out.stdout.strip() == "[]"
    assert sorted(labelgraph.__all__) == sorted(labelgraph._PUBLIC)
    assert labelgraph.LabelGraph is LabelGraph


# -- old names -----------------------------------------------------------------------------
def test_the_renamed_signals_still_import_under_their_documented_names() -> None:
    import labelgraph
    import labelgraph.policies
    import labelgraph.trust

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert labelgraph.policies.Signals is RoundSignals
        assert labelgraph.trust.Signals is ConfidenceSignals
        assert labelgraph.Signals is RoundSignals
    assert [w.category for w in caught] == [DeprecationWarning] * 3
    assert all("renamed" in str(w.message) and w.filename == __file__ for w in caught)
    assert labelgraph.RoundSignals is RoundSignals
    with pytest.raises(AttributeError):
        labelgraph.policies.NoSuchName  # noqa: B018
