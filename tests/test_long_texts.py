"""Long texts are kept, not dropped, and embedded from a window of ``max_length`` tokens
(their head, or their head and tail)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from labelgraph.api import LabelGraph
from labelgraph.cli import app
from labelgraph.data import load_pool
from labelgraph.errors import InputError
from labelgraph.memory.embeddings import MiniLMEmbedding
from labelgraph.memory.pool import cache_key
from labelgraph.types import Task

LONG = " ".join(f"word{i % 97} about markets, rates; and football." for i in range(1200))
assert len(LONG) > 50_000


def test_a_long_text_is_kept_by_default() -> None:
    pool = load_pool([LONG, "short text"])
    assert pool.texts == [LONG, "short text"] and pool.skipped == {}


def test_max_chars_skips_longer_texts_and_counts_them() -> None:
    pool = load_pool([LONG, "short text"], max_chars=1000)
    assert pool.texts == ["short text"] and pool.skipped == {"too long": 1}
    with pytest.raises(InputError, match="max_chars"):
        load_pool(["a"], max_chars=True)  # type: ignore[arg-type]


TASK = Task(labels=["markets", "football"], description="topic")


def _frame() -> pd.DataFrame:
    rows = [{"text": f"note {i} on {lab}", "label": lab}
            for i in range(6) for lab in ("markets", "football")]
    return pd.DataFrame([*rows, {"text": LONG, "label": "markets"}])


def test_the_api_keeps_long_texts_in_pool_and_test_split(tmp_path: Path) -> None:
    lg = LabelGraph(TASK, llm="none", annotator="oracle", run_dir=tmp_path / "keep",
                    embedding="hashing", embedding_cache=False)
    lg.add_pool(_frame(), label_column="label", name="test")
    lg.add_pool(_frame(), label_column="label")
    for split in ("pool", "test"):
        assert LONG in pd.read_parquet(tmp_path / "keep" / f"{split}.parquet")["text"].tolist()
    dropped = LabelGraph(TASK, llm="none", annotator="oracle", run_dir=tmp_path / "drop",
                         embedding="hashing", embedding_cache=False)
    data = dropped.add_pool(_frame(), label_column="label", max_chars=5000)
    assert LONG not in data.texts and data.skipped == {"too long": 1}


def test_cli_run_passes_max_chars(tmp_path: Path) -> None:
    path = tmp_path / "pool.csv"
    _frame().to_csv(path, index=False)
    args = ["run", "--pool", str(path), "--labels", "markets,football", "--llm", "none",
            "--annotator", "oracle", "--label-column", "label", "--budget-labels", "4",
            "--embedding", "hashing", "--no-embedding-cache"]
    result = CliRunner().invoke(app, [*args, "--run-dir", str(tmp_path / "a"),
                                      "--max-chars", "5000"])
    assert result.exit_code == 0, result.output
    assert LONG not in pd.read_parquet(tmp_path / "a" / "pool.parquet")["text"].tolist()
    result = CliRunner().invoke(app, [*args, "--run-dir", str(tmp_path / "b")])
    assert result.exit_code == 0, result.output
    assert LONG in pd.read_parquet(tmp_path / "b" / "pool.parquet")["text"].tolist()


@pytest.mark.minilm
@pytest.mark.parametrize("max_length", [32, 128])
def test_the_character_cut_never_changes_the_tokens(max_length: int) -> None:
    emb = MiniLMEmbedding(max_length=max_length)
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
                   {"threads": 0}, {"window": "tail"}, {"tail_tokens": 16},
                   {"window": "head_tail", "tail_tokens": 0},
                   {"window": "head_tail", "max_length": 32, "tail_tokens": 30},
                   {"window": "head_tail", "tail_tokens": True}):
        with pytest.raises(InputError):
            MiniLMEmbedding(**kwargs)


def test_label_prompts_carry_a_cut_of_a_long_text() -> None:
    from labelgraph import Task
    from labelgraph.prompts import (
        SHOT_CHARS,
        TEXT_CHARS,
        clip,
        few_shot_prompt,
        judge_messages,
        label_messages,
    )

    task = Task(labels=["a", "b"], description="topic")
    long = " ".join(f"word{i}" for i in range(10_000))  # about 90 000 characters
    shots = [(long, "a")] * 8
    prompt = few_shot_prompt(task, shots, long)
    assert len(prompt) < 8 * (SHOT_CHARS + 40) + TEXT_CHARS + 400
    assert "word0 word1" in prompt and "word9999" not in prompt
    body = str(label_messages(task, shots, long)[1].content)
    assert len(body) < 8 * (SHOT_CHARS + 60) + TEXT_CHARS + 200
    assert len(str(judge_messages(task, long, "a", "why")[1].content)) < TEXT_CHARS + 200
    assert clip("short text", 100) == "short text"
    cut = clip(long, 50)
    assert cut.endswith(" ...") and len(cut) <= 54 and not cut[:-4].endswith("wor")


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
    head = MiniLMEmbedding(max_length=64)
    both = MiniLMEmbedding(max_length=64, window="head_tail")
    assert both.tail_tokens == 16  # a quarter of the window by default
    texts = ["a short review of a film", LONG + " the end of a very long story"]
    a, b = head.embed(texts), both.embed(texts)
    np.testing.assert_allclose(a[0], b[0], atol=1e-6)  # a text that fits is unchanged
    assert float(a[1] @ b[1]) < 0.99
    assert cache_key(["x"], head) != cache_key(["x"], both)
    assert cache_key(["x"], both) != cache_key(
        ["x"], MiniLMEmbedding(max_length=64, window="head_tail", tail_tokens=31))
