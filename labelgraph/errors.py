"""Errors labelgraph raises on purpose; each names what went wrong and where."""

from __future__ import annotations


class LabelGraphError(Exception):
    """Base class of every error labelgraph raises on purpose."""


class InputError(LabelGraphError):
    """Bad user input: a pool, a label schema, a file or an option.

    Deliberately not a ValueError: pydantic would wrap one raised in a validator into a
    ValidationError, and callers catching InputError would miss it.
    """


class BudgetExhausted(LabelGraphError):
    """A spend was refused because it would exceed the budget."""


class ModelNotInstalledError(LabelGraphError, ImportError):
    """An optional model or provider package is missing; the message says how to install it."""


class FetchError(LabelGraphError, RuntimeError):
    """An offline asset (demo data, tokenizer) could not be fetched from the package registry."""


class RunStateError(LabelGraphError, RuntimeError):
    """A run directory is missing, incompatible, or in a state that forbids the request."""


class ProviderError(LabelGraphError, RuntimeError):
    """A model provider kept failing (timeouts, rate limits, lost connections) after retries,
    or failed in a way no retry mends (a 400, a 404, an unparseable body); the item abstains
    or the policy falls back, and the run goes on."""


class CapabilityMissing(ProviderError):
    """The model server cannot do what was asked (structured output, a response format, tool
    calls): the capability is marked missing for the run and the next path is used."""

    def __init__(self, message: str, capability: str) -> None:
        super().__init__(message)
        self.capability = capability


class PauseRequested(LabelGraphError):
    """A front-end asked the run to pause (``LabelGraph.request_pause``). A node that works
    item by item raises it between items; ``LabelGraph.stream`` ends quietly, and on resume
    the node runs again, replaying from the ledger what it had already bought."""
