"""The metered caller: every LLM call behind the budget meter and the ledger's call cache.

The budget is checked before a call with a conservative estimate, the call's tokens and
price are recorded in the ledger right after it, and the call is keyed by a hash of its
inputs, so re-running a node after a crash replays recorded outputs instead of buying them
again. Whatever a model sends back (malformed output, odd usage figures, unstorable
characters) is an abstention or a clamped, recorded figure, never a crash.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, message_to_dict, messages_from_dict
from pydantic import BaseModel, ValidationError

from labelgraph.budget import BudgetMeter, Spend, buy_once, price_for
from labelgraph.errors import CapabilityMissing, ProviderError
from labelgraph.llm.answers import LABEL_TOKENS, LOGPROB_TOP, label_mass, strict_label
from labelgraph.llm.capabilities import is_local, model_name, returns_logprobs
from labelgraph.llm.provider_errors import is_transient, says_cannot
from labelgraph.memory.ledger import CallRow, Ledger
from labelgraph.types import content_id

__all__ = ["M", "MeteredLLM"]

M = TypeVar("M", bound=BaseModel)


def _capped(llm: BaseChatModel, cap: int) -> tuple[BaseChatModel, int]:
    """The model with its output capped, and the cap: a budget reservation must bound the
    answer. A model with its own ``max_tokens`` keeps it; one without gets ``cap``."""
    fields = getattr(type(llm), "model_fields", {})
    if "max_tokens" not in fields:
        return llm, cap
    own = getattr(llm, "max_tokens", None)
    if own:
        return llm, int(own)
    return llm.model_copy(update={"max_tokens": cap}), cap


def _estimate_tokens(text: str) -> int:
    """An upper bound on a remote model's input tokens: no tokenizer emits more than one
    token per character for ordinary text, plus room for the chat template."""
    return len(text) + 16


def _messages_text(messages: Sequence[BaseMessage]) -> str:
    return "\n".join(str(m.content) for m in messages)


def _scrub(value: Any) -> Any:
    """Strings a model returned, made storable: lone surrogates become U+FFFD."""
    if isinstance(value, str):
        return value.encode("utf-8", "replace").decode("utf-8") if any(
            "\ud800" <= c <= "\udfff" for c in value) else value
    if isinstance(value, list):
        return [_scrub(v) for v in value]
    if isinstance(value, dict):
        return {_scrub(k): _scrub(v) for k, v in value.items()}
    return value


def _usage(reported: Any, bound: int, fallback: int) -> tuple[int, bool]:
    """The tokens to charge for a reported count, and whether the report was odd: a count
    within the reservation as reported; one above it is charged as the reservation, so no
    budget is ever exceeded (the anomaly keeps the reported figure, and the caller says the
    server ignores the cap); a missing or unreadable one as the estimate."""
    try:
        value = int(reported)
    except (TypeError, ValueError, OverflowError):
        return fallback, reported is not None
    if 0 <= value <= bound:
        return value, False
    return (0 if value < 0 else bound), True


class MeteredLLM:
    """A chat model behind the budget meter and the ledger's call cache."""

    def __init__(self, llm: BaseChatModel, *, ledger: Ledger, meter: BudgetMeter,
                 name: str | None = None, prices: dict[str, tuple[float, float]] | None = None,
                 max_retries: int = 2, max_output_tokens: int = 512,
                 provider_retries: int = 4, backoff: float = 1.0) -> None:
        self.llm = llm
        self.ledger = ledger
        self.meter = meter
        self.name = name or model_name(llm)
        self.price = price_for(self.name, prices)
        self.max_retries = max_retries
        self.provider_retries = provider_retries
        self.backoff = backoff
        self.local = is_local(llm)
        self.llm, self.max_output_tokens = _capped(llm, max_output_tokens)
        self._receipts = threading.local()
        #: capabilities the model showed it lacks in this run (``structured``, ``logprobs``,
        #: ``tools``), with the server's words; ``news()`` hands each out once
        self.missing: dict[str, str] = {}
        self._told: set[str] = set()
        self._lock = threading.Lock()

    def mark_missing(self, capability: str, why: str, round_: int) -> None:
        """Remember that the model cannot do ``capability`` (recorded once in the ledger)."""
        with self._lock:
            if capability in self.missing:
                return
            self.missing[capability] = why[:300]
        self.ledger.record_anomaly(f"capability:{capability}", "capability",
                                   f"{self.name} cannot give {capability}: {why[:300]}", round_)

    def news(self) -> list[tuple[str, str]]:
        """Capabilities marked missing since the last call (for an event, said once)."""
        with self._lock:
            new = [(c, w) for c, w in self.missing.items() if c not in self._told]
            self._told.update(c for c, _ in new)
        return new

    @contextmanager
    def receipt(self) -> Iterator[Spend]:
        """Collect what this thread's calls cost inside the block (replays cost nothing),
        so a label can carry the price of the calls that bought it."""
        stack = self._receipts.__dict__.setdefault("stack", [])
        spent = Spend()
        stack.append(spent)
        try:
            yield spent
        finally:
            stack.pop()

    def _usd(self, tokens_in: int, tokens_out: int) -> float:
        return (tokens_in * self.price[0] + tokens_out * self.price[1]) / 1e6

    def _key(self, agent: str, kind: str, payload: Any) -> str:
        return content_id(json.dumps([self.name, agent, kind, payload], sort_keys=True,
                                     default=str), "call")

    def _run(self, call_id: str, agent: str, round_: int, est_in: int, est_out: int,
             call: Callable[[], tuple[str, int, int]]) -> str:
        """Replay a recorded call, or reserve budget, make the call and record it at once."""
        def replay() -> tuple[str, int, int] | None:
            cached = self.ledger.call(call_id)
            return None if cached is None else (cached.output, 0, 0)

        def record(result: tuple[str, int, int]) -> Spend:
            output, tin, tout = result
            usd = self._usd(tin, tout)
            self.ledger.record_call(CallRow(call_id, agent, self.name, output, tin, tout, usd,
                                            round_))
            for spent in getattr(self._receipts, "stack", ()):
                spent.tokens += tin + tout
                spent.usd += usd
            return Spend(tokens=tin + tout, usd=usd)

        hold = Spend(tokens=est_in + est_out, usd=self._usd(est_in, est_out))

        def act() -> tuple[str, int, int]:
            self.ledger.record_pending(call_id, agent, self.name, hold.tokens, hold.usd, round_)
            try:
                return call()
            except Exception:  # refused or failed: not paid. (A Ctrl-C may have been paid:
                self.ledger.drop_pending(call_id)  # its pending row stays and is charged.)
                raise

        return buy_once(self.meter, replay=replay, hold=hold, act=act, record=record,
                        what=f"{agent} call")[0]

    def _count(self, prompt: str) -> int:
        count = getattr(self.llm, "count_tokens", None)
        return count(prompt) + 2 if count else _estimate_tokens(prompt)

    def _local_call(self, fn: Callable[[], Any]) -> tuple[str, int, int]:
        before = self.llm.prompt_tokens, self.llm.completion_tokens  # type: ignore[attr-defined]
        result = fn()
        tin = self.llm.prompt_tokens - before[0]  # type: ignore[attr-defined]
        tout = self.llm.completion_tokens - before[1]  # type: ignore[attr-defined]
        return json.dumps(result), tin, tout

    def _charged(self, usage: Any, est_in: int, est_out: int, call_id: str,
                 round_: int) -> tuple[int, int]:
        """The (input, output) tokens to charge for a reported usage: trusted only within
        the reservation; anything else is clamped and recorded as an anomaly."""
        tin, odd_in = _usage(usage.get("input_tokens"), est_in, est_in)
        tout, odd_out = _usage(usage.get("output_tokens"), est_out, est_out)
        if odd_in or odd_out:
            reported = {k: str(usage.get(k)) for k in ("input_tokens", "output_tokens")}
            self.ledger.record_anomaly(call_id, "usage", "reported " +
                                       json.dumps(_scrub(reported)) + f" against {est_in}/"
                                       f"{est_out} held; charged {tin}/{tout}", round_)
            out = usage.get("output_tokens")
            if isinstance(out, int) and out > est_out:
                self.mark_missing("token cap", f"{out} output tokens reported against a cap "
                                  f"of {est_out}: the ledger charges the cap", round_)
        return tin, tout

    def _invoke(self, runnable: Any, messages: list[BaseMessage],
                capability: str | None = None) -> Any:
        """Invoke, retrying transient provider errors with exponential backoff. Whatever else
        the provider raises is a :class:`ProviderError` (callers abstain or fall back) — a
        :class:`CapabilityMissing` when the server says it cannot do ``capability`` — and
        is never retried."""
        for attempt in range(self.provider_retries + 1):
            try:
                return runnable.invoke(messages)
            except Exception as exc:
                if capability and says_cannot(exc):
                    raise CapabilityMissing(f"{self.name}: {type(exc).__name__}: {exc}",
                                            capability) from exc
                if isinstance(exc, ProviderError):
                    raise
                if not is_transient(exc):
                    raise ProviderError(f"{self.name}: {type(exc).__name__}: {exc}") from exc
                if attempt == self.provider_retries:
                    raise ProviderError(f"{self.name}: {type(exc).__name__}: {exc} (after "
                                        f"{attempt + 1} tries)") from exc
                time.sleep(self.backoff * 2 ** attempt)
        raise AssertionError("unreachable")

    def structured(self, agent: str, schema: type[M], messages: list[BaseMessage],
                   round_: int, max_output: int | None = None) -> tuple[M | None, str]:
        """Ask for an instance of ``schema``; bounded retries, then ``(None, reason)``.

        ``max_output`` caps the answer (and so the budget held for it) for short answers
        such as a label, where the model lets its output be capped.

        Whatever the model sends back — malformed output, unstorable characters, absurd
        usage figures — is an abstention or a clamped, recorded figure, never a crash.
        """
        if "structured" in self.missing:
            return None, f"the model cannot give structured output ({self.missing['structured']})"
        text = _messages_text(messages)
        llm, est_out = self.llm, self.max_output_tokens
        if max_output is not None and max_output < est_out \
                and "max_tokens" in getattr(type(llm), "model_fields", {}):
            llm, est_out = llm.model_copy(update={"max_tokens": max_output}), max_output
        est_in = _estimate_tokens(text)
        reason = ""

        def call(call_id: str) -> tuple[str, int, int]:
            try:
                runnable = llm.with_structured_output(schema, include_raw=True)
            except NotImplementedError as exc:
                raise CapabilityMissing(f"{self.name}: {exc}", "structured") from exc
            try:
                out = self._invoke(runnable, messages, capability="structured")
            except (ValidationError, ValueError, KeyError) as exc:
                out = {"raw": None, "parsed": None, "parsing_error": exc}
            if not isinstance(out, dict):
                out = {"raw": None, "parsed": None, "parsing_error": f"got {type(out)}"}
            usage = getattr(out.get("raw"), "usage_metadata", None) or {}
            tin, tout = self._charged(usage, est_in, est_out, call_id, round_)
            parsed = out.get("parsed")
            try:
                if parsed is not None:
                    return json.dumps(_scrub(parsed.model_dump(mode="json"))), tin, tout
            except Exception as exc:  # an answer that cannot be serialized is malformed
                out["parsing_error"] = exc
            return json.dumps({"error": str(_scrub(str(out.get("parsing_error"))))[:500]}), \
                tin, tout

        for attempt in range(self.max_retries + 1):
            call_id = self._key(agent, schema.__name__, [text, attempt])
            try:
                data = json.loads(self._run(call_id, agent, round_, est_in, est_out,
                                            lambda call_id=call_id: call(call_id)))
            except CapabilityMissing as exc:
                self.mark_missing("structured", str(exc), round_)
                return None, f"the model cannot give structured output ({exc})"
            if isinstance(data, dict) and set(data) == {"error"}:
                reason = f"malformed output: {data['error']}"
                continue
            try:
                return schema.model_validate(data), ""
            except ValidationError as exc:
                reason = f"malformed output: {exc.errors()[0]['msg']}"
        return None, reason or "no valid output"

    def chat(self, agent: str, runnable: Any, messages: list[BaseMessage], round_: int,
             tools: Sequence[str] = ()) -> AIMessage:
        """One turn of a tool-calling conversation, metered, recorded and replayed like any
        call: the same conversation (with the same tools offered) is never paid twice."""
        text = _messages_text(messages)
        est_in, est_out = _estimate_tokens(text) + 64 * len(tools), self.max_output_tokens
        call_id = self._key(agent, "chat", [[message_to_dict(m) for m in messages],
                                            sorted(tools)])

        def call() -> tuple[str, int, int]:
            try:
                out = self._invoke(runnable, messages, capability="tools" if tools else None)
            except CapabilityMissing as exc:
                self.mark_missing("tools", str(exc), round_)
                raise
            if not isinstance(out, AIMessage):
                out = AIMessage(content=str(getattr(out, "content", out)))
            tin, tout = self._charged(out.usage_metadata or {}, est_in, est_out, call_id,
                                      round_)
            return json.dumps(_scrub(message_to_dict(out))), tin, tout

        return messages_from_dict([json.loads(self._run(call_id, agent, round_, est_in, est_out,
                                                        call))])[0]  # type: ignore[return-value]

    def label_logprobs(self, agent: str, messages: list[BaseMessage], labels: Sequence[str],
                       round_: int) -> dict[str, float] | None:
        """Label probabilities from a remote model's log-probabilities of its first answer
        token (metered and replayed like any call); None when the model cannot return them
        or the provider sent none."""
        if not returns_logprobs(self.llm) or "logprobs" in self.missing:
            return None
        text = _messages_text(messages)
        fields = getattr(type(self.llm), "model_fields", {})
        update: dict[str, Any] = {"logprobs": True, "top_logprobs": LOGPROB_TOP}
        est_in, est_out = _estimate_tokens(text), self.max_output_tokens
        if "max_tokens" in fields:
            update["max_tokens"] = est_out = LABEL_TOKENS
        llm = self.llm.model_copy(update=update)
        call_id = self._key(agent, "logprobs", [text, list(labels)])

        def call() -> tuple[str, int, int]:
            out = self._invoke(llm, messages, capability="logprobs")
            tin, tout = self._charged(getattr(out, "usage_metadata", None) or {}, est_in,
                                      est_out, call_id, round_)
            meta = (getattr(out, "response_metadata", None) or {}).get("logprobs") or {}
            content = meta.get("content") if isinstance(meta, dict) else None
            first = (content[0].get("top_logprobs") or []) if content else []
            top = [(str(t.get("token", "")), float(t.get("logprob", -math.inf)))
                   for t in first if isinstance(t, dict)]
            return json.dumps(_scrub({"text": str(getattr(out, "content", ""))[:200],
                                      "top": top})), tin, tout

        try:
            data = json.loads(self._run(call_id, agent, round_, est_in, est_out, call))
        except CapabilityMissing as exc:
            self.mark_missing("logprobs", str(exc), round_)
            return None
        if not data.get("top"):  # the server answered without them: it cannot give them
            self.mark_missing("logprobs", "the answer carried no log-probabilities", round_)
        return label_mass([tuple(t) for t in data.get("top", [])], labels)

    def label_text(self, agent: str, messages: list[BaseMessage], labels: Sequence[str],
                   round_: int) -> tuple[str | None, str]:
        """A label read strictly from a short plain-text answer (the path for servers that
        give neither log-probabilities nor structured output): the answer must begin with
        exactly one of ``labels`` (case and surrounding punctuation ignored). Returns
        ``(label or None, the answer as given)``."""
        text = _messages_text(messages)
        llm, est_out = self.llm, self.max_output_tokens
        if "max_tokens" in getattr(type(llm), "model_fields", {}):
            llm, est_out = llm.model_copy(update={"max_tokens": LABEL_TOKENS}), LABEL_TOKENS
        est_in = _estimate_tokens(text)
        call_id = self._key(agent, "label_text", [text, list(labels)])

        def call() -> tuple[str, int, int]:
            out = self._invoke(llm, messages)
            tin, tout = self._charged(getattr(out, "usage_metadata", None) or {}, est_in,
                                      est_out, call_id, round_)
            return json.dumps(_scrub(str(getattr(out, "content", ""))[:200])), tin, tout

        answer = str(json.loads(self._run(call_id, agent, round_, est_in, est_out, call)))
        return strict_label(answer, labels), answer

    def score_labels(self, agent: str, prompt: str, labels: Sequence[str],
                     round_: int) -> dict[str, float]:
        """Label probabilities from a local model (cached and metered like any call)."""
        call_id = self._key(agent, "score", [prompt, list(labels)])
        out = self._run(call_id, agent, round_, self._count(prompt), 4 * len(labels),
                        lambda: self._local_call(
                            lambda: self.llm.score_labels(prompt, labels)))  # type: ignore
        return json.loads(out)

    def complete(self, agent: str, prompt: str, round_: int, *, seed: int,
                 max_tokens: int = 64, temperature: float = 0.8) -> str:
        """A raw continuation from a local model (cached and metered like any call)."""
        call_id = self._key(agent, "complete", [prompt, seed, max_tokens, temperature])
        out = self._run(call_id, agent, round_, self._count(prompt), max_tokens,
                        lambda: self._local_call(lambda: self.llm.complete(  # type: ignore
                            prompt, max_tokens=max_tokens, temperature=temperature,
                            seed=seed)))
        return json.loads(out)
