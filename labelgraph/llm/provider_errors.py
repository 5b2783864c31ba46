"""What a provider's error means: a passing trouble worth a retry (timeouts, rate limits,
lost connections, 5xx), or a server saying it cannot do this kind of request, which no retry
mends."""

from __future__ import annotations

__all__ = ["is_transient", "says_cannot"]

_TRANSIENT_NAMES = ("RateLimit", "Timeout", "Connection", "ServiceUnavailable", "Overloaded",
                    "InternalServer", "TooManyRequests")
_TRANSIENT_STATUS = {408, 409, 425, 429, 500, 502, 503, 504, 529}


def is_transient(exc: BaseException) -> bool:
    """A provider error worth retrying: timeouts, rate limits, lost connections, 5xx."""
    if isinstance(exc, TimeoutError | ConnectionError):
        return True
    status = getattr(exc, "status_code", None) or getattr(exc, "status", None)
    return status in _TRANSIENT_STATUS or any(n in type(exc).__name__
                                              for n in _TRANSIENT_NAMES)


#: words in a server's error that say it cannot do what was asked (not that it is busy)
_CANNOT_WORDS = ("response_format", "json_schema", "json_object", "structured", "tool_choice",
                 "tools", "function", "not supported", "unsupported", "not implemented",
                 "input should be", "logprobs", "unknown parameter", "unrecognized")
_CANNOT_STATUS = {400, 404, 405, 415, 422, 500, 501}


def says_cannot(exc: BaseException) -> bool:
    """An error that says the server cannot do this kind of request (a 4xx/5xx naming the
    feature), which no retry mends."""
    if isinstance(exc, NotImplementedError):
        return True
    status = getattr(exc, "status_code", None) or getattr(exc, "status", None)
    text = str(exc).lower()
    return status in _CANNOT_STATUS and any(word in text for word in _CANNOT_WORDS)
