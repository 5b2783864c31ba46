"""The registry (labelgraph.registry): errors and where each entry came from."""

from __future__ import annotations

import pytest

from labelgraph import InputError
from labelgraph.registry import Registry, registry


def test_registry_errors_and_origins():
    reg = Registry({"strategies": {"margin": "labelgraph.strategies:Margin"}})
    with pytest.raises(InputError, match="unknown kind of plug-in 'widgets'"):
        reg.names("widgets")
    reg.add("strategies", "mine", "labelgraph.strategies:Entropy")
    with pytest.raises(InputError, match="already registered"):
        reg.add("strategies", "mine", "labelgraph.strategies:Margin")
    origins = {e.name: e.origin for e in reg.entries("strategies")}
    assert origins == {"margin": "built-in", "mine": "register()"}
    assert type(reg.create("strategies", "mine")).__name__ == "Entropy"
    assert registry.name_of("strategies", registry.create("strategies", "entropy")) == "entropy"
