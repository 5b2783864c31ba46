"""Capabilities (labelgraph.capabilities): optional abilities of the extension pieces,
read with their declared defaults instead of recognizing a piece by its name."""

from __future__ import annotations

from labelgraph.annotators import (
    HybridAnnotator,
    LLMAnnotator,
    SimulatedAnnotator,
)
from labelgraph.capabilities import USES_TOOLS, capability
from labelgraph.policies import RulePolicy


def test_capabilities_are_read_with_their_declared_defaults() -> None:
    assert capability(object(), USES_TOOLS) is False
    assert capability(LLMAnnotator(), USES_TOOLS) is True
    assert capability(HybridAnnotator(), USES_TOOLS) is True  # its first source is an LLM
    assert capability(HybridAnnotator(first=SimulatedAnnotator()), USES_TOOLS) is False
    assert capability(RulePolicy(), USES_TOOLS) is False
